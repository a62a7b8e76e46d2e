//! [`Runtime`]: the one shared wasmtime `Engine` (component model, async, fuel, epoch
//! interruption, pooling allocator where the address space allows), the `Linker` with the whole
//! WASI 0.2 surface and the robodev host capabilities, the epoch ticker and the compile cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use robodev_core::{Error, Interface, Refusal};
use sha2::Digest;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache::{CompileCache, LoadPath};
use crate::grants::Grants;
use crate::inspect::{self, ComponentInfo};
use crate::limits::Limits;
use crate::plugin::WasmPlugin;
use crate::state::StoreState;
use crate::typecheck;

/// How often the epoch advances: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);
/// Plugin instances the pooling allocator reserves slots for (each live Store holds one).
pub const POOL_INSTANCES: u32 = 256;
/// Largest linear memory any plugin may be granted when the pooling allocator is in use.
pub const POOL_MAX_MEMORY_BYTES: usize = 4 << 30;
/// Bytes of each pooled linear memory kept mapped between instances (dirty pages are reset
/// in place); a tenth of that for tables and async stacks.
pub const POOL_KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// How the runtime allocates instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Allocation {
    /// Use the pooling allocator; fall back to on-demand allocation if the machine's address
    /// space cannot hold the pool.
    #[default]
    Auto,
    /// Always allocate on demand.
    OnDemand,
}

/// Settings of a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Where precompiled components are cached; `None` compiles every load.
    pub cache_dir: Option<PathBuf>,
    /// The compile cache's size cap, bytes (`None`:
    /// [`DEFAULT_COMPILE_CACHE_BYTES`](crate::DEFAULT_COMPILE_CACHE_BYTES)); the least recently
    /// used entries are removed past it.
    pub cache_max_bytes: Option<u64>,
    /// Instance allocation strategy.
    pub allocation: Allocation,
}

/// The largest component file read by default (a component's custom sections are read into
/// memory whole: a 500 MB one would cost more than 500 MB). Large real components (Python via
/// componentize-py) are about 20-40 MB. A plugin's `limits.component_mb` raises or lowers it.
pub const DEFAULT_MAX_COMPONENT_BYTES: u64 = 256 * 1024 * 1024;

/// Reads the component file at `path`, refusing one larger than `limit` bytes before reading
/// it ([`Refusal::TooLarge`]); `plugin` names it in errors.
pub async fn read_component(plugin: &str, path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    use tokio::io::AsyncReadExt;
    let load = |message: String| Error::Load {
        plugin: plugin.to_owned(),
        message,
        source: None,
    };
    let too_large = |size: u64| Error::Refused {
        plugin: plugin.to_owned(),
        refusal: Refusal::TooLarge { size, limit },
    };
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| load(format!("cannot read {}: {e}", path.display())))?;
    let size = file
        .metadata()
        .await
        .map_err(|e| load(format!("cannot read {}: {e}", path.display())))?
        .len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // The file may grow while it is read: never read past the limit.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| load(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Per-plugin settings for [`Runtime::load`].
#[derive(Debug, Clone, Default)]
pub struct PluginOptions {
    /// The largest component file accepted; `None` is [`DEFAULT_MAX_COMPONENT_BYTES`].
    pub max_component_bytes: Option<u64>,
    /// The plugin's name (errors, logs, metrics and the kv file carry it).
    pub name: String,
    /// The interface the plugin must implement (from config); `None` accepts any.
    pub expected: Option<Interface>,
    /// Per-call limits.
    pub limits: Limits,
    /// Granted capabilities.
    pub grants: Grants,
    /// Keep up to this many instantiated stores between calls (0: a fresh store per call).
    /// A store that trapped or timed out is always dropped.
    pub warm_instances: usize,
}

/// A turn to load a component ([`Runtime::load_turn`]); the next load may start when it is
/// dropped.
pub struct LoadTurn<'a>(
    #[allow(dead_code, reason = "held, not read")] Option<tokio::sync::SemaphorePermit<'a>>,
);

