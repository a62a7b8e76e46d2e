//! The data of one `Store`: the WASI context built from the plugin's grants, the resource
//! table, the memory limiter, and the plugin's host capabilities (log, config, secrets, kv).

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capability::http::HttpPolicy;
use crate::capability::kv::KvStore;
use crate::grants::Grants;
use crate::stdio::CapturePipe;
use robodev_core::Interface;

/// What every store of one plugin shares.
pub(crate) struct PluginContext {
    pub(crate) name: Arc<str>,
    pub(crate) interface: Interface,
    pub(crate) grants: Grants,
    pub(crate) allowed_hosts: Arc<[String]>,
    pub(crate) kv: Option<Arc<KvStore>>,
}

/// The `T` of `Store<T>`.
pub(crate) struct StoreState {
    pub(crate) plugin: Arc<PluginContext>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_policy: HttpPolicy,
    table: ResourceTable,
    pub(crate) limits: PeakLimiter,
    pub(crate) stdout: CapturePipe,
    pub(crate) stderr: CapturePipe,
}

impl StoreState {
    /// A store state with nothing granted beyond what `plugin.grants` says.
    pub(crate) fn new(
        plugin: Arc<PluginContext>,
        limits: StoreLimits,
    ) -> Result<StoreState, String> {
        let stdout = CapturePipe::default();
        let stderr = CapturePipe::default();
        let mut b = WasiCtx::builder();
        // No environment, no arguments, no inherited stdio, no network: deny by default.
        b.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for p in &plugin.grants.preopens {
            b.preopened_dir(&p.host, &p.guest, FsPerms::ReadOnly)
                .map_err(|e| {
                    format!(
                        "cannot open read-only directory {} for the guest: {e}",
                        p.host.display()
                    )
                })?;
        }
        Ok(StoreState {
            http_policy: HttpPolicy {
                plugin: plugin.name.clone(),
                allowed_hosts: plugin.allowed_hosts.clone(),
            },
            plugin,
            wasi: b.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: PeakLimiter {
                limits,
                peak_memory_bytes: 0,
                denied: false,
            },
            stdout,
            stderr,
        })
    }
}

/// The store's limits, remembering the largest linear memory they allowed (the plugin's
/// memory high-water mark, for metrics).
pub(crate) struct PeakLimiter {
    limits: StoreLimits,
    /// The largest size any linear memory of the store was allowed to grow to, in bytes.
    pub(crate) peak_memory_bytes: usize,
    /// Whether a memory or table growth was refused: the failure that follows is the
    /// plugin's memory cap, known here rather than guessed from an error's text.
    pub(crate) denied: bool,
}

impl ResourceLimiter for PeakLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self
            .limits
            .memory_growing(current, desired, maximum)
            .inspect_err(|_| self.denied = true)?;
        if allowed {
            self.peak_memory_bytes = self.peak_memory_bytes.max(desired);
        } else {
            self.denied = true;
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self
            .limits
            .table_growing(current, desired, maximum)
            .inspect_err(|_| self.denied = true)?;
        self.denied |= !allowed;
        Ok(allowed)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_policy,
        }
    }
}
