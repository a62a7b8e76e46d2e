//! The admin server's open connections: who holds them, what each is doing, and which one to
//! close when a client (or the server) has as many open as it may.
//!
//! A connection is *answering* while a request of it is being handled, *receiving* when bytes
//! of its next request have arrived, and *idle* otherwise (opened or answered, and silent
//! since). Making room closes an idle connection before a receiving one, the longest quiet
//! first, and never one that is answering; see [`Connections::admit`].

use std::cmp::Reverse;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Who a connection comes from, for the per-client bounds: an IPv4 address, or an IPv6 /64 (a
/// single host may use any address of its /64, so counting addresses would not bound it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Client(IpAddr);

impl Client {
    /// The client of a peer address (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub(super) fn of(ip: IpAddr) -> Client {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                Client(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            v4 => Client(v4),
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(ip) => write!(f, "{ip}"),
            IpAddr::V6(prefix) => write!(f, "{prefix}/64"),
        }
    }
}

/// What a connection is doing; making room prefers the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Activity {
    Idle,
    Receiving,
    Answering,
}

/// One open connection, shared by its task, its service, its stream and the table.
#[derive(Debug)]
pub(super) struct Connection {
    id: u64,
    client: Client,
    /// Requests being handled now (HTTP/1.1 handles one at a time).
    answering: AtomicUsize,
    /// Whether bytes arrived since the connection opened or its last answer.
    heard: AtomicBool,
    /// When it opened, or when its last answer was handled.
    quiet_since: Mutex<Instant>,
    /// Notified when the server closes it to make room.
    evicted: Notify,
}

impl Connection {
    fn activity(&self) -> Activity {
        if self.answering.load(Ordering::SeqCst) > 0 {
            Activity::Answering
        } else if self.heard.load(Ordering::SeqCst) {
            Activity::Receiving
        } else {
            Activity::Idle
        }
    }

    fn quiet_since(&self) -> Instant {
        *self
            .quiet_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a request of this connection as being handled until the guard is dropped.
    pub(super) fn answering(self: &Arc<Self>) -> Answering {
        self.answering.fetch_add(1, Ordering::SeqCst);
        Answering(self.clone())
    }

    /// When the connection will have been idle for `timeout`; `None` while it is answering
    /// or receiving (a request head being received is bounded by the head read timeout).
    pub(super) fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        (self.activity() == Activity::Idle).then(|| self.quiet_since() + timeout)
    }

    /// Resolves once the server has closed this connection to make room.
    pub(super) async fn evicted(&self) {
        self.evicted.notified().await;
    }
}

/// A request being handled (see [`Connection::answering`]).
pub(super) struct Answering(Arc<Connection>);

impl Drop for Answering {
    fn drop(&mut self) {
        let connection = &self.0;
        *connection
            .quiet_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        connection.heard.store(false, Ordering::SeqCst);
        connection.answering.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// Every connection of its client is answering a request.
    ClientBusy,
    /// Every connection of the server is answering a request.
    ServerBusy,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::ClientBusy => "every connection of this client is answering a request",
            Refused::ServerBusy => "every connection is answering a request",
        })
    }
}

/// The open connections.
#[derive(Debug, Default)]
pub(super) struct Connections {
    open: HashMap<u64, Arc<Connection>>,
    next_id: u64,
}

impl Connections {
    /// Takes a slot for a new connection from `client`. A client with `per_client` open
    /// connections has one of its own closed to make room, and a server with `total` has one
    /// of the client that holds the most closed: so a client that keeps opening connections
    /// only ever closes its own, and a new client always gets in. A connection that is
    /// answering a request is never closed: when every candidate is, the new one is refused.
    pub(super) fn admit(
        &mut self,
        client: Client,
        per_client: usize,
        total: usize,
    ) -> Result<Arc<Connection>, Refused> {
        let held = self.open.values().filter(|c| c.client == client).count();
        if held >= per_client.max(1) {
            let victim = self.victim(Some(client)).ok_or(Refused::ClientBusy)?;
            self.evict(victim);
        }
        if self.open.len() >= total.max(1) {
            let victim = self.victim(None).ok_or(Refused::ServerBusy)?;
            self.evict(victim);
        }
        self.next_id += 1;
        let connection = Arc::new(Connection {
            id: self.next_id,
            client,
            answering: AtomicUsize::new(0),
            heard: AtomicBool::new(false),
            quiet_since: Mutex::new(Instant::now()),
            evicted: Notify::new(),
        });
        self.open.insert(connection.id, connection.clone());
        Ok(connection)
    }

