//! Confining subprocess plugins, on by default.
//!
//! A go-plugin host runs its plugins as itself: they inherit every variable of its environment,
//! can read and write whatever it can, signal it, and fork or allocate without bound. robodev
//! starts each subprocess plugin confined as far as an unprivileged Linux process can confine
//! another, with what the kernel offers ([`Features`], probed once and logged):
//!
//! - **Environment**: only `PATH`, a private `HOME` and `TMPDIR`, locale and `TZ`, the go-plugin
//!   variables, the plugin's `env:` and granted secrets (resolved by the caller), and the
//!   variables named in [`Sandbox::inherit_env`].
//! - **Filesystem** ([Landlock](https://docs.kernel.org/userspace-api/landlock.html)): read and
//!   execute the system's programs and libraries, a few files of `/etc`, `/proc` and `/sys`,
//!   the plugin binary's directory (and those of arguments that are files) and what
//!   [`Sandbox::read`] lists; read-write only the plugin's private directory (its
//!   `HOME` and `TMPDIR`, removed when it exits) and [`Sandbox::write`]. No grant may cover one
//!   of [`Sandbox::protected`] (robodev's state, caches, config). From Landlock ABI 6 the plugin
//!   also cannot signal processes outside its sandbox (robodev, other plugins) or reach their
//!   abstract unix sockets; at any ABI it cannot ptrace them or read their `/proc/PID/environ`.
//! - **Namespaces**, when unprivileged user namespaces are available: user, PID (the plugin is
//!   process 1 of its own, sees only its own processes in a fresh `/proc`), mount, and network
//!   (only loopback, down) unless [`Sandbox::network`] grants it.
//! - **Resources**: `RLIMIT_DATA` (memory), `RLIMIT_NOFILE`, `RLIMIT_CPU` when set, no core
//!   dumps, and a process/thread cap: the PID namespace's own `pid_max` (Linux 6.14+), else
//!   `RLIMIT_NPROC` inside the user namespace (not for root, whom the kernel exempts).
//! - **No new privileges**, and when the network is not granted a seccomp filter that refuses
//!   sockets other than unix ones and io_uring (which would bypass it): `EACCES`.
//!
//! What the machine cannot enforce is never skipped silently: it is a [`Confinement::gaps`]
//! entry, logged as a warning when the plugin starts and shown by `robodev plugins list`.
//!
//! The work splits in two: [`prepare`] runs in robodev (it allocates, opens paths, builds the
//! Landlock ruleset and the seccomp program) and [`Prepared::enter`] runs in the forked child
//! before `exec`, making only async-signal-safe system calls on what was prepared. With a PID
//! namespace the forked child forks once more: the first stays outside as the *keeper* (the
//! process robodev sees: it forwards termination signals, and exits as the plugin does), the
//! second is process 1 of the new namespace and execs the plugin.
//!
//! Why hand-written: the Landlock and seccomp crates build rulesets with allocation, which is
//! not allowed between `fork` and `exec` in a multi-threaded process, and none of them forks a
//! PID namespace's init from `pre_exec`; the kernel interfaces used here are a handful of
//! stable system calls.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use nix::libc;

/// Default memory cap of a plugin process (`RLIMIT_DATA`), MiB.
pub const DEFAULT_MEMORY_MB: u64 = 1024;
/// Default cap on open files (`RLIMIT_NOFILE`).
pub const DEFAULT_OPEN_FILES: u64 = 1024;
/// Default cap on the plugin's processes and threads together.
pub const DEFAULT_PROCESSES: u64 = 512;
/// The smallest process cap a PID namespace can enforce (the kernel's `pid_max` floor is 301).
pub const MIN_PROCESSES: u64 = 300;

/// How one subprocess plugin is confined (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// Whether to confine at all (`sandbox: false` runs it as go-plugin would: robodev's whole
    /// environment, no restrictions).
    pub enabled: bool,
    /// robodev's own environment variables passed through by name.
    pub inherit_env: Vec<String>,
    /// What the plugin may read and execute besides the system, the binary's directory and
    /// the directories of arguments that are files.
    pub read: Vec<PathBuf>,
    /// What the plugin may write besides its private directory.
    pub write: Vec<PathBuf>,
    /// Whether the plugin may open network sockets.
    pub network: bool,
    /// Memory cap, MiB (`None`: unlimited).
    pub memory_mb: Option<u64>,
    /// Open files cap (`None`: unlimited, i.e. robodev's own limit).
    pub open_files: Option<u64>,
    /// Processes and threads cap (`None`: unlimited).
    pub processes: Option<u64>,
    /// CPU time over the process's life (`None`: unlimited); at the limit the kernel kills it.
    pub cpu_time: Option<Duration>,
    /// robodev's own paths (state, caches, config) that no grant may contain or lie inside.
    pub protected: Vec<PathBuf>,
    /// Use no more of the kernel than this (`None`: all it offers): to run as on an older
    /// kernel or in a container that forbids namespaces, and see what that leaves.
    pub features: Option<Features>,
}

