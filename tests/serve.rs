//! `flowc serve` as clients use it: a real server process on 127.0.0.1,
//! driven by a real HTTP client (reqwest), in a store that `flowc run` and
//! `flowc approve` use too.

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::{flowc, http, tempdir, text};
use serde_json::{Value, json};

/// A tool that counts its calls in a file and answers after `ms`.
const COUNT: &str = r#"import json, os, sys, time
args = json.load(sys.stdin)
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "calls-" + args["name"])
with open(os.path.join(here, "pid-" + args["name"]), "w") as f:
    f.write(str(os.getpid()))
with open(path, "a") as f:
    f.write("x")
time.sleep(args.get("ms", 0) / 1000)
print(json.dumps({"n": os.path.getsize(path), "pid": os.getpid()}))
"#;

const FLOWS: &str = r#"
tool count(name: string, ms: int) -> { n: int, pid: int } = exec ["python3", "count.py"]

tool echo(text: string, n: int) -> { text: string, n: int } = builtin "echo"

effect tool ship(what: string) -> { shipped: string } = exec ["python3", "ship.py"]

/// Adds up what it counted.
flow main(name: string, times: int = 2, tag: "a" | "b" = "a") -> { total: int, tag: string } {
    let a = count(name: name, ms: 0)
    let b = count(name: name, ms: 0) after a
    { total: a.n + b.n + times, tag }
}

/// Ships after a person says yes.
flow gated(what: string) -> { shipped: string? } {
    let c = count(name: "gated", ms: 0)
    let ok = approve "Ship {what}?"
    let s = if ok { ship(what: what).shipped } else { null }
    { shipped: s }
}

/// A chain: `mid` feeds `down`; `up` and `side` stand apart from them.
flow chain() -> int {
    let up = count(name: "up", ms: 0)
    let mid = count(name: "mid", ms: up.n * 0)
    let side = count(name: "side", ms: 0)
    let down = count(name: "down", ms: mid.n * 0)
    up.n * 1000 + mid.n * 100 + down.n * 10 + side.n
}

/// Counts once, after `ms`.
flow wait(name: string, ms: int) -> int {
    let c = count(name: name, ms: ms)
    c.n
}

/// Echoes a text of `n` numbers and how long it is (its arguments are large).
flow wide(n: int) -> int {
    let big = echo(text: to_string(range(n)), n: n)
    len(big.text)
}

/// Sleeps long (to be cancelled).
flow slow() -> int {
    let c = count(name: "slow", ms: 60000)
    c.n
}
"#;

const SHIP: &str = r#"import json, sys
print(json.dumps({"shipped": json.load(sys.stdin)["what"]}))
"#;

/// A project folder with the flows and their tools.
fn project(tag: &str) -> PathBuf {
    let dir = tempdir(tag);
    std::fs::write(dir.join("ops.flow"), FLOWS).unwrap();
    std::fs::write(dir.join("count.py"), COUNT).unwrap();
    std::fs::write(dir.join("ship.py"), SHIP).unwrap();
    dir
}

struct Server {
    child: Child,
    base: String,
    token: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `flowc serve` in `dir` on a free port; waits until it listens.
fn serve(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--store", ".flowc"];
    args.extend_from_slice(extra);
    args.push("ops.flow");
    let started = common::service::launch(dir, &args);
    Server {
        child: started.child,
        base: started.base,
        token: started.token.unwrap_or_default(),
        log: started.log,
    }
}

impl Server {
    fn get(&self, path: &str) -> (u16, Value) {
        http(
            "GET",
            &format!("{}{path}", self.base),
            Some(&self.token),
            None,
        )
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        http(
            "POST",
            &format!("{}{path}", self.base),
            Some(&self.token),
            Some(body),
        )
    }

