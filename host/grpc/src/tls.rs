//! go-plugin's AutoMTLS: each side makes a throwaway self-signed certificate, the host passes
//! its PEM to the plugin in `PLUGIN_CLIENT_CERT`, the plugin answers with its DER in the
//! handshake line, and each side trusts exactly the other's one certificate.
//!
//! Standard WebPKI verification rejects these certificates (go-plugin marks them CA:TRUE), so
//! the verifiers here pin the peer's exact DER and then check the handshake signature with
//! aws-lc-rs's verifiers, which (unlike ring's) handle the P-521 / SHA-512 certificates Go makes.
//! robodev's own certificates are P-256: Go accepts any curve, and Python's grpcio (BoringSSL)
//! does not ask for P-521 client certificates.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// ALPN protocol id of HTTP/2; grpc-go 1.67+ refuses TLS connections without it.
const ALPN_H2: &[u8] = b"h2";

/// A throwaway identity: a self-signed certificate for `localhost` and its key.
pub(crate) struct Identity {
    /// The certificate, DER.
    pub(crate) cert: CertificateDer<'static>,
    /// The key, PKCS#8 DER.
    key: PrivatePkcs8KeyDer<'static>,
    /// The certificate, PEM (what `PLUGIN_CLIENT_CERT` carries).
    pub(crate) pem: String,
}

impl Identity {
    /// A fresh P-256 self-signed certificate for `localhost` (CA:TRUE like go-plugin's, valid
    /// for 30 years: it lives only as long as the process).
    pub(crate) fn generate() -> Result<Identity, String> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("cannot generate a TLS key: {e}"))?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .map_err(|e| format!("cannot build a TLS certificate: {e}"))?;
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "robodev");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2050, 1, 1);
        let cert = params
            .self_signed(&key)
            .map_err(|e| format!("cannot sign a TLS certificate: {e}"))?;
        Ok(Identity {
            pem: cert.pem(),
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// The crypto provider for every AutoMTLS connection: ring for randomness, key exchange,
/// signing and ciphers, aws-lc-rs only to verify signatures, because ring cannot verify the
/// ECDSA P-521 / SHA-512 signatures of Go's certificates. Verification draws no random
/// numbers, so aws-lc's DRBG, whose first use seeds itself from CPU jitter for about 80 ms,
/// is never started: a plugin with AutoMTLS is ready as fast as one without.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        signature_verification_algorithms: rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms,
        ..rustls::crypto::ring::default_provider()
    })
}

/// Parses the peer certificate of `PLUGIN_CLIENT_CERT` (PEM).
pub(crate) fn cert_from_pem(pem: &str) -> Result<CertificateDer<'static>, String> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("PLUGIN_CLIENT_CERT is not a PEM certificate: {e}"))
}

/// The host side: trusts exactly `server`, presents `identity`.
pub(crate) fn client_config(
    identity: &Identity,
    server: CertificateDer<'static>,
) -> Result<rustls::ClientConfig, String> {
    let provider = provider();
    let verifier = Arc::new(Pinned {
        cert: server,
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![identity.cert.clone()], identity.key())
        .map_err(|e| format!("TLS client certificate: {e}"))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// The plugin side: requires the client to present exactly `client`, presents `identity`.
pub(crate) fn server_config(
    identity: &Identity,
    client: CertificateDer<'static>,
) -> Result<rustls::ServerConfig, String> {
    let provider = provider();
    let verifier = Arc::new(Pinned {
        cert: client,
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.cert.clone()], identity.key())
        .map_err(|e| format!("TLS server certificate: {e}"))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// Trusts one certificate, byte for byte, and checks handshake signatures against it.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Pinned {
    fn check(&self, presented: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if presented.as_ref() == self.cert.as_ref() {
            Ok(())
        } else {
            Err(rustls::Error::General(
                "the peer presented a certificate other than the one exchanged in the go-plugin handshake"
                    .to_owned(),
            ))
        }
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for Pinned {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs one handshake; returns the client's and the server's outcome.
    async fn handshake(
        client: rustls::ClientConfig,
        server: rustls::ServerConfig,
    ) -> (Result<(), String>, Result<(), String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (a, b) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move {
            let mut s = tokio_rustls::TlsAcceptor::from(Arc::new(server))
                .accept(b)
                .await
                .map_err(|e| e.to_string())?;
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(())
        });
        let name = ServerName::try_from("localhost").unwrap();
        let client = async {
            let mut c = tokio_rustls::TlsConnector::from(Arc::new(client))
                .connect(name, a)
                .await
                .map_err(|e| e.to_string())?;
            c.write_all(b"ping").await.map_err(|e| e.to_string())?;
            c.flush().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(c)
        }
        .await;
        // Keep the client open until the server has read: it writes session tickets meanwhile.
        let server = server.await.unwrap();
        (client.map(drop), server)
    }

    #[tokio::test]
    async fn pinned_certificates_both_ways() {
        let host = Identity::generate().unwrap();
        let plugin = Identity::generate().unwrap();
        assert!(host.pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(cert_from_pem(&host.pem).unwrap(), host.cert);
        let client = client_config(&host, plugin.cert.clone()).unwrap();
        let server = server_config(&plugin, host.cert.clone()).unwrap();
        let (c, s) = handshake(client, server).await;
        assert_eq!(c, Ok(()));
        assert_eq!(s, Ok(()));

        // A server presenting another certificate than the one from the handshake line.
        let stranger = Identity::generate().unwrap();
        let client = client_config(&host, plugin.cert.clone()).unwrap();
        let server = server_config(&stranger, host.cert.clone()).unwrap();
        let (c, _) = handshake(client, server).await;
        assert!(c.unwrap_err().contains("other than the one exchanged"));

        // A client presenting another certificate than PLUGIN_CLIENT_CERT.
        let client = client_config(&stranger, plugin.cert.clone()).unwrap();
        let server = server_config(&plugin, host.cert.clone()).unwrap();
        let (_, s) = handshake(client, server).await;
        assert!(s.unwrap_err().contains("other than the one exchanged"));
    }

    #[test]
    fn verifies_go_p521_signatures() {
        // Go's AutoMTLS certificates are ECDSA P-521 / SHA-512: the verifier must offer it.
        let schemes = provider()
            .signature_verification_algorithms
            .supported_schemes();
        assert!(schemes.contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }
}
