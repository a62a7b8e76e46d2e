//! Secrets `k8s` against real Secrets, and each refusal.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use robodev_builtins::secrets_k8s::{K8sSecrets, Options};
use robodev_core::secrets::{Backend, BuildEnvVarsRequest, GetSecretRequest, SecretRef};

use crate::support::{admin, client_of, cluster, namespace};

#[tokio::test]
async fn secrets_are_read_refused_with_reasons_and_referenced_without_reading() {
    let client = admin().await;
    let ns = namespace(&client, "secrets").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some("robodev".into()),
                    ..Default::default()
                },
                data: Some(BTreeMap::from([(
                    "github-token".into(),
                    ByteString(b"ghp_s3cret".to_vec()),
                )])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let backend = K8sSecrets::with_client(
        client.clone(),
        Options {
            namespace: Some(ns.clone()),
            secret: Some("robodev".into()),
        },
    );
    let get = |key: &str| {
        let backend = backend.clone();
        let key = key.to_owned();
        async move { backend.get_secret(GetSecretRequest { key }).await }
    };
    assert_eq!(get("github-token").await.unwrap().value, "ghp_s3cret");
    assert_eq!(
        get("robodev/github-token").await.unwrap().value,
        "ghp_s3cret"
    );
    let missing_secret = get("nope/key").await.unwrap_err();
    assert_eq!(missing_secret.label(), "not_found");
    assert!(
        missing_secret
            .to_string()
            .contains(&format!("no Secret {ns}/nope")),
        "{missing_secret}"
    );
    let missing_key = get("robodev/other").await.unwrap_err();
    assert_eq!(missing_key.label(), "not_found");
    assert!(
        missing_key.to_string().contains("has no key \"other\""),
        "{missing_key}"
    );
    assert_eq!(
        get("Bad Name/x").await.unwrap_err().label(),
        "invalid_argument"
    );
    // No value in a reference.
    let refs = backend
        .build_env_vars(BuildEnvVarsRequest {
            secret_refs: vec![SecretRef {
                env_name: "GITHUB_TOKEN".into(),
                secret_key: "github-token".into(),
            }],
        })
        .await
        .unwrap();
    assert_eq!(refs.env_vars[0].value, "");
    let r = refs.env_vars[0].secret_ref.as_ref().unwrap();
    assert_eq!(
        (r.name.as_str(), r.key.as_str()),
        ("robodev", "github-token")
    );

    // An identity without `get` on secrets: refused as permission denied, saying what to grant.
    let user = client_of(&cluster().user_kubeconfig).await;
    let forbidden = K8sSecrets::with_client(
        user,
        Options {
            namespace: Some(ns.clone()),
            secret: Some("robodev".into()),
        },
    )
    .get_secret(GetSecretRequest {
        key: "github-token".into(),
    })
    .await
    .unwrap_err();
    assert_eq!(forbidden.label(), "permission_denied", "{forbidden}");
    assert!(
        forbidden.to_string().contains("needs `get` on secrets"),
        "{forbidden}"
    );
}
