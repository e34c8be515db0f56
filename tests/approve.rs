//! `approve` that pauses a run (docs/store.md, `approvals`), through the real binary
//! and a real store: `flowc run` exits 3 and prints the commands that answer
//! it, `flowc approve` records the answer, `flowc resume` continues with
//! `true` or `false`; concurrent approvals in a `for`; `try` never catches a
//! pause; `--interactive` in a real terminal (tmux).

mod common;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use common::{Tmux, flowc, tempdir, text};

/// A, then `approve`, then B: each tool appends its name to `log`.
const A_APPROVE_B: &str = r#"tool a() -> int = exec ["sh", "-c", "echo a >> log; echo 1"]
tool b() -> int = exec ["sh", "-c", "echo b >> log; echo 2"]
flow main() -> int {
    let x = a()
    let ok = approve "Ship it?" with { x }
    let y = if ok { b() } else { 0 }
    x + y
}
"#;

fn setup(tag: &str, flow: &str) -> std::path::PathBuf {
    let dir = tempdir(tag);
    std::fs::write(dir.join("main.flow"), flow).expect("write flow");
    dir
}

fn log(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("an exit code")
}

/// The newest run's id.
fn newest(dir: &Path) -> String {
    let out = flowc(dir, &["runs", "--format", "json"]);
    let runs: Value = serde_json::from_slice(&out.stdout).expect("runs JSON");
    runs[0]["id"].as_str().expect("an id").to_string()
}