impl Default for Sandbox {
    /// Confined, no network, the default limits, nothing inherited.
    fn default() -> Self {
        Sandbox {
            enabled: true,
            inherit_env: Vec::new(),
            read: Vec::new(),
            write: Vec::new(),
            network: false,
            memory_mb: Some(DEFAULT_MEMORY_MB),
            open_files: Some(DEFAULT_OPEN_FILES),
            processes: Some(DEFAULT_PROCESSES),
            cpu_time: None,
            protected: Vec::new(),
            features: None,
        }
    }
}

impl Sandbox {
    /// No confinement at all (go-plugin's behaviour).
    pub fn disabled() -> Self {
        Sandbox {
            enabled: false,
            ..Sandbox::default()
        }
    }
}

/// What a started plugin was confined to, for `plugins list` and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confinement {
    /// Whether it runs in a sandbox at all.
    pub confined: bool,
    /// The Landlock ABI its filesystem rules use (`None`: no Landlock).
    pub landlock_abi: Option<u32>,
    /// The namespaces it runs in: `user`, `pid`, `mount`, `net`.
    pub namespaces: Vec<&'static str>,
    /// Whether it may use the network.
    pub network: bool,
    /// What it may read (and execute), besides the system's directories.
    pub read: Vec<PathBuf>,
    /// What it may write: its private directory first.
    pub write: Vec<PathBuf>,
    /// The names of the environment variables it was given.
    pub env: Vec<String>,
    /// Memory cap, MiB, as enforced.
    pub memory_mb: Option<u64>,
    /// Open files cap, as enforced.
    pub open_files: Option<u64>,
    /// Processes and threads cap, as enforced.
    pub processes: Option<u64>,
    /// CPU time cap, seconds, as enforced.
    pub cpu_seconds: Option<u64>,
    /// What was asked for but cannot be enforced on this machine, and why.
    pub gaps: Vec<String>,
}

impl Confinement {
    /// One line: `landlock v7, ns user+pid+mount+net, no network, mem 1024 MiB, files 1024,
    /// procs 512` (or `none`).
    pub fn summary(&self) -> String {
        if !self.confined {
            return "none (sandbox: false)".to_owned();
        }
        let mut parts = Vec::new();
        parts.push(match self.landlock_abi {
            Some(abi) => format!("landlock v{abi}"),
            None => "no landlock".to_owned(),
        });
        if !self.namespaces.is_empty() {
            parts.push(format!("ns {}", self.namespaces.join("+")));
        }
        parts.push(
            if self.network {
                "network"
            } else {
                "no network"
            }
            .to_owned(),
        );
        let limit = |name: &str, v: Option<u64>, unit: &str| match v {
            Some(v) => format!("{name} {v}{unit}"),
            None => format!("{name} unlimited"),
        };
        parts.push(limit("mem", self.memory_mb, " MiB"));
        parts.push(limit("files", self.open_files, ""));
        parts.push(limit("procs", self.processes, ""));
        if let Some(cpu) = self.cpu_seconds {
            parts.push(format!("cpu {cpu}s"));
        }
        if !self.gaps.is_empty() {
            parts.push(format!(
                "{} gap{}",
                self.gaps.len(),
                if self.gaps.len() == 1 { "" } else { "s" }
            ));
        }
        parts.join(", ")
    }
}

/// What the kernel offers, probed once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// The Landlock ABI version (0: none).
    pub landlock_abi: u32,
    /// Whether this process's children can create user (and PID, mount, network) namespaces.
    pub user_namespaces: bool,
    /// Whether a PID namespace has its own `pid_max` (Linux 6.14+).
    pub pid_max_per_namespace: bool,
}

impl Features {
    /// What both `self` and `other` offer.
    pub fn and(self, other: Features) -> Features {
        Features {
            landlock_abi: self.landlock_abi.min(other.landlock_abi),
            user_namespaces: self.user_namespaces && other.user_namespaces,
            pid_max_per_namespace: self.pid_max_per_namespace && other.pid_max_per_namespace,
        }
    }

    /// The features of this machine, probed the first time and logged.
    pub fn get() -> Features {
        static FEATURES: OnceLock<Features> = OnceLock::new();
        *FEATURES.get_or_init(|| {
            let features = Features {
                landlock_abi: landlock_abi(),
                user_namespaces: user_namespaces_work(),
                pid_max_per_namespace: kernel_at_least(6, 14),
            };
            tracing::info!(
                landlock_abi = features.landlock_abi,
                user_namespaces = features.user_namespaces,
                pid_max_per_namespace = features.pid_max_per_namespace,
                "subprocess plugin sandbox: {}",
                features.describe()
            );
            features
        })
    }

    fn describe(&self) -> String {
        format!(
            "{}; {}",
            match self.landlock_abi {
                0 => "no Landlock (filesystem rules cannot be enforced)".to_owned(),
                abi => format!("Landlock ABI {abi}"),
            },
            if self.user_namespaces {
                "user, PID, mount and network namespaces available"
            } else {
                "no unprivileged user namespaces"
            }
        )
    }
}

