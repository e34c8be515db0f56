//! The block scheduler: a block's statements start as soon as the statements
//! they wait for have finished.

use std::collections::VecDeque;

use futures_util::future::LocalBoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::Value;

use super::errors::{Errors, R};
use super::eval::{Scope, needs_async};
use super::memory;
use super::{Env, Interp};
use crate::check::{BlockInfo, block_key};
use crate::syntax::ast::*;

impl<'p> Interp<'p> {
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
