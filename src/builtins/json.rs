//! JSON: `parse_json to_json jsonpath`, and JSONPath validation (RFC 9535).

use jsonpath_rust::parser::model::{
    Comparable, FilterAtom, FnArg, Segment, Selector, Test, TestFunction,
};
use serde_json::Value;

use super::{Check, Def, Failure, Run, arg, string};
use crate::diag::catalog;
use crate::syntax::ast::{ExprKind, StrPart};
use crate::syntax::span::Span;
use crate::types::Type;

pub(super) const PARSE_JSON: Def = Def {
    usage: "parse_json(s) : json",
    doc: "JSON text as a value",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        c.want(0, &Type::String, "string");
        Type::Json
    },
    run: Run::Pure(|args| {
        serde_json::from_str(string("parse_json", arg(args, 0))?)
            .map_err(|e| Failure::from(format!("`parse_json`: {e}")))
    }),
};

pub(super) const TO_JSON: Def = Def {
    usage: "to_json(x) : string",
    doc: "a value as JSON text",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        Type::String
    },
    run: Run::Pure(|args| Ok(Value::String(arg(args, 0).to_string()))),
};

pub(super) const JSONPATH: Def = Def {
    usage: "jsonpath(value, \"$.rows[?@.status=='failed'].ci_id\")",
    doc: "RFC 9535 JSONPath: the matched nodes, in document order; a literal path is validated at check time (E0502) and, on a value of known type, checked against it (`$.rows[*].idd` is E0204 with a did-you-mean); the element type of the result is inferred where it can be",
    check: check_jsonpath,
    run: Run::Pure(|args| {
        let path = arg(args, 1).as_str().unwrap_or("");
        jsonpath(arg(args, 0), path).map_err(|message| Failure::Bad {
            message,
            arg: Some(1),
        })
    }),
};

fn check_jsonpath(c: &mut Check<'_>) -> Type {
    if !c.arity("2 arguments (a value and a path)", c.n() == 2) {
        return Type::list(Type::Json);
    }
    c.want(1, &Type::String, "string");
    let lit = match &c.call.args[1].value.kind {
        ExprKind::Str(parts) => match parts.as_slice() {
            [StrPart::Text(t)] => Some(t.clone()),
            [] => Some(String::new()),
            _ => None,
        },
        _ => None,
    };
    let at = c.span_of(1);
    match lit {
        Some(path) => match validate_jsonpath(&path) {
            Ok(segments) => {
                let t = c.t(0);
                Type::list(jsonpath_type(c, &t, &segments, at))
            }
            Err(msg) => {
                c.diags.push(catalog::invalid_jsonpath(at, &msg));
                Type::list(Type::Json)
            }
        },
        None => Type::list(Type::Json),
    }
}

/// `jsonpath(value, path)`: the matched nodes, in document order.
pub fn jsonpath(v: &Value, path: &str) -> Result<Value, String> {
    use jsonpath_rust::JsonPath;
    validate_jsonpath(path)?;
    let found = v
        .query(path)
        .map_err(|e| format!("invalid JSONPath `{path}`: {e}"))?;
    Ok(Value::Array(found.into_iter().cloned().collect()))
}

/// The element type of a JSONPath result over a value of type `t`, where it can be known.
fn jsonpath_type(c: &mut Check<'_>, t: &Type, segments: &[Segment], span: Span) -> Type {
    let mut cur = t.clone();
    for seg in segments {
        cur = match seg {
            Segment::Selector(Selector::Name(n)) => match &cur {
                Type::Record(r) => match r.field(n) {
                    Some(f) => f.ty.clone(),
                    None => {
                        let help =
                            crate::diag::suggest(n, r.fields.iter().map(|f| f.name.as_str()));
                        c.diags.push(
                            catalog::unknown_field(span, n, &cur.to_string(), help)
                                .with_label(format!("`{n}` is not a field here")),
                        );
                        return Type::Json;
                    }
                },
                Type::Optional(inner) => match &**inner {
                    Type::Record(r) => r.field(n).map(|f| f.ty.clone()).unwrap_or(Type::Json),
                    _ => Type::Json,
                },
                _ => return Type::Json,
            },
            Segment::Selector(Selector::Wildcard)
            | Segment::Selector(Selector::Filter(_))
            | Segment::Selector(Selector::Slice(..))
            | Segment::Selector(Selector::Index(_)) => match &cur {
                Type::List(el) => (**el).clone(),
                _ => return Type::Json,
            },
            _ => return Type::Json,
        };
    }
    cur
}

/// Validates a JSONPath query (RFC 9535): the crate's parser, plus the
/// function type rules of RFC 9535 §2.4.3 that the crate does not enforce.
/// Returns the segments.
pub fn validate_jsonpath(path: &str) -> Result<Vec<Segment>, String> {
    let q = jsonpath_rust::parser::parse_json_path(path)
        .map_err(|e| jsonpath_message(&e.to_string()))?;
    well_typed_segments(&q.segments)?;
    Ok(q.segments)
}