/// The environment of a confined plugin before its `env:`, secrets and the go-plugin
/// variables: robodev's `PATH`, locale (`LANG`, `LANGUAGE`, `LC_*`) and `TZ`, a private `HOME`
/// and `TMPDIR` under `private`, and the variables `inherit` names that robodev has.
pub(crate) fn base_env(private: &Path, inherit: &[String]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = vec![
        (
            "PATH".into(),
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        ),
        ("HOME".into(), private.join("home").into()),
        ("TMPDIR".into(), private.join("tmp").into()),
    ];
    env.extend(std::env::vars_os().filter(|(name, _)| {
        name.to_str()
            .is_some_and(|n| matches!(n, "LANG" | "LANGUAGE" | "TZ") || n.starts_with("LC_"))
    }));
    env.extend(
        inherit
            .iter()
            .filter_map(|name| std::env::var_os(name).map(|v| (name.into(), v))),
    );
    env
}

// Landlock (include/uapi/linux/landlock.h).
const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
const LANDLOCK_RULE_PATH_BENEATH: u32 = 1;
const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
const FS_REFER: u64 = 1 << 13;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;
/// The rights that apply to a file (not a directory).
const FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;
const READ_EXEC: u64 = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR;
const READ: u64 = FS_READ_FILE | FS_READ_DIR;
const DEVICE: u64 = FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The filesystem rights Landlock ABI `abi` knows.
fn handled_fs(abi: u32) -> u64 {
    let mut rights = (1u64 << 13) - 1;
    if abi >= 2 {
        rights |= FS_REFER;
    }
    if abi >= 3 {
        rights |= FS_TRUNCATE;
    }
    if abi >= 5 {
        rights |= FS_IOCTL_DEV;
    }
    rights
}

#[expect(
    unsafe_code,
    reason = "the Landlock version query is a raw system call"
)]
fn landlock_abi() -> u32 {
    // SAFETY: a null attribute with size 0 and the version flag only returns a number.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(abi).unwrap_or(0)
}

/// Whether a child can enter a user namespace with the others, as a plugin would (tried in a
/// forked child: container runtimes' seccomp profiles, sysctls and LSMs may forbid any step).
#[expect(
    unsafe_code,
    reason = "a forked child that only makes the namespace system calls and exits, to probe the kernel"
)]
fn user_namespaces_work() -> bool {
    let ns = Userns::identity(
        libc::CLONE_NEWUSER | libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWNET,
    );
    // SAFETY: the child makes only async-signal-safe system calls on `ns`, prepared before
    // the fork, and exits.
    match unsafe { libc::fork() } {
        0 => unsafe {
            let ok = enter_namespaces(&ns).is_ok();
            libc::_exit(if ok { 0 } else { 1 })
        },
        -1 => false,
        child => {
            let mut status = 0;
            // SAFETY: waits for the child forked above.
            let waited = unsafe { libc::waitpid(child, &mut status, 0) };
            waited == child && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
        }
    }
}

/// Whether the running kernel's release is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let Ok(uname) = nix::sys::utsname::uname() else {
        return false;
    };
    let release = uname.release().to_string_lossy().into_owned();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let (Some(Ok(a)), Some(Ok(b))) = (
        parts.next().map(str::parse::<u32>),
        parts.next().map(str::parse::<u32>),
    ) else {
        return false;
    };
    (a, b) >= (major, minor)
}

/// The system directories every plugin may read and execute.
const SYSTEM_READ_EXEC: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/nix/store",
];
/// What of `/etc` and the kernel's views a plugin may read: the loader's cache, TLS roots,
/// name resolution, time zone, users and groups, MIME types.
const SYSTEM_READ: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/crypto-policies",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/passwd",
    "/etc/group",
    "/etc/alternatives",
    "/etc/os-release",
    "/etc/mime.types",
    "/proc",
    "/sys",
];
/// Devices every plugin may read and write.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// A path rule of the ruleset.
struct Grant {
    path: PathBuf,
    rights: u64,
    /// Whether a missing path is an error (the operator's own grants) or skipped (the system
    /// list, which varies by distribution).
    required: bool,
}

/// What a plugin's launch needs from the sandbox: the child's steps and the record.
pub(crate) struct Prepared {
    ruleset: Option<OwnedFd>,
    /// Rights on the fresh `/proc` of the PID namespace, added in the child.
    proc_rights: u64,
    filter: Vec<libc::sock_filter>,
    rlimits: Vec<(libc::__rlimit_resource_t, u64)>,
    userns: Option<Userns>,
    /// What was applied, for display.
    pub(crate) confinement: Confinement,
}

struct Userns {
    flags: libc::c_int,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    /// `pid_max` of the PID namespace (processes + 1), when enforced that way.
    pid_max: Option<Vec<u8>>,
}

impl Userns {
    /// The namespaces of `flags`, mapping this process's user and group to themselves.
    fn identity(flags: libc::c_int) -> Userns {
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        Userns {
            flags,
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            pid_max: None,
        }
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("confinement", &self.confinement)
            .finish_non_exhaustive()
    }
}

/// Why a sandbox cannot be set up as configured.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SandboxError {
    /// A grant covers robodev's own state, or lies inside it.
    #[error(
        "the sandbox would let the plugin {access} {grant}, which {relation} robodev's {protected}; \
         move the plugin or robodev's directory apart"
    )]
    Protected {
        access: &'static str,
        grant: String,
        relation: &'static str,
        protected: String,
    },
    /// A path the operator granted does not exist or cannot be opened.
    #[error("sandbox.{key}: cannot open {path}: {source}")]
    Path {
        key: &'static str,
        path: String,
        source: io::Error,
    },
    /// The kernel refused to build the ruleset or the filter.
    #[error("cannot set up the sandbox: {0}")]
    Kernel(String),
}

