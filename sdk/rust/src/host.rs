//! The host capabilities as plain functions. In a component (`target_family = "wasm"`) each
//! calls the host's import; natively (`cargo test`) it calls this thread's stand-in
//! ([`crate::testing`]).

#[cfg(not(target_family = "wasm"))]
use crate::testing::with_host;
use crate::types::PluginError;

pub mod log {
    //! Log lines into robodev's log, attributed to the plugin (`robodev:host/log`; always
    //! granted). robodev shows info and above by default.

    pub use crate::bindings::robodev::host::log::Level;

    /// Writes one log line at `level`.
    pub fn log(level: Level, message: &str) {
        #[cfg(target_family = "wasm")]
        crate::bindings::robodev::host::log::log(level, message);
        #[cfg(not(target_family = "wasm"))]
        super::with_host(|h| h.logs.push((level, message.to_owned())));
    }

    /// A debug line (shown with `-v`).
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }

    /// An info line.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }

    /// A warning.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }

    /// An error line.
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

pub mod config {
    //! The plugin's own `config:` values from robodev-config.yaml (`robodev:host/config`).
    //! Strings come as written; other YAML values as their JSON text.

    /// The value of `key`, or `None`.
    pub fn get(key: &str) -> Option<String> {
        #[cfg(target_family = "wasm")]
        return crate::bindings::robodev::host::config::get(key);
        #[cfg(not(target_family = "wasm"))]
        super::with_host(|h| h.config.get(key).cloned())
    }

    /// Every key and value, sorted by key.
    pub fn get_all() -> Vec<(String, String)> {
        #[cfg(target_family = "wasm")]
        return crate::bindings::robodev::host::config::get_all();
        #[cfg(not(target_family = "wasm"))]
        super::with_host(|h| {
            h.config
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }
}

pub mod secrets {
    //! Named secrets, each granted in the plugin's entry (`secrets: { token: KEY }`;
    //! `robodev:host/secrets`). Never log a value.

    pub use crate::bindings::robodev::host::secrets::SecretError;

    /// The value of the granted secret `name`.
    pub fn get(name: &str) -> Result<String, SecretError> {
        #[cfg(target_family = "wasm")]
        return crate::bindings::robodev::host::secrets::get(name);
        #[cfg(not(target_family = "wasm"))]
        super::with_host(|h| {
            h.secrets.get(name).cloned().ok_or_else(|| {
                SecretError::NotGranted(format!(
                    "secret {name:?} is not granted to this plugin (grant it in its plugins: entry: `secrets: {{ {name}: KEY }}`, KEY a key of the secrets backend)"
                ))
            })
        })
    }
}

pub mod kv {
    //! The plugin's private key-value store, durable across restarts (`robodev:host/kv`;
    //! granted by `kv: true`).
    //!
    //! robodev runs calls to one plugin concurrently and they share this store: a [`get`]
    //! followed by a [`set`] can lose another call's write. Count with [`increment`]; make any
    //! other read-modify-write a [`compare_and_swap`] loop.

    pub use crate::bindings::robodev::host::kv::{AtomicError, KvError};

    /// The host's limits (robodev-wasm's kv): longest key, largest value, largest store.
    #[cfg(not(target_family = "wasm"))]
    const LIMITS: (usize, usize, usize) = (1024, 1024 * 1024, 64 * 1024 * 1024);

    /// What the host would refuse as too large, in its words.
    #[cfg(not(target_family = "wasm"))]
    fn fits(
        map: &std::collections::BTreeMap<String, Vec<u8>>,
        key: &str,
        value: &[u8],
    ) -> Result<(), String> {
        let (key_max, value_max, store_max) = LIMITS;
        if key.len() > key_max {
            return Err(format!(
                "key is {} bytes, the limit is {key_max}",
                key.len()
            ));
        }
        if value.len() > value_max {
            return Err(format!(
                "value is {} bytes, the limit is {value_max}",
                value.len()
            ));
        }
        let others: usize = map
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(k, v)| k.len() + v.len())
            .sum();
        let size = others + key.len() + value.len();
        if size > store_max {
            return Err(format!(
                "the store would hold {size} bytes, the limit is {store_max}"
            ));
        }
        Ok(())
    }

    #[cfg(not(target_family = "wasm"))]
    fn store<T>(
        f: impl FnOnce(&mut std::collections::BTreeMap<String, Vec<u8>>) -> T,
    ) -> Result<T, KvError> {
        super::with_host(|h| h.kv.as_mut().map(f).ok_or(KvError::Denied))
    }

    /// The value under `key`, or `None`.
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
        #[cfg(target_family = "wasm")]
        return crate::bindings::robodev::host::kv::get(key);
        #[cfg(not(target_family = "wasm"))]
        store(|m| m.get(key).cloned())
    }

