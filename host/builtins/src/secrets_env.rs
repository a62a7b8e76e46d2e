//! Secrets `env`: a secret is the environment variable `prefix + key` of robodev's process.
//!
//! ```yaml
//! secrets:
//!   backend: env
//!   config:
//!     prefix: ROBODEV_SECRET_   # optional, default ""
//! ```
//!
//! Values are never logged nor quoted in errors.

use async_trait::async_trait;
use robodev_core::secrets::{
    Backend, BuildEnvVarsRequest, BuildEnvVarsResponse, EnvVar, GetSecretRequest,
    GetSecretResponse, GetSecretsRequest, GetSecretsResponse,
};
use robodev_core::{Error, ErrorCode, Interface, PluginInfo};
use serde::Deserialize;
use serde_json::Value;

use super::{BuiltinConfigError, Schema, plugin_error};

/// The built-in's name.
pub const NAME: &str = "env";

const INTERFACE: Interface = Interface::Secrets;

const SCHEMA: Schema = Schema {
    name: NAME,
    known: &["prefix"],
    required: &[],
};

/// The options of secrets `env`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Prepended to a key to get the variable's name (default empty).
    #[serde(default)]
    pub prefix: String,
}

impl Options {
    /// Parses and checks the options from a `config:` map.
    pub fn from_config(config: &Value) -> Result<Options, BuiltinConfigError> {
        let options: Options = super::parse_options(&SCHEMA, config)?;
        if options.prefix.contains(['=', '\0']) {
            return Err(BuiltinConfigError::new(
                "prefix",
                "must not contain `=` or a NUL character (they cannot be in a variable name)",
            ));
        }
        Ok(options)
    }
}

/// Secrets `env`.
#[derive(Debug, Clone)]
pub struct EnvSecrets {
    prefix: String,
}

impl EnvSecrets {
    /// A backend with these options.
    pub fn new(options: Options) -> Self {
        EnvSecrets {
            prefix: options.prefix,
        }
    }

    /// The value of secret `key`.
    fn lookup(&self, key: &str) -> Result<String, Error> {
        if key.is_empty() || key.contains(['=', '\0']) {
            // std::env may panic on such names, and no variable can have them anyway.
            return Err(plugin_error(
                NAME,
                INTERFACE,
                ErrorCode::InvalidArgument,
                format!("invalid secret key {key:?}: it must be non-empty and have no `=` or NUL"),
            ));
        }
        let var = format!("{}{key}", self.prefix);
        match std::env::var(&var) {
            Ok(value) => Ok(value),
            Err(std::env::VarError::NotPresent) => Err(plugin_error(
                NAME,
                INTERFACE,
                ErrorCode::NotFound,
                format!("no secret {key} (environment variable {var} is not set)"),
            )),
            Err(std::env::VarError::NotUnicode(_)) => Err(plugin_error(
                NAME,
                INTERFACE,
                ErrorCode::FailedPrecondition,
                format!("secret {key} (environment variable {var}) is not valid UTF-8"),
            )),
        }
    }
}

#[async_trait]
impl Backend for EnvSecrets {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(super::plugin_info(NAME))
    }

    async fn get_secret(&self, request: GetSecretRequest) -> Result<GetSecretResponse, Error> {
        Ok(GetSecretResponse {
            value: self.lookup(&request.key)?,
        })
    }

    async fn get_secrets(&self, request: GetSecretsRequest) -> Result<GetSecretsResponse, Error> {
        let secrets = request
            .keys
            .into_iter()
            .map(|key| self.lookup(&key).map(|value| (key, value)))
            .collect::<Result<_, _>>()?;
        Ok(GetSecretsResponse { secrets })
    }

    async fn build_env_vars(
        &self,
        request: BuildEnvVarsRequest,
    ) -> Result<BuildEnvVarsResponse, Error> {
        let env_vars = request
            .secret_refs
            .into_iter()
            .map(|r| {
                Ok(EnvVar {
                    value: self.lookup(&r.secret_key)?,
                    name: r.env_name,
                    secret_ref: None,
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
            Options::from_config(&json!({"prefix": "APP_"}))
                .unwrap()
                .prefix,
            "APP_"
        );
        assert_eq!(
            Options::from_config(&json!({"prefx": "APP_"})).unwrap_err(),
            BuiltinConfigError::new(
                "prefx",
                "unknown option `prefx` of `env`; did you mean `prefix`?"
            )
        );
        assert_eq!(
            Options::from_config(&json!({"prefix": "A=B"})).unwrap_err(),
            BuiltinConfigError::new(
                "prefix",
                "must not contain `=` or a NUL character (they cannot be in a variable name)"
            )
        );
        assert_eq!(
            Options::from_config(&json!({"prefix": 1})).unwrap_err(),
            BuiltinConfigError::new("prefix", "invalid type: integer `1`, expected a string")
        );
    }

    #[test]
    fn bad_keys_are_invalid_arguments() {
        let s = EnvSecrets::new(Options::default());
        for key in ["", "A=B", "A\0"] {
            let err = s.lookup(key).unwrap_err();
            assert_eq!(err.label(), "invalid_argument", "{key:?}");
        }
    }
}
