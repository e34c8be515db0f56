//! A closed stdout (`flowc graph … | head -1`) ends every command quietly: no
//! panic, nothing on stderr about it, exit status 141 (128 + SIGPIPE, what a
//! shell reports for a writer that SIGPIPE ended) where the command would
//! have succeeded. A run still writes its record.
//!
//! stdout is the write end of a pipe whose read end is closed before flowc
//! starts, so its first write fails with EPIPE every time.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs flowc with `args` in `cwd`, stdout a pipe nobody reads; (stderr, exit status).
fn with_closed_stdout(args: &[&str], cwd: &Path, stdin: &str) -> (String, i32) {
    use std::io::Write;
    let (read, write) = nix::unistd::pipe().expect("a pipe");
    drop(read);
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("FLOWC_HISTORY", "")
        .env("FLOWC_STORE", common::test_store())
        .stdin(Stdio::piped())
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc starts");
    let mut input = child.stdin.take().expect("stdin");
    // flowc may stop reading once nobody reads its results.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let out = child.wait_with_output().expect("flowc ends");
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn assert_quiet(what: &str, (stderr, code): (String, i32), want: i32) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{what}: {stderr}"
    );
    assert_eq!(code, want, "{what}: exit status; stderr:\n{stderr}");
}

#[test]
fn graph_explain_and_check_exit_quietly_on_a_closed_stdout() {
    let r = root();
    for format in ["dot", "mermaid", "json"] {
        assert_quiet(
            &format!("graph --format {format}"),
            with_closed_stdout(
                &["graph", "examples/ci_analysis.flow", "--format", format],
                &r,
                "",
            ),
            141,
        );
    }
    assert_quiet(
        "explain",
        with_closed_stdout(&["explain", "E0201"], &r, ""),
        141,
    );
    assert_quiet(
        "check --decisions",
        with_closed_stdout(
            &[
                "check",
                "--decisions",
                "--format",
                "json",
                "examples/ci_analysis.flow",
            ],
            &r,
            "",
        ),
        141,
    );
    // A failing check keeps its own status.
    assert_quiet(
        "check --format json with errors",
        with_closed_stdout(
            &[
                "check",
                "--format",
                "json",
                "tests/ui/graph/e0401_dependency_cycle.flow",
            ],
            &r,
            "",
        ),
        1,
    );
}

#[test]
fn a_run_exits_quietly_on_a_closed_stdout_and_writes_its_record() {
    let dir = common::tempdir("closed-stdout");
    std::fs::write(
        dir.join("main.flow"),
        "flow main() -> json { { answer: 42 } }\n",
    )
    .expect("write flow");
    let got = with_closed_stdout(
        &["run", "main.flow", "--record", "run.json", "--quiet"],
        &dir,
        "",
    );
    assert_quiet("run", got, 141);
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("run.json")).expect("the record is written"),
    )
    .expect("JSON");
    assert_eq!(record["status"], "ok");
    assert_eq!(record["result"]["answer"], 42);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_piped_repl_stops_quietly_on_a_closed_stdout() {
    let dir = common::tempdir("closed-stdout-repl");
    let inputs = "1 + 1\n".repeat(50);
    assert_quiet("repl", with_closed_stdout(&["repl"], &dir, &inputs), 141);
    let _ = std::fs::remove_dir_all(&dir);
}