    fn start(&self, flow: &str, args: Value) -> String {
        let (status, v) = self.post(
            "/api/v1/runs",
            json!({ "file": "ops.flow", "flow": flow, "args": args }),
        );
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// The run's events, read to the end of the stream (after `last`).
    fn events(&self, id: &str, last: Option<u64>) -> Vec<(u64, String, Value)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let text = rt.block_on(async {
            let mut req = reqwest::Client::new()
                .get(format!("{}/api/v1/runs/{id}/events", self.base))
                .bearer_auth(&self.token);
            if let Some(l) = last {
                req = req.header("Last-Event-ID", l.to_string());
            }
            let resp = req.send().await.unwrap();
            assert_eq!(
                resp.headers()["content-type"].to_str().unwrap(),
                "text/event-stream"
            );
            tokio::time::timeout(Duration::from_secs(120), resp.text())
                .await
                .expect("the stream ends with the run")
                .unwrap()
        });
        text.split("\n\n")
            .filter(|f| f.contains("event: "))
            .map(|f| {
                let field = |k: &str| {
                    f.lines()
                        .find_map(|l| l.strip_prefix(k))
                        .unwrap_or_default()
                        .to_string()
                };
                (
                    field("id: ").parse().unwrap(),
                    field("event: "),
                    serde_json::from_str(&field("data: ")).unwrap(),
                )
            })
            .collect()
    }

