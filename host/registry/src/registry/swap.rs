//! Swapping: hot reload and rollback put one version of a plugin in place of another
//! atomically ([`Registry::reload`], [`Registry::rollback`]); calls in flight finish on the old
//! version, which is retired once they have.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use robodev_core::{AnyBackend, Error, Interface, Refusal};

use crate::spec::PluginSpec;

use super::{Entry, Handle, Item, Registry, RuntimeKind};

/// What a reload or a rollback changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swapped {
    /// The plugin.
    pub plugin: String,
    /// Its interface.
    pub interface: Interface,
    /// The version that was serving (`name version (digest)`).
    pub from: String,
    /// The version serving now.
    pub to: String,
}

/// How long a retired version may take to finish its calls before it is stopped anyway.
const RETIRE_GRACE: Duration = Duration::from_secs(120);

/// Stops a version nobody can call any more once its calls in flight have ended.
pub(crate) async fn retire(old: Arc<Entry>) {
    let started = std::time::Instant::now();
    // The entry holds one reference to the backend; every call in flight holds another.
    while in_flight(&old.raw) > 0 && started.elapsed() < RETIRE_GRACE {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Handle::Subprocess(p) = &old.handle {
        p.shutdown().await;
    }
    tracing::debug!(plugin = %old.name, "retired {}", old.describe());
}

/// Calls in flight on `backend`, beyond the one reference its entry holds.
pub(crate) fn in_flight(backend: &AnyBackend) -> usize {
    let count = match backend {
        AnyBackend::Ticketing(b) => Arc::strong_count(b),
        AnyBackend::Notifications(b) => Arc::strong_count(b),
        AnyBackend::Approval(b) => Arc::strong_count(b),
        AnyBackend::Secrets(b) => Arc::strong_count(b),
        AnyBackend::Scm(b) => Arc::strong_count(b),
        AnyBackend::Review(b) => Arc::strong_count(b),
        AnyBackend::Engine(b) => Arc::strong_count(b),
    };
    count.saturating_sub(1)
}

impl Registry {
    /// Loads plugin `spec.name` again from `spec` (its entry in the config as it is now) beside
    /// the running version: the same checks as at start (interface version declared and
    /// reported, digest, signature), then one atomic swap. Calls in flight finish on the old
    /// version; the old version stays loaded for [`Registry::rollback`], and the one before it
    /// is stopped once its last call has finished. A failed load changes nothing.
    pub async fn reload(&self, spec: &PluginSpec) -> Result<Swapped, Error> {
        let _one_at_a_time = self.reloading.lock().await;
        let current = self.current(spec.interface, &spec.name)?;
        let fresh = self.loader.load(&Item::Plugin(spec.clone())).await?;
        let swapped = self.install(current, fresh)?;
        tracing::info!(plugin = %spec.name, "reloaded: {} -> {}", swapped.from, swapped.to);
        Ok(swapped)
    }

    /// Swaps plugin `name` of `interface` back to the version its last reload replaced (and
    /// keeps the current one for a roll forward).
    pub async fn rollback(&self, interface: Interface, name: &str) -> Result<Swapped, Error> {
        let _one_at_a_time = self.reloading.lock().await;
        let current = self.current(interface, name)?;
        let key = (interface, name.to_owned());
        let previous = self
            .previous
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
            .ok_or_else(|| Error::Load {
                plugin: name.to_owned(),
                message: "there is no previous version to roll back to (it was never reloaded)"
                    .into(),
                source: None,
            })?;
        let swapped = self.install(current, Entry::clone_of(&previous))?;
        tracing::warn!(
            plugin = name,
            "rolled back: {} -> {}",
            swapped.from,
            swapped.to
        );
        Ok(swapped)
    }

    pub(crate) fn current(&self, interface: Interface, name: &str) -> Result<Arc<Entry>, Error> {
        let current = self.get(interface, name).ok_or_else(|| Error::Load {
            plugin: name.to_owned(),
            message: format!(
                "no loaded {interface} plugin {name:?} (plugins are added and removed at start)"
            ),
            source: None,
        })?;
        if current.runtime == RuntimeKind::Builtin {
            return Err(Error::Load {
                plugin: name.to_owned(),
                message: "built-in backends are part of robodev and are not reloaded".into(),
                source: None,
            });
        }
        Ok(current)
    }

    /// Makes `fresh` the current version of `current`'s plugin.
    pub(crate) fn install(&self, current: Arc<Entry>, mut fresh: Entry) -> Result<Swapped, Error> {
        let slot = current.slot.clone().ok_or_else(|| Error::Load {
            plugin: current.name.clone(),
            message: "this plugin cannot be swapped".into(),
            source: None,
        })?;
        if fresh.interface != current.interface {
            return Err(Error::Refused {
                plugin: current.name.clone(),
                refusal: Refusal::WrongInterface {
                    expected: current.interface,
                    found: fresh.interface,
                },
            });
        }
        slot.swap(fresh.raw.clone()).map_err(|_| Error::Load {
            plugin: current.name.clone(),
            message: "the new version serves another interface".into(),
            source: None,
        })?;
        fresh.backend = current.backend.clone();
        fresh.slot = Some(slot);
        let swapped = Swapped {
            plugin: current.name.clone(),
            interface: current.interface,
            from: current.describe(),
            to: fresh.describe(),
        };
        let key = (current.interface, current.name.clone());
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Arc::new(fresh));
        let retired = self
            .previous
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, current);
        if let Some(old) = retired {
            tokio::spawn(retire(old));
        }
        Ok(swapped)
    }
}
