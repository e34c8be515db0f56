//! The ```` ```flow ```` blocks of README.md and docs/*.md are true. The info
//! string says what a block is:
//!
//! - ```` ```flow ````: a complete program; `flowc check` reports no error.
//! - ```` ```flow,run ARGS… ````: a complete program that also runs: it is
//!   saved beside copies of `examples/tools` and `examples/data` (so
//!   `exec ["python3", "tools/cmdb.py", …]` works as in `examples/`) and
//!   `flowc run FILE ARGS…` must succeed.
//! - ```` ```flow,fragment ````: a piece of a program (names declared
//!   elsewhere, `…` placeholders); it must still parse (no E01xx error).
//!
//! docs/diagnostics.md is generated from the catalog, and its examples show
//! errors on purpose: each must report its own code, except an example that
//! only describes its input (`...`) or needs another file (`import "…"`);
//! tests/ui covers those codes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Block {
    /// `FILE:LINE` of the opening fence.
    at: String,
    info: String,
    code: String,
}

/// The fenced blocks of a Markdown file whose language is `flow`.
fn flow_blocks(rel: &str) -> Vec<Block> {
    let text = std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    // A `~~~` block is text shown as it is (it may quote ``` fences).
    let mut tilde = false;
    for (i, line) in text.lines().enumerate() {
        if open.is_none() && line.trim_start().starts_with("~~~") {
            tilde = !tilde;
            continue;
        }
        if tilde {
            continue;
        }
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    at: format!("{rel}:{}", i + 1),
                    info: info.trim().to_string(),
                    code: String::new(),
                })
            }
            (Some(_), Some("")) => {
                let b = open.take().expect("an open block");
                let lang = b.info.split([',', ' ']).next().unwrap_or("");
                if lang == "flow" {
                    blocks.push(b);
                }
            }
            (Some(b), _) => {
                b.code.push_str(line);
                b.code.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{rel}: a code block is not closed");
    blocks
}

/// The Markdown files with documentation: README.md and docs/*.md.
fn doc_files() -> Vec<String> {
    let mut files = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// `flowc check --format json FILE`: the codes of its errors, with messages.
fn check_errors(file: &Path) -> Vec<(String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["check", "--format", "json"])
        .arg(file)
        .output()
        .expect("flowc runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON diagnostic"))
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for e in std::fs::read_dir(from).expect("read folder").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy file");
        }
    }
}

#[test]
fn every_flow_block_of_the_docs_checks_and_runs() {
    let mut problems = Vec::new();
    let (mut complete, mut ran, mut fragments) = (0, 0, 0);
    for rel in doc_files() {
        if rel == "docs/diagnostics.md" {
            continue;
        }
        for b in flow_blocks(&rel) {
            let mut words = b.info.splitn(2, [',', ' ']);
            let _flow = words.next();
            let rest = words.next().unwrap_or("").trim();
            let (kind, args) = rest.split_once(' ').unwrap_or((rest, ""));
            let dir = common::tempdir("docs");
            let file = dir.join("block.flow");
            std::fs::write(&file, &b.code).expect("write block");
            let errors = check_errors(&file);
            match kind {
                "fragment" => {
                    fragments += 1;
                    let syntax: Vec<_> = errors
                        .iter()
                        .filter(|(c, _)| c.starts_with("E01"))
                        .collect();
                    if !syntax.is_empty() {
                        problems.push(format!(
                            "{}: a fragment that does not parse: {syntax:?}",
                            b.at
                        ));
                    }
                }
                "" | "run" => {
                    complete += 1;
                    if !errors.is_empty() {
                        problems.push(format!(
                            "{}: errors in a complete program (mark a piece of a program ```flow,fragment): {errors:?}",
                            b.at
                        ));
                    } else if kind == "run" {
                        ran += 1;
                        copy_tree(&root().join("examples/tools"), &dir.join("tools"));
                        copy_tree(&root().join("examples/data"), &dir.join("data"));
                        let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
                            .arg("run")
                            .arg(&file)
                            .arg("--quiet")
                            .args(args.split_whitespace())
                            .current_dir(&dir)
                            .env("NO_COLOR", "1")
                            .env("FLOWC_STORE", common::test_store())
                            .output()
                            .expect("flowc runs");
                        if !out.status.success() {
                            problems.push(format!(
                                "{}: `flowc run` failed ({}):\n{}",
                                b.at,
                                out.status,
                                String::from_utf8_lossy(&out.stderr)
                            ));
                        }
                    }
                }
                other => problems.push(format!(
                    "{}: unknown kind `{other}` (```flow, ```flow,run ARGS or ```flow,fragment)",
                    b.at
                )),
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The rule is in force: the first flow of docs/language.md runs.
    assert!(
        complete >= 1 && ran >= 1 && fragments >= 1,
        "blocks: {complete} complete, {ran} run, {fragments} fragments"
    );
}

#[test]
fn every_example_of_the_diagnostics_page_reports_its_code() {
    let text = std::fs::read_to_string(root().join("docs/diagnostics.md")).expect("diagnostics.md");
    // The code each block belongs to: the `## CODE` heading above it.
    let mut headings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(code) = line.strip_prefix("## ") {
            headings.push((i + 1, code.trim().to_string()));
        }
    }
    let mut problems = Vec::new();
    let mut checked = 0;
    for b in flow_blocks("docs/diagnostics.md") {
        let line: usize =
            b.at.rsplit(':')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a line");
        let code = headings
            .iter()
            .rev()
            .find(|(l, _)| *l < line)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("{}: no `## CODE` heading above", b.at));
        if b.code.contains("...") || b.code.contains("import \"") {
            continue;
        }
        let dir = common::tempdir("diag");
        let file = dir.join("example.flow");
        std::fs::write(&file, &b.code).expect("write example");
        let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["check", "--format", "json"])
            .arg(&file)
            .output()
            .expect("flowc runs");
        let codes: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|d| d["code"].as_str().map(String::from))
            .collect();
        checked += 1;
        if !codes.contains(&code) {
            problems.push(format!("{}: the example of {code} reports {codes:?}", b.at));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 40, "only {checked} examples were checked");
}

/// The repository's files: `git ls-files` in a clone, else every file under
/// the root outside `target/` and hidden folders.
fn repository_files() -> Vec<PathBuf> {
    let git = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root())
        .output();
    if let Ok(out) = git
        && out.status.success()
        && !out.stdout.is_empty()
    {
        return out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| root().join(String::from_utf8_lossy(p).as_ref()))
            .collect();
    }
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &mut out);
    out
}

/// The project's own docs are its reference: no file points a reader at a
/// design document that is not in the repository (its sections, or the file).
#[test]
fn no_file_cites_a_design_document_outside_the_repository() {
    // Spelled in pieces, so that this file does not match itself.
    let needles = [
        format!("{} {}", "SPEC", "§"),
        format!("{}.{}", "SPEC", "md"),
    ];
    let mut found = Vec::new();
    let files = repository_files();
    assert!(files.len() > 50, "only {} files found", files.len());
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if needles.iter().any(|n| line.contains(n.as_str())) {
                let rel = f.strip_prefix(root()).unwrap_or(&f);
                found.push(format!("{}:{}: {}", rel.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "cite the project's own docs (docs/*.md, README.md) instead:\n{}",
        found.join("\n")
    );
}
