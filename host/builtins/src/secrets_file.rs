//! Secrets `file`: secrets from one YAML/JSON file, or from a directory with one file per
//! secret (the layout of a mounted Kubernetes Secret).
//!
//! ```yaml
//! secrets:
//!   backend: file
//!   config:
//!     file: secrets.yaml       # a map key -> value; or instead:
//!     # dir: /run/secrets      # one file per key, content minus one trailing newline
//! ```
//!
//! Exactly one of `file` and `dir` is set; relative paths resolve against the config file's
//! directory. Both are read again on every call, so rotating a secret needs no restart. In
//! `dir` mode a key is a plain file name: `/`, `.` and `..` are refused, so a key cannot
//! reach outside the directory. A file or directory that group or others may read gets one
//! warning at start. No secret value ever appears in a log or an error message; parse errors
//! of the file give only the line and column.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use robodev_core::secrets::{
    Backend, BuildEnvVarsRequest, BuildEnvVarsResponse, EnvVar, GetSecretRequest,
    GetSecretResponse, GetSecretsRequest, GetSecretsResponse,
};
use robodev_core::{Error, ErrorCode, Interface, PluginInfo};
use serde::Deserialize;
use serde_json::Value;

use super::{BuiltinConfigError, BuiltinContext, Schema, host_error, plugin_error};

/// The built-in's name.
pub const NAME: &str = "file";

const INTERFACE: Interface = Interface::Secrets;

const SCHEMA: Schema = Schema {
    name: NAME,
    known: &["file", "dir"],
    required: &[],
};

/// The options of secrets `file`: exactly one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// A YAML or JSON file holding a map of key to value.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// A directory holding one file per key.
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

impl Options {
    /// Parses and checks the options from a `config:` map.
    pub fn from_config(config: &Value) -> Result<Options, BuiltinConfigError> {
        let options: Options = super::parse_options(&SCHEMA, config)?;
        match (&options.file, &options.dir) {
            (Some(_), Some(_)) => Err(BuiltinConfigError::new(
                "dir",
                "`file` and `dir` exclude each other; set only one",
            )),
            (None, None) => Err(BuiltinConfigError::new(
                "",
                "set one of the options `file` (a YAML or JSON map of secrets) or `dir` (a directory with one file per secret)",
            )),
            (Some(p), None) if p.as_os_str().is_empty() => {
                Err(BuiltinConfigError::new("file", "must not be empty"))
            }
            (None, Some(p)) if p.as_os_str().is_empty() => {
                Err(BuiltinConfigError::new("dir", "must not be empty"))
            }
            _ => Ok(options),
        }
    }
}

/// Where the secrets are.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Dir(PathBuf),
}

/// Secrets `file`.
#[derive(Debug, Clone)]
pub struct FileSecrets {
    source: Source,
}

/// The secrets as read for one call.
enum Snapshot {
    Map(serde_json::Map<String, Value>),
    Dir,
}

impl FileSecrets {
    /// Checks that the file or directory exists, and warns when others may read it.
    pub async fn new(options: Options, context: &BuiltinContext) -> Result<Self, Error> {
        let source = match (options.file, options.dir) {
            (Some(f), None) => Source::File(context.resolve(&f)),
            (None, Some(d)) => Source::Dir(context.resolve(&d)),
            _ => {
                return Err(host_error(
                    NAME,
                    INTERFACE,
                    "invalid options: set exactly one of `file` and `dir`",
                ));
            }
        };
        let (path, want_dir) = match &source {
            Source::File(p) => (p, false),
            Source::Dir(p) => (p, true),
        };
        let meta = tokio::fs::metadata(path).await.map_err(|e| {
            host_error(
                NAME,
                INTERFACE,
                format!("cannot read secrets {}: {e}", path.display()),
            )
        })?;
        if meta.is_dir() != want_dir {
            return Err(host_error(
                NAME,
                INTERFACE,
                format!(
                    "secrets {} is {}; `{}` needs {}",
                    path.display(),
                    if meta.is_dir() {
                        "a directory"
                    } else {
                        "not a directory"
                    },
                    if want_dir { "dir" } else { "file" },
                    if want_dir { "a directory" } else { "a file" },
                ),
            ));
        }
        warn_if_shared(path, &meta);
        Ok(FileSecrets { source })
    }

