//! The subprocess plugin binaries the tests launch (Rust, Go, Python), and small process
//! helpers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::repo::{repo_root, run_script_once};

/// The Rust example plugin of robodev-grpc (`cargo test` builds examples before running
/// tests).
pub fn rust_plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/all-HASH -> target/debug/examples/ticketing_plugin
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/ticketing_plugin");
    assert!(
        path.exists(),
        "{} is missing: run `cargo test --workspace` or `cargo build -p robodev-grpc --examples`",
        path.display()
    );
    path
}

/// The hashicorp/go-plugin versions the Go interop peers are built with
/// (`scripts/build-go-plugins`): the one RoboDev's controller uses, and 1.0.1 (2019).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoPlugin {
    /// v1.7.0.
    Current,
    /// v1.0.1.
    V1_0_1,
}

impl GoPlugin {
    /// Both, newest first.
    pub const ALL: [GoPlugin; 2] = [GoPlugin::Current, GoPlugin::V1_0_1];

    fn suffix(self) -> &'static str {
        match self {
            GoPlugin::Current => "",
            GoPlugin::V1_0_1 => "-v1.0.1",
        }
    }

    /// `v1.7.0` or `v1.0.1`.
    pub fn version(self) -> &'static str {
        match self {
            GoPlugin::Current => "v1.7.0",
            GoPlugin::V1_0_1 => "v1.0.1",
        }
    }
}

fn go_built(name: &str, version: GoPlugin) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    run_script_once(&BUILT, "build-go-plugins");
    repo_root().join(format!("target/interop/go/{name}{}", version.suffix()))
}

/// The Go ticketing plugin (robodev's Go SDK on hashicorp/go-plugin v1.7.0).
pub fn go_plugin() -> PathBuf {
    go_plugin_of(GoPlugin::Current)
}

/// The Go ticketing plugin built with go-plugin `version`.
pub fn go_plugin_of(version: GoPlugin) -> PathBuf {
    go_built("robodev-plugin-go-ticketing", version)
}

/// The Go host built with go-plugin `version`.
pub fn go_host_of(version: GoPlugin) -> PathBuf {
    go_built("robodev-go-host", version)
}

/// The Python grpcio plugin's launcher.
pub fn python_plugin() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    run_script_once(&BUILT, "build-python-plugins");
    repo_root().join("target/interop/python/robodev-plugin-python-ticketing")
}

/// The TypeScript plugin's launcher (robodev's TypeScript SDK, packed and installed with npm).
pub fn ts_plugin() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    run_script_once(&BUILT, "build-ts-plugins");
    repo_root().join("target/interop/ts/robodev-plugin-ts-ticketing")
}

/// An executable in `dir` that runs the Python file `script` with robodev's Python SDK (the
/// interpreter scripts/build-python-plugins installed it for): a plugin a test writes. It is a
/// Python script whose `#!` names that interpreter, so that robodev's sandbox grants it.
pub fn python_sdk_plugin(script: &Path, dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static BUILT: OnceLock<()> = OnceLock::new();
    run_script_once(&BUILT, "build-python-plugins");
    let out = repo_root().join("target/interop/python");
    let venv = out.join("venv/bin/python");
    let (python, site) = if venv.exists() {
        (venv, None)
    } else {
        (PathBuf::from("/usr/bin/python3"), Some(out.join("site")))
    };
    let name = format!("{}-launcher", script.file_stem().unwrap().to_string_lossy());
    let path = dir.join(name);
    let site = site
        .map(|s| format!("sys.path.insert(0, {:?})\n", s.display().to_string()))
        .unwrap_or_default();
    let script = script.display().to_string();
    std::fs::write(
        &path,
        format!(
            "#!{}\nimport runpy, sys\n{site}sys.argv[0] = {script:?}\nrunpy.run_path({script:?}, run_name=\"__main__\")\n",
            python.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The installation the Python plugins' interpreter comes from (`sys.base_prefix`), which a
/// confined plugin started through a shell wrapper must be granted: robodev's sandbox finds a
/// plugin's interpreter only from its own `#!` line.
pub fn python_base_prefix() -> PathBuf {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX
        .get_or_init(|| {
            let launcher = python_plugin();
            let out = std::process::Command::new(launcher.with_file_name("venv/bin/python"))
                .args(["-c", "import sys; print(sys.base_prefix)"])
                .output()
                .expect("the venv's python runs");
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}

/// The seeds' Jira ticketing plugin (examples/plugins/example-jira-python, pip-installed).
pub fn jira_plugin() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    run_script_once(&BUILT, "build-python-plugins");
    repo_root().join("target/interop/python/robodev-plugin-jira")
}

/// The seeds' Go example: a Slack notification plugin (examples/plugins/example-slack-go).
pub fn slack_plugin() -> PathBuf {
    go_built("robodev-plugin-slack", GoPlugin::Current)
}

/// The seeds' Teams notification plugin (examples/plugins/example-teams-ts, npm-installed).
pub fn teams_plugin() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    run_script_once(&BUILT, "build-ts-plugins");
    repo_root().join("target/interop/ts/robodev-plugin-teams")
}

/// The living processes descended from `pid` (children, their children, ...), read from
/// `/proc`: a confined plugin's keeper, its namespace's init and the plugin itself.
pub fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|child| {
                    let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
                    // Fields after the command name: state, then the parent's pid.
                    let ppid = stat
                        .rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse()
                        .ok()?;
                    Some((child, ppid))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found.retain(|p| alive(*p));
    found
}

/// Whether process `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z'),
        Err(_) => false,
    }
}

/// Writes an executable shell script `name` into `dir`.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