/// Prepares the confinement of a plugin run from `binary` with `args`, whose private directory
/// is `private` (its `home` and `tmp` are created here).
pub(crate) fn prepare(
    sandbox: &Sandbox,
    binary: &Path,
    args: &[String],
    private: &Path,
    env_names: Vec<String>,
) -> Result<Prepared, SandboxError> {
    let features = match sandbox.features {
        Some(limit) => Features::get().and(limit),
        None => Features::get(),
    };
    for dir in ["home", "tmp"] {
        std::fs::create_dir_all(private.join(dir)).map_err(|source| SandboxError::Path {
            key: "write",
            path: private.join(dir).display().to_string(),
            source,
        })?;
    }
    let mut confinement = Confinement {
        confined: true,
        network: sandbox.network,
        env: env_names,
        ..Confinement::default()
    };

    // What the plugin may read: its own files and what the operator lists. A default that
    // would expose robodev's own files (a plugin kept beside robodev's config or state)
    // narrows to the file it came from.
    let mut read = Vec::new();
    for (dir, file) in default_reads(binary, args) {
        let grant =
            if check_protected(std::slice::from_ref(&dir), "read", &sandbox.protected).is_ok() {
                dir
            } else {
                tracing::info!(
                    "sandbox: {} holds robodev's own files, so the plugin may read only {} there",
                    dir.display(),
                    file.display()
                );
                file
            };
        if !read.contains(&grant) {
            read.push(grant);
        }
    }
    let defaults = read.len();
    read.extend(sandbox.read.iter().cloned());
    let mut write = vec![private.to_owned()];
    write.extend(sandbox.write.iter().cloned());
    check_protected(&read, "read", &sandbox.protected)?;
    check_protected(&write, "write to", &sandbox.protected)?;
    confinement.read = read.clone();
    confinement.write = write.clone();

    // Namespaces.
    let uid = nix::unistd::geteuid().as_raw();
    let mut userns = None;
    if features.user_namespaces {
        let mut flags = libc::CLONE_NEWUSER | libc::CLONE_NEWPID | libc::CLONE_NEWNS;
        confinement.namespaces = vec!["user", "pid", "mount"];
        if !sandbox.network {
            flags |= libc::CLONE_NEWNET;
            confinement.namespaces.push("net");
        }
        userns = Some(Userns::identity(flags));
    } else {
        confinement.gaps.push(
            "no PID, mount or network namespace: unprivileged user namespaces are not available"
                .to_owned(),
        );
    }

    // Limits.
    let mut rlimits: Vec<(libc::__rlimit_resource_t, u64)> = vec![(libc::RLIMIT_CORE, 0)];
    if let Some(mb) = sandbox.memory_mb {
        rlimits.push((libc::RLIMIT_DATA, mb.saturating_mul(1024 * 1024)));
        confinement.memory_mb = Some(mb);
    }
    if let Some(n) = sandbox.open_files {
        rlimits.push((libc::RLIMIT_NOFILE, n));
        confinement.open_files = Some(n);
    }
    if let Some(cpu) = sandbox.cpu_time {
        let seconds = cpu.as_secs().max(1);
        rlimits.push((libc::RLIMIT_CPU, seconds));
        confinement.cpu_seconds = Some(seconds);
    }
    if let Some(n) = sandbox.processes {
        match &mut userns {
            Some(ns) if features.pid_max_per_namespace => {
                let n = n.max(MIN_PROCESSES);
                ns.pid_max = Some(format!("{}\n", n + 1).into_bytes());
                confinement.processes = Some(n);
            }
            // Inside its own user namespace the plugin's processes are counted apart from
            // robodev's; the kernel exempts root from RLIMIT_NPROC, though.
            Some(_) if uid != 0 => {
                rlimits.push((libc::RLIMIT_NPROC, n));
                confinement.processes = Some(n);
            }
            _ => confinement.gaps.push(format!(
                "processes: the cap of {n} cannot be enforced here (it needs user namespaces and \
                 Linux 6.14+, or a non-root robodev)"
            )),
        }
    }

    // Landlock.
    let ruleset = if features.landlock_abi == 0 {
        confinement.gaps.push(
            "filesystem: this kernel has no Landlock, so the plugin can read and write whatever \
             robodev can"
                .to_owned(),
        );
        None
    } else {
        confinement.landlock_abi = Some(features.landlock_abi);
        let mut grants: Vec<Grant> = Vec::new();
        let mut add = |paths: &mut dyn Iterator<Item = PathBuf>, rights, required| {
            grants.extend(paths.map(|path| Grant {
                path,
                rights,
                required,
            }));
        };
        for (system, rights) in [
            (SYSTEM_READ_EXEC, READ_EXEC),
            (SYSTEM_READ, READ),
            (DEVICES, DEVICE),
        ] {
            add(&mut system.iter().map(PathBuf::from), rights, false);
        }
        add(&mut read[..defaults].iter().cloned(), READ_EXEC, false);
        add(&mut read[defaults..].iter().cloned(), READ_EXEC, true);
        add(&mut write.iter().cloned(), u64::MAX, true);
        Some(ruleset(features.landlock_abi, &grants, sandbox.network)?)
    };
    if features.landlock_abi > 0 && features.landlock_abi < 6 {
        confinement.gaps.push(format!(
            "signals: Landlock ABI {} cannot stop the plugin from signalling robodev{}",
            features.landlock_abi,
            if userns.is_some() {
                " (its PID namespace hides robodev's process id)"
            } else {
                ""
            }
        ));
    }
    if !sandbox.network && features.landlock_abi < 4 && userns.is_none() {
        confinement
            .gaps
            .push("network: only the seccomp filter refuses IP sockets".to_owned());
    }

    Ok(Prepared {
        ruleset,
        proc_rights: handled_fs(features.landlock_abi) & READ,
        filter: if sandbox.network {
            Vec::new()
        } else {
            network_filter()
        },
        rlimits,
        userns,
        confinement,
    })
}

