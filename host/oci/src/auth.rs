//! Registry credentials: given by the caller, or found through docker's `config.json`.
//!
//! Registries answer an anonymous request with 401 and a challenge, which oci-client answers
//! with these credentials (see [`crate::registry`]). From the docker config, as docker reads it:
//! a credential helper named for the registry in `credHelpers`, else the `credsStore` helper,
//! else `auths.<registry>.auth` (base64 `user:password`) or `username`/`password`. A helper is
//! the program `docker-credential-NAME`, run as `docker-credential-NAME get` with the registry
//! on its standard input; it answers `{"Username":...,"Secret":...}`. OAuth identity tokens
//! (`identitytoken`, or a helper's user name `<token>`) are refused with a clear error: the
//! OAuth2 refresh-token exchange they need is not implemented.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::error::bounded;

/// Credentials for a registry.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// A user name and password (or access token used as a password, as GHCR and most cloud
    /// registries take them). Sent as HTTP Basic auth, or exchanged for a bearer token when the
    /// registry asks for one.
    Basic {
        /// The user name.
        username: String,
        /// The password or access token.
        password: String,
    },
    /// A registry bearer token obtained elsewhere, sent as is (`Authorization: Bearer ...`).
    Bearer(String),
}

impl Credentials {
    /// Basic credentials.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// A bearer token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Self::Bearer(token.into())
    }

    /// The `Basic ...` header value, for basic credentials.
    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Self::Basic { username, password } => Some(format!(
                "Basic {}",
                BASE64.encode(format!("{username}:{password}"))
            )),
            Self::Bearer(_) => None,
        }
    }
}

// Secrets never reach logs through `{:?}`.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Self::Bearer(_) => f.debug_tuple("Bearer").field(&"<redacted>").finish(),
        }
    }
}

/// Where to read docker's `config.json` (the file `docker login`, `oras login` and `helm
/// registry login` write) from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DockerConfig {
    /// `$DOCKER_CONFIG/config.json` if `DOCKER_CONFIG` is set, else `$HOME/.docker/config.json`;
    /// a missing file means no credentials.
    #[default]
    Default,
    /// This file; a missing file is an error, since the caller named it.
    File(PathBuf),
    /// Never read one.
    Disabled,
}

impl DockerConfig {
    /// The file to read, and whether it must exist.
    fn path(&self) -> Option<(PathBuf, bool)> {
        match self {
            Self::Disabled => None,
            Self::File(path) => Some((path.clone(), true)),
            Self::Default => {
                if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
                    return Some((Path::new(&dir).join("config.json"), false));
                }
                let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
                Some((Path::new(&home).join(".docker/config.json"), false))
            }
        }
    }

    /// The credentials the config file holds for `registry`, with a description of where they
    /// came from; `Ok(None)` when there is no file or no entry. Credential helpers are looked
    /// for in `helper_path` (`PATH` form), else in the process's `PATH`.
    pub(crate) async fn lookup(
        &self,
        registry: &str,
        helper_path: Option<&OsStr>,
    ) -> Result<Option<(Credentials, String)>, LookupError> {
        let Some((path, required)) = self.path() else {
            return Ok(None);
        };
        let config_error = |path: &Path, reason: String| LookupError::Config {
            path: path.to_owned(),
            reason,
        };
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
            Err(e) => return Err(config_error(&path, e.to_string())),
        };
        let file: ConfigFile = serde_json::from_str(&text)
            .map_err(|e| config_error(&path, format!("not valid docker config JSON: {e}")))?;
        let helper = find_entry(&file.cred_helpers, registry)
            .map(|(_, name)| name)
            .or(file.creds_store.as_ref())
            .filter(|name| !name.is_empty());
        if let Some(name) = helper {
            return run_helper(name, registry, helper_path).await;
        }
        let Some((key, entry)) = find_entry(&file.auths, registry) else {
            return Ok(None);
        };
        let source = format!("{} (auths.\"{key}\")", path.display());
        if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
            return Ok(Some((Credentials::basic(username, password), source)));
        }
        let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) else {
            tracing::debug!(
                registry,
                config = %path.display(),
                "the docker config entry has no `auth` (identity tokens are not supported)"
            );
            return Ok(None);
        };
        let decoded = BASE64
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                config_error(
                    &path,
                    format!("auths.\"{registry}\".auth is not base64 of user:password"),
                )
            })?;
        let (username, password) = decoded.split_once(':').ok_or_else(|| {
            config_error(
                &path,
                format!("auths.\"{registry}\".auth does not hold user:password"),
            )
        })?;
        Ok(Some((Credentials::basic(username, password), source)))
    }
}

