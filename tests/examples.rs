//! Every example runs as shipped and prints its expected result
//! (`examples/expected/NAME.json`; `BLESS=1 cargo test` rewrites them), and the
//! README's main command works exactly as written.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (example, arguments): the arguments keep the runs short where an example
/// has a larger default.
const RUNS: &[(&str, &[&str])] = &[
    ("data_pipeline", &[]),
    ("analysis_workflow", &[]),
    ("graph_expansion", &[]),
    ("recovery", &[]),
    ("monitoring", &["--arg", "within_minutes=10"]),
    // Its decisions replay examples/recorded/llm.json (examples/flowc.toml).
    ("triage", &[]),
    // Its primary metrics tool is down; the re-plan replays examples/recorded/replan.json.
    ("replan", &["--llm", "replay:examples/recorded/replan.json"]),
];

fn run(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        // Runs keep their store inside `target/`, not in the repository.
        .env(
            "FLOWC_STORE",
            format!(
                "{}/store-{}",
                env!("CARGO_TARGET_TMPDIR"),
                std::process::id()
            ),
        )
        .output()
        .expect("flowc runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn check_expected(name: &str, stdout: &str) {
    let path = root().join(format!("examples/expected/{name}.json"));
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, stdout).expect("bless");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    let got: serde_json::Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("{name}: stdout is not JSON ({e}): {stdout}"));
    let want: serde_json::Value =
        serde_json::from_str(&expected).unwrap_or(serde_json::Value::Null);
    assert_eq!(
        got, want,
        "{name}: result differs from examples/expected/{name}.json (BLESS=1 to update)"
    );
}

#[test]
fn examples_run_and_print_their_expected_results() {
    for (name, extra) in RUNS {
        let file = format!("examples/{name}.flow");
        let mut args = vec!["run", file.as_str(), "--quiet"];
        args.extend_from_slice(extra);
        let (stdout, stderr, code) = run(&args);
        assert_eq!(code, 0, "{name} failed:\n{stderr}");
        check_expected(name, &stdout);
    }
}

#[test]
fn every_example_is_run_by_a_test() {
    let mut missing = Vec::new();
    for e in std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "flow") {
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            if !RUNS.iter().any(|(n, _)| *n == stem) && !MAIN_EXAMPLES.contains(&stem.as_str()) {
                missing.push(stem);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "examples not run by tests/examples.rs: {missing:?}"
    );
}

/// Examples run by the README test below.
const MAIN_EXAMPLES: &[&str] = &["ci_analysis", "approval"];

/// The run id in the `run ID paused: …` line a paused run prints.
fn paused_id(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("run ")?
                .split_once(" paused:")
                .map(|(id, _)| id)
        })
        .unwrap_or_else(|| panic!("no `run ID paused:` line in:\n{stderr}"))
        .to_string()
}

#[test]
fn the_approval_example_pauses_and_resumes_as_its_header_says() {
    // Approved: the ticket is opened.
    let (stdout, stderr, code) = run(&["run", "examples/approval.flow"]);
    assert_eq!(code, 3, "approval did not pause:\n{stdout}{stderr}");
    let id = paused_id(&stderr);
    assert!(
        stderr.contains(&format!("flowc approve {id} main/ok --reject")),
        "{stderr}"
    );
    let (_, stderr, code) = run(&["approve", &id]);
    assert_eq!(code, 0, "{stderr}");
    let (stdout, stderr, code) = run(&["resume", &id, "--quiet"]);
    assert_eq!(code, 0, "approval resume failed:\n{stderr}");
    check_expected("approval", &stdout);
    // Rejected: no ticket.
    let (_, stderr, code) = run(&["run", "examples/approval.flow", "--quiet"]);
    assert_eq!(code, 3, "{stderr}");
    let id = paused_id(&stderr);
    let (_, stderr, code) = run(&["approve", &id, "--reject", "--note", "not now"]);
    assert_eq!(code, 0, "{stderr}");
    let (stdout, stderr, code) = run(&["resume", &id, "--quiet"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["ticket"], serde_json::Value::Null, "{v}");
}

/// The command under "Run the main example" in README.md, with the installed
/// `flowc` replaced by the built binary.
fn readme_main_command() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let after = readme
        .split("main example")
        .nth(1)
        .expect("README names the main example");
    let block = after.split("```sh").nth(1).expect("a sh block after it");
    let line = block
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .expect("a command");
    let line = line
        .strip_prefix("flowc ")
        .expect("the main command starts with `flowc `");
    line.split_whitespace().map(str::to_string).collect()
}

/// The README builds flowc one way: `cargo install --path .` once, then every
/// command is the installed `flowc` (a `cargo run --` would build a second,
/// debug copy before anything runs); `cargo test` is its one test command.
#[test]
fn the_readme_installs_once_and_runs_the_installed_flowc() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let install = readme
        .split("## Install")
        .nth(1)
        .and_then(|s| s.split("```sh").nth(1))
        .and_then(|s| s.lines().map(str::trim).find(|l| !l.is_empty()))
        .expect("a sh block under ## Install");
    assert_eq!(install, "cargo install --path .");
    let mut commands = Vec::new();
    for block in readme.split("```sh").skip(1) {
        let body = block.split("```").next().unwrap_or("");
        for line in body.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                commands.push(line.to_string());
            }
        }
    }
    let other: Vec<&String> = commands
        .iter()
        .filter(|c| !c.starts_with("flowc ") && !c.starts_with("cargo install --path ."))
        .filter(|c| c.as_str() != "cargo test")
        .collect();
    assert!(
        other.is_empty(),
        "README commands neither `flowc …`, the install nor `cargo test`: {other:?}"
    );
    assert!(
        !readme.contains("cargo run"),
        "README runs `cargo run`, a second build beside the installed flowc"
    );
    let tests = commands.iter().filter(|c| *c == "cargo test").count();
    assert_eq!(tests, 1, "README has {tests} test commands: {commands:?}");
    let main = readme_main_command().join(" ");
    let mains = commands
        .iter()
        .filter(|c| c.contains("examples/ci_analysis.flow") && c.starts_with("flowc run "))
        .filter(|c| **c == format!("flowc {main}"))
        .count();
    assert_eq!(
        mains, 1,
        "README's main command `flowc {main}` is not there once"
    );
}

#[test]
fn the_readme_main_command_works_as_written() {
    let args = readme_main_command();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (stdout, stderr, code) = run(&refs);
    assert_eq!(
        code,
        0,
        "README main command `{}` failed:\n{stderr}",
        args.join(" ")
    );
    if refs.first() == Some(&"run") {
        check_expected("ci_analysis", &stdout);
    }
}
