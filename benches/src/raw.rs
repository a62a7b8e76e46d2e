//! The floor: plain wasmtime 48 calling a component through `bindgen!` typed exports, with no
//! robodev layer (no trait object, no conversions, no pool, span, counters or timer). The
//! side-by-side bench (`benches/peers.rs`) measures robodev against it with the same
//! component and the same request: a notifications component's `notify` with one ticket, a
//! ticketing component's 100-ticket poll, a review component's review of a 1 MiB diff
//! ([`World`]).
//!
//! Three set-ups ([`Mode`]), from the cheapest to what robodev itself runs:
//! - [`Mode::SyncUnlimited`]: a default engine, a synchronous call, no fuel, no epoch;
//! - [`Mode::SyncLimited`]: robodev's own engine (fuel, epoch interruption, pooling
//!   allocator), armed per call with the same fuel budget and epoch deadline, called
//!   synchronously (every import linked synchronously);
//! - [`Mode::AsyncLimited`]: the same engine and limits, every import linked
//!   asynchronously and the call made with `call_async` (on a fiber), as robodev calls.
//!
//! Only what the component's calls use is real: `robodev:host/log` (drops the line),
//! `robodev:host/config` (the floor's settings), `robodev:host/kv` when granted (an in-memory
//! map shared by the floor's stores, as robodev's kv is an in-memory map per plugin written
//! through to a file on change; denied otherwise, as robodev denies it) and WASI (the guest's
//! standard library). `secrets` denies every name.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

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

/// The ticketing and review worlds, sharing the notifications bindings' types and host
/// interfaces (one implementation of the host capabilities per calling style).
macro_rules! world_api {
    ($name:ident, $api:ident, $package:literal, $world:literal $(, $async:ident)?) => {
        mod $name {
            wasmtime::component::bindgen!({
                path: ["../wit/types", "../wit/host", $package],
                world: $world,
                $(imports: { default: $async }, exports: { default: $async },)?
                with: {
                    "robodev:types/types": super::sync_api::robodev::types::types,
                    "robodev:host/log": super::$api::robodev::host::log,
                    "robodev:host/config": super::$api::robodev::host::config,
                    "robodev:host/secrets": super::$api::robodev::host::secrets,
                    "robodev:host/kv": super::$api::robodev::host::kv,
                },
            });
        }
    };
}

world_api!(
    sync_ticketing,
    sync_api,
    "../wit/ticketing",
    "robodev:ticketing/plugin@1.0.0"
);
world_api!(
    async_ticketing,
    async_api,
    "../wit/ticketing",
    "robodev:ticketing/plugin@1.0.0",
    async
);
world_api!(
    sync_review,
    sync_api,
    "../wit/review",
    "robodev:review/plugin@1.0.0"
);
world_api!(
    async_review,
    async_api,
    "../wit/review",
    "robodev:review/plugin@1.0.0",
    async
);

/// A floor's kv store: one map shared by all its stores.
type Kv = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

/// The data of a floor store: WASI (no grants), `wasi:http` and their resource table, the
/// component's config and the floor's kv map.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    config: Arc<[(String, String)]>,
    kv: Option<Kv>,
}

impl State {
    fn new(config: Arc<[(String, String)]>, kv: Option<Kv>) -> State {
        State {
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            config,
            kv,
        }
    }

