//! Expressions evaluated on the spot (no waiting): literals, names, paths,
//! operators, pure built-ins, `if` over pure blocks.

use serde_json::{Map, Value};

use super::errors::{ErrorKind, R};
use super::eval::{Scope, err, split_path};
use super::value::{self, compare, equal, float, int, to_text};
use super::{Env, Interp};
use crate::ir::expr::*;
use crate::ir::slots::Slot;
use crate::span::Span;

impl<'p> Interp<'p> {
    /// Evaluates an expression that needs no waiting.
    pub(super) fn eval_sync(&self, e: &Expr, sc: &Scope) -> R<Value> {
        Ok(match &e.kind {
            ExprKind::Int(n) => int(*n),
            ExprKind::Float(f) => {
                float(*f).map_err(|m| err(ErrorKind::TypeError, m, sc, e.span))?
            }
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Null => Value::Null,
            ExprKind::Regex(r) => Value::String(r.pattern.clone()),
            ExprKind::Str(parts) => {
                let mut vals = Vec::new();
                for x in interpolated(parts) {
                    vals.push(self.eval_sync(x, sc)?);
                }
                return self.built(interpolate(parts, vals), "the string", sc, e.span);
            }
            ExprKind::Name { name, slot } => self.lookup(*slot, name, sc, e.span)?,
            ExprKind::ModuleConst { module, index } => {
                self.constant(*module, *index).unwrap_or(Value::Null)
            }
            ExprKind::List(items) => {
                let v = Value::Array(
                    items
                        .iter()
                        .map(|i| self.eval_sync(i, sc))
                        .collect::<R<Vec<_>>>()?,
                );
                return self.built(v, "the list", sc, e.span);
            }
            ExprKind::Record(fields) => {
                let v = record_of(
                    fields,
                    fields
                        .iter()
                        .map(|(_, x)| self.eval_sync(x, sc))
                        .collect::<R<Vec<_>>>()?,
                );
                return self.built(v, "the record", sc, e.span);
            }
            ExprKind::Call(c) => return self.builtin_fn(c, e.span, sc),
            ExprKind::Field(..) | ExprKind::Index(..) | ExprKind::Wildcard(..) => {
                let (base, segs) = split_path(e);
                let v = self.eval_sync(base, sc)?;
                let mut idx = Vec::new();
                for i in indices(&segs) {
                    idx.push(self.eval_sync(i, sc)?);
                }
                return self.apply_path(v, &segs, &mut idx.into_iter(), sc);
            }
            ExprKind::Unary(op, x) => {
                let v = self.eval_sync(x, sc)?;
                return self.unary(*op, v, sc, e.span);
            }
            ExprKind::Binary(op, l, r) => {
                let lv = self.eval_sync(l, sc)?;
                return match lazy(*op, lv) {
                    Lazy::Done(v) => Ok(v),
                    Lazy::Right => self.eval_sync(r, sc),
                    Lazy::Strict(lv) => {
                        let rv = self.eval_sync(r, sc)?;
                        self.binary(*op, lv, rv, r, sc, e.span)
                    }
                };
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                // Reached for an `if` whose arms wait on nothing: blocks evaluated in order.
                let c = self.eval_sync(cond, sc)?;
                return match pick(&c, then, otherwise.as_deref()) {
                    Arm::Block(b) => self.pure_block(b, sc),
                    Arm::Expr(x) => self.eval_sync(x, sc),
                    Arm::Null => Ok(Value::Null),
                };
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

    /// Constant `index` of module `module` (`None` before it is evaluated).
    pub(super) fn constant(&self, module: u32, index: u32) -> Option<Value> {
        self.consts.borrow()[module as usize]
            .get(index as usize)
            .cloned()
            .flatten()
    }

    pub(super) fn pure_block(&self, b: &Block, sc: &Scope) -> R<Value> {
        let env = Env::child(&sc.env, b.plan.slots as usize);
        let sc = sc.with_env(env.clone());
        let mut last = Value::Null;
        for (i, s) in b.stmts.iter().enumerate() {
            // (A block with a `Stmt::Call` waits: it is not run here.)
            if let Stmt::Expr(e) = s {
                let v = self.eval_sync(e, &sc)?;
                if b.plan.steps[i].binds.is_some() {
                    // (Into its slot, if it has one: a value nothing reads is dropped.)
                    env.set(b.plan.steps[i].slot as usize, v);
                } else {
                    last = v;
                }
            }
        }
        Ok(last)
    }

    /// The value of a name, where the lowering placed it.
    pub(super) fn lookup(
        &self,
        slot: Option<Slot>,
        name: &str,
        sc: &Scope,
        span: Span,
    ) -> R<Value> {
        let v = match slot {
            Some(Slot::Local { up, index }) => sc.env.get(up, index),
            Some(Slot::Const { module, index }) => self.constant(module, index),
            Some(Slot::Context) => Some(self.context.borrow().clone()),
            None => None,
        };
        v.ok_or_else(|| {
            err(
                ErrorKind::TypeError,
                format!("`{name}` has no value here"),
                sc,
                span,
            )
        })
    }

    /// Applies path segments to `v`; after `[*]`, the rest applies to every element.
    pub(super) fn apply_path(
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
                    Value::Object(mut m) => m.remove(name).unwrap_or(Value::Null),
                    Value::Null => {
                        return Err(err(
                            ErrorKind::TypeError,
                            format!("cannot read field `{name}` of null"),
                            sc,
                            seg.span,
                        ));
                    }
                    other => {
                        return Err(err(
                            ErrorKind::TypeError,
                            format!("cannot read field `{name}` of {}", value::describe(&other)),
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

    pub(super) fn unary(&self, op: UnOp, v: Value, sc: &Scope, span: Span) -> R<Value> {
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

    pub(super) fn binary(
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
                let ExprKind::Regex(re) = &rexpr.kind else {
                    return Err(bad(&l, &r));
                };
                let Value::String(s) = &l else {
                    return Err(bad(&l, &r));
                };
                let m = self.regex(&re.pattern, &re.flags).is_match(s);
                Value::Bool(if op == BinOp::Match { m } else { !m })
            }
            BinOp::Concat => {
                let v = match (l, r) {
                    (Value::String(a), Value::String(b)) => Value::String(a + &b),
                    (Value::Array(mut a), Value::Array(b)) => {
                        a.extend(b);
                        Value::Array(a)
                    }
                    (l, r) => return Err(bad(&l, &r)),
                };
                return self.built(v, "`++`", sc, span);
            }
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
}

impl Interp<'_> {
    /// `max_memory` for a value built by pure computation: `v` when it fits
    /// beside what the `for`s and `loop`s under way have built, else
    /// `policy_violation` naming the sizes.
    pub(super) fn built(&self, v: Value, what: &str, sc: &Scope, span: Span) -> R<Value> {
        match sc.opts.max_memory {
            Some(_) => {
                self.within_memory(super::memory::size(&v), what, sc, span)?;
                Ok(v)
            }
            None => Ok(v),
        }
    }

    /// `Err` when `bytes` more, beside what the `for`s and `loop`s under way
    /// have built, would pass the run's `max_memory`.
    pub(super) fn within_memory(&self, bytes: u64, what: &str, sc: &Scope, span: Span) -> R<()> {
        let Some(budget) = sc.opts.max_memory else {
            return Ok(());
        };
        let building = self.memory.building();
        if building.saturating_add(bytes) <= budget {
            return Ok(());
        }
        self.memory.refuse();
        let fmt = super::opts::fmt_size;
        let beside = if building > 0 {
            format!(
                " beside the {} the `for`s and `loop`s under way have built",
                fmt(building)
            )
        } else {
            String::new()
        };
        Err(err(
            ErrorKind::PolicyViolation,
            format!(
                "{what} would take about {}{beside}, more than max_memory ({}) allows a run to hold",
                fmt(bytes),
                fmt(budget)
            ),
            sc,
            span,
        )
        .into_iter()
        .map(|e| {
            e.with_help(
                "raise `max_memory` in the flow's `with { }` or with `--set max_memory=…`, or build a smaller value",
            )
        })
        .collect())
    }
}

/// The interpolated expressions of a string, in order.
pub(super) fn interpolated(parts: &[StrPart]) -> impl Iterator<Item = &Expr> {
    parts.iter().filter_map(|p| match p {
        StrPart::Interp(x) => Some(x),
        StrPart::Text(_) => None,
    })
}

/// A string from its parts and the values of its interpolations (in order).
pub(super) fn interpolate(parts: &[StrPart], vals: Vec<Value>) -> Value {
    let mut vals = vals.into_iter();
    let mut s = String::new();
    for p in parts {
        match p {
            StrPart::Text(t) => s.push_str(t),
            StrPart::Interp(_) => s.push_str(&to_text(&vals.next().unwrap_or(Value::Null))),
        }
    }
    Value::String(s)
}

/// A record from its fields and their values (in order).
pub(super) fn record_of(fields: &[(String, Expr)], vals: Vec<Value>) -> Value {
    Value::Object(
        fields
            .iter()
            .zip(vals)
            .map(|((name, _), v)| (name.clone(), v))
            .collect::<Map<_, _>>(),
    )
}

/// The index expressions of path segments, in order.
pub(super) fn indices<'e>(segs: &[&'e Expr]) -> impl Iterator<Item = &'e Expr> {
    segs.iter().filter_map(|s| match &s.kind {
        ExprKind::Index(_, i) => Some(&**i),
        _ => None,
    })
}

/// What a binary operator does once its left operand has a value.
pub(super) enum Lazy {
    /// `&&`, `||`, `??` decided by the left value: this is the result.
    Done(Value),
    /// `&&`, `||`, `??` not decided by the left value: the right one is the result.
    Right,
    /// Any other operator: both values are needed.
    Strict(Value),
}

/// `&&`, `||` and `??`: the right operand is evaluated only when the left one
/// does not decide.
pub(super) fn is_lazy(op: BinOp) -> bool {
    matches!(op, BinOp::And | BinOp::Or | BinOp::Coalesce)
}

pub(super) fn lazy(op: BinOp, lv: Value) -> Lazy {
    match (op, &lv) {
        (BinOp::And, Value::Bool(false)) | (BinOp::Or, Value::Bool(true)) => Lazy::Done(lv),
        (BinOp::Coalesce, v) if !v.is_null() => Lazy::Done(lv),
        (BinOp::And | BinOp::Or | BinOp::Coalesce, _) => Lazy::Right,
        _ => Lazy::Strict(lv),
    }
}

/// The arm of an `if` that runs.
pub(super) enum Arm<'e> {
    Block(&'e Block),
    Expr(&'e Expr),
    Null,
}

pub(super) fn pick<'e>(cond: &Value, then: &'e Block, otherwise: Option<&'e Else>) -> Arm<'e> {
    if *cond == Value::Bool(true) {
        return Arm::Block(then);
    }
    match otherwise {
        None => Arm::Null,
        Some(Else::Block(b)) => Arm::Block(b),
        Some(Else::If(x)) => Arm::Expr(x),
    }
}
