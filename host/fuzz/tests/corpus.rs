//! The short run of every fuzz target, in the test suite: each target's seed corpus
//! (`fuzz/corpus/TARGET/`) and regressions (`fuzz/regressions/TARGET/`), then a fixed number of
//! deterministic mutations of every seed (bit flips, interesting bytes, insertions, deletions,
//! duplications, truncations, splices with another seed). Not coverage-guided: the long,
//! coverage-guided runs are libFuzzer's (`scripts/fuzz`, recorded in FUZZING.md).
//!
//! `ROBODEV_FUZZ_MUTATIONS` sets the mutations per seed (default 1000). An input that makes a
//! target panic is written to `target/fuzz-failures/TARGET/` and the test fails naming it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on broken invariants"
)]

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files of `dir`, sorted by name (none when it does not exist).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_file())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn new(seed: &str, i: usize) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes().chain(i.to_le_bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u8] = b"\0\xff\x7f\x80\"'{}[]|:,\n\r\t\\ -=#&*!%@$0189";

/// One mutation of `input` (`other` is another seed, for splices).
fn mutate(input: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let at = rng.below(len);
                out[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                out[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let at = rng.below(len + 1);
                out.insert(at, INTERESTING[rng.below(INTERESTING.len())]);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                out.drain(at..at + n);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let copy: Vec<u8> = out[at..at + n].to_vec();
                let to = rng.below(len + 1);
                out.splice(to..to, copy);
            }
            5 if len > 0 => out.truncate(rng.below(len)),
            6 if !other.is_empty() => {
                let from = rng.below(other.len());
                let n = 1 + rng.below((other.len() - from).min(128));
                let to = rng.below(len + 1);
                out.splice(to..to, other[from..from + n].iter().copied());
            }
            _ => {
                let at = rng.below(len + 1);
                let byte = (rng.next() & 0xff) as u8;
                out.insert(at, byte);
            }
        }
    }
    out
}

/// Runs `target` on `input`; on a panic, saves the input and returns where.
fn check(target: &robodev_fuzz::Target, input: &[u8]) -> Result<(), String> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input))) {
        Ok(()) => Ok(()),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            let dir = repo().join("target/fuzz-failures").join(target.name);
            std::fs::create_dir_all(&dir).unwrap();
            let name = format!(
                "{:016x}",
                Rng::new(&String::from_utf8_lossy(input), 0).next()
            );
            std::fs::write(dir.join(&name), input).unwrap();
            Err(format!(
                "{}: panicked on {} ({message}); reproduce with `scripts/fuzz --replay {} {}` (keep it in fuzz/regressions/{}/ once fixed)",
                target.name,
                dir.join(&name).display(),
                target.name,
                dir.join(&name).display(),
                target.name
            ))
        }
    }
}

#[test]
fn every_target_survives_its_corpus_and_mutations_of_it() {
    let mutations: usize = std::env::var("ROBODEV_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for target in robodev_fuzz::TARGETS {
        let seeds = files(&repo().join("fuzz/corpus").join(target.name));
        assert!(
            !seeds.is_empty(),
            "fuzz/corpus/{} has no seeds: every target needs some",
            target.name
        );
        let regressions = files(&repo().join("fuzz/regressions").join(target.name));
        let mut runs = 0;
        for (_, input) in seeds.iter().chain(&regressions) {
            runs += 1;
            if let Err(e) = check(target, input) {
                failures.push(e);
            }
        }
        for (i, (name, seed)) in seeds.iter().enumerate() {
            let other = &seeds[(i + 1) % seeds.len()].1;
            let mutations = if target.heavy {
                mutations.min(robodev_fuzz::HEAVY_MUTATIONS)
            } else {
                mutations
            };
            for m in 0..mutations {
                let mut rng = Rng::new(name, m);
                let input = mutate(seed, other, &mut rng);
                runs += 1;
                if let Err(e) = check(target, &input) {
                    failures.push(e);
                    break;
                }
            }
        }
        summary.push(format!(
            "{}: {} seeds, {} regressions, {runs} inputs",
            target.name,
            seeds.len(),
            regressions.len()
        ));
    }
    eprintln!("{}", summary.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_target_has_a_cargo_fuzz_binary() {
    let manifest = std::fs::read_to_string(repo().join("fuzz/Cargo.toml")).unwrap();
    for target in robodev_fuzz::TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{}\"", target.name)),
            "fuzz/Cargo.toml has no [[bin]] for {}",
            target.name
        );
        let source = repo().join(format!("fuzz/fuzz_targets/{}.rs", target.name));
        assert!(source.is_file(), "{} is missing", source.display());
    }
}

