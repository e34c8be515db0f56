//! The run record (`--record run.json`) and the Chrome trace (`--trace`).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::errors::{ErrorRecord, SpanRecord};
use super::llm::Decision;
use crate::ir::StepPath;
use crate::source::Sources;
use crate::span::{LineIndex, Span};

/// What a step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Tool,
    Flow,
    Block,
    /// An LLM decision (`decide` or `llm()`).
    Llm,
    /// An `approve`: a person's answer.
    Approval,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Tool => "tool",
            StepKind::Flow => "flow",
            StepKind::Block => "block",
            StepKind::Llm => "llm",
            StepKind::Approval => "approval",
        }
    }
}

/// Where a step stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Running,
    Ok,
    Failed,
    /// Its result came from the cache.
    Cached,
    /// Its result came from the run's journal (`flowc resume`).
    Replayed,
    /// Dropped before it ended (a `race` loser, `fail_fast`, a deadline, Ctrl-C).
    Cancelled,
    /// An `approve` waiting for its answer: the run paused there.
    Paused,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    pub id: usize,
    pub step: String,
    /// The step's path (docs/language.md, "Step paths"): `main/out/for[3]/upper`.
    pub path: String,
    pub tool: String,
    pub kind: StepKind,
    #[serde(skip)]
    pub span: Span,
    pub attempts: u32,
    /// Milliseconds since the run started.
    pub start_ms: f64,
    pub end_ms: Option<f64>,
    pub status: StepStatus,
    pub error: Option<ErrorRecord>,
    /// For a `cached` step: the age of the cache entry it reused, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_age_s: Option<f64>,
}

/// A step in the record: with its source position.
#[derive(Clone, Debug, Serialize)]
pub struct StepEntry {
    #[serde(flatten)]
    pub step: StepRecord,
    pub span: SpanRecord,
}

/// A warning of the run (a loop that reached `max`), for the record and stderr.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// The outcome of a run: the one status type (`crate::status`).
pub use crate::status::RunStatus;

/// The run record (`flowc run --record FILE`).
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub run_id: Value,
    pub file: String,
    pub flow: String,
    pub inputs: Value,
    /// The `--set` options as given.
    pub options: serde_json::Map<String, Value>,
    pub status: RunStatus,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: f64,
    /// The signal that cancelled the run (`SIGINT`, …).
    pub signal: Option<&'static str>,
    pub result: Option<Value>,
    pub errors: Option<Vec<ErrorRecord>>,
    pub warnings: Vec<Warning>,
    pub steps: Vec<StepEntry>,
    pub decisions: Vec<Decision>,
    /// Every re-plan (docs/language.md, "Re-planning"): the request, each answer with its
    /// diagnostics, the fragment that ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replans: Vec<ReplanRecord>,
}

/// One re-plan of a failed block (docs/language.md, "Re-planning").
#[derive(Clone, Debug, Serialize)]
pub struct ReplanRecord {
    /// The re-plan's step path: `main/m/replan[1]`; the fragment's steps are under it.
    pub path: String,
    /// The failed block's source.
    pub block: String,
    /// The errors that triggered it.
    pub errors: Vec<ErrorRecord>,
    pub provider: String,
    /// Milliseconds since the run started.
    pub start_ms: f64,
    pub end_ms: f64,
    /// `accepted`, `replayed` (from the journal, on resume), `rejected` (no
    /// fragment checked), `failed` (the provider failed or a policy stopped it).
    pub outcome: &'static str,
    /// The structured request, as the `cmd:` provider reads it.
    pub request: Value,
    pub attempts: Vec<ReplanAttempt>,
    /// The fragment that ran in the block's place.
    pub fragment: Option<String>,
    /// Why no fragment ran (for `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was changed in the request to fit the model's context (the
    /// request shortened, `max_tokens` lowered).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One answer to a re-planning request.
#[derive(Clone, Debug, Serialize)]
pub struct ReplanAttempt {
    /// The message the answer replies to (the request, or the diagnostics of the previous answer).
    pub prompt: String,
    pub answer: String,
    /// The checker's diagnostics of the answer, as plain text (empty: it checked).
    pub diagnostics: Vec<String>,
    pub start_ms: f64,
}

/// Collects what happens during a run. Cheap when `enabled` is false.
pub struct Recorder {
    pub enabled: bool,
    pub start: Instant,
    steps: RefCell<Vec<StepRecord>>,
    warnings: RefCell<Vec<Warning>>,
    /// A re-planned fragment's recorder: what it records goes to the run's,
    /// positioned at the re-planned block (the fragment has no file of the run).
    run: Option<(std::rc::Rc<Recorder>, Span)>,
}

impl Recorder {
    pub fn new(enabled: bool) -> Recorder {
        Recorder {
            enabled,
            start: Instant::now(),
            steps: RefCell::new(Vec::new()),
            warnings: RefCell::new(Vec::new()),
            run: None,
        }
    }

