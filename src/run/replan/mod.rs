//! Re-planning (docs/language.md, "Re-planning"): a block (or flow body) that states
//! `replan_on_error` and fails with a trigger asks the LLM provider for a
//! replacement body; the answer must check in the block's scope, against its
//! type, under its policy, or its diagnostics go back for a repair. An
//! accepted fragment runs in place of the block, its steps under
//! `…/replan[k]/`; it is journaled first, so `flowc resume` runs it again
//! instead of asking. Budgets: `max_replans` per run, `replan_cooldown`
//! between two re-plans of one block; when they are used up, or no fragment
//! checks, the original failure stands with a note listing the attempts.

mod request;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::errors::{Errors, R};
use super::eval::Scope;
use super::llm::{Answer, AskError, Decision, DecisionOutcome, DecisionRequest, Message};
use super::record::{ReplanAttempt, ReplanRecord};
use super::{Env, Interp, RunConfig};
use crate::check::policy::DEFAULT_FRAGMENT_TIMEOUT;
use crate::check::{BlockKey, Signature, Type};
use crate::ir::StepPath;
use crate::ir::expr::{Expr, Flow};
use crate::ir::slots::Slot;
use crate::span::Span;

pub use request::{
    Ask, InScope, Length, binds_line, offered, reference, reference_more, system_prompt,
};

/// The re-plans of one run.
#[derive(Default)]
pub(super) struct State {
    /// Re-plans started this run (for `max_replans`).
    count: Cell<u32>,
    /// When each block (by source position) was last re-planned (for `replan_cooldown`).
    last: RefCell<HashMap<BlockKey, Instant>>,
    /// Re-plans of each block path so far (the `k` of `replan[k]`).
    per_path: RefCell<HashMap<String, u32>>,
    pub records: RefCell<Vec<ReplanRecord>>,
    /// This interpreter runs a fragment: no re-plans inside it.
    pub in_fragment: Cell<bool>,
}

/// The block being re-planned.
pub(super) struct Site<'p> {
    /// The block expression's (or flow body's) key in `Program::replan_sites`.
    pub key: BlockKey,
    /// The block's source, for the request and error positions.
    pub span: Span,
    pub flow: &'p str,
    pub flow_doc: Option<&'p str>,
    /// The frame the block's names are read from (around it).
    pub env: Rc<Env>,
}

/// How one re-plan ended.
enum Ended {
    /// A fragment checked (or was journaled): its program, and its text.
    Accepted(Box<request::Checked>, String),
    /// Nothing to run; the note says why.
    NotRun(String),
}

const DEFAULT_MAX_REPLANS: u32 = 3;
const DEFAULT_COOLDOWN: Duration = Duration::from_secs(60);
const DEFAULT_REPAIRS: u32 = 2;

impl<'p> Interp<'p> {
    /// Does this expression state `replan_on_error: true` for itself?
    pub(super) fn replans_here(&self, e: &Expr) -> bool {
        !self.replan.in_fragment.get()
            && self
                .opts_of(e.block_options())
                .is_some_and(|o| o.replan_on_error == Some(true))
    }

    /// The outcome of a block that may be re-planned: `r` when it succeeded
    /// or failed without a trigger, else a fragment's result or the original
    /// failure with notes. `sc`: the block's scope with its own options.
    pub(super) async fn replan_block(&self, e: &Expr, sc: &Scope, r: R<Value>) -> R<Value> {
        let errs = match r {
            Ok(v) => return Ok(v),
            Err(errs) => errs,
        };
        let site = Site {
            key: (e.span.file, e.span.start),
            span: e.span,
            flow: self.flow_of(sc),
            flow_doc: self.flow_doc(sc),
            env: sc.env.clone(),
        };
        self.replan(site, sc, errs).await
    }

    /// [`Interp::replan_block`] for a flow's body.
    pub(super) async fn replan_flow(&self, flow: &Flow, sc: &Scope, r: R<Value>) -> R<Value> {
        let errs = match r {
            Ok(v) => return Ok(v),
            Err(errs) => errs,
        };
        if self.replan.in_fragment.get() {
            return Err(errs);
        }
        let site = Site {
            key: flow.body.key,
            span: flow.body.span,
            flow: self.flow_of(sc),
            flow_doc: self.flow_doc(sc),
            env: sc.env.clone(),
        };
        self.replan(site, sc, errs).await
    }