/// Why no credentials could be had from the docker config.
#[derive(Debug)]
pub(crate) enum LookupError {
    /// The config file could not be read or parsed.
    Config { path: PathBuf, reason: String },
    /// Its credential helper failed.
    Helper {
        helper: String,
        registry: String,
        reason: String,
    },
}

impl LookupError {
    pub(crate) fn into_error(self, reference: &crate::Reference) -> crate::Error {
        match self {
            Self::Config { path, reason } => crate::Error::DockerConfig {
                reference: reference.to_string(),
                path,
                reason,
            },
            Self::Helper {
                helper,
                registry,
                reason,
            } => crate::Error::CredentialHelper {
                reference: reference.to_string(),
                helper,
                registry,
                reason,
            },
        }
    }
}

/// How long a credential helper may run (they may unlock a keychain, or ask a cloud's metadata
/// service, but never for ever).
pub const CREDENTIAL_HELPER_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of a credential helper's output read (its answer is a small JSON object).
pub const MAX_CREDENTIAL_HELPER_OUTPUT: u64 = 64 * 1024;

/// The server URL docker's helpers store Docker Hub's credentials under.
const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// Runs `docker-credential-NAME get` for `registry`. A helper that says it has no entry
/// ("credentials not found") means no credentials; anything else that goes wrong is an error
/// naming the helper and the registry.
async fn run_helper(
    name: &str,
    registry: &str,
    helper_path: Option<&OsStr>,
) -> Result<Option<(Credentials, String)>, LookupError> {
    let helper = format!("docker-credential-{name}");
    let fail = |reason: String| LookupError::Helper {
        helper: helper.clone(),
        registry: registry.to_owned(),
        reason: bounded(&reason),
    };
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(fail("not a helper name".to_owned()));
    }
    let search = helper_path
        .map(OsStr::to_owned)
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    let program = std::env::split_paths(&search)
        .map(|dir| dir.join(&helper))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            fail(format!(
                "not found in {} (install it, or remove it from the docker config)",
                if helper_path.is_some() {
                    "ClientOptions::credential_helper_path"
                } else {
                    "PATH"
                }
            ))
        })?;
    let server = docker_key(registry);
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", program.display())))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(fail("its standard streams were not set up".to_owned()));
    };
    let talk = async {
        // A helper that exits without reading its input is judged by its answer, not by this.
        let _ = stdin.write_all(server.as_bytes()).await;
        drop(stdin);
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut stdout = stdout.take(MAX_CREDENTIAL_HELPER_OUTPUT);
        let mut stderr = stderr.take(MAX_CREDENTIAL_HELPER_OUTPUT);
        let (read_out, read_err) =
            tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err),);
        read_out?;
        read_err?;
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, out, err))
    };
    let (status, out, err) = tokio::time::timeout(CREDENTIAL_HELPER_TIMEOUT, talk)
        .await
        .map_err(|_| fail(format!("no answer within {CREDENTIAL_HELPER_TIMEOUT:?}")))?
        .map_err(|e| fail(e.to_string()))?;
    let out_text = String::from_utf8_lossy(&out);
    if !status.success() {
        if out_text.contains("credentials not found") {
            return Ok(None);
        }
        let err_text = String::from_utf8_lossy(&err);
        let said = [out_text.trim(), err_text.trim()]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(fail(format!(
            "`{helper} get` failed ({status}){}",
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        )));
    }
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let answer: Answer = serde_json::from_slice(&out)
        .map_err(|e| fail(format!("answered with something other than its JSON: {e}")))?;
    if answer.username == "<token>" {
        return Err(fail(
            "answered with an identity token (user name <token>), whose OAuth2 refresh-token \
             exchange robodev does not implement"
                .to_owned(),
        ));
    }
    if answer.secret.is_empty() {
        return Ok(None);
    }
    let source = format!("the credential helper {helper}");
    Ok(Some((
        Credentials::basic(answer.username, answer.secret),
        source,
    )))
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    /// The helper for every registry without a `credHelpers` entry.
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    /// A helper per registry.
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The names of Docker Hub whose credentials docker keeps under [`DOCKER_HUB_SERVER`]
/// (`registry-1.docker.io` is a registry of its own to docker, keyed by its name).
const DOCKER_HUB_NAMES: [&str; 2] = ["docker.io", "index.docker.io"];

/// The key docker uses for `registry`'s credentials in `config.json` and with its helpers:
/// [`DOCKER_HUB_SERVER`] for Docker Hub, else `host[:port]`.
pub(crate) fn docker_key(registry: &str) -> &str {
    if DOCKER_HUB_NAMES
        .iter()
        .any(|h| h.eq_ignore_ascii_case(registry))
    {
        DOCKER_HUB_SERVER
    } else {
        registry
    }
}

