//! Starting plugin processes so that none outlives robodev.
//!
//! Each child gets `PR_SET_PDEATHSIG = SIGKILL`, so the kernel kills it when robodev dies, even
//! by SIGKILL (go-plugin sets nothing and leaves orphans). The kernel ties that signal to the
//! *thread* that forked, not the process: a child forked from a thread that later exits (a tokio
//! blocking-pool thread, say) would be killed early. So every child is forked from one
//! dedicated spawner thread that lives as long as the process. Each child also leads its own
//! process group, so that stopping a plugin stops what it started too, and a terminal's Ctrl-C
//! reaches robodev (which then shuts plugins down in order) rather than the plugins directly.
//!
//! The parent-death signal reaches only the direct child. A plugin started through a wrapper
//! script that does not `exec`, or one that starts helper processes, would leave those running
//! after robodev is SIGKILLed. So every child also gets a [`Watchdog`]: a tiny process forked
//! from robodev that holds the read end of a pipe whose only write end robodev keeps. When
//! robodev's end closes (the [`Watchdog`] value is dropped, or robodev dies in any way, SIGKILL
//! included) the watchdog SIGKILLs the child's whole process group and exits. A process that
//! leaves the group on purpose (`setsid`) escapes it; confining that takes a cgroup.
//!
//! Why hand-written: `tokio::process` and the process-group crates give a process group, but
//! not a parent-death signal set from a thread that outlives every child, nor a watchdog that
//! outlives robodev's own SIGKILL; both are a few `pre_exec` and `fork` steps specific to this.
//!
//! Plugins' private socket directories are named `robodev-plugin-<pid>-<start time>-*` after
//! the robodev process that made them ([`socket_dir_prefix`]), so that [`sweep_leftovers`] can
//! remove those whose robodev is gone (a SIGKILLed robodev cannot clean up).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use tokio::process::{Child, Command};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The spawner thread's queue.
fn spawner() -> io::Result<&'static Mutex<mpsc::Sender<Job>>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    if let Some(s) = SPAWNER.get() {
        return Ok(s);
    }
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("robodev-plugin-spawner".to_owned())
        .spawn(move || {
            for job in rx {
                job();
            }
        })?;
    // Another caller may have won the race; its thread serves, ours idles harmlessly.
    Ok(SPAWNER.get_or_init(|| Mutex::new(tx)))
}

/// Keeps a child's process group alive: dropping it (or robodev dying) makes the child's
/// watchdog SIGKILL the group. Keep it as long as the child should run; drop it once the child
/// has exited, so that whatever the child left behind in its group goes too.
#[derive(Debug)]
pub struct Watchdog {
    /// The write end of the watchdog's pipe; nothing is ever written.
    _pipe: OwnedFd,
}

/// Spawns `command` from the spawner thread with the parent-death signal set, in a process
/// group of its own, inside the current tokio runtime (which reaps the child), and starts its
/// [`Watchdog`].
pub async fn spawn(command: Command) -> io::Result<(Child, Watchdog)> {
    spawn_confined(command, None).await
}

/// [`spawn`], with the child confined by `sandbox` (after it has its process group).
pub(crate) async fn spawn_confined(
    mut command: Command,
    sandbox: Option<std::sync::Arc<crate::sandbox::Prepared>>,
) -> io::Result<(Child, Watchdog)> {
    let runtime = tokio::runtime::Handle::current();
    let parent = std::process::id();
    set_parent_death_signal(&mut command, parent);
    if let Some(sandbox) = sandbox {
        confine(&mut command, sandbox);
    }
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _enter = runtime.enter();
        let spawned = command.spawn().and_then(|mut child| {
            let Some(pid) = child.id() else {
                return Err(io::Error::other("the child exited at once"));
            };
            match start_watchdog(pid) {
                Ok(watchdog) => Ok((child, watchdog)),
                Err(e) => {
                    kill_group(pid);
                    let _ = child.start_kill();
                    Err(io::Error::other(format!(
                        "cannot start the watchdog of process {pid}: {e}"
                    )))
                }
            }
        });
        let _ = tx.send(spawned);
    });
    spawner()?
        .lock()
        .map_err(|_| io::Error::other("the plugin spawner thread is poisoned"))?
        .send(job)
        .map_err(|_| io::Error::other("the plugin spawner thread is gone"))?;
    rx.await
        .map_err(|_| io::Error::other("the plugin spawner thread dropped the request"))?
}

#[expect(
    unsafe_code,
    reason = "pre_exec is the only way to run prctl/setpgid between fork and exec; the closure \
              only makes async-signal-safe system calls and allocates nothing"
)]
fn set_parent_death_signal(command: &mut Command, parent: u32) {
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;
    // SAFETY: runs in the forked child before exec; prctl, getppid, setpgid and raise are
    // async-signal-safe and the closure touches no locks or heap.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            // The parent may have died between fork and prctl: then nobody would kill us.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                let _ = nix::sys::signal::raise(Signal::SIGKILL);
            }
            nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0)).map_err(io::Error::from)?;
            Ok(())
        });
    }
}

