//! Policies (docs/language.md, "Policies") end to end: what the checker sees is refused before
//! anything runs; `max_steps` and `max_llm_calls` raise `policy_violation` at
//! the step, catchable; a called flow runs under its caller's policy; `tenant`
//! becomes `context.tenant`.

mod common;

use common::run_flow;
use serde_json::json;

#[test]
fn max_steps_five_with_a_for_of_ten_calls_fails_the_sixth_and_catch_handles_it() {
    let src = r#"
tool work(n: int) -> json = builtin "echo"
policy small { max_steps: 5 }
flow main() -> json with { policy: small } {
    for i in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] with { max_concurrent: 1 } {
        try { work(n: i).n } catch e { { kind: e.kind, message: e.message, step: e.step } }
    }
}
"#;
    let out = run_flow("policy-steps", src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = out.result();
    let list = r.as_array().expect("a list");
    // Which five items are let through depends on the order the bodies reach their
    // call (an evaluation may yield its time slice): five are, the other five are
    // refused as calls 6 to 10.
    let mut passed = Vec::new();
    let mut calls = Vec::new();
    for v in list {
        if let Some(n) = v.as_i64() {
            passed.push(n);
            continue;
        }
        assert_eq!(v["kind"], "policy_violation", "{v}");
        let m = v["message"].as_str().expect("message");
        assert!(m.contains("`max_steps: 5`"), "{m}");
        let n: u32 = m
            .rsplit("would be call ")
            .next()
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no call number in {m}"));
        calls.push(n);
        assert_eq!(v["step"], "work", "{v}");
    }
    assert_eq!(passed.len(), 5, "{list:?}");
    calls.sort_unstable();
    assert_eq!(calls, [6, 7, 8, 9, 10], "{list:?}");
    // The refused calls are failed steps of the record, at their paths.
    let refused: Vec<String> = out
        .steps()
        .iter()
        .filter(|s| s["status"] == "failed")
        .map(|s| s["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(refused.len(), 5, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|p| p.starts_with("main/for/for[") && p.ends_with("]/try/try/work")),
        "{refused:?}"
    );
}

#[test]
fn without_catch_the_violation_fails_the_run_naming_the_rule() {
    let src = r#"
tool work(n: int) -> json = builtin "echo"
policy small { max_steps: 2 }
flow main() with { policy: small } {
    let a = work(n: 1)
    let b = work(n: 2) after a
    let c = work(n: 3) after b
    [a, b, c]
}
"#;
    let out = run_flow("policy-fail", src, &[], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("[policy_violation]"), "{}", out.stderr);
    assert!(out.stderr.contains("`max_steps: 2`"), "{}", out.stderr);
    assert!(out.stderr.contains("main/c"), "{}", out.stderr);
}

#[test]
fn a_tool_outside_allow_tools_is_a_compile_error_and_nothing_runs() {
    let dir_marker = "ran.txt";
    let src = format!(
        r#"
tool mark() -> json = exec ["sh", "-c", "echo ran > {dir_marker}; echo '{{}}'"]
tool delete_everything() -> json = builtin "echo"
policy ops {{ allow_tools: [mark] }}
flow main() with {{ policy: ops }} {{
    let a = mark()
    let b = delete_everything() after a
    b
}}
"#
    );
    let out = run_flow("policy-allow", &src, &[], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("[E0604]"), "{}", out.stderr);
    assert!(!out.dir.join(dir_marker).exists(), "a tool ran");
}

#[test]
fn a_called_flow_runs_under_its_callers_policy() {
    let src = r#"
tool a() -> json = builtin "echo"
tool b() -> json = builtin "echo"
policy ops { allow_tools: [a] }
flow helper() -> json { b() }
flow main() -> json with { policy: ops } {
    try { helper() } catch e { e.message }
}
"#;
    let out = run_flow("policy-inherit", src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let m = out.result();
    let m = m.as_str().expect("the message");
    assert!(m.contains("policy `ops` does not allow `b`"), "{m}");
}

#[test]
fn max_llm_calls_limits_decisions_and_tenant_becomes_context_tenant() {
    let src = r#"
policy ops { max_llm_calls: 1, tenant: "acme" }
flow main() -> json with { policy: ops } {
    let first = llm("first?") catch false
    let second = try { to_string(llm("second?")) } catch e { e.message } after first
    { first, second, tenant: context.tenant }
}
"#;
    let out = run_flow(
        "policy-llm",
        src,
        &[],
        &["--llm", "cmd:python3 -c print('yes')"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = out.result();
    assert_eq!(r["first"], true, "{r}");
    assert!(
        r["second"]
            .as_str()
            .is_some_and(|m| m.contains("`max_llm_calls: 1`")),
        "{r}"
    );
    assert_eq!(r["tenant"], "acme");
}

#[test]
fn a_policy_of_the_projects_flowc_toml_applies_and_is_checked() {
    let toml = "[policy.ops]\nallow_tools = [\"a\"]\nmax_steps = 1\ntenant = \"acme\"\n";
    let src = r#"
tool a() -> json = builtin "echo"
flow main() -> json with { policy: ops } {
    let first = a()
    let second = try { a() } catch e { e.message } after first
    { second, tenant: context.tenant }
}
"#;
    let out = run_flow("policy-toml", src, &[("flowc.toml", toml)], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = out.result();
    assert!(
        r["second"]
            .as_str()
            .is_some_and(|m| m.contains("`max_steps: 1`")),
        "{r}"
    );
    assert_eq!(r["tenant"], "acme");

    // The same checks as a `policy` item: a tool outside `allow_tools` is E0604,
    // a wrong value is E0602 at its place in flowc.toml.
    let src = r#"
tool a() -> json = builtin "echo"
tool b() -> json = builtin "echo"
flow main() with { policy: ops } { [a(), b()] }
"#;
    let toml = "[policy.ops]\nallow_tools = [\"a\"]\neffects = \"maybe\"\n";
    let out = run_flow("policy-toml-bad", src, &[("flowc.toml", toml)], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("[E0604]"), "{}", out.stderr);
    assert!(out.stderr.contains("[E0602]"), "{}", out.stderr);
    assert!(out.stderr.contains("flowc.toml [policy]"), "{}", out.stderr);
}

/// `flowc.toml`'s policies are decoded from its values: a wrong one is shown
/// at its line of `flowc.toml`, and a negative number is read as the number it is.
#[test]
fn a_wrong_value_in_flowc_toml_is_shown_where_it_is_written() {
    let dir = common::tempdir("policy-toml-place");
    std::fs::write(
        dir.join("flowc.toml"),
        "[llm]\n\n[policy.ops]\nallow_tools = [\"a\"]\neffects = \"maybe\"\nmax_llm_calls = -1\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("main.flow"),
        "tool a() -> json = builtin \"echo\"\ntool b() -> json = builtin \"echo\"\nflow main() with { policy: ops } { [a(), b()] }\n",
    )
    .expect("write");
    let out = flowc_in(&dir, &["check", "main.flow"]);
    let err = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("[E0604]"), "{err}");
    assert!(err.contains("flowc.toml [policy]:3:9"), "{err}");
    assert!(err.contains("flowc.toml [policy]:5:11"), "{err}");
    assert!(err.contains(" 5 │ effects = \"maybe\""), "{err}");
    assert!(err.contains(" 6 │ max_llm_calls = -1"), "{err}");
    assert!(
        err.contains("policy rule `max_llm_calls` takes a non-negative integer"),
        "{err}"
    );
    assert!(err.contains("this is an integer"), "{err}");
}

/// `flowc ARGS` in `dir` with its own store (`.flowc` there).
fn flowc_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::flowc(dir, args)
}

#[test]
fn effects_approve_pauses_before_each_effect_until_a_person_answers() {
    let src = r#"
tool look() -> int = exec ["sh", "-c", "echo look >> log; echo 1"]
effect tool ticket(n: int) -> int = exec ["sh", "-c", "echo ticket >> log; echo 7"]
policy careful { effects: "approve" }
flow main() -> json with { policy: careful } {
    let x = look()
    let t = try { to_string(ticket(n: x)) } catch e { e.kind }
    { x, t }
}
"#;
    let dir = common::tempdir("policy-approve");
    std::fs::write(dir.join("main.flow"), src).expect("write");
    let log = |d: &std::path::Path| std::fs::read_to_string(d.join("log")).unwrap_or_default();

    // The effect waits: the run pauses (exit 3) before it, the pure step ran.
    let out = flowc_in(&dir, &["run", "main.flow"]);
    let err = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(log(&dir), "look\n");
    let runs = flowc_in(&dir, &["runs", "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).expect("runs");
    let id = runs[0]["id"].as_str().expect("id").to_string();
    assert!(
        err.contains(&format!(
            "flowc approve {id} main/t/try/to_string/ticket/approve"
        )),
        "{err}"
    );

    // Approved, the resumed run makes the effect once.
    let out = flowc_in(
        &dir,
        &[
            "approve",
            &id,
            "main/t/try/to_string/ticket/approve",
            "--by",
            "ana",
        ],
    );
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let out = flowc_in(&dir, &["resume", &id]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("result");
    assert_eq!(v, json!({ "x": 1, "t": "7" }));
    assert_eq!(log(&dir), "look\nticket\n");

    // Rejected, it never runs: a policy_violation, which `catch` handles.
    std::fs::remove_file(dir.join("log")).expect("rm");
    let out = flowc_in(&dir, &["run", "main.flow"]);
    assert_eq!(out.status.code(), Some(3));
    let runs = flowc_in(&dir, &["runs", "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).expect("runs");
    let id = runs[0]["id"].as_str().expect("id").to_string();
    let out = flowc_in(
        &dir,
        &[
            "approve",
            &id,
            "main/t/try/to_string/ticket/approve",
            "--reject",
        ],
    );
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let out = flowc_in(&dir, &["resume", &id]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("result");
    assert_eq!(v, json!({ "x": 1, "t": "policy_violation" }));
    assert_eq!(log(&dir), "look\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_block_runs_under_its_own_policy() {
    let src = r#"
tool work(n: int) -> { n: int } = builtin "echo"
policy two { max_steps: 2 }
flow main() -> json {
    let free = work(n: 1).n
    let held = try {
        dag with { policy: two } {
            let a = work(n: 2).n
            let b = work(n: 3).n after a
            let c = work(n: 4).n after b
            [to_string(a), to_string(b), to_string(c)]
        }
    } catch e { [e.message] }
    { free, held }
}
"#;
    let out = run_flow("policy-block", src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = out.result();
    assert_eq!(r["free"], 1);
    let m = r["held"][0].as_str().expect("the message");
    assert!(m.contains("`max_steps: 2`"), "{m}");

    // What the checker sees holds inside the block only.
    let src = r#"
tool a() -> json = builtin "echo"
tool b() -> json = builtin "echo"
policy only_a { allow_tools: [a] }
flow main() {
    let outside = b()
    let inside = dag with { policy: only_a } { b() }
    [outside, inside]
}
"#;
    let out = run_flow("policy-block-check", src, &[], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr.matches("[E0604]").count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("main.flow:7:48"), "{}", out.stderr);
}
