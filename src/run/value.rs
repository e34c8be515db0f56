//! Runtime values (JSON), the type check at tool boundaries, and the pure
//! built-in functions.

use std::cell::Cell;
use std::time::Instant;

use serde_json::{Map, Number, Value};

use crate::check::Type;

/// A value's kind, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "record",
    }
}

/// A mismatch between a value and its declared type.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// JSON path of the mismatch, such as `$.rows[0].ci_id`.
    pub path: String,
    pub expected: String,
    pub found: String,
}

/// Checks `v` against `t` (width subtyping: extra fields are fine).
pub fn conforms(v: &Value, t: &Type) -> Result<(), Mismatch> {
    let mut path = String::new();
    check(v, t, &mut path).map_err(|mut m| {
        m.path.insert(0, '$');
        m
    })
}

fn check(v: &Value, t: &Type, path: &mut String) -> Result<(), Mismatch> {
    let fail = |path: &String, v: &Value| {
        Err(Mismatch {
            path: path.clone(),
            expected: t.to_string(),
            found: describe(v),
        })
    };
    match (t, v) {
        (Type::Unknown | Type::Json, _) => Ok(()),
        (Type::Never, _) => fail(path, v),
        (Type::Null, Value::Null) => Ok(()),
        (Type::Bool, Value::Bool(_)) => Ok(()),
        (Type::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
        (Type::Float, Value::Number(_)) => Ok(()),
        (Type::Duration, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
        (Type::String, Value::String(_)) => Ok(()),
        (Type::Lit(opts), Value::String(s)) if opts.iter().any(|o| o == s) => Ok(()),
        (Type::Optional(_), Value::Null) => Ok(()),
        (Type::Optional(inner), v) => check(v, inner, path),
        (Type::List(el), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check(item, el, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        (Type::Record(r), Value::Object(m)) => {
            for f in &r.fields {
                let len = path.len();
                path.push('.');
                path.push_str(&f.name);
                match m.get(&f.name) {
                    None | Some(Value::Null) if f.optional => {}
                    None => {
                        return Err(Mismatch {
                            path: path.clone(),
                            expected: f.ty.to_string(),
                            found: "nothing (the field is missing)".into(),
                        });
                    }
                    Some(x) => check(x, &f.ty, path)?,
                }
                path.truncate(len);
            }
            Ok(())
        }
        _ => fail(path, v),
    }
}

/// `v` (which conforms to `t`) with each record's fields in `t`'s declared
/// order, undeclared extra fields after them in their own order: a tool's
/// result prints like its declared type, whatever order the tool wrote.
pub fn in_declared_order(v: Value, t: &Type) -> Value {
    match (t, v) {
        (Type::Optional(inner), v) => in_declared_order(v, inner),
        (Type::List(el), Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|x| in_declared_order(x, el))
                .collect(),
        ),
        (Type::Record(r), Value::Object(mut m)) => {
            let mut out = Map::with_capacity(m.len());
            for f in &r.fields {
                if let Some(x) = m.shift_remove(&f.name) {
                    out.insert(f.name.clone(), in_declared_order(x, &f.ty));
                }
            }
            out.extend(m);
            Value::Object(out)
        }
        (_, v) => v,
    }
}

/// Are the fields of `v` already in the order `t` declares (nothing for
/// `in_declared_order` to do)? Checked without building anything.
pub fn in_order(v: &Value, t: &Type) -> bool {
    match (t, v) {
        (Type::Optional(inner), v) => in_order(v, inner),
        (Type::List(el), Value::Array(items)) => items.iter().all(|x| in_order(x, el)),
        (Type::Record(r), Value::Object(m)) => {
            // Declared fields come first, in their order; the rest follow.
            let mut next = 0;
            let mut extra = false;
            for (k, x) in m {
                match r.fields.iter().position(|f| &f.name == k) {
                    Some(i) if !extra && i >= next && in_order(x, &r.fields[i].ty) => next = i + 1,
                    Some(_) => return false,
                    None => extra = true,
                }
            }
            true
        }
        _ => true,
    }
}

/// A short description of a value for messages: its kind and a preview.
pub fn describe(v: &Value) -> String {
    let text = v.to_string();
    let preview = if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    };
    format!("{} {}", kind(v), preview)
}

/// The text of a value inside a string interpolation: strings raw, the rest as JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn int(n: i64) -> Value {
    Value::Number(Number::from(n))
}

/// A finite float as a value; infinities and NaN have no JSON form (they
/// would turn into `null`), so they are an error.
pub fn float(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("float overflow: the result ({f}) is not a finite number"))
}

