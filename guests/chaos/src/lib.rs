//! `chaos`: a notification channel (`robodev:notifications/channel@1.0.0`) that misbehaves on
//! command, to test the host's sandbox, limits and error mapping. Never deploy it.
//!
//! Config keys: none (grant `allowed_hosts`, `secrets` or kv to test those capabilities).
//!
//! `notify`'s message picks the behaviour:
//!
//! | message | behaviour |
//! |---|---|
//! | `loop` | spins forever (fuel or the epoch deadline must stop it) |
//! | `bomb` | allocates and touches 1 MiB blocks without bound (the memory cap must stop it) |
//! | `overflow` | unbounded recursion until the wasm stack overflows |
//! | `panic` | `panic!("chaos asked to panic")` (a trap: `unreachable` after the panic message) |
//! | `trap` | reads far out of linear memory (a memory out-of-bounds trap, unlike `panic`) |
//! | `http:<url>` | GETs `<url>` through `wasi:http`: ok on 2xx, `permission-denied` when the host refuses, `unavailable` otherwise |
//! | `secret:<name>` | reads host secret `<name>` (never logged): ok, `permission-denied` if not granted, `not-found`, `unavailable` |
//! | `kv` | sets then reads back a kv key: ok, `permission-denied` if kv is not enabled |
//! | `count:<key>` | adds 1 to the kv counter `<key>` with `kv.increment` |
//! | `cas:<key>` | appends `x` to the kv value `<key>` in a `kv.compare-and-swap` loop (read, append, swap, retry) |
//! | `error:<code>` | returns plugin-error `<code>` (kebab-case, e.g. `not-found`) with message "chaos error" |
//! | `env` | ok if the guest sees no environment variables and no arguments, `failed-precondition` naming them otherwise |
//! | `read:<path>=<text>` | reads file `<path>`: ok if it holds exactly `<text>`, `not-found`/`permission-denied` with the I/O error otherwise |
//! | `write:<path>` | creates file `<path>`: ok if that worked, `permission-denied` with the I/O error otherwise |
//! | anything else | ok |
//!
//! `notify-start` and `notify-complete` always succeed.

use std::hint::black_box;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingRequest, Scheme};

wit_bindgen::generate!({
    path: ["../../wit/types", "../../wit/host", "../../wit/notifications"],
    world: "robodev:notifications/plugin@1.0.0",
    generate_all,
});

use exports::robodev::notifications::channel::Guest;
use robodev::host::{kv, log, secrets};
use robodev::types::types::{PluginError, PluginInfo, TaskResult, Ticket};

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "chaos".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn notify(message: String, _ticket: Option<Ticket>) -> Result<(), PluginError> {
        match message.as_str() {
            "loop" => spin(),
            "bomb" => allocate_forever(),
            "overflow" => {
                black_box(recurse(black_box(0)));
                Ok(())
            }
            "panic" => panic!("chaos asked to panic"),
            "trap" => out_of_bounds(),
            "kv" => kv_round_trip(),
            other => {
                if let Some(url) = other.strip_prefix("http:") {
                    http_get(url)
                } else if let Some(key) = other.strip_prefix("count:") {
                    kv::increment(key, 1).map(drop).map_err(atomic_error)
                } else if let Some(key) = other.strip_prefix("cas:") {
                    append_x(key)
                } else if let Some(name) = other.strip_prefix("secret:") {
                    read_secret(name)
                } else if let Some(spec) = other.strip_prefix("read:") {
                    read_file(spec)
                } else if let Some(path) = other.strip_prefix("write:") {
                    write_file(path)
                } else if other == "env" {
                    no_ambient_env()
                } else if let Some(code) = other.strip_prefix("error:") {
                    Err(plugin_error(code))
                } else {
                    Ok(())
                }
            }
        }
    }

    fn notify_start(
        _ticket: Option<Ticket>,
        _task_run_id: String,
        _engine: String,
    ) -> Result<(), PluginError> {
        Ok(())
    }

    fn notify_complete(
        _ticket: Option<Ticket>,
        _task_run_id: String,
        _result: Option<TaskResult>,
    ) -> Result<(), PluginError> {
        Ok(())
    }
}

export!(Component);

/// Loops forever: `black_box` hides the counter from the optimiser, so the loop stays.
fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Allocates 1 MiB blocks until the host's memory cap stops the guest.
fn allocate_forever() -> ! {
    const BLOCK: usize = 1 << 20;
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; BLOCK];
        // Touch every page, so the memory is really used.
        for page in block.iter_mut().step_by(4096) {
            *page = black_box(1);
        }
        blocks.push(black_box(block));
    }
}

/// Recurses until the wasm call stack overflows. The call is not in tail position and its
/// result feeds two different operations, so LLVM cannot turn the recursion into a loop; no
/// local has its address taken, so the frames live on the wasm stack, not in linear memory.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return depth;
    }
    recurse(depth + 1).rotate_left(7) ^ depth
}

/// Reads far beyond linear memory: a wasm out-of-bounds trap, which is not a Rust panic.
fn out_of_bounds() -> ! {
    let address = black_box(usize::MAX - 15);
    // SAFETY: none, on purpose. The address lies outside any wasm32 linear memory smaller than
    // 4 GiB, so the load traps (wasm semantics) before anything could be read.
    let value = unsafe { std::ptr::read_volatile(address as *const u64) };
    black_box(value);
    unreachable!("the read above traps")
}

