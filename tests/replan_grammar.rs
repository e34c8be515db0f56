//! The grammar of re-planned fragments, checked with a real grammar engine
//! (llguidance, which OpenAI's and vLLM's Lark grammars run on): it accepts
//! every block body of the examples and the standard library in its scope,
//! and the tests' fragments; it refuses names out of scope, tools the policy
//! forbids, unknown fields and unknown named arguments; every text it
//! generates parses.

use std::sync::OnceLock;

use flowc::check::Program;
use flowc::replan_grammar::{self, Grammar, Spec, scope};
use flowc::syntax::ast::{Block, Else, Expr, ExprKind, ItemKind, StmtKind, children};
use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{ApproximateTokEnv, TokEnv};
use llguidance::{Matcher, ParserFactory};

fn env() -> &'static TokEnv {
    static ENV: OnceLock<TokEnv> = OnceLock::new();
    ENV.get_or_init(ApproximateTokEnv::single_byte_env)
}

fn factory() -> &'static ParserFactory {
    static F: OnceLock<ParserFactory> = OnceLock::new();
    F.get_or_init(|| {
        let mut f = ParserFactory::new_simple(env()).expect("a parser factory");
        f.set_stderr_log_level(0);
        f
    })
}

/// A matcher of the grammar's Lark text (an error if llguidance refuses the grammar).
fn matcher(g: &Grammar) -> Matcher {
    let lark = g.lark();
    let parser = factory()
        .create_parser(TopLevelGrammar::from_lark(lark.clone()))
        .unwrap_or_else(|e| panic!("llguidance refuses the grammar: {e}\n{lark}"));
    Matcher::new(Ok(parser))
}

/// Whether the grammar accepts `text` whole.
fn accepts(m: &Matcher, text: &str) -> Result<(), String> {
    let mut m = m.deep_clone();
    let toks = env().tokenize_bytes(text.as_bytes());
    m.consume_tokens(&toks)
        .map_err(|e| format!("stopped: {e}"))?;
    match m.is_accepting() {
        Ok(true) => Ok(()),
        Ok(false) => Err("incomplete".into()),
        Err(e) => Err(format!("no answer: {e}")),
    }
}

fn check(path: &str) -> (flowc::driver::Checked, String) {
    let text = std::fs::read_to_string(path).expect("reads");
    let c = flowc::driver::check_source(path, &text, &flowc::driver::FsLoader::here());
    assert!(!c.has_errors(), "{path} checks: {:?}", c.diagnostics);
    (c, text)
}

/// The spans of every block of statements under `e`.
fn blocks_in(e: &Expr, out: &mut Vec<(u32, u32)>) {
    let mut push = |b: &Block| out.push((b.span.start, b.span.end));
    match &e.kind {
        ExprKind::Sequence { block, .. } | ExprKind::Dag { block, .. } => push(block),
        ExprKind::If {
            then, otherwise, ..
        } => {
            push(then);
            if let Some(o) = otherwise
                && let Else::Block(b) = &**o
            {
                push(b);
            }
        }
        ExprKind::Loop { body, .. } | ExprKind::For { body, .. } => push(body),
        ExprKind::Try { body, handler, .. } => {
            push(body);
            push(handler);
        }
        ExprKind::Block(b) => push(b),
        _ => {}
    }
    children(e, &mut |c| blocks_in(c, out));
}

/// Each block body of each flow of the root module, with the spec of its
/// scope: the flow's parameters, the names its body binds, every tool and
/// flow of the module and its imports.
fn bodies(program: &Program, text: &str) -> Vec<(String, Spec)> {
    let m = program.root;
    let md = &program.modules[m];
    let mut out = Vec::new();
    for item in &md.ast.items {
        let ItemKind::Flow(f) = &item.kind else {
            continue;
        };
        let sig = &md.flows[f.name.name.as_str()];
        let params: Vec<(String, flowc::types::Type)> = sig
            .params
            .iter()
            .map(|p| (p.name.clone(), p.ty.clone()))
            .collect();
        let flow_text = &text[f.body.span.start as usize..f.body.span.end as usize];
        let mut blocks = vec![(f.body.span.start, f.body.span.end)];
        for s in &f.body.stmts {
            let e = match &s.kind {
                StmtKind::Let { value, .. } => value,
                StmtKind::Expr { expr, .. } => expr,
                _ => continue,
            };
            blocks_in(e, &mut blocks);
        }
        let ret = sig
            .ret
            .clone()
            .or_else(|| program.flow_types.get(&(m, sig.name.clone())).cloned());
        for (i, (start, end)) in blocks.into_iter().enumerate() {
            let inner = &text[start as usize + 1..end as usize - 1];
            if inner.trim().is_empty() {
                continue;
            }
            let mut spec = scope::spec_for(
                program,
                m,
                &params,
                scope::all_callables(program, m),
                flow_text,
                true,
            );
            spec.comments = true;
            // A flow's body is written as a value of the flow's type.
            if i == 0 {
                spec.expected = ret.clone();
            }
            out.push((inner.to_string(), spec));
        }
    }
    out
}