    /// The recorder of a re-planned fragment's run: its steps are the run's
    /// (they show in the live view and the record as they happen), at `span`.
    pub fn within(run: std::rc::Rc<Recorder>, span: Span) -> Recorder {
        Recorder {
            enabled: run.enabled,
            start: run.start,
            steps: RefCell::new(Vec::new()),
            warnings: RefCell::new(Vec::new()),
            run: Some((run, span)),
        }
    }

    pub fn now_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1e3
    }

    /// Records a step's start; returns its id (or `usize::MAX` when disabled).
    pub fn start(
        &self,
        step: &str,
        path: &StepPath,
        tool: &str,
        kind: StepKind,
        span: Span,
    ) -> usize {
        if !self.enabled {
            return usize::MAX;
        }
        if let Some((run, at)) = &self.run {
            return run.start(step, path, tool, kind, *at);
        }
        let mut steps = self.steps.borrow_mut();
        let id = steps.len();
        steps.push(StepRecord {
            id,
            step: step.to_string(),
            path: path.to_string(),
            tool: tool.to_string(),
            kind,
            span,
            attempts: 0,
            start_ms: self.now_ms(),
            end_ms: None,
            status: StepStatus::Running,
            error: None,
            cached_age_s: None,
        });
        id
    }

    pub fn end(&self, id: usize, status: StepStatus, attempts: u32, error: Option<ErrorRecord>) {
        if id == usize::MAX {
            return;
        }
        if let Some((run, _)) = &self.run {
            return run.end(id, status, attempts, error);
        }
        let now = self.now_ms();
        if let Some(s) = self.steps.borrow_mut().get_mut(id) {
            s.end_ms = Some(now);
            s.status = status;
            s.attempts = attempts;
            s.error = error;
        }
    }

    /// A step answered from the cache: `cached`, with the entry's age.
    pub fn cached(&self, id: usize, age: Duration) {
        if let Some((run, _)) = &self.run {
            return run.cached(id, age);
        }
        self.end(id, StepStatus::Cached, 0, None);
        if let Some(s) = self.steps.borrow_mut().get_mut(id) {
            s.cached_age_s = Some((age.as_secs_f64() * 1000.0).round() / 1000.0);
        }
    }

    /// A step answered from the run's journal on resume: `replayed`.
    pub fn replayed(&self, id: usize) {
        self.end(id, StepStatus::Replayed, 0, None);
    }

    /// A warning for the record (and stderr), e.g. a loop that reached `max`.
    pub fn warn(&self, message: String, span: Span, sources: &Sources) {
        let at = SpanRecord::start_of(span, sources);
        if let Some((run, _)) = &self.run {
            run.warnings.borrow_mut().push(Warning {
                message,
                file: at.file,
                line: at.line,
                column: at.column,
            });
            return;
        }
        self.warnings.borrow_mut().push(Warning {
            message,
            file: at.file,
            line: at.line,
            column: at.column,
        });
    }

    pub fn warnings(&self) -> Vec<Warning> {
        self.warnings.borrow().clone()
    }

    /// (running steps' paths, finished, failed) for the live view.
    pub fn progress(&self) -> (Vec<String>, usize, usize) {
        let steps = self.steps.borrow();
        let mut running = Vec::new();
        let (mut done, mut failed) = (0, 0);
        for s in steps.iter() {
            match s.status {
                StepStatus::Running => running.push(s.path.clone()),
                StepStatus::Failed => failed += 1,
                _ => done += 1,
            }
        }
        (running, done, failed)
    }

    pub fn steps(&self) -> Vec<StepRecord> {
        self.steps.borrow().clone()
    }

    /// Steps with their source positions, for the record, taken out of the
    /// recorder (it holds none after: the record is the last to read them,
    /// and 100,000 steps are not copied). Take the trace first.
    pub fn take_steps_json(&self, sources: &Sources) -> Vec<StepEntry> {
        let mut indexes: std::collections::HashMap<crate::span::FileId, LineIndex> =
            std::collections::HashMap::new();
        std::mem::take(&mut *self.steps.borrow_mut())
            .into_iter()
            .map(|s| {
                let f = sources.get(s.span.file);
                let idx = indexes
                    .entry(s.span.file)
                    .or_insert_with(|| LineIndex::new(&f.text));
                let (line, column) = idx.line_col(s.span.start as usize);
                let (end_line, end_column) = idx.line_col(s.span.end as usize);
                StepEntry {
                    step: s,
                    span: SpanRecord {
                        file: f.name.clone(),
                        line,
                        column,
                        end_line: Some(end_line),
                        end_column: Some(end_column),
                    },
                }
            })
            .collect()
    }

