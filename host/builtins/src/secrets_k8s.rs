//! Secrets `k8s`: keys of Kubernetes Secrets in one namespace, read through the API server
//! with robodev's own identity (in a pod, its service account; elsewhere the kubeconfig).
//!
//! ```yaml
//! secrets:
//!   backend: k8s
//!   config:
//!     namespace: robodev        # optional: the client's namespace (in a pod, its own)
//!     secret: robodev-secrets   # optional: the Secret of keys written without `SECRET/`
//! ```
//!
//! A secret key is `SECRET/KEY` (the data key `KEY` of the Secret `SECRET`), or `KEY` of the
//! `secret` option's Secret. `BuildEnvVars` answers `secretKeyRef`s without reading anything,
//! so agent pods get their secrets from the cluster and no value passes through robodev.
//! Values are never logged nor quoted in errors.

use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use robodev_core::secrets::{
    Backend, BuildEnvVarsRequest, BuildEnvVarsResponse, EnvVar, GetSecretRequest,
    GetSecretResponse, GetSecretsRequest, GetSecretsResponse, SecretKeyRef,
};
use robodev_core::{Error, ErrorCode, Interface, PluginInfo};
use serde::Deserialize;
use serde_json::Value;

use super::{BuiltinConfigError, Schema, plugin_error};

/// The built-in's name.
pub const NAME: &str = "k8s";

const INTERFACE: Interface = Interface::Secrets;

/// How long one read of a Secret may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: Schema = Schema {
    name: NAME,
    known: &["namespace", "secret"],
    required: &[],
};

/// The options of secrets `k8s`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The Secrets' namespace (default: the client's).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The Secret of keys written without `SECRET/`.
    #[serde(default)]
    pub secret: Option<String>,
}

fn dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

impl Options {
    /// Parses and checks the options from a `config:` map.
    pub fn from_config(config: &Value) -> Result<Options, BuiltinConfigError> {
        let options: Options = super::parse_options(&SCHEMA, config)?;
        for (key, value) in [
            ("namespace", &options.namespace),
            ("secret", &options.secret),
        ] {
            if let Some(v) = value
                && !dns_name(v)
            {
                return Err(BuiltinConfigError::new(
                    key,
                    format!("{v:?} is not a valid Kubernetes name"),
                ));
            }
        }
        Ok(options)
    }
}

/// Secrets `k8s`.
#[derive(Clone)]
pub struct K8sSecrets {
    secrets: Api<Secret>,
    namespace: String,
    default_secret: Option<String>,
}

impl std::fmt::Debug for K8sSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K8sSecrets")
            .field("namespace", &self.namespace)
            .field("default_secret", &self.default_secret)
            .finish_non_exhaustive()
    }
}

