//! `exec` tools: a child process per call. argv only (never a shell), the
//! arguments as one JSON object on stdin, one JSON value on stdout. The child
//! leads its own process group. The call ends at the child's exit (its pipes
//! read for a short grace after it, never past the attempt's timeout), and
//! the whole group is killed then, or when the call is dropped (timeout,
//! cancellation).

use std::path::Path;
use std::process::Stdio;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::{
    Limits, STDERR_TAIL, ToolFailure, ToolResult, head, read_capped_into, read_tail_into, tail,
};

/// Why `output` has no text.
pub enum Failure {
    Failed(ToolFailure),
    /// Stdout passed the limit; the process group has been killed.
    TooLarge,
}

impl From<ToolFailure> for Failure {
    fn from(f: ToolFailure) -> Failure {
        Failure::Failed(f)
    }
}

/// How long a tool's stdout and stderr are still read once its program has
/// exited: what it wrote is in the pipes already; a child it left in the
/// background that holds them is not waited for.
pub const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

/// Kills the process group when dropped: at the end of every call, when it
/// is dropped (a timeout, a cancellation) or when its output is too large.
pub(super) struct GroupGuard {
    pub(super) pgid: Option<i32>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            super::watch::forget(pgid);
        }
    }
}

/// On Linux, the tool's process is killed (SIGKILL) when flowc dies, even by
/// `kill -9`, which leaves no chance to kill its process group; the kernel
/// does not pass this on to the tool's own children, so the tool first tells
/// the watcher (`watch.rs`) its group, which the watcher kills when flowc is
/// gone. Both happen before exec: a tool started just before flowc dies is
/// covered too.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(super) fn die_with_flowc(cmd: &mut tokio::process::Command) {
    let parent = nix::unistd::getpid();
    let watcher = super::watch::socket();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed. It makes only system calls, through
    // nix's thin wrappers (getpid, write, signal, prctl, getppid), on
    // integers and a byte array on its stack, and builds its error from an
    // errno: no allocation, no lock, no memory shared with the parent's other
    // threads (`parent` is a copied integer; `watcher` a reference to a
    // socket the parent never closes, used only for its descriptor). SIGPIPE
    // is ignored around the write (a watcher that is gone must not kill the
    // tool) and put back to its default, which a child starts with.
    //
    // The parent-death signal is tied to the thread that spawns: the thread
    // running the interpreter's runtime (`flowc run`, `flowc test`, the REPL,
    // a worker's runtime, the interpreter thread of a worker's run), which
    // outlives every call it makes; a call never spawns on a pool thread that
    // could end while the tool runs.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(w) = watcher {
                let me = nix::unistd::getpid().as_raw().to_le_bytes();
                let _ =
                    nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn);
                let _ = nix::unistd::write(w, &me);
                let _ =
                    nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl);
            }
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The parent died before the prctl took effect: no signal will come.
            if nix::unistd::getppid() != parent {
                return Err(nix::errno::Errno::ESRCH.into());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn die_with_flowc(_cmd: &mut tokio::process::Command) {}

/// Runs `argv` in `cwd` with `input` on stdin; parses the one JSON value it prints
/// (at most `max_output` bytes of it).
/// `key`: the call's idempotency key, given in env `FLOWC_IDEMPOTENCY_KEY`.
pub async fn call(
    argv: &[String],
    cwd: &Path,
    input: &Value,
    limits: Limits,
    key: Option<&str>,
) -> ToolResult {
    let prog = argv.first().map_or("", String::as_str);
    let max_output = limits.max_output;
    let text = match output_with(argv, cwd, input, limits, key).await {
        Ok(t) => t,
        Err(Failure::Failed(f)) => return Err(f),
        Err(Failure::TooLarge) => {
            return Err(super::too_large(
                &format!("the output of `{prog}`"),
                max_output,
            ));
        }
    };
    if text.trim().is_empty() {
        return Err(ToolFailure::new(format!("`{prog}` printed nothing"))
            .with_help("an exec tool prints one JSON value on stdout"));
    }
    serde_json::from_str(text.trim()).map_err(|e| {
        ToolFailure::new(format!(
            "`{prog}` did not print one JSON value ({e}): {}",
            head(&text, 200)
        ))
        .with_help("an exec tool prints exactly one JSON value on stdout; write logs to stderr")
    })
}

/// Why `prog` (`program` once resolved) could not be started. A missing
/// program, one that is not executable or not a program at all fails every
/// attempt alike: such a failure is permanent, and says what to do.
fn start_failure(prog: &str, program: &str, cwd: &Path, e: &std::io::Error) -> ToolFailure {
    use nix::errno::Errno;
    let dir = cwd.display();
    let errno = e.raw_os_error().map(Errno::from_raw);
    let (what, todo) = match errno {
        Some(Errno::ENOENT | Errno::ENOTDIR) if !cwd.as_os_str().is_empty() && !cwd.is_dir() => (
            format!("its folder `{dir}` does not exist"),
            "tools run in the folder of the .flow file that declares them".to_string(),
        ),
        Some(Errno::ENOENT | Errno::ENOTDIR) if prog.starts_with('/') => {
            (format!("there is no `{prog}`"), "fix the path".to_string())
        }
        Some(Errno::ENOENT | Errno::ENOTDIR) if prog.contains('/') => (
            format!("there is no `{prog}` in `{dir}`, the flow's folder"),
            "fix the path (a relative path is from the flow's folder)".to_string(),
        ),
        Some(Errno::ENOENT) => (
            "it is not on PATH".to_string(),
            format!("install `{prog}`, or write its path (`./{prog}` is in `{dir}`)"),
        ),
        Some(Errno::EACCES) => (
            format!("`{program}` is not executable, or not a file"),
            format!(
                "make it executable (`chmod +x`) or run it through its interpreter: exec [\"sh\", \"{prog}\"]"
            ),
        ),
        Some(Errno::ENOEXEC) => (
            format!("`{program}` is not a program this system can run"),
            format!(
                "add a `#!` line, or run it through its interpreter: exec [\"python3\", \"{prog}\"]"
            ),
        ),
        _ => {
            return ToolFailure::new(format!("cannot start `{prog}`: {e}")).with_help(format!(
                "the program runs in `{dir}`; check that it exists and is executable"
            ));
        }
    };
    ToolFailure::new(format!("cannot start `{prog}`: {what} ({e}); {todo}"))
        .with_help("a program that cannot be started is not retried")
        .permanent()
}

/// Stdout read to its end (`Ok(true)`), past the limit, or failed.
fn stdout_end(r: std::io::Result<bool>, prog: &str) -> Result<(), Failure> {
    match r {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::TooLarge),
        Err(e) => Err(ToolFailure::new(format!("reading the output of `{prog}`: {e}")).into()),
    }
}

