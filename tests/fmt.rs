//! `flowc fmt`: golden pairs (`tests/fmt/NAME.in.flow` formats to
//! `NAME.out.flow`; `BLESS=1 cargo test --test fmt` rewrites them), the
//! properties every formatted file keeps (idempotent, the same syntax tree
//! spans aside, the same comments) over the examples, the stdlib, the
//! editors' samples, the passing UI cases and generated programs, and the
//! command line: stdin, files rewritten in place, `--check`'s diff and exit
//! codes, files that do not parse or cannot be read.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use common::flow_files;
use flowc::fmt::format_source;
use flowc::syntax::ast::{CommentKind, Module};
use flowc::syntax::parse;
use flowc::syntax::span::FileId;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn flowc(args: &[&str], dir: &Path, stdin: Option<&str>) -> (String, String, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc starts");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .expect("stdin written");
    }
    let out = child.wait_with_output().expect("flowc ends");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

// ---------------------------------------------------------------- properties

static SPAN: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"Span \{ file: FileId\(\d+\), start: \d+, end: \d+ \}").expect("regex")
});

/// The syntax tree's items as text, spans erased.
fn tree(m: &Module) -> String {
    SPAN.replace_all(&format!("{:?}", m.items), "Span")
        .replace(", ", ",\n")
}

/// The comments of a file, as written again (line comments without trailing
/// blanks), sorted: what must survive formatting.
fn comments(m: &Module) -> Vec<String> {
    let mut c: Vec<String> = m
        .comments
        .iter()
        .map(|c| match c.kind {
            CommentKind::Block => c.text.replace("\r\n", "\n"),
            _ => c.text.trim_end().to_string(),
        })
        .collect();
    c.sort();
    c
}

/// Formats `src` and checks what formatting keeps; returns the output.
fn formats_well(name: &str, src: &str) -> Result<String, String> {
    let (before, diags) = parse(FileId(0), src);
    if !diags.is_empty() {
        return Err(format!("{name}: does not parse: {diags:?}"));
    }
    let once = format_source(src).map_err(|d| format!("{name}: not formatted: {d:?}"))?;
    let (after, diags) = parse(FileId(0), &once);
    if !diags.is_empty() {
        return Err(format!(
            "{name}: the formatted text does not parse: {diags:?}\n{once}"
        ));
    }
    let (tb, ta) = (tree(&before), tree(&after));
    if tb != ta {
        return Err(format!(
            "{name}: formatting changed the syntax tree\n{}\n--- formatted:\n{once}",
            flowc::fmt::diff::unified("tree", &tb, &ta)
        ));
    }
    let (cb, ca) = (comments(&before), comments(&after));
    if cb != ca {
        return Err(format!(
            "{name}: comments changed ({} before, {} after)\nbefore: {cb:?}\nafter: {ca:?}\n--- formatted:\n{once}",
            cb.len(),
            ca.len()
        ));
    }
    let twice = format_source(&once).map_err(|d| format!("{name}: second pass: {d:?}"))?;
    if twice != once {
        return Err(format!(
            "{name}: not idempotent\n--- once:\n{once}\n{}",
            flowc::fmt::diff::unified("once -> twice", &once, &twice)
        ));
    }
    Ok(once)
}

/// Every `.flow` file that should format: examples, stdlib, the golden
/// inputs, the UI cases that check clean, and every other UI case, test
/// file and editors' sample that parses (the others hold syntax errors on
/// purpose).
fn corpus() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in ["examples", "stdlib", "tests/fmt", "tests/ui/pass"] {
        flow_files(&root().join(d), &mut files);
    }
    // The other UI cases and test data that parse (their errors are later
    // ones: names, types), and the editors' samples that parse.
    let mut more = Vec::new();
    for d in ["tests/ui", "tests/data", "tests/run", "editors"] {
        flow_files(&root().join(d), &mut more);
    }
    let more: Vec<PathBuf> = more
        .into_iter()
        .filter(|f| {
            let src = std::fs::read_to_string(f).expect("readable");
            !files.contains(f) && parse(FileId(0), &src).1.is_empty()
        })
        .collect();
    files.extend(more);
    files
}

