//! One test run again in a child process of this test binary, with an environment of its own:
//! environment variables are process-wide and clients read them when they are built, so a test
//! that sets them (proxies) does so in a child only.

use std::process::{Command, Output};

use crate::forward_proxy::PROXY_VARS;

/// This test binary running only the test `name` (its full path), with `(var, value)` telling
/// it that it is the child and what to do, no proxy variables but those of `env`. Async tests
/// convert it into `tokio::process::Command` (which has a `From` for it).
pub fn rerun(name: &str, (var, value): (&str, &str), env: &[(&str, String)]) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, value);
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// Fails, with `what` and the child's output, unless the child ran its one test and it passed.
pub fn assert_passed(out: &Output, what: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    // "1 passed" also proves the filter found the test: with none, libtest passes too.
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the child failed ({what}):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
