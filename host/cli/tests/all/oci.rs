//! `robodev plugin push|pull` and `component: oci://...` against a real OCI registry on
//! loopback (Debian's docker-registry, installed by scripts/build-oci-interop when missing).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{code, grpc_support, json_out, robodev, stderr};

/// A docker-registry on 127.0.0.1 with storage in a temp dir; killed on drop.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
    _auth: Option<tempfile::TempDir>,
}

impl Registry {
    fn start() -> Registry {
        Self::start_with("")
    }

    /// A registry that requires HTTP Basic auth as `robodev` / `s3cret` (bcrypt htpasswd).
    fn start_with_auth() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("htpasswd")
            .args(["-Bbn", "robodev", "s3cret"])
            .output()
            .unwrap();
        assert!(out.status.success(), "htpasswd: {out:?}");
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, &out.stdout).unwrap();
        let auth = format!(
            "auth:\n  htpasswd:\n    realm: robodev-test\n    path: {}\n",
            path.display()
        );
        let mut registry = Self::start_with(&auth);
        registry._auth = Some(dir);
        registry
    }

    fn start_with(auth: &str) -> Registry {
        static TOOLS: OnceLock<()> = OnceLock::new();
        TOOLS.get_or_init(|| {
            let status = Command::new("bash")
                .arg(grpc_support::repo().join("scripts/build-oci-interop"))
                .arg("--quiet")
                .status()
                .unwrap();
            assert!(status.success(), "scripts/build-oci-interop failed");
        });
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n\
                     http:\n  addr: 127.0.0.1:{port}\n{auth}",
                    dir.path().join("data").display()
                ),
            )
            .unwrap();
            let mut child = Command::new("/usr/bin/setpriv")
                .args(["--pdeathsig", "KILL", "/usr/bin/docker-registry", "serve"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port clash: try another
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Registry {
                        child,
                        port,
                        _dir: dir,
                        _auth: None,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn reference(&self, rest: &str) -> String {
        format!("oci://127.0.0.1:{}/{rest}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wasm() -> PathBuf {
    crate::support::guest("review_rules")
}

fn config(dir: &Path, component: &str, extra: &str) -> String {
    std::fs::write(dir.join("tickets.yaml"), "[]").unwrap();
    let path = dir.join("robodev-config.yaml");
    std::fs::write(
        &path,
        format!(
            "state_dir: state\n\
             plugins:\n\
             \x20 - {{ name: gate, type: review, interface_version: 1, component: \"{component}\"{extra} }}\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }} }}\n\
             review: {{ backend: gate }}\n\
             plugin_health: {{ critical_plugins: [gate] }}\n\
             engines: {{ default: local, local: {{ command: [./agent.sh] }} }}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn a_component_pushed_by_robodev_is_pulled_and_run_from_another_config() {
    let mut registry = Registry::start();
    let reference = registry.reference("acme/review-gate:1.0.0");
    let publisher = tempfile::tempdir().unwrap();
    let wasm = wasm().display().to_string();
    let out = robodev(
        publisher.path(),
        &[
            "plugin",
            "push",
            &wasm,
            &reference,
            "--annotation",
            "org.opencontainers.image.source=https://example.invalid/robodev",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pushed = json_out(&out);
    let digest = pushed["digest"].as_str().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"), "{pushed}");
    assert!(
        stderr(&out).contains("push sha256:"),
        "progress: {}",
        stderr(&out)
    );

    // Pull into another cache and a file: byte for byte.
    let consumer = tempfile::tempdir().unwrap();
    let copy = consumer.path().join("copy.wasm");
    let out = robodev(
        consumer.path(),
        &[
            "plugin",
            "pull",
            &reference,
            "-o",
            &copy.display().to_string(),
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out)["digest"], digest.as_str());
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&wasm).unwrap());

    // A config elsewhere runs it from the registry; the tag resolves to the pushed digest.
    let config = config(consumer.path(), &reference, "");
    let out = robodev(
        consumer.path(),
        &["plugins", "list", "--json", "--config", &config],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    let gate = crate::plugin_row(&v, "gate");
    assert_eq!(gate["runtime"], "wasm");
    assert_eq!(gate["health"], "serving");
    assert_eq!(gate["digest"], digest.as_str());
    assert_eq!(gate["source"], reference.as_str());
    let input =
        r#"{"taskRunId":"t","diff":"--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+password = \"x\"\n"}"#;
    let call = |dir: &Path| {
        robodev(
            dir,
            &[
                "plugin",
                "call",
                "ReviewDiff",
                "--config",
                &config,
                "--plugin",
                "gate",
                "--input",
                input,
            ],
        )
    };
    let out = call(consumer.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out)["gateResult"]["passed"], false);
    // `plugin call` takes an oci:// SOURCE too.
    let out = robodev(
        consumer.path(),
        &[
            "plugin",
            "call",
            &reference,
            "review-diff",
            "--input",
            input,
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // With the registry gone, robodev starts from its cache, saying so.
    registry.stop();
    let out = robodev(
        consumer.path(),
        &["plugins", "list", "--json", "--config", &config],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    let gate = crate::plugin_row(&v, "gate");
    assert_eq!(gate["health"], "serving", "{v}");
    assert_eq!(gate["digest"], digest.as_str(), "{v}");
    assert!(
        stderr(&out).contains(&digest),
        "no offline warning: {}",
        stderr(&out)
    );
}

#[test]
fn a_pinned_digest_that_does_not_match_refuses_the_plugin() {
    let registry = Registry::start();
    let reference = registry.reference("acme/gate:1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let out = robodev(
        dir.path(),
        &["plugin", "push", &wasm().display().to_string(), &reference],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let wrong = format!("sha256:{}", "0".repeat(64));
    let config = config(dir.path(), &reference, &format!(", digest: \"{wrong}\""));
    let out = robodev(dir.path(), &["run", "--once", "--config", &config]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: critical plugin \"gate\" did not load: refused to load plugin \"gate\": its digest sha256:")
            && err.contains(&format!("does not match the pinned digest {wrong}")),
        "{err}"
    );
}

#[test]
fn signed_oci_components_load_and_unsigned_ones_are_refused() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("cosign.key");
    let public = d.join("cosign.pub");
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "cosign.key",
        ],
        vec!["pkey", "-pubout", "-in", "cosign.key", "-out", "cosign.pub"],
    ] {
        assert!(
            Command::new("openssl")
                .args(&args)
                .current_dir(d)
                .status()
                .unwrap()
                .success()
        );
    }
    let wasm = wasm().display().to_string();
    let signed = registry.reference("acme/gate:signed");
    let unsigned = registry.reference("acme/gate:unsigned");
    // Distinct annotations keep the two manifests (and so their digests) apart even when
    // both are pushed within the same second.
    for (reference, kind) in [(&signed, "kind=signed"), (&unsigned, "kind=unsigned")] {
        let out = robodev(
            d,
            &["plugin", "push", &wasm, reference, "--annotation", kind],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let out = robodev(
        d,
        &[
            "plugin",
            "sign",
            &signed,
            "--key",
            &key.display().to_string(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = robodev(
        d,
        &[
            "plugin",
            "verify",
            &signed,
            "--key",
            &public.display().to_string(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = robodev(
        d,
        &[
            "plugin",
            "verify",
            &unsigned,
            "--key",
            &public.display().to_string(),
        ],
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));

    for (reference, health) in [(&signed, "serving"), (&unsigned, "refused")] {
        let config = config(d, reference, "");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            format!("require_signatures: true\ntrusted_keys: [cosign.pub]\n{text}"),
        )
        .unwrap();
        let out = robodev(d, &["plugins", "list", "--json", "--config", &config]);
        let v = json_out(&out);
        let gate = crate::plugin_row(&v, "gate");
        assert_eq!(gate["health"], health, "{v}");
        if health == "refused" {
            assert_eq!(code(&out), 4);
            let message = gate["error"]["message"].as_str().unwrap();
            assert!(message.contains("signature check failed"), "{message}");
        }
    }
}

#[test]
fn registry_credentials_come_from_the_secrets_backend() {
    let registry = Registry::start_with_auth();
    let reference = registry.reference("acme/private-gate:1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The publisher authenticates with docker's config.json.
    let docker = d.join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"cm9ib2RldjpzM2NyZXQ="}}}}}}"#,
            registry.port
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_robodev"))
        .args(["plugin", "push", &wasm().display().to_string(), &reference])
        .env("DOCKER_CONFIG", &docker)
        .env("ROBODEV_OCI_CACHE_DIR", d.join("publisher-cache"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Without credentials: refused by the registry, said clearly.
    let out = robodev(d, &["plugin", "pull", &reference]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no credentials"), "{}", stderr(&out));

    // robodev run: the password comes from the secrets backend.
    for (password, health) in [("s3cret", "serving"), ("wrong", "failed")] {
        std::fs::write(
            d.join("secrets.yaml"),
            format!("registry-password: {password}\n"),
        )
        .unwrap();
        let config = config(d, &reference, "");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            format!(
                "secrets: {{ backend: file, config: {{ file: secrets.yaml }} }}\n\
                 oci: {{ credentials: {{ \"127.0.0.1:{}\": {{ username: robodev, password_secret: registry-password }} }} }}\n{text}",
                registry.port
            ),
        )
        .unwrap();
        let out = robodev(d, &["plugins", "list", "--json", "--config", &config]);
        let v = json_out(&out);
        let gate = crate::plugin_row(&v, "gate");
        assert_eq!(gate["health"], health, "{v}");
        if health == "failed" {
            let message = gate["error"]["message"].as_str().unwrap();
            assert!(message.contains("rejected"), "{message}");
        }
    }
}
