//! A bearer-token service for docker-registry's `auth.token` mode (the distribution token
//! spec, what Docker Hub, GHCR and Harbor use): it checks HTTP Basic credentials and issues
//! ES256 JWTs signed with a self-signed key whose certificate the registry trusts.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{PASSWORD, USER};

/// The `service` (JWT audience) the registry is configured with.
pub const SERVICE: &str = "robodev-test-registry";
/// The JWT issuer the registry trusts.
pub const ISSUER: &str = "robodev-test-issuer";

/// What the token service was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub service: Option<String>,
    pub scope: Option<String>,
    /// The user of the Basic credentials sent, if any.
    pub user: Option<String>,
}

/// The token service on 127.0.0.1, stopped when dropped.
pub struct TokenServer {
    /// The realm, `http://127.0.0.1:PORT/token`.
    pub realm: String,
    /// The PEM certificate the registry verifies tokens with.
    pub cert_pem: String,
    pub requests: Arc<Mutex<Vec<TokenRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Signer {
    key: ring::signature::EcdsaKeyPair,
    cert_der: Vec<u8>,
}

impl TokenServer {
    pub async fn start() -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["robodev-token-issuer".to_owned()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        let signer = Arc::new(Signer {
            key: ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &key.serialize_der(),
                &ring::rand::SystemRandom::new(),
            )
            .unwrap(),
            cert_der: cert.der().to_vec(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let realm = format!("http://{}/token", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let signer = signer.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &signer, &seen).await;
                });
            }
        });
        Self {
            realm,
            cert_pem: cert.pem(),
            requests,
            task,
        }
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    signer: &Signer,
    seen: &Mutex<Vec<TokenRequest>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let authorization = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim().to_owned());
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
    };
    let credentials = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let request = TokenRequest {
        service: param("service"),
        scope: param("scope"),
        user: credentials
            .as_deref()
            .map(|c| c.split_once(':').map_or(c, |(u, _)| u).to_owned()),
    };
    seen.lock().unwrap().push(request.clone());
    let (status, body) = match credentials.as_deref() {
        Some(c) if c != format!("{USER}:{PASSWORD}") => (
            "401 Unauthorized",
            r#"{"details":"bad credentials"}"#.to_owned(),
        ),
        // Anonymous callers get a token that grants nothing.
        given => {
            let access = match (&request.scope, given) {
                (Some(scope), Some(_)) => {
                    let mut parts = scope.splitn(3, ':');
                    let kind = parts.next().unwrap_or_default();
                    let name = parts.next().unwrap_or_default();
                    let actions: Vec<&str> = parts.next().unwrap_or_default().split(',').collect();
                    serde_json::json!([{"type": kind, "name": name, "actions": actions}])
                }
                _ => serde_json::json!([]),
            };
            let token = jwt(signer, request.user.as_deref().unwrap_or(""), access);
            (
                "200 OK",
                serde_json::json!({"token": token, "expires_in": 300}).to_string(),
            )
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn jwt(signer: &Signer, subject: &str, access: serde_json::Value) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({
        "typ": "JWT",
        "alg": "ES256",
        "x5c": [STANDARD.encode(&signer.cert_der)],
    });
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": subject,
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{now}-{}", rand_suffix()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer
        .key
        .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
        .unwrap();
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    )
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
