//! Starting plugin processes so that none outlives robodev.
//!
//! Each child gets `PR_SET_PDEATHSIG = SIGKILL`, so the kernel kills it when robodev dies, even
//! by SIGKILL (go-plugin sets nothing and leaves orphans). The kernel ties that signal to the
//! *thread* that forked, not the process: a child forked from a thread that later exits (a tokio
//! blocking-pool thread, say) would be killed early. So every child is forked from one
//! dedicated spawner thread that lives as long as the process. Each child also leads its own
//! process group, so that stopping a plugin stops what it started too, and a terminal's Ctrl-C
//! reaches robodev (which then shuts plugins down in order) rather than the plugins directly.

use std::io;
use std::os::unix::process::ExitStatusExt;
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

/// Spawns `command` from the spawner thread with the parent-death signal set, inside the
/// current tokio runtime (which reaps the child).
pub async fn spawn(mut command: Command) -> io::Result<Child> {
    let runtime = tokio::runtime::Handle::current();
    let parent = std::process::id();
    set_parent_death_signal(&mut command, parent);
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _enter = runtime.enter();
        let _ = tx.send(command.spawn());
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

/// Sends SIGKILL to the plugin's whole process group.
pub fn kill_group(pid: u32) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(pid) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
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
