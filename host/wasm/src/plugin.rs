//! [`WasmPlugin`]: one loaded component with its `InstancePre`, limits and grants, and the
//! per-call store lifecycle: a fresh `Store` per call (or a warm one from the plugin's pool),
//! armed with the fuel budget and epoch deadline, limited in memory, tables and instances;
//! any trap or timeout drops the store, so a trapped store is never entered again.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

use robodev_core::{AnyBackend, Error, Failure, Interface, PluginInfo};
use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Store, StoreLimitsBuilder, Trap};

use crate::adapters::{self, Exports};
use crate::cache::LoadPath;
use crate::inspect::ComponentInfo;
use crate::kv::KvStore;
use crate::limits::Limits;
use crate::runtime::{EPOCH_TICK, Loaded, PluginOptions, RuntimeInner};
use crate::state::{PluginContext, StoreState};

/// A store with its instance, ready for calls.
pub(crate) struct Slot {
    pub(crate) store: Store<StoreState>,
    pub(crate) instance: Instance,
    /// The instance's typed exports, once loaded (kept with a warm slot so a warm call does
    /// not look up and type-check the exports again).
    pub(crate) guest: Option<adapters::Guests>,
}

/// Why a call did not produce a value, before classification.
pub(crate) enum RawFailure {
    /// wasmtime reported an error (a trap, a limit, a link problem).
    Wasm(wasmtime::Error),
    /// The wall-clock deadline elapsed while the guest waited on the host.
    Elapsed,
}

pub(crate) struct PluginInner {
    pub(crate) ctx: Arc<PluginContext>,
    runtime: Arc<RuntimeInner>,
    pre: InstancePre<StoreState>,
    /// Keeps the compiled component known to the runtime by its digest while the plugin
    /// lives, so that loading it again (another plugin, a reload) compiles nothing.
    _component: Arc<wasmtime::component::Component>,
    pub(crate) exports: Exports,
    pub(crate) limits: Limits,
    /// Idle warm stores and how many to keep.
    warm: Option<WarmPool>,
    pub(crate) plugin_info: PluginInfo,
    pub(crate) stats: Stats,
}

/// Failure labels counted per plugin, in the order of [`CallStats::failures`].
const FAILURE_LABELS: [&str; 9] = [
    "out_of_fuel",
    "deadline_exceeded",
    "memory_limit",
    "stack_overflow",
    "panicked",
    "trap",
    "invalid_output",
    "crashed",
    "transport",
];

/// A plugin's idle warm stores (boxed: a call moves its slot several times, a pointer is cheap
/// to move): one cell per warm instance, each with its own lock on cache lines of its own.
///
/// A caller takes and returns a store starting from its thread's own cell ([`home`]), so two
/// callers on two cores each keep reusing the store whose memory is already in their core's
/// cache. With one shared list the two callers swapped stores on almost every call, and every
/// call began by pulling the store's linear memory, instance and host state across from the
/// other core: two callers of one plugin made 1.2× the calls of one (issue 15).
struct WarmPool<T = Box<Slot>> {
    cells: Box<[WarmCell<T>]>,
}

#[repr(align(128))]
struct WarmCell<T>(Mutex<Option<T>>);

impl<T> WarmPool<T> {
    fn new(instances: usize) -> WarmPool<T> {
        WarmPool {
            cells: (0..instances).map(|_| WarmCell(Mutex::new(None))).collect(),
        }
    }

    /// The cells in the order this thread tries them: its own first.
    fn cells(&self) -> impl Iterator<Item = &Mutex<Option<T>>> {
        let start = home() % self.cells.len();
        let (after, before) = self.cells.split_at(start);
        before.iter().chain(after).map(|c| &c.0)
    }

    /// An idle store, if one is. A cell another caller holds at this instant is skipped.
    fn take(&self) -> Option<T> {
        self.cells()
            .find_map(|cell| try_lock(cell).and_then(|mut idle| idle.take()))
    }

    /// Keeps `slot` for a later call if a cell is free; drops it otherwise.
    fn keep(&self, slot: T) {
        if let Some(mut free) = self
            .cells()
            .filter_map(try_lock)
            .find(|cell| cell.is_none())
        {
            *free = Some(slot);
        }
    }
}