    async fn snapshot(&self) -> Result<Snapshot, Error> {
        match &self.source {
            Source::Dir(_) => Ok(Snapshot::Dir),
            Source::File(path) => {
                let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                    host_error(
                        NAME,
                        INTERFACE,
                        format!("cannot read secrets file {}: {e}", path.display()),
                    )
                })?;
                parse_map(path, &text)
                    .map(Snapshot::Map)
                    .map_err(|m| host_error(NAME, INTERFACE, m))
            }
        }
    }

    async fn lookup(&self, snapshot: &Snapshot, key: &str) -> Result<String, Error> {
        match (snapshot, &self.source) {
            (Snapshot::Map(map), Source::File(path)) => match map.get(key) {
                None => Err(plugin_error(
                    NAME,
                    INTERFACE,
                    ErrorCode::NotFound,
                    format!("no secret {key} in {}", path.display()),
                )),
                Some(Value::String(s)) => Ok(s.clone()),
                // YAML reads `port: 5432` as a number; its text is what the user meant.
                Some(Value::Number(n)) => Ok(n.to_string()),
                Some(Value::Bool(b)) => Ok(b.to_string()),
                Some(_) => Err(plugin_error(
                    NAME,
                    INTERFACE,
                    ErrorCode::FailedPrecondition,
                    format!("secret {key} in {} is not a string", path.display()),
                )),
            },
            (_, Source::Dir(dir)) => read_dir_secret(dir, key).await,
            (Snapshot::Dir, Source::File(_)) => Err(host_error(
                NAME,
                INTERFACE,
                "secrets snapshot does not match its source",
            )),
        }
    }
}

/// The secret `key` of a directory: its file's content minus one trailing newline.
async fn read_dir_secret(dir: &Path, key: &str) -> Result<String, Error> {
    let invalid = |why: &str| {
        plugin_error(
            NAME,
            INTERFACE,
            ErrorCode::InvalidArgument,
            format!("invalid secret key {key:?}: {why}"),
        )
    };
    if key.is_empty() {
        return Err(invalid("it is empty"));
    }
    if key == "." || key == ".." {
        return Err(invalid("it must name a file in the directory"));
    }
    if key.contains(['/', '\\', '\0']) {
        return Err(invalid("it must be a plain file name (no `/`)"));
    }
    let path = dir.join(key);
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(plugin_error(
                NAME,
                INTERFACE,
                ErrorCode::NotFound,
                format!("no secret {key} (no file {})", path.display()),
            ));
        }
        Err(e) => {
            return Err(host_error(
                NAME,
                INTERFACE,
                format!("cannot read secret file {}: {e}", path.display()),
            ));
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        plugin_error(
            NAME,
            INTERFACE,
            ErrorCode::FailedPrecondition,
            format!("secret {key} ({}) is not valid UTF-8", path.display()),
        )
    })?;
    Ok(trim_one_newline(text))
}

/// Removes one trailing line break (`\n` or `\r\n`): editors add one, the secret has none.
fn trim_one_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

/// Parses a secrets file into its map. Errors give the location only: a parser's message
/// may quote the text around the problem, which is a secret.
fn parse_map(path: &Path, text: &str) -> Result<serde_json::Map<String, Value>, String> {
    let is_json = path.extension().is_some_and(|e| e == "json");
    let doc: Value = if text.trim().is_empty() {
        Value::Object(Default::default())
    } else if is_json {
        serde_json::from_str(text).map_err(|e| {
            format!(
                "secrets file {} is not valid JSON (line {}, column {})",
                path.display(),
                e.line(),
                e.column()
            )
        })?
    } else {
        serde_norway::from_str(text).map_err(|e| match e.location() {
            Some(at) => format!(
                "secrets file {} is not valid YAML (line {}, column {})",
                path.display(),
                at.line(),
                at.column()
            ),
            None => format!(
                "secrets file {} is not a valid YAML map of key to value",
                path.display()
            ),
        })?
    };
    match doc {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Default::default()),
        other => Err(format!(
            "secrets file {} must hold a map of key to value, not {}",
            path.display(),
            super::kind(&other)
        )),
    }
}