    /// The kv map, if the floor grants kv (robodev denies kv to a plugin not granted it).
    fn kv(&self) -> Option<std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>>> {
        let kv = self.kv.as_ref()?;
        Some(kv.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
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
/// `config` reads the floor's settings, `kv` the floor's map, `secrets` deny.
macro_rules! host_impls {
    ($api:ident $(, $async:ident)?) => {
        impl $api::robodev::host::log::Host for State {
            $($async)? fn log(&mut self, _: $api::robodev::host::log::Level, message: String) {
                std::hint::black_box(message);
            }
        }
        impl $api::robodev::host::config::Host for State {
            $($async)? fn get(&mut self, key: String) -> Option<String> {
                self.config.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
            }
            $($async)? fn get_all(&mut self) -> Vec<(String, String)> {
                self.config.to_vec()
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
            $($async)? fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, $api::robodev::host::kv::KvError> {
                let kv = self.kv().ok_or($api::robodev::host::kv::KvError::Denied)?;
                Ok(kv.get(&key).cloned())
            }
            $($async)? fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), $api::robodev::host::kv::KvError> {
                let mut kv = self.kv().ok_or($api::robodev::host::kv::KvError::Denied)?;
                kv.insert(key, value);
                Ok(())
            }
            $($async)? fn delete(&mut self, key: String) -> Result<(), $api::robodev::host::kv::KvError> {
                let mut kv = self.kv().ok_or($api::robodev::host::kv::KvError::Denied)?;
                kv.remove(&key);
                Ok(())
            }
            $($async)? fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, $api::robodev::host::kv::KvError> {
                let kv = self.kv().ok_or($api::robodev::host::kv::KvError::Denied)?;
                Ok(kv
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, _)| k.clone())
                    .collect())
            }
            $($async)? fn increment(&mut self, key: String, delta: i64) -> Result<i64, $api::robodev::host::kv::AtomicError> {
                let mut kv = self.kv().ok_or($api::robodev::host::kv::AtomicError::Denied)?;
                let now = match kv.get(&key) {
                    None => 0,
                    Some(v) => std::str::from_utf8(v)
                        .ok()
                        .and_then(|v| v.parse::<i64>().ok())
                        .ok_or_else(|| $api::robodev::host::kv::AtomicError::NotACounter(key.clone()))?,
                };
                let next = now
                    .checked_add(delta)
                    .ok_or_else(|| $api::robodev::host::kv::AtomicError::NotACounter(key.clone()))?;
                kv.insert(key, next.to_string().into_bytes());
                Ok(next)
            }
            $($async)? fn compare_and_swap(
                &mut self,
                key: String,
                old: Option<Vec<u8>>,
                new: Option<Vec<u8>>,
            ) -> Result<bool, $api::robodev::host::kv::AtomicError> {
                let mut kv = self.kv().ok_or($api::robodev::host::kv::AtomicError::Denied)?;
                if kv.get(&key) != old.as_ref() {
                    return Ok(false);
                }
                match new {
                    Some(v) => kv.insert(key, v),
                    None => kv.remove(&key),
                };
                Ok(true)
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

/// What a floor's component is and the call it is asked to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum World {
    /// A notifications component: `notify` with the one-ticket request.
    Notify,
    /// A ticketing component: `poll-ready-tickets(["robodev"], 100)`, which must return 100
    /// tickets.
    Poll,
    /// A review component: `review-diff` of this diff, which must answer a gate result.
    Review(Arc<str>),
}

/// The labels of the 100-ticket poll.
pub const POLL_LABEL: &str = "robodev";
/// Tickets the poll asks for (and must get).
pub const POLL_TICKETS: usize = 100;

enum Pre {
    Sync(sync_api::PluginPre<State>),
    Async(async_api::PluginPre<State>),
    SyncTicketing(sync_ticketing::PluginPre<State>),
    AsyncTicketing(async_ticketing::PluginPre<State>),
    SyncReview(sync_review::PluginPre<State>),
    AsyncReview(async_review::PluginPre<State>),
}

enum Bound {
    Sync(sync_api::Plugin),
    Async(async_api::Plugin),
    SyncTicketing(sync_ticketing::Plugin),
    AsyncTicketing(async_ticketing::Plugin),
    SyncReview(sync_review::Plugin),
    AsyncReview(async_review::Plugin),
}

/// One component ready to instantiate on the floor.
pub struct Floor {
    mode: Mode,
    world: World,
    engine: Engine,
    pre: Pre,
    fuel: u64,
    deadline_ticks: u64,
    config: Arc<[(String, String)]>,
    kv: Option<Kv>,
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
        Floor::of(
            World::Notify,
            mode,
            robodev_engine,
            path,
            fuel,
            deadline_ticks,
            &[],
            false,
        )
    }

    /// Like [`Floor::new`] for a component of `world`, whose `robodev:host/config` answers
    /// `config`, with kv granted (an in-memory map shared by the floor's stores) or denied.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call site per world in the bench"
    )]
    pub fn of(
        world: World,
        mode: Mode,
        robodev_engine: &Engine,
        path: &std::path::Path,
        fuel: u64,
        deadline_ticks: u64,
        config: &[(&str, &str)],
        kv: bool,
    ) -> anyhow::Result<Floor> {
        let engine = match mode {
            Mode::SyncUnlimited => Engine::new(&Config::new())?,
            Mode::SyncLimited | Mode::AsyncLimited => robodev_engine.clone(),
        };
        let component = Component::from_file(&engine, path)?;
        let mut linker = Linker::<State>::new(&engine);
        let sync = mode != Mode::AsyncLimited;
        if sync {
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
            wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
        } else {
            wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        }
        fn me(s: &mut State) -> &mut State {
            s
        }
        let pre = match (&world, sync) {
            (World::Notify, true) => {
                sync_api::Plugin::add_to_linker::<_, HasSelf<State>>(&mut linker, me)?;
                Pre::Sync(sync_api::PluginPre::new(
                    linker.instantiate_pre(&component)?,
                )?)
            }
            (World::Notify, false) => {
                async_api::Plugin::add_to_linker::<_, HasSelf<State>>(&mut linker, me)?;
                Pre::Async(async_api::PluginPre::new(
                    linker.instantiate_pre(&component)?,
                )?)
            }
            (World::Poll, true) => {
                sync_ticketing::Plugin::add_to_linker::<_, HasSelf<State>>(&mut linker, me)?;
                Pre::SyncTicketing(sync_ticketing::PluginPre::new(
                    linker.instantiate_pre(&component)?,
                )?)
            }
            (World::Poll, false) => {
                async_ticketing::Plugin::add_to_linker::<_, HasSelf<State>>(&mut linker, me)?;
                Pre::AsyncTicketing(async_ticketing::PluginPre::new(
                    linker.instantiate_pre(&component)?,
                )?)
            }
            (World::Review(_), true) => {
                sync_review::Plugin::add_to_linker::<_, HasSelf<State>>(&mut linker, me)?;
                Pre::SyncReview(sync_review::PluginPre::new(
                    linker.instantiate_pre(&component)?,
                )?)
            }
            (World::Review(_), false) => {
                async_review::Plugin::add_to_linker::<_, HasSelf<State>>(&mut linker, me)?;
                Pre::AsyncReview(async_review::PluginPre::new(
                    linker.instantiate_pre(&component)?,
                )?)
            }
        };
        Ok(Floor {
            mode,
            world,
            engine,
            pre,
            fuel,
            deadline_ticks,
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            kv: kv.then(Kv::default),
        })
    }

    /// Which floor this is.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn store(&self) -> Store<State> {
        Store::new(
            &self.engine,
            State::new(self.config.clone(), self.kv.clone()),
        )
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
            Pre::SyncTicketing(pre) => Bound::SyncTicketing(pre.instantiate(&mut store)?),
            Pre::AsyncTicketing(pre) => {
                Bound::AsyncTicketing(pre.instantiate_async(&mut store).await?)
            }
            Pre::SyncReview(pre) => Bound::SyncReview(pre.instantiate(&mut store)?),
            Pre::AsyncReview(pre) => Bound::AsyncReview(pre.instantiate_async(&mut store).await?),
        };
        Ok(Instance { store, bound })
    }

    /// One `notify` call with the one-ticket request on `instance` (re-armed first).
    pub async fn notify(&self, instance: &mut Instance) -> anyhow::Result<()> {
        self.call(instance).await
    }

    /// A fresh store per call: instantiate, call `notify` once, drop.
    pub async fn notify_fresh(&self) -> anyhow::Result<()> {
        self.call_fresh().await
    }

    /// The floor's call ([`World`]) on `instance` (re-armed first), its answer checked.
    pub async fn call(&self, instance: &mut Instance) -> anyhow::Result<()> {
        self.arm(&mut instance.store);
        let store = &mut instance.store;
        // The poll's labels are built in its arms only: a notify call allocates nothing more.
        let labels = || [POLL_LABEL.to_owned()];
        let max = POLL_TICKETS as i32;
        let diff = match &self.world {
            World::Review(diff) => &**diff,
            World::Notify | World::Poll => "",
        };
        let review = |gated: bool| {
            anyhow::ensure!(gated, "review-diff answered without a gate result");
            Ok(())
        };
        let tickets = |r: Result<Vec<_>, _>| {
            let n = r.map(|t| t.len()).unwrap_or(0);
            anyhow::ensure!(
                n == POLL_TICKETS,
                "poll answered {n} tickets, not {POLL_TICKETS}"
            );
            Ok(())
        };
        match &instance.bound {
            Bound::Sync(b) => {
                let r = b.robodev_notifications_channel().call_notify(
                    store,
                    MESSAGE,
                    Some(&ticket()),
                )?;
                anyhow::ensure!(r.is_ok(), "notify answered with a plugin error");
                Ok(())
            }
            Bound::Async(b) => {
                let r = b
                    .robodev_notifications_channel()
                    .call_notify(store, MESSAGE, Some(&ticket()))
                    .await?;
                anyhow::ensure!(r.is_ok(), "notify answered with a plugin error");
                Ok(())
            }
            Bound::SyncTicketing(b) => tickets(
                b.robodev_ticketing_backend()
                    .call_poll_ready_tickets(store, &labels(), max)?,
            ),
            Bound::AsyncTicketing(b) => tickets(
                b.robodev_ticketing_backend()
                    .call_poll_ready_tickets(store, &labels(), max)
                    .await?,
            ),
            Bound::SyncReview(b) => review(matches!(
                b.robodev_review_backend()
                    .call_review_diff(store, "bench", None, diff, "", "", None)?,
                Ok(o) if o.gate_result.is_some()
            )),
            Bound::AsyncReview(b) => review(matches!(
                b.robodev_review_backend()
                    .call_review_diff(store, "bench", None, diff, "", "", None)
                    .await?,
                Ok(o) if o.gate_result.is_some()
            )),
        }
    }

    /// A fresh store per call: instantiate, make the floor's call once, drop.
    pub async fn call_fresh(&self) -> anyhow::Result<()> {
        let mut instance = self.instantiate().await?;
        self.call(&mut instance).await
    }
}