#[test]
fn every_corpus_file_formats_idempotently_to_the_same_tree_and_comments() {
    let files = corpus();
    assert!(files.len() > 20, "the corpus is too small: {files:?}");
    let mut failures = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).expect("readable");
        if let Err(e) = formats_well(&f.display().to_string(), &src) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn examples_and_stdlib_are_formatted() {
    let mut files = Vec::new();
    for d in ["examples", "stdlib"] {
        flow_files(&root().join(d), &mut files);
    }
    let unformatted: Vec<String> = files
        .iter()
        .filter(|f| {
            let src = std::fs::read_to_string(f).expect("readable");
            format_source(&src).ok().as_deref() != Some(src.as_str())
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        unformatted.is_empty(),
        "not formatted (run `flowc fmt` on them): {unformatted:?}"
    );
}

#[test]
fn the_annotated_files_of_tests_run_are_formatted() {
    // One keeps its layout: the layout is what it tests.
    let keeps_its_layout = "loop_max_and_until_on_lines_of_their_own.flow";
    let mut files = Vec::new();
    flow_files(&root().join("tests/run"), &mut files);
    assert!(files.len() > 20, "too few files under tests/run: {files:?}");
    let unformatted: Vec<String> = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n != keeps_its_layout))
        .filter(|f| {
            let src = std::fs::read_to_string(f).expect("readable");
            format_source(&src).ok().as_deref() != Some(src.as_str())
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        unformatted.is_empty(),
        "not formatted (run `flowc fmt` on them): {unformatted:?}"
    );
}

// ---------------------------------------------------------------- golden pairs

#[test]
fn golden_pairs() {
    let bless = std::env::var_os("BLESS").is_some();
    let dir = root().join("tests/fmt");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fmt exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".in.flow"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "golden inputs missing: {inputs:?}");
    let mut failures = Vec::new();
    for input in &inputs {
        let src = std::fs::read_to_string(input).expect("readable");
        let name = input.display().to_string();
        let expected_path = PathBuf::from(name.replace(".in.flow", ".out.flow"));
        let got = match formats_well(&name, &src) {
            Ok(s) => s,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        if bless {
            std::fs::write(&expected_path, &got).expect("writable");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!(
                "{name}: output differs from {}\n{}",
                expected_path.display(),
                flowc::fmt::diff::unified("expected", &expected, &got)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------- generated programs

/// Layout between tokens where a newline is allowed: nothing, spaces, a
/// newline, a block comment or a line comment.
fn gap() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(" ".to_string()),
        2 => Just("\n  ".to_string()),
        1 => Just(" /* b */ ".to_string()),
        1 => Just(" // l\n".to_string()),
        1 => Just("\n\n   ".to_string()),
    ]
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..1000).prop_map(|n| n.to_string()),
        Just("1.5".to_string()),
        Just("30s".to_string()),
        Just("a".to_string()),
        Just("b.c[0]".to_string()),
        Just("xs[*].name".to_string()),
        Just("a_rather_long_name_to_fill_the_line".to_string()),
        Just("\"text\"".to_string()),
        Just("\"n = {a + 1} and {b.c}\"".to_string()),
        Just("/ab+c/i".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("-a".to_string()),
        Just("!ok".to_string()),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "*", "++", "==", "&&", "??", "catch", "-", "~"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
            (
                prop::collection::vec((inner.clone(), gap()), 0..5),
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(|(args, named, opts)| {
                    let args: Vec<String> = args
                        .into_iter()
                        .enumerate()
                        .map(|(i, (a, g))| {
                            if named {
                                format!("{g}k{i}: {a}")
                            } else {
                                format!("{g}{a}")
                            }
                        })
                        .collect();
                    let w = if opts {
                        " with { timeout: 5s, retry: 2 }"
                    } else {
                        ""
                    };
                    format!("tool_call({}){w}", args.join(","))
                }),
            (
                prop::collection::vec((inner.clone(), gap()), 0..5),
                any::<bool>()
            )
                .prop_map(|(xs, trailing)| {
                    let xs: Vec<String> = xs.into_iter().map(|(x, g)| format!("{g}{x}")).collect();
                    let t = if trailing && !xs.is_empty() { "," } else { "" };
                    format!("[{}{t}]", xs.join(","))
                }),
            (
                prop::collection::vec((inner.clone(), gap()), 0..5),
                (gap(), gap())
            )
                .prop_map(|(fs, (g1, g2))| {
                    let fs: Vec<String> = fs
                        .into_iter()
                        .enumerate()
                        .map(|(i, (x, g))| format!("{g}f{i}: {x}"))
                        .collect();
                    format!("{{{g1}{}{g2}}}", fs.join(","))
                }),
            (inner.clone(), inner.clone(), inner.clone(), gap())
                .prop_map(|(c, a, b, g)| format!("if {c} {{{g}{a}\n}} else {{ {b} }}")),
            (inner.clone(), inner.clone(), gap())
                .prop_map(|(xs, body, g)| format!("for x in {xs} {{{g}let y = {body}\n y }}")),
            (inner.clone(), inner.clone(), gap())
                .prop_map(|(a, b, g)| format!("parallel {{ p = {a};{g}q = {b} }}")),
            (inner.clone(), inner.clone())
                .prop_map(|(s, a)| format!("match {s} {{ \"x\" | \"y\" => {a}, _ => null }}")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("try {{ {a} }} catch e {{ {b} }}")),
            (inner.clone(), gap()).prop_map(|(a, g)| format!(
                "decide \"which?\" with {{ a }} {{{g}yes => {a}\n else => null }}"
            )),
            inner.clone().prop_map(|a| format!("({a}).field")),
        ]
    })
}