    /// The connection to close to make room (of `client` only, when given): of the client
    /// holding the most, idle before receiving, the longest quiet first; never one answering.
    fn victim(&self, client: Option<Client>) -> Option<u64> {
        let mut held: HashMap<Client, usize> = HashMap::new();
        for c in self.open.values() {
            *held.entry(c.client).or_default() += 1;
        }
        self.open
            .values()
            .filter(|c| client.is_none_or(|wanted| c.client == wanted))
            .filter_map(|c| {
                let activity = c.activity();
                (activity != Activity::Answering).then(|| {
                    let held = held.get(&c.client).copied().unwrap_or_default();
                    (Reverse(held), activity, c.quiet_since(), c.id)
                })
            })
            .min()
            .map(|(.., id)| id)
    }

    /// Frees the slot of connection `id` at once and tells its task to close it.
    fn evict(&mut self, id: u64) {
        if let Some(connection) = self.open.remove(&id) {
            connection.evicted.notify_one();
        }
    }
}

/// A connection's slot, freed when its task ends (unless making room freed it already).
pub(super) struct Slot {
    table: Arc<Mutex<Connections>>,
    id: u64,
}

impl Slot {
    pub(super) fn new(table: Arc<Mutex<Connections>>, connection: &Connection) -> Slot {
        Slot {
            table,
            id: connection.id,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .open
            .remove(&self.id);
    }
}

/// A connection's stream, noting when bytes arrive (what tells receiving from idle).
pub(super) struct Heard<S> {
    inner: S,
    connection: Arc<Connection>,
}

impl<S> Heard<S> {
    pub(super) fn new(inner: S, connection: Arc<Connection>) -> Heard<S> {
        Heard { inner, connection }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Heard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.connection.heard.store(true, Ordering::SeqCst);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Heard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str) -> Client {
        Client::of(ip.parse().unwrap())
    }

    #[test]
    fn clients_are_ipv4_addresses_and_ipv6_slash_64s() {
        assert_eq!(client("127.0.0.1").to_string(), "127.0.0.1");
        assert_eq!(client("::ffff:10.0.0.7"), client("10.0.0.7"));
        assert_eq!(client("2001:db8:1:2::1"), client("2001:db8:1:2:ffff::9"));
        assert_ne!(client("2001:db8:1:2::1"), client("2001:db8:1:3::1"));
        assert_eq!(client("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
    }

    #[tokio::test]
    async fn room_is_made_from_the_client_holding_the_most_and_never_from_an_answer() {
        let (a, b, c) = (client("10.0.0.1"), client("10.0.0.2"), client("10.0.0.3"));
        let mut table = Connections::default();
        let a1 = table.admit(a, 2, 4).unwrap();
        let a2 = table.admit(a, 2, 4).unwrap();
        // `a` is at its cap: its own longest-quiet connection makes room.
        let _a3 = table.admit(a, 2, 4).unwrap();
        assert!(!table.open.contains_key(&a1.id));
        assert!(table.open.contains_key(&a2.id));
        // An idle connection goes before one receiving a request, even a quieter one.
        a2.heard.store(true, Ordering::SeqCst);
        let _b1 = table.admit(b, 2, 4).unwrap();
        let _b2 = table.admit(b, 2, 4).unwrap();
        // The server is full (a2, a3, b1, b2): `a` and `b` hold as many; a3 is idle, a2 not.
        let _c1 = table.admit(c, 2, 4).unwrap();
        assert_eq!(table.open.len(), 4);
        assert!(table.open.contains_key(&a2.id), "{table:?}");
        // Everyone answering: a new connection is refused rather than closing an answer.
        let answering: Vec<Answering> = table.open.values().map(|c| c.answering()).collect();
        assert_eq!(table.admit(c, 2, 4).err(), Some(Refused::ServerBusy));
        assert_eq!(table.admit(b, 2, 4).err(), Some(Refused::ClientBusy));
        drop(answering);
        assert!(table.admit(c, 2, 4).is_ok());
    }
}
