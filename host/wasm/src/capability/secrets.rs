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

/// Where granted secrets come from. The registry wires this to the configured secrets
/// backend; the CLI uses [`EnvSecrets`].
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The value of the secret `key`; `Ok(None)` if the source has no such secret, `Err`
    /// with a message (never the secret) if the source failed.
    async fn get(&self, key: &str) -> Result<Option<String>, String>;
}

/// Secrets read from the host's environment variables: the secret key is the variable name.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

#[async_trait]
impl SecretSource for EnvSecrets {
    async fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(std::env::var(key).ok())
    }
}

/// Secrets from a fixed map (tests, benches, embedded defaults).
#[derive(Debug, Clone, Default)]
pub struct StaticSecrets(pub BTreeMap<String, String>);

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.0.get(key).cloned())
    }
}

impl host_api::secrets::Host for StoreState {
    async fn get(&mut self, name: String) -> Result<String, host_api::secrets::SecretError> {
        use host_api::secrets::SecretError;
        let Some(key) = self.plugin.grants.secrets.get(&name) else {
            return Err(SecretError::NotGranted(format!(
                "secret {name:?} is not granted to plugin {:?}",
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
            Err(e) => Err(SecretError::Unavailable(e)),
        }
    }
}
