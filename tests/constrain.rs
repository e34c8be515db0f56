//! Answers constrained for the model's decoder, over real HTTP to a server on
//! 127.0.0.1 that records each request: a decision's labels as a JSON Schema
//! `enum`, a GBNF grammar or a Lark custom tool; a re-plan's grammar; `auto`
//! falling back when the server refuses a field, and remembering it for the
//! run; `[llm] context` lowering `max_tokens`.

mod common;

use common::{Reply, run_flow, run_in, serve, tempdir};
use serde_json::{Value, json};

/// Two decisions: `auto` learns from the first what the server refuses.
const TWO: &str = r#"
flow main() -> json {
    let first = decide "Which first?" {
        continue => "a"
        retry => "b"
    }
    let second = decide "Which then, after {first}?" {
        continue => "c"
        escalate => "d"
    }
    { first, second }
}
"#;

fn chat(content: &str) -> String {
    json!({ "choices": [{ "index": 0, "message": { "role": "assistant", "content": content } }] })
        .to_string()
}

fn openai(base: &str) -> String {
    format!("openai:{base}/v1")
}

#[test]
fn auto_asks_decisions_with_a_json_schema_enum_of_the_labels() {
    let server = serve(|_, r| {
        let labels =
            &r.json()["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"];
        let first = labels[0].as_str().unwrap_or("none").to_string();
        Reply::new(200, chat(&json!({ "label": first }).to_string()))
    });
    let out = run_flow(
        "constrain-schema",
        TWO,
        &[],
        &["--llm", &openai(&server.base)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "first": "a", "second": "c" }));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let f = &reqs[0].json()["response_format"];
    assert_eq!(f["type"], "json_schema");
    assert_eq!(
        f["json_schema"]["schema"]["properties"]["label"]["enum"],
        json!(["continue", "retry"])
    );
    assert_eq!(
        reqs[1].json()["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"],
        json!(["continue", "escalate"])
    );
    // The label check stays: the answers are the labels.
    assert_eq!(out.record["decisions"][0]["answers"], json!(["continue"]));
}

#[test]
fn auto_falls_back_to_gbnf_after_a_refusal_naming_response_format_and_remembers_it() {
    // llama-cpp-python (0.3.36) refuses `response_format` of type
    // `json_schema` with a 500 whose body is the validation error naming the
    // field (its words, as it answers), and takes `grammar`.
    let server = serve(|_, r| {
        let body = r.json();
        if body.get("response_format").is_some() {
            return Reply::new(
                500,
                json!({ "error": { "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}\n" } })
                    .to_string(),
            );
        }
        let g = body["grammar"].as_str().unwrap_or_default();
        let label = if g.contains("\"escalate\"") {
            "escalate"
        } else {
            "retry"
        };
        Reply::new(200, chat(label))
    });
    let out = run_flow(
        "constrain-fallback",
        TWO,
        &[],
        &["--llm", &openai(&server.base)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "first": "b", "second": "d" }));
    let reqs: Vec<Value> = server.requests().iter().map(|r| r.json()).collect();
    assert_eq!(
        reqs.len(),
        3,
        "refused once, then the grammar for both decisions: {reqs:#?}"
    );
    assert!(reqs[0].get("response_format").is_some());
    assert!(reqs[1].get("response_format").is_none());
    assert_eq!(
        reqs[1]["grammar"], "root ::= (\"continue\" | \"retry\")\n",
        "the labels as GBNF"
    );
    assert!(
        reqs[2].get("response_format").is_none(),
        "the refusal is remembered for the run"
    );
    assert_eq!(
        reqs[2]["grammar"],
        "root ::= (\"continue\" | \"escalate\")\n"
    );
}

#[test]
fn each_dialect_is_sent_as_chosen_and_none_sends_no_constraint() {
    let server = serve(|_, r| {
        let body = r.json();
        if let Some(def) = body["tools"][0]["custom"]["format"]["grammar"]["definition"].as_str() {
            // A grammar-constrained custom tool answers in its call.
            assert!(def.starts_with("start: "), "{def}");
            return Reply::new(
                200,
                json!({ "choices": [{ "message": { "role": "assistant", "content": null,
                    "tool_calls": [{ "id": "c1", "type": "custom", "custom": { "name": "decision", "input": "retry" } }] } }] })
                    .to_string(),
            );
        }
        Reply::new(200, chat("retry"))
    });
    for (how, field) in [
        ("gbnf", "grammar"),
        ("json_schema", "response_format"),
        ("lark", "tools"),
        ("none", ""),
    ] {
        let out = run_flow(
            "constrain-dialect",
            &TWO.replace("escalate", "retry"),
            &[],
            &["--llm", &openai(&server.base), "--llm-constrain", how],
        );
        assert_eq!(out.code, 0, "{how}: {}", out.stderr);
        assert_eq!(
            out.result(),
            json!({ "first": "b", "second": "d" }),
            "{how}"
        );
        let last = server.requests().last().expect("a request").json();
        for f in ["grammar", "response_format", "tools"] {
            assert_eq!(last.get(f).is_some(), f == field, "{how}: {f} in {last:#}");
        }
        if how == "lark" {
            assert_eq!(last["tool_choice"]["custom"]["name"], "decision");
        }
    }
}

