//! MCP tools against a real MCP server: `examples/mcp/ops_mcp.py`, written
//! with the official Python SDK (PyPI `mcp`, pinned in
//! tests/mcp/requirements.txt, installed into target/mcp-venv by
//! tests/mcp/install.sh, which the tests run). The venv's `bin` is put first
//! on `PATH`, so `stdio ["python3", …]` starts the SDK's python.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv with the SDK, installed once per test process.
fn venv_bin() -> PathBuf {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        let st = Command::new("bash")
            .arg(root().join("tests/mcp/install.sh"))
            .status()
            .expect("bash runs");
        assert!(st.success(), "tests/mcp/install.sh failed");
        root().join("target/mcp-venv/bin")
    })
    .clone()
}

fn path_env() -> String {
    format!(
        "{}:{}",
        venv_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

struct Ran {
    stdout: String,
    stderr: String,
    code: i32,
}

fn flowc(args: &[&str], store: &Path, envs: &[(&str, &str)]) -> Ran {
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env("PATH", path_env())
        .env("FLOWC_STORE", store)
        .envs(envs.iter().copied())
        .output()
        .expect("flowc runs");
    Ran {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

fn json(r: &Ran) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            r.stdout, r.stderr
        )
    })
}

/// The processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(marker) {
            out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    out
}

