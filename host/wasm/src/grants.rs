//! What a plugin is allowed to do: deny by default, every capability granted in its config.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::capability::secrets::SecretSource;

/// A host directory the guest may read, at a path of the guest's choosing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// Directory on the host.
    pub host: PathBuf,
    /// Path the guest sees.
    pub guest: String,
}

/// The capabilities granted to one plugin. `Grants::default()` grants nothing but logging.
#[derive(Clone, Default)]
pub struct Grants {
    /// Its config values (`robodev:host/config`).
    pub config: BTreeMap<String, String>,
    /// Secret names the guest may read, mapped to the key in the [`SecretSource`]
    /// (`secrets: { token: slack-bot-token }`).
    pub secrets: BTreeMap<String, String>,
    /// Where granted secrets are resolved. `None` makes every secret unavailable.
    pub secret_source: Option<Arc<dyn SecretSource>>,
    /// Hosts the guest may send HTTP requests to: `example.com` (any port), `example.com:8080`,
    /// or `*.example.com` (any subdomain). Empty: no outbound HTTP.
    pub allowed_hosts: Vec<String>,
    /// Directory holding the plugin's persistent key-value store; `None`: kv denied.
    pub kv_dir: Option<PathBuf>,
    /// Read-only directories.
    pub preopens: Vec<Preopen>,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants")
            .field("config", &self.config.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("allowed_hosts", &self.allowed_hosts)
            .field("kv_dir", &self.kv_dir)
            .field("preopens", &self.preopens)
            .finish()
    }
}