impl std::fmt::Debug for LoadTurn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoadTurn")
    }
}

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<StoreState>,
    cache: Option<CompileCache>,
    pooling: bool,
    /// Compiles in progress, by component digest: plugins loading the same component at the
    /// same time (a config naming it under 100 names) wait for one compile instead of making
    /// 100. An entry lives only while its compile runs.
    compiling: std::sync::Mutex<std::collections::HashMap<String, Arc<Compile>>>,
    /// Compiled components by digest, while any plugin (or [`Loaded`]) holds them: loading a
    /// component whose digest is here compiles nothing and reads no cache.
    compiled: std::sync::Mutex<std::collections::HashMap<String, std::sync::Weak<Component>>>,
    /// Epoch ticks since the runtime started ([`EPOCH_TICK`] each), counted by the ticker
    /// beside the engine's epoch: a call reads it to know how long it has run without asking
    /// the clock.
    pub(crate) ticks: Arc<std::sync::atomic::AtomicU64>,
    /// Turns for loads ([`LoadTurn`]), [`LOADS_PER_CORE`] per core.
    load_turns: tokio::sync::Semaphore,
}

/// Loads running at once per core: more than one, so that one load's reading and hand-offs
/// between threads overlap another's hashing and compiling.
const LOADS_PER_CORE: usize = 4;

/// One compile that several loads may wait for.
type Compile = tokio::sync::OnceCell<Result<(Arc<Component>, LoadPath), Refusal>>;

/// The Wasm component runtime. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

/// A component loaded and checked, ready to instantiate.
pub struct Loaded {
    /// The component (shared with every plugin loaded from the same digest).
    pub(crate) component: Arc<Component>,
    /// What its type says.
    pub info: ComponentInfo,
    /// Its sha256 digest, `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes of the component file.
    pub size: u64,
    /// How it was made ready.
    pub load_path: LoadPath,
    /// How long that took.
    pub load_time: Duration,
}

fn engine_config(pooling: bool) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 8)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 8)
            .total_stacks(POOL_INSTANCES)
            .max_core_instances_per_component(64)
            .max_memories_per_component(16)
            .max_tables_per_component(64)
            .max_memory_size(POOL_MAX_MEMORY_BYTES)
            // Reset only the pages a call dirtied (PAGEMAP_SCAN, Linux 6.7+) with memset and
            // keep them mapped, instead of madvise + a page fault per page on the next
            // instantiation: the largest single cost of a fresh store per call.
            .pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(POOL_KEEP_RESIDENT_BYTES)
            .table_keep_resident(POOL_KEEP_RESIDENT_BYTES / 16)
            .async_stack_keep_resident(POOL_KEEP_RESIDENT_BYTES / 16);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

