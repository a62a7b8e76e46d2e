//! `bad-signature`: a notification channel built from an edited copy of
//! `robodev:notifications@1.0.0` (`wit/channel.wit`) in which `notify` takes a `u32` and returns
//! nothing. Its export names are all right; one function's type is not. The host must refuse it
//! at load, naming the function and the type the contract expects, before any call.

wit_bindgen::generate!({
    path: ["../../wit/types", "wit"],
    world: "robodev:notifications/plugin@1.0.0",
    generate_all,
});

use exports::robodev::notifications::channel::Guest;
use robodev::types::types::{PluginError, PluginInfo, TaskResult, Ticket};

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "bad-signature".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn notify(_message: u32, _ticket: Option<Ticket>) {}

    fn notify_start(
        _ticket: Option<Ticket>,
        _task_run_id: String,
        _engine: String,
    ) -> Result<(), PluginError> {
        Ok(())
    }

    fn notify_complete(
        _ticket: Option<Ticket>,
        _task_run_id: String,
        _result: Option<TaskResult>,
    ) -> Result<(), PluginError> {
        Ok(())
    }
}

export!(Component);
