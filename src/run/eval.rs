//! Evaluation's shared parts: the scope an evaluation sees, errors, time slices,
//! constants. The rest is split by seam: `scheduler` (blocks), `expr` (expressions
//! that wait), `pure` (expressions evaluated on the spot), `call` (flows, tools,
//! built-ins), `decide` (LLM decisions).

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::errors::{ErrorKind, Errors, R, RunError};
use super::limit::Limit;
use super::opts::{self, Opts};
use super::{Env, Interp};
use crate::ir::StepPath;
use crate::ir::expr::{Expr, ExprKind, Options};
use crate::span::Span;

/// How long pure evaluation runs before it gives timers and signals a turn.
pub(super) const TIME_SLICE: Duration = Duration::from_millis(10);

/// What an evaluation sees: variables, the module names resolve in, the
/// effective options and the concurrency limits around it.
#[derive(Clone)]
pub struct Scope {
    pub env: Rc<Env>,
    pub module: usize,
    pub opts: Rc<Opts>,
    /// The limits of the enclosing scopes with `max_concurrent`, outermost first.
    pub limits: Rc<Vec<Rc<Limit>>>,
    /// The step's priority at those limits: the longest chain of steps after
    /// it, through the blocks it stands in (`run::limit`).
    pub priority: u32,
    /// `limits[0]` is the default limit (`DEFAULT_MAX_CONCURRENT`), which no
    /// one stated: an explicit inner limit replaces it instead of nesting in it.
    pub default_limit: bool,
    /// For `stable()` in `until`: the `until`'s frame (the current state) and a
    /// frame of the same shape holding the previous state.
    pub prev: Option<(Rc<Env>, Rc<Env>)>,
    /// The statement being evaluated, for error messages.
    pub label: Rc<str>,
    /// The path of the step being evaluated (of the block's, outside statements).
    pub path: StepPath,
    /// The earliest deadline around: long built-ins stop there.
    pub deadline_at: Option<Instant>,
    /// The flow being run (its name in module `module`).
    pub flow: Rc<str>,
    /// The policy the flow runs under (docs/language.md, "Policies").
    pub policy: Option<Rc<crate::check::policy::Policy>>,
}

