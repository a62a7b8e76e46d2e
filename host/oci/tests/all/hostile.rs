//! Against a hostile registry: a hand-written HTTP/1.1 server on 127.0.0.1:0 that speaks just
//! enough of the distribution API (a bearer-token challenge and its token service, manifests,
//! blobs, monolithic uploads) to be pulled from and pushed to, and misbehaves as told: it
//! trickles a body one byte at a time, never reads an upload, serves a manifest of 20,000
//! layers or an enormous error body. No docker-registry is needed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use robodev_oci::{
    Client, ClientOptions, Direction, DockerConfig, Error, Progress, ProgressFn, Reference,
    TransferLimit, TransferLimits,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::support::sha256;

/// The token the token service issues and the registry wants.
const TOKEN: &str = "hostile-token";
/// The repository and tag the tests pull.
const REPOSITORY: &str = "acme/slow";
const TAG: &str = "1.0.0";
/// How long a test waits for a pull or push that the limits should end well before: a pull
/// still running after this is the defect these tests are about (waiting for ever).
const TEST_GUARD: Duration = Duration::from_secs(30);
/// The Wasm layer of the tests: a module header and zeros. Big enough that a trickle of one
/// byte per [`TRICKLE_EVERY`] would take minutes.
const BLOB_LEN: usize = 64 * 1024;
/// The pause between two bytes of a trickled body.
const TRICKLE_EVERY: Duration = Duration::from_millis(20);

/// How the hostile registry behaves; tests change it while it runs.
#[derive(Default)]
struct Behaviour {
    /// Manifests by tag and by digest.
    manifests: HashMap<String, Vec<u8>>,
    blobs: HashMap<String, Vec<u8>>,
    trickle_manifests: bool,
    trickle_blobs: bool,
    /// Never read the body of an upload larger than this, nor answer it.
    swallow_uploads_over: Option<usize>,
    /// Answer every manifest request with this status and body.
    manifest_error: Option<(u16, Vec<u8>)>,
}

/// The hostile registry; it stops when dropped.
struct Hostile {
    host: String,
    behaviour: Arc<Mutex<Behaviour>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let shared = behaviour.clone();
        let realm = format!("http://{host}/token");
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let behaviour = shared.clone();
                let realm = realm.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &behaviour, &realm).await;
                });
            }
        });
        Self {
            host,
            behaviour,
            task,
        }
    }

    fn reference(&self) -> Reference {
        Reference::parse(&format!("oci://{}/{REPOSITORY}:{TAG}", self.host)).unwrap()
    }

    fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.behaviour.lock().unwrap());
    }

    /// Serves `manifest` under [`TAG`] (and its digest) and `blobs` by their digests.
    fn publish(&self, manifest: &[u8], blobs: &[&[u8]]) {
        self.set(|b| {
            b.manifests.insert(TAG.to_owned(), manifest.to_vec());
            b.manifests.insert(sha256(manifest), manifest.to_vec());
            for blob in blobs {
                b.blobs.insert(sha256(blob), blob.to_vec());
            }
        });
    }

    /// Publishes a Wasm artifact of [`BLOB_LEN`] bytes; returns the layer.
    fn publish_wasm(&self) -> Vec<u8> {
        let mut layer = b"\0asm\x01\0\0\0".to_vec();
        layer.resize(BLOB_LEN, 0);
        let config = br#"{"architecture":"wasm","os":"wasip1"}"#.to_vec();
        let manifest = manifest_json(&config, &[("application/wasm", &layer)]);
        self.publish(&manifest, &[&config, &layer]);
        layer
    }
}

