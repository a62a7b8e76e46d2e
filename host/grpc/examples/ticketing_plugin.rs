//! A ticketing plugin binary in Rust: the behaviour shared by the interop plugins
//! (`examples/plugins/README.md`), served with one call to [`robodev_grpc::serve_with`].
//!
//! It also misbehaves on request, for the host's failure tests:
//! - `AddComment` with comment `chaos:sleep` never answers; `chaos:exit` exits with code 3
//!   mid-call; `chaos:abort` aborts (SIGABRT); `chaos:stdout` prints 100 lines to stdout.
//! - `ROBODEV_TEST_FAIL_START_FILE=PATH`: if PATH exists at start, print to stderr and exit 7
//!   before the handshake (a plugin that cannot start any more).
//! - `ROBODEV_TEST_NETWORK=tcp`: listen on loopback TCP instead of a unix socket.
//! - `ROBODEV_TEST_PID_FILE=PATH`: write the process id there at start.

use std::sync::Arc;

use robodev_core::AnyBackend;
use robodev_core::ticketing::Backend;
use robodev_grpc::{Network, ServeOptions};

#[path = "support/tickets.rs"]
mod tickets;

use tickets::Tickets;

#[tokio::main]
async fn main() -> Result<(), robodev_grpc::ServeError> {
    if let Ok(path) = std::env::var("ROBODEV_TEST_PID_FILE") {
        let _ = std::fs::write(path, std::process::id().to_string());
    }
    if let Ok(path) = std::env::var("ROBODEV_TEST_FAIL_START_FILE")
        && std::path::Path::new(&path).exists()
    {
        eprintln!("cannot start: {path} exists");
        std::process::exit(7);
    }
    let backend: Arc<dyn Backend> = Arc::new(Tickets);
    let options = ServeOptions {
        network: match std::env::var("ROBODEV_TEST_NETWORK").as_deref() {
            Ok("tcp") => Network::Tcp,
            _ => Network::Unix,
        },
        log_module: Some("rust-ticketing".to_owned()),
        ..ServeOptions::default()
    };
    robodev_grpc::serve_with(AnyBackend::Ticketing(backend), options).await
}
