//! `robodev-wasm`: robodev's sandboxed WebAssembly component runtime.
//!
//! - [`Runtime`]: one shared wasmtime engine (component model, async, fuel, epoch deadlines,
//!   pooling allocator with an on-demand fallback), a linker holding the whole WASI 0.2 surface
//!   plus the robodev host capabilities, and an on-disk [`CompileCache`] of precompiled
//!   components.
//! - [`Runtime::load`] reads a component's type before running any of it: it refuses files
//!   that are not components, components that export no robodev interface or an unsupported
//!   major version, and components importing anything the host does not offer (naming it).
//! - [`WasmPlugin`]: a loaded plugin; [`WasmPlugin::backend`] is its `robodev_core` trait
//!   object, so callers cannot tell it from a built-in or subprocess plugin.
//! - [`Limits`] (fuel, deadline, memory, tables, instances) hold on every call; each hit is
//!   its own [`robodev_core::Failure`], and the next call runs in a fresh store.
//! - [`Grants`]: deny by default. Config values, named secrets, outbound HTTP to an
//!   allow-list, a persistent key-value store and read-only directories are granted per plugin;
//!   no environment, no inherited stdio, no sockets.
//!
//! Errors are [`robodev_core::Error`]: the runtime adds no error type of its own because every
//! way a load or call can end is one of the core outcomes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), robodev_core::Error> {
//! use robodev_wasm::{PluginOptions, Runtime, RuntimeConfig};
//!
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let plugin = runtime
//!     .load("notify_webhook.wasm".as_ref(), PluginOptions { name: "slack".into(), ..Default::default() })
//!     .await?;
//! let out = plugin
//!     .backend()
//!     .call_json("slack", "notify", serde_json::json!({"message": "hello"}))
//!     .await?;
//! # let _ = out; Ok(()) }
//! ```

mod adapters;
mod bindings;
mod cache;
mod capability;
mod grants;
mod inspect;
mod limits;
mod plugin;
mod runtime;
mod state;
mod stdio;
mod typecheck;

pub use cache::{CompileCache, DEFAULT_COMPILE_CACHE_BYTES, LoadPath};
pub use capability::kv;
pub use capability::log::MAX_LOG_MESSAGE_BYTES;
pub use capability::secrets::{EnvSecrets, SecretSource, SourceError, StaticSecrets};
pub use grants::{Grants, Preopen};
pub use inspect::ComponentInfo;
pub use limits::*;
pub use plugin::{CallStats, WasmPlugin};
pub use runtime::{
    Allocation, DEFAULT_MAX_COMPONENT_BYTES, EPOCH_TICK, LoadTurn, Loaded, POOL_INSTANCES,
    POOL_MAX_MEMORY_BYTES, PluginOptions, Runtime, RuntimeConfig, read_component,
};
pub use stdio::CAPTURE_BYTES;
pub use typecheck::CONTRACT as CONTRACT_WIT;