/// The earlier of a deadline and one `d` from now.
pub(super) fn earliest(at: Option<Instant>, d: Option<Duration>) -> Option<Instant> {
    match (at, d.and_then(|d| Instant::now().checked_add(d))) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Scope {
    pub(super) fn with_env(&self, env: Rc<Env>) -> Scope {
        Scope {
            env,
            ..self.clone()
        }
    }

    pub(super) fn with_label(&self, label: &str) -> Scope {
        Scope {
            label: Rc::from(label),
            ..self.clone()
        }
    }

    /// A nested scope with options `o` (decoded by `Interp::opts_of`; and a new
    /// limit if it sets `max_concurrent`).
    pub(super) fn nested(&self, o: Option<&Opts>) -> Scope {
        let Some(inner) = o else { return self.clone() };
        let (limits, default_limit) = match inner.max_concurrent {
            Some(n) => (self.limits_within(n), false),
            None => (self.limits.clone(), self.default_limit),
        };
        Scope {
            opts: Rc::new(self.opts.overlay(inner)),
            limits,
            default_limit,
            deadline_at: earliest(self.deadline_at, inner.deadline),
            ..self.clone()
        }
    }

    /// The limits of a scope nested in this one that states `max_concurrent: n`:
    /// the stated enclosing limits, then `n` (the default one does not cap it).
    pub(super) fn limits_within(&self, n: usize) -> Rc<Vec<Rc<Limit>>> {
        let skip = usize::from(self.default_limit);
        let mut l: Vec<Rc<Limit>> = self.limits.iter().skip(skip).cloned().collect();
        l.push(Rc::new(Limit::new(n)));
        Rc::new(l)
    }
}

pub(super) fn err(kind: ErrorKind, message: impl Into<String>, sc: &Scope, span: Span) -> Errors {
    vec![RunError::new(kind, message, &*sc.label, span).at(&sc.path)]
}

impl<'p> Interp<'p> {
    pub(super) fn regex(&self, pattern: &str, flags: &str) -> Rc<regex::Regex> {
        let key = format!("{flags}/{pattern}");
        if let Some(r) = self.regexes.borrow().get(&key) {
            return r.clone();
        }
        let src = if flags.is_empty() {
            pattern.to_string()
        } else {
            format!("(?{flags}){pattern}")
        };
        let r = Rc::new(
            regex::Regex::new(&src)
                .unwrap_or_else(|_| regex::Regex::new("$^").expect("a valid regex")),
        );
        self.regexes.borrow_mut().insert(key, r.clone());
        r
    }

    /// Gives the runtime a turn when evaluation has run for a time slice without
    /// waiting: pure computation (a `for` over many items, a long `loop`) never
    /// waits by itself, and without a turn neither a `deadline` nor a `timeout`
    /// nor Ctrl-C could end it. Called at every block and statement; costs a
    /// clock read. `Interp::run` starts a new slice each time the runtime polls
    /// the run.
    pub(super) async fn breathe(&self) {
        if !self.yielding.get() && self.last_yield.get().elapsed() < TIME_SLICE {
            return;
        }
        loop {
            // Every evaluation that reaches here until the runtime has had its turn
            // waits too: a `FuturesUnordered` (`join_all`, a `for`) would otherwise
            // go on to its next element, which computes without waiting. It gives
            // its caller a turn after two of its futures yield, when they wake
            // themselves at once (`tokio::task::yield_now` defers its wake-up,
            // which a `FuturesUnordered` does not count as a yield).
            self.yielding.set(true);
            let mut waited = false;
            std::future::poll_fn(|cx| {
                if waited {
                    std::task::Poll::Ready(())
                } else {
                    waited = true;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            })
            .await;
            if !self.yielding.get() && self.last_yield.get().elapsed() < TIME_SLICE {
                return;
            }
        }
    }

    pub(super) fn root_scope(&self, m: usize) -> Scope {
        let mc = self
            .config
            .set
            .max_concurrent
            .unwrap_or(opts::DEFAULT_MAX_CONCURRENT);
        Scope {
            env: Env::root(0),
            module: m,
            opts: Rc::new(self.config.set.clone()),
            limits: Rc::new(vec![Rc::new(Limit::new(mc))]),
            priority: 0,
            default_limit: self.config.set.max_concurrent.is_none(),
            prev: None,
            label: Rc::from("const"),
            path: StepPath::root("const"),
            deadline_at: None,
            flow: Rc::from(""),
            policy: None,
        }
    }

    pub(super) fn eval_consts(&self, m: usize) -> R<()> {
        let sc = self.root_scope(m);
        let lowered = self.lowered.clone();
        for c in lowered.consts(m) {
            let sc = Scope {
                path: sc.path.child(&c.name),
                ..sc.with_label(&c.name)
            };
            let v = self.eval_sync(&c.value, &sc)?;
            // Slot = the constant's place in source order (as the lowering counts).
            self.consts.borrow_mut()[m].push(Some(v));
        }
        Ok(())
    }

    /// The policy a `with { policy: NAME }` of module `m` names.
    pub(super) fn policy_of(
        &self,
        m: usize,
        o: Option<&Options>,
    ) -> Option<Rc<crate::check::policy::Policy>> {
        let name = o?.policy.as_deref()?;
        self.program.modules.get(m)?.policies.get(name).cloned()
    }
}

/// The base of a path and its segments (`a.b[0][*].c` -> `a`, [.b, [0], [*], .c]).
pub(super) fn split_path(e: &Expr) -> (&Expr, Vec<&Expr>) {
    let mut segs = Vec::new();
    let mut cur = e;
    while let ExprKind::Field(b, _) | ExprKind::Index(b, _) | ExprKind::Wildcard(b) = &cur.kind {
        segs.push(cur);
        cur = b;
    }
    segs.reverse();
    (cur, segs)
}

pub(super) fn collect(rs: Vec<R<Value>>) -> R<Vec<Value>> {
    let mut out = Vec::with_capacity(rs.len());
    let mut errors = Vec::new();
    for r in rs {
        match r {
            Ok(v) => out.push(v),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
