//! Secrets: read secrets and build container environment variables (proto
//! `robodev.v1.SecretsBackend`, WIT `robodev:secrets/backend@1`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Error, PluginInfo};

/// The interface version this host implements.
pub const INTERFACE_VERSION: u32 = 1;

/// Request of `GetSecret`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GetSecretRequest {
    /// Backend-specific secret reference.
    pub key: String,
}

/// Response of `GetSecret`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetSecretResponse {
    /// The secret's value. Never log it.
    pub value: String,
}

/// Request of `GetSecrets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GetSecretsRequest {
    /// Backend-specific secret references.
    pub keys: Vec<String>,
}

/// Response of `GetSecrets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetSecretsResponse {
    /// Key to value.
    pub secrets: BTreeMap<String, String>,
}

/// A secret to expose as an environment variable (proto `SecretRef`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SecretRef {
    /// Environment variable name to set in the container.
    pub env_name: String,
    /// Backend-specific secret reference.
    pub secret_key: String,
}

/// A Kubernetes `secretKeyRef` (proto `SecretKeyRef`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretKeyRef {
    /// Kubernetes Secret name.
    pub name: String,
    /// Key within the Secret's data map.
    pub key: String,
}

/// A container environment variable (proto `EnvVar`): a value or a secretKeyRef.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvVar {
    /// Environment variable name.
    pub name: String,
    /// Direct value (empty when `secret_ref` is set).
    pub value: String,
    /// Kubernetes secretKeyRef.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
}

/// Request of `BuildEnvVars`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BuildEnvVarsRequest {
    /// The references to translate.
    pub secret_refs: Vec<SecretRef>,
}

/// Response of `BuildEnvVars`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuildEnvVarsResponse {
    /// One variable per reference.
    pub env_vars: Vec<EnvVar>,
}

/// A secrets backend, whichever runtime serves it.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Who the plugin is (the `Handshake` RPC).
    async fn handshake(&self) -> Result<PluginInfo, Error>;
    /// One secret.
    async fn get_secret(&self, request: GetSecretRequest) -> Result<GetSecretResponse, Error>;
    /// Several secrets.
    async fn get_secrets(&self, request: GetSecretsRequest) -> Result<GetSecretsResponse, Error>;
    /// Container environment variables for secret references.
    async fn build_env_vars(
        &self,
        request: BuildEnvVarsRequest,
    ) -> Result<BuildEnvVarsResponse, Error>;
}
