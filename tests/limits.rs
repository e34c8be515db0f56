//! The runtime's resource limits (docs/language.md, "Memory and time limits"): `max_output`
//! on every read of a tool's or a provider's output, liveness and `max_memory` (peak memory
//! measured on a real `flowc` process), and deadlines, timeouts and Ctrl-C that end pure
//! computation and blocking reads.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

mod common;
use common::{run_flow, tempdir};

/// A python3 tool that prints `mb` megabytes in 64 KB writes (its own memory stays small).
const FLOOD: &str = "import sys\nmb = int(sys.argv[1])\nchunk = b'x' * 65536\ntry:\n    for _ in range(mb * 16):\n        sys.stdout.buffer.write(chunk)\n    sys.stdout.flush()\nexcept BrokenPipeError:\n    pass\n";

/// Runs `flowc ARGS` under a python3 wrapper; (exit code, stderr, peak RSS in KB
/// of the largest process it waited for: flowc, or a tool of it).
fn run_measured(dir: &Path, args: &[&str]) -> (i32, String, u64) {
    let wrapper = "import resource, subprocess, sys\nr = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\nsys.stderr.buffer.write(r.stderr)\nprint(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(wrapper)
        .arg(env!("CARGO_BIN_EXE_flowc"))
        .arg("run")
        .arg(dir.join("main.flow"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("FLOWC_STORE", common::test_store())
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut it = text.split_whitespace();
    let code = it.next().and_then(|c| c.parse().ok()).expect("exit code");
    let rss = it.next().and_then(|c| c.parse().ok()).expect("peak RSS");
    (code, String::from_utf8_lossy(&out.stderr).into_owned(), rss)
}

#[test]
fn an_exec_tool_printing_more_than_max_output_fails_and_memory_stays_low() {
    let dir = tempdir("flood");
    std::fs::write(dir.join("flood.py"), FLOOD).expect("write tool");
    std::fs::write(
        dir.join("main.flow"),
        r#"
tool flood(mb: int) -> json = exec ["python3", "flood.py", "200"] with { max_output: 1MB }
flow main() -> json { flood(mb: 200) }
"#,
    )
    .expect("write flow");
    let (code, stderr, rss_kb) = run_measured(&dir, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("[tool_error]"), "{stderr}");
    assert!(
        stderr.contains("the output of `python3` exceeds max_output (1 MB)"),
        "{stderr}"
    );
    assert!(stderr.contains("with { max_output: … }"), "{stderr}");
    // 200 MB were printed; reading them whole would need at least that much.
    assert!(rss_kb < 80 * 1024, "peak RSS {rss_kb} KB");
}

#[test]
fn max_output_can_be_set_on_the_command_line_and_output_under_it_is_read() {
    let src = r#"
tool flood(mb: int) -> json = exec ["python3", "flood.py", "2"]
flow main() -> json { flood(mb: 2) }
"#;
    let out = run_flow(
        "flood-set",
        src,
        &[("flood.py", FLOOD)],
        &["--set", "max_output=1MB"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("exceeds max_output (1 MB)"),
        "{}",
        out.stderr
    );
    // Under the limit: the output is read (and is not JSON, which is said).
    let out = run_flow(
        "flood-ok",
        src,
        &[("flood.py", FLOOD)],
        &["--set", "max_output=3MB"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("did not print one JSON value"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failing_tool_keeps_the_last_8_kb_of_its_stderr() {
    let script = "import sys\nfor i in range(100000):\n    sys.stderr.write('line %d\\n' % i)\nsys.exit(3)\n";
    let src = r#"
tool noisy() -> json = exec ["python3", "noisy.py"]
flow main() -> json { noisy() }
"#;
    let out = run_flow("noisy", src, &[("noisy.py", script)], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("exited with status 3"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("line 99999"), "{}", out.stderr);
    assert!(!out.stderr.contains("line 5\n"), "{}", out.stderr);
}

/// A server on 127.0.0.1 that answers every request with an endless body.
fn endless_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n[";
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = "1,".repeat(32 * 1024);
                // Until the client hangs up.
                while s.write_all(chunk.as_bytes()).is_ok() {}
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn an_http_tool_with_an_endless_body_fails_at_max_output() {
    let base = endless_server();
    let src = format!(
        r#"
tool fetch() -> json = http get "{base}/data" with {{ max_output: 2MB, timeout: 20s }}
flow main() -> json {{ fetch() }}
"#
    );
    let out = run_flow("endless", &src, &[], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("[tool_error]"), "{}", out.stderr);
    assert!(
        out.stderr.contains("/data exceeds max_output (2 MB)"),
        "{}",
        out.stderr
    );
}

#[test]
fn read_json_of_an_endless_file_fails_at_max_output() {
    let src = r#"
tool read(path: string) -> json = builtin "read_json" with { max_output: 1MB }
flow main() -> json { read(path: "/dev/zero") }
"#;
    let out = run_flow("devzero", src, &[], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("`/dev/zero` exceeds max_output (1 MB)"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_llm_command_printing_50_mb_is_an_llm_error() {
    let src = r#"
flow main() -> string {
    decide "which?" {
        a => "A"
        b => "B"
        else => "C"
    }
}
"#;
    let dir = tempdir("llm-flood");
    std::fs::write(dir.join("main.flow"), src).expect("write flow");
    std::fs::write(dir.join("flood.py"), FLOOD).expect("write tool");
    let provider = format!("cmd:python3 {} 50", dir.join("flood.py").display());
    let (code, stderr, rss_kb) = run_measured(&dir, &["--llm", &provider]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("[llm_error]"), "{stderr}");
    assert!(stderr.contains("is longer than 1 MB"), "{stderr}");
    assert!(rss_kb < 80 * 1024, "peak RSS {rss_kb} KB");
}

/// A pure computation that takes far longer than the limits below (about a
/// minute in a debug build when nothing stops it).
const LONG_PURE: &str = r#"
flow main() -> json {
    let xs = for _i in range(400) { len(unique(range(100000))) }
    sum(xs)
}
"#;

#[test]
fn unique_of_a_large_list_is_correct_and_fast() {
    let src = r#"
flow main() -> json {
    { n: len(unique(range(100000))), records: unique([{ a: 1, b: [1] }, { b: [1], a: 1 }, { a: 2, b: [] }]) }
}
"#;
    let started = std::time::Instant::now();
    let out = run_flow("unique", src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.result(),
        serde_json::json!({
            "n": 100000,
            "records": [{ "a": 1, "b": [1] }, { "a": 2, "b": [] }]
        })
    );
    // Quadratic, this took 45 s in a debug build; linear, well under a second.
    assert!(started.elapsed().as_secs() < 15, "{:?}", started.elapsed());
}

#[test]
fn a_deadline_ends_a_long_pure_computation() {
    let src = LONG_PURE.replace(
        "flow main() -> json {",
        "flow main() -> json with { deadline: 1s } {",
    );
    let started = std::time::Instant::now();
    let out = run_flow("pure-deadline", &src, &[], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("[timeout]"), "{}", out.stderr);
    assert!(out.stderr.contains("deadline of 1s"), "{}", out.stderr);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

#[test]
fn ctrl_c_ends_a_long_pure_computation_with_130() {
    let dir = tempdir("pure-sigint");
    std::fs::write(dir.join("main.flow"), LONG_PURE).expect("write flow");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("run")
        .arg(dir.join("main.flow"))
        .env("NO_COLOR", "1")
        .env("FLOWC_STORE", common::test_store())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("flowc starts");
    // Well into the computation.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let sent = std::time::Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let mut status = None;
    while sent.elapsed().as_secs() < 10 {
        if let Some(s) = child.try_wait().expect("wait") {
            status = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("flowc still runs 10 s after SIGINT");
    };
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("run cancelled"), "{stderr}");
}

#[test]
fn read_json_of_a_fifo_nobody_writes_to_times_out_and_the_process_exits() {
    let dir = tempdir("fifo");
    let made = Command::new("mkfifo")
        .arg(dir.join("pipe"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    std::fs::write(
        dir.join("main.flow"),
        r#"
tool read(path: string) -> json = builtin "read_json" with { timeout: 1s }
flow main() -> json { read(path: "pipe") }
"#,
    )
    .expect("write flow");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("run")
        .arg(dir.join("main.flow"))
        .env("NO_COLOR", "1")
        .env("FLOWC_STORE", common::test_store())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("flowc starts");
    let started = std::time::Instant::now();
    let mut status = None;
    while started.elapsed().as_secs() < 15 {
        if let Some(s) = child.try_wait().expect("wait") {
            status = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("flowc still runs 15 s after it started; its step had a 1 s timeout");
    };
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("[timeout]"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A python3 tool that prints one JSON string of `n` bytes.
const GEN: &str =
    "import json, sys\nn = json.load(sys.stdin)['n']\nsys.stdout.write('\"' + 'x' * n + '\"')\n";

#[test]
fn a_value_is_dropped_once_its_last_reader_has_finished() {
    // 60 strings of 4 MB; each is read once, then its block waits for a permit
    // (every `gen` is queued before the first `wait`). Held until their blocks
    // end, they would all be in memory at once: 248 MB peak, against 33 MB.
    let src = r#"
tool gen(n: int) -> string = exec ["python3", "gen.py"]
tool wait(ms: int) -> { ms: int } = builtin "sleep"
flow main() -> json {
    let xs = for _i in range(60) with { max_concurrent: 4 } {
        let big = gen(n: 4000000)
        let n = len(big)
        let w = wait(ms: n - n + 1)
        n + w.ms - 1
    }
    sum(xs)
}
"#;
    let dir = tempdir("liveness");
    std::fs::write(dir.join("main.flow"), src).expect("write flow");
    std::fs::write(dir.join("gen.py"), GEN).expect("write tool");
    let wrapper_out = dir.join("out.json");
    let (code, stderr, rss_kb) = run_measured(
        &dir,
        &["--record", wrapper_out.to_str().expect("utf-8 path")],
    );
    assert_eq!(code, 0, "{stderr}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&wrapper_out).expect("record"))
            .expect("record is JSON");
    assert_eq!(record["result"], serde_json::json!(240_000_000));
    assert!(rss_kb < 150 * 1024, "peak RSS {rss_kb} KB");
}

#[test]
fn a_result_larger_than_max_memory_is_a_policy_violation() {
    // The budget of `main` holds in the flows it calls.
    let src = r#"
tool gen(n: int) -> string = exec ["python3", "gen.py"]
flow main() -> json with { max_memory: 1MB } {
    let n = sub()
    n
}
flow sub() -> int {
    let big = gen(n: 2000000)
    len(big)
}
"#;
    let out = run_flow("max-memory", src, &[("gen.py", GEN)], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("[policy_violation]"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the result of `gen` takes about 1.9 MB, more than max_memory (1 MB)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("raise `max_memory`"), "{}", out.stderr);
}

#[test]
fn over_max_memory_new_steps_wait_and_the_run_completes() {
    // Each body holds an 800 KB string while its `wait` runs; two of them
    // pass the budget, so no two `wait`s may run at once.
    let src = r#"
tool gen(n: int) -> string = exec ["python3", "gen.py"]
tool wait(ms: int, s: string) -> { ms: int } = builtin "sleep"
flow main() -> json {
    let xs = for _i in range(6) {
        let s = gen(n: 800000)
        let w = wait(ms: 100, s: s)
        len(s) + w.ms
    }
    sum(xs)
}
"#;
    let waits_overlap = |out: &common::Out| {
        let mut spans: Vec<(f64, f64)> = out
            .steps()
            .iter()
            .filter(|s| s["step"] == "w")
            .map(|s| {
                (
                    s["start_ms"].as_f64().expect("start"),
                    s["end_ms"].as_f64().expect("end"),
                )
            })
            .collect();
        assert_eq!(spans.len(), 6);
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        spans.windows(2).any(|w| w[1].0 < w[0].1)
    };
    let out = run_flow(
        "backpressure",
        src,
        &[("gen.py", GEN)],
        &["--set", "max_memory=1MB"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), serde_json::json!(6 * 800_100));
    assert!(!waits_overlap(&out), "{:#}", out.record["steps"]);
    // Without a budget, they overlap.
    let out = run_flow("no-backpressure", src, &[("gen.py", GEN)], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), serde_json::json!(6 * 800_100));
    assert!(waits_overlap(&out), "{:#}", out.record["steps"]);
}

#[test]
fn an_openai_answer_longer_than_1_mb_is_an_llm_error() {
    let server = common::serve(|_, _| {
        let content = "a".repeat(2 * 1024 * 1024);
        common::Reply::new(
            200,
            serde_json::json!({ "choices": [{ "message": { "content": content } }] }).to_string(),
        )
    });
    let src = r#"
flow main() -> string {
    decide "which?" {
        a => "A"
        else => "C"
    }
}
"#;
    let provider = format!("openai:{}/v1", server.base);
    let out = run_flow("openai-flood", src, &[], &["--llm", &provider]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("[llm_error]"), "{}", out.stderr);
    assert!(
        out.stderr.contains("answer is longer than 1 MB"),
        "{}",
        out.stderr
    );
}

#[test]
fn sizes_on_the_command_line_are_checked() {
    let src = "flow main() -> int { 1 }\n";
    let out = run_flow("set-size", src, &[], &["--set", "max_output=lots"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`max_output` takes a size such as `64MB` or a number of bytes, not `lots`"),
        "{}",
        out.stderr
    );
    let out = run_flow("set-size-ok", src, &[], &["--set", "max_memory=512KB"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_deadline_stops_one_long_built_in_call() {
    // One expression: nothing in it waits. Unstopped, it takes about 19 s in a
    // debug build.
    let src = r#"
flow main() -> json with { deadline: 1s } { len(sort(unique(range(10000000)))) }
"#;
    let started = std::time::Instant::now();
    let out = run_flow("builtin-deadline", src, &[], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("[timeout]"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("was stopped at the deadline of an enclosing block"),
        "{}",
        out.stderr
    );
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

#[test]
fn values_built_by_pure_computation_are_held_to_max_memory() {
    // Each builds far more than 256 KB from small literals, without a tool.
    for (tag, body, what) in [
        (
            "pure-for",
            "let big = for i in range(0, 200) { join(for j in range(0, 200) { \"xxxxxxxxxxxxxxxxxxxx\" }, \",\") }\n    len(big)",
            "the `for`s and `loop`s under way have built",
        ),
        (
            "pure-range",
            "len(range(0, 100000))",
            "the result of `range` would take about 1.5 MB",
        ),
        (
            "pure-concat",
            "let s = loop s = \"xxxxxxxx\" max 20 until false { s ++ s }\n    len(s)",
            "`++` would take about",
        ),
        (
            "pure-interpolation",
            "let s = loop s = \"xxxxxxxx\" max 20 until false { \"{s}{s}\" }\n    len(s)",
            "the string would take about",
        ),
    ] {
        let src = format!("flow main() -> int {{\n    {body}\n}}\n");
        let out = run_flow(tag, &src, &[], &["--set", "max_memory=256KB"]);
        assert_eq!(out.code, 1, "{tag}: {}", out.stderr);
        assert!(
            out.stderr.contains("[policy_violation]"),
            "{tag}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(what), "{tag}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("more than max_memory (256 KB) allows a run to hold"),
            "{tag}: {}",
            out.stderr
        );
        assert_eq!(out.record["status"], "failed", "{tag}");
        // Without a budget the same flow runs (8 MB at most).
        let out = run_flow(tag, &src, &[], &[]);
        assert_eq!(out.code, 0, "{tag}: {}", out.stderr);
    }
}
