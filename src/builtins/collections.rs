//! Lists and records: `len keys values merge flatten unique sort contains range`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{Check, Def, Failure, Run, arg, check_cutoff, list, string};
use crate::types::{FieldTy, Type, join};
use crate::value::{compare, deep_merge, describe, equal, int, write_canonical};

pub(super) const LEN: Def = Def {
    usage: "len(x) : int",
    doc: "length of a list, string (characters) or record",
    check: check_len,
    run: Run::Pure(len),
};

fn check_len(c: &mut Check<'_>) -> Type {
    if c.arity("1 argument", c.n() == 1) {
        match c.t(0) {
            Type::List(_)
            | Type::String
            | Type::Lit(_)
            | Type::Record(_)
            | Type::Json
            | Type::Unknown => {}
            other => c.mismatch(
                0,
                "a list, string or record",
                &other,
                " (argument of `len`)",
            ),
        }
    }
    Type::Int
}

fn len(args: &[Value]) -> Result<Value, Failure> {
    Ok(match arg(args, 0) {
        Value::Array(x) => int(x.len() as i64),
        Value::String(s) => int(s.chars().count() as i64),
        Value::Object(m) => int(m.len() as i64),
        v => {
            return Err(
                format!("`len` needs a list, string or record, got {}", describe(v)).into(),
            );
        }
    })
}

pub(super) const KEYS: Def = Def {
    usage: "keys(r) : [string]",
    doc: "a record's keys, in the record's order",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        Type::list(Type::String)
    },
    run: Run::Pure(|args| match arg(args, 0) {
        Value::Object(m) => Ok(Value::Array(
            m.keys().map(|k| Value::String(k.clone())).collect(),
        )),
        v => Err(format!("`keys` needs a record, got {}", describe(v)).into()),
    }),
};

pub(super) const VALUES: Def = Def {
    usage: "values(r) : [T]",
    doc: "a record's values, in the record's order; `T` joins the fields' types",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        match c.t(0) {
            Type::Record(r) => {
                let j = r
                    .fields
                    .iter()
                    .try_fold(Type::Never, |acc, f| join(&acc, &f.ty));
                Type::list(j.unwrap_or(Type::Json))
            }
            _ => Type::list(Type::Json),
        }
    },
    run: Run::Pure(|args| match arg(args, 0) {
        Value::Object(m) => Ok(Value::Array(m.values().cloned().collect())),
        v => Err(format!("`values` needs a record, got {}", describe(v)).into()),
    }),
};

pub(super) const MERGE: Def = Def {
    usage: "merge(a, b, …)",
    doc: "deep merge of records, later ones win",
    check: check_merge,
    run: Run::Pure(merge),
};

fn check_merge(c: &mut Check<'_>) -> Type {
    c.arity("2 or more arguments", c.n() >= 2);
    let mut fields: Vec<FieldTy> = Vec::new();
    let mut dynamic = false;
    for i in 0..c.n() {
        match c.t(i) {
            Type::Record(r) => {
                for f in &r.fields {
                    fields.retain(|x| x.name != f.name);
                    fields.push(f.clone());
                }
            }
            Type::Json | Type::Unknown => dynamic = true,
            other => c.mismatch(i, "a record", &other, " (argument of `merge`)"),
        }
    }
    if dynamic {
        Type::Json
    } else {
        Type::record(fields)
    }
}

fn merge(args: &[Value]) -> Result<Value, Failure> {
    let mut out = Map::new();
    for v in args {
        match v {
            Value::Object(m) => deep_merge(&mut out, m),
            v => return Err(format!("`merge` needs records, got {}", describe(v)).into()),
        }
    }
    Ok(Value::Object(out))
}

