//! `robodev:host/config`: the plugin's own config values (the `config:` map of its entry),
//! strings as written, anything else as its JSON text. Nothing else of robodev's config is
//! visible.

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::host_api;
use crate::state::StoreState;

/// The WIT interface this capability implements.
pub(crate) const WIT: &str = "robodev:host/config";

/// Registers the capability's host functions.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    host_api::config::add_to_linker::<_, HasSelf<StoreState>>(linker, |s| s)
}

impl host_api::config::Host for StoreState {
    async fn get(&mut self, key: String) -> Option<String> {
        self.plugin.grants.config.get(&key).cloned()
    }

    async fn get_all(&mut self) -> Vec<(String, String)> {
        self.plugin
            .grants
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
