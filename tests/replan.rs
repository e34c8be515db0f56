//! Re-planning (docs/language.md, "Re-planning") end to end through the binary: a scripted `cmd:`
//! provider whose answers are repaired from the checker's diagnostics, a
//! fragment outside the policy refused before anything runs, `max_replans`,
//! `replan_cooldown`, the OpenAI-compatible path over a local HTTP server,
//! record then replay, and `kill -9` during a re-planned block then resume.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Reply, Request, command, flowc, run_in, serve, tempdir, text};
use flowc::run::replan::Length;
use serde_json::{Value, json};

/// A CI analysis whose primary metrics tool is down, and its fallback.
const FLOW: &str = r#"
type Anomaly = { metric: string, score: float }

/// The primary metrics service (down).
tool metrics_primary(ci_id: string) -> { anomalies: [Anomaly] } = builtin "fail"
/// CPU anomalies from the node exporter: a fallback.
tool cpu_fallback(ci_id: string) -> { anomalies: [Anomaly] } = exec ["python3", "cpu.py"]

/// Analyses a CI.
flow main(ci_id: string = "CI-7") -> { ci: string, anomalies: [Anomaly] } {
    let id = lower(ci_id)
    let anomalies = dag with { replan_on_error: true, replan_cooldown: 0s } {
        let m = metrics_primary(ci_id: id)
        m.anomalies
    }
    { ci: id, anomalies }
}
"#;

const CPU: &str = "import json, sys\na = json.load(sys.stdin)\nprint(json.dumps({'anomalies': [{'metric': 'cpu:' + a['ci_id'], 'score': 0.9}]}))\n";

/// A `cmd:` provider: keeps every request in `requests.jsonl` and answers the
/// n-th with the n-th of `answers.json` (the last one after that).
const ANSWER: &str = r#"import json, os, sys
req = json.load(sys.stdin)
d = os.path.dirname(os.path.abspath(__file__))
log = os.path.join(d, 'requests.jsonl')
with open(log, 'a') as f:
    f.write(json.dumps(req) + '\n')
n = sum(1 for _ in open(log))
answers = json.load(open(os.path.join(d, 'answers.json')))
print(answers[min(n, len(answers)) - 1])
"#;

const GOOD: &str = "let c = cpu_fallback(ci_id: id)\nc.anomalies";

/// A folder with `main.flow`, the tools, and the scripted provider.
fn project(tag: &str, flow: &str, answers: &[&str]) -> std::path::PathBuf {
    let dir = tempdir(tag);
    std::fs::write(dir.join("main.flow"), flow).expect("write");
    std::fs::write(dir.join("cpu.py"), CPU).expect("write");
    std::fs::write(dir.join("answer.py"), ANSWER).expect("write");
    std::fs::write(dir.join("answers.json"), json!(answers).to_string()).expect("write");
    dir
}

fn provider(dir: &Path) -> String {
    format!("cmd:python3 {}", dir.join("answer.py").display())
}

fn requests(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("requests.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a request"))
        .collect()
}