    /// Stores `value` under `key`; durable when it returns.
    pub fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
        #[cfg(target_family = "wasm")]
        return crate::bindings::robodev::host::kv::set(key, value);
        #[cfg(not(target_family = "wasm"))]
        store(|m| {
            fits(m, key, value).map_err(KvError::TooLarge)?;
            m.insert(key.to_owned(), value.to_vec());
            Ok(())
        })?
    }

    /// Removes `key` (a missing key is not an error).
    pub fn delete(key: &str) -> Result<(), KvError> {
        #[cfg(target_family = "wasm")]
        return crate::bindings::robodev::host::kv::delete(key);
        #[cfg(not(target_family = "wasm"))]
        store(|m| {
            m.remove(key);
        })
    }

    /// Every key starting with `prefix`, sorted.
    pub fn list_keys(prefix: &str) -> Result<Vec<String>, KvError> {
        #[cfg(target_family = "wasm")]
        return crate::bindings::robodev::host::kv::list_keys(prefix);
        #[cfg(not(target_family = "wasm"))]
        store(|m| {
            m.keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect()
        })
    }

    /// Adds `delta` to the counter under `key` (absent counts as 0; stored as decimal text)
    /// and returns the new value, atomically.
    pub fn increment(key: &str, delta: i64) -> Result<i64, AtomicError> {
        #[cfg(target_family = "wasm")]
        return crate::bindings::robodev::host::kv::increment(key, delta);
        #[cfg(not(target_family = "wasm"))]
        {
            let done = store(|m| {
                let current = match m.get(key) {
                    None => 0,
                    Some(bytes) => std::str::from_utf8(bytes)
                        .ok()
                        .and_then(|t| t.parse::<i64>().ok())
                        .ok_or_else(|| {
                            AtomicError::NotACounter(format!("`{key}` holds no decimal integer"))
                        })?,
                };
                let next = current.checked_add(delta).ok_or_else(|| {
                    AtomicError::NotACounter(format!(
                        "`{key}` is {current}: adding {delta} overflows"
                    ))
                })?;
                let text = next.to_string().into_bytes();
                fits(m, key, &text).map_err(AtomicError::TooLarge)?;
                m.insert(key.to_owned(), text);
                Ok(next)
            });
            done.map_err(|_| AtomicError::Denied)?
        }
    }

    /// Replaces the value under `key` with `new` (`None` deletes it) only if it still is
    /// `expected` (`None`: absent), atomically; `false` means it changed first: read again and
    /// retry.
    pub fn compare_and_swap(
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, AtomicError> {
        #[cfg(target_family = "wasm")]
        return crate::bindings::robodev::host::kv::compare_and_swap(key, expected, new);
        #[cfg(not(target_family = "wasm"))]
        store(|m| {
            if m.get(key).map(Vec::as_slice) != expected {
                return Ok(false);
            }
            match new {
                Some(value) => {
                    fits(m, key, value).map_err(AtomicError::TooLarge)?;
                    m.insert(key.to_owned(), value.to_vec())
                }
                None => m.remove(key),
            };
            Ok(true)
        })
        .map_err(|_| AtomicError::Denied)?
    }
}

impl From<kv::KvError> for PluginError {
    fn from(e: kv::KvError) -> PluginError {
        match e {
            kv::KvError::Denied => PluginError::PermissionDenied(
                "the key-value store is not granted: set `kv: true` in the plugin's entry".into(),
            ),
            kv::KvError::TooLarge(m) => PluginError::ResourceExhausted(m),
            kv::KvError::Io(m) => PluginError::Unavailable(m),
        }
    }
}

impl From<kv::AtomicError> for PluginError {
    fn from(e: kv::AtomicError) -> PluginError {
        match e {
            kv::AtomicError::Denied => kv::KvError::Denied.into(),
            kv::AtomicError::TooLarge(m) => PluginError::ResourceExhausted(m),
            kv::AtomicError::Io(m) => PluginError::Unavailable(m),
            kv::AtomicError::NotACounter(m) => PluginError::FailedPrecondition(m),
        }
    }
}

impl From<secrets::SecretError> for PluginError {
    /// The host's message, which names the secret (and, when not granted, the config key that
    /// grants it).
    fn from(e: secrets::SecretError) -> PluginError {
        match e {
            secrets::SecretError::NotGranted(m) => PluginError::PermissionDenied(m),
            secrets::SecretError::NotFound(m) => PluginError::FailedPrecondition(m),
            secrets::SecretError::Unavailable(m) => PluginError::Unavailable(m),
        }
    }
}
