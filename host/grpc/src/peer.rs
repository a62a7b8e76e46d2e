//! Who is behind the address a plugin's handshake names.
//!
//! A handshake line is the plugin's word, and a hostile or broken plugin can name anything: a
//! regular file (which a careless host would later delete as a "leftover socket"), or another
//! process's socket (which the host would then talk to, and whose server its `Shutdown` would
//! stop). robodev connects only to a socket served by the plugin it started: the listening
//! process must be that process or a member of its process group (a wrapper script that runs
//! the real plugin without `exec` is one group). For a unix socket the kernel tells the
//! listener's pid ([`unix_peer`], `SO_PEERCRED`); for loopback TCP the listening socket's
//! inode is looked up in `/proc/net/tcp{,6}` and then among the file descriptors of the
//! plugin's process group ([`tcp_owned_by_group`]).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// What the handshake's unix socket path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketFile {
    /// Device and inode, to recognise the same file at clean-up.
    pub dev: u64,
    /// See `dev`.
    pub ino: u64,
}

/// Why a unix socket path cannot be the plugin's socket.
#[derive(Debug)]
pub(crate) enum PathProblem {
    /// Nothing is there (or it cannot be read): a connection problem.
    Unreachable(io::Error),
    /// Something other than a socket is there: what it is.
    NotASocket(&'static str),
}

/// Checks that `path` is a unix socket itself (not a symbolic link to one).
pub(crate) fn socket_file(path: &Path) -> Result<SocketFile, PathProblem> {
    let meta = std::fs::symlink_metadata(path).map_err(PathProblem::Unreachable)?;
    let kind = meta.file_type();
    if kind.is_socket() {
        return Ok(SocketFile {
            dev: meta.dev(),
            ino: meta.ino(),
        });
    }
    Err(PathProblem::NotASocket(if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_file() {
        "a regular file"
    } else if kind.is_fifo() {
        "a named pipe"
    } else {
        "a device"
    }))
}

/// Removes `path` if it is still the socket file `expected` (never anything else).
pub(crate) fn remove_socket(path: &Path, expected: SocketFile) {
    if socket_file(path).is_ok_and(|found| found == expected) {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether process `pid` is `group` itself or a member of process group `group`.
pub(crate) fn in_group(pid: u32, group: u32) -> bool {
    if pid == group {
        return true;
    }
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(raw)))
        .is_ok_and(|pgid| pgid.as_raw() as u32 == group)
}

/// "process 1234 (sshd)", for messages.
pub(crate) fn describe(pid: u32) -> String {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(name) => format!("process {pid} ({})", name.trim()),
        Err(_) => format!("process {pid}"),
    }
}

/// Why an address is not the plugin's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotOwned {
    /// Nothing listens there.
    NothingListens,
    /// Another process serves it: who, as far as can be seen.
    Foreign(String),
}

/// Checks that the process listening on a connected unix stream is `group` or a member of
/// that process group.
pub(crate) fn unix_owned_by_group(
    stream: &tokio::net::UnixStream,
    group: u32,
) -> Result<(), NotOwned> {
    let server = stream
        .peer_cred()
        .ok()
        .and_then(|c| c.pid())
        .and_then(|pid| u32::try_from(pid).ok());
    match server {
        Some(server) if in_group(server, group) => Ok(()),
        Some(server) => Err(NotOwned::Foreign(describe(server))),
        None => Err(NotOwned::Foreign(
            "a process whose id the kernel does not tell".to_owned(),
        )),
    }
}

/// [`tcp_owned_by_group`] on a blocking thread (it reads `/proc`).
pub(crate) async fn tcp_owned_by_group_async(addr: SocketAddr, group: u32) -> Result<(), NotOwned> {
    tokio::task::spawn_blocking(move || tcp_owned_by_group(addr, group))
        .await
        .unwrap_or_else(|e| {
            Err(NotOwned::Foreign(format!(
                "cannot check who serves tcp {addr}: {e}"
            )))
        })
}

