//! Generates the gRPC clients and servers of every service robodev speaks with subprocess
//! plugins, from the repository's `proto/` directory, with no `protoc` binary: protox parses
//! the files in Rust and tonic-prost-build generates the code.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto = manifest.join("../../proto");
    let files = [
        "common.proto",
        "ticketing.proto",
        "notifications.proto",
        "approval.proto",
        "secrets.proto",
        "scm.proto",
        "review.proto",
        "engine.proto",
        "plugin/grpc_controller.proto",
        "plugin/grpc_stdio.proto",
        "plugin/grpc_broker.proto",
        "grpc/health/v1/health.proto",
    ];
    println!("cargo:rerun-if-changed={}", proto.display());
    let fds = protox::compile(files, [&proto])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