/// The message of an integer result that does not fit in 64 bits.
pub const INT_OVERFLOW: &str = "integer overflow";

/// A float truncated or rounded to an integer, or an error if it does not fit.
fn f64_to_int(name: &str, f: f64) -> Result<Value, String> {
    // `i64::MAX as f64` is 2^63, one past the largest `i64`.
    if f.is_finite() && f >= i64::MIN as f64 && f < i64::MAX as f64 {
        Ok(int(f as i64))
    } else {
        Err(format!(
            "`{name}`: {INT_OVERFLOW} ({f} does not fit in 64 bits)"
        ))
    }
}

pub fn as_f64(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Structural equality, with `1 == 1.0`.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| equal(p, q)))
        }
        _ => a == b,
    }
}

/// A text of `v` that is the same for values `equal` holds equal, whatever
/// order their fields were written in (records keep that order for printing):
/// integral numbers are written as integers (`1.0` as `1`), record keys are
/// sorted. For keys such as the tool cache's and `unique`'s.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

/// [`canonical`], appended to `out`.
pub fn write_canonical(v: &Value, out: &mut String) {
    use std::fmt::Write;
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(u), _) => {
                let _ = write!(out, "{u}");
            }
            (None, None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                let _ = write!(out, "{}", f as i64);
            }
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::Array(items) => {
            out.push('[');
            for (k, x) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (k, key) in keys.into_iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(key.clone()));
                write_canonical(&m[key], out);
            }
            out.push('}');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// Ordering for `<` and `sort`: numbers, strings, then by JSON text.
pub fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => canonical(a).cmp(&canonical(b)),
    }
}

/// Deep merge of records: later fields win; nested records merge.
pub fn deep_merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => deep_merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Errors of pure built-in functions: a message.
pub type FnResult = Result<Value, String>;

fn list<'a>(name: &str, v: &'a Value) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("`{name}` needs a list, got {}", describe(v)))
}

fn string<'a>(name: &str, v: &'a Value) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("`{name}` needs a string, got {}", describe(v)))
}