    /// Chrome trace-event JSON (opens in Perfetto): one complete event per step,
    /// on the lowest free lane so overlapping steps show side by side.
    pub fn trace(&self, run_name: &str) -> Value {
        let steps = self.steps.borrow();
        let mut order: Vec<&StepRecord> = steps.iter().collect();
        order.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        let mut lanes: Vec<f64> = Vec::new();
        let mut events = vec![
            json!({ "name": "process_name", "ph": "M", "pid": 1, "args": { "name": run_name } }),
        ];
        for s in order {
            let end = s.end_ms.unwrap_or(s.start_ms);
            let lane = match lanes.iter().position(|free| *free <= s.start_ms) {
                Some(l) => l,
                None => {
                    lanes.push(0.0);
                    lanes.len() - 1
                }
            };
            lanes[lane] = end;
            events.push(json!({
                "name": s.path,
                "cat": s.kind.as_str(),
                "ph": "X",
                "ts": s.start_ms * 1e3,
                "dur": (end - s.start_ms) * 1e3,
                "pid": 1,
                "tid": lane,
                "args": { "step": s.step, "tool": s.tool, "status": s.status, "attempts": s.attempts, "error": s.error },
            }));
        }
        json!({ "traceEvents": events, "displayTimeUnit": "ms" })
    }
}

/// Marks a step `cancelled` if it is dropped before it ends (a `race` loser,
/// `fail_fast`, a deadline, Ctrl-C).
pub struct StepGuard<'r> {
    pub recorder: &'r Recorder,
    pub id: usize,
}

impl Drop for StepGuard<'_> {
    fn drop(&mut self) {
        if self.id == usize::MAX {
            return;
        }
        let recorder = match &self.recorder.run {
            Some((run, _)) => &**run,
            None => self.recorder,
        };
        let running = recorder
            .steps
            .borrow()
            .get(self.id)
            .filter(|s| s.end_ms.is_none())
            .map(|s| s.step.clone());
        if let Some(step) = running {
            self.recorder.end(
                self.id,
                StepStatus::Cancelled,
                0,
                Some(ErrorRecord::cancelled(&step)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::errors::{ErrorKind, RunError};

    #[test]
    fn steps_serialise_with_the_records_names() {
        let mut sources = Sources::default();
        let file = sources.add("a.flow", "flow main() -> int { t() }\n");
        let span = Span {
            file,
            start: 21,
            end: 24,
        };
        let r = Recorder::new(true);
        let main = StepPath::root("main");
        let id = r.start("t", &main.child("t"), "t", StepKind::Tool, span);
        let e = RunError::new(ErrorKind::Timeout, "slow", "t", span);
        r.end(id, StepStatus::Failed, 2, Some(e.record()));
        let id = r.start("u", &main.child("u"), "u", StepKind::Flow, span);
        drop(StepGuard { recorder: &r, id });
        assert_eq!(r.progress(), (vec![], 1, 1));
        let steps = serde_json::to_value(r.take_steps_json(&sources)).expect("serialises");
        assert_eq!(steps[0]["kind"], "tool");
        assert_eq!(steps[0]["path"], "main/t");
        assert_eq!(steps[1]["path"], "main/u");
        assert_eq!(steps[0]["status"], "failed");
        assert_eq!(
            steps[0]["error"],
            json!({"kind": "timeout", "message": "slow", "step": "t", "attempts": 1})
        );
        assert_eq!(
            steps[0]["span"],
            json!({"file": "a.flow", "line": 1, "column": 22, "end_line": 1, "end_column": 25})
        );
        assert_eq!(steps[1]["status"], "cancelled");
        assert_eq!(steps[1]["error"]["kind"], "cancelled");
        // The record took the steps: the recorder holds none after.
        assert_eq!(r.progress(), (vec![], 0, 0));
    }

    #[test]
    fn a_fragments_recorder_records_into_the_runs_at_the_block() {
        let mut sources = Sources::default();
        let file = sources.add("a.flow", "flow main() { dag { t() } }\n");
        let block = Span {
            file,
            start: 14,
            end: 25,
        };
        let run = std::rc::Rc::new(Recorder::new(true));
        let inner = Recorder::within(run.clone(), block);
        // A span of the fragment's own program: not a file of the run.
        let elsewhere = Span {
            file: crate::span::FileId(7),
            start: 0,
            end: 3,
        };
        let path = StepPath::root("main/replan[1]");
        let id = inner.start("c", &path.child("c"), "t", StepKind::Tool, elsewhere);
        inner.end(id, StepStatus::Ok, 1, None);
        let id = inner.start("d", &path.child("d"), "t", StepKind::Tool, elsewhere);
        drop(StepGuard {
            recorder: &inner,
            id,
        });
        let steps = serde_json::to_value(run.take_steps_json(&sources)).expect("serialises");
        assert_eq!(steps[0]["path"], "main/replan[1]/c");
        assert_eq!(steps[0]["status"], "ok");
        assert_eq!(steps[0]["span"]["column"], 15);
        assert_eq!(steps[1]["status"], "cancelled");
        assert!(inner.steps().is_empty());
    }
}