/// A one-line message from the crate's (multi-line, pest-formatted) error.
fn jsonpath_message(raw: &str) -> String {
    let col = raw
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|c| c.trim().parse::<usize>().ok());
    let expected = raw
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .map(|e| e.replace('_', " "));
    match (col, expected) {
        (Some(c), Some(e)) => format!("at character {c}: {e}"),
        (Some(c), None) => format!("not a valid query at character {c}"),
        (None, _) => raw
            .lines()
            .next()
            .unwrap_or("not a valid query")
            .trim()
            .to_string(),
    }
}

// RFC 9535 §2.4.3: the type rules of function extensions, which the parser
// does not enforce.

fn well_typed_segments(segs: &[Segment]) -> Result<(), String> {
    segs.iter().try_for_each(well_typed_segment)
}

fn well_typed_segment(seg: &Segment) -> Result<(), String> {
    match seg {
        Segment::Descendant(inner) => well_typed_segment(inner),
        Segment::Selector(sel) => well_typed_selector(sel),
        Segment::Selectors(sels) => sels.iter().try_for_each(well_typed_selector),
    }
}

fn well_typed_selector(sel: &Selector) -> Result<(), String> {
    match sel {
        Selector::Filter(f) => well_typed_filter(f),
        _ => Ok(()),
    }
}

fn well_typed_filter(f: &jsonpath_rust::parser::model::Filter) -> Result<(), String> {
    use jsonpath_rust::parser::model::Filter;
    match f {
        Filter::Or(fs) | Filter::And(fs) => fs.iter().try_for_each(well_typed_filter),
        Filter::Atom(FilterAtom::Filter { expr, .. }) => well_typed_filter(expr),
        Filter::Atom(FilterAtom::Test { expr, .. }) => {
            if let Test::Function(func) = &**expr
                && let TestFunction::Length(_) | TestFunction::Count(_) | TestFunction::Value(_) =
                    &**func
            {
                return Err(format!(
                    "the result of `{}` must be compared, e.g. `{} > 0`",
                    fn_name(func),
                    fn_name(func)
                ));
            }
            well_typed_test(expr)
        }
        Filter::Atom(FilterAtom::Comparison(c)) => {
            let (a, b) = c.vals();
            for side in [a, b] {
                if let Comparable::Function(func) = side {
                    well_typed_function(func)?;
                }
            }
            Ok(())
        }
    }
}

fn well_typed_test(t: &Test) -> Result<(), String> {
    match t {
        Test::RelQuery(segs) => well_typed_segments(segs),
        Test::AbsQuery(q) => well_typed_segments(&q.segments),
        Test::Function(func) => well_typed_function(func),
    }
}

fn fn_name(f: &TestFunction) -> &str {
    match f {
        TestFunction::Custom(n, _) => n,
        TestFunction::Length(_) => "length()",
        TestFunction::Value(_) => "value()",
        TestFunction::Count(_) => "count()",
        TestFunction::Search(..) => "search()",
        TestFunction::Match(..) => "match()",
    }
}

/// An argument where a single value is expected: a literal, a singular query, or a function.
fn value_arg(func: &TestFunction, a: &FnArg) -> Result<(), String> {
    match a {
        FnArg::Literal(_) => Ok(()),
        FnArg::Test(t) => match &**t {
            Test::RelQuery(segs)
            | Test::AbsQuery(jsonpath_rust::parser::model::JpQuery { segments: segs }) => {
                if segs
                    .iter()
                    .all(|s| matches!(s, Segment::Selector(Selector::Name(_) | Selector::Index(_))))
                {
                    Ok(())
                } else {
                    Err(format!(
                        "`{}` needs a single value: a query that selects at most one node (names and indices only)",
                        fn_name(func)
                    ))
                }
            }
            Test::Function(inner) => well_typed_function(inner),
        },
        FnArg::Filter(_) => Err(format!(
            "`{}` needs a value, not a logical expression",
            fn_name(func)
        )),
    }
}

fn nodes_arg(a: &FnArg) -> Result<(), String> {
    match a {
        FnArg::Test(t) => well_typed_test(t),
        FnArg::Filter(f) => well_typed_filter(f),
        FnArg::Literal(_) => Ok(()),
    }
}

fn well_typed_function(func: &TestFunction) -> Result<(), String> {
    match func {
        TestFunction::Length(a) => value_arg(func, a),
        TestFunction::Search(a, b) | TestFunction::Match(a, b) => {
            value_arg(func, a)?;
            value_arg(func, b)
        }
        TestFunction::Count(a) | TestFunction::Value(a) => nodes_arg(a),
        TestFunction::Custom(..) => Ok(()),
    }
}
