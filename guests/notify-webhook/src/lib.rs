//! `notify-webhook`: a notification channel (`robodev:notifications/channel@1.0.0`) that POSTs
//! each event as JSON to a webhook through `wasi:http/outgoing-handler`.
//!
//! Config keys:
//!
//! - `webhook_url` (optional): an `http://` or `https://` URL. Its host must also be listed in
//!   the plugin's `allowed_hosts`, or the host refuses the request.
//!
//! Every call sends one POST with `content-type: application/json` and the body
//! `{"event": "notify"|"start"|"complete", "message": ..., "ticketId": ..., "taskRunId": ...,
//! "success": ...}` (absent values are `null`; `start` also carries `"engine"`). A 2xx answer is
//! success; another status is `unavailable("webhook answered <status>")`; a request the host
//! refuses (`http-request-denied`) is `permission-denied`, any other transport error
//! `unavailable`, each with the `wasi:http` error code in the message.
//!
//! Without `webhook_url` the plugin runs dry: it logs the message at debug level through
//! `robodev:host/log` and succeeds. Benchmarks use that path, so it stays cheap.

use std::sync::OnceLock;

use serde_json::json;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

wit_bindgen::generate!({
    path: ["../../wit/types", "../../wit/host", "../../wit/notifications"],
    world: "robodev:notifications/plugin@1.0.0",
    generate_all,
});

use exports::robodev::notifications::channel::Guest;
use robodev::host::{config, log};
use robodev::types::types::{PluginError, PluginInfo, TaskResult, Ticket};

/// `wasi:io` output streams accept at most this many bytes per blocking write.
const MAX_WRITE: usize = 4096;

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "notify-webhook".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn notify(message: String, ticket: Option<Ticket>) -> Result<(), PluginError> {
        let Some(url) = webhook_url() else {
            log::log(log::Level::Debug, &message);
            return Ok(());
        };
        let body = json!({
            "event": "notify",
            "message": message,
            "ticketId": ticket.as_ref().map(|t| &t.id),
            "taskRunId": null,
            "success": null,
        });
        post_json(url, &body)
    }

    fn notify_start(
        ticket: Option<Ticket>,
        task_run_id: String,
        engine: String,
    ) -> Result<(), PluginError> {
        let ticket_id = ticket.as_ref().map(|t| t.id.as_str());
        let message = format!(
            "started ticket {} with engine {engine}",
            ticket_id.unwrap_or("-")
        );
        let Some(url) = webhook_url() else {
            log::log(log::Level::Debug, &message);
            return Ok(());
        };
        let body = json!({
            "event": "start",
            "message": message,
            "ticketId": ticket_id,
            "taskRunId": task_run_id,
            "success": null,
            "engine": engine,
        });
        post_json(url, &body)
    }

    fn notify_complete(
        ticket: Option<Ticket>,
        task_run_id: String,
        result: Option<TaskResult>,
    ) -> Result<(), PluginError> {
        let message = result.as_ref().map(|r| r.summary.as_str()).unwrap_or("");
        let Some(url) = webhook_url() else {
            log::log(log::Level::Debug, message);
            return Ok(());
        };
        let body = json!({
            "event": "complete",
            "message": message,
            "ticketId": ticket.as_ref().map(|t| &t.id),
            "taskRunId": task_run_id,
            "success": result.as_ref().map(|r| r.success),
        });
        post_json(url, &body)
    }
}

export!(Component);

/// The configured webhook URL, read once per instance.
fn webhook_url() -> Option<&'static str> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| config::get("webhook_url").filter(|url| !url.trim().is_empty()))
        .as_deref()
}

