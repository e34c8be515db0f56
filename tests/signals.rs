//! SIGTERM, SIGHUP and SIGINT cancel `flowc run` like Ctrl-C: every tool's
//! process is killed, the record and the trace are written, and the exit status
//! is 128 + the signal (143, 129, 130). A `kill -9` of flowc leaves no tool
//! running (the tools' parent-death signal, Linux), nor any child a tool
//! started (the watcher), however close to a tool's start it comes. `flowc
//! repl` ends on SIGTERM and kills its running tool.
//!
//! The tool is a real child: a shell script that writes its pid to a file in
//! the test's folder, then becomes `sleep` (same pid).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

const TOOL: &str = "#!/bin/sh\necho $$ > \"$(dirname \"$0\")/pid.tmp\"\nmv \"$(dirname \"$0\")/pid.tmp\" \"$(dirname \"$0\")/pid\"\nexec sleep 300\n";

const FLOW: &str = r#"
tool nap() -> json = exec ["sh", "nap.sh"]
flow main() -> json { nap() }
"#;

/// Polls `ok` every 50 ms; panics after a generous 20 s.
fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `pid` is gone (or a zombie nobody has reaped yet).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim().starts_with('Z')),
    }
}

fn tool_pid(dir: &Path) -> i32 {
    let mut pid = None;
    wait_until("the tool to write its pid", || {
        pid = std::fs::read_to_string(dir.join("pid"))
            .ok()
            .and_then(|t| t.trim().parse().ok());
        pid.is_some()
    });
    pid.expect("a pid")
}

fn wait_exit(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let mut status = None;
    wait_until(what, || {
        status = child.try_wait().expect("wait for flowc");
        status.is_some()
    });
    status.expect("a status")
}

fn send(child: &Child, sig: Signal) {
    kill(Pid::from_raw(child.id() as i32), sig).expect("send a signal");
}

/// `flowc run` of the napping flow in a fresh folder, with a record and a trace.
fn start_run(tag: &str) -> (PathBuf, Child) {
    let dir = common::tempdir(tag);
    std::fs::write(dir.join("main.flow"), FLOW).expect("write flow");
    std::fs::write(dir.join("nap.sh"), TOOL).expect("write tool");
    let child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("run")
        .arg(dir.join("main.flow"))
        .arg("--record")
        .arg(dir.join("run.json"))
        .arg("--trace")
        .arg(dir.join("trace.json"))
        .env("NO_COLOR", "1")
        .env("FLOWC_STORE", common::test_store())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc starts");
    (dir, child)
}

fn cancelled_by(sig: Signal, code: i32) {
    let (dir, mut child) = start_run(sig.as_str());
    let pid = tool_pid(&dir);
    assert!(!gone(pid), "the tool is running");
    send(&child, sig);
    let status = wait_exit(&mut child, "flowc to exit");
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(code), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("run cancelled by {}", sig.as_str())),
        "{stderr}"
    );
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("run.json")).expect("the record is written"),
    )
    .expect("the record is JSON");
    assert_eq!(record["status"], "cancelled", "{record:#}");
    assert_eq!(record["signal"], sig.as_str(), "{record:#}");
    let trace: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("trace.json")).expect("the trace is written"),
    )
    .expect("the trace is JSON");
    assert!(trace.is_object() || trace.is_array(), "{trace}");
    wait_until("the tool to be killed", || gone(pid));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_cancels_a_run_writes_the_record_and_kills_the_tool() {
    cancelled_by(Signal::SIGTERM, 143);
}

#[test]
fn sighup_cancels_a_run_writes_the_record_and_kills_the_tool() {
    cancelled_by(Signal::SIGHUP, 129);
}

#[test]
fn sigint_cancels_a_run_with_status_130() {
    cancelled_by(Signal::SIGINT, 130);
}

