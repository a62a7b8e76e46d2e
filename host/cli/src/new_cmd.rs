//! `robodev plugin new NAME --type INTERFACE --lang LANG`: a plugin project that builds with
//! one command (`./build.sh`), has a README and recorded cases, and passes the conformance kit
//! untouched. The templates are in `host/cli/templates/`, compiled into the binary.

use std::path::{Path, PathBuf};

use clap::Args;
use robodev_core::Interface;

/// The languages `plugin new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Python 3.9+: a subprocess on robodev's Python SDK (pip), or a component built with
    /// componentize-py.
    Python,
    /// TypeScript on Node.js 18+: a subprocess on robodev's TypeScript SDK (npm), or a component
    /// built with ComponentizeJS.
    Typescript,
    /// Go 1.25+, robodev's Go SDK (Go modules).
    Go,
    /// Rust: a component on robodev's component SDK (`sdk/rust`), or a subprocess served by
    /// robodev-grpc.
    Rust,
}

impl Lang {
    fn label(self) -> &'static str {
        match self {
            Lang::Python => "Python",
            Lang::Typescript => "TypeScript",
            Lang::Go => "Go",
            Lang::Rust => "Rust",
        }
    }
}

/// Where the plugin runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PluginRuntime {
    /// A go-plugin gRPC subprocess.
    Subprocess,
    /// A sandboxed WebAssembly component.
    Wasm,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name: lower-case letters, digits and dashes (e.g. `acme-jira`).
    name: String,
    /// The interface it implements.
    #[arg(long = "type", value_name = "INTERFACE")]
    interface: Interface,
    /// Its language.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Where it runs [default: wasm for rust, subprocess for the others]. A component is
    /// built with the Rust SDK (sdk/rust), componentize-py or ComponentizeJS.
    #[arg(long, value_enum)]
    runtime: Option<PluginRuntime>,
    /// The directory to create [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// robodev's `sdk/` directory, which the project builds against [default: the one beside
    /// this robodev, when it runs from a robodev checkout].
    #[arg(long, value_name = "DIR", env = "ROBODEV_SDK")]
    sdk: Option<PathBuf>,
}

/// The combinations offered, for messages.
const OFFERED: &str = "--type ticketing or notifications with --runtime subprocess and --lang python, typescript, go or rust, or with --runtime wasm and --lang rust, python or typescript; and every --type (approval, secrets, scm, review, engine too) with --lang rust --runtime wasm";

fn template(
    lang: Lang,
    runtime: PluginRuntime,
    interface: Interface,
) -> Option<Vec<(&'static str, &'static str)>> {
    let cases = match interface {
        Interface::Ticketing => include_str!("../templates/cases.ticketing.yaml"),
        Interface::Notifications => include_str!("../templates/cases.notifications.yaml"),
        Interface::Approval => include_str!("../templates/cases.approval.yaml"),
        Interface::Secrets => include_str!("../templates/cases.secrets.yaml"),
        Interface::Scm => include_str!("../templates/cases.scm.yaml"),
        Interface::Review => include_str!("../templates/cases.review.yaml"),
        Interface::Engine => include_str!("../templates/cases.engine.yaml"),
    };
    if runtime == PluginRuntime::Wasm {
        return wasm_template(lang, interface, cases);
    }
    if !matches!(interface, Interface::Ticketing | Interface::Notifications) {
        return None;
    }
    let readme = include_str!("../templates/README.md");
    let mut files = vec![("README.md", readme), ("cases.yaml", cases)];
    match lang {
        Lang::Python => {
            files.push((
                "pyproject.toml",
                include_str!("../templates/python/pyproject.toml"),
            ));
            files.push(("build.sh", include_str!("../templates/python/build.sh")));
            files.push((
                "{{module}}/__main__.py",
                match interface {
                    Interface::Ticketing => include_str!("../templates/python/ticketing.py"),
                    _ => include_str!("../templates/python/notifications.py"),
                },
            ));
            files.push((
                "{{module}}/__init__.py",
                "\"\"\"{{name}}: see __main__.\"\"\"\n",
            ));
        }
        Lang::Typescript => {
            files.push((
                "package.json",
                include_str!("../templates/typescript/package.json"),
            ));
            files.push((
                "tsconfig.json",
                include_str!("../templates/typescript/tsconfig.json"),
            ));
            files.push(("build.sh", include_str!("../templates/typescript/build.sh")));
            files.push((
                "src/plugin.ts",
                match interface {
                    Interface::Ticketing => include_str!("../templates/typescript/ticketing.ts"),
                    _ => include_str!("../templates/typescript/notifications.ts"),
                },
            ));
            files.push((".gitignore", "node_modules/\ndist/\n.sdk/\n"));
        }
        Lang::Go => {
            files.push(("go.mod", include_str!("../templates/go/go.mod")));
            files.push(("build.sh", include_str!("../templates/go/build.sh")));
            files.push((
                "main.go",
                match interface {
                    Interface::Ticketing => include_str!("../templates/go/main.go.ticketing"),
                    _ => include_str!("../templates/go/main.go.notifications"),
                },
            ));
            files.push((".gitignore", "/{{name}}\n"));
        }
        Lang::Rust => {
            files.push(("Cargo.toml", include_str!("../templates/rust/Cargo.toml")));
            files.push(("build.sh", include_str!("../templates/rust/build.sh")));
            files.push((
                "src/main.rs",
                match interface {
                    Interface::Ticketing => include_str!("../templates/rust/main.rs.ticketing"),
                    _ => include_str!("../templates/rust/main.rs.notifications"),
                },
            ));
            files.push((".gitignore", "/target\n/{{name}}\n"));
        }
    }
    if lang == Lang::Python {
        files.push((".gitignore", ".venv/\n*.egg-info/\nbuild/\n"));
    }
    Some(files)
}

