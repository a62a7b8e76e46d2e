//! The OCI manifest and the media types of the CNCF Wasm artifact layout.
//!
//! A Wasm component artifact is an OCI image manifest whose config has the media type
//! [`WASM_CONFIG_MEDIA_TYPE`] and whose one layer is the `.wasm` file, media type
//! [`WASM_LAYER_MEDIA_TYPE`]. Older tools published other layer media types
//! ([`WASM_LAYER_MEDIA_TYPES`]); pulls accept them all, pushes write the current one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

/// The `Accept` header of manifest requests: without an OCI media type in it, registries
/// (distribution 2.8 among them) answer 404 for OCI manifests.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// A content descriptor: what a manifest says about a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image manifest, as far as robodev reads and writes it. Unknown fields are ignored on
/// reading: manifests from other tools carry `artifactType`, `subject` and more.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Present in an index: it lists manifests, not layers.
    #[serde(default, skip_serializing)]
    pub manifests: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// The one Wasm layer of this manifest, or a description of what was found instead.
    pub fn wasm_layer(&self, content_type: Option<&str>) -> Result<&Descriptor, String> {
        let media_type = self.media_type.as_deref().or(content_type);
        let is_index = matches!(
            media_type,
            Some(INDEX_MEDIA_TYPE | DOCKER_MANIFEST_LIST_MEDIA_TYPE)
        ) || self.manifests.is_some();
        if is_index {
            return Err(format!(
                "an image index ({}) listing several manifests, not one component",
                media_type.unwrap_or("no media type")
            ));
        }
        if let Some(other) =
            media_type.filter(|m| *m != MANIFEST_MEDIA_TYPE && *m != DOCKER_MANIFEST_MEDIA_TYPE)
        {
            return Err(format!("a manifest of media type {other}"));
        }
        let wasm: Vec<&Descriptor> = self
            .layers
            .iter()
            .filter(|l| WASM_LAYER_MEDIA_TYPES.contains(&l.media_type.as_str()))
            .collect();
        match wasm.as_slice() {
            [one] => Ok(one),
            _ => Err(format!(
                "{} with config {} and layers [{}]; expected exactly one layer of {}",
                if wasm.is_empty() {
                    "no Wasm layer"
                } else {
                    "several Wasm layers"
                },
                self.config
                    .as_ref()
                    .map_or("(none)", |c| c.media_type.as_str()),
                self.layers
                    .iter()
                    .map(|l| l.media_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                WASM_LAYER_MEDIA_TYPES.join(" or ")
            )),
        }
    }
}

/// The config blob of the CNCF Wasm layout (`application/vnd.wasm.config.v0+json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WasmConfig {
    pub created: String,
    pub architecture: &'static str,
    pub os: &'static str,
    pub layer_digests: Vec<String>,
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

    fn manifest(json: serde_json::Value) -> Manifest {
        serde_json::from_value(json).unwrap()
    }

    fn layer(media_type: &str) -> serde_json::Value {
        serde_json::json!({"mediaType": media_type, "digest": "sha256:00", "size": 1})
    }

    #[test]
    fn accepts_every_wasm_layer_media_type() {
        for media_type in WASM_LAYER_MEDIA_TYPES {
            let m = manifest(serde_json::json!({
                "schemaVersion": 2,
                "mediaType": MANIFEST_MEDIA_TYPE,
                "config": layer(WASM_CONFIG_MEDIA_TYPE),
                "layers": [layer(media_type)],
            }));
            assert_eq!(m.wasm_layer(None).unwrap().media_type, *media_type);
        }
    }

    #[test]
    fn refusals_list_what_was_found() {
        let m = manifest(serde_json::json!({
            "schemaVersion": 2,
            "config": layer("application/vnd.oci.image.config.v1+json"),
            "layers": [layer("application/vnd.oci.image.layer.v1.tar+gzip")],
        }));
        let why = m.wasm_layer(Some(MANIFEST_MEDIA_TYPE)).unwrap_err();
        assert!(why.contains("no Wasm layer"), "{why}");
        assert!(
            why.contains("application/vnd.oci.image.config.v1+json"),
            "{why}"
        );
        assert!(
            why.contains("application/vnd.oci.image.layer.v1.tar+gzip"),
            "{why}"
        );

        let two = manifest(serde_json::json!({
            "schemaVersion": 2,
            "layers": [layer(WASM_LAYER_MEDIA_TYPE), layer(WASM_LAYER_MEDIA_TYPE)],
        }));
        assert!(
            two.wasm_layer(None)
                .unwrap_err()
                .contains("several Wasm layers")
        );

        let index = manifest(serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [],
        }));
        assert!(index.wasm_layer(None).unwrap_err().contains("image index"));
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
