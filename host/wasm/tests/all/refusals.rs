//! Components the host refuses before running any of their code, each with its own reason.

use robodev_core::{Error, Interface, Outcome, Refusal};
use robodev_wasm::{Grants, PluginOptions};

use crate::{options, runtime, support};

async fn refusal_of(path: &std::path::Path, options: PluginOptions) -> Refusal {
    match runtime().load(path, options).await {
        Err(Error::Refused { refusal, plugin }) => {
            assert_eq!(plugin, "p");
            refusal
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the plugin loaded"),
    }
}

fn any(name: &str) -> PluginOptions {
    PluginOptions {
        name: name.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_import_the_host_does_not_offer_is_named() {
    let r = refusal_of(&support::guest("bad_import"), any("p")).await;
    match &r {
        Refusal::UnsupportedImport { import, .. } => {
            assert_eq!(import, "acme:backdoor/shell@1.0.0")
        }
        other => panic!("{other:?}"),
    }
    assert!(r.to_string().contains("acme:backdoor/shell@1.0.0"));
}

#[tokio::test]
async fn an_unsupported_major_version_is_refused() {
    let r = refusal_of(&support::guest("future_major"), any("p")).await;
    assert_eq!(
        r,
        Refusal::UnsupportedVersion {
            export: "robodev:notifications/channel@9.0.0".into(),
            found: 9,
            expected: 1
        }
    );
}

/// An older major the host still serves loads, through its adapter: SCM 1's functions answer,
/// SCM 2's newer ones are `unimplemented`, and the plugin reports its own major.
#[tokio::test]
async fn an_older_major_the_host_serves_loads_through_its_adapter() {
    use robodev_core::AnyBackend;
    use robodev_core::scm::{CreateBranchRequest, GetDiffRequest};
    let plugin = runtime()
        .load(&support::guest("scm_v1"), any("old"))
        .await
        .unwrap();
    assert_eq!(plugin.component_info().interface, Interface::Scm);
    assert_eq!(plugin.component_info().interface_version, 1);
    // Built against robodev:host 1.0.0 (wit/host-1.0): the newer 1.x host links it.
    assert!(
        plugin
            .component_info()
            .imports
            .iter()
            .any(|i| i == "robodev:host/log@1.0.0"),
        "{:?}",
        plugin.component_info().imports
    );
    let AnyBackend::Scm(scm) = plugin.backend() else {
        panic!("not an SCM backend")
    };
    let branch = scm
        .create_branch(CreateBranchRequest {
            repo_url: "https://git.example/acme/api".into(),
            branch_name: "robodev/T-1".into(),
            base_ref: "main".into(),
        })
        .await
        .unwrap();
    assert_eq!(branch.sha, "0000000000000001");
    let err = scm
        .get_diff(GetDiffRequest {
            repo_url: "https://git.example/acme/api".into(),
            base_branch: "main".into(),
            branch_name: "robodev/T-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.label(), "unimplemented", "{err}");
    assert!(
        err.to_string()
            .contains("get-diff came in SCM interface version 2"),
        "{err}"
    );
}

#[tokio::test]
async fn the_wrong_interface_is_refused() {
    let r = refusal_of(
        &support::guest("chaos"),
        options("p", Interface::Ticketing, Grants::default()),
    )
    .await;
    assert_eq!(
        r,
        Refusal::WrongInterface {
            expected: Interface::Ticketing,
            found: Interface::Notifications
        }
    );
}

#[tokio::test]
async fn files_that_are_not_components_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 4] = [
        ("module.wasm", b"\0asm\x01\0\0\0", "core WebAssembly module"),
        ("text.wasm", b"#!/bin/sh\necho hi\n", "magic number"),
        ("empty.wasm", b"", "empty"),
        // A component header followed by garbage: it fails to compile.
        (
            "broken.wasm",
            b"\0asm\x0d\0\x01\0\xff\xff\xff",
            "invalid component",
        ),
    ];
    for (file, bytes, expect) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).unwrap();
        let err = runtime().load(&path, any("p")).await.unwrap_err();
        assert_eq!(err.outcome(), Outcome::Refused, "{file}: {err}");
        assert!(err.to_string().contains(expect), "{file}: {err}");
    }
}

#[tokio::test]
async fn a_missing_file_is_a_host_error() {
    let err = runtime()
        .load("/nonexistent/x.wasm".as_ref(), any("p"))
        .await
        .unwrap_err();
    assert_eq!(err.outcome(), Outcome::Host);
    assert!(err.to_string().contains("/nonexistent/x.wasm"), "{err}");
}
