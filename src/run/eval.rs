//! Evaluation: the eager block scheduler, expressions, calls.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::future::{LocalBoxFuture, join_all};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use super::errors::{ErrorKind, Errors, R, RunError};
use super::llm::{self, DecisionRequest, Outcome};
use super::memory;
use super::opts::{self, Opts, fmt_duration};
use super::record;
use super::record::{StepKind, StepStatus};
use super::tools::{self, ToolFailure};
use super::value::{self, compare, equal, float, int, to_text};
use super::{Env, Interp};
use crate::builtins::{self, Builtin, Failure};
use crate::check::{BlockInfo, block_key};
use crate::syntax::ast::*;
use crate::syntax::span::Span;

/// How long pure evaluation runs before it gives timers and signals a turn.
const TIME_SLICE: Duration = Duration::from_millis(10);

/// What an evaluation sees: variables, the module names resolve in, the
/// effective options and the concurrency limits around it.
#[derive(Clone)]
pub struct Scope {
    pub env: Rc<Env>,
    pub module: usize,
    pub opts: Rc<Opts>,
    /// Semaphores of the enclosing scopes with `max_concurrent`, outermost first.
    pub limits: Rc<Vec<Rc<Semaphore>>>,
    /// `limits[0]` is the default limit (`DEFAULT_MAX_CONCURRENT`), which no
    /// one stated: an explicit inner limit replaces it instead of nesting in it.
    pub default_limit: bool,
    /// The previous loop state's variables, for `stable()` in `until`.
    pub prev: Option<Rc<Env>>,
    /// The statement being evaluated, for error messages.
    pub label: Rc<str>,
    /// The earliest deadline around: long built-ins stop there.
    pub deadline_at: Option<Instant>,
}

/// The earlier of a deadline and one `d` from now.
fn earliest(at: Option<Instant>, d: Option<Duration>) -> Option<Instant> {
    match (at, d.and_then(|d| Instant::now().checked_add(d))) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Scope {
    fn with_env(&self, env: Rc<Env>) -> Scope {
        Scope {
            env,
            ..self.clone()
        }
    }

    fn with_label(&self, label: &str) -> Scope {
        Scope {
            label: Rc::from(label),
            ..self.clone()
        }
    }

    /// A nested scope with options `o` (and a new limit if it sets `max_concurrent`).
    fn nested(&self, o: Option<&Options>) -> Scope {
        let Some(o) = o else { return self.clone() };
        let inner = Opts::from_ast(Some(o));
        let (limits, default_limit) = match inner.max_concurrent {
            Some(n) => (self.limits_within(n), false),
            None => (self.limits.clone(), self.default_limit),
        };
        Scope {
            opts: Rc::new(self.opts.overlay(&inner)),
            limits,
            default_limit,
            deadline_at: earliest(self.deadline_at, inner.deadline),
            ..self.clone()
        }
    }

    /// The limits of a scope nested in this one that states `max_concurrent: n`:
    /// the stated enclosing limits, then `n` (the default one does not cap it).
    fn limits_within(&self, n: usize) -> Rc<Vec<Rc<Semaphore>>> {
        let skip = usize::from(self.default_limit);
        let mut l: Vec<Rc<Semaphore>> = self.limits.iter().skip(skip).cloned().collect();
        l.push(Rc::new(Semaphore::new(n)));
        Rc::new(l)
    }
}

/// Does evaluating `e` need to wait (tool calls, flows, blocks)?
fn needs_async(shadowed: &HashSet<&str>, e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Duration { .. }
        | ExprKind::Regex { .. }
        | ExprKind::Name(_) => false,
        ExprKind::Str(parts) => parts
            .iter()
            .any(|p| matches!(p, StrPart::Interp(x) if needs_async(shadowed, x))),
        ExprKind::List(items) => items.iter().any(|x| needs_async(shadowed, x)),
        ExprKind::Record(fields) => fields.iter().any(|f| needs_async(shadowed, &f.value)),
        ExprKind::Call(c) => {
            !(c.callee.len() == 1
                && crate::check::is_builtin_fn(&c.callee[0].name)
                && !shadowed.contains(c.callee[0].name.as_str())
                && c.callee[0].name != "llm")
                || c.args.iter().any(|a| needs_async(shadowed, &a.value))
        }
        ExprKind::Field(b, _) | ExprKind::Wildcard(b) | ExprKind::Unary(_, b) => {
            needs_async(shadowed, b)
        }
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            needs_async(shadowed, a) || needs_async(shadowed, b)
        }
        _ => true,
    }
}

fn err(kind: ErrorKind, message: impl Into<String>, sc: &Scope, span: Span) -> Errors {
    vec![RunError::new(kind, message, &*sc.label, span)]
}