/// An OCI image manifest with the Wasm config and these layers.
fn manifest_json(config: &[u8], layers: &[(&str, &[u8])]) -> Vec<u8> {
    let descriptor = |media_type: &str, bytes: &[u8]| serde_json::json!({"mediaType": media_type, "digest": sha256(bytes), "size": bytes.len()});
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.wasm.config.v0+json", config),
        "layers": layers.iter().map(|(t, b)| descriptor(t, b)).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// One request per connection: read it, answer it (or misbehave), close.
async fn serve(
    mut stream: TcpStream,
    behaviour: &Mutex<Behaviour>,
    realm: &str,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    };
    let mut body = head.split_off(end + 4);
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut request_line = head.split("\r\n").next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let path = target.split('?').next().unwrap_or_default().to_owned();

    if path == "/token" {
        let token = format!(r#"{{"token":"{TOKEN}"}}"#);
        return respond(&mut stream, 200, &[], token.as_bytes(), false).await;
    }
    if header("authorization").as_deref() != Some(&format!("Bearer {TOKEN}")) {
        let challenge = format!(
            "Bearer realm=\"{realm}\",service=\"hostile\",scope=\"repository:{REPOSITORY}:pull\""
        );
        return respond(
            &mut stream,
            401,
            &[("WWW-Authenticate", &challenge)],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            false,
        )
        .await;
    }
    let prefix = format!("/v2/{REPOSITORY}/");
    let Some(rest) = path.strip_prefix(&prefix) else {
        return respond(&mut stream, 404, &[], b"", false).await;
    };

    if let Some(tag) = rest.strip_prefix("manifests/") {
        if method == "PUT" {
            while body.len() < length {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                body.extend_from_slice(&buf[..n]);
            }
            let digest = sha256(&body);
            behaviour
                .lock()
                .unwrap()
                .manifests
                .insert(tag.to_owned(), body);
            return respond(
                &mut stream,
                201,
                &[("Docker-Content-Digest", &digest)],
                b"",
                false,
            )
            .await;
        }
        let (found, error, trickle) = {
            let b = behaviour.lock().unwrap();
            (
                b.manifests.get(tag).cloned(),
                b.manifest_error.clone(),
                b.trickle_manifests,
            )
        };
        if let Some((status, error)) = error {
            return respond(&mut stream, status, &[], &error, false).await;
        }
        return match found {
            Some(manifest) => {
                let content_type = [("Content-Type", "application/vnd.oci.image.manifest.v1+json")];
                respond(&mut stream, 200, &content_type, &manifest, trickle).await
            }
            None => {
                respond(
                    &mut stream,
                    404,
                    &[],
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                    false,
                )
                .await
            }
        };
    }
    if rest.starts_with("blobs/uploads/") {
        if method == "POST" {
            let location = format!("{prefix}blobs/uploads/session-1");
            return respond(&mut stream, 202, &[("Location", &location)], b"", false).await;
        }
        if behaviour
            .lock()
            .unwrap()
            .swallow_uploads_over
            .is_some_and(|over| length > over)
        {
            // Read nothing, answer nothing: the client's send buffer fills and stays full.
            tokio::time::sleep(TEST_GUARD).await;
            return Ok(());
        }
        while body.len() < length {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            body.extend_from_slice(&buf[..n]);
        }
        let digest = sha256(&body);
        behaviour.lock().unwrap().blobs.insert(digest, body);
        return respond(&mut stream, 201, &[], b"", false).await;
    }
    if let Some(digest) = rest.strip_prefix("blobs/") {
        let (found, trickle) = {
            let b = behaviour.lock().unwrap();
            (b.blobs.get(digest).cloned(), b.trickle_blobs)
        };
        return match (found, method.as_str()) {
            (Some(_), "HEAD") => respond(&mut stream, 200, &[], b"", false).await,
            (Some(blob), _) => respond(&mut stream, 200, &[], &blob, trickle).await,
            (None, _) => respond(&mut stream, 404, &[], b"", false).await,
        };
    }
    respond(&mut stream, 404, &[], b"", false).await
}

/// Writes a response with a `Content-Length`; a trickled body goes one byte per
/// [`TRICKLE_EVERY`], until the client hangs up.
async fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    trickle: bool,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} Hostile\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    if trickle {
        for byte in body {
            stream.write_all(std::slice::from_ref(byte)).await?;
            stream.flush().await?;
            tokio::time::sleep(TRICKLE_EVERY).await;
        }
    } else {
        stream.write_all(body).await?;
    }
    stream.shutdown().await
}

/// A client with its own cache, no docker config, these limits, and a progress log.
fn client(dir: &std::path::Path, limits: TransferLimits) -> (Client, Arc<Mutex<Vec<Progress>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let progress: ProgressFn = Arc::new(move |p: &Progress| sink.lock().unwrap().push(p.clone()));
    let options = ClientOptions::new(dir)
        .docker_config(DockerConfig::Disabled)
        .transfer_limits(limits)
        .progress(progress);
    (Client::new(options), seen)
}

/// Runs `future`, failing the test if it is still running after [`TEST_GUARD`].
async fn guarded<T>(what: &str, future: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    match tokio::time::timeout(TEST_GUARD, future).await {
        Ok(value) => (value, started.elapsed()),
        Err(_) => panic!("{what} was still running after {TEST_GUARD:?}: nothing bounds it"),
    }
}