#[test]
fn a_dialect_chosen_by_name_and_refused_fails_saying_what_to_set() {
    let server = serve(|_, _| {
        Reply::new(
            400,
            json!({ "error": { "message": "Unrecognized request argument supplied: grammar", "type": "invalid_request_error" } })
                .to_string(),
        )
    });
    let out = run_flow(
        "constrain-refused",
        TWO,
        &[],
        &["--llm", &openai(&server.base), "--llm-constrain", "gbnf"],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("`gbnf`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("--llm-constrain none"),
        "{}",
        out.stderr
    );
    assert_eq!(server.requests().len(), 1, "not sent again");
}

#[test]
fn a_bad_constrain_value_is_refused_naming_the_choices() {
    let out = run_flow(
        "constrain-bad",
        TWO,
        &[(
            "flowc.toml",
            "[llm]\nprovider = \"human\"\nconstrain = \"regex\"\n",
        )],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`regex` is not a way to constrain answers"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("flowc.toml"), "{}", out.stderr);
}

/// A block that fails and states `replan_on_error`.
const REPLAN: &str = r#"
type Anomaly = { metric: string, score: float }

/// The primary metrics service (down).
tool metrics_primary(ci_id: string) -> { anomalies: [Anomaly] } = builtin "fail"
/// CPU anomalies: a fallback.
tool cpu_fallback(ci_id: string) -> { anomalies: [Anomaly] } = exec ["python3", "cpu.py"]

flow main(ci_id: string = "CI-7") -> { anomalies: [Anomaly] } {
    let id = lower(ci_id)
    let anomalies = dag with { replan_on_error: true, replan_cooldown: 0s } {
        metrics_primary(ci_id: id).anomalies
    }
    { anomalies }
}
"#;

const CPU: &str = "import json, sys\na = json.load(sys.stdin)\nprint(json.dumps({'anomalies': [{'metric': 'cpu:' + a['ci_id'], 'score': 0.9}]}))\n";

#[test]
fn a_replan_sends_the_grammar_of_its_scope_as_gbnf_or_as_a_lark_tool() {
    let server = serve(|_, r| {
        let body = r.json();
        let fragment = "let a = cpu_fallback(ci_id: id)\na.anomalies";
        if body.get("tools").is_some() {
            return Reply::new(
                200,
                json!({ "choices": [{ "message": { "role": "assistant", "content": null,
                    "tool_calls": [{ "id": "c1", "type": "custom", "custom": { "name": "block_body", "input": fragment } }] } }] })
                    .to_string(),
            );
        }
        Reply::new(200, chat(fragment))
    });
    for how in ["auto", "lark"] {
        let dir = tempdir("constrain-replan");
        std::fs::write(dir.join("main.flow"), REPLAN).expect("write");
        std::fs::write(dir.join("cpu.py"), CPU).expect("write");
        let out = run_in(
            &dir,
            &["--llm", &openai(&server.base), "--llm-constrain", how],
        );
        assert_eq!(out.code, 0, "{how}: {}", out.stderr);
        assert_eq!(out.result()["anomalies"][0]["metric"], "cpu:ci-7", "{how}");
        let body = server.requests().last().expect("a request").json();
        let (grammar, start) = match how {
            "auto" => (body["grammar"].as_str().expect("GBNF"), "root ::= "),
            _ => (
                body["tools"][0]["custom"]["format"]["grammar"]["definition"]
                    .as_str()
                    .expect("Lark"),
                "start: ",
            ),
        };
        assert!(grammar.starts_with(start), "{how}: {grammar}");
        // The scope's names, the tools with their parameters.
        for word in [
            "\"id\"",
            "\"ci_id\"",
            "\"cpu_fallback\"",
            "\".anomalies\"",
            "\".metric\"",
        ] {
            assert!(grammar.contains(word), "{how}: {word} in {grammar}");
        }
        let user = body["messages"][1]["content"].as_str().expect("user");
        assert!(
            user.contains("Name new values (`let`, `for`, `catch`) only: `result`"),
            "{user}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// flowc's estimate of a request's tokens: a token per 3 characters, 8 a message.
fn estimate(body: &Value) -> u64 {
    body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| (m["content"].as_str().unwrap_or_default().chars().count() as u64).div_ceil(3) + 8)
        .sum()
}

#[test]
fn context_in_flowc_toml_lowers_max_tokens_to_fit_and_refuses_what_cannot() {
    let server = serve(|_, _| Reply::new(200, chat("retry")));
    let two = TWO.replace("escalate", "retry");
    let toml = |n: u64| {
        format!(
            "[llm]\nprovider = \"{}\"\ncontext = {n}\n",
            openai(&server.base)
        )
    };
    let out = run_flow(
        "constrain-context",
        &two,
        &[("flowc.toml", &toml(100_000))],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = server.requests()[0].json();
    assert_eq!(first["max_tokens"], 32, "room enough: the usual 32");
    // 20 tokens left for the answer.
    let n = estimate(&first) + 20;
    let out = run_flow("constrain-context", &two, &[("flowc.toml", &toml(n))], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let body = server.requests()[2].json();
    assert_eq!(body["messages"], first["messages"]);
    assert_eq!(body["max_tokens"], 20);
    let notes = out.record["decisions"][0]["notes"].to_string();
    assert!(
        notes.contains(&format!(
            "lowered from 32 to 20 to fit `[llm] context = {n}`"
        )),
        "{notes}"
    );
    // A context the request cannot fit: not sent, `llm_error` naming it.
    let before = server.requests().len();
    let out = run_flow(
        "constrain-context",
        &two,
        &[("flowc.toml", &toml(n - 18))],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("over `[llm] context = {}`", n - 18)),
        "{}",
        out.stderr
    );
    assert_eq!(server.requests().len(), before, "nothing sent");
}

#[test]
fn explain_replan_prints_the_request_and_the_grammar_without_running() {
    let flowc = env!("CARGO_BIN_EXE_flowc");
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new(flowc)
        .args([
            "explain-replan",
            "examples/replan.flow",
            "--at",
            "main/anomalies",
        ])
        .current_dir(root)
        .output()
        .expect("flowc runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in [
        "# The re-plan of `main/anomalies` (line 58 of examples/replan.flow)",
        "## system",
        "A block of flow `main` failed.",
        "- tool cpu_analysis(ci_ids: [string])",
        "## grammar (GBNF)\n\nroot ::= ",
        "## grammar (Lark)\n\nstart: ",
        "\"cpu_analysis\" \"(\"",
    ] {
        assert!(text.contains(part), "{part:?} in:\n{text}");
    }
    // The effect tool the policy denies is neither offered nor in the grammar.
    assert!(!text.contains("open_ticket"), "{text}");
    // Without `--at`, the one block that states `replan_on_error` is meant;
    // a name that is not a block says which there are.
    let out = std::process::Command::new(flowc)
        .args(["explain-replan", "examples/replan.flow", "--at", "main/rca"])
        .current_dir(root)
        .output()
        .expect("flowc runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`main/anomalies` (line 58)"), "{err}");
}

#[test]
fn context_server_asks_llama_cpps_props_once_and_fits_the_answer_to_it() {
    // The context is 20 tokens more than the request takes, as the server says.
    let n_ctx = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(100_000));
    let said = n_ctx.clone();
    let server = serve(move |_, r| {
        if r.method == "GET" && r.path == "/props" {
            let n = said.load(std::sync::atomic::Ordering::SeqCst);
            return Reply::new(
                200,
                json!({ "default_generation_settings": { "n_ctx": n } }).to_string(),
            );
        }
        Reply::new(200, chat("retry"))
    });
    let two = TWO.replace("escalate", "retry");
    let toml = format!(
        "[llm]\nprovider = \"{}\"\ncontext = \"server\"\n",
        openai(&server.base)
    );
    let out = run_flow("constrain-props", &two, &[("flowc.toml", &toml)], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reqs = server.requests();
    let gets = reqs.iter().filter(|r| r.method == "GET").count();
    assert_eq!(gets, 1, "asked once a run");
    let first = reqs
        .iter()
        .find(|r| r.method == "POST")
        .expect("a chat")
        .json();
    assert_eq!(first["max_tokens"], 32);
    n_ctx.store(estimate(&first) + 20, std::sync::atomic::Ordering::SeqCst);
    let out = run_flow("constrain-props", &two, &[("flowc.toml", &toml)], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let chat_after = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .nth(2)
        .expect("the next run's chat")
        .json();
    assert_eq!(chat_after["max_tokens"], 20);
    let notes = out.record["decisions"][0]["notes"].to_string();
    assert!(notes.contains("(as the server said)"), "{notes}");
    // A word other than "server" says what to write.
    let bad = "[llm]\nprovider = \"human\"\ncontext = \"big\"\n";
    let out = run_flow("constrain-props-bad", &two, &[("flowc.toml", bad)], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("write the model's context in tokens"),
        "{}",
        out.stderr
    );
}
