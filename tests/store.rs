//! The store (docs/store.md) through the real `flowc` binary and real SQLite files
//! in temp folders: runs registered and listed, steps shown, parallel runs,
//! `kill -9` shown as `interrupted`, damaged, newer and locked stores,
//! `runs gc` and `cache clear`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Two steps of an exec tool that doubles its argument.
const FLOW: &str = r#"tool dbl(x: int) -> { y: int } = exec ["python3", "dbl.py"]
flow main(n: int = 2) -> int {
    let a = dbl(x: n)
    let b = dbl(x: a.y)
    b.y
}
"#;

const DBL: &str =
    "import json, sys\na = json.load(sys.stdin)\nprint(json.dumps({'y': a['x'] * 2}))\n";

/// A tool that writes `started` (the moment to kill) and then sleeps.
const NAP: &str = "import json, sys, time\njson.load(sys.stdin)\nopen('started', 'w').close()\ntime.sleep(float(sys.argv[1]))\nprint(json.dumps({'ok': True}))\n";

const NAP_FLOW: &str = r#"tool nap(s: float) -> { ok: bool } = exec ["python3", "nap.py", "30"]
flow main() -> bool { nap(s: 1.0).ok }
"#;

fn folder(tag: &str) -> PathBuf {
    let dir = common::tempdir(tag);
    std::fs::write(dir.join("main.flow"), FLOW).expect("write flow");
    std::fs::write(dir.join("dbl.py"), DBL).expect("write tool");
    std::fs::write(dir.join("nap.py"), NAP).expect("write tool");
    std::fs::write(dir.join("nap.flow"), NAP_FLOW).expect("write flow");
    dir
}

use common::{command, flowc, text};

