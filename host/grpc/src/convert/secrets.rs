//! Secrets messages (`secrets.proto`) ↔ `robodev_core::secrets`.

use robodev_core::secrets::{
    BuildEnvVarsRequest, BuildEnvVarsResponse, EnvVar, GetSecretRequest, GetSecretResponse,
    GetSecretsRequest, GetSecretsResponse, SecretKeyRef, SecretRef,
};

use super::{each, plain};
use crate::pb::rd as pb;

plain! {
    GetSecretRequest <=> GetSecretRequest { key }
    GetSecretResponse <=> GetSecretResponse { value }
    GetSecretsRequest <=> GetSecretsRequest { keys }
    SecretRef <=> SecretRef { env_name, secret_key }
    SecretKeyRef <=> SecretKeyRef { name, key }
}

impl From<GetSecretsResponse> for pb::GetSecretsResponse {
    fn from(r: GetSecretsResponse) -> Self {
        let GetSecretsResponse { secrets } = r;
        pb::GetSecretsResponse {
            secrets: secrets.into_iter().collect(),
        }
    }
}

impl From<pb::GetSecretsResponse> for GetSecretsResponse {
    fn from(r: pb::GetSecretsResponse) -> Self {
        let pb::GetSecretsResponse { secrets } = r;
        GetSecretsResponse {
            secrets: secrets.into_iter().collect(),
        }
    }
}

impl From<EnvVar> for pb::EnvVar {
    fn from(v: EnvVar) -> Self {
        let EnvVar {
            name,
            value,
            secret_ref,
        } = v;
        pb::EnvVar {
            name,
            value,
            secret_ref: secret_ref.map(Into::into),
        }
    }
}

impl From<pb::EnvVar> for EnvVar {
    fn from(v: pb::EnvVar) -> Self {
        let pb::EnvVar {
            name,
            value,
            secret_ref,
        } = v;
        EnvVar {
            name,
            value,
            secret_ref: secret_ref.map(Into::into),
        }
    }
}

impl From<BuildEnvVarsRequest> for pb::BuildEnvVarsRequest {
    fn from(r: BuildEnvVarsRequest) -> Self {
        let BuildEnvVarsRequest { secret_refs } = r;
        pb::BuildEnvVarsRequest {
            secret_refs: each(secret_refs),
        }
    }
}

impl From<pb::BuildEnvVarsRequest> for BuildEnvVarsRequest {
    fn from(r: pb::BuildEnvVarsRequest) -> Self {
        let pb::BuildEnvVarsRequest { secret_refs } = r;
        BuildEnvVarsRequest {
            secret_refs: each(secret_refs),
        }
    }
}

impl From<BuildEnvVarsResponse> for pb::BuildEnvVarsResponse {
    fn from(r: BuildEnvVarsResponse) -> Self {
        let BuildEnvVarsResponse { env_vars } = r;
        pb::BuildEnvVarsResponse {
            env_vars: each(env_vars),
        }
    }
}

impl From<pb::BuildEnvVarsResponse> for BuildEnvVarsResponse {
    fn from(r: pb::BuildEnvVarsResponse) -> Self {
        let pb::BuildEnvVarsResponse { env_vars } = r;
        BuildEnvVarsResponse {
            env_vars: each(env_vars),
        }
    }
}
