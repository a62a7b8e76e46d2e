//! Target `component`: component inspection, what robodev does to a `.wasm` file before it
//! instantiates anything (header check, validation and compilation by wasmtime, which robodev
//! interface and major version it exports, whether the host offers its imports, and the
//! exported functions' types against robodev's WIT contract).
//!
//! An input that starts with the WebAssembly magic number is inspected as it is (the seeds are
//! real guest components; mutations of them exercise the binary parsers). Any other input
//! drives a generator, in the manner of wasm-smith but for components: it picks a world from
//! the bytes (which robodev interface is exported, at which version, with the contract's
//! functions or mutated ones: missing, extra, renamed, other parameter or result types; which
//! host capabilities and unknown packages are imported) and builds a real component for it
//! with wit-component, so that the checks behind the parsers see well-formed components that
//! are wrong in every way a plugin author could make them.

use std::fmt::Write as _;
use std::sync::OnceLock;

use wit_parser::Resolve;

/// robodev's WIT contract, as the host embeds it, dependencies first.
const CONTRACT: [(&str, &str); 11] = robodev_wasm::CONTRACT_WIT;

/// The exported interface of each robodev package: (package, interface).
const EXPORTS: &[(&str, &str)] = &[
    ("robodev:ticketing", "backend"),
    ("robodev:notifications", "channel"),
    ("robodev:approval", "backend"),
    ("robodev:secrets", "backend"),
    ("robodev:scm", "backend"),
    ("robodev:review", "backend"),
    ("robodev:engine", "backend"),
];

/// Versions a generated export claims.
const VERSIONS: &[&str] = &[
    "1.0.0",
    "1.1.0",
    "1.0.1",
    "2.0.0",
    "0.9.0",
    "3.1.0",
    "1.0.0-rc.1",
];

/// Types a mutated function's parameters and results are drawn from.
const TYPES: &[&str] = &[
    "string",
    "u32",
    "s64",
    "bool",
    "list<u8>",
    "option<string>",
    "list<string>",
    "plugin-info",
    "plugin-error",
    "tuple<string, u32>",
];

/// Results a mutated function returns.
const RESULTS: &[&str] = &[
    "",
    " -> plugin-info",
    " -> result<_, plugin-error>",
    " -> result<string, plugin-error>",
    " -> result<list<string>, plugin-error>",
    " -> string",
    " -> result<_, string>",
];

/// Imports a generated world may have, by WIT path.
const IMPORTS: &[&str] = &[
    "robodev:host/log@1.1.0",
    "robodev:host/config@1.1.0",
    "robodev:host/secrets@1.1.0",
    "robodev:host/kv@1.1.0",
    "robodev:host/log@1.0.0",
    "robodev:host/kv@1.0.0",
    "fuzz:unknown/thing@1.0.0",
];

/// The fuzz input as a source of choices; zeros once used up.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    fn pick<'s, T>(&mut self, items: &'s [T]) -> &'s T {
        &items[self.below(items.len())]
    }

    /// True with probability `n`/256.
    fn chance(&mut self, n: u8) -> bool {
        self.byte() < n
    }
}

fn contract() -> &'static Resolve {
    static RESOLVE: OnceLock<Resolve> = OnceLock::new();
    RESOLVE.get_or_init(|| {
        let mut resolve = Resolve::new();
        for (name, text) in CONTRACT {
            // The contract is this repository's own WIT: it parses, or nothing would build.
            resolve
                .push_str(name, text)
                .unwrap_or_else(|e| panic!("robodev's WIT does not parse ({name}): {e:#}"));
        }
        resolve
    })
}

/// The contract's package `package` (its newest major), printed back as WIT: one function
/// per line, every type it defines or uses.
fn contract_package(package: &str) -> Option<String> {
    let resolve = contract();
    let id = resolve
        .packages
        .iter()
        .filter(|(_, p)| p.name.to_string().starts_with(&format!("{package}@")))
        .max_by_key(|(_, p)| p.name.version.clone())
        .map(|(id, _)| id)?;
    let mut printer = wit_component::WitPrinter::default();
    printer.print(resolve, id, &[]).ok()?;
    Some(printer.output.to_string())
}

