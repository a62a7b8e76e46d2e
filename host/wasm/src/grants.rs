//! What a plugin is allowed to do: deny by default, every capability granted in its config.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

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

/// Whether `host` (and `port`) is allowed by the allow-list entry `pattern`.
pub(crate) fn host_matches(pattern: &str, host: &str, port: Option<u16>) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let (pat_host, pat_port) = match pattern.rsplit_once(':') {
        // `[::1]:80` or `host:80`; a bare IPv6 literal has more colons and no brackets.
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => match p.parse::<u16>() {
            Ok(p) => (h.to_owned(), Some(p)),
            Err(_) => return false,
        },
        _ => (pattern, None),
    };
    if let Some(want) = pat_port
        && port != Some(want)
    {
        return false;
    }
    match pat_host.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(&format!(".{suffix}")),
        None => pat_host == host,
    }
}

#[cfg(test)]
mod tests {
    use super::host_matches;

    #[test]
    fn allow_list_patterns() {
        assert!(host_matches(
            "hooks.slack.com",
            "hooks.slack.com",
            Some(443)
        ));
        assert!(host_matches("Hooks.Slack.com", "hooks.slack.COM", None));
        assert!(!host_matches("hooks.slack.com", "evil.com", Some(443)));
        assert!(!host_matches("slack.com", "hooks.slack.com", None));
        assert!(host_matches("*.slack.com", "hooks.slack.com", None));
        assert!(!host_matches("*.slack.com", "slack.com", None));
        assert!(!host_matches("*.slack.com", "evilslack.com", None));
        assert!(host_matches("127.0.0.1:8080", "127.0.0.1", Some(8080)));
        assert!(!host_matches("127.0.0.1:8080", "127.0.0.1", Some(8081)));
        assert!(host_matches("127.0.0.1", "127.0.0.1", Some(9)));
        assert!(host_matches("[::1]:80", "[::1]", Some(80)));
        assert!(!host_matches("host:notaport", "host", Some(1)));
    }
}
