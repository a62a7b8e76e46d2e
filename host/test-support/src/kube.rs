//! A real Kubernetes API server (kube-apiserver and etcd, built from source by
//! `scripts/build-kube`) on loopback, one per test process, started by `scripts/kube-up` the
//! first time a test asks for it and stopped by a watcher when the test process ends. There
//! is no kubelet and no controller-manager: tests play those (Job status, pods' termination
//! messages) through the API.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::repo::repo_root;

/// The running API server.
#[derive(Debug)]
pub struct Cluster {
    /// Its directory (certificates, tokens, logs).
    pub dir: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    /// A kubeconfig with the admin token (group system:masters).
    pub kubeconfig: PathBuf,
    /// A kubeconfig with the token of user `robodev-test`, who has no rights until a test
    /// grants some by RBAC.
    pub user_kubeconfig: PathBuf,
    /// The user's name in RBAC subjects.
    pub user: &'static str,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The API server of this test process (started, and built if needed, the first time).
///
/// # Panics
/// When it cannot be built or started (the error says why; the logs are in its directory).
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start)
}

fn run(script: &str, args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts").join(script))
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/{script}: {e}"));
    assert!(out.status.success(), "scripts/{script} {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start() -> Cluster {
    run("build-kube", &["--quiet"]);
    let dir = std::env::temp_dir().join(format!("robodev-kube-{}", std::process::id()));
    let dir_text = dir.display().to_string();
    let env = run("kube-up", &[&dir_text]);
    // Stopped when this process ends, however it ends.
    let reaper = format!(
        "while kill -0 {} 2>/dev/null; do sleep 1; done; exec bash '{}' --rm '{}' >/dev/null 2>&1",
        std::process::id(),
        repo_root().join("scripts/kube-down").display(),
        dir_text
    );
    // `setsid -f` forks the reaper off and returns at once: waited for here, it outlives us.
    let status = Command::new("setsid")
        .args(["-f", "bash", "-c", &reaper])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("cannot start the API server's reaper");
    assert!(
        status.success(),
        "cannot start the API server's reaper: {status}"
    );
    let value = |key: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches(['"', '\'']).to_owned())
            .unwrap_or_else(|| panic!("scripts/kube-up printed no {key}: {env}"))
    };
    let server = value("KUBE_SERVER");
    let kubeconfig = PathBuf::from(value("KUBECONFIG"));
    let user_token = value("KUBE_USER_TOKEN");
    let admin = std::fs::read_to_string(&kubeconfig).expect("the kubeconfig kube-up wrote");
    let admin_token = value("KUBE_TOKEN");
    let user_kubeconfig = dir.join("user-kubeconfig");
    std::fs::write(&user_kubeconfig, admin.replace(&admin_token, &user_token))
        .expect("cannot write the user's kubeconfig");
    Cluster {
        dir,
        server,
        kubeconfig,
        user_kubeconfig,
        user: "robodev-test",
    }
}
