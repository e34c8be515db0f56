//! LLM decisions end to end: `decide` and `llm()` against an OpenAI-compatible
//! server on 127.0.0.1 (real HTTP, the chat-completions shapes), validation and
//! re-asking, retries and timeouts, record then replay, the `cmd` and `human`
//! providers, a missing provider, `flowc.toml`, `flowc check --decisions`, and the
//! same choices in `flowc repl` (`flowc.toml`, `--model`, `--llm-timeout`).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Reply, Server, run_flow, run_in, serve, tempdir};
use serde_json::{Value, json};

const TRIAGE: &str = r#"
// A decision among three actions, with a fallback.

flow main(ci: string = "CI-7") -> json {
    let rca = { cause: "disk full on {ci}", score: 0.4 }
    let action = decide "The root cause of {ci} is unclear. What next?" with { rca } {
        continue => "monitor"
        retry => "rerun"
        escalate => "ticket"
        else => "fallback"
    }
    { action }
}
"#;

/// A chat-completions answer with `content`.
fn chat(content: &str) -> String {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "test",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }]
    })
    .to_string()
}

/// A server that answers the `answers` in turn (the last one ever after).
fn answering(answers: &'static [&'static str]) -> Server {
    serve(move |i, _| Reply::new(200, chat(answers[i.min(answers.len() - 1)])))
}

fn openai(server: &Server) -> String {
    format!("openai:{}/v1", server.base)
}