/// The default read grants, each with the file it was derived from: the directory of the
/// binary and of arguments that name files (an interpreter's script), as named and resolved;
/// and when the binary is a `#!` script, its interpreter's installation (and for Node.js the
/// node_modules and package.json of the script's package).
fn default_reads(binary: &Path, args: &[String]) -> Vec<(PathBuf, PathBuf)> {
    let mut grants: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut add = |dir: &Path, file: &Path| {
        if !dir.as_os_str().is_empty()
            && dir != Path::new("/")
            && !grants.iter().any(|(d, _)| d == dir)
        {
            grants.push((dir.to_owned(), file.to_owned()));
        }
    };
    let mut files = vec![binary.to_owned()];
    files.extend(
        args.iter()
            .map(Path::new)
            .filter(|p| p.is_file())
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_owned())),
    );
    for file in &files {
        for named in [Some(file.clone()), std::fs::canonicalize(file).ok()]
            .into_iter()
            .flatten()
        {
            if let Some(dir) = named.parent() {
                add(dir, &named);
            }
        }
    }
    if let Some(interpreter) = interpreter(binary) {
        for prefix in installation(&interpreter) {
            add(&prefix, &interpreter);
        }
        // A Node.js script finds its packages in the node_modules of its package, which may
        // be above its own directory (`dist/plugin.js`), and reads its package.json.
        if interpreter
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("node"))
            && let Some(package) = binary
                .ancestors()
                .skip(1)
                .take(4)
                .find(|dir| dir.join("package.json").is_file())
        {
            add(&package.join("node_modules"), binary);
            add(&package.join("package.json"), binary);
        }
    }
    grants
}

/// The interpreter a `#!` script names (`#!/usr/bin/env NAME` looked up in `PATH`).
fn interpreter(script: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 512];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = String::from_utf8_lossy(line.split(|b| *b == b'\n').next()?).into_owned();
    let mut words = line.split_whitespace();
    let first = PathBuf::from(words.next()?);
    if first.file_name().is_some_and(|n| n == "env") {
        let name = words.find(|w| !w.starts_with('-'))?;
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    } else {
        Some(first)
    }
}

/// What an interpreter needs besides itself: its installation's prefix (`PREFIX/bin/python3`
/// -> `PREFIX`, which holds its standard library), as named and resolved, and for a Python
/// virtual environment the installation it was made from (`home` in its `pyvenv.cfg`).
fn installation(interpreter: &Path) -> Vec<PathBuf> {
    let prefix = |binary: &Path| {
        let dir = binary.parent()?;
        Some(if dir.file_name().is_some_and(|n| n == "bin") {
            dir.parent()?.to_owned()
        } else {
            dir.to_owned()
        })
    };
    let mut out = Vec::new();
    for named in [
        Some(interpreter.to_owned()),
        std::fs::canonicalize(interpreter).ok(),
    ]
    .into_iter()
    .flatten()
    {
        let Some(root) = prefix(&named) else { continue };
        if let Ok(cfg) = std::fs::read_to_string(root.join("pyvenv.cfg")) {
            let home = cfg.lines().find_map(|line| {
                let (key, value) = line.split_once('=')?;
                (key.trim() == "home").then(|| PathBuf::from(value.trim()))
            });
            if let Some(home) = home.and_then(|h| prefix(&h.join("python"))) {
                out.push(home);
            }
        }
        out.push(root);
    }
    out
}

/// Refuses a grant that contains one of robodev's protected paths or lies inside one.
fn check_protected(
    grants: &[PathBuf],
    access: &'static str,
    protected: &[PathBuf],
) -> Result<(), SandboxError> {
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let protected_real: Vec<PathBuf> = protected.iter().map(|p| real(p)).collect();
    for grant in grants {
        let g = real(grant);
        for (p, q) in protected.iter().zip(&protected_real) {
            let relation = if q.starts_with(&g) {
                "contains"
            } else if g.starts_with(q) {
                "lies inside"
            } else {
                continue;
            };
            return Err(SandboxError::Protected {
                access,
                grant: grant.display().to_string(),
                relation,
                protected: p.display().to_string(),
            });
        }
    }
    Ok(())
}

