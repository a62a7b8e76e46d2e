//! Code generated from `proto/` by build.rs (prost messages, tonic clients and servers). Private
//! to the crate: no generated type appears in a public signature.

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    reason = "generated code; the proto files carry the documentation"
)]

/// RoboDev's plugin services and messages (`robodev.v1`).
pub mod robodev {
    pub mod v1 {
        tonic::include_proto!("robodev.v1");
    }
}

/// go-plugin's own services (controller, stdio, broker).
pub mod plugin {
    tonic::include_proto!("plugin");
}

/// The standard gRPC health service.
pub mod health {
    tonic::include_proto!("grpc.health.v1");
}

pub use robodev::v1 as rd;