    fn flow_of(&self, sc: &Scope) -> &'p str {
        self.program
            .modules
            .get(sc.module)
            .and_then(|m| m.flows.get_key_value(&*sc.flow))
            .map_or("", |(k, _)| k.as_str())
    }

    fn flow_doc(&self, sc: &Scope) -> Option<&'p str> {
        let name = self.flow_of(sc);
        self.program
            .modules
            .get(sc.module)?
            .flows
            .get(name)?
            .doc
            .as_deref()
    }

    async fn replan(&self, site: Site<'p>, sc: &Scope, mut errs: Errors) -> R<Value> {
        let block_path = sc.path.clone();
        loop {
            if !errs.iter().any(|e| sc.opts.replans_on(e.kind)) {
                return Err(errs);
            }
            let max = sc.opts.max_replans.unwrap_or(DEFAULT_MAX_REPLANS);
            if self.replan.count.get() >= max {
                note(
                    &mut errs,
                    format!("not re-planned: this run has used its `max_replans: {max}`"),
                );
                return Err(errs);
            }
            // Counted before the cooling period: blocks failing at once cannot
            // all pass the budget while they wait.
            self.replan.count.set(self.replan.count.get() + 1);
            let cooldown = sc.opts.replan_cooldown.unwrap_or(DEFAULT_COOLDOWN);
            let last = self.replan.last.borrow().get(&site.key).copied();
            if let Some(t) = last
                && let Some(wait) = cooldown.checked_sub(t.elapsed())
            {
                Box::pin(super::timer::sleep(wait)).await;
            }
            self.replan
                .last
                .borrow_mut()
                .insert(site.key, Instant::now());
            let k = {
                let mut per = self.replan.per_path.borrow_mut();
                let n = per.entry(block_path.to_string()).or_insert(0);
                *n += 1;
                *n
            };
            let path = block_path.child(&format!("replan[{k}]"));
            let scope = self.scope_of(&site);
            let expected = self
                .program
                .replan_sites
                .get(&site.key)
                .map_or(Type::Json, |s| s.ty.clone());
            match self
                .one_replan(&site, sc, &errs, &scope, &expected, &path)
                .await
            {
                Ended::NotRun(why) => {
                    note(&mut errs, why);
                    return Err(errs);
                }
                Ended::Accepted(checked, fragment) => {
                    let inputs: Map<String, Value> = scope
                        .iter()
                        .map(|s| (s.name.clone(), s.value.clone()))
                        .collect();
                    match Box::pin(self.run_fragment(&checked, inputs, &path, site.span, sc)).await
                    {
                        Ok(v) => return Ok(v),
                        Err(mut e2) => {
                            let first = fragment.lines().next().unwrap_or_default();
                            note(
                                &mut e2,
                                format!(
                                    "the block was re-planned at `{path}` (`{first}` …), and the fragment failed"
                                ),
                            );
                            for e in &mut e2 {
                                e.span = site.span;
                            }
                            errs = e2;
                        }
                    }
                }
            }
        }
    }

    /// The names in the block's scope that have a value now, with their
    /// checked types.
    fn scope_of(&self, site: &Site<'p>) -> Vec<InScope> {
        let (Some(names), Some(rs)) = (
            self.lowered.scope(site.key),
            self.program.replan_sites.get(&site.key),
        ) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, ty) in &rs.names {
            let Some((_, slot)) = names.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            let Slot::Local { up, index } = *slot else {
                continue;
            };
            if let Some(value) = site.env.get(up, index) {
                out.push(InScope {
                    name: name.clone(),
                    ty: ty.clone(),
                    value,
                });
            }
        }
        out
    }

    /// The tools and flows a fragment of module `m` may call under `sc`'s
    /// policy: the tools it allows (`allow_tools`, no `effect` tool under
    /// `effects: "deny"`), and the flows whose every tool it allows, except
    /// the failed flow and the flows that reach it (a call would fail again
    /// or recurse).
    fn callable(&self, m: usize, sc: &Scope) -> Vec<(&'p Signature, Option<Type>)> {
        request::offered(
            self.program,
            &self.lowered,
            m,
            (sc.module, &sc.flow),
            sc.policy.as_deref(),
        )
    }

    /// Asks for a fragment (or takes the journaled one) and checks it.
    #[allow(clippy::too_many_arguments)]
    async fn one_replan(
        &self,
        site: &Site<'p>,
        sc: &Scope,
        errs: &Errors,
        scope: &[InScope],
        expected: &Type,
        path: &StepPath,
    ) -> Ended {
        let t0 = Instant::now();
        let md = &self.program.modules[sc.module];
        let file = self.sources.get(md.file);
        let block = dedent(&file.text, site.span);
        let ask = Ask {
            flow: site.flow,
            flow_doc: site.flow_doc,
            block: &block,
            errors: errs,
            scope,
            callable: self.callable(sc.module, sc),
            policy: sc.policy.as_deref(),
            expected,
        };
        let request = ask.json();
        let provider = self.llm.provider_name().unwrap_or_default();
        let mut rec = ReplanRecord {
            path: path.to_string(),
            block: block.clone(),
            errors: errs.iter().map(|e| e.record_at(self.sources)).collect(),
            provider: provider.clone(),
            start_ms: self.recorder.now_ms(),
            end_ms: 0.0,
            outcome: "rejected",
            request: request.clone(),
            attempts: Vec::new(),
            fragment: None,
            error: None,
            notes: Vec::new(),
        };
        let check = |fragment: &str| {
            request::check(
                self.sources,
                md.file,
                site.flow,
                fragment,
                scope,
                expected,
                sc.policy.as_ref(),
                self.loader.as_deref(),
            )
        };
        let finish = |mut rec: ReplanRecord, outcome: &'static str| {
            rec.outcome = outcome;
            rec.end_ms = self.recorder.now_ms();
            self.replan.records.borrow_mut().push(rec);
        };
        // On resume, the journaled fragment runs again; nobody is asked.
        let key = path.to_string();
        if let Some(done) = self.host.replay().and_then(|r| r.done.get(&key))
            && done.tool == "replan"
            && let Some(fragment) = done
                .result
                .as_ref()
                .and_then(|v| v.get("fragment"))
                .and_then(Value::as_str)
        {
            match check(fragment) {
                Ok(checked) => {
                    rec.fragment = Some(fragment.to_string());
                    finish(rec, "replayed");
                    return Ended::Accepted(Box::new(checked), fragment.to_string());
                }
                Err(diags) => {
                    let why = format!(
                        "the journaled fragment of `{key}` no longer checks ({})",
                        diags.join("; ")
                    );
                    rec.error = Some(why.clone());
                    finish(rec, "failed");
                    return Ended::NotRun(why);
                }
            }
        }
        let req = DecisionRequest {
            step: key.clone(),
            path: key.clone(),
            kind: "replan",
            at: self.position(site.span),
            prompt: format!("Write a replacement for the failed block at `{key}`."),
            context: request,
            options: Vec::new(),
            descriptions: Vec::new(),
        };
        // The grammar of what the checker would accept here, for the model's decoder.
        let (grammar, binds) = ask.grammar(self.program, sc.module);
        let constraint = super::llm::Constraint::Grammar(grammar);
        let binds_line = request::binds_line(&binds);
        let user = ask.text(Length::Full) + &binds_line;
        // The re-plan is a step of kind `llm` in the record and the live view.
        let id = self.recorder.start(
            &sc.label,
            path,
            "replan",
            super::record::StepKind::Llm,
            site.span,
        );
        let _guard = super::record::StepGuard {
            recorder: &self.recorder,
            id,
        };
        let mut messages = vec![
            Message {
                role: "system",
                content: system_prompt(Length::Full),
            },
            Message {
                role: "user",
                content: user.clone(),
            },
        ];
        let repairs = sc.opts.replan_repairs.unwrap_or(DEFAULT_REPAIRS);
        let mut answers = Vec::new();
        let mut prompt = user;
        let mut accepted = None;
        let mut failure = None;
        // How far the request was shortened to fit the model's context: 0
        // whole; 1 the short system and user messages; 2 besides, a repair
        // carries only the last answer (cut) and its diagnostics.
        let mut shortened = 0;
        for attempt in 1..=repairs + 1 {
            if let Err(e) = self.hold_llm_to_policy("re-planning request", site.span, sc) {
                failure = Some(e[0].message.clone());
                break;
            }
            let started = self.recorder.now_ms();
            // A request the model's context cannot hold is sent again,
            // shorter; it stays short for the repairs.
            let asked = loop {
                match self
                    .llm
                    .ask_raw_constrained(&req, &messages, attempt, &constraint)
                    .await
                {
                    Err(AskError::TooLong(t)) if shortened == 0 => {
                        shortened = 1;
                        messages[0].content = system_prompt(Length::Short);
                        messages[1].content = ask.text(Length::Short) + &binds_line;
                        if attempt == 1 {
                            prompt = messages[1].content.clone();
                        }
                        rec.notes.push(format!(
                            "the request was shortened to fit {}: the language reference \
                             without its optional parts, no flow documentation or policy \
                             text, values to {} characters",
                            t.context(),
                            request::SHORT_VALUE_CHARS
                        ));
                    }
                    Err(AskError::TooLong(t)) if shortened == 1 && messages.len() > 2 => {
                        shortened = 2;
                        compact(&mut messages);
                        rec.notes.push(format!(
                            "the repairs were shortened to fit {}: only the last answer (its \
                             first {REPAIR_ANSWER_CHARS} characters) and its diagnostics",
                            t.context()
                        ));
                    }
                    Err(AskError::TooLong(t)) => {
                        break Err(format!(
                            "the re-planning request does not fit {}, even shortened; serve \
                             the model with a larger context (llama.cpp: `--ctx-size`; \
                             llama-cpp-python: `--n_ctx`) ({})",
                            t.context(),
                            t.detail
                        ));
                    }
                    Err(AskError::Failed(e)) => break Err(e),
                    Ok(a) => break Ok(a),
                }
            };
            let answer = match asked {
                Ok(Answer { text, notes }) => {
                    rec.notes.extend(notes);
                    text
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            answers.push(answer.clone());
            let fragment = request::extract(&answer);
            let result = check(&fragment);
            let diagnostics = result.as_ref().err().cloned().unwrap_or_default();
            rec.attempts.push(ReplanAttempt {
                prompt: prompt.clone(),
                answer: answer.clone(),
                diagnostics: diagnostics.clone(),
                start_ms: started,
            });
            match result {
                Ok(checked) => {
                    accepted = Some((checked, fragment));
                    break;
                }
                Err(diags) => {
                    prompt = format!(
                        "That fragment does not check:\n{}\nWrite the whole block body again, fixed.",
                        diags
                            .iter()
                            .map(|d| format!("- {d}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    );
                    messages.push(Message {
                        role: "assistant",
                        content: answer,
                    });
                    messages.push(Message {
                        role: "user",
                        content: prompt.clone(),
                    });
                    if shortened == 2 {
                        compact(&mut messages);
                    }
                }
            }
        }
        // Attempts: the answers, and the request the provider failed on.
        let asked = answers.len() as u32 + u32::from(failure.is_some());
        self.llm.log(Decision {
            step: key.clone(),
            path: key.clone(),
            kind: "replan".into(),
            at: req.at.clone(),
            prompt: req.prompt.clone(),
            context: req.context.clone(),
            options: Vec::new(),
            answers: answers.clone(),
            label: accepted.as_ref().map(|_| "accepted".to_string()),
            outcome: match (&accepted, &failure) {
                (Some(_), _) => DecisionOutcome::Chosen,
                (None, Some(_)) => DecisionOutcome::Failed,
                (None, None) => DecisionOutcome::NoValidAnswer,
            },
            error: failure.clone(),
            notes: rec.notes.clone(),
            provider,
            attempts: asked,
            start_ms: self.llm.since_start_ms(t0),
            latency_ms: t0.elapsed().as_secs_f64() * 1e3,
        });
        self.recorder.end(
            id,
            if accepted.is_some() {
                super::record::StepStatus::Ok
            } else {
                super::record::StepStatus::Failed
            },
            asked,
            None,
        );
        match (accepted, failure) {
            (Some((checked, fragment)), _) => {
                // Journaled before it runs: a resume runs this fragment again.
                self.journal_replan(&key, &rec, asked, Some(&fragment), None, site.span);
                rec.fragment = Some(fragment.clone());
                finish(rec, "accepted");
                Ended::Accepted(Box::new(checked), fragment)
            }
            (None, Some(e)) => {
                let why = format!("re-planning at `{key}` failed: {e}");
                self.journal_replan(&key, &rec, asked, None, Some(&why), site.span);
                rec.error = Some(e);
                finish(rec, "failed");
                Ended::NotRun(why)
            }
            (None, None) => {
                let n = answers.len();
                let listed: Vec<String> = rec
                    .attempts
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        format!(
                            "{}) {}",
                            i + 1,
                            a.diagnostics.first().map_or("", String::as_str)
                        )
                    })
                    .collect();
                let why = format!(
                    "re-planned at `{key}`: none of {n} fragment{} checked: {}",
                    if n == 1 { "" } else { "s" },
                    listed.join("; ")
                );
                self.journal_replan(&key, &rec, asked, None, Some(&why), site.span);
                finish(rec, "rejected");
                Ended::NotRun(why)
            }
        }
    }

    /// Journals a re-plan at its path: every answer with its prompt and
    /// diagnostics, and the accepted fragment (`ok`, committed before it runs:
    /// resume runs it again) or why none was (`failed`: resume asks again).
    fn journal_replan(
        &self,
        key: &str,
        rec: &ReplanRecord,
        asked: u32,
        fragment: Option<&str>,
        error: Option<&str>,
        span: Span,
    ) {
        let Some(j) = self.host.journal() else {
            return;
        };
        let now = crate::ids::now_ms();
        let attempts = &rec.attempts;
        let mut result = json!({ "fragment": fragment, "attempts": attempts });
        if !rec.notes.is_empty() {
            result["notes"] = json!(rec.notes);
        }
        let error = error.map(|e| json!({ "kind": "llm_error", "message": e }));
        let row = super::host::Row {
            path: key,
            tool: "replan",
            kind: Some("llm"),
            status: if fragment.is_some() { "ok" } else { "failed" },
            attempts: asked,
            result: Some(&result),
            error: error.as_ref(),
            started_ms: now,
            ended_ms: Some(now),
            ..Default::default()
        };
        let r = if fragment.is_some() {
            j.write_now(&row)
        } else {
            j.write(&row)
        };
        if let Err(e) = r {
            self.recorder.warn(
                format!("the journal could not record the re-plan `{key}`: {e}"),
                span,
                self.sources,
            );
        }
    }

    /// The interpreter of a re-planned fragment: on this run's host (its
    /// tools run where this run's do — on Restate as durable steps — with its
    /// journal, replayed steps, cache and, in a test, its mocks), with its LLM
    /// provider, loader, pause and record; the fragment's modules named as
    /// this run's (its root is the module of the re-planned block, `module`).
    fn fragment_interp<'q>(
        &'q self,
        checked: &'q request::Checked,
        config: RunConfig,
        span: Span,
        module: usize,
    ) -> Interp<'q> {
        let program = &checked.program;
        let run_modules = program
            .modules
            .iter()
            .enumerate()
            .map(|(k, md)| {
                if k == program.root {
                    return self.run_modules[module];
                }
                // An import: the module of this run read from the same file.
                let name = &checked.sources.get(md.file).name;
                self.program
                    .modules
                    .iter()
                    .position(|p| &self.sources.get(p.file).name == name)
                    .map_or(usize::MAX, |j| self.run_modules[j])
            })
            .collect();
        let mut b = Interp::builder(program, &checked.sources, config)
            .host(self.host.clone())
            .llm(self.llm.share());
        b.loader = self.loader.clone();
        b.test = self.test.clone();
        b.within = Some(super::Within {
            recorder: Rc::new(super::record::Recorder::within(self.recorder.clone(), span)),
            pause: self.pause.clone(),
            run_modules,
        });
        let sub = b.build();
        sub.replan.in_fragment.set(true);
        sub
    }

    /// Runs an accepted fragment with the block's values, its steps under
    /// `path`, sharing this run's record, journal, LLM provider and policy
    /// counts; within the block's deadline and memory budget (`sc`), and for at
    /// most the policy's `fragment_timeout`.
    async fn run_fragment(
        &self,
        checked: &request::Checked,
        inputs: Map<String, Value>,
        path: &StepPath,
        span: Span,
        sc: &Scope,
    ) -> R<Value> {
        let mut set = self.config.set.clone();
        set.replan_on_error = None;
        set.max_memory = sc.opts.max_memory;
        let config = RunConfig {
            set,
            replay: None,
            ..self.config.clone()
        };
        let sub = self.fragment_interp(checked, config, span, sc.module);
        self.policy_counts.copy_to(&sub.policy_counts);
        let stated = sc.policy.as_ref().and_then(|p| p.fragment_timeout);
        let limit = stated.unwrap_or(DEFAULT_FRAGMENT_TIMEOUT);
        let left = sc
            .deadline_at
            .map(|at| at.saturating_duration_since(Instant::now()));
        let (within, at_deadline) = match left {
            Some(l) if l < limit => (l, true),
            _ => (limit, false),
        };
        let root = path.to_string();
        let run = sub.start(request::FLOW, inputs, &root, Some(self.context_value()));
        let r = match tokio::time::timeout(within, run).await {
            Ok(r) => r,
            Err(_) => {
                let (message, help) = if at_deadline {
                    (
                        format!(
                            "the re-planned fragment at `{path}` was stopped at the deadline of the block"
                        ),
                        "raise the `deadline` around the block".to_string(),
                    )
                } else {
                    let rule = match (stated, &sc.policy) {
                        (Some(_), Some(p)) => format!("`fragment_timeout` of policy `{}`", p.name),
                        _ => "the default; a policy's `fragment_timeout` changes it".to_string(),
                    };
                    (
                        format!(
                            "the re-planned fragment at `{path}` ran longer than its time limit of {} ({rule})",
                            crate::check::options::fmt_duration(limit)
                        ),
                        "state a longer `fragment_timeout` in the flow's policy".to_string(),
                    )
                };
                Err(vec![
                    super::errors::RunError::new(
                        super::errors::ErrorKind::Timeout,
                        message,
                        &*sc.label,
                        span,
                    )
                    .at(path)
                    .with_help(help),
                ])
            }
        };
        self.llm.absorb(&sub.llm);
        sub.policy_counts.copy_to(&self.policy_counts);
        r.map_err(|mut es| {
            for e in &mut es {
                e.span = span;
            }
            es
        })
    }
}

