//! The OCI manifest and the media types of the CNCF Wasm artifact layout.
//!
//! A Wasm component artifact is an OCI image manifest whose config has the media type
//! [`WASM_CONFIG_MEDIA_TYPE`] and whose one layer is the `.wasm` file, media type
//! [`WASM_LAYER_MEDIA_TYPE`]. Older tools published other layer media types
//! ([`WASM_LAYER_MEDIA_TYPES`]); pulls accept them all, pushes write the current one.
//!
//! - oci-client's serde types ([`OciImageManifest`], [`OciDescriptor`]) read and write image
//!   manifests: the pulled one, the pushed one, referrers' and cosign's.
//! - robodev keeps: the check of the kind before the body is read as an image manifest (an index
//!   is refused as one, by media type or by its `manifests`), the choice of the one Wasm layer,
//!   the layer summary and the bounded quoting of refusals, and its own [`Descriptor`] in
//!   public signatures (`u64` sizes, checked here: oci-client's are `i64`; and `artifactType`,
//!   which oci-client's index entries lack, so referrer lists stay robodev's:
//!   [`crate::referrers`]).
//! - [`WasmConfig`] is robodev's: oci-client's config types are for container images.

use std::collections::{BTreeMap, HashMap};

use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde::{Deserialize, Serialize};

use crate::error::bounded;
use crate::referrers::Descriptor;

/// The OCI image manifest media type: what robodev pushes and prefers to pull.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The OCI image index media type (multi-platform images); not a single component.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Docker's schema 2 manifest, which some registries still answer with; same shape as OCI's.
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list (multi-platform); not a single component.
pub const DOCKER_MANIFEST_LIST_MEDIA_TYPE: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";

/// The config media type of the CNCF Wasm OCI artifact layout.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The layer media type of the CNCF Wasm OCI artifact layout: what robodev pushes.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// Every layer media type a pull accepts as the Wasm binary: the current one first, then those
/// of older tools (wasm-to-oci and Spin's `vnd.wasm.content.layer.v1+wasm`, the WebAssembly
/// Hub / wasm-image-spec's `vnd.module.wasm.content.layer.v1+wasm`).
pub const WASM_LAYER_MEDIA_TYPES: &[&str] = &[
    WASM_LAYER_MEDIA_TYPE,
    "application/vnd.wasm.content.layer.v1+wasm",
    "application/vnd.module.wasm.content.layer.v1+wasm",
];

/// The annotation OCI tools (oras, crane, registries' UIs) read as a file's name.
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
/// The annotation holding the RFC 3339 time the artifact was made.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// How many distinct layer media types an error about a manifest's layers names (each with its
/// count); the rest are counted together. A manifest may list thousands of layers: the error
/// says how many of which types, not each one.
pub const MAX_LISTED_MEDIA_TYPES: usize = 5;

/// The `Accept` header of manifest requests: without an OCI media type in it, registries
/// (distribution 2.8 among them) answer 404 for OCI manifests.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// What a manifest says it is, read before the rest: an index lacks the image manifest's
/// required fields, and must be refused as an index, not as broken JSON.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde::de::IgnoredAny>,
}

/// Why a manifest yields no Wasm layer.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// It is not image manifest JSON (serde's reason, bounded).
    Invalid(String),
    /// It is a manifest, of something else: what was found.
    NotWasm(String),
}

/// Reads the image manifest `bytes` into oci-client's type; the error is serde's reason,
/// bounded.
pub(crate) fn parse_image_manifest(bytes: &[u8]) -> Result<OciImageManifest, String> {
    serde_json::from_slice(bytes).map_err(|e| bounded(&e.to_string()))
}

/// The one Wasm layer of the manifest `bytes` (`content_type`: the response's, for a manifest
/// that does not name its media type), or why there is none.
pub(crate) fn wasm_layer(bytes: &[u8], content_type: Option<&str>) -> Result<Descriptor, Refusal> {
    let head: Head =
        serde_json::from_slice(bytes).map_err(|e| Refusal::Invalid(bounded(&e.to_string())))?;
    let media_type = head.media_type.as_deref().or(content_type);
    let is_index = matches!(
        media_type,
        Some(INDEX_MEDIA_TYPE | DOCKER_MANIFEST_LIST_MEDIA_TYPE)
    ) || head.manifests.is_some();
    if is_index {
        return Err(Refusal::NotWasm(format!(
            "an image index ({}) listing several manifests, not one component",
            media_type.map_or_else(|| "no media type".to_owned(), bounded)
        )));
    }
    if let Some(other) =
        media_type.filter(|m| *m != MANIFEST_MEDIA_TYPE && *m != DOCKER_MANIFEST_MEDIA_TYPE)
    {
        return Err(Refusal::NotWasm(format!(
            "a manifest of media type {}",
            bounded(other)
        )));
    }
    let manifest = parse_image_manifest(bytes).map_err(Refusal::Invalid)?;
    let wasm: Vec<&OciDescriptor> = manifest
        .layers
        .iter()
        .filter(|l| WASM_LAYER_MEDIA_TYPES.contains(&l.media_type.as_str()))
        .collect();
    match wasm.as_slice() {
        [one] => Descriptor::from_oci(one).map_err(Refusal::Invalid),
        _ => Err(Refusal::NotWasm(format!(
            "{} with config {} and {}; expected exactly one layer of {}",
            if wasm.is_empty() {
                "no Wasm layer"
            } else {
                "several Wasm layers"
            },
            bounded(&manifest.config.media_type),
            summarize_layers(&manifest.layers),
            WASM_LAYER_MEDIA_TYPES.join(" or ")
        ))),
    }
}

