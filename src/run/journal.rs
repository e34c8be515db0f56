//! What a stored run writes to its journal (docs/store.md): every step it takes,
//! under its step path. The journal is both what `flowc resume` replays and
//! the step view of `flowc runs show`: tool calls with their results (or
//! failures), decisions, re-plans, flow calls, approvals, cache hits,
//! replayed steps and steps cancelled before they ended.

use serde_json::Value;

use super::Interp;
use super::errors::RunError;
use super::host::{Journal, Row, StoreError};
use super::record::StepKind;
use crate::ids::now_ms;
use crate::ir::StepPath;
use crate::ir::expr::Tool;
use crate::span::Span;
use crate::value::CallText;

/// A tool call's row while it runs: written `running` before an effect
/// starts, then `ok` or `failed` when it ends; a pure call dropped before it
/// ends (a `race` loser, `fail_fast`, a deadline, Ctrl-C) is written
/// `cancelled`. (An effect keeps its `running` row then: it may have happened.)
pub(super) struct ToolRow<'j> {
    journal: &'j dyn Journal,
    path: String,
    step: &'j str,
    tool: &'j str,
    effect: bool,
    started_ms: i64,
    /// The canonical text of the arguments (every row of the call keeps
    /// it), from which the journal computes the call's SHA-256.
    call: CallText,
    ended: bool,
}

impl<'j> ToolRow<'j> {
    pub(super) fn new(
        journal: &'j dyn Journal,
        path: String,
        step: &'j str,
        tool: &'j str,
        effect: bool,
        call: CallText,
    ) -> ToolRow<'j> {
        ToolRow {
            journal,
            path,
            step,
            tool,
            effect,
            started_ms: now_ms(),
            call,
            ended: false,
        }
    }

    fn row(&self, status: &'static str) -> Row<'_> {
        call_row(
            &self.path,
            self.step,
            self.tool,
            &self.call,
            status,
            self.started_ms,
        )
    }

    /// An effect is about to start: its `running` row (with its idempotency
    /// key), and every row before it, are committed when this returns.
    pub(super) fn started(&self, key: Option<&str>) -> Result<(), StoreError> {
        let key = key.map(|k| serde_json::json!({ "idempotency_key": k }));
        self.journal.write_now(&Row {
            result: key.as_ref(),
            ..self.row("running")
        })
    }

    /// The call ended after `attempts` attempts; `result` is `None` for a
    /// success whose value is not kept (a large pure result: it runs again
    /// on resume).
    pub(super) fn ended(
        &mut self,
        outcome: Result<Option<&Value>, &RunError>,
        attempts: u32,
    ) -> Result<(), StoreError> {
        self.ended = true;
        write_ended(self.journal, self.row("ok"), outcome, attempts, now_ms())
    }
}

/// The row of a call of `tool` at `path` with the arguments `call`.
fn call_row<'a>(
    path: &'a str,
    step: &'a str,
    tool: &'a str,
    call: &'a CallText,
    status: &'static str,
    started_ms: i64,
) -> Row<'a> {
    Row {
        path,
        step: Some(step),
        tool,
        status,
        started_ms,
        args_sha256: call.hash(),
        args: call.args(),
        hash_binding: call.binding(),
        args_bytes: match call.args() {
            Some(_) => None,
            None => Some(call.bytes() as u64),
        },
        ..Row::default()
    }
}

/// Writes `row` as the end of its call: `ok` with its result (`None`: not
/// kept), or `failed` with its error.
fn write_ended(
    journal: &dyn Journal,
    row: Row<'_>,
    outcome: Result<Option<&Value>, &RunError>,
    attempts: u32,
    ended_ms: i64,
) -> Result<(), StoreError> {
    let error = outcome
        .err()
        .and_then(|e| serde_json::to_value(e.record()).ok());
    journal.write(&Row {
        attempts,
        result: outcome.ok().flatten(),
        error: error.as_ref(),
        ended_ms: Some(ended_ms),
        status: if outcome.is_ok() { "ok" } else { "failed" },
        ..row
    })
}

/// The path and arguments of a tool call taken at once, spelled into
/// memory the interpreter keeps for them: such a call is journaled in one
/// row when it ends, with nothing allocated for it.
pub(super) struct AtOnce {
    path: String,
    call: CallText,
}

impl Default for AtOnce {
    fn default() -> AtOnce {
        AtOnce {
            path: String::new(),
            call: CallText::empty(),
        }
    }
}

impl Drop for ToolRow<'_> {
    fn drop(&mut self) {
        if !self.ended && !self.effect {
            let _ = self.journal.write(&Row {
                ended_ms: Some(now_ms()),
                ..self.row("cancelled")
            });
        }
    }
}

