//! LLM decisions: `decide` and `llm()`, each a step of kind `llm`.

use futures_util::future::join_all;
use serde_json::{Map, Value};

use super::Interp;
use super::errors::{ErrorKind, R, RunError};
use super::eval::{Scope, collect};
use super::llm::{self, DecisionRequest, Outcome};
use super::record;
use super::record::{StepKind, StepStatus};
use super::value::to_text;
use crate::ir::StepPath;
use crate::ir::expr::{Call, DecideArm, Expr};
use crate::span::Span;

impl<'p> Interp<'p> {
    /// `file:line:column` of a span.
    pub(super) fn position(&self, span: Span) -> String {
        let f = self.sources.get(span.file);
        let (line, column) = crate::span::line_col(&f.text, span.start as usize);
        format!("{}:{line}:{column}", f.name)
    }

    /// The source text of an expression, on one line, shortened.
    pub(super) fn source_text(&self, span: Span) -> String {
        let text = &self.sources.get(span.file).text;
        let raw = text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("");
        let one_line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        crate::run::tools::head(&one_line, 160)
    }

    /// Asks the LLM hook; a step of kind `llm` in the run record.
    pub(super) async fn ask_llm(
        &self,
        req: &DecisionRequest,
        span: Span,
        sc: &Scope,
    ) -> R<Outcome> {
        self.hold_llm_to_policy("decision", span, sc)?;
        // On resume, a journaled decision is replayed, not asked again.
        let what = decision_key(req);
        if let Some((o, first)) = self.journaled_decision(req, &what, sc) {
            let id = self
                .recorder
                .start(&sc.label, &sc.path, req.kind, StepKind::Llm, span);
            self.recorder.replayed(id);
            self.replayed.set(self.replayed.get() + 1);
            self.journal_decision(req, &what, &o, "replayed", first, span, sc);
            return Ok(o);
        }
        // Once the run pauses at an `approve`, no new decision is asked.
        let _started = self.pause.hold().await;
        let id = self
            .recorder
            .start(&sc.label, &sc.path, req.kind, StepKind::Llm, span);
        let _guard = record::StepGuard {
            recorder: &self.recorder,
            id,
        };
        let started_ms = crate::ids::now_ms();
        match self.llm.decide(req).await {
            Ok(o) => {
                // The host keeps the answer (on Restate the first one at this
                // path: a run that starts again on another worker decides as before).
                let o = match self.host.decided(&sc.path, outcome_json(&o)).await {
                    Ok(kept) => outcome_of(&kept, req).unwrap_or(o),
                    Err(m) => {
                        let e = RunError::new(
                            ErrorKind::LlmError,
                            format!("the decision could not be kept: {m}"),
                            &*sc.label,
                            span,
                        )
                        .at(&sc.path);
                        self.recorder
                            .end(id, StepStatus::Failed, 1, Some(e.record()));
                        return Err(vec![e]);
                    }
                };
                self.recorder.end(id, StepStatus::Ok, 1, None);
                // The decision is journaled by its path (docs/store.md).
                self.journal_decision(req, &what, &o, "ok", (started_ms, None), span, sc);
                Ok(o)
            }
            Err(m) => {
                let mut e = RunError::new(ErrorKind::LlmError, m, &*sc.label, span).at(&sc.path);
                e = if self.llm.has_provider() {
                    e.with_help("catch `llm_error` to go on without the decision")
                } else {
                    e.with_help(format!(
                        "choose a provider with {} (or `[llm] provider = \"…\"` in a flowc.toml beside the flow); or give the step a fallback with `catch`",
                        llm::CHOICES
                    ))
                };
                self.recorder
                    .end(id, StepStatus::Failed, 1, Some(e.record()));
                Err(vec![e])
            }
        }
    }

    /// `decide "prompt" with ctx { label => … else => … }`.
    pub(super) async fn decide(
        &self,
        prompt: &Expr,
        context: Option<&Expr>,
        arms: &[DecideArm],
        span: Span,
        sc: &Scope,
    ) -> R<Value> {
        let prompt_v = self.eval(prompt, sc).await?;
        let ctx = match context {
            Some(c) => self.eval(c, sc).await?,
            None => Value::Null,
        };
        let labelled: Vec<&DecideArm> = arms.iter().filter(|a| !a.is_else).collect();
        let req = DecisionRequest {
            step: sc.label.to_string(),
            path: sc.path.to_string(),
            kind: "decide",
            at: self.position(span),
            prompt: to_text(&prompt_v),
            context: ctx,
            options: labelled.iter().map(|a| a.label.clone()).collect(),
            descriptions: labelled
                .iter()
                .map(|a| self.source_text(a.body.span))
                .collect(),
        };
        let arm = match self.ask_llm(&req, span, sc).await? {
            Outcome::Chosen(label) => labelled.into_iter().find(|a| a.label == label),
            Outcome::NoValidAnswer { answers } => match arms.iter().find(|a| a.is_else) {
                Some(e) => Some(e),
                None => {
                    return Err(vec![
                        RunError::new(
                            ErrorKind::LlmError,
                            format!(
                                "no valid answer in {} attempts (options: {}; answers: {})",
                                answers.len(),
                                req.options.join(", "),
                                quoted(&answers)
                            ),
                            &*sc.label,
                            span,
                        )
                        .at(&sc.path)
                        .with_help("add an `else =>` arm for this case, or catch `llm_error`"),
                    ]);
                }
            },
        };
        let arm = arm.expect("the chosen label is one of the arms");
        self.eval(&arm.body, sc).await
    }

