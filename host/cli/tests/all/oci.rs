//! `robodev plugin push|pull` and `component: oci://...` against a real OCI registry on
//! loopback (Debian's docker-registry, installed by scripts/build-oci-interop when missing).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use robodev_test_support::cosign::{self, cosign, run as run_cosign};
use robodev_test_support::forward_proxy::{ForwardProxy, PROXY_VARS};
use robodev_test_support::openssl::KeyPair;
use robodev_test_support::registry::{Auth, Registry, ensure_tools};

use crate::{code, json_out, robodev, robodev_command, stderr};

/// A registry that requires HTTP Basic auth as `robodev` / `s3cret` (bcrypt htpasswd).
fn registry_with_auth() -> Registry {
    ensure_tools();
    let auth = Auth::Htpasswd {
        user: "robodev",
        password: "s3cret",
    };
    Registry::start_with(&auth, None)
}

fn wasm() -> PathBuf {
    crate::guests::guest("review_rules")
}

fn config(dir: &Path, component: &str, extra: &str) -> String {
    std::fs::write(dir.join("tickets.yaml"), "[]").unwrap();
    let path = dir.join("robodev-config.yaml");
    std::fs::write(
        &path,
        format!(
            "state_dir: state\n\
             plugins:\n\
             \x20 - {{ name: gate, type: review, interface_version: 1, component: \"{component}\"{extra} }}\n\
             ticketing: {{ backend: local, config: {{ file: tickets.yaml }} }}\n\
             review: {{ backend: gate }}\n\
             plugin_health: {{ critical_plugins: [gate] }}\n\
             engines: {{ default: local, local: {{ command: [./agent.sh] }} }}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn a_component_pushed_by_robodev_is_pulled_and_run_from_another_config() {
    let mut registry = Registry::start();
    let reference = registry.reference("acme/review-gate:1.0.0");
    let publisher = tempfile::tempdir().unwrap();
    let wasm = wasm().display().to_string();
    let out = robodev(
        publisher.path(),
        &[
            "plugin",
            "push",
            &wasm,
            &reference,
            "--annotation",
            "org.opencontainers.image.source=https://example.invalid/robodev",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pushed = json_out(&out);
    let digest = pushed["digest"].as_str().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"), "{pushed}");
    // Not on a terminal, --json prints no progress (plain lines without it, bars on a terminal).
    assert!(
        !stderr(&out).contains("push sha256:"),
        "progress with --json: {}",
        stderr(&out)
    );

    // Pull into another cache and a file: byte for byte.
    let consumer = tempfile::tempdir().unwrap();
    let copy = consumer.path().join("copy.wasm");
    let out = robodev(
        consumer.path(),
        &[
            "plugin",
            "pull",
            &reference,
            "-o",
            &copy.display().to_string(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pull sha256:") && stderr(&out).contains("bytes (100%)"),
        "progress: {}",
        stderr(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("@{digest}")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&wasm).unwrap());

    // A config elsewhere runs it from the registry; the tag resolves to the pushed digest.
    let config = config(consumer.path(), &reference, "");
    let out = robodev(
        consumer.path(),
        &["plugins", "list", "--json", "--config", &config],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    let gate = crate::plugin_row(&v, "gate");
    assert_eq!(gate["runtime"], "wasm");
    assert_eq!(gate["health"], "serving");
    assert_eq!(gate["digest"], digest.as_str());
    assert_eq!(gate["source"], reference.as_str());
    let input =
        r#"{"taskRunId":"t","diff":"--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+password = \"x\"\n"}"#;
    let call = |dir: &Path| {
        robodev(
            dir,
            &[
                "plugin",
                "call",
                "ReviewDiff",
                "--config",
                &config,
                "--plugin",
                "gate",
                "--input",
                input,
            ],
        )
    };
    let out = call(consumer.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out)["gateResult"]["passed"], false);
    // `plugin call` takes an oci:// SOURCE too.
    let out = robodev(
        consumer.path(),
        &[
            "plugin",
            "call",
            &reference,
            "review-diff",
            "--input",
            input,
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // With the registry gone, robodev starts from its cache, saying so.
    registry.stop();
    let out = robodev(
        consumer.path(),
        &["plugins", "list", "--json", "--config", &config],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    let gate = crate::plugin_row(&v, "gate");
    assert_eq!(gate["health"], "serving", "{v}");
    assert_eq!(gate["digest"], digest.as_str(), "{v}");
    assert!(
        stderr(&out).contains(&digest),
        "no offline warning: {}",
        stderr(&out)
    );
}

#[test]
fn a_pinned_digest_that_does_not_match_refuses_the_plugin() {
    let registry = Registry::start();
    let reference = registry.reference("acme/gate:1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let out = robodev(
        dir.path(),
        &["plugin", "push", &wasm().display().to_string(), &reference],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let wrong = format!("sha256:{}", "0".repeat(64));
    let config = config(dir.path(), &reference, &format!(", digest: \"{wrong}\""));
    let out = robodev(dir.path(), &["run", "--once", "--config", &config]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: critical plugin \"gate\" did not load: refused to load plugin \"gate\": its digest sha256:")
            && err.contains(&format!("does not match the pinned digest {wrong}")),
        "{err}"
    );
}

#[test]
fn signed_oci_components_load_and_unsigned_ones_are_refused() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let KeyPair {
        private: key,
        public,
    } = KeyPair::generate(d, "cosign");
    let wasm = wasm().display().to_string();
    let signed = registry.reference("acme/gate:signed");
    let unsigned = registry.reference("acme/gate:unsigned");
    // Distinct annotations keep the two manifests (and so their digests) apart even when
    // both are pushed within the same second.
    for (reference, kind) in [(&signed, "kind=signed"), (&unsigned, "kind=unsigned")] {
        let out = robodev(
            d,
            &["plugin", "push", &wasm, reference, "--annotation", kind],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let out = robodev(
        d,
        &[
            "plugin",
            "sign",
            &signed,
            "--key",
            &key.display().to_string(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = robodev(
        d,
        &[
            "plugin",
            "verify",
            &signed,
            "--key",
            &public.display().to_string(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Signed by default as cosign v3 does: a Sigstore bundle attached as a referrer.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("Sigstore bundle (referrer sha256:"), "{said}");
    let out = robodev(
        d,
        &[
            "plugin",
            "verify",
            &unsigned,
            "--key",
            &public.display().to_string(),
        ],
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("no Sigstore bundle among the referrers"),
        "{message}"
    );
    assert!(message.contains(".sig"), "{message}");

    for (reference, health) in [(&signed, "serving"), (&unsigned, "refused")] {
        let config = config(d, reference, "");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            format!("require_signatures: true\ntrusted_keys: [cosign.pub]\n{text}"),
        )
        .unwrap();
        let out = robodev(d, &["plugins", "list", "--json", "--config", &config]);
        let v = json_out(&out);
        let gate = crate::plugin_row(&v, "gate");
        assert_eq!(gate["health"], health, "{v}");
        if health == "refused" {
            assert_eq!(code(&out), 4);
            let message = gate["error"]["message"].as_str().unwrap();
            assert!(message.contains("signature check failed"), "{message}");
        }
    }
}

#[test]
fn registry_credentials_come_from_the_secrets_backend() {
    let registry = registry_with_auth();
    let reference = registry.reference("acme/private-gate:1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The publisher authenticates with docker's config.json.
    let docker = d.join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"cm9ib2RldjpzM2NyZXQ="}}}}}}"#,
            registry.port
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_robodev"))
        .args(["plugin", "push", &wasm().display().to_string(), &reference])
        .env("DOCKER_CONFIG", &docker)
        .env("ROBODEV_OCI_CACHE_DIR", d.join("publisher-cache"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Without credentials: refused by the registry, said clearly.
    let out = robodev(d, &["plugin", "pull", &reference]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no credentials"), "{}", stderr(&out));

    // robodev run: the password comes from the secrets backend.
    for (password, health) in [("s3cret", "serving"), ("wrong", "failed")] {
        std::fs::write(
            d.join("secrets.yaml"),
            format!("registry-password: {password}\n"),
        )
        .unwrap();
        let config = config(d, &reference, "");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            format!(
                "secrets: {{ backend: file, config: {{ file: secrets.yaml }} }}\n\
                 oci: {{ credentials: {{ \"127.0.0.1:{}\": {{ username: robodev, password_secret: registry-password }} }} }}\n{text}",
                registry.port
            ),
        )
        .unwrap();
        let out = robodev(d, &["plugins", "list", "--json", "--config", &config]);
        let v = json_out(&out);
        let gate = crate::plugin_row(&v, "gate");
        assert_eq!(gate["health"], health, "{v}");
        if health == "failed" {
            let message = gate["error"]["message"].as_str().unwrap();
            assert!(message.contains("rejected"), "{message}");
        }
    }
}

/// A hostile registry: a hand-written HTTP/1.1 server on 127.0.0.1:0 (no authentication) that
/// serves one manifest, trickles every blob one byte at a time, and never reads nor answers an
/// upload larger than [`Hostile::SWALLOW_OVER`] bytes.
struct Hostile {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Hostile {
    /// The pause between two bytes of a blob.
    const TRICKLE_EVERY: Duration = Duration::from_millis(20);
    /// Uploads larger than this are swallowed (blob configs are smaller, Wasm layers larger).
    const SWALLOW_OVER: usize = 1024;
    /// How long a swallowed upload's connection is held open.
    const SWALLOW_FOR: Duration = Duration::from_secs(120);

    fn start(manifest: Vec<u8>) -> Hostile {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let manifest = std::sync::Arc::new(manifest);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let manifest = manifest.clone();
                std::thread::spawn(move || {
                    let _ = Self::serve(stream, &manifest);
                });
            }
        });
        Hostile { port, stop }
    }

    fn serve(mut stream: std::net::TcpStream, manifest: &[u8]) -> std::io::Result<()> {
        use std::io::{Read as _, Write as _};
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte)? == 0 {
                return Ok(());
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut words = head.split(' ');
        let method = words.next().unwrap_or_default().to_owned();
        let path = words.next().unwrap_or_default().to_owned();
        let length: usize = head
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        if path.contains("/blobs/uploads/") && method == "PUT" && length <= Self::SWALLOW_OVER {
            let mut body = vec![0; length];
            stream.read_exact(&mut body)?;
        }
        let mut respond = |status: &str, headers: &str, body: &[u8], trickle: bool| {
            stream.write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
                    body.len()
                )
                .as_bytes(),
            )?;
            if !trickle {
                return stream.write_all(body);
            }
            for b in body {
                stream.write_all(std::slice::from_ref(b))?;
                std::thread::sleep(Self::TRICKLE_EVERY);
            }
            Ok(())
        };
        if path.contains("/manifests/") && method == "GET" {
            let content_type = "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n";
            return respond("200 OK", content_type, manifest, false);
        }
        if path.contains("/manifests/") {
            return respond("201 Created", "", b"", false);
        }
        if path.contains("/blobs/uploads/") && method == "POST" {
            let location = format!("Location: {}session-1\r\n", path);
            return respond("202 Accepted", &location, b"", false);
        }
        if path.contains("/blobs/uploads/") {
            if length > Self::SWALLOW_OVER {
                // Longer than any test waits: the client must be the one to give up.
                std::thread::sleep(Self::SWALLOW_FOR);
                return Ok(());
            }
            return respond("201 Created", "", b"", false);
        }
        if path.contains("/blobs/") && method == "HEAD" {
            return respond("404 Not Found", "", b"", false);
        }
        if path.contains("/blobs/") {
            return respond("200 OK", "", &vec![0u8; 64 * 1024], true);
        }
        respond("404 Not Found", "", b"", false)
    }

    fn reference(&self, rest: &str) -> String {
        format!("oci://127.0.0.1:{}/{rest}", self.port)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Wakes the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// An OCI manifest with a Wasm config and these layers (media type, size; made-up digests:
/// the tests never get as far as checking them).
fn hostile_manifest(layers: impl Iterator<Item = (&'static str, u64)>) -> Vec<u8> {
    let descriptor = |media_type: &str, i: usize, size: u64| serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{i:064x}"), "size": size});
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.wasm.config.v0+json", 0, 2),
        "layers": layers.enumerate().map(|(i, (t, size))| descriptor(t, i + 1, size)).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// Runs `robodev` like [`robodev`], but kills it after `limit`: what the tests below are about
/// is a command that would otherwise wait for ever. Returns the output and how long it took.
fn robodev_within(dirs: &Path, args: &[&str], limit: Duration) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let mut child = robodev_command(dirs, args)
        .env("DOCKER_CONFIG", dirs.join("no-docker-config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained while it runs, so that a long message cannot block it on a full pipe.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr_reader = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr_reader.join().unwrap();
            panic!(
                "robodev {args:?} was still running after {limit:?}: nothing bounds it\n{}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr_reader.join().unwrap(),
    };
    (out, started.elapsed())
}

/// The lines of stderr that are not progress lines.
fn error_lines(out: &std::process::Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| !l.starts_with("pull ") && !l.starts_with("push "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn plugin_pull_gives_up_on_a_trickling_registry_at_its_timeout() {
    let registry = Hostile::start(hostile_manifest(
        [("application/wasm", 64 * 1024)].into_iter(),
    ));
    let reference = registry.reference("acme/slow:1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let (out, took) = robodev_within(
        dir.path(),
        &["plugin", "pull", &reference, "--timeout", "2s"],
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(took >= Duration::from_secs(2), "{took:?}");
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "one line: {errors:?}");
    let layer = format!("sha256:{:064x}", 1);
    let expected = regex_free_match(
        &errors[0],
        &format!(
            "error: registry 127.0.0.1:{port} too slow for {reference}: blob {layer}: ",
            port = registry.port
        ),
        " of 65536 bytes received; the transfer deadline of 2s passed (--timeout sets it)",
    );
    assert!(expected, "{}", errors[0]);
}

/// Whether `line` is `prefix`, a number, then `suffix`.
fn regex_free_match(line: &str, prefix: &str, suffix: &str) -> bool {
    line.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
fn plugin_push_gives_up_on_a_registry_that_never_answers_at_its_timeout() {
    let registry = Hostile::start(Vec::new());
    let reference = registry.reference("acme/slow:1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("module.wasm");
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.resize(64 * 1024, 0);
    std::fs::write(&file, &wasm).unwrap();
    let (out, _) = robodev_within(
        dir.path(),
        &[
            "plugin",
            "push",
            &file.display().to_string(),
            &reference,
            "--timeout",
            "1500ms",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "one line: {errors:?}");
    assert!(
        errors[0].starts_with(&format!(
            "error: registry 127.0.0.1:{} too slow for {reference}: upload of blob sha256:",
            registry.port
        )) && errors[0].ends_with(
            " of 65536 bytes sent; the transfer deadline of 1s 500ms passed (--timeout sets it)"
        ),
        "{}",
        errors[0]
    );

    // A timeout of nothing is refused before anything is sent.
    let out = robodev(
        dir.path(),
        &[
            "plugin",
            "push",
            &file.display().to_string(),
            &reference,
            "--timeout",
            "0s",
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("expected a duration above 0"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plugin_pull_of_a_manifest_with_20000_layers_fails_in_one_short_line() {
    let layers = (0..20_000).map(|i| {
        (
            if i % 2 == 0 {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            } else {
                "application/vnd.example.junk"
            },
            1,
        )
    });
    let registry = Hostile::start(hostile_manifest(layers));
    let reference = registry.reference("acme/huge:1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = robodev_within(
        dir.path(),
        &["plugin", "pull", &reference],
        Duration::from_secs(60),
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.len() < 2048, "{} bytes of stderr: {err}", err.len());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "is not a Wasm artifact: no Wasm layer with config application/vnd.wasm.config.v0+json \
             and 20000 layers of 2 media types: application/vnd.oci.image.layer.v1.tar+gzip \
             (10000), application/vnd.example.junk (10000); expected exactly one layer of \
             application/wasm"
        ),
        "{err}"
    );
}

/// [`robodev`] with only the proxy variables `env`.
fn robodev_with_proxy(dirs: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = robodev_command(dirs, args);
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).output().unwrap()
}

#[test]
fn plugin_push_and_pull_use_the_proxy_from_the_environment() {
    let registry = Registry::start();
    let proxy = ForwardProxy::start();
    let proxy_url = proxy.url();
    let wasm = wasm().display().to_string();
    let reference = registry.reference("acme/proxied:1.0.0");
    let host = format!("127.0.0.1:{}", registry.port);

    // HTTP_PROXY: the push and the pull go through the proxy (loopback is not exempt unless
    // NO_PROXY says so), each request in absolute form.
    let publisher = tempfile::tempdir().unwrap();
    let out = robodev_with_proxy(
        publisher.path(),
        &["plugin", "push", &wasm, &reference, "--json"],
        &[("HTTP_PROXY", &proxy_url)],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let digest = json_out(&out)["digest"].as_str().unwrap().to_owned();
    let consumer = tempfile::tempdir().unwrap();
    let copy = consumer.path().join("copy.wasm");
    let out = robodev_with_proxy(
        consumer.path(),
        &[
            "plugin",
            "pull",
            &reference,
            "-o",
            &copy.display().to_string(),
            "--json",
        ],
        &[("HTTP_PROXY", &proxy_url)],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&wasm).unwrap());
    let seen = proxy.seen();
    let base = format!("http://{host}/v2/acme/proxied");
    for line in [
        format!("PUT {base}/manifests/1.0.0 HTTP/1.1"),
        format!("GET {base}/manifests/1.0.0 HTTP/1.1"),
    ] {
        assert!(seen.contains(&line), "{line} not in {seen:#?}");
    }
    let layer = format!("GET {base}/blobs/sha256:");
    assert!(seen.iter().any(|l| l.starts_with(&layer)), "{seen:#?}");
    assert!(
        seen.iter().all(|l| l
            .split(' ')
            .nth(1)
            .unwrap()
            .starts_with(&format!("http://{host}/"))),
        "{seen:#?}"
    );

    // NO_PROXY covering the registry: the proxy is set, and not used.
    let before = seen.len();
    let direct = tempfile::tempdir().unwrap();
    let out = robodev_with_proxy(
        direct.path(),
        &["plugin", "pull", &reference, "--json"],
        &[
            ("http_proxy", &proxy_url),
            ("NO_PROXY", "localhost,127.0.0.1"),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out)["digest"], digest.as_str());
    assert_eq!(proxy.seen().len(), before, "{:#?}", &proxy.seen()[before..]);

    // A proxy that is not there: the registry is up, yet cannot be reached.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let nowhere = tempfile::tempdir().unwrap();
    let out = robodev_with_proxy(
        nowhere.path(),
        &["plugin", "pull", &reference],
        &[("HTTP_PROXY", &gone)],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("cannot reach registry {host} for {reference}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plugin_verify_accepts_cosign_v3_signatures_and_cosign_accepts_plugin_sign() {
    let Some(cosign) = cosign() else { return };
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let robodev_pair = KeyPair::generate(d, "robodev");
    let (robodev_key, robodev_pub) = (robodev_pair.private_arg(), robodev_pair.public_arg());
    let wasm = wasm().display().to_string();
    let mut digests = Vec::new();
    for tag in ["cosigned", "robodev-signed", "legacy"] {
        let reference = registry.reference(&format!("acme/gate:{tag}"));
        let out = robodev(
            d,
            &[
                "plugin",
                "push",
                &wasm,
                &reference,
                "--annotation",
                &format!("tag={tag}"),
                "--json",
            ],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        digests.push(json_out(&out)["digest"].as_str().unwrap().to_owned());
    }
    let pinned = |i: usize| format!("oci://127.0.0.1:{}/acme/gate@{}", registry.port, digests[i]);
    let image = |i: usize| format!("127.0.0.1:{}/acme/gate@{}", registry.port, digests[i]);

    // cosign v3 with its defaults (new bundle format, attached in the registry), offline.
    cosign::setup(&cosign, d);
    let out = run_cosign(
        &cosign,
        d,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--signing-config",
            "offline.json",
            "--allow-http-registry",
            "--yes",
            &image(0),
        ],
    );
    assert!(out.status.success());
    let cosign_pub = d.join("cosign.pub").display().to_string();
    let out = robodev(
        d,
        &[
            "plugin",
            "verify",
            &pinned(0),
            "--key",
            &cosign_pub,
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["format"], "bundle", "{v}");
    assert_eq!(v["key"]["name"], cosign_pub.as_str(), "{v}");
    assert!(
        v["referrer"].as_str().unwrap().starts_with("sha256:"),
        "{v}"
    );
    assert_eq!(v["tlogEntries"], 0, "{v}");
    let out = robodev(d, &["plugin", "verify", &pinned(0), "--key", &cosign_pub]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("Sigstore bundle") && said.contains(&cosign_pub),
        "{said}"
    );
    // Another key: refused (4), saying why.
    let out = robodev(d, &["plugin", "verify", &pinned(0), "--key", &robodev_pub]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not signed by a trusted key"),
        "{}",
        stderr(&out)
    );

    // robodev signs (bundle by default, simple signing on request); cosign v3 verifies.
    let out = robodev(d, &["plugin", "sign", &pinned(1), "--key", &robodev_key]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Sigstore bundle referrer"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run_cosign(
        &cosign,
        d,
        &[
            "verify",
            "--key",
            &robodev_pub,
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            &image(1),
        ],
    );
    assert!(out.status.success(), "cosign refused robodev's bundle");
    let out = robodev(
        d,
        &[
            "plugin",
            "sign",
            &pinned(2),
            "--key",
            &robodev_key,
            "--format",
            "simple-signing",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out)["format"], "simple-signing");
    let out = robodev(
        d,
        &[
            "plugin",
            "verify",
            &pinned(2),
            "--key",
            &robodev_pub,
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["format"], "simple-signing", "{v}");
    assert!(v["tag"].as_str().unwrap().ends_with(".sig"), "{v}");
    let out = run_cosign(
        &cosign,
        d,
        &[
            "verify",
            "--key",
            &robodev_pub,
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            "--new-bundle-format=false",
            &image(2),
        ],
    );
    assert!(out.status.success(), "cosign refused robodev's .sig");

    // Blobs: `--bundle` writes and reads what cosign sign-blob / verify-blob do.
    std::fs::copy(&wasm, d.join("gate.wasm")).unwrap();
    let out = robodev(
        d,
        &[
            "plugin",
            "sign",
            &d.join("gate.wasm").display().to_string(),
            "--key",
            &robodev_key,
            "--bundle",
            &d.join("gate.sigstore.json").display().to_string(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run_cosign(
        &cosign,
        d,
        &[
            "verify-blob",
            "--key",
            &robodev_pub,
            "--bundle",
            "gate.sigstore.json",
            "--insecure-ignore-tlog",
            "gate.wasm",
        ],
    );
    assert!(out.status.success(), "cosign refused robodev's blob bundle");
    let out = run_cosign(
        &cosign,
        d,
        &[
            "sign-blob",
            "--key",
            "cosign.key",
            "--signing-config",
            "offline.json",
            "--bundle",
            "cosign.sigstore.json",
            "--yes",
            "gate.wasm",
        ],
    );
    assert!(out.status.success());
    for (bundle, public, expected) in [
        ("cosign.sigstore.json", cosign_pub.as_str(), 0),
        ("gate.sigstore.json", robodev_pub.as_str(), 0),
        ("cosign.sigstore.json", robodev_pub.as_str(), 4),
    ] {
        let out = robodev(
            d,
            &[
                "plugin",
                "verify",
                &d.join("gate.wasm").display().to_string(),
                "--key",
                public,
                "--bundle",
                &d.join(bundle).display().to_string(),
                "--json",
            ],
        );
        assert_eq!(code(&out), expected, "{bundle} {public}: {}", stderr(&out));
        if expected == 0 {
            assert_eq!(json_out(&out)["format"], "bundle");
        }
    }
}

/// A component whose Sigstore bundle carries a transparency-log entry loads only when the
/// config trusts that log's key (`transparency_log_keys`); `require_transparency_log` refuses
/// a bundle without one. The log is robodev-oci's `LocalLog` stand-in for a Rekor log (no
/// Rekor is reachable here); the entry is checked as Rekor v1's are (signed timestamp,
/// inclusion proof, checkpoint, body matching the bundle).
#[test]
fn transparency_log_entries_are_checked_against_the_configured_log_keys() {
    use robodev_oci::bundle::{LocalLog, sign_bundle_dsse};
    use robodev_oci::{Client, ClientOptions, Reference};

    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = KeyPair::generate(d, "cosign").private_arg();
    let wasm = wasm().display().to_string();
    let logged = registry.reference("acme/gate:logged");
    let unlogged = registry.reference("acme/gate:unlogged");
    let mut digests = Vec::new();
    for (reference, kind) in [(&logged, "kind=logged"), (&unlogged, "kind=unlogged")] {
        let out = robodev(
            d,
            &[
                "plugin",
                "push",
                &wasm,
                reference,
                "--annotation",
                kind,
                "--json",
            ],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        digests.push(json_out(&out)["digest"].as_str().unwrap().to_owned());
    }
    // The logged one: a bundle with a log entry, attached as cosign does.
    let log = LocalLog::generate("test-log").unwrap();
    std::fs::write(d.join("log.pub"), log.public_key_pem()).unwrap();
    let private = std::fs::read_to_string(&key).unwrap();
    let bundle = sign_bundle_dsse(&digests[0], &private, Some(&log)).unwrap();
    let pinned = Reference::parse(&format!("{logged}@{}", digests[0])).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async {
            let client = Client::new(ClientOptions::new(d.join("signer-cache")));
            robodev_oci::signature::attach_bundle(&client, &pinned, bundle).await
        })
        .unwrap();
    // The unlogged one: signed as `plugin sign` does by default (no log entry).
    let out = robodev(d, &["plugin", "sign", &unlogged, "--key", &key]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let health = |reference: &str, trust: &str| {
        let config = config(d, reference, "");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            format!("require_signatures: true\ntrusted_keys: [cosign.pub]\n{trust}{text}"),
        )
        .unwrap();
        let out = robodev(d, &["plugins", "list", "--json", "--config", &config]);
        let v = json_out(&out);
        let gate = crate::plugin_row(&v, "gate").clone();
        let message = gate["error"]["message"].as_str().unwrap_or("").to_owned();
        (gate["health"].as_str().unwrap().to_owned(), message)
    };
    // Its log is not trusted: refused, and the reason says how to trust one.
    let (state, message) = health(&logged, "");
    assert_eq!(state, "refused", "{message}");
    assert!(
        message.contains("is from a log whose key is not trusted")
            && message.contains("transparency_log_keys"),
        "{message}"
    );
    // Trusted: it loads.
    let (state, message) = health(&logged, "transparency_log_keys: [log.pub]\n");
    assert_eq!(state, "serving", "{message}");
    // A log entry required: the bundle without one is refused, the other still loads.
    let required = "transparency_log_keys: [log.pub]\nrequire_transparency_log: true\n";
    let (state, message) = health(&unlogged, required);
    assert_eq!(state, "refused", "{message}");
    assert!(
        message.contains("has no transparency log entry, and one is required"),
        "{message}"
    );
    let (state, message) = health(&logged, required);
    assert_eq!(state, "serving", "{message}");
}
