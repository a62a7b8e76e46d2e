//! The go-plugin handshake line, `CORE|APP|NETWORK|ADDR|PROTOCOL|CERT[|MUX]`: parsed on the host
//! side, written on the plugin side.

use std::net::SocketAddr;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use robodev_core::HandshakeProblem;

/// The core protocol version of go-plugin; every plugin sends 1.
pub(crate) const CORE_PROTOCOL_VERSION: u32 = 1;

/// Where the plugin listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Address {
    /// A unix socket at this absolute path.
    Unix(PathBuf),
    /// A TCP address (loopback).
    Tcp(SocketAddr),
}

/// A parsed handshake line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handshake {
    /// The address to dial.
    pub(crate) address: Address,
    /// The plugin's AutoMTLS certificate (DER), when it sent one.
    pub(crate) cert: Option<Vec<u8>>,
}

/// Truncates a line for messages.
fn shorten(line: &str) -> String {
    const MAX: usize = 200;
    match line.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

/// Parses the plugin's first stdout line (without its newline). `app_version` is the one
/// version the host offered.
pub(crate) fn parse(line: &str, app_version: u32) -> Result<Handshake, HandshakeProblem> {
    let line = line.trim_end_matches(['\r', '\n']);
    let fields: Vec<&str> = line.split('|').collect();
    let malformed = |reason: String| HandshakeProblem::Malformed {
        line: shorten(line),
        reason,
    };
    // A line that does not even start like a handshake is output the plugin should not have
    // printed; say so rather than "malformed".
    if fields.len() < 4 || fields[0].parse::<u32>().is_err() {
        return Err(HandshakeProblem::StdoutNoise {
            line: shorten(line),
        });
    }
    if fields[0] != CORE_PROTOCOL_VERSION.to_string() {
        return Err(HandshakeProblem::CoreVersion {
            found: fields[0].to_owned(),
        });
    }
    if fields[1].parse::<u32>().ok() != Some(app_version) {
        return Err(HandshakeProblem::AppVersion {
            found: fields[1].to_owned(),
            offered: app_version,
        });
    }
    match fields.get(4).copied() {
        None | Some("netrpc") | Some("") => return Err(HandshakeProblem::NetRpc),
        Some("grpc") => {}
        Some(other) => return Err(malformed(format!("unknown protocol {other:?}"))),
    }
    let address = match fields[2] {
        "unix" => {
            let path = PathBuf::from(fields[3]);
            if !path.is_absolute() {
                return Err(malformed(format!(
                    "unix socket path {:?} is not absolute",
                    fields[3]
                )));
            }
            Address::Unix(path)
        }
        "tcp" => {
            let addr: std::net::SocketAddr = fields[3]
                .parse()
                .map_err(|e| malformed(format!("tcp address {:?}: {e}", fields[3])))?;
            // A plugin is a local child: robodev never dials out to another host for it.
            if !addr.ip().is_loopback() {
                return Err(malformed(format!(
                    "tcp address {addr} is not a loopback address"
                )));
            }
            Address::Tcp(addr)
        }
        other => return Err(malformed(format!("unknown network {other:?}"))),
    };
    let cert = match fields.get(5).copied().unwrap_or("") {
        "" => None,
        // Go writes no padding; tolerate it anyway.
        text => {
            let der = STANDARD_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|e| malformed(format!("certificate is not base64: {e}")))?;
            // Found by fuzzing: `=` alone decoded to no certificate at all, which a later
            // step would have taken for one.
            if der.is_empty() {
                return Err(malformed(format!("certificate {text:?} is empty")));
            }
            Some(der)
        }
    };
    if let Some(mux) = fields.get(6)
        && *mux == "true"
    {
        return Err(malformed(
            "the plugin asks for gRPC multiplexing (PLUGIN_MULTIPLEX_GRPC), which robodev never offers"
                .to_owned(),
        ));
    }
    Ok(Handshake { address, cert })
}

/// The plugin side's line (with its newline).
pub(crate) fn format(app_version: u32, address: &Address, cert: Option<&[u8]>) -> String {
    let (network, addr) = match address {
        Address::Unix(path) => ("unix", path.display().to_string()),
        Address::Tcp(addr) => ("tcp", addr.to_string()),
    };
    let cert = cert.map(|c| STANDARD_NO_PAD.encode(c)).unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{app_version}|{network}|{addr}|grpc|{cert}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    #[test]
    fn parses_real_go_lines() {
        let h = parse("1|1|unix|/tmp/plugin2300397062|grpc|", 1).unwrap();
        assert_eq!(h.address, Address::Unix("/tmp/plugin2300397062".into()));
        assert_eq!(h.cert, None);
        let h = parse("1|1|tcp|127.0.0.1:10001|grpc|AAEC\n", 1).unwrap();
        assert_eq!(h.address, Address::Tcp("127.0.0.1:10001".parse().unwrap()));
        assert_eq!(h.cert, Some(vec![0, 1, 2]));
        // Padded base64 is tolerated.
        let padded = STANDARD.encode([7u8, 8]);
        assert!(padded.ends_with('='));
        let h = parse(&format!("1|1|unix|/s|grpc|{padded}"), 1).unwrap();
        assert_eq!(h.cert, Some(vec![7, 8]));
    }

    #[test]
    fn round_trips_the_plugin_side() {
        let line = format(
            1,
            &Address::Unix("/tmp/x/plugin".into()),
            Some(&[1, 2, 3, 4]),
        );
        assert_eq!(line, "1|1|unix|/tmp/x/plugin|grpc|AQIDBA\n");
        let h = parse(&line, 1).unwrap();
        assert_eq!(h.cert, Some(vec![1, 2, 3, 4]));
    }

    #[test]
    fn names_each_problem() {
        assert!(matches!(
            parse("hello world", 1),
            Err(HandshakeProblem::StdoutNoise { line }) if line == "hello world"
        ));
        assert_eq!(
            parse("2|1|unix|/s|grpc|", 1),
            Err(HandshakeProblem::CoreVersion { found: "2".into() })
        );
        assert_eq!(
            parse("1|3|unix|/s|grpc|", 1),
            Err(HandshakeProblem::AppVersion {
                found: "3".into(),
                offered: 1
            })
        );
        assert_eq!(
            parse("1|1|unix|/s|netrpc", 1),
            Err(HandshakeProblem::NetRpc)
        );
        assert_eq!(parse("1|1|unix|/s", 1), Err(HandshakeProblem::NetRpc));
        assert!(matches!(
            parse("1|1|udp|/s|grpc|", 1),
            Err(HandshakeProblem::Malformed { reason, .. }) if reason.contains("udp")
        ));
        assert!(matches!(
            parse("1|1|unix|relative|grpc|", 1),
            Err(HandshakeProblem::Malformed { reason, .. }) if reason.contains("absolute")
        ));
        assert!(matches!(
            parse("1|1|unix|/s|grpc|!!!", 1),
            Err(HandshakeProblem::Malformed { reason, .. }) if reason.contains("base64")
        ));
    }
}
