//! Interop with an independent client: the ORAS project's Python SDK (oras-py, pinned in
//! scripts/build-oci-interop).

use robodev_oci::{ANNOTATION_TITLE, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};

use crate::support::{Registry, client, no_annotations, sha256, wasm_file};

#[tokio::test]
async fn oras_pulls_what_robodev_pushed() {
    let registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(wasm_file()).unwrap();
    let pushed = client(&dir.path().join("cache"))
        .push(
            &wasm_file(),
            &registry.reference("robodev/to-oras:1.0.0"),
            no_annotations(),
        )
        .await
        .unwrap();
    let out = dir.path().join("oras-out");
    std::fs::create_dir_all(&out).unwrap();
    let target = format!("{}/robodev/to-oras:1.0.0", registry.host());
    let result = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        let out = out.display().to_string();
        move || crate::support::oras(&dir, &["pull", &target, &out])
    })
    .await
    .unwrap();
    // oras names the file from the layer's title annotation.
    let files: Vec<String> = serde_json::from_value(result["files"].clone()).unwrap();
    assert_eq!(
        files,
        vec![out.join("review_rules.wasm").display().to_string()]
    );
    assert_eq!(
        std::fs::read(out.join("review_rules.wasm")).unwrap(),
        original
    );
    let manifest = &result["manifest"];
    assert_eq!(manifest["config"]["mediaType"], WASM_CONFIG_MEDIA_TYPE);
    assert_eq!(manifest["layers"][0]["mediaType"], WASM_LAYER_MEDIA_TYPE);
    assert_eq!(
        manifest["layers"][0]["digest"],
        pushed.layer_digest.as_str()
    );
    assert_eq!(
        manifest["annotations"][ANNOTATION_TITLE],
        "review_rules.wasm"
    );
}

#[tokio::test]
async fn robodev_pulls_what_oras_pushed() {
    let registry = Registry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(wasm_file()).unwrap();
    // oras pushes files relative to its working directory.
    std::fs::copy(wasm_file(), dir.path().join("review_rules.wasm")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        br#"{"architecture":"wasm","os":"wasip2"}"#,
    )
    .unwrap();
    let host = registry.host();
    let runs = [
        // The CNCF Wasm layout: config media type and application/wasm layer.
        (
            "cncf",
            vec![
                "review_rules.wasm".to_owned(),
                WASM_LAYER_MEDIA_TYPE.to_owned(),
                "config.json".to_owned(),
                WASM_CONFIG_MEDIA_TYPE.to_owned(),
            ],
        ),
        // oras's default (unknown) config: robodev needs only the Wasm layer.
        (
            "default-config",
            vec![
                "review_rules.wasm".to_owned(),
                WASM_LAYER_MEDIA_TYPE.to_owned(),
            ],
        ),
    ];
    for (tag, args) in runs {
        let target = format!("{host}/robodev/from-oras:{tag}");
        let cwd = dir.path().to_owned();
        let result = tokio::task::spawn_blocking(move || {
            let mut all = vec!["push".to_owned(), target];
            all.extend(args);
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            crate::support::oras(&cwd, &all)
        })
        .await
        .unwrap();
        assert_eq!(result["status"], 201, "{result}");
        let oras_digest = result["digest"].as_str().unwrap().to_owned();
        let pulled = client(&dir.path().join(format!("cache-{tag}")))
            .pull(&registry.reference(&format!("robodev/from-oras:{tag}")))
            .await
            .unwrap();
        assert_eq!(pulled.digest, oras_digest, "{tag}");
        assert_eq!(pulled.layer_digest, sha256(&original));
        assert_eq!(std::fs::read(&pulled.path).unwrap(), original, "{tag}");
    }
}