    /// `llm("question", values…)`: a yes/no condition, the step at `path`.
    pub(super) async fn llm_condition(
        &self,
        c: &Call,
        span: Span,
        sc: &Scope,
        path: StepPath,
    ) -> R<Value> {
        let vals = collect(join_all(c.args.iter().map(|a| self.eval(&a.value, sc))).await)?;
        let sc = &Scope { path, ..sc.clone() };
        let mut context = Map::new();
        for (a, v) in c.args.iter().zip(&vals).skip(1) {
            let key = match &a.name {
                Some(n) => n.to_string(),
                None => self.source_text(a.value.span),
            };
            context.insert(key, v.clone());
        }
        let req = DecisionRequest {
            step: sc.label.to_string(),
            path: sc.path.to_string(),
            kind: "llm",
            at: self.position(span),
            prompt: vals.first().map(to_text).unwrap_or_default(),
            context: if context.is_empty() {
                Value::Null
            } else {
                Value::Object(context)
            },
            options: vec!["yes".into(), "no".into()],
            descriptions: vec!["the condition holds".into(), "it does not".into()],
        };
        match self.ask_llm(&req, span, sc).await? {
            Outcome::Chosen(label) => Ok(Value::Bool(label == "yes")),
            Outcome::NoValidAnswer { answers } => Err(vec![
                RunError::new(
                    ErrorKind::LlmError,
                    format!(
                        "no yes or no in {} attempts (answers: {})",
                        answers.len(),
                        quoted(&answers)
                    ),
                    &*sc.label,
                    span,
                )
                .at(&sc.path)
                .with_help("catch `llm_error` to choose a default, e.g. `llm(…) catch false`"),
            ]),
        }
    }
}

impl Interp<'_> {
    /// A decision's row in the journal: its outcome as the result, the hash
    /// of what was asked, `ok` or `replayed`; when it started and ended
    /// (`None`: now).
    #[allow(clippy::too_many_arguments)]
    fn journal_decision(
        &self,
        req: &DecisionRequest,
        what: &Value,
        o: &Outcome,
        status: &str,
        (started_ms, ended_ms): (i64, Option<i64>),
        span: Span,
        sc: &Scope,
    ) {
        if self.host.journal().is_none() {
            return;
        }
        // What was asked (prompt, context, options) is the decision's arguments.
        let asked = crate::value::canonical(what);
        let hash = crate::ids::cache_key(req.kind, &asked);
        let result = outcome_json(o);
        self.journal_step(
            super::host::Row {
                path: &sc.path.to_string(),
                step: Some(&sc.label),
                tool: req.kind,
                kind: Some("llm"),
                status,
                attempts: 1,
                result: Some(&result),
                started_ms,
                ended_ms,
                args_sha256: Some(&hash),
                args: Some(&asked),
                ..Default::default()
            },
            span,
        );
    }

    /// On resume: the journaled outcome of the decision at `sc.path`, when
    /// it was of the same kind (and, with `--allow-changed`, of the same
    /// prompt, context and options), with when it was first decided.
    fn journaled_decision(
        &self,
        req: &DecisionRequest,
        what: &Value,
        sc: &Scope,
    ) -> Option<(Outcome, (i64, Option<i64>))> {
        let r = self.host.replay()?;
        let done = r.done.get(&sc.path.to_string())?;
        if done.tool != req.kind {
            return None;
        }
        if r.check_args
            && done.args_sha256.as_deref()
                != Some(crate::ids::cache_key(req.kind, &crate::value::canonical(what)).as_str())
        {
            return None;
        }
        let o = outcome_of(done.result.as_ref()?, req)?;
        Some((o, (done.started_ms, done.ended_ms)))
    }
}

/// A decision's outcome from its journal row (`None` for one `req` could not give).
fn outcome_of(v: &Value, req: &DecisionRequest) -> Option<Outcome> {
    match (v.get("label"), v.get("answers")) {
        (Some(Value::String(l)), _) if req.options.contains(l) => Some(Outcome::Chosen(l.clone())),
        (_, Some(Value::Array(a))) => Some(Outcome::NoValidAnswer {
            answers: a.iter().map(to_text).collect(),
        }),
        _ => None,
    }
}

/// What a decision was asked: hashed into its journal row.
fn decision_key(req: &DecisionRequest) -> Value {
    serde_json::json!({
        "prompt": req.prompt,
        "context": req.context,
        "options": req.options,
    })
}

/// A decision's outcome as its journal row keeps it.
fn outcome_json(o: &Outcome) -> Value {
    match o {
        Outcome::Chosen(label) => serde_json::json!({ "label": label }),
        Outcome::NoValidAnswer { answers } => serde_json::json!({ "answers": answers }),
    }
}

/// Answers for an error message: quoted, shortened.
pub(super) fn quoted(answers: &[String]) -> String {
    answers
        .iter()
        .map(|a| format!("{:?}", crate::run::tools::head(a, 60)))
        .collect::<Vec<_>>()
        .join(", ")
}