#[test]
fn a_valid_answer_chooses_its_arm_and_the_request_has_the_openai_shape() {
    let server = answering(&["escalate"]);
    let out = run_flow(
        "llm-ok",
        TRIAGE,
        &[],
        &["--llm", &openai(&server), "--model", "tiny-model"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "action": "ticket" }));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["model"], "tiny-model");
    assert_eq!(body["temperature"], 0);
    let msgs = body["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["role"], "system");
    assert!(
        msgs[0]["content"]
            .as_str()
            .unwrap()
            .contains("continue, retry, escalate"),
        "{body:#}"
    );
    assert_eq!(msgs[1]["role"], "user");
    let user = msgs[1]["content"].as_str().unwrap();
    assert!(
        user.starts_with("The root cause of CI-7 is unclear. What next?"),
        "{user}"
    );
    assert!(user.contains("\"cause\": \"disk full on CI-7\""), "{user}");
    assert!(
        user.contains("- escalate (the workflow then runs: \"ticket\")"),
        "{user}"
    );
    // The decision is in the run record.
    let d = &out.record["decisions"][0];
    assert_eq!(d["step"], "action");
    assert_eq!(d["kind"], "decide");
    assert_eq!(d["options"], json!(["continue", "retry", "escalate"]));
    assert_eq!(d["answers"], json!(["escalate"]));
    assert_eq!(d["label"], "escalate");
    assert_eq!(d["attempts"], 1);
    assert!(
        d["provider"]
            .as_str()
            .unwrap()
            .starts_with("openai:http://127.0.0.1")
    );
    assert!(d["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(d["at"].as_str().unwrap().ends_with("main.flow:6:18"), "{d}");
}

#[test]
fn the_api_key_is_sent_as_a_bearer_token() {
    let server = answering(&["retry"]);
    let dir = tempdir("llm-key");
    std::fs::write(dir.join("main.flow"), TRIAGE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["run", "main.flow", "--llm", &openai(&server)])
        .current_dir(&dir)
        .env("FLOWC_STORE", common::test_store())
        .env("FLOWC_LLM_API_KEY", "sk-test-123")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer sk-test-123")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_malformed_answer_is_asked_again_with_a_correction() {
    let server = answering(&["I think we should probably try again", "Retry."]);
    let out = run_flow("llm-reask", TRIAGE, &[], &["--llm", &openai(&server)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "action": "rerun" }));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let second = reqs[1].json();
    let msgs = second["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4, "{second:#}");
    assert_eq!(msgs[2]["role"], "assistant");
    assert_eq!(msgs[2]["content"], "I think we should probably try again");
    assert_eq!(msgs[3]["role"], "user");
    assert!(
        msgs[3]["content"]
            .as_str()
            .unwrap()
            .contains("is not one of the options"),
        "{second:#}"
    );
    let d = &out.record["decisions"][0];
    assert_eq!(d["attempts"], 2);
    assert_eq!(d["label"], "retry");
}

#[test]
fn answers_outside_the_options_run_the_else_arm_or_fail_with_llm_error() {
    // Three invalid answers (one ask and two re-asks), then the `else` arm.
    let server = answering(&["delete the database"]);
    let out = run_flow("llm-else", TRIAGE, &[], &["--llm", &openai(&server)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "action": "fallback" }));
    assert_eq!(server.requests().len(), 3);
    assert_eq!(out.record["decisions"][0]["outcome"], "no_valid_answer");
    assert_eq!(out.record["decisions"][0]["label"], Value::Null);

    // No `else`: an `llm_error`, which `catch` sees like any error.
    let src = r#"
flow main() -> json {
    let pick = try {
        decide "Pick one" { a => "1", b => "2" }
    } catch e { e.kind }
    { pick }
}
"#;
    let server = answering(&["c"]);
    let out = run_flow("llm-noelse", src, &[], &["--llm", &openai(&server)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "pick": "llm_error" }));
}

#[test]
fn a_server_error_is_retried() {
    let server = serve(|i, _| {
        if i == 0 {
            Reply::new(500, r#"{"error": "overloaded"}"#)
        } else {
            Reply::new(200, chat("continue"))
        }
    });
    let out = run_flow("llm-500", TRIAGE, &[], &["--llm", &openai(&server)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "action": "monitor" }));
    assert_eq!(server.requests().len(), 2);
    // One decision, one answer: the retry is the provider's, not a re-ask.
    assert_eq!(out.record["decisions"][0]["answers"], json!(["continue"]));
}

#[test]
fn a_client_error_is_not_retried_and_says_what_to_check() {
    let server = serve(|_, _| Reply::new(401, r#"{"error": "no key"}"#));
    let out = run_flow("llm-401", TRIAGE, &[], &["--llm", &openai(&server)]);
    assert_eq!(out.code, 1);
    assert_eq!(server.requests().len(), 1);
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    assert!(out.stderr.contains("FLOWC_LLM_API_KEY"), "{}", out.stderr);
}

/// The characters of a chat request's messages.
fn message_chars(r: &common::Request) -> u64 {
    r.json()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().len() as u64)
        .sum()
}

#[test]
fn a_decision_over_the_models_context_gets_max_tokens_that_fit() {
    // llama-cpp-python's answer to a prompt plus `max_tokens` over its context,
    // a context 10 tokens larger than the prompt (a token per 4 characters).
    let server = serve(|_, r| {
        let p = message_chars(r).div_ceil(4);
        let (n_ctx, max) = (p + 10, r.json()["max_tokens"].as_u64().expect("max_tokens"));
        if p + max > n_ctx {
            let message = format!(
                "This model's maximum context length is {n_ctx} tokens. However, you requested {} tokens ({p} in the messages, {max} in the completion). Please reduce the length of the messages or completion.",
                p + max
            );
            return Reply::new(
                400,
                json!({ "error": { "message": message, "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded" } })
                    .to_string(),
            );
        }
        Reply::new(200, chat("retry"))
    });
    let out = run_flow("llm-ctx", TRIAGE, &[], &["--llm", &openai(&server)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "action": "rerun" }));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "refused once, then answered");
    assert_eq!(reqs[0].json()["max_tokens"], 32);
    assert_eq!(reqs[1].json()["max_tokens"], 10);
    let d = &out.record["decisions"][0];
    assert_eq!(
        d["attempts"], 1,
        "one answer: the provider sent the request again"
    );
    let notes = d["notes"].to_string();
    assert!(
        notes.contains("`max_tokens` lowered from 32 to 10 to fit the model's context of"),
        "{notes}"
    );
}

