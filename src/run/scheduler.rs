//! The block scheduler: a block's statements start as soon as the statements
//! they wait for have finished.

use std::collections::VecDeque;

use futures_util::future::LocalBoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::Value;

use super::errors::{Errors, R};
use super::eval::Scope;
use super::memory;
use super::{Env, Interp};
use crate::ir::expr::{Block, ExprKind, Stmt};
use crate::ir::plan::BlockPlan;

impl<'p> Interp<'p> {
    /// Runs a block's statements eagerly, following its plan (lowered once, before
    /// the run, by `ir::plan`): each starts once the statements it waits for have
    /// finished (what it reads, `after`, `sequence` order, `effect` order). A
    /// failure stops only the statements that depend on it, unless `fail_fast`;
    /// the block then fails with every error. Each statement is a step at
    /// `outer.path` + its name.
    pub(super) fn block<'a>(
        &'a self,
        b: &'a Block,
        outer: &'a Scope,
    ) -> LocalBoxFuture<'a, R<Value>> {
        Box::pin(async move {
            self.breathe().await;
            let n = b.stmts.len();
            if n == 0 {
                return Ok(Value::Null);
            }
            let plan: &BlockPlan = &b.plan;
            let mut indeg = plan.indeg.clone();
            // Liveness: how many statements still have to read each `let`; its
            // value is dropped when the last of them has finished.
            // (No allocation for a block whose statements read no `let` of it.)
            let read = plan.has_reads();
            let env = Env::child(&outer.env, plan.slots as usize);
            let sc = outer.with_env(env.clone());
            let counting = read && sc.opts.max_memory.is_some();
            let mut live = Live {
                readers: if read {
                    plan.readers.clone()
                } else {
                    Vec::new()
                },
                sizes: if counting { vec![0u64; n] } else { Vec::new() },
                counting,
                memory: &self.memory,
            };
            let fail_fast = sc.opts.fail_fast.unwrap_or(false);
            // Room for every statement: growing it while the run goes would
            // ask the allocator for a larger block each time, which costs
            // most when the heap is full of small free ones.
            let mut ready: VecDeque<usize> = VecDeque::with_capacity(n);
            ready.extend((0..n).filter(|&i| indeg[i] == 0));
            let mut inflight = FuturesUnordered::new();
            // The box of the last step that finished on its first poll: the
            // next step's future is written into it (one allocation for a run
            // of steps that finish at once, instead of one per step).
            let mut spare = None;
            let mut errors: Errors = Vec::new();
            let mut last_value = Value::Null;
            let complete = |i: usize,
                            r: R<Value>,
                            ready: &mut VecDeque<usize>,
                            indeg: &mut Vec<u32>,
                            errors: &mut Errors,
                            last_value: &mut Value,
                            live: &mut Live<'_>| {
                match r {
                    Ok(v) => {
                        match &plan.steps[i].binds {
                            // A value nothing reads is not kept.
                            Some(_) if live.readers.get(i).is_some_and(|&k| k > 0) => {
                                if live.counting {
                                    live.sizes[i] = memory::size(&v);
                                    live.memory.hold(live.sizes[i]);
                                }
                                env.set(plan.steps[i].slot as usize, v);
                            }
                            Some(_) => {}
                            None if i == n - 1 => *last_value = v,
                            None => {}
                        }
                        for &d in plan.dependents(i) {
                            let d = d as usize;
                            indeg[d] -= 1;
                            if indeg[d] == 0 {
                                ready.push_back(d);
                            }
                        }
                    }
                    Err(mut e) => errors.append(&mut e),
                }
                // `i` has read what it reads: the values it was the last reader of go.
                for &j in plan.reads(i) {
                    let j = j as usize;
                    live.readers[j] -= 1;
                    if live.readers[j] == 0 && plan.steps[j].binds.is_some() {
                        env.clear(plan.steps[j].slot as usize);
                        if live.counting {
                            live.memory.release(std::mem::take(&mut live.sizes[j]));
                        }
                    }
                }
            };
            loop {
                while let Some(i) = ready.pop_front() {
                    self.breathe().await;
                    // The statement's result when it is had on the spot;
                    // `None` when it waits, in `inflight`.
                    let done = match &b.stmts[i] {
                        Stmt::Nothing => Some(Ok(Value::Null)),
                        s => {
                            let step = &plan.steps[i];
                            let ssc = Scope {
                                label: step.binds.clone().unwrap_or_else(|| sc.label.clone()),
                                path: sc.path.step(&step.name),
                                priority: sc.priority.saturating_add(plan.height[i]),
                                ..sc.clone()
                            };
                            let binds = step.binds.is_some();
                            // Without calls, or a tool call in which nothing
                            // waits: taken on the spot, without a future.
                            let now = match s {
                                Stmt::Expr(expr) if !step.waits => Some(self.eval_sync(expr, &ssc)),
                                Stmt::Call { call, span } => self.call_at_once(
                                    call,
                                    *span,
                                    &ssc,
                                    binds.then_some(&*ssc.label),
                                ),
                                Stmt::Expr(expr) => match &expr.kind {
                                    ExprKind::Call(c) if binds => {
                                        self.call_at_once(c, expr.span, &ssc, Some(&*ssc.label))
                                    }
                                    _ => None,
                                },
                                _ => None,
                            };
                            match now {
                                Some(r) => Some(r),
                                None => {
                                    let fut = async move {
                                        let r = match s {
                                            Stmt::Call { call, span } => {
                                                let label = ssc.label.clone();
                                                self.call(
                                                    call,
                                                    *span,
                                                    &ssc,
                                                    binds.then_some(&label),
                                                )
                                                .await
                                            }
                                            Stmt::Expr(expr) => match &expr.kind {
                                                ExprKind::Call(c) if binds => {
                                                    let label = ssc.label.clone();
                                                    self.call(c, expr.span, &ssc, Some(&label))
                                                        .await
                                                }
                                                _ => self.eval(expr, &ssc).await,
                                            },
                                            Stmt::Assert { cond, message } => {
                                                Box::pin(self.assert_stmt(
                                                    cond,
                                                    message.as_deref(),
                                                    &ssc,
                                                ))
                                                .await
                                            }
                                            Stmt::Nothing => Ok(Value::Null),
                                        };
                                        (i, r)
                                    };
                                    // Polled once on the spot: a step that finishes
                                    // at once (a cached result) completes without a
                                    // trip through `inflight`. One that waits goes
                                    // there (it may wake this block's task once,
                                    // spuriously: harmless).
                                    let mut fut = match spare.take() {
                                        Some(mut b) => {
                                            std::pin::Pin::set(&mut b, fut);
                                            b
                                        }
                                        None => Box::pin(fut),
                                    };
                                    let first = std::future::poll_fn(|cx| {
                                        std::task::Poll::Ready(fut.as_mut().poll(cx))
                                    })
                                    .await;
                                    match first {
                                        std::task::Poll::Ready((_, r)) => {
                                            spare = Some(fut);
                                            Some(r)
                                        }
                                        std::task::Poll::Pending => {
                                            inflight.push(fut);
                                            None
                                        }
                                    }
                                }
                            }
                        }
                    };
                    if let Some(r) = done {
                        complete(
                            i,
                            r,
                            &mut ready,
                            &mut indeg,
                            &mut errors,
                            &mut last_value,
                            &mut live,
                        );
                        if fail_fast && !errors.is_empty() {
                            break;
                        }
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
            drop(spare);
            if errors.is_empty() {
                Ok(last_value)
            } else {
                Err(errors)
            }
        })
    }
}

/// The liveness of a block's `let`s: readers still to finish, and the bytes
/// counted for `max_memory` (released when the block ends, however it ends).
pub(super) struct Live<'m> {
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
