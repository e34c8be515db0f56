//! The step host (docs/architecture.md, "The step host"): everything a step
//! does outside pure evaluation goes through one [`StepHost`], chosen when the
//! interpreter is built: one attempt of a tool call, what a call gives before
//! it runs (a test's mock), the answer of an approval, the answer kept for a
//! decision, the journaled steps a resume replays, the run's journal and the
//! cross-run cache. Hosts are stacked, each a small type that answers what it
//! knows and asks the one below for the rest: [`Local`] (tools in this
//! process) at the bottom, or Restate's steps (`flowc worker`); then
//! [`Replayed`] (`flowc resume`), [`Journaled`] (a stored run), or a test's
//! mocks (`run::testing`). A re-planned fragment's interpreter runs on its
//! parent's host.
//!
//! The journal and the cache are traits too ([`Journal`], [`Cache`]): the
//! store implements them; the interpreter never names the store.

use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde_json::{Map, Value};

use super::tools::{self, Limits, Now, ToolResult};
use crate::ir::StepPath;
use crate::ir::expr::Binding;
use crate::span::Span;

/// One attempt of a tool call, as the host runs it.
pub struct ToolCall<'a> {
    /// The module that declares the tool: its index in the program of the
    /// run (a re-planned fragment's modules are mapped to the run's).
    pub module: usize,
    pub tool: &'a str,
    /// The tool's binding, and the folder its exec tools run in.
    pub binding: &'a Binding,
    pub dir: &'a Path,
    pub path: &'a StepPath,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub input: &'a Value,
    pub limits: Limits,
    /// The idempotency key the tool is given (`FLOWC_IDEMPOTENCY_KEY`).
    pub key: Option<&'a str>,
    /// The attempt's `timeout` (the interpreter keeps it too): where the tool
    /// runs elsewhere, it is stopped there then.
    pub timeout: Duration,
}

/// A call of a tool or a flow, its arguments evaluated, before it runs.
pub struct Intercept<'a> {
    pub module: usize,
    pub name: &'a str,
    pub args: &'a Map<String, Value>,
    /// For a tool: whether it runs in this process without a program or the
    /// network (a built-in other than `http_get`); `None` for a flow.
    pub local: Option<bool>,
    pub span: Span,
}

/// Why a host gave a call an error instead of running it.
pub struct Refusal {
    pub message: String,
    pub help: String,
}

/// Everything a step does outside pure evaluation. Each method has a
/// default that asks the host below ([`StepHost::below`]), and at the bottom
/// does nothing: a host overrides only what it answers.
pub trait StepHost {
    /// The host this one is stacked on (`None` at the bottom).
    fn below(&self) -> Option<&dyn StepHost> {
        None
    }

    /// One attempt of a tool call; its timeout and retries stay the interpreter's.
    fn call<'a>(&'a self, call: ToolCall<'a>) -> LocalBoxFuture<'a, ToolResult> {
        match self.below() {
            Some(b) => b.call(call),
            None => Box::pin(async {
                Err(tools::ToolFailure::new("no host runs tools in this run").permanent())
            }),
        }
    }

    /// One attempt of a tool call that finishes without waiting, answered
    /// on the spot (no future, no box): a built-in such as `echo` or `sleep`
    /// of 0 ms where tools run in this process. `None`: the attempt goes
    /// through [`StepHost::call`]. A host that answers `call` itself
    /// answers this too (with `None` when its calls must go its way).
    fn call_now(&self, call: &ToolCall<'_>) -> Option<Now> {
        self.below()?.call_now(call)
    }

    /// What a call gives without running (a test's mock, or a refusal);
    /// `None`: it runs.
    fn intercept(&self, call: &Intercept<'_>) -> Option<Result<Value, Refusal>> {
        self.below()?.intercept(call)
    }