impl<'p> Interp<'p> {
    fn regex(&self, pattern: &str, flags: &str) -> Rc<regex::Regex> {
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
    async fn breathe(&self) {
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

    /// The names of a block's `let`s (the labels of their steps), built once per block.
    fn block_labels(&self, b: &'p Block) -> super::Labels {
        let key = block_key(b);
        if let Some(l) = self.block_labels.borrow().get(&key) {
            return l.clone();
        }
        let l: super::Labels = b
            .stmts
            .iter()
            .map(|s| match &s.kind {
                StmtKind::Let { name, .. } => Some(Rc::from(name.name.as_str())),
                _ => None,
            })
            .collect();
        self.block_labels.borrow_mut().insert(key, l.clone());
        l
    }

    /// A tool declaration's options, read once.
    fn tool_opts(&self, m: usize, tool: &'p ToolDecl) -> Rc<Opts> {
        if let Some(o) = self.tool_opts.borrow().get(&(m, tool.name.name.as_str())) {
            return o.clone();
        }
        let o = Rc::new(Opts::from_ast(tool.options.as_ref()));
        self.tool_opts
            .borrow_mut()
            .insert((m, tool.name.name.as_str()), o.clone());
        o
    }

    fn root_scope(&self, m: usize) -> Scope {
        let mc = self
            .config
            .set
            .max_concurrent
            .unwrap_or(opts::DEFAULT_MAX_CONCURRENT);
        Scope {
            env: Env::root(),
            module: m,
            opts: Rc::new(self.config.set.clone()),
            limits: Rc::new(vec![Rc::new(Semaphore::new(mc))]),
            default_limit: self.config.set.max_concurrent.is_none(),
            prev: None,
            label: Rc::from("const"),
            deadline_at: None,
        }
    }

    pub(super) fn eval_consts(&self, m: usize) -> R<()> {
        let sc = self.root_scope(m);
        for it in &self.program.modules[m].ast.items {
            if let ItemKind::Const(c) = &it.kind {
                let sc = sc.with_label(&c.name.name);
                let v = self.eval_sync(&c.value, &sc)?;
                self.consts.borrow_mut()[m].insert(c.name.name.clone(), v);
            }
        }
        Ok(())
    }

    /// Runs a flow with its arguments bound.
    pub(super) fn call_flow<'a>(
        &'a self,
        m: usize,
        flow: &'p FlowDecl,
        args: Map<String, Value>,
        caller: Option<&'a Scope>,
        span: Span,
        label: Option<&str>,
    ) -> LocalBoxFuture<'a, R<Value>> {
        let label = label.unwrap_or(&flow.name.name).to_string();
        Box::pin(async move {
            let header = Opts::from_ast(flow.options.as_ref());
            let mut base = self.config.set.overlay(&header);
            // The memory budget is the run's: a called flow keeps its caller's.
            if let (Some(c), None) = (caller, header.max_memory) {
                base.max_memory = c.opts.max_memory;
            }
            let (limits, default_limit) = match caller {
                None => {
                    let stated = header.max_concurrent.or(self.config.set.max_concurrent);
                    let mc = stated.unwrap_or(opts::DEFAULT_MAX_CONCURRENT);
                    (Rc::new(vec![Rc::new(Semaphore::new(mc))]), stated.is_none())
                }
                Some(c) => match header.max_concurrent {
                    Some(n) => (c.limits_within(n), false),
                    None => (c.limits.clone(), c.default_limit),
                },
            };
            let env = Env::root();
            let sc = Scope {
                env: env.clone(),
                module: m,
                opts: Rc::new(base),
                limits,
                default_limit,
                prev: None,
                label: Rc::from(label.as_str()),
                deadline_at: earliest(caller.and_then(|c| c.deadline_at), header.deadline),
            };
            for p in &flow.params {
                let v = match args.get(&p.name.name) {
                    Some(v) => v.clone(),
                    None => match &p.default {
                        Some(d) => self.eval(d, &sc).await?,
                        None => Value::Null,
                    },
                };
                env.set(&p.name.name, v);
            }
            let id = if caller.is_some() {
                self.recorder
                    .start(&label, &flow.name.name, StepKind::Flow, span)
            } else {
                usize::MAX
            };
            let body = self.block(&flow.body, &sc, false);
            let r = match sc.opts.deadline {
                Some(d) => match tokio::time::timeout(d, body).await {
                    Ok(r) => r,
                    Err(_) => Err(err(
                        ErrorKind::Timeout,
                        format!(
                            "flow `{}` exceeded its deadline of {}",
                            flow.name.name,
                            fmt_duration(d)
                        ),
                        &sc,
                        flow.name.span,
                    )),
                },
                None => body.await,
            };
            self.recorder.end(
                id,
                if r.is_ok() {
                    StepStatus::Ok
                } else {
                    StepStatus::Failed
                },
                1,
                r.as_ref().err().map(|e| e[0].record()),
            );
            r
        })
    }

    // ------------------------------------------------------------ blocks

