//! Running `test` blocks (docs/language.md, "Tests"): the mocks of one test (tools, flows,
//! LLM decisions), its assertions, and what failed. Each test runs in an
//! [`Interp`] of its own, so mocks never leak between tests running at once.
//! A tool that is not mocked runs only when it is a local built-in (`echo`,
//! `sleep`, `fail`, `read_json`): an `exec` or `http` tool (or `http_get`)
//! is refused, so a test starts no tool process and makes no network call.

mod answers;
mod diff;
mod host;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Instant;

use serde_json::{Map, Value};

use super::errors::{R, RunError};
use super::eval::Scope;
use super::llm::Llm;
use super::value::to_text;
use super::{Env, Interp, Lowering, RunConfig};
use crate::check::Program;
use crate::ir::StepPath;
use crate::ir::expr::{BinOp, Expr, ExprKind, MockTarget, MockValue, Test};
use crate::source::Sources;
use crate::span::Span;

pub use diff::line_diff;

/// What a mocked tool or flow does on every call in its test.
#[derive(Clone, Debug)]
pub enum Mocked {
    Value(Value),
    Fail(String),
}

/// `mock llm`'s answers.
#[derive(Clone, Debug)]
pub enum Answers {
    /// The same answer every time.
    Always(String),
    /// Answers handed out in order, one per question (re-asks included).
    InOrder(VecDeque<String>),
    /// Answers by the step name of the decision (the `let` it is bound to).
    ByStep(HashMap<String, Answers>),
    /// `mock llm = fail("…")`: the provider fails (`llm_error`).
    Fail(String),
}

/// One way a test failed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TestFailure {
    /// `assert`, `error` (a step failed and nothing caught it), `unmocked`
    /// or `timeout` (the test took longer than `flowc test --timeout`).
    pub kind: &'static str,
    pub message: String,
    #[serde(skip)]
    pub span: Span,
    /// The assertion's source text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// The assertion's own message (`assert cond, "message"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A comparison's operator and both sides' values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right: Option<Value>,
    /// A line diff of the sides' pretty JSON, when they are records or lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// The failed step's error kind (`tool_error` …), for `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl TestFailure {
    pub fn new(kind: &'static str, message: impl Into<String>, span: Span) -> TestFailure {
        TestFailure {
            kind,
            message: message.into(),
            span,
            expression: None,
            note: None,
            op: None,
            left: None,
            right: None,
            diff: None,
            error_kind: None,
            help: None,
        }
    }

    fn from_error(e: &RunError) -> TestFailure {
        let d = e.to_diagnostic();
        TestFailure {
            error_kind: Some(e.kind.as_str()),
            help: e.help.clone(),
            ..TestFailure::new("error", d.message, e.span)
        }
    }
}

/// A mock keyed by arguments: the (name, value) pairs a call must have.
type KeyedMock = (Vec<(String, Value)>, Mocked);

/// The mocks and failures of the test an [`Interp`] runs.
#[derive(Default)]
pub struct TestState {
    mocks: RefCell<HashMap<(usize, String), Mocked>>,
    /// `mock tool(name: value, …) = …`: by tool or flow, the arguments a
    /// call must have, in the order the mocks are written.
    keyed: RefCell<HashMap<(usize, String), Vec<KeyedMock>>>,
    answers: RefCell<Option<Answers>>,
    /// `mock approve`'s answers: one for every `approve`, or in order.
    approvals: RefCell<Option<VecDeque<bool>>>,
    approve_always: Cell<Option<bool>>,
    failures: RefCell<Vec<TestFailure>>,
    /// Refusals (an unmocked tool, a decision without an answer), by message:
    /// they fail the test even when a `catch` or `else` went on without them.
    refused: RefCell<Vec<(String, Option<Span>)>>,
}

impl TestState {
    /// The answer of `mock approve` for the `approve` at `path`.
    fn approve_answer(&self, path: &str) -> Result<bool, String> {
        if let Some(a) = self.approve_always.get() {
            return Ok(a);
        }
        let r = match self.approvals.borrow_mut().as_mut() {
            None => Err(format!(
                "the `approve` at `{path}` has no answer: the test mocks none; add `mock approve = true` (or `false`) to the test"
            )),
            Some(q) => q.pop_front().ok_or_else(|| {
                format!("`mock approve` has no answer left for the `approve` at `{path}`: every answer of its list was used")
            }),
        };
        if let Err(m) = &r {
            self.refused.borrow_mut().push((m.clone(), None));
        }
        r
    }

