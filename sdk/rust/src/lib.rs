//! Write robodev plugins as WebAssembly components in Rust: implement your interface's trait,
//! call its export macro once, build for `wasm32-wasip2`.
//!
//! ```
//! use robodev_plugin::ticketing::{PluginError, PluginInfo, TaskResult, Ticket, Ticketing};
//!
//! struct Tracker;
//!
//! impl Ticketing for Tracker {
//!     fn handshake() -> PluginInfo {
//!         robodev_plugin::info!()
//!     }
//!     fn poll_ready_tickets(labels: Vec<String>, max_results: i32) -> Result<Vec<Ticket>, PluginError> {
//!         let seen = robodev_plugin::kv::increment("polls", 1)?;
//!         robodev_plugin::log::info(&format!("poll number {seen}"));
//!         Ok(vec![])
//!     }
//!     // ... the other functions of `robodev:ticketing/backend`
//! #   fn mark_in_progress(_: String) -> Result<(), PluginError> { Ok(()) }
//! #   fn mark_complete(_: String, _: Option<TaskResult>) -> Result<(), PluginError> { Ok(()) }
//! #   fn mark_failed(_: String, _: String) -> Result<(), PluginError> { Ok(()) }
//! #   fn add_comment(_: String, _: String) -> Result<(), PluginError> { Ok(()) }
//! }
//!
//! robodev_plugin::export_ticketing!(Tracker);
//! # fn main() {}
//! ```
//!
//! Enable the feature of the interface you implement (`features = ["ticketing"]`); each
//! interface module (`ticketing`, `notifications`, `approval`, `secrets_backend` (feature
//! `secrets`; `robodev_plugin::secrets` is the capability), `scm`, `review`, `engine`) has the
//! trait (named after the interface), the records and enums of its WIT and the
//! shared [`types`], and its `export_<interface>!` macro writes the component's exports.
//!
//! The host capabilities are plain functions: [`log`], [`config`], [`secrets`] and [`kv`]. In a
//! component they call the host; in a native `cargo test` they call a stand-in that
//! [`testing`] sets up (config, secrets, a granted store) and inspects (log lines, stored
//! values), so plugin logic is unit-tested without a host. Their errors convert into
//! [`types::PluginError`] with `?`.
//!
//! The WIT this crate is generated from is in its `wit/` directory (robodev:host 1.1, each
//! interface's current major): `wit-bindgen` reads it from the crate, so a plugin project needs
//! no copy.

// The export macros name this crate's modules by path; this makes `robodev_plugin::...` resolve
// inside the crate as well.
extern crate self as robodev_plugin;

#[doc(hidden)]
pub mod bindings {
    //! The generated imports: the shared types and the host capabilities.
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        path: ["wit/types", "wit/host"],
        inline: "
            package robodev:plugin-sdk;

            world imports {
                import robodev:types/types@1.0.0;
                include robodev:host/imports@1.1.0;
            }
        ",
        world: "robodev:plugin-sdk/imports",
        generate_all,
        // `types` has no functions: its records are all "unused" in this world.
        generate_unused_types: true,
        additional_derives: [PartialEq],
    });
}

pub mod types {
    //! The records and the error shared by every interface (`robodev:types/types`).
    pub use crate::bindings::robodev::types::types::*;
}

mod host;
pub use host::{config, kv, log, secrets};

#[cfg(not(target_family = "wasm"))]
pub mod testing;

/// The `plugin-info` of this crate's package: its Cargo name and version, for `handshake`.
#[macro_export]
macro_rules! info {
    () => {
        $crate::types::PluginInfo {
            name: ::core::env!("CARGO_PKG_NAME").into(),
            version: ::core::env!("CARGO_PKG_VERSION").into(),
        }
    };
}

