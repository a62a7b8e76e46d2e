//! Registry credentials: given by the caller, or read from docker's `config.json`, and the
//! `WWW-Authenticate` challenges that say how to use them.
//!
//! Registries answer an anonymous request with 401 and a challenge: `Basic realm=...` (send the
//! user and password) or `Bearer realm=...,service=...,scope=...` (fetch a token from the realm,
//! with the user and password if there are any, and send that). Credential helpers
//! (`credsStore`, `credHelpers`) and OAuth identity tokens in the docker config are not used:
//! only `auths.<registry>.auth` (base64 `user:password`) or `username`/`password`.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

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
    /// came from; `Ok(None)` when there is no file or no entry. Errors are (path, reason).
    pub(crate) async fn lookup(
        &self,
        registry: &str,
    ) -> Result<Option<(Credentials, String)>, (PathBuf, String)> {
        let Some((path, required)) = self.path() else {
            return Ok(None);
        };
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
            Err(e) => return Err((path, e.to_string())),
        };
        let file: ConfigFile = serde_json::from_str(&text)
            .map_err(|e| (path.clone(), format!("not valid docker config JSON: {e}")))?;
        let Some(entry) = file
            .auths
            .iter()
            .find(|(key, _)| auth_key_matches(key, registry))
            .map(|(_, entry)| entry)
        else {
            return Ok(None);
        };
        let source = format!("{} (auths.\"{registry}\")", path.display());
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
                (
                    path.clone(),
                    format!("auths.\"{registry}\".auth is not base64 of user:password"),
                )
            })?;
        let (username, password) = decoded.split_once(':').ok_or_else(|| {
            (
                path.clone(),
                format!("auths.\"{registry}\".auth does not hold user:password"),
            )
        })?;
        Ok(Some((Credentials::basic(username, password), source)))
    }
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
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
    let hub = ["docker.io", "registry-1.docker.io", "index.docker.io"];
    hub.contains(&registry) && hub.iter().any(|h| host.eq_ignore_ascii_case(h))
}

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// Send HTTP Basic credentials.
    Basic,
    /// Fetch a token from `realm` (with `service` and `scope` as query parameters).
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses the challenges of `WWW-Authenticate` header values (RFC 7235: `scheme param=value,
/// param="quoted, value", other-scheme ...`). Unknown schemes are skipped.
pub(crate) fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        let mut scheme: Option<String> = None;
        let mut params: Vec<(String, String)> = Vec::new();
        let mut rest = value.trim();
        while !rest.is_empty() {
            rest = rest.trim_start_matches([',', ' ', '\t']);
            let token_end = rest.find(['=', ' ', ',', '\t']).unwrap_or(rest.len());
            let token = &rest[..token_end];
            let after = rest[token_end..].trim_start_matches([' ', '\t']);
            if let Some(value_part) = after.strip_prefix('=') {
                let value_part = value_part.trim_start_matches([' ', '\t']);
                let (value, remaining) = if let Some(quoted) = value_part.strip_prefix('"') {
                    let mut value = String::new();
                    let mut chars = quoted.char_indices();
                    let mut end = quoted.len();
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, escaped)) = chars.next() {
                                    value.push(escaped);
                                }
                            }
                            '"' => {
                                end = i + 1;
                                break;
                            }
                            c => value.push(c),
                        }
                    }
                    (value, &quoted[end..])
                } else {
                    let end = value_part
                        .find([',', ' ', '\t'])
                        .unwrap_or(value_part.len());
                    (value_part[..end].to_owned(), &value_part[end..])
                };
                params.push((token.to_ascii_lowercase(), value));
                rest = remaining;
            } else {
                if token.is_empty() {
                    break;
                }
                if let Some(done) = scheme.take() {
                    out.extend(make_challenge(&done, std::mem::take(&mut params)));
                }
                scheme = Some(token.to_owned());
                params.clear();
                rest = after;
            }
        }
        if let Some(done) = scheme {
            out.extend(make_challenge(&done, params));
        }
    }
    out
}

fn make_challenge(scheme: &str, params: Vec<(String, String)>) -> Option<Challenge> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic)
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    } else {
        None
    }
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters pass through).
pub(crate) fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let c = parse_challenges([
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        ]);
        assert_eq!(
            c,
            vec![Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }]
        );
        assert_eq!(
            parse_challenges([r#"Basic realm="Registry Realm""#]),
            vec![Challenge::Basic]
        );
        let both = parse_challenges([r#"Newauth realm="x", basic realm="y", Bearer realm=z"#]);
        assert_eq!(
            both,
            vec![
                Challenge::Basic,
                Challenge::Bearer {
                    realm: "z".into(),
                    service: None,
                    scope: None
                }
            ]
        );
        assert_eq!(parse_challenges(["Bearer service=x"]), vec![]);
        assert_eq!(
            parse_challenges([r#"Bearer realm="a\"b""#]),
            vec![Challenge::Bearer {
                realm: "a\"b".into(),
                service: None,
                scope: None
            }]
        );
    }

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

    #[test]
    fn auth_keys() {
        assert!(auth_key_matches("127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(auth_key_matches("https://ghcr.io", "ghcr.io"));
        assert!(auth_key_matches("https://index.docker.io/v1/", "docker.io"));
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
            }})
            .to_string(),
        )
        .unwrap();
        let config = DockerConfig::File(path.clone());
        let (creds, source) = config.lookup("reg.example:5000").await.unwrap().unwrap();
        assert_eq!(creds, Credentials::basic("bob", "pa:ss"));
        assert!(source.contains("config.json"), "{source}");
        let (creds, _) = config.lookup("other.example").await.unwrap().unwrap();
        assert_eq!(creds, Credentials::basic("u", "p"));
        assert!(config.lookup("tokens.example").await.unwrap().is_none());
        assert!(config.lookup("nowhere.example").await.unwrap().is_none());

        std::fs::write(&path, "{not json").unwrap();
        let (p, reason) = config.lookup("reg.example:5000").await.unwrap_err();
        assert_eq!(p, path);
        assert!(reason.contains("not valid docker config JSON"), "{reason}");

        let missing = DockerConfig::File(dir.join("missing.json"));
        assert!(missing.lookup("reg.example:5000").await.is_err());
        assert!(
            DockerConfig::Disabled
                .lookup("reg.example:5000")
                .await
                .unwrap()
                .is_none()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn escapes_query_values() {
        assert_eq!(
            query_escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}