    /// The next answer of `mock llm` for the decision at `step`.
    fn answer(&self, step: &str) -> Result<String, String> {
        let mut a = self.answers.borrow_mut();
        if let Some(Answers::Fail(m)) = a.as_ref() {
            return Err(m.clone());
        }
        let r = match a.as_mut() {
            None => Err(
                "this decision has no answer: the test mocks no LLM; add `mock llm = \"label\"` to the test"
                    .to_string(),
            ),
            Some(Answers::ByStep(by)) => match by.get_mut(step) {
                Some(a) => next(a, step),
                None => {
                    let mut steps: Vec<&str> = by.keys().map(String::as_str).collect();
                    steps.sort();
                    Err(format!(
                        "`mock llm` has no answer for the decision `{step}` (it has answers for: {})",
                        steps.join(", ")
                    ))
                }
            },
            Some(a) => next(a, step),
        };
        if let Err(m) = &r {
            self.refused.borrow_mut().push((m.clone(), None));
        }
        r
    }
}

fn next(a: &mut Answers, step: &str) -> Result<String, String> {
    match a {
        Answers::Always(s) => Ok(s.clone()),
        Answers::InOrder(q) => q.pop_front().ok_or_else(|| {
            format!("`mock llm` has no answer left for the decision `{step}`: every answer of its list was used")
        }),
        Answers::Fail(m) => Err(m.clone()),
        Answers::ByStep(_) => Err(format!(
            "`mock llm` nests answers by step for `{step}`; give a label or a list of labels"
        )),
    }
}

fn answers_of(v: &Value) -> Answers {
    match v {
        Value::Array(items) => Answers::InOrder(items.iter().map(to_text).collect()),
        Value::Object(m) => {
            Answers::ByStep(m.iter().map(|(k, v)| (k.clone(), answers_of(v))).collect())
        }
        v => Answers::Always(to_text(v)),
    }
}

