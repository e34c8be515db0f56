//! Strings: `starts_with ends_with lower upper trim replace split join to_string`.

use serde_json::Value;

use super::{Check, Def, Failure, Run, arg, list, string};
use crate::types::Type;
use crate::value::to_text;

/// `(s, p) : bool`.
fn check_test(c: &mut Check<'_>) -> Type {
    c.arity("2 arguments", c.n() == 2);
    c.want(0, &Type::String, "string");
    c.want(1, &Type::String, "string");
    Type::Bool
}

pub(super) const STARTS_WITH: Def = Def {
    usage: "starts_with(s, prefix) : bool",
    doc: "does `s` start with `prefix`?",
    check: check_test,
    run: Run::Pure(|args| {
        let s = string("starts_with", arg(args, 0))?;
        Ok(Value::Bool(
            s.starts_with(string("starts_with", arg(args, 1))?),
        ))
    }),
};

pub(super) const ENDS_WITH: Def = Def {
    usage: "ends_with(s, suffix) : bool",
    doc: "does `s` end with `suffix`?",
    check: check_test,
    run: Run::Pure(|args| {
        let s = string("ends_with", arg(args, 0))?;
        Ok(Value::Bool(s.ends_with(string("ends_with", arg(args, 1))?)))
    }),
};

/// `(s) : string`.
fn check_unary(c: &mut Check<'_>) -> Type {
    c.arity("1 argument", c.n() == 1);
    c.want(0, &Type::String, "string");
    Type::String
}

fn unary(name: &str, args: &[Value], f: fn(&str) -> String) -> Result<Value, Failure> {
    Ok(Value::String(f(string(name, arg(args, 0))?)))
}

pub(super) const LOWER: Def = Def {
    usage: "lower(s) : string",
    doc: "lower case",
    check: check_unary,
    run: Run::Pure(|args| unary("lower", args, str::to_lowercase)),
};

pub(super) const UPPER: Def = Def {
    usage: "upper(s) : string",
    doc: "upper case",
    check: check_unary,
    run: Run::Pure(|args| unary("upper", args, str::to_uppercase)),
};

pub(super) const TRIM: Def = Def {
    usage: "trim(s) : string",
    doc: "without white space at either end",
    check: check_unary,
    run: Run::Pure(|args| unary("trim", args, |s| s.trim().to_string())),
};

pub(super) const REPLACE: Def = Def {
    usage: "replace(s, from, to) : string",
    doc: "every `from` in `s` replaced by `to`",
    check: |c| {
        c.arity("3 arguments", c.n() == 3);
        for i in 0..3 {
            c.want(i, &Type::String, "string");
        }
        Type::String
    },
    run: Run::Pure(|args| {
        let s = |i| string("replace", arg(args, i));
        Ok(Value::String(s(0)?.replace(s(1)?, s(2)?)))
    }),
};

pub(super) const SPLIT: Def = Def {
    usage: "split(s, sep) : [string]",
    doc: "the parts of `s` between the separators",
    check: |c| {
        c.arity("2 arguments", c.n() == 2);
        c.want(0, &Type::String, "string");
        c.want(1, &Type::String, "string");
        Type::list(Type::String)
    },
    run: Run::Pure(|args| {
        let s = string("split", arg(args, 0))?;
        let sep = string("split", arg(args, 1))?;
        Ok(Value::Array(
            s.split(sep).map(|p| Value::String(p.to_string())).collect(),
        ))
    }),
};

pub(super) const JOIN: Def = Def {
    usage: "join(xs, sep) : string",
    doc: "the texts of a list's elements with `sep` between them",
    check: |c| {
        c.arity("2 arguments", c.n() == 2);
        c.want(0, &Type::list(Type::String), "[string]");
        c.want(1, &Type::String, "string");
        Type::String
    },
    run: Run::Pure(|args| {
        let parts: Vec<String> = list("join", arg(args, 0))?.iter().map(to_text).collect();
        Ok(Value::String(parts.join(string("join", arg(args, 1))?)))
    }),
};

pub(super) const TO_STRING: Def = Def {
    usage: "to_string(x) : string",
    doc: "a string as it is, any other value as JSON text",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        Type::String
    },
    run: Run::Pure(|args| Ok(Value::String(to_text(arg(args, 0))))),
};
