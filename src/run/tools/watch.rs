//! The tool watcher: a small process of its own (the `flowc` binary started
//! again with [`ARG`]) that kills the process group of every exec tool still
//! running when flowc dies, even by `kill -9`.
//!
//! The parent-death signal (see `exec.rs`) reaches only a tool's own process;
//! the children it started would live on. Each tool's group is told to the
//! watcher over a socket — by the tool itself, between fork and exec, so that
//! no group is missed however close to the tool's start flowc dies — and
//! forgotten by flowc once the call has killed it. The watcher reads the socket
//! until its end, which comes when flowc's process is gone (its copy is the
//! last), then kills the groups it still knows and exits.
//!
//! Only the binary starts a watcher ([`enable`]); without one (the library in
//! another program, or a watcher that cannot start) a tool's own process still
//! dies with flowc, not its children.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SigSet, Signal, killpg};
use nix::unistd::Pid;

/// The first argument that makes the binary a watcher.
pub const ARG: &str = "__watch-tools";

static ENABLED: AtomicBool = AtomicBool::new(false);
static WATCHER: OnceLock<Option<UnixStream>> = OnceLock::new();

/// Lets exec tools start a watcher (once, at the first tool): for the
/// `flowc` binary, which is what the watcher runs.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// The socket to the watcher, started at the first call; `None` when
/// watching is not enabled or the watcher cannot start.
pub fn socket() -> Option<&'static UnixStream> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    WATCHER.get_or_init(start).as_ref()
}

/// Starts the watcher: this process's own program (even if its file has been
/// replaced since), its stdin the other end of the socket, in a process group
/// of its own so that a Ctrl-C meant for flowc does not reach it.
fn start() -> Option<UnixStream> {
    let (ours, theirs) = UnixStream::pair().ok()?;
    Command::new("/proc/self/exe")
        .arg(ARG)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    // The child is not waited for: it ends with this process.
    Some(ours)
}

/// Tells the watcher that `pgid` has been killed: not to be killed again
/// (its number may be reused).
pub fn forget(pgid: i32) {
    if let Some(mut s) = socket() {
        // A watcher that is gone has nothing to forget.
        let _ = s.write_all(&(-pgid).to_le_bytes());
    }
}

/// When a process started (clock ticks since boot, field 22 of its stat);
/// `None` when it is gone.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The watcher's body: reads groups (`+pgid`, `-pgid`, 4 bytes each) until
/// the socket's end, then kills the groups still recorded. A group is killed
/// unless its number now belongs to another leader (one started at another
/// time); a group whose leader is gone may still hold the tool's children.
pub fn serve() -> u8 {
    // Signals meant for a terminal's processes do not end the watcher early:
    // flowc's end does.
    let mut blocked = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        blocked.add(s);
    }
    let _ = blocked.thread_block();
    let mut groups: HashMap<i32, u64> = HashMap::new();
    let mut stdin = std::io::stdin().lock();
    let mut rec = [0u8; 4];
    while stdin.read_exact(&mut rec).is_ok() {
        match i32::from_le_bytes(rec) {
            p if p > 0 => {
                // Read now, while the tool's process is there (or a zombie):
                // one already gone was a program that could not start.
                if let Some(t) = start_time(p) {
                    groups.insert(p, t);
                }
            }
            p if p < 0 => {
                groups.remove(&-p);
            }
            _ => {}
        }
    }
    for (pgid, started) in groups {
        let now = start_time(pgid);
        if now.is_none() || now == Some(started) {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::start_time;

    #[test]
    fn a_live_process_has_a_start_time_and_a_gone_one_none() {
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        assert_eq!(start_time(me), start_time(me));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("true runs");
        let pid = child.id() as i32;
        child.wait().expect("reaped");
        assert_eq!(start_time(pid), None);
    }
}
