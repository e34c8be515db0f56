//! Runs on Restate (docs/scale-out.md), end to end: a real Restate server installed and
//! started by `scripts/restate.sh` on 127.0.0.1, real `flowc worker`
//! processes, Debian's HAProxy in front of two of them, and `flowc run
//! --engine restate:URL`. When the server cannot be installed or HAProxy is
//! missing, the tests fail and say why: they never skip.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{command, tempdir, text};
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A port free on 127.0.0.1 now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn script(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(root().join("scripts/restate.sh"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs scripts/restate.sh")
}

/// A Restate server on 127.0.0.1 with a data folder of its own; stopped on drop.
struct Server {
    data: PathBuf,
    ingress: u16,
    admin: u16,
    fabric: u16,
}

impl Server {
    fn start(tag: &str) -> Server {
        let data = tempdir(&format!("restate-{tag}"));
        let s = Server {
            data,
            ingress: free_port(),
            admin: free_port(),
            fabric: free_port(),
        };
        s.start_again();
        s
    }

    /// Starts the server (again) on the same data folder and ports.
    fn start_again(&self) {
        let out = script(&[
            "start",
            &self.data.to_string_lossy(),
            &self.ingress.to_string(),
            &self.admin.to_string(),
            &self.fabric.to_string(),
        ]);
        assert!(
            out.status.success(),
            "the Restate server did not start (scripts/restate.sh start): {}",
            text(&out.stderr)
        );
    }

    fn stop(&self) {
        let out = script(&["stop", &self.data.to_string_lossy()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    fn engine(&self) -> String {
        format!("restate:http://127.0.0.1:{}", self.ingress)
    }

    /// The rows of `sql` over the server's tables (`sys_invocation`, …), by
    /// the admin API; asked again while the server is not ready for it.
    fn query(&self, sql: &str) -> Vec<Value> {
        let mut last = String::new();
        for _ in 0..100 {
            let out = Command::new("curl")
                .args(["-sS", "-X", "POST", "-H", "content-type: application/json"])
                .args(["-H", "accept: application/json", "-d"])
                .arg(json!({ "query": sql }).to_string())
                .arg(format!("http://127.0.0.1:{}/query", self.admin))
                .output()
                .expect("curl runs");
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            if let Some(rows) = v["rows"].as_array() {
                return rows.clone();
            }
            last = format!("{}{}", text(&out.stdout), text(&out.stderr));
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the admin API did not answer `{sql}`: {last}");
    }

    /// The statuses of the `Step` invocations, sorted.
    fn step_statuses(&self) -> Vec<String> {
        let mut s: Vec<String> = self
            .query("SELECT status FROM sys_invocation WHERE target_service_name = 'Step'")
            .iter()
            .map(|r| r["status"].as_str().unwrap_or("").to_string())
            .collect();
        s.sort();
        s
    }

    /// Registers the deployment at `url` (a worker or the balancer).
    fn register(&self, url: &str) {
        let out = script(&["register", &format!("http://127.0.0.1:{}", self.admin), url]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = script(&["stop", &self.data.to_string_lossy()]);
        // Keep the folder of a failed test for a look.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

/// Removes a test's folder when the test passed.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A `flowc worker` process serving `dir`, its stderr in `LOG`; killed on drop.
struct Worker {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Worker {
    fn start(dir: &Path, serve: &str, name: &str) -> Worker {
        Worker::start_on(dir, serve, name, free_port())
    }

    /// A worker on `port` (again, where one was killed).
    fn start_on(dir: &Path, serve: &str, name: &str, port: u16) -> Worker {
        let log = dir.join(format!("{name}.log"));
        let child = command(
            dir,
            &["worker", "--listen", &format!("127.0.0.1:{port}"), serve],
        )
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .expect("worker log"),
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("flowc worker starts");
        let w = Worker { child, port, log };
        wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        w
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HAProxy in front of `workers`, passing HTTP/2 cleartext through, one
/// request (a Restate invocation) at a time to the next worker; killed on drop.
struct Balancer {
    child: Child,
    port: u16,
}

impl Balancer {
    fn start(dir: &Path, workers: &[&Worker]) -> Balancer {
        let port = free_port();
        let servers: String = workers
            .iter()
            .enumerate()
            .map(|(i, w)| {
                format!(
                    "    server w{i} 127.0.0.1:{} proto h2 check inter 200ms fall 1\n",
                    w.port
                )
            })
            .collect();
        let cfg = format!(
            "global\n    maxconn 2000\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 1h\n    timeout server 1h\n    option redispatch\n    retries 3\nfrontend workers\n    bind 127.0.0.1:{port} proto h2\n    default_backend workers\nbackend workers\n    balance roundrobin\n{servers}"
        );
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, cfg).expect("haproxy.cfg");
        // Debian puts it in /usr/sbin, which a user's PATH may not hold.
        let haproxy = if Path::new("/usr/sbin/haproxy").exists() {
            "/usr/sbin/haproxy"
        } else {
            "haproxy"
        };
        let child = Command::new(haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("haproxy.log")).expect("log"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("HAProxy is needed for two workers behind one address (`apt-get install haproxy`): {e}")
            });
        wait_for(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Balancer { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ready() {
        assert!(t0.elapsed() < limit, "not ready within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON result")
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn count(lines: &[String], line: &str) -> usize {
    lines.iter().filter(|l| *l == line).count()
}

/// Test 1: every example the examples test runs gives the same result on Restate.
#[test]
fn the_examples_give_their_local_results_on_restate() {
    let server = Server::start("examples");
    let dir = tempdir("restate-examples");
    let _cleanup = Cleanup(dir.clone());
    let worker = Worker::start(&root(), "examples", &format!("{}/worker", dir.display()));
    server.register(&worker.url());
    let runs: &[(&str, &[&str])] = &[
        ("data_pipeline", &[]),
        ("analysis_workflow", &[]),
        ("graph_expansion", &[]),
        ("recovery", &[]),
        ("monitoring", &["--arg", "within_minutes=10"]),
        ("triage", &[]),
        // Decisions (replayed from examples/recorded/llm.json) and an effect.
        ("ci_analysis", &[]),
    ];
    let engine = server.engine();
    for (name, args) in runs {
        let file = format!("examples/{name}.flow");
        let mut argv = vec!["run", "--engine", &engine, &file];
        argv.extend_from_slice(args);
        let out = command(&root(), &argv).output().expect("flowc run");
        let got = ok_json(&out);
        let want: Value = serde_json::from_str(
            &std::fs::read_to_string(root().join(format!("examples/expected/{name}.json")))
                .expect("expected result"),
        )
        .expect("expected JSON");
        assert_eq!(
            got, want,
            "{name} on Restate differs from examples/expected/{name}.json"
        );
    }
    let log = worker.log();
    assert!(log.contains("step "), "the worker ran no step: {log}");
    // The run record (`--record`) is the one a local run writes: the same
    // steps (path, tool, status), result and status.
    let here = dir.join("here.json");
    let there = dir.join("there.json");
    let file = "examples/data_pipeline.flow";
    let local = command(&root(), &["run", "--no-store", file, "--record"])
        .arg(&here)
        .output()
        .expect("flowc run");
    assert!(local.status.success(), "{}", text(&local.stderr));
    let remote = command(&root(), &["run", "--engine", &engine, file, "--record"])
        .arg(&there)
        .output()
        .expect("flowc run");
    assert!(remote.status.success(), "{}", text(&remote.stderr));
    let read = |p: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(p).expect("a record")).expect("JSON")
    };
    let (a, b) = (read(&here), read(&there));
    for field in ["file", "flow", "status", "result", "inputs", "errors"] {
        assert_eq!(a[field], b[field], "{field}");
    }
    let steps = |r: &Value| -> Vec<(Value, Value, Value)> {
        let mut s: Vec<_> = r["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| (s["path"].clone(), s["tool"].clone(), s["status"].clone()))
            .collect();
        s.sort_by_key(|t| t.0.to_string());
        s
    };
    assert_eq!(steps(&a), steps(&b));
    assert!(b["run_id"].is_string(), "{b}");
    // `file` with `source`, run on the workers: refused with `why`.
    let refused = |file: &str, source: &str, why: &str| {
        std::fs::write(dir.join(file), source).expect("flow");
        let out = command(&dir, &["run", "--engine", &engine, file])
            .output()
            .expect("flowc run");
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(why), "{}", text(&out.stderr));
    };
    // A file the workers do not serve: the run fails and says so.
    refused(
        "other.flow",
        "flow main() -> int { 1 }\n",
        "the workers do not serve `other.flow`",
    );
    // A file of the same name with other text: refused, and said so.
    refused(
        "recovery.flow",
        "flow main() -> int { 2 }\n",
        "the workers serve another version of `recovery.flow`",
    );
}

/// Without a server: every command with `--engine` says so, and a bad
/// engine is named.
#[test]
fn an_unreachable_server_and_a_bad_engine_are_clear_errors() {
    let dir = tempdir("restate-none");
    let _cleanup = Cleanup(dir.clone());
    std::fs::write(dir.join("main.flow"), "flow main() -> int { 1 }\n").expect("flow");
    let engine = format!("restate:http://127.0.0.1:{}", free_port());
    for args in [
        vec!["run", "--engine", &engine, "main.flow"],
        vec!["runs", "--engine", &engine],
        vec!["runs", "show", "--engine", &engine, "x"],
        vec!["approve", "--engine", &engine, "x"],
        vec!["resume", "--engine", &engine, "x"],
    ] {
        let out = command(&dir, &args).output().expect("flowc");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("cannot reach Restate at http://127.0.0.1:"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = command(&dir, &["run", "--engine", "temporal:x", "main.flow"])
        .output()
        .expect("flowc");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown engine `temporal:x`"),
        "{}",
        text(&out.stderr)
    );
    let out = command(&dir, &["run", "main.flow"])
        .env("FLOWC_ENGINE", "restate:127.0.0.1:8080")
        .output()
        .expect("flowc");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("FLOWC_ENGINE: "),
        "{}",
        text(&out.stderr)
    );
}

/// Appends `start NAME` and `done NAME` to `log`; `mark`: writes `marker`
/// (once) and sleeps `sleep` seconds; an effect applied once per idempotency
/// key (`ledger`).
const ACT: &str = r#"import json, os, sys, time
a = json.load(sys.stdin)
name = a['name']
def note(line):
    with open('log', 'a') as f:
        f.write(line + '\n')
note('start ' + name)
if a['mark'] and not os.path.exists('marker'):
    open('marker', 'w').close()
time.sleep(a['sleep'])
key = os.environ.get('FLOWC_IDEMPOTENCY_KEY', '')
seen = open('ledger').read().split() if os.path.exists('ledger') else []
if key not in seen:
    with open('ledger', 'a') as f:
        f.write(key + '\n')
note('done ' + name)
print(json.dumps({'n': a['n'] + 1}))
"#;

/// Three effects in a row, and a decision before the slow one.
const THREE_EFFECTS: &str = r#"effect tool act(name: string, n: int, sleep: int, mark: bool) -> { n: int } = exec ["python3", "act.py"]

flow main() -> { ns: [int], pick: string } {
    let a = act(name: "first", n: 0, sleep: 0, mark: false) with { idempotency_key: true }
    let pick = decide "which one after {a.n}?" with { a } {
        first => "first"
        second => "second"
        else => "none"
    }
    let b = act(name: "slow", n: a.n, sleep: 3, mark: pick != "none") with { idempotency_key: true }
    let c = act(name: "last", n: b.n, sleep: 0, mark: false) with { idempotency_key: true }
    { ns: [a.n, b.n, c.n], pick }
}
"#;

/// A `cmd:` LLM provider that answers `first` the first time it is asked,
/// `second` after (a line in `asks` per question).
const PICK: &str = r#"import sys
sys.stdin.read()
with open('asks', 'a') as f:
    f.write('asked\n')
print('first' if len(open('asks').read().split()) == 1 else 'second')
"#;

fn three_effects(tag: &str) -> PathBuf {
    let dir = tempdir(tag);
    std::fs::write(dir.join("main.flow"), THREE_EFFECTS).expect("flow");
    std::fs::write(dir.join("act.py"), ACT).expect("tool");
    std::fs::write(dir.join("pick.py"), PICK).expect("provider");
    std::fs::write(
        dir.join("flowc.toml"),
        "[llm]\nprovider = \"cmd:python3 pick.py\"\n",
    )
    .expect("flowc.toml");
    dir
}

/// The result of the three effects: the first answer of the decision kept.
fn three_effects_result() -> Value {
    json!({ "ns": [1, 2, 3], "pick": "first" })
}

/// What the steps left: each finished once, the effects applied once each.
fn assert_once_each(dir: &Path) {
    let log = lines(&dir.join("log"));
    for name in ["first", "slow", "last"] {
        assert_eq!(count(&log, &format!("done {name}")), 1, "{name}: {log:?}");
    }
    // Steps that had finished did not start again; the one cut off may have.
    assert_eq!(count(&log, "start first"), 1, "{log:?}");
    assert_eq!(count(&log, "start last"), 1, "{log:?}");
    let ledger = lines(&dir.join("ledger"));
    assert_eq!(ledger.len(), 3, "each effect applied once: {ledger:?}");
    assert!(ledger.iter().all(|k| k.starts_with("flowc-")), "{ledger:?}");
}

fn spawn_run(dir: &Path, engine: &str) -> Child {
    command(dir, &["run", "--engine", engine, "main.flow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc run starts")
}

/// Test 2: the worker that runs the flow is killed with `kill -9` while a step
/// runs: the run completes on the other worker; no finished step runs again;
/// the effects with idempotency keys are applied once.
#[test]
fn a_run_survives_the_kill_of_its_worker() {
    let server = Server::start("kill");
    let dir = three_effects("restate-kill");
    let _cleanup = Cleanup(dir.clone());
    let mut workers = [
        Worker::start(&dir, ".", "w1"),
        Worker::start(&dir, ".", "w2"),
    ];
    let lb = Balancer::start(&dir, &[&workers[0], &workers[1]]);
    server.register(&lb.url());
    let run = spawn_run(&dir, &server.engine());
    wait_for(Duration::from_secs(30), || dir.join("marker").exists());
    // Kill the worker that runs the flow (its log names the run).
    let victim = if workers[0].log().contains("flowc worker: run ") {
        0
    } else {
        1
    };
    assert!(
        workers[victim].log().contains("flowc worker: run "),
        "no worker runs the flow"
    );
    workers[victim].child.kill().expect("kill -9");
    workers[victim].child.wait().expect("reaped");
    let out = run.wait_with_output().expect("flowc run ends");
    assert_eq!(
        ok_json(&out),
        three_effects_result(),
        "{}",
        text(&out.stderr)
    );
    let survivor = &workers[1 - victim];
    assert!(
        survivor.log().contains("flowc worker: run "),
        "the run went on on the other worker: {}",
        survivor.log()
    );
    assert_once_each(&dir);
    // The flow ran again from its start, so the model was asked again (and
    // answered `second`), but the run kept the first answer.
    assert_eq!(lines(&dir.join("asks")).len(), 2);
}

/// Test 3: the server is stopped and started again on the same data folder while a
/// step runs: the run goes on and completes.
#[test]
fn a_run_survives_a_restart_of_the_server() {
    let server = Server::start("restart");
    let dir = three_effects("restate-restart");
    let _cleanup = Cleanup(dir.clone());
    let worker = Worker::start(&dir, ".", "w1");
    server.register(&worker.url());
    let run = spawn_run(&dir, &server.engine());
    wait_for(Duration::from_secs(30), || dir.join("marker").exists());
    server.stop();
    server.start_again();
    let out = run.wait_with_output().expect("flowc run ends");
    assert_eq!(
        ok_json(&out),
        three_effects_result(),
        "{}",
        text(&out.stderr)
    );
    assert_once_each(&dir);
}

/// Test 4: two workers behind one address share a `for` of 100 items with
/// `max_concurrent: 20`; the result keeps the input's order.
#[test]
fn two_workers_share_a_fan_out() {
    let server = Server::start("fanout");
    let dir = tempdir("restate-fanout");
    let _cleanup = Cleanup(dir.clone());
    std::fs::write(
        dir.join("main.flow"),
        r#"tool square(i: int) -> { v: int } = exec ["python3", "square.py"]

flow main() -> [int] {
    let out = for i in range(0, 100) with { max_concurrent: 20 } {
        square(i: i).v
    }
    out
}
"#,
    )
    .expect("flow");
    std::fs::write(
        dir.join("square.py"),
        "import json, sys, time\na = json.load(sys.stdin)\ntime.sleep(0.05)\nprint(json.dumps({'v': a['i'] * a['i']}))\n",
    )
    .expect("tool");
    let w1 = Worker::start(&dir, ".", "w1");
    let w2 = Worker::start(&dir, ".", "w2");
    let lb = Balancer::start(&dir, &[&w1, &w2]);
    server.register(&lb.url());
    let out = command(&dir, &["run", "--engine", &server.engine(), "main.flow"])
        .output()
        .expect("flowc run");
    let want: Vec<i64> = (0..100).map(|i| i * i).collect();
    assert_eq!(ok_json(&out), json!(want));
    let steps = |w: &Worker| w.log().matches("flowc worker: step ").count();
    let (a, b) = (steps(&w1), steps(&w2));
    assert_eq!(a + b, 100, "each item once: {a} + {b}");
    assert!(a > 0 && b > 0, "both workers ran items: {a} and {b}");
    // The run as `flowc runs` and `flowc runs show` see it.
    let engine = server.engine();
    let runs = command(&dir, &["runs", "--engine", &engine, "--format", "json"])
        .output()
        .expect("flowc runs");
    let first: Value = serde_json::from_str(text(&runs.stdout).lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&runs.stdout), text(&runs.stderr)));
    assert_eq!(first["status"], "ok", "{first}");
    assert_eq!(first["file"], "main.flow", "{first}");
    let id = first["id"].as_str().expect("an id");
    let show = command(&dir, &["runs", "show", "--engine", &engine, id])
        .output()
        .expect("flowc runs show");
    let shown = text(&show.stdout);
    assert!(show.status.success(), "{}", text(&show.stderr));
    assert!(shown.contains("status   ok"), "{shown}");
    assert!(shown.contains("main/out/for[99]"), "{shown}");
}

/// Test 5: an `approve` on Restate: the run waits; `flowc approve --engine`
/// answers it; the run goes on and completes, the step before it not run again.
#[test]
fn approve_on_restate_waits_for_flowc_approve() {
    let server = Server::start("approve");
    let dir = tempdir("restate-approve");
    let _cleanup = Cleanup(dir.clone());
    std::fs::write(
        dir.join("main.flow"),
        r#"tool note(x: int) -> { x: int } = exec ["python3", "note.py"]

flow main() -> { ok: bool, n: int } {
    let a = note(x: 1)
    let ok = approve "ship {a.x}?" with { a }
    let n = if ok { note(x: 2).x } else { 0 }
    { ok, n }
}
"#,
    )
    .expect("flow");
    std::fs::write(
        dir.join("note.py"),
        "import json, sys\na = json.load(sys.stdin)\nwith open('log', 'a') as f:\n    f.write('note %d\\n' % a['x'])\nprint(json.dumps(a))\n",
    )
    .expect("tool");
    let worker = Worker::start(&dir, ".", "w1");
    let engine = server.engine();
    // Before the worker is registered: the server says what is missing.
    let none = command(&dir, &["runs", "--engine", &engine])
        .output()
        .expect("flowc runs");
    assert_eq!(none.status.code(), Some(2), "{}", text(&none.stderr));
    assert!(
        text(&none.stderr).contains("has no flowc workers registered")
            && text(&none.stderr).contains("--register ADMIN_URL"),
        "{}",
        text(&none.stderr)
    );
    server.register(&worker.url());
    let mut run = spawn_run(&dir, &engine);
    // The run waits for its approval.
    let mut id = String::new();
    wait_for(Duration::from_secs(30), || {
        let out = command(&dir, &["runs", "--engine", &engine, "--format", "json"])
            .output()
            .expect("flowc runs");
        let first: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap_or("null"))
            .unwrap_or(Value::Null);
        id = first["id"].as_str().unwrap_or("").to_string();
        first["status"] == "waiting"
    });
    assert!(run.try_wait().expect("the run").is_none(), "the run waits");
    // `runs show` of the waiting run: its approval and the steps so far
    // (its worker sends them once a second).
    let mut shown = String::new();
    wait_for(Duration::from_secs(30), || {
        let show = command(&dir, &["runs", "show", "--engine", &engine, &id])
            .output()
            .expect("flowc runs show");
        shown = text(&show.stdout);
        shown.contains("steps so far\n")
            && shown
                .lines()
                .any(|l| l.contains("main/a ") && l.contains(" ok ") && l.contains("note"))
    });
    assert!(shown.contains("status   waiting"), "{shown}");
    assert!(shown.contains("waiting  main/ok: ship 1?"), "{shown}");
    // A path it does not wait for is refused, and named.
    let wrong = command(&dir, &["approve", "--engine", &engine, &id, "main/nowhere"])
        .output()
        .expect("flowc approve");
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong.stderr));
    assert!(text(&wrong.stderr).contains("waits for no approval at `main/nowhere`"));
    let yes = command(&dir, &["approve", "--engine", &engine, &id, "--by", "ops"])
        .args(["--note", "looks fine"])
        .output()
        .expect("flowc approve");
    assert!(yes.status.success(), "{}", text(&yes.stderr));
    assert!(
        text(&yes.stdout).starts_with("approved `main/"),
        "{}",
        text(&yes.stdout)
    );
    let out = run.wait_with_output().expect("flowc run ends");
    assert_eq!(ok_json(&out), json!({ "ok": true, "n": 2 }));
    assert_eq!(lines(&dir.join("log")), ["note 1", "note 2"]);
    // While it waited, the run printed its approval and how to answer it,
    // as a local run that pauses does.
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("run {id} waits for an approval")),
        "{err}"
    );
    assert!(err.contains("  main/ok: ship 1?"), "{err}");
    assert!(
        err.contains(&format!(
            "    flowc approve --engine {engine} {id} main/ok\n"
        )),
        "{err}"
    );
    // After the run: who approved, when, and their note.
    let show = command(&dir, &["runs", "show", "--engine", &engine, &id])
        .output()
        .expect("flowc runs show");
    let shown = text(&show.stdout);
    assert!(shown.contains("status   ok"), "{shown}");
    assert!(shown.contains("approval main/ok: ship 1?"), "{shown}");
    assert!(shown.contains("approved by ops at "), "{shown}");
    assert!(shown.contains("; note: looks fine"), "{shown}");
}

/// An engine URL that answers 404 to everything (another HTTP server, the
/// admin API) says it is not Restate's ingress.
#[test]
fn an_engine_url_that_answers_404_explains_itself() {
    use std::io::{Read, Write};
    let dir = tempdir("restate-404");
    let _cleanup = Cleanup(dir.clone());
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = c.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let engine = format!("restate:http://127.0.0.1:{port}");
    for args in [
        vec!["runs", "--engine", &engine],
        vec!["runs", "show", "--engine", &engine, "x"],
        vec!["approve", "--engine", &engine, "x"],
    ] {
        let out = command(&dir, &args).output().expect("flowc");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("answered 404 Not Found to ")
                && err.contains("it is not a Restate ingress; the engine is `restate:INGRESS_URL`"),
            "{args:?}: {err}"
        );
    }
}

/// Two workers behind one address, started with two texts of the same file
/// (edited in between): a run never mixes them. Every step runs the run's
/// text, or the run fails and says why.
#[test]
fn workers_with_two_versions_of_a_file_never_mix_them() {
    let server = Server::start("versions");
    let dir = tempdir("restate-versions");
    let _cleanup = Cleanup(dir.clone());
    // The tool prints the version its argument names.
    std::fs::write(
        dir.join("tag.py"),
        "import json, sys\nsys.stdin.read()\nprint(json.dumps({'v': sys.argv[1]}))\n",
    )
    .expect("tool");
    let version = |v: &str| {
        format!(
            "tool tag(i: int) -> {{ v: string }} = exec [\"python3\", \"tag.py\", \"{v}\"]\n\nflow main() -> [string] {{\n    let out = for i in range(0, 6) with {{ max_concurrent: 1 }} {{\n        tag(i: i).v\n    }}\n    out\n}}\n"
        )
    };
    std::fs::write(dir.join("main.flow"), version("A")).expect("flow");
    let w1 = Worker::start(&dir, "main.flow", "w1");
    std::fs::write(dir.join("main.flow"), version("B")).expect("flow");
    let w2 = Worker::start(&dir, "main.flow", "w2");
    let lb = Balancer::start(&dir, &[&w1, &w2]);
    server.register(&lb.url());
    let mut refused = 0;
    for _ in 0..4 {
        let out = command(&dir, &["run", "--engine", &server.engine(), "main.flow"])
            .output()
            .expect("flowc run");
        let err = text(&out.stderr);
        if out.status.success() {
            // The client runs the file as it is now: version B, every step.
            assert_eq!(
                ok_json(&out),
                json!(["B", "B", "B", "B", "B", "B"]),
                "{err}"
            );
        } else {
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(err.contains("another version of `main.flow`"), "{err}");
            refused += 1;
        }
    }
    assert!(
        refused > 0,
        "the steps went to both workers, so a run was refused"
    );
}

/// Writes `start` to `log` (a line per start), then prints a string of `mb`
/// megabytes as `{ s }`.
const BIG: &str = r#"import json, sys
a = json.load(sys.stdin)
with open('log', 'a') as f:
    f.write('start\n')
print(json.dumps({'s': 'x' * (a['mb'] << 20)}))
"#;

/// A Restate server, one worker serving `main.flow`: the `big` tool (40 MB
/// in one step) and a flow whose result is 40 MB (two steps of 20 MB).
fn big_results(tag: &str) -> (Server, PathBuf, Worker) {
    let server = Server::start(tag);
    let dir = tempdir(&format!("restate-{tag}"));
    std::fs::write(dir.join("big.py"), BIG).expect("tool");
    std::fs::write(
        dir.join("main.flow"),
        r#"tool big(mb: int) -> { s: string } = exec ["python3", "big.py"]

flow step() -> int {
    len(big(mb: 40).s)
}

flow whole() -> string {
    let a = big(mb: 20)
    let b = big(mb: 20)
    a.s ++ b.s
}
"#,
    )
    .expect("flow");
    let worker = Worker::start(&dir, ".", "w1");
    server.register(&worker.url());
    (server, dir, worker)
}

/// Runs `flow` of `main.flow`; a bounded wait (the client used to wait forever).
fn run_bounded(dir: &Path, engine: &str, flow: &str) -> Output {
    let mut child = command(
        dir,
        &["run", "--engine", engine, "main.flow", "--flow", flow],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("flowc run starts");
    let t0 = Instant::now();
    while child.try_wait().expect("the run").is_none() {
        if t0.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("killed");
            panic!("the run did not end within 240 s: {}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("the run's output")
}

/// A step whose result is over Restate's message limit (32 MB by default)
/// fails at once, naming both sizes; its tool runs once and its invocation
/// is over (nothing is retried).
#[test]
fn a_step_result_over_the_message_limit_fails_at_once() {
    let (server, dir, _worker) = big_results("limit-step");
    let _cleanup = Cleanup(dir.clone());
    let out = run_bounded(&dir, &server.engine(), "step");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the result of `big` is 40.0 MB as JSON, more than the 32 MB a message to Restate may carry"),
        "{err}"
    );
    assert_eq!(lines(&dir.join("log")), ["start"], "the tool ran once");
    // Its invocation is over: nothing runs it again.
    assert_eq!(server.step_statuses(), ["completed"]);
}

/// A flow whose result is over the message limit fails, and its client is
/// told so (it waited forever).
#[test]
fn a_flow_result_over_the_message_limit_fails_the_run() {
    let (server, dir, _worker) = big_results("limit-flow");
    let _cleanup = Cleanup(dir.clone());
    let out = run_bounded(&dir, &server.engine(), "whole");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the result of flow `whole` is 40.0 MB as JSON, more than the 32 MB a message to Restate may carry"),
        "{err}"
    );
    assert_eq!(
        lines(&dir.join("log")),
        ["start", "start"],
        "each tool ran once"
    );
}

/// A tool cut off by its `timeout` is stopped on its worker, and not
/// started again when the worker is killed and started again.
#[test]
fn a_timed_out_step_is_stopped_on_its_worker() {
    let server = Server::start("timeout");
    let dir = tempdir("restate-timeout");
    let _cleanup = Cleanup(dir.clone());
    std::fs::write(
        dir.join("slow.py"),
        "import json, os, sys, time\njson.load(sys.stdin)\nwith open('log', 'a') as f:\n    f.write('start %d\\n' % os.getpid())\ntime.sleep(600)\nprint(json.dumps({'n': 1}))\n",
    )
    .expect("tool");
    std::fs::write(
        dir.join("main.flow"),
        r#"tool slow() -> { n: int } = exec ["python3", "slow.py"]

flow main() -> int {
    let r = slow() with { timeout: 2s }
    r.n
}

flow quick() -> int { 1 }
"#,
    )
    .expect("flow");
    let mut worker = Worker::start(&dir, ".", "w1");
    server.register(&worker.url());
    let engine = server.engine();
    let out = command(&dir, &["run", "--engine", &engine, "main.flow"])
        .output()
        .expect("flowc run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("did not finish within 2s"),
        "{}",
        text(&out.stderr)
    );
    let log = lines(&dir.join("log"));
    assert_eq!(log.len(), 1, "{log:?}");
    let pid = log[0].trim_start_matches("start ").to_string();
    // The tool's process ends (it would sleep 600 s), and its invocation is over.
    let gone = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
    };
    let t0 = Instant::now();
    while !(gone(&pid) && server.step_statuses() == ["completed"]) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the tool still runs ({}) or its invocation is not over: {:?}",
            !gone(&pid),
            server.step_statuses()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The worker is killed and started again: the step does not start again.
    let port = worker.port;
    worker.child.kill().expect("kill -9");
    worker.child.wait().expect("reaped");
    drop(worker);
    let _worker = Worker::start_on(&dir, ".", "w1", port);
    let out = command(
        &dir,
        &["run", "--engine", &engine, "main.flow", "--flow", "quick"],
    )
    .output()
    .expect("flowc run");
    assert_eq!(ok_json(&out), json!(1));
    assert_eq!(lines(&dir.join("log")).len(), 1, "the tool started once");
}

/// A listener that accepts connections and never answers: every command
/// with `--engine` gives up with a clear error instead of waiting forever.
#[test]
fn an_engine_that_never_answers_is_a_clear_error() {
    let dir = tempdir("restate-silent");
    let _cleanup = Cleanup(dir.clone());
    std::fs::write(dir.join("main.flow"), "flow main() -> int { 1 }\n").expect("flow");
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = listener.local_addr().expect("its address").port();
    // Accepts, reads nothing, answers nothing; holds every connection.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming() {
            held.push(c);
        }
    });
    let engine = format!("restate:http://127.0.0.1:{port}");
    let children: Vec<(Vec<&str>, Child)> = [
        vec!["run", "--engine", &engine, "main.flow"],
        vec!["runs", "--engine", &engine],
        vec!["runs", "show", "--engine", &engine, "x"],
    ]
    .into_iter()
    .map(|args| {
        let child = command(&dir, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flowc starts");
        (args, child)
    })
    .collect();
    for (args, mut child) in children {
        let t0 = Instant::now();
        while child.try_wait().expect("flowc").is_none() {
            if t0.elapsed() > Duration::from_secs(180) {
                let _ = child.kill();
                panic!("{args:?} still waits after 180 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = child.wait_with_output().expect("flowc's output");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(
                "accepted the connection but did not answer within 30 s; is it Restate's ingress"
            ),
            "{args:?}: {err}"
        );
    }
}

/// A re-planned fragment on a worker: the block's tool fails, the model's
/// fragment calls the fallback tool (`tool_at`: of the flow's module, or of
/// the module it imports as `lib`); the fragment checks (the worker reads its
/// module's imports) and its tool call is a `Step` invocation of its own,
/// under the re-plan's path, not a call inside the worker that runs the flow.
fn a_replanned_fragment_on_restate(tag: &str, imported: bool) {
    let server = Server::start(tag);
    let dir = tempdir(&format!("restate-{tag}"));
    let _cleanup = Cleanup(dir.clone());
    let fallback = "/// CPU anomalies from the node exporter: a fallback.\ntool cpu_fallback(ci_id: string) -> { anomalies: [Anomaly] } = exec [\"python3\", \"cpu.py\"]\n";
    let anomaly = "type Anomaly = { metric: string, score: float }\n";
    let header = if imported {
        std::fs::write(dir.join("lib.flow"), format!("{anomaly}\n{fallback}")).expect("lib");
        "import \"lib.flow\" as lib\n\ntype Anomaly = lib.Anomaly\n"
    } else {
        anomaly
    };
    let main = format!(
        r#"{}
/// The primary metrics service (down).
tool metrics_primary(ci_id: string) -> {{ anomalies: [Anomaly] }} = builtin "fail"
{}
flow main(ci_id: string = "CI-7") -> {{ ci: string, anomalies: [Anomaly] }} {{
    let id = lower(ci_id)
    let anomalies = dag with {{ replan_on_error: true, replan_cooldown: 0s }} {{
        let m = metrics_primary(ci_id: id)
        m.anomalies
    }}
    {{ ci: id, anomalies }}
}}
"#,
        header,
        if imported { "" } else { fallback }
    );
    std::fs::write(dir.join("main.flow"), main).expect("flow");
    std::fs::write(
        dir.join("cpu.py"),
        "import json, sys\na = json.load(sys.stdin)\nprint(json.dumps({'anomalies': [{'metric': 'cpu:' + a['ci_id'], 'score': 0.9}]}))\n",
    )
    .expect("tool");
    // The model answers every re-plan with the fallback.
    let call = if imported {
        "lib.cpu_fallback"
    } else {
        "cpu_fallback"
    };
    std::fs::write(
        dir.join("answer.py"),
        format!("import sys\nsys.stdin.read()\nprint('let c = {call}(ci_id: id)\\nc.anomalies')\n"),
    )
    .expect("provider");
    std::fs::write(
        dir.join("flowc.toml"),
        "[llm]\nprovider = \"cmd:python3 answer.py\"\n",
    )
    .expect("flowc.toml");
    let worker = Worker::start(&dir, "main.flow", "w1");
    server.register(&worker.url());
    let out = command(&dir, &["run", "--engine", &server.engine(), "main.flow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("flowc run");
    assert_eq!(
        ok_json(&out),
        json!({ "ci": "ci-7", "anomalies": [{ "metric": "cpu:ci-7", "score": 0.9 }] }),
        "{}\nworker: {}",
        text(&out.stderr),
        worker.log()
    );
    // Every `Step` the worker ran, by tool: the fragment's call is one.
    let log = worker.log();
    let steps: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("flowc worker: step "))
        .collect();
    let fallback: Vec<&&str> = steps
        .iter()
        .filter(|l| l.ends_with("(cpu_fallback)"))
        .collect();
    assert_eq!(fallback.len(), 1, "{log}");
    assert!(fallback[0].contains(" main/anomalies/"), "{log}");
    assert!(
        steps.iter().any(|l| l.ends_with("(metrics_primary)")),
        "{log}"
    );
    // And Restate holds them as `Step` invocations, each completed.
    let statuses = server.step_statuses();
    assert_eq!(statuses.len(), steps.len(), "{statuses:?}\n{log}");
    assert!(statuses.iter().all(|s| s == "completed"), "{statuses:?}");
}

#[test]
fn a_replanned_fragment_s_tool_calls_are_steps_on_restate() {
    a_replanned_fragment_on_restate("replan", false);
}

/// The same, the fallback in an imported module: the fragment's module reads
/// its imports on the worker, and its tool is named as the run's module's.
#[test]
fn a_replanned_fragment_imports_on_restate() {
    a_replanned_fragment_on_restate("replan-import", true);
}