/// The cell's lock if no other caller holds it (a poisoned cell holds a store or nothing,
/// both fine to use: a store is put back only after a call succeeded).
fn try_lock<T>(cell: &Mutex<T>) -> Option<std::sync::MutexGuard<'_, T>> {
    match cell.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// A small number of this thread's own, the same for the thread's life: which warm cell it
/// tries first and which counter shard it adds to. Threads are numbered as they first call.
fn home() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    HOME.with(|h| *h)
}

/// Lock-free call counters of one plugin. The ones every call adds to are kept in a shard per
/// thread (by [`home`]), each on cache lines of its own: two callers on two cores adding to
/// one counter would move its line back and forth on every call. A snapshot sums the shards.
#[derive(Default)]
pub(crate) struct Stats {
    shards: [Shard; SHARDS],
    domain_errors: AtomicU64,
    failures: [AtomicU64; FAILURE_LABELS.len()],
    memory_high_water: AtomicU64,
}

/// Counter shards per plugin: calls from more threads than this share shards.
const SHARDS: usize = 4;

#[derive(Default)]
#[repr(align(128))]
struct Shard {
    calls: AtomicU64,
    fuel_consumed: AtomicU64,
}

impl Stats {
    fn shard(&self) -> &Shard {
        &self.shards[home() % SHARDS]
    }