/// An OCI image manifest (`mediaType` set) of `config` and `layers`, as robodev writes them.
pub(crate) fn image_manifest(
    config: OciDescriptor,
    layers: Vec<OciDescriptor>,
    annotations: BTreeMap<String, String>,
) -> OciImageManifest {
    OciImageManifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
        config,
        layers,
        annotations: (!annotations.is_empty()).then_some(annotations),
        ..OciImageManifest::default()
    }
}

/// `N layers: TYPE (COUNT), ...`: the layers counted per media type, in the order the types
/// first appear, the first [`MAX_LISTED_MEDIA_TYPES`] named (each cut to
/// [`crate::error::MAX_QUOTED_CHARS`]), the rest counted.
fn summarize_layers(layers: &[OciDescriptor]) -> String {
    if layers.is_empty() {
        return "no layers".to_owned();
    }
    let mut order: Vec<&str> = Vec::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for layer in layers {
        let count = counts.entry(layer.media_type.as_str()).or_insert_with(|| {
            order.push(layer.media_type.as_str());
            0
        });
        *count += 1;
    }
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut text = plural(layers.len(), "layer", "layers");
    if order.len() > 1 {
        text.push_str(&format!(" of {} media types", order.len()));
    }
    text.push_str(": ");
    text.push_str(
        &order
            .iter()
            .take(MAX_LISTED_MEDIA_TYPES)
            .map(|t| format!("{} ({})", bounded(t), counts[t]))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if order.len() > MAX_LISTED_MEDIA_TYPES {
        let rest = &order[MAX_LISTED_MEDIA_TYPES..];
        let layers: usize = rest.iter().map(|t| counts[t]).sum();
        text.push_str(&format!(
            ", and {} of {} more {}",
            plural(layers, "layer", "layers"),
            rest.len(),
            if rest.len() == 1 {
                "media type"
            } else {
                "media types"
            }
        ));
    }
    text
}

/// The config blob of the CNCF Wasm layout (`application/vnd.wasm.config.v0+json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WasmConfig {
    pub created: String,
    pub architecture: &'static str,
    pub os: &'static str,
    pub layer_digests: Vec<String>,
    /// What a component exports and imports (the spec's `component` field); absent for a core
    /// module, or for a component too large to describe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentDescription>,
}

/// The CNCF Wasm config's `component` description: the component's top-level import and
/// export names (`wasi:http/outgoing-handler@0.2.6`, `robodev:review/backend@1.0.0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ComponentDescription {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
}

/// The largest component whose imports and exports are read for its description (it is read
/// into memory whole to parse it).
pub(crate) const MAX_DESCRIBED_BYTES: u64 = 256 * 1024 * 1024;

impl ComponentDescription {
    /// Reads the top-level import and export names of the component `bytes` (nested
    /// components' and modules' own sections are skipped); `None` when it does not parse.
    pub fn of(bytes: &[u8]) -> Option<ComponentDescription> {
        use wasmparser::{Parser, Payload};
        let mut description = ComponentDescription {
            exports: Vec::new(),
            imports: Vec::new(),
        };
        // Nesting depth: the payloads of nested modules and components come inline.
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.ok()? {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                Payload::ComponentImportSection(reader) if depth == 0 => {
                    for import in reader {
                        description.imports.push(import.ok()?.name.name.to_owned());
                    }
                }
                Payload::ComponentExportSection(reader) if depth == 0 => {
                    for export in reader {
                        description.exports.push(export.ok()?.name.name.to_owned());
                    }
                }
                _ => {}
            }
        }
        Some(description)
    }
}

/// The kind of WebAssembly binary, from its 8-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WasmKind {
    /// A component (layer `0x0d`, version 1).
    Component,
    /// A core module (version 1).
    Module,
}

