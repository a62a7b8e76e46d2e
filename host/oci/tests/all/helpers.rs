//! Docker credential helpers (`credsStore`, `credHelpers`): real helper programs (shell
//! scripts named `docker-credential-NAME`) in a directory given as
//! `ClientOptions::credential_helper_path`, so the test process's `PATH` is left alone.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use robodev_oci::{Client, ClientOptions, Credentials, DockerConfig, Error};

use crate::support::{PASSWORD, Registry, USER, no_annotations, wasm_file};

/// Writes the executable script `docker-credential-NAME` into `dir`.
fn helper(dir: &Path, name: &str, body: &str) {
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A fresh cache per client, so every pull asks the registry.
static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn client_with(dir: &Path, config: serde_json::Value) -> Client {
    let file = dir.join("config.json");
    std::fs::write(&file, config.to_string()).unwrap();
    Client::new(
        ClientOptions::new(dir.join(format!(
            "cache-{}",
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )))
        .docker_config(DockerConfig::File(file))
        .credential_helper_path(dir.join("bin")),
    )
}

#[tokio::test]
async fn credentials_come_from_docker_credential_helpers() {
    let registry = Registry::start_with_htpasswd().await;
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let reference = registry.reference("robodev/helped:1");
    let pushed = Client::new(
        ClientOptions::new(dir.path().join("pusher"))
            .docker_config(DockerConfig::Disabled)
            .credentials(&host, Credentials::basic(USER, PASSWORD)),
    )
    .push(&wasm_file(), &reference, no_annotations())
    .await
    .unwrap();

    // The protocol: `get`, the server on stdin, {"Username","Secret"} on stdout; a helper
    // without an entry says "credentials not found" and exits 1.
    let asked = dir.path().join("asked");
    helper(
        &bin,
        "test",
        &format!(
            "[ \"$1\" = get ] || exit 2\nread server\necho \"$server\" >> {asked}\n\
             if [ \"$server\" = \"{host}\" ]; then\n  \
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n\
             else\n  echo 'credentials not found in native keychain'; exit 1\nfi",
            asked = asked.display()
        ),
    );
    let client = client_with(dir.path(), serde_json::json!({"credsStore": "test"}));
    let pulled = client.pull(&reference).await.unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    assert_eq!(std::fs::read_to_string(&asked).unwrap().trim(), host);

    // credHelpers wins over credsStore, per registry; a failing helper is named with the
    // registry and what it said.
    helper(&bin, "broken", "echo 'the keychain is locked' >&2\nexit 3");
    let client = client_with(
        dir.path(),
        serde_json::json!({"credsStore": "test", "credHelpers": {host.clone(): "broken"}}),
    );
    match client.pull(&reference).await.unwrap_err() {
        Error::CredentialHelper {
            helper,
            registry,
            reason,
            ..
        } => {
            assert_eq!(helper, "docker-credential-broken");
            assert_eq!(registry, host);
            assert!(reason.contains("the keychain is locked"), "{reason}");
        }
        other => panic!("expected CredentialHelper, got {other:?}"),
    }

    // A helper that is not installed.
    let client = client_with(
        dir.path(),
        serde_json::json!({"credHelpers": {host.clone(): "absent"}}),
    );
    let e = client.pull(&reference).await.unwrap_err();
    assert!(
        matches!(&e, Error::CredentialHelper { helper, reason, .. }
            if helper == "docker-credential-absent" && reason.contains("not found")),
        "{e:?}"
    );
    assert!(e.to_string().contains(&host), "{e}");

    // A helper that has no entry for the registry: no credentials, so the registry refuses.
    helper(
        &bin,
        "empty",
        "echo 'credentials not found in native keychain'\nexit 1",
    );
    let client = client_with(dir.path(), serde_json::json!({"credsStore": "empty"}));
    assert!(matches!(
        client.pull(&reference).await.unwrap_err(),
        Error::Unauthorized {
            credentials: None,
            ..
        }
    ));

    // Wrong credentials from a helper: the error names the helper as their source.
    helper(
        &bin,
        "wrong",
        &format!("read server\nprintf '{{\"Username\":\"{USER}\",\"Secret\":\"nope\"}}'"),
    );
    let client = client_with(dir.path(), serde_json::json!({"credsStore": "wrong"}));
    let e = client.pull(&reference).await.unwrap_err();
    assert!(
        e.to_string().contains("docker-credential-wrong") && !e.to_string().contains("nope"),
        "{e}"
    );
}