#[expect(
    unsafe_code,
    reason = "pre_exec is the only way to confine the child between fork and exec; \
              Prepared::enter makes only async-signal-safe system calls"
)]
fn confine(command: &mut Command, sandbox: std::sync::Arc<crate::sandbox::Prepared>) {
    // SAFETY: runs in the forked child before exec, once; see Prepared::enter.
    unsafe {
        command.pre_exec(move || sandbox.enter());
    }
}

/// Forks the watchdog of process group `pgid` (see the module docs). A double fork: the
/// intermediate process exits at once (reaped here), so the watchdog is adopted by init and
/// robodev never has to reap it.
#[expect(
    unsafe_code,
    reason = "fork without exec is the only way to get a watchdog that needs no helper binary; \
              the forked code makes only async-signal-safe system calls and allocates nothing"
)]
fn start_watchdog(pgid: u32) -> io::Result<Watchdog> {
    use nix::fcntl::OFlag;
    use nix::unistd::{ForkResult, fork, pipe2};
    let pgid = i32::try_from(pgid).map_err(|_| io::Error::other("process id out of range"))?;
    // CLOEXEC: no program robodev starts inherits the write end, or the watchdog would never
    // see it close.
    let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let keep = read_end.as_raw_fd();
    // SAFETY: the child runs only async-signal-safe calls (fork, setsid, close_range, close,
    // read, killpg, _exit) on values prepared before the fork, and never returns.
    match unsafe { fork() }.map_err(io::Error::from)? {
        ForkResult::Parent { child } => {
            drop(read_end);
            // The intermediate exits at once; reap it so it leaves no zombie.
            let _ = nix::sys::wait::waitpid(child, None);
            Ok(Watchdog { _pipe: write_end })
        }
        ForkResult::Child => {
            // SAFETY: as above.
            if let Ok(ForkResult::Child) = unsafe { fork() } {
                watch(keep, pgid);
            }
            // SAFETY: _exit is async-signal-safe and skips the parent's atexit handlers.
            unsafe { nix::libc::_exit(0) }
        }
    }
}

/// The watchdog's whole life: waits for end of file on `pipe`, then kills group `pgid`.
#[expect(
    unsafe_code,
    reason = "raw system calls in a forked child, where only async-signal-safe calls are allowed"
)]
fn watch(pipe: i32, pgid: i32) -> ! {
    use nix::libc;
    // SAFETY: plain system calls on integers; none allocates or takes a lock.
    unsafe {
        // Out of robodev's session: a terminal's Ctrl-C to robodev's group must not end the
        // watchdog before robodev has stopped its plugins.
        libc::setsid();
        // Hold nothing of robodev's (listening sockets, pipes, files) but the pipe.
        for (first, last) in [(0, pipe - 1), (pipe + 1, i32::MAX)] {
            if first <= last
                && libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32) != 0
            {
                // Kernels before 5.9: close what a process usually has open.
                for fd in first..last.min(65_536) {
                    libc::close(fd);
                }
            }
        }
        let mut byte = 0u8;
        loop {
            let n = libc::read(pipe, (&raw mut byte).cast(), 1);
            if n == 0 || (n < 0 && *libc::__errno_location() != libc::EINTR) {
                break;
            }
        }
        libc::killpg(pgid, libc::SIGKILL);
        libc::_exit(0)
    }
}

/// The prefix of the private socket directories this process makes for its plugins:
/// `robodev-plugin-<pid>-<start time>-` (the start time tells a reused pid apart).
pub fn socket_dir_prefix() -> String {
    let pid = std::process::id();
    format!(
        "robodev-plugin-{pid}-{}-",
        start_time(pid).unwrap_or_default()
    )
}

/// A process's start time (clock ticks since boot, `/proc/PID/stat` field 22).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name start at field 3.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(22 - 3)?
        .parse()
        .ok()
}

/// Removes the plugin socket directories in `dir` left by robodev processes that are gone
/// (named by [`socket_dir_prefix`], owned by this user); returns how many it removed. Others'
/// directories, live ones and anything else are left alone.
pub fn sweep_leftovers(dir: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    // Without /proc no owner can be told alive or dead: sweep nothing.
    if start_time(std::process::id()).is_none() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let me = nix::unistd::geteuid().as_raw();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix("robodev-plugin-"))
        else {
            continue;
        };
        let mut parts = rest.splitn(3, '-');
        let (Some(Ok(pid)), Some(Ok(started)), Some(_)) = (
            parts.next().map(str::parse::<u32>),
            parts.next().map(str::parse::<u64>),
            parts.next(),
        ) else {
            continue;
        };
        if start_time(pid) == Some(started) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me {
            continue;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => removed += 1,
            Err(e) => tracing::debug!("cannot remove {}: {e}", path.display()),
        }
    }
    removed
}

/// Sends SIGKILL to the plugin's whole process group.
pub fn kill_group(pid: u32) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(pid) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Sends SIGTERM to the plugin process (not its group: it decides what its children get).
pub fn terminate(pid: u32) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
}

/// "exited with code 3" / "was killed by signal 9 (SIGKILL)".
pub fn describe_exit(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        format!("exited with code {code}")
    } else if let Some(signal) = status.signal() {
        let name = nix::sys::signal::Signal::try_from(signal)
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        format!("was killed by signal {signal} ({name})")
    } else {
        format!("ended ({status})")
    }
}