#[test]
fn the_example_checks_against_the_servers_schemas_and_caches_them() {
    let store = common::tempdir("mcp-check");
    let r = flowc(&["check", "examples/mcp/ops.flow"], &store, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("W0009"), "{}", r.stderr);
    let cache = std::fs::read_to_string(store.join("mcp-tools.json")).expect("the cache is kept");
    assert!(cache.contains("ci_detail_lookup"), "{cache}");
    // Checked again from the cache: the server is not needed (PATH has no SDK).
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["check", "examples/mcp/ops.flow"])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env("PATH", "/nonexistent")
        .env("FLOWC_STORE", &store)
        .output()
        .expect("flowc runs");
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_mismatch_with_the_sdk_servers_schema_is_reported() {
    let dir = common::tempdir("mcp-mismatch");
    let server = root().join("examples/mcp/ops_mcp.py");
    let src = format!(
        "mcp server ops = stdio [\"python3\", {server:?}]\n\
         tool ci_detail(ci_id: int) -> {{ rows: [{{ ci_id: int }}] }} = mcp ops \"ci_detail_lookup\"\n\
         tool analysis(ci_ids: [string], metric: string) -> json = mcp ops \"metric_analysis\"\n\
         tool rca(anomalies: json) -> json = mcp ops \"root_cuase\"\n\
         flow main() -> json {{ [ci_detail(ci_id: 1), analysis(ci_ids: [], metric: \"cpu\"), rca(anomalies: [])] }}\n"
    );
    std::fs::write(dir.join("main.flow"), src).expect("write");
    let file = dir.join("main.flow");
    let r = flowc(
        &["check", "--format", "json", file.to_str().expect("utf-8")],
        &dir.join(".flowc"),
        &[],
    );
    let codes: Vec<String> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|d| {
            format!(
                "{} {}",
                d["code"].as_str().unwrap_or(""),
                d["labels"][0]["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    let all = codes.join("\n");
    // `ci_id: int` against a string; `rows[].ci_id: int` against a string
    // behind `$ref`; `metric: string` against an enum; a misspelt tool.
    assert!(all.contains("E0517 ci_id: the schema says string"), "{all}");
    assert!(
        all.contains("E0518 result.rows[].ci_id: the schema says string"),
        "{all}"
    );
    assert!(
        all.contains("E0517 metric: the schema says one of"),
        "{all}"
    );
    assert!(all.contains("E0514"), "{all}");
    assert_eq!(r.code, 1);
}

/// The example flow with exec tools doing the same work (the examples' own
/// Python tools), beside a copy of the MCP flow.
fn exec_twin(dir: &Path) -> PathBuf {
    let tools = root().join("examples/tools");
    std::fs::write(
        dir.join("analysis.py"),
        format!(
            "import json, subprocess, sys\n\
             a = json.load(sys.stdin)\n\
             r = subprocess.run([sys.executable, {:?}, a['metric']], input=json.dumps(a), capture_output=True, text=True)\n\
             sys.stdout.write(r.stdout)\n",
            tools.join("metrics.py")
        ),
    )
    .expect("write");
    let text = std::fs::read_to_string(root().join("examples/mcp/ops.flow")).expect("read");
    let text = text
        .replace(
            "mcp ops \"ci_detail_lookup\"",
            &format!(
                "exec [\"python3\", {:?}, \"detail\"]",
                tools.join("cmdb.py")
            ),
        )
        .replace(
            "mcp ops \"metric_analysis\"",
            "exec [\"python3\", \"analysis.py\"]",
        )
        .replace(
            "mcp ops \"root_cause\"",
            &format!("exec [\"python3\", {:?}]", tools.join("rca.py")),
        );
    assert!(!text.contains("= mcp"), "{text}");
    let f = dir.join("exec.flow");
    std::fs::write(&f, text).expect("write");
    f
}

#[test]
fn a_run_gives_what_the_same_flow_with_exec_tools_gives_and_stops_its_server() {
    let dir = common::tempdir("mcp-run");
    // The server from a folder of this test: its processes can be found by path.
    let here = dir.join("srv");
    std::fs::create_dir_all(&here).expect("dir");
    std::fs::copy(
        root().join("examples/mcp/ops_mcp.py"),
        here.join("ops_mcp.py"),
    )
    .expect("copy");
    std::fs::copy(root().join("examples/mcp/ops.flow"), here.join("ops.flow")).expect("copy");
    let data = root().join("examples/data");
    let envs = [("OPS_MCP_DATA", data.to_str().expect("utf-8"))];
    let store = dir.join(".flowc");
    let flow = here.join("ops.flow");
    for ci in ["CI-123", "CI-131", "CI-101"] {
        let arg = format!("ci_id={ci}");
        let mcp = flowc(
            &["run", flow.to_str().expect("utf-8"), "--arg", &arg],
            &store,
            &envs,
        );
        assert_eq!(mcp.code, 0, "{}", mcp.stderr);
        let twin = exec_twin(&dir);
        let exec = flowc(
            &["run", twin.to_str().expect("utf-8"), "--arg", &arg],
            &store,
            &envs,
        );
        assert_eq!(exec.code, 0, "{}", exec.stderr);
        assert_eq!(json(&mcp), json(&exec), "{ci}");
        // The run is over: its server with it.
        let left = processes_with(here.to_str().expect("utf-8"));
        assert!(left.is_empty(), "the server outlived the run: {left:?}");
    }
}

#[test]
fn a_server_that_crashes_fails_the_call_and_is_started_again() {
    let dir = common::tempdir("mcp-crash");
    let server = root().join("examples/mcp/ops_mcp.py");
    let src = format!(
        "mcp server ops = stdio [\"python3\", {server:?}]\n\
         tool ci_detail(ci_id: string) -> {{ rows: [{{ name: string }}] }} = mcp ops \"ci_detail_lookup\"\n\
         flow main() -> json {{\n\
             sequence {{\n\
                 let first = try {{ ci_detail(ci_id: \"CI-101\").rows[0].name }} catch e {{ e.kind }}\n\
                 let second = ci_detail(ci_id: \"CI-123\").rows[0].name\n\
                 {{ first, second }}\n\
             }}\n\
         }}\n"
    );
    std::fs::write(dir.join("main.flow"), src).expect("write");
    let file = dir.join("main.flow");
    let r = flowc(
        &["run", file.to_str().expect("utf-8")],
        &dir.join(".flowc"),
        &[("OPS_MCP_CRASH_ON", "CI-101")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        json(&r),
        serde_json::json!({ "first": "tool_error", "second": "lb-023" })
    );
}

#[test]
fn a_server_over_streamable_http_gets_its_token_from_the_environment() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut server = Command::new(venv_bin().join("python"))
        .arg(root().join("examples/mcp/ops_mcp.py"))
        .args(["--http", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the server starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not listen"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let dir = common::tempdir("mcp-http");
    let text = std::fs::read_to_string(root().join("examples/mcp/ops.flow")).expect("read");
    let text = text.replace(
        "stdio [\"python3\", \"ops_mcp.py\"]",
        &format!("http \"http://127.0.0.1:{port}/mcp\" auth_env \"OPS_TOKEN\""),
    );
    let f = dir.join("ops.flow");
    std::fs::write(&f, text).expect("write");
    let store = dir.join(".flowc");
    let r = flowc(
        &["run", f.to_str().expect("utf-8"), "--arg", "ci_id=CI-123"],
        &store,
        &[("OPS_TOKEN", "s3cret-token")],
    );
    let stdio = flowc(
        &["run", "examples/mcp/ops.flow", "--arg", "ci_id=CI-123"],
        &store,
        &[],
    );
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r), json(&stdio));
    // The token is in neither the cache nor the store.
    for e in std::fs::read_dir(&store).expect("store").flatten() {
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cret-token"),
            "{}",
            e.path().display()
        );
    }
}

/// `flowc mcp PATHS…` driven by the Python SDK's client (tests/mcp/client.py).
fn client(store: &Path, paths: &[&str], args: &[&str]) -> Value {
    let out = Command::new(venv_bin().join("python"))
        .arg(root().join("tests/mcp/client.py"))
        .arg(env!("CARGO_BIN_EXE_flowc"))
        .arg(store)
        .arg(serde_json::to_string(paths).expect("paths"))
        .args(args)
        .current_dir(root())
        .env("PATH", path_env())
        .output()
        .expect("the client runs");
    printed_json("the client", &out)
}

/// The JSON `who` printed on stdout (a failure shows stdout and stderr).
fn printed_json(who: &str, out: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{who} printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn flowc_mcp_lists_flows_and_a_call_answers_what_flowc_run_prints() {
    let store = common::tempdir("mcp-serve");
    let tools = client(&store, &["examples/analysis_workflow.flow"], &["list"]);
    let names: Vec<&str> = tools
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["main", "flowc_run_status"], "{tools:#}");
    assert_eq!(
        tools[0]["input"]["properties"]["ci_id"]["type"], "string",
        "{tools:#}"
    );
    let call = client(
        &store,
        &["examples/analysis_workflow.flow"],
        &["call", "main", r#"{"ci_id": "CI-123"}"#],
    );
    assert_eq!(call["is_error"], false, "{call:#}");
    let run = flowc(
        &[
            "run",
            "examples/analysis_workflow.flow",
            "--arg",
            "ci_id=CI-123",
        ],
        &store,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // `json` is not a record's type: the result comes as `{ result }`.
    assert_eq!(call["structured"]["result"], json(&run), "{call:#}");
}

#[test]
fn a_flow_that_pauses_answers_its_run_id_and_the_status_tool_its_result() {
    let store = common::tempdir("mcp-approve");
    let call = client(&store, &["examples/approval.flow"], &["call", "main", "{}"]);
    assert_eq!(call["structured"]["status"], "paused", "{call:#}");
    let id = call["structured"]["run_id"]
        .as_str()
        .expect("a run id")
        .to_string();
    let status = client(
        &store,
        &["examples/approval.flow"],
        &[
            "call",
            "flowc_run_status",
            &format!(r#"{{"run_id": "{id}"}}"#),
        ],
    );
    assert_eq!(status["structured"]["status"], "paused", "{status:#}");
    let st = store.to_str().expect("utf-8");
    let a = flowc(&["approve", &id, "--store", st], &store, &[]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let r = flowc(&["resume", &id, "--store", st], &store, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let status = client(
        &store,
        &["examples/approval.flow"],
        &[
            "call",
            "flowc_run_status",
            &format!(r#"{{"run_id": "{id}"}}"#),
        ],
    );
    assert_eq!(status["structured"]["status"], "ok", "{status:#}");
    assert_eq!(status["structured"]["result"], json(&r), "{status:#}");
}

#[test]
fn flowc_mcp_examples_names_the_flows_that_share_a_name_by_their_file() {
    let store = common::tempdir("mcp-examples");
    let tools = client(&store, &["examples"], &["list"]);
    let names: Vec<&str> = tools
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for n in [
        "analysis_workflow_main",
        "approval_main",
        "analyze_ci",
        "flowc_run_status",
    ] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }
    let call = client(&store, &["examples"], &["call", "analyze_ci", "{}"]);
    assert_eq!(call["is_error"], false, "{call:#}");
    assert_eq!(call["structured"]["ci"], "CI-123", "{call:#}");
}

#[test]
fn only_exported_flows_are_served_when_any_is_marked() {
    let dir = common::tempdir("mcp-export");
    std::fs::write(
        dir.join("f.flow"),
        "/// Doubles a number.\nexport flow double(n: int) -> int {\n    n * 2\n}\n\nflow helper() -> int {\n    1\n}\n",
    )
    .expect("write");
    let store = dir.join(".flowc");
    let file = dir.join("f.flow");
    let f = file.to_str().expect("utf-8");
    let tools = client(&store, &[f], &["list"]);
    let names: Vec<&str> = tools
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["double", "flowc_run_status"], "{tools:#}");
    assert_eq!(tools[0]["description"], "Doubles a number.", "{tools:#}");
    let call = client(&store, &[f], &["call", "double", r#"{"n": 21}"#]);
    assert_eq!(
        call["structured"],
        serde_json::json!({ "result": 42 }),
        "{call:#}"
    );
}

#[test]
fn kill_9_then_resume_does_not_repeat_finished_mcp_calls_and_leaves_no_server() {
    let dir = common::tempdir("mcp-kill");
    let server = root().join("examples/mcp/ops_mcp.py");
    let log = dir.join("calls.log");
    // The MCP call, then an exec tool that waits for the file `go`.
    let src = format!(
        "mcp server ops = stdio [\"python3\", {server:?}]\n\
         tool ci_detail(ci_id: string) -> {{ rows: [{{ name: string }}] }} = mcp ops \"ci_detail_lookup\"\n\
         tool wait(name: string) -> string = exec [\"sh\", \"-c\", \"touch started; while [ ! -e go ]; do sleep 0.05; done; echo '\\\"done\\\"'\"]\n\
         flow main() -> json {{\n\
             sequence {{\n\
                 let name = ci_detail(ci_id: \"CI-123\").rows[0].name\n\
                 let w = wait(name: name)\n\
                 {{ name, w }}\n\
             }}\n\
         }}\n"
    );
    std::fs::write(dir.join("main.flow"), src).expect("write");
    let store = dir.join(".flowc");
    let log_s = log.to_str().expect("utf-8").to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["run", "main.flow", "-q"])
        .current_dir(&dir)
        .env("PATH", path_env())
        .env("FLOWC_STORE", &store)
        .env("OPS_MCP_LOG", &log_s)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("flowc starts");
    let t0 = std::time::Instant::now();
    while !dir.join("started").exists() {
        assert!(t0.elapsed().as_secs() < 60, "the run never got to `wait`");
        assert!(child.try_wait().expect("wait").is_none(), "the run ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The journal commits finished steps in batches, on a thread of its own:
    // time for the MCP call's row to be committed before the kill.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    // The watcher kills the server's group when flowc is gone.
    let marker = server.to_str().expect("utf-8");
    let t0 = std::time::Instant::now();
    while !processes_with(marker).is_empty() {
        assert!(
            t0.elapsed().as_secs() < 10,
            "the server outlived flowc: {:?}",
            processes_with(marker)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::write(dir.join("go"), "").expect("go");
    let runs = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["runs", "--format", "json"])
        .current_dir(&dir)
        .env("FLOWC_STORE", &store)
        .output()
        .expect("flowc runs");
    let runs: Value = serde_json::from_slice(&runs.stdout).expect("runs JSON");
    let id = runs[0]["id"].as_str().expect("an id").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["resume", &id])
        .current_dir(&dir)
        .env("PATH", path_env())
        .env("FLOWC_STORE", &store)
        .env("OPS_MCP_LOG", &log_s)
        .output()
        .expect("flowc resume");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("a JSON result");
    assert_eq!(v, serde_json::json!({ "name": "lb-023", "w": "done" }));
    let calls = std::fs::read_to_string(&log).expect("the log");
    assert_eq!(calls, "ci_detail_lookup CI-123\n", "the MCP call ran again");
}

#[test]
fn a_call_the_client_cancels_cancels_its_run() {
    let dir = common::tempdir("mcp-cancel");
    std::fs::write(
        dir.join("f.flow"),
        "tool wait() -> string = exec [\"sh\", \"-c\", \"sleep 120; echo '\\\"late\\\"'\"]\n\nflow slow() -> string {\n    wait()\n}\n",
    )
    .expect("write");
    let store = dir.join(".flowc");
    let file = dir.join("f.flow");
    let f = file.to_str().expect("utf-8");
    let t0 = std::time::Instant::now();
    let out = client(&store, &[f], &["cancel", "slow", "{}", "2"]);
    assert_eq!(out, serde_json::json!({}));
    // The tool sleeps 120 s: well under that, the client did not wait for
    // it (a loaded machine's Python start-ups take seconds).
    assert!(
        t0.elapsed().as_secs() < 100,
        "the client waited for the run"
    );
    let runs = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["runs", "--format", "json"])
        .env("FLOWC_STORE", &store)
        .output()
        .expect("flowc runs");
    let runs: Value = serde_json::from_slice(&runs.stdout).expect("runs JSON");
    assert_eq!(runs[0]["status"], "cancelled", "{runs:#}");
}

/// `flowc mcp --listen 127.0.0.1:0` serving `file`: the server, its URL and
/// the operator token it printed.
fn listen(store: &Path, file: &str) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let mut server = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["mcp", "--listen", "127.0.0.1:0", "--store"])
        .arg(store)
        .arg(file)
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("flowc mcp starts");
    let mut lines = std::io::BufReader::new(server.stderr.take().expect("stderr")).lines();
    let (mut url, mut token) = (String::new(), String::new());
    while url.is_empty() || token.is_empty() {
        let line = lines.next().expect("a line").expect("text");
        if let Some(u) = line.strip_prefix("flowc mcp: listening on ") {
            url = u.to_string();
        }
        if let Some(t) = line.strip_prefix("flowc mcp: token (operator): ") {
            token = t.to_string();
        }
    }
    (server, url, token)
}

#[test]
fn flowc_mcp_listen_serves_streamable_http_with_a_token() {
    let store = common::tempdir("mcp-listen");
    let (mut server, url, token) = listen(&store, "examples/analysis_workflow.flow");
    // The client takes the URL in place of the flowc binary, the token in
    // place of the store.
    let out = Command::new(venv_bin().join("python"))
        .arg(root().join("tests/mcp/client.py"))
        .args([&url, &token, "[]", "call", "main", r#"{"ci_id": "CI-123"}"#])
        .output()
        .expect("the client runs");
    let wrong = Command::new(venv_bin().join("python"))
        .arg(root().join("tests/mcp/client.py"))
        .args([&url, "not-the-token", "[]", "list"])
        .output()
        .expect("the client runs");
    let _ = server.kill();
    let _ = server.wait();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["is_error"], false, "{v:#}");
    let run = flowc(
        &[
            "run",
            "examples/analysis_workflow.flow",
            "--arg",
            "ci_id=CI-123",
        ],
        &store,
        &[],
    );
    assert_eq!(v["structured"]["result"], json(&run), "{v:#}");
    assert!(!wrong.status.success(), "a wrong token was taken");
}

/// `flowc lsp` completes MCP tool names and parameters from the cache that a
/// `flowc check` against the real server filled; the language server itself
/// starts no server (its `PATH` has no Python).
#[test]
fn the_language_server_completes_mcp_tools_and_parameters_from_the_cache() {
    let store = common::tempdir("mcp-lsp");
    let dir = common::tempdir("mcp-lsp-src");
    std::fs::copy(
        root().join("examples/mcp/ops_mcp.py"),
        dir.join("ops_mcp.py"),
    )
    .unwrap();
    let checked_text = "mcp server ops = stdio [\"python3\", \"ops_mcp.py\"]\n\n\
                        tool ci_detail(ci_id: string) -> json = mcp ops \"ci_detail_lookup\"\n";
    std::fs::write(dir.join("ops.flow"), checked_text).unwrap();
    let r = flowc(
        &["check", dir.join("ops.flow").to_str().unwrap()],
        &store,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mut lsp = common::lsp::Server::start_with(
        Path::new(env!("CARGO_BIN_EXE_flowc")),
        &[("FLOWC_STORE", &store), ("PATH", Path::new("/nonexistent"))],
    );
    let uri = format!("file://{}", dir.join("ops.flow").display());
    lsp.open(&uri, checked_text);
    lsp.diagnostics(&uri, 1);

    // The tool's name, inside the string after `mcp ops`.
    let text = format!("{checked_text}tool rc() -> json = mcp ops \"ro\n");
    lsp.replace(&uri, 2, &text);
    lsp.diagnostics(&uri, 2);
    let at = (
        text.lines().count() - 1,
        "tool rc() -> json = mcp ops \"ro".len(),
    );
    let id = lsp.completion(&uri, at);
    let items = lsp.response(id)["result"].clone();
    let labels: Vec<&str> = items
        .as_array()
        .expect("a list of completions")
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect();
    assert_eq!(labels, ["root_cause"], "{items:#}");

    // The parameters of a declaration bound to `metric_analysis`: those its
    // schema has and the declaration lacks, typed from the schema.
    let text = format!(
        "{checked_text}tool analysis(ci_ids: [string], ) -> json = mcp ops \"metric_analysis\"\n"
    );
    lsp.replace(&uri, 3, &text);
    lsp.diagnostics(&uri, 3);
    let line = text.lines().count() - 1;
    let at = (line, "tool analysis(ci_ids: [string], ".len());
    let id = lsp.completion(&uri, at);
    let items = lsp.response(id)["result"].clone();
    let got: Vec<(String, String)> = items
        .as_array()
        .expect("a list of completions")
        .iter()
        .map(|i| {
            (
                i["label"].as_str().unwrap_or("").to_string(),
                i["insertText"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [(
            "metric".to_string(),
            "metric: \"cpu\" | \"disk\" | \"memory\" | \"network\"".to_string()
        )],
        "{items:#}"
    );
    lsp.finish();
}

/// The MCP Inspector (npm `@modelcontextprotocol/inspector`, pinned in
/// tests/mcp/inspector/package-lock.json), installed once per test process.
fn inspector() -> PathBuf {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        let st = Command::new("bash")
            .arg(root().join("tests/mcp/install-inspector.sh"))
            .status()
            .expect("bash runs");
        assert!(
            st.success(),
            "tests/mcp/install-inspector.sh failed (npm ci of the MCP Inspector into target/mcp-inspector)"
        );
        root().join("target/mcp-inspector/node_modules/.bin/mcp-inspector")
    })
    .clone()
}

/// The Inspector's CLI mode with `args`; its JSON answer.
fn inspect(args: &[&str]) -> Value {
    let home = common::tempdir("mcp-inspector-home");
    let out = Command::new(inspector())
        .arg("--cli")
        .args(args)
        .current_dir(root())
        // Its catalog of servers goes to a folder of the test, not the user's.
        .env("HOME", &home)
        .env("MCP_CATALOG_PATH", home.join("mcp.json"))
        .output()
        .expect("the MCP Inspector runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Inspector failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    printed_json("the Inspector", &out)
}

/// The MCP Inspector's CLI lists the flows `flowc mcp` serves and calls one,
/// over stdio and over streamable HTTP with a token; the call's structured
/// content is what `flowc run` prints.
#[test]
fn the_mcp_inspector_lists_and_calls_a_flow() {
    let store = common::tempdir("mcp-inspector");
    let flowc_bin = env!("CARGO_BIN_EXE_flowc");
    let store_arg = store.to_str().expect("a UTF-8 path");
    let served = ["mcp", "--store", store_arg, "examples/ci_analysis.flow"];
    let mut stdio: Vec<&str> = vec![flowc_bin];
    stdio.extend(served);

    let mut list = stdio.clone();
    list.extend(["--method", "tools/list"]);
    let tools = inspect(&list);
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .expect("a list of tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["analyze_ci", "flowc_run_status"], "{tools:#}");
    assert_eq!(
        tools["tools"][0]["inputSchema"]["properties"]["ci_id"]["type"], "string",
        "{tools:#}"
    );

    let mut call = stdio.clone();
    call.extend([
        "--method",
        "tools/call",
        "--tool-name",
        "analyze_ci",
        "--tool-arg",
        "ci_id=CI-123",
    ]);
    let answer = inspect(&call);
    assert_eq!(answer["isError"], false, "{answer:#}");
    let run = flowc(
        &["run", "examples/ci_analysis.flow", "--arg", "ci_id=CI-123"],
        &store,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(answer["structuredContent"], json(&run), "{answer:#}");

    // Streamable HTTP, with the operator token printed at start.
    let (mut server, url, token) = listen(&store, "examples/ci_analysis.flow");
    let auth = format!("Authorization: Bearer {token}");
    let over_http = inspect(&[
        &url,
        "--transport",
        "http",
        "--header",
        &auth,
        "--method",
        "tools/call",
        "--tool-name",
        "analyze_ci",
        "--tool-arg",
        "ci_id=CI-123",
    ]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(over_http["structuredContent"], json(&run), "{over_http:#}");
}
