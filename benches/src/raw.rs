//! The floor: plain wasmtime 48 calling a notifications component through `bindgen!` typed
//! exports, with no robodev layer (no trait object, no conversions, no pool, span, counters
//! or timer). The side-by-side bench (`benches/peers.rs`) measures robodev against it with
//! the same component and the same request.
//!
//! Three set-ups, from the cheapest to what robodev itself runs:
//! - [`Floor::sync_unlimited`]: a default engine, a synchronous call, no fuel, no epoch;
//! - [`Floor::sync_limited`]: robodev's own engine (fuel, epoch interruption, pooling
//!   allocator), armed per call with the same fuel budget and epoch deadline, called
//!   synchronously (every import linked synchronously);
//! - [`Floor::async_limited`]: the same engine and limits, every import linked
//!   asynchronously and the call made with `call_async` (on a fiber), as robodev calls.
//!
//! Only what the component's calls use is real: `robodev:host/log`, `robodev:host/config` and
//! WASI (the guest's standard library). Its other imports (`wasi:http`, kv, secrets) are
//! linked as traps: the calls measured never reach them.

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

mod sync_api {
    wasmtime::component::bindgen!({
        path: ["../wit/types", "../wit/host", "../wit/notifications"],
        world: "robodev:notifications/plugin@1.0.0",
    });
}

mod async_api {
    wasmtime::component::bindgen!({
        path: ["../wit/types", "../wit/host", "../wit/notifications"],
        world: "robodev:notifications/plugin@1.0.0",
        imports: { default: async },
        exports: { default: async },
        // One ticket type for both bindings.
        with: { "robodev:types/types": super::sync_api::robodev::types::types },
    });
}

