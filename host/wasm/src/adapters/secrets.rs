//! Secrets over a component exporting `robodev:secrets/backend@1`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::secrets::*;
use robodev_core::{Error, PluginInfo};

use super::invoke;
use crate::bindings::guest::secrets::backend as w;
use crate::plugin::PluginInner;

pub(crate) struct Adapter(pub(crate) Arc<PluginInner>);

#[async_trait]
impl Backend for Adapter {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.0.info())
    }

    async fn get_secret(&self, r: GetSecretRequest) -> Result<GetSecretResponse, Error> {
        let answer = invoke!(self.0, Secrets, "get-secret", |g, s| g
            .call_get_secret(s, &r.key))?;
        self.0
            .answer(answer, |value| Ok(GetSecretResponse { value }))
    }

    async fn get_secrets(&self, r: GetSecretsRequest) -> Result<GetSecretsResponse, Error> {
        let answer = invoke!(self.0, Secrets, "get-secrets", |g, s| g
            .call_get_secrets(s, &r.keys))?;
        self.0.answer(answer, |pairs| {
            Ok(GetSecretsResponse {
                secrets: pairs.into_iter().collect(),
            })
        })
    }

    async fn build_env_vars(&self, r: BuildEnvVarsRequest) -> Result<BuildEnvVarsResponse, Error> {
        let refs: Vec<w::SecretRef> = r
            .secret_refs
            .into_iter()
            .map(|s| w::SecretRef {
                env_name: s.env_name,
                secret_key: s.secret_key,
            })
            .collect();
        let answer = invoke!(self.0, Secrets, "build-env-vars", |g, s| g
            .call_build_env_vars(s, &refs))?;
        self.0.answer(answer, |vars| {
            Ok(BuildEnvVarsResponse {
                env_vars: vars
                    .into_iter()
                    .map(|v| EnvVar {
                        name: v.name,
                        value: v.value,
                        secret_ref: v.secret_ref.map(|r| SecretKeyRef {
                            name: r.name,
                            key: r.key,
                        }),
                    })
                    .collect(),
            })
        })
    }
}
