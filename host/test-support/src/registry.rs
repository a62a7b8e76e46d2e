//! A real OCI registry: Debian's docker-registry (distribution 2.8), started per test on
//! 127.0.0.1 with a generated config, plain HTTP or HTTPS with a [`TestCa`]'s certificate,
//! without authentication, with htpasswd or with bearer tokens. scripts/build-oci-interop
//! installs it ([`ensure_tools`]).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::repo::run_script_once;
use crate::tls::TestCa;

/// The registry binary scripts/build-oci-interop installs.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// How long a registry may take to answer its first `GET /v2/`.
const REGISTRY_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many free ports to try when another process takes the one picked.
const PORT_ATTEMPTS: usize = 5;

/// Installs docker-registry, htpasswd and the oras venv if missing (once per test binary).
pub fn ensure_tools() {
    static DONE: OnceLock<()> = OnceLock::new();
    run_script_once(&DONE, "build-oci-interop");
}

/// How a registry authenticates.
pub enum Auth<'a> {
    /// Not at all.
    None,
    /// HTTP Basic, with one user (a bcrypt htpasswd file).
    Htpasswd {
        /// The user name.
        user: &'a str,
        /// The password.
        password: &'a str,
    },
    /// Bearer tokens of a token service (the distribution token spec).
    Token {
        /// The token service's URL.
        realm: &'a str,
        /// The service the tokens are for.
        service: &'a str,
        /// The tokens' issuer.
        issuer: &'a str,
        /// The certificate the tokens are signed with, PEM.
        cert_pem: &'a str,
    },
}

/// A docker-registry process on 127.0.0.1, killed when dropped.
pub struct Registry {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    /// Whether it serves HTTPS (with a [`TestCa`]'s certificate) instead of plain HTTP.
    tls: bool,
    log: PathBuf,
    /// Holds the config, the storage and the log; removed on drop.
    _dir: tempfile::TempDir,
}

impl Registry {
    /// A registry without authentication, serving plain HTTP; the tools installed first.
    pub fn start() -> Registry {
        ensure_tools();
        Self::start_with(&Auth::None, None)
    }

    /// A registry authenticating with `auth`, serving HTTPS with the server certificate of `tls`
    /// or else plain HTTP. The binary must be installed ([`ensure_tools`]).
    pub fn start_with(auth: &Auth<'_>, tls: Option<&TestCa>) -> Registry {
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match Self::try_start(auth, tls) {
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
    fn try_start(auth: &Auth<'_>, tls: Option<&TestCa>) -> Result<Registry, String> {
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
            Auth::Htpasswd { user, password } => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
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
            Auth::Token {
                realm,
                service,
                issuer,
                cert_pem,
            } => {
                let bundle = dir.path().join("token-issuer.pem");
                std::fs::write(&bundle, cert_pem).unwrap();
                format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    \
                     rootcertbundle: {}\n",
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
        // setpriv's parent-death signal kills the registry even if the test process dies
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
        let mut registry = Registry {
            child: Some(child),
            port,
            tls: tls.is_some(),
            log,
            _dir: dir,
        };
        if registry.wait_ready() {
            Ok(registry)
        } else {
            registry.stop();
            Err(registry.log())
        }
    }

    /// Whether the registry answers `GET /v2/` before the deadline (false if it exited). A TLS
    /// registry is ready when it answers the plain-HTTP request with Go's "400: Client sent an
    /// HTTP request to an HTTPS server", which its listener sends once it serves TLS.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + REGISTRY_START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                return false;
            }
            if let Some((status, body)) = get_v2(&self.host())
                && (if self.tls {
                    status == 400 && body.contains("HTTPS server")
                } else {
                    status == 200 || status == 401
                })
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether it serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// `oci://127.0.0.1:PORT/{rest}`, or `oci+https://...` for a TLS registry (`oci://`
    /// means plain HTTP to loopback).
    pub fn reference(&self, rest: &str) -> String {
        let scheme = if self.tls { "oci+https" } else { "oci" };
        format!("{scheme}://{}/{rest}", self.host())
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

/// `GET /v2/` over plain HTTP/1.1 with a 2 s timeout: the status and the body (with the
/// rest of the answer), or `None` if there was no answer.
fn get_v2(host: &str) -> Option<(u16, String)> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&host.parse().ok()?, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    stream
        .write_all(
            format!("GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((status, text))
}
