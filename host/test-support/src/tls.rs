//! A test CA, and a server certificate it issued for 127.0.0.1 and localhost.

use std::sync::Arc;

/// A CA made on the fly, and a server certificate it issued for `127.0.0.1` and `localhost`.
#[derive(Clone)]
pub struct TestCa {
    /// The CA certificate, PEM: what a client must trust.
    pub pem: String,
    /// The server certificate, PEM.
    pub cert_pem: String,
    /// The server certificate's private key, PEM (PKCS#8).
    pub key_pem: String,
    /// The server certificate, DER.
    cert_der: Vec<u8>,
    /// Its private key, PKCS#8 DER.
    key_der: Vec<u8>,
}

impl TestCa {
    /// A new CA with the common name `name`, and a server certificate signed by it.
    pub fn new(name: &str) -> TestCa {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
        TestCa {
            pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }

    /// A rustls server config (ring provider, no client auth) presenting the server
    /// certificate.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![self.cert_der.clone().into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(self.key_der.clone().into()),
        )
        .unwrap();
        Arc::new(config)
    }
}
