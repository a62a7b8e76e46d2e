//! `future-major`: a notification channel exporting `robodev:notifications/channel@9.0.0`, a
//! major version no robodev host serves (see `wit/notifications.wit`). The host must refuse it
//! when it loads it, naming the versions it serves.
//!
//! Config keys: none.

wit_bindgen::generate!({
    path: ["../../wit/types", "wit"],
    world: "robodev:notifications/plugin@9.0.0",
    generate_all,
});

use exports::robodev::notifications::channel::Guest;
use robodev::types::types::{PluginError, PluginInfo};

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "future-major".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn notify(_message: String) -> Result<(), PluginError> {
        Ok(())
    }
}

export!(Component);
