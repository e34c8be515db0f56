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

/// Runs `argv` in `cwd` with `input` on stdin; parses the one JSON value it prints
/// (at most `max_output` bytes of it).
pub async fn call(argv: &[String], cwd: &Path, input: &Value, max_output: u64) -> ToolResult {
    let prog = argv.first().map_or("", String::as_str);
    let text = match output(argv, cwd, input, max_output).await {
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
    let mut child = cmd.spawn().map_err(|e| {
        ToolFailure::new(format!("cannot start `{prog}`: {e}")).with_help(format!(
            "the program runs in `{}`; check that it exists and is executable",
            cwd.display()
        ))
    })?;
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
