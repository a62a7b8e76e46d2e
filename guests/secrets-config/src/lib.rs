//! `secrets-config`: a secrets backend (`robodev:secrets/backend@1.0.0`) that serves secrets
//! from its own plugin config. Meant for tests and local setups, never for real credentials.
//!
//! Config keys:
//!
//! - `secret.<key>`: the value of secret `<key>` (e.g. `secret.db-password: hunter2`).
//!
//! `get-secret` returns that value or `not-found`; `get-secrets` returns every requested pair or
//! `not-found` naming the first missing key. `build-env-vars` turns a secret key of the form
//! `k8s:<secret-name>/<key>` into a Kubernetes `secretKeyRef` (the value never passes through
//! the controller) and resolves any other key like `get-secret`. Values are never logged.

wit_bindgen::generate!({
    path: ["../../wit/types", "../../wit/host", "../../wit/secrets"],
    world: "robodev:secrets/plugin@1.0.0",
    generate_all,
});

use exports::robodev::secrets::backend::{EnvVar, Guest, SecretKeyRef, SecretRef};
use robodev::host::config;
use robodev::types::types::{PluginError, PluginInfo};

/// Secret keys with this prefix name a key in a Kubernetes Secret: `k8s:<secret-name>/<key>`.
const K8S_PREFIX: &str = "k8s:";

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "secrets-config".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn get_secret(key: String) -> Result<String, PluginError> {
        lookup(&key)
    }

    fn get_secrets(keys: Vec<String>) -> Result<Vec<(String, String)>, PluginError> {
        keys.into_iter()
            .map(|key| {
                let value = lookup(&key)?;
                Ok((key, value))
            })
            .collect()
    }

    fn build_env_vars(secret_refs: Vec<SecretRef>) -> Result<Vec<EnvVar>, PluginError> {
        secret_refs.into_iter().map(env_var).collect()
    }
}

export!(Component);

fn lookup(key: &str) -> Result<String, PluginError> {
    if key.is_empty() {
        return Err(PluginError::InvalidArgument("empty secret key".into()));
    }
    config::get(&format!("secret.{key}"))
        .ok_or_else(|| PluginError::NotFound(format!("no secret {key:?}")))
}

fn env_var(secret: SecretRef) -> Result<EnvVar, PluginError> {
    if secret.env_name.is_empty() {
        return Err(PluginError::InvalidArgument(format!(
            "secret {:?} has no env-name",
            secret.secret_key
        )));
    }
    if let Some(reference) = secret.secret_key.strip_prefix(K8S_PREFIX) {
        let (name, key) = reference
            .split_once('/')
            .filter(|(name, key)| !name.is_empty() && !key.is_empty())
            .ok_or_else(|| {
                PluginError::InvalidArgument(format!(
                    "{:?} is not of the form {K8S_PREFIX}<secret-name>/<key>",
                    secret.secret_key
                ))
            })?;
        return Ok(EnvVar {
            name: secret.env_name,
            value: String::new(),
            secret_ref: Some(SecretKeyRef {
                name: name.into(),
                key: key.into(),
            }),
        });
    }
    let value = lookup(&secret.secret_key)?;
    Ok(EnvVar {
        name: secret.env_name,
        value,
        secret_ref: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k8s(secret_key: &str) -> Result<EnvVar, PluginError> {
        env_var(SecretRef {
            env_name: "TOKEN".into(),
            secret_key: secret_key.into(),
        })
    }

    #[test]
    fn kubernetes_references_become_secret_key_refs() {
        let var = k8s("k8s:github/token").ok();
        let var = var.as_ref().map(|v| {
            (
                v.name.as_str(),
                v.value.as_str(),
                v.secret_ref
                    .as_ref()
                    .map(|r| (r.name.as_str(), r.key.as_str())),
            )
        });
        assert_eq!(var, Some(("TOKEN", "", Some(("github", "token")))));
        assert!(matches!(
            k8s("k8s:github"),
            Err(PluginError::InvalidArgument(_))
        ));
        assert!(matches!(
            k8s("k8s:/token"),
            Err(PluginError::InvalidArgument(_))
        ));
    }
}
