//! Target `admin_request`: the admin API's request handling, byte by byte. The input is what a
//! client sends on one connection (request line, headers, body, pipelined requests, garbage);
//! it goes over a real loopback connection to the admin API as `robodev run` serves it (hyper's
//! HTTP/1.1, the connection bounds, the body reader, the token check, the routes) over a real
//! registry. The answer must be HTTP/1.x (or nothing, when the connection is dropped), the server
//! must never panic, and it must still answer `/healthz` afterwards.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use robodev_controller::config::Config;
use robodev_registry::admin::{self, AdminState, Limits, PluginsView};
use robodev_registry::calls::Switches;
use robodev_registry::metrics::Metrics;
use robodev_registry::{LoadOptions, Registry};

/// The token the seeds use.
pub const TOKEN: &str = "fuzz-admin-token";

const CONFIG: &str = "\
state_dir: state
ticketing: { backend: local, config: { file: tickets.yaml } }
notifications: { channels: [ { backend: log } ] }
engines: { local: { command: [agent] } }
";

/// The name of the server's threads.
const SERVER_THREAD: &str = "fuzz-admin-server";

/// Set by the panic hook: a task of the server panicked (tokio would only log it).
static PANICKED: AtomicBool = AtomicBool::new(false);

struct Server {
    addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(SERVER_THREAD) {
                PANICKED.store(true, Ordering::SeqCst);
            }
            previous(info);
        }));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
        std::fs::write(
            dir.path().join("tickets.yaml"),
            "tickets:\n  - { id: 1, title: one }\n",
        )
        .unwrap_or_else(|e| panic!("tickets.yaml: {e}"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(SERVER_THREAD)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a tokio runtime: {e}"));
        let path = dir.path().join("robodev-config.yaml");
        let addr = rt.block_on(async {
            let config =
                Config::parse(CONFIG, &path).unwrap_or_else(|e| panic!("the fuzz config: {e}"));
            let options = LoadOptions::no_compile_cache();
            let registry = Registry::load(&config.host(), options)
                .await
                .unwrap_or_else(|e| panic!("the fuzz registry: {e}"));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("a loopback listener: {e}"));
            let addr = listener
                .local_addr()
                .unwrap_or_else(|e| panic!("its address: {e}"));
            let state = AdminState {
                plugins: std::sync::Arc::new(PluginsView::of(&registry, Switches::new())),
                metrics: std::sync::Arc::new(Metrics::new()),
                token: TOKEN.into(),
                reloader: None,
                readiness: admin::Readiness::new(),
            };
            // Every input comes from one client: without this, wrong tokens would soon shut
            // the token-checked routes for the rest of the run (the throttle is tested
            // elsewhere).
            let limits = Limits {
                auth_failure_limit: u32::MAX,
                ..Limits::default()
            };
            tokio::spawn(async move {
                let _registry = registry;
                admin::serve_with(listener, state, limits, std::future::pending()).await;
            });
            addr
        });
        Server {
            addr,
            _rt: rt,
            _dir: dir,
        }
    })
}

/// Sends `data` on a fresh connection, closes the sending half, reads the answer.
fn exchange(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        panic!("the admin API no longer accepts connections");
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    // The server may answer and close before reading everything (a bad head): not a bug.
    let _ = stream.write_all(data);
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

pub(crate) fn admin_request(data: &[u8]) {
    let server = server();
    PANICKED.store(false, Ordering::SeqCst);
    let answer = exchange(server.addr, data);
    assert!(
        !PANICKED.load(Ordering::SeqCst),
        "the admin API panicked on this input"
    );
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 ") || answer.starts_with(b"HTTP/1.0 "),
        "the admin API answered something that is not HTTP/1.x: {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(200)])
    );
    let health = exchange(
        server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        health.starts_with(b"HTTP/1.1 200"),
        "after this input, /healthz answered {:?}",
        String::from_utf8_lossy(&health[..health.len().min(200)])
    );
}
