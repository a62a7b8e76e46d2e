//! What the CLI's commands share: where robodev keeps its caches and data by default, and the
//! `KEY=VALUE` argument parser. Command modules depend on this, not on one another.

use std::path::PathBuf;

/// `$ENV/robodev/LEAF`, else `$HOME/FALLBACK/robodev/LEAF` (the XDG base directory rules),
/// else `.robodev/robodev/LEAF`.
pub(crate) fn default_dir(env: &str, fallback: &str, leaf: &str) -> PathBuf {
    let base = std::env::var_os(env)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)))
        .unwrap_or_else(|| PathBuf::from(".robodev"));
    base.join("robodev").join(leaf)
}

/// Where precompiled components are kept: `flag` (`--cache-dir`, `$ROBODEV_CACHE_DIR`), else
/// the config's `cache_dir`, else `$XDG_CACHE_HOME/robodev/components`.
pub(crate) fn compile_cache_dir(flag: Option<&PathBuf>, configured: Option<&PathBuf>) -> PathBuf {
    flag.or(configured)
        .cloned()
        .unwrap_or_else(|| default_dir("XDG_CACHE_HOME", ".cache", "components"))
}

/// Where pulled OCI components are kept: `$ROBODEV_OCI_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/robodev/oci`.
pub(crate) fn oci_cache_dir() -> PathBuf {
    std::env::var_os("ROBODEV_OCI_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| default_dir("XDG_CACHE_HOME", ".cache", "oci"))
}

/// A `KEY=VALUE` argument (`--env`, `--annotation`).
pub(crate) fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// What a subprocess plugin was confined to, for `plugin inspect`: one `label: value` line
/// each, aligned with the rest.
pub fn describe_sandbox(c: &robodev_grpc::Confinement) -> String {
    let list = |paths: &[std::path::PathBuf]| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!("sandbox:           {}\n", c.summary());
    if c.confined {
        out += &format!("  reads:           system directories, {}\n", list(&c.read));
        out += &format!("  writes:          {}\n", list(&c.write));
        out += &format!("  environment:     {}\n", c.env.join(", "));
        for gap in &c.gaps {
            out += &format!("  gap:             {gap}\n");
        }
    }
    out
}