impl WasmKind {
    /// Reads the preamble: `\0asm`, then a 2-byte version and a 2-byte layer.
    pub fn detect(header: &[u8]) -> Option<Self> {
        match header {
            [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => Some(Self::Module),
            [0, b'a', b's', b'm', _, _, 1, 0, ..] => Some(Self::Component),
            _ => None,
        }
    }

    /// The `os` the Wasm config records: a component targets WASI 0.2, a module WASI 0.1.
    pub fn os(self) -> &'static str {
        match self {
            Self::Component => "wasip2",
            Self::Module => "wasip1",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Wasm layer of the manifest `json`, or the refusal's text.
    fn layer_of(json: serde_json::Value, content_type: Option<&str>) -> Result<Descriptor, String> {
        wasm_layer(&serde_json::to_vec(&json).unwrap(), content_type).map_err(|r| match r {
            Refusal::Invalid(why) => format!("invalid: {why}"),
            Refusal::NotWasm(why) => why,
        })
    }

    fn layer(media_type: &str) -> serde_json::Value {
        serde_json::json!({"mediaType": media_type, "digest": "sha256:00", "size": 1})
    }

    #[test]
    fn accepts_every_wasm_layer_media_type() {
        for media_type in WASM_LAYER_MEDIA_TYPES {
            let m = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": MANIFEST_MEDIA_TYPE,
                "config": layer(WASM_CONFIG_MEDIA_TYPE),
                "layers": [layer(media_type)],
            });
            assert_eq!(layer_of(m, None).unwrap().media_type, *media_type);
        }
    }

    #[test]
    fn refusals_list_what_was_found() {
        let m = serde_json::json!({
            "schemaVersion": 2,
            "config": layer("application/vnd.oci.image.config.v1+json"),
            "layers": [layer("application/vnd.oci.image.layer.v1.tar+gzip")],
        });
        let why = layer_of(m, Some(MANIFEST_MEDIA_TYPE)).unwrap_err();
        assert!(why.contains("no Wasm layer"), "{why}");
        assert!(
            why.contains("application/vnd.oci.image.config.v1+json"),
            "{why}"
        );
        assert!(
            why.contains("application/vnd.oci.image.layer.v1.tar+gzip"),
            "{why}"
        );

        let two = serde_json::json!({
            "schemaVersion": 2,
            "config": layer(WASM_CONFIG_MEDIA_TYPE),
            "layers": [layer(WASM_LAYER_MEDIA_TYPE), layer(WASM_LAYER_MEDIA_TYPE)],
        });
        assert!(
            layer_of(two, None)
                .unwrap_err()
                .contains("several Wasm layers")
        );

        // An index, by media type or by its `manifests` alone.
        for index in [
            serde_json::json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []}),
            serde_json::json!({"schemaVersion": 2, "manifests": []}),
        ] {
            assert!(layer_of(index, None).unwrap_err().contains("image index"));
        }

        // The spec's required `config` missing; a negative size.
        let why = layer_of(serde_json::json!({"schemaVersion": 2, "layers": []}), None);
        assert!(why.unwrap_err().contains("invalid: missing field `config`"));
        let mut negative = layer(WASM_LAYER_MEDIA_TYPE);
        negative["size"] = serde_json::json!(-1);
        let why = layer_of(
            serde_json::json!({
                "schemaVersion": 2,
                "config": layer(WASM_CONFIG_MEDIA_TYPE),
                "layers": [negative],
            }),
            None,
        );
        assert!(why.unwrap_err().contains("size -1"), "negative size");
    }

    #[test]
    fn refusals_summarise_many_layers() {
        let junk = "application/vnd.example.junk";
        let mut layers: Vec<_> = (0..20_000).map(|_| layer(junk)).collect();
        layers.push(layer(&format!("application/{}", "y".repeat(100_000))));
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": layer("application/vnd.oci.image.config.v1+json"),
            "layers": layers,
        });
        let why = layer_of(m, None).unwrap_err();
        assert!(why.len() < 1000, "{} bytes: {why}", why.len());
        assert!(
            why.contains(&format!(
                "20001 layers of 2 media types: {junk} (20000), application/yyy"
            )),
            "{why}"
        );
        assert!(why.contains("(99812 more characters) (1)"), "{why}");

        // Thousands of distinct media types: five are named, the rest counted.
        let layers: Vec<_> = (0..20_000)
            .map(|i| layer(&format!("application/x-{i}")))
            .collect();
        let m = serde_json::json!({
            "schemaVersion": 2,
            "config": layer(WASM_CONFIG_MEDIA_TYPE),
            "layers": layers,
        });
        let why = layer_of(m, None).unwrap_err();
        assert!(why.len() < 1000, "{} bytes: {why}", why.len());
        assert!(
            why.contains(
                "20000 layers of 20000 media types: application/x-0 (1), application/x-1 (1), \
                 application/x-2 (1), application/x-3 (1), application/x-4 (1), and 19995 layers \
                 of 19995 more media types"
            ),
            "{why}"
        );

        let long = format!("application/{}", "z".repeat(1_000_000));
        let m = serde_json::json!({ "schemaVersion": 2, "mediaType": long, "layers": [] });
        let why = layer_of(m, None).unwrap_err();
        assert!(why.len() < 400, "{} bytes", why.len());
    }

    #[test]
    fn detects_components_and_modules() {
        assert_eq!(
            WasmKind::detect(b"\0asm\x0d\0\x01\0rest"),
            Some(WasmKind::Component)
        );
        assert_eq!(WasmKind::detect(b"\0asm\x01\0\0\0"), Some(WasmKind::Module));
        assert_eq!(WasmKind::detect(b"\x7fELF\x02\x01\x01\0"), None);
        assert_eq!(WasmKind::detect(b"\0asm"), None);
    }
}
