//! `robodev plugin push|pull`: components as OCI artifacts (CNCF Wasm layout), and `oci://`
//! SOURCEs for `plugin inspect|call`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use robodev_oci::{Client, ClientOptions, Progress, Reference};
use serde_json::json;

use crate::run_cmd::oci_cache_dir;

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
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = crate::plugin_cmd::parse_env)]
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
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn client(args: &OciArgs) -> Client {
    let progress: robodev_oci::ProgressFn = Arc::new(|p: &Progress| {
        let direction = match p.direction {
            robodev_oci::Direction::Upload => "push",
            _ => "pull",
        };
        eprintln!(
            "{direction} {}: {} / {} bytes ({}%)",
            short(&p.digest),
            p.done,
            p.total,
            (p.done * 100).checked_div(p.total).unwrap_or(100)
        );
    });
    Client::new(
        ClientOptions::new(oci_cache_dir())
            .insecure(args.insecure)
            .progress(progress),
    )
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

/// The exit code of an OCI error: refusals (digest, not Wasm) 4, the rest 2.
fn oci_fail(e: robodev_oci::Error) -> u8 {
    eprintln!("error: {e}");
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

/// A SOURCE of `plugin inspect|call`: an `oci://` reference is pulled into the cache and the
/// cached file used; anything else is a path.
pub async fn resolve_source(source: &Path) -> anyhow::Result<PathBuf> {
    let text = source.to_string_lossy();
    if !(text.starts_with("oci://") || text.starts_with("oci+http")) {
        return Ok(source.to_owned());
    }
    let reference = Reference::parse(&text)?;
    let client = Client::new(ClientOptions::new(oci_cache_dir()));
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
