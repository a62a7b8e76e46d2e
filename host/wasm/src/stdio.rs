//! Guest stdout/stderr: never inherited. Each store captures them into a bounded buffer that
//! keeps the newest bytes (a chatty guest never blocks or traps on a full pipe); after each call
//! the host forwards the captured lines into `tracing` under the plugin's name and uses stderr
//! to explain a panic.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// How many of the newest bytes of each stream a store keeps between two reads.
pub const CAPTURE_BYTES: usize = 64 * 1024;

/// A bounded, lossy capture of one output stream.
#[derive(Clone, Default)]
pub(crate) struct CapturePipe(Arc<Captured>);

#[derive(Default)]
struct Captured {
    buf: Mutex<VecDeque<u8>>,
    /// Set after each write: most calls write nothing, and their `take` need not lock.
    written: AtomicBool,
}

impl CapturePipe {
    /// Takes what was written since the last call.
    pub(crate) fn take(&self) -> Vec<u8> {
        if !self.0.written.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        let mut buf = self.0.buf.lock().unwrap_or_else(PoisonError::into_inner);
        buf.drain(..).collect()
    }
}

impl IsTerminal for CapturePipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturePipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for CapturePipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut buf = self.0.buf.lock().unwrap_or_else(PoisonError::into_inner);
        let keep = &data[data.len().saturating_sub(CAPTURE_BYTES)..];
        let overflow = (buf.len() + keep.len()).saturating_sub(CAPTURE_BYTES);
        let len = buf.len();
        buf.drain(..overflow.min(len));
        buf.extend(keep);
        // After the bytes, under the lock: a `take` that sees the flag finds them.
        self.0.written.store(true, Ordering::Release);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
