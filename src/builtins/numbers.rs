//! Numbers: `sum avg min max to_int to_float round abs`.

use serde_json::Value;

use super::{Check, Def, Failure, Run, arg, list};
use crate::types::{Type, join};
use crate::value::{INT_OVERFLOW, compare, describe, float, int};

pub(super) const SUM: Def = Def {
    usage: "sum(xs)",
    doc: "the sum of `[int]` (an `int`, overflow is an error) or of `[float]`",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        match c.list_of(0) {
            Type::Int => Type::Int,
            Type::Float | Type::Unknown | Type::Never => Type::Float,
            Type::Json => Type::Json,
            other => {
                c.mismatch(0, "[int] or [float]", &Type::list(other), "");
                Type::Unknown
            }
        }
    },
    run: Run::Pure(sum),
};

fn sum(args: &[Value]) -> Result<Value, Failure> {
    let xs = list("sum", arg(args, 0))?;
    if xs.iter().all(|x| x.is_i64() || x.is_u64()) {
        // An integer beyond `i64` (from a tool's JSON) overflows too.
        Ok(int(xs
            .iter()
            .try_fold(0i64, |s, x| s.checked_add(x.as_i64()?))
            .ok_or_else(|| format!("`sum`: {INT_OVERFLOW}"))?))
    } else {
        let s = xs
            .iter()
            .map(|x| {
                x.as_f64()
                    .ok_or_else(|| format!("`sum` needs numbers, got {}", describe(x)))
            })
            .sum::<Result<f64, String>>()?;
        Ok(float(s).map_err(|e| format!("`sum`: {e}"))?)
    }
}

pub(super) const AVG: Def = Def {
    usage: "avg(xs) : float",
    doc: "the mean of a list of numbers; of an empty list, an error",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        let el = c.list_of(0);
        if !el.is_numeric() {
            c.mismatch(0, "[float]", &Type::list(el), "");
        }
        Type::Float
    },
    run: Run::Pure(|args| {
        let xs = list("avg", arg(args, 0))?;
        if xs.is_empty() {
            return Err("`avg` of an empty list".into());
        }
        let s: f64 = xs
            .iter()
            .map(|x| {
                x.as_f64()
                    .ok_or_else(|| format!("`avg` needs numbers, got {}", describe(x)))
            })
            .sum::<Result<f64, String>>()?;
        Ok(float(s / xs.len() as f64).map_err(|e| format!("`avg`: {e}"))?)
    }),
};

pub(super) const MIN: Def = Def {
    usage: "min(xs); min(a, b, …)",
    doc: "the least element of a list, or the least argument",
    check: check_extreme,
    run: Run::Pure(|args| extreme("min", args)),
};

pub(super) const MAX: Def = Def {
    usage: "max(xs); max(a, b, …)",
    doc: "the greatest element of a list, or the greatest argument",
    check: check_extreme,
    run: Run::Pure(|args| extreme("max", args)),
};

fn check_extreme(c: &mut Check<'_>) -> Type {
    if !c.arity("1 list or 2 or more numbers", c.n() >= 1) {
        Type::Unknown
    } else if c.n() == 1 {
        c.list_of(0)
    } else {
        let mut acc = Type::Never;
        for i in 0..c.n() {
            let at = c.t(i);
            if !at.is_numeric() && !at.is_stringy() {
                let context = format!(" (argument of `{}`)", c.name);
                c.mismatch(i, "a number", &at, &context);
            }
            acc = join(&acc, &at).unwrap_or(Type::Unknown);
        }
        acc
    }
}

fn extreme(name: &str, args: &[Value]) -> Result<Value, Failure> {
    let items: Vec<&Value> = if args.len() == 1 {
        list(name, arg(args, 0))?.iter().collect()
    } else {
        args.iter().collect()
    };
    let pick = items.into_iter().reduce(|x, y| {
        let o = compare(x, y);
        if (name == "min") == (o == std::cmp::Ordering::Greater) {
            y
        } else {
            x
        }
    });
    match pick {
        Some(v) => Ok(v.clone()),
        None => Err(format!("`{name}` of an empty list").into()),
    }
}

