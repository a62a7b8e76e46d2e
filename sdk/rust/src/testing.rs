//! A stand-in for the robodev host, so that plugin logic using [`log`](crate::log),
//! [`config`](crate::config), [`secrets`](crate::secrets) and [`kv`](crate::kv) runs in a native
//! `cargo test` (natively there is no host to import from). Each test thread has its own
//! stand-in, empty until [`Host::install`] replaces it: no config, no secrets, the store not
//! granted, as a plugin with an empty entry gets from robodev.
//!
//! ```
//! use robodev_plugin::{kv, log, testing};
//!
//! testing::Host::new().config("greeting", "hi").secret("token", "s3cret").kv().install();
//! assert_eq!(robodev_plugin::config::get("greeting").as_deref(), Some("hi"));
//! assert_eq!(kv::increment("n", 2), Ok(2));
//! log::info("done");
//! assert_eq!(testing::logs(), vec![(log::Level::Info, "done".to_owned())]);
//! assert_eq!(testing::kv_value("n").as_deref(), Some(&b"2"[..]));
//! // The host's limits and refusals hold here too.
//! assert!(matches!(kv::set("big", &vec![0; 2 << 20]), Err(kv::KvError::TooLarge(_))));
//! let denied = robodev_plugin::secrets::get("other").unwrap_err();
//! let message = robodev_plugin::types::PluginError::from(denied);
//! assert!(format!("{message:?}").contains("secrets: { other: KEY }"));
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::log::Level;

/// What a plugin sees of its host in a native test: build it, then [`install`](Host::install).
#[derive(Debug, Default, Clone)]
pub struct Host {
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) secrets: BTreeMap<String, String>,
    pub(crate) kv: Option<BTreeMap<String, Vec<u8>>>,
    pub(crate) logs: Vec<(Level, String)>,
}

thread_local! {
    static HOST: RefCell<Host> = RefCell::new(Host::default());
}

pub(crate) fn with_host<T>(f: impl FnOnce(&mut Host) -> T) -> T {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

impl Host {
    /// Nothing granted: no config, no secrets, no store.
    pub fn new() -> Host {
        Host::default()
    }

    /// A `config:` value (strings as they are, other values as JSON text, as robodev passes them).
    pub fn config(mut self, key: &str, value: &str) -> Host {
        self.config.insert(key.to_owned(), value.to_owned());
        self
    }

    /// A granted secret and its value.
    pub fn secret(mut self, name: &str, value: &str) -> Host {
        self.secrets.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Grants the key-value store (`kv: true`), empty.
    pub fn kv(mut self) -> Host {
        self.kv.get_or_insert_with(BTreeMap::new);
        self
    }

    /// Grants the key-value store holding `key` = `value`.
    pub fn kv_entry(mut self, key: &str, value: &[u8]) -> Host {
        self.kv
            .get_or_insert_with(BTreeMap::new)
            .insert(key.to_owned(), value.to_vec());
        self
    }

    /// Makes this the current thread's host (each test runs on its own thread).
    pub fn install(self) {
        with_host(|h| *h = self);
    }
}

/// The log lines written on this thread since its host was installed.
pub fn logs() -> Vec<(Level, String)> {
    with_host(|h| h.logs.clone())
}

/// The value stored under `key`, `None` if absent or the store is not granted.
pub fn kv_value(key: &str) -> Option<Vec<u8>> {
    with_host(|h| h.kv.as_ref().and_then(|m| m.get(key).cloned()))
}
