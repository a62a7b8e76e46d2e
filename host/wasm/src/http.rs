//! Outbound HTTP policy for `wasi:http`: a request goes out only if its host is on the
//! plugin's allow-list. A denied request is an `HTTP-request-denied` error code the guest
//! sees (and can report), never a trap.

use std::sync::Arc;

use wasmtime_wasi_http::{RequestOptions, WasiHttpHooks};

use crate::grants::host_matches;

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
                "denied outbound HTTP request: host is not in allowed_hosts"
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
