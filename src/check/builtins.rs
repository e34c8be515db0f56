//! Built-in pure functions (SPEC §7): positional arguments, checked signatures.

use jsonpath_rust::parser::model::{
    Comparable, FilterAtom, FnArg, Segment, Selector, Test, TestFunction,
};

use super::expr::Ctx;
use super::types::{Type, assignable, join};
use crate::diag::catalog;
use crate::syntax::ast::{Call, ExprKind, StrPart};
use crate::syntax::span::Span;

/// Every built-in function name.
pub const NAMES: &[&str] = &[
    "len",
    "keys",
    "values",
    "merge",
    "flatten",
    "unique",
    "sort",
    "sum",
    "min",
    "max",
    "avg",
    "contains",
    "starts_with",
    "ends_with",
    "lower",
    "upper",
    "split",
    "join",
    "trim",
    "replace",
    "to_string",
    "to_int",
    "to_float",
    "parse_json",
    "to_json",
    "now",
    "stable",
    "jsonpath",
    "env",
    "llm",
    "range",
    "abs",
    "round",
];

impl<'p> Ctx<'p> {
    /// Checks a call of a built-in function; `None` if `name` is not one.
    pub(super) fn builtin(&mut self, name: &str, c: &'p Call, span: Span) -> Option<Type> {
        if !NAMES.contains(&name) {
            return None;
        }
        if let Some(a) = c.args.iter().find(|a| a.name.is_some()) {
            let n = a.name.as_ref().expect("found a named argument");
            self.diags.push(catalog::unknown_arg(
                n.span,
                name,
                &n.name,
                Some(format!(
                    "built-in functions take positional arguments: `{name}(x)`"
                )),
            ));
        }
        if let Some(o) = &c.options {
            self.diags.push(catalog::option_place(
                o.span,
                "with",
                "a built-in function",
                "tool and flow calls",
            ));
        }
        if name == "stable" && !self.in_until {
            self.diags.push(catalog::stable_outside_until(span));
        }
        if name == "llm" {
            self.effects += 1;
        }
        let args: Vec<(Type, Span)> = c
            .args
            .iter()
            .map(|a| (self.expr(&a.value), a.value.span))
            .collect();
        let n = args.len();
        let arity = |me: &mut Self, expected: &str, ok: bool| {
            if !ok {
                me.diags
                    .push(catalog::builtin_arity(span, name, expected, n));
            }
            ok
        };
        let t = |i: usize| args.get(i).map(|a| a.0.clone()).unwrap_or(Type::Unknown);
        let want = |me: &mut Self, i: usize, ty: &Type, what: &str| {
            if let Some((at, s)) = args.get(i)
                && !assignable(at, ty)
            {
                me.diags.push(catalog::mismatch(
                    *s,
                    what,
                    &at.to_string(),
                    &format!(" (argument {} of `{name}`)", i + 1),
                ));
            }
        };
        let list_of = |me: &mut Self, i: usize| -> Type {
            match args.get(i) {
                Some((at, s)) => match at.element() {
                    Some(el) => el,
                    None => {
                        me.diags.push(catalog::not_a_list(
                            *s,
                            &format!("`{name}`"),
                            &at.to_string(),
                        ));
                        Type::Unknown
                    }
                },
                None => Type::Unknown,
            }
        };
        let ty = match name {
            "len" => {
                if arity(self, "1 argument", n == 1) {
                    match t(0) {
                        Type::List(_)
                        | Type::String
                        | Type::Lit(_)
                        | Type::Record(_)
                        | Type::Json
                        | Type::Unknown => {}
                        other => self.diags.push(catalog::mismatch(
                            args[0].1,
                            "a list, string or record",
                            &other.to_string(),
                            " (argument of `len`)",
                        )),
                    }
                }
                Type::Int
            }
            "keys" => {
                arity(self, "1 argument", n == 1);
                Type::list(Type::String)
            }
            "values" => {
                arity(self, "1 argument", n == 1);
                match t(0) {
                    Type::Record(r) => {
                        let j = r
                            .fields
                            .iter()
                            .try_fold(Type::Never, |acc, f| join(&acc, &f.ty));
                        Type::list(j.unwrap_or(Type::Json))
                    }
                    _ => Type::list(Type::Json),
                }
            }
            "merge" => {
                arity(self, "2 or more arguments", n >= 2);
                let mut fields = Vec::new();
                let mut dynamic = false;
                for (at, s) in &args {
                    match at {
                        Type::Record(r) => {
                            for f in &r.fields {
                                fields.retain(|x: &super::types::FieldTy| x.name != f.name);
                                fields.push(f.clone());
                            }
                        }
                        Type::Json | Type::Unknown => dynamic = true,
                        other => self.diags.push(catalog::mismatch(
                            *s,
                            "a record",
                            &other.to_string(),
                            " (argument of `merge`)",
                        )),
                    }
                }
                if dynamic {
                    Type::Json
                } else {
                    Type::record(fields)
                }
            }
            "flatten" => {
                arity(self, "1 argument", n == 1);
                let el = list_of(self, 0);
                match el.element() {
                    Some(inner) => Type::list(inner),
                    None => {
                        self.diags.push(catalog::mismatch(
                            args[0].1,
                            "a list of lists",
                            &t(0).to_string(),
                            "",
                        ));
                        Type::Unknown
                    }
                }
            }
            "unique" | "sort" => {
                arity(self, "1 argument", n == 1);
                let el = list_of(self, 0);
                Type::list(el)
            }
            "sum" => {
                arity(self, "1 argument", n == 1);
                let el = list_of(self, 0);
                match el {
                    Type::Int => Type::Int,
                    Type::Float | Type::Unknown | Type::Never => Type::Float,
                    Type::Json => Type::Json,
                    other => {
                        self.diags.push(catalog::mismatch(
                            args[0].1,
                            "[int] or [float]",
                            &Type::list(other).to_string(),
                            "",
                        ));
                        Type::Unknown
                    }
                }
            }
            "avg" => {
                arity(self, "1 argument", n == 1);
                let el = list_of(self, 0);
                if !el.is_numeric() {
                    self.diags.push(catalog::mismatch(
                        args[0].1,
                        "[float]",
                        &Type::list(el).to_string(),
                        "",
                    ));
                }
                Type::Float
            }
            "min" | "max" => {
                if !arity(self, "1 list or 2 or more numbers", n >= 1) {
                    Type::Unknown
                } else if n == 1 {
                    list_of(self, 0)
                } else {
                    let mut acc = Type::Never;
                    for (at, s) in &args {
                        if !at.is_numeric() && !at.is_stringy() {
                            self.diags.push(catalog::mismatch(
                                *s,
                                "a number",
                                &at.to_string(),
                                &format!(" (argument of `{name}`)"),
                            ));
                        }
                        acc = join(&acc, at).unwrap_or(Type::Unknown);
                    }
                    acc
                }
            }
            "contains" => {
                arity(self, "2 arguments", n == 2);
                match t(0) {
                    Type::String | Type::Lit(_) => want(self, 1, &Type::String, "string"),
                    Type::List(el) => want(self, 1, &el, &el.to_string()),
                    Type::Json | Type::Unknown | Type::Record(_) => {}
                    other => self.diags.push(catalog::mismatch(
                        args[0].1,
                        "a list or a string",
                        &other.to_string(),
                        " (argument 1 of `contains`)",
                    )),
                }
                Type::Bool
            }
            "starts_with" | "ends_with" => {
                arity(self, "2 arguments", n == 2);
                want(self, 0, &Type::String, "string");
                want(self, 1, &Type::String, "string");
                Type::Bool
            }
            "lower" | "upper" | "trim" => {
                arity(self, "1 argument", n == 1);
                want(self, 0, &Type::String, "string");
                Type::String
            }
            "replace" => {
                arity(self, "3 arguments", n == 3);
                for i in 0..3 {
                    want(self, i, &Type::String, "string");
                }
                Type::String
            }
            "split" => {
                arity(self, "2 arguments", n == 2);
                want(self, 0, &Type::String, "string");
                want(self, 1, &Type::String, "string");
                Type::list(Type::String)
            }
            "join" => {
                arity(self, "2 arguments", n == 2);
                want(self, 0, &Type::list(Type::String), "[string]");
                want(self, 1, &Type::String, "string");
                Type::String
            }
            "to_string" | "to_json" => {
                arity(self, "1 argument", n == 1);
                Type::String
            }
            "to_int" | "to_float" | "round" => {
                arity(self, "1 argument", n == 1);
                match t(0) {
                    Type::Record(_) | Type::List(_) | Type::Bool | Type::Null | Type::Regex => {
                        self.diags.push(catalog::mismatch(
                            args[0].1,
                            "a number or a string",
                            &t(0).to_string(),
                            &format!(" (argument of `{name}`)"),
                        ))
                    }
                    _ => {}
                }
                if name == "to_float" {
                    Type::Float
                } else {
                    Type::Int
                }
            }
            "abs" => {
                arity(self, "1 argument", n == 1);
                let a = t(0);
                if !a.is_numeric() {
                    self.diags.push(catalog::mismatch(
                        args[0].1,
                        "a number",
                        &a.to_string(),
                        " (argument of `abs`)",
                    ));
                    Type::Unknown
                } else {
                    a
                }
            }
            "parse_json" => {
                arity(self, "1 argument", n == 1);
                want(self, 0, &Type::String, "string");
                Type::Json
            }
            "now" => {
                arity(self, "no arguments", n == 0);
                Type::String
            }
            "stable" => {
                arity(self, "1 argument", n == 1);
                Type::Bool
            }
            "env" => {
                arity(self, "1 argument", n == 1);
                want(self, 0, &Type::String, "string");
                Type::optional(Type::String)
            }
            "llm" => {
                self.decision_site(span, "llm", vec!["yes".into(), "no".into()], false);
                arity(self, "a prompt and any context values", n >= 1);
                want(self, 0, &Type::String, "string");
                Type::Bool
            }
            "range" => {
                arity(self, "1 or 2 arguments", n == 1 || n == 2);
                for i in 0..n {
                    want(self, i, &Type::Int, "int");
                }
                Type::list(Type::Int)
            }
            "jsonpath" => {
                if !arity(self, "2 arguments (a value and a path)", n == 2) {
                    return Some(Type::list(Type::Json));
                }
                want(self, 1, &Type::String, "string");
                let lit = match &c.args[1].value.kind {
                    ExprKind::Str(parts) => match parts.as_slice() {
                        [StrPart::Text(t)] => Some(t.clone()),
                        [] => Some(String::new()),
                        _ => None,
                    },
                    _ => None,
                };
                match lit {
                    Some(path) => match validate_jsonpath(&path) {
                        Ok(segments) => Type::list(self.jsonpath_type(&t(0), &segments, args[1].1)),
                        Err(msg) => {
                            self.diags.push(catalog::invalid_jsonpath(args[1].1, &msg));
                            Type::list(Type::Json)
                        }
                    },
                    None => Type::list(Type::Json),
                }
            }
            _ => unreachable!("every name in NAMES is handled"),
        };
        Some(ty)
    }

    /// The element type of a JSONPath result over a value of type `t`, where it can be known.
    fn jsonpath_type(&mut self, t: &Type, segments: &[Segment], span: Span) -> Type {
        let mut cur = t.clone();
        for seg in segments {
            cur = match seg {
                Segment::Selector(Selector::Name(n)) => match &cur {
                    Type::Record(r) => match r.field(n) {
                        Some(f) => f.ty.clone(),
                        None => {
                            let help =
                                crate::diag::suggest(n, r.fields.iter().map(|f| f.name.as_str()));
                            self.diags.push(
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
                | Segment::Selector(Selector::Slice(..)) => match &cur {
                    Type::List(el) => (**el).clone(),
                    _ => return Type::Json,
                },
                Segment::Selector(Selector::Index(_)) => match &cur {
                    Type::List(el) => (**el).clone(),
                    _ => return Type::Json,
                },
                _ => return Type::Json,
            };
        }
        cur
    }
}

/// Validates a JSONPath query (RFC 9535): the crate's parser, plus the
/// Enforces the function type rules of RFC 9535 §2.4.3 that the crate does
/// not. Returns the segments.
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
