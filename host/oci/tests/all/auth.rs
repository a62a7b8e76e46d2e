//! Registries that require credentials: htpasswd (HTTP Basic) on docker-registry.

use base64::Engine as _;
use robodev_oci::{Client, ClientOptions, Credentials, DockerConfig, Error};

use crate::support::{PASSWORD, Registry, USER, client, no_annotations, wasm_file};
use crate::token::{SERVICE, TokenRequest, TokenServer};

fn with_credentials(dir: &std::path::Path, registry: &str, credentials: Credentials) -> Client {
    Client::new(
        ClientOptions::new(dir)
            .docker_config(DockerConfig::Disabled)
            .credentials(registry, credentials),
    )
}

#[tokio::test]
async fn credentials_are_required_and_used() {
    let registry = Registry::start_with_htpasswd().await;
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(wasm_file()).unwrap();
    let reference = registry.reference("robodev/private:1.0.0");

    // No credentials: refused, and the error says none were given, for which registry.
    let anonymous = client(&dir.path().join("anonymous"));
    let err = anonymous
        .push(&wasm_file(), &reference, no_annotations())
        .await
        .unwrap_err();
    match &err {
        Error::Unauthorized {
            registry: r,
            status,
            credentials,
            ..
        } => {
            assert_eq!(r, &host);
            assert_eq!(*status, 401);
            assert_eq!(credentials, &None);
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    assert!(
        err.to_string().contains("no credentials were given"),
        "{err}"
    );

    // Basic credentials: the push and a pull succeed.
    let authed = with_credentials(
        &dir.path().join("authed"),
        &host,
        Credentials::basic(USER, PASSWORD),
    );
    let pushed = authed
        .push(&wasm_file(), &reference, no_annotations())
        .await
        .unwrap();
    let pulled = authed.pull(&reference).await.unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    assert_eq!(std::fs::read(&pulled.path).unwrap(), original);

    // An anonymous pull of what now exists is refused as well.
    match anonymous.pull(&reference).await.unwrap_err() {
        Error::Unauthorized {
            credentials,
            status,
            ..
        } => {
            assert_eq!((credentials, status), (None, 401));
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }

    // A wrong password: rejected, and the error says where the credentials came from.
    let wrong = with_credentials(
        &dir.path().join("wrong"),
        &host,
        Credentials::basic(USER, "not-the-password"),
    );
    let err = wrong.pull(&reference).await.unwrap_err();
    match &err {
        Error::Unauthorized { credentials, .. } => {
            assert_eq!(credentials.as_deref(), Some("ClientOptions::credentials"));
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    assert!(err.to_string().contains("were rejected"), "{err}");
    assert!(!err.to_string().contains("not-the-password"), "{err}");

    // Credentials for another registry are not sent here.
    let elsewhere = with_credentials(
        &dir.path().join("elsewhere"),
        "ghcr.io",
        Credentials::basic(USER, PASSWORD),
    );
    assert!(matches!(
        elsewhere.pull(&reference).await.unwrap_err(),
        Error::Unauthorized {
            credentials: None,
            ..
        }
    ));

    // A bearer token this registry does not accept.
    let bearer = with_credentials(
        &dir.path().join("bearer"),
        &host,
        Credentials::bearer("t0ken"),
    );
    assert!(matches!(
        bearer.pull(&reference).await.unwrap_err(),
        Error::Unauthorized {
            credentials: Some(_),
            ..
        }
    ));
}

#[tokio::test]
async fn credentials_come_from_the_docker_config_file() {
    let registry = Registry::start_with_htpasswd().await;
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(wasm_file()).unwrap();
    let reference = registry.reference("robodev/from-config:1");
    with_credentials(
        &dir.path().join("pusher"),
        &host,
        Credentials::basic(USER, PASSWORD),
    )
    .push(&wasm_file(), &reference, no_annotations())
    .await
    .unwrap();

    // What `docker login 127.0.0.1:PORT` writes.
    let config = dir.path().join("docker/config.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        &config,
        serde_json::json!({"auths": {host.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let client = Client::new(
        ClientOptions::new(dir.path().join("cache"))
            .docker_config(DockerConfig::File(config.clone())),
    );
    let pulled = client.pull(&reference).await.unwrap();
    assert_eq!(std::fs::read(&pulled.path).unwrap(), original);

    // A wrong password in the file: the error names the file.
    let bad = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:nope"));
    std::fs::write(
        &config,
        serde_json::json!({"auths": {format!("https://{host}"): {"auth": bad}}}).to_string(),
    )
    .unwrap();
    let client = Client::new(
        ClientOptions::new(dir.path().join("cache2"))
            .docker_config(DockerConfig::File(config.clone())),
    );
    match client.pull(&reference).await.unwrap_err() {
        Error::Unauthorized { credentials, .. } => {
            let source = credentials.unwrap();
            assert!(source.contains(&config.display().to_string()), "{source}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }

    // A broken file is reported as such.
    std::fs::write(&config, "{").unwrap();
    match client.pull(&reference).await.unwrap_err() {
        Error::DockerConfig { path, reason, .. } => {
            assert_eq!(path, config);
            assert!(reason.contains("not valid docker config JSON"), "{reason}");
        }
        other => panic!("expected DockerConfig, got {other:?}"),
    }
}

#[tokio::test]
async fn bearer_tokens_are_fetched_from_the_registrys_token_service() {
    let tokens = TokenServer::start().await;
    let registry = Registry::start_with_token(&tokens).await;
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(wasm_file()).unwrap();
    let reference = registry.reference("robodev/tokened:1.0.0");

    // Anonymous: the token service hands out a token that grants nothing; the registry
    // refuses it, and the error says no credentials were given.
    let anonymous = client(&dir.path().join("anonymous"));
    match anonymous
        .push(&wasm_file(), &reference, no_annotations())
        .await
        .unwrap_err()
    {
        Error::Unauthorized {
            registry: r,
            credentials,
            status,
            ..
        } => {
            assert_eq!((r, credentials, status), (host.clone(), None, 401));
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    {
        let seen = tokens.requests.lock().unwrap();
        let first = seen.first().expect("the token service was asked");
        assert_eq!(first.user, None);
        assert_eq!(first.service.as_deref(), Some(SERVICE));
    }

    // With credentials: exchanged for a token with the push scope, used for the whole push.
    let authed = with_credentials(
        &dir.path().join("authed"),
        &host,
        Credentials::basic(USER, PASSWORD),
    );
    tokens.requests.lock().unwrap().clear();
    let pushed = authed
        .push(&wasm_file(), &reference, no_annotations())
        .await
        .unwrap();
    {
        let seen = tokens.requests.lock().unwrap();
        assert_eq!(
            *seen,
            vec![TokenRequest {
                service: Some(SERVICE.to_owned()),
                scope: Some("repository:robodev/tokened:pull,push".to_owned()),
                user: Some(USER.to_owned()),
            }],
            "one token for the whole push"
        );
    }
    tokens.requests.lock().unwrap().clear();
    let pulled = with_credentials(
        &dir.path().join("puller"),
        &host,
        Credentials::basic(USER, PASSWORD),
    )
    .pull(&reference)
    .await
    .unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    assert_eq!(std::fs::read(&pulled.path).unwrap(), original);
    assert_eq!(
        tokens.requests.lock().unwrap()[0].scope.as_deref(),
        Some("repository:robodev/tokened:pull")
    );

    // A wrong password is refused by the token service, which the error names.
    let wrong = with_credentials(
        &dir.path().join("wrong"),
        &host,
        Credentials::basic(USER, "nope"),
    );
    let token_host = tokens
        .realm
        .trim_start_matches("http://")
        .trim_end_matches("/token")
        .to_owned();
    match wrong.pull(&reference).await.unwrap_err() {
        Error::Unauthorized {
            registry: r,
            credentials,
            ..
        } => {
            assert_eq!(r, token_host);
            assert_eq!(credentials.as_deref(), Some("ClientOptions::credentials"));
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}