/// No stall rule: only the deadline can end a trickle.
fn deadline_only(timeout: Duration) -> TransferLimits {
    TransferLimits::default().timeout(timeout).stall(
        Duration::from_secs(30),
        0,
        Duration::from_secs(60),
    )
}

#[tokio::test]
async fn a_trickled_blob_trips_the_transfer_deadline() {
    let server = Hostile::start().await;
    let layer = server.publish_wasm();
    server.set(|b| b.trickle_blobs = true);
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(1500);
    let (client, _) = client(dir.path(), deadline_only(timeout));

    let (result, took) = guarded("the trickled pull", client.pull(&server.reference())).await;
    let e = result.unwrap_err();
    let Error::TransferTimeout {
        ref registry,
        ref what,
        direction,
        done,
        total,
        ref limit,
        ..
    } = e
    else {
        panic!("expected TransferTimeout, got {e:?}");
    };
    assert_eq!(**limit, TransferLimit::Deadline { timeout });
    assert_eq!(what, &format!("blob {}", sha256(&layer)));
    assert_eq!(direction, Direction::Download);
    assert_eq!(total, Some(BLOB_LEN as u64));
    assert!(done > 0 && done < BLOB_LEN as u64, "{done}");
    assert_eq!(registry, &server.host);
    assert!(took >= timeout && took < timeout * 4, "{took:?}");
    let message = e.to_string();
    assert_eq!(
        message,
        format!(
            "registry {registry} too slow for oci://{registry}/{REPOSITORY}:{TAG}: blob {}: \
             {done} of {BLOB_LEN} bytes received; the transfer deadline of 1s 500ms passed",
            sha256(&layer)
        )
    );
    // The partial download is not left behind in the cache.
    let tmp = dir.path().join("tmp");
    let left = std::fs::read_dir(&tmp).map_or(0, |d| d.count());
    assert_eq!(left, 0, "partial files left in {}", tmp.display());
}

#[tokio::test]
async fn a_trickled_blob_is_reported_as_stalled_then_abandoned_long_before_the_deadline() {
    let registry = Hostile::start().await;
    let layer = registry.publish_wasm();
    registry.set(|b| b.trickle_blobs = true);
    let dir = tempfile::tempdir().unwrap();
    // One byte per 20 ms is about 25 bytes per window: under the 1024 required.
    let window = Duration::from_millis(500);
    let stall_timeout = Duration::from_secs(1);
    let limits = TransferLimits::default()
        .timeout(Duration::from_secs(600))
        .stall(window, 1024, stall_timeout);
    let (client, seen) = client(dir.path(), limits);

    let (result, took) = guarded("the trickled pull", client.pull(&registry.reference())).await;
    let e = result.unwrap_err();
    let Error::TransferTimeout {
        ref what,
        done,
        total,
        ref limit,
        ..
    } = e
    else {
        panic!("expected TransferTimeout, got {e:?}");
    };
    let TransferLimit::Stall {
        window: w,
        min_bytes,
        stalled_for,
    } = **limit
    else {
        panic!("expected the stall limit, got {limit:?}");
    };
    assert_eq!((w, min_bytes), (window, 1024));
    assert!(stalled_for >= stall_timeout, "{stalled_for:?}");
    assert_eq!(what, &format!("blob {}", sha256(&layer)));
    assert_eq!(total, Some(BLOB_LEN as u64));
    assert!(done > 0 && done < 1024, "{done}");
    // Noticed after one window, abandoned a stall limit later: seconds, not the deadline.
    assert!(took >= window + stall_timeout, "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let message = e.to_string();
    assert!(
        message.contains(&format!(
            "{done} of {BLOB_LEN} bytes received; the transfer stalled: fewer than 1024 bytes \
             per 500ms for 1s"
        )) && message.ends_with("(the stall limit)"),
        "{message}"
    );

    // The stall was reported through the progress callback before the pull gave up.
    let stalls: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|p| p.stall.map(|s| (p.digest.clone(), p.done, s)))
        .collect();
    assert!(!stalls.is_empty(), "no stall report");
    let (digest, reported_done, first) = &stalls[0];
    assert_eq!(digest, &sha256(&layer));
    assert!(*reported_done < 1024);
    assert!(first.recent_bytes < 1024, "{first:?}");
    assert_eq!(first.window, window);
    assert_eq!(first.fails_in, stall_timeout);
    assert!(
        first.to_string().starts_with("stalled: "),
        "{}",
        first.to_string()
    );
}

