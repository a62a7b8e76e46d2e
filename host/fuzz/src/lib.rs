//! robodev's fuzz targets: every parser of input robodev does not control, by name.
//!
//! Each target takes any bytes and panics only on a bug. They are run two ways:
//! - coverage-guided by libFuzzer, for long runs: `scripts/fuzz TARGET` (cargo fuzz, nightly;
//!   the binaries in `fuzz/fuzz_targets/` call [`run`]); what they find is recorded in
//!   `FUZZING.md` and kept as a regression input;
//! - in the test suite, on stable: `tests/corpus.rs` replays each target's seed corpus
//!   (`fuzz/corpus/TARGET/`) and regressions (`fuzz/regressions/TARGET/`), and a fixed number
//!   of deterministic mutations of every seed.

use std::path::Path;

mod admin;
mod component;

pub use admin::TOKEN as ADMIN_TOKEN;
pub use component::generated as generated_component;
use std::sync::OnceLock;

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Its name (the cargo fuzz binary and the corpus directory).
    pub name: &'static str,
    /// What it parses.
    pub about: &'static str,
    /// The entry point.
    pub run: fn(&[u8]),
    /// Each input costs milliseconds (it compiles a component, or makes a connection): the
    /// test suite replays fewer mutations of its seeds ([`HEAVY_MUTATIONS`]).
    pub heavy: bool,
}

/// Mutations per seed the test suite replays for a [`Target::heavy`] target.
pub const HEAVY_MUTATIONS: usize = 40;

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "config",
        about: "robodev-config.yaml: loading and validation",
        run: config,
        heavy: false,
    },
    Target {
        name: "plugin_settings",
        about: "a plugin entry as `plugin call --plugin-config` reads it",
        run: plugin_settings,
        heavy: false,
    },
    Target {
        name: "handshake",
        about: "a go-plugin handshake line",
        run: robodev_grpc::fuzz::handshake_line,
        heavy: false,
    },
    Target {
        name: "stderr_line",
        about: "a plugin's stderr line (hclog JSON or text)",
        run: robodev_grpc::fuzz::stderr_line,
        heavy: false,
    },
    Target {
        name: "struct_json",
        about: "google.protobuf.Struct <-> JSON",
        run: robodev_grpc::fuzz::struct_json,
        heavy: false,
    },
    Target {
        name: "proto_message",
        about: "robodev.v1 messages from a plugin, proto <-> core",
        run: robodev_grpc::fuzz::proto_message,
        heavy: false,
    },
    Target {
        name: "oci_reference",
        about: "an OCI reference",
        run: robodev_oci::fuzz::reference,
        heavy: false,
    },
    Target {
        name: "oci_manifest",
        about: "a registry's image manifest and its layers",
        run: robodev_oci::fuzz::manifest,
        heavy: false,
    },
    Target {
        name: "auth_challenge",
        about: "a registry's WWW-Authenticate challenge",
        run: robodev_oci::fuzz::auth_challenge,
        heavy: false,
    },
    Target {
        name: "docker_config",
        about: "a docker config.json",
        run: robodev_oci::fuzz::docker_config,
        heavy: false,
    },
    Target {
        name: "signature",
        about: "cosign blob signatures, Sigstore bundles and public key files",
        run: signature,
        heavy: false,
    },
    Target {
        name: "component",
        about: "component inspection: header, compilation, exported interface and version, imports, the exports' types (real components mutated, and generated ones)",
        run: component::component,
        heavy: true,
    },
    Target {
        name: "admin_request",
        about: "the admin API's request handling: what a client sends on one connection",
        run: admin::admin_request,
        heavy: true,
    },
];

/// Runs target `name` on `data`.
///
/// # Panics
/// When there is no such target, or the target finds a bug.
pub fn run(name: &str, data: &[u8]) {
    let target = TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    (target.run)(data);
}

fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = robodev_controller::config::Config::parse(
        &text,
        Path::new("/nonexistent/robodev-config.yaml"),
    );
}

fn plugin_settings(data: &[u8]) {
    use robodev_controller::config::{PluginSettings, SettingsSource};
    let text = String::from_utf8_lossy(data);
    let path = Path::new("/nonexistent/plugin.yaml");
    for source in [
        SettingsSource::Command("./robodev-plugin-jira".into()),
        SettingsSource::Component("oci://ghcr.io/acme/jira:1.0.0".into()),
    ] {
        let _ = PluginSettings::parse(&text, path, source);
    }
}

/// The public key the signature seeds were made with (its private half is not kept).
const FUZZ_KEY: &str = include_str!("../keys/fuzz-only.pub.pem");

fn signature(data: &[u8]) {
    static KEYS: OnceLock<robodev_oci::TrustedKeys> = OnceLock::new();
    // The key is a constant of this crate: if it did not parse, every run would say so.
    let keys = KEYS.get_or_init(|| {
        robodev_oci::TrustedKeys::from_pem(FUZZ_KEY)
            .unwrap_or_else(|e| panic!("host/fuzz/keys/fuzz-only.pub.pem: {e}"))
    });
    robodev_oci::fuzz::signature(data, keys);
}