/// Warns (once, at start) when group or others may read the secrets.
#[cfg(unix)]
fn warn_if_shared(path: &Path, meta: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "secrets {} can be read by group or others (mode {mode:o}); chmod {} it",
            path.display(),
            if meta.is_dir() { "700" } else { "600" }
        );
    }
}

/// Windows has no mode bits to check.
#[cfg(not(unix))]
fn warn_if_shared(_path: &Path, _meta: &std::fs::Metadata) {}

#[async_trait]
impl Backend for FileSecrets {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(super::plugin_info(NAME))
    }

    async fn get_secret(&self, request: GetSecretRequest) -> Result<GetSecretResponse, Error> {
        let snapshot = self.snapshot().await?;
        Ok(GetSecretResponse {
            value: self.lookup(&snapshot, &request.key).await?,
        })
    }

    async fn get_secrets(&self, request: GetSecretsRequest) -> Result<GetSecretsResponse, Error> {
        // One read for all keys, so they come from the same version of the file.
        let snapshot = self.snapshot().await?;
        let mut secrets = BTreeMap::new();
        for key in request.keys {
            let value = self.lookup(&snapshot, &key).await?;
            secrets.insert(key, value);
        }
        Ok(GetSecretsResponse { secrets })
    }

    async fn build_env_vars(
        &self,
        request: BuildEnvVarsRequest,
    ) -> Result<BuildEnvVarsResponse, Error> {
        let snapshot = self.snapshot().await?;
        let mut env_vars = Vec::with_capacity(request.secret_refs.len());
        for r in request.secret_refs {
            env_vars.push(EnvVar {
                value: self.lookup(&snapshot, &r.secret_key).await?,
                name: r.env_name,
                secret_ref: None,
            });
        }
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
            Options::from_config(&json!({"file": "s.yaml"})).unwrap(),
            Options {
                file: Some("s.yaml".into()),
                dir: None
            }
        );
        assert_eq!(
            Options::from_config(&json!({"dir": "/run/secrets"}))
                .unwrap()
                .dir,
            Some(PathBuf::from("/run/secrets"))
        );
        assert_eq!(
            Options::from_config(&json!({})).unwrap_err(),
            BuiltinConfigError::new(
                "",
                "set one of the options `file` (a YAML or JSON map of secrets) or `dir` (a directory with one file per secret)"
            )
        );
        assert_eq!(
            Options::from_config(&json!({"file": "a", "dir": "b"})).unwrap_err(),
            BuiltinConfigError::new("dir", "`file` and `dir` exclude each other; set only one")
        );
        assert_eq!(
            Options::from_config(&json!({"dir": ""})).unwrap_err(),
            BuiltinConfigError::new("dir", "must not be empty")
        );
        assert_eq!(
            Options::from_config(&json!({"dirs": "x"})).unwrap_err(),
            BuiltinConfigError::new(
                "dirs",
                "unknown option `dirs` of `file`; did you mean `dir`?"
            )
        );
    }

    #[test]
    fn newline_trimming() {
        assert_eq!(trim_one_newline("abc\n".into()), "abc");
        assert_eq!(trim_one_newline("abc\r\n".into()), "abc");
        assert_eq!(trim_one_newline("abc\n\n".into()), "abc\n");
        assert_eq!(trim_one_newline("abc".into()), "abc");
    }

    #[test]
    fn parse_errors_never_quote_the_file() {
        let err = parse_map(Path::new("s.yaml"), "token: \"hunter2\n  other: [").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            err.starts_with("secrets file s.yaml is not valid YAML (line "),
            "{err}"
        );
        let err = parse_map(Path::new("s.json"), r#"{"token": "hunter2" "#).unwrap_err();
        assert_eq!(
            err,
            "secrets file s.json is not valid JSON (line 1, column 20)"
        );
        let err = parse_map(Path::new("s.yaml"), "- hunter2\n").unwrap_err();
        assert_eq!(
            err,
            "secrets file s.yaml must hold a map of key to value, not a list"
        );
    }
}
