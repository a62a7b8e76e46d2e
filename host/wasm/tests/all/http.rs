//! Outbound HTTP through wasi:http, proven both ways against a real server on loopback.

use std::sync::{Arc, Mutex};

use robodev_core::{ErrorCode, Interface};
use robodev_wasm::Grants;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{config, domain_code, load, notify, options};

/// A minimal HTTP/1.1 server on 127.0.0.1:0 that records each request's first line and body
/// and answers `status`.
async fn server(status: u16) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read headers, then the body by content-length.
                let (head_end, len) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..pos]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (pos + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let text = String::from_utf8_lossy(&buf).into_owned();
                let first = text.lines().next().unwrap_or_default().to_owned();
                let body = text[head_end.min(text.len())..].to_owned();
                record.lock().unwrap().push((first, body));
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (format!("127.0.0.1:{}", addr.port()), seen)
}

#[tokio::test]
async fn webhook_reaches_an_allowed_host() {
    let (addr, seen) = server(200).await;
    let grants = Grants {
        config: config(&[("webhook_url", &format!("http://{addr}/hook"))]),
        allowed_hosts: vec![addr.clone()],
        ..Default::default()
    };
    let plugin = load(
        "notify_webhook",
        options("hook", Interface::Notifications, grants),
    )
    .await;
    notify(&plugin.backend(), "deployed").await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].0.starts_with("POST /hook "), "{seen:?}");
    let body: serde_json::Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(body["event"], "notify");
    assert_eq!(body["message"], "deployed");
    assert_eq!(body["ticketId"], "T-1");
}

#[tokio::test]
async fn a_host_not_on_the_list_is_denied_and_nothing_is_sent() {
    let (addr, seen) = server(200).await;
    // Allowed: another port on the same address. Denied: the server's port.
    let grants = Grants {
        config: config(&[("webhook_url", &format!("http://{addr}/hook"))]),
        allowed_hosts: vec!["127.0.0.1:1".into()],
        ..Default::default()
    };
    let plugin = load(
        "notify_webhook",
        options("hook", Interface::Notifications, grants),
    )
    .await;
    let b = plugin.backend();
    let r = notify(&b, "deployed").await;
    assert_eq!(domain_code(r), ErrorCode::PermissionDenied);
    assert!(
        seen.lock().unwrap().is_empty(),
        "the request must not leave the host"
    );
    // The guest saw an error, not a trap: the plugin keeps serving.
    let dry = load(
        "notify_webhook",
        options("hook", Interface::Notifications, Grants::default()),
    )
    .await;
    notify(&dry.backend(), "dry run").await.unwrap();
    let _ = b;
}

#[tokio::test]
async fn no_grant_means_no_http_at_all() {
    let (addr, seen) = server(200).await;
    let plugin = load(
        "chaos",
        options("chaos", Interface::Notifications, Grants::default()),
    )
    .await;
    let b = plugin.backend();
    assert_eq!(
        domain_code(notify(&b, &format!("http:http://{addr}/")).await),
        ErrorCode::PermissionDenied
    );
    assert!(seen.lock().unwrap().is_empty());
    notify(&b, "hello").await.expect("the plugin keeps serving");
}

#[tokio::test]
async fn upstream_errors_are_domain_errors() {
    let (addr, _seen) = server(503).await;
    let grants = Grants {
        config: config(&[("webhook_url", &format!("http://{addr}/hook"))]),
        allowed_hosts: vec![addr.clone()],
        ..Default::default()
    };
    let plugin = load(
        "notify_webhook",
        options("hook", Interface::Notifications, grants),
    )
    .await;
    assert_eq!(
        domain_code(notify(&plugin.backend(), "x").await),
        ErrorCode::Unavailable
    );
}
