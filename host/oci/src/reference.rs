//! `oci://REGISTRY/REPOSITORY:TAG[@sha256:DIGEST]` references.
//!
//! - oci-client ([`oci_client::Reference`], the distribution/Docker grammar) reads the name:
//!   its repository grammar, and Docker Hub's rules (`docker.io/alpine` is repository
//!   `library/alpine`, `index.docker.io` is `docker.io`, whose requests go to
//!   `index.docker.io`).
//! - robodev keeps on top: the `oci://`, `oci+http://` and `oci+https://` schemes and loopback
//!   detection (which decide plain HTTP); an explicit registry (Docker's rule would read
//!   `oci://acme/notify:1` as Docker Hub's `acme/notify`: refused, naming both spellings);
//!   an explicit tag or digest (no implicit `:latest`); ASCII tags of at most [`MAX_TAG_LEN`]
//!   and repositories of at most [`MAX_REPOSITORY_LEN`]; lowercase sha256 digests only; ports
//!   1 to 65535; IPv6 registries (`[::1]:5000`, which oci-client's grammar lacks); and errors
//!   naming the part that is wrong.
//!
//! Docker Hub, as oci-client and docker name it ([`Reference::registry`] /
//! [`Reference::repository`] / [`Reference::resolve_registry`], the host requests go to):
//!
//! | written                                  | registry               | repository       | requests to            |
//! |------------------------------------------|------------------------|------------------|------------------------|
//! | `oci://docker.io/alpine:3`               | `docker.io`            | `library/alpine` | `index.docker.io`      |
//! | `oci://docker.io/library/alpine:3`       | `docker.io`            | `library/alpine` | `index.docker.io`      |
//! | `oci://index.docker.io/alpine:3`         | `docker.io`            | `library/alpine` | `index.docker.io`      |
//! | `oci://registry-1.docker.io/library/alpine:3` | `registry-1.docker.io` | `library/alpine` | `registry-1.docker.io` |
//!
//! `registry-1.docker.io` is a registry of its own to docker and oci-client alike (no
//! `library/` added: `oci://registry-1.docker.io/alpine:3` names a repository Docker Hub does
//! not have). Credentials follow docker: `docker.io` and `index.docker.io` use the docker config
//! key `https://index.docker.io/v1/` (see [`crate::DockerConfig`]), `registry-1.docker.io` its
//! own.
//!
//! ```
//! use robodev_oci::Reference;
//!
//! let r = Reference::parse("oci://127.0.0.1:5000/acme/notify:1.0.0")?;
//! assert_eq!(r.registry(), "127.0.0.1:5000");
//! assert_eq!(r.repository(), "acme/notify");
//! assert_eq!(r.tag(), Some("1.0.0"));
//! assert_eq!(r.digest(), None);
//! # Ok::<(), robodev_oci::Error>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use crate::Error;

/// The longest repository name the distribution spec lets registries accept.
pub const MAX_REPOSITORY_LEN: usize = 255;
/// The longest tag the distribution spec allows.
pub const MAX_TAG_LEN: usize = 128;

/// Which transport a reference asks for.
///
/// `oci://` leaves the choice to the client (HTTPS, except plain HTTP to loopback registries
/// and to the hosts the caller declared insecure); `oci+http://` and `oci+https://` force one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// `oci://`: HTTPS, or plain HTTP for loopback and insecure hosts.
    Auto,
    /// `oci+http://`: plain HTTP; refused for non-loopback hosts unless allowed.
    Http,
    /// `oci+https://`: HTTPS, even to loopback.
    Https,
}

impl Transport {
    fn prefix(self) -> &'static str {
        match self {
            Self::Auto => "oci://",
            Self::Http => "oci+http://",
            Self::Https => "oci+https://",
        }
    }
}