    /// The answer to an `approve` at `path` when the host gives it (`true`:
    /// approved; `Err`: why none can come); `None`: the run waits as its
    /// approval mode says (its journal's answer, a pause, the terminal).
    fn approve<'a>(
        &'a self,
        path: &'a StepPath,
        message: &'a str,
        context: Option<&'a Value>,
    ) -> LocalBoxFuture<'a, Option<Result<bool, String>>> {
        match self.below() {
            Some(b) => b.approve(path, message, context),
            None => Box::pin(async { None }),
        }
    }

    /// A decision at `path` was answered `answer` (as the journal keeps it):
    /// the answer kept for that path (on Restate, the first one given, so
    /// that a run that starts again decides as before). `Err` says why none is kept.
    fn decided<'a>(
        &'a self,
        path: &'a StepPath,
        answer: Value,
    ) -> LocalBoxFuture<'a, Result<Value, String>> {
        match self.below() {
            Some(b) => b.decided(path, answer),
            None => Box::pin(async { Ok(answer) }),
        }
    }

    /// On resume: the journaled steps to replay.
    fn replay(&self) -> Option<&Replay> {
        self.below()?.replay()
    }

    /// The run's journal, when it has one.
    fn journal(&self) -> Option<&dyn Journal> {
        self.below()?.journal()
    }

    /// The cross-run cache, when the run has a store.
    fn cache(&self) -> Option<&dyn Cache> {
        self.below()?.cache()
    }
}

/// Tools run in this process (the bottom of a local run's hosts).
#[derive(Default)]
pub struct Local {
    http: tools::http::Client,
    /// The run's MCP servers: stopped when the run's host is dropped.
    mcp: tools::mcp::Pool,
}

impl Local {
    pub fn new() -> Local {
        Local::default()
    }
}

impl StepHost for Local {
    fn call<'a>(&'a self, c: ToolCall<'a>) -> LocalBoxFuture<'a, ToolResult> {
        Box::pin(super::invoke_binding(
            c.binding, c.dir, &self.http, &self.mcp, c.input, c.limits, c.key,
        ))
    }

    fn call_now(&self, c: &ToolCall<'_>) -> Option<Now> {
        match c.binding {
            Binding::Builtin(n) => tools::builtin::call_now(n, c.input),
            _ => None,
        }
    }
}

/// What `flowc resume` replays: the journaled successes of the run by step
/// path (tool name, hash of binding and canonical arguments, result, and the
/// times and attempts of the run that took the step, which its `replayed`
/// row keeps).
#[derive(Clone, Debug, Default)]
pub struct Replay {
    pub done: std::collections::HashMap<String, JournalEntry>,
    /// `--allow-changed`: replay a step only when its binding and arguments
    /// are also the same as journaled.
    pub check_args: bool,
}

/// A resumed run: the journaled steps answer for themselves.
pub struct Replayed<'h> {
    below: Rc<dyn StepHost + 'h>,
    replay: Replay,
}

impl<'h> Replayed<'h> {
    pub fn new(below: Rc<dyn StepHost + 'h>, replay: Replay) -> Replayed<'h> {
        Replayed { below, replay }
    }
}

impl StepHost for Replayed<'_> {
    fn below(&self) -> Option<&dyn StepHost> {
        Some(&*self.below)
    }

    fn replay(&self) -> Option<&Replay> {
        Some(&self.replay)
    }
}

/// A stored run: its steps journaled, its pure tools' results cached across runs.
pub struct Journaled<'h> {
    below: Rc<dyn StepHost + 'h>,
    journal: Option<Box<dyn Journal + 'h>>,
    cache: Option<&'h dyn Cache>,
}

impl<'h> Journaled<'h> {
    pub fn new(
        below: Rc<dyn StepHost + 'h>,
        journal: Option<Box<dyn Journal + 'h>>,
        cache: Option<&'h dyn Cache>,
    ) -> Journaled<'h> {
        Journaled {
            below,
            journal,
            cache,
        }
    }
}