/// `flowc runs --format json` in `dir`'s default store.
fn runs(dir: &Path) -> Vec<Value> {
    let out = flowc(dir, &["runs", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("runs JSON")
        .as_array()
        .cloned()
        .expect("a list")
}

fn python(dir: &Path, code: &str) {
    python_says(dir, &["-c", code]);
}

/// What `python3 ARGS` run in `dir` prints (it must succeed).
fn python_says(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("python3")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn a_run_is_registered_listed_and_shown_with_its_steps() {
    let dir = folder("listed");
    let out = flowc(&dir, &["run", "main.flow", "--record", "run.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "8");
    // The default store: `.flowc/flowc.db` under the current folder.
    assert!(dir.join(".flowc/flowc.db").is_file());
    let all = runs(&dir);
    assert_eq!(all.len(), 1, "{all:?}");
    let run = &all[0];
    let id = run["id"].as_str().expect("an id");
    assert_eq!(run["status"], "ok");
    assert_eq!(run["flow"], "main");
    assert_eq!(run["result"], 8);
    assert!(run["pid"].as_u64().is_some());
    // The id is in the record and on stderr, one line.
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).expect("record"))
            .expect("record JSON");
    assert_eq!(record["run_id"], id);
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.contains(id)).count(),
        1,
        "{stderr}"
    );

    // `runs show`: the run and every step.
    let show = flowc(&dir, &["runs", "show", id, "--format", "json"]);
    assert!(show.status.success(), "{}", text(&show.stderr));
    let shown: Value = serde_json::from_slice(&show.stdout).expect("JSON");
    let steps = shown["steps"].as_array().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(shown["sources"][0]["path"], "main.flow");
    assert_eq!(
        shown["sources"][0]["sha256"].as_str().map(str::len),
        Some(64)
    );
    let human = flowc(&dir, &["runs", "show", &id[..8]]);
    let table = text(&human.stdout);
    assert!(human.status.success(), "{}", text(&human.stderr));
    assert!(table.contains("PATH"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("main/b ") && l.contains("dbl") && l.contains("ok")),
        "{table}"
    );
    let list = text(&flowc(&dir, &["runs"]).stdout);
    assert!(
        list.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(id) && l.contains("ok")),
        "{list}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quiet_no_store_and_the_store_flag_and_variable() {
    let dir = folder("where");
    let out = flowc(&dir, &["run", "main.flow", "--quiet"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
    let out = flowc(&dir, &["run", "main.flow", "--no-store"]);
    assert!(out.status.success());
    assert!(
        !text(&out.stderr).contains("store"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(runs(&dir).len(), 1);
    let out = flowc(&dir, &["run", "main.flow", "--store", "elsewhere"]);
    assert!(out.status.success());
    assert!(dir.join("elsewhere/flowc.db").is_file());
    let out = command(&dir, &["run", "main.flow"])
        .env("FLOWC_STORE", dir.join("by-env"))
        .output()
        .expect("flowc runs");
    assert!(out.status.success());
    let listed = command(&dir, &["runs", "--format", "json"])
        .env("FLOWC_STORE", dir.join("by-env"))
        .output()
        .expect("flowc runs");
    let v: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(runs(&dir).len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_run_keeps_its_errors() {
    let dir = folder("failed");
    std::fs::write(dir.join("dbl.py"), "import sys\nsys.exit(3)\n").expect("write tool");
    let out = flowc(&dir, &["run", "main.flow"]);
    assert_eq!(out.status.code(), Some(1));
    let all = runs(&dir);
    assert_eq!(all[0]["status"], "failed");
    assert_eq!(all[0]["error"][0]["kind"], "tool_error", "{}", all[0]);
    // Without `--record` the store still keeps the record, and the journal its steps.
    let id = all[0]["id"].as_str().expect("id");
    let show = flowc(&dir, &["runs", "show", id, "--format", "json"]);
    let shown: Value = serde_json::from_slice(&show.stdout).expect("JSON");
    assert_eq!(shown["record"]["run_id"], id);
    assert_eq!(shown["record"]["status"], "failed");
    assert!(shown["record"].get("steps").is_none(), "{shown:#}");
    assert_eq!(shown["steps"][0]["step"], "a");
    assert_eq!(shown["steps"][0]["status"], "failed");
    assert_eq!(shown["steps"][0]["error"]["kind"], "tool_error");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn runs_in_parallel_in_one_new_store_are_all_recorded() {
    let dir = folder("parallel");
    let children: Vec<Child> = (0..4)
        .map(|i| {
            command(&dir, &["run", "main.flow", "--arg", &format!("n={i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("flowc starts")
        })
        .collect();
    // `flowc runs` polls while they write.
    for _ in 0..5 {
        let out = flowc(&dir, &["runs", "--format", "json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        std::thread::sleep(Duration::from_millis(50));
    }
    for c in children {
        let out = c.wait_with_output().expect("flowc ends");
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let all = runs(&dir);
    assert_eq!(all.len(), 4, "{all:?}");
    let mut results: Vec<i64> = all.iter().filter_map(|r| r["result"].as_i64()).collect();
    results.sort();
    assert_eq!(results, [0, 4, 8, 12]);
    assert!(all.iter().all(|r| r["status"] == "ok"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn wait_for(path: &Path, what: &str) {
    let t0 = Instant::now();
    while !path.exists() {
        assert!(t0.elapsed() < Duration::from_secs(20), "{what} never came");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_killed_run_shows_as_interrupted() {
    let dir = folder("killed");
    let mut child = command(&dir, &["run", "nap.flow"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowc starts");
    wait_for(&dir.join("started"), "the tool's marker");
    let during = runs(&dir);
    assert_eq!(during[0]["status"], "running", "{during:?}");
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let after = runs(&dir);
    assert_eq!(after[0]["status"], "interrupted", "{after:?}");
    assert_eq!(after[0]["ended_ms"], Value::Null);
    let shown = flowc(
        &dir,
        &["runs", "show", after[0]["id"].as_str().expect("id")],
    );
    let t = text(&shown.stdout);
    assert!(
        t.contains("interrupted") && t.contains("the run did not end"),
        "{t}"
    );
    // `--status` filters.
    let out = flowc(&dir, &["runs", "--status", "ok", "--format", "json"]);
    assert_eq!(text(&out.stdout).trim(), "[]");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_cancelled_by_a_signal_ends_cancelled() {
    let dir = folder("cancelled");
    let child = command(&dir, &["run", "nap.flow"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowc starts");
    wait_for(&dir.join("started"), "the tool's marker");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let out = child.wait_with_output().expect("flowc ends");
    assert_eq!(out.status.code(), Some(143));
    let all = runs(&dir);
    assert_eq!(all[0]["status"], "cancelled", "{all:?}");
    assert_eq!(all[0]["error"]["signal"], "SIGTERM");
    assert!(all[0]["ended_ms"].as_i64().is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run in `dir` with a store made first, then changed by `damage`; it must
/// fail with exit 2 and a message naming the store file.
fn refused(tag: &str, damage: impl Fn(&Path)) -> String {
    let dir = folder(tag);
    assert!(flowc(&dir, &["run", "main.flow", "-q"]).status.success());
    damage(&dir.join(".flowc/flowc.db"));
    let out = flowc(&dir, &["run", "main.flow"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(".flowc/flowc.db"), "{stderr}");
    assert_eq!(text(&out.stdout), "", "nothing ran");
    // `flowc runs` refuses it the same way, and nothing was reset.
    let listed = flowc(&dir, &["runs"]);
    assert_eq!(listed.status.code(), Some(2), "{}", text(&listed.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    stderr
}

#[test]
fn a_truncated_or_garbage_store_is_a_clear_error() {
    let e = refused("truncated", |db| {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(db)
            .expect("open");
        f.set_len(100).expect("truncate");
    });
    assert!(e.contains("damaged") && e.contains("move it away"), "{e}");
    let e = refused("garbage", |db| {
        std::fs::write(db, "this is not SQLite at all ".repeat(200)).expect("write");
    });
    assert!(e.contains("damaged"), "{e}");
}

#[test]
fn a_store_of_a_newer_schema_is_refused() {
    let e = refused("newer", |db| {
        python(
            db.parent().expect("folder"),
            "import sqlite3; c = sqlite3.connect('flowc.db'); c.execute('PRAGMA user_version = 99'); c.commit()",
        );
    });
    assert!(
        e.contains("schema version 99") && e.contains("newer flowc"),
        "{e}"
    );
}

#[test]
fn a_locked_store_is_a_clear_error_after_the_busy_timeout() {
    let dir = folder("locked");
    assert!(flowc(&dir, &["run", "main.flow", "-q"]).status.success());
    let mut holder = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, time\nc = sqlite3.connect('.flowc/flowc.db', isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nopen('locked', 'w').close()\ntime.sleep(60)\n",
        )
        .current_dir(&dir)
        .spawn()
        .expect("python3 starts");
    wait_for(&dir.join("locked"), "the lock");
    let t0 = Instant::now();
    let out = flowc(&dir, &["run", "main.flow"]);
    let took = t0.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("locked by another process") && stderr.contains(".flowc/flowc.db"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(30), "no hang: {took:?}");
    // Once the lock is gone the store works, with its old run intact.
    assert!(flowc(&dir, &["run", "main.flow", "-q"]).status.success());
    assert_eq!(runs(&dir).len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gc_deletes_finished_runs_older_than_a_duration() {
    let dir = folder("gc");
    for _ in 0..2 {
        assert!(flowc(&dir, &["run", "main.flow", "-q"]).status.success());
    }
    let out = flowc(&dir, &["runs", "gc", "--older-than", "1d"]);
    assert_eq!(text(&out.stdout).trim(), "deleted 0 runs older than 1d");
    assert_eq!(runs(&dir).len(), 2);
    std::thread::sleep(Duration::from_millis(20));
    let out = flowc(&dir, &["runs", "gc", "--older-than", "10ms"]);
    assert_eq!(text(&out.stdout).trim(), "deleted 2 runs older than 10ms");
    assert_eq!(runs(&dir).len(), 0);
    python(
        &dir,
        "import sqlite3; c = sqlite3.connect('.flowc/flowc.db'); assert c.execute('SELECT count(*) FROM run_sources').fetchone()[0] == 0",
    );
    let bad = flowc(&dir, &["runs", "gc", "--older-than", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cache_clear_empties_one_tool_or_all() {
    let dir = folder("cache");
    assert!(flowc(&dir, &["run", "main.flow", "-q"]).status.success());
    python(
        &dir,
        "import sqlite3\nc = sqlite3.connect('.flowc/flowc.db')\nfor k, t in [('k1', 'a'), ('k2', 'a'), ('k3', 'b')]:\n    c.execute('INSERT INTO cache VALUES (?, ?, ?, ?, ?, ?)', (k, t, 'builtin:' + t, '{}', '1', 0))\nc.commit()\n",
    );
    let out = flowc(&dir, &["cache", "clear", "a"]);
    assert_eq!(text(&out.stdout).trim(), "cleared 2 cache entries of `a`");
    let out = flowc(&dir, &["cache", "clear"]);
    assert_eq!(text(&out.stdout).trim(), "cleared 1 cache entry");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn listing_without_a_store_creates_none() {
    let dir = folder("none");
    assert_eq!(runs(&dir), Vec::<Value>::new());
    let show = flowc(&dir, &["runs", "show", "abc"]);
    assert_eq!(show.status.code(), Some(2));
    assert!(!dir.join(".flowc").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Counts its calls in `calls.log` (one line each, `a,b`); fails for `a == 0`.
const COUNT: &str = "import json, sys\na = json.load(sys.stdin)\nopen('calls.log', 'a').write('%d,%d\\n' % (a['a'], a['b']))\nif a['a'] == 0:\n    sys.exit('no zero')\nprint(json.dumps({'n': a['a'] + a['b']}))\n";

const CACHED_FLOW: &str = r#"tool add(a: int, b: int) -> { n: int } = exec ["python3", "count.py"] with { cache: 10m }
flow main() -> json {
    let p = parallel {
        x = add(a: 1, b: 2)
        y = add(b: 2, a: 1)
    }
    let l = for i in [1, 2, 3] { add(a: 1, b: 2).n + i }
    let f = add(a: 0, b: 1) catch { n: -1 }
    { p: p, l: l, f: f.n }
}
"#;

/// The calls in `calls.log`, sorted (calls in flight at once log in any order).
fn calls(dir: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(dir.join("calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

#[test]
fn the_cache_is_shared_across_runs_and_in_flight_and_keeps_no_failure() {
    let dir = folder("cache-runs");
    std::fs::write(dir.join("count.py"), COUNT).expect("write tool");
    std::fs::write(dir.join("cached.flow"), CACHED_FLOW).expect("write flow");
    let want =
        serde_json::json!({ "p": { "x": { "n": 3 }, "y": { "n": 3 } }, "l": [4, 5, 6], "f": -1 });
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "cached.flow", "--record", "run.json"];
        args.extend_from_slice(extra);
        let out = flowc(&dir, &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let result: Value = serde_json::from_slice(&out.stdout).expect("a result");
        assert_eq!(result, want);
        let record: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("run.json")).expect("the record"),
        )
        .expect("record JSON");
        record["steps"].as_array().cloned().expect("steps")
    };
    // Five identical calls (two at once, in either argument order, three in a
    // `for`) run once; the failing call runs and is not kept.
    let steps = run(&[]);
    assert_eq!(calls(&dir), ["0,1", "1,2"], "first run");
    let cached = steps.iter().filter(|s| s["status"] == "cached").count();
    assert_eq!(cached, 4, "{steps:#?}");
    // A second run within the TTL reuses the stored result, and says how old it is;
    // the failure runs again.
    let steps = run(&[]);
    assert_eq!(calls(&dir), ["0,1", "0,1", "1,2"], "second run");
    let hits: Vec<&Value> = steps.iter().filter(|s| s["status"] == "cached").collect();
    assert_eq!(hits.len(), 5, "{steps:#?}");
    assert!(
        hits.iter()
            .all(|s| s["cached_age_s"].as_f64().is_some_and(|a| a >= 0.0))
    );
    // `--no-cache` runs every call.
    run(&["--no-cache"]);
    assert_eq!(calls(&dir).len(), 3 + 6, "{:?}", calls(&dir));
    // `flowc cache clear` forgets the stored result.
    let out = flowc(&dir, &["cache", "clear"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    run(&[]);
    assert_eq!(calls(&dir).len(), 9 + 2, "{:?}", calls(&dir));
}

/// A flow call, a cache hit, a failed call caught, and a `race` whose loser
/// is cancelled: each a step of the journal and of `flowc runs show`.
const SHOWN_FLOW: &str = r#"tool wait(ms: int) -> { ms: int } = builtin "sleep" with { cache: 10m }
flow pair(n: int) -> int {
    let a = wait(ms: n)
    let b = wait(ms: n)
    a.ms + b.ms
}
flow main() -> json {
    let p = pair(n: 1)
    let r = race {
        slow = wait(ms: 5000) with { cache: 0s }
        quick = wait(ms: 2)
    }
    { p: p, r: r.winner }
}
"#;

#[test]
fn runs_show_lists_every_step_from_the_journal() {
    let dir = folder("shown");
    std::fs::write(dir.join("shown.flow"), SHOWN_FLOW).expect("write flow");
    let out = flowc(&dir, &["run", "shown.flow"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = runs(&dir)[0]["id"].as_str().expect("id").to_string();
    let show = flowc(&dir, &["runs", "show", &id, "--format", "json"]);
    assert!(show.status.success(), "{}", text(&show.stderr));
    let shown: Value = serde_json::from_slice(&show.stdout).expect("JSON");
    // The stored record has no steps: they are the journal's.
    assert!(shown["record"].get("steps").is_none(), "{shown:#}");
    let steps = shown["steps"].as_array().expect("steps");
    let at = |path: &str| {
        steps
            .iter()
            .find(|s| s["path"] == path)
            .unwrap_or_else(|| panic!("no step {path} in {steps:#?}"))
    };
    let p = at("main/p");
    assert_eq!(
        (&p["kind"], &p["tool"], &p["status"]),
        (&"flow".into(), &"pair".into(), &"ok".into())
    );
    assert_eq!(at("main/p/a")["status"], "ok");
    let hit = at("main/p/b");
    assert_eq!(hit["status"], "cached", "{steps:#?}");
    assert!(
        hit["cached_age_s"].as_f64().is_some_and(|a| a >= 0.0),
        "{hit}"
    );
    assert_eq!(at("main/r.quick")["status"], "ok");
    let slow = at("main/r.slow");
    assert_eq!(slow["status"], "cancelled", "{steps:#?}");
    assert!(
        slow["duration_ms"].as_i64().is_some_and(|d| d < 5000),
        "{slow}"
    );
    // The steps come in the order they started; each has a duration.
    let starts: Vec<i64> = steps
        .iter()
        .filter_map(|s| s["started_ms"].as_i64())
        .collect();
    assert_eq!(starts.len(), steps.len());
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
    // The table says the same.
    let table = text(&flowc(&dir, &["runs", "show", &id]).stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("main/p/b") && l.contains("cached (")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("main/r.slow") && l.contains("cancelled")),
        "{table}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn runs_that_open_a_new_store_at_once_all_run() {
    // Each run holds the store open while its tool sleeps longer than the
    // store's 5 s busy timeout: a run that could not switch the new file to WAL
    // beside the others would fail with "locked" before they end.
    let dir = folder("store-race");
    std::fs::write(
        dir.join("slow.flow"),
        "tool nap(s: float) -> { ok: bool } = exec [\"python3\", \"nap.py\", \"6\"]\nflow main() -> bool { nap(s: 1.0).ok }\n",
    )
    .expect("write flow");
    let children: Vec<Child> = (0..4)
        .map(|_| {
            command(&dir, &["run", "slow.flow", "--store", "new-store"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("flowc starts")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("flowc ends");
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = flowc(&dir, &["runs", "--store", "new-store", "--format", "json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).expect("runs JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(4), "{listed}");
}

const TTL_FLOW: &str = r#"tool add(a: int, b: int) -> { n: int } = exec ["python3", "count.py"] with { cache: 2s }
flow main() -> json {
    let d = dag {
        let x = add(a: 1, b: 2)
        let y = add(b: 2, a: 1)
        x.n + y.n
    }
    let l = loop s = 0 max 3 until s >= 30 { s + add(a: 1, b: 2).n }
    let f = add(a: 0, b: 1) catch { n: -1 }
    { d: d, l: l, f: f.n }
}
"#;

/// Issue 13's test 5: a pure tool with `cache: 2s` called with `{a:1,b:2}`
/// and `{b:2,a:1}` from two concurrent branches of a `dag` and three `loop`
/// iterations runs once; a second run within the TTL runs it zero times;
/// after 2 s it runs again; a failed call is never cached.
#[test]
fn the_cache_works_in_a_dag_and_a_loop_and_expires_after_its_ttl() {
    let dir = folder("cache-ttl");
    std::fs::write(dir.join("count.py"), COUNT).expect("write tool");
    std::fs::write(dir.join("ttl.flow"), TTL_FLOW).expect("write flow");
    let run = || {
        let out = flowc(&dir, &["run", "ttl.flow", "-q"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let result: Value = serde_json::from_slice(&out.stdout).expect("a result");
        assert_eq!(result, serde_json::json!({ "d": 6, "l": 9, "f": -1 }));
    };
    let t0 = Instant::now();
    run();
    assert_eq!(calls(&dir), ["0,1", "1,2"], "five identical calls ran once");
    run();
    // Both runs within the TTL (a slow machine could pass it: then skip the check).
    if t0.elapsed() < Duration::from_millis(1900) {
        assert_eq!(
            calls(&dir),
            ["0,1", "0,1", "1,2"],
            "within the TTL: none again"
        );
    }
    std::thread::sleep(Duration::from_millis(2100));
    let before = calls(&dir).iter().filter(|c| *c == "1,2").count();
    run();
    let after = calls(&dir).iter().filter(|c| *c == "1,2").count();
    assert_eq!(after, before + 1, "after the TTL it runs once again");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The store keeps arguments and results: only its owner may read it. Its
/// folder is made 0700, the database and SQLite's `-wal` and `-shm` files
/// are 0600 (checked while a run holds them open), and a store made by an
/// older flowc (0644) is tightened when opened.
#[test]
fn the_store_is_readable_by_its_owner_only() {
    let dir = folder("private");
    let mut child = command(&dir, &["run", "nap.flow"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowc starts");
    wait_for(&dir.join("started"), "the tool's marker");
    let store = dir.join(".flowc");
    let modes: Vec<(String, u32)> = ["", "flowc.db", "flowc.db-wal", "flowc.db-shm"]
        .iter()
        .map(|f| (f.to_string(), mode(&store.join(f))))
        .collect();
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    assert_eq!(
        modes,
        [
            (String::new(), 0o700),
            ("flowc.db".into(), 0o600),
            ("flowc.db-wal".into(), 0o600),
            ("flowc.db-shm".into(), 0o600)
        ]
    );
    // An older store, open to everyone, is tightened; a folder given with
    // `--store` that exists already keeps its own permissions.
    use std::os::unix::fs::PermissionsExt;
    let db = store.join("flowc.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert!(flowc(&dir, &["run", "main.flow", "-q"]).status.success());
    let out = flowc(&dir, &["run", "main.flow", "-q", "--store", "shared"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&shared), 0o755);
    assert_eq!(mode(&shared.join("flowc.db")), 0o600);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small disk for a store: a tmpfs of `size` mounted on `dir` (unmounted
/// when dropped), or, where mounting is not allowed, `None`: the caller then
/// limits the size of the files flowc may write (`RLIMIT_FSIZE`, SIGXFSZ
/// ignored), so that writing the store fails the same way.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).expect("mount point");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk {
            dir: dir.to_path_buf(),
        })
    }

    /// A 1 MB disk for a store under `dir/disk`: a tmpfs where mounting is
    /// allowed, else `None` (and [`SmallDisk::run`] limits the file size);
    /// with the words that say which, printed for the test's log.
    fn for_store(dir: &Path) -> (Option<SmallDisk>, &'static str) {
        let disk = SmallDisk::mount(&dir.join("disk"), "1m");
        let how = if disk.is_some() {
            "a 1 MB tmpfs"
        } else {
            "RLIMIT_FSIZE of about 1 MB (mounting a tmpfs was refused)"
        };
        eprintln!("the store's disk: {how}");
        (disk, how)
    }

    /// `flowc ARGS` in `dir` on the small disk `disk` (or, without one,
    /// under [`limited`]).
    fn run(disk: &Option<SmallDisk>, dir: &Path, args: &[&str]) -> std::process::Output {
        match disk {
            Some(_) => flowc(dir, args),
            None => limited(dir, args).output().expect("flowc runs"),
        }
    }

    fn grow(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .status()
            .expect("mount runs");
        assert!(ok.success(), "remount");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// `flowc ARGS` in `dir`, writing files of at most about 1 MB (for a store
/// that must fill up where a tmpfs cannot be mounted): the shell ignores
/// SIGXFSZ (so a write past the limit fails with EFBIG instead of killing
/// flowc) and sets RLIMIT_FSIZE (`ulimit -f`, in blocks of 512 or 1024
/// bytes), both inherited by flowc.
fn limited(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("trap '' XFSZ; ulimit -f 2048 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLOWC_STORE")
        .stdin(Stdio::null());
    c
}

/// An effect appends its item to `count` (outside the store's disk) and
/// sends a padded argument, so that the journal fills a small disk fast.
fn full_disk_flow(n: usize) -> String {
    format!(
        r#"effect tool note(x: int, pad: string) -> {{ y: int }} = exec ["sh", "note.sh"]
flow main(pad: string = "{}") -> int {{
    let out = for x in range(0, {n}) with {{ max_concurrent: 8 }} {{ note(x: x, pad: pad) }}
    len(out)
}}
"#,
        "p".repeat(3000)
    )
}

const NOTE_SH: &str = "read -r args\necho \"$args\" | cut -c1-12 >> count\necho '{\"y\": 1}'\n";

/// The store's disk fills up in the middle of a run of 600 effects without
/// idempotency keys: no effect starts unless its `running` row was
/// committed, the run stops with the store's error (exit 2, nothing on
/// stdout) and is left `interrupted`, never `ok`; once there is room again,
/// resume runs the rest, and only the effects that may have happened (their
/// start kept, their end not) can run twice.
#[test]
fn a_full_disk_stops_the_run_before_an_effect_whose_start_is_not_kept() {
    let dir = common::tempdir("full-disk");
    std::fs::write(dir.join("main.flow"), full_disk_flow(600)).expect("flow");
    std::fs::write(dir.join("note.sh"), NOTE_SH).expect("tool");
    let (disk, how) = SmallDisk::for_store(&dir);
    let store = dir.join("disk/store");
    let args = [
        "run",
        "main.flow",
        "--store",
        store.to_str().expect("utf-8"),
    ];
    let out = SmallDisk::run(&disk, &dir, &args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{how}: {stderr}");
    assert_eq!(text(&out.stdout), "", "no result is printed");
    assert!(
        stderr.contains("flowc.db")
            && (stderr.contains("is full") || stderr.contains("may be full"))
            && stderr.contains("flowc resume"),
        "{stderr}"
    );
    let ran = std::fs::read_to_string(dir.join("count"))
        .unwrap_or_default()
        .lines()
        .count();
    // Room again: what the store kept.
    if let Some(d) = &disk {
        d.grow("64m");
    }
    let listed = flowc(
        &dir,
        &[
            "runs",
            "--store",
            store.to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    );
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let runs: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(runs[0]["status"], "interrupted", "{runs}");
    let id = runs[0]["id"].as_str().expect("id").to_string();
    let started: Vec<String> = {
        let o = Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import sqlite3; c = sqlite3.connect('{}/flowc.db')\nfor (p, s) in c.execute(\"SELECT path, status FROM journal WHERE tool = 'note'\"): print(p, s)",
                store.display()
            ))
            .output()
            .expect("python3");
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout).lines().map(str::to_string).collect()
    };
    assert!(
        ran < 600,
        "the disk filled before the end ({ran} effects ran)"
    );
    assert!(
        ran <= started.len(),
        "{ran} effects ran, {} had their start kept",
        started.len()
    );
    let uncertain = started.iter().filter(|l| l.ends_with(" running")).count();
    eprintln!(
        "before resume: {ran} effects ran, {} starts kept, {uncertain} uncertain",
        started.len()
    );
    let out = flowc(
        &dir,
        &[
            "resume",
            &id,
            "--rerun-uncertain",
            "-q",
            "--store",
            store.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(text(&out.stdout).trim(), "600", "{}", text(&out.stderr));
    let total = std::fs::read_to_string(dir.join("count"))
        .unwrap_or_default()
        .lines()
        .count();
    eprintln!("effects in all after resume: {total}");
    assert!(
        total <= 600 + uncertain,
        "{total} effects in all ({ran} before resume, {uncertain} uncertain)"
    );
    drop(disk);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run of 3,000 pure steps on a store whose disk fills up: the run stops
/// with the store's error (exit 2), prints no result and is not stored `ok`
/// over the steps its journal lost: its status and exit code agree.
#[test]
fn a_full_disk_under_pure_steps_is_never_stored_ok() {
    let dir = common::tempdir("full-disk-pure");
    std::fs::write(
        dir.join("main.flow"),
        format!(
            r#"tool echo(x: int, pad: string) -> {{ x: int, pad: string }} = builtin "echo"
flow main(pad: string = "{}") -> int {{
    let out = for x in range(0, 3000) {{ echo(x: x, pad: pad).x }}
    len(out)
}}
"#,
            "p".repeat(3000)
        ),
    )
    .expect("flow");
    let (disk, how) = SmallDisk::for_store(&dir);
    let store = dir.join("disk/store");
    let store = store.to_str().expect("utf-8");
    let args = ["run", "main.flow", "--store", store];
    let out = SmallDisk::run(&disk, &dir, &args);
    let stderr = text(&out.stderr);
    if let Some(d) = &disk {
        d.grow("64m");
    }
    let listed = flowc(&dir, &["runs", "--store", store, "--format", "json"]);
    let runs: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    eprintln!(
        "exit {:?}, stdout {:?}, stored {}",
        out.status.code(),
        text(&out.stdout).trim(),
        runs[0]["status"]
    );
    assert_eq!(out.status.code(), Some(2), "{how}: {stderr}");
    assert_eq!(text(&out.stdout), "", "no result is printed");
    assert!(
        stderr.contains("is full") || stderr.contains("may be full"),
        "{stderr}"
    );
    assert_eq!(runs[0]["status"], "interrupted", "{runs}");
    drop(disk);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A paused run; then 4 KB of random bytes over the pages of the table the
/// resume reads its approval from (in the middle of the file). `flowc store
/// check` finds it; a resume stops with a clear error naming the file
/// (exit 2), never a `policy_violation`, and the run stays `paused`.
#[test]
fn a_store_damaged_in_the_middle_is_a_clear_error_and_changes_no_run() {
    let dir = common::tempdir("damaged-middle");
    std::fs::write(
        dir.join("main.flow"),
        r#"tool a() -> int = exec ["sh", "-c", "echo a >> log; echo 1"]
tool b() -> int = exec ["sh", "-c", "echo b >> log; echo 2"]
flow main() -> int {
    let x = a()
    let ok = approve "Ship it?" with { x }
    let y = if ok { b() } else { 0 }
    x + y
}
"#,
    )
    .expect("flow");
    let out = flowc(&dir, &["run", "main.flow"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    for _ in 0..3 {
        assert!(flowc(&dir, &["run", "main.flow", "-q"]).status.code() == Some(3));
    }
    let id = runs(&dir)[0]["id"].as_str().expect("id").to_string();
    let sound = flowc(&dir, &["store", "check"]);
    assert!(sound.status.success(), "{}", text(&sound.stderr));
    assert!(text(&sound.stdout).contains("is sound"));
    // The approvals' table and index: random bytes over each of their pages.
    python(
        &dir,
        "import os, sqlite3\nc = sqlite3.connect('.flowc/flowc.db')\nsize = c.execute('PRAGMA page_size').fetchone()[0]\npages = [r[0] for r in c.execute(\"SELECT rootpage FROM sqlite_master WHERE tbl_name = 'approvals' AND rootpage > 1\")]\ntotal = c.execute('PRAGMA page_count').fetchone()[0]\nc.close()\nassert size == 4096 and len(pages) == 2 and max(pages) < total, (size, pages, total)\nwith open('.flowc/flowc.db', 'r+b') as f:\n    for p in pages:\n        f.seek((p - 1) * size)\n        f.write(os.urandom(size))\n",
    );
    let out = flowc(&dir, &["resume", &id]);
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains(".flowc/flowc.db") && e.contains("damaged") && !e.contains("policy_violation"),
        "{e}"
    );
    let status = runs(&dir)
        .iter()
        .find(|r| r["id"] == id.as_str())
        .map(|r| r["status"].clone());
    assert_eq!(status, Some(Value::from("paused")));
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    assert!(!log.contains('b'), "nothing after the approval ran: {log}");
    let check = flowc(&dir, &["store", "check"]);
    assert_eq!(check.status.code(), Some(2), "{}", text(&check.stdout));
    assert!(!text(&check.stdout).is_empty());
    assert!(
        text(&check.stderr).contains("flowc.db` is damaged"),
        "{}",
        text(&check.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every `sqlite3` query of docs/store.md, run against a real store that has
/// an `ok` run, a failed one and a cache entry (its examples' ids and hashes
/// replaced by real ones): each reads, and each finds something.
#[test]
fn every_query_of_the_store_docs_finds_rows_in_a_real_store() {
    let dir = common::tempdir("doc-queries");
    std::fs::write(
        dir.join("main.flow"),
        r#"tool dbl(x: int) -> { y: int } = exec ["python3", "dbl.py"] with { cache: 1h }
tool no() -> int = exec ["false"]
flow main(n: int = 2) -> int { dbl(x: dbl(x: n).y).y }
flow bad() -> int { no() }
"#,
    )
    .expect("flow");
    std::fs::write(dir.join("dbl.py"), DBL).expect("tool");
    let ok = flowc(&dir, &["run", "main.flow", "-q"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let bad = flowc(&dir, &["run", "main.flow", "--flow", "bad", "-q"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stderr));
    let all = runs(&dir);
    let id = all
        .iter()
        .find(|r| r["status"] == "ok")
        .and_then(|r| r["id"].as_str())
        .expect("the ok run")
        .to_string();
    let db = rusqlite::Connection::open(dir.join(".flowc/flowc.db")).expect("sqlite");
    let sha: String = db
        .query_row(
            "SELECT sha256 FROM run_sources WHERE run_id = ?1 AND path = 'main.flow'",
            [&id],
            |r| r.get(0),
        )
        .expect("the source's hash");
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/store.md"))
        .expect("docs/store.md");
    // `sqlite3 [-header] FILE "SQL"`, the SQL possibly over several lines.
    let mut queries = Vec::new();
    let mut rest = doc.as_str();
    while let Some(at) = rest.find("sqlite3 ") {
        rest = &rest[at + "sqlite3 ".len()..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let Some(open) = rest[..line_end].find(" \"") else {
            continue;
        };
        let body = &rest[open + 2..];
        let close = body.find('"').expect("a closing quote");
        queries.push(body[..close].to_string());
        rest = &body[close + 1..];
    }
    assert!(queries.len() >= 6, "{queries:#?}");
    for q in &queries {
        let sql = q
            .replace("'1m8j8t23tk7e'", &format!("'{id}'"))
            .replace("'…'", &format!("'{id}'"))
            .replace("'570790db…'", &format!("'{sha}'"));
        assert!(
            !sql.contains('…'),
            "a placeholder the test does not know: {q}"
        );
        let rows = db
            .prepare(&sql)
            .and_then(|mut st| {
                let n = st.column_count();
                st.query_map([], |r| {
                    (0..n)
                        .map(|i| r.get::<_, rusqlite::types::Value>(i))
                        .collect::<rusqlite::Result<Vec<_>>>()
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap_or_else(|e| panic!("{e}:\n{q}"));
        assert!(!rows.is_empty(), "no rows:\n{q}");
        assert!(
            rows.iter()
                .any(|r| r.iter().all(|v| *v != rusqlite::types::Value::Null)),
            "only nulls: {rows:?}\n{q}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run's status is read from its text in one place: text that names no
/// status (another program's, a damaged row) is an error that names it and
/// the statuses there are, for `flowc runs` and `flowc resume` alike, never
/// a run listed or resumed under a status flowc does not know.
#[test]
fn a_status_the_store_does_not_know_is_a_clear_error() {
    let dir = folder("status");
    let out = flowc(&dir, &["run", "main.flow"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = runs(&dir)[0]["id"].as_str().expect("id").to_string();
    python(
        &dir,
        "import sqlite3; c = sqlite3.connect('.flowc/flowc.db'); c.execute(\"UPDATE runs SET status = 'done'\"); c.commit()",
    );
    for args in [vec!["runs"], vec!["resume", id.as_str()]] {
        let out = flowc(&dir, &args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("`done` is no run status; the statuses: running, ok, failed, cancelled, interrupted, paused"),
            "{args:?}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tool call and a decision, each with a value computed at run time.
const ARGS_FLOW: &str = r#"tool dbl(x: int) -> { y: int } = exec ["python3", "dbl.py"]
flow main(n: int = 2) -> string {
    let a = dbl(x: n + 1)
    let size = decide "Is it big?" with { y: a.y } {
        big => "big"
        small => "small"
    }
    size
}
"#;

/// Store version 7: every journal entry keeps the arguments of its step,
/// as values (a tool call's, a decision's prompt, context and options), in
/// the view `journal` that `sqlite3` users read.
#[test]
fn the_journal_keeps_the_argument_values_of_tool_calls_and_decisions() {
    let dir = folder("args");
    std::fs::write(dir.join("args.flow"), ARGS_FLOW).expect("write flow");
    let rec = serde_json::json!({ "flowc_llm_record": 1, "decisions": [
        { "step": "size", "path": "main/size", "prompt": "Is it big?", "answers": ["big"] }
    ]});
    std::fs::write(dir.join("rec.json"), rec.to_string()).expect("recording");
    let out = flowc(
        &dir,
        &[
            "run",
            "args.flow",
            "--arg",
            "n=5",
            "--llm",
            "replay:rec.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "\"big\"");
    let read = python_says(
        &dir,
        &[
            "-c",
            "import json, sqlite3; c = sqlite3.connect('.flowc/flowc.db'); print(json.dumps({p: json.loads(a) for p, a in c.execute('SELECT path, args FROM journal')}))",
        ],
    );
    let args: Value = serde_json::from_str(&read).expect("JSON");
    assert_eq!(args["main/a"], serde_json::json!({ "x": 6 }), "{args:#}");
    assert_eq!(args["main/size"]["prompt"], "Is it big?", "{args:#}");
    assert_eq!(args["main/size"]["context"], serde_json::json!({ "y": 12 }));
    assert_eq!(
        args["main/size"]["options"],
        serde_json::json!(["big", "small"])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Built-in calls that answer at once, and one that fails: taken on the
/// spot in a run, and through the waiting path under `max_memory`.
const AT_ONCE_FLOW: &str = r#"tool echo(value: json) -> { value: json } = builtin "echo"
tool fail(message: string) -> string = builtin "fail"
flow main() -> json {
    let a = echo(value: { b: ["one", "two"], a: null })
    let f = try {
        fail(message: "no \"way\"")
    } catch e {
        e.kind
    }
    { a, f }
}
"#;

/// A call taken at once is journaled in one row when it ends: the same row
/// (path, tool, status, attempts, result or error, arguments and their
/// hash) as the same call taken through the waiting path, which writes it
/// from the row it holds while the call runs.
#[test]
fn a_call_taken_at_once_is_journaled_as_a_call_that_waited() {
    let dir = folder("at-once");
    std::fs::write(dir.join("at_once.flow"), AT_ONCE_FLOW).expect("write flow");
    let read = |id: &str| -> Value {
        let code = format!(
            "import json, sqlite3; c = sqlite3.connect('.flowc/flowc.db'); c.row_factory = sqlite3.Row\n\
             print(json.dumps([dict(r) for r in c.execute(\"SELECT * FROM journal WHERE run_id = '{id}' ORDER BY path\")]))"
        );
        serde_json::from_str(&python_says(&dir, &["-c", &code])).expect("JSON")
    };
    let mut rows = Vec::new();
    for set in [None, Some("max_memory=512MB")] {
        let mut args = vec!["run", "at_once.flow"];
        if let Some(s) = set {
            args.extend(["--set", s]);
        }
        let out = flowc(&dir, &args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(
            serde_json::from_slice::<Value>(&out.stdout).expect("JSON"),
            serde_json::json!({ "a": { "value": { "b": ["one", "two"], "a": null } }, "f": "tool_error" })
        );
        let id = runs(&dir)[0]["id"].as_str().expect("an id").to_string();
        let mut these = read(&id);
        for row in these.as_array_mut().expect("rows") {
            let ms = |k: &str| row[k].as_i64().expect("a time");
            assert!(ms("started_ms") <= ms("ended_ms"), "{row}");
            for k in ["run_id", "started_ms", "ended_ms"] {
                row.as_object_mut().expect("a row").remove(k);
            }
        }
        rows.push(these);
    }
    assert_eq!(rows[0], rows[1]);
    let paths: Vec<&str> = rows[0]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["path"].as_str().expect("a path"))
        .collect();
    assert_eq!(paths, ["main/a", "main/f/try/fail"], "{:#}", rows[0]);
    let a = &rows[0][0];
    assert_eq!(a["status"], "ok");
    assert_eq!(a["args"], r#"{"value":{"a":null,"b":["one","two"]}}"#);
    assert_eq!(a["args_sha256"].as_str().map(str::len), Some(64));
    let f = &rows[0][1];
    assert_eq!(f["status"], "failed");
    assert!(
        f["error"]
            .as_str()
            .expect("an error")
            .contains(r#"no \"way\""#),
        "{f}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `bench/journal_floor.py` reads a real store's journal and commits it
/// again as the writer does, with and without checkpoints.
#[test]
fn the_journal_floor_script_commits_a_real_stores_journal() {
    let dir = folder("floor");
    let out = flowc(&dir, &["run", "main.flow"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = runs(&dir)[0]["id"].as_str().expect("an id").to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/journal_floor.py");
    let said = python_says(
        &dir,
        &[script.to_str().expect("a UTF-8 path"), ".flowc", "1"],
    );
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 3, "{said}");
    assert!(
        lines[0].starts_with(&format!("run {id}: ")) && lines[0].contains(" journal_log rows, "),
        "{said}"
    );
    assert!(
        lines[1].starts_with("commit with a checkpoint every 4 MiB: ")
            && lines[2].starts_with("commit without checkpoints: ")
            && lines[1..].iter().all(|l| l.ends_with(" ms (median of 1)")),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