/// The data of a floor store: WASI (no grants), `wasi:http` and their resource table.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl State {
    fn new() -> State {
        State {
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

/// The robodev host capabilities on the floor, for the sync or async bindings: `log` drops
/// the line (robodev forwards it to `tracing`, which drops it in a bench: no subscriber),
/// `config` is empty, `secrets` and `kv` deny (the calls measured never use them).
macro_rules! host_impls {
    ($api:ident $(, $async:ident)?) => {
        impl $api::robodev::host::log::Host for State {
            $($async)? fn log(&mut self, _: $api::robodev::host::log::Level, message: String) {
                std::hint::black_box(message);
            }
        }
        impl $api::robodev::host::config::Host for State {
            $($async)? fn get(&mut self, _: String) -> Option<String> {
                None
            }
            $($async)? fn get_all(&mut self) -> Vec<(String, String)> {
                Vec::new()
            }
        }
        impl $api::robodev::host::secrets::Host for State {
            $($async)? fn get(
                &mut self,
                name: String,
            ) -> Result<String, $api::robodev::host::secrets::SecretError> {
                Err($api::robodev::host::secrets::SecretError::NotGranted(name))
            }
        }
        impl $api::robodev::host::kv::Host for State {
            $($async)? fn get(&mut self, _: String) -> Result<Option<Vec<u8>>, $api::robodev::host::kv::KvError> {
                Err($api::robodev::host::kv::KvError::Denied)
            }
            $($async)? fn set(&mut self, _: String, _: Vec<u8>) -> Result<(), $api::robodev::host::kv::KvError> {
                Err($api::robodev::host::kv::KvError::Denied)
            }
            $($async)? fn delete(&mut self, _: String) -> Result<(), $api::robodev::host::kv::KvError> {
                Err($api::robodev::host::kv::KvError::Denied)
            }
            $($async)? fn list_keys(&mut self, _: String) -> Result<Vec<String>, $api::robodev::host::kv::KvError> {
                Err($api::robodev::host::kv::KvError::Denied)
            }
            $($async)? fn increment(&mut self, _: String, _: i64) -> Result<i64, $api::robodev::host::kv::AtomicError> {
                Err($api::robodev::host::kv::AtomicError::Denied)
            }
            $($async)? fn compare_and_swap(
                &mut self,
                _: String,
                _: Option<Vec<u8>>,
                _: Option<Vec<u8>>,
            ) -> Result<bool, $api::robodev::host::kv::AtomicError> {
                Err($api::robodev::host::kv::AtomicError::Denied)
            }
        }
    };
}

host_impls!(sync_api);
impl sync_api::robodev::types::types::Host for State {}
host_impls!(async_api, async);

/// How a floor calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Default engine, synchronous call, no fuel or epoch.
    SyncUnlimited,
    /// robodev's engine and limits, synchronous call.
    SyncLimited,
    /// robodev's engine and limits, `call_async`.
    AsyncLimited,
}

enum Pre {
    Sync(sync_api::PluginPre<State>),
    Async(async_api::PluginPre<State>),
}

enum Bound {
    Sync(sync_api::Plugin),
    Async(async_api::Plugin),
}

/// One component ready to instantiate on the floor.
pub struct Floor {
    mode: Mode,
    engine: Engine,
    pre: Pre,
    fuel: u64,
    deadline_ticks: u64,
}

/// A store with its instance (a warm instance when kept across calls).
pub struct Instance {
    store: Store<State>,
    bound: Bound,
}

/// The one-ticket request of the benches, as the WIT type.
pub fn ticket() -> sync_api::robodev::types::types::Ticket {
    sync_api::robodev::types::types::Ticket {
        id: "PROJ-1".into(),
        title: "Bump serde".into(),
        description: String::new(),
        ticket_type: String::new(),
        labels: vec!["robodev".into()],
        repo_url: String::new(),
        external_url: String::new(),
        raw: None,
    }
}

/// The message of the one-ticket request.
pub const MESSAGE: &str = "Agent started on PROJ-1";

impl Floor {
    /// The notifications component at `path` on the floor `mode`. `robodev_engine` is the
    /// engine robodev's runtime made (the limited modes share its configuration: fuel, epoch
    /// interruption, the pooling allocator); `fuel` and `deadline_ticks` are the per-call
    /// limits robodev arms a store with.
    pub fn new(
        mode: Mode,
        robodev_engine: &Engine,
        path: &std::path::Path,
        fuel: u64,
        deadline_ticks: u64,
    ) -> anyhow::Result<Floor> {
        let engine = match mode {
            Mode::SyncUnlimited => Engine::new(&Config::new())?,
            Mode::SyncLimited | Mode::AsyncLimited => robodev_engine.clone(),
        };
        let component = Component::from_file(&engine, path)?;
        let mut linker = Linker::<State>::new(&engine);
        let pre = match mode {
            Mode::SyncUnlimited | Mode::SyncLimited => {
                wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
                wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
                sync_api::Plugin::add_to_linker::<_, HasSelf<State>>(&mut linker, |s| s)?;
                Pre::Sync(sync_api::PluginPre::new(
                    linker.instantiate_pre(&component)?,
                )?)
            }
            Mode::AsyncLimited => {
                wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
                wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
                async_api::Plugin::add_to_linker::<_, HasSelf<State>>(&mut linker, |s| s)?;
                Pre::Async(async_api::PluginPre::new(
                    linker.instantiate_pre(&component)?,
                )?)
            }
        };
        Ok(Floor {
            mode,
            engine,
            pre,
            fuel,
            deadline_ticks,
        })
    }

    /// Which floor this is.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn store(&self) -> Store<State> {
        Store::new(&self.engine, State::new())
    }

    fn arm(&self, store: &mut Store<State>) {
        if self.mode != Mode::SyncUnlimited {
            store.set_fuel(self.fuel).expect("fuel is enabled");
            store.set_epoch_deadline(self.deadline_ticks);
        }
    }

    /// A fresh store and instance (armed with the limits: instantiation runs within them).
    pub async fn instantiate(&self) -> anyhow::Result<Instance> {
        let mut store = self.store();
        self.arm(&mut store);
        let bound = match &self.pre {
            Pre::Sync(pre) => Bound::Sync(pre.instantiate(&mut store)?),
            Pre::Async(pre) => Bound::Async(pre.instantiate_async(&mut store).await?),
        };
        Ok(Instance { store, bound })
    }

    /// One `notify` call with the one-ticket request on `instance` (re-armed first).
    pub async fn notify(&self, instance: &mut Instance) -> anyhow::Result<()> {
        self.arm(&mut instance.store);
        let answer = match &instance.bound {
            Bound::Sync(b) => b
                .robodev_notifications_channel()
                .call_notify(&mut instance.store, MESSAGE, Some(&ticket()))?
                .is_ok(),
            Bound::Async(b) => b
                .robodev_notifications_channel()
                .call_notify(&mut instance.store, MESSAGE, Some(&ticket()))
                .await?
                .is_ok(),
        };
        anyhow::ensure!(answer, "notify answered with a plugin error");
        Ok(())
    }

    /// A fresh store per call: instantiate, call `notify` once, drop.
    pub async fn notify_fresh(&self) -> anyhow::Result<()> {
        let mut instance = self.instantiate().await?;
        self.notify(&mut instance).await
    }
}