/// One interface module: its export world's bindings (sharing [`types`]), the trait under the
/// interface's name, and everything else of the interface re-exported.
macro_rules! interface {
    (
        $feature:tt, $module:ident, $dir:tt, $inline:tt, $world:tt, $macro_name:tt, $bindings:tt,
        $trait:ident, $macro:ident, $($exports:ident)::+
    ) => {
        #[cfg(feature = $feature)]
        pub use $module::bindings::$macro;
        #[cfg(feature = $feature)]
        #[doc = concat!("The `", $feature, "` interface: implement [`", stringify!($trait), "`], then call `robodev_plugin::", $macro_name, "!(YourType)` once.")]
        pub mod $module {
            #[doc(hidden)]
            pub mod bindings {
                #![allow(missing_docs)]
                wit_bindgen::generate!({
                    path: ["wit/types", "wit/host", $dir],
                    inline: $inline,
                    world: $world,
                    with: { "robodev:types/types@1.0.0": crate::bindings::robodev::types::types },
                    pub_export_macro: true,
                    export_macro_name: $macro_name,
                    default_bindings_module: $bindings,
                    additional_derives: [PartialEq],
                });
            }
            pub use bindings::exports::$($exports)::+::*;
            pub use bindings::exports::$($exports)::+::Guest as $trait;
        }
    };
}

interface!(
    "ticketing",
    ticketing,
    "wit/ticketing",
    "package robodev:plugin-sdk-ticketing; world ticketing-plugin { export robodev:ticketing/backend@1.0.0; }",
    "robodev:plugin-sdk-ticketing/ticketing-plugin",
    "export_ticketing",
    "robodev_plugin::ticketing::bindings",
    Ticketing,
    export_ticketing,
    robodev::ticketing::backend
);
interface!(
    "notifications",
    notifications,
    "wit/notifications",
    "package robodev:plugin-sdk-notifications; world notifications-plugin { export robodev:notifications/channel@1.0.0; }",
    "robodev:plugin-sdk-notifications/notifications-plugin",
    "export_notifications",
    "robodev_plugin::notifications::bindings",
    Notifications,
    export_notifications,
    robodev::notifications::channel
);
interface!(
    "approval",
    approval,
    "wit/approval",
    "package robodev:plugin-sdk-approval; world approval-plugin { export robodev:approval/backend@1.0.0; }",
    "robodev:plugin-sdk-approval/approval-plugin",
    "export_approval",
    "robodev_plugin::approval::bindings",
    Approval,
    export_approval,
    robodev::approval::backend
);
interface!(
    "secrets",
    secrets_backend,
    "wit/secrets",
    "package robodev:plugin-sdk-secrets; world secrets-plugin { export robodev:secrets/backend@1.0.0; }",
    "robodev:plugin-sdk-secrets/secrets-plugin",
    "export_secrets",
    "robodev_plugin::secrets_backend::bindings",
    SecretsBackend,
    export_secrets,
    robodev::secrets::backend
);
interface!(
    "scm",
    scm,
    "wit/scm",
    "package robodev:plugin-sdk-scm; world scm-plugin { export robodev:scm/backend@2.0.0; }",
    "robodev:plugin-sdk-scm/scm-plugin",
    "export_scm",
    "robodev_plugin::scm::bindings",
    Scm,
    export_scm,
    robodev::scm::backend
);
interface!(
    "review",
    review,
    "wit/review",
    "package robodev:plugin-sdk-review; world review-plugin { export robodev:review/backend@1.0.0; }",
    "robodev:plugin-sdk-review/review-plugin",
    "export_review",
    "robodev_plugin::review::bindings",
    Review,
    export_review,
    robodev::review::backend
);
interface!(
    "engine",
    engine,
    "wit/engine",
    "package robodev:plugin-sdk-engine; world engine-plugin { export robodev:engine/engine@1.0.0; }",
    "robodev:plugin-sdk-engine/engine-plugin",
    "export_engine",
    "robodev_plugin::engine::bindings",
    Engine,
    export_engine,
    robodev::engine::engine
);
