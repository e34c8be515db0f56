//! `flowc test`: test blocks run with their mocks, asserts report both sides
//! and a diff, tests run in parallel without sharing mocks, the output and
//! exit codes are `cargo test`'s.

mod common;

use std::path::Path;

use common::{flowc, tempdir, text};
use serde_json::Value;

/// Writes `files` into a new folder.
fn folder(tag: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = tempdir(tag);
    for (name, src) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
        std::fs::write(p, src).expect("write");
    }
    dir
}

/// `flowc test ARGS` in `dir`: stdout (durations normalised), stderr, exit code.
fn test_in(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    let out = flowc(dir, &all);
    (
        normalise(&text(&out.stdout)),
        text(&out.stderr),
        out.status.code().unwrap_or(-1),
    )
}

/// `finished in 0.04s` → `finished in 0.00s`.
fn normalise(s: &str) -> String {
    s.lines()
        .map(|l| match l.find("; finished in ") {
            Some(i) => format!("{}; finished in 0.00s", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

const LOOKUP: &str = r#"tool lookup(id: string) -> { name: string, tags: [string] } = exec ["python3", "lookup.py"]

flow main(id: string) -> { name: string, tags: [string] } {
    lookup(id: id)
}
"#;

#[test]
fn passing_and_failing_tests_give_the_exact_report_and_exit_1() {
    let src = format!(
        r#"{LOOKUP}
test "passes" {{
    mock lookup = {{ name: "db", tags: ["a"] }}
    assert main(id: "x").name == "db"
}}

test "compares records" {{
    mock lookup = {{ name: "db", tags: ["a", "b"] }}
    assert main(id: "x") == {{ name: "db", tags: ["a", "c"] }}, "tags differ"
}}

test "not mocked" {{
    assert main(id: "x").name != ""
}}

test "a plain condition" {{
    mock lookup = {{ name: "db", tags: [] }}
    assert len(main(id: "x").tags) > 0 || false
}}
"#
    );
    let dir = folder("report", &[("t.flow", &src)]);
    let (stdout, stderr, code) = test_in(&dir, &["t.flow"]);
    let expected = r#"
running 4 tests
test passes ... ok
test compares records ... FAILED
test not mocked ... FAILED
test a plain condition ... FAILED

failures:

---- compares records ----
[assert] Error: assertion failed: `main(id: "x") == { name: "db", tags: ["a", "c"] }`
    ╭─[ t.flow:14:12 ]
    │
 14 │     assert main(id: "x") == { name: "db", tags: ["a", "c"] }, "tags differ"
    │            ────────────────────────┬────────────────────────  
    │                                    ╰────────────────────────── `==` is false here
    │ 
    │ Note 1: tags differ
    │ 
    │ Note 2: left:  {"name":"db","tags":["a","b"]}
    │ 
    │ Note 3: right: {"name":"db","tags":["a","c"]}
    │ 
    │ Note 4: diff (- left, + right):
    │           {
    │             "name": "db",
    │             "tags": [
    │               "a",
    │         -     "b"
    │         +     "c"
    │             ]
    │           }
────╯

---- not mocked ----
[tool_error] Error: step `test/assert/main/lookup` failed: tool `lookup` is not mocked in this test (a test starts no tool process and makes no network call)
   ╭─[ t.flow:4:5 ]
   │
 4 │     lookup(id: id)
   │     ───────┬──────  
   │            ╰──────── tool_error here
   │ 
   │ Help: add `mock lookup = …` to the test
───╯

---- a plain condition ----
[assert] Error: assertion failed: `len(main(id: "x").tags) > 0 || false`
    ╭─[ t.flow:23:12 ]
    │
 23 │     assert len(main(id: "x").tags) > 0 || false
    │            ──────────────────┬─────────────────  
    │                              ╰─────────────────── this is false
────╯

failures:
    compares records
    not mocked
    a plain condition

test result: 1 passed, 3 failed; finished in 0.00s
"#;
    assert_eq!(stdout, expected, "stderr:\n{stderr}");
    assert_eq!(code, 1);
    assert_eq!(stderr, "");
}

#[test]
fn all_passing_exits_0() {
    let src = format!(
        "{LOOKUP}\ntest \"one\" {{\n    mock lookup = {{ name: \"n\", tags: [] }}\n    assert main(id: \"x\").tags == []\n}}\n"
    );
    let dir = folder("pass", &[("t.flow", &src)]);
    let (stdout, _, code) = test_in(&dir, &[]);
    assert_eq!(
        stdout,
        "\nrunning 1 test\ntest one ... ok\n\ntest result: 1 passed, 0 failed; finished in 0.00s\n"
    );
    assert_eq!(code, 0);
}

#[test]
fn json_format_is_one_document_with_each_test() {
    let src = format!(
        r#"{LOOKUP}
test "ok" {{
    mock lookup = {{ name: "db", tags: [] }}
    assert main(id: "x").name == "db"
}}
test "bad" {{
    mock lookup = {{ name: "db", tags: [] }}
    assert main(id: "x").name ~ /^web/, "a web server"
}}
"#
    );
    let dir = folder("json", &[("t.flow", &src)]);
    let (stdout, _, code) = test_in(&dir, &["--format", "json", "t.flow"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(v["passed"], 1);
    assert_eq!(v["failed"], 1);
    let tests = v["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 2);
    assert_eq!(tests[0]["name"], "ok");
    assert_eq!(tests[0]["status"], "ok");
    assert_eq!(tests[0]["file"], "t.flow");
    assert!(tests[0]["duration_ms"].as_f64().is_some());
    assert_eq!(tests[0]["failures"], serde_json::json!([]));
    let f = &tests[1]["failures"][0];
    assert_eq!(tests[1]["status"], "failed");
    assert_eq!(f["kind"], "assert");
    assert_eq!(f["expression"], "main(id: \"x\").name ~ /^web/");
    assert_eq!(f["note"], "a web server");
    assert_eq!(f["op"], "~");
    assert_eq!(f["left"], "db");
    assert_eq!(f["right"], "/^web/");
    assert_eq!(
        (f["line"].clone(), f["column"].clone()),
        (13.into(), 12.into())
    );
}

#[test]
fn filter_runs_the_tests_whose_name_contains_the_text() {
    let src = "test \"alpha one\" { assert true }\ntest \"beta\" { assert false }\ntest \"alpha two\" { assert 1 < 2 }\n";
    let dir = folder("filter", &[("t.flow", src)]);
    let (stdout, _, code) = test_in(&dir, &["--filter", "alpha"]);
    assert_eq!(
        stdout,
        "\nrunning 2 tests\ntest alpha one ... ok\ntest alpha two ... ok\n\ntest result: 2 passed, 0 failed; finished in 0.00s\n"
    );
    assert_eq!(code, 0);
}

#[test]
fn a_mock_of_the_wrong_type_is_a_check_error_and_no_test_runs() {
    let src = format!(
        "{LOOKUP}\ntest \"typed\" {{\n    mock lookup = {{ name: 3, tags: [] }}\n    assert true\n}}\n"
    );
    let dir = folder("mocktype", &[("t.flow", &src)]);
    let (stdout, stderr, code) = test_in(&dir, &["t.flow"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("[E0301] Error: mismatched types: expected `{ name: string, tags: [string] }`, found `{ name: int, tags: [] }`"), "{stderr}");
    assert!(stderr.contains("(the mocked result)"), "{stderr}");
    assert!(
        stderr.contains("error: `t.flow` has check errors; its tests did not run"),
        "{stderr}"
    );
    assert!(stdout.contains("running 0 tests"), "{stdout}");
}

#[test]
fn a_mock_of_no_tool_is_a_check_error() {
    let src = format!("{LOOKUP}\ntest \"t\" {{\n    mock lokup = {{}}\n    assert true\n}}\n");
    let dir = folder("mockname", &[("t.flow", &src)]);
    let (_, stderr, code) = test_in(&dir, &["t.flow"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("[E0202] Error: unknown tool or flow `lokup`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `lookup`?"), "{stderr}");
}

/// `mock lookup(id: "a") = …`: only the calls with those arguments.
const KEYED: &str = r#"tool owner(id: string, deep: bool = false) -> { who: string } = exec ["python3", "owner.py"]

flow owners(ids: [string]) -> [string] {
    for id in ids { owner(id: id).who }
}

test "each id gets its own mock, the first that matches" {
    mock owner(id: "a") = { who: "ana" }
    mock owner(id: "b", deep: true) = { who: "deep bo" }
    mock owner(id: "b") = { who: "bo" }
    mock owner(id: "x") = fail("no such id")
    mock owner = { who: "nobody" }
    assert owners(ids: ["a", "b", "c"]) == ["ana", "bo", "nobody"]
    assert owner(id: "b", deep: true).who == "deep bo"
    assert (owner(id: "x").who catch "failed") == "failed"
}

test "a call no keyed mock matches is refused" {
    mock owner(id: "a") = { who: "ana" }
    assert owners(ids: ["a", "z"]) == ["ana", "?"]
}
"#;

#[test]
fn mocks_keyed_by_arguments_answer_their_calls() {
    let dir = folder("keyed", &[("k.flow", KEYED)]);
    let (stdout, _, code) = test_in(&dir, &["k.flow"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("test each id gets its own mock, the first that matches ... ok"),
        "{stdout}"
    );
    assert!(
        stdout.contains("test a call no keyed mock matches is refused ... FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            r#"no `mock owner(…)` of this test matches this call's arguments {"id":"z"}"#
        ),
        "{stdout}"
    );
    // What a keyed mock takes is checked like a call's arguments.
    let bad = format!(
        "{LOOKUP}\ntest \"t\" {{\n    let who = \"a\"\n    mock lookup(idd: \"a\") = {{ name: \"n\", tags: [] }}\n    mock lookup(id: 1) = {{ name: \"n\", tags: [] }}\n    mock lookup(id: who) = {{ name: \"n\", tags: [] }}\n    mock lookup(\"a\") = {{ name: \"n\", tags: [] }}\n    mock llm(\"x\") = \"yes\"\n    assert true\n}}\n"
    );
    let dir = folder("keyedbad", &[("t.flow", &bad)]);
    let (_, stderr, code) = test_in(&dir, &["t.flow"]);
    assert_eq!(code, 1);
    for want in [
        "[E0303] Error: `lookup` has no parameter `idd`",
        "[E0301] Error: mismatched types: expected `string`, found `int`",
        "[E0512] Error: a mock's value cannot use `who`, a `let` of the test",
        "[E0305] Error: arguments to `lookup` must be named",
        "[E0510] Error: a `mock` with arguments is only allowed in mocks of tools and flows",
    ] {
        assert!(stderr.contains(want), "{want}\n{stderr}");
    }
}

#[test]
fn unreadable_input_exits_2() {
    let dir = tempdir("missing");
    let (_, stderr, code) = test_in(&dir, &["nowhere.flow"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read `nowhere.flow`"), "{stderr}");
}

/// Fifty tests mock the same tool with fifty values and wait in between, so
/// that they interleave; each sees its own, in every one of five runs.
#[test]
fn mocks_are_isolated_between_tests_running_at_once() {
    let mut src = String::from(
        r#"tool value() -> { n: int } = exec ["python3", "value.py"]
tool wait(ms: int) -> { ms: int } = builtin "sleep"

flow main() -> int {
    let before = wait(ms: 2)
    let v = value() after before
    let later = wait(ms: 3) after v
    v.n + later.ms - 3
}
"#,
    );
    for i in 0..50 {
        src.push_str(&format!(
            "\ntest \"t{i}\" {{\n    mock value = {{ n: {i} }}\n    assert main() == {i}\n}}\n"
        ));
    }
    let dir = folder("isolation", &[("t.flow", &src)]);
    for _ in 0..5 {
        let (stdout, _, code) = test_in(&dir, &["--jobs", "50"]);
        assert!(
            stdout.contains("test result: 50 passed, 0 failed"),
            "{stdout}"
        );
        assert_eq!(code, 0);
    }
}

#[test]
fn mock_llm_hands_out_a_list_in_order_and_fails_when_it_runs_out() {
    let src = r#"flow main() -> [string] {
    sequence {
        let a = decide "first?" {
            left => "L"
            right => "R"
        }
        let b = decide "second?" {
            left => "L"
            right => "R"
        }
        let c = decide "third?" {
            left => "L"
            right => "R"
        }
        [a, b, c]
    }
}

test "in order" {
    mock llm = ["right", "left", "right"]
    assert main() == ["R", "L", "R"]
}

test "by step" {
    mock llm = { a: "left", b: ["right"], c: "left" }
    assert main() == ["L", "R", "L"]
}

test "too few" {
    mock llm = ["left", "left"]
    assert main() == ["L", "L", "L"]
}

test "not mocked" {
    assert len(main()) == 3
}
"#;
    let dir = folder("llmlist", &[("t.flow", src)]);
    let (stdout, _, code) = test_in(&dir, &["--format", "json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&stdout).expect("JSON");
    let status: Vec<(&str, &str)> = v["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().expect("name"),
                t["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("in order", "ok"),
            ("by step", "ok"),
            ("too few", "failed"),
            ("not mocked", "failed")
        ]
    );
    let too_few = &v["tests"][2]["failures"][0];
    assert_eq!(too_few["kind"], "error");
    assert_eq!(too_few["error_kind"], "llm_error");
    assert!(
        too_few["message"]
            .as_str()
            .expect("message")
            .contains("`mock llm` has no answer left for the decision `c`"),
        "{too_few}"
    );
    assert!(
        v["tests"][3]["failures"][0]["message"]
            .as_str()
            .expect("message")
            .contains("the test mocks no LLM"),
        "{}",
        v["tests"][3]
    );
}

#[test]
fn a_refused_tool_fails_the_test_even_when_the_flow_catches_it() {
    let src = r#"tool t() -> { n: int } = http get "http://127.0.0.1:9/never"

flow main() -> int { t().n catch 0 }

test "caught" {
    assert main() == 0
}
"#;
    let dir = folder("caught", &[("t.flow", src)]);
    let (stdout, _, code) = test_in(&dir, &[]);
    assert_eq!(code, 1);
    assert!(stdout.contains("test caught ... FAILED"), "{stdout}");
    assert!(
        stdout.contains("[unmocked] Error: tool `t` is not mocked in this test"),
        "{stdout}"
    );
}

#[test]
fn mocked_failures_flows_and_builtin_tools() {
    let src = r#"import std.ops

tool fetch(id: string) -> { v: int } = exec ["python3", "fetch.py"]

flow helper(x: int) -> int { x * 2 }

flow main() -> { a: int, b: int, c: string } {
    let a = fetch(id: "1").v catch -1
    let b = helper(x: 5)
    let c = try { ops.echo(value: "hi").value } catch e { e.kind }
    { a, b, c: to_string(c) }
}

test "failure, flow and builtin" {
    mock fetch = fail("no such id")
    mock helper = 42
    assert main() == { a: -1, b: 42, c: "hi" }
}

test "a mocked built-in fails" {
    mock fetch = { v: 1 }
    mock ops.echo = fail("echo is down")
    let r = main()
    assert r.c == "tool_error" && r.b == 10 && r.a == 1
}
"#;
    let dir = folder("kinds", &[("t.flow", src)]);
    let (stdout, stderr, code) = test_in(&dir, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("test result: 2 passed, 0 failed"),
        "{stdout}"
    );
}

#[test]
fn a_file_with_check_errors_fails_and_the_others_still_run() {
    let dir = folder(
        "broken",
        &[
            ("a.flow", "test \"fine\" { assert true }\n"),
            ("b.flow", "test \"broken\" { assert nope }\n"),
        ],
    );
    let (stdout, stderr, code) = test_in(&dir, &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("[E0201] Error: unknown name `nope`"),
        "{stderr}"
    );
    assert!(stdout.contains("test fine ... ok"), "{stdout}");
    assert!(
        stdout.contains("test result: 1 passed, 0 failed"),
        "{stdout}"
    );
}

/// The examples test themselves with every Python tool mocked: `PATH` has no
/// `python3`, and no test fails.
#[test]
fn the_examples_pass_their_tests_without_python() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = common::command(root, &["test", "examples"])
        .env("PATH", "/nonexistent")
        .output()
        .expect("flowc runs");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    for f in std::fs::read_dir(root.join("examples")).expect("examples") {
        let name = f.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".flow") {
            assert!(
                stdout.contains(&format!("test examples/{name}: ")),
                "`{name}` has no test:\n{stdout}"
            );
        }
    }
}

/// The standard library's modules test themselves too.
#[test]
fn the_stdlib_modules_pass_their_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (stdout, stderr, code) = test_in(root, &["stdlib"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for m in ["anomalies", "ops", "triage"] {
        assert!(
            stdout.contains(&format!("test stdlib/std/{m}.flow: ")),
            "`std.{m}` has no test:\n{stdout}"
        );
    }
}

#[test]
fn a_test_that_takes_too_long_fails_with_a_timeout() {
    let src = r#"import std.ops

test "sleeps" {
    assert ops.sleep(ms: 20000).ms > 0
}

test "quick" {
    assert ops.sleep(ms: 1).ms == 1
}
"#;
    let dir = folder("timeout", &[("t.flow", src)]);
    let t0 = std::time::Instant::now();
    let (stdout, _, code) = test_in(&dir, &["--timeout", "300ms"]);
    assert_eq!(code, 1);
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(15),
        "{stdout}"
    );
    assert!(stdout.contains("test sleeps ... FAILED"), "{stdout}");
    assert!(stdout.contains("test quick ... ok"), "{stdout}");
    assert!(
        stdout.contains("[timeout] Error: the test did not finish within 300ms"),
        "{stdout}"
    );
    let (_, stderr, code) = test_in(&dir, &["--timeout", "soon"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`--timeout soon` is not a duration"),
        "{stderr}"
    );
}

/// A deadline (`within`) changes nothing in a test: `mock approve` answers at once.
#[test]
fn mock_approve_answers_an_approve_with_a_deadline() {
    let src = r#"flow gated(what: string) -> string {
    let ok = approve "Ship {what}?" with { what } within 1s
    if ok { "shipped" } else { "held" }
}

test "approved" {
    mock approve = true
    assert gated(what: "x") == "shipped"
}

test "rejected" {
    mock approve = false
    assert gated(what: "x") == "held"
}
"#;
    let dir = folder("mock-approve-within", &[("a.flow", src)]);
    let (out, _, code) = test_in(&dir, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 passed, 0 failed"), "{out}");
}

#[test]
fn mock_approve_answers_every_approve_or_each_in_order() {
    let src = r#"flow ask(n: int) -> bool { approve "step {n}?" }

flow two() -> [bool] { [ask(n: 1), ask(n: 2)] }

test "one answer for all" {
    mock approve = true
    assert two() == [true, true]
}

test "answers in order" {
    mock approve = [false, true]
    assert ask(n: 1) == false && ask(n: 2) == true
}

test "no answer mocked" {
    assert ask(n: 1)
}

test "too few answers" {
    mock approve = [true]
    assert two() == [true, true]
}
"#;
    let dir = folder("mock-approve", &[("a.flow", src)]);
    let (out, _, code) = test_in(&dir, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("test one answer for all ... ok"), "{out}");
    assert!(out.contains("test answers in order ... ok"), "{out}");
    assert!(out.contains("test no answer mocked ... FAILED"), "{out}");
    assert!(out.contains("add `mock approve = true`"), "{out}");
    assert!(out.contains("test too few answers ... FAILED"), "{out}");
    assert!(out.contains("`mock approve` has no answer left"), "{out}");
    assert!(out.contains("2 passed, 2 failed"), "{out}");

    let bad = "flow f() -> bool { approve \"x?\" }\ntest \"t\" {\n    mock approve = \"yes\"\n    assert f()\n}\n";
    let dir = folder("mock-approve-type", &[("a.flow", bad)]);
    let (out, err, code) = test_in(&dir, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("E0301") && err.contains("bool | [bool]"),
        "{err}"
    );
}