    fn wait_status(&self, id: &str, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, v) = self.get(&format!("/api/v1/runs/{id}"));
            if v["status"] == want && v["live"] == false {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "run {id} never became `{want}`: {v:#}\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn flows_are_listed_with_json_schemas_of_their_parameters() {
    let dir = project("serve-flows");
    let s = serve(&dir, &[]);
    let (status, v) = s.get("/api/v1/flows");
    assert_eq!(status, 200, "{v}");
    let main = v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "main")
        .expect("main is served")
        .clone();
    assert_eq!(main["file"], "ops.flow");
    assert_eq!(main["doc"], "Adds up what it counted.");
    assert_eq!(
        main["parameters"],
        json!({
            "type": "object",
            "properties": {
                "name": { "type": "string" },
                "times": { "type": "integer" },
                "tag": { "type": "string", "enum": ["a", "b"] },
            },
            "required": ["name"],
            "additionalProperties": false,
        })
    );
    assert_eq!(
        main["result"]["properties"]["total"],
        json!({ "type": "integer" })
    );
}

#[test]
fn a_run_started_by_the_api_streams_its_events_and_ends_as_flowc_run_ends() {
    let dir = project("serve-run");
    let s = serve(&dir, &[]);
    let id = s.start("main", json!({ "name": "api", "times": 3 }));
    let events = s.events(&id, None);
    let kinds: Vec<&str> = events.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"run_started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"run_finished"), "{kinds:?}");
    assert_eq!(events.last().unwrap().2["status"], "ok");
    let finished = kinds.iter().filter(|k| **k == "step_finished").count();
    assert_eq!(finished, 2, "{kinds:?}");
    // Numbered 1, 2, … without a gap.
    let ids: Vec<u64> = events.iter().map(|(i, _, _)| *i).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    let run = s.wait_status(&id, "ok");
    // The same flow by `flowc run` in the same store: the same result.
    let cli = flowc(
        &dir,
        &[
            "run", "ops.flow", "--arg", "name=cli", "--arg", "times=3", "--store", ".flowc",
        ],
    );
    assert_eq!(cli.status.code(), Some(0), "{}", text(&cli.stderr));
    let by_cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(run["result"], by_cli);
    assert_eq!(run["result"], json!({ "total": 6, "tag": "a" }));
    // Its steps, from the journal.
    let paths: Vec<&str> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| st["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["main/a", "main/b"]);
    // Each step's arguments: the values it was called with, not the source
    // text (`count(name: name, ms: 0)`).
    assert_eq!(
        run["steps"][0]["args"],
        json!({ "name": "api", "ms": 0 }),
        "{run:#}"
    );
    assert!(run["steps"][0].get("args_not_kept").is_none(), "{run:#}");
    let (status, whole) = s.get(&format!("/api/v1/runs/{id}/value?step=main/b&part=args"));
    assert_eq!((status, whole), (200, json!({ "name": "api", "ms": 0 })));
    let (status, v) = s.get(&format!("/api/v1/runs/{id}/value?step=main/b&part=argz"));
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("part=argz"), "{v}");
    // Both runs are listed, newest first; the one from the command line too.
    let (_, listed) = s.get("/api/v1/runs?flow=main");
    let runs = listed["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{listed:#}");
    assert_eq!(runs[1]["id"], id.as_str());
    // A reconnect after event 2 continues at 3, with nothing repeated.
    let again = s.events(&id, Some(2));
    assert_eq!(again.first().map(|e| e.0), Some(3));
    assert_eq!(again.len(), events.len() - 2);
}

#[test]
fn fifty_runs_started_at_once_all_end_with_their_own_results() {
    let dir = project("serve-fifty");
    let s = serve(&dir, &[]);
    // 50 clients at once, each its own arguments (and its own counter file).
    let ids: Vec<(usize, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    let id = s.start("main", json!({ "name": format!("r{i}"), "times": i }));
                    (i, id)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let distinct: std::collections::HashSet<&str> = ids.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(distinct.len(), 50);
    for (i, id) in &ids {
        let run = s.wait_status(id, "ok");
        // Each run called its own counter twice (1, then 2) and added its `times`.
        let calls = std::fs::read_to_string(dir.join(format!("calls-r{i}"))).unwrap();
        assert_eq!(calls, "xx", "run {i}");
        assert_eq!(
            run["result"],
            json!({ "total": 3 + i, "tag": "a" }),
            "run {i}"
        );
        let steps: Vec<(&str, &str)> = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|st| (st["path"].as_str().unwrap(), st["status"].as_str().unwrap()))
            .collect();
        assert_eq!(steps, [("main/a", "ok"), ("main/b", "ok")], "run {i}");
    }
    let (_, listed) = s.get("/api/v1/runs?flow=main&status=ok&limit=100");
    assert_eq!(listed["runs"].as_array().unwrap().len(), 50, "{listed:#}");
    let log = s.log.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_file_edited_between_two_starts_runs_as_it_is_now() {
    let dir = tempdir("serve-edited");
    let main = |n: i64| {
        format!(
            "import \"lib.flow\" as lib\n\nconst OWN = {n}\n\n/// Reads its own constant and the library's.\nflow main() -> int {{\n    OWN * 10 + lib.N\n}}\n"
        )
    };
    std::fs::write(dir.join("ops.flow"), main(1)).unwrap();
    std::fs::write(dir.join("lib.flow"), "const N = 1\n").unwrap();
    let s = serve(&dir, &[]);
    let first = s.start("main", json!({}));
    assert_eq!(s.wait_status(&first, "ok")["result"], 11);
    // Edited at once (a check is reused for a second when nothing changed).
    std::fs::write(dir.join("lib.flow"), "const N = 2\n").unwrap();
    let second = s.start("main", json!({}));
    assert_eq!(s.wait_status(&second, "ok")["result"], 12);
    std::fs::write(dir.join("ops.flow"), main(3)).unwrap();
    let third = s.start("main", json!({}));
    assert_eq!(s.wait_status(&third, "ok")["result"], 32);
    // And unchanged, the same again.
    let fourth = s.start("main", json!({}));
    assert_eq!(s.wait_status(&fourth, "ok")["result"], 32);
}

#[test]
fn arguments_that_do_not_fit_are_refused_with_422_and_nothing_runs() {
    let dir = project("serve-422");
    let s = serve(&dir, &[]);
    let (status, v) = s.post(
        "/api/v1/runs",
        json!({ "file": "ops.flow", "flow": "main", "args": { "name": 5 } }),
    );
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["parameter"], "name");
    assert!(
        v["error"].as_str().unwrap().contains("expected `string`"),
        "{v}"
    );
    let (status, v) = s.post(
        "/api/v1/runs",
        json!({ "file": "ops.flow", "flow": "main", "args": {} }),
    );
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("needs `name: string`"),
        "{v}"
    );
    let (status, v) = s.post(
        "/api/v1/runs",
        json!({ "file": "ops.flow", "flow": "main", "args": { "name": "x", "tag": "c" } }),
    );
    assert_eq!(status, 422, "{v}");
    let (status, v) = s.post(
        "/api/v1/runs",
        json!({ "file": "ops.flow", "flow": "main", "args": { "name": "x", "colour": 1 } }),
    );
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("no parameter `colour`"),
        "{v}"
    );
    let (status, _) = s.post("/api/v1/runs", json!({ "flow": "nope" }));
    assert_eq!(status, 404);
    let (status, _) = s.post("/api/v1/runs", json!({ "args": 1 }));
    assert_eq!(status, 400);
    assert!(!dir.join("calls-x").exists(), "a refused run called a tool");
    let (_, listed) = s.get("/api/v1/runs");
    assert_eq!(listed["runs"], json!([]));
}

