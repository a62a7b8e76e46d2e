//! The crate's one error type: every pull and push ends in [`Error`] or a value.

use std::path::PathBuf;

use crate::meter::TransferLimit;
use crate::progress::Direction;

/// The most characters of text a registry controls (error bodies, media types, annotations,
/// header values, digests as it wrote them) that an error quotes; the rest is cut, saying how
/// much. A hostile or broken registry must not be able to make one error line megabytes long:
/// 200 characters show any real media type, digest or error message whole.
pub const MAX_QUOTED_CHARS: usize = 200;

/// `text` cut to [`MAX_QUOTED_CHARS`] characters, with how many were left out.
pub(crate) fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => {
            let left = text[cut..].chars().count();
            format!("{}... ({left} more characters)", &text[..cut])
        }
    }
}

/// What went wrong in a pull or a push.
///
/// Every variant names the reference it was about, as the caller wrote it, so a message read in a
/// log on its own says which component it concerns. Callers branch on the variant: an
/// [`Error::Unauthorized`] wants credentials, an [`Error::Offline`] may go away by itself, a
/// [`Error::DigestMismatch`] or an [`Error::Certificate`] never does.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reference is not of the form `oci://REGISTRY/REPOSITORY:TAG[@sha256:DIGEST]`;
    /// `reason` says which part is wrong.
    #[error("invalid OCI reference {reference:?}: {reason}")]
    InvalidReference {
        /// The text that was given.
        reference: String,
        /// What is wrong with it, and what was expected.
        reason: String,
    },

    /// The registry refused access (HTTP 401 or 403), either because no credentials were known
    /// for it or because the ones sent were rejected.
    #[error(
        "registry {registry} refused access for {reference} (HTTP {status}): {}",
        match credentials {
            None => format!(
                "no credentials were given for {registry} (pass them in ClientOptions::credentials \
                 or log in so that the docker config file has auths.\"{}\")",
                crate::auth::docker_key(registry)
            ),
            Some(source) => format!("the credentials from {source} were rejected"),
        }
    )]
    Unauthorized {
        /// The reference being pulled or pushed.
        reference: String,
        /// The registry (`host[:port]`), or the token service it sent us to, that refused.
        registry: String,
        /// The HTTP status: 401 (not authenticated) or 403 (not allowed).
        status: u16,
        /// Where the credentials that were sent came from; `None` when there were none.
        credentials: Option<String>,
    },

    /// The registry has no such repository, tag, manifest or blob.
    #[error("{what} not found in registry {registry} (for {reference})")]
    NotFound {
        /// The reference being pulled.
        reference: String,
        /// The registry asked.
        registry: String,
        /// What was missing, e.g. `tag 1.0.0 of repository acme/notify`.
        what: String,
    },

    /// Content did not have the digest it had to have: a pinned `@sha256:` that the tag no
    /// longer names, or bytes from the registry or the cache whose sha256 differs from the
    /// digest they were fetched by.
    #[error("digest mismatch for {reference}: {what}: expected {expected}, found {found}")]
    DigestMismatch {
        /// The reference being pulled.
        reference: String,
        /// Which content: `manifest`, `the pinned digest`, `layer`...
        what: String,
        /// The digest required (the pinned one, or the one the content was asked for by).
        expected: String,
        /// The digest of what was actually received.
        found: String,
    },

    /// The artifact is not a single Wasm component (or module): its manifest has no layer of a
    /// Wasm media type, or several, or is an index or another kind of manifest; or a file to push
    /// is not WebAssembly. `found` lists the media types seen.
    #[error("{reference} is not a Wasm artifact: {found}")]
    NotAWasmArtifact {
        /// The reference being pulled or pushed.
        reference: String,
        /// What was found instead, with its media types.
        found: String,
    },

    /// Plain HTTP was asked for (or redirected to) a host that is neither loopback nor allowed
    /// to be insecure. Raised before any byte is sent.
    #[error(
        "refusing plain HTTP to {host} for {reference}: only loopback registries (127.0.0.0/8, \
         ::1, localhost) may be reached without TLS unless ClientOptions::insecure is set or the \
         host is in ClientOptions::insecure_hosts"
    )]
    Insecure {
        /// The reference being pulled or pushed.
        reference: String,
        /// The host that would have been reached over plain HTTP.
        host: String,
    },

    /// Reading or writing a local file (the component to push, the cache) failed.
    #[error("{context} {}: {source} (for {reference})", path.display())]
    Io {
        /// The reference being pulled or pushed.
        reference: String,
        /// What was being done, e.g. `writing cache blob`.
        context: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The registry answered with a status or a body that the protocol does not allow here
    /// (including malformed manifests and oversized responses).
    #[error("registry {registry} answered HTTP {status} for {reference}: {message}")]
    Registry {
        /// The reference being pulled or pushed.
        reference: String,
        /// The registry that answered.
        registry: String,
        /// The HTTP status of the answer.
        status: u16,
        /// The registry's own error message(s), or what was wrong with the answer.
        message: String,
    },

    /// The registry could not be reached (connection refused, DNS, a failed TLS handshake,
    /// timeout, connection lost; for a pull also a gateway's 502, 503 or 504) and the cache
    /// could not stand in for it. A refused certificate is [`Error::Certificate`] instead.
    #[error("cannot reach registry {registry} for {reference} ({reason}), and {cache}")]
    Offline {
        /// The reference being pulled or pushed.
        reference: String,
        /// The registry that could not be reached.
        registry: String,
        /// Why not: the transport error.
        reason: String,
        /// Why the cache did not help, e.g. `the tag was never pulled into the cache`.
        cache: String,
    },

    /// The TLS certificate of `host` (the registry, where a redirect or its token service
    /// sent the request) was refused: issued by a CA that is not trusted (`UnknownIssuer`),
    /// expired, not for that name... Unlike [`Error::Offline`] this does not go away by itself,
    /// and a pull never serves the cache instead: the cached copy would hide a registry that
    /// is misconfigured or impersonated.
    #[error(
        "registry {registry} for {reference}: the certificate of {host} is not trusted: \
         {reason}{}",
        if reason.contains("UnknownIssuer") {
            " (trust the CA that issued it with a PEM file in ClientOptions::ca_files: \
             oci.ca_files in robodev-config.yaml, --ca-file on the command line)"
        } else {
            ""
        }
    )]
    Certificate {
        /// The reference being pulled or pushed.
        reference: String,
        /// The registry the reference names.
        registry: String,
        /// The host (`host[:port]`) whose certificate was refused.
        host: String,
        /// rustls's reason: `UnknownIssuer`, `Expired`, `NotValidForName`...
        reason: String,
    },

    /// A transfer went past a limit of [`crate::TransferLimits`]: the overall deadline of the
    /// pull or push, or the stall rule (too few bytes per window for too long). Unlike
    /// [`Error::Offline`], the registry did answer, too slowly to be waited for.
    #[error(
        "registry {registry} too slow for {reference}: {what}: {done}{} bytes {}; {limit}",
        match total { Some(total) => format!(" of {total}"), None => String::new() },
        match direction { Direction::Upload => "sent", _ => "received" }
    )]
    TransferTimeout {
        /// The reference being pulled or pushed.
        reference: String,
        /// The registry the reference names.
        registry: String,
        /// What was being transferred: `blob sha256:...`, `manifest 1.0.0`,
        /// `upload of blob sha256:...`, `token from HOST` (the registry's token service)...
        what: String,
        /// Download or upload.
        direction: Direction,
        /// Bytes of `what` transferred when it was abandoned.
        done: u64,
        /// Bytes expected, when known (a blob's size, a `Content-Length`).
        total: Option<u64>,
        /// Which limit tripped (boxed: it would make every `Result` of this crate larger).
        limit: Box<TransferLimit>,
    },

    /// The TLS setup failed: a CA file of [`crate::ClientOptions::ca_files`] could not be
    /// read or used (`path`; empty when the failure is not a file's).
    #[error("TLS setup for {reference}: {}{reason}", if path.as_os_str().is_empty() { String::new() } else { format!("{}: ", path.display()) })]
    Tls {
        /// The reference being pulled or pushed.
        reference: String,
        /// The CA file at fault, if any.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// A docker credential helper (`credsStore` or `credHelpers` in the docker config) is
    /// missing, failed, took too long or answered nonsense.
    #[error(
        "docker credential helper {helper} for registry {registry}: {reason} (for {reference})"
    )]
    CredentialHelper {
        /// The reference being pulled or pushed.
        reference: String,
        /// The helper program, `docker-credential-NAME`.
        helper: String,
        /// The registry whose credentials were asked for.
        registry: String,
        /// What went wrong (bounded).
        reason: String,
    },

    /// The docker config file (`config.json`) named in the options, or found in the usual
    /// place, could not be read or parsed.
    #[error("docker config {}: {reason} (for {reference})", path.display())]
    DockerConfig {
        /// The reference being pulled or pushed.
        reference: String,
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_is_cut_on_a_character_boundary() {
        assert_eq!(bounded("application/wasm"), "application/wasm");
        let exact = "é".repeat(MAX_QUOTED_CHARS);
        assert_eq!(bounded(&exact), exact);
        let long = format!("{exact}ünd mehr");
        assert_eq!(bounded(&long), format!("{exact}... (8 more characters)"));
    }
}
