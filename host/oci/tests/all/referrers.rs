//! OCI 1.1 referrers against docker-registry 2.8, which has no referrers API: listing and
//! pushing go through the referrers tag schema (the index at tag `sha256-HEX`).

use std::collections::BTreeMap;

use robodev_oci::{Error, Reference};

use crate::support::{Registry, client, get_manifest, http, push_wasm};

const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const OTHER_TYPE: &str = "application/vnd.example.sbom";

#[tokio::test]
async fn referrers_through_the_tag_schema() {
    let registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    let pushed = push_wasm(&client, &registry, "robodev/referred:1").await;
    let subject = Reference::parse(&format!(
        "oci://{}/robodev/referred@{}",
        registry.host(),
        pushed.digest
    ))
    .unwrap();

    // None yet (no API, no tag): an empty list, not an error.
    assert_eq!(client.referrers(&subject, None).await.unwrap(), vec![]);

    let bundle = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#.to_vec();
    let annotations = BTreeMap::from([("dev.robodev.test".to_owned(), "yes".to_owned())]);
    let first = client
        .push_referrer(
            &subject,
            BUNDLE_TYPE,
            BUNDLE_TYPE,
            bundle.clone(),
            annotations,
        )
        .await
        .unwrap();
    let second = client
        .push_referrer(
            &subject,
            OTHER_TYPE,
            "application/json",
            b"{}".to_vec(),
            BTreeMap::new(),
        )
        .await
        .unwrap();
    assert_ne!(first, second);

    // The tag schema's index, as other clients (oras, cosign) read it.
    let tag = pushed.digest.replace("sha256:", "sha256-");
    let raw = http(
        &registry.host(),
        "GET",
        &format!("/v2/robodev/referred/manifests/{tag}"),
        &[("Accept", "application/vnd.oci.image.index.v1+json")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(raw.status, 200, "{raw:?}");
    let index: serde_json::Value = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let listed: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![first.as_str(), second.as_str()]);
    // The artifact manifest points at its subject.
    let artifact = get_manifest(&registry.host(), "robodev/referred", &first).await;
    assert_eq!(artifact["subject"]["digest"], pushed.digest.as_str());
    assert_eq!(artifact["artifactType"], BUNDLE_TYPE);
    assert_eq!(
        artifact["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );

    // Listing, filtered and not; pushing the same referrer again adds no entry.
    let all = client.referrers(&subject, None).await.unwrap();
    assert_eq!(all.len(), 2);
    let bundles = client.referrers(&subject, Some(BUNDLE_TYPE)).await.unwrap();
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0].digest, first);
    assert_eq!(bundles[0].artifact_type.as_deref(), Some(BUNDLE_TYPE));
    assert_eq!(bundles[0].annotations["dev.robodev.test"], "yes");

    // Reading the referrer back: its manifest, then its one layer, bounded and verified.
    let manifest = client
        .fetch_manifest_bounded(&subject, &first)
        .await
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let layer: robodev_oci::Descriptor =
        serde_json::from_value(manifest["layers"][0].clone()).unwrap();
    assert_eq!(
        client
            .fetch_blob_bounded(&subject, &layer, 1024)
            .await
            .unwrap(),
        bundle
    );
    let e = client
        .fetch_blob_bounded(&subject, &layer, 8)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("more than the 8 accepted"), "{e}");
    let mut lying = layer.clone();
    lying.digest = crate::support::sha256(b"something else");
    assert!(
        client
            .fetch_blob_bounded(&subject, &lying, 1024)
            .await
            .is_err()
    );

    // A subject without a digest is refused before anything is sent.
    let by_tag = registry.reference("robodev/referred:1");
    assert!(matches!(
        client.referrers(&by_tag, None).await.unwrap_err(),
        Error::InvalidReference { .. }
    ));
}
