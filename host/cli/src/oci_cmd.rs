//! `robodev plugin push|pull`: components as OCI artifacts (CNCF Wasm layout), and `oci://`
//! SOURCEs for `plugin inspect|call`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use robodev_oci::{Client, ClientOptions, Progress, Reference};
use serde_json::json;

use crate::common::oci_cache_dir;

/// `robodev plugin push FILE oci://REGISTRY/REPO:TAG`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The `.wasm` component to publish.
    file: PathBuf,
    /// Where: `oci://REGISTRY/REPO:TAG` (plain HTTP only to loopback registries, or with
    /// `--insecure`).
    reference: String,
    /// An annotation of the manifest, KEY=VALUE (repeatable); the image title and creation
    /// time are set already.
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = crate::common::parse_env)]
    annotations: Vec<(String, String)>,
    #[command(flatten)]
    oci: OciArgs,
}

/// `robodev plugin pull oci://REGISTRY/REPO:TAG[@sha256:DIGEST]`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// What: `oci://REGISTRY/REPO:TAG[@sha256:DIGEST]`.
    reference: String,
    /// Also copy the component to this file.
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[command(flatten)]
    oci: OciArgs,
}

/// Registry access.
#[derive(Debug, Args)]
pub struct OciArgs {
    /// Allow plain HTTP to registries that are not on loopback.
    #[arg(long)]
    insecure: bool,
    /// A PEM file of CA certificates to trust besides the built-in roots, for a registry
    /// whose certificate a private CA issued (repeatable; robodev-config.yaml's oci.ca_files).
    #[arg(long = "ca-file", value_name = "FILE")]
    ca_files: Vec<PathBuf>,
    /// How long the whole transfer may take (`90s`, `10m`, `1h`, `500ms`, or seconds);
    /// default 10m. A transfer that slows to a trickle is reported, then abandoned, sooner.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// A `--timeout`: what robodev-config.yaml accepts (`250ms`, `30s`, `5m`, `1h`), or whole
/// seconds; above zero.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok().map(Duration::from_secs)
    } else {
        robodev_controller::config::raw::RawDuration::parse(text)
    };
    match parsed {
        Some(d) if !d.is_zero() => Ok(d),
        Some(_) => Err("expected a duration above 0".to_owned()),
        None => Err(format!(
            "expected a duration such as 90s, 10m, 1h or 500ms, found {text:?}"
        )),
    }
}

fn client(args: &OciArgs) -> Client {
    let mut options = ClientOptions::new(oci_cache_dir()).insecure(args.insecure);
    for path in &args.ca_files {
        options = options.ca_file(path);
    }
    if let Some(progress) = progress(args.json) {
        options = options.progress(progress);
    }
    if let Some(timeout) = args.timeout {
        options = options.transfer_timeout(timeout);
    }
    Client::new(options)
}

/// How a transfer's progress is shown: a bar per blob on a terminal; plain lines on stderr
/// when it is not one (a log, CI); nothing then with `--json`, whose reader wants stdout only.
fn progress(json: bool) -> Option<robodev_oci::ProgressFn> {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        return Some(bars());
    }
    if json {
        return None;
    }
    Some(Arc::new(|p: &Progress| {
        let direction = direction(p);
        if let Some(stall) = &p.stall {
            eprintln!(
                "{direction} {}: {} / {} bytes, {stall}",
                short(&p.digest),
                p.done,
                p.total
            );
            return;
        }
        eprintln!(
            "{direction} {}: {} / {} bytes ({}%)",
            short(&p.digest),
            p.done,
            p.total,
            (p.done * 100).checked_div(p.total).unwrap_or(100)
        );
    }))
}

fn direction(p: &Progress) -> &'static str {
    match p.direction {
        robodev_oci::Direction::Upload => "push",
        _ => "pull",
    }
}

/// Terminal progress bars (indicatif), one per blob, kept until the command ends.
fn bars() -> robodev_oci::ProgressFn {
    use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
    let multi = MultiProgress::new();
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let bars: std::sync::Mutex<BTreeMap<String, ProgressBar>> = Default::default();
    Arc::new(move |p: &Progress| {
        let mut bars = bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bar = bars.entry(p.digest.clone()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(p.total));
            bar.set_style(style.clone());
            bar.set_prefix(format!("{} {}", direction(p), short(&p.digest)));
            bar
        });
        bar.set_length(p.total);
        bar.set_position(p.done);
        match &p.stall {
            Some(stall) => bar.set_message(stall.to_string()),
            None => bar.set_message(""),
        }
        if p.done >= p.total {
            bar.finish();
        }
    })
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(19)]
}