    /// Runs a block's statements eagerly: each starts once the statements it reads
    /// have finished (a `sequence` adds an edge from each statement to the next;
    /// `effect` calls keep their source order). A failure stops only the statements
    /// that depend on it, unless `fail_fast`; the block then fails with every error.
    pub(super) fn block<'a>(
        &'a self,
        b: &'p Block,
        outer: &'a Scope,
        sequence: bool,
    ) -> LocalBoxFuture<'a, R<Value>> {
        Box::pin(async move {
            self.breathe().await;
            let n = b.stmts.len();
            if n == 0 {
                return Ok(Value::Null);
            }
            let empty = BlockInfo::default();
            let info = self.program.blocks.get(&block_key(b)).unwrap_or(&empty);
            // Edges j -> i (i reads j), as a compressed adjacency list: one pass
            // to count, one to fill. Duplicate edges are harmless: each adds one
            // to the in-degree and appears once among the dependents.
            let for_each_edge = |f: &mut dyn FnMut(usize, usize)| {
                let mut last_effect: Option<usize> = None;
                for i in 0..n {
                    for &j in info.deps.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                        if j != i && j < n {
                            f(j, i);
                        }
                    }
                    if sequence && i > 0 {
                        f(i - 1, i);
                    }
                    if info.effects.get(i).copied().unwrap_or(false) {
                        if let Some(j) = last_effect {
                            f(j, i);
                        }
                        last_effect = Some(i);
                    }
                }
            };
            let mut indeg = vec![0usize; n];
            let mut offsets = vec![0usize; n + 1];
            for_each_edge(&mut |j, i| {
                indeg[i] += 1;
                offsets[j + 1] += 1;
            });
            for k in 0..n {
                offsets[k + 1] += offsets[k];
            }
            let mut fill = offsets.clone();
            let mut targets = vec![0usize; offsets[n]];
            for_each_edge(&mut |j, i| {
                targets[fill[j]] = i;
                fill[j] += 1;
            });
            drop(fill);
            let env = Env::child(&outer.env);
            let sc = outer.with_env(env.clone());
            // Liveness: how many statements still have to read each `let`; its
            // value is dropped when the last of them has finished.
            // (No allocation for a block whose statements read no `let` of it.)
            let read = info.deps.iter().any(|d| !d.is_empty());
            let counting = read && sc.opts.max_memory.is_some();
            let mut live = Live {
                readers: if read { vec![0u32; n] } else { Vec::new() },
                sizes: if counting { vec![0u64; n] } else { Vec::new() },
                counting,
                memory: &self.memory,
            };
            for i in 0..n {
                for &j in info.deps.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                    if j != i && j < n {
                        live.readers[j] += 1;
                    }
                }
            }
            let fail_fast = sc.opts.fail_fast.unwrap_or(false);
            let mut ready: VecDeque<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
            let mut inflight: FuturesUnordered<LocalBoxFuture<'_, (usize, R<Value>)>> =
                FuturesUnordered::new();
            let mut errors: Errors = Vec::new();
            let mut last_value = Value::Null;
            let let_name = |j: usize| match &b.stmts[j].kind {
                StmtKind::Let { name, .. } => Some(name.name.as_str()),
                _ => None,
            };
            let complete = |i: usize,
                            r: R<Value>,
                            ready: &mut VecDeque<usize>,
                            indeg: &mut Vec<usize>,
                            errors: &mut Errors,
                            last_value: &mut Value,
                            live: &mut Live<'_>| {
                match r {
                    Ok(v) => {
                        match let_name(i) {
                            // A value nothing reads is not kept.
                            Some(name) if live.readers.get(i).is_some_and(|&k| k > 0) => {
                                if live.counting {
                                    live.sizes[i] = memory::size(&v);
                                    live.memory.hold(live.sizes[i]);
                                }
                                env.set(name, v);
                            }
                            Some(_) => {}
                            None if i == n - 1 => *last_value = v,
                            None => {}
                        }
                        for &d in &targets[offsets[i]..offsets[i + 1]] {
                            indeg[d] -= 1;
                            if indeg[d] == 0 {
                                ready.push_back(d);
                            }
                        }
                    }
                    Err(mut e) => errors.append(&mut e),
                }
                // `i` has read what it reads: the values it was the last reader of go.
                for &j in info.deps.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                    if j != i && j < n {
                        live.readers[j] -= 1;
                        if live.readers[j] == 0
                            && let Some(name) = let_name(j)
                        {
                            env.remove(name);
                            if live.counting {
                                live.memory.release(std::mem::take(&mut live.sizes[j]));
                            }
                        }
                    }
                }
            };
            let labels = self.block_labels(b);
            loop {
                while let Some(i) = ready.pop_front() {
                    self.breathe().await;
                    let s = &b.stmts[i];
                    let label = match &s.kind {
                        StmtKind::Let { name, .. } => name.name.as_str(),
                        _ => &*sc.label,
                    };
                    let expr = match &s.kind {
                        StmtKind::Let { value, .. } | StmtKind::Expr { expr: value, .. } => value,
                        StmtKind::Mock { .. } | StmtKind::Assert(_) | StmtKind::Error { .. } => {
                            complete(
                                i,
                                Ok(Value::Null),
                                &mut ready,
                                &mut indeg,
                                &mut errors,
                                &mut last_value,
                                &mut live,
                            );
                            continue;
                        }
                    };
                    if !needs_async(&self.shadowed, expr) {
                        let lsc = match &labels[i] {
                            Some(l) => Scope {
                                label: l.clone(),
                                ..sc.clone()
                            },
                            None => sc.clone(),
                        };
                        let r = self.eval_sync(expr, &lsc);
                        complete(
                            i,
                            r,
                            &mut ready,
                            &mut indeg,
                            &mut errors,
                            &mut last_value,
                            &mut live,
                        );
                    } else {
                        let ssc = match &labels[i] {
                            Some(l) => Scope {
                                label: l.clone(),
                                ..sc.clone()
                            },
                            None => sc.clone(),
                        };
                        let call_label =
                            matches!(s.kind, StmtKind::Let { .. }).then(|| label.to_string());
                        inflight.push(Box::pin(async move {
                            let r = match (&expr.kind, call_label) {
                                (ExprKind::Call(c), Some(l)) => {
                                    self.call(c, expr.span, &ssc, Some(&l)).await
                                }
                                _ => self.eval(expr, &ssc).await,
                            };
                            (i, r)
                        }));
                    }
                }
                if fail_fast && !errors.is_empty() {
                    break;
                }
                match inflight.next().await {
                    Some((i, r)) => complete(
                        i,
                        r,
                        &mut ready,
                        &mut indeg,
                        &mut errors,
                        &mut last_value,
                        &mut live,
                    ),
                    None => break,
                }
                if fail_fast && !errors.is_empty() {
                    break;
                }
            }
            drop(inflight);
            if errors.is_empty() {
                Ok(last_value)
            } else {
                Err(errors)
            }
        })
    }

    // ------------------------------------------------------------ expressions

    pub(super) fn eval<'a>(&'a self, e: &'p Expr, sc: &'a Scope) -> LocalBoxFuture<'a, R<Value>> {
        Box::pin(async move {
            if !needs_async(&self.shadowed, e) {
                return self.eval_sync(e, sc);
            }
            match &e.kind {
                ExprKind::Str(parts) => {
                    let mut s = String::new();
                    for p in parts {
                        match p {
                            StrPart::Text(t) => s.push_str(t),
                            StrPart::Interp(x) => s.push_str(&to_text(&self.eval(x, sc).await?)),
                        }
                    }
                    Ok(Value::String(s))
                }
                ExprKind::List(items) => {
                    let rs = join_all(items.iter().map(|i| self.eval(i, sc))).await;
                    collect(rs).map(Value::Array)
                }
                ExprKind::Record(fields) => {
                    let rs = join_all(fields.iter().map(|f| self.eval(&f.value, sc))).await;
                    let vals = collect(rs)?;
                    Ok(Value::Object(
                        fields
                            .iter()
                            .zip(vals)
                            .map(|(f, v)| (f.name.name.clone(), v))
                            .collect(),
                    ))
                }
                ExprKind::Call(c) => self.call(c, e.span, sc, None).await,
                ExprKind::Field(..) | ExprKind::Index(..) | ExprKind::Wildcard(..) => {
                    let (base, rest) = split_path(e);
                    let v = self.eval(base, sc).await?;
                    let mut idx = Vec::new();
                    for seg in &rest {
                        if let ExprKind::Index(_, i) = &seg.kind {
                            idx.push(self.eval(i, sc).await?);
                        }
                    }
                    self.apply_path(v, &rest, &mut idx.into_iter(), sc)
                }
                ExprKind::Unary(op, x) => {
                    let v = self.eval(x, sc).await?;
                    self.unary(*op, v, sc, e.span)
                }
                ExprKind::Binary(op, l, r) => match op {
                    BinOp::And | BinOp::Or | BinOp::Coalesce => {
                        let lv = self.eval(l, sc).await?;
                        match (op, &lv) {
                            (BinOp::And, Value::Bool(false)) => Ok(lv),
                            (BinOp::Or, Value::Bool(true)) => Ok(lv),
                            (BinOp::Coalesce, v) if !v.is_null() => Ok(lv),
                            _ => self.eval(r, sc).await,
                        }
                    }
                    _ => {
                        let (lv, rv) =
                            futures_util::future::join(self.eval(l, sc), self.eval(r, sc)).await;
                        self.binary(*op, lv?, rv?, r, sc, e.span)
                    }
                },
                ExprKind::Catch(a, b) => match self.eval(a, sc).await {
                    Ok(v) => Ok(v),
                    Err(_) => self.eval(b, sc).await,
                },
                ExprKind::Parallel {
                    mode,
                    options,
                    branches,
                } => {
                    let sc = sc.nested(options.as_ref());
                    let rs = join_all(branches.iter().map(|b| self.eval(&b.value, &sc))).await;
                    let vals = collect(rs)?;
                    Ok(match mode {
                        ParallelMode::Record => Value::Object(
                            branches
                                .iter()
                                .zip(vals)
                                .map(|(b, v)| (b.name.name.clone(), v))
                                .collect(),
                        ),
                        ParallelMode::Merge => {
                            let mut out = Map::new();
                            for v in vals {
                                if let Value::Object(m) = v {
                                    value::deep_merge(&mut out, &m);
                                }
                            }
                            Value::Object(out)
                        }
                        ParallelMode::Concat => Value::Array(
                            vals.into_iter()
                                .flat_map(|v| if let Value::Array(a) = v { a } else { vec![v] })
                                .collect(),
                        ),
                    })
                }
                ExprKind::Race { options, branches } => {
                    let sc = sc.nested(options.as_ref());
                    let sc = &sc;
                    let mut futs: FuturesUnordered<_> = branches
                        .iter()
                        .map(|b| async move { (b, self.eval(&b.value, sc).await) })
                        .collect();
                    let mut errors = Vec::new();
                    while let Some((b, r)) = futs.next().await {
                        match r {
                            Ok(v) => {
                                // Dropping the others cancels them (and kills their processes).
                                return Ok(
                                    serde_json::json!({ "winner": b.name.name, "value": v }),
                                );
                            }
                            Err(mut e) => errors.append(&mut e),
                        }
                    }
                    Err(errors)
                }
                ExprKind::Sequence { options, block } => {
                    let sc = sc.nested(options.as_ref());
                    self.with_deadline(self.block(block, &sc, true), &sc, e.span)
                        .await
                }
                ExprKind::Dag { options, block } => {
                    let sc = sc.nested(options.as_ref());
                    self.with_deadline(self.block(block, &sc, false), &sc, e.span)
                        .await
                }
                ExprKind::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    let c = self.eval(cond, sc).await?;
                    if c == Value::Bool(true) {
                        self.block(then, sc, false).await
                    } else {
                        match otherwise.as_deref() {
                            None => Ok(Value::Null),
                            Some(Else::Block(b)) => self.block(b, sc, false).await,
                            Some(Else::If(x)) => self.eval(x, sc).await,
                        }
                    }
                }
                ExprKind::Match { scrutinee, arms } => {
                    let v = self.eval(scrutinee, sc).await?;
                    match self.match_arm(&v, arms, sc)? {
                        Some(arm) => self.eval(&arm.body, sc).await,
                        None => Ok(Value::Null),
                    }
                }
                ExprKind::Loop {
                    var,
                    init,
                    max,
                    until,
                    options,
                    body,
                } => {
                    let sc = sc.nested(options.as_ref());
                    let max_n = match max {
                        Some(m) => self.eval_sync(m, &sc)?.as_u64().unwrap_or(1).max(1),
                        None => u64::from(
                            sc.opts
                                .max_loop_iterations
                                .unwrap_or(opts::DEFAULT_MAX_LOOP),
                        ),
                    };
                    let sc = &sc;
                    let run_loop = async move {
                        let mut state = self.eval(init, sc).await?;
                        let mut iteration = 0u64;
                        loop {
                            iteration += 1;
                            let benv = Env::child(&sc.env);
                            benv.set(&var.name, state.clone());
                            benv.set("iteration", int(iteration as i64));
                            let next = self.block(body, &sc.with_env(benv), false).await?;
                            let uenv = Env::child(&sc.env);
                            uenv.set(&var.name, next.clone());
                            let penv = Env::child(&sc.env);
                            penv.set(&var.name, state);
                            let usc = Scope {
                                prev: Some(penv),
                                ..sc.with_env(uenv)
                            };
                            let done = self.eval(until, &usc).await?;
                            state = next;
                            if done == Value::Bool(true) {
                                break;
                            }
                            if iteration >= max_n {
                                let msg = format!(
                                    "loop `{}` reached its maximum of {max_n} iterations before `until` held",
                                    var.name
                                );
                                if sc.opts.on_max_error.unwrap_or(false) {
                                    return Err(err(ErrorKind::PolicyViolation, msg, sc, e.span));
                                }
                                self.recorder.warn(msg, e.span, self.sources);
                                break;
                            }
                        }
                        Ok(state)
                    };
                    self.with_deadline(run_loop, sc, e.span).await
                }
                ExprKind::For {
                    var,
                    iter,
                    filter,
                    options,
                    body,
                } => {
                    let sc = sc.nested(options.as_ref());
                    let list = self.eval(iter, &sc).await?;
                    let Value::Array(items) = list else {
                        return Err(err(
                            ErrorKind::TypeError,
                            format!("`for` needs a list, got {}", value::describe(&list)),
                            &sc,
                            iter.span,
                        ));
                    };
                    let count = items.len();
                    let mut bodies: FuturesUnordered<_> = items
                        .into_iter()
                        .enumerate()
                        .map(|(k, item)| {
                            let env = Env::child(&sc.env);
                            env.set(&var.name, item);
                            let isc = sc.with_env(env);
                            async move {
                                let r = async {
                                    // `where cond`: a dropped element gives no value (and runs no body).
                                    if let Some(f) = filter {
                                        match self.eval(f, &isc).await? {
                                            Value::Bool(true) => {}
                                            Value::Bool(false) => return Ok(None),
                                            other => {
                                                return Err(err(
                                                    ErrorKind::TypeError,
                                                    format!(
                                                        "a `where` condition must be a bool, got {}",
                                                        value::describe(&other)
                                                    ),
                                                    &isc,
                                                    f.span,
                                                ));
                                            }
                                        }
                                    }
                                    self.block(body, &isc, false).await.map(Some)
                                }
                                .await;
                                (k, r)
                            }
                        })
                        .collect();
                    // Results go to their item's place as they come (a `join_all`
                    // would keep every result after one that waits in a heap).
                    let all = async {
                        let mut results: Vec<R<Option<Value>>> = Vec::with_capacity(count);
                        results.resize_with(count, || Ok(None));
                        while let Some((k, r)) = bodies.next().await {
                            results[k] = r;
                        }
                        let mut kept = Vec::new();
                        let mut errors = Vec::new();
                        for r in results {
                            match r {
                                Ok(Some(v)) => kept.push(v),
                                Ok(None) => {}
                                Err(mut e) => errors.append(&mut e),
                            }
                        }
                        if errors.is_empty() {
                            Ok(Value::Array(kept))
                        } else {
                            Err(errors)
                        }
                    };
                    self.with_deadline(all, &sc, e.span).await
                }
                ExprKind::Try {
                    options,
                    body,
                    var,
                    handler,
                } => {
                    let sc = sc.nested(options.as_ref());
                    match self
                        .with_deadline(self.block(body, &sc, false), &sc, e.span)
                        .await
                    {
                        Ok(v) => Ok(v),
                        Err(errs) => {
                            let env = Env::child(&sc.env);
                            if let Some(v) = var {
                                env.set(&v.name, errs[0].to_value());
                            }
                            self.block(handler, &sc.with_env(env), false).await
                        }
                    }
                }
                ExprKind::Decide {
                    prompt,
                    context,
                    arms,
                } => {
                    // Errors point at `decide "prompt"`, not the whole block.
                    let head = Span {
                        end: prompt.span.end,
                        ..e.span
                    };
                    self.decide(prompt, context.as_deref(), arms, head, sc)
                        .await
                }
                ExprKind::Approve { .. } => Err(err(
                    ErrorKind::PolicyViolation,
                    "`approve` pauses a run for a person, which needs `flowc resume`; this version cannot pause runs",
                    sc,
                    e.span,
                )),
                _ => self.eval_sync(e, sc),
            }
        })
    }

    async fn with_deadline(
        &self,
        f: impl std::future::Future<Output = R<Value>>,
        sc: &Scope,
        span: Span,
    ) -> R<Value> {
        match sc.opts.deadline {
            Some(d) => match tokio::time::timeout(d, f).await {
                Ok(r) => r,
                Err(_) => Err(err(
                    ErrorKind::Timeout,
                    format!("the block exceeded its deadline of {}", fmt_duration(d)),
                    sc,
                    span,
                )),
            },
            None => f.await,
        }
    }

    fn match_arm(&self, v: &Value, arms: &'p [MatchArm], sc: &Scope) -> R<Option<&'p MatchArm>> {
        for arm in arms {
            match &arm.pattern {
                Pattern::Wildcard(_) => return Ok(Some(arm)),
                Pattern::Literals(lits) => {
                    for l in lits {
                        if equal(&self.eval_sync(l, sc)?, v) {
                            return Ok(Some(arm));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// Evaluates an expression that needs no waiting.
    pub(super) fn eval_sync(&self, e: &'p Expr, sc: &Scope) -> R<Value> {
        Ok(match &e.kind {
            ExprKind::Int(n) => int(*n),
            ExprKind::Float(f) => {
                float(*f).map_err(|m| err(ErrorKind::TypeError, m, sc, e.span))?
            }
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Null => Value::Null,
            ExprKind::Duration { ms, .. } => int(ms.unwrap_or(0) as i64),
            ExprKind::Regex { pattern, .. } => Value::String(pattern.clone()),
            ExprKind::Str(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        StrPart::Text(t) => s.push_str(t),
                        StrPart::Interp(x) => s.push_str(&to_text(&self.eval_sync(x, sc)?)),
                    }
                }
                Value::String(s)
            }
            ExprKind::Name(id) => self.lookup(&id.name, sc, id.span)?,
            ExprKind::List(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.eval_sync(i, sc))
                    .collect::<R<Vec<_>>>()?,
            ),
            ExprKind::Record(fields) => Value::Object(
                fields
                    .iter()
                    .map(|f| Ok((f.name.name.clone(), self.eval_sync(&f.value, sc)?)))
                    .collect::<R<Map<_, _>>>()?,
            ),
            ExprKind::Call(c) => return self.builtin_fn(c, e.span, sc),
            ExprKind::Field(..) | ExprKind::Index(..) | ExprKind::Wildcard(..) => {
                let (base, rest) = split_path(e);
                if let (ExprKind::Name(m), Some(ExprKind::Field(_, item))) =
                    (&base.kind, rest.first().map(|r| &r.kind))
                    && sc.env.get(&m.name).is_none()
                    && let Some(&mi) = self.program.modules[sc.module].imports.get(&m.name)
                {
                    let v = self.consts.borrow()[mi]
                        .get(&item.name)
                        .cloned()
                        .unwrap_or(Value::Null);
                    let mut idx = Vec::new();
                    for seg in &rest[1..] {
                        if let ExprKind::Index(_, i) = &seg.kind {
                            idx.push(self.eval_sync(i, sc)?);
                        }
                    }
                    return self.apply_path(v, &rest[1..], &mut idx.into_iter(), sc);
                }
                let v = self.eval_sync(base, sc)?;
                let mut idx = Vec::new();
                for seg in &rest {
                    if let ExprKind::Index(_, i) = &seg.kind {
                        idx.push(self.eval_sync(i, sc)?);
                    }
                }
                return self.apply_path(v, &rest, &mut idx.into_iter(), sc);
            }
            ExprKind::Unary(op, x) => {
                let v = self.eval_sync(x, sc)?;
                return self.unary(*op, v, sc, e.span);
            }
            ExprKind::Binary(op, l, r) => {
                let lv = self.eval_sync(l, sc)?;
                match (op, &lv) {
                    (BinOp::And, Value::Bool(false)) | (BinOp::Or, Value::Bool(true)) => {
                        return Ok(lv);
                    }
                    (BinOp::Coalesce, v) if !v.is_null() => return Ok(lv),
                    (BinOp::And | BinOp::Or | BinOp::Coalesce, _) => return self.eval_sync(r, sc),
                    _ => {}
                }
                let rv = self.eval_sync(r, sc)?;
                return self.binary(*op, lv, rv, r, sc, e.span);
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                // Only reached for pure arms through `needs_async` = true paths; evaluate by blocks' tails.
                let c = self.eval_sync(cond, sc)?;
                let pick = if c == Value::Bool(true) {
                    Some(then)
                } else {
                    None
                };
                match (pick, otherwise.as_deref()) {
                    (Some(b), _) => return self.pure_block(b, sc),
                    (None, None) => Value::Null,
                    (None, Some(Else::Block(b))) => return self.pure_block(b, sc),
                    (None, Some(Else::If(x))) => return self.eval_sync(x, sc),
                }
            }
            _ => {
                return Err(err(
                    ErrorKind::TypeError,
                    "this expression cannot be evaluated here",
                    sc,
                    e.span,
                ));
            }
        })
    }

    fn pure_block(&self, b: &'p Block, sc: &Scope) -> R<Value> {
        let env = Env::child(&sc.env);
        let sc = sc.with_env(env.clone());
        let mut last = Value::Null;
        for s in &b.stmts {
            match &s.kind {
                StmtKind::Let { name, value, .. } => {
                    env.set(&name.name, self.eval_sync(value, &sc)?)
                }
                StmtKind::Expr { expr, .. } => last = self.eval_sync(expr, &sc)?,
                _ => {}
            }
        }
        Ok(last)
    }

    fn lookup(&self, name: &str, sc: &Scope, span: Span) -> R<Value> {
        if let Some(v) = sc.env.get(name) {
            return Ok(v);
        }
        if let Some(v) = self.consts.borrow()[sc.module].get(name) {
            return Ok(v.clone());
        }
        if name == "context" {
            return Ok(self.context.borrow().clone());
        }
        Err(err(
            ErrorKind::TypeError,
            format!("`{name}` has no value here"),
            sc,
            span,
        ))
    }

    /// Applies path segments to `v`; after `[*]`, the rest applies to every element.
    fn apply_path(
        &self,
        v: Value,
        segs: &[&Expr],
        idx: &mut impl Iterator<Item = Value>,
        sc: &Scope,
    ) -> R<Value> {
        let Some((seg, rest)) = segs.split_first() else {
            return Ok(v);
        };
        match &seg.kind {
            ExprKind::Field(_, name) => {
                let next = match v {
                    Value::Object(mut m) => m.remove(&name.name).unwrap_or(Value::Null),
                    Value::Null => {
                        return Err(err(
                            ErrorKind::TypeError,
                            format!("cannot read field `{}` of null", name.name),
                            sc,
                            seg.span,
                        ));
                    }
                    other => {
                        return Err(err(
                            ErrorKind::TypeError,
                            format!(
                                "cannot read field `{}` of {}",
                                name.name,
                                value::describe(&other)
                            ),
                            sc,
                            seg.span,
                        ));
                    }
                };
                self.apply_path(next, rest, idx, sc)
            }
            ExprKind::Index(_, _) => {
                let i = idx.next().unwrap_or(Value::Null);
                let next = match (v, &i) {
                    (Value::Array(mut a), Value::Number(n)) => {
                        let len = a.len() as i64;
                        let k = n.as_i64().unwrap_or(0);
                        let k = if k < 0 { len + k } else { k };
                        if k < 0 || k >= len {
                            return Err(err(
                                ErrorKind::TypeError,
                                format!("index {n} is out of range for a list of {len}"),
                                sc,
                                seg.span,
                            ));
                        }
                        a.swap_remove(k as usize)
                    }
                    (Value::Object(mut m), Value::String(s)) => m.remove(s).unwrap_or(Value::Null),
                    (other, _) => {
                        return Err(err(
                            ErrorKind::TypeError,
                            format!(
                                "cannot index {} with {}",
                                value::describe(&other),
                                value::describe(&i)
                            ),
                            sc,
                            seg.span,
                        ));
                    }
                };
                self.apply_path(next, rest, idx, sc)
            }
            ExprKind::Wildcard(_) => match v {
                Value::Array(items) => {
                    // Index values of the rest are the same for every element.
                    let rest_idx: Vec<Value> = idx.collect();
                    Ok(Value::Array(
                        items
                            .into_iter()
                            .map(|x| {
                                self.apply_path(x, rest, &mut rest_idx.clone().into_iter(), sc)
                            })
                            .collect::<R<Vec<_>>>()?,
                    ))
                }
                other => Err(err(
                    ErrorKind::TypeError,
                    format!("`[*]` needs a list, got {}", value::describe(&other)),
                    sc,
                    seg.span,
                )),
            },
            _ => Ok(v),
        }
    }

    fn unary(&self, op: UnOp, v: Value, sc: &Scope, span: Span) -> R<Value> {
        match (op, &v) {
            (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
            (UnOp::Neg, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(int(n
                .as_i64()
                .and_then(i64::checked_neg)
                .ok_or_else(|| err(ErrorKind::TypeError, "integer overflow", sc, span))?)),
            (UnOp::Neg, Value::Number(n)) => float(-n.as_f64().unwrap_or(0.0))
                .map_err(|m| err(ErrorKind::TypeError, m, sc, span)),
            _ => Err(err(
                ErrorKind::TypeError,
                format!(
                    "cannot apply `{}` to {}",
                    if op == UnOp::Not { "!" } else { "-" },
                    value::describe(&v)
                ),
                sc,
                span,
            )),
        }
    }

    fn binary(
        &self,
        op: BinOp,
        l: Value,
        r: Value,
        rexpr: &Expr,
        sc: &Scope,
        span: Span,
    ) -> R<Value> {
        let bad = |l: &Value, r: &Value| {
            err(
                ErrorKind::TypeError,
                format!(
                    "`{}` cannot be applied to {} and {}",
                    op.symbol(),
                    value::describe(l),
                    value::describe(r)
                ),
                sc,
                span,
            )
        };
        Ok(match op {
            BinOp::Eq => Value::Bool(equal(&l, &r)),
            BinOp::Ne => Value::Bool(!equal(&l, &r)),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if l.is_null() || r.is_null() || (l.is_number() != r.is_number()) {
                    return Err(bad(&l, &r));
                }
                let o = compare(&l, &r);
                use std::cmp::Ordering::*;
                Value::Bool(match op {
                    BinOp::Lt => o == Less,
                    BinOp::Le => o != Greater,
                    BinOp::Gt => o == Greater,
                    _ => o != Less,
                })
            }
            BinOp::Match | BinOp::NotMatch => {
                let ExprKind::Regex { pattern, flags } = &rexpr.kind else {
                    return Err(bad(&l, &r));
                };
                let Value::String(s) = &l else {
                    return Err(bad(&l, &r));
                };
                let m = self.regex(pattern, flags).is_match(s);
                Value::Bool(if op == BinOp::Match { m } else { !m })
            }
            BinOp::Concat => match (l, r) {
                (Value::String(a), Value::String(b)) => Value::String(a + &b),
                (Value::Array(mut a), Value::Array(b)) => {
                    a.extend(b);
                    Value::Array(a)
                }
                (l, r) => return Err(bad(&l, &r)),
            },
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let (Value::Number(a), Value::Number(b)) = (&l, &r) else {
                    return Err(bad(&l, &r));
                };
                let integer = |n: &serde_json::Number| n.is_i64() || n.is_u64();
                if integer(a) && integer(b) {
                    // An integer beyond `i64` (from a tool's JSON) overflows, as a result would.
                    let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) else {
                        return Err(err(ErrorKind::TypeError, "integer overflow", sc, span));
                    };
                    let v = match op {
                        BinOp::Add => x.checked_add(y),
                        BinOp::Sub => x.checked_sub(y),
                        BinOp::Mul => x.checked_mul(y),
                        BinOp::Div if y == 0 => {
                            return Err(err(ErrorKind::TypeError, "division by zero", sc, span));
                        }
                        BinOp::Div => x.checked_div(y),
                        BinOp::Rem if y == 0 => {
                            return Err(err(ErrorKind::TypeError, "remainder by zero", sc, span));
                        }
                        // `i64::MIN % -1` is 0; only `checked_rem` calls it an overflow.
                        _ => Some(x.wrapping_rem(y)),
                    };
                    return v
                        .map(int)
                        .ok_or_else(|| err(ErrorKind::TypeError, "integer overflow", sc, span));
                }
                let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                let v = match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div if y == 0.0 => {
                        return Err(err(ErrorKind::TypeError, "division by zero", sc, span));
                    }
                    BinOp::Div => x / y,
                    BinOp::Rem if y == 0.0 => {
                        return Err(err(ErrorKind::TypeError, "remainder by zero", sc, span));
                    }
                    _ => x % y,
                };
                float(v).map_err(|m| err(ErrorKind::TypeError, m, sc, span))?
            }
            BinOp::And | BinOp::Or | BinOp::Coalesce => r,
        })
    }

    // ------------------------------------------------------------ LLM decisions

    /// `file:line:column` of a span.
    fn position(&self, span: Span) -> String {
        let f = self.sources.get(span.file);
        let (line, column) = crate::syntax::span::line_col(&f.text, span.start as usize);
        format!("{}:{line}:{column}", f.name)
    }

    /// The source text of an expression, on one line, shortened.
    fn source_text(&self, span: Span) -> String {
        let text = &self.sources.get(span.file).text;
        let raw = text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("");
        let one_line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        crate::run::tools::head(&one_line, 160)
    }

    /// Asks the LLM hook; a step of kind `llm` in the run record.
    async fn ask_llm(&self, req: &DecisionRequest, span: Span, sc: &Scope) -> R<Outcome> {
        let id = self
            .recorder
            .start(&sc.label, req.kind, StepKind::Llm, span);
        let _guard = record::StepGuard {
            recorder: &self.recorder,
            id,
        };
        match self.llm.decide(req).await {
            Ok(o) => {
                self.recorder.end(id, StepStatus::Ok, 1, None);
                Ok(o)
            }
            Err(m) => {
                let mut e = RunError::new(ErrorKind::LlmError, m, &*sc.label, span);
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
    async fn decide(
        &self,
        prompt: &'p Expr,
        context: Option<&'p Expr>,
        arms: &'p [DecideArm],
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
            kind: "decide",
            at: self.position(span),
            prompt: to_text(&prompt_v),
            context: ctx,
            options: labelled.iter().map(|a| a.label.name.clone()).collect(),
            descriptions: labelled
                .iter()
                .map(|a| self.source_text(a.body.span))
                .collect(),
        };
        let arm = match self.ask_llm(&req, span, sc).await? {
            Outcome::Chosen(label) => labelled.into_iter().find(|a| a.label.name == label),
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
                        .with_help("add an `else =>` arm for this case, or catch `llm_error`"),
                    ]);
                }
            },
        };
        let arm = arm.expect("the chosen label is one of the arms");
        self.eval(&arm.body, sc).await
    }

    /// `llm("question", values…)`: a yes/no condition.
    async fn llm_condition(&self, c: &'p Call, span: Span, sc: &Scope) -> R<Value> {
        let vals = collect(join_all(c.args.iter().map(|a| self.eval(&a.value, sc))).await)?;
        let mut context = Map::new();
        for (a, v) in c.args.iter().zip(&vals).skip(1) {
            let key = match &a.name {
                Some(n) => n.name.clone(),
                None => self.source_text(a.value.span),
            };
            context.insert(key, v.clone());
        }
        let req = DecisionRequest {
            step: sc.label.to_string(),
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
                .with_help("catch `llm_error` to choose a default, e.g. `llm(…) catch false`"),
            ]),
        }
    }

    // ------------------------------------------------------------ calls

    fn builtin_fn(&self, c: &'p Call, span: Span, sc: &Scope) -> R<Value> {
        let name = c.callee[0].name.as_str();
        match Builtin::from_name(name) {
            Some(Builtin::Stable) => {
                let arg = &c.args[0].value;
                let now = self.eval_sync(arg, sc)?;
                let Some(prev) = &sc.prev else {
                    return Ok(Value::Bool(false));
                };
                let before = self.eval_sync(arg, &sc.with_env(prev.clone()))?;
                Ok(Value::Bool(equal(&now, &before)))
            }
            Some(Builtin::Llm) => Err(err(
                ErrorKind::LlmError,
                "`llm()` cannot be evaluated here",
                sc,
                span,
            )),
            _ => {
                let args = c
                    .args
                    .iter()
                    .map(|a| self.eval_sync(&a.value, sc))
                    .collect::<R<Vec<_>>>()?;
                self.builtin_values(name, &args, c, span, sc)
            }
        }
    }

    /// A built-in function applied to evaluated arguments.
    fn builtin_values(
        &self,
        name: &str,
        args: &[Value],
        c: &'p Call,
        span: Span,
        sc: &Scope,
    ) -> R<Value> {
        let Some(b) = Builtin::from_name(name) else {
            return Err(err(
                ErrorKind::TypeError,
                format!("`{name}` is not a built-in function"),
                sc,
                span,
            ));
        };
        let ctx = builtins::Ctx {
            cutoff: sc.deadline_at,
        };
        builtins::call(b, args, &ctx).map_err(|f| match f {
            Failure::Stopped => err(
                ErrorKind::Timeout,
                format!("`{name}` was stopped at the deadline of an enclosing block"),
                sc,
                span,
            ),
            Failure::Bad { message, arg } => {
                let at = arg
                    .and_then(|i| c.args.get(i))
                    .map_or(span, |a| a.value.span);
                err(ErrorKind::TypeError, message, sc, at)
            }
        })
    }

    /// A call: a built-in function, a flow or a tool.
    pub(super) async fn call(
        &self,
        c: &'p Call,
        span: Span,
        sc: &Scope,
        label: Option<&str>,
    ) -> R<Value> {
        let (m, name) = match c.callee.as_slice() {
            [one] => (sc.module, one.name.as_str()),
            [module, item] => (
                self.program.modules[sc.module].imports[&module.name],
                item.name.as_str(),
            ),
            _ => return Err(err(ErrorKind::TypeError, "not callable", sc, span)),
        };
        let is_tool = self.tools[m].contains_key(name);
        let is_flow = self.flows[m].contains_key(name);
        if !is_tool && !is_flow {
            if name == "llm" {
                return self.llm_condition(c, span, sc).await;
            }
            if name != "stable" && c.args.iter().any(|a| needs_async(&self.shadowed, &a.value)) {
                // Arguments that wait (a `for`, a tool call): evaluate them first.
                let vals = collect(join_all(c.args.iter().map(|a| self.eval(&a.value, sc))).await)?;
                return self.builtin_values(name, &vals, c, span, sc);
            }
            return self.builtin_fn(c, span, sc);
        }
        // Arguments, evaluated concurrently.
        let vals = if c.args.iter().any(|a| needs_async(&self.shadowed, &a.value)) {
            collect(join_all(c.args.iter().map(|a| self.eval(&a.value, sc))).await)?
        } else {
            c.args
                .iter()
                .map(|a| self.eval_sync(&a.value, sc))
                .collect::<R<Vec<_>>>()?
        };
        let mut args = Map::new();
        for (a, v) in c.args.iter().zip(vals) {
            if let Some(n) = &a.name {
                args.insert(n.name.clone(), v);
            }
        }
        if is_flow {
            let flow = self.flows[m][name];
            return self.call_flow(m, flow, args, Some(sc), span, label).await;
        }
        let tool = self.tools[m][name];
        let sig = &self.program.modules[m].tools[name];
        // Defaults of omitted parameters.
        for (p, ps) in tool.params.iter().zip(sig.params.iter()) {
            if !args.contains_key(&ps.name)
                && let Some(d) = &p.default
            {
                let dsc = Scope {
                    env: Env::root(),
                    module: m,
                    ..sc.clone()
                };
                args.insert(ps.name.clone(), self.eval(d, &dsc).await?);
            }
        }
        let tool_opts = self.tool_opts(m, tool);
        let o = match (&tool.options, &c.options) {
            (None, None) => sc.opts.clone(),
            (_, None) => Rc::new(sc.opts.overlay(&tool_opts)),
            (_, Some(co)) => Rc::new(
                sc.opts
                    .overlay(&tool_opts)
                    .overlay(&Opts::from_ast(Some(co))),
            ),
        };
        let step: &str = label.unwrap_or(name);
        let input = Value::Object(args);

        // Cache of pure tools.
        let cache_key = (o.cache.is_some() && !tool.effect)
            .then(|| format!("{m}/{name}/{}", value::canonical(&input)));
        if let (Some(key), Some(ttl)) = (&cache_key, o.cache)
            && let Some((at, v)) = self.cache.borrow().get(key)
            && at.elapsed() <= ttl
        {
            let id = self.recorder.start(step, name, StepKind::Tool, span);
            self.recorder.end(id, StepStatus::Cached, 0, None);
            return Ok(v.clone());
        }

        // Concurrency: the innermost limit first, then the enclosing ones, then the tool's own.
        let tool_limit = tool_opts.max_concurrent.map(|n| {
            self.tool_limits
                .borrow_mut()
                .entry((m, name.to_string()))
                .or_insert_with(|| Rc::new(Semaphore::new(n)))
                .clone()
        });
        // `max_memory`: over the budget, a new step waits for memory to be released.
        let _running = match o.max_memory {
            Some(budget) => Some(self.memory.admit(budget).await),
            None => None,
        };
        let mut permits = Permits {
            outer: &sc.limits,
            outer_held: 0,
            tool: None,
        };
        for s in sc.limits.iter().rev() {
            take_permit(s).await;
            permits.outer_held += 1;
        }
        if let Some(s) = tool_limit {
            take_permit(&s).await;
            permits.tool = Some(s);
        }

        let id = self.recorder.start(step, name, StepKind::Tool, span);
        let _guard = super::record::StepGuard {
            recorder: &self.recorder,
            id,
        };
        let timeout = o.timeout();
        let retries = o.retries();
        let mut attempt = 0u32;
        let result = loop {
            attempt += 1;
            // A failure every attempt would repeat (a program that cannot start).
            let mut permanent = false;
            // Poll once before arming the timer: builtins often finish at once.
            let mut call = std::pin::pin!(self.invoke(m, tool, &input, o.max_output()));
            let first =
                std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
            let outcome = match first {
                std::task::Poll::Ready(r) => Ok(r),
                std::task::Poll::Pending => tokio::time::timeout(timeout, call).await,
            };
            let r = match outcome {
                Ok(Ok(v)) if o.max_memory.is_some_and(|b| memory::size(&v) > b) => {
                    let budget = o.max_memory.unwrap_or(0);
                    Err(RunError::new(
                        ErrorKind::PolicyViolation,
                        format!(
                            "the result of `{name}` takes about {}, more than max_memory ({}) allows a run to hold",
                            opts::fmt_size(memory::size(&v)),
                            opts::fmt_size(budget)
                        ),
                        step,
                        span,
                    )
                    .with_help("raise `max_memory` in the flow's `with { }` or with `--set max_memory=…`, or have the tool return less"))
                }
                Ok(Ok(v)) => {
                    let ret = sig.ret.as_ref().expect("tools have a result type");
                    match value::conforms(&v, ret) {
                        Ok(()) => Ok(value::in_declared_order(v, ret)),
                        Err(mm) => Err(RunError::new(
                            ErrorKind::TypeError,
                            format!(
                                "`{name}` returned {} at `{}`, expected `{}`",
                                mm.found, mm.path, mm.expected
                            ),
                            step,
                            span,
                        )
                        .with_help(format!(
                            "the tool's declared result type is `{}`",
                            sig.ret.as_ref().expect("result type")
                        ))),
                    }
                }
                Ok(Err(f)) => {
                    permanent = f.permanent;
                    let message = if f.permanent {
                        format!("tool `{name}`: {}", f.message)
                    } else {
                        f.message
                    };
                    let mut e = RunError::new(ErrorKind::ToolError, message, step, span);
                    e.help = f.help;
                    Err(e)
                }
                Err(_) => Err(RunError::new(
                    ErrorKind::Timeout,
                    format!("`{name}` did not finish within {}", fmt_duration(timeout)),
                    step,
                    span,
                )
                .with_help("raise it with `with { timeout: … }` on the call or the tool")),
            };
            match r {
                Ok(v) => break Ok(v),
                Err(mut e) => {
                    e.attempts = attempt;
                    if attempt <= retries && o.retries_on(e.kind) && !permanent {
                        let base = o.backoff().as_secs_f64() * 2f64.powi(attempt as i32 - 1);
                        super::timer::sleep(Duration::from_secs_f64(base * jitter())).await;
                        continue;
                    }
                    break Err(e);
                }
            }
        };
        drop(permits);
        match result {
            Ok(v) => {
                self.recorder.end(id, StepStatus::Ok, attempt, None);
                if let Some(key) = cache_key {
                    self.cache
                        .borrow_mut()
                        .insert(key, (Instant::now(), v.clone()));
                }
                Ok(v)
            }
            Err(e) => {
                self.recorder
                    .end(id, StepStatus::Failed, attempt, Some(e.record()));
                Err(vec![e])
            }
        }
    }

    /// One attempt of a tool call through its binding.
    async fn invoke(
        &self,
        m: usize,
        tool: &'p ToolDecl,
        input: &Value,
        max_output: u64,
    ) -> tools::ToolResult {
        match &tool.binding.kind {
            BindingKind::Builtin(n) => {
                tools::builtin::call(&lit(n), input, self.module_dir(m), &self.http, max_output)
                    .await
            }
            BindingKind::Exec(argv) => {
                let argv: Vec<String> = match &argv.kind {
                    ExprKind::List(items) => items.iter().map(lit).collect(),
                    _ => Vec::new(),
                };
                tools::exec::call(&argv, self.module_dir(m), input, max_output).await
            }
            BindingKind::Http { method, url } => {
                self.http
                    .call(&method.name, &lit(url), input, max_output)
                    .await
            }
            BindingKind::Mcp { .. } => Err(ToolFailure::new("`mcp` bindings are not supported")),
        }
    }
}