/// The WIT a component project builds against, laid out as componentize-py and ComponentizeJS
/// want it: the world's package in `wit/`, its dependencies in `wit/deps/<package>/`.
fn wit_files(interface: Interface) -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "wit/{{interface}}.wit",
            match interface {
                Interface::Ticketing => include_str!("../../../wit/ticketing/ticketing.wit"),
                _ => include_str!("../../../wit/notifications/notifications.wit"),
            },
        ),
        (
            "wit/deps/types/types.wit",
            include_str!("../../../wit/types/types.wit"),
        ),
        (
            "wit/deps/host/host.wit",
            include_str!("../../../wit/host/host.wit"),
        ),
    ]
}

fn wasm_template(
    lang: Lang,
    interface: Interface,
    cases: &'static str,
) -> Option<Vec<(&'static str, &'static str)>> {
    let ticketing = interface == Interface::Ticketing;
    let mut files = vec![
        ("README.md", include_str!("../templates/README.wasm.md")),
        ("cases.yaml", cases),
        (
            "plugin.yaml",
            include_str!("../templates/rust-wasm/plugin.yaml"),
        ),
    ];
    match lang {
        Lang::Rust => files.extend([
            (
                "Cargo.toml",
                include_str!("../templates/rust-wasm/Cargo.toml"),
            ),
            ("build.sh", include_str!("../templates/rust-wasm/build.sh")),
            (
                "src/lib.rs",
                match interface {
                    Interface::Ticketing => {
                        include_str!("../templates/rust-wasm/lib.rs.ticketing")
                    }
                    Interface::Notifications => {
                        include_str!("../templates/rust-wasm/lib.rs.notifications")
                    }
                    Interface::Approval => include_str!("../templates/rust-wasm/lib.rs.approval"),
                    Interface::Secrets => include_str!("../templates/rust-wasm/lib.rs.secrets"),
                    Interface::Scm => include_str!("../templates/rust-wasm/lib.rs.scm"),
                    Interface::Review => include_str!("../templates/rust-wasm/lib.rs.review"),
                    Interface::Engine => include_str!("../templates/rust-wasm/lib.rs.engine"),
                },
            ),
            (".gitignore", "/target\n/{{name}}.wasm\n"),
        ]),
        // Python and TypeScript components: ticketing and notifications so far.
        _ if !ticketing && interface != Interface::Notifications => return None,
        Lang::Python => {
            files.extend([
                (
                    "requirements.txt",
                    include_str!("../templates/python-wasm/requirements.txt"),
                ),
                (
                    "build.sh",
                    include_str!("../templates/python-wasm/build.sh"),
                ),
                (
                    "app.py",
                    if ticketing {
                        include_str!("../templates/python-wasm/app.py.ticketing")
                    } else {
                        include_str!("../templates/python-wasm/app.py.notifications")
                    },
                ),
                (".gitignore", ".venv/\n__pycache__/\n/{{name}}.wasm\n"),
            ]);
            files.extend(wit_files(interface));
        }
        Lang::Typescript => {
            files.extend([
                (
                    "package.json",
                    include_str!("../templates/typescript-wasm/package.json"),
                ),
                (
                    "tsconfig.json",
                    include_str!("../templates/typescript-wasm/tsconfig.json"),
                ),
                (
                    "build.sh",
                    include_str!("../templates/typescript-wasm/build.sh"),
                ),
                (
                    "src/plugin.ts",
                    if ticketing {
                        include_str!("../templates/typescript-wasm/plugin.ts.ticketing")
                    } else {
                        include_str!("../templates/typescript-wasm/plugin.ts.notifications")
                    },
                ),
                (
                    ".gitignore",
                    "node_modules/\ndist/\ntypes/\n/{{name}}.wasm\n",
                ),
            ]);
            files.extend(wit_files(interface));
        }
        Lang::Go => return None,
    }
    Some(files)
}