/// The source of a span, its later lines without the indentation of its first.
pub fn dedent(text: &str, span: Span) -> String {
    let (start, end) = (span.start as usize, span.end as usize);
    let raw = text.get(start..end).unwrap_or_default();
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let indent = text[line_start..start]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .count();
    let mut out = Vec::new();
    for (i, l) in raw.lines().enumerate() {
        if i == 0 {
            out.push(l);
        } else {
            let cut = l
                .char_indices()
                .take_while(|(k, c)| *k < indent && (*c == ' ' || *c == '\t'))
                .count();
            out.push(&l[cut..]);
        }
    }
    out.join("\n")
}

/// Characters of a rejected answer a shortened repair carries.
const REPAIR_ANSWER_CHARS: usize = 300;

/// A repair conversation shortened: the system and request messages, then
/// only the last answer (its first [`REPAIR_ANSWER_CHARS`] characters) and
/// the diagnostics that followed it.
fn compact(messages: &mut Vec<Message>) {
    if messages.len() < 4 {
        return;
    }
    let tail = messages.split_off(messages.len() - 2);
    messages.truncate(2);
    for mut m in tail {
        if m.role == "assistant" && m.content.chars().count() > REPAIR_ANSWER_CHARS {
            m.content = format!(
                "{}…",
                m.content
                    .chars()
                    .take(REPAIR_ANSWER_CHARS)
                    .collect::<String>()
            );
        }
        messages.push(m);
    }
}

/// Adds a note to the first error (what `catch e` and the diagnostic show).
fn note(errs: &mut Errors, n: String) {
    if let Some(e) = errs.first_mut() {
        e.notes.push(n);
    }
}