/// A parsed reference to a component in an OCI registry.
///
/// A tag, a digest or both must be given. With both, the pull checks that the tag still names
/// that digest (and refuses with [`Error::DigestMismatch`] if not), so a pinned configuration
/// notices a re-pushed tag instead of silently running other code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    transport: Transport,
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses `oci://REGISTRY/REPOSITORY:TAG`, `oci://REGISTRY/REPOSITORY@sha256:DIGEST` or
    /// `oci://REGISTRY/REPOSITORY:TAG@sha256:DIGEST` (also with `oci+http://` or
    /// `oci+https://`). The registry is `host[:port]` (an IPv6 host in brackets) with a `.` or
    /// a port, or `localhost`; the repository is lowercase path components, named by Docker
    /// Hub's rules on `docker.io` (see the module docs); only sha256 digests are accepted.
    ///
    /// # Errors
    /// [`Error::InvalidReference`] naming the part that is wrong.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidReference {
            reference: input.to_owned(),
            reason,
        };
        let (transport, rest) = if let Some(rest) = input.strip_prefix("oci://") {
            (Transport::Auto, rest)
        } else if let Some(rest) = input.strip_prefix("oci+http://") {
            (Transport::Http, rest)
        } else if let Some(rest) = input.strip_prefix("oci+https://") {
            (Transport::Https, rest)
        } else if let Some((scheme, _)) = input.split_once("://") {
            return Err(invalid(format!(
                "unsupported scheme {scheme:?}; expected oci://REGISTRY/REPOSITORY:TAG[@sha256:DIGEST]"
            )));
        } else {
            return Err(invalid(
                "missing the oci:// prefix; expected oci://REGISTRY/REPOSITORY:TAG[@sha256:DIGEST]"
                    .to_owned(),
            ));
        };
        let (name_and_tag, digest) = match rest.split_once('@') {
            Some((name, digest)) => (name, Some(parse_digest(digest).map_err(invalid)?)),
            None => (rest, None),
        };
        let Some((registry, path)) = name_and_tag.split_once('/') else {
            return Err(invalid(
                "no repository after the registry; expected oci://REGISTRY/REPOSITORY:TAG"
                    .to_owned(),
            ));
        };
        let registry = parse_registry(registry).map_err(invalid)?;
        // The tag is after the last ':' of the last path component (a ':' before the last '/'
        // would be part of the registry, already split off).
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match path[last_slash..].rfind(':') {
            Some(i) => {
                let colon = last_slash + i;
                (&path[..colon], Some(&path[colon + 1..]))
            }
            None => (path, None),
        };
        if repository.is_empty() {
            return Err(invalid(
                "empty repository; expected oci://REGISTRY/REPOSITORY:TAG".to_owned(),
            ));
        }
        if repository.len() > MAX_REPOSITORY_LEN {
            return Err(invalid(format!(
                "repository is {} characters long; at most {MAX_REPOSITORY_LEN} are allowed",
                repository.len()
            )));
        }
        if let Some(tag) = tag {
            check_tag(tag).map_err(invalid)?;
        }
        if tag.is_none() && digest.is_none() {
            return Err(invalid(format!(
                "no tag or digest: write {}{registry}/{repository}:TAG or @sha256:DIGEST (there is \
                 no implicit :latest)",
                transport.prefix()
            )));
        }
        let name = DockerName::parse(&registry, repository).map_err(invalid)?;
        Ok(Self {
            transport,
            registry: name.registry,
            repository: name.repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The `host[:port]` requests go to: `index.docker.io` for `docker.io` (oci-client's
    /// `resolve_registry`, which a test holds this to), else [`Reference::registry`].
    pub fn resolve_registry(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_ENDPOINT
        } else {
            &self.registry
        }
    }

    /// The registry, `host[:port]`, lowercase (IPv6 hosts in brackets); `docker.io` for Docker
    /// Hub, however written (`index.docker.io` too).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository, e.g. `acme/notify`; on Docker Hub with `library/` for a one-component
    /// name (`library/alpine`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The pinned digest (`sha256:` and 64 lowercase hex digits), if one was given.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The transport the reference asks for.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The same reference pinned to `digest` (keeping the tag): what to log once a tag has been
    /// resolved, or to write back into a configuration to pin it.
    #[must_use]
    pub fn with_digest(&self, digest: &str) -> Self {
        Self {
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }

    /// The host without the port (and without IPv6 brackets).
    pub fn host(&self) -> &str {
        split_host_port(&self.registry).0
    }

    /// Whether the registry is on this machine: `localhost`, 127.0.0.0/8 or `::1`. Only such
    /// registries are reached over plain HTTP without the caller's explicit consent.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(self.host())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}/{}",
            self.transport.prefix(),
            self.registry,
            self.repository
        )?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Whether `host` (no port, no brackets) names this machine.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Splits `host[:port]` / `[v6][:port]` into the bare host and the port, if any.
pub(crate) fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

fn parse_registry(registry: &str) -> Result<String, String> {
    if registry.is_empty() {
        return Err("empty registry; expected oci://REGISTRY/REPOSITORY:TAG".to_owned());
    }
    let (host, port) = split_host_port(registry);
    if registry.starts_with('[') {
        if host.parse::<Ipv6Addr>().is_err() || !registry.contains(']') {
            return Err(format!(
                "registry {registry:?}: {host:?} is not an IPv6 address"
            ));
        }
    } else {
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && !host.starts_with(['.', '-'])
            && !host.ends_with(['.', '-']);
        if !valid {
            return Err(format!(
                "registry {registry:?}: {host:?} is not a host name or IPv4 address"
            ));
        }
    }
    if let Some(port) = port
        && !matches!(port.parse::<u16>(), Ok(p) if p > 0 && !port.starts_with('+'))
    {
        return Err(format!(
            "registry {registry:?}: port {port:?} is not a number from 1 to 65535"
        ));
    }
    Ok(registry.to_ascii_lowercase())
}

/// Docker Hub's name, as Docker and oci-client spell it.
const DOCKER_HUB: &str = "docker.io";
/// The host oci-client sends Docker Hub's requests to.
const DOCKER_HUB_ENDPOINT: &str = "index.docker.io";
/// A registry name that oci-client's grammar accepts, standing in for an IPv6 literal (which it
/// lacks) while the repository is parsed.
const IPV6_STAND_IN: &str = "ipv6.invalid";

/// A registry and repository as oci-client reads them.
struct DockerName {
    registry: String,
    repository: String,
}

impl DockerName {
    /// Reads `registry/repository` with [`oci_client::Reference`]; `registry` was checked by
    /// [`parse_registry`] already. An error names the part that is wrong.
    fn parse(registry: &str, repository: &str) -> Result<Self, String> {
        let ipv6 = registry.starts_with('[');
        let stand_in = if ipv6 { IPV6_STAND_IN } else { registry };
        let parsed = oci_client::Reference::try_from(format!("{stand_in}/{repository}"))
            .map_err(|e| name_error(stand_in, repository, &e))?;
        if parsed.registry() == DOCKER_HUB && !matches!(stand_in, "docker.io" | "index.docker.io") {
            return Err(format!(
                "registry {registry:?} has no '.' and no port and is not localhost, so Docker \
                 would read this as Docker Hub's {hub}: write oci://{DOCKER_HUB}/{hub} for that, \
                 or {registry}:PORT or a full host name for a registry called {registry}",
                hub = parsed.repository()
            ));
        }
        if parsed.repository().len() > MAX_REPOSITORY_LEN {
            return Err(format!(
                "repository {} is {} characters long; at most {MAX_REPOSITORY_LEN} are allowed",
                crate::error::bounded(parsed.repository()),
                parsed.repository().len()
            ));
        }
        Ok(Self {
            registry: if ipv6 {
                registry.to_owned()
            } else {
                parsed.registry().to_owned()
            },
            repository: parsed.repository().to_owned(),
        })
    }
}

/// Which part of `registry/repository` oci-client refused (`e`): the registry, else the first
/// repository component it refuses alone, else the repository as a whole.
fn name_error(registry: &str, repository: &str, e: &oci_client::ParseError) -> String {
    let refuses = |name: String| oci_client::Reference::try_from(name).is_err();
    if refuses(format!("{registry}/x")) {
        return format!(
            "registry {registry:?}: not a host name (letters, digits and inner dashes, \
             dot-separated), IPv4 address or [IPv6] address"
        );
    }
    if let Some(component) = repository
        .split('/')
        .find(|c| refuses(format!("{IPV6_STAND_IN}/{c}")))
    {
        return format!(
            "repository {:?}: component {:?} must be lowercase letters and digits, separated by \
             '.', '_', '__' or dashes",
            crate::error::bounded(repository),
            crate::error::bounded(component)
        );
    }
    if *e == oci_client::ParseError::NameTooLong {
        return format!(
            "repository {:?} is longer than {MAX_REPOSITORY_LEN} characters once named in full",
            crate::error::bounded(repository)
        );
    }
    format!("repository {:?}: {e}", crate::error::bounded(repository))
}

fn check_tag(tag: &str) -> Result<(), String> {
    let valid = !tag.is_empty()
        && tag.len() <= MAX_TAG_LEN
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !tag.starts_with(['.', '-']);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1 to {MAX_TAG_LEN} letters, digits, '_', '.' or '-', not starting \
             with '.' or '-'"
        ))
    }
}