fn fail(e: anyhow::Error) -> u8 {
    eprintln!("error: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    2
}

/// The exit code of an OCI error: refusals (digest, not Wasm) 4, the rest 2 (a registry too
/// slow to wait for is a host/network error, like one that cannot be reached).
fn oci_fail(e: robodev_oci::Error) -> u8 {
    match &e {
        robodev_oci::Error::TransferTimeout { limit, .. }
            if matches!(**limit, robodev_oci::TransferLimit::Deadline { .. }) =>
        {
            eprintln!("error: {e} (--timeout sets it)");
        }
        _ => eprintln!("error: {e}"),
    }
    match e {
        robodev_oci::Error::DigestMismatch { .. } | robodev_oci::Error::NotAWasmArtifact { .. } => {
            4
        }
        _ => 2,
    }
}

pub async fn push(args: PushArgs) -> u8 {
    let reference = match Reference::parse(&args.reference) {
        Ok(r) => r,
        Err(e) => return oci_fail(e),
    };
    let annotations: BTreeMap<String, String> = args.annotations.into_iter().collect();
    match client(&args.oci)
        .push(&args.file, &reference, annotations)
        .await
    {
        Ok(pushed) => {
            if args.oci.json {
                println!(
                    "{}",
                    json!({
                        "reference": pushed.reference.to_string(),
                        "digest": pushed.digest,
                        "layerDigest": pushed.layer_digest,
                        "size": pushed.size,
                    })
                );
            } else {
                println!("pushed {} ({} bytes)", pushed.reference, pushed.size);
            }
            0
        }
        Err(e) => oci_fail(e),
    }
}

pub async fn pull(args: PullArgs) -> u8 {
    let reference = match Reference::parse(&args.reference) {
        Ok(r) => r,
        Err(e) => return oci_fail(e),
    };
    let pulled = match client(&args.oci).pull(&reference).await {
        Ok(p) => p,
        Err(e) => return oci_fail(e),
    };
    if let Some(out) = &args.output
        && let Err(e) = std::fs::copy(&pulled.path, out)
            .with_context(|| format!("cannot write {}", out.display()))
    {
        return fail(e);
    }
    if args.oci.json {
        println!(
            "{}",
            json!({
                "reference": pulled.reference.to_string(),
                "digest": pulled.digest,
                "layerDigest": pulled.layer_digest,
                "mediaType": pulled.media_type,
                "size": pulled.size,
                "path": pulled.path.display().to_string(),
                "fromCache": pulled.from_cache,
                "offline": pulled.offline,
            })
        );
    } else {
        println!(
            "pulled {} ({} bytes{}) -> {}",
            pulled.reference,
            pulled.size,
            if pulled.offline {
                ", offline: from the cache"
            } else {
                ""
            },
            args.output.as_deref().unwrap_or(&pulled.path).display()
        );
    }
    0
}

/// A SOURCE of `plugin inspect|call`: an `oci://` reference is pulled into the cache (trusting
/// the CAs of `ca_files` too) and the cached file used; anything else is a path.
pub async fn resolve_source(source: &Path, ca_files: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let text = source.to_string_lossy();
    if !(text.starts_with("oci://") || text.starts_with("oci+http")) {
        return Ok(source.to_owned());
    }
    let reference = Reference::parse(&text)?;
    let mut options = ClientOptions::new(oci_cache_dir());
    for path in ca_files {
        options = options.ca_file(path);
    }
    let client = Client::new(options);
    let pulled = client.pull(&reference).await?;
    if pulled.path.as_os_str().is_empty() {
        bail!("the pull of {reference} returned no file");
    }
    eprintln!("{reference} is {}", pulled.digest);
    Ok(pulled.path)
}

/// The plugin name an `oci://` SOURCE gets: its repository's last component.
pub fn plugin_name(source: &Path) -> Option<String> {
    let reference = Reference::parse(&source.to_string_lossy()).ok()?;
    reference.repository().rsplit('/').next().map(str::to_owned)
}

/// `robodev plugin sign SOURCE --key KEY`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// A `.wasm` component or plugin executable (the signature goes to `FILE.sig`, or with
    /// `--bundle` to a Sigstore bundle), or an `oci://` reference (the signature is attached
    /// to it in the registry, cosign's way).
    source: String,
    /// The private key: PEM, ECDSA P-256, unencrypted PKCS#8 (`openssl genpkey -algorithm EC
    /// -pkeyopt ec_paramgen_curve:P-256`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// For an `oci://` reference, the signature format: `bundle` (a Sigstore bundle attached
    /// as an OCI referrer, what cosign v3 writes) or `simple-signing` (the `sha256-HEX.sig`
    /// tag cosign v2 wrote). Default: bundle.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// For a file: write a Sigstore bundle (what `cosign sign-blob --bundle` writes) to this
    /// file instead of `FILE.sig`.
    #[arg(long, value_name = "OUT")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    oci: OciArgs,
}