fn start_ticker(engine: &Engine, counted: Arc<std::sync::atomic::AtomicU64>) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("robodev-epoch".into())
        .spawn(move || {
            // Tick on an absolute schedule: `sleep` overshoots by tens of microseconds, and
            // a relative sleep would let a 100 ms deadline stretch to 110 ms and more. A late
            // tick is followed at once by the next one, so the epoch tracks wall time.
            let mut start = Instant::now();
            let mut ticks: u32 = 0;
            loop {
                ticks += 1;
                let due = start + EPOCH_TICK * ticks;
                if ticks == 1_000_000 {
                    // Re-anchor the schedule now and then so the tick count never overflows.
                    (start, ticks) = (due, 0);
                }
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                match weak.upgrade() {
                    Some(engine) => {
                        engine.increment_epoch();
                        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    None => break,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the epoch ticker; deadlines will not hold: {e}");
    }
}

impl Runtime {
    /// A runtime with these settings.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, Error> {
        let load_err = |message: String| Error::Load {
            plugin: "(runtime)".to_owned(),
            message,
            source: None,
        };
        let (engine, pooling) = match config.allocation {
            Allocation::Auto => match Engine::new(&engine_config(true)) {
                Ok(e) => (e, true),
                Err(e) => {
                    tracing::warn!("pooling allocator unavailable ({e:#}); allocating on demand");
                    let e = Engine::new(&engine_config(false))
                        .map_err(|e| load_err(format!("cannot create the engine: {e:#}")))?;
                    (e, false)
                }
            },
            Allocation::OnDemand => (
                Engine::new(&engine_config(false))
                    .map_err(|e| load_err(format!("cannot create the engine: {e:#}")))?,
                false,
            ),
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .and_then(|()| crate::capability::add_to_linker(&mut linker))
            .map_err(|e| load_err(format!("cannot link host functions: {e:#}")))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let ticks = Arc::new(std::sync::atomic::AtomicU64::new(0));
        start_ticker(&engine, ticks.clone());
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                cache: config.cache_dir.map(|dir| {
                    CompileCache::new(dir).with_max_bytes(
                        config
                            .cache_max_bytes
                            .unwrap_or(crate::cache::DEFAULT_COMPILE_CACHE_BYTES),
                    )
                }),
                pooling,
                compiling: Default::default(),
                compiled: Default::default(),
                ticks,
                load_turns: tokio::sync::Semaphore::new(cores * LOADS_PER_CORE),
            }),
        })
    }

    /// Whether the pooling allocator is in use.
    pub fn pooling(&self) -> bool {
        self.inner.pooling
    }

    /// The compile cache, if configured.
    pub fn cache(&self) -> Option<&CompileCache> {
        self.inner.cache.as_ref()
    }

    /// The engine (for benches and tools).
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Reads (up to [`DEFAULT_MAX_COMPONENT_BYTES`]), checks and compiles (or loads from
    /// cache) the component file at `path`; nothing of it runs. `plugin` names it in errors.
    pub async fn load_file(&self, plugin: &str, path: &Path) -> Result<Loaded, Error> {
        self.load_file_limited(plugin, path, DEFAULT_MAX_COMPONENT_BYTES)
            .await
    }

    /// [`Runtime::load_file`] with a size limit of `limit` bytes.
    pub async fn load_file_limited(
        &self,
        plugin: &str,
        path: &Path,
        limit: u64,
    ) -> Result<Loaded, Error> {
        let turn = self.load_turn().await;
        let bytes = read_component(plugin, path, limit).await?;
        self.load_bytes_in_turn(&turn, plugin, bytes).await
    }

    /// Like [`Runtime::load_file`] for bytes in memory.
    pub async fn load_bytes(&self, plugin: &str, bytes: Vec<u8>) -> Result<Loaded, Error> {
        let turn = self.load_turn().await;
        self.load_bytes_in_turn(&turn, plugin, bytes).await
    }

    /// Waits for a turn to load a component: four loads run at once per core, each from
    /// reading the component to its compile (or cache read); the handshake comes after the turn. A caller that reads the component itself takes the
    /// turn first, then reads, then calls [`Runtime::load_bytes_in_turn`]. 1,000 plugins
    /// loading at once would otherwise read all 1,000 components into memory before the first
    /// compile ends, on up to 512 blocking threads, for no more speed on the same cores (issue
    /// 15: 237 MB of anonymous memory left after 1,000 concurrent loads, 114 MB with turns).
    pub async fn load_turn(&self) -> LoadTurn<'_> {
        // The semaphore is never closed; were it closed, loads would go on without turns.
        LoadTurn(self.inner.load_turns.acquire().await.ok())
    }

    /// [`Runtime::load_bytes`] for a caller that holds a turn ([`Runtime::load_turn`]).
    pub async fn load_bytes_in_turn(
        &self,
        _turn: &LoadTurn<'_>,
        plugin: &str,
        bytes: Vec<u8>,
    ) -> Result<Loaded, Error> {
        let refused = |refusal: Refusal| Error::Refused {
            plugin: plugin.to_owned(),
            refusal,
        };
        inspect::check_header(&bytes).map_err(refused)?;
        let started = Instant::now();
        let size = bytes.len() as u64;
        let task_failed = |e: tokio::task::JoinError| Error::Load {
            plugin: plugin.to_owned(),
            message: format!("compiler task failed: {e}"),
            source: None,
        };
        // Hashing and compiling are CPU-bound: keep them off the async runtime's threads.
        let bytes = Arc::new(bytes);
        let hashed = bytes.clone();
        let digest_hex =
            tokio::task::spawn_blocking(move || hex::encode(sha2::Sha256::digest(&*hashed)))
                .await
                .map_err(task_failed)?;
        let (component, load_path) = match self.inner.already_compiled(&digest_hex) {
            Some(component) => (component, LoadPath::Shared),
            None => self.compile_once(plugin, &digest_hex, bytes).await?,
        };
        let ty = component.component_type();
        let engine = &self.inner.engine;
        let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
        let (interface, interface_version, export) =
            inspect::identify(&exports).map_err(refused)?;
        inspect::check_imports(&imports).map_err(refused)?;
        typecheck::check(engine, &ty, &export, interface, interface_version).map_err(refused)?;
        Ok(Loaded {
            component,
            info: ComponentInfo {
                interface,
                interface_version,
                export,
                capabilities: inspect::capabilities(&imports),
                imports,
                exports,
            },
            digest: format!("sha256:{digest_hex}"),
            size,
            load_path,
            load_time: started.elapsed(),
        })
    }

    /// Compiles (or loads from the cache) the component `bytes` of digest `digest_hex`: once,
    /// however many loads of the same digest run at the same time; each of them gets the one
    /// result. Remembers it for later loads of the same digest while any plugin uses it.
    async fn compile_once(
        &self,
        plugin: &str,
        digest_hex: &str,
        bytes: Arc<Vec<u8>>,
    ) -> Result<(Arc<Component>, LoadPath), Error> {
        let (compile, first) = {
            let mut compiling = self
                .inner
                .compiling
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match compiling.get(digest_hex) {
                Some(running) => (running.clone(), false),
                None => {
                    let compile = Arc::new(Compile::new());
                    compiling.insert(digest_hex.to_owned(), compile.clone());
                    (compile, true)
                }
            }
        };
        // The entry goes when this load ends, however it ends (a dropped load included).
        let _unregister = first.then(|| Unregister {
            inner: &self.inner,
            key: digest_hex.to_owned(),
        });
        let inner = self.inner.clone();
        let name = plugin.to_owned();
        let key = digest_hex.to_owned();
        let compiled = compile
            .get_or_try_init(|| {
                tokio::task::spawn_blocking(move || {
                    let (component, path) = compile_or_load(&inner, &name, &key, &bytes)?;
                    let component = Arc::new(component);
                    inner.remember(&key, &component);
                    Ok((component, path))
                })
            })
            .await;
        let (component, load_path) = compiled
            .map_err(|e| Error::Load {
                plugin: plugin.to_owned(),
                message: format!("compiler task failed: {e}"),
                source: None,
            })?
            .clone()
            .map_err(|refusal| Error::Refused {
                plugin: plugin.to_owned(),
                refusal,
            })?;
        Ok((component, if first { load_path } else { LoadPath::Shared }))
    }

    /// Loads the component at `path` as a plugin: checks it, links it (refusing imports the
    /// host cannot satisfy), and calls its `handshake` once under the plugin's limits.
    pub async fn load(&self, path: &Path, options: PluginOptions) -> Result<WasmPlugin, Error> {
        let limit = options
            .max_component_bytes
            .unwrap_or(DEFAULT_MAX_COMPONENT_BYTES);
        let loaded = self.load_file_limited(&options.name, path, limit).await?;
        self.instantiate(loaded, options).await
    }

    /// Turns a loaded component into a plugin (see [`Runtime::load`]).
    pub async fn instantiate(
        &self,
        loaded: Loaded,
        options: PluginOptions,
    ) -> Result<WasmPlugin, Error> {
        if let Some(expected) = options.expected
            && expected != loaded.info.interface
        {
            return Err(Error::Refused {
                plugin: options.name,
                refusal: Refusal::WrongInterface {
                    expected,
                    found: loaded.info.interface,
                },
            });
        }
        WasmPlugin::new(self.inner.clone(), loaded, options).await
    }
}