/// The entry of `map` for `registry`: docker's own key ([`docker_key`]) first, else the first
/// key naming the same host (older docker versions and other tools wrote `https://host` or,
/// for Docker Hub, `docker.io`).
fn find_entry<'m, V>(map: &'m BTreeMap<String, V>, registry: &str) -> Option<(&'m str, &'m V)> {
    map.get_key_value(docker_key(registry))
        .or_else(|| map.iter().find(|(key, _)| auth_key_matches(key, registry)))
        .map(|(key, value)| (key.as_str(), value))
}

/// Docker writes keys as `host[:port]`, `https://host[:port]` or, for Docker Hub,
/// `https://index.docker.io/v1/`.
fn auth_key_matches(key: &str, registry: &str) -> bool {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key);
    if host.eq_ignore_ascii_case(registry) {
        return true;
    }
    let hub = |name: &str| {
        DOCKER_HUB_NAMES
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    };
    hub(registry) && hub(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let shown = format!(
            "{:?} {:?}",
            Credentials::basic("alice", "s3cret"),
            Credentials::bearer("t0ken")
        );
        assert!(shown.contains("alice"), "{shown}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0ken"),
            "{shown}"
        );
    }

    impl DockerConfig {
        async fn lookup_for_test(
            &self,
            registry: &str,
        ) -> Result<Option<(Credentials, String)>, LookupError> {
            self.lookup(registry, Some(OsStr::new(""))).await
        }
    }

    #[test]
    fn auth_keys() {
        assert!(auth_key_matches("127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(auth_key_matches("https://ghcr.io", "ghcr.io"));
        assert!(auth_key_matches("https://index.docker.io/v1/", "docker.io"));
        assert!(auth_key_matches("docker.io", "index.docker.io"));
        // docker keys registry-1.docker.io by its own name.
        assert!(!auth_key_matches(
            "https://index.docker.io/v1/",
            "registry-1.docker.io"
        ));
        assert_eq!(docker_key("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(docker_key("registry-1.docker.io"), "registry-1.docker.io");
        assert_eq!(docker_key("ghcr.io"), "ghcr.io");
        assert!(!auth_key_matches("127.0.0.1:5001", "127.0.0.1:5000"));
        assert!(!auth_key_matches("ghcr.io.evil", "ghcr.io"));
    }

    #[tokio::test]
    async fn reads_docker_config_entries() {
        let dir = std::env::temp_dir().join(format!("robodev-oci-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        std::fs::write(
            &path,
            serde_json::json!({"auths": {
                "reg.example:5000": {"auth": BASE64.encode("bob:pa:ss")},
                "other.example": {"username": "u", "password": "p"},
                "tokens.example": {"identitytoken": "x"},
                "docker.io": {"username": "old", "password": "p"},
                "https://index.docker.io/v1/": {"username": "hub", "password": "p"},
            }})
            .to_string(),
        )
        .unwrap();
        let config = DockerConfig::File(path.clone());
        let (creds, source) = config
            .lookup_for_test("reg.example:5000")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(creds, Credentials::basic("bob", "pa:ss"));
        assert!(source.contains("config.json"), "{source}");
        let (creds, _) = config
            .lookup_for_test("other.example")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(creds, Credentials::basic("u", "p"));
        // Docker Hub: docker's own key wins over an older spelling; registry-1.docker.io is
        // another registry to docker.
        let (creds, source) = config.lookup_for_test("docker.io").await.unwrap().unwrap();
        assert_eq!(creds, Credentials::basic("hub", "p"));
        assert!(
            source.ends_with("(auths.\"https://index.docker.io/v1/\")"),
            "{source}"
        );
        assert!(
            config
                .lookup_for_test("registry-1.docker.io")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            config
                .lookup_for_test("tokens.example")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            config
                .lookup_for_test("nowhere.example")
                .await
                .unwrap()
                .is_none()
        );

        std::fs::write(&path, "{not json").unwrap();
        let Err(LookupError::Config { path: p, reason }) =
            config.lookup_for_test("reg.example:5000").await
        else {
            panic!("expected a config error");
        };
        assert_eq!(p, path);
        assert!(reason.contains("not valid docker config JSON"), "{reason}");

        let missing = DockerConfig::File(dir.join("missing.json"));
        assert!(missing.lookup_for_test("reg.example:5000").await.is_err());
        assert!(
            DockerConfig::Disabled
                .lookup_for_test("reg.example:5000")
                .await
                .unwrap()
                .is_none()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