/// Checks `sha256:` + 64 lowercase hex digits.
pub(crate) fn parse_digest(digest: &str) -> Result<String, String> {
    // The digest may come from a registry's manifest: quote a bounded part of it.
    let quoted = || crate::error::bounded(digest);
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "digest {:?} must be sha256: followed by 64 hex digits",
            quoted()
        ));
    };
    if algorithm != "sha256" {
        return Err(format!(
            "digest {:?}: only sha256 digests are supported, not {}",
            quoted(),
            crate::error::bounded(algorithm)
        ));
    }
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "digest {:?} must be sha256: followed by 64 lowercase hex digits",
            quoted()
        ));
    }
    Ok(digest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn reason(input: &str) -> String {
        match Reference::parse(input) {
            Err(Error::InvalidReference { reference, reason }) => {
                assert_eq!(reference, input);
                reason
            }
            other => panic!("{input}: expected InvalidReference, got {other:?}"),
        }
    }

    #[test]
    fn parses_tag_digest_and_both() {
        let r = Reference::parse("oci://127.0.0.1:5000/acme/notify:1.0.0").unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag(), r.digest()),
            ("127.0.0.1:5000", "acme/notify", Some("1.0.0"), None)
        );
        assert_eq!(r.host(), "127.0.0.1");
        assert!(r.is_loopback());
        assert_eq!(r.transport(), Transport::Auto);

        let r = Reference::parse(&format!("oci://ghcr.io/acme/notify@{DIGEST}")).unwrap();
        assert_eq!((r.tag(), r.digest()), (None, Some(DIGEST)));
        assert!(!r.is_loopback());

        let input = format!("oci://Registry.Example:443/a/b/c:v1.2_3-rc@{DIGEST}");
        let r = Reference::parse(&input).unwrap();
        assert_eq!(r.registry(), "registry.example:443");
        assert_eq!(r.repository(), "a/b/c");
        assert_eq!(r.tag(), Some("v1.2_3-rc"));
        assert_eq!(r.digest(), Some(DIGEST));
        assert_eq!(
            r.to_string(),
            format!("oci://registry.example:443/a/b/c:v1.2_3-rc@{DIGEST}")
        );
    }

    #[test]
    fn transports_and_ipv6() {
        let r = Reference::parse("oci+http://[::1]:5000/x:1").unwrap();
        assert_eq!(r.transport(), Transport::Http);
        assert_eq!(r.registry(), "[::1]:5000");
        assert_eq!(r.host(), "::1");
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), "oci+http://[::1]:5000/x:1");
        let r = Reference::parse("oci+https://localhost/x:1").unwrap();
        assert_eq!(r.transport(), Transport::Https);
        assert!(r.is_loopback());
        assert!(
            Reference::parse("oci://localhost.example.com/x:1").is_ok_and(|r| !r.is_loopback())
        );
        assert!(Reference::parse("oci://127.1.2.3/x:1").is_ok_and(|r| r.is_loopback()));
    }

    #[test]
    fn round_trips_and_pins() {
        let r: Reference = "oci://example.com/x/y:2".parse().unwrap();
        let pinned = r.with_digest(DIGEST);
        assert_eq!(
            pinned.to_string(),
            format!("oci://example.com/x/y:2@{DIGEST}")
        );
        assert_eq!(Reference::parse(&pinned.to_string()).unwrap(), pinned);
    }

    #[test]
    fn errors_name_the_wrong_part() {
        assert!(reason("example.com/x:1").contains("missing the oci:// prefix"));
        assert!(reason("https://example.com/x:1").contains("unsupported scheme \"https\""));
        assert!(reason("oci://example.com").contains("no repository"));
        assert!(reason("oci://example.com/x").contains("no tag or digest"));
        assert!(reason("oci://exa mple.com/x:1").contains("not a host name"));
        assert!(reason("oci://example.com:0/x:1").contains("port \"0\""));
        assert!(reason("oci://example.com:99999/x:1").contains("port \"99999\""));
        assert!(reason("oci://[zz]:5000/x:1").contains("not an IPv6 address"));
        assert!(reason("oci://example.com/Acme/x:1").contains("component \"Acme\""));
        assert!(reason("oci://example.com/a//b:1").contains("component \"\""));
        assert!(reason("oci://example.com/a-/b:1").contains("component \"a-\""));
        assert!(reason("oci://example.com/a/b:-1").contains("tag \"-1\""));
        assert!(reason("oci://example.com/a/b:").contains("tag \"\""));
        assert!(reason("oci://example.com/a/b@sha512:00").contains("only sha256"));
        assert!(reason("oci://example.com/a/b@sha256:ABC").contains("64 lowercase hex"));
        assert!(reason(&format!("oci://example.com/a/b:{}", "t".repeat(129))).contains("1 to 128"));
    }

    #[test]
    fn path_components() {
        for ok in ["a", "a1", "a.b", "a_b", "a__b", "a---b", "0"] {
            let r = Reference::parse(&format!("oci://example.com/x/{ok}:1")).unwrap();
            assert_eq!(r.repository(), format!("x/{ok}"));
        }
        for bad in ["A", ".a", "a.", "a..b", "a___b", "a.-b", "a_-b", "-"] {
            let why = reason(&format!("oci://example.com/x/{bad}/y:1"));
            assert!(why.contains(&format!("component {bad:?}")), "{bad}: {why}");
        }
    }

    #[test]
    fn docker_hub_names() {
        for (input, registry, repository, endpoint) in [
            (
                "oci://docker.io/alpine:3",
                "docker.io",
                "library/alpine",
                "index.docker.io",
            ),
            (
                "oci://docker.io/library/alpine:3",
                "docker.io",
                "library/alpine",
                "index.docker.io",
            ),
            (
                "oci://index.docker.io/alpine:3",
                "docker.io",
                "library/alpine",
                "index.docker.io",
            ),
            (
                "oci://Index.Docker.IO/acme/notify:1",
                "docker.io",
                "acme/notify",
                "index.docker.io",
            ),
            (
                "oci://registry-1.docker.io/library/alpine:3",
                "registry-1.docker.io",
                "library/alpine",
                "registry-1.docker.io",
            ),
            // Not Docker Hub's name to docker or oci-client: no `library/`.
            (
                "oci://registry-1.docker.io/alpine:3",
                "registry-1.docker.io",
                "alpine",
                "registry-1.docker.io",
            ),
            ("oci://ghcr.io/acme/x:1", "ghcr.io", "acme/x", "ghcr.io"),
            ("oci://localhost/x:1", "localhost", "x", "localhost"),
            ("oci://[::1]:5000/x:1", "[::1]:5000", "x", "[::1]:5000"),
        ] {
            let r = Reference::parse(input).unwrap();
            assert_eq!(
                (r.registry(), r.repository(), r.resolve_registry()),
                (registry, repository, endpoint),
                "{input}"
            );
            // The request host is oci-client's.
            let oci = oci_client::Reference::with_tag(
                r.registry().to_owned(),
                r.repository().to_owned(),
                "1".to_owned(),
            );
            assert_eq!(r.resolve_registry(), oci.resolve_registry(), "{input}");
            assert_eq!(Reference::parse(&r.to_string()).unwrap(), r, "{input}");
        }
        let r = Reference::parse(&format!("oci://docker.io/alpine:3@{DIGEST}")).unwrap();
        assert_eq!(
            r.to_string(),
            format!("oci://docker.io/library/alpine:3@{DIGEST}")
        );
        assert!(!r.is_loopback());
    }

    #[test]
    fn a_registry_must_look_like_one() {
        let why = reason("oci://acme/notify:1");
        assert!(
            why.contains("Docker Hub's acme/notify: write oci://docker.io/acme/notify"),
            "{why}"
        );
        assert!(reason("oci://example..com/x:1").contains("registry \"example..com\""));
        assert!(reason("oci://-a.com/x:1").contains("not a host name"));
        // The `library/` Docker Hub adds counts towards the limit.
        let long = "a".repeat(MAX_REPOSITORY_LEN - 2);
        assert!(Reference::parse(&format!("oci://example.com/{long}:1")).is_ok());
        assert!(reason(&format!("oci://docker.io/{long}:1")).contains("longer than 255"));
        assert!(
            reason(&format!("oci://example.com/{}:1", "a".repeat(256)))
                .contains("256 characters long")
        );
    }
}
