//! Who a call goes to and whether it may: the labels every plugin call is traced and counted
//! under ([`CallLabels`]), and the operator's off switches ([`Switches`]), shared by the
//! metering layer, the metrics and the admin API.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use robodev_core::{Interface, RuntimeKind};

/// Who is called: the labels of a plugin's spans and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLabels {
    /// The plugin's configured name.
    pub plugin: String,
    /// Its interface.
    pub interface: Interface,
    /// How it runs.
    pub runtime: RuntimeKind,
    /// The version its handshake reported.
    pub version: String,
}

/// Whether an operator lets a plugin take calls. On unless switched off.
#[derive(Debug)]
pub struct Switch {
    enabled: AtomicBool,
}

impl Default for Switch {
    fn default() -> Self {
        Switch {
            enabled: AtomicBool::new(true),
        }
    }
}

impl Switch {
    /// A switch that is on.
    pub fn new() -> Switch {
        Switch::default()
    }

    /// Lets the plugin take calls again.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }

    /// Makes every further call fail fast without reaching the plugin.
    pub fn disable(&self) {
        self.enabled.store(false, Ordering::SeqCst);
    }

    /// Whether the plugin takes calls.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    /// Flips the switch and returns the new state (`true`: enabled). One atomic step, so two
    /// operators toggling at once end where two flips end.
    pub fn toggle(&self) -> bool {
        !self.enabled.fetch_xor(true, Ordering::SeqCst)
    }
}

/// Switches by (interface, plugin name).
type SwitchMap = BTreeMap<(Interface, String), Arc<Switch>>;

/// One [`Switch`] per plugin, by interface and name. Cheap to clone; clones share the
/// switches.
#[derive(Debug, Clone, Default)]
pub struct Switches {
    map: Arc<Mutex<SwitchMap>>,
}

impl Switches {
    /// No switches yet.
    pub fn new() -> Switches {
        Switches::default()
    }

    /// The switch of plugin `name` of `interface`, created (on) if it has none yet.
    pub fn switch(&self, interface: Interface, name: &str) -> Arc<Switch> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry((interface, name.to_owned()))
            .or_insert_with(|| Arc::new(Switch::new()))
            .clone()
    }

    /// The switch of plugin `name` of `interface`, if it has one.
    pub fn get(&self, interface: Interface, name: &str) -> Option<Arc<Switch>> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&(interface, name.to_owned())).cloned()
    }

    /// Whether plugin `name` of `interface` takes calls: a plugin without a switch cannot be
    /// switched off, so it does.
    pub fn is_enabled(&self, interface: Interface, name: &str) -> bool {
        self.get(interface, name).is_none_or(|s| s.is_enabled())
    }
}
