//! `flowc lsp` on large documents, driven over raw stdio by a client of this
//! file: a request sent while a large document is being checked is answered
//! before that check ends (from the last checked state), an edit during a check
//! means the older version's diagnostics are never published, and a document
//! over the size limit gets one diagnostic instead of a check. The order of the
//! server's messages is asserted, never a time.
//!
//! `measure_hover_and_completion_on_large_files` (ignored; run it with
//! `--ignored --nocapture`) prints the figures of docs/performance.md.
//! `FLOWC_BIN` runs them all against another build (an older one, a release).

mod common;

use common::lsp::{Server, is_publish, short};

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

const HEAD: &str = "type Detail = { score: float, note: string }\n\n\
                    tool lookup(id: string) -> Detail = exec [\"true\"]\n\n";

/// `n` flows of `let`s, calls, fields, `for` and `if` (the shape of the
/// 2,000-line file of tests/lsp/test_lsp.py): about 330 bytes each.
fn flows(from: usize, n: usize) -> String {
    let mut s = String::new();
    for i in from..from + n {
        s.push_str(&format!(
            "flow step{i}(id: string) -> float {{\n  \
               let detail = lookup(id: id)\n  \
               let note = detail.note ++ \"-{i}\"\n  \
               let n = len(note)\n  \
               let doubled = detail.score * 2.0\n  \
               let rows = for x in [1, 2, 3] {{ x * n }}\n  \
               if len(rows) > {i} {{ doubled }} else {{ detail.score }}\n\
             }}\n\n"
        ));
    }
    s
}

/// The (line, column) of the `nth` `needle` in `text`, `plus` bytes in (ASCII text).
fn pos(text: &str, needle: &str, nth: usize, plus: usize) -> (usize, usize) {
    let i = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle} #{nth} in the text"))
        .0
        + plus;
    let line = text[..i].matches('\n').count();
    let col = i - text[..i].rfind('\n').map_or(0, |n| n + 1);
    (line, col)
}

/// The server: `FLOWC_BIN`, else this build's `flowc`.
fn server_bin() -> std::path::PathBuf {
    std::env::var_os("FLOWC_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_flowc").into())
}

fn uri_in(dir: &Path, name: &str) -> String {
    format!("file://{}", dir.join(name).display())
}

