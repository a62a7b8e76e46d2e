//! Deny by default: secrets, kv and config only as granted; kv survives a restart.

use std::collections::BTreeMap;
use std::sync::Arc;

use robodev_core::{AnyBackend, ErrorCode, Interface, ticketing};
use robodev_wasm::{Grants, StaticSecrets};

use crate::{config, domain_code, load, notify, options};

#[tokio::test]
async fn secrets_only_as_granted() {
    let source = StaticSecrets(BTreeMap::from([
        ("slack-bot-token".to_owned(), "xoxb-1".to_owned()),
        ("other".to_owned(), "nope".to_owned()),
    ]));
    let grants = Grants {
        secrets: BTreeMap::from([
            ("token".to_owned(), "slack-bot-token".to_owned()),
            ("gone".to_owned(), "deleted-secret".to_owned()),
        ]),
        secret_source: Some(Arc::new(source)),
        ..Default::default()
    };
    let plugin = load("chaos", options("chaos", Interface::Notifications, grants)).await;
    let b = plugin.backend();
    notify(&b, "secret:token").await.expect("granted secret");
    assert_eq!(
        domain_code(notify(&b, "secret:other").await),
        ErrorCode::PermissionDenied
    );
    assert_eq!(
        domain_code(notify(&b, "secret:gone").await),
        ErrorCode::NotFound
    );

    let bare = load(
        "chaos",
        options("chaos", Interface::Notifications, Grants::default()),
    )
    .await;
    let denied = notify(&bare.backend(), "secret:token").await;
    // The refusal names the config key that grants the secret.
    let message = format!("{:?}", denied);
    assert!(message.contains("secrets: { token: KEY }"), "{message}");
    assert_eq!(domain_code(denied), ErrorCode::PermissionDenied);
}

/// The chaos guest with its key-value store in `dir`.
async fn chaos_with_kv(dir: &std::path::Path) -> robodev_wasm::WasmPlugin {
    load(
        "chaos",
        options(
            "chaos",
            Interface::Notifications,
            Grants {
                kv_dir: Some(dir.to_owned()),
                ..Default::default()
            },
        ),
    )
    .await
}

#[tokio::test]
async fn kv_is_denied_unless_granted() {
    let plugin = load(
        "chaos",
        options("chaos", Interface::Notifications, Grants::default()),
    )
    .await;
    assert_eq!(
        domain_code(notify(&plugin.backend(), "kv").await),
        ErrorCode::PermissionDenied
    );
    let dir = tempfile::tempdir().unwrap();
    let granted = chaos_with_kv(dir.path()).await;
    notify(&granted.backend(), "kv").await.expect("kv granted");
}

/// Calls to one plugin run concurrently and share its store: `increment` and a
/// `compare-and-swap` loop lose no update where get-then-set would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_lose_no_kv_update_with_the_atomic_operations() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = chaos_with_kv(dir.path()).await;
    const CALLS: usize = 24;
    let calls = (0..CALLS)
        .flat_map(|_| ["count:n", "cas:s"])
        .map(|message| {
            let backend = plugin.backend();
            tokio::spawn(async move { notify(&backend, message).await })
        });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().expect("an atomic kv call");
    }
    drop(plugin);
    let store = robodev_wasm::kv::KvStore::open(dir.path(), "chaos").unwrap();
    assert_eq!(store.get("n").await, Some(CALLS.to_string().into_bytes()));
    assert_eq!(store.get("s").await, Some(vec![b'x'; CALLS]));

    // A value that is not a counter is refused, naming the key and what it holds.
    let plugin = chaos_with_kv(dir.path()).await;
    let err = notify(&plugin.backend(), "count:s").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("`s` holds \"xxxxxxxxxxxxxxxxxxxxxxxx\""),
        "{err:?}"
    );
}

#[tokio::test]
async fn kv_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let grants = || Grants {
        config: config(&[("tickets", r#"[{"id":"K-1","labels":["robodev"]}]"#)]),
        kv_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let poll = ticketing::PollReadyTicketsRequest {
        labels: vec!["robodev".into()],
        max_results: 0,
    };
    {
        let plugin = load(
            "ticketing_kv",
            options("tix", Interface::Ticketing, grants()),
        )
        .await;
        let AnyBackend::Ticketing(t) = plugin.backend() else {
            panic!()
        };
        assert_eq!(
            t.poll_ready_tickets(poll.clone())
                .await
                .unwrap()
                .tickets
                .len(),
            1
        );
        t.mark_in_progress(ticketing::MarkInProgressRequest {
            ticket_id: "K-1".into(),
        })
        .await
        .unwrap();
    }
    // A new plugin instance (as after a host restart) sees the same state.
    let plugin = load(
        "ticketing_kv",
        options("tix", Interface::Ticketing, grants()),
    )
    .await;
    let AnyBackend::Ticketing(t) = plugin.backend() else {
        panic!()
    };
    assert!(t.poll_ready_tickets(poll).await.unwrap().tickets.is_empty());
    assert!(dir.path().join("tix.kv").exists());
}

#[tokio::test]
async fn no_ambient_environment_or_arguments() {
    // The host process has plenty of environment; the guest must see none of it.
    assert!(std::env::vars().next().is_some());
    let plugin = load(
        "chaos",
        options("chaos", Interface::Notifications, Grants::default()),
    )
    .await;
    notify(&plugin.backend(), "env")
        .await
        .expect("empty environment");
}

#[tokio::test]
async fn files_only_through_read_only_grants() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hi there").unwrap();
    let host_file = dir.path().join("hello.txt").display().to_string();

    // No grant: the guest sees no filesystem at all, not even by host path.
    let bare = load(
        "chaos",
        options("chaos", Interface::Notifications, Grants::default()),
    )
    .await;
    let b = bare.backend();
    let r = notify(&b, &format!("read:{host_file}=hi there")).await;
    assert!(
        matches!(
            domain_code(r),
            ErrorCode::NotFound | ErrorCode::PermissionDenied
        ),
        "an ungranted host path is unreadable"
    );

    // Granted read-only at /data: reads work, writes are refused.
    let grants = Grants {
        preopens: vec![robodev_wasm::Preopen {
            host: dir.path().to_owned(),
            guest: "/data".into(),
        }],
        ..Default::default()
    };
    let plugin = load("chaos", options("chaos", Interface::Notifications, grants)).await;
    let b = plugin.backend();
    notify(&b, "read:/data/hello.txt=hi there")
        .await
        .expect("granted directory is readable");
    assert_eq!(
        domain_code(notify(&b, "write:/data/new.txt").await),
        ErrorCode::PermissionDenied
    );
    assert!(!dir.path().join("new.txt").exists(), "nothing was written");
    assert_eq!(
        domain_code(notify(&b, "write:/data/hello.txt").await),
        ErrorCode::PermissionDenied
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hello.txt")).unwrap(),
        "hi there"
    );
}