/// Whether the socket listening on `addr` (loopback TCP) is open in a process of group
/// `group`; `Err` says who holds it instead, as far as can be seen.
pub(crate) fn tcp_owned_by_group(addr: SocketAddr, group: u32) -> Result<(), NotOwned> {
    let inodes = listening_inodes(addr);
    if inodes.is_empty() {
        return Err(NotOwned::NothingListens);
    }
    let mut holders = Vec::new();
    for pid in all_pids() {
        if holds_socket(pid, &inodes) {
            if in_group(pid, group) {
                return Ok(());
            }
            holders.push(describe(pid));
        }
    }
    Err(NotOwned::Foreign(if holders.is_empty() {
        format!("the socket listening on tcp {addr} is not open in the plugin's process group")
    } else {
        format!(
            "tcp {addr} is served by {}, not by the plugin's process group",
            holders.join(", ")
        )
    }))
}

/// The inodes of listening sockets bound to `addr` or to the wildcard address of its family
/// on its port.
fn listening_inodes(addr: SocketAddr) -> Vec<u64> {
    let (table, wildcard): (&str, IpAddr) = match addr.ip() {
        IpAddr::V4(_) => ("/proc/net/tcp", IpAddr::from([0u8; 4])),
        IpAddr::V6(_) => ("/proc/net/tcp6", IpAddr::from([0u8; 16])),
    };
    let Ok(text) = std::fs::read_to_string(table) else {
        return Vec::new();
    };
    let mut inodes = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9))
        else {
            continue;
        };
        // 0A is TCP_LISTEN.
        if *state != "0A" {
            continue;
        }
        let Some((ip, port)) = parse_proc_address(local) else {
            continue;
        };
        if port == addr.port()
            && (ip == addr.ip() || ip == wildcard)
            && let Ok(inode) = inode.parse()
        {
            inodes.push(inode);
        }
    }
    inodes
}

/// `0100007F:2711` -> 127.0.0.1, 10001. The address is the kernel's in-memory words printed
/// as hex (host byte order per 32-bit word); the port is plain hex.
fn parse_proc_address(text: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for i in (0..ip.len()).step_by(8) {
        let word = u32::from_str_radix(ip.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some((ip, port))
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether process `pid` has one of `inodes` open (as far as this user may look).
fn holds_socket(pid: u32, inodes: &[u64]) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|inode| inodes.contains(&inode))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_addresses() {
        assert_eq!(
            parse_proc_address("0100007F:2711"),
            Some(("127.0.0.1".parse().unwrap(), 10001))
        );
        assert_eq!(
            parse_proc_address("00000000000000000000000001000000:0050"),
            Some(("::1".parse().unwrap(), 80))
        );
        assert_eq!(parse_proc_address("zz:1"), None);
    }

    #[tokio::test]
    async fn finds_who_listens() {
        let me = std::process::id();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // This test process is not in a group led by pid 1.
        let Err(NotOwned::Foreign(err)) = tcp_owned_by_group(addr, 1) else {
            panic!("owned by pid 1's group");
        };
        assert!(err.contains(&format!("process {me}")), "{err}");
        let group = nix::unistd::getpgrp().as_raw() as u32;
        assert_eq!(tcp_owned_by_group(addr, group), Ok(()));
        drop(listener);
        assert_eq!(
            tcp_owned_by_group(addr, group),
            Err(NotOwned::NothingListens)
        );
    }

    #[test]
    fn only_sockets_are_socket_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, "precious").unwrap();
        assert!(matches!(
            socket_file(&file),
            Err(PathProblem::NotASocket("a regular file"))
        ));
        let sock = dir.path().join("s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let found = socket_file(&sock).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&sock, &link).unwrap();
        assert!(matches!(
            socket_file(&link),
            Err(PathProblem::NotASocket("a symbolic link"))
        ));
        // A file that replaced the socket is never removed.
        std::fs::remove_file(&sock).unwrap();
        std::fs::write(&sock, "not a socket").unwrap();
        remove_socket(&sock, found);
        assert!(sock.exists());
        assert!(matches!(
            socket_file(&dir.path().join("none")),
            Err(PathProblem::Unreachable(_))
        ));
    }
}
