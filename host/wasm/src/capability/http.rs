//! Outbound HTTP (`wasi:http`), granted by `allowed_hosts`: a request goes out only if its host
//! is on the plugin's allow-list. A denied request is an `HTTP-request-denied` error code the guest
//! sees (and can report), never a trap.

use std::sync::Arc;

use wasmtime_wasi_http::{RequestOptions, WasiHttpHooks};

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<wasmtime_wasi_http::WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

/// The allow-list hooks of one store.
pub(crate) struct HttpPolicy {
    pub(crate) plugin: Arc<str>,
    pub(crate) allowed_hosts: Arc<[String]>,
}

impl HttpPolicy {
    fn allows(&self, uri: &http::Uri) -> bool {
        let Some(host) = uri.host() else {
            return false;
        };
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        });
        self.allowed_hosts
            .iter()
            .any(|pattern| host_matches(pattern, host, port))
    }
}

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        if !self.allows(request.uri()) {
            tracing::warn!(
                plugin = %self.plugin,
                uri = %request.uri(),
                "denied outbound HTTP request: host {:?} is not in the plugin's allowed_hosts (add it to `allowed_hosts:` in its plugins: entry)",
                request.uri().host().unwrap_or_default()
            );
            drop(fut);
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        tracing::debug!(plugin = %self.plugin, uri = %request.uri(), "outbound HTTP request");
        // The default sender (hyper over tokio, rustls for https) does the real work.
        let mut default = DefaultHooks;
        default.send_request(request, options, fut)
    }
}

/// wasmtime-wasi-http's default hooks, used to reach its default sender.
struct DefaultHooks;
impl WasiHttpHooks for DefaultHooks {}

/// Whether `host` (and `port`) is allowed by the allow-list entry `pattern`.
pub(crate) fn host_matches(pattern: &str, host: &str, port: Option<u16>) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let (pat_host, pat_port) = match pattern.rsplit_once(':') {
        // `[::1]:80` or `host:80`; a bare IPv6 literal has more colons and no brackets.
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => match p.parse::<u16>() {
            Ok(p) => (h.to_owned(), Some(p)),
            Err(_) => return false,
        },
        _ => (pattern, None),
    };
    if let Some(want) = pat_port
        && port != Some(want)
    {
        return false;
    }
    match pat_host.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(&format!(".{suffix}")),
        None => pat_host == host,
    }
}

#[cfg(test)]
mod tests {
    use super::host_matches;

    #[test]
    fn allow_list_patterns() {
        assert!(host_matches(
            "hooks.slack.com",
            "hooks.slack.com",
            Some(443)
        ));
        assert!(host_matches("Hooks.Slack.com", "hooks.slack.COM", None));
        assert!(!host_matches("hooks.slack.com", "evil.com", Some(443)));
        assert!(!host_matches("slack.com", "hooks.slack.com", None));
        assert!(host_matches("*.slack.com", "hooks.slack.com", None));
        assert!(!host_matches("*.slack.com", "slack.com", None));
        assert!(!host_matches("*.slack.com", "evilslack.com", None));
        assert!(host_matches("127.0.0.1:8080", "127.0.0.1", Some(8080)));
        assert!(!host_matches("127.0.0.1:8080", "127.0.0.1", Some(8081)));
        assert!(host_matches("127.0.0.1", "127.0.0.1", Some(9)));
        assert!(host_matches("[::1]:80", "[::1]", Some(80)));
        assert!(!host_matches("host:notaport", "host", Some(1)));
    }
}