/// `--format` of `plugin sign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A Sigstore bundle attached as an OCI referrer (cosign v3's default).
    Bundle,
    /// cosign's simple-signing manifest at the tag `sha256-HEX.sig` (cosign v2's default).
    SimpleSigning,
}

/// `robodev plugin verify SOURCE --key PUB...`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A `.wasm` component or plugin executable (with `FILE.sig` beside it, or a Sigstore
    /// bundle given with `--bundle`), or an `oci://` reference (Sigstore bundles attached as
    /// referrers, then the `sha256-HEX.sig` tag).
    source: String,
    /// A trusted public key (PEM, as cosign.pub); repeatable.
    #[arg(long = "key", value_name = "FILE", required = true)]
    keys: Vec<PathBuf>,
    /// The public key (PEM) of a transparency log whose entries in Sigstore bundles are
    /// accepted; repeatable. Without one, a bundle carrying log entries is refused, and one
    /// without passes on its signature.
    #[arg(long = "log-key", value_name = "FILE")]
    log_keys: Vec<PathBuf>,
    /// Refuse Sigstore bundles without a verified transparency-log entry (needs `--log-key`).
    #[arg(long, requires = "log_keys")]
    require_tlog: bool,
    /// For a file: the Sigstore bundle to check (what `cosign sign-blob --bundle` writes)
    /// instead of `FILE.sig`.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    oci: OciArgs,
}

fn is_oci(source: &str) -> bool {
    source.starts_with("oci://") || source.starts_with("oci+http")
}

/// Signature failures are refusals (4); unreadable keys or files, registries, usage 2.
fn signature_fail(e: robodev_oci::SignatureError) -> u8 {
    eprintln!("error: {e}");
    match e {
        robodev_oci::SignatureError::Missing { .. }
        | robodev_oci::SignatureError::Invalid { .. }
        | robodev_oci::SignatureError::Untrusted { .. }
        | robodev_oci::SignatureError::WrongDigest { .. }
        | robodev_oci::SignatureError::Bundle { .. }
        | robodev_oci::SignatureError::Rejected { .. } => 4,
        _ => 2,
    }
}

/// A refused Sigstore bundle of a file: a refusal (4), or 2 when the key cannot sign.
fn bundle_fail(subject: &str, e: robodev_oci::BundleError) -> u8 {
    eprintln!("error: {subject}: {e}");
    match e {
        robodev_oci::BundleError::Signing(_) => 2,
        _ => 4,
    }
}

/// The reference pinned to the digest its tag names now (pulling it into the cache).
async fn pinned(client: &Client, source: &str) -> Result<Reference, u8> {
    let reference = Reference::parse(source).map_err(oci_fail)?;
    if reference.digest().is_some() {
        return Ok(reference);
    }
    client
        .pull(&reference)
        .await
        .map(|p| p.reference)
        .map_err(oci_fail)
}

