//! `exec` tools: a child process per call. argv only (never a shell), the
//! arguments as one JSON object on stdin, one JSON value on stdout. The child
//! leads its own process group; dropping the call (timeout, cancellation)
//! kills the whole group.

use std::path::Path;
use std::process::Stdio;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::{STDERR_TAIL, ToolFailure, ToolResult, head, read_capped, read_tail, tail};

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

/// Kills the process group when dropped, unless the child has been reaped.
struct GroupGuard {
    pgid: Option<i32>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

/// On Linux, the child is killed (SIGKILL) when flowc dies, even by `kill -9`,
/// which leaves no chance to kill its process group. Only the tool itself is
/// covered: the kernel does not pass this on to the tool's own children.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut tokio::process::Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed. It makes two system calls, prctl
    // and getppid, through nix's thin wrappers, and builds its error from an
    // errno: no allocation, no lock, no memory shared with the parent's other
    // threads (`parent` is a copied integer). The signal is tied to the thread
    // that spawns, which is the thread running the interpreter's runtime.
    unsafe {
        cmd.pre_exec(move || {
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
fn die_with_parent(_cmd: &mut tokio::process::Command) {}

/// Runs `argv` in `cwd` with `input` on stdin; parses the one JSON value it prints
/// (at most `max_output` bytes of it).
/// `key`: the call's idempotency key, given in env `FLOWC_IDEMPOTENCY_KEY`.
pub async fn call(
    argv: &[String],
    cwd: &Path,
    input: &Value,
    max_output: u64,
    key: Option<&str>,
) -> ToolResult {
    let prog = argv.first().map_or("", String::as_str);
    let text = match output_with(argv, cwd, input, max_output, key).await {
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
    output_with(argv, cwd, input, limit, None).await
}

/// [`output`], with `FLOWC_IDEMPOTENCY_KEY` set to `key` when there is one.
async fn output_with(
    argv: &[String],
    cwd: &Path,
    input: &Value,
    limit: u64,
    key: Option<&str>,
) -> Result<String, Failure> {
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
    die_with_parent(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| start_failure(prog, &program, cwd, &e))?;
    let mut guard = GroupGuard {
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
    // Stderr is read alongside (a child blocked on a full stderr pipe would never
    // finish its stdout); past the limit of stdout the call ends at once, and the
    // guard kills the group.
    let mut err_fut = std::pin::pin!(read_tail(&mut stderr, STDERR_TAIL));
    let mut r_err = None;
    let mut out_fut =
        std::pin::pin!(async { tokio::join!(write, read_capped(&mut stdout, limit)).1 });
    let r_out = loop {
        tokio::select! {
            r = &mut out_fut => break r,
            r = &mut err_fut, if r_err.is_none() => r_err = Some(r),
        }
    };
    let out = r_out
        .map_err(|e| ToolFailure::new(format!("reading the output of `{prog}`: {e}")))?
        .ok_or(Failure::TooLarge)?;
    let r_err = match r_err {
        Some(r) => r,
        None => err_fut.await,
    };
    let err =
        r_err.map_err(|e| ToolFailure::new(format!("reading the errors of `{prog}`: {e}")))?;
    let status = child
        .wait()
        .await
        .map_err(|e| ToolFailure::new(format!("waiting for `{prog}`: {e}")))?;
    // The leader has exited; stragglers in its group are killed by the guard.
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
    guard.pgid.take();
    Ok(String::from_utf8_lossy(&out).into_owned())
}