#[test]
fn tokens_say_who_may_read_and_who_may_write() {
    let dir = project("serve-tokens");
    std::fs::write(
        dir.join("tokens"),
        "viewer vvvvvvvvvvvvvvvvvvvv\noperator oooooooooooooooooooo Grace Hopper\n",
    )
    .unwrap();
    let s = serve(&dir, &["--tokens", "tokens"]);
    let url = format!("{}/api/v1/flows", s.base);
    assert_eq!(http("GET", &url, None, None).0, 401);
    assert_eq!(
        http("GET", &url, Some("wrong-token-wrong-token"), None).0,
        401
    );
    assert_eq!(http("GET", &url, Some("vvvvvvvvvvvvvvvvvvvv"), None).0, 200);
    let runs = format!("{}/api/v1/runs", s.base);
    let start = json!({ "file": "ops.flow", "flow": "gated", "args": { "what": "v1" } });
    let (status, v) = http(
        "POST",
        &runs,
        Some("vvvvvvvvvvvvvvvvvvvv"),
        Some(start.clone()),
    );
    assert_eq!(status, 403, "{v}");
    let (status, v) = http("POST", &runs, Some("oooooooooooooooooooo"), Some(start));
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_str().unwrap();
    // The operator's name is the approver's.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = http(
            "GET",
            &format!("{runs}/{id}"),
            Some("vvvvvvvvvvvvvvvvvvvv"),
            None,
        );
        if r["status"] == "paused" {
            break;
        }
        assert!(Instant::now() < deadline, "never paused: {r:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, v) = http(
        "POST",
        &format!("{runs}/{id}/approvals/gated/ok"),
        Some("oooooooooooooooooooo"),
        Some(json!({ "approve": false, "note": "not today" })),
    );
    assert_eq!(status, 200, "{v}");
    assert!(
        v["answered"].as_str().unwrap().contains("by Grace Hopper"),
        "{v}"
    );
    // No token was written to the store.
    let mut store_bytes = Vec::new();
    for e in std::fs::read_dir(dir.join(".flowc")).unwrap().flatten() {
        if e.path().is_file() {
            store_bytes.extend(std::fs::read(e.path()).unwrap());
        }
    }
    let hay = String::from_utf8_lossy(&store_bytes);
    assert!(!hay.contains("oooooooooooooooooooo"));
    assert!(!hay.contains("vvvvvvvvvvvvvvvvvvvv"));
}

