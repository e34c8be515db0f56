//! Expressions that may wait: calls, blocks, `parallel`, `race`, `loop`, `for`, `try`.

use futures_util::future::{LocalBoxFuture, join_all};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value};

use super::errors::{ErrorKind, R};
use super::eval::{Scope, collect, err, split_path};
use super::opts::{self, fmt_duration};
use super::pure::{Arm, Lazy, indices, interpolate, interpolated, is_lazy, lazy, pick, record_of};
use super::value::{self, equal, int};
use super::{Env, Interp};

/// The bodies of a `for` under way at once under `max_memory` (or its
/// `max_concurrent`, when larger).
const FOR_WINDOW: usize = 64;
use crate::ir::expr::*;
use crate::span::Span;

impl<'p> Interp<'p> {
    pub(super) fn eval<'a>(&'a self, e: &'a Expr, sc: &'a Scope) -> LocalBoxFuture<'a, R<Value>> {
        // A block that states `replan_on_error` (a `try` re-plans its body, before
        // `catch`), or a `policy` it runs under.
        let replan = !matches!(e.kind, ExprKind::Try { .. }) && self.replans_here(e);
        let policy = self.block_policy(e, sc);
        if !replan && policy.is_none() {
            return self.eval_inner(e, sc);
        }
        Box::pin(async move {
            let under;
            let sc = match policy {
                Some(p) => {
                    under = Scope {
                        policy: Some(p),
                        ..sc.clone()
                    };
                    &under
                }
                None => sc,
            };
            let r = self.eval_inner(e, sc).await;
            if !replan {
                return r;
            }
            let bsc = sc.nested(self.opts_of(e.block_options()).map(|o| &**o));
            self.replan_block(e, &bsc, r).await
        })
    }

    /// The policy a block's `with { policy: NAME }` names.
    fn block_policy(
        &self,
        e: &Expr,
        sc: &Scope,
    ) -> Option<std::rc::Rc<crate::check::policy::Policy>> {
        e.block_options()?.policy.as_ref()?;
        self.policy_of(sc.module, e.block_options())
    }

    fn eval_inner<'a>(&'a self, e: &'a Expr, sc: &'a Scope) -> LocalBoxFuture<'a, R<Value>> {
        Box::pin(async move {
            if !e.waits {
                return self.eval_sync(e, sc);
            }
            match &e.kind {
                // The kinds that combine values: their children are evaluated
                // here (those that wait, waiting), the combining is `pure`'s.
                ExprKind::Str(parts) => {
                    let mut vals = Vec::new();
                    for x in interpolated(parts) {
                        vals.push(self.eval(x, sc).await?);
                    }
                    self.built(interpolate(parts, vals), "the string", sc, e.span)
                }
                ExprKind::List(items) => {
                    let rs = join_all(items.iter().map(|i| self.eval(i, sc))).await;
                    self.built(Value::Array(collect(rs)?), "the list", sc, e.span)
                }
                ExprKind::Record(fields) => {
                    let rs = join_all(fields.iter().map(|(_, x)| self.eval(x, sc))).await;
                    self.built(record_of(fields, collect(rs)?), "the record", sc, e.span)
                }
                ExprKind::Call(c) => self.call(c, e.span, sc, None).await,
                ExprKind::Field(..) | ExprKind::Index(..) | ExprKind::Wildcard(..) => {
                    let (base, segs) = split_path(e);
                    let v = self.eval(base, sc).await?;
                    let mut idx = Vec::new();
                    for i in indices(&segs) {
                        idx.push(self.eval(i, sc).await?);
                    }
                    self.apply_path(v, &segs, &mut idx.into_iter(), sc)
                }
                ExprKind::Unary(op, x) => {
                    let v = self.eval(x, sc).await?;
                    self.unary(*op, v, sc, e.span)
                }
                ExprKind::Binary(op, l, r) if is_lazy(*op) => {
                    match lazy(*op, self.eval(l, sc).await?) {
                        Lazy::Done(v) => Ok(v),
                        Lazy::Right | Lazy::Strict(_) => self.eval(r, sc).await,
                    }
                }
                ExprKind::Binary(op, l, r) => {
                    let (lv, rv) =
                        futures_util::future::join(self.eval(l, sc), self.eval(r, sc)).await;
                    self.binary(*op, lv?, rv?, r, sc, e.span)
                }
                ExprKind::Catch(a, b) => match self.eval(a, sc).await {
                    Ok(v) => Ok(v),
                    Err(_) => self.eval(b, sc).await,
                },
                ExprKind::Parallel(p) => {
                    let Parallel {
                        mode,
                        options,
                        branches,
                    } = &**p;
                    let sc = sc.nested(self.opts_of(options.as_deref()).map(|o| &**o));
                    let bscs = branch_scopes(&sc, branches);
                    let rs = join_all(
                        branches
                            .iter()
                            .zip(&bscs)
                            .map(|(b, bsc)| self.eval(&b.value, bsc)),
                    )
                    .await;
                    let vals = collect(rs)?;
                    Ok(match mode {
                        ParallelMode::Record => Value::Object(
                            branches
                                .iter()
                                .zip(vals)
                                .map(|(b, v)| (b.name.clone(), v))
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
                    let sc = sc.nested(self.opts_of(options.as_deref()).map(|o| &**o));
                    let bscs = branch_scopes(&sc, branches);
                    let mut futs: FuturesUnordered<_> = branches
                        .iter()
                        .zip(&bscs)
                        .map(|(b, bsc)| async move { (b, self.eval(&b.value, bsc).await) })
                        .collect();
                    let mut errors = Vec::new();
                    while let Some((b, r)) = futs.next().await {
                        match r {
                            Ok(v) => {
                                // Dropping the others cancels them (and kills their processes).
                                return Ok(serde_json::json!({ "winner": b.name, "value": v }));
                            }
                            Err(mut e) => errors.append(&mut e),
                        }
                    }
                    Err(errors)
                }
                ExprKind::Sequence { options, block } => {
                    let sc = sc.nested(self.opts_of(options.as_deref()).map(|o| &**o));
                    self.with_deadline(self.block(block, &sc), &sc, e.span)
                        .await
                }
                ExprKind::Dag { options, block } => {
                    let sc = sc.nested(self.opts_of(options.as_deref()).map(|o| &**o));
                    self.with_deadline(self.block(block, &sc), &sc, e.span)
                        .await
                }
                ExprKind::Block(block) => self.block(block, sc).await,
                ExprKind::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    let c = self.eval(cond, sc).await?;
                    match pick(&c, then, otherwise.as_deref()) {
                        Arm::Block(b) => self.block(b, sc).await,
                        Arm::Expr(x) => self.eval(x, sc).await,
                        Arm::Null => Ok(Value::Null),
                    }
                }
                ExprKind::Match { scrutinee, arms } => {
                    let v = self.eval(scrutinee, sc).await?;
                    match self.match_arm(&v, arms, sc)? {
                        Some(arm) => self.eval(&arm.body, sc).await,
                        None => Ok(Value::Null),
                    }
                }
                ExprKind::Loop(l) => {
                    let Loop {
                        var,
                        init,
                        max,
                        until,
                        options,
                        body,
                    } = &**l;
                    let sc = sc.nested(self.opts_of(options.as_deref()).map(|o| &**o));
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
                        // The state is held against `max_memory` while the loop runs.
                        let counting = sc.opts.max_memory.is_some();
                        let mut held = super::memory::Held::new(&self.memory);
                        let mut iteration = 0u64;
                        loop {
                            iteration += 1;
                            // Frames as the lowering placed them: [var, iteration] for
                            // the body, [var] for `until` (and the previous state's).
                            let benv = Env::child(&sc.env, 2);
                            benv.set(0, state.clone());
                            benv.set(1, int(iteration as i64));
                            // The iteration's steps, and `until`'s, are under `loop[k]`.
                            let isc = Scope {
                                path: sc.path.loop_iteration(iteration),
                                ..sc.with_env(benv)
                            };
                            let next = self.block(body, &isc).await?;
                            let uenv = Env::child(&sc.env, 1);
                            uenv.set(0, next.clone());
                            let penv = Env::child(&sc.env, 1);
                            penv.set(0, state);
                            let usc = Scope {
                                prev: Some((uenv.clone(), penv)),
                                path: isc.path.clone(),
                                ..sc.with_env(uenv)
                            };
                            let done = self.eval(until, &usc).await?;
                            if counting {
                                let bytes = super::memory::size(&next);
                                held.set(0);
                                self.within_memory(bytes, "the loop's state", sc, e.span)?;
                                held.set(bytes);
                            }
                            state = next;
                            if done == Value::Bool(true) {
                                break;
                            }
                            if iteration >= max_n {
                                let msg = format!(
                                    "loop `{var}` reached its maximum of {max_n} iterations before `until` held"
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
                    iter,
                    filter,
                    options,
                    body,
                } => {
                    let sc = sc.nested(self.opts_of(options.as_deref()).map(|o| &**o));
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
                    // Under `max_memory` at most `FOR_WINDOW` bodies are under way at
                    // once (the rest start as they finish): a body's evaluation takes
                    // memory too, and nested `for`s would multiply it.
                    let counting = sc.opts.max_memory.is_some();
                    let window = if counting {
                        FOR_WINDOW.max(sc.opts.max_concurrent.unwrap_or(0))
                    } else {
                        usize::MAX
                    };
                    let mut pending = items.into_iter().enumerate().map(|(k, item)| {
                        let env = Env::child(&sc.env, 1);
                        env.set(0, item);
                        let isc = Scope {
                            path: sc.path.for_item(k),
                            ..sc.with_env(env)
                        };
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
                                self.block(body, &isc).await.map(Some)
                            }
                            .await;
                            (k, r)
                        }
                    });
                    let mut bodies: FuturesUnordered<_> = pending.by_ref().take(window).collect();
                    // Results go to their item's place as they come (a `join_all`
                    // would keep every result after one that waits in a heap).
                    let all = async {
                        let mut results: Vec<R<Option<Value>>> = Vec::with_capacity(count);
                        results.resize_with(count, || Ok(None));
                        // The results so far are held against `max_memory` while the
                        // other bodies run; a body over the budget ends the `for`.
                        let mut held = super::memory::Held::new(&self.memory);
                        let refused = self.memory.refusals();
                        while let Some((k, r)) = bodies.next().await {
                            if counting {
                                if let Ok(Some(v)) = &r {
                                    let bytes = super::memory::size(v);
                                    self.within_memory(
                                        bytes,
                                        "an element of the `for`'s list",
                                        &sc,
                                        e.span,
                                    )?;
                                    held.add(bytes);
                                } else if r.is_err() && self.memory.refusals() > refused {
                                    return r.map(|_| Value::Null);
                                }
                            }
                            bodies.extend(pending.next());
                            results[k] = r;
                        }
                        drop(held);
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
                    binds,
                    handler,
                } => {
                    let sc = sc.nested(self.opts_of(options.as_deref()).map(|o| &**o));
                    let tsc = Scope {
                        path: sc.path.child("try"),
                        ..sc.clone()
                    };
                    let r = self
                        .with_deadline(self.block(body, &tsc), &sc, e.span)
                        .await;
                    let r = if self.replans_here(e) {
                        self.replan_block(e, &sc, r).await
                    } else {
                        r
                    };
                    match r {
                        Ok(v) => Ok(v),
                        Err(errs) => {
                            let env = Env::child(&sc.env, 1);
                            if *binds {
                                env.set(0, errs[0].to_value());
                            }
                            let hsc = Scope {
                                path: sc.path.child("catch"),
                                ..sc.with_env(env)
                            };
                            self.block(handler, &hsc).await
                        }
                    }
                }
                ExprKind::Decide(d) => {
                    let Decide {
                        prompt,
                        context,
                        arms,
                        place,
                    } = &**d;
                    // Errors point at `decide "prompt"`, not the whole block.
                    let head = Span {
                        end: prompt.span.end,
                        ..e.span
                    };
                    let dsc = Scope {
                        path: self.step_path(place, sc),
                        ..sc.clone()
                    };
                    self.decide(prompt, context.as_ref(), arms, head, &dsc)
                        .await
                }
                ExprKind::Approve(a) => {
                    let Approve {
                        message,
                        context,
                        place,
                        within_ms,
                    } = &**a;
                    self.approve(e, place, message, context.as_ref(), *within_ms, sc)
                        .await
                }
                _ => self.eval_sync(e, sc),
            }
        })
    }

    pub(super) async fn with_deadline(
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

    pub(super) fn match_arm<'e>(
        &self,
        v: &Value,
        arms: &'e [MatchArm],
        sc: &Scope,
    ) -> R<Option<&'e MatchArm>> {
        for arm in arms {
            match &arm.pattern {
                Pattern::Wildcard => return Ok(Some(arm)),
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
}

/// The scope of each branch of a `parallel` or `race`: its steps are at `path.branch`.
fn branch_scopes(sc: &Scope, branches: &[Branch]) -> Vec<Scope> {
    branches
        .iter()
        .map(|b| Scope {
            path: sc.path.branch(&b.name),
            ..sc.clone()
        })
        .collect()
}
