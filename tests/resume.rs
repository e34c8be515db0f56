//! `flowc resume` (docs/store.md, `flowc resume`) through the real binary, a real store
//! and a real `kill -9`: a fan-out of effects with idempotency keys, effects
//! without one refused, completion order reversed, and edited source.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{command, flowc, text};

fn lines(dir: &Path, file: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Starts `flowc run main.flow` and kills it (`kill -9`) once `ready` says so.
fn run_and_kill(dir: &Path, ready: impl Fn() -> bool) -> String {
    let mut child: Child = command(dir, &["run", "main.flow", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowc starts");
    let t0 = Instant::now();
    while !ready() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the run never got there"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    // The newest run in the store (now `interrupted`).
    let out = flowc(dir, &["runs", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let runs: Value = serde_json::from_slice(&out.stdout).expect("runs JSON");
    assert_eq!(runs[0]["status"], "interrupted", "{runs}");
    runs[0]["id"].as_str().expect("an id").to_string()
}

fn result(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON result")
}

/// Sleeps, then appends `x,key` to `log`.
const NOTE: &str = "import json, os, sys, time\na = json.load(sys.stdin)\ntime.sleep(0.3)\nwith open('log', 'a') as f:\n    f.write('%s,%s\\n' % (a['x'], os.environ.get('FLOWC_IDEMPOTENCY_KEY')))\nprint(json.dumps({'y': a['x'] * 10}))\n";

fn fan_out(key: bool) -> String {
    let with = if key {
        " with { idempotency_key: true }"
    } else {
        ""
    };
    format!(
        "effect tool note(x: int) -> {{ y: int }} = exec [\"python3\", \"note.py\"]
flow main(items: [int] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) -> [int] {{
    let out = for x in items with {{ max_concurrent: 3 }} {{
        note(x: x){with}
    }}
    for o in out {{ o.y }}
}}
"
    )
}

#[test]
fn a_killed_fan_out_of_keyed_effects_resumes_to_the_same_result() {
    let dir = common::tempdir("resume-keyed");
    std::fs::write(dir.join("main.flow"), fan_out(true)).expect("flow");
    std::fs::write(dir.join("note.py"), NOTE).expect("tool");
    let id = run_and_kill(&dir, || lines(&dir, "log").len() >= 4);
    let before = lines(&dir, "log");
    let out = flowc(&dir, &["resume", &id]);
    let expected: Vec<i64> = (0..10).map(|x| x * 10).collect();
    assert_eq!(result(&out), serde_json::json!(expected));
    // Each item once, except those in flight at the kill: a second line with the same key.
    let after = lines(&dir, "log");
    for x in 0..10 {
        let mine: Vec<&String> = after
            .iter()
            .filter(|l| l.split(',').next() == Some(&x.to_string()))
            .collect();
        assert!(!mine.is_empty(), "item {x} never ran: {after:?}");
        assert!(mine.len() <= 2, "item {x} ran {} times", mine.len());
        let key = mine[0].split(',').nth(1).expect("a key");
        assert!(key.starts_with("flowc-"), "{key}");
        assert!(mine.iter().all(|l| l.ends_with(key)), "{mine:?}");
    }
    // At most the three in flight at the kill ran twice.
    let twice = (0..10)
        .filter(|x| {
            after
                .iter()
                .filter(|l| l.split(',').next() == Some(&x.to_string()))
                .count()
                == 2
        })
        .count();
    assert!(twice <= 3, "{before:?} then {after:?}");
    let show = flowc(&dir, &["runs", "show", &id]);
    assert!(
        text(&show.stdout).contains("replayed"),
        "{}",
        text(&show.stdout)
    );
    // The resume says how many steps it replayed: those `runs show` lists as replayed.
    let listed = text(&show.stdout)
        .lines()
        .filter(|l| l.split_whitespace().nth(3) == Some("replayed"))
        .count();
    assert!(listed >= 1, "{}", text(&show.stdout));
    assert!(
        text(&out.stderr).contains(&format!(
            "resumed ({listed} steps replayed from its journal)"
        )),
        "{}",
        text(&out.stderr)
    );
    // A run already ok is not resumed.
    let again = flowc(&dir, &["resume", &id]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already ended `ok`"));
}

#[test]
fn effects_cut_off_without_an_idempotency_key_are_refused_and_listed() {
    let dir = common::tempdir("resume-unkeyed");
    std::fs::write(dir.join("main.flow"), fan_out(false)).expect("flow");
    std::fs::write(dir.join("note.py"), NOTE).expect("tool");
    let id = run_and_kill(&dir, || lines(&dir, "log").len() >= 4);
    let out = flowc(&dir, &["resume", &id]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("main/out/for["), "{err}");
    assert!(err.contains("--rerun-uncertain"), "{err}");
    // `runs show` marks the same steps: started, never ended, the run not running.
    let show = flowc(&dir, &["runs", "show", &id]);
    let uncertain: Vec<String> = text(&show.stdout)
        .lines()
        .filter(|l| l.contains("running (may have happened)"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(!uncertain.is_empty(), "{}", text(&show.stdout));
    assert!(
        uncertain.iter().all(|p| err.contains(p.as_str())),
        "{uncertain:?} against {err}"
    );
    // Allowed, it ends like an uninterrupted run.
    let out = flowc(&dir, &["resume", &id, "--rerun-uncertain"]);
    let expected: Vec<i64> = (0..10).map(|x| x * 10).collect();
    assert_eq!(result(&out), serde_json::json!(expected));
}

#[test]
fn completion_order_reversed_keeps_each_result_at_its_item() {
    let dir = common::tempdir("resume-reversed");
    std::fs::write(
        dir.join("main.flow"),
        "tool slow(x: int) -> { y: int } = exec [\"python3\", \"slow.py\"]
flow main(items: [int] = [0, 1, 2, 3, 4, 5]) -> [int] {
    let out = for x in items with { max_concurrent: 6 } { slow(x: x) }
    for o in out { o.y }
}
",
    )
    .expect("flow");
    // The smallest index sleeps longest.
    std::fs::write(
        dir.join("slow.py"),
        "import json, sys, time\na = json.load(sys.stdin)\ntime.sleep(0.4 * (6 - a['x']))\nwith open('log', 'a') as f:\n    f.write('%s\\n' % a['x'])\nprint(json.dumps({'y': a['x'] * a['x'] + 1}))\n",
    )
    .expect("tool");
    let id = run_and_kill(&dir, || lines(&dir, "log").len() >= 3);
    let out = flowc(&dir, &["resume", &id]);
    let r = result(&out);
    for i in 0..6 {
        assert_eq!(r[i], serde_json::json!(i * i + 1), "{r}");
    }
}

#[test]
fn edited_source_is_refused_and_with_allow_changed_only_what_changed_runs() {
    let dir = common::tempdir("resume-edited");
    let flow = |b: i64| {
        format!(
            "tool f(x: int) -> {{ y: int }} = exec [\"python3\", \"f.py\"]
effect tool slow(x: int) -> {{ y: int }} = exec [\"python3\", \"slow.py\"]
flow main() -> int {{
    let a = f(x: 1)
    let b = f(x: {b})
    let c = f(x: b.y)
    let d = slow(x: a.y + c.y) with {{ idempotency_key: \"d\" }}
    d.y
}}
"
        )
    };
    std::fs::write(dir.join("main.flow"), flow(2)).expect("flow");
    std::fs::write(
        dir.join("f.py"),
        "import json, sys\na = json.load(sys.stdin)\nwith open('log', 'a') as f:\n    f.write('%s\\n' % a['x'])\nprint(json.dumps({'y': a['x'] * 2}))\n",
    )
    .expect("tool");
    // Waits while `hold` exists, after saying it started.
    std::fs::write(
        dir.join("slow.py"),
        "import json, os, sys, time\na = json.load(sys.stdin)\nopen('started', 'w').close()\nwhile os.path.exists('hold'):\n    time.sleep(0.05)\nprint(json.dumps({'y': a['x']}))\n",
    )
    .expect("tool");
    std::fs::write(dir.join("hold"), "").expect("hold");
    let id = run_and_kill(&dir, || dir.join("started").exists());
    std::fs::remove_file(dir.join("hold")).expect("release");
    // a and b run at once: either order.
    let mut first = lines(&dir, "log");
    first[..2].sort();
    assert_eq!(first, ["1", "2", "4"]);
    std::fs::write(dir.join("main.flow"), flow(3)).expect("edit");
    let out = flowc(&dir, &["resume", &id]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("main.flow"),
        "{}",
        text(&out.stderr)
    );
    let out = flowc(&dir, &["resume", &id, "--allow-changed"]);
    // a: 2, b: 6, c: 12; d = 14.
    assert_eq!(result(&out), serde_json::json!(14));
    // Only b (changed) and c (depends on it) ran again; a was replayed.
    assert_eq!(lines(&dir, "log")[3..], ["3", "6"]);
}

/// The flow of issue 13's test 2: two parallel branches, and a `for` whose
/// tool sleeps longest for the smallest index, each item then deciding with
/// the same prompt (its item only in the context).
const DECIDING: &str = r#"tool slow(x: int) -> { y: int } = exec ["python3", "slow.py"]
tool side(x: int) -> { y: int } = exec ["python3", "slow.py"]
flow main(items: [int] = [0, 1, 2, 3, 4, 5]) -> { branches: [int], out: [{ y: int, parity: string }] } {
    let p = parallel {
        left = side(x: 5)
        right = side(x: 4)
    }
    let out = for x in items with { max_concurrent: 6 } {
        let s = slow(x: x)
        let parity = decide "Is the number even or odd?" with { n: x, y: s.y } {
            even => "even"
            odd => "odd"
        }
        { y: s.y, parity }
    }
    { branches: [p.left.y, p.right.y], out }
}
"#;

/// Whether the running run's journal holds, for every item of its `for`
/// whose tool finished, the item's decision; and three such items at least.
fn decisions_caught_up(dir: &Path) -> bool {
    let out = flowc(dir, &["runs", "--format", "json"]);
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let Some(id) = runs[0]["id"].as_str() else {
        return false;
    };
    let show = flowc(dir, &["runs", "show", id, "--format", "json"]);
    let run: Value = serde_json::from_slice(&show.stdout).unwrap_or_default();
    let Some(steps) = run["steps"].as_array() else {
        return false;
    };
    let done = |kind: &str, name: &str| -> Vec<String> {
        let mut v: Vec<String> = steps
            .iter()
            .filter(|s| s["kind"] == kind && s["status"] != "running")
            .filter_map(|s| s["path"].as_str())
            .filter_map(|p| p.strip_suffix(name).map(str::to_string))
            .filter(|p| p.starts_with("main/out/"))
            .collect();
        v.sort_unstable();
        v
    };
    let tools = done("tool", "/s");
    tools.len() >= 3 && tools == done("llm", "/parity")
}

#[test]
fn decisions_in_a_reversed_for_replay_by_path_and_are_journaled() {
    let dir = common::tempdir("resume-decide");
    std::fs::write(dir.join("main.flow"), DECIDING).expect("flow");
    // The smallest index sleeps longest.
    std::fs::write(
        dir.join("slow.py"),
        "import json, os, sys, time\na = json.load(sys.stdin)\ntime.sleep(0.4 * (6 - a['x']))\nwith open('log', 'a') as f:\n    f.write('%s\\n' % a['x'])\nprint(json.dumps({'y': a['x'] * a['x'] + 1}))\n",
    )
    .expect("tool");
    // A recording of every decision by its path, in index order: replayed in
    // the order recorded (as before paths), the reversed run below would
    // hand item 5 the answer of item 0.
    let decisions: Vec<Value> = (0..6)
        .map(|i| {
            serde_json::json!({
                "step": "parity",
                "path": format!("main/out/for[{i}]/parity"),
                "prompt": "Is the number even or odd?",
                "answers": [if i % 2 == 0 { "even" } else { "odd" }],
            })
        })
        .collect();
    std::fs::write(
        dir.join("rec.json"),
        serde_json::json!({ "flowc_llm_record": 1, "decisions": decisions }).to_string(),
    )
    .expect("recording");
    let want = serde_json::json!({
        "branches": [26, 17],
        "out": (0..6usize)
            .map(|i| serde_json::json!({
                "y": i * i + 1,
                "parity": if i % 2 == 0 { "even" } else { "odd" },
            }))
            .collect::<Vec<_>>(),
    });
    // The run replays the recording (flowc.toml names it); killed once three
    // items of the `for` finished, then resumed.
    std::fs::write(
        dir.join("flowc.toml"),
        "[llm]\nprovider = \"replay:rec.json\"\n",
    )
    .expect("toml");
    let id = run_and_kill(&dir, || {
        // The slowest three of the `for` are still running, and the journal
        // holds the decision of every item whose tool finished (a kill
        // between the two is a run the assertions below do not describe).
        lines(&dir, "log").len() >= 5 && decisions_caught_up(&dir)
    });
    assert!(lines(&dir, "log").len() < 8, "killed before the end");
    let out = flowc(&dir, &["resume", &id]);
    assert_eq!(result(&out), want, "each decision its own item's");
    // The decisions made before the kill were replayed from the journal.
    let show = flowc(&dir, &["runs", "show", &id, "--format", "json"]);
    let run: Value = serde_json::from_slice(&show.stdout).expect("show JSON");
    let steps = run["steps"].as_array().expect("steps").clone();
    let replayed = |kind: &str, name: &str| -> Vec<String> {
        let mut v: Vec<String> = steps
            .iter()
            .filter(|s| s["kind"] == kind && s["status"] == "replayed")
            .filter_map(|s| s["path"].as_str())
            .filter_map(|p| p.strip_suffix(name).map(str::to_string))
            .filter(|p| p.starts_with("main/out/"))
            .collect();
        v.sort_unstable();
        v
    };
    // Every item whose tool had finished had its decision journaled too.
    let decided = replayed("llm", "/parity");
    assert_eq!(decided, replayed("tool", "/s"), "{steps:#?}");
    assert!(decided.len() >= 3, "{steps:#?}");
}

/// Sleeps, then answers `n + 1`.
const SLOW: &str = "import json, sys, time\na = json.load(sys.stdin)\ntime.sleep(0.3)\nprint(json.dumps({'n': a['n'] + 1}))\n";
/// Fails, saying why, until the file `ready` exists.
const GATE: &str = "import json, os, sys\na = json.load(sys.stdin)\nif not os.path.exists('ready'):\n    sys.stderr.write('the gate is closed: create the file `ready` in the folder of the flow, then resume the run and it passes\\n')\n    sys.exit(3)\nprint(json.dumps({'n': a['n'] * 10}))\n";

#[test]
fn runs_show_gives_each_failed_step_s_error_and_a_replayed_step_s_first_times() {
    let dir = common::tempdir("resume-show");
    std::fs::write(
        dir.join("main.flow"),
        "tool slow(n: int) -> { n: int } = exec [\"python3\", \"slow.py\"]
tool gate(n: int) -> { n: int } = exec [\"python3\", \"gate.py\"]
flow main() -> int {
    let a = slow(n: 1)
    let b = gate(n: a.n)
    b.n
}
",
    )
    .expect("flow");
    std::fs::write(dir.join("slow.py"), SLOW).expect("tool");
    std::fs::write(dir.join("gate.py"), GATE).expect("tool");
    let out = flowc(&dir, &["run", "main.flow", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let runs: Value =
        serde_json::from_slice(&flowc(&dir, &["runs", "--format", "json"]).stdout).expect("runs");
    let id = runs[0]["id"].as_str().expect("an id").to_string();
    let steps = |dir: &Path| -> Vec<Value> {
        let show = flowc(dir, &["runs", "show", &id, "--format", "json"]);
        let run: Value = serde_json::from_slice(&show.stdout).expect("show JSON");
        run["steps"].as_array().expect("steps").clone()
    };
    let step = |steps: &[Value], path: &str| -> Value {
        steps
            .iter()
            .find(|s| s["path"] == path)
            .unwrap_or_else(|| panic!("no step {path}: {steps:#?}"))
            .clone()
    };

    // The failed step's row says which error, in a column of its own, cut short.
    let show = text(&flowc(&dir, &["runs", "show", &id]).stdout);
    // The run's error, in words: its kind, step and whole message.
    assert!(
        show.lines().any(|l| l
            .starts_with("error    tool_error in step `b`: `python3` exited with status 3")
            && l.ends_with("then resume the run and it passes")),
        "{show}"
    );
    let head = show
        .lines()
        .find(|l| l.starts_with("PATH"))
        .unwrap_or_else(|| panic!("a table of steps:\n{show}"));
    assert!(head.ends_with("ERROR"), "{show}");
    let failed = show
        .lines()
        .find(|l| l.starts_with("main/b "))
        .unwrap_or_else(|| panic!("a row for main/b:\n{show}"));
    assert!(
        failed.contains("failed")
            && failed
                .contains("tool_error: `python3` exited with status 3; stderr: the gate is closed")
            && failed.ends_with('…'),
        "{show}"
    );
    assert!(
        show.contains("`--format json` shows each in full"),
        "{show}"
    );
    let ok = show
        .lines()
        .find(|l| l.starts_with("main/a "))
        .expect("main/a");
    assert!(!ok.contains("error"), "{show}");

    // Resumed: `a` is replayed with the times of the run that took it.
    let first = step(&steps(&dir), "main/a");
    assert_eq!(first["status"], "ok");
    std::fs::write(dir.join("ready"), "").expect("ready");
    let out = flowc(&dir, &["resume", &id, "-q"]);
    assert_eq!(result(&out), serde_json::json!(20));
    let after = steps(&dir);
    let replayed = step(&after, "main/a");
    assert_eq!(replayed["status"], "replayed", "{after:#?}");
    for key in ["started_ms", "ended_ms", "duration_ms", "attempts"] {
        assert_eq!(replayed[key], first[key], "{key}: {after:#?}");
    }
    let b = step(&after, "main/b");
    assert_eq!(b["status"], "ok");
    assert!(
        b["started_ms"].as_i64() >= replayed["ended_ms"].as_i64(),
        "{after:#?}"
    );
    let show = text(&flowc(&dir, &["runs", "show", &id]).stdout);
    let row = show
        .lines()
        .find(|l| l.starts_with("main/a "))
        .expect("main/a");
    assert_eq!(row.split_whitespace().nth(3), Some("replayed"), "{show}");
    assert!(
        show.contains("its times are those of the run that took it"),
        "{show}"
    );
}

/// A gate that fails until the file `open` exists, then effects without an
/// idempotency key that each append their item to `log`.
const GATED: &str = r#"tool gate() -> bool = exec ["python3", "gate.py"]
effect tool note(x: int, open: bool) -> { y: int } = exec ["python3", "note.py"]
flow main(items: [int] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]) -> int {
    let open = gate()
    let out = for x in items with { max_concurrent: 4 } { note(x: x, open: open) }
    len(out)
}
"#;
const OPEN_GATE: &str = "import json, os, sys\njson.load(sys.stdin)\nif not os.path.exists('open'):\n    sys.exit('closed')\nprint('true')\n";
const NOTE_NOW: &str = "import json, sys\na = json.load(sys.stdin)\nwith open('log', 'a') as f:\n    f.write('%s\\n' % a['x'])\nprint(json.dumps({'y': a['x']}))\n";

/// A run that failed at its gate, before any effect: its id.
fn gated_run(dir: &Path) -> String {
    let _ = std::fs::remove_file(dir.join("open"));
    let _ = std::fs::remove_file(dir.join("log"));
    let out = flowc(dir, &["run", "main.flow", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let runs = flowc(dir, &["runs", "--format", "json"]);
    let runs: Value = serde_json::from_slice(&runs.stdout).expect("runs JSON");
    assert_eq!(runs[0]["status"], "failed", "{runs}");
    std::fs::write(dir.join("open"), "").expect("open the gate");
    runs[0]["id"].as_str().expect("an id").to_string()
}

/// Two `flowc resume` of one run started at once, six times: one owns the
/// run and runs each effect once; the other is refused (exit 2, naming the
/// owner, or the run's end) before anything runs.
#[test]
fn two_resumes_of_one_run_at_once_run_each_effect_once() {
    let dir = common::tempdir("resume-race");
    std::fs::write(dir.join("main.flow"), GATED).expect("write");
    std::fs::write(dir.join("gate.py"), OPEN_GATE).expect("write");
    std::fs::write(dir.join("note.py"), NOTE_NOW).expect("write");
    let mut twice = Vec::new();
    for attempt in 0..6 {
        let id = gated_run(&dir);
        let start = || {
            command(&dir, &["resume", &id, "-q"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("flowc starts")
        };
        let (a, b) = (start(), start());
        let outs = [
            a.wait_with_output().expect("waited"),
            b.wait_with_output().expect("waited"),
        ];
        let mut codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
        codes.sort();
        let ran = lines(&dir, "log").len();
        if ran != 20 {
            twice.push(format!(
                "attempt {attempt}: {ran} effects ran, exits {codes:?}"
            ));
            continue;
        }
        assert_eq!(codes, [Some(0), Some(2)], "attempt {attempt}");
        let loser = outs
            .iter()
            .find(|o| o.status.code() == Some(2))
            .expect("a loser");
        let e = text(&loser.stderr);
        assert!(
            (e.contains("took it first") && e.contains("process "))
                || e.contains("is still running (process ")
                || e.contains("already ended `ok`"),
            "{e}"
        );
        let won = outs.iter().find(|o| o.status.success()).expect("a winner");
        assert_eq!(text(&won.stdout).trim(), "20");
    }
    assert!(twice.is_empty(), "{twice:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `flowc runs gc` while a run is being resumed, five times: gc deletes it
/// before the resume takes it (the resume then runs nothing and says so) or
/// never (the resume owns it); a resume never succeeds on a deleted run, and
/// no journal batch is left without its run.
#[test]
fn gc_never_deletes_a_run_being_resumed() {
    let dir = common::tempdir("resume-gc");
    std::fs::write(dir.join("main.flow"), GATED).expect("write");
    std::fs::write(dir.join("gate.py"), OPEN_GATE).expect("write");
    std::fs::write(dir.join("note.py"), NOTE_NOW).expect("write");
    let mut lost = Vec::new();
    for attempt in 0..5 {
        let id = gated_run(&dir);
        // gc takes the failed run (ended over 1 s ago), not the resumed one.
        std::thread::sleep(Duration::from_millis(1500));
        let resume = command(&dir, &["resume", &id, "-q"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flowc starts");
        let mut resume = Some(resume);
        let mut out = None;
        let mut gcs = String::new();
        while out.is_none() {
            let gc = flowc(&dir, &["runs", "gc", "--older-than", "1s"]);
            assert!(gc.status.success(), "{}", text(&gc.stderr));
            gcs.push_str(&text(&gc.stdout));
            let r = resume.as_mut().expect("running");
            if r.try_wait().expect("wait").is_some() {
                out = Some(
                    resume
                        .take()
                        .expect("once")
                        .wait_with_output()
                        .expect("output"),
                );
            }
        }
        let out = out.expect("ended");
        let kept = flowc(&dir, &["runs", "show", &id, "--format", "json"]);
        let ran = lines(&dir, "log").len();
        match out.status.code() {
            Some(0) => {
                if !kept.status.success() {
                    lost.push(format!(
                        "attempt {attempt}: resume succeeded, {ran} effects ran, and the run is gone"
                    ));
                    continue;
                }
                let shown: Value = serde_json::from_slice(&kept.stdout).expect("JSON");
                assert_eq!(
                    shown["status"],
                    "ok",
                    "{shown}\nresume: {} {}\ngc: {gcs}",
                    text(&out.stdout),
                    text(&out.stderr)
                );
                assert_eq!(ran, 20);
            }
            code => {
                let e = text(&out.stderr);
                assert_eq!(code, Some(2), "{e}");
                assert!(
                    e.contains("no longer in the store") || e.contains("no run"),
                    "{e}"
                );
                assert_eq!(ran, 0, "nothing ran for a deleted run");
            }
        }
        // What gc leaves: no journal batch without its run.
        let gc = flowc(&dir, &["runs", "gc", "--older-than", "1d"]);
        assert!(gc.status.success());
    }
    assert!(lost.is_empty(), "{lost:#?}");
    let orphans = Command::new("python3")
        .args([
            "-c",
            "import sqlite3; c = sqlite3.connect('.flowc/flowc.db'); print(c.execute('SELECT count(*) FROM journal_log WHERE run_id NOT IN (SELECT id FROM runs)').fetchone()[0])",
        ])
        .current_dir(&dir)
        .output()
        .expect("python3");
    assert_eq!(text(&orphans.stdout).trim(), "0");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Journal batches, sources and approvals whose run is gone (left by an
/// older flowc's gc racing a resume) are removed by `runs gc`.
#[test]
fn gc_removes_journal_rows_whose_run_is_gone() {
    let dir = common::tempdir("gc-orphans");
    std::fs::write(dir.join("main.flow"), GATED).expect("write");
    std::fs::write(dir.join("gate.py"), OPEN_GATE).expect("write");
    std::fs::write(dir.join("note.py"), NOTE_NOW).expect("write");
    std::fs::write(dir.join("open"), "").expect("open");
    let out = flowc(&dir, &["run", "main.flow", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let count = "import sqlite3; c = sqlite3.connect('.flowc/flowc.db'); print(*[c.execute('SELECT count(*) FROM %s' % t).fetchone()[0] for t in ['journal_log', 'run_sources']])";
    let python = |code: &str| {
        let o = Command::new("python3")
            .args(["-c", code])
            .current_dir(&dir)
            .output()
            .expect("python3");
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout).trim().to_string()
    };
    assert_ne!(python(count), "0 0");
    python(
        "import sqlite3; c = sqlite3.connect('.flowc/flowc.db'); c.execute('DELETE FROM runs'); c.commit()",
    );
    let gc = flowc(&dir, &["runs", "gc", "--older-than", "1d"]);
    assert!(gc.status.success(), "{}", text(&gc.stderr));
    assert_eq!(python(count), "0 0");
    let _ = std::fs::remove_dir_all(&dir);
}