/// The liveness of a block's `let`s: readers still to finish, and the bytes
/// counted for `max_memory` (released when the block ends, however it ends).
struct Live<'m> {
    readers: Vec<u32>,
    sizes: Vec<u64>,
    counting: bool,
    memory: &'m memory::Memory,
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.memory.release(self.sizes.iter().sum());
    }
}

/// Concurrency permits held by a running call: the innermost limits of
/// `outer` (counted by `outer_held`) and the tool's own; released on drop,
/// also when the call is cancelled while it waits.
struct Permits<'a> {
    outer: &'a [Rc<Semaphore>],
    outer_held: usize,
    tool: Option<Rc<Semaphore>>,
}

impl Drop for Permits<'_> {
    fn drop(&mut self) {
        for s in self.outer.iter().rev().take(self.outer_held) {
            s.add_permits(1);
        }
        if let Some(s) = &self.tool {
            s.add_permits(1);
        }
    }
}

/// The text of a plain string literal.
fn lit(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Str(parts) => parts
            .iter()
            .map(|p| {
                if let StrPart::Text(t) = p {
                    t.as_str()
                } else {
                    ""
                }
            })
            .collect(),
        _ => String::new(),
    }
}

/// The base of a path and its segments (`a.b[0][*].c` -> `a`, [.b, [0], [*], .c]).
fn split_path(e: &Expr) -> (&Expr, Vec<&Expr>) {
    let mut segs = Vec::new();
    let mut cur = e;
    while let ExprKind::Field(b, _) | ExprKind::Index(b, _) | ExprKind::Wildcard(b) = &cur.kind {
        segs.push(cur);
        cur = b;
    }
    segs.reverse();
    (cur, segs)
}

fn collect(rs: Vec<R<Value>>) -> R<Vec<Value>> {
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

/// A factor in [0.8, 1.2) for retry backoff.
fn jitter() -> f64 {
    0.8 + 0.4 * fastrand::f64()
}

/// Answers for an error message: quoted, shortened.
fn quoted(answers: &[String]) -> String {
    answers
        .iter()
        .map(|a| format!("{:?}", crate::run::tools::head(a, 60)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Takes one permit of `s` for good (it is given back by `Permits`' drop);
/// without waiting when one is free.
async fn take_permit(s: &Semaphore) {
    match s.try_acquire() {
        Ok(p) => p.forget(),
        Err(_) => s
            .acquire()
            .await
            .expect("semaphores are never closed")
            .forget(),
    }
}
