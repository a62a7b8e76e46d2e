//! The test harness: a real OCI registry (Debian's docker-registry, distribution 2.8) on
//! 127.0.0.1, raw HTTP to it, the component under test, and the oras interop client.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use robodev_oci::{Client, ClientOptions, DockerConfig, Pushed, Reference};
pub use robodev_test_support::registry::ensure_tools;
use robodev_test_support::registry::{self, Auth};
pub use robodev_test_support::repo::repo_root;
use robodev_test_support::repo::run_script;
pub use robodev_test_support::tls::TestCa;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::token::{ISSUER, SERVICE, TokenServer};

/// The user and password of the htpasswd registry.
pub const USER: &str = "robodev";
pub const PASSWORD: &str = "s3cret-pa55";

/// A real component to push: the review_rules guest, built if missing.
pub fn wasm_file() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = repo_root().join("guests/target/wasm32-wasip2/release/review_rules.wasm");
        if !path.exists() {
            run_script("build-guests", &["--quiet"]);
        }
        assert!(path.exists(), "{} was not built", path.display());
        path
    })
    .clone()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A client with its own cache under `dir`, reading no docker config (the machine's own
/// `~/.docker/config.json` must not change what the tests see).
pub fn client(dir: &Path) -> Client {
    Client::new(ClientOptions::new(dir).docker_config(DockerConfig::Disabled))
}

/// Pushes the test component, without annotations, to `rest` (`REPOSITORY:TAG`) of `registry`.
pub async fn push_wasm(client: &Client, registry: &Registry, rest: &str) -> Pushed {
    client
        .push(&wasm_file(), &registry.reference(rest), no_annotations())
        .await
        .unwrap()
}

/// A docker-registry process on 127.0.0.1 (robodev-test-support's), killed when dropped,
/// whose [`Registry::reference`] is a robodev-oci [`Reference`].
pub struct Registry(registry::Registry);

impl Registry {
    /// A registry without authentication.
    pub async fn start() -> Self {
        Self::start_with(Auth::None, None).await
    }

    /// A registry requiring HTTP Basic auth as [`USER`] / [`PASSWORD`] (bcrypt htpasswd).
    pub async fn start_with_htpasswd() -> Self {
        Self::start_with(htpasswd(), None).await
    }

    /// A registry requiring bearer tokens from `server` (the distribution token spec).
    pub async fn start_with_token(server: &TokenServer) -> Self {
        let (realm, cert_pem) = (server.realm.clone(), server.cert_pem.clone());
        Self::start_blocking(move || {
            let auth = Auth::Token {
                realm: &realm,
                service: SERVICE,
                issuer: ISSUER,
                cert_pem: &cert_pem,
            };
            registry::Registry::start_with(&auth, None)
        })
        .await
    }

    /// A registry serving HTTPS only, with the server certificate of `ca`; requiring HTTP Basic
    /// auth as [`USER`] / [`PASSWORD`] when `htpasswd`.
    pub async fn start_with_tls(ca: &TestCa, htpasswd_auth: bool) -> Self {
        let auth = if htpasswd_auth {
            htpasswd()
        } else {
            Auth::None
        };
        Self::start_with(auth, Some(ca.clone())).await
    }

    async fn start_with(auth: Auth<'static>, tls: Option<TestCa>) -> Self {
        Self::start_blocking(move || registry::Registry::start_with(&auth, tls.as_ref())).await
    }

    /// Installs the tools and starts the registry on a blocking thread: it waits for the
    /// registry, and a token server on this test's runtime must keep answering meanwhile.
    async fn start_blocking(start: impl FnOnce() -> registry::Registry + Send + 'static) -> Self {
        let started = tokio::task::spawn_blocking(move || {
            ensure_tools();
            start()
        });
        Registry(started.await.unwrap())
    }

    /// `oci://127.0.0.1:PORT/{rest}`, or `oci+https://...` for a TLS registry (`oci://`
    /// means plain HTTP to loopback).
    pub fn reference(&self, rest: &str) -> Reference {
        Reference::parse(&self.0.reference(rest)).unwrap()
    }
}

/// `port`, `host()`, `log()`, `stop()`: those of the registry.
impl Deref for Registry {
    type Target = registry::Registry;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Registry {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

fn htpasswd() -> Auth<'static> {
    Auth::Htpasswd {
        user: USER,
        password: PASSWORD,
    }
}

/// A raw HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), by hand: the tests
/// check robodev against the registry, not against another client library.
pub async fn http(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<RawResponse> {
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

/// Uploads one blob with raw HTTP (POST, then a monolithic PUT).
pub async fn upload_raw(host: &str, repository: &str, blob: &[u8]) -> String {
    let digest = sha256(blob);
    let start = http(
        host,
        "POST",
        &format!("/v2/{repository}/blobs/uploads/"),
        &[],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(start.status, 202, "{start:?}");
    let location = start.header("Location").unwrap();
    let path = match location.find("/v2/") {
        Some(i) => &location[i..],
        None => panic!("unexpected Location {location}"),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    let put = http(
        host,
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        blob,
    )
    .await
    .unwrap();
    assert_eq!(put.status, 201, "{put:?}");
    digest
}

/// Pushes an artifact with raw HTTP: the config and layers as given (media type, bytes), and
/// an OCI image manifest listing them. Returns the manifest digest.
pub async fn push_raw(
    host: &str,
    repository: &str,
    tag: &str,
    config: (&str, &[u8]),
    layers: &[(&str, &[u8])],
) -> String {
    let descriptor = |media_type: &str, digest: String, bytes: &[u8]| serde_json::json!({"mediaType": media_type, "digest": digest, "size": bytes.len()});
    let config_digest = upload_raw(host, repository, config.1).await;
    let mut layer_descriptors = Vec::new();
    for (media_type, bytes) in layers {
        let digest = upload_raw(host, repository, bytes).await;
        layer_descriptors.push(descriptor(media_type, digest, bytes));
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor(config.0, config_digest, config.1),
        "layers": layer_descriptors,
    }))
    .unwrap();
    let put = http(
        host,
        "PUT",
        &format!("/v2/{repository}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &manifest,
    )
    .await
    .unwrap();
    assert_eq!(put.status, 201, "{put:?}");
    let digest = sha256(&manifest);
    assert_eq!(put.header("Docker-Content-Digest"), Some(digest.as_str()));
    digest
}

/// The manifest stored under `tag`, parsed, by raw HTTP.
pub async fn get_manifest(host: &str, repository: &str, tag: &str) -> serde_json::Value {
    let response = http(
        host,
        "GET",
        &format!("/v2/{repository}/manifests/{tag}"),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200, "{response:?}");
    serde_json::from_slice(&response.body).unwrap()
}

/// Collects what `tracing` writes, to check the warnings a user would read.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Captures this thread's `tracing` warnings (a `#[tokio::test]` runs on one thread, so all of
/// the test's) until the guard is dropped.
///
/// Every test that reaches a warning some test reads must hold one, even if it does not read
/// it: tracing-core decides whether a callsite is of interest when it is first hit, and while
/// just one scoped subscriber exists in the process it asks only the hitting thread's, so a
/// first hit from a thread without a subscriber would silence that warning for the test that
/// reads it.
pub fn capture_warnings() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// No annotations.
pub fn no_annotations() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// Runs tests/oras_interop.py with the oras venv's Python in `cwd`; returns its JSON output.
pub fn oras(cwd: &Path, args: &[&str]) -> serde_json::Value {
    ensure_tools();
    let python = repo_root().join("target/interop/oras-venv/bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oras_interop.py");
    let out = Command::new(&python)
        .arg(&script)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "oras_interop.py {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oras_interop.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