fn kv_round_trip() -> Result<(), PluginError> {
    const KEY: &str = "chaos/probe";
    const VALUE: &[u8] = b"chaos was here";
    kv::set(KEY, VALUE).map_err(kv_error)?;
    match kv::get(KEY).map_err(kv_error)? {
        Some(value) if value == VALUE => Ok(()),
        other => Err(PluginError::DataLoss(format!(
            "kv read back {other:?} after set"
        ))),
    }
}

fn kv_error(e: kv::KvError) -> PluginError {
    match e {
        kv::KvError::Denied => PluginError::PermissionDenied("kv denied".into()),
        kv::KvError::TooLarge(m) => PluginError::ResourceExhausted(m),
        kv::KvError::Io(m) => PluginError::Unavailable(m),
    }
}

fn atomic_error(e: kv::AtomicError) -> PluginError {
    match e {
        kv::AtomicError::Denied => PluginError::PermissionDenied("kv denied".into()),
        kv::AtomicError::TooLarge(m) => PluginError::ResourceExhausted(m),
        kv::AtomicError::Io(m) => PluginError::Unavailable(m),
        kv::AtomicError::NotACounter(m) => PluginError::FailedPrecondition(m),
    }
}

/// Read-modify-write done right: retry until the swap finds what was read.
fn append_x(key: &str) -> Result<(), PluginError> {
    loop {
        let current = kv::get(key).map_err(kv_error)?;
        let mut next = current.clone().unwrap_or_default();
        next.push(b'x');
        if kv::compare_and_swap(key, current.as_deref(), Some(&next)).map_err(atomic_error)? {
            return Ok(());
        }
    }
}

fn read_secret(name: &str) -> Result<(), PluginError> {
    match secrets::get(name) {
        Ok(value) => {
            black_box(value);
            log::log(log::Level::Info, &format!("read secret {name}"));
            Ok(())
        }
        Err(secrets::SecretError::NotGranted(m)) => Err(PluginError::PermissionDenied(m)),
        Err(secrets::SecretError::NotFound(m)) => Err(PluginError::NotFound(m)),
        Err(secrets::SecretError::Unavailable(m)) => Err(PluginError::Unavailable(m)),
    }
}

fn plugin_error(code: &str) -> PluginError {
    let message = String::from("chaos error");
    match code {
        "cancelled" => PluginError::Cancelled(message),
        "unknown" => PluginError::Unknown(message),
        "invalid-argument" => PluginError::InvalidArgument(message),
        "deadline-exceeded" => PluginError::DeadlineExceeded(message),
        "not-found" => PluginError::NotFound(message),
        "already-exists" => PluginError::AlreadyExists(message),
        "permission-denied" => PluginError::PermissionDenied(message),
        "resource-exhausted" => PluginError::ResourceExhausted(message),
        "failed-precondition" => PluginError::FailedPrecondition(message),
        "aborted" => PluginError::Aborted(message),
        "out-of-range" => PluginError::OutOfRange(message),
        "unimplemented" => PluginError::Unimplemented(message),
        "internal" => PluginError::Internal(message),
        "unavailable" => PluginError::Unavailable(message),
        "data-loss" => PluginError::DataLoss(message),
        "unauthenticated" => PluginError::Unauthenticated(message),
        other => PluginError::InvalidArgument(format!("chaos knows no error code {other:?}")),
    }
}

/// GET `url` and require a 2xx answer.
fn http_get(url: &str) -> Result<(), PluginError> {
    let invalid =
        || PluginError::InvalidArgument(format!("{url:?} is not an http:// or https:// URL"));
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err(invalid());
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };

    let request = OutgoingRequest::new(Fields::new());
    let set = |ok: Result<(), ()>| ok.map_err(|()| invalid());
    set(request.set_method(&Method::Get))?;
    set(request.set_scheme(Some(&scheme)))?;
    set(request.set_authority(Some(authority)))?;
    set(request.set_path_with_query(Some(&path)))?;

    let response = outgoing_handler::handle(request, None).map_err(http_error)?;
    response.subscribe().block();
    match response.get() {
        Some(Ok(Ok(incoming))) if (200..300).contains(&incoming.status()) => Ok(()),
        Some(Ok(Ok(incoming))) => Err(PluginError::Unavailable(format!(
            "{url} answered {}",
            incoming.status()
        ))),
        Some(Ok(Err(code))) => Err(http_error(code)),
        Some(Err(())) | None => Err(PluginError::Internal("no HTTP response".into())),
    }
}

fn http_error(code: ErrorCode) -> PluginError {
    match code {
        ErrorCode::HttpRequestDenied => {
            PluginError::PermissionDenied(format!("the host refused: {code:?}"))
        }
        other => PluginError::Unavailable(format!("HTTP request failed: {other:?}")),
    }
}

fn io_error(what: &str, e: std::io::Error) -> PluginError {
    match e.kind() {
        std::io::ErrorKind::NotFound => PluginError::NotFound(format!("{what}: {e}")),
        _ => PluginError::PermissionDenied(format!("{what}: {e}")),
    }
}

fn read_file(spec: &str) -> Result<(), PluginError> {
    let (path, want) = spec.split_once('=').unwrap_or((spec, ""));
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    if text == want {
        Ok(())
    } else {
        Err(PluginError::DataLoss(format!("{path} holds {text:?}")))
    }
}

fn write_file(path: &str) -> Result<(), PluginError> {
    std::fs::write(path, b"chaos was here").map_err(|e| io_error(path, e))
}

fn no_ambient_env() -> Result<(), PluginError> {
    let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    let args: Vec<String> = std::env::args().collect();
    if vars.is_empty() && args.is_empty() {
        Ok(())
    } else {
        Err(PluginError::FailedPrecondition(format!(
            "environment {vars:?}, arguments {args:?}"
        )))
    }
}
