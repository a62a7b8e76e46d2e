//! The test harness: a real OCI registry (Debian's docker-registry, distribution 2.8) on
//! 127.0.0.1, raw HTTP to it, the component under test, and the oras interop client.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use robodev_oci::{Client, ClientOptions, DockerConfig, Reference};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::token::{ISSUER, SERVICE, TokenServer};

/// The registry binary scripts/build-oci-interop installs.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// How long a registry may take to answer its first `GET /v2/`.
const REGISTRY_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many free ports to try when another process takes the one picked.
const PORT_ATTEMPTS: usize = 5;
/// The user and password of the htpasswd registry.
pub const USER: &str = "robodev";
pub const PASSWORD: &str = "s3cret-pa55";

/// The repository checkout.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("host/oci lives two levels below the repository root")
        .to_owned()
}

fn run_script(script: &str, args: &[&str]) {
    let status = Command::new("bash")
        .arg(repo_root().join("scripts").join(script))
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run scripts/{script}: {e}"));
    assert!(status.success(), "scripts/{script} failed: {status}");
}

/// Installs docker-registry, htpasswd and the oras venv if missing (once per test binary).
pub fn ensure_tools() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| run_script("build-oci-interop", &["--quiet"]));
}

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

/// A test CA, and a certificate it issued for the registry's names (127.0.0.1 and localhost).
pub struct TestCa {
    /// The CA certificate, PEM: what a client must trust.
    pub pem: String,
    /// The server certificate, PEM.
    pub cert_pem: String,
    /// The server certificate's private key, PEM (PKCS#8).
    pub key_pem: String,
}

impl TestCa {
    /// A new CA named `name` and a server certificate signed by it.
    pub fn new(name: &str) -> TestCa {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
        TestCa {
            pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// How a test registry authenticates.
enum Auth<'a> {
    None,
    Htpasswd,
    Token(&'a TokenServer),
}

/// A docker-registry process on 127.0.0.1, killed when dropped.
pub struct Registry {
    child: Option<Child>,
    pub port: u16,
    /// Whether it serves HTTPS (with a [`TestCa`]'s certificate) instead of plain HTTP.
    tls: bool,
    log: PathBuf,
    /// Holds the config, the storage and the log; removed on drop.
    _dir: tempfile::TempDir,
}

impl Registry {
    /// A registry without authentication.
    pub async fn start() -> Self {
        Self::start_with(&Auth::None, None).await
    }

    /// A registry requiring HTTP Basic auth as [`USER`] / [`PASSWORD`] (bcrypt htpasswd).
    pub async fn start_with_htpasswd() -> Self {
        Self::start_with(&Auth::Htpasswd, None).await
    }

    /// A registry requiring bearer tokens from `server` (the distribution token spec).
    pub async fn start_with_token(server: &TokenServer) -> Self {
        Self::start_with(&Auth::Token(server), None).await
    }

    /// A registry serving HTTPS only, with the server certificate of `ca`; requiring HTTP Basic
    /// auth as [`USER`] / [`PASSWORD`] when `htpasswd`.
    pub async fn start_with_tls(ca: &TestCa, htpasswd: bool) -> Self {
        let auth = if htpasswd { Auth::Htpasswd } else { Auth::None };
        Self::start_with(&auth, Some(ca)).await
    }

    async fn start_with(auth: &Auth<'_>, tls: Option<&TestCa>) -> Self {
        ensure_tools();
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match Self::try_start(auth, tls).await {
                Ok(registry) => return registry,
                Err(log) => {
                    // Another process may take the port between our probe and the registry's
                    // bind: then try another; any other failure is final.
                    let clash = log.contains("address already in use");
                    last_log = log;
                    if !clash {
                        break;
                    }
                }
            }
        }
        panic!("docker-registry did not start:\n{last_log}");
    }

    /// One attempt on a fresh port and directory; the registry's log when it fails.
    async fn try_start(auth: &Auth<'_>, tls: Option<&TestCa>) -> Result<Self, String> {
        let dir = tempfile::tempdir().unwrap();
        let tls_config = match tls {
            None => String::new(),
            Some(ca) => {
                let cert = dir.path().join("server.pem");
                let key = dir.path().join("server-key.pem");
                std::fs::write(&cert, &ca.cert_pem).unwrap();
                std::fs::write(&key, &ca.key_pem).unwrap();
                format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                )
            }
        };
        let auth = match auth {
            Auth::None => String::new(),
            Auth::Htpasswd => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", USER, PASSWORD])
                    .output()
                    .expect("htpasswd (apache2-utils) runs");
                assert!(out.status.success(), "htpasswd: {out:?}");
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, &out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: robodev-test\n    path: {}\n",
                    path.display()
                )
            }
            Auth::Token(server) => {
                let bundle = dir.path().join("token-issuer.pem");
                std::fs::write(&bundle, &server.cert_pem).unwrap();
                format!(
                    "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    \
                     rootcertbundle: {}\n",
                    server.realm,
                    bundle.display()
                )
            }
        };
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: info\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n\
                 {tls_config}\
                 {auth}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = dir.path().join("registry.log");
        let log_file = std::fs::File::create(&log).unwrap();
        // setpriv's parent-death signal kills the registry even if this test process dies
        // before the guard's Drop runs.
        let mut command = if Path::new("/usr/bin/setpriv").exists() {
            let mut c = Command::new("/usr/bin/setpriv");
            c.args(["--pdeathsig", "KILL", REGISTRY_BIN]);
            c
        } else {
            Command::new(REGISTRY_BIN)
        };
        let child = command
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {REGISTRY_BIN}: {e}"));
        let mut registry = Self {
            child: Some(child),
            port,
            tls: tls.is_some(),
            log,
            _dir: dir,
        };
        if registry.wait_ready().await {
            Ok(registry)
        } else {
            registry.stop();
            Err(registry.log())
        }
    }

    /// Whether the registry answers `GET /v2/` before the deadline (false if it exited). A TLS
    /// registry is ready when it answers the plain-HTTP request with Go's "400: Client sent an
    /// HTTP request to an HTTPS server", which its listener sends once it serves TLS.
    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + REGISTRY_START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                return false;
            }
            if let Ok(Ok(response)) = tokio::time::timeout(
                Duration::from_secs(2),
                http(&self.host(), "GET", "/v2/", &[], b""),
            )
            .await
                && (if self.tls {
                    response.status == 400
                        && String::from_utf8_lossy(&response.body).contains("HTTPS server")
                } else {
                    response.status == 200 || response.status == 401
                })
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `oci://127.0.0.1:PORT/{rest}`, or `oci+https://...` for a TLS registry (`oci://`
    /// means plain HTTP to loopback).
    pub fn reference(&self, rest: &str) -> Reference {
        let scheme = if self.tls { "oci+https" } else { "oci" };
        Reference::parse(&format!("{scheme}://{}/{rest}", self.host())).unwrap()
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the registry and waits for it to exit (its port is closed afterwards).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
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
