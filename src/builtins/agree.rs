//! The type rules and the implementations of the table agree: whenever a
//! built-in's type rule accepts the types of some arguments without a
//! diagnostic, what its implementation returns for such arguments has the
//! type the rule gave.

use serde_json::{Value, json};

use super::{Builtin, Check, Ctx, Run, call};
use crate::syntax::ast::{Arg, Call, Expr, ExprKind, Ident, StrPart};
use crate::syntax::span::{FileId, Span};
use crate::types::{Type, join};
use crate::value::conforms;

/// The most precise type of a value.
fn type_of(v: &Value) -> Type {
    match v {
        Value::Null => Type::Null,
        Value::Bool(_) => Type::Bool,
        Value::Number(n) if n.is_i64() || n.is_u64() => Type::Int,
        Value::Number(_) => Type::Float,
        Value::String(_) => Type::String,
        Value::Array(items) => Type::list(
            items
                .iter()
                .try_fold(Type::Never, |acc, x| join(&acc, &type_of(x)))
                .unwrap_or(Type::Json),
        ),
        Value::Object(m) => {
            Type::record(m.iter().map(|(k, x)| Type::field(k, type_of(x))).collect())
        }
    }
}

/// A call of `b` whose arguments are literals of `args` (strings as string
/// literals, which is what `jsonpath` looks at; the rest as `null`).
fn call_of(b: Builtin, args: &[Value]) -> Call {
    let span = Span {
        file: FileId(0),
        start: 0,
        end: 0,
    };
    Call {
        callee: vec![Ident {
            name: b.name().into(),
            span,
        }],
        args: args
            .iter()
            .map(|a| Arg {
                name: None,
                value: Expr {
                    kind: match a {
                        Value::String(s) => ExprKind::Str(vec![StrPart::Text(s.clone())]),
                        _ => ExprKind::Null,
                    },
                    span,
                },
                span,
            })
            .collect(),
        options: None,
    }
}

#[test]
fn what_a_type_rule_accepts_runs_to_a_value_of_its_type() {
    let samples = [
        json!(0),
        json!(-3),
        json!(2.5),
        json!("a,b"),
        json!("$.a"),
        json!(""),
        json!(true),
        json!(null),
        json!([1, 2]),
        json!([]),
        json!(["x", "y"]),
        json!([[1], [2, 3]]),
        json!([{"a": 1}, {"a": 2}]),
        json!({"a": 1, "b": "s"}),
    ];
    let mut accepted = 0;
    for &b in Builtin::ALL {
        let Run::Pure(_) = b.def().run else { continue };
        let mut lists: Vec<Vec<Value>> = vec![vec![]];
        for _ in 0..3 {
            let longer: Vec<Vec<Value>> = lists
                .iter()
                .filter(|l| l.len() == lists.last().map_or(0, Vec::len))
                .flat_map(|l| {
                    samples.iter().map(move |s| {
                        let mut l = l.clone();
                        l.push(s.clone());
                        l
                    })
                })
                .collect();
            lists.extend(longer);
        }
        for args in &lists {
            let c = call_of(b, args);
            let mut diags = Vec::new();
            let mut check = Check {
                name: b.name(),
                span: c.callee[0].span,
                args: args
                    .iter()
                    .map(|a| (type_of(a), c.callee[0].span))
                    .collect(),
                call: &c,
                diags: &mut diags,
            };
            let t = (b.def().check)(&mut check);
            if !diags.is_empty() {
                continue;
            }
            accepted += 1;
            if let Ok(v) = call(b, args, &Ctx::default()) {
                assert!(
                    conforms(&v, &t).is_ok(),
                    "{}({}) = {v}, which is not the checked type {t}",
                    b.name(),
                    args.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    assert!(accepted > 500, "{accepted} calls accepted");
}
