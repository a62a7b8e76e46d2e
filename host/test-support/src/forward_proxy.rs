//! A forward HTTP proxy on 127.0.0.1, as `HTTP_PROXY`/`HTTPS_PROXY` name one: it forwards
//! absolute-URI requests (`GET http://HOST:PORT/path HTTP/1.1`) and tunnels `CONNECT`, and
//! records the request line of each, so a test can tell what went through it.
//!
//! Threads and `std::net` only, no runtime: robodev-cli's tests use it too, and they have no
//! tokio. Every forwarded request is sent upstream with `Connection: close` and its connection
//! is closed after the answer, so each request the client makes through the proxy comes on a
//! connection of its own and is recorded; inside a `CONNECT` tunnel only the tunnel is seen.
//!
//! [`ForwardProxy::answering`] is the same proxy answering absolute-URI requests itself (200,
//! nothing forwarded): a test whose destination has nobody listening then knows that only the
//! proxy can have answered.
//!
//! A proxy is chosen from the environment, which is process-wide: tests set [`PROXY_VARS`] in
//! child processes only (see [`crate::child`]).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The proxy variables robodev's HTTP clients (reqwest) read, cleared in a child process so that
/// only the ones a test sets count.
pub const PROXY_VARS: [&str; 9] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    // Set, it makes reqwest ignore HTTP_PROXY (the CGI "httpoxy" guard).
    "REQUEST_METHOD",
];

/// What the proxy does with a plain (absolute-URI) request; `CONNECT` is always tunnelled.
#[derive(Clone, Copy)]
enum Plain {
    /// Sent on to its destination.
    Forward,
    /// Answered `200 OK` by the proxy itself.
    Answer,
}

/// The proxy; it stops accepting when dropped.
pub struct ForwardProxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl ForwardProxy {
    /// Listens on 127.0.0.1:0; it accepts as soon as this returns.
    pub fn start() -> ForwardProxy {
        Self::listen(Plain::Forward)
    }

    /// Like [`ForwardProxy::start`], but a plain request is answered `200 OK` (empty body) by
    /// the proxy and not forwarded.
    pub fn answering() -> ForwardProxy {
        Self::listen(Plain::Answer)
    }

    fn listen(plain: Plain) -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (record, stopped) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for socket in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(socket) = socket else { continue };
                let record = record.clone();
                std::thread::spawn(move || serve(socket, &record, plain));
            }
        });
        ForwardProxy { port, seen, stop }
    }

    /// `http://127.0.0.1:PORT`, the value for `HTTP_PROXY` or `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request lines received so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One client connection: one request forwarded, or one tunnel.
fn serve(client: TcpStream, record: &Mutex<Vec<String>>, plain: Plain) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let Some(request_line) = head.first().cloned() else {
        return;
    };
    record.lock().unwrap().push(request_line.clone());
    // Body bytes that arrived with the head.
    let early = reader.buffer().to_vec();
    let mut client = client;
    let mut parts = request_line.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    if method == "CONNECT" {
        let Ok(upstream) = TcpStream::connect(target) else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
            return;
        };
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        pipe(client, upstream, &early);
        return;
    }
    if let Plain::Answer = plain {
        // The body is read first (`reader` still holds the early bytes): closing with unread
        // bytes would reset the connection.
        let length: usize = head[1..]
            .iter()
            .filter_map(|h| h.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_ok() {
            let _ = client
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Some((authority, path)) = target
        .strip_prefix("http://")
        .map(|rest| rest.split_at(rest.find('/').unwrap_or(rest.len())))
    else {
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let Ok(upstream) = TcpStream::connect(authority) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let path = if path.is_empty() { "/" } else { path };
    let mut forwarded = format!("{method} {path} {version}\r\n");
    for header in &head[1..] {
        let name = header.split(':').next().unwrap_or_default().trim();
        let hop_by_hop = ["connection", "proxy-connection", "proxy-authorization"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
        if !hop_by_hop {
            forwarded.push_str(header);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    let mut upstream = upstream;
    if upstream.write_all(forwarded.as_bytes()).is_err() {
        return;
    }
    pipe(client, upstream, &early);
}

/// Copies both ways until the upstream side is done, then closes both.
fn pipe(client: TcpStream, mut upstream: TcpStream, early: &[u8]) {
    if upstream.write_all(early).is_err() {
        return;
    }
    let (mut from_client, mut to_upstream) =
        (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_upstream);
        let _ = to_upstream.shutdown(Shutdown::Write);
    });
    let mut to_client = client;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match upstream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to_client.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to_client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = up.join();
}