pub async fn sign(args: SignArgs) -> u8 {
    let pem = match std::fs::read_to_string(&args.key)
        .with_context(|| format!("cannot read the key {}", args.key.display()))
    {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if is_oci(&args.source) {
        if args.bundle.is_some() {
            return fail(anyhow::anyhow!(
                "--bundle is for files; an oci:// reference's bundle is attached in the registry \
                 (--format bundle)"
            ));
        }
        let client = client(&args.oci);
        let reference = match pinned(&client, &args.source).await {
            Ok(r) => r,
            Err(code) => return code,
        };
        let format = match args.format.unwrap_or(Format::Bundle) {
            Format::Bundle => robodev_oci::SigningFormat::Bundle,
            Format::SimpleSigning => robodev_oci::SigningFormat::SimpleSigning,
        };
        match robodev_oci::signature::sign_artifact_with(&client, &reference, &pem, format).await {
            Ok(digest) => {
                let (what, key) = match format {
                    robodev_oci::SigningFormat::Bundle => ("Sigstore bundle referrer", "referrer"),
                    _ => ("signature manifest", "signatureManifest"),
                };
                if args.oci.json {
                    println!(
                        "{}",
                        json!({
                            "reference": reference.to_string(),
                            "format": format.name(),
                            key: digest,
                        })
                    );
                } else {
                    println!("signed {reference} ({what} {digest})");
                }
                0
            }
            Err(e) => signature_fail(e),
        }
    } else if args.format.is_some() {
        fail(anyhow::anyhow!(
            "--format is for oci:// references; a file's signature is FILE.sig, or a Sigstore \
             bundle with --bundle OUT"
        ))
    } else if let Some(out) = &args.bundle {
        let bytes = match std::fs::read(&args.source)
            .with_context(|| format!("cannot read {}", args.source))
        {
            Ok(b) => b,
            Err(e) => return fail(e),
        };
        let bundle = match robodev_oci::bundle::sign_bundle_blob(&bytes, &pem, None) {
            Ok(b) => b,
            Err(e) => return bundle_fail(&args.source, e),
        };
        if let Err(e) =
            std::fs::write(out, bundle).with_context(|| format!("cannot write {}", out.display()))
        {
            return fail(e);
        }
        println!(
            "signed {} -> {} (Sigstore bundle)",
            args.source,
            out.display()
        );
        0
    } else {
        match robodev_oci::signature::sign_blob_file(Path::new(&args.source), &pem).await {
            Ok(path) => {
                println!("signed {} -> {}", args.source, path.display());
                0
            }
            Err(e) => signature_fail(e),
        }
    }
}

pub async fn verify(args: VerifyArgs) -> u8 {
    let keys = match robodev_oci::TrustedKeys::from_pem_files(&args.keys) {
        Ok(k) => k,
        Err(e) => return signature_fail(e),
    };
    let log_keys = if args.log_keys.is_empty() {
        robodev_oci::TrustedKeys::new()
    } else {
        match robodev_oci::TrustedKeys::from_pem_files(&args.log_keys) {
            Ok(k) => k,
            Err(e) => return signature_fail(e),
        }
    };
    let policy = robodev_oci::BundlePolicy::new(log_keys, args.require_tlog);
    // (subject, key, format name, details for --json, details for text)
    let (subject, key, format, extra, detail) = if is_oci(&args.source) {
        if args.bundle.is_some() {
            return fail(anyhow::anyhow!(
                "--bundle is for files; an oci:// reference's bundles are found in the registry"
            ));
        }
        let client = client(&args.oci);
        let reference = match pinned(&client, &args.source).await {
            Ok(r) => r,
            Err(code) => return code,
        };
        let verified =
            match robodev_oci::signature::verify_artifact_with(&client, &reference, &keys, &policy)
                .await
            {
                Ok(v) => v,
                Err(e) => return signature_fail(e),
            };
        let extra = match &verified.format {
            robodev_oci::SignatureFormat::Bundle { referrer, bundle } => json!({
                "referrer": referrer,
                "tlogEntries": bundle.tlog.len(),
            }),
            robodev_oci::SignatureFormat::SimpleSigning { tag } => json!({ "tag": tag }),
            _ => json!({}),
        };
        (
            reference.to_string(),
            verified.key,
            verified.format.name(),
            extra,
            verified.format.to_string(),
        )
    } else if let Some(bundle_path) = &args.bundle {
        let read = |path: &Path| {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        };
        let (bundle, bytes) =
            match read(bundle_path).and_then(|b| Ok((b, read(Path::new(&args.source))?))) {
                Ok(pair) => pair,
                Err(e) => return fail(e),
            };
        match robodev_oci::bundle::verify_blob_bundle(&bundle, &bytes, &keys, &policy) {
            Ok(verified) => (
                args.source.clone(),
                verified.key,
                "bundle",
                json!({
                    "bundle": bundle_path.display().to_string(),
                    "tlogEntries": verified.tlog.len(),
                }),
                format!("Sigstore bundle {}", bundle_path.display()),
            ),
            Err(e) => return bundle_fail(&args.source, e),
        }
    } else {
        match robodev_oci::signature::verify_blob_file(Path::new(&args.source), &keys).await {
            Ok(signer) => {
                let sig = robodev_oci::signature::signature_path(Path::new(&args.source));
                (
                    args.source.clone(),
                    signer,
                    "sig-file",
                    json!({ "signature": sig.display().to_string() }),
                    format!("signature file {}", sig.display()),
                )
            }
            Err(e) => return signature_fail(e),
        }
    };
    if args.oci.json {
        let mut out = json!({
            "subject": subject,
            "verified": true,
            "format": format,
            "key": { "name": key.name, "fingerprint": key.fingerprint },
        });
        if let (Some(out), Some(extra)) = (out.as_object_mut(), extra.as_object()) {
            out.extend(extra.clone());
        }
        println!("{out}");
    } else {
        println!("verified {subject}: signed by {key}, {detail}");
    }
    0
}
