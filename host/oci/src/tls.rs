//! The TLS provider of the process: ring, chosen once.
//!
//! robodev's own HTTP client is handed a rustls configuration built with ring
//! (`use_preconfigured_tls`), so it needs no process default. oci-client, which answers the
//! registry's authentication challenges, builds its reqwest client itself, and reqwest without a
//! provider feature of its own (the workspace's `rustls-tls-no-provider`) then asks rustls for the
//! process-wide default provider. [`install_default_provider`] installs ring as that default, once;
//! [`crate::Client::new`] calls it, so callers need not.

use std::sync::Once;

static INSTALL: Once = Once::new();

/// Installs ring as the process-wide default rustls `CryptoProvider`, unless a default is
/// already installed (by this function or by the embedding program). Idempotent and cheap
/// after the first call.
pub fn install_default_provider() {
    INSTALL.call_once(|| {
        // Err means another default was installed first: that one stays, as rustls requires.
        if rustls::crypto::ring::default_provider()
            .install_default()
            .is_err()
        {
            tracing::debug!("a rustls default provider was already installed; keeping it");
        }
    });
}
