//! The run record (`--record run.json`) and the Chrome trace (`--trace`).

use std::cell::RefCell;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use crate::ir::StepPath;
use crate::source::Sources;
use crate::syntax::span::{LineIndex, Span, line_col};

#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    pub id: usize,
    pub step: String,
    /// The step's path (SPEC §15): `main/out/for[3]/upper`.
    pub path: String,
    pub tool: String,
    /// `tool`, `flow` or `block`
    pub kind: &'static str,
    #[serde(skip)]
    pub span: Span,
    pub attempts: u32,
    /// Milliseconds since the run started.
    pub start_ms: f64,
    pub end_ms: Option<f64>,
    /// `running`, `ok`, `failed`, `cached`
    pub status: &'static str,
    pub error: Option<Value>,
}

/// Collects what happens during a run. Cheap when `enabled` is false.
pub struct Recorder {
    pub enabled: bool,
    pub start: Instant,
    steps: RefCell<Vec<StepRecord>>,
    warnings: RefCell<Vec<Value>>,
}

impl Recorder {
    pub fn new(enabled: bool) -> Recorder {
        Recorder {
            enabled,
            start: Instant::now(),
            steps: RefCell::new(Vec::new()),
            warnings: RefCell::new(Vec::new()),
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
        kind: &'static str,
        span: Span,
    ) -> usize {
        if !self.enabled {
            return usize::MAX;
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
            status: "running",
            error: None,
        });
        id
    }

    pub fn end(&self, id: usize, status: &'static str, attempts: u32, error: Option<Value>) {
        if id == usize::MAX {
            return;
        }
        let now = self.now_ms();
        if let Some(s) = self.steps.borrow_mut().get_mut(id) {
            s.end_ms = Some(now);
            s.status = status;
            s.attempts = attempts;
            s.error = error;
        }
    }

    /// A warning for the record (and stderr), e.g. a loop that reached `max`.
    pub fn warn(&self, message: String, span: Span, sources: &Sources) {
        let f = sources.get(span.file);
        let (line, column) = line_col(&f.text, span.start as usize);
        self.warnings
            .borrow_mut()
            .push(json!({ "message": message, "file": f.name, "line": line, "column": column }));
    }

    pub fn warnings(&self) -> Vec<Value> {
        self.warnings.borrow().clone()
    }

    /// (running steps' paths, finished, failed) for the live view.
    pub fn progress(&self) -> (Vec<String>, usize, usize) {
        let steps = self.steps.borrow();
        let mut running = Vec::new();
        let (mut done, mut failed) = (0, 0);
        for s in steps.iter() {
            match s.status {
                "running" => running.push(s.path.clone()),
                "failed" => failed += 1,
                _ => done += 1,
            }
        }
        (running, done, failed)
    }

    pub fn steps(&self) -> Vec<StepRecord> {
        self.steps.borrow().clone()
    }

    /// Steps as JSON with their source positions.
    pub fn steps_json(&self, sources: &Sources) -> Vec<Value> {
        let mut indexes: std::collections::HashMap<crate::syntax::span::FileId, LineIndex> =
            std::collections::HashMap::new();
        self.steps
            .borrow()
            .iter()
            .map(|s| {
                let f = sources.get(s.span.file);
                let idx = indexes.entry(s.span.file).or_insert_with(|| LineIndex::new(&f.text));
                let (line, column) = idx.line_col(s.span.start as usize);
                let (end_line, end_column) = idx.line_col(s.span.end as usize);
                let mut v = serde_json::to_value(s).expect("step records serialise");
                v["span"] = json!({ "file": f.name, "line": line, "column": column, "end_line": end_line, "end_column": end_column });
                v
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
                "cat": s.kind,
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
        let running = self
            .recorder
            .steps
            .borrow()
            .get(self.id)
            .is_some_and(|s| s.end_ms.is_none());
        if running {
            self.recorder.end(self.id, "cancelled", 0, Some(serde_json::json!({ "kind": "cancelled", "message": "cancelled before it finished" })));
        }
    }
}