impl K8sSecrets {
    /// A backend over the API server robodev can reach (in a pod, its service account;
    /// elsewhere `KUBECONFIG` or `~/.kube/config`).
    pub async fn new(options: Options) -> Result<Self, Error> {
        // kube's client asks rustls for the process's provider: ring, as everywhere in robodev
        // (an error means the program chose one already, which stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = kube::Client::try_default().await.map_err(|e| Error::Load {
            plugin: NAME.to_owned(),
            message: format!(
                "no Kubernetes API to read Secrets from (in a pod, its service account; elsewhere KUBECONFIG or ~/.kube/config): {e}"
            ),
            source: Some(robodev_core::Cause::new(e)),
        })?;
        Ok(K8sSecrets::with_client(client, options))
    }

    /// A backend reading through `client`.
    pub fn with_client(client: kube::Client, options: Options) -> Self {
        let namespace = options
            .namespace
            .unwrap_or_else(|| client.default_namespace().to_owned());
        K8sSecrets {
            secrets: Api::namespaced(client, &namespace),
            namespace,
            default_secret: options.secret,
        }
    }

    fn error(code: ErrorCode, message: String) -> Error {
        plugin_error(NAME, INTERFACE, code, message)
    }

    /// (Secret, data key) of secret key `key`.
    fn locate<'k>(&'k self, key: &'k str) -> Result<(&'k str, &'k str), Error> {
        let (secret, item) = match key.split_once('/') {
            Some((secret, item)) => (secret, item),
            None => match &self.default_secret {
                Some(secret) => (secret.as_str(), key),
                None => {
                    return Err(Self::error(
                        ErrorCode::InvalidArgument,
                        format!(
                            "secret key {key:?} names no Secret: write SECRET/KEY, or set the `secret` option of the k8s backend"
                        ),
                    ));
                }
            },
        };
        let valid_item = !item.is_empty()
            && item
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !dns_name(secret) || !valid_item {
            return Err(Self::error(
                ErrorCode::InvalidArgument,
                format!(
                    "invalid secret key {key:?}: expected SECRET/KEY with a Kubernetes Secret name and a data key (letters, digits, '-', '_', '.')"
                ),
            ));
        }
        Ok((secret, item))
    }

    async fn lookup(&self, key: &str) -> Result<String, Error> {
        let (name, item) = self.locate(key)?;
        let ns = &self.namespace;
        let read = tokio::time::timeout(READ_TIMEOUT, self.secrets.get_opt(name)).await;
        let secret = match read {
            Err(_) => {
                return Err(Self::error(
                    ErrorCode::Unavailable,
                    format!("reading Secret {ns}/{name} took longer than {READ_TIMEOUT:?}"),
                ));
            }
            Ok(Ok(Some(secret))) => secret,
            Ok(Ok(None)) => {
                return Err(Self::error(
                    ErrorCode::NotFound,
                    format!("no Secret {ns}/{name} (for secret key {key:?})"),
                ));
            }
            Ok(Err(kube::Error::Api(e))) if e.code == 403 => {
                return Err(Self::error(
                    ErrorCode::PermissionDenied,
                    format!(
                        "robodev may not read Secret {ns}/{name}: its Role needs `get` on secrets in {ns} ({})",
                        e.message
                    ),
                ));
            }
            Ok(Err(e)) => {
                return Err(Self::error(
                    ErrorCode::Unavailable,
                    format!("cannot read Secret {ns}/{name}: {e}"),
                ));
            }
        };
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(item))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(item))
                    .map(|s| s.clone().into_bytes())
            });
        let Some(bytes) = bytes else {
            return Err(Self::error(
                ErrorCode::NotFound,
                format!("Secret {ns}/{name} has no key {item:?}"),
            ));
        };
        String::from_utf8(bytes).map_err(|_| {
            Self::error(
                ErrorCode::FailedPrecondition,
                format!("key {item:?} of Secret {ns}/{name} is not UTF-8 text"),
            )
        })
    }
}

#[async_trait]
impl Backend for K8sSecrets {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(super::plugin_info(NAME))
    }

    async fn get_secret(&self, request: GetSecretRequest) -> Result<GetSecretResponse, Error> {
        Ok(GetSecretResponse {
            value: self.lookup(&request.key).await?,
        })
    }

    async fn get_secrets(&self, request: GetSecretsRequest) -> Result<GetSecretsResponse, Error> {
        let mut secrets = std::collections::HashMap::new();
        for key in request.keys {
            let value = self.lookup(&key).await?;
            secrets.insert(key, value);
        }
        Ok(GetSecretsResponse {
            secrets: secrets.into_iter().collect(),
        })
    }

    async fn build_env_vars(
        &self,
        request: BuildEnvVarsRequest,
    ) -> Result<BuildEnvVarsResponse, Error> {
        let env_vars = request
            .secret_refs
            .into_iter()
            .map(|r| {
                let (name, key) = self.locate(&r.secret_key)?;
                Ok(EnvVar {
                    name: r.env_name,
                    value: String::new(),
                    secret_ref: Some(SecretKeyRef {
                        name: name.to_owned(),
                        key: key.to_owned(),
                    }),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(BuildEnvVarsResponse { env_vars })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn options() {
        assert_eq!(
            Options::from_config(&json!({})).unwrap(),
            Options::default()
        );
        assert_eq!(
            Options::from_config(&json!({"namespace": "agents", "secret": "robodev-secrets"}))
                .unwrap(),
            Options {
                namespace: Some("agents".into()),
                secret: Some("robodev-secrets".into())
            }
        );
        assert_eq!(
            Options::from_config(&json!({"namespace": "Agents"})).unwrap_err(),
            BuiltinConfigError::new("namespace", "\"Agents\" is not a valid Kubernetes name")
        );
        assert_eq!(
            Options::from_config(&json!({"secrets": "x"})).unwrap_err(),
            BuiltinConfigError::new(
                "secrets",
                "unknown option `secrets` of `k8s`; did you mean `secret`?"
            )
        );
    }
}