#[test]
fn kill_9_of_flowc_leaves_no_tool_running() {
    let (dir, mut child) = start_run("kill9");
    let pid = tool_pid(&dir);
    assert!(!gone(pid), "the tool is running");
    send(&child, Signal::SIGKILL);
    wait_exit(&mut child, "flowc to die");
    wait_until("the tool to die with flowc", || gone(pid));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A short tool: it notes that it started, leaves a child of its own in the
/// background (which the tool's parent-death signal does not reach, and
/// which the call kills when the tool ends), and ends 50 ms later. The child
/// sleeps 4 s, then notes that a body ran: only one that outlived flowc can.
const FAMILY: &str = "#!/bin/sh\necho started >> \"$(dirname \"$0\")/started\"\nsh -c 'sleep 4; echo ran >> \"$0/ran\"' \"$(dirname \"$0\")\" >/dev/null 2>&1 &\nsleep 0.05\necho '{}'\n";

const MANY: &str = r#"
tool family(i: int) -> json = exec ["sh", "family.sh"]
flow main() -> json { for i in range(5000) with { max_concurrent: 16 } { family(i: i) } }
"#;

/// The pids of the live (not zombie) processes whose environment holds `tag`.
fn alive_with(tag: &str) -> Vec<i32> {
    let needle = format!("FLOWC_TEST_TAG={tag}");
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| !gone(pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
        })
        .collect()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn kill_9_of_flowc_leaves_no_tool_or_tool_child_running() {
    // 30 kills of a flow running short tools, 16 at once, each kill after a
    // different number of tools have started (1 to 60), so that it falls
    // while tools start and end: every tool and every child of a tool dies
    // with flowc, so no body runs after the kill.
    let (mut started, mut survivors) = (0, 0);
    for i in 0..30 {
        let dir = common::tempdir("kill9-family");
        std::fs::write(dir.join("main.flow"), MANY).expect("write flow");
        std::fs::write(dir.join("family.sh"), FAMILY).expect("write tool");
        let tag = dir.display().to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["run", "--no-store"])
            .arg(dir.join("main.flow"))
            .env("NO_COLOR", "1")
            .env("FLOWC_TEST_TAG", &tag)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("flowc starts");
        let at = 1 + (i * 7) % 60;
        wait_until("the tools to start", || lines(&dir.join("started")) >= at);
        send(&child, Signal::SIGKILL);
        wait_exit(&mut child, "flowc to die");
        wait_until("every tool and its children to die", || {
            alive_with(&tag).is_empty()
        });
        started += lines(&dir.join("started"));
        survivors += lines(&dir.join("ran"));
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert_eq!(
        survivors, 0,
        "{survivors} children of the {started} tools started ran their body after flowc was killed"
    );
}

#[test]
fn sigterm_ends_a_repl_session_and_kills_its_running_tool() {
    use std::io::{Read, Write};
    let dir = common::tempdir("repl-term");
    std::fs::write(dir.join("nap.sh"), TOOL).expect("write tool");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("repl")
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .env("FLOWC_HISTORY", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc starts");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(
        stdin,
        "tool nap() -> json = exec [\"sh\", \"nap.sh\"]\nnap()\n\"not reached\""
    )
    .expect("write inputs");
    let pid = tool_pid(&dir);
    send(&child, Signal::SIGTERM);
    let status = wait_exit(&mut child, "the session to end");
    let (mut out, mut err) = (String::new(), String::new());
    let _ = child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out);
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    assert_eq!(status.code(), Some(143), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("cancelled by SIGTERM"), "{err}");
    assert!(!out.contains("not reached"), "{out}");
    wait_until("the tool to be killed", || gone(pid));
    drop(stdin);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sighup_ends_an_idle_repl_session() {
    use std::io::{BufRead, BufReader, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("repl")
        .env("NO_COLOR", "1")
        .env("FLOWC_HISTORY", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowc starts");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "1 + 1").expect("write an input");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the result");
    assert_eq!(line, "2 : int\n");
    send(&child, Signal::SIGHUP);
    assert_eq!(
        wait_exit(&mut child, "the session to end").code(),
        Some(129)
    );
    drop(stdin);
}