impl<'p> Interp<'p> {
    /// On resume: the journaled result of the tool call at `path`, when it
    /// called the same tool (and, with `--allow-changed`, with the same
    /// binding and arguments); the step is then `replayed`, and journaled so
    /// with its result, so that a later resume replays it again.
    pub(super) fn replay_tool(
        &self,
        name: &str,
        tool: &Tool<'_>,
        input: &Value,
        step: &str,
        path: &StepPath,
        span: Span,
    ) -> Option<Value> {
        let r = self.host.replay()?;
        let key = path.to_string();
        let done = r.done.get(&key)?;
        let (hash, v) = (&done.args_sha256, done.result.as_ref()?);
        if done.tool != name {
            return None;
        }
        if r.check_args {
            let now = crate::value::call_hash(&tool.binding_text, input);
            if hash.as_deref() != Some(now.as_str()) {
                return None;
            }
        }
        let id = self.recorder.start(step, path, name, StepKind::Tool, span);
        self.recorder.replayed(id);
        self.replayed.set(self.replayed.get() + 1);
        // The arguments the step was taken with, as journaled (none kept
        // by an older store: none written again).
        let args = done.args.as_ref().map(Value::to_string);
        self.journal_step(
            Row {
                path: &key,
                step: Some(step),
                tool: name,
                status: "replayed",
                result: Some(v),
                args_sha256: hash.as_deref(),
                args: args.as_deref(),
                args_bytes: done.args_bytes,
                // When the step ran, as the run that took it journaled it.
                attempts: done.attempts,
                started_ms: done.started_ms,
                ended_ms: done.ended_ms,
                ..Row::default()
            },
            span,
        );
        Some(v.clone())
    }

    /// A pure tool call taken at once (`Interp::call_at_once`), when the
    /// run has a journal: its arguments' canonical text, written now (the
    /// input may become the result) into the memory the interpreter keeps
    /// for it. Nothing runs between this and the row's writing.
    pub(super) fn journal_at_once(
        &self,
        tool: &Tool<'_>,
        input: &Value,
    ) -> Option<std::cell::RefMut<'_, AtOnce>> {
        self.host.journal()?;
        let mut at = self.at_once.borrow_mut();
        at.call
            .refill(&tool.binding_text, input, super::host::ARGS_KEPT);
        Some(at)
    }

    /// Writes the one row of a call taken at once (see
    /// [`Interp::journal_at_once`]), with the content of a [`ToolRow`]'s
    /// end; started and ended are one clock reading, since nothing waited
    /// in between.
    pub(super) fn journal_at_once_ended(
        &self,
        mut at: std::cell::RefMut<'_, AtOnce>,
        tool: &Tool<'_>,
        step: &str,
        path: &StepPath,
        outcome: Result<Option<&Value>, &RunError>,
        span: Span,
    ) {
        let Some(j) = self.host.journal() else {
            return;
        };
        let AtOnce { path: text, call } = &mut *at;
        text.clear();
        path.spell_into(text);
        let now = now_ms();
        let row = call_row(text, step, &tool.name, call, "ok", now);
        if let Err(e) = write_ended(j, row, outcome, 1, now) {
            self.end_not_journaled(&tool.name, e, span);
        }
    }

    /// The end of a call of `name` could not be journaled: a warning of the
    /// run, and the journal fails (the run then stops as the store says).
    pub(super) fn end_not_journaled(&self, name: &str, e: StoreError, span: Span) {
        self.recorder.warn(
            format!("the journal could not record the end of `{name}`: {e}"),
            span,
            self.sources,
        );
        if let Some(j) = self.host.journal() {
            j.fail(e);
        }
    }

    /// Writes a step's row that is not a running tool call's (a flow call, a
    /// cache hit, a replayed step, an approval), when the run has a journal;
    /// a row that cannot be written is a warning of the run. A row without
    /// times is stamped now (a replayed step keeps its first run's).
    pub(super) fn journal_step(&self, row: Row<'_>, span: Span) {
        let Some(j) = self.host.journal() else {
            return;
        };
        let now = now_ms();
        let row = Row {
            started_ms: if row.started_ms == 0 {
                now
            } else {
                row.started_ms
            },
            ended_ms: row.ended_ms.or(Some(now)),
            ..row
        };
        if let Err(e) = j.write(&row) {
            self.recorder.warn(
                format!("the journal could not record `{}`: {e}", row.path),
                span,
                self.sources,
            );
            j.fail(e);
        }
    }

    /// The store could not keep what the run depends on (an effect's start,
    /// an approval): the run stops here, and the driver ends it with `e`
    /// (exit 2) once it sees it; this step never ends, and nothing new
    /// starts after it. Without a journal (no store) it is an error of the step.
    pub(super) async fn store_failed(
        &self,
        e: StoreError,
        step: &str,
        span: Span,
    ) -> super::Errors {
        match self.host.journal() {
            Some(j) => {
                j.fail(e);
                std::future::pending().await
            }
            None => vec![RunError::new(
                super::errors::ErrorKind::ToolError,
                e.message,
                step,
                span,
            )],
        }
    }
}