/// The WIT of a generated plugin: its world's package, and the package of the interface it
/// exports when that is not the contract's own.
fn generate(data: &[u8]) -> (String, Option<String>) {
    let mut b = Bytes(data);
    let (package, iface) = *b.pick(EXPORTS);
    let printed = contract_package(package).unwrap_or_default();
    let real_version = printed
        .lines()
        .find_map(|l| l.strip_prefix(&format!("package {package}@")))
        .map(|v| v.trim_end_matches(';').to_owned())
        .unwrap_or_else(|| "1.0.0".into());
    let faithful = b.chance(96);
    let (version, exported) = if faithful || printed.is_empty() {
        // The contract's own interface: only the imports vary.
        (real_version, None)
    } else {
        let version = (*b.pick(VERSIONS)).to_owned();
        let mut lines: Vec<String> = printed.lines().map(str::to_owned).collect();
        for line in &mut lines {
            if line.starts_with("package ") {
                *line = format!("package {package}@{version};");
            }
        }
        // Function lines of the exported interface (the printer writes one per line).
        let funcs = |lines: &[String]| -> Vec<usize> {
            let mut inside = false;
            let mut out = Vec::new();
            for (i, l) in lines.iter().enumerate() {
                if l.trim_start().starts_with(&format!("interface {iface} ")) {
                    inside = true;
                } else if inside && l.starts_with('}') {
                    break;
                } else if inside && l.contains(": func(") {
                    out.push(i);
                }
            }
            out
        };
        for _ in 0..b.below(4) {
            let at = funcs(&lines);
            let Some(&last) = at.last() else { break };
            let i = at[b.below(at.len())];
            match b.below(5) {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let params = (0..b.below(3))
                        .map(|n| format!("p{n}: {}", b.pick(TYPES)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let line = format!("  extra{}: func({params}){};", b.byte(), b.pick(RESULTS));
                    lines.insert(last + 1, line);
                }
                2 => {
                    if let Some((head, _)) = lines[i].split_once(')') {
                        lines[i] = format!("{head}){};", b.pick(RESULTS));
                    }
                }
                3 => {
                    if let Some((head, rest)) = lines[i].split_once("func(") {
                        lines[i] = format!("{head}func(changed: {}, {rest}", b.pick(TYPES));
                    }
                }
                _ => {
                    if let Some((name, rest)) = lines[i].split_once(':') {
                        lines[i] = format!("{name}-renamed:{rest}");
                    }
                }
            }
        }
        (version, Some(lines.join("\n")))
    };
    let mut world = String::from("package fuzz:plugin;\n");
    let unknown = b.chance(40);
    if unknown {
        world.push_str("interface thing { poke: func(x: u32) -> u32; }\n");
    }
    world.push_str("world plugin {\n");
    for import in IMPORTS {
        if b.chance(90) {
            if import.starts_with("fuzz:unknown") {
                if unknown {
                    world.push_str("    import thing;\n");
                }
            } else {
                let _ = writeln!(world, "    import {import};");
            }
        }
    }
    if !b.chance(10) {
        let _ = writeln!(world, "    export {package}/{iface}@{version};");
    }
    world.push_str("}\n");
    (world, exported)
}

/// A component for `data`'s world, or `None` when wit-component (not robodev) cannot build one.
fn build(data: &[u8]) -> Option<Vec<u8>> {
    let (world, exported) = generate(data);
    let mut resolve = match &exported {
        None => contract().clone(),
        // A mutated interface that claims a contract package's own version replaces it.
        Some(text) => {
            let mut resolve = Resolve::new();
            let declared = text
                .lines()
                .find(|l| l.starts_with("package "))
                .unwrap_or_default();
            for (name, contract_text) in CONTRACT {
                if !contract_text.contains(declared) {
                    resolve.push_str(name, contract_text).ok()?;
                }
            }
            resolve.push_str("exported.wit", text).ok()?;
            resolve
        }
    };
    let package = resolve.push_str("world.wit", &world).ok()?;
    let world = resolve.select_world(&[package], Some("plugin")).ok()?;
    let mut module =
        wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .ok()?;
    wit_component::ComponentEncoder::default()
        .module(&module)
        .ok()?
        .validate(true)
        .encode()
        .ok()
}

/// The inspection: never a panic, whatever the bytes.
pub(crate) fn component(data: &[u8]) {
    static HOST: OnceLock<(tokio::runtime::Runtime, robodev_wasm::Runtime)> = OnceLock::new();
    let (rt, runtime) = HOST.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a tokio runtime: {e}"));
        let runtime = robodev_wasm::Runtime::new(robodev_wasm::RuntimeConfig::default())
            .unwrap_or_else(|e| panic!("a wasmtime engine: {e}"));
        (rt, runtime)
    });
    let bytes = if data.starts_with(b"\0asm") {
        data.to_vec()
    } else {
        match build(data) {
            Some(bytes) => bytes,
            None => return,
        }
    };
    let _ = rt.block_on(runtime.load_bytes("fuzz", bytes));
}

/// The generated component of `data` (for the seed corpus and tests).
#[doc(hidden)]
pub fn generated(data: &[u8]) -> Option<Vec<u8>> {
    build(data)
}
