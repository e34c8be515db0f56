//! What `flowc serve` does by the clock, tested as people use it: a real
//! server process on 127.0.0.1, a real HTTP client, `kill -9` and a
//! restart on the same store — `schedule` items fired once a slot, skipped
//! while their previous run runs; approvals that expire.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{command, http, tempdir};
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
    let mut child = command(dir, &args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("flowc serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            kept.lock().unwrap().push_str(&format!("{line}\n"));
            let _ = tx.send(line);
        }
    });
    let (mut base, mut token) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while base.is_none() || token.is_none() {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("flowc serve did not start:\n{}", log.lock().unwrap()));
        if let Some(at) = line.find("http://")
            && base.is_none()
        {
            let url = line[at..].split_whitespace().next().unwrap();
            base = Some(url.trim_end_matches("/api/v1").to_string());
        }
        if let Some(t) = line.strip_prefix("token (operator, for this process only): ") {
            token = Some(t.to_string());
        }
    }
    Server {
        child,
        base: base.unwrap(),
        token: token.unwrap(),
        log,
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