#[test]
fn a_decision_the_context_cannot_hold_fails_with_llm_error_naming_the_context_size() {
    // llama.cpp's server: the prompt alone exceeds its context.
    let server = serve(|_, r| {
        let p = message_chars(r).div_ceil(4);
        Reply::new(
            400,
            json!({ "error": {
                "code": 400,
                "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": p,
                "n_ctx": 64,
            } })
            .to_string(),
        )
    });
    let out = run_flow("llm-ctx-small", TRIAGE, &[], &["--llm", &openai(&server)]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(server.requests().len(), 1, "nothing smaller to send");
    assert!(out.stderr.contains("llm_error"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the decision's request does not fit the model's context of 64 tokens"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--ctx-size"), "{}", out.stderr);
}

#[test]
fn a_slow_server_times_out_with_llm_error() {
    let server = serve(|_, _| Reply {
        delay: Duration::from_secs(5),
        ..Reply::new(200, chat("continue"))
    });
    let src = r#"
flow main() -> json {
    let r = try { decide "Continue?" { yes => "went on" } } catch e { "{e.kind}: {e.message}" }
    { r }
}
"#;
    let t0 = std::time::Instant::now();
    let out = run_flow(
        "llm-slow",
        src,
        &[],
        &["--llm", &openai(&server), "--llm-timeout", "300ms"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = out.result()["r"].as_str().unwrap().to_string();
    assert!(r.starts_with("llm_error: "), "{r}");
    assert!(r.contains("did not answer within 300ms"), "{r}");
    // Not retried: a timeout is final, so the run did not wait for the server.
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_recording_replays_the_same_run_without_any_http_call() {
    let server = answering(&["maybe", "escalate"]);
    let dir = tempdir("llm-replay");
    std::fs::write(dir.join("main.flow"), TRIAGE).unwrap();
    let rec = dir.join("answers.json");
    let first = run_in(
        &dir,
        &[
            "--llm",
            &openai(&server),
            "--record-llm",
            rec.to_str().unwrap(),
        ],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let calls = server.requests().len();
    assert_eq!(calls, 2);
    let recording: Value = serde_json::from_str(&std::fs::read_to_string(&rec).unwrap()).unwrap();
    assert_eq!(
        recording["decisions"][0]["answers"],
        json!(["maybe", "escalate"])
    );
    let replayed = run_in(&dir, &["--llm", &format!("replay:{}", rec.display())]);
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert_eq!(replayed.result(), first.result());
    assert_eq!(server.requests().len(), calls, "replay made an HTTP call");
    let d = &replayed.record["decisions"][0];
    assert_eq!(d["answers"], json!(["maybe", "escalate"]));
    assert!(d["provider"].as_str().unwrap().starts_with("replay:"));
    // A run record replays too: it holds the same `decisions`.
    let again = run_in(
        &dir,
        &[
            "--llm",
            &format!("replay:{}", first.dir.join("run.json").display()),
        ],
    );
    assert_eq!(again.result(), first.result(), "{}", again.stderr);

    // A prompt that was not recorded is a clear error.
    let changed = run_in(
        &dir,
        &[
            "--llm",
            &format!("replay:{}", rec.display()),
            "--arg",
            "ci=CI-8",
        ],
    );
    assert_eq!(changed.code, 1);
    assert!(
        changed
            .stderr
            .contains("has no answer for step `action` with the prompt \"The root cause of CI-8"),
        "{}",
        changed.stderr
    );
}

#[test]
fn the_cmd_provider_reads_the_request_on_stdin() {
    let script = r#"import json, sys
req = json.load(sys.stdin)
assert req["options"] == ["continue", "retry", "escalate"], req
assert req["step"] == "action" and req["kind"] == "decide", req
assert req["context"]["rca"]["cause"] == "disk full on CI-7", req
assert req["messages"][1]["role"] == "user", req
# The first answer is attempt 1, the one after the correction attempt 2.
print("continue" if req["attempt"] == 2 else "nonsense")
"#;
    let out = run_flow(
        "llm-cmd",
        TRIAGE,
        &[("decide.py", script)],
        &["--llm", "cmd:python3 decide.py"],
    );
    // `cmd:` programs run in the current folder; this one is relative to the flow.
    assert!(
        out.code == 1 && out.stderr.contains("decide.py"),
        "{}",
        out.stderr
    );
    let out2 = run_in(
        &out.dir,
        &[
            "--llm",
            &format!("cmd:python3 {}", out.dir.join("decide.py").display()),
        ],
    );
    assert_eq!(out2.code, 0, "{}", out2.stderr);
    assert_eq!(out2.result(), json!({ "action": "monitor" }));
    assert_eq!(out2.record["decisions"][0]["attempts"], 2);
}

#[test]
fn a_cmd_provider_in_flowc_toml_runs_like_the_same_llm_flag() {
    let script = "import json, sys\nreq = json.load(sys.stdin)\nprint(\"continue\")\n";
    let toml = "[llm]\nprovider = \"cmd:python3 tools/llm.py\"\n";
    // Run from another folder: `python3` is found on `PATH` and
    // `tools/llm.py` beside the `flowc.toml`.
    let out = run_flow(
        "llm-cmd-toml",
        TRIAGE,
        &[("flowc.toml", toml), ("tools/llm.py", script)],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "action": "monitor" }));
    let d = &out.record["decisions"][0];
    assert_eq!(d["label"], "continue", "{d}");
    let provider = d["provider"].as_str().expect("provider");
    assert!(
        provider.starts_with("cmd:python3 /") && provider.ends_with("tools/llm.py"),
        "{provider}"
    );
    // The same string with `--llm`, in the project's folder.
    let flag = common::flowc(
        &out.dir,
        &["run", "main.flow", "--llm", "cmd:python3 tools/llm.py"],
    );
    assert_eq!(
        flag.status.code(),
        Some(0),
        "{}",
        common::text(&flag.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&flag.stdout).expect("JSON"),
        json!({ "action": "monitor" })
    );
}

#[test]
fn llm_conditions_answer_yes_or_no() {
    let src = r#"
flow main(cause: string = "disk") -> json {
    let plausible = llm("Is this root cause plausible?", cause)
    let checked = if plausible { "accepted" } else { "rejected" }
    { checked }
}
"#;
    let server = answering(&["Yes."]);
    let out = run_flow("llm-cond", src, &[], &["--llm", &openai(&server)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "checked": "accepted" }));
    let body = server.requests()[0].json();
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("\"cause\": \"disk\""), "{user}");
    assert_eq!(out.record["decisions"][0]["options"], json!(["yes", "no"]));

    let server = answering(&["perhaps"]);
    let out = run_flow("llm-cond-bad", src, &[], &["--llm", &openai(&server)]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("no yes or no in 3 attempts"),
        "{}",
        out.stderr
    );
}

#[test]
fn without_a_provider_the_error_names_the_position_and_the_choices() {
    let out = run_flow("llm-none", TRIAGE, &[], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("needs an LLM provider"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("main.flow:6:18"), "{}", out.stderr);
    for choice in [
        "openai:BASE_URL",
        "replay:FILE.json",
        "cmd:PROGRAM",
        "--llm human",
    ] {
        assert!(out.stderr.contains(choice), "{choice}: {}", out.stderr);
    }
    // An unknown provider is a usage error before anything runs.
    let out = run_flow("llm-bad", TRIAGE, &[], &["--llm", "gpt"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`gpt` is not an LLM provider"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_human_provider_refuses_without_a_terminal() {
    let out = run_flow("llm-human", TRIAGE, &[], &["--llm", "human"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("stdin is not a terminal"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_flowc_toml_beside_the_flow_chooses_the_provider() {
    let server = answering(&["continue"]);
    let toml = format!(
        "[llm]\nprovider = \"{}\"\nmodel = \"from-toml\"\n",
        openai(&server)
    );
    let out = run_flow("llm-toml", TRIAGE, &[("flowc.toml", &toml)], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({ "action": "monitor" }));
    assert_eq!(server.requests()[0].json()["model"], "from-toml");
    // `--llm` wins over it.
    let out2 = run_in(&out.dir, &["--llm", "human"]);
    assert!(
        out2.stderr.contains("stdin is not a terminal"),
        "{}",
        out2.stderr
    );

    let out = run_flow(
        "llm-toml-bad",
        TRIAGE,
        &[("flowc.toml", "[llm]\nprovidr = \"human\"\n")],
        &[],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("flowc.toml") && out.stderr.contains("providr"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_lists_the_labels_each_decision_can_answer() {
    let dir = tempdir("llm-check");
    std::fs::write(dir.join("main.flow"), TRIAGE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["check", "--decisions", "main.flow"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "main.flow:6:18: decide in flow `main` answers continue | retry | escalate; `else` when no answer is valid\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `flowc repl main.flow ARGS` in `dir` with `input` piped: (stdout and
/// stderr, exit status).
fn repl_in(dir: &std::path::Path, args: &[&str], input: &str) -> (String, i32) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("repl")
        .arg(dir.join("main.flow"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("FLOWC_HISTORY", "")
        .env_remove("FLOWC_LLM_MODEL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("flowc runs");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write the input");
    let out = child.wait_with_output().expect("flowc ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.code().unwrap_or(-1))
}

#[test]
fn the_repl_answers_decisions_with_the_provider_of_a_flowc_toml_beside_its_file() {
    let dir = tempdir("repl-toml");
    std::fs::write(dir.join("main.flow"), TRIAGE).unwrap();
    let answers = json!({ "decisions": [{
        "step": "action",
        "prompt": "The root cause of CI-7 is unclear. What next?",
        "answers": ["retry"],
    }] });
    std::fs::write(dir.join("answers.json"), answers.to_string()).unwrap();
    // Without a flowc.toml nobody answers.
    let (out, code) = repl_in(&dir, &[], "main()\n");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("needs an LLM provider"), "{out}");
    std::fs::write(
        dir.join("flowc.toml"),
        "[llm]\nprovider = \"replay:answers.json\"\n",
    )
    .unwrap();
    let (out, code) = repl_in(&dir, &[], "main()\nmain()\n");
    assert_eq!(code, 0, "{out}");
    // Each input replays from the start of the recording.
    assert_eq!(out.matches("\"action\": \"rerun\"").count(), 2, "{out}");
    // A wrong flowc.toml stops the session before it starts.
    std::fs::write(dir.join("flowc.toml"), "[llm]\nprovidr = \"human\"\n").unwrap();
    let (out, code) = repl_in(&dir, &[], "main()\n");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("flowc.toml") && out.contains("providr"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_repl_asks_the_model_of_model_else_of_the_flowc_toml() {
    let server = answering(&["escalate"]);
    let dir = tempdir("repl-model");
    std::fs::write(dir.join("main.flow"), TRIAGE).unwrap();
    let toml = format!(
        "[llm]\nprovider = \"{}\"\nmodel = \"from-toml\"\n",
        openai(&server)
    );
    std::fs::write(dir.join("flowc.toml"), toml).unwrap();
    let (out, code) = repl_in(&dir, &[], "main()\n");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"action\": \"ticket\""), "{out}");
    assert_eq!(server.requests()[0].json()["model"], "from-toml");
    let (out, code) = repl_in(&dir, &["--model", "tiny-model"], "main()\n");
    assert_eq!(code, 0, "{out}");
    assert_eq!(server.requests()[1].json()["model"], "tiny-model");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_repl_gives_up_on_a_slow_answer_after_llm_timeout() {
    let server = serve(|_, _| Reply {
        delay: Duration::from_secs(5),
        ..Reply::new(200, chat("continue"))
    });
    let dir = tempdir("repl-timeout");
    let src = r#"
flow main() -> json {
    let r = try { decide "Continue?" { yes => "went on" } } catch e { "{e.kind}: {e.message}" }
    { r }
}
"#;
    std::fs::write(dir.join("main.flow"), src).unwrap();
    let t0 = std::time::Instant::now();
    let (out, code) = repl_in(
        &dir,
        &["--llm", &openai(&server), "--llm-timeout", "300ms"],
        "main()\n",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("did not answer within 300ms"), "{out}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    // A duration that is not one is refused at the start.
    let (out, code) = repl_in(&dir, &["--llm-timeout", "soon"], "main()\n");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("`soon` is not a duration"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