thread_local! {
    /// When long built-ins stop: the earliest deadline around the call.
    static CUTOFF: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The error of a built-in stopped at its cutoff.
pub const STOPPED: &str = "stopped at the deadline";

/// Runs `f` with long built-ins (`range`, `unique`, `flatten`) stopping at `cutoff`.
pub fn with_cutoff<T>(cutoff: Option<Instant>, f: impl FnOnce() -> T) -> T {
    let before = CUTOFF.replace(cutoff);
    let r = f();
    CUTOFF.set(before);
    r
}

/// Every 4096th element of a long built-in: stop once the cutoff has passed.
fn check_cutoff(k: usize) -> Result<(), String> {
    if k % 4096 == 4095 && CUTOFF.get().is_some_and(|c| Instant::now() >= c) {
        return Err(STOPPED.into());
    }
    Ok(())
}

/// Calls a pure built-in function (not `stable`, `llm` or `jsonpath`, which the evaluator handles).
pub fn call_builtin(name: &str, args: &[Value]) -> FnResult {
    let a = |i: usize| args.get(i).unwrap_or(&Value::Null);
    Ok(match name {
        "len" => match a(0) {
            Value::Array(x) => int(x.len() as i64),
            Value::String(s) => int(s.chars().count() as i64),
            Value::Object(m) => int(m.len() as i64),
            v => {
                return Err(format!(
                    "`len` needs a list, string or record, got {}",
                    describe(v)
                ));
            }
        },
        "keys" => match a(0) {
            Value::Object(m) => Value::Array(m.keys().map(|k| Value::String(k.clone())).collect()),
            v => return Err(format!("`keys` needs a record, got {}", describe(v))),
        },
        "values" => match a(0) {
            Value::Object(m) => Value::Array(m.values().cloned().collect()),
            v => return Err(format!("`values` needs a record, got {}", describe(v))),
        },
        "merge" => {
            let mut out = Map::new();
            for v in args {
                match v {
                    Value::Object(m) => deep_merge(&mut out, m),
                    v => return Err(format!("`merge` needs records, got {}", describe(v))),
                }
            }
            Value::Object(out)
        }
        "flatten" => {
            let mut out = Vec::new();
            for (k, item) in list(name, a(0))?.iter().enumerate() {
                check_cutoff(k)?;
                match item {
                    Value::Array(inner) => out.extend(inner.iter().cloned()),
                    v => out.push(v.clone()),
                }
            }
            Value::Array(out)
        }
        "unique" => {
            // Linear: one hash of each element's canonical text (as `equal` sees it).
            let mut seen = std::collections::HashSet::new();
            let mut key = String::new();
            let mut out: Vec<Value> = Vec::new();
            for (k, item) in list(name, a(0))?.iter().enumerate() {
                check_cutoff(k)?;
                key.clear();
                write_canonical(item, &mut key);
                if !seen.contains(key.as_str()) {
                    seen.insert(key.clone());
                    out.push(item.clone());
                }
            }
            Value::Array(out)
        }
        "sort" => {
            let mut out = list(name, a(0))?.clone();
            out.sort_by(compare);
            Value::Array(out)
        }
        "sum" => {
            let xs = list(name, a(0))?;
            if xs.iter().all(|x| x.is_i64() || x.is_u64()) {
                // An integer beyond `i64` (from a tool's JSON) overflows too.
                int(xs
                    .iter()
                    .try_fold(0i64, |s, x| s.checked_add(x.as_i64()?))
                    .ok_or_else(|| format!("`sum`: {INT_OVERFLOW}"))?)
            } else {
                float(
                    xs.iter()
                        .map(|x| {
                            x.as_f64()
                                .ok_or_else(|| format!("`sum` needs numbers, got {}", describe(x)))
                        })
                        .sum::<Result<f64, String>>()?,
                )
                .map_err(|e| format!("`sum`: {e}"))?
            }
        }
        "avg" => {
            let xs = list(name, a(0))?;
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
            float(s / xs.len() as f64).map_err(|e| format!("`avg`: {e}"))?
        }
        "min" | "max" => {
            let items: Vec<&Value> = if args.len() == 1 {
                list(name, a(0))?.iter().collect()
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
                Some(v) => v.clone(),
                None => return Err(format!("`{name}` of an empty list")),
            }
        }
        "contains" => match a(0) {
            Value::Array(xs) => Value::Bool(xs.iter().any(|x| equal(x, a(1)))),
            Value::String(s) => Value::Bool(s.contains(string(name, a(1))?)),
            Value::Object(m) => Value::Bool(m.contains_key(string(name, a(1))?)),
            v => {
                return Err(format!(
                    "`contains` needs a list or string, got {}",
                    describe(v)
                ));
            }
        },
        "starts_with" => Value::Bool(string(name, a(0))?.starts_with(string(name, a(1))?)),
        "ends_with" => Value::Bool(string(name, a(0))?.ends_with(string(name, a(1))?)),
        "lower" => Value::String(string(name, a(0))?.to_lowercase()),
        "upper" => Value::String(string(name, a(0))?.to_uppercase()),
        "trim" => Value::String(string(name, a(0))?.trim().to_string()),
        "replace" => {
            Value::String(string(name, a(0))?.replace(string(name, a(1))?, string(name, a(2))?))
        }
        "split" => Value::Array(
            string(name, a(0))?
                .split(string(name, a(1))?)
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        "join" => {
            let parts: Result<Vec<String>, String> =
                list(name, a(0))?.iter().map(|x| Ok(to_text(x))).collect();
            Value::String(parts?.join(string(name, a(1))?))
        }
        "to_string" => Value::String(to_text(a(0))),
        "to_json" => Value::String(a(0).to_string()),
        "to_int" => match a(0) {
            Value::Number(n) => match n.as_i64() {
                Some(i) => int(i),
                None => f64_to_int(name, n.as_f64().unwrap_or(f64::NAN).trunc())?,
            },
            Value::String(s) => match s.trim().parse::<i64>() {
                Ok(i) => int(i),
                Err(_) => match s.trim().parse::<f64>() {
                    Ok(f) if f.is_finite() => f64_to_int(name, f.trunc())?,
                    _ => return Err(format!("`to_int`: `{s}` is not a number")),
                },
            },
            Value::Bool(b) => int(i64::from(*b)),
            v => {
                return Err(format!(
                    "`to_int` needs a number or string, got {}",
                    describe(v)
                ));
            }
        },
        "to_float" => match a(0) {
            Value::Number(n) => float(n.as_f64().unwrap_or(0.0))?,
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => float(f)?,
                Ok(_) => return Err(format!("`to_float`: `{s}` is not a finite number")),
                Err(_) => return Err(format!("`to_float`: `{s}` is not a number")),
            },
            v => {
                return Err(format!(
                    "`to_float` needs a number or string, got {}",
                    describe(v)
                ));
            }
        },
        "round" => match a(0) {
            Value::Number(n) => match n.as_i64() {
                Some(i) => int(i),
                None => f64_to_int(name, n.as_f64().unwrap_or(f64::NAN).round())?,
            },
            v => return Err(format!("`round` needs a number, got {}", describe(v))),
        },
        "abs" => match a(0) {
            Value::Number(n) if n.is_i64() || n.is_u64() => int(n
                .as_i64()
                .and_then(i64::checked_abs)
                .ok_or_else(|| format!("`abs`: {INT_OVERFLOW}"))?),
            Value::Number(n) => float(n.as_f64().unwrap_or(0.0).abs())?,
            v => return Err(format!("`abs` needs a number, got {}", describe(v))),
        },
        "parse_json" => {
            serde_json::from_str(string(name, a(0))?).map_err(|e| format!("`parse_json`: {e}"))?
        }
        "now" => Value::String(now_rfc3339()),
        "env" => match std::env::var(string(name, a(0))?) {
            Ok(v) => Value::String(v),
            Err(_) => Value::Null,
        },
        "range" => {
            let bound = |v: &Value| {
                v.as_i64()
                    .ok_or_else(|| format!("`range` needs integers, got {}", describe(v)))
            };
            let (lo, hi) = if args.len() == 2 {
                (bound(a(0))?, bound(a(1))?)
            } else {
                (0, bound(a(0))?)
            };
            // In i128: `hi - lo` of two `i64`s may not fit in an `i64`.
            if i128::from(hi) - i128::from(lo) > 10_000_000 {
                return Err("`range` is limited to 10,000,000 elements".into());
            }
            let mut out = Vec::with_capacity((hi - lo).max(0) as usize);
            for (k, n) in (lo..hi).enumerate() {
                check_cutoff(k)?;
                out.push(int(n));
            }
            Value::Array(out)
        }
        _ => return Err(format!("`{name}` is not a built-in function")),
    })
}

/// The current time as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conforms_reports_the_path() {
        let t = Type::record(vec![Type::field(
            "rows",
            Type::list(Type::record(vec![Type::field("ci_id", Type::String)])),
        )]);
        assert!(conforms(&json!({"rows": [{"ci_id": "a", "extra": 1}]}), &t).is_ok());
        let e = conforms(&json!({"rows": [{"ci_id": "a"}, {"ci_id": 5}]}), &t).unwrap_err();
        assert_eq!(e.path, "$.rows[1].ci_id");
        assert_eq!(e.expected, "string");
        assert!(e.found.starts_with("int"));
        let e = conforms(&json!({"rows": [{}]}), &t).unwrap_err();
        assert_eq!(e.path, "$.rows[0].ci_id");
    }

    #[test]
    fn builtins_compute() {
        assert_eq!(call_builtin("len", &[json!([1, 2, 3])]).unwrap(), json!(3));
        assert_eq!(call_builtin("sum", &[json!([1, 2, 3])]).unwrap(), json!(6));
        assert_eq!(call_builtin("avg", &[json!([1, 2])]).unwrap(), json!(1.5));
        assert_eq!(call_builtin("max", &[json!([1, 7, 3])]).unwrap(), json!(7));
        assert_eq!(
            call_builtin("min", &[json!(4), json!(2)]).unwrap(),
            json!(2)
        );
        assert_eq!(
            call_builtin("unique", &[json!([1, 1, 2])]).unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            call_builtin("merge", &[json!({"a": {"x": 1}}), json!({"a": {"y": 2}})]).unwrap(),
            json!({"a": {"x": 1, "y": 2}})
        );
        assert_eq!(
            call_builtin("join", &[json!(["a", "b"]), json!("-")]).unwrap(),
            json!("a-b")
        );
        assert!(call_builtin("avg", &[json!([])]).is_err());
        // Integers beyond i64 (a tool's JSON) are an overflow, not a float sum.
        assert_eq!(
            call_builtin("sum", &[json!([1, u64::MAX])]),
            Err("`sum`: integer overflow".to_string())
        );
    }

    #[test]
    fn records_keep_their_order_and_canonical_text_sorts_keys() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [2, {"d": 1, "c": 2}], "x": 3}}"#)
                .expect("json");
        let b: Value =
            serde_json::from_str(r#"{"a": {"x": 3, "y": [2, {"c": 2, "d": 1}]}, "b": 1}"#)
                .expect("json");
        assert_eq!(
            a.to_string(),
            r#"{"b":1,"a":{"y":[2,{"d":1,"c":2}],"x":3}}"#
        );
        assert_eq!(
            canonical(&a),
            r#"{"a":{"x":3,"y":[2,{"c":2,"d":1}]},"b":1}"#
        );
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(compare(&a, &b), std::cmp::Ordering::Equal);
    }

    #[test]
    fn tool_results_take_the_declared_field_order() {
        let t = Type::record(vec![
            Type::field("b", Type::Int),
            Type::field(
                "rows",
                Type::list(Type::record(vec![
                    Type::field("y", Type::Int),
                    Type::field("x", Type::Int),
                ])),
            ),
        ]);
        let v = json!({"extra": 0, "rows": [{"x": 1, "y": 2, "z": 3}], "b": 1});
        assert_eq!(
            in_declared_order(v, &t).to_string(),
            r#"{"b":1,"rows":[{"y":2,"x":1,"z":3}],"extra":0}"#
        );
    }

    #[test]
    fn in_order_says_when_there_is_nothing_to_reorder() {
        let t = Type::record(vec![
            Type::field("b", Type::Int),
            Type::field(
                "rows",
                Type::list(Type::record(vec![
                    Type::field("y", Type::Int),
                    Type::field("x", Type::Int),
                ])),
            ),
        ]);
        for (v, ordered) in [
            (
                json!({"b": 1, "rows": [{"y": 2, "x": 1, "z": 3}], "extra": 0}),
                true,
            ),
            (json!({"b": 1}), true),
            (json!({"rows": [], "b": 1}), false),
            (json!({"b": 1, "rows": [{"x": 1, "y": 2}]}), false),
            (json!({"extra": 0, "b": 1}), false),
        ] {
            assert_eq!(in_order(&v, &t), ordered, "{v}");
            // Where it holds, reordering changes nothing.
            if ordered {
                assert_eq!(in_declared_order(v.clone(), &t).to_string(), v.to_string());
            }
        }
    }

    #[test]
    fn unique_keeps_the_first_of_values_equal_holds_equal() {
        let items = json!([1, 1.0, 2.5, 2.5, {"a": 1, "b": [2]}, {"b": [2.0], "a": 1}, "1", [1, 2], [2, 1], null, null, true]);
        assert_eq!(
            call_builtin("unique", &[items]).unwrap(),
            json!([1, 2.5, {"a": 1, "b": [2]}, "1", [1, 2], [2, 1], null, true])
        );
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_000_000), "2025-11-24T16:00:00Z");
    }
}