#[test]
fn the_grammar_accepts_every_block_body_of_the_examples_and_the_stdlib() {
    let mut files: Vec<String> = Vec::new();
    for dir in ["examples", "stdlib/std"] {
        for e in std::fs::read_dir(dir).expect("reads the folder") {
            let p = e.expect("an entry").path();
            if p.extension().is_some_and(|x| x == "flow") {
                files.push(p.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    let mut n = 0;
    let mut failed = Vec::new();
    for f in &files {
        let (c, text) = check(f);
        for (body, spec) in bodies(&c.program, &text) {
            let g = replan_grammar::block_body(&spec);
            let m = matcher(&g);
            if let Err(e) = accepts(&m, &body) {
                let head: String = e.lines().next().unwrap_or_default().into();
                let at = e
                    .split("Tokens: ⟦")
                    .nth(1)
                    .and_then(|t| t.split('⟧').next())
                    .unwrap_or_default()
                    .replace('‧', "");
                let at: String = at
                    .chars()
                    .rev()
                    .take(60)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                failed.push(format!("{f}: {head} after {at:?}"));
            }
            n += 1;
        }
    }
    assert!(n > 40, "only {n} block bodies found");
    assert!(
        failed.is_empty(),
        "{} of {n} refused:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// The spec of the re-planned block of `examples/replan.flow`, as a re-plan
/// builds it: the site's scope, the tools the policy allows.
fn replan_site_spec() -> Spec {
    let (c, text) = check("examples/replan.flow");
    let p = &c.program;
    let m = p.root;
    let (key, site) = p
        .replan_sites
        .iter()
        .find(|((f, start), _)| {
            *f == p.modules[m].file && text[*start as usize..].starts_with("dag")
        })
        .expect("the re-plan site");
    let policy = p.modules[m].policies.get("analysis").expect("the policy");
    let callables = scope::all_callables(p, m)
        .into_iter()
        .filter(|c| {
            let sig = p.modules[m].tools.get(&c.name);
            sig.is_some_and(|s| {
                policy.allows(&s.name)
                    && !(s.effect && policy.effects == flowc::check::policy::Effects::Deny)
            })
        })
        .collect();
    let block = &text[key.1 as usize..];
    let block = &block[..block.find("\n    }").expect("the block's end")];
    let mut spec = scope::spec_for(p, m, &site.names, callables, block, false);
    spec.expected = Some(site.ty.clone());
    spec.no_constant = true;
    spec
}

#[test]
fn the_grammar_accepts_the_tests_fragments_and_refuses_what_the_checker_would() {
    let g = replan_grammar::block_body(&replan_site_spec());
    let m = matcher(&g);
    for ok in [
        // examples/replan.flow's `mock llm` and the recorded answer.
        "cpu_analysis(ci_ids: [id]).anomalies ++ network_analysis(ci_ids: [id]).anomalies",
        "let a = cpu_analysis(ci_ids: [id])\nlet b = memory_analysis(ci_ids: [id])\na.anomalies ++ b.anomalies",
        "cpu_analysis(ci_ids: [ci_id]).anomalies",
        "try { cpu_analysis(ci_ids: [id]).anomalies } catch e { [] }",
        "cpu_analysis(ci_ids: ci_detail_lookup(ci_id: id).rows[*].ci_id).anomalies",
    ] {
        accepts(&m, ok).unwrap_or_else(|e| panic!("refused ({e}): {ok}"));
    }
    for (bad, why) in [
        ("foo(ci_ids: [id]).anomalies", "a name out of scope"),
        (
            "cpu_analysis(ci_ids: [host]).anomalies",
            "a name out of scope",
        ),
        (
            "let t = open_ticket(ci_id: id, reason: \"down\")\n[]",
            "an effect tool the policy denies",
        ),
        ("cpu_analysis(ci_ids: [id]).anomalys", "an unknown field"),
        (
            "cpu_analysis(ci_ids: [id]).anomalies[0].severity",
            "an unknown field",
        ),
        (
            "cpu_analysis(ids: [id]).anomalies",
            "an unknown named argument",
        ),
        ("import os\nos.system(\"ls\")", "Python"),
        // The block is a list of anomalies: its value cannot be a number,
        // a string, a field of another type; an argument of type `[string]`
        // cannot be a number.
        ("42", "a number for a list of records"),
        (
            "cpu_analysis(ci_ids: [1, 2]).anomalies",
            "a list of numbers for a list of strings",
        ),
        ("-1.20\n-1.34\n[]", "numbers as statements"),
        ("[]", "a constant for the block's value"),
        // What a re-plan's answer may not hold, though the checker takes it:
        // a `let` binds a call of a tool or a flow, not a block form.
        (
            "let result = parallel {\n    a = cpu_analysis(ci_ids: [id])\n    b = network_analysis(ci_ids: [id])\n}\nresult.a.anomalies ++ result.b.anomalies",
            "a block form bound by `let`",
        ),
        (
            "if len(id) > 0 { cpu_analysis(ci_ids: [id]).anomalies } else { [] }",
            "a block form other than `try` as the block's value",
        ),
        (
            "for a in cpu_analysis(ci_ids: [id]).anomalies { { metric: a.metric, score: a.score } }",
            "a block form other than `try` as the block's value",
        ),
        (
            "[network_analysis(ci_ids: [\"CI-1\"]).anomalies[0]]",
            "a made-up argument",
        ),
        (
            "[{ metric: \"cpu\", score: 0.5 }]",
            "a constant for the block's value",
        ),
        (
            "cpu_analysis(ci_ids: [id]).anomalies\n;\n",
            "layout after the value",
        ),
        (
            "cpu_analysis(ci_ids: [id]).anomalies[0].metric",
            "a string for a list",
        ),
        ("\"cpu\"", "a string for a list"),
        (
            "cpu_analysis(ci_ids: 5).anomalies",
            "a number for a list of strings",
        ),
        (
            "cpu_analysis(ci_ids: id).anomalies",
            "a string for a list of strings",
        ),
        ("The block failed because the service is down.", "prose"),
    ] {
        assert!(accepts(&m, bad).is_err(), "accepted {why}: {bad}");
    }
}

/// tests/replan.rs's flow, under a policy that allows two tools of three.
const REPLAN_TEST_FLOW: &str = r#"
type Anomaly = { metric: string, score: float }

/// The primary metrics service (down).
tool metrics_primary(ci_id: string) -> { anomalies: [Anomaly] } = builtin "fail"
/// CPU anomalies from the node exporter: a fallback.
tool cpu_fallback(ci_id: string) -> { anomalies: [Anomaly] } = exec ["python3", "cpu.py"]
tool wipe(ci_id: string) -> json = exec ["sh", "-c", "touch wiped"]
policy ops { allow_tools: [metrics_primary, cpu_fallback] }

/// Analyses a CI.
flow main(ci_id: string = "CI-7") -> { ci: string, anomalies: [Anomaly] } with { policy: ops } {
    let id = lower(ci_id)
    let anomalies = dag with { replan_on_error: true, replan_cooldown: 0s } {
        let m = metrics_primary(ci_id: id)
        m.anomalies
    }
    { ci: id, anomalies }
}
"#;

/// The tests' fragments, in the scope of the block they replace, with what a
/// re-plan offers there (`run::replan::offered`, the same function).
#[test]
fn the_grammar_of_a_replan_site_takes_the_tests_fragments_and_not_a_tool_outside_allow_tools() {
    let c = flowc::driver::check_source("main.flow", REPLAN_TEST_FLOW, &flowc::check::NoFiles);
    let p = &c.program;
    let m = p.root;
    let (key, site) = p
        .replan_sites
        .iter()
        .find(|(k, _)| REPLAN_TEST_FLOW[k.1 as usize..].starts_with("dag"))
        .expect("the site");
    let lowered = flowc::ir::lower_program(p);
    let policy = p.modules[m].policies.get("ops").map(|p| &**p);
    let callables = flowc::run::replan::offered(p, &lowered, m, (m, "main"), policy)
        .into_iter()
        .map(|(s, r)| scope::callable(s, r, ""))
        .collect();
    let block = &REPLAN_TEST_FLOW[key.1 as usize..];
    let mut spec = scope::spec_for(p, m, &site.names, callables, block, false);
    spec.expected = Some(site.ty.clone());
    spec.no_constant = true;
    let g = replan_grammar::block_body(&spec);
    let mt = matcher(&g);
    for ok in [
        "let c = cpu_fallback(ci_id: id)\nc.anomalies",
        "metrics_primary(ci_id: id).anomalies",
        "let s = cpu_fallback(ci_id: id)\ns.anomalies",
        "cpu_fallback(ci_id: ci_id).anomalies",
    ] {
        accepts(&mt, ok).unwrap_or_else(|e| panic!("refused ({e}): {ok}"));
    }
    for bad in [
        "let w = wipe(ci_id: id)\n[]",
        "let c = cpu(ci_id: id)\nc.anomalies",
        "cpu_fallback(ci: id).anomalies",
        "cpu_fallback(ci_id: ci).anomalies",
    ] {
        assert!(accepts(&mt, bad).is_err(), "accepted {bad:?}");
    }
}

/// Every text the grammar generates parses as a block body: a few thousand
/// samples, from a seeded generator (the same each run).
#[test]
fn every_text_the_grammar_generates_parses() {
    let mut spec = replan_site_spec();
    let g = replan_grammar::block_body(&spec);
    spec.comments = true;
    let with_comments = replan_grammar::block_body(&spec);
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut choose = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let m = matcher(&g);
    let mut failed = Vec::new();
    for i in 0..3000 {
        let grammar = if i % 3 == 0 { &with_comments } else { &g };
        let body = grammar.sample(&mut choose, 3 + i % 5);
        let src = format!("flow f() {{\n{body}\n}}\n");
        let file = flowc::source::Sources::new().add("sample.flow", src.clone());
        let (_, diags) = flowc::syntax::parse::parse(file, &src);
        if diags.iter().any(|d| d.is_error()) {
            failed.push(format!("{body:?}: {}", diags[0].message));
        }
        if i % 3 != 0 {
            // The Lark text llguidance runs accepts what the grammar generates.
            if let Err(e) = accepts(&m, &body) {
                failed.push(format!("{body:?}: llguidance: {e}"));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 3000:\n{}",
        failed.len(),
        failed
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_decision_grammar_takes_only_the_labels() {
    let g = replan_grammar::labels(&["continue".into(), "retry".into(), "escalate".into()]);
    let m = matcher(&g);
    for ok in ["continue", "retry", "escalate"] {
        accepts(&m, ok).unwrap_or_else(|e| panic!("refused ({e}): {ok}"));
    }
    for bad in ["1. Monitor\n2. Escalate", "Retry", "retry it", ""] {
        assert!(accepts(&m, bad).is_err(), "accepted {bad:?}");
    }
    assert_eq!(
        g.gbnf(),
        "root ::= (\"continue\" | \"retry\" | \"escalate\")\n"
    );
}

/// The rule names a GBNF line refers to: identifiers outside quotes and `[…]`.
fn gbnf_refs(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut class, mut escaped) = (false, false, false);
    for ch in body.chars().chain(std::iter::once(' ')) {
        if escaped {
            escaped = false;
            continue;
        }
        if (quoted || class) && ch == '\\' {
            escaped = true;
            continue;
        }
        match ch {
            '"' if !class => quoted = !quoted,
            '[' if !quoted => class = true,
            ']' if class => class = false,
            c if !quoted && !class && (c.is_ascii_alphanumeric() || c == '-') => {
                cur.push(c);
                continue;
            }
            _ => {}
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

#[test]
fn the_gbnf_defines_each_rule_once_and_every_rule_it_names() {
    // llama.cpp keeps the last of two rules of one name: a second
    // definition silently changes the grammar.
    let g = replan_grammar::block_body(&replan_site_spec());
    let gbnf = g.gbnf();
    let mut defined = std::collections::HashSet::new();
    let mut refs = Vec::new();
    for line in gbnf.lines() {
        let (name, body) = line.split_once(" ::= ").expect("a rule a line");
        assert!(
            defined.insert(name.to_string()),
            "`{name}` defined twice:\n{gbnf}"
        );
        refs.extend(gbnf_refs(body));
    }
    assert!(defined.contains("root"));
    for r in refs {
        assert!(
            defined.contains(&r),
            "`{r}` is named but not defined:\n{gbnf}"
        );
    }
}