fn valid_name(name: &str) -> bool {
    name.len() <= 63
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// robodev's `sdk/`: `--sdk`, else the one of the checkout this robodev was built in.
fn find_sdk(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let has_sdks = |dir: &Path| {
        dir.join("python/pyproject.toml").is_file()
            && dir.join("typescript/package.json").is_file()
            && dir.join("go/go.mod").is_file()
            && dir.join("rust/Cargo.toml").is_file()
    };
    if let Some(dir) = given {
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        anyhow::ensure!(
            has_sdks(&dir),
            "--sdk {}: not robodev's sdk/ directory (it has no python/, typescript/, go/ and rust/ SDKs)",
            dir.display()
        );
        return Ok(dir);
    }
    let exe = std::env::current_exe()?;
    exe.ancestors()
        .map(|d| d.join("sdk"))
        .find(|d| has_sdks(d))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot find robodev's sdk/ directory beside {}: give it with --sdk DIR (or ROBODEV_SDK), e.g. --sdk ~/src/robodev/sdk",
                exe.display()
            )
        })
}

/// `robodev plugin new`.
pub fn run(args: NewArgs) -> anyhow::Result<PathBuf> {
    if !valid_name(&args.name) {
        anyhow::bail!(
            "{:?} is not a plugin name: use lower-case letters, digits and dashes, starting with a letter (e.g. acme-jira)",
            args.name
        );
    }
    let runtime = args.runtime.unwrap_or(if args.lang == Lang::Rust {
        PluginRuntime::Wasm
    } else {
        PluginRuntime::Subprocess
    });
    let Some(files) = template(args.lang, runtime, args.interface) else {
        let what = match runtime {
            PluginRuntime::Wasm if args.lang == Lang::Go => {
                "does not write WebAssembly component plugins in Go yet (they need TinyGo)"
                    .to_owned()
            }
            PluginRuntime::Wasm => format!(
                "has no {} component template in {} yet",
                args.interface,
                args.lang.label()
            ),
            PluginRuntime::Subprocess => {
                format!("has no {} subprocess template yet", args.interface)
            }
        };
        anyhow::bail!("robodev plugin new {what}; it offers {OFFERED}");
    };
    // Components in Python and TypeScript are built with the tools from PyPI and npm alone.
    let needs_sdk = runtime == PluginRuntime::Subprocess || args.lang == Lang::Rust;
    let sdk = if needs_sdk {
        find_sdk(args.sdk)?.display().to_string()
    } else {
        String::new()
    };
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        anyhow::bail!(
            "{} exists and is not empty: choose another --dir",
            dir.display()
        );
    }
    let module = args.name.replace('-', "_");
    let lang = args.lang.label();
    let (executable, command_path, source) = match (runtime, args.lang) {
        (PluginRuntime::Wasm, lang) => (
            format!("{}.wasm", args.name),
            format!("/path/to/{}/{}.wasm", args.name, args.name),
            match lang {
                Lang::Rust => "src/lib.rs",
                Lang::Python => "app.py",
                _ => "src/plugin.ts",
            }
            .to_owned(),
        ),
        (PluginRuntime::Subprocess, Lang::Python) => (
            format!(".venv/bin/{}", args.name),
            format!("/path/to/{}/.venv/bin/{}", args.name, args.name),
            format!("{module}/__main__.py"),
        ),
        (PluginRuntime::Subprocess, Lang::Typescript) => (
            "dist/plugin.js".to_owned(),
            format!("/path/to/{}/dist/plugin.js", args.name),
            "src/plugin.ts".to_owned(),
        ),
        (PluginRuntime::Subprocess, lang) => (
            format!("./{}", args.name),
            format!("/path/to/{}/{}", args.name, args.name),
            if lang == Lang::Rust {
                "src/main.rs"
            } else {
                "main.go"
            }
            .to_owned(),
        ),
    };
    let notes = match args.lang {
        Lang::Rust => {
            "The project builds against robodev's component SDK (`robodev-plugin`, from the path \
             in Cargo.toml: edit it to use another checkout). Its unit tests run natively \
             (`cargo test`, which build.sh runs first) against the SDK's stand-in host \
             (`robodev_plugin::testing`), which plays config, secrets, kv and log."
        }
        Lang::Python => {
            "`wit/` is the WIT the component is built against, laid out as componentize-py wants \
             it (the world's package, its dependencies in `wit/deps/`); `wit_world`, the \
             bindings, is generated from it at build time. The kit is this project's test."
        }
        _ => {
            "`wit/` is the WIT the component is built against, laid out as ComponentizeJS wants \
             it (the world's package, its dependencies in `wit/deps/`); build.sh generates the \
             TypeScript declarations of its modules into `types/` with `jco guest-types`. The \
             kit is this project's test."
        }
    };
    let world = format!(
        "robodev:{}/plugin@{}.0.0",
        args.interface.name(),
        args.interface.version()
    );
    // Where the subprocess project's build finds robodev's SDK.
    let sdk_note = match args.lang {
        Lang::Python | Lang::Typescript => format!(
            "`build.sh` takes robodev's SDK from `{sdk}` (set `ROBODEV_SDK` to use another checkout)."
        ),
        Lang::Go => format!(
            "`go.mod` takes robodev's Go SDK from `{sdk}/go` (a `replace` directive: edit it to use another checkout)."
        ),
        Lang::Rust => format!(
            "`Cargo.toml` takes robodev-grpc and robodev-core from `{sdk}/../host` (path dependencies: edit them to use another checkout)."
        ),
    };
    let name = &args.name;
    let selection = match args.interface {
        Interface::Ticketing => format!("ticketing: {{ backend: {name}, labels: [robodev] }}"),
        Interface::Notifications => {
            format!("notifications:\n  channels: [ {{ backend: {name} }} ]")
        }
        Interface::Engine => format!("engines: {{ default: {name} }}"),
        other => format!("{other}: {{ backend: {name} }}"),
    };
    // What the example reads from its config (plugin.yaml and the README's entry).
    let config = match args.interface {
        Interface::Secrets => "{ project: EX, secret.example: example-value }",
        _ => "{ project: EX }",
    };
    let fill = |text: &str| {
        text.replace("{{name}}", &args.name)
            .replace("{{module}}", &module)
            .replace("{{interface}}", args.interface.name())
            .replace("{{lang}}", lang)
            .replace("{{sdk}}", &sdk)
            .replace("{{executable}}", &executable)
            .replace("{{command_path}}", &command_path)
            .replace("{{source}}", &source)
            .replace("{{example_method}}", "handshake")
            .replace("{{notes}}", notes)
            .replace("{{world}}", &world)
            .replace("{{config}}", config)
            .replace(
                "{{interface_version}}",
                &args.interface.version().to_string(),
            )
            .replace("{{sdk_note}}", &sdk_note)
            .replace("{{selection}}", &selection)
    };
    for (path, text) in files {
        let path = dir.join(fill(path));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, fill(text))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        if path.file_name().is_some_and(|n| n == "build.sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    // A Rust project starts from the versions robodev is tested with (Cargo trims the rest).
    if args.lang == Lang::Rust {
        let lock = match runtime {
            PluginRuntime::Wasm => Path::new(&sdk).join("rust/Cargo.lock"),
            PluginRuntime::Subprocess => Path::new(&sdk).join("../Cargo.lock"),
        };
        if lock.is_file() {
            std::fs::copy(&lock, dir.join("Cargo.lock"))
                .map_err(|e| anyhow::anyhow!("cannot copy {}: {e}", lock.display()))?;
        }
    }
    Ok(dir)
}