fn show(dir: &Path, id: &str) -> Value {
    let out = flowc(dir, &["runs", "show", id, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("show JSON")
}

fn result(out: &Output) -> Value {
    assert_eq!(code(out), 0, "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("a JSON result")
}

#[test]
fn approve_pauses_and_resume_continues_with_the_answer() {
    let dir = setup("approve-yes", A_APPROVE_B);
    let out = flowc(&dir, &["run", "main.flow"]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), 3, "{err}");
    assert_eq!(log(&dir), ["a"], "A ran once, B never");
    let id = newest(&dir);
    assert!(
        err.contains(&format!("flowc approve {id} main/ok\n")),
        "{err}"
    );
    assert!(
        err.contains(&format!("flowc approve {id} main/ok --reject")),
        "{err}"
    );
    let run = show(&dir, &id);
    assert_eq!(run["status"], "paused");
    assert_eq!(run["approvals"][0]["path"], "main/ok");
    assert_eq!(run["approvals"][0]["status"], "pending");
    assert_eq!(run["approvals"][0]["message"], "Ship it?");
    assert_eq!(
        run["approvals"][0]["context"],
        serde_json::json!({ "x": 1 })
    );

    // Resumed before an answer: paused again, the command printed again.
    let out = flowc(&dir, &["resume", &id]);
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("flowc approve {id} main/ok")));
    assert_eq!(log(&dir), ["a"]);

    let out = flowc(
        &dir,
        &["approve", &id, "--by", "ana", "--note", "checked the diff"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("approved `main/ok`"));
    let run = show(&dir, &id);
    assert_eq!(run["approvals"][0]["status"], "approved");
    assert_eq!(run["approvals"][0]["answered_by"], "ana");
    assert_eq!(run["approvals"][0]["note"], "checked the diff");

    let out = flowc(&dir, &["resume", &id]);
    assert_eq!(result(&out), 3);
    assert_eq!(log(&dir), ["a", "b"], "B ran once, A not again");
    assert_eq!(show(&dir, &id)["status"], "ok");

    // Answered already, and a path the run never reached.
    let out = flowc(&dir, &["approve", &id, "main/ok"]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("already answered"),
        "{}",
        text(&out.stderr)
    );
    let out = flowc(&dir, &["approve", &id, "main/nope"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("has no approval `main/nope`"));
}

#[test]
fn a_rejected_approval_gives_false() {
    let dir = setup("approve-no", A_APPROVE_B);
    assert_eq!(code(&flowc(&dir, &["run", "main.flow", "-q"])), 3);
    let id = newest(&dir);
    let out = flowc(&dir, &["approve", &id, "main/ok", "--reject"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(result(&flowc(&dir, &["resume", &id])), 1);
    assert_eq!(log(&dir), ["a"], "B never ran, A not again");
}

#[test]
fn an_approve_inside_try_still_pauses() {
    let flow = r#"tool a() -> int = exec ["sh", "-c", "echo a >> log; echo 1"]
flow main() -> bool {
    let x = a()
    try { approve "inside try {x}" } catch { false }
}
"#;
    let dir = setup("approve-try", flow);
    let out = flowc(&dir, &["run", "main.flow"]);
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    let id = newest(&dir);
    let run = show(&dir, &id);
    assert_eq!(run["status"], "paused");
    assert_eq!(run["error"], Value::Null);
    // The only pending approval: PATH may be left out.
    let out = flowc(&dir, &["approve", &id]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(result(&flowc(&dir, &["resume", &id])), true);
    assert_eq!(log(&dir), ["a"]);
}

#[test]
fn concurrent_approvals_in_a_for_each_have_their_path() {
    let flow = r#"tool slow() -> int = exec ["sh", "-c", "sleep 0.3; echo s >> log; echo 5"]
flow main(items: [int] = [1, 2, 3]) -> { s: int, oks: [bool] } {
    let s = slow()
    let oks = for i in items { approve "item {i}?" }
    { s, oks }
}
"#;
    let dir = setup("approve-for", flow);
    let out = flowc(&dir, &["run", "main.flow"]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), 3, "{err}");
    // The step already running finished (and is journaled) before the pause.
    assert_eq!(log(&dir), ["s"]);
    let id = newest(&dir);
    for k in 0..3 {
        assert!(
            err.contains(&format!("flowc approve {id} main/oks/for[{k}]/approve\n")),
            "{err}"
        );
    }
    assert!(err.contains("3 approvals pending"), "{err}");
    // Several pending: PATH is needed, and the error lists them.
    let out = flowc(&dir, &["approve", &id]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), 2);
    assert!(err.contains("waits for 3 approvals"), "{err}");
    assert!(err.contains("main/oks/for[2]/approve: item 3?"), "{err}");
    for (k, reject) in [(0, false), (1, true), (2, false)] {
        let path = format!("main/oks/for[{k}]/approve");
        let mut args = vec!["approve", &id, &path];
        if reject {
            args.push("--reject");
        }
        let out = flowc(&dir, &args);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    }
    let out = flowc(&dir, &["resume", &id]);
    assert_eq!(
        result(&out),
        serde_json::json!({ "s": 5, "oks": [true, false, true] })
    );
    assert_eq!(log(&dir), ["s"], "the slow step was replayed");
}

#[test]
fn approve_without_a_store_is_a_clear_error() {
    let dir = setup("approve-nostore", A_APPROVE_B);
    let out = flowc(&dir, &["run", "main.flow", "--no-store"]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), 1, "{err}");
    assert!(err.contains("no store to pause in"), "{err}");
    assert!(err.contains("--interactive"), "{err}");
    // `--interactive` without a terminal on stdin asks nothing either.
    let out = flowc(&dir, &["run", "main.flow", "--no-store", "--interactive"]);
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    let out = flowc(&dir, &["approve", "nothing"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("there is no store"));
}

#[test]
fn interactive_asks_in_the_terminal() {
    let dir = setup("approve-tty", A_APPROVE_B);
    let script = format!(
        "NO_COLOR=1 {} run main.flow --interactive -q; echo EXIT=$?; sleep 30",
        env!("CARGO_BIN_EXE_flowc")
    );
    let Some(tmux) = Tmux::start("interactive-approve", "t", (200, 50), &dir, &script) else {
        return;
    };
    tmux.wait("approve? [y/N]", |s| s.contains("approve? [y/N]"));
    let s = tmux.wait("main/ok", |s| s.contains("main/ok"));
    assert!(s.contains("Ship it?"), "{s}");
    tmux.cmd(&["send-keys", "-t", "t", "y", "Enter"]);
    let s = tmux.wait("EXIT=", |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");
    assert!(s.lines().any(|l| l.trim() == "3"), "{s}");
    assert_eq!(log(&dir), ["a", "b"]);
    // Recorded in the store as answered at the terminal.
    let id = newest(&dir);
    let run = show(&dir, &id);
    assert_eq!(run["status"], "ok");
    assert_eq!(run["approvals"][0]["status"], "approved");
    assert_eq!(run["approvals"][0]["note"], "answered at the terminal");
}

#[test]
fn resume_keeps_the_set_options_of_the_run() {
    // Fails twice, then answers: only `retry` of 2 gets it through.
    let flow = r#"tool flaky() -> int = exec ["sh", "-c", "echo x >> log; [ $(wc -l < log) -ge 3 ] && echo 7 || exit 1"]
flow main() -> int {
    let ok = approve "go?"
    if ok { flaky() } else { 0 }
}
"#;
    let dir = setup("approve-set", flow);
    let out = flowc(
        &dir,
        &[
            "run",
            "main.flow",
            "--set",
            "retry=2",
            "--set",
            "backoff=1ms",
        ],
    );
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    let id = newest(&dir);
    assert_eq!(
        show(&dir, &id)["options"],
        serde_json::json!(["retry=2", "backoff=1ms"])
    );
    assert_eq!(code(&flowc(&dir, &["approve", &id])), 0);
    let out = flowc(&dir, &["resume", &id]);
    assert_eq!(result(&out), 7);
    assert_eq!(log(&dir).len(), 3, "two retries, from the run's own --set");
}

#[test]
fn the_repl_asks_in_the_terminal() {
    let dir = tempdir("approve-repl");
    let script = format!(
        "NO_COLOR=1 FLOWC_HISTORY=hist {} repl",
        env!("CARGO_BIN_EXE_flowc")
    );
    let Some(tmux) = Tmux::start("repl-approve", "t", (200, 50), &dir, &script) else {
        return;
    };
    tmux.wait("flow> ", |s| s.contains("flow> "));
    tmux.cmd(&["send-keys", "-t", "t", "-l", "import std.ops"]);
    tmux.cmd(&["send-keys", "-t", "t", "Enter"]);
    tmux.wait("the import", |s| s.matches("flow> ").count() >= 2);
    // A step runs first, so the live view draws before the question comes.
    tmux.cmd(&[
        "send-keys",
        "-t",
        "t",
        "-l",
        "approve \"Ship it after {ops.sleep(ms: 400).ms} ms?\"",
    ]);
    tmux.cmd(&["send-keys", "-t", "t", "Enter"]);
    let s = tmux.wait("approve? [y/N]", |s| s.contains("approve? [y/N]"));
    assert!(s.contains("Ship it after 400 ms?"), "{s}");
    // The view does not draw over the question while it waits.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let s = tmux.screen();
    assert!(s.contains("approve? [y/N]"), "{s}");
    tmux.cmd(&["send-keys", "-t", "t", "n", "Enter"]);
    let s = tmux.wait("false : bool", |s| s.contains("false : bool"));
    assert!(s.contains("false : bool"), "{s}");
    // Ctrl-C while it asks cancels the question; the next line is the REPL's,
    // not swallowed by the question's reader.
    tmux.cmd(&["send-keys", "-t", "t", "-l", "approve \"Again?\""]);
    tmux.cmd(&["send-keys", "-t", "t", "Enter"]);
    tmux.wait("the second question", |s| {
        s.matches("approve? [y/N]").count() == 2
    });
    tmux.cmd(&["send-keys", "-t", "t", "C-c"]);
    tmux.wait("a new prompt", |s| {
        s.lines().rev().find(|l| !l.trim().is_empty()) == Some("flow> ")
    });
    tmux.cmd(&["send-keys", "-t", "t", "-l", "40 + 2"]);
    tmux.cmd(&["send-keys", "-t", "t", "Enter"]);
    let s = tmux.wait("42 : int", |s| s.contains("42 : int"));
    assert!(s.contains("42 : int"), "{s}");
}
