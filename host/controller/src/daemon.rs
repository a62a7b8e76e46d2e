//! [`Daemon`]: robodev running, with the order of its start and stop in one place.
//!
//! Start: take the state directory's lock; share the registry before its plugins have loaded
//! (one slow plugin, say pulled from a slow registry, holds neither the others nor the admin
//! API); load them in a task; watch the config and plugin files for hot reload; bring the
//! admin API up (it waits only for the secrets backend holding its token). Then
//! [`Daemon::controller`] waits for what the loop needs (its backends and the critical
//! plugins) and wires it. Stop, in reverse: the watcher, the admin API, every plugin (loads
//! still in progress included), and last the lock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use robodev_registry::admin::{self, AdminHandle};
use robodev_registry::reload::{Definitions, Reloader, WATCH_INTERVAL};
use robodev_registry::{CriticalFailure, LoadOptions, Loading, Registry};

use crate::config::{Config, PluginSpec};
use crate::controller::{Controller, ControllerError, StateLock};
use crate::executor::Executor;
use crate::runs::RunStore;

/// Why robodev did not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The state directory is locked by another robodev, or cannot be used.
    #[error(transparent)]
    State(ControllerError),
    /// The admin API did not start.
    #[error(transparent)]
    Admin(#[from] admin::StartError),
    /// A critical plugin did not load.
    #[error(transparent)]
    Critical(#[from] CriticalFailure),
    /// The loop could not be wired to its backends.
    #[error(transparent)]
    Controller(ControllerError),
}

/// robodev-config.yaml as the reloader reads it: the `plugins:` entries as the file has them
/// now.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
}

impl ConfigFile {
    /// The config file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ConfigFile { path: path.into() }
    }
}

impl Definitions for ConfigFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn plugins(&self) -> Result<Vec<PluginSpec>, String> {
        Config::load(&self.path)
            .map(|c| c.plugins)
            .map_err(|e| e.to_string())
    }
}

/// robodev, started: its registry loading, its watcher and admin API running.
#[derive(Debug)]
pub struct Daemon {
    config: Arc<Config>,
    registry: Arc<Registry>,
    loading: tokio::task::JoinHandle<()>,
    watcher: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
    admin: Option<AdminHandle>,
    readiness: Arc<admin::Readiness>,
    executor: Option<Arc<dyn Executor>>,
    runs: Option<Arc<dyn RunStore>>,
    _lock: StateLock,
}

impl Daemon {
    /// Starts robodev on `config` (see the module docs for the order), its agents run by
    /// `executor` (`None`: the local executor) and its task runs kept in `runs` (`None`: the
    /// files under the state directory). On an error, what had started is stopped again.
    pub async fn start(
        config: Config,
        options: LoadOptions,
        executor: Option<Arc<dyn Executor>>,
        runs: Option<Arc<dyn RunStore>>,
    ) -> Result<Daemon, DaemonError> {
        let lock = StateLock::acquire(&config.state_dir).map_err(DaemonError::State)?;
        let host = config.host();
        let registry = Arc::new(Registry::pending(&host, options));
        let loading = tokio::spawn({
            let registry = registry.clone();
            async move { registry.load_pending().await }
        });
        let reloader = Arc::new(Reloader::new(
            registry.clone(),
            Arc::new(ConfigFile::new(config.path.clone())),
        ));
        let (stop_watch, watch_stopped) = tokio::sync::oneshot::channel::<()>();
        let watcher = tokio::spawn(reloader.clone().watch(WATCH_INTERVAL, async move {
            let _ = watch_stopped.await;
        }));
        let mut daemon = Daemon {
            config: Arc::new(config),
            registry,
            loading,
            watcher: Some((stop_watch, watcher)),
            admin: None,
            readiness: admin::Readiness::new(),
            executor,
            runs,
            _lock: lock,
        };
        daemon.readiness.set(
            "controller",
            Err("waiting for the plugins the loop needs".into()),
        );
        match admin::start(&host, &daemon.registry, reloader, daemon.readiness.clone()).await {
            Ok(admin) => daemon.admin = admin,
            Err(e) => {
                daemon.stop().await;
                return Err(e.into());
            }
        }
        Ok(daemon)
    }

    /// The configuration it runs.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Its plugins.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// What `/readyz` checks; the caller adds its own conditions (leader election's).
    pub fn readiness(&self) -> &Arc<admin::Readiness> {
        &self.readiness
    }

    /// Where the admin API listens, when it is configured.
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.admin.as_ref().map(|a| a.addr)
    }

    /// Waits for the plugins the loop needs (every backend selection and the critical
    /// plugins; the others keep loading) and wires the loop to them.
    pub async fn controller(&self) -> Result<Arc<Controller>, DaemonError> {
        let selections = self.config.selections();
        let needed = |l: &Loading| {
            l.critical
                || selections
                    .iter()
                    .any(|s| s.interface() == l.interface && s.name() == l.name)
        };
        for waiting in self.registry.loading().iter().filter(|l| needed(l)) {
            tracing::info!(
                plugin = %waiting.name,
                "waiting for plugin {:?} ({}) to load before the controller starts",
                waiting.name,
                waiting.interface
            );
        }
        // A critical plugin that failed ends the wait at once: robodev will not run anyway.
        self.registry
            .wait_until(|r| r.critical_failure().is_some() || !r.loading().iter().any(needed))
            .await;
        if let Some(critical) = self.registry.critical_failure() {
            self.readiness
                .set("controller", Err("a critical plugin did not load".into()));
            return Err(critical.into());
        }
        // Plugins that did not load are in the log (a warning each).
        let controller = Controller::new(self.config.clone(), &self.registry)
            .map_err(DaemonError::Controller)?;
        self.readiness.set("controller", Ok(()));
        let controller = match &self.executor {
            Some(executor) => controller.with_executor(executor.clone()),
            None => controller,
        };
        Ok(Arc::new(match &self.runs {
            Some(runs) => controller.with_runs(runs.clone()),
            None => controller,
        }))
    }

    /// Stops everything it started, in reverse order.
    pub async fn stop(mut self) {
        if let Some((stop, watcher)) = self.watcher.take() {
            let _ = stop.send(());
            let _ = watcher.await;
        }
        if let Some(admin) = self.admin.take() {
            admin.stop().await;
        }
        // Also stops the loads still in progress (plugins nothing needed yet).
        self.registry.shutdown().await;
        let _ = (&mut self.loading).await;
    }
}