#[test]
fn listening_beyond_loopback_needs_tokens() {
    let dir = project("serve-open");
    let out = flowc(&dir, &["serve", "--listen", "0.0.0.0:0", "ops.flow"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("give `--tokens FILE`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn approvals_answered_by_the_api_or_by_flowc_approve_continue_the_run() {
    let dir = project("serve-approve");
    let s = serve(&dir, &[]);
    let by_api = s.start("gated", json!({ "what": "v1" }));
    let by_cli = s.start("gated", json!({ "what": "v2" }));
    let first = s.events(&by_api, None);
    let asked = first
        .iter()
        .find(|(_, k, _)| k == "approval_requested")
        .expect("an approval is asked");
    assert_eq!(asked.2["path"], "gated/ok");
    assert_eq!(asked.2["message"], "Ship v1?");
    s.wait_status(&by_cli, "paused");
    let (status, v) = s.post(
        &format!("/api/v1/runs/{by_api}/approvals/gated/ok"),
        json!({ "approve": true }),
    );
    assert_eq!(status, 200, "{v}");
    let out = flowc(&dir, &["approve", &by_cli, "--store", ".flowc"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let a = s.wait_status(&by_api, "ok");
    let b = s.wait_status(&by_cli, "ok");
    assert_eq!(a["result"], json!({ "shipped": "v1" }));
    assert_eq!(b["result"], json!({ "shipped": "v2" }));
    // The step before the approval ran once in each run (replayed on resume).
    assert_eq!(
        std::fs::read_to_string(dir.join("calls-gated")).unwrap(),
        "xx"
    );
    // The stream went on after the pause, numbered on.
    let all = s.events(&by_api, Some(first.last().unwrap().0));
    assert_eq!(all.first().unwrap().1, "run_started");
    assert_eq!(all.last().unwrap().2["status"], "ok");
    // Metrics count them.
    let (_, m) = http("GET", &format!("{}/metrics", s.base), Some(&s.token), None);
    let m = m.as_str().unwrap().to_string();
    assert!(
        m.contains("flowc_runs{flow=\"gated\",status=\"ok\"} 2"),
        "{m}"
    );
    assert!(m.contains("flowc_approvals_pending 0"), "{m}");
}

#[test]
fn cancel_kills_the_running_tool_and_ends_the_run_cancelled() {
    let dir = project("serve-cancel");
    let s = serve(&dir, &[]);
    // Another run beside it, whose tool is running when the first is cancelled.
    let beside = s.start("wait", json!({ "name": "beside", "ms": 1500 }));
    let id = s.start("slow", json!({}));
    wait_for_tool(&dir, "slow");
    wait_for_tool(&dir, "beside");
    let (status, v) = s.post(&format!("/api/v1/runs/{id}/cancel"), json!({}));
    assert_eq!(status, 202, "{v}");
    let run = s.wait_status(&id, "cancelled");
    // The run beside it goes on to its end, untouched.
    let other = s.wait_status(&beside, "ok");
    assert_eq!(other["result"], 1, "{other:#}");
    assert_eq!(run["steps"][0]["status"], "cancelled", "{run:#}");
    // The tool's process is gone (killed with its process group, and reaped).
    let pid = std::fs::read_to_string(dir.join("pid-slow")).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
    assert!(stat.is_err(), "the tool's process {pid} is left: {stat:?}");
    // Cancelling it again: it no longer runs.
    let (status, _) = s.post(&format!("/api/v1/runs/{id}/cancel"), json!({}));
    assert_eq!(status, 409);
}

#[test]
fn a_server_killed_mid_run_resumes_the_run_when_it_starts_again() {
    let dir = project("serve-kill");
    let s = serve(&dir, &[]);
    let id = s.start("slow", json!({}));
    wait_for_tool(&dir, "slow");
    // kill -9: the run stays `running` under a process that is gone.
    nix_kill9(s.child.id());
    drop(s);
    let s = serve(&dir, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = s.get(&format!("/api/v1/runs/{id}"));
        // A read-only tool's call that was under way is run again.
        if v["live"] == true || v["status"] == "ok" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run was not taken up: {v:#}\n{}",
            s.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        s.log.lock().unwrap().contains(&format!("run {id} resumed")),
        "{}",
        s.log.lock().unwrap()
    );
    let (status, _) = s.post(&format!("/api/v1/runs/{id}/cancel"), json!({}));
    assert_eq!(status, 202);
    s.wait_status(&id, "cancelled");
}

/// Waits until the `count` tool called with `name` has started.
fn wait_for_tool(dir: &Path, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join(format!("calls-{name}")).exists() {
        assert!(Instant::now() < deadline, "the tool never started");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn nix_kill9(pid: u32) {
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn retry_from_a_step_runs_it_and_what_depends_on_it_and_replays_the_rest() {
    let dir = project("serve-retry");
    let s = serve(&dir, &[]);
    let id = s.start("chain", json!({}));
    let first = s.wait_status(&id, "ok");
    assert_eq!(first["result"], 1111);
    let (status, v) = s.post(
        &format!("/api/v1/runs/{id}/retry"),
        json!({ "from": "chain/mid" }),
    );
    assert_eq!(status, 202, "{v}");
    let again = s.wait_status(&id, "ok");
    // `up` and `side` were replayed (their counters stay at 1); `mid` and
    // `down` ran again.
    assert_eq!(again["result"], 1221, "{again:#}");
    let calls = |n: &str| std::fs::read_to_string(dir.join(format!("calls-{n}"))).unwrap();
    assert_eq!(
        (calls("up"), calls("mid"), calls("down"), calls("side")),
        ("x".into(), "xx".into(), "xx".into(), "x".into())
    );
    // A replayed step keeps the arguments it was first called with.
    let up = again["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["path"] == "chain/up")
        .unwrap();
    assert_eq!(up["status"], "replayed", "{again:#}");
    assert_eq!(up["args"], json!({ "name": "up", "ms": 0 }), "{again:#}");
    // A step the run does not have: 409 with the steps it has nearby.
    let (status, v) = s.post(
        &format!("/api/v1/runs/{id}/retry"),
        json!({ "from": "chain/mdi" }),
    );
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("no step `chain/mdi`"),
        "{v}"
    );
    // The same from the command line.
    let out = flowc(
        &dir,
        &["resume", &id, "--rerun", "chain/down", "--store", ".flowc"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "1231");
    assert_eq!(calls("mid"), "xx");
    assert_eq!(calls("down"), "xxx");
}

/// A step's arguments over 64 KB as JSON are cut in the run's answer, with
/// the whole at `value?step=…&part=args`; over 256 KB the journal keeps
/// only their size.
#[test]
fn large_arguments_are_cut_with_the_whole_a_request_away() {
    let dir = project("serve-wide");
    let s = serve(&dir, &[]);
    let id = s.start("wide", json!({ "n": 20000 }));
    let run = s.wait_status(&id, "ok");
    let step = &run["steps"][0];
    assert_eq!(step["path"], "wide/big");
    // Cut: its size, and the start of its JSON text (keys sorted).
    assert_eq!(step["args"]["cut"], true, "{step:#}");
    assert!(
        step["args"]["preview"]
            .as_str()
            .unwrap()
            .starts_with("{\"n\":20000,\"text\":\"[0,"),
        "{step:#}"
    );
    let (status, whole) = s.get(&format!("/api/v1/runs/{id}/value?step=wide/big&part=args"));
    assert_eq!(status, 200, "{whole}");
    assert_eq!(whole["n"], 20000);
    assert_eq!(run["result"], whole["text"].as_str().unwrap().len());
    assert_eq!(step["args"]["bytes"], whole.to_string().len());
    // Too large to keep: said so, and no whole to fetch.
    let id = s.start("wide", json!({ "n": 60000 }));
    let run = s.wait_status(&id, "ok");
    let step = &run["steps"][0];
    assert!(step.get("args").is_none(), "{step:#}");
    assert!(
        step["args_not_kept"]
            .as_str()
            .unwrap()
            .contains("more than the 256 KB"),
        "{step:#}"
    );
    let (status, v) = s.get(&format!("/api/v1/runs/{id}/value?step=wide/big&part=args"));
    assert_eq!(status, 404, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("kept no arguments"),
        "{v}"
    );
}

/// The console: `/?token=` sets an HttpOnly, SameSite=Strict cookie and
/// sends the browser to `/`; the API takes the cookie, and a write by
/// cookie only with `X-Flowc: 1` (a page of another origin cannot send it).
#[test]
fn the_console_takes_the_token_into_a_cookie_and_writes_by_cookie_need_its_header() {
    let dir = project("serve-console");
    let s = serve(&dir, &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = client
            .get(format!("{}/?token={}", s.base, s.token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers()["location"], "/");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let pair = cookie.split(';').next().unwrap().to_string();
        let r = client
            .get(format!("{}/?token=0123456789abcdef0123", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        // The page and its files, with the policy that keeps them to this origin.
        for (path, kind) in [
            ("/", "text/html"),
            ("/console.js", "text/javascript"),
            ("/console.css", "text/css"),
        ] {
            let r = client
                .get(format!("{}{path}", s.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{path}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with(kind)
            );
            assert_eq!(
                r.headers()["content-security-policy"],
                "default-src 'self'; frame-ancestors 'none'"
            );
            // The SVG namespace is a name, not an address the page loads.
            let text = r
                .text()
                .await
                .unwrap()
                .replace("http://www.w3.org/2000/svg", "");
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{path} names another origin"
            );
        }
        let r = client
            .get(format!("{}/api/v1/runs", s.base))
            .header("cookie", &pair)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body =
            json!({ "file": "ops.flow", "flow": "main", "args": { "name": "cookie" } }).to_string();
        let r = client
            .post(format!("{}/api/v1/runs", s.base))
            .header("cookie", &pair)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
        let r = client
            .post(format!("{}/api/v1/runs", s.base))
            .header("cookie", &pair)
            .header("x-flowc", "1")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    });
    // The graph of a served flow, with its file's text; none of another file.
    let (status, g) = s.get("/api/v1/graph?file=ops.flow&flow=chain");
    assert_eq!(status, 200, "{g}");
    assert_eq!(g["flow"], "chain");
    let labels: Vec<&str> = g["body"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["up", "mid", "side", "down", "result"]);
    assert!(g["source"].as_str().unwrap().contains("flow chain()"));
    let (status, _) = s.get("/api/v1/graph?file=count.py&flow=chain");
    assert_eq!(status, 404);
}