impl RuntimeInner {
    /// The compiled component of `digest_hex`, if a plugin still holds it.
    fn already_compiled(&self, digest_hex: &str) -> Option<Arc<Component>> {
        let compiled = self
            .compiled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        compiled.get(digest_hex)?.upgrade()
    }

    /// Remembers `component` as the compile of `digest_hex` (and forgets those no plugin
    /// holds any more).
    fn remember(&self, digest_hex: &str, component: &Arc<Component>) {
        let mut compiled = self
            .compiled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        compiled.retain(|_, c| c.strong_count() > 0);
        compiled.insert(digest_hex.to_owned(), Arc::downgrade(component));
    }
}

/// Loads `bytes` (digest `digest_hex`) from the compile cache, or compiles them with Cranelift
/// and stores the result there. Runs on a blocking thread.
fn compile_or_load(
    inner: &RuntimeInner,
    plugin: &str,
    digest_hex: &str,
    bytes: &[u8],
) -> Result<(Component, LoadPath), Refusal> {
    let mut load_path = LoadPath::Compiled;
    if let Some(cache) = &inner.cache {
        match cache.load(&inner.engine, digest_hex) {
            Ok(Some(c)) => return Ok((c, LoadPath::Cached)),
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(plugin, "compile cache: {reason}");
                load_path = LoadPath::Rebuilt;
            }
        }
    }
    let component = Component::new(&inner.engine, bytes).map_err(|e| Refusal::Invalid {
        detail: format!("{e:#}"),
    })?;
    if let Some(cache) = &inner.cache
        && let Err(reason) = cache.store(&inner.engine, digest_hex, &component)
    {
        tracing::warn!(plugin, "compile cache: {reason}");
    }
    Ok((component, load_path))
}

/// Removes a finished compile from [`RuntimeInner::compiling`].
struct Unregister<'a> {
    inner: &'a RuntimeInner,
    key: String,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.inner
            .compiling
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}
