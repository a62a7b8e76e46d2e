//! The Rust ticketing plugin the `subprocess_calls` bench launches: the backend of the Rust
//! interop plugin (`host/grpc/examples/support/tickets.rs`, the shared behaviour of
//! `examples/plugins/README.md`), served with [`robodev_grpc::serve_with`]. A `[[bin]]` of this
//! crate so that `cargo bench` builds it with the bench profile.

use std::sync::Arc;

use robodev_core::AnyBackend;
use robodev_grpc::ServeOptions;

#[path = "../../../host/grpc/examples/support/tickets.rs"]
mod tickets;

use tickets::Tickets;

#[tokio::main]
async fn main() -> Result<(), robodev_grpc::ServeError> {
    let options = ServeOptions {
        log_module: Some("rust-ticketing".to_owned()),
        ..ServeOptions::default()
    };
    robodev_grpc::serve_with(AnyBackend::Ticketing(Arc::new(Tickets)), options).await
}
