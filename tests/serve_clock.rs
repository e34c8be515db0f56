//! What `flowc serve` does by the clock, tested as people use it: a real
//! server process on 127.0.0.1, a real HTTP client, `kill -9` and a
//! restart on the same store — `schedule` items fired once a slot, skipped
//! while their previous run runs; approvals that expire.

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::{http, tempdir};
use serde_json::Value;

/// A tool that sleeps `ms` and says so.
const NAP: &str = r#"import json, sys, time
args = json.load(sys.stdin)
time.sleep(args["ms"] / 1000)
print(json.dumps({"slept": args["ms"]}))
"#;

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

/// `flowc serve ops.flow` in `dir` on a free port; waits until it listens.
fn serve(dir: &Path) -> Server {
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--store",
        ".flowc",
        "ops.flow",
    ];
    let started = common::service::launch(dir, &args);
    Server {
        child: started.child,
        base: started.base,
        token: started.token.expect("the operator token it printed"),
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

    fn metrics(&self) -> String {
        match self.get("/metrics") {
            (200, Value::String(t)) => t,
            other => panic!("metrics: {other:?}"),
        }
    }

    /// Waits (a generous bound: the machine may be loaded) until `ok` holds
    /// of `GET path`.
    fn wait_for(&self, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, v) = self.get(path);
            if status == 200 && ok(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: last answer {v}\nserver log:\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn project(tag: &str, flows: &str) -> PathBuf {
    let dir = tempdir(tag);
    std::fs::write(dir.join("ops.flow"), flows).unwrap();
    std::fs::write(dir.join("nap.py"), NAP).unwrap();
    dir
}

const SCHEDULED: &str = r#"
tool nap(ms: int) -> { slept: int } = exec ["python3", "nap.py"]

flow tick(ms: int) -> int {
    nap(ms: ms).slept
}

schedule "*/2 * * * * *" tick(ms: 0)
schedule "*/2 * * * * *" tick(ms: 5000)
"#;

/// The schedule of `GET /api/v1/schedules` whose `args.ms` is `ms`.
fn schedule_of(v: &Value, ms: i64) -> Value {
    v["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["args"]["ms"] == ms)
        .cloned()
        .unwrap_or_else(|| panic!("no schedule with ms {ms}: {v}"))
}

/// The store's slots: (schedule's args, slot in ms, outcome, run).
fn slots(dir: &Path) -> Vec<(String, i64, String, Option<String>)> {
    let c = rusqlite::Connection::open(dir.join(".flowc/flowc.db")).unwrap();
    let mut q = c
        .prepare("SELECT schedule, slot_ms, outcome, run_id FROM schedule_slots ORDER BY slot_ms")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The ids of the store's runs of flow `tick` with argument `ms`.
fn runs_of(dir: &Path, ms: i64) -> Vec<String> {
    let c = rusqlite::Connection::open(dir.join(".flowc/flowc.db")).unwrap();
    let mut q = c
        .prepare("SELECT id FROM runs WHERE flow = 'tick' AND json_extract(args, '$.ms') = ?1 ORDER BY id")
        .unwrap();
    q.query_map([ms], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_schedule_fires_once_a_slot_and_is_skipped_while_its_run_runs() {
    let dir = project("sched-fire", SCHEDULED);
    let server = serve(&dir);
    // The quick schedule fires at several slots; the slow one (a run lasts
    // 5 s, the period is 2 s) is skipped while its run runs.
    let v = server.wait_for("/api/v1/schedules", "fired and skipped", |v| {
        let quick = schedule_of(v, 0);
        let slow = schedule_of(v, 5000);
        quick["slots"].as_array().unwrap().len() >= 3 && slow["skips"].as_u64().unwrap() >= 1
    });
    let quick = schedule_of(&v, 0);
    assert_eq!(quick["cron"], "*/2 * * * * *");
    assert_eq!(quick["timezone"], "UTC");
    assert!(quick["next"].as_str().unwrap().ends_with('Z'), "{quick}");
    assert!(quick["last_run"].is_string(), "{quick}");
    let metrics = server.metrics();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("flowc_schedule_skips_total{")
                && l.contains(r#"args="{\"ms\":5000}""#)
                && !l.ends_with(" 0")),
        "{metrics}"
    );
    drop(server);
    let slots = slots(&dir);
    // Each slot is an instant of the cron (even seconds), once per schedule.
    for (_, slot, _, _) in &slots {
        assert_eq!(slot % 2000, 0, "{slots:?}");
    }
    let quick: Vec<_> = slots
        .iter()
        .filter(|s| s.0.contains(r#"{"ms":0}"#))
        .collect();
    let slow: Vec<_> = slots
        .iter()
        .filter(|s| s.0.contains(r#"{"ms":5000}"#))
        .collect();
    assert!(quick.iter().all(|s| s.2 == "started"), "{quick:?}");
    // One run a fired slot, no more.
    let started: Vec<String> = quick.iter().filter_map(|s| s.3.clone()).collect();
    let mut runs = runs_of(&dir, 0);
    runs.sort();
    let mut fired = started.clone();
    fired.sort();
    assert_eq!(runs, fired);
    // The slow schedule: skipped slots have no run; its runs never overlap
    // one another (one started slot per run, and skips between them).
    assert!(
        slow.iter().any(|s| s.2 == "skipped" && s.3.is_none()),
        "{slow:?}"
    );
    let slow_runs: Vec<String> = slow.iter().filter_map(|s| s.3.clone()).collect();
    let mut sorted = runs_of(&dir, 5000);
    sorted.sort();
    let mut fired = slow_runs.clone();
    fired.sort();
    assert_eq!(sorted, fired);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_and_a_restart_fire_no_slot_twice() {
    let dir = project("sched-kill", SCHEDULED);
    let mut server = serve(&dir);
    server.wait_for("/api/v1/schedules", "two slots fired", |v| {
        schedule_of(v, 0)["slots"].as_array().unwrap().len() >= 2
    });
    // kill -9: no clean shutdown.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = server.child.wait();
    let killed_ms = now_ms();
    let before = slots(&dir);
    // Down for several slots.
    std::thread::sleep(Duration::from_secs(5));
    let server = serve(&dir);
    let restarted_ms = now_ms();
    let n = before
        .iter()
        .filter(|s| s.0.contains(r#"{"ms":0}"#))
        .count();
    server.wait_for("/api/v1/schedules", "more slots after the restart", |v| {
        // The API shows the latest 10 slots; the store has them all.
        let _ = v;
        slots(&dir)
            .iter()
            .filter(|s| s.0.contains(r#"{"ms":0}"#))
            .count()
            >= n + 3
    });
    drop(server);
    let after = slots(&dir);
    let quick: Vec<_> = after
        .iter()
        .filter(|s| s.0.contains(r#"{"ms":0}"#))
        .collect();
    // The slots claimed before the kill are as they were.
    for s in before.iter().filter(|s| s.0.contains(r#"{"ms":0}"#)) {
        assert!(after.iter().any(|a| a.0 == s.0 && a.1 == s.1), "{s:?} lost");
    }
    // While no server ran, at most one slot (the latest missed) was fired.
    let missed: Vec<_> = quick
        .iter()
        .filter(|s| s.1 > killed_ms && s.1 < restarted_ms - 1000)
        .collect();
    assert!(missed.len() <= 1, "{missed:?}");
    // One run per fired slot: no slot started two runs.
    let mut runs = runs_of(&dir, 0);
    runs.sort();
    let mut fired: Vec<String> = quick.iter().filter_map(|s| s.3.clone()).collect();
    fired.sort();
    assert_eq!(runs, fired);
    let _ = std::fs::remove_dir_all(&dir);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

const GATED: &str = r#"
tool nap(ms: int) -> { slept: int } = exec ["python3", "nap.py"]

/// Ships after a person says yes within 2 s.
flow gated(what: string) -> string {
    let first = nap(ms: 0)
    let ok = approve "Ship {what}?" with { what } within 2s
    if ok { "shipped {what}" } else { "held {what}" }
}

/// The same with a long deadline, answered in time.
flow patient(what: string) -> string {
    let ok = approve "Ship {what}?" within 1h
    if ok { "shipped {what}" } else { "held {what}" }
}
"#;

fn start(server: &Server, flow: &str) -> String {
    let (status, v) = http(
        "POST",
        &format!("{}/api/v1/runs", server.base),
        Some(&server.token),
        Some(serde_json::json!({ "file": "ops.flow", "flow": flow, "args": { "what": "db1" } })),
    );
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

#[test]
fn an_unanswered_approval_expires_and_the_run_goes_on_with_false() {
    let dir = project("expire-serve", GATED);
    let server = serve(&dir);
    let id = start(&server, "gated");
    // While it waits, the deadline is shown (RFC 3339, 2 s after it was asked).
    let v = server.wait_for(&format!("/api/v1/runs/{id}"), "paused", |v| {
        v["status"] == "paused"
    });
    let a = &v["approvals"][0];
    assert_eq!(a["status"], "pending", "{v}");
    let deadline = a["deadline_ms"].as_i64().unwrap();
    assert_eq!(deadline - a["asked_ms"].as_i64().unwrap(), 2000, "{a}");
    assert!(a["deadline"].as_str().unwrap().ends_with('Z'), "{a}");
    // Nobody answers: the server answers it `expired` and the run goes on.
    let v = server.wait_for(&format!("/api/v1/runs/{id}"), "ended", |v| {
        v["status"] == "ok"
    });
    assert_eq!(v["result"], "held db1", "{v}");
    let a = &v["approvals"][0];
    assert_eq!(a["status"], "expired", "{v}");
    assert!(a["answered_ms"].as_i64().unwrap() >= deadline, "{a}");
    // An answer after the deadline is refused, saying so.
    let (status, v) = http(
        "POST",
        &format!("{}/api/v1/runs/{id}/approvals/gated/ok", server.base),
        Some(&server.token),
        Some(serde_json::json!({ "approve": true })),
    );
    assert!(status >= 400, "{status} {v}");
    assert!(v.to_string().contains("expired"), "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_approval_answered_before_its_deadline_works_as_before() {
    let dir = project("expire-answered", GATED);
    let server = serve(&dir);
    let id = start(&server, "patient");
    server.wait_for(&format!("/api/v1/runs/{id}"), "paused", |v| {
        v["status"] == "paused"
    });
    let (status, v) = http(
        "POST",
        &format!("{}/api/v1/runs/{id}/approvals/patient/ok", server.base),
        Some(&server.token),
        Some(serde_json::json!({ "approve": true, "note": "fine" })),
    );
    assert_eq!(status, 200, "{v}");
    let v = server.wait_for(&format!("/api/v1/runs/{id}"), "ended", |v| {
        v["status"] == "ok"
    });
    assert_eq!(v["result"], "shipped db1", "{v}");
    assert_eq!(v["approvals"][0]["status"], "approved", "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flowc_resume_after_the_deadline_takes_false() {
    let dir = project("expire-cli", GATED);
    let out = common::flowc(
        &dir,
        &["run", "ops.flow", "--flow", "gated", "--arg", "what=db1"],
    );
    let err = common::text(&out.stderr);
    let id = err
        .split_whitespace()
        .skip_while(|w| *w != "run")
        .nth(1)
        .unwrap_or_else(|| panic!("a paused run's id: {err}"))
        .to_string();
    assert!(
        err.contains("(expires at ") && err.contains("it answers no)"),
        "{err}"
    );
    // Before the deadline it still waits.
    let shown = common::text(&common::flowc(&dir, &["runs", "show", &id]).stdout);
    assert!(
        shown.contains("pending") && shown.contains("expires at"),
        "{shown}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    let out = common::flowc(&dir, &["resume", &id]);
    let printed = common::text(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        common::text(&out.stderr)
    );
    assert!(printed.contains("held db1"), "{printed}");
    let shown = common::text(&common::flowc(&dir, &["runs", "show", &id]).stdout);
    assert!(shown.contains("expired"), "{shown}");
    // `flowc approve` sees it expired.
    let out = common::flowc(&dir, &["approve", &id, "gated/ok"]);
    assert!(!out.status.success());
    assert!(
        common::text(&out.stderr).contains("expired"),
        "{}",
        common::text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