impl StepHost for Journaled<'_> {
    fn below(&self) -> Option<&dyn StepHost> {
        Some(&*self.below)
    }

    fn journal(&self) -> Option<&dyn Journal> {
        self.journal.as_deref()
    }

    fn cache(&self) -> Option<&dyn Cache> {
        self.cache
    }
}

/// The journal of one run (docs/store.md) and its approvals.
pub trait Journal {
    /// A step's row, written with the next batch.
    fn write(&self, row: &Row<'_>) -> Result<(), StoreError>;
    /// A step's row, committed with everything before it before this
    /// returns: an effect about to start, an accepted re-plan.
    fn write_now(&self, row: &Row<'_>) -> Result<(), StoreError>;
    /// Waits until every row written so far is committed.
    fn flush(&self) -> Result<(), StoreError>;
    /// The store failed under the run: the run stops (the driver ends it).
    fn fail(&self, e: StoreError);
    /// The answer to the approval at `path`, when it was answered.
    fn approval(&self, path: &str) -> Result<Option<bool>, StoreError>;
    /// The run waits for an approval at `path`.
    fn approval_ask(
        &self,
        path: &str,
        message: &str,
        context: Option<&Value>,
    ) -> Result<(), StoreError>;
    /// The approval at `path` expires `within_ms` after it was first asked
    /// (kept when it was set before): its deadline (ms since the epoch), if kept.
    fn approval_deadline(&self, _path: &str, _within_ms: u64) -> Result<Option<i64>, StoreError> {
        Ok(None)
    }
    /// An approval asked and answered at once (at the terminal) by `by`.
    fn approval_answered(
        &self,
        path: &str,
        message: &str,
        context: Option<&Value>,
        approved: bool,
        by: &str,
    ) -> Result<(), StoreError>;
}

/// The cross-run cache of pure tools (docs/store.md, `cache`).
pub trait Cache {
    /// The result kept for `binding` and `canonical_args` when it is at
    /// most `ttl` old.
    fn get(
        &self,
        binding: &str,
        canonical_args: &str,
        ttl: Duration,
    ) -> Result<Option<CacheHit>, StoreError>;
    /// Keeps `result` of tool `tool` for `binding` and `canonical_args`.
    fn put(
        &self,
        tool: &str,
        binding: &str,
        canonical_args: &str,
        result: &Value,
    ) -> Result<(), StoreError>;
}

/// A result found in the cache, and how old it is.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheHit {
    pub value: Value,
    pub age: Duration,
}

/// Why the store cannot be used; the message names the file and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub message: String,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

/// A step as the journal keeps it (read back from the store).
#[derive(Clone, Debug, PartialEq)]
pub struct JournalEntry {
    pub path: String,
    /// The step's name in the source (its label); the path's last part
    /// unless the row says otherwise.
    pub step: String,
    pub tool: String,
    /// `tool`, `flow`, `llm` (a decision or a re-plan) or `approval`.
    pub kind: String,
    /// `running`, `ok`, `failed`, `cached`, `replayed`, `cancelled` or `paused`.
    pub status: &'static str,
    pub attempts: u32,
    pub result: Option<Value>,
    pub error: Option<Value>,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    /// SHA-256 of the tool's binding and canonical arguments.
    pub args_sha256: Option<String>,
    /// For a `cached` step: the age of the cache entry it reused, in seconds.
    pub cached_age_s: Option<f64>,
    /// The arguments the step was called with (a JSON object), when kept:
    /// a tool call's, a flow call's, a decision's (its prompt, context and
    /// options). Runs of a store before version 7 have none.
    pub args: Option<Value>,
    /// Arguments too large to keep ([`ARGS_KEPT`]): their size as JSON text.
    pub args_bytes: Option<u64>,
}

/// The largest arguments (as JSON text, in bytes) a journal entry keeps;
/// larger ones are noted by their size only (`args_bytes`).
pub const ARGS_KEPT: usize = 256 * 1024;

impl JournalEntry {
    /// Its result can stand for the step on resume: an `ok` (or `replayed`)
    /// tool call or decision whose result was kept.
    pub fn replayable(&self) -> bool {
        matches!(self.status, "ok" | "replayed")
            && matches!(self.kind.as_str(), "tool" | "llm")
            && self.result.is_some()
    }
}

/// A step's row as it is written: borrowed from the run, and serialised on
/// the run's thread into the buffer's text (a finished step hands the writer
/// no values to free, which cost more than writing them).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Row<'a> {
    pub path: &'a str,
    /// The step's label; written only when it is not the path's last part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'a str>,
    pub tool: &'a str,
    /// Written unless `tool`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'a str>,
    pub status: &'a str,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a Value>,
    pub started_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_age_s: Option<f64>,
    /// The step's arguments as JSON text (the canonical text its
    /// `args_sha256` hashes, not serialised again): written as the entry's
    /// `args` by the journal, unless longer than [`ARGS_KEPT`], when only
    /// their size is (`args_bytes`).
    #[serde(skip)]
    pub args: Option<&'a str>,
    /// With `args` and without `args_sha256`: the binding of the tool
    /// called. The journal writes the hash of the binding, a NUL and `args`
    /// ([`crate::value::call_hash`]) as `args_sha256`; the store's writer
    /// computes it, off the run's thread.
    #[serde(skip)]
    pub hash_binding: Option<&'a str>,
    /// Arguments not kept, by their size (a replayed step whose first run's
    /// were too large to keep).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_bytes: Option<u64>,
}