pub(super) const FLATTEN: Def = Def {
    usage: "flatten(xss)",
    doc: "a list of lists as one list",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        let el = c.list_of(0);
        match el.element() {
            Some(inner) => Type::list(inner),
            None => {
                let t = c.t(0);
                c.mismatch(0, "a list of lists", &t, "");
                Type::Unknown
            }
        }
    },
    run: Run::Pure(|args| {
        let mut out = Vec::new();
        for (k, item) in list("flatten", arg(args, 0))?.iter().enumerate() {
            check_cutoff(k)?;
            match item {
                Value::Array(inner) => out.extend(inner.iter().cloned()),
                v => out.push(v.clone()),
            }
        }
        Ok(Value::Array(out))
    }),
};

fn check_same_list(c: &mut Check<'_>) -> Type {
    c.arity("1 argument", c.n() == 1);
    Type::list(c.list_of(0))
}

pub(super) const UNIQUE: Def = Def {
    usage: "unique(xs)",
    doc: "the list without repeats (the first of equal values stays), in linear time",
    check: check_same_list,
    run: Run::Pure(unique),
};

fn unique(args: &[Value]) -> Result<Value, Failure> {
    // Linear: one hash of each element's canonical text (as `equal` sees it).
    let mut seen = HashSet::new();
    let mut key = String::new();
    let mut out: Vec<Value> = Vec::new();
    for (k, item) in list("unique", arg(args, 0))?.iter().enumerate() {
        check_cutoff(k)?;
        key.clear();
        write_canonical(item, &mut key);
        if !seen.contains(key.as_str()) {
            seen.insert(key.clone());
            out.push(item.clone());
        }
    }
    Ok(Value::Array(out))
}

pub(super) const SORT: Def = Def {
    usage: "sort(xs)",
    doc: "the list sorted: numbers, then strings",
    check: check_same_list,
    run: Run::Pure(|args| {
        let mut out = list("sort", arg(args, 0))?.clone();
        out.sort_by(compare);
        Ok(Value::Array(out))
    }),
};

pub(super) const CONTAINS: Def = Def {
    usage: "contains(list_or_string, x) : bool",
    doc: "an element of a list, a substring of a string, a key of a record",
    check: |c| {
        c.arity("2 arguments", c.n() == 2);
        match c.t(0) {
            Type::String | Type::Lit(_) => c.want(1, &Type::String, "string"),
            Type::List(el) => c.want(1, &el, &el.to_string()),
            Type::Json | Type::Unknown | Type::Record(_) => {}
            other => c.mismatch(
                0,
                "a list or a string",
                &other,
                " (argument 1 of `contains`)",
            ),
        }
        Type::Bool
    },
    run: Run::Pure(|args| {
        let name = "contains";
        Ok(match arg(args, 0) {
            Value::Array(xs) => Value::Bool(xs.iter().any(|x| equal(x, arg(args, 1)))),
            Value::String(s) => Value::Bool(s.contains(string(name, arg(args, 1))?)),
            Value::Object(m) => Value::Bool(m.contains_key(string(name, arg(args, 1))?)),
            v => {
                return Err(
                    format!("`contains` needs a list or string, got {}", describe(v)).into(),
                );
            }
        })
    }),
};

pub(super) const RANGE: Def = Def {
    usage: "range(n) : [int]; range(a, b) : [int]",
    doc: "`range(n)` is `0` to `n - 1`, `range(a, b)` is `a` to `b - 1` (at most 10,000,000 elements)",
    check: |c| {
        c.arity("1 or 2 arguments", c.n() == 1 || c.n() == 2);
        for i in 0..c.n() {
            c.want(i, &Type::Int, "int");
        }
        Type::list(Type::Int)
    },
    run: Run::Pure(range),
};

fn range(args: &[Value]) -> Result<Value, Failure> {
    let bound = |v: &Value| {
        v.as_i64()
            .ok_or_else(|| Failure::from(format!("`range` needs integers, got {}", describe(v))))
    };
    let (lo, hi) = if args.len() == 2 {
        (bound(arg(args, 0))?, bound(arg(args, 1))?)
    } else {
        (0, bound(arg(args, 0))?)
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
    Ok(Value::Array(out))
}