/// The signature seeds are valid (signed with the key robodev-fuzz trusts, whose private half
/// was thrown away), so that mutations start from what passes, not only from what fails.
#[test]
fn the_signature_seeds_verify() {
    let keys =
        robodev_oci::TrustedKeys::from_pem(include_str!("../keys/fuzz-only.pub.pem")).unwrap();
    let policy = robodev_oci::BundlePolicy::new(keys.clone(), false);
    let dir = repo().join("fuzz/corpus/signature");
    let seed = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let s = seed("0-blob-signature");
    let (sig, blob) = s[1..].split_at(s[1..].iter().position(|b| *b == b'\n').unwrap());
    robodev_oci::signature::verify_blob(&blob[1..], std::str::from_utf8(sig).unwrap(), &keys)
        .unwrap();
    for name in ["1-dsse", "1-dsse-tlog"] {
        robodev_oci::bundle::verify_bundle(
            &seed(name)[1..],
            &format!("sha256:{}", "ab".repeat(32)),
            &keys,
            &policy,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for name in ["2-blob-bundle", "2-blob-bundle-tlog"] {
        let s = seed(name);
        let (bundle, blob) = s[1..].split_at(s[1..].iter().position(|b| *b == 0).unwrap());
        robodev_oci::bundle::verify_blob_bundle(bundle, &blob[1..], &keys, &policy)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// `scripts/fuzz --replay TARGET FILE`: runs one input (`ROBODEV_FUZZ_REPLAY=TARGET:FILE`) and
/// lets it panic with its backtrace; without the variable there is nothing to do.
#[test]
fn replay_one_input() {
    let Ok(spec) = std::env::var("ROBODEV_FUZZ_REPLAY") else {
        return;
    };
    let (target, file) = spec.split_once(':').expect("TARGET:FILE");
    let input = std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    robodev_fuzz::run(target, &input);
    eprintln!("{target}: {file} ran without a panic");
}

/// The `component` target's generator is not vacuous: random inputs make components, some of
/// which robodev accepts (the export and imports are the contract's) and some it refuses for
/// the reasons a plugin author's mistakes give (wrong version, wrong types, unknown imports),
/// so the fuzzer reaches every check behind the parsers.
#[test]
fn the_component_generator_makes_components_robodev_both_accepts_and_refuses() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let runtime = robodev_wasm::Runtime::new(robodev_wasm::RuntimeConfig::default()).unwrap();
    let (mut built, mut accepted) = (0, 0);
    let mut refusals = std::collections::BTreeSet::new();
    for i in 0..48 {
        let mut rng = Rng::new("generator", i);
        let mut input: Vec<u8> = (0..48).map(|_| rng.next() as u8).collect();
        input[0] = input[0].max(1);
        let Some(component) = robodev_fuzz::generated_component(&input) else {
            continue;
        };
        built += 1;
        match rt.block_on(runtime.load_bytes("gen", component)) {
            Ok(_) => accepted += 1,
            Err(e) => {
                refusals.insert(e.label());
            }
        }
    }
    assert!(built >= 40, "only {built} of 48 inputs made a component");
    assert!(
        accepted >= 5,
        "robodev accepted only {accepted} generated components"
    );
    assert!(
        refusals.contains("refused"),
        "no generated component was refused: {refusals:?}"
    );
}

/// Writes the components of the generator's seeds (`generated-*.bin`) as `raw-*.wasm` seeds:
/// `ROBODEV_FUZZ_WRITE_SEEDS=1 cargo test -p robodev-fuzz --test corpus -- --ignored`.
#[test]
#[ignore = "writes into fuzz/corpus/component; run by hand when the generator changes"]
fn write_generated_component_seeds() {
    let dir = repo().join("fuzz/corpus/component");
    for (name, input) in files(&dir) {
        if let Some(stem) = name
            .strip_prefix("generated-")
            .and_then(|n| n.strip_suffix(".bin"))
            && let Some(component) = robodev_fuzz::generated_component(&input)
        {
            std::fs::write(dir.join(format!("raw-{stem}.wasm")), component).unwrap();
        }
    }
}