/// A type, with layout between its parts.
fn type_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("int".to_string()),
        Just("string".to_string()),
        Just("json".to_string()),
        Just("null".to_string()),
        Just("\"low\"".to_string()),
        Just("ops.Anomaly".to_string()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| format!("[{t}]")),
            inner.clone().prop_map(|t| format!("({t})?")),
            (inner.clone(), inner.clone(), gap()).prop_map(|(a, b, g)| format!("{a} |{g}{b}")),
            (
                prop::collection::vec((inner.clone(), gap(), any::<bool>()), 0..4),
                gap()
            )
                .prop_map(|(fs, g0)| {
                    let fs: Vec<String> = fs
                        .into_iter()
                        .enumerate()
                        .map(|(i, (t, g, opt))| {
                            format!("{g}field_{i}{}: {t}", if opt { "?" } else { "" })
                        })
                        .collect();
                    format!("{{{g0}{}}}", fs.join(","))
                }),
        ]
    })
}

/// Declarations around the generated flow.
fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        type_expr().prop_map(|t| format!("type T = {t}")),
        (type_expr(), gap(), gap(), any::<bool>()).prop_map(|(t, g, g2, opts)| {
            let w = if opts {
                " // b\n    with { timeout: 10s,\n retry: 2 }"
            } else {
                ""
            };
            format!("tool other(x: {t},{g}y: int = 2) -> {t}{g2}= exec [\"a\",{g}\"b\"]{w}")
        }),
        (gap(), any::<bool>()).prop_map(|(g, ret)| {
            let r = if ret { " -> int" } else { "" };
            format!("flow with_options(){r}{g}with {{ timeout: 1s }}{g}{{ 1 }}")
        }),
        expr().prop_map(|e| format!("const C = {e}")),
        (expr(), gap()).prop_map(|(e, g)| {
            format!("test \"t\" {{{g}mock ops.sleep = {{ ms: 0 }}\n  assert {e}\n}}")
        }),
        Just("import std.ops".to_string()),
        Just("/// A doc comment.\nflow helper() -> int { 1 }".to_string()),
    ]
}

