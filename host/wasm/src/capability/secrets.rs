//! `robodev:host/secrets`: named secrets, each granted in the plugin's config
//! (`secrets: { token: slack-bot-token }`: the guest's name -> the key in the [`SecretSource`]),
//! resolved on use through the configured secrets backend. A name not granted is refused
//! (`not-granted`), whatever the backend holds.

use std::collections::BTreeMap;

use async_trait::async_trait;
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::host_api;
use crate::state::StoreState;

/// The WIT interface this capability implements.
pub(crate) const WIT: &str = "robodev:host/secrets";

/// Registers the capability's host functions.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    host_api::secrets::add_to_linker::<_, HasSelf<StoreState>>(linker, |s| s)
}

/// Why a [`SecretSource`] could not answer (its message never holds a secret's value).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source is not ready, e.g. the secrets backend has not loaded (yet).
    #[error("{0}")]
    Unavailable(String),
    /// The secrets backend answered with an error.
    #[error("secrets backend {backend:?}: {source}")]
    Backend {
        /// The backend's name.
        backend: String,
        /// Its error.
        #[source]
        source: robodev_core::Error,
    },
}

/// Where granted secrets come from. The registry wires this to the configured secrets
/// backend; the CLI uses [`EnvSecrets`].
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The value of the secret `key`; `Ok(None)` if the source has no such secret, `Err`
    /// (never holding the secret) if the source failed.
    async fn get(&self, key: &str) -> Result<Option<String>, SourceError>;
}

/// Secrets read from the host's environment variables: the secret key is the variable name.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

#[async_trait]
impl SecretSource for EnvSecrets {
    async fn get(&self, key: &str) -> Result<Option<String>, SourceError> {
        Ok(std::env::var(key).ok())
    }
}

/// Secrets from a fixed map (tests, benches, embedded defaults).
#[derive(Debug, Clone, Default)]
pub struct StaticSecrets(pub BTreeMap<String, String>);

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn get(&self, key: &str) -> Result<Option<String>, SourceError> {
        Ok(self.0.get(key).cloned())
    }
}

impl host_api::secrets::Host for StoreState {
    async fn get(&mut self, name: String) -> Result<String, host_api::secrets::SecretError> {
        use host_api::secrets::SecretError;
        let Some(key) = self.plugin.grants.secrets.get(&name) else {
            return Err(SecretError::NotGranted(format!(
                "secret {name:?} is not granted to plugin {:?} (grant it in its plugins: entry: `secrets: {{ {name}: KEY }}`, KEY a key of the secrets backend)",
                &*self.plugin.name
            )));
        };
        let Some(source) = &self.plugin.grants.secret_source else {
            return Err(SecretError::Unavailable(
                "no secrets backend is configured".to_owned(),
            ));
        };
        match source.get(key).await {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(SecretError::NotFound(format!(
                "secret {name:?} (key {key:?}) does not exist"
            ))),
            Err(e) => Err(SecretError::Unavailable(e.to_string())),
        }
    }
}