/// Builds the Landlock ruleset: `grants` (each masked to what the ABI and the file kind
/// allow), TCP refused unless `network`, and from ABI 6 signals and abstract unix sockets
/// scoped to the sandbox.
#[expect(
    unsafe_code,
    reason = "the Landlock system calls have no safe wrapper in nix"
)]
fn ruleset(abi: u32, grants: &[Grant], network: bool) -> Result<OwnedFd, SandboxError> {
    let handled = handled_fs(abi);
    let attr = RulesetAttr {
        handled_access_fs: handled,
        handled_access_net: if abi >= 4 && !network {
            NET_BIND_TCP | NET_CONNECT_TCP
        } else {
            0
        },
        scoped: if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        },
    };
    let size = match abi {
        1..=3 => 8usize,
        4 | 5 => 16,
        _ => std::mem::size_of::<RulesetAttr>(),
    };
    // SAFETY: `attr` is a valid landlock_ruleset_attr of at least `size` bytes.
    let fd = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, &attr, size, 0u32) };
    if fd < 0 {
        return Err(SandboxError::Kernel(format!(
            "landlock_create_ruleset: {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    for grant in grants {
        let file = match std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(&grant.path)
        {
            Ok(file) => file,
            Err(_) if !grant.required => continue,
            Err(source) => {
                return Err(SandboxError::Path {
                    key: if grant.rights == u64::MAX {
                        "write"
                    } else {
                        "read"
                    },
                    path: grant.path.display().to_string(),
                    source,
                });
            }
        };
        let is_dir = file.metadata().is_ok_and(|m| m.is_dir());
        let mut rights = grant.rights & handled;
        if !is_dir {
            rights &= FILE_RIGHTS;
        }
        if rights == 0 {
            continue;
        }
        let beneath = PathBeneathAttr {
            allowed_access: rights,
            parent_fd: file.as_raw_fd(),
        };
        // SAFETY: a valid rule for the ruleset created above; both descriptors are open.
        let added = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset.as_raw_fd(),
                LANDLOCK_RULE_PATH_BENEATH,
                &beneath,
                0u32,
            )
        };
        if added != 0 {
            return Err(SandboxError::Kernel(format!(
                "landlock_add_rule for {}: {}",
                grant.path.display(),
                io::Error::last_os_error()
            )));
        }
    }
    Ok(ruleset)
}

/// The seccomp program of a plugin without network: `socket()` of any family but `AF_UNIX`
/// and `io_uring_setup` fail with `EACCES`, as does any system call of a foreign architecture
/// (a 32-bit entry point would bypass the rest).
fn network_filter() -> Vec<libc::sock_filter> {
    #[cfg(target_arch = "x86_64")]
    const ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    const ALLOW: u32 = 0x7fff_0000;
    const DENY: u32 = 0x0005_0000 | libc::EACCES as u32;
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code, k, jt, jf| libc::sock_filter { code, jt, jf, k };
    vec![
        stmt(LD_W_ABS, 4), // arch
        jump(JEQ_K, ARCH, 1, 0),
        stmt(RET_K, DENY),
        stmt(LD_W_ABS, 0), // syscall number
        // x32 system calls (x86_64 numbers with bit 30 set) are another entry point.
        jump(JGE_K, 0x4000_0000, 0, 1),
        stmt(RET_K, DENY),
        jump(JEQ_K, libc::SYS_io_uring_setup as u32, 0, 1),
        stmt(RET_K, DENY),
        jump(JEQ_K, libc::SYS_socket as u32, 0, 3),
        stmt(LD_W_ABS, 16), // args[0], low half: the address family
        jump(JEQ_K, libc::AF_UNIX as u32, 1, 0),
        stmt(RET_K, DENY),
        stmt(RET_K, ALLOW),
    ]
}

/// The process id of process 1 of the plugin's PID namespace, in the keeper.
static KEPT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The keeper's handler: passes the signal on to the plugin.
#[expect(unsafe_code, reason = "kill from a signal handler")]
extern "C" fn forward(signal: libc::c_int) {
    let pid = KEPT.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

impl Prepared {
    /// Confines the calling process: runs in the forked child before `exec`.
    ///
    /// # Safety
    /// Call only between `fork` and `exec`, once. Makes only async-signal-safe system calls
    /// and allocates nothing; with a PID namespace it forks, and only process 1 of the new
    /// namespace returns.
    #[expect(
        unsafe_code,
        reason = "system calls between fork and exec, where only async-signal-safe calls are allowed"
    )]
    pub(crate) unsafe fn enter(&self) -> io::Result<()> {
        let check = |r: libc::c_long| {
            if r < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        // SAFETY (whole body): plain system calls on values prepared before the fork.
        unsafe {
            for &(resource, value) in &self.rlimits {
                let limit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                check(libc::setrlimit(resource, &limit) as libc::c_long)?;
            }
            let mut fresh_proc = false;
            if let Some(ns) = &self.userns {
                enter_namespaces(ns)?;
                // The plugin's process (2 in the new PID namespace) from here on.
                fresh_proc = keep(ns)?;
            }
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as libc::c_long)?;
            if let Some(ruleset) = &self.ruleset {
                if fresh_proc && self.proc_rights != 0 {
                    let proc = libc::open(c"/proc".as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
                    if proc >= 0 {
                        let beneath = PathBeneathAttr {
                            allowed_access: self.proc_rights,
                            parent_fd: proc,
                        };
                        libc::syscall(
                            libc::SYS_landlock_add_rule,
                            ruleset.as_raw_fd(),
                            LANDLOCK_RULE_PATH_BENEATH,
                            &beneath,
                            0u32,
                        );
                        libc::close(proc);
                    }
                }
                check(libc::syscall(
                    libc::SYS_landlock_restrict_self,
                    ruleset.as_raw_fd(),
                    0u32,
                ))?;
            }
            if !self.filter.is_empty() {
                let program = libc::sock_fprog {
                    len: self.filter.len() as u16,
                    filter: self.filter.as_ptr().cast_mut(),
                };
                check(libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &program as *const libc::sock_fprog,
                    0,
                    0,
                ) as libc::c_long)?;
            }
        }
        Ok(())
    }
}