    fn sum(&self, counter: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards
            .iter()
            .map(|s| counter(s).load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    pub(crate) fn call(&self) {
        self.shard().calls.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn domain_error(&self) {
        self.domain_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failure(&self, failure: &Failure) {
        if let Some(i) = FAILURE_LABELS.iter().position(|l| *l == failure.label()) {
            self.failures[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds the fuel a store used since it was armed with `budget`. Every call arms its store
    /// with the full budget (a warm one too), so the fuel left says what this call used.
    fn fuel(&self, store: &Store<StoreState>, budget: u64) {
        // Fuel is enabled on the engine, so get_fuel cannot fail; 0 is counted if it did.
        let left = store.get_fuel().unwrap_or(budget);
        self.shard()
            .fuel_consumed
            .fetch_add(budget.saturating_sub(left), Ordering::Relaxed);
        // Every call ends here (success or failure), so this also keeps the memory peak.
        // Written only when it rises: concurrent calls then only read its cache line.
        let peak = u64::try_from(store.data().limits.peak_memory_bytes).unwrap_or(u64::MAX);
        if peak > self.memory_high_water.load(Ordering::Relaxed) {
            self.memory_high_water.fetch_max(peak, Ordering::Relaxed);
        }
    }
}

/// A snapshot of a plugin's call counters, for metrics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallStats {
    /// Calls started (including the load-time handshake).
    pub calls: u64,
    /// Calls that ended in a domain error.
    pub domain_errors: u64,
    /// Failures by kind ([`Failure::label`]), only kinds that occurred.
    pub failures: Vec<(&'static str, u64)>,
    /// Fuel used by every call so far, instantiation included (a fresh store instantiates
    /// within the call's budget); a call that ran out of fuel counts its whole budget.
    pub fuel_consumed: u64,
    /// The largest linear memory any call's store grew to, in bytes (the memory high-water
    /// mark; a warm store's memory counts with the calls it served).
    pub memory_high_water_bytes: u64,
}

/// A loaded Wasm component plugin. Cheap to clone.
#[derive(Clone)]
pub struct WasmPlugin {
    pub(crate) inner: Arc<PluginInner>,
    info: Arc<ComponentInfo>,
    digest: Arc<str>,
    size: u64,
    load_path: LoadPath,
    load_time: Duration,
}

impl std::fmt::Debug for WasmPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPlugin")
            .field("name", &self.name())
            .field("interface", &self.interface())
            .field("digest", &self.digest)
            .finish()
    }
}

impl WasmPlugin {
    pub(crate) async fn new(
        runtime: Arc<RuntimeInner>,
        loaded: Loaded,
        options: PluginOptions,
    ) -> Result<WasmPlugin, Error> {
        let interface = loaded.info.interface;
        let name: Arc<str> = options.name.as_str().into();
        let refused = |detail: String| Error::Refused {
            plugin: options.name.clone(),
            refusal: robodev_core::Refusal::Invalid { detail },
        };
        let pre = runtime
            .linker
            .instantiate_pre(&loaded.component)
            .map_err(|e| Error::Refused {
                plugin: options.name.clone(),
                refusal: robodev_core::Refusal::UnsupportedImport {
                    import: first_quoted(&format!("{e:#}")).unwrap_or_else(|| "?".into()),
                    detail: format!("{e:#}"),
                },
            })?;
        let exports = Exports::new(interface, loaded.info.interface_version, &pre)
            .map_err(|e| refused(format!("{e:#}")))?;
        let kv = match &options.grants.kv_dir {
            Some(dir) => Some(KvStore::open(dir, &options.name).map_err(|e| Error::Load {
                plugin: options.name.clone(),
                message: format!("key-value store: {e}"),
                source: None,
            })?),
            None => None,
        };
        let ctx = Arc::new(PluginContext {
            name,
            interface,
            allowed_hosts: options.grants.allowed_hosts.clone().into(),
            grants: options.grants,
            kv,
        });
        let mut inner = PluginInner {
            ctx,
            runtime,
            pre,
            _component: loaded.component.clone(),
            exports,
            limits: options.limits,
            warm: (options.warm_instances > 0).then(|| WarmPool::new(options.warm_instances)),
            plugin_info: PluginInfo::default(),
            stats: Stats::default(),
        };
        inner.plugin_info = adapters::handshake(&inner).await?;
        Ok(WasmPlugin {
            inner: Arc::new(inner),
            info: Arc::new(loaded.info),
            digest: loaded.digest.into(),
            size: loaded.size,
            load_path: loaded.load_path,
            load_time: loaded.load_time,
        })
    }

    /// The plugin's configured name.
    pub fn name(&self) -> &str {
        &self.inner.ctx.name
    }

    /// The interface it implements.
    pub fn interface(&self) -> Interface {
        self.inner.ctx.interface
    }

    /// What its handshake returned.
    pub fn plugin_info(&self) -> &PluginInfo {
        &self.inner.plugin_info
    }

    /// What its type says (exports, imports, capabilities).
    pub fn component_info(&self) -> &ComponentInfo {
        &self.info
    }

    /// The component's digest, `sha256:<hex>`.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether it was compiled or loaded from the cache, and how long that took.
    pub fn load_path(&self) -> (LoadPath, Duration) {
        (self.load_path, self.load_time)
    }

    /// Its call counters.
    pub fn stats(&self) -> CallStats {
        let s = &self.inner.stats;
        CallStats {
            calls: s.sum(|s| &s.calls),
            domain_errors: s.domain_errors.load(Ordering::Relaxed),
            failures: FAILURE_LABELS
                .iter()
                .zip(&s.failures)
                .map(|(l, n)| (*l, n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            fuel_consumed: s.sum(|s| &s.fuel_consumed),
            memory_high_water_bytes: s.memory_high_water.load(Ordering::Relaxed),
        }
    }

    /// Its limits.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// Instantiates the component in a fresh store and drops it: a liveness probe that runs
    /// the guest's start-up code under its limits (benches use it to time instantiation).
    pub async fn probe(&self) -> Result<(), Error> {
        let slot = self.inner.instantiate().await?;
        drop(slot);
        Ok(())
    }

    /// The plugin as a backend of its interface.
    pub fn backend(&self) -> AnyBackend {
        adapters::backend(self.inner.clone())
    }
}

/// The first `quoted` name in a wasmtime link error, which names the missing import.
fn first_quoted(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

impl PluginInner {
    /// The span of one call: interface, plugin, runtime, version, method.
    pub(crate) fn span(&self, method: &'static str) -> tracing::Span {
        tracing::debug_span!(
            "plugin_call",
            interface = self.ctx.interface.name(),
            plugin = &*self.ctx.name,
            runtime = "wasm",
            version = %self.plugin_info.version,
            method,
        )
    }

    fn deadline_ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_nanos().max(1);
        (self.limits.timeout.as_nanos().div_ceil(tick)) as u64
    }

    fn arm(&self, store: &mut Store<StoreState>) {
        // Fuel is enabled on the engine, so set_fuel cannot fail.
        let _ = store.set_fuel(self.limits.fuel);
        store.set_epoch_deadline(self.deadline_ticks());
        store.epoch_deadline_trap();
    }

    fn new_store(&self) -> Result<Store<StoreState>, Error> {
        let mb = |b: u64| usize::try_from(b).unwrap_or(usize::MAX);
        let limits = StoreLimitsBuilder::new()
            .memory_size(mb(self.limits.memory_bytes))
            .table_elements(self.limits.table_elements)
            .instances(self.limits.instances)
            .memories(self.limits.instances)
            .tables(self.limits.instances)
            .trap_on_grow_failure(true)
            .build();
        let state = StoreState::new(self.ctx.clone(), limits).map_err(|message| Error::Host {
            plugin: self.ctx.name.to_string(),
            interface: self.ctx.interface,
            message,
            source: None,
        })?;
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|s| &mut s.limits);
        Ok(store)
    }

    /// A warm store from the pool, armed for one call, if the plugin keeps warm instances and
    /// one is idle.
    pub(crate) fn warm_slot(&self) -> Option<Box<Slot>> {
        let mut slot = self.warm.as_ref()?.take()?;
        self.arm(&mut slot.store);
        Some(slot)
    }

    /// A fresh store and instance, armed for one call (instantiation runs within its limits).
    pub(crate) async fn instantiate(&self) -> Result<Box<Slot>, Error> {
        let mut store = self.new_store()?;
        self.arm(&mut store);
        let instantiated = {
            let instantiating = std::pin::pin!(self.pre.instantiate_async(&mut store));
            self.deadline(instantiating, self.span("instantiate")).await
        };
        match instantiated {
            Ok(instance) => Ok(Box::new(Slot {
                store,
                instance,
                guest: None,
            })),
            Err(raw) => Err(self.fail(&mut store, raw)),
        }
    }

    /// Runs `fut` under the call's wall-clock deadline, inside the span `span` when it is
    /// enabled. The epoch deadline normally fires first (it interrupts running guest code);
    /// the timer catches guests waiting on the host. The timer is set only when `fut` first
    /// waits (most calls never do), for what is left of the deadline then: the runtime's tick
    /// count says how long the call has run. `fut` is pinned by the caller, where it was made:
    /// a call's future is large (it holds wasmtime's), and every move of it is a copy.
    pub(crate) async fn deadline<T, F>(
        &self,
        mut fut: std::pin::Pin<&mut F>,
        span: tracing::Span,
    ) -> Result<T, RawFailure>
    where
        F: Future<Output = wasmtime::Result<T>>,
    {
        use std::task::Poll;
        let ticks = &self.runtime.ticks;
        let started = ticks.load(Ordering::Relaxed);
        let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        std::future::poll_fn(|cx| {
            let _entered = (!span.is_disabled()).then(|| span.enter());
            if let Poll::Ready(result) = fut.as_mut().poll(cx) {
                return Poll::Ready(result.map_err(RawFailure::Wasm));
            }
            let timer = timer.get_or_insert_with(|| {
                let ran = ticks.load(Ordering::Relaxed).saturating_sub(started);
                let ran = EPOCH_TICK.saturating_mul(u32::try_from(ran).unwrap_or(u32::MAX));
                let left = (self.limits.timeout + 2 * EPOCH_TICK).saturating_sub(ran);
                Box::pin(tokio::time::sleep(left))
            });
            match timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(RawFailure::Elapsed)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Ends a call: forwards the guest's output to tracing, returns a healthy warm store to
    /// the pool, drops a failed one, and classifies the failure.
    pub(crate) fn finish<T>(
        &self,
        mut slot: Box<Slot>,
        result: Result<T, RawFailure>,
    ) -> Result<T, Error> {
        match result {
            Ok(v) => {
                self.stats.fuel(&slot.store, self.limits.fuel);
                self.forward_stdio(&slot.store);
                if let Some(pool) = &self.warm {
                    pool.keep(slot);
                }
                Ok(v)
            }
            Err(raw) => Err(self.fail(&mut slot.store, raw)),
        }
    }

    fn forward_stdio(&self, store: &Store<StoreState>) -> String {
        let plugin = &*self.ctx.name;
        let out = store.data().stdout.take();
        let err = store.data().stderr.take();
        for line in String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| !l.is_empty())
        {
            tracing::debug!(plugin, stream = "stdout", "{line}");
        }
        let err = String::from_utf8_lossy(&err).into_owned();
        for line in err.lines().filter(|l| !l.is_empty()) {
            tracing::info!(plugin, stream = "stderr", "{line}");
        }
        err
    }

    /// Classifies a failure into the typed [`Failure`] and counts it.
    pub(crate) fn fail(&self, store: &mut Store<StoreState>, raw: RawFailure) -> Error {
        self.stats.fuel(store, self.limits.fuel);
        let stderr = self.forward_stdio(store);
        let failure = match raw {
            RawFailure::Elapsed => Failure::DeadlineExceeded {
                limit: self.limits.timeout,
            },
            RawFailure::Wasm(e) => self.classify(&e, &stderr, store.data().limits.denied),
        };
        self.stats.failure(&failure);
        // The caller gets the typed error; this record is for tracing the call path.
        tracing::debug!(
            plugin = &*self.ctx.name,
            interface = self.ctx.interface.name(),
            kind = failure.label(),
            "plugin call failed: {failure}"
        );
        Error::Failed {
            plugin: self.ctx.name.to_string(),
            interface: self.ctx.interface,
            failure,
        }
    }

    fn classify(&self, e: &wasmtime::Error, stderr: &str, limiter_denied: bool) -> Failure {
        // The limiter refused a growth: whatever the error says, the memory cap was hit.
        if limiter_denied {
            return Failure::MemoryLimit {
                limit_bytes: self.limits.memory_bytes,
            };
        }
        let debug = format!("{e:?}");
        if let Some(trap) = e.downcast_ref::<Trap>() {
            return match trap {
                Trap::OutOfFuel => Failure::OutOfFuel {
                    budget: self.limits.fuel,
                },
                Trap::Interrupt => Failure::DeadlineExceeded {
                    limit: self.limits.timeout,
                },
                Trap::StackOverflow => Failure::StackOverflow,
                Trap::UnreachableCodeReached => Failure::Panicked {
                    detail: panic_detail(stderr, &debug),
                },
                other => Failure::Trap {
                    detail: format!("{other}: {}", first_line(&debug)),
                    source: Some(robodev_core::Cause::new(*other)),
                },
            };
        }
        // The pooling allocator refuses a memory whose declared minimum exceeds its slot
        // before the store's limiter is asked: that has no typed error to match.
        if debug.contains("memory minimum size") || debug.contains("exceeds memory limits") {
            return Failure::MemoryLimit {
                limit_bytes: self.limits.memory_bytes,
            };
        }
        Failure::Trap {
            detail: format!("{e:#}"),
            source: None,
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// A guest panic's own message (from its stderr) if it printed one, else the trap.
fn panic_detail(stderr: &str, debug: &str) -> String {
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("note: run with `RUST_BACKTRACE"))
        .collect();
    if said.is_empty() {
        format!("unreachable instruction executed ({})", first_line(debug))
    } else {
        said.join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_pool_keeps_at_most_its_size_and_hands_each_back_once() {
        let pool = WarmPool::new(2);
        assert_eq!(pool.take(), None::<u32>, "a new pool is empty");
        pool.keep(1);
        pool.keep(2);
        pool.keep(3); // no free cell: dropped
        let mut got = vec![pool.take(), pool.take(), pool.take()];
        got.sort();
        assert_eq!(got, vec![None, Some(1), Some(2)]);
    }

    #[test]
    fn warm_pool_hands_a_thread_back_the_store_it_kept_first() {
        // The first store a thread keeps goes to its own cell, the second to another; the
        // thread gets its own cell's back first, whatever the other cells hold.
        let pool = WarmPool::new(3);
        pool.keep("own");
        pool.keep("other");
        assert_eq!(pool.take(), Some("own"));
        assert_eq!(pool.take(), Some("other"));
        assert_eq!(pool.take(), None);
    }

    #[test]
    fn warm_pool_skips_a_cell_another_caller_holds() {
        let pool = WarmPool::new(2);
        pool.keep(7);
        pool.keep(8);
        let held = pool
            .cells
            .iter()
            .position(|c| *c.0.lock().unwrap() == Some(7))
            .unwrap();
        let _guard = pool.cells[held].0.lock().unwrap();
        assert_eq!(
            pool.take(),
            Some(8),
            "the held cell is skipped, not waited for"
        );
        assert_eq!(pool.take(), None);
    }

    #[test]
    fn call_counters_sum_the_shards_of_every_thread() {
        let stats = Stats::default();
        std::thread::scope(|s| {
            for _ in 0..(SHARDS + 3) {
                s.spawn(|| (0..1000).for_each(|_| stats.call()));
            }
        });
        assert_eq!(stats.sum(|s| &s.calls), (SHARDS as u64 + 3) * 1000);
    }
}