impl<'p> Interp<'p> {
    /// An interpreter for one test of a program (`lowering`: the program's,
    /// shared by its tests): its LLM decisions answered by the test's
    /// `mock llm`, its tools by its mocks.
    pub fn for_test(
        program: &'p Program,
        sources: &'p Sources,
        config: RunConfig,
        lowering: Lowering<'p>,
    ) -> Interp<'p> {
        let state = Rc::new(TestState::default());
        let mocks = host::Mocks::new(Rc::new(super::host::Local::new()), state.clone());
        let mut b = Interp::builder(program, sources, config)
            .lowering(lowering)
            .host(Rc::new(mocks))
            .llm(Llm::new(Some(Box::new(answers::MockLlm(state.clone())))));
        b.test = Some(state);
        b.build()
    }

    /// Runs the test of module `m` whose name is at `at`: its mocks, then
    /// its statements as a block. Returns every failure (none when it passed).
    pub async fn run_test(&self, m: usize, at: Span) -> Vec<TestFailure> {
        let lowered = self.lowered.clone();
        let Some(t) = lowered
            .tests()
            .iter()
            .find(|t| t.module == m && t.name_span == at)
        else {
            return vec![TestFailure::new(
                "unmocked",
                "this test was not lowered (a bug in flowc)",
                at,
            )];
        };
        let state = self
            .test
            .clone()
            .expect("`run_test` runs in `Interp::for_test`");
        *self.context.borrow_mut() = serde_json::json!({
            "run_id": crate::ids::new_run_id(),
            "flow": format!("test {}", t.name),
            "started_at": crate::builtins::now_rfc3339(),
            "tenant": self.config.tenant,
            "inputs": Value::Object(Map::new()),
        });
        let r = async {
            for k in 0..self.program.modules.len() {
                self.eval_consts(k)?;
            }
            let root = self.root_scope(m);
            let sc = Scope {
                label: Rc::from("test"),
                path: StepPath::root("test"),
                ..root
            };
            self.install_mocks(t, &sc)?;
            let mut body = self.block(&t.body, &sc);
            std::future::poll_fn(|cx| {
                self.yielding.set(false);
                self.last_yield.set(Instant::now());
                body.as_mut().poll(cx)
            })
            .await
        }
        .await;
        let mut failures = state.failures.take();
        let errors = r.err().unwrap_or_default();
        let mut messages = Vec::new();
        for e in &errors {
            messages.push(e.message.clone());
            failures.push(TestFailure::from_error(e));
        }
        // A refusal that a `catch` (or an `else`) hid still fails the test.
        for (message, span) in state.refused.take() {
            if !messages.contains(&message) {
                messages.push(message.clone());
                failures.push(TestFailure {
                    help: Some(
                        "the failure was caught in the program; mock what the test reaches".into(),
                    ),
                    ..TestFailure::new("unmocked", message, span.unwrap_or(t.name_span))
                });
            }
        }
        failures
    }

    /// Evaluates the `mock` statements of the test's block (before anything runs).
    fn install_mocks(&self, t: &Test, sc: &Scope) -> R<()> {
        let state = self.test.as_ref().expect("a test interpreter");
        // Mock values see the test's frame (constants; its `let`s have no value yet).
        let sc = sc.with_env(Env::child(&sc.env, t.body.stmts.len()));
        for mock in &t.mocks {
            let sc = sc.with_label("mock");
            let value = &mock.value;
            if let MockTarget::Llm = mock.target {
                let answers = match value {
                    MockValue::Fail(msg) => Answers::Fail(to_text(&self.eval_sync(msg, &sc)?)),
                    MockValue::Value(v) => answers_of(&self.eval_sync(v, &sc)?),
                };
                *state.answers.borrow_mut() = Some(answers);
                continue;
            }
            if let (MockTarget::Approve, MockValue::Value(value)) = (&mock.target, value) {
                match self.eval_sync(value, &sc)? {
                    Value::Bool(b) => state.approve_always.set(Some(b)),
                    Value::Array(l) => {
                        let q = l.iter().map(|v| matches!(v, Value::Bool(true))).collect();
                        *state.approvals.borrow_mut() = Some(q);
                    }
                    _ => {}
                }
                continue;
            }
            let (module, name) = match &mock.target {
                MockTarget::Callee {
                    module: Some(module),
                    name,
                } => (*module, name.clone()),
                _ => continue,
            };
            let mocked = match value {
                MockValue::Fail(msg) => Mocked::Fail(to_text(&self.eval_sync(msg, &sc)?)),
                MockValue::Value(v) => Mocked::Value(self.eval_sync(v, &sc)?),
            };
            match &mock.args {
                Some(args) => {
                    let mut with = Vec::new();
                    for (n, a) in args {
                        with.push((n.clone(), self.eval_sync(a, &sc)?));
                    }
                    state
                        .keyed
                        .borrow_mut()
                        .entry((module, name))
                        .or_default()
                        .push((with, mocked));
                }
                None => {
                    state.mocks.borrow_mut().insert((module, name), mocked);
                }
            }
        }
        Ok(())
    }

    /// `assert cond` / `assert cond, "message"`: a false condition is a
    /// failure of the test (with both sides of a comparison); the test goes on.
    pub(super) async fn assert_stmt(
        &self,
        cond: &Expr,
        message: Option<&Expr>,
        sc: &Scope,
    ) -> R<Value> {
        let (holds, sides) = match &cond.kind {
            ExprKind::Binary(op, l, r) if comparison(*op) => {
                let (lv, rv) = futures_util::future::join(self.eval(l, sc), self.eval(r, sc)).await;
                let (lv, rv) = (lv?, rv?);
                let v = self.binary(*op, lv.clone(), rv.clone(), r, sc, cond.span)?;
                let rv = match &r.kind {
                    ExprKind::Regex(_) => Value::String(self.source_text(r.span)),
                    _ => rv,
                };
                (v == Value::Bool(true), Some((op.symbol(), lv, rv)))
            }
            _ => (self.eval(cond, sc).await? == Value::Bool(true), None),
        };
        if holds {
            return Ok(Value::Null);
        }
        let note = match message {
            Some(msg) => Some(to_text(&self.eval(msg, sc).await?)),
            None => None,
        };
        let expression = self.source_text(cond.span);
        let mut f = TestFailure::new(
            "assert",
            format!("assertion failed: `{expression}`"),
            cond.span,
        );
        f.expression = Some(expression);
        f.note = note;
        if let Some((op, l, r)) = sides {
            if (l.is_object() || l.is_array()) && (r.is_object() || r.is_array()) {
                f.diff = Some(line_diff(&pretty(&l), &pretty(&r)));
            }
            f.op = Some(op);
            f.left = Some(l);
            f.right = Some(r);
        }
        if let Some(state) = &self.test {
            state.failures.borrow_mut().push(f);
        }
        Ok(Value::Null)
    }
}

fn comparison(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Eq
            | BinOp::Ne
            | BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::Match
            | BinOp::NotMatch
    )
}

/// A value as pretty JSON.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}
