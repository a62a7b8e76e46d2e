//! Reading a component's type before instantiating it: which robodev interface it exports,
//! which major version, and whether the host offers everything it imports.

use robodev_core::{Interface, Refusal};
use serde::Serialize;

/// WASI 0.2 packages the host links (all of them; use is governed by policy, not absence).
const WASI_PACKAGES: [&str; 7] = [
    "wasi:cli",
    "wasi:io",
    "wasi:clocks",
    "wasi:filesystem",
    "wasi:sockets",
    "wasi:random",
    "wasi:http",
];
/// What the host learned about a component from its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentInfo {
    /// The robodev interface it implements.
    #[serde(serialize_with = "ser_interface")]
    pub interface: Interface,
    /// Its interface version (the WIT package's major version).
    pub interface_version: u32,
    /// The export that implements it, e.g. `robodev:ticketing/backend@1.0.0`.
    pub export: String,
    /// Every import, e.g. `wasi:http/outgoing-handler@0.2.6`.
    pub imports: Vec<String>,
    /// Every export.
    pub exports: Vec<String>,
    /// The robodev capabilities it may use, derived from its imports (`log`, `config`,
    /// `secrets`, `kv`, `http`, `filesystem`, `sockets`, ...).
    pub capabilities: Vec<String>,
}

fn ser_interface<S: serde::Serializer>(i: &Interface, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(i.name())
}

/// Splits `ns:pkg/iface@version` into (`ns:pkg`, `iface`, `version`).
fn split_name(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (path, version) = match name.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (name, None),
    };
    let (package, iface) = path.split_once('/')?;
    Some((package, iface, version))
}

fn major(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Checks the first bytes: a component, not a core module and not something else.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), Refusal> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        let detail = if bytes.is_empty() {
            "the file is empty".to_owned()
        } else {
            "the file does not start with the WebAssembly magic number".to_owned()
        };
        return Err(Refusal::NotAComponent { detail });
    }
    match &bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(Refusal::NotAComponent {
            detail: "it is a core WebAssembly module; build a component (e.g. `cargo build --target wasm32-wasip2`, or `wasm-tools component new`)".to_owned(),
        }),
        v => Err(Refusal::NotAComponent {
            detail: format!("unknown WebAssembly version/layer {v:02x?}"),
        }),
    }
}

/// Finds the robodev interface among the exports and checks that the host serves its major
/// version (the current one, or an older one it adapts: [`Interface::majors`]).
pub(crate) fn identify(exports: &[String]) -> Result<(Interface, u32, String), Refusal> {
    let mut unsupported = None;
    for export in exports {
        let Some((package, iface, version)) = split_name(export) else {
            continue;
        };
        let Some(kind) = package.strip_prefix("robodev:") else {
            continue;
        };
        let Ok(interface) = kind.parse::<Interface>() else {
            continue;
        };
        if iface != interface.wit_interface() {
            continue;
        }
        let found = version.and_then(major).unwrap_or(0);
        if interface.serves(found) {
            return Ok((interface, found, export.clone()));
        }
        unsupported.get_or_insert(Refusal::UnsupportedVersion {
            export: export.clone(),
            found,
            expected: interface.version(),
        });
    }
    Err(unsupported.unwrap_or_else(|| Refusal::NoRobodevExport {
        exports: exports.to_vec(),
    }))
}

