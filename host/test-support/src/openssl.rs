//! ECDSA P-256 key pairs made by the openssl CLI: an independent maker of the keys robodev
//! and cosign sign with.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `openssl` with `args`; its stdout, asserting success.
pub fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An ECDSA P-256 key pair in files: `NAME.key` (PKCS#8 PEM) and `NAME.pub` (SPKI PEM).
pub struct KeyPair {
    /// The private key file.
    pub private: PathBuf,
    /// The public key file.
    pub public: PathBuf,
}

impl KeyPair {
    /// Makes `dir/NAME.key` and `dir/NAME.pub` with `openssl genpkey` and `openssl pkey`.
    pub fn generate(dir: &Path, name: &str) -> KeyPair {
        let private = dir.join(format!("{name}.key"));
        let public = dir.join(format!("{name}.pub"));
        let (key, public_path) = (private.to_str().unwrap(), public.to_str().unwrap());
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            key,
        ]);
        openssl(&["pkey", "-in", key, "-pubout", "-out", public_path]);
        KeyPair { private, public }
    }

    /// The private key, PEM.
    pub fn private_pem(&self) -> String {
        std::fs::read_to_string(&self.private).unwrap()
    }

    /// The public key's DER (SubjectPublicKeyInfo), as openssl writes it.
    pub fn public_der(&self) -> Vec<u8> {
        openssl(&[
            "pkey",
            "-pubin",
            "-in",
            self.public.to_str().unwrap(),
            "-outform",
            "DER",
        ])
    }

    /// The private key file's path as an argument.
    pub fn private_arg(&self) -> String {
        self.private.display().to_string()
    }

    /// The public key file's path as an argument.
    pub fn public_arg(&self) -> String {
        self.public.display().to_string()
    }
}
