//! `flowc run` end to end: semantics of every construct, ordering proved from
//! the run record, error isolation, retries, timeouts that kill process groups,
//! HTTP tools against a local server, the type check at the tool boundary, the
//! run record and the trace, and `flowc graph` snapshots.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

mod common;
use common::{run_flow, run_in, tempdir};

const TOOLS: &str = r#"
tool wait(ms: int) -> { ms: int } = builtin "sleep"
tool echo(value: json) -> { value: json } = builtin "echo"
tool boom(message: string) -> json = builtin "fail"
"#;

fn with_tools(body: &str) -> String {
    format!("{TOOLS}\n{body}")
}

#[test]
fn expressions_and_blocks_compute_their_values() {
    let src = with_tools(
        r#"
type Row = { id: int, status: string }
const LIMIT = 2
flow main(n: int = 3, name: string) -> json {
    let _w = wait(ms: 0)
    let rows: [Row] = [{ id: 1, status: "failed" }, { id: 2, status: "ok" }, { id: 3, status: "failed" }]
    let failed = jsonpath(rows, "$[?@.status=='failed'].id")
    let doubled = for r in rows with { max_concurrent: 2 } { r.id * 2 }
    let p = parallel { a = echo(value: 1).value; b = echo(value: "two").value }
    let merged = parallel merge { x = { k: { a: 1 } }; y = { k: { b: 2 } } }
    let cat = parallel concat { x = [1, 2]; y = [3] }
    let seq = sequence { let a = wait(ms: 1)
        let b = wait(ms: a.ms + 1)
        b.ms }
    let grown = loop s = { n: 0, sig: "" } max 10 until stable(s.sig) { { n: s.n + iteration, sig: to_string(min(s.n + iteration, 3)) } }
    let kind = match len(failed) { 0 => "none", 1 | 2 => "some", _ => "many" }
    let word = if n > LIMIT { "big" } else if n > 0 { "small" } else { "zero" }
    let opt = if n > 100 { "never" }
    let t = try { boom(message: "bad") } catch e { "{e.kind}: {e.message} ({e.attempts})" }
    let fallback = boom(message: "x") catch "fell back"
    let r = race { fast = wait(ms: 5).ms; slow = wait(ms: 2000).ms }
    {
        failed, doubled, p, merged, cat, seq, grown, kind, word, opt: opt ?? "none", t, fallback, r,
        ids: rows[*].id, first: rows[0].status, last: rows[-1].id, greeting: "hi {name}, {len(rows)} rows",
        math: [7 / 2, 7 % 2, 2.5 * 2, -n, 1 + 2 * 3], logic: [true && !false, "abc" ~ /B/i, "abc" !~ /^b/], coalesce: null ?? 5,
        strings: [upper(name), join(split("a,b", ","), "+"), trim("  x "), replace("aXa", "X", "-")],
        lists: [sum([1, 2, 3]), max([4, 9, 2]), len(unique([1, 1, 2])), avg([1, 2])],
        ctx: context.flow,
        caught_lits: [true catch false, false catch true], caught_null: null catch 1,
    }
}
"#,
    );
    let out = run_flow("values", &src, &[], &["--arg", "name=ana"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.result();
    assert_eq!(v["failed"], json!([1, 3]));
    assert_eq!(v["doubled"], json!([2, 4, 6]));
    assert_eq!(v["p"], json!({"a": 1, "b": "two"}));
    assert_eq!(v["merged"], json!({"k": {"a": 1, "b": 2}}));
    assert_eq!(v["cat"], json!([1, 2, 3]));
    assert_eq!(v["seq"], json!(2));
    assert_eq!(v["grown"]["sig"], json!("3"));
    assert_eq!(v["kind"], json!("some"));
    assert_eq!(v["word"], json!("big"));
    assert_eq!(v["opt"], json!("none"));
    assert_eq!(v["t"], json!("tool_error: bad (1)"));
    assert_eq!(v["fallback"], json!("fell back"));
    // `catch` after a literal keyword (`true`, `false`, `null`).
    assert_eq!(v["caught_lits"], json!([true, false]));
    assert_eq!(v["caught_null"], Value::Null);
    assert_eq!(v["r"], json!({"winner": "fast", "value": 5}));
    assert_eq!(v["ids"], json!([1, 2, 3]));
    assert_eq!(v["first"], json!("failed"));
    assert_eq!(v["last"], json!(3));
    assert_eq!(v["greeting"], json!("hi ana, 3 rows"));
    assert_eq!(v["math"], json!([3, 1, 5.0, -3, 7]));
    assert_eq!(v["logic"], json!([true, true, true]));
    assert_eq!(v["coalesce"], json!(5));
    assert_eq!(v["strings"], json!(["ANA", "a+b", "x", "a-a"]));
    assert_eq!(v["lists"], json!([6, 9, 2, 1.5]));
    assert_eq!(v["ctx"], json!("main"));
    // The race's loser was cancelled.
    assert!(
        out.steps().iter().any(|s| s["status"] == "cancelled"),
        "{:#}",
        out.record["steps"]
    );
}

#[test]
fn built_in_functions_take_arguments_that_wait() {
    let src = with_tools(
        "flow main() -> int {\n    sum(for t in [1, 2] { wait(ms: t).ms }) + len([wait(ms: 1)]) + max(for t in [3] { t })\n}\n",
    );
    let out = run_flow("builtin-async", &src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!(7));
}

#[test]
fn expressions_that_wait_combine_their_values_as_pure_ones_do() {
    // Each kind's combining is written once: the same results whether a
    // sub-expression waits (a tool call) or not.
    let lib = "const ITEMS = [\"a\", \"b\", \"c\"]\n";
    let src = format!(
        "import \"lib.flow\" as lib\n{TOOLS}\n{}",
        r#"
flow main() -> json {
    let one = echo(value: 1).value
    {
        text: "n={echo(value: 2).value}, m={one}",
        rec: { a: echo(value: 3).value, b: 4 },
        neg: -echo(value: 5).value,
        sum: echo(value: 6).value + 1,
        imported: lib.ITEMS[echo(value: 1).value],
        lazy_and: false && boom(message: "never").ok,
        lazy_or: true || boom(message: "never").ok,
        lazy_coalesce: 7 ?? echo(value: 8).value,
        right: null ?? echo(value: 9).value,
        pick: if echo(value: 0).value == 0 { "zero" } else { "other" },
        list: [echo(value: 10).value, 11][0],
    }
}
"#
    );
    let out = run_flow("waiting-exprs", &src, &[("lib.flow", lib)], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.result(),
        json!({
            "text": "n=2, m=1",
            "rec": { "a": 3, "b": 4 },
            "neg": -5,
            "sum": 7,
            "imported": "b",
            "lazy_and": false,
            "lazy_or": true,
            "lazy_coalesce": 7,
            "right": 9,
            "pick": "zero",
            "list": 10,
        })
    );
    // The right operand of a decided `&&` or `||` never ran.
    assert!(
        !out.steps().iter().any(|s| s["name"] == "boom"),
        "{:#}",
        out.record["steps"]
    );
}

#[test]
fn names_read_the_binding_of_their_own_scope() {
    // Every name is resolved to a frame and slot before the run: inner scopes
    // shadow outer ones, loop and `for` variables, `iteration`, `catch e`,
    // parameter defaults, constants (also of an imported module) and `context`.
    let lib = "const BASE = 10\nconst TWICE = 20\n";
    let src = format!(
        "import \"lib.flow\" as lib\n{TOOLS}\n{}",
        r#"
const K = 3
flow inner(a: int, b: int = K + 2) -> int { let a2 = a * 2
    a2 + b }
flow main(x: int = 1) -> json {
    let v = echo(value: x).value
    let shadow = sequence { let v = echo(value: 100).value
        v + 1 }
    let nested = for i in [1, 2] { let w = i * v
        for j in [10] { w + j + i } }
    let counted = loop s = 0 max 5 until s >= 3 { s + iteration }
    let settled = loop t = { n: 0, sig: 0 } max 9 until stable(t.sig) { { n: t.n + 1, sig: min(t.n + 1, 2) } }
    let deep = loop t = { n: 0, sig: 0 } max 9 until (for _x in [1] { stable(t.sig) })[0] { { n: t.n + 1, sig: min(t.n + 1, 2) } }
    let caught = try { boom(message: "no {v}") } catch e { e.message }
    let called = inner(a: v + 1)
    { v, shadow, nested, counted, settled: settled.n, deep: deep.n, caught, called,
      consts: [K, lib.BASE, lib.TWICE, lib.TWICE + echo(value: K).value], flow: context.flow }
}
"#
    );
    let out = run_flow("slots", &src, &[("lib.flow", lib)], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.result(),
        json!({
            "v": 1,
            "shadow": 101,
            "nested": [[12], [14]],
            "counted": 3,
            "settled": 3,
            "deep": 3,
            "caught": "no 1",
            "called": 9,
            "consts": [3, 10, 20, 23],
            "flow": "main",
        })
    );
}

#[test]
fn a_step_starts_only_after_its_inputs_end() {
    let src = with_tools(
        r#"
flow main() -> int {
    let total = a.ms + b.ms + c.ms
    let c = wait(ms: a.ms + b.ms)
    let b = wait(ms: 30)
    let a = wait(ms: 20)
    let d = wait(ms: 5) after c
    total + d.ms
}
"#,
    );
    let out = run_flow("order", &src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!(105));
    let (a, b, c, d) = (out.step("a"), out.step("b"), out.step("c"), out.step("d"));
    let f = |s: &Value, k: &str| s[k].as_f64().expect("a time");
    assert!(
        f(&c, "start_ms") >= f(&a, "end_ms") && f(&c, "start_ms") >= f(&b, "end_ms"),
        "c waits for a and b"
    );
    assert!(
        f(&d, "start_ms") >= f(&c, "end_ms"),
        "d waits for c (after)"
    );
    // a and b are independent: they overlap.
    assert!(
        f(&a, "start_ms") < f(&b, "end_ms") && f(&b, "start_ms") < f(&a, "end_ms"),
        "a and b run concurrently"
    );
    // c waited for 50 ms of work, not 20 + 30 in sequence before it: eager, not levels.
    assert!(f(&c, "start_ms") < 45.0 + 30.0, "{c}");
}

#[test]
fn sequence_runs_in_order_and_parallel_overlaps() {
    let src = with_tools(
        r#"
flow main() -> json {
    let s = sequence {
        let one = wait(ms: 20)
        let two = wait(ms: 20)
        let three = wait(ms: 20)
        three.ms
    }
    let p = parallel { x = wait(ms: 40); y = wait(ms: 40); z = wait(ms: 40) }
    { s, p }
}
"#,
    );
    let out = run_flow("seqpar", &src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let f = |n: &str, k: &str| out.step(n)[k].as_f64().expect("time");
    assert!(f("two", "start_ms") >= f("one", "end_ms"));
    assert!(f("three", "start_ms") >= f("two", "end_ms"));
    let wait_steps: Vec<Value> = out
        .steps()
        .into_iter()
        .filter(|s| s["step"] == "wait")
        .collect();
    assert_eq!(wait_steps.len(), 3, "three parallel branches");
    let latest_start = wait_steps
        .iter()
        .map(|s| s["start_ms"].as_f64().expect("t"))
        .fold(0.0, f64::max);
    let earliest_end = wait_steps
        .iter()
        .map(|s| s["end_ms"].as_f64().expect("t"))
        .fold(f64::MAX, f64::min);
    assert!(
        latest_start < earliest_end,
        "all three branches were running at once"
    );
}

#[test]
fn a_failure_stops_only_its_dependents_and_every_error_is_reported() {
    let src = with_tools(
        r#"
flow main() -> json {
    let bad = boom(message: "first failure")
    let after_bad = echo(value: bad)
    let independent = wait(ms: 30)
    let p = parallel { x = boom(message: "branch x"); y = boom(message: "branch y"); z = echo(value: 1) }
    { after_bad, independent, p }
}
"#,
    );
    let out = run_flow("isolation", &src, &[], &[]);
    assert_eq!(out.code, 1);
    assert_eq!(out.record["status"], "failed");
    let errors = out.record["errors"].as_array().expect("errors");
    let msgs: Vec<&str> = errors
        .iter()
        .map(|e| e["message"].as_str().expect("message"))
        .collect();
    assert!(
        msgs.contains(&"first failure") && msgs.contains(&"branch x") && msgs.contains(&"branch y"),
        "{msgs:?}"
    );
    assert_eq!(
        out.step("independent")["status"],
        "ok",
        "independent steps keep running"
    );
    assert!(
        out.steps().iter().all(|s| s["step"] != "after_bad"),
        "a dependent of a failed step never starts"
    );
    assert!(
        out.stderr
            .contains("[tool_error] Error: step `main/bad` failed: first failure"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("main.flow:8:"),
        "errors point at the source: {}",
        out.stderr
    );
}

#[test]
fn fail_fast_cancels_running_steps() {
    let src = with_tools(
        r#"
flow main() -> json with { fail_fast: true } {
    let slow = wait(ms: 3000)
    let bad = boom(message: "stop")
    { slow, bad }
}
"#,
    );
    let started = std::time::Instant::now();
    let out = run_flow("failfast", &src, &[], &[]);
    assert_eq!(out.code, 1);
    assert!(
        started.elapsed().as_millis() < 2500,
        "fail_fast did not wait for the slow step"
    );
    assert_eq!(out.step("slow")["status"], "cancelled");
}

#[test]
fn retries_are_counted_and_narrowed_by_retry_on() {
    let script = "import json, os, sys\np = os.path.join(os.path.dirname(__file__), 'count')\nn = int(open(p).read()) if os.path.exists(p) else 0\nopen(p, 'w').write(str(n + 1))\nif n < 2:\n    sys.stderr.write('transient failure %d\\n' % n)\n    sys.exit(3)\nprint(json.dumps({'ok': True, 'tries': n + 1}))\n";
    let src = r#"
tool flaky() -> { ok: bool, tries: int } = exec ["python3", "flaky.py"] with { retry: 3, backoff: 10ms }
tool never() -> { ok: bool } = exec ["python3", "never.py"] with { retry: 3, backoff: 10ms, retry_on: ["timeout"] }
flow main() -> json {
    let f = flaky()
    let n = never() catch { ok: false }
    { f, n }
}
"#;
    let never = "import sys\nsys.stderr.write('permanent\\n')\nsys.exit(1)\n";
    let out = run_flow(
        "retry",
        src,
        &[("flaky.py", script), ("never.py", never)],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["f"], json!({"ok": true, "tries": 3}));
    assert_eq!(out.step("f")["attempts"], 3);
    let n = out.step("never");
    assert_eq!(
        n["attempts"], 1,
        "tool_error is not retried when retry_on lists only timeout"
    );
    assert!(
        n["error"]["message"]
            .as_str()
            .expect("message")
            .contains("permanent"),
        "stderr tail in the error: {n}"
    );
}

fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim().chars().next()
}

#[test]
fn a_hung_exec_tool_and_its_children_are_killed_at_timeout() {
    let script = "import json, os, subprocess, sys, time\nchild = subprocess.Popen(['sleep', '60'])\nopen(os.path.join(os.path.dirname(__file__), 'pids'), 'w').write('%d %d' % (os.getpid(), child.pid))\nsys.stdout.flush()\ntime.sleep(60)\n";
    let src = r#"
tool hang() -> json = exec ["python3", "hang.py"] with { timeout: 2500ms }
flow main() -> json { hang() }
"#;
    let started = std::time::Instant::now();
    let out = run_flow("hang", src, &[("hang.py", script)], &[]);
    assert_eq!(out.code, 1);
    assert!(started.elapsed().as_secs() < 10);
    assert!(out.stderr.contains("[timeout]"), "{}", out.stderr);
    let dir = PathBuf::from(out.record["file"].as_str().expect("file"))
        .parent()
        .expect("dir")
        .to_path_buf();
    let pids = std::fs::read_to_string(dir.join("pids")).expect("the tool wrote its pids");
    std::thread::sleep(std::time::Duration::from_millis(300));
    for pid in pids
        .split_whitespace()
        .map(|p| p.parse::<u32>().expect("pid"))
    {
        let state = process_state(pid);
        assert!(
            state.is_none() || state == Some('Z'),
            "process {pid} is still alive ({state:?})"
        );
    }
}

/// Bounded wait (20 s) for a process to be gone or a zombie.
fn wait_gone(pid: u32) {
    let start = std::time::Instant::now();
    while process_state(pid).is_some_and(|s| s != 'Z') {
        assert!(
            start.elapsed().as_secs() < 20,
            "process {pid} is still alive"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_tool_that_exits_leaving_a_child_on_its_stdout_succeeds_once() {
    // The tool prints its result and exits 0, but a child it leaves in the
    // background holds its stdout for 20 s: the call ends at the tool's
    // exit, is not a timeout, is not retried, and the child is killed.
    let script = "#!/bin/sh\necho ran >> \"$(dirname \"$0\")/runs\"\necho '{\"ok\": true}'\nsleep 20 &\necho $! > \"$(dirname \"$0\")/bg\"\nexit 0\n";
    let src = r#"
effect tool leaves() -> { ok: bool } = exec ["sh", "leaves.sh"] with { retry: 2, timeout: 3s, backoff: 10ms }
flow main() -> json { leaves() }
"#;
    let out = run_flow("leaves", src, &[("leaves.sh", script)], &[]);
    let runs = std::fs::read_to_string(out.dir.join("runs")).unwrap_or_default();
    assert_eq!(runs.lines().count(), 1, "the tool ran once: {}", out.stderr);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({"ok": true}));
    assert_eq!(out.step("leaves")["attempts"], 1);
    assert_eq!(out.step("leaves")["status"], "ok");
    let bg = std::fs::read_to_string(out.dir.join("bg")).expect("the tool wrote its child's pid");
    wait_gone(bg.trim().parse().expect("pid"));
}

#[test]
fn exec_tools_get_json_on_stdin_and_run_in_the_flow_folder() {
    let script = "import json, os, sys\nargs = json.load(sys.stdin)\nprint(json.dumps({'got': args, 'cwd_has_flow': os.path.exists('main.flow')}))\n";
    let src = r#"
tool t(a: int, b: [string]) -> { got: json, cwd_has_flow: bool } = exec ["python3", "tools/t.py"]
flow main() -> json { t(a: 1, b: ["x"]) }
"#;
    let out = run_flow("exec", src, &[("tools/t.py", script)], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.result(),
        json!({"got": {"a": 1, "b": ["x"]}, "cwd_has_flow": true})
    );
}

#[test]
fn a_wrong_result_shape_is_a_type_error_naming_the_path() {
    let script = "print('{\"rows\": [{\"ci_id\": \"a\"}, {\"ci_id\": 42}]}')\n";
    let src = r#"
tool lookup() -> { rows: [{ ci_id: string }] } = exec ["python3", "t.py"]
flow main() -> json {
    let r = lookup()
    r.rows[0].ci_id
}
"#;
    let out = run_flow("typeerr", src, &[("t.py", script)], &[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("[type_error]"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`lookup` returned int 42 at `$.rows[1].ci_id`, expected `string`"),
        "{}",
        out.stderr
    );
}

/// A tiny HTTP/1.1 server: answers `n` requests with `respond(method, path, body)`.
fn serve(
    n: usize,
    respond: fn(&str, &str, &str) -> (u16, String),
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..n {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let k = s.read(&mut chunk).expect("read");
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let head = text[..i].to_string();
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < i + 4 + len {
                        let k = s.read(&mut chunk).expect("read body");
                        buf.extend_from_slice(&chunk[..k]);
                    }
                    break (
                        head,
                        String::from_utf8_lossy(&buf[i + 4..i + 4 + len]).to_string(),
                    );
                }
            };
            let first = head.lines().next().unwrap_or("").to_string();
            let mut parts = first.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let path = parts.next().unwrap_or("").to_string();
            seen.push(format!("{method} {path} {body}"));
            let (status, reply) = respond(&method, &path, &body);
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            s.write_all(resp.as_bytes()).expect("write");
        }
        seen
    });
    (format!("http://{addr}"), h)
}

#[test]
fn http_tools_post_json_and_get_with_a_query_string() {
    let (base, server) = serve(3, |method, path, body| {
        if method == "POST" {
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            (
                200,
                json!({"cause": "disk", "confidence": 0.9, "echo": v}).to_string(),
            )
        } else if path.contains("fail") {
            (503, "{\"error\": \"down\"}".into())
        } else {
            (200, json!({"path": path}).to_string())
        }
    });
    let src = format!(
        r#"
tool rca(anomalies: [string]) -> {{ cause: string, confidence: float }} = http post "{base}/rca"
tool ci(id: string, n: int) -> {{ path: string }} = http get "{base}/ci"
tool down(id: string) -> json = http get "{base}/fail"
flow main() -> json {{
    let r = rca(anomalies: ["cpu"])
    let c = ci(id: "CI-1", n: 2)
    let d = down(id: "x") catch {{ failed: true }}
    {{ r, c, d }}
}}
"#
    );
    let out = run_flow("http", &src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.result();
    assert_eq!(v["r"]["echo"], json!({"anomalies": ["cpu"]}));
    assert_eq!(v["c"]["path"], json!("/ci?id=CI-1&n=2"));
    assert_eq!(v["d"], json!({"failed": true}));
    let err = out.step("down")["error"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(err.contains("503"), "{err}");
    let seen = server.join().expect("server");
    assert_eq!(seen.len(), 3);
}

#[test]
fn the_run_record_and_the_trace_describe_the_run() {
    let src = with_tools(
        "flow main(x: int) -> int {\n    let a = wait(ms: 10)\n    let b = wait(ms: 10)\n    a.ms + b.ms + x\n}\n",
    );
    let dir = tempdir("trace");
    std::fs::write(dir.join("main.flow"), &src).expect("write");
    let trace = dir.join("trace.json");
    let out = run_in(
        &dir,
        &[
            "--arg",
            "x=1",
            "--trace",
            trace.to_str().expect("utf-8"),
            "--set",
            "timeout=5s",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = &out.record;
    assert_eq!(r["flow"], "main");
    assert_eq!(r["status"], "ok");
    assert_eq!(r["inputs"], json!({"x": 1}));
    assert_eq!(r["options"], json!({"timeout": "5s"}));
    assert_eq!(r["result"], json!(21));
    // A short, time-ordered id in Crockford's base32 (docs/store.md).
    let id = r["run_id"].as_str().expect("run id");
    assert!(
        id.len() == 12
            && id
                .chars()
                .all(|c| "0123456789abcdefghjkmnpqrstvwxyz".contains(c)),
        "{id}"
    );
    let a = out.step("a");
    assert_eq!(a["tool"], "wait");
    assert_eq!(a["status"], "ok");
    assert_eq!(a["attempts"], 1);
    assert_eq!(a["span"]["line"], 7);
    assert!(a["end_ms"].as_f64().expect("end") - a["start_ms"].as_f64().expect("start") >= 9.5);
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&trace).expect("trace written"))
        .expect("trace is JSON");
    let events: Vec<&Value> = t["traceEvents"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e["dur"].as_f64().expect("dur") >= 9000.0)
    );
    assert_ne!(
        events[0]["tid"], events[1]["tid"],
        "overlapping steps are on different lanes"
    );
}

#[test]
fn a_loop_that_reaches_max_is_a_warning_or_an_error() {
    let src = "flow main(strict: bool) -> int {\n    let n = loop s = 0 max 3 until s > 100 { s + 1 }\n    n\n}\n";
    let out = run_flow("loopmax", src, &[], &["--arg", "strict=false"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!(3));
    assert!(
        out.record["warnings"][0]["message"]
            .as_str()
            .expect("warning")
            .contains("maximum of 3")
    );
    let strict = "flow main() -> int {\n    let n = loop s = 0 max 3 until s > 100 with { on_max: error } { s + 1 }\n    n\n}\n";
    let out = run_flow("loopmax2", strict, &[], &[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("[policy_violation]"), "{}", out.stderr);
}

#[test]
fn an_arm_of_match_or_decide_may_be_a_block_of_statements() {
    let src = with_tools(
        r#"
flow main(n: int) -> json {
    let m = match n {
        1 => {
            let again = echo(value: n + 1)
            let twice = again.value * 2
            twice
        }
        _ => { echo(value: 0).value }
    }
    let d = decide "what next?" with { n } {
        retry => {
            let again = echo(value: "again {n}")
            again.value
        }
        else => "gave up"
    }
    let r = match n { 1 => { n }, _ => { n: 0 } }
    { m, d, r }
}
"#,
    );
    let out = run_flow(
        "armblocks",
        &src,
        &[],
        &["--arg", "n=1", "--llm", "cmd:python3 -c print('retry')"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.result(),
        json!({ "m": 4, "d": "again 1", "r": { "n": 1 } })
    );
    // The arms' statements are steps under the `let` that holds them.
    out.step("again");
    let paths: Vec<String> = out
        .steps()
        .iter()
        .map(|s| s["path"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(paths.contains(&"main/m/again".to_string()), "{paths:?}");
    assert!(paths.contains(&"main/d/again".to_string()), "{paths:?}");
    // `flowc graph` draws each block arm as a cluster named by its head.
    let graph = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["graph", "--format", "json"])
        .arg(out.dir.join("main.flow"))
        .output()
        .expect("flowc graph");
    let g: Value = serde_json::from_slice(&graph.stdout).expect("graph JSON");
    // The block arms are clusters inside the arms' nodes of the `match`/`decide`
    // clusters, in the order they are written.
    fn clusters<'v>(block: &'v Value, out: &mut Vec<&'v str>) {
        for n in block["nodes"].as_array().into_iter().flatten() {
            for c in n["children"].as_array().into_iter().flatten() {
                out.push(c["label"].as_str().unwrap_or(""));
                clusters(c, out);
            }
        }
    }
    let mut all = Vec::new();
    clusters(&g["body"], &mut all);
    let arms: Vec<&str> = all.into_iter().filter(|l| l.ends_with("=>")).collect();
    assert_eq!(arms, ["1 =>", "_ =>", "retry =>"], "{g:#}");
}

#[test]
fn a_loop_takes_max_and_until_on_lines_of_their_own() {
    let src = "flow main() -> int {\n    let r = loop s = { n: 0 }\n        max 2 until s.n > 100 {\n        { n: s.n + 1 }\n    }\n    let t = loop u = 0\n        max 9\n        until u > 4 { u + 2 }\n    r.n * 10 + t\n}\n";
    let out = run_flow("loopmaxline", src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // `max 2` bounds the first loop; the second stops at 6.
    assert_eq!(out.result(), json!(26));
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let src = "flow main(n: int) -> int { n }\n";
    let out = run_flow("usage1", src, &[], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("needs `n: int`"), "{}", out.stderr);
    let out = run_flow("usage2", src, &[], &["--arg", "n=abc"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`--arg n`"), "{}", out.stderr);
    let out = run_flow("usage3", src, &[], &["--arg", "n=1", "--flow", "mian"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("did you mean `main`"), "{}", out.stderr);
    let out = run_flow(
        "usage4",
        src,
        &[],
        &["--arg", "n=1", "--set", "timeout=fast"],
    );
    assert_eq!(out.code, 2);
    let out = run_flow("checkerr", "flow main() -> int { \"x\" }\n", &[], &[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("E0301"), "{}", out.stderr);
}

#[test]
fn flows_call_flows_and_effects_keep_their_order() {
    let src = with_tools(
        r#"
effect tool note(text: string) -> { text: string } = builtin "echo"
flow double(x: int) -> int { x * 2 }
flow main() -> json {
    let first = note(text: "one")
    let second = note(text: "two")
    let d = double(x: 21)
    { d, order: [first.text, second.text], w: wait(ms: 1).ms, e: echo(value: 1).value, b: boom(message: "x") catch 0 }
}
"#,
    );
    let out = run_flow("effects", &src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["d"], json!(42));
    assert!(
        out.step("second")["start_ms"].as_f64() >= out.step("first")["end_ms"].as_f64(),
        "effect steps keep source order"
    );
    assert_eq!(out.step("d")["kind"], "flow");
}

#[test]
fn graph_snapshots() {
    let dir = tempdir("graph");
    let src = with_tools(
        r#"
flow main() -> json {
    let a = wait(ms: 1)
    let b = wait(ms: a.ms) after a
    let p = parallel { x = echo(value: b); y = echo(value: 2) }
    let s = sequence { let one = wait(ms: 1)
        one.ms }
    { p, s }
}
"#,
    );
    std::fs::write(dir.join("main.flow"), src).expect("write");
    let run = |fmt: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["graph", "--format", fmt])
            .arg(dir.join("main.flow"))
            .output()
            .expect("flowc graph");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let snap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/graph.json");
    let json_out = run("json");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(snap, &json_out).expect("bless");
    }
    assert_eq!(
        json_out,
        std::fs::read_to_string(snap).unwrap_or_default(),
        "flowc graph --format json changed (BLESS=1 to update)"
    );
    let dot = run("dot");
    assert!(
        dot.starts_with("digraph") && dot.contains("cluster") && dot.contains("after"),
        "{dot}"
    );
    let mermaid = run("mermaid");
    assert!(
        mermaid.starts_with("flowchart TD") && mermaid.contains("subgraph"),
        "{mermaid}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tool_or_flow_named_like_a_builtin_shadows_it_in_its_module() {
    let lib = r#"
tool upper(text: string, loud: bool = true) -> { text: string, loud: bool } = builtin "echo"
flow len(xs: [int]) -> int { 100 + sum(xs) }
flow both(w: string) -> json { { tool: upper(text: w), builtin: lower(w), n: len(xs: [1, 2]) } }
"#;
    let src = r#"
import "lib.flow" as lib
tool upper(text: string) -> { text: string } = builtin "echo"
flow main() -> json {
    let mine = upper(text: "a").text
    let listed = [upper(text: "b").text, "c"]
    { mine, listed, lib: lib.both(w: "Mixed"), theirs: lib.len(xs: [5]), builtin_len: len([1, 2, 3]) }
}
"#;
    let out = run_flow("shadow", src, &[("lib.flow", lib)], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.result(),
        json!({
            "mine": "a",
            "listed": ["b", "c"],
            "lib": { "tool": { "text": "Mixed", "loud": true }, "builtin": "mixed", "n": 103 },
            "theirs": 105,
            "builtin_len": 3,
        })
    );
    assert!(!out.stderr.contains("E0206"), "{}", out.stderr);
    // The graph lists the call of the tool `upper`, not of the built-in `len`.
    let graph = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["graph", "--format", "json"])
        .arg(out.dir.join("main.flow"))
        .output()
        .expect("flowc graph");
    let g: Value = serde_json::from_slice(&graph.stdout).expect("graph JSON");
    let calls: Vec<Value> = g["body"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .flat_map(|n| n["calls"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(
        calls,
        vec![
            json!("upper"),
            json!("upper"),
            json!("lib.both"),
            json!("lib.len")
        ]
    );
}

#[test]
fn unknown_flow_suggests_only_a_similar_name() {
    let dir = tempdir("flow-suggest");
    let file = dir.join("main.flow");
    std::fs::write(&file, "flow a() -> int { 1 }\nflow main() -> int { 2 }\n").expect("write");
    let run = |flow: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .arg("run")
            .arg(&file)
            .args(["--flow", flow])
            .env("FLOWC_STORE", common::test_store())
            .output()
            .expect("flowc run");
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let c = run("c");
    assert!(c.contains("has no flow `c`"), "{c}");
    assert!(!c.contains("did you mean"), "{c}");
    let mian = run("mian");
    assert!(mian.contains("did you mean `main`?"), "{mian}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The most tool steps running at the same moment, from the run record.
fn max_overlap(out: &common::Out, tool: &str) -> usize {
    let mut events: Vec<(f64, i32)> = Vec::new();
    for s in out.steps().iter().filter(|s| s["tool"] == tool) {
        events.push((s["start_ms"].as_f64().expect("start"), 1));
        events.push((s["end_ms"].as_f64().expect("end"), -1));
    }
    // Ends before starts at the same instant.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        max = max.max(now);
    }
    max as usize
}

#[test]
fn an_explicit_inner_max_concurrent_is_not_capped_by_the_default() {
    // 60 sleeps of 1 s under `max_concurrent: 200`: the flow's default of 10
    // used to run them 10 at a time (6 s); all 60 now run together.
    let src = with_tools(
        r#"
flow main() -> int {
    let xs = for i in range(60) with { max_concurrent: 200 } { wait(ms: 1000).ms }
    len(xs)
}
"#,
    );
    let t0 = std::time::Instant::now();
    let out = run_flow("mc-inner", &src, &[], &[]);
    let elapsed = t0.elapsed();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!(60));
    assert_eq!(max_overlap(&out, "wait"), 60);
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn an_explicit_outer_max_concurrent_caps_an_inner_one() {
    let src = with_tools(
        r#"
flow main() -> int with { max_concurrent: 4 } {
    let xs = for i in range(12) with { max_concurrent: 200 } { wait(ms: 50).ms }
    len(xs)
}
"#,
    );
    let out = run_flow("mc-outer", &src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(max_overlap(&out, "wait"), 4);
    assert!(out.stderr.contains("W0008"), "{}", out.stderr);
    // `--set` states a limit too: it caps an inner one.
    let src = with_tools(
        r#"
flow main() -> int {
    let xs = for i in range(12) with { max_concurrent: 200 } { wait(ms: 50).ms }
    len(xs)
}
"#,
    );
    let out = run_flow("mc-set", &src, &[], &["--set", "max_concurrent=3"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(max_overlap(&out, "wait"), 3);
}

#[test]
fn set_max_concurrent_zero_is_rejected() {
    let out = run_flow(
        "mc-zero",
        "flow main() -> int { 1 }\n",
        &[],
        &["--set", "max_concurrent=0"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`max_concurrent` takes a positive integer, not `0`"),
        "{}",
        out.stderr
    );
    // An unknown `--set` option gets the same did-you-mean as the source form.
    let out = run_flow(
        "set-typo",
        "flow main() -> int { 1 }\n",
        &[],
        &["--set", "retries=2"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("unknown option `retries`; did you mean `retry`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn for_where_keeps_only_the_elements_whose_condition_is_true() {
    let src = with_tools(
        r#"
flow main() -> json {
    let xs = [5, 2, 8, 1, 6]
    let big = for x in xs where x > 4 { echo(value: x * 10).value }
    let none = for x in xs where x > 100 { echo(value: x).value }
    let by_tool = for x in xs where echo(value: x % 2 == 0).value with { max_concurrent: 2 } { x }
    let names = for r in [{ n: "a", ok: true }, { n: "b", ok: false }, { n: "c", ok: true }] where r.ok { r.n }
    { big, none, by_tool, names }
}
"#,
    );
    let out = run_flow("for-where", &src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.result(),
        json!({ "big": [50, 80, 60], "none": [], "by_tool": [2, 8, 6], "names": ["a", "c"] })
    );
    // The body runs only for kept elements: 3 echoes in `big`, none in `none`,
    // 5 conditions in `by_tool`.
    let echoes = out.steps().iter().filter(|s| s["tool"] == "echo").count();
    assert_eq!(echoes, 3 + 5);
    // The graph shows the condition on the body.
    let graph = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["graph", "--format", "mermaid"])
        .arg(out.dir.join("main.flow"))
        .output()
        .expect("flowc graph");
    let text = String::from_utf8_lossy(&graph.stdout);
    assert!(text.contains("for x where x > 4 (big)"), "{text}");
}

#[test]
fn records_print_in_their_written_order_and_the_cache_ignores_it() {
    let src = r#"
tool pair(a: int, b: int) -> { b: int, a: int } = builtin "echo"
flow main() -> json {
    let first = pair(a: 1, b: 2) with { cache: 1h }
    let second = pair(b: 2, a: 1) with { cache: 1h } after first
    { zeta: 1, alpha: { y: 2, x: 1 }, mid: [first, second] }
}
"#;
    let out = run_flow("order", src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let compact: String = out.stdout.split_whitespace().collect();
    assert_eq!(
        compact,
        // A tool's result takes its declared order (`echo` wrote `a` first);
        // `second` is the cached value of `first`.
        r#"{"zeta":1,"alpha":{"y":2,"x":1},"mid":[{"b":2,"a":1},{"b":2,"a":1}]}"#
    );
    // The same arguments in another order hit the cache.
    let statuses: Vec<Value> = out
        .steps()
        .iter()
        .filter(|s| s["tool"] == "pair")
        .map(|s| s["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("ok"), json!("cached")]);
}

#[test]
fn a_program_that_cannot_start_is_not_retried() {
    // Not on PATH, a path to nothing, and a file that is not executable: each
    // fails its first attempt for good, whatever `retry` says.
    let src = r#"
tool missing() -> json = exec ["flowc-test-no-such-program"] with { retry: 3, backoff: 10ms }
tool nowhere() -> json = exec ["./bin/absent.sh"] with { retry: 3, backoff: 10ms }
tool plain() -> json = exec ["./plain.sh"] with { retry: 3, backoff: 10ms }
flow main() -> json {
    let a = missing() catch null
    let b = nowhere() catch null
    let c = plain() catch null
    { a, b, c }
}
"#;
    let out = run_flow(
        "cannot-start",
        src,
        &[("plain.sh", "#!/bin/sh\necho '{}'\n")],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Each step is named after its tool.
    for (tool, program, todo) in [
        ("missing", "flowc-test-no-such-program", "it is not on PATH"),
        ("nowhere", "./bin/absent.sh", "fix the path"),
        ("plain", "./plain.sh", "chmod +x"),
    ] {
        let step = tool;
        let s = out.step(step);
        assert_eq!(s["attempts"], 1, "{step} was retried: {s:#}");
        assert_eq!(s["error"]["kind"], "tool_error", "{s:#}");
        let message = s["error"]["message"].as_str().expect("a message");
        for want in [
            format!("tool `{tool}`"),
            format!("cannot start `{program}`"),
            todo.to_string(),
        ] {
            assert!(
                message.contains(&want),
                "{step}: {want:?} not in {message:?}"
            );
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on.
fn unused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address").port()
}

#[test]
fn credentials_in_urls_are_redacted_in_messages_records_and_traces() {
    let port = unused_port();
    let src = format!(
        r#"
tool down(q: string) -> json = http get "http://admin:hunter2-pw@127.0.0.1:{port}/v1?api_key=k3y-SECRET&q=1"
flow main() -> json {{
    let d = down(q: "x")
    let ok = llm("Is it fine?", "x")
    {{ d: d, ok: ok }}
}}
"#
    );
    let dir = common::tempdir("redact");
    std::fs::write(dir.join("main.flow"), &src).expect("write");
    let out = run_in(
        &dir,
        &[
            "--trace",
            dir.join("trace.json").to_str().expect("utf-8"),
            "--llm",
            &format!("openai:http://bot:llm-pw-SECRET@127.0.0.1:{port}/v1?token=tok-SECRET"),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let record = out.record.to_string();
    let trace = std::fs::read_to_string(dir.join("trace.json"))
        .unwrap_or_else(|e| panic!("the trace: {e}\n{}", out.stderr));
    for (what, text) in [
        ("stderr", out.stderr.as_str()),
        ("record", record.as_str()),
        ("trace", trace.as_str()),
    ] {
        for secret in ["hunter2-pw", "k3y-SECRET", "llm-pw-SECRET", "tok-SECRET"] {
            assert!(!text.contains(secret), "{what} shows `{secret}`:\n{text}");
        }
    }
    // The URL is still there to see, without its secrets.
    assert!(
        out.stderr.contains(&format!(
            "http://admin:***@127.0.0.1:{port}/v1?api_key=***&q=1"
        )),
        "{}",
        out.stderr
    );
}

/// The paths of the steps in a run record, sorted.
fn paths(out: &common::Out) -> Vec<String> {
    let mut p: Vec<String> = out
        .steps()
        .iter()
        .map(|s| {
            s["path"]
                .as_str()
                .expect("every step has a path")
                .to_string()
        })
        .collect();
    p.sort();
    p
}

#[test]
fn every_step_has_a_stable_path() {
    let src = with_tools(
        r#"
flow inner(v: int) -> int {
    let e = echo(value: v)
    e.value
}
flow main() -> json {
    let out = for x in [1, 2, 3] { echo(value: x).value }
    let refined = loop s = 0 max 5 until s >= 2 {
        let step = echo(value: s + 1)
        step.value
    }
    let m = parallel { cpu = echo(value: 1).value; mem = echo(value: 2).value }
    let n = inner(v: 5)
    echo(value: 1)
    echo(value: 2)
    let both = [echo(value: 3).value, echo(value: 4).value]
    let t = try { boom(message: "no") } catch { echo(value: 0).value }
    { out, refined, m, n, both, t }
}
"#,
    );
    let out = run_flow("paths", &src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        paths(&out),
        [
            "main/both/echo",
            "main/both/echo#2",
            "main/echo",
            "main/echo#2",
            "main/m.cpu",
            "main/m.mem",
            "main/n",
            "main/n/e",
            "main/out/for[0]/echo",
            "main/out/for[1]/echo",
            "main/out/for[2]/echo",
            "main/refined/loop[1]/step",
            "main/refined/loop[2]/step",
            "main/t/catch/echo",
            "main/t/try/boom",
        ]
    );
    assert_eq!(out.step("n")["kind"], "flow");
}

#[test]
fn paths_do_not_depend_on_timing() {
    // The slowest element comes first: it finishes last, yet keeps index 0.
    let src = with_tools(
        "flow main() -> json {\n    let w = for ms in [60, 1, 30] { wait(ms: ms).ms }\n    w\n}\n",
    );
    let out = run_flow("pathtiming", &src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!([60, 1, 30]));
    let steps = out.steps();
    let end = |p: &str| {
        steps
            .iter()
            .find(|s| s["path"] == p)
            .unwrap_or_else(|| panic!("no step {p}"))["end_ms"]
            .as_f64()
            .expect("ended")
    };
    assert!(end("main/w/for[1]/wait") < end("main/w/for[2]/wait"));
    assert!(end("main/w/for[2]/wait") < end("main/w/for[0]/wait"));
}

#[test]
fn errors_and_traces_name_steps_by_path() {
    let src = with_tools(
        "flow main() -> json {\n    let xs = for v in [1, 2] { boom(message: \"no {v}\") }\n    xs\n}\n",
    );
    let dir = tempdir("pathtrace");
    std::fs::write(dir.join("main.flow"), &src).expect("write");
    let trace = dir.join("trace.json");
    let out = run_in(&dir, &["--trace", trace.to_str().expect("utf-8")]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("step `main/xs/for[1]/boom` failed: no 2"),
        "{}",
        out.stderr
    );
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&trace).expect("trace written"))
        .expect("trace is JSON");
    let mut names: Vec<&str> = t["traceEvents"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    names.sort();
    assert_eq!(names, ["main/xs/for[0]/boom", "main/xs/for[1]/boom"]);
}