impl Row<'_> {
    /// Appends the row as JSON to `out`: the text `serde_json` writes for it
    /// (the same keys in the same order, the same escapes), without its
    /// general serialiser. One row is written per step; the keys are
    /// constants, and most values need no escape.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        out.extend_from_slice(b"{\"path\":");
        crate::value::write_json_str(self.path, out);
        if let Some(step) = self.step {
            out.extend_from_slice(b",\"step\":");
            crate::value::write_json_str(step, out);
        }
        out.extend_from_slice(b",\"tool\":");
        crate::value::write_json_str(self.tool, out);
        if let Some(kind) = self.kind {
            out.extend_from_slice(b",\"kind\":");
            crate::value::write_json_str(kind, out);
        }
        out.extend_from_slice(b",\"status\":");
        crate::value::write_json_str(self.status, out);
        out.extend_from_slice(b",\"attempts\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.attempts).as_bytes());
        if let Some(v) = self.result {
            out.extend_from_slice(b",\"result\":");
            crate::value::write_json(v, out);
        }
        if let Some(v) = self.error {
            out.extend_from_slice(b",\"error\":");
            crate::value::write_json(v, out);
        }
        out.extend_from_slice(b",\"started_ms\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.started_ms).as_bytes());
        if let Some(ms) = self.ended_ms {
            out.extend_from_slice(b",\"ended_ms\":");
            out.extend_from_slice(itoa::Buffer::new().format(ms).as_bytes());
        }
        if let Some(h) = self.args_sha256 {
            out.extend_from_slice(b",\"args_sha256\":");
            crate::value::write_json_str(h, out);
        }
        if let Some(age) = self.cached_age_s {
            out.extend_from_slice(b",\"cached_age_s\":");
            serde_json::to_writer(&mut *out, &age)?;
        }
        if let Some(n) = self.args_bytes {
            out.extend_from_slice(b",\"args_bytes\":");
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        }
        out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use serde_json::json;

    use super::*;

    /// A journal that keeps the paths of its rows.
    #[derive(Default)]
    struct Paths(RefCell<Vec<String>>);

    impl Journal for Paths {
        fn write(&self, row: &Row<'_>) -> Result<(), StoreError> {
            self.0.borrow_mut().push(row.path.to_string());
            Ok(())
        }
        fn write_now(&self, row: &Row<'_>) -> Result<(), StoreError> {
            self.write(row)
        }
        fn flush(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn fail(&self, _: StoreError) {}
        fn approval(&self, _: &str) -> Result<Option<bool>, StoreError> {
            Ok(None)
        }
        fn approval_ask(&self, _: &str, _: &str, _: Option<&Value>) -> Result<(), StoreError> {
            Ok(())
        }
        fn approval_answered(
            &self,
            _: &str,
            _: &str,
            _: Option<&Value>,
            _: bool,
            _: &str,
        ) -> Result<(), StoreError> {
            Ok(())
        }
    }

    /// Each question is answered by the layer that knows it: the journal by
    /// `Journaled`, the replayed steps by `Replayed` below it, a tool call by
    /// `Local` at the bottom; what none knows gets the bottom's default.
    #[test]
    fn a_stack_answers_each_question_at_its_layer() {
        let local: Rc<dyn StepHost> = Rc::new(Local::new());
        let mut replay = Replay::default();
        replay.done.insert(
            "main/a".into(),
            JournalEntry {
                path: "main/a".into(),
                step: "a".into(),
                tool: "t".into(),
                kind: "tool".into(),
                status: "ok",
                attempts: 1,
                result: Some(json!(1)),
                error: None,
                started_ms: 0,
                ended_ms: None,
                args_sha256: None,
                cached_age_s: None,
                args: None,
                args_bytes: None,
            },
        );
        let replayed: Rc<dyn StepHost> = Rc::new(Replayed::new(local, replay));
        let top = Journaled::new(replayed, Some(Box::new(Paths::default())), None);
        assert!(top.replay().is_some_and(|r| r.done.contains_key("main/a")));
        top.journal()
            .expect("the journaled layer's")
            .write(&Row {
                path: "main/b",
                ..Row::default()
            })
            .expect("written");
        assert!(top.cache().is_none());
        let path = StepPath::root("main").child("b");
        let args = Map::new();
        let span = Span::default();
        let call = Intercept {
            module: 0,
            name: "t",
            args: &args,
            local: Some(true),
            span,
        };
        assert!(top.intercept(&call).is_none());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let input = json!({ "x": 1 });
        let binding = Binding::Builtin("echo".into());
        let out = rt.block_on(top.call(ToolCall {
            module: 0,
            tool: "t",
            binding: &binding,
            dir: Path::new("."),
            path: &path,
            attempt: 1,
            input: &input,
            limits: Limits {
                max_output: 1 << 20,
                ends: None,
            },
            key: None,
            timeout: Duration::from_secs(10),
        }));
        assert_eq!(out, Ok(input));
        assert_eq!(rt.block_on(top.approve(&path, "ship?", None)), None);
        assert_eq!(rt.block_on(top.decided(&path, json!("x"))), Ok(json!("x")));
    }

    /// The row's own writer gives the text `serde_json` gives for it.
    #[test]
    fn a_row_is_written_as_serde_json_writes_it() {
        let result = json!({ "ms": 0, "text": "a \"quoted\"\n line" });
        let error = json!({ "kind": "tool_error" });
        let rows = [
            Row::default(),
            Row {
                path: "main/n1",
                tool: "sleep",
                status: "ok",
                attempts: 1,
                result: Some(&result),
                started_ms: 1_733_390_000_000,
                ended_ms: Some(1_733_390_000_002),
                args_sha256: Some("ab12"),
                ..Row::default()
            },
            Row {
                path: "main/for/3/\"odd\"\\path\u{1}",
                step: Some("é label\t"),
                tool: "t",
                kind: Some("decision"),
                status: "failed",
                attempts: 3,
                error: Some(&error),
                started_ms: -5,
                cached_age_s: Some(0.25),
                args_bytes: Some(300_000),
                ..Row::default()
            },
        ];
        for row in rows {
            let mut ours = Vec::new();
            row.write_json(&mut ours).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&row).unwrap()
            );
        }
    }
}