#[tokio::test]
async fn a_normal_pull_is_unaffected_by_the_limits() {
    let registry = Hostile::start().await;
    let layer = registry.publish_wasm();
    // The defaults, and a stall rule far stricter than the default one (16 KiB every second,
    // abandoned after a second): a registry that answers at loopback speed trips neither.
    let tight = TransferLimits::default()
        .timeout(Duration::from_secs(10))
        .stall(Duration::from_secs(1), 16 * 1024, Duration::from_secs(1));
    for (name, limits) in [("default", TransferLimits::default()), ("tight", tight)] {
        let dir = tempfile::tempdir().unwrap();
        let (client, seen) = client(dir.path(), limits);
        let (result, _) = guarded("a normal pull", client.pull(&registry.reference())).await;
        let pulled = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!pulled.offline && !pulled.from_cache, "{name}");
        assert_eq!(std::fs::read(&pulled.path).unwrap(), layer, "{name}");
        let seen = seen.lock().unwrap();
        assert!(seen.iter().all(|p| p.stall.is_none()), "{name}: {seen:?}");
        assert_eq!(seen.last().map(|p| p.done), Some(BLOB_LEN as u64), "{name}");
    }
    // And so is a push.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &layer).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = client(dir.path(), tight);
    let target = Reference::parse(&format!("oci://{}/{REPOSITORY}:2.0.0", registry.host)).unwrap();
    let (pushed, _) = guarded(
        "a normal push",
        client.push(file.path(), &target, crate::support::no_annotations()),
    )
    .await;
    assert_eq!(pushed.unwrap().layer_digest, sha256(&layer));
}