fn program() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((expr(), gap(), any::<bool>()), 1..6),
        prop::collection::vec((item(), gap()), 0..3),
    )
        .prop_map(|(stmts, items)| {
            let mut body = String::new();
            for (i, (e, g, tail)) in stmts.iter().enumerate() {
                body.push_str(g.trim_end_matches(' '));
                if *tail {
                    body.push_str(&format!("\n    let v{i} = {e} // after {i}\n"));
                } else {
                    body.push_str(&format!("\n    let v{i} = {e} after a\n"));
                }
            }
            let mut items_text = String::new();
            for (it, g) in items {
                items_text.push_str(&it);
                items_text.push_str(if g.contains('\n') { "\n\n" } else { "\n" });
            }
            format!(
                "// generated\ntool tool_call(k0: int = 1) -> json = exec [\"true\"]\n{items_text}\nflow main(a: int, b: json = null) -> json {{{body}    null\n}}\n"
            )
        })
}

#[test]
fn generated_programs_format_idempotently_to_the_same_tree_and_comments() {
    let cases = std::env::var("FLOWC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let parsed = std::cell::Cell::new(0usize);
    let result = runner.run(&program(), |src| {
        if !parse(FileId(0), &src).1.is_empty() {
            return Ok(());
        }
        parsed.set(parsed.get() + 1);
        formats_well("generated", &src)
            .map_err(|e| TestCaseError::fail(format!("{e}\n--- source:\n{src}")))?;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        parsed.get() * 2 > cases as usize,
        "only {} of {cases} generated programs parse: the generator is off",
        parsed.get()
    );
}

// ---------------------------------------------------------------- the command

const UNFORMATTED: &str = "flow main()->int{ 1+2 }\n";
const FORMATTED: &str = "flow main() -> int {\n    1 + 2\n}\n";

#[test]
fn stdin_is_formatted_to_stdout() {
    let dir = common::tempdir("fmt-stdin");
    let (out, err, code) = flowc(&["fmt"], &dir, Some(UNFORMATTED));
    assert_eq!((out.as_str(), err.as_str(), code), (FORMATTED, "", 0));
    // Already formatted: the same text back.
    let (out, _, code) = flowc(&["fmt"], &dir, Some(FORMATTED));
    assert_eq!((out.as_str(), code), (FORMATTED, 0));
}

#[test]
fn stdin_check_prints_a_diff_and_fails() {
    let dir = common::tempdir("fmt-stdin-check");
    let (out, _, code) = flowc(&["fmt", "--check"], &dir, Some(UNFORMATTED));
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "--- <stdin>\n+++ <stdin>\n@@ -1,1 +1,3 @@\n-flow main()->int{ 1+2 }\n+flow main() -> int {\n+    1 + 2\n+}\n"
    );
    let (out, _, code) = flowc(&["fmt", "--check"], &dir, Some(FORMATTED));
    assert_eq!((out.as_str(), code), ("", 0));
}

#[test]
fn files_are_rewritten_in_place_only_when_they_change() {
    let dir = common::tempdir("fmt-files");
    std::fs::write(dir.join("a.flow"), UNFORMATTED).expect("write");
    std::fs::write(dir.join("b.flow"), FORMATTED).expect("write");
    // b.flow is formatted already: it is not written (its time stays).
    let b = dir.join("b.flow");
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(&b)
        .and_then(|f| f.set_modified(old))
        .expect("set mtime");
    let (out, err, code) = flowc(&["fmt", "a.flow", "b.flow"], &dir, None);
    assert_eq!((out.as_str(), err.as_str(), code), ("", "", 0));
    assert_eq!(
        std::fs::read_to_string(dir.join("a.flow")).unwrap(),
        FORMATTED
    );
    assert_eq!(std::fs::read_to_string(&b).unwrap(), FORMATTED);
    assert_eq!(
        std::fs::metadata(&b).and_then(|m| m.modified()).unwrap(),
        old
    );
}

#[test]
fn check_prints_a_diff_with_file_names_and_exits_1() {
    let dir = common::tempdir("fmt-check");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("sub/a.flow"), UNFORMATTED).expect("write");
    std::fs::write(dir.join("sub/b.flow"), FORMATTED).expect("write");
    let (out, err, code) = flowc(&["fmt", "--check", "sub"], &dir, None);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        out,
        "--- sub/a.flow\n+++ sub/a.flow\n@@ -1,1 +1,3 @@\n-flow main()->int{ 1+2 }\n+flow main() -> int {\n+    1 + 2\n+}\n"
    );
    assert_eq!(err, "1 file is not formatted (`flowc fmt` rewrites it)\n");
    // Nothing was written.
    assert_eq!(
        std::fs::read_to_string(dir.join("sub/a.flow")).unwrap(),
        UNFORMATTED
    );
    // Formatted: no output, exit 0.
    let (out, err, code) = flowc(&["fmt", "--check", "sub/b.flow"], &dir, None);
    assert_eq!((out.as_str(), err.as_str(), code), ("", "", 0));
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_left_alone() {
    let dir = common::tempdir("fmt-bad");
    let bad = "flow main() -> int {\n    let = 1\n}\n";
    std::fs::write(dir.join("bad.flow"), bad).expect("write");
    std::fs::write(dir.join("good.flow"), UNFORMATTED).expect("write");
    let (out, err, code) = flowc(&["fmt", "bad.flow", "good.flow"], &dir, None);
    assert_eq!((out.as_str(), code), ("", 1));
    assert!(err.contains("[E0101] Error"), "{err}");
    assert!(err.contains("bad.flow:2:"), "{err}");
    assert!(
        err.contains("error: `bad.flow` is not formatted: it does not parse"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(dir.join("bad.flow")).unwrap(), bad);
    // The other file is formatted all the same.
    assert_eq!(
        std::fs::read_to_string(dir.join("good.flow")).unwrap(),
        FORMATTED
    );
    // From stdin: the diagnostics, no output, exit 1.
    let (out, err, code) = flowc(&["fmt"], &dir, Some(bad));
    assert_eq!((out.as_str(), code), ("", 1));
    assert!(err.contains("<stdin>:2:"), "{err}");
}

#[test]
fn an_unreadable_file_exits_2() {
    let dir = common::tempdir("fmt-missing");
    let (out, err, code) = flowc(&["fmt", "missing.flow"], &dir, None);
    assert_eq!((out.as_str(), code), ("", 2));
    assert!(
        err.starts_with("error: cannot read `missing.flow`"),
        "{err}"
    );
    std::fs::create_dir_all(dir.join("empty")).expect("mkdir");
    let (_, err, code) = flowc(&["fmt", "--check", "empty"], &dir, None);
    assert_eq!(code, 2);
    assert!(err.contains("no `.flow` files in `empty`"), "{err}");
}

/// The deepest trees the parser accepts format (the binary recurses on a
/// large stack, as it does to check them).
#[test]
fn the_deepest_accepted_trees_format() {
    let dir = common::tempdir("fmt-deep");
    let chain = format!("flow main() -> int {{\n    1{}\n}}\n", " + 1".repeat(900));
    let nested = format!(
        "flow main() -> json {{\n    {}1{}\n}}\n",
        "[".repeat(150),
        "]".repeat(150)
    );
    for src in [chain, nested] {
        let (out, err, code) = flowc(&["fmt"], &dir, Some(&src));
        assert_eq!(code, 0, "{err}");
        let (again, _, _) = flowc(&["fmt"], &dir, Some(&out));
        assert_eq!(again, out);
    }
}

/// The examples of docs/style.md are what `flowc fmt` prints.
#[test]
fn the_style_guide_examples_are_formatted() {
    let text = std::fs::read_to_string(root().join("docs/style.md")).expect("docs/style.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.starts_with("```flow") => current = Some(String::new()),
            Some(code) if line == "```" => {
                blocks.push(std::mem::take(code));
                current = None;
            }
            Some(code) => {
                code.push_str(line);
                code.push('\n');
            }
            None => {}
        }
    }
    assert!(blocks.len() >= 4, "{blocks:?}");
    for b in blocks {
        let formatted = format_source(&b).expect("a block that parses");
        assert_eq!(
            formatted, b,
            "docs/style.md has a block that is not formatted"
        );
    }
}