#[test]
fn answers_are_repaired_from_their_diagnostics_until_one_checks_and_runs() {
    let dir = project(
        "replan-repair",
        FLOW,
        &[
            "let c = cpu_fallback(ci_id: id",
            "let c = cpu(ci_id: id)\nc.anomalies",
            GOOD,
        ],
    );
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.result(),
        json!({ "ci": "ci-7", "anomalies": [{ "metric": "cpu:ci-7", "score": 0.9 }] })
    );
    let reqs = requests(&dir);
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0]["kind"], "replan");
    assert_eq!(reqs[0]["step"], "main/anomalies/replan[1]");
    assert_eq!(
        reqs[0]["context"]["expected_type"],
        "[{ metric: string, score: float }]"
    );
    assert_eq!(
        reqs[0]["context"]["errors"][0],
        json!({ "kind": "tool_error", "message": "failed on purpose", "step": "main/anomalies/m" })
    );
    assert_eq!(
        reqs[0]["context"]["scope"],
        json!([
            { "name": "ci_id", "type": "string", "value": "\"CI-7\"" },
            { "name": "id", "type": "string", "value": "\"ci-7\"" }
        ])
    );
    // The third request carries the second answer's diagnostic, by its code.
    let last = |r: &Value| {
        r["messages"]
            .as_array()
            .and_then(|m| m.last())
            .map(|m| m["content"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert!(last(&reqs[1]).contains("E0101"), "{}", last(&reqs[1]));
    assert!(
        last(&reqs[2]).contains("E0202: unknown tool or flow `cpu`"),
        "{}",
        last(&reqs[2])
    );
    // Attempts count from 1, as the record's `attempts` does.
    let attempts: Vec<&Value> = reqs.iter().map(|r| &r["attempt"]).collect();
    assert_eq!(attempts, [&json!(1), &json!(2), &json!(3)]);

    let replans = out.record["replans"].as_array().expect("replans").clone();
    assert_eq!(replans.len(), 1);
    let r = &replans[0];
    assert_eq!(r["outcome"], "accepted");
    assert_eq!(r["path"], "main/anomalies/replan[1]");
    assert_eq!(r["fragment"], GOOD);
    let attempts = r["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts[0]["diagnostics"][0]
            .as_str()
            .expect("one")
            .starts_with("E0101")
    );
    assert!(
        attempts[1]["diagnostics"][0]
            .as_str()
            .expect("one")
            .starts_with("E0202")
    );
    assert_eq!(attempts[2]["diagnostics"], json!([]));
    assert_eq!(attempts[2]["answer"], GOOD);
    // The fragment's step is under the re-plan's path; the re-plan is a step of its own.
    let paths: Vec<(String, String)> = out
        .steps()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap_or_default().into(),
                s["status"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    for want in [
        ("main/anomalies/m", "failed"),
        ("main/anomalies/replan[1]", "ok"),
        ("main/anomalies/replan[1]/c", "ok"),
    ] {
        assert!(
            paths.iter().any(|(p, s)| p == want.0 && s == want.1),
            "{want:?} in {paths:?}"
        );
    }
    assert_eq!(out.record["decisions"][0]["kind"], "replan");
    assert_eq!(
        out.record["decisions"][0]["answers"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(out.record["decisions"][0]["attempts"], 3);
    let replan = out
        .steps()
        .into_iter()
        .find(|s| s["path"] == "main/anomalies/replan[1]")
        .expect("the re-plan's step");
    assert_eq!(replan["attempts"], 3);
}

#[test]
fn a_fragment_that_calls_a_tool_outside_allow_tools_never_runs() {
    let flow = FLOW
        .replace(
            "/// Analyses a CI.",
            "tool wipe(ci_id: string) -> json = exec [\"sh\", \"-c\", \"touch wiped; echo '\\{\\}'\"]\npolicy ops { allow_tools: [metrics_primary, cpu_fallback] }\n/// Analyses a CI.",
        )
        .replace(
            "-> { ci: string, anomalies: [Anomaly] } {",
            "-> { ci: string, anomalies: [Anomaly] } with { policy: ops } {",
        );
    let dir = project("replan-policy", &flow, &["let w = wipe(ci_id: id)\n[]"]);
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!dir.join("wiped").exists(), "the refused fragment ran");
    let reqs = requests(&dir);
    assert_eq!(reqs.len(), 3, "the first answer and two repairs");
    let callable = reqs[0]["context"]["callable"].to_string();
    assert!(!callable.contains("wipe"), "{callable}");
    assert!(
        reqs[0]["context"]["policy"]
            .as_str()
            .is_some_and(|p| p.contains("allow_tools: [metrics_primary, cpu_fallback]"))
    );
    let r = &out.record["replans"][0];
    assert_eq!(r["outcome"], "rejected");
    for a in r["attempts"].as_array().expect("attempts") {
        assert!(
            a["diagnostics"][0]
                .as_str()
                .expect("one")
                .starts_with("E0604: `wipe` is not allowed by policy `ops`"),
            "{a}"
        );
    }
    // The original failure stands, with a note listing the attempts.
    assert!(out.stderr.contains("failed on purpose"), "{}", out.stderr);
    assert!(
        out.stderr.contains("none of 3 fragments checked"),
        "{}",
        out.stderr
    );
}

#[test]
fn max_replans_one_with_two_failing_blocks_leaves_the_second_failure_with_a_note() {
    let flow = FLOW.replace(
        "    { ci: id, anomalies }",
        "    let again = dag with { replan_on_error: true, max_replans: 1 } {\n        metrics_primary(ci_id: id).anomalies\n    } after anomalies\n    { ci: id, anomalies: anomalies ++ again }",
    ).replace("replan_cooldown: 0s", "replan_cooldown: 0s, max_replans: 1");
    let dir = project("replan-max", &flow, &[GOOD]);
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(requests(&dir).len(), 1);
    let replans = out.record["replans"].as_array().expect("replans");
    assert_eq!(replans.len(), 1);
    assert_eq!(replans[0]["path"], "main/anomalies/replan[1]");
    assert!(out.stderr.contains("main/again"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("not re-planned: this run has used its `max_replans: 1`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.record["errors"][0]["notes"][0],
        "not re-planned: this run has used its `max_replans: 1`"
    );
}

#[test]
fn a_second_replan_of_the_same_block_waits_for_the_cooldown() {
    let flow = FLOW.replace("replan_cooldown: 0s", "replan_cooldown: 300ms");
    // The first fragment checks but fails when it runs: the block is re-planned again.
    let dir = project(
        "replan-cooldown",
        &flow,
        &["metrics_primary(ci_id: id).anomalies", GOOD],
    );
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let replans = out.record["replans"].as_array().expect("replans");
    assert_eq!(replans.len(), 2);
    assert_eq!(replans[0]["path"], "main/anomalies/replan[1]");
    assert_eq!(replans[1]["path"], "main/anomalies/replan[2]");
    let gap =
        replans[1]["start_ms"].as_f64().expect("ms") - replans[0]["start_ms"].as_f64().expect("ms");
    assert!(
        gap >= 299.0,
        "the second re-plan started {gap} ms after the first"
    );
    // The second request says the fragment failed too.
    let reqs = requests(&dir);
    assert_eq!(
        reqs[1]["context"]["errors"][0]["step"],
        "main/anomalies/replan[1]/metrics_primary"
    );
}

#[test]
fn the_openai_provider_gets_the_language_reference_and_the_failure() {
    let answer = format!("```flow\n{GOOD}\n```");
    let server = serve(move |_, _| {
        Reply::new(
            200,
            json!({ "choices": [{ "message": { "role": "assistant", "content": answer } }] })
                .to_string(),
        )
    });
    let dir = project("replan-openai", FLOW, &[]);
    let out = run_in(
        &dir,
        &[
            "--llm",
            &format!("openai:{}/v1", server.base),
            "--model",
            "tiny",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["anomalies"][0]["metric"], "cpu:ci-7");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    let body = reqs[0].json();
    let system = flowc::run::replan::system_prompt(Length::Full);
    assert!(system.contains(flowc::run::replan::reference()));
    assert!(system.contains(flowc::run::replan::reference_more()));
    let user = "A block of flow `main` failed.\n\
The flow's documentation: Analyses a CI.\n\
\n\
The failed block:\n\
```flow\n\
dag with { replan_on_error: true, replan_cooldown: 0s } {\n    let m = metrics_primary(ci_id: id)\n    m.anomalies\n}\n\
```\n\
\n\
Errors:\n\
- tool_error at `main/anomalies/m`: failed on purpose\n\
\n\
In scope (name: type = value):\n\
- ci_id: string = \"CI-7\"\n\
- id: string = \"ci-7\"\n\
\n\
Tools and flows you may call:\n\
- tool metrics_primary(ci_id: string) -> { anomalies: [{ metric: string, score: float }] }  // The primary metrics service (down).\n\
- tool cpu_fallback(ci_id: string) -> { anomalies: [{ metric: string, score: float }] }  // CPU anomalies from the node exporter: a fallback.\n\
\n\
The block must produce a value of type `[{ metric: string, score: float }]`. Write the replacement block body.\n\
Name new values (`let`, `for`, `catch`) only: `result`, `results`, `value`, `item`, `items`, `data`, `out`, a single letter.";
    // The answer is held to the grammar of what the checker would accept
    // there (GBNF first: llama.cpp takes it).
    let mut body = body;
    let grammar = body
        .as_object_mut()
        .and_then(|o| o.remove("grammar"))
        .expect("a grammar");
    let grammar = grammar.as_str().expect("GBNF text");
    assert!(grammar.starts_with("root ::= "), "{grammar}");
    assert!(grammar.contains("\"cpu_fallback\""), "{grammar}");
    assert!(grammar.contains("\"ci_id\""), "{grammar}");
    assert_eq!(
        body,
        json!({
            "model": "tiny",
            "messages": [
                { "role": "system", "content": system },
                { "role": "user", "content": user }
            ],
            "temperature": 0,
            "max_tokens": 1024
        })
    );
}

#[test]
fn the_language_reference_is_the_docs_section_and_names_only_real_builtins() {
    let (r, more) = (
        flowc::run::replan::reference(),
        flowc::run::replan::reference_more(),
    );
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/language.md"))
        .expect("docs");
    assert!(r.len() > 300, "the reference is there: {r}");
    assert!(
        more.len() > 300,
        "the rest of the reference is there: {more}"
    );
    assert!(
        r.contains("named arguments") && r.contains("Example body"),
        "{r}"
    );
    for part in [r, more] {
        assert!(
            docs.contains(part),
            "compiled in from docs/language.md as it is now"
        );
    }
    let list = more
        .split("Built-in functions: `")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .expect("the reference lists built-in functions");
    for name in list.split_whitespace() {
        assert!(
            flowc::builtins::Builtin::from_name(name).is_some(),
            "`{name}` is not a built-in"
        );
    }
}

#[test]
fn a_recorded_replan_replays_by_path_without_asking() {
    let dir = project("replan-replay", FLOW, &[GOOD]);
    let rec = dir.join("llm.json").display().to_string();
    let first = run_in(&dir, &["--llm", &provider(&dir), "--record-llm", &rec]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let first_result = first.result();
    std::mem::forget(first);
    let again = run_in(
        &dir,
        &[
            "--llm",
            &format!("replay:{}", dir.join("llm.json").display()),
        ],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.result(), first_result);
    assert_eq!(requests(&dir).len(), 1, "the replay asked nobody");
}

#[test]
fn a_run_killed_in_a_replanned_block_resumes_with_the_same_fragment() {
    // The fragment's tool marks that it started, then waits (the first time only).
    let flow = FLOW.replace(
        "/// Analyses a CI.",
        "tool slow(ci_id: string) -> { anomalies: [Anomaly] } = exec [\"python3\", \"slow.py\"]\n/// Analyses a CI.",
    );
    let dir = project(
        "replan-resume",
        &flow,
        &["let s = slow(ci_id: id)\ns.anomalies"],
    );
    std::fs::write(
        dir.join("slow.py"),
        "import json, os, sys, time\na = json.load(sys.stdin)\nif not os.path.exists('started'):\n    open('started', 'w').close()\n    time.sleep(30)\nprint(json.dumps({'anomalies': [{'metric': 'slow:' + a['ci_id'], 'score': 0.5}]}))\n",
    )
    .expect("write");
    // `cmd:` programs run in the current folder: the project's, here.
    std::fs::write(
        dir.join("flowc.toml"),
        "[llm]\nprovider = \"cmd:python3 answer.py\"\n",
    )
    .expect("write");
    let mut child = command(&dir, &["run", "main.flow", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowc starts");
    let t0 = Instant::now();
    while !dir.join("started").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the fragment never started"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    assert_eq!(requests(&dir).len(), 1);
    let runs = flowc(&dir, &["runs", "--format", "json"]);
    let runs: Value = serde_json::from_slice(&runs.stdout).expect("runs JSON");
    assert_eq!(runs[0]["status"], "interrupted", "{runs}");
    let id = runs[0]["id"].as_str().expect("an id").to_string();

    let out = flowc(&dir, &["resume", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("a result");
    assert_eq!(v["anomalies"][0]["metric"], "slow:ci-7");
    assert_eq!(
        requests(&dir).len(),
        1,
        "resume ran the journaled fragment without asking"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_person_types_the_fragment_at_the_terminal_and_it_is_checked_the_same_way() {
    use std::io::Write;
    let dir = project("replan-human", FLOW, &[]);
    // `script` gives the run a terminal; what the person types goes through it.
    let cmd = format!(
        "{} run main.flow --no-store --llm human",
        env!("CARGO_BIN_EXE_flowc")
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let mut stdin = child.stdin.take().expect("stdin");
    for typed in [
        "let c = cpu(ci_id: id)\nc.anomalies\n.\n",
        &format!("{GOOD}\n.\n"),
    ] {
        std::thread::sleep(Duration::from_millis(500));
        stdin.write_all(typed.as_bytes()).expect("typed");
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    let out = child.wait_with_output().expect("ends");
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("── re-plan `main/anomalies/replan[1]`"),
        "{shown}"
    );
    assert!(
        shown.contains("E0202: unknown tool or flow `cpu`"),
        "{shown}"
    );
    assert!(shown.contains("\"metric\": \"cpu:ci-7\""), "{shown}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_request_docs_language_md_shows_is_the_one_sent_for_the_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempdir("replan-docs");
    let dump = dir.join("request.txt");
    std::fs::write(
        dir.join("dump.py"),
        format!(
            "import json, sys\nr = json.load(sys.stdin)\nopen({:?}, 'w').write(r['messages'][1]['content'])\nprint('cpu_analysis(ci_ids: [id]).anomalies')\n",
            dump.display().to_string()
        ),
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["run", "examples/replan.flow", "--no-store", "--llm"])
        .arg(format!("cmd:python3 {}", dir.join("dump.py").display()))
        .current_dir(root)
        .output()
        .expect("flowc runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sent = std::fs::read_to_string(&dump).expect("the request");
    let docs = std::fs::read_to_string(format!("{root}/docs/language.md")).expect("docs");
    let shown = docs
        .split("<!-- replan-request:start -->\n~~~text\n")
        .nth(1)
        .and_then(|s| s.split("\n~~~\n<!-- replan-request:end -->").next())
        .expect("docs/language.md shows the request");
    assert_eq!(
        shown, sent,
        "docs/language.md shows another request than the one sent"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replan_on_narrows_the_triggers_and_catch_handles_what_stands() {
    // A `try` re-plans its body before `catch`; `replan_on: ["timeout"]` leaves a tool_error alone.
    let flow = FLOW.replace(
        "dag with { replan_on_error: true, replan_cooldown: 0s } {\n        let m = metrics_primary(ci_id: id)\n        m.anomalies\n    }",
        "try with { replan_on_error: true, replan_on: [\"timeout\"] } {\n        metrics_primary(ci_id: id).anomalies\n    } catch e { [{ metric: e.kind, score: 0.0 }] }",
    );
    let dir = project("replan-on", &flow, &[GOOD]);
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["anomalies"][0]["metric"], "tool_error");
    assert_eq!(requests(&dir).len(), 0, "not a trigger: nobody was asked");

    // The same `try` with the default triggers: the body is re-planned, no catch.
    let flow = flow.replace(", replan_on: [\"timeout\"]", "");
    let dir = project("replan-try", &flow, &[GOOD]);
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["anomalies"][0]["metric"], "cpu:ci-7");
    assert_eq!(out.record["replans"][0]["path"], "main/anomalies/replan[1]");

    // Without a provider the failure stands, and catch handles it.
    let out = run_in(&dir, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["anomalies"][0]["metric"], "tool_error");
    assert_eq!(out.record["replans"][0]["outcome"], "failed");
    assert!(
        out.record["replans"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("re-planning needs an LLM provider")),
        "{}",
        out.record["replans"][0]
    );
}

#[test]
fn set_replan_on_error_replans_the_run_flows_body() {
    let flow = r#"
/// The primary metrics service (down).
tool metrics_primary(ci_id: string) -> { anomalies: [{ metric: string, score: float }] } = builtin "fail"
/// CPU anomalies from the node exporter: a fallback.
tool cpu_fallback(ci_id: string) -> { anomalies: [{ metric: string, score: float }] } = exec ["python3", "cpu.py"]
flow main(id: string = "x") -> [{ metric: string, score: float }] {
    metrics_primary(ci_id: id).anomalies
}
"#;
    let dir = project("replan-set", flow, &[GOOD]);
    let out = run_in(
        &dir,
        &["--llm", &provider(&dir), "--set", "replan_on_error=true"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()[0]["metric"], "cpu:x");
    assert_eq!(out.record["replans"][0]["path"], "main/replan[1]");
    let reqs = requests(&dir);
    assert_eq!(reqs[0]["context"]["scope"][0]["name"], "id");
    assert!(out.steps().iter().any(|s| s["path"] == "main/replan[1]/c"));
}

#[test]
fn re_planning_requests_count_against_max_llm_calls() {
    let flow = FLOW
        .replace(
            "/// Analyses a CI.",
            "policy ops { max_llm_calls: 1 }\n/// Analyses a CI.",
        )
        .replace(
            "-> { ci: string, anomalies: [Anomaly] } {",
            "-> { ci: string, anomalies: [Anomaly] } with { policy: ops } {",
        );
    // The first answer does not check; its repair would be a second LLM call.
    let dir = project(
        "replan-llm-calls",
        &flow,
        &["let c = cpu(ci_id: id)\nc.anomalies", GOOD],
    );
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(requests(&dir).len(), 1);
    let r = &out.record["replans"][0];
    assert_eq!(r["outcome"], "failed");
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("`max_llm_calls: 1`")),
        "{r}"
    );
    assert!(out.stderr.contains("`max_llm_calls: 1`"), "{}", out.stderr);
}

/// `flowc ARGS` in `dir` (its store there), killed after 30 s: a run that
/// should pause must not hang.
fn flowc_bounded(dir: &Path, args: &[&str]) -> std::process::Output {
    wait_bounded(command(dir, args), args, Duration::from_secs(30))
}

/// Runs `cmd`, killed after `limit` (a test failure naming `args`).
fn wait_bounded(
    mut cmd: std::process::Command,
    args: &[&str],
    limit: Duration,
) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc starts");
    let t0 = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("flowc {args:?} did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn an_effect_in_a_fragment_under_effects_approve_pauses_the_run_and_resumes() {
    let flow = FLOW
        .replace(
            "/// Analyses a CI.",
            "effect tool restart_exporter(ci_id: string) -> { anomalies: [Anomaly] } = exec [\"python3\", \"restart.py\"]\npolicy careful { effects: \"approve\" }\n/// Analyses a CI.",
        )
        .replace(
            "-> { ci: string, anomalies: [Anomaly] } {",
            "-> { ci: string, anomalies: [Anomaly] } with { policy: careful } {",
        );
    let dir = project(
        "replan-approve",
        &flow,
        &["restart_exporter(ci_id: id).anomalies"],
    );
    std::fs::write(
        dir.join("flowc.toml"),
        "[llm]\nprovider = \"cmd:python3 answer.py\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("restart.py"),
        "open('log', 'a').write('restarted\\n')\nprint('{\"anomalies\": []}')\n",
    )
    .expect("write");
    let out = flowc_bounded(&dir, &["run", "main.flow"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let at = "main/anomalies/replan[1]/restart_exporter/approve";
    assert!(err.contains(at), "{err}");
    assert!(!dir.join("log").exists(), "the effect waited");
    let runs = flowc(&dir, &["runs", "--format", "json"]);
    let runs: Value = serde_json::from_slice(&runs.stdout).expect("runs JSON");
    let id = runs[0]["id"].as_str().expect("an id").to_string();
    let ok = flowc(&dir, &["approve", &id, at]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let out = flowc_bounded(&dir, &["resume", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("a result");
    assert_eq!(v, json!({ "ci": "ci-7", "anomalies": [] }));
    assert_eq!(
        std::fs::read_to_string(dir.join("log")).expect("log"),
        "restarted\n"
    );
    assert_eq!(requests(&dir).len(), 1, "resume ran the journaled fragment");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tool that logs the `ci_id` it was sent to `sent.log`, then answers like `cpu_fallback`.
const LOGGED: &str = "import json, sys\na = json.load(sys.stdin)\nopen('sent.log', 'a').write(a['ci_id'] + '\\n')\nprint(json.dumps({'anomalies': [{'metric': 'sent:' + a['ci_id'], 'score': 0.1}]}))\n";

/// [`FLOW`] with a `logged` tool and, when given, a policy `ops` on `main`.
fn flow_with(policy: Option<&str>) -> String {
    let mut flow = FLOW.replace(
        "/// Analyses a CI.",
        "tool logged(ci_id: string) -> { anomalies: [Anomaly] } = exec [\"python3\", \"logged.py\"]\n/// Analyses a CI.",
    );
    if let Some(p) = policy {
        flow = flow
            .replace("/// Analyses a CI.", &format!("{p}\n/// Analyses a CI."))
            .replace(
                "-> { ci: string, anomalies: [Anomaly] } {",
                "-> { ci: string, anomalies: [Anomaly] } with { policy: ops } {",
            );
    }
    flow
}

/// `flowc run main.flow` in `dir` with the scripted provider and `env`, bounded.
fn run_with_env(dir: &Path, env: &[(&str, &str)], extra: &[&str]) -> std::process::Output {
    std::fs::write(
        dir.join("flowc.toml"),
        "[llm]\nprovider = \"cmd:python3 answer.py\"\n",
    )
    .expect("write");
    let mut args = vec!["run", "main.flow"];
    args.extend_from_slice(extra);
    let mut cmd = command(dir, &args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    wait_bounded(cmd, &args, Duration::from_secs(60))
}

/// The diagnostics of each answer of the run's first re-plan, from `runs show`.
fn attempt_diagnostics(dir: &Path) -> Vec<String> {
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("run.json")).expect("the run record"),
    )
    .expect("JSON");
    record["replans"][0]["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["diagnostics"].to_string())
        .collect()
}

#[test]
fn a_fragment_reads_the_environment_only_for_the_names_its_policy_lists() {
    let secret = [("SECRET_TOKEN", "ghp_notreally"), ("REGION", "eu-1")];
    let leak = "let c = logged(ci_id: env(\"SECRET_TOKEN\") ?? \"none\")\nc.anomalies";
    // No policy: `env` is refused before anything runs, and the repairs too.
    let dir = project("replan-env", &flow_with(None), &[leak]);
    std::fs::write(dir.join("logged.py"), LOGGED).expect("write");
    let out = run_with_env(&dir, &secret, &["--record", "run.json"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        !dir.join("sent.log").exists(),
        "the secret was sent to a tool"
    );
    let diags = attempt_diagnostics(&dir);
    assert_eq!(diags.len(), 3, "{diags:?}");
    for d in &diags {
        assert!(
            d.contains(
                "E0510: `env(\\\"SECRET_TOKEN\\\")` is only allowed in a re-planned fragment"
            ),
            "{d}"
        );
    }
    // A policy that lists another name refuses it too; the listed one is read.
    let policy = "policy ops { fragment_env: [\"REGION\"] }";
    let dir = project(
        "replan-env-policy",
        &flow_with(Some(policy)),
        &[
            leak,
            "let c = logged(ci_id: env(\"REGION\") ?? \"none\")\nc.anomalies",
        ],
    );
    std::fs::write(dir.join("logged.py"), LOGGED).expect("write");
    let out = run_with_env(&dir, &secret, &["--record", "run.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.join("sent.log")).expect("sent"),
        "eu-1\n"
    );
    let diags = attempt_diagnostics(&dir);
    assert!(
        diags[0].contains("policy `ops` lets a fragment read only \\\"REGION\\\""),
        "{diags:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fragment_runs_at_most_the_fragment_timeout_of_its_policy() {
    let policy = "policy ops { fragment_timeout: 1s }";
    let flow = flow_with(Some(policy))
        .replace("replan_cooldown: 0s", "replan_cooldown: 0s, max_replans: 1");
    let dir = project(
        "replan-timeout",
        &flow,
        &["let n = loop i = 0 max 1000000000 until false { i + 1 }\n[]"],
    );
    let out = run_with_env(&dir, &[], &["--record", "run.json"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("[timeout]"), "{err}");
    assert!(
        err.contains(
            "the re-planned fragment at `main/anomalies/replan[1]` ran longer than its time limit of 1s (`fragment_timeout` of policy `ops`)"
        ),
        "{err}"
    );
    // The run ended and was kept as failed.
    let runs = flowc(&dir, &["runs", "--format", "json"]);
    let runs: Value = serde_json::from_slice(&runs.stdout).expect("runs JSON");
    assert_eq!(runs[0]["status"], "failed", "{runs}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fragment_building_more_than_max_memory_fails_its_step_and_the_run_is_kept() {
    // 200 strings of 200 × 21 bytes: about 840 KB, over a 256 KB budget.
    let fragment = "let big = for i in range(0, 200) { join(for j in range(0, 200) { \"xxxxxxxxxxxxxxxxxxxx\" }, \",\") }\n[{ metric: \"n\", score: to_float(len(big)) }]";
    let dir = project("replan-memory", &flow_with(None), &[fragment]);
    let out = run_with_env(
        &dir,
        &[],
        &["--set", "max_memory=256KB", "--set", "max_replans=1"],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("[policy_violation]"), "{err}");
    assert!(
        err.contains("more than max_memory (256 KB) allows"),
        "{err}"
    );
    assert!(err.contains("and the fragment failed"), "{err}");
    let runs = flowc(&dir, &["runs", "--format", "json"]);
    let runs: Value = serde_json::from_slice(&runs.stdout).expect("runs JSON");
    assert_eq!(runs[0]["status"], "failed", "{runs}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fragment_calling_back_into_the_flow_it_repairs_is_flow_recursion() {
    let flow = flow_with(None).replace(
        "/// Analyses a CI.",
        "/// Analyses a CI again.\nflow again(id: string) -> [Anomaly] { main(ci_id: id).anomalies }\n/// Analyses a CI.",
    );
    let dir = project(
        "replan-recursion",
        &flow,
        &["main(ci_id: id).anomalies", "again(id: id)", GOOD],
    );
    let out = run_with_env(&dir, &[], &["--record", "run.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let diags = attempt_diagnostics(&dir);
    assert!(
        diags[0].contains("E0402: flow recursion: `main` → `main`"),
        "{diags:?}"
    );
    assert!(
        diags[1].contains("E0402: flow recursion: `main` → `again` → `main`"),
        "{diags:?}"
    );
    // Neither flow is offered to the model.
    let callable = requests(&dir)[0]["context"]["callable"].to_string();
    assert!(!callable.contains("flow main"), "{callable}");
    assert!(!callable.contains("flow again"), "{callable}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn approve_in_a_fragment_is_refused_unless_the_policy_states_fragment_approve() {
    let fragment = "let ok = approve \"The fix is safe, approve it\"\nif ok { cpu_fallback(ci_id: id).anomalies } else { [] }";
    let dir = project("replan-approve-refused", &flow_with(None), &[fragment]);
    let out = run_with_env(&dir, &[], &["--record", "run.json"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("paused"), "{err}");
    let diags = attempt_diagnostics(&dir);
    assert!(
        diags[0].contains("E0510: `approve` is only allowed in a re-planned fragment under a policy with `fragment_approve: true`"),
        "{diags:?}"
    );
    // Allowed by the policy, the run pauses for a person.
    let policy = "policy ops { fragment_approve: true }";
    let dir = project(
        "replan-approve-allowed",
        &flow_with(Some(policy)),
        &[fragment],
    );
    let out = run_with_env(&dir, &[], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("main/anomalies/replan[1]/ok: The fix is safe, approve it"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn control_bytes_in_a_models_answer_are_escaped_before_the_terminal() {
    // The answer's string reaches an error message and an approval's question.
    let failing = "let n = to_int(\"\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}red\")\n[]";
    let dir = project("replan-control", &flow_with(None), &[failing]);
    let out = run_with_env(&dir, &[], &["--set", "max_replans=1"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let raw = |s: &str| {
        s.chars()
            .find(|c| (c.is_control() && *c != '\n' && *c != '\t') || *c == '\u{202e}')
    };
    assert_eq!(raw(&err), None, "{err:?}");
    assert!(
        err.contains(r"`\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}red` is not a number"),
        "{err}"
    );
    let asking = "let ok = approve \"\u{1b}[2J\u{1b}[Hall clear\u{7}\"\nif ok { [] } else { [] }";
    let policy = "policy ops { fragment_approve: true }";
    let dir = project(
        "replan-control-approve",
        &flow_with(Some(policy)),
        &[asking],
    );
    let out = run_with_env(&dir, &[], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(raw(&err), None, "{err:?}");
    assert!(
        err.contains(r"main/anomalies/replan[1]/ok: \u{1b}[2J\u{1b}[Hall clear\u{7}"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The tokens of a chat request as the test's model counts them: a token per
/// four characters of its messages.
fn tokens(r: &Request) -> u64 {
    let chars: usize = r.json()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().chars().count())
        .sum();
    chars.div_ceil(4) as u64
}

fn chat_answer(content: &str) -> Reply {
    Reply::new(
        200,
        json!({ "choices": [{ "message": { "role": "assistant", "content": content } }] })
            .to_string(),
    )
}

/// A model server with a context of `n_ctx` tokens that answers GOOD to a
/// request that fits. `llama_cpp`: llama.cpp's server, which refuses a prompt
/// of `n_ctx` tokens or more (`exceed_context_size_error`, the numbers in
/// fields); else llama-cpp-python's (and OpenAI's), which refuses a prompt
/// plus `max_tokens` over `n_ctx` (`context_length_exceeded`, the numbers in
/// the message). Both answer 400 with their real error bodies.
fn model(n_ctx: u64, llama_cpp: bool) -> common::Server {
    serve(move |_, r| {
        let p = tokens(r);
        let max = r.json()["max_tokens"].as_u64().expect("max_tokens");
        if llama_cpp && p >= n_ctx {
            return Reply::new(
                400,
                json!({ "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size, try increasing it",
                    "type": "exceed_context_size_error",
                    "n_prompt_tokens": p,
                    "n_ctx": n_ctx,
                } })
                .to_string(),
            );
        }
        if !llama_cpp && p + max > n_ctx {
            return Reply::new(
                400,
                json!({ "error": {
                    "message": format!(
                        "This model's maximum context length is {n_ctx} tokens. However, you requested {} tokens ({p} in the messages, {max} in the completion). Please reduce the length of the messages or completion.",
                        p + max
                    ),
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                } })
                .to_string(),
            );
        }
        chat_answer(GOOD)
    })
}

fn run_with_model(tag: &str, server: &common::Server) -> common::Out {
    let dir = project(tag, FLOW, &[]);
    run_in(
        &dir,
        &[
            "--llm",
            &format!("openai:{}/v1", server.base),
            "--model",
            "tiny",
        ],
    )
}

#[test]
fn a_request_over_the_context_with_max_tokens_is_sent_again_with_max_tokens_that_fit() {
    // The request takes about 710 tokens: with `max_tokens: 1024` it overflows 1536.
    let server = model(1536, false);
    let out = run_with_model("replan-ctx-max-tokens", &server);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["anomalies"][0]["metric"], "cpu:ci-7");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "refused once, then answered");
    let p = tokens(&reqs[0]);
    assert!(p + 1024 > 1536 && p < 1536 - 64, "{p} tokens");
    assert_eq!(reqs[0].json()["max_tokens"], 1024);
    assert_eq!(reqs[1].json()["max_tokens"], 1536 - p);
    assert_eq!(reqs[1].json()["messages"], reqs[0].json()["messages"]);
    let note = format!(
        "`max_tokens` lowered from 1024 to {} to fit the model's context of 1536 tokens (the request takes {p})",
        1536 - p
    );
    let r = &out.record["replans"][0];
    assert_eq!(r["outcome"], "accepted");
    assert_eq!(r["notes"], json!([note]));
    assert_eq!(out.record["decisions"][0]["notes"], json!([note]));
}

#[test]
fn a_prompt_over_the_context_is_shortened_once_and_answered() {
    // llama.cpp refuses the whole request (about 710 tokens) in 600; the
    // shortened one (about 460) fits.
    let server = model(600, true);
    let out = run_with_model("replan-ctx-short", &server);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["anomalies"][0]["metric"], "cpu:ci-7");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "refused once, then answered");
    assert!(tokens(&reqs[0]) >= 600 && tokens(&reqs[1]) < 600);
    let short = reqs[1].json();
    let system = short["messages"][0]["content"].as_str().expect("system");
    assert_eq!(system, flowc::run::replan::system_prompt(Length::Short));
    assert!(system.contains(flowc::run::replan::reference()));
    assert!(!system.contains("Built-in functions"), "{system}");
    let user = short["messages"][1]["content"].as_str().expect("user");
    assert!(!user.contains("The flow's documentation"), "{user}");
    assert!(user.contains("tool cpu_fallback(ci_id: string)"), "{user}");
    let r = &out.record["replans"][0];
    assert_eq!(r["outcome"], "accepted");
    assert_eq!(
        r["attempts"][0]["prompt"], user,
        "the prompt answered is the short one"
    );
    let notes = r["notes"].to_string();
    assert!(
        notes.contains(&format!(
            "the request was shortened to fit the model's context of 600 tokens (the request takes {})",
            tokens(&reqs[0])
        )),
        "{notes}"
    );
}

#[test]
fn a_request_the_context_cannot_hold_even_shortened_fails_naming_the_context_size() {
    let server = model(100, true);
    let out = run_with_model("replan-ctx-none", &server);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(server.requests().len(), 2, "whole, then shortened; no more");
    // The original failure stands, with why no re-plan ran.
    assert!(out.stderr.contains("failed on purpose"), "{}", out.stderr);
    let r = &out.record["replans"][0];
    assert_eq!(r["outcome"], "failed");
    let error = r["error"].as_str().expect("an error");
    assert!(
        error.starts_with("the re-planning request does not fit the model's context of 100 tokens (the request takes "),
        "{error}"
    );
    assert!(
        error.contains("even shortened") && error.contains("--ctx-size"),
        "{error}"
    );
}

#[test]
fn an_answer_whose_code_fence_is_never_closed_is_taken_without_it() {
    // A model cut off at `max_tokens` never closes its fence.
    let dir = project(
        "replan-open-fence",
        FLOW,
        &[&format!("Here is the block:\n```flow\n{GOOD}\n")],
    );
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["anomalies"][0]["metric"], "cpu:ci-7");
    assert_eq!(requests(&dir).len(), 1, "the first answer checked");
    assert_eq!(out.record["replans"][0]["fragment"], GOOD);
}

#[test]
fn the_request_offers_only_the_flows_the_policy_allows_and_none_that_reach_the_failed_flow() {
    // `analyse` fails and is re-planned; `main` calls it (a call would recurse),
    // `wiper` reaches a tool the policy does not allow, `shout` an effect it
    // denies; `fallback` and `twice` (through `fallback`) keep to it.
    let flow = r#"
type Anomaly = { metric: string, score: float }
tool metrics_primary(ci_id: string) -> { anomalies: [Anomaly] } = builtin "fail"
tool cpu_fallback(ci_id: string) -> { anomalies: [Anomaly] } = exec ["python3", "cpu.py"]
tool wipe(ci_id: string) -> json = builtin "echo"
effect tool notify(ci_id: string) -> json = builtin "echo"
policy ops { allow_tools: [metrics_primary, cpu_fallback, notify], effects: "deny" }

flow fallback(ci_id: string) -> [Anomaly] { cpu_fallback(ci_id: ci_id).anomalies }
flow twice(ci_id: string) -> [Anomaly] { fallback(ci_id: ci_id) ++ fallback(ci_id: ci_id) }
flow wiper(ci_id: string) -> json { wipe(ci_id: ci_id) }
flow shout(ci_id: string) -> json { notify(ci_id: ci_id) }
flow analyse(id: string) -> [Anomaly] with { replan_on_error: true, replan_cooldown: 0s } {
    metrics_primary(ci_id: id).anomalies
}
flow main(ci_id: string = "CI-7") -> { anomalies: [Anomaly] } with { policy: ops } {
    { anomalies: analyse(id: ci_id) }
}
"#;
    let dir = project("replan-offer", flow, &["fallback(ci_id: id)"]);
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.result(),
        json!({ "anomalies": [{ "metric": "cpu:CI-7", "score": 0.9 }] })
    );
    let reqs = requests(&dir);
    let offered: Vec<String> = reqs[0]["context"]["callable"]
        .as_array()
        .expect("callable")
        .iter()
        .map(|c| c["signature"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        offered,
        [
            "tool metrics_primary(ci_id: string) -> { anomalies: [{ metric: string, score: float }] }",
            "tool cpu_fallback(ci_id: string) -> { anomalies: [{ metric: string, score: float }] }",
            "flow fallback(ci_id: string) -> [{ metric: string, score: float }]",
            "flow twice(ci_id: string) -> [{ metric: string, score: float }]",
        ]
    );
}

#[test]
fn a_repair_over_the_context_carries_only_the_last_answer_cut_and_its_diagnostics() {
    // llama.cpp with a context of 760 tokens: the whole request (about 710)
    // fits, and gets a long answer that does not check; the repair with it
    // does not fit, nor does it with the short request; with only the first
    // 300 characters of that answer and its diagnostics it does.
    let long = "I cannot write that block. ".repeat(80);
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let answer = long.clone();
    let server = serve(move |_, r| {
        let p = tokens(r);
        if p >= 760 {
            return Reply::new(
                400,
                json!({ "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size, try increasing it",
                    "type": "exceed_context_size_error",
                    "n_prompt_tokens": p,
                    "n_ctx": 760,
                } })
                .to_string(),
            );
        }
        match answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => chat_answer(&answer),
            _ => chat_answer(GOOD),
        }
    });
    let out = run_with_model("replan-ctx-repair", &server);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["anomalies"][0]["metric"], "cpu:ci-7");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4, "answered, refused twice, answered");
    let last = reqs[3].json();
    let messages = last["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages[0]["content"],
        flowc::run::replan::system_prompt(Length::Short)
    );
    let cut = messages[2]["content"].as_str().expect("the answer");
    assert_eq!(cut.chars().count(), 301, "300 characters and `…`: {cut}");
    assert!(
        messages[3]["content"]
            .as_str()
            .is_some_and(|d| d.starts_with("That fragment does not check:\n- E0101")),
        "{}",
        messages[3]
    );
    let r = &out.record["replans"][0];
    assert_eq!(r["outcome"], "accepted");
    assert_eq!(
        r["attempts"][0]["answer"],
        long.as_str(),
        "the record keeps it whole"
    );
    let notes = r["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[1].as_str().is_some_and(|n| n
            .starts_with("the repairs were shortened to fit the model's context of 760 tokens")),
        "{notes:?}"
    );
}

/// A caller's policy from another module holds the fragment of a flow it
/// calls as it is: under its own name, with its own rules (no copy of it
/// declared again in the flow's module).
#[test]
fn a_callers_policy_from_another_module_holds_a_fragment_under_its_own_name() {
    let lib = FLOW
        .replace("flow main(", "flow analyse(")
        .replace(
            "/// Analyses a CI.",
            "tool wipe(ci_id: string) -> json = exec [\"sh\", \"-c\", \"touch wiped; echo '\\{\\}'\"]\n/// Analyses a CI.",
        );
    let main = r#"import "lib.flow" as lib
tool analyse() -> json = builtin "echo"
tool metrics_primary() -> json = builtin "echo"
tool cpu_fallback() -> json = builtin "echo"
policy ops { allow_tools: [analyse, metrics_primary, cpu_fallback] }
flow main() with { policy: ops } {
    lib.analyse(ci_id: "CI-7")
}
"#;
    let dir = project(
        "replan-policy-caller",
        main,
        &["let w = wipe(ci_id: id)\n[]", GOOD],
    );
    std::fs::write(dir.join("lib.flow"), lib).expect("write");
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result()["anomalies"][0]["metric"], "cpu:ci-7");
    assert!(!dir.join("wiped").exists(), "the refused fragment ran");
    let r = &out.record["replans"][0];
    assert_eq!(r["outcome"], "accepted", "{r}");
    let first = r["attempts"][0]["diagnostics"][0].as_str().expect("one");
    assert!(
        first.starts_with("E0604: `wipe` is not allowed by policy `ops` (line 1 of the fragment)"),
        "{first}"
    );
}

/// A fragment is checked with the texts the run runs: a file the program
/// imports, changed on disk while the run goes on, does not change it.
#[test]
fn a_fragment_is_checked_with_the_imports_the_run_runs_not_their_files_changed_since() {
    let flow = FLOW
        .replace("type Anomaly", "import \"lib.flow\" as lib\ntype Anomaly")
        .replace(
            "    let id = lower(ci_id)\n",
            "    let t = lib.touch()\n    let id = lower(ci_id) after t\n",
        );
    let dir = project("replan-imports-changed", &flow, &[GOOD]);
    // Running `touch` breaks `lib.flow` on disk before the block fails.
    std::fs::write(
        dir.join("lib.flow"),
        "tool touch() -> json = exec [\"sh\", \"-c\", \"echo 'no longer a flow file (' > lib.flow; echo '\\{\\}'\"]\n",
    )
    .expect("write");
    let out = run_in(&dir, &["--llm", &provider(&dir)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        std::fs::read_to_string(dir.join("lib.flow"))
            .expect("read")
            .starts_with("no longer"),
        "the tool ran"
    );
    assert_eq!(out.result()["anomalies"][0]["metric"], "cpu:ci-7");
    let r = &out.record["replans"][0];
    assert_eq!(r["outcome"], "accepted", "{r}");
    assert_eq!(r["attempts"][0]["diagnostics"], json!([]), "{r}");
}
