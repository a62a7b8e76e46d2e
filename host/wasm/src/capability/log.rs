//! `robodev:host/log`: a guest's log lines go to robodev's `tracing`, attributed to the
//! plugin and its interface, at the level the guest chose. Always granted. A message longer
//! than [`MAX_LOG_MESSAGE_BYTES`] is cut (on a character boundary) and marked.

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::host_api;
use crate::state::StoreState;

/// The WIT interface this capability implements.
pub(crate) const WIT: &str = "robodev:host/log";

/// Longest log message a guest may write; longer ones are cut.
pub const MAX_LOG_MESSAGE_BYTES: usize = 16 * 1024;

/// Registers the capability's host functions.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    host_api::log::add_to_linker::<_, HasSelf<StoreState>>(linker, |s| s)
}

/// `message` cut to [`MAX_LOG_MESSAGE_BYTES`] (and marked) when longer.
fn bounded(mut message: String) -> String {
    if message.len() > MAX_LOG_MESSAGE_BYTES {
        let mut cut = MAX_LOG_MESSAGE_BYTES;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("… (truncated)");
    }
    message
}

// Target `robodev::plugin`, as subprocess plugins' lines: one filter shows every plugin's log.
impl host_api::log::Host for StoreState {
    async fn log(&mut self, level: host_api::log::Level, message: String) {
        use host_api::log::Level;
        let message = bounded(message);
        let plugin = &*self.plugin.name;
        let interface = self.plugin.interface.name();
        match level {
            Level::Trace => {
                tracing::trace!(target: "robodev::plugin", plugin, interface, "{message}")
            }
            Level::Debug => {
                tracing::debug!(target: "robodev::plugin", plugin, interface, "{message}")
            }
            Level::Info => {
                tracing::info!(target: "robodev::plugin", plugin, interface, "{message}")
            }
            Level::Warn => {
                tracing::warn!(target: "robodev::plugin", plugin, interface, "{message}")
            }
            Level::Error => {
                tracing::error!(target: "robodev::plugin", plugin, interface, "{message}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(bounded("short".into()), "short");
        let long = "é".repeat(MAX_LOG_MESSAGE_BYTES);
        let cut = bounded(long);
        assert!(cut.ends_with("… (truncated)"));
        assert!(cut.len() <= MAX_LOG_MESSAGE_BYTES + "… (truncated)".len());
    }
}