/// POST `body` to `url` and require a 2xx answer.
fn post_json(url: &str, body: &serde_json::Value) -> Result<(), PluginError> {
    let target = Target::parse(url)?;
    let body = body.to_string();

    // An explicit length spares the receiver a chunked body, which some webhooks refuse.
    let headers = Fields::from_list(&[
        ("content-type".into(), b"application/json".to_vec()),
        ("content-length".into(), body.len().to_string().into_bytes()),
    ])
    .map_err(|e| PluginError::Internal(format!("building headers: {e:?}")))?;
    let request = OutgoingRequest::new(headers);
    let bad_url =
        |()| PluginError::FailedPrecondition(format!("webhook_url {url:?} is not a valid URL"));
    request.set_method(&Method::Post).map_err(bad_url)?;
    request.set_scheme(Some(&target.scheme)).map_err(bad_url)?;
    request
        .set_authority(Some(target.authority))
        .map_err(bad_url)?;
    request
        .set_path_with_query(Some(&target.path_and_query))
        .map_err(bad_url)?;
    let outgoing_body = request
        .body()
        .map_err(|()| PluginError::Internal("request body already taken".into()))?;

    let response = outgoing_handler::handle(request, None).map_err(http_error)?;
    // A body that cannot be written usually means the request failed: the response future then
    // holds the better error, so look at it first.
    let written = write_body(outgoing_body, body.as_bytes());
    response.subscribe().block();
    let status = match response.get() {
        Some(Ok(Ok(incoming))) => incoming.status(),
        Some(Ok(Err(code))) => return Err(http_error(code)),
        Some(Err(())) | None => return Err(PluginError::Internal("no HTTP response".into())),
    };
    written?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(PluginError::Unavailable(format!(
            "webhook answered {status}"
        )))
    }
}

fn write_body(outgoing_body: OutgoingBody, bytes: &[u8]) -> Result<(), PluginError> {
    let stream = outgoing_body
        .write()
        .map_err(|()| PluginError::Internal("request body stream already taken".into()))?;
    for chunk in bytes.chunks(MAX_WRITE) {
        stream.blocking_write_and_flush(chunk).map_err(|e| {
            PluginError::Unavailable(format!("writing the webhook request body: {e:?}"))
        })?;
    }
    // The stream is a child of the body: it must be gone before the body is finished.
    drop(stream);
    OutgoingBody::finish(outgoing_body, None).map_err(http_error)
}

fn http_error(code: ErrorCode) -> PluginError {
    match code {
        ErrorCode::HttpRequestDenied => {
            PluginError::PermissionDenied(format!("the host refused the webhook request: {code:?}"))
        }
        other => PluginError::Unavailable(format!("webhook request failed: {other:?}")),
    }
}

/// The parts of an `http(s)://authority/path?query` URL that `wasi:http` wants.
struct Target<'a> {
    scheme: Scheme,
    authority: &'a str,
    path_and_query: String,
}

impl<'a> Target<'a> {
    fn parse(url: &'a str) -> Result<Self, PluginError> {
        let invalid = || {
            PluginError::FailedPrecondition(format!(
                "webhook_url {url:?} is not an http:// or https:// URL"
            ))
        };
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(invalid());
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() {
            return Err(invalid());
        }
        let path_and_query = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(Target {
            scheme,
            authority,
            path_and_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> Option<(bool, String, String)> {
        let t = Target::parse(url).ok()?;
        Some((
            matches!(t.scheme, Scheme::Https),
            t.authority.to_owned(),
            t.path_and_query,
        ))
    }

    #[test]
    fn parses_webhook_urls() {
        assert_eq!(
            parts("https://hooks.example.com/a/b?x=1#f"),
            Some((true, "hooks.example.com".into(), "/a/b?x=1".into()))
        );
        assert_eq!(
            parts("http://127.0.0.1:8080"),
            Some((false, "127.0.0.1:8080".into(), "/".into()))
        );
        assert_eq!(parts("http://h?q"), Some((false, "h".into(), "/?q".into())));
        assert_eq!(parts("ftp://h/"), None);
        assert_eq!(parts("https:///path"), None);
    }
}