#[tokio::test]
async fn a_manifest_too_slow_to_arrive_is_served_from_the_cache_or_names_the_limit() {
    // The offline fallback's warning is read here and in the offline tests.
    let (logs, _guard) = crate::support::capture_warnings();
    let registry = Hostile::start().await;
    registry.publish_wasm();
    let cached = tempfile::tempdir().unwrap();
    let limits = deadline_only(Duration::from_secs(1));
    let (client, _) = self::client(cached.path(), limits);
    let first = client.pull(&registry.reference()).await.unwrap();

    registry.set(|b| b.trickle_manifests = true);
    // With the tag in the cache, the slow registry is treated as unreachable.
    let (result, _) = guarded(
        "the pull of a trickled manifest",
        client.pull(&registry.reference()),
    )
    .await;
    let pulled = result.unwrap();
    assert!(pulled.offline && pulled.from_cache);
    assert_eq!(pulled.digest, first.digest);
    let text = logs.text();
    assert!(
        text.contains(&format!("registry {} unreachable", registry.host))
            && text.contains("too slow")
            && text.contains("the transfer deadline of 1s passed"),
        "{text}"
    );

    // Without it, the error says which limit tripped on what.
    let empty = tempfile::tempdir().unwrap();
    let (client, _) = self::client(empty.path(), limits);
    let (result, _) = guarded(
        "the pull of a trickled manifest",
        client.pull(&registry.reference()),
    )
    .await;
    let e = result.unwrap_err();
    assert!(
        matches!(&e, Error::TransferTimeout { what, limit, done, .. }
            if what == &format!("manifest {TAG}") && *done > 0
                && matches!(**limit, TransferLimit::Deadline { .. })),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_upload_the_registry_stops_reading_is_reported_as_stalled_then_abandoned() {
    let registry = Hostile::start().await;
    registry.set(|b| b.swallow_uploads_over = Some(1024 * 1024));
    // Larger than loopback's socket buffers, so the upload cannot all be handed to the kernel.
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.resize(48 * 1024 * 1024, 0);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &wasm).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let window = Duration::from_millis(500);
    let limits = TransferLimits::default()
        .timeout(Duration::from_secs(600))
        .stall(window, 1024, Duration::from_secs(1));
    let (client, seen) = client(dir.path(), limits);

    let (result, took) = guarded(
        "the swallowed push",
        client.push(
            file.path(),
            &registry.reference(),
            crate::support::no_annotations(),
        ),
    )
    .await;
    let e = result.unwrap_err();
    assert!(
        matches!(&e, Error::TransferTimeout {
            what, direction: Direction::Upload, total: Some(total), done, limit, ..
        } if what == &format!("upload of blob {}", sha256(&wasm)) && *total == wasm.len() as u64
            && *done < *total && matches!(**limit, TransferLimit::Stall { .. })),
        "{e:?}"
    );
    assert!(
        e.to_string().contains(" bytes sent; the transfer stalled"),
        "{e}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|p| p.direction == Direction::Upload && p.stall.is_some()),
        "no stall report for the upload"
    );
}

#[tokio::test]
async fn a_manifest_of_20000_layers_is_refused_in_a_short_message() {
    let registry = Hostile::start().await;
    let config = br#"{"architecture":"wasm","os":"wasip1"}"#.to_vec();
    let junk: Vec<Vec<u8>> = (0..20_000u32).map(|i| i.to_le_bytes().to_vec()).collect();
    let mut layers: Vec<(&str, &[u8])> = junk
        .iter()
        .map(|b| ("application/vnd.oci.image.layer.v1.tar+gzip", b.as_slice()))
        .collect();
    layers[7].0 = "application/vnd.example.other";
    let manifest = manifest_json(&config, &layers);
    assert!(manifest.len() < 4 * 1024 * 1024, "{}", manifest.len());
    registry.publish(&manifest, &[&config]);
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = client(dir.path(), TransferLimits::default());

    let (result, _) = guarded("the pull", client.pull(&registry.reference())).await;
    let e = result.unwrap_err();
    assert!(matches!(e, Error::NotAWasmArtifact { .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.len() < 2048, "{} bytes: {message}", message.len());
    assert!(
        message.contains(
            "no Wasm layer with config application/vnd.wasm.config.v0+json and 20000 layers of \
             2 media types: application/vnd.oci.image.layer.v1.tar+gzip (19999), \
             application/vnd.example.other (1); expected exactly one layer of application/wasm"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn registry_text_in_errors_is_bounded() {
    let registry = Hostile::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = client(dir.path(), TransferLimits::default());
    let long = "x".repeat(20_000);

    // An error body of many long messages (under the 64 KiB read for it).
    let errors: Vec<_> = (0..300)
        .map(|i| serde_json::json!({"code": "DENIED", "message": format!("{i}{}", &long[..150])}))
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "errors": errors })).unwrap();
    assert!(body.len() < 64 * 1024);
    registry.set(|b| b.manifest_error = Some((400, body)));
    let e = client.pull(&registry.reference()).await.unwrap_err();
    let message = e.to_string();
    assert!(matches!(e, Error::Registry { status: 400, .. }), "{e:?}");
    assert!(message.len() < 2048, "{} bytes: {message}", message.len());
    assert!(message.ends_with("; and 297 more errors"), "{message}");

    // A text body.
    registry.set(|b| b.manifest_error = Some((500, long.clone().into_bytes())));
    let message = client
        .pull(&registry.reference())
        .await
        .unwrap_err()
        .to_string();
    assert!(message.len() < 2048, "{} bytes: {message}", message.len());
    assert!(message.contains("(19800 more characters)"), "{message}");

    // A manifest of an unknown media type that is 100,000 characters long.
    registry.set(|b| b.manifest_error = None);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": format!("application/{}", "y".repeat(100_000)),
        "layers": [],
    }))
    .unwrap();
    registry.publish(&manifest, &[]);
    let message = client
        .pull(&registry.reference())
        .await
        .unwrap_err()
        .to_string();
    assert!(message.len() < 2048, "{} bytes: {message}", message.len());

    // A manifest whose JSON is wrong inside a long string.
    let manifest = format!(r#"{{"schemaVersion":"{long}"}}"#).into_bytes();
    registry.publish(&manifest, &[]);
    let message = client
        .pull(&registry.reference())
        .await
        .unwrap_err()
        .to_string();
    assert!(message.len() < 2048, "{} bytes: {message}", message.len());
    assert!(message.contains("not valid OCI manifest JSON"), "{message}");

    // A Wasm layer whose digest is not one.
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "layers": [{"mediaType": "application/wasm", "digest": format!("sha256:{long}"), "size": 1}],
    }))
    .unwrap();
    registry.publish(&manifest, &[]);
    let message = client
        .pull(&registry.reference())
        .await
        .unwrap_err()
        .to_string();
    assert!(message.len() < 2048, "{} bytes: {message}", message.len());
}
