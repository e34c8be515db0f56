//! Golden UI tests: every `tests/ui/**/*.flow` is checked by the real binary and
//! its stderr compared with the `.stderr` file beside it. `BLESS=1 cargo test`
//! rewrites the expectations.

use std::path::{Path, PathBuf};
use std::process::Command;

fn flow_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/ui exists")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            flow_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "flow") {
            out.push(p);
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `flowc check` on a file (relative to the project root) and returns (stderr, exit code).
fn check(rel: &Path) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("check")
        .arg(rel)
        .current_dir(root())
        .env("NO_COLOR", "1")
        // MCP servers' schemas are asked, not read from a cache of another run.
        .env(
            "FLOWC_STORE",
            format!(
                "{}/ui-store-{}",
                env!("CARGO_TARGET_TMPDIR"),
                std::process::id()
            ),
        )
        .output()
        .expect("flowc runs");
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn ui_golden() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut files = Vec::new();
    flow_files(&root().join("tests/ui"), &mut files);
    assert!(!files.is_empty(), "no UI tests found");
    let mut failures = Vec::new();
    let (mut failing, mut passing) = (0, 0);
    for f in &files {
        let rel = f.strip_prefix(root()).expect("under the root");
        let (stderr, code) = check(rel);
        let has_error = stderr
            .lines()
            .any(|l| l.starts_with('[') && l.contains("] Error:"));
        if has_error {
            failing += 1;
        } else {
            passing += 1;
        }
        let expected_code = if has_error { 1 } else { 0 };
        if code != expected_code {
            failures.push(format!(
                "{}: exit code {code}, expected {expected_code}",
                rel.display()
            ));
        }
        let expect_path = f.with_extension("stderr");
        if bless {
            std::fs::write(&expect_path, &stderr).expect("write .stderr");
            continue;
        }
        let expected = std::fs::read_to_string(&expect_path).unwrap_or_default();
        if expected != stderr {
            failures.push(format!(
                "{}: stderr differs\n--- expected\n{expected}\n--- actual\n{stderr}",
                rel.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} UI test(s) failed (BLESS=1 to update):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        failing > passing,
        "UI tests should have more failing cases ({failing}) than passing ones ({passing})"
    );
}

#[test]
fn every_code_has_a_golden_case_and_docs() {
    let mut files = Vec::new();
    flow_files(&root().join("tests/ui"), &mut files);
    let mut all = String::new();
    for f in &files {
        all.push_str(&std::fs::read_to_string(f.with_extension("stderr")).unwrap_or_default());
    }
    let docs = std::fs::read_to_string(root().join("docs/diagnostics.md"))
        .expect("docs/diagnostics.md exists");
    let mut missing = Vec::new();
    for c in flowc::diag::catalog::CODES {
        if !all.contains(&format!("[{}]", c.code)) {
            missing.push(format!("{} has no golden test in tests/ui", c.code));
        }
        if !docs.contains(&format!("## {}", c.code)) {
            missing.push(format!("{} has no entry in docs/diagnostics.md", c.code));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn diagnostics_doc_is_generated_from_the_catalog() {
    let path = root().join("docs/diagnostics.md");
    let generated = flowc::cli::diagnostics_markdown();
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/diagnostics.md");
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == generated,
        "docs/diagnostics.md is out of date with src/diag/catalog.rs; run BLESS=1 cargo test"
    );
}

#[test]
fn json_format_one_object_per_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args([
            "check",
            "--format",
            "json",
            "tests/ui/names/e0204_unknown_field.flow",
        ])
        .current_dir(root())
        .output()
        .expect("flowc runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(!lines.is_empty());
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("each line is JSON");
        for key in [
            "code",
            "severity",
            "message",
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "labels",
            "help",
        ] {
            assert!(v.get(key).is_some(), "missing `{key}` in {l}");
        }
    }
    let first: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("a line")).expect("json");
    assert_eq!(first["code"], "E0204");
    assert_eq!(first["file"], "tests/ui/names/e0204_unknown_field.flow");
}

#[test]
fn exit_codes() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(args)
            .current_dir(root())
            .output()
            .expect("flowc runs")
            .status
            .code()
    };
    assert_eq!(run(&["check", "does/not/exist.flow"]), Some(2));
    assert_eq!(run(&["check"]), Some(2));
    assert_eq!(run(&["bogus"]), Some(2));
    assert_eq!(
        run(&["check", "tests/ui/warnings/w0001_unused_binding.flow"]),
        Some(0)
    );
    assert_eq!(
        run(&[
            "check",
            "--deny-warnings",
            "tests/ui/warnings/w0001_unused_binding.flow"
        ]),
        Some(1)
    );
    assert_eq!(run(&["explain", "E0201"]), Some(0));
    assert_eq!(run(&["explain", "E9999"]), Some(2));
}

/// `flowc explain CODE` says what triggers the code and how to fix it: no
/// explanation is a bare restatement of its title.
#[test]
fn every_explanation_says_what_triggers_it_and_how_to_fix_it() {
    let short: Vec<String> = flowc::diag::catalog::CODES
        .iter()
        .filter(|c| c.explanation.split_whitespace().count() < 12)
        .map(|c| format!("{}: {:?}", c.code, c.explanation))
        .collect();
    assert!(
        short.is_empty(),
        "explanations too short to help:\n{}",
        short.join("\n")
    );

    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["explain", "E0101"])
        .output()
        .expect("flowc runs");
    let text = String::from_utf8_lossy(&out.stdout);
    // The usual causes, each with its shape, and what to do.
    for cause in [
        "`let x =`",
        "a `.` with no field name",
        "`let a = 1 2`",
        "left open",
        "Fix the text at the marked spot",
    ] {
        assert!(
            text.contains(cause),
            "`flowc explain E0101` does not mention {cause}:\n{text}"
        );
    }
    // A realistic example: a program with a tool and a flow, not one line.
    let example = text.split("```flow").nth(1).expect("an example");
    assert!(
        example.contains("tool ") && example.contains("flow ") && example.lines().count() >= 5,
        "{example}"
    );
}

#[test]
fn check_a_folder_checks_its_flow_files_sorted() {
    let dir = std::env::temp_dir().join(format!("flowc-check-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bad = "flow main() -> int { nope }\n";
    for (rel, text) in [
        ("b.flow", bad),
        ("a/z.flow", bad),
        ("a/ok.flow", "flow main() -> int { 1 }\n"),
        ("notes.txt", "not a flow"),
        (".hidden/x.flow", bad),
        ("target/y.flow", bad),
        ("empty/.keep", ""),
    ] {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
        std::fs::write(&p, text).expect("write");
    }
    let check = |path: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["check", "--format", "json"])
            .arg(path)
            .output()
            .expect("flowc runs");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code(),
        )
    };
    let (stdout, _, code) = check(&dir);
    assert_eq!(code, Some(1));
    let files: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            v["file"].as_str().expect("file").to_string()
        })
        .collect();
    let expect = |rel: &str| dir.join(rel).to_string_lossy().into_owned();
    assert_eq!(files, vec![expect("a/z.flow"), expect("b.flow")]);
    let (stdout, stderr, code) = check(&dir.join("empty"));
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert!(stderr.contains("no `.flow` files in"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