/// Runs `argv` in `cwd` with `input` as JSON on stdin; its stdout when it succeeds.
/// Stdout is read up to `limit` bytes (more is `Failure::TooLarge`), stderr keeps
/// its last 8 KB. The whole process group is killed when the call is dropped (a
/// timeout) or its output is too large.
pub async fn output(
    argv: &[String],
    cwd: &Path,
    input: &Value,
    limit: u64,
) -> Result<String, Failure> {
    let limits = Limits {
        max_output: limit,
        ends: None,
    };
    output_with(argv, cwd, input, limits, None).await
}

/// [`output`], with `FLOWC_IDEMPOTENCY_KEY` set to `key` when there is one,
/// and the drain after the exit cut short at `limits.ends`.
async fn output_with(
    argv: &[String],
    cwd: &Path,
    input: &Value,
    limits: Limits,
    key: Option<&str>,
) -> Result<String, Failure> {
    let limit = limits.max_output;
    let Some(prog) = argv.first() else {
        return Err(ToolFailure::new("`exec` has no program").into());
    };
    // A relative program path with a slash is relative to the flow's folder.
    let program = if prog.contains('/') && !prog.starts_with('/') {
        cwd.join(prog).to_string_lossy().into_owned()
    } else {
        prog.clone()
    };
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&argv[1..])
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(k) = key {
        cmd.env("FLOWC_IDEMPOTENCY_KEY", k);
    }
    die_with_flowc(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| start_failure(prog, &program, cwd, &e))?;
    let guard = GroupGuard {
        pgid: child.id().map(|p| p as i32),
    };
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let body = serde_json::to_vec(input).expect("arguments serialise");
    let write = async move {
        // A tool that does not read its input closes the pipe: not an error.
        let _ = stdin.write_all(&body).await;
        let _ = stdin.shutdown().await;
    };
    // The call ends when the program exits, not when its pipes close: a
    // child it left in the background may hold them open. Stdout and stderr
    // are read alongside the wait (a child blocked on a full pipe would never
    // exit), and for at most `DRAIN_GRACE` after the exit; past the limit of
    // stdout the call ends at once. Either way the guard then kills the group.
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = {
        let mut out_fut = std::pin::pin!(async {
            tokio::join!(write, read_capped_into(&mut stdout, limit, &mut out)).1
        });
        let mut err_fut = std::pin::pin!(read_tail_into(&mut stderr, STDERR_TAIL, &mut err));
        let mut wait_fut = std::pin::pin!(child.wait());
        let grace = tokio::time::sleep(DRAIN_GRACE);
        let mut grace = std::pin::pin!(grace);
        let (mut out_done, mut err_done) = (false, false);
        let mut status = None;
        while !(out_done && err_done && status.is_some()) {
            // The grace and the exit first: a child writing without end cannot
            // hold them off.
            tokio::select! {
                biased;
                _ = &mut grace, if status.is_some() => {
                    // What stdout holds now is read, without waiting for more.
                    if !out_done
                        && let Some(r) = futures_util::FutureExt::now_or_never(out_fut.as_mut())
                    {
                        stdout_end(r, prog)?;
                    }
                    break;
                }
                s = &mut wait_fut, if status.is_none() => {
                    let s = s.map_err(|e| ToolFailure::new(format!("waiting for `{prog}`: {e}")))?;
                    status = Some(s);
                    // Not past the attempt's timeout: a program that exited
                    // in time has succeeded or failed, it has not timed out.
                    let end = tokio::time::Instant::now() + DRAIN_GRACE;
                    grace
                        .as_mut()
                        .reset(limits.ends.map_or(end, |t| end.min(t)));
                }
                r = &mut out_fut, if !out_done => {
                    out_done = true;
                    stdout_end(r, prog)?;
                }
                r = &mut err_fut, if !err_done => {
                    err_done = true;
                    // Stderr only feeds a failure's message: a read error
                    // leaves what was read.
                    let _ = r;
                }
            }
        }
        status.expect("the loop ends after the exit")
    };
    // The leader has exited; stragglers in its group are killed by the guard,
    // whatever the outcome.
    drop(guard);
    let stderr_text = String::from_utf8_lossy(&err);
    if !status.success() {
        let code = status
            .code()
            .map_or_else(|| "a signal".to_string(), |c| format!("status {c}"));
        let mut msg = format!("`{prog}` exited with {code}");
        let t = tail(&stderr_text, 800);
        if !t.is_empty() {
            msg.push_str(&format!("; stderr: {t}"));
        }
        return Err(ToolFailure::new(msg).into());
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