/// Corpus files with layout and comments inserted at random places: those
/// that still parse format idempotently to the same tree and comments.
#[test]
fn corpus_files_with_random_layout_and_comments_format_well() {
    let files: Vec<String> = corpus()
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("readable"))
        .collect();
    let cases = std::env::var("FLOWC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let tokens = prop::sample::select(vec![" ", "\n", "\n\n", " /* m */ ", " // m\n", "\t"]);
    let strategy = (
        0..files.len(),
        prop::collection::vec((any::<prop::sample::Index>(), tokens), 1..8),
    );
    let parsed = std::cell::Cell::new(0u32);
    let result = runner.run(&strategy, |(k, edits)| {
        let mut src = files[k].clone();
        for (at, tok) in edits {
            let mut i = at.index(src.len() + 1);
            while !src.is_char_boundary(i) {
                i -= 1;
            }
            src.insert_str(i, tok);
        }
        if !parse(FileId(0), &src).1.is_empty() {
            return Ok(());
        }
        parsed.set(parsed.get() + 1);
        formats_well("mutated", &src)
            .map_err(|e| TestCaseError::fail(format!("{e}\n--- source:\n{src}")))?;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("{} of {cases} mutated files parse", parsed.get());
    assert!(parsed.get() * 10 > cases, "too few mutated files parse");
}

/// Windows line ends and a byte-order mark: the output has `\n` line ends.
#[test]
fn crlf_input_gives_lf_output() {
    let src = "\u{feff}// bom\r\nflow main() -> int { // c\r\n\tlet x = 1\r\n\r\n\r\n\tx /* two\r\n lines */\r\n}\r\n";
    let out = formats_well("crlf", src).expect("formats");
    assert_eq!(
        out,
        "// bom\nflow main() -> int { // c\n    let x = 1\n\n    x /* two\n lines */\n}\n"
    );
}

/// The benchmark's generated program (every construct, 3,000 lines) formats
/// well, and the formatted program still checks clean.
#[test]
fn the_benchmark_program_formats_and_still_checks() {
    let out = Command::new("python3")
        .arg(root().join("bench/gen_program.py"))
        .args(["--lines", "3000"])
        .output()
        .expect("python3 runs bench/gen_program.py");
    assert!(out.status.success());
    let src = String::from_utf8(out.stdout).expect("utf-8");
    let formatted = formats_well("gen_program.py", &src).expect("formats");
    let dir = common::tempdir("fmt-bench");
    std::fs::write(dir.join("big.flow"), &formatted).expect("write");
    let (_, err, code) = flowc(&["check", "big.flow"], &dir, None);
    assert_eq!((err.as_str(), code), ("", 0));
}

/// The library function refuses a file that does not parse, with its
/// diagnostics (what a language server shows instead of formatting).
#[test]
fn format_source_returns_the_syntax_errors() {
    let errs = format_source("flow main() -> int {\n    let = 1\n}\n").expect_err("does not parse");
    assert!(!errs.is_empty());
    assert!(errs.iter().all(|d| d.code.starts_with("E01")), "{errs:?}");
    assert_eq!(format_source(""), Ok(String::new()));
}