/// A small document, checked; then the same with 1,500 flows more (about
/// 500 KB: a check of some seconds in a debug build). A hover on the small
/// part, sent right after that change, is answered — from the small
/// document's check — before the large version's diagnostics are published.
#[test]
fn a_hover_during_a_check_is_answered_before_that_check_ends() {
    let dir = common::tempdir("lsp-hover-during-check");
    let uri = uri_in(&dir, "big.flow");
    let small = format!("{HEAD}{}", flows(0, 5));
    let large = format!("{small}{}", flows(5, 1500));
    let mut s = Server::start(&server_bin());
    s.open(&uri, &small);
    assert_eq!(s.diagnostics(&uri, 1), Vec::<Value>::new());
    s.replace(&uri, 2, &large);
    let id = s.hover(&uri, pos(&small, "detail.score", 0, 1));
    let answer = s.response(id);
    let before: Vec<String> = s.seen.iter().map(short).collect();
    assert!(
        !s.seen.iter().any(|m| is_publish(m, &uri, 2)),
        "the hover was answered only after the check of version 2 ended: {before:#?}"
    );
    let text = answer["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("a hover: {answer}"));
    assert!(text.contains("detail: Detail"), "{text}");
    // The check of version 2 still ends, and is published.
    assert_eq!(s.diagnostics(&uri, 2), Vec::<Value>::new());
    s.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A large version with an error, then, while it is being checked (a hover
/// answered in the meantime shows it is under way), a small one with another
/// error: the small one's diagnostics are published, the large one's never.
#[test]
fn an_edit_during_a_check_means_the_older_versions_diagnostics_are_never_published() {
    let dir = common::tempdir("lsp-edit-during-check");
    let uri = uri_in(&dir, "big.flow");
    let small = format!("{HEAD}{}", flows(0, 5));
    let large = format!("{small}{}", flows(5, 1500)).replacen("detail.note ++", "detail.nte ++", 1);
    let fixed_but_one = small.replacen("len(note)", "len(nte)", 1);
    let mut s = Server::start(&server_bin());
    s.open(&uri, &small);
    assert_eq!(s.diagnostics(&uri, 1), Vec::<Value>::new());
    s.replace(&uri, 2, &large);
    let id = s.hover(&uri, pos(&small, "detail.score", 0, 1));
    s.response(id);
    s.replace(&uri, 3, &fixed_but_one);
    let diags = s.diagnostics(&uri, 3);
    let codes: Vec<&str> = diags.iter().filter_map(|d| d["code"].as_str()).collect();
    assert!(codes.contains(&"E0201"), "{diags:#?}");
    // One more version, checked and published after the second one was dropped.
    s.replace(&uri, 4, &small);
    assert_eq!(s.diagnostics(&uri, 4), Vec::<Value>::new());
    let seen = s.finish();
    let published: Vec<i64> = seen
        .iter()
        .filter(|m| m["method"] == "textDocument/publishDiagnostics")
        .filter_map(|m| m["params"]["version"].as_i64())
        .collect();
    assert_eq!(published, [1, 3, 4], "the versions published");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A document of 16 MiB and one byte: one diagnostic on its first line says
/// it is over the limit and not checked; requests about it are still answered,
/// and once it is small again it is checked.
#[test]
fn a_document_over_the_size_limit_gets_a_diagnostic_instead_of_a_check() {
    let dir = common::tempdir("lsp-oversize");
    let uri = uri_in(&dir, "huge.flow");
    let mut huge = format!("{HEAD}{}", flows(0, 1));
    let one = flows(1, 1);
    while huge.len() + one.len() <= 16 << 20 {
        huge.push_str(&one);
    }
    while huge.len() <= 16 << 20 {
        huge.push('\n');
    }
    assert_eq!(huge.len(), (16 << 20) + 1);
    let mut s = Server::start(&server_bin());
    s.open(&uri, &huge);
    let diags = s.diagnostics(&uri, 1);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    assert_eq!(
        d["message"],
        "this document is not checked: it is 16,777,217 bytes, over the 16 MiB limit for \
         source files; split it into files that import each other"
    );
    assert_eq!(d["severity"], 1);
    assert_eq!(d["range"]["start"], json!({ "line": 0, "character": 0 }));
    assert_eq!(d["range"]["end"]["line"], 0);
    let id = s.hover(&uri, pos(&huge, "detail.score", 0, 1));
    assert_eq!(s.response(id)["result"], Value::Null);
    let id = s.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert_eq!(s.response(id)["result"], json!([]));
    let small = format!("{HEAD}{}", flows(0, 2)).replacen("len(note)", "len(nte)", 1);
    s.replace(&uri, 2, &small);
    // Checked again: its unknown name is found (and the binding it no
    // longer reads is unused), nothing about its size.
    let diags = s.diagnostics(&uri, 2);
    let mut codes: Vec<&str> = diags.iter().filter_map(|d| d["code"].as_str()).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["E0201", "W0001"], "{diags:#?}");
    s.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The server's peak resident memory, from /proc.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The figures of docs/performance.md ("Language server: large files"):
/// for programs of `bench/gen_program.py` (sizes in `FLOWC_LSP_BENCH_LINES`,
/// lines, comma-separated), the server in `FLOWC_BIN` (default: this
/// build's) opens the file, gets five edits as typed (one space each, back to
/// back), and is asked a hover and a completion right after them (while they
/// are checked) and again once the last edit's diagnostics are in. Prints
/// each time; asserts only that everything is answered. With
/// `FLOWC_LSP_BENCH_WARN=1`, every flow has two warnings (W0004, each with a
/// second label): diagnostics to convert.
#[test]
#[ignore = "a measurement: cargo test --release --test lsp_large -- --ignored --nocapture"]
fn measure_hover_and_completion_on_large_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = server_bin();
    let sizes =
        std::env::var("FLOWC_LSP_BENCH_LINES").unwrap_or_else(|_| "23000,116000,1150000".into());
    let dir = common::tempdir("lsp-bench");
    println!("server: {}", bin.display());
    for lines in sizes
        .split(',')
        .map(|n| n.trim().parse::<usize>().expect("a number of lines"))
    {
        let out = Command::new("python3")
            .arg(root.join("bench/gen_program.py"))
            .args(["--lines", &lines.to_string(), "--seed", "1"])
            .output()
            .expect("python3 runs bench/gen_program.py");
        assert!(out.status.success());
        let mut text = String::from_utf8(out.stdout).expect("UTF-8");
        if std::env::var_os("FLOWC_LSP_BENCH_WARN").is_some() {
            text = text.replace(r#"_ => "other" }"#, r#"_ => "other", "cpu" => "again" }"#);
        }
        let uri = uri_in(&dir, &format!("gen-{lines}.flow"));
        let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
        let mut s = Server::start(&bin);
        let pid = s.child.id();
        let t = Instant::now();
        s.open(&uri, &text);
        let first = s.diagnostics(&uri, 1);
        let first_ms = ms(t);
        // The middle flow: edits on one line, questions on the next.
        let flows = text.matches("    let total = d + len(ids)").count();
        let edit = pos(&text, "    let total = d + len(ids)", flows / 2, 15);
        let name = pos(&text, "    let ids = detail.rows", flows / 2, 15);
        let dot = pos(&text, "    let ids = detail.rows", flows / 2, 21);
        let t = Instant::now();
        for version in 2..=6 {
            s.notify(
                "textDocument/didChange",
                json!({
                    "textDocument": { "uri": uri, "version": version },
                    "contentChanges": [{
                        "range": {
                            "start": { "line": edit.0, "character": edit.1 },
                            "end": { "line": edit.0, "character": edit.1 },
                        },
                        "text": " ",
                    }],
                }),
            );
        }
        let ask = |s: &mut Server, when: &str| {
            let t = Instant::now();
            let id = s.hover(&uri, name);
            let hover = s.response(id);
            let hover_ms = ms(t);
            let t = Instant::now();
            let id = s.request(
                "textDocument/completion",
                json!({ "textDocument": { "uri": uri }, "position": { "line": dot.0, "character": dot.1 } }),
            );
            let completion = s.response(id);
            let completion_ms = ms(t);
            let shown = hover["result"]["contents"]["value"]
                .as_str()
                .map_or("no hover".to_string(), |v| {
                    v.lines().nth(1).unwrap_or("").to_string()
                });
            let items = completion["result"].as_array().map_or(0, Vec::len);
            format!(
                "{when}: hover {hover_ms:.1} ms ({shown}), completion {completion_ms:.1} ms ({items} items)"
            )
        };
        let during = ask(&mut s, "after the edits");
        let last = s.diagnostics(&uri, 6);
        let edits_ms = ms(t);
        let after = ask(&mut s, "checked");
        println!(
            "{lines} lines, {:.2} MB: first diagnostics {first_ms:.0} ms ({} of them); \
             five edits' diagnostics {edits_ms:.0} ms after the first edit ({}); {during}; {after}; \
             peak RSS {:.0} MB",
            text.len() as f64 / 1e6,
            first.len(),
            last.len(),
            peak_rss_mb(pid),
        );
        s.finish();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