/// `to_int`, `to_float`, `round`: a number or a string.
fn check_conversion(c: &mut Check<'_>) -> Type {
    c.arity("1 argument", c.n() == 1);
    let t = c.t(0);
    if let Type::Record(_) | Type::List(_) | Type::Bool | Type::Null | Type::Regex = t {
        let context = format!(" (argument of `{}`)", c.name);
        c.mismatch(0, "a number or a string", &t, &context);
    }
    if c.name == "to_float" {
        Type::Float
    } else {
        Type::Int
    }
}

/// A float truncated or rounded to an integer, or an error if it does not fit.
fn f64_to_int(name: &str, f: f64) -> Result<Value, Failure> {
    // `i64::MAX as f64` is 2^63, one past the largest `i64`.
    if f.is_finite() && f >= i64::MIN as f64 && f < i64::MAX as f64 {
        Ok(int(f as i64))
    } else {
        Err(format!("`{name}`: {INT_OVERFLOW} ({f} does not fit in 64 bits)").into())
    }
}

pub(super) const TO_INT: Def = Def {
    usage: "to_int(x) : int",
    doc: "a number (truncated), a numeric string or a bool as an integer",
    check: check_conversion,
    run: Run::Pure(|args| {
        Ok(match arg(args, 0) {
            Value::Number(n) => match n.as_i64() {
                Some(i) => int(i),
                None => f64_to_int("to_int", n.as_f64().unwrap_or(f64::NAN).trunc())?,
            },
            Value::String(s) => match s.trim().parse::<i64>() {
                Ok(i) => int(i),
                Err(_) => match s.trim().parse::<f64>() {
                    Ok(f) if f.is_finite() => f64_to_int("to_int", f.trunc())?,
                    _ => return Err(format!("`to_int`: `{s}` is not a number").into()),
                },
            },
            Value::Bool(b) => int(i64::from(*b)),
            v => {
                return Err(
                    format!("`to_int` needs a number or string, got {}", describe(v)).into(),
                );
            }
        })
    }),
};

pub(super) const TO_FLOAT: Def = Def {
    usage: "to_float(x) : float",
    doc: "a number or a numeric string as a float",
    check: check_conversion,
    run: Run::Pure(|args| {
        Ok(match arg(args, 0) {
            Value::Number(n) => float(n.as_f64().unwrap_or(0.0))?,
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => float(f)?,
                Ok(_) => return Err(format!("`to_float`: `{s}` is not a finite number").into()),
                Err(_) => return Err(format!("`to_float`: `{s}` is not a number").into()),
            },
            v => {
                return Err(
                    format!("`to_float` needs a number or string, got {}", describe(v)).into(),
                );
            }
        })
    }),
};

pub(super) const ROUND: Def = Def {
    usage: "round(x) : int",
    doc: "a number rounded to the nearest integer (halves away from zero)",
    check: check_conversion,
    run: Run::Pure(|args| match arg(args, 0) {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(int(i)),
            None => f64_to_int("round", n.as_f64().unwrap_or(f64::NAN).round()),
        },
        v => Err(format!("`round` needs a number, got {}", describe(v)).into()),
    }),
};

pub(super) const ABS: Def = Def {
    usage: "abs(x)",
    doc: "the absolute value, of the argument's type",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        let a = c.t(0);
        if !a.is_numeric() {
            c.mismatch(0, "a number", &a, " (argument of `abs`)");
            Type::Unknown
        } else {
            a
        }
    },
    run: Run::Pure(|args| match arg(args, 0) {
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(int(n
            .as_i64()
            .and_then(i64::checked_abs)
            .ok_or_else(|| format!("`abs`: {INT_OVERFLOW}"))?)),
        Value::Number(n) => Ok(float(n.as_f64().unwrap_or(0.0).abs())?),
        v => Err(format!("`abs` needs a number, got {}", describe(v)).into()),
    }),
};