/// Refuses the first import the host does not offer.
pub(crate) fn check_imports(imports: &[String]) -> Result<(), Refusal> {
    for import in imports {
        let offered = match split_name(import) {
            Some((package, iface, version)) => {
                let name = format!("{package}/{iface}");
                if WASI_PACKAGES.contains(&package) {
                    version.is_some_and(|v| v.starts_with("0.2."))
                } else if crate::capability::HOST_IMPORTS.contains(&name.as_str()) {
                    // Same major, and a minor no newer than the host's: a minor only adds.
                    let newest = crate::capability::package_version(package);
                    version
                        .and_then(major_minor)
                        .is_some_and(|(major, minor)| major == newest.0 && minor <= newest.1)
                } else {
                    false
                }
            }
            None => false,
        };
        if !offered {
            let detail = match split_name(import) {
                Some((p, _, Some(v))) if WASI_PACKAGES.contains(&p) => {
                    format!("this host implements WASI 0.2.x, the component wants version {v}")
                }
                // A known capability at a newer minor of the major the host serves: the
                // component was built against a newer robodev.
                Some((p, iface, Some(v)))
                    if crate::capability::HOST_IMPORTS
                        .contains(&format!("{p}/{iface}").as_str())
                        && major_minor(v).is_some_and(|(major, minor)| {
                            let (serves, newest) = crate::capability::package_version(p);
                            major == serves && minor > newest
                        }) =>
                {
                    let (major, minor) = crate::capability::package_version(p);
                    format!(
                        "this host implements {p} {major}.0 to {major}.{minor}, the component \
                         wants version {v} (built against a newer robodev: upgrade robodev)"
                    )
                }
                _ => "robodev offers WASI 0.2 and robodev:host/{log,config,secrets,kv}@1 only"
                    .to_owned(),
            };
            return Err(Refusal::UnsupportedImport {
                import: import.clone(),
                detail,
            });
        }
    }
    Ok(())
}

/// The capabilities a component's imports reach.
pub(crate) fn capabilities(imports: &[String]) -> Vec<String> {
    let mut caps: Vec<String> = imports
        .iter()
        .filter_map(|i| {
            let (package, iface, _) = split_name(i)?;
            Some(match package {
                "robodev:host" => iface.to_owned(),
                "wasi:http" => "http".to_owned(),
                "wasi:filesystem" => "filesystem".to_owned(),
                "wasi:sockets" => "sockets".to_owned(),
                _ => return None,
            })
        })
        .collect();
    caps.sort();
    caps.dedup();
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_exports_and_versions() {
        let e = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (i, v, _) = identify(&e(&["robodev:scm/backend@2.0.0"])).unwrap();
        assert_eq!((i, v), (Interface::Scm, 2));
        // An older major the host adapts.
        let (i, v, _) = identify(&e(&["robodev:scm/backend@1.0.0"])).unwrap();
        assert_eq!((i, v), (Interface::Scm, 1));
        assert!(matches!(
            identify(&e(&["robodev:scm/backend@3.0.0"])),
            Err(Refusal::UnsupportedVersion {
                found: 3,
                expected: 2,
                ..
            })
        ));
        assert!(matches!(
            identify(&e(&["wasi:cli/run@0.2.0"])),
            Err(Refusal::NoRobodevExport { .. })
        ));
        assert!(check_imports(&e(&["wasi:io/streams@0.2.3", "robodev:host/kv@1.0.0"])).is_ok());
        let err = check_imports(&e(&["acme:backdoor/shell@1.0.0"])).unwrap_err();
        assert!(
            err.to_string().contains("acme:backdoor/shell@1.0.0"),
            "{err}"
        );
        assert!(check_imports(&e(&["wasi:io/streams@0.3.0"])).is_err());
        // A minor version only adds: 1.0 and 1.1 link, a newer minor or major does not.
        assert!(check_imports(&e(&["robodev:host/log@1.0.0", "robodev:host/kv@1.1.0"])).is_ok());
        let err = check_imports(&e(&["robodev:host/kv@1.2.0"])).unwrap_err();
        assert!(
            err.to_string()
                .contains("implements robodev:host 1.0 to 1.1, the component wants version 1.2.0"),
            "{err}"
        );
        let err = check_imports(&e(&["robodev:host/kv@2.0.0"])).unwrap_err();
        assert!(!err.to_string().contains("upgrade robodev"), "{err}");
        let err = check_imports(&e(&["robodev:host/http@1.0.0"])).unwrap_err();
        assert!(
            err.to_string()
                .contains("robodev:host/{log,config,secrets,kv}@1 only"),
            "{err}"
        );
        assert!(check_imports(&e(&["robodev:types/types@1.1.0"])).is_err());
    }

    #[test]
    fn headers() {
        assert!(check_header(b"\0asm\x0d\0\x01\0rest").is_ok());
        let core = check_header(b"\0asm\x01\0\0\0").unwrap_err();
        assert!(core.to_string().contains("core WebAssembly module"));
        assert!(check_header(b"#!/bin/sh\n").is_err());
        assert!(check_header(b"").is_err());
    }
}