/// Unshares the namespaces of `ns`, maps the user and group, and makes the mount namespace's
/// mounts private (nothing mounted in it reaches robodev's).
#[expect(unsafe_code, reason = "system calls between fork and exec")]
unsafe fn enter_namespaces(ns: &Userns) -> io::Result<()> {
    // SAFETY: async-signal-safe calls on values prepared before the fork.
    unsafe {
        if libc::unshare(ns.flags) != 0 {
            return Err(io::Error::last_os_error());
        }
        write_file(c"/proc/self/setgroups", b"deny")?;
        write_file(c"/proc/self/uid_map", &ns.uid_map)?;
        write_file(c"/proc/self/gid_map", &ns.gid_map)?;
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` (one write, as the kernel's id map files require).
#[expect(unsafe_code, reason = "open/write/close between fork and exec")]
unsafe fn write_file(path: &std::ffi::CStr, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: async-signal-safe calls on a valid C string and buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let error = io::Error::last_os_error();
        libc::close(fd);
        if n != bytes.len() as isize {
            return Err(error);
        }
    }
    Ok(())
}

/// A line on the plugin's stderr (robodev logs it as the plugin's).
#[expect(unsafe_code, reason = "write between fork and exec")]
fn say(line: &[u8]) {
    // SAFETY: write is async-signal-safe.
    unsafe {
        libc::write(2, line.as_ptr().cast(), line.len());
    }
}

/// Forks process 1 of the new PID namespace (its *init*), which mounts a fresh `/proc`, sets
/// the namespace's `pid_max`, and forks the plugin's process, which returns (whether `/proc`
/// is fresh). This process becomes the keeper: robodev's child, outside the namespace. Keeper
/// and init hold nothing of robodev's, pass termination signals on, reap, and exit as the
/// plugin does (init tells the keeper how, through a pipe: a namespace's init cannot kill
/// itself with a signal).
#[expect(
    unsafe_code,
    reason = "fork, sigaction and waitpid between fork and exec"
)]
unsafe fn keep(ns: &Userns) -> io::Result<bool> {
    // SAFETY (whole body): async-signal-safe calls; keeper and init never return.
    unsafe {
        let mut pipe = [0; 2];
        if libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        let [status_in, status_out] = pipe;
        let init = libc::fork();
        if init < 0 {
            return Err(io::Error::last_os_error());
        }
        if init > 0 {
            libc::close(status_out);
            let status = wait_for(init, status_in, true);
            exit_as(status)
        }
        // Init: process 1 of the new namespace.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        libc::close(status_in);
        let fresh_proc = libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        ) == 0;
        if !fresh_proc {
            say(b"robodev sandbox: cannot mount a fresh /proc (the host's stays visible)\n");
        }
        if let Some(pid_max) = &ns.pid_max
            && write_file(c"/proc/sys/kernel/pid_max", pid_max).is_err()
        {
            say(b"robodev sandbox: cannot set the process cap (pid_max)\n");
        }
        let plugin = libc::fork();
        if plugin < 0 {
            say(b"robodev sandbox: cannot fork the plugin's process\n");
            libc::_exit(127);
        }
        if plugin == 0 {
            libc::close(status_out);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            return Ok(fresh_proc);
        }
        let status = wait_for(plugin, status_out, false);
        let bytes = status.to_ne_bytes();
        libc::write(status_out, bytes.as_ptr().cast(), bytes.len());
        // Whatever the plugin left running in the namespace dies with its init.
        libc::_exit(0)
    }
}

/// The keeper's and init's life: forward termination signals to `child`, close everything of
/// robodev's but `keep`, reap, and return `child`'s wait status (or, when `report`, the one
/// read from `keep`: init's report of the plugin's).
#[expect(
    unsafe_code,
    reason = "sigaction, close_range, read and waitpid between fork and exec"
)]
unsafe fn wait_for(child: libc::pid_t, keep: libc::c_int, report: bool) -> libc::c_int {
    // SAFETY (whole body): async-signal-safe calls on integers and stack memory.
    unsafe {
        // Not readable or traceable by the plugin, which runs as the same user.
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        KEPT.store(child, std::sync::atomic::Ordering::Relaxed);
        for signal in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ] {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
        // Nothing of robodev's stays open: not its files, and not the pipes whose end of file
        // tells robodev that the plugin's output is over.
        for (first, last) in [(0, keep - 1), (keep + 1, i32::MAX)] {
            if first <= last
                && libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32) != 0
            {
                for fd in first..last.min(65_536) {
                    libc::close(fd);
                }
            }
        }
        let mut reported = None;
        if report {
            let mut bytes = [0u8; 4];
            let mut read = 0;
            while read < 4 {
                let n = libc::read(keep, bytes[read..].as_mut_ptr().cast(), 4 - read);
                if n > 0 {
                    read += n as usize;
                } else if n == 0 || *libc::__errno_location() != libc::EINTR {
                    break;
                }
            }
            if read == 4 {
                reported = Some(libc::c_int::from_ne_bytes(bytes));
            }
        }
        let mut status = 0;
        loop {
            // Init reaps every orphan of the namespace; the keeper has only init.
            let waited = libc::waitpid(-1, &mut status, 0);
            if waited == child {
                break;
            }
            if waited < 0 && *libc::__errno_location() != libc::EINTR {
                status = 127 << 8;
                break;
            }
        }
        reported.unwrap_or(status)
    }
}

/// Ends this process the way wait status `status` says its child ended.
#[expect(
    unsafe_code,
    reason = "signal, sigprocmask, kill and _exit between fork and exec"
)]
unsafe fn exit_as(status: libc::c_int) -> ! {
    // SAFETY (whole body): async-signal-safe calls.
    unsafe {
        if libc::WIFSIGNALED(status) {
            let signal = libc::WTERMSIG(status);
            libc::signal(signal, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), signal);
            libc::_exit(128 + signal)
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_containing_or_inside_robodev_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(state.join("kv")).unwrap();
        let protected = vec![state.clone()];
        let err = check_protected(&[dir.path().to_owned()], "read", &protected).unwrap_err();
        assert!(err.to_string().contains("contains robodev's"), "{err}");
        let err = check_protected(&[state.join("kv")], "write to", &protected).unwrap_err();
        assert!(err.to_string().contains("lies inside robodev's"), "{err}");
        check_protected(&[dir.path().join("plugins")], "read", &protected).unwrap();
    }

    #[test]
    fn the_default_reads_are_the_binary_and_script_directories() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("lib/plugin.py");
        std::fs::create_dir_all(script.parent().unwrap()).unwrap();
        std::fs::write(&script, "").unwrap();
        let reads: Vec<PathBuf> = default_reads(
            Path::new("/usr/bin/python3"),
            &[script.display().to_string(), "--flag".into()],
        )
        .into_iter()
        .map(|(dir, _)| dir)
        .collect();
        assert!(reads.contains(&PathBuf::from("/usr/bin")), "{reads:?}");
        assert!(reads.contains(&dir.path().join("lib")), "{reads:?}");
        assert!(!reads.iter().any(|r| r.ends_with("--flag")), "{reads:?}");
    }

    #[test]
    fn a_script_s_interpreter_installation_and_node_package_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A venv made from an installation elsewhere, and a console script in it.
        std::fs::create_dir_all(d.join("base/bin")).unwrap();
        std::fs::create_dir_all(d.join("venv/bin")).unwrap();
        std::fs::write(
            d.join("venv/pyvenv.cfg"),
            format!(
                "home = {}\nversion = 3.11.7\n",
                d.join("base/bin").display()
            ),
        )
        .unwrap();
        std::fs::write(d.join("venv/bin/python"), "").unwrap();
        let console = d.join("venv/bin/tool");
        std::fs::write(
            &console,
            format!("#!{}\nimport tool\n", d.join("venv/bin/python").display()),
        )
        .unwrap();
        let reads: Vec<PathBuf> = default_reads(&console, &[])
            .into_iter()
            .map(|(g, _)| g)
            .collect();
        assert!(reads.contains(&d.join("venv")), "{reads:?}");
        assert!(reads.contains(&d.join("base")), "{reads:?}");

        // A Node.js script in dist/ of its package.
        std::fs::create_dir_all(d.join("pkg/dist")).unwrap();
        std::fs::write(d.join("pkg/package.json"), "{}").unwrap();
        let script = d.join("pkg/dist/plugin.js");
        std::fs::write(&script, "#!/usr/bin/env node\n").unwrap();
        let reads: Vec<PathBuf> = default_reads(&script, &[])
            .into_iter()
            .map(|(g, _)| g)
            .collect();
        if interpreter(&script).is_some() {
            assert!(reads.contains(&d.join("pkg/node_modules")), "{reads:?}");
            assert!(reads.contains(&d.join("pkg/package.json")), "{reads:?}");
            assert!(!reads.contains(&d.join("pkg")), "{reads:?}");
        }
        // Not a script: nothing beyond its directory.
        let reads = default_reads(&d.join("pkg/package.json"), &[]);
        assert_eq!(reads.len(), 1, "{reads:?}");
    }

    #[test]
    fn the_summary_names_what_applies() {
        let c = Confinement {
            confined: true,
            landlock_abi: Some(7),
            namespaces: vec!["user", "pid", "mount", "net"],
            memory_mb: Some(1024),
            open_files: Some(1024),
            processes: Some(512),
            ..Confinement::default()
        };
        assert_eq!(
            c.summary(),
            "landlock v7, ns user+pid+mount+net, no network, mem 1024 MiB, files 1024, procs 512"
        );
        assert_eq!(Confinement::default().summary(), "none (sandbox: false)");
    }
}
