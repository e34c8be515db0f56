//! The built-in functions (docs/language.md, "Built-in functions"): one table. The `table!`
//! below names each built-in and points at its [`Def`]: usage, doc, type rule and
//! implementation together, in the file of its family. The checker, the evaluator, the
//! REPL's completion and the docs' list all read [`Builtin`].

#[cfg(test)]
mod agree;
mod collections;
mod decisions;
mod json;
mod numbers;
mod strings;
mod time;

use std::cell::Cell;
use std::time::Instant;

use serde_json::Value;

use crate::diag::{Diagnostic, catalog};
use crate::syntax::ast::Call;
use crate::syntax::span::Span;
use crate::types::{Type, assignable};

pub use json::{jsonpath, validate_jsonpath};
pub use time::now_rfc3339;

/// One built-in: what the docs say, how it is checked, how it runs (its
/// name is the table's, below).
pub struct Def {
    /// How it is called and what it gives, for the docs: `len(x) : int`;
    /// several forms are separated by `; `.
    pub usage: &'static str,
    /// What it does, one line of Markdown.
    pub doc: &'static str,
    /// The type rule: arity and argument types, diagnostics, the result type.
    pub check: fn(&mut Check<'_>) -> Type,
    pub run: Run,
}

/// How a built-in runs.
pub enum Run {
    /// A pure function of its evaluated arguments.
    Pure(fn(&[Value]) -> Result<Value, Failure>),
    /// Evaluated by the evaluator itself (`stable` looks at the previous
    /// iteration, `llm` asks a provider).
    Evaluator,
}

/// Why a pure built-in failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A value it cannot take; `arg` is the argument to point at, if not the call.
    Bad { message: String, arg: Option<usize> },
    /// Stopped at the deadline around the call.
    Stopped,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Bad { message, arg: None }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::from(message.to_string())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Bad { message, .. } => f.write_str(message),
            Failure::Stopped => f.write_str("stopped at the deadline"),
        }
    }
}

macro_rules! table {
    ($($variant:ident $name:literal => $family:ident::$def:ident,)*) => {
        /// Every built-in function.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Builtin { $($variant,)* }

        impl Builtin {
            /// Every built-in, in the docs' order.
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant,)*];

            /// The table entry.
            pub fn def(self) -> &'static Def {
                match self { $(Builtin::$variant => &$family::$def,)* }
            }

            pub fn name(self) -> &'static str {
                match self { $(Builtin::$variant => $name,)* }
            }

            pub fn from_name(name: &str) -> Option<Builtin> {
                match name {
                    $($name => Some(Builtin::$variant),)*
                    _ => None,
                }
            }
        }

        /// Every built-in's name, in the docs' order.
        pub const NAMES: &[&str] = &[$($name,)*];
    };
}

table! {
    Len "len" => collections::LEN,
    Keys "keys" => collections::KEYS,
    Values "values" => collections::VALUES,
    Merge "merge" => collections::MERGE,
    Flatten "flatten" => collections::FLATTEN,
    Unique "unique" => collections::UNIQUE,
    Sort "sort" => collections::SORT,
    Contains "contains" => collections::CONTAINS,
    Range "range" => collections::RANGE,
    Sum "sum" => numbers::SUM,
    Avg "avg" => numbers::AVG,
    Min "min" => numbers::MIN,
    Max "max" => numbers::MAX,
    ToInt "to_int" => numbers::TO_INT,
    ToFloat "to_float" => numbers::TO_FLOAT,
    Round "round" => numbers::ROUND,
    Abs "abs" => numbers::ABS,
    StartsWith "starts_with" => strings::STARTS_WITH,
    EndsWith "ends_with" => strings::ENDS_WITH,
    Lower "lower" => strings::LOWER,
    Upper "upper" => strings::UPPER,
    Trim "trim" => strings::TRIM,
    Replace "replace" => strings::REPLACE,
    Split "split" => strings::SPLIT,
    Join "join" => strings::JOIN,
    ToString "to_string" => strings::TO_STRING,
    ParseJson "parse_json" => json::PARSE_JSON,
    ToJson "to_json" => json::TO_JSON,
    Jsonpath "jsonpath" => json::JSONPATH,
    Now "now" => time::NOW,
    Env "env" => time::ENV,
    Stable "stable" => decisions::STABLE,
    Llm "llm" => decisions::LLM,
}

impl Builtin {
    /// Pure and evaluated on the spot (not `stable` or `llm`).
    pub fn is_pure(self) -> bool {
        matches!(self.def().run, Run::Pure(_))
    }
}

/// Is `name` a built-in function?
pub fn is_builtin(name: &str) -> bool {
    Builtin::from_name(name).is_some()
}

/// What a call of a pure built-in needs from where it runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ctx {
    /// When long built-ins (`range`, `unique`, `flatten`) stop: the earliest
    /// deadline around the call.
    pub cutoff: Option<Instant>,
}

/// The approximate bytes (as `run::memory::size` counts) of what a built-in
/// that builds a large value from small arguments would build, before it
/// does: `range`'s list and `join`'s string (the rest build values about the
/// size of their arguments, counted once built).
pub fn estimate(b: Builtin, args: &[Value]) -> Option<u64> {
    match b {
        Builtin::Range => {
            let (lo, hi) = match args {
                [n] => (0, n.as_i64()?),
                [a, b] => (a.as_i64()?, b.as_i64()?),
                _ => return None,
            };
            let n = (i128::from(hi) - i128::from(lo)).clamp(0, i128::from(u32::MAX)) as u64;
            Some(24 + 16 * n)
        }
        Builtin::Join => {
            let items = args.first()?.as_array()?;
            let sep = args.get(1)?.as_str().map_or(0, str::len) as u64;
            let text: u64 = items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.len() as u64,
                    v => crate::value::to_text(v).len() as u64,
                })
                .sum();
            Some(24 + text + sep * items.len().saturating_sub(1) as u64)
        }
        _ => None,
    }
}

/// Calls a built-in on evaluated arguments. `stable` and `llm` are the
/// evaluator's own; calling them here is a bug.
pub fn call(b: Builtin, args: &[Value], ctx: &Ctx) -> Result<Value, Failure> {
    match b.def().run {
        Run::Pure(f) => {
            let before = CUTOFF.replace(ctx.cutoff);
            let r = f(args);
            CUTOFF.set(before);
            r
        }
        Run::Evaluator => Err(Failure::from(format!(
            "`{}()` cannot be evaluated here",
            b.name()
        ))),
    }
}

thread_local! {
    /// The cutoff of the built-in running on this thread.
    static CUTOFF: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Every 4096th element of a long built-in: stop once the cutoff has passed.
fn check_cutoff(k: usize) -> Result<(), Failure> {
    if k % 4096 == 4095 && CUTOFF.get().is_some_and(|c| Instant::now() >= c) {
        return Err(Failure::Stopped);
    }
    Ok(())
}

/// A call being checked: its arguments' types, and where diagnostics go.
pub struct Check<'a> {
    pub name: &'static str,
    /// The whole call.
    pub span: Span,
    /// Each argument's type and span.
    pub args: Vec<(Type, Span)>,
    /// The call itself, for built-ins that look at literal arguments (`jsonpath`).
    pub call: &'a Call,
    pub diags: &'a mut Vec<Diagnostic>,
}

impl Check<'_> {
    fn n(&self) -> usize {
        self.args.len()
    }

    /// Reports a wrong number of arguments unless `ok`; returns `ok`.
    fn arity(&mut self, expected: &str, ok: bool) -> bool {
        if !ok {
            self.diags.push(catalog::builtin_arity(
                self.span,
                self.name,
                expected,
                self.n(),
            ));
        }
        ok
    }

    /// The type of argument `i` (`Unknown` if it is missing).
    fn t(&self, i: usize) -> Type {
        self.args
            .get(i)
            .map(|a| a.0.clone())
            .unwrap_or(Type::Unknown)
    }

    fn span_of(&self, i: usize) -> Span {
        self.args.get(i).map_or(self.span, |a| a.1)
    }

    /// Argument `i`, if given, must be assignable to `ty`.
    fn want(&mut self, i: usize, ty: &Type, what: &str) {
        if let Some((at, s)) = self.args.get(i)
            && !assignable(at, ty)
        {
            let d = catalog::mismatch(
                *s,
                what,
                &at.to_string(),
                &format!(" (argument {} of `{}`)", i + 1, self.name),
            );
            self.diags.push(d);
        }
    }

    /// The element type of argument `i`, which must be a list.
    fn list_of(&mut self, i: usize) -> Type {
        match self.args.get(i) {
            Some((at, s)) => match at.element() {
                Some(el) => el,
                None => {
                    let d = catalog::not_a_list(*s, &format!("`{}`", self.name), &at.to_string());
                    self.diags.push(d);
                    Type::Unknown
                }
            },
            None => Type::Unknown,
        }
    }

    /// Reports that argument `i` is not what `expected` says.
    fn mismatch(&mut self, i: usize, expected: &str, found: &Type, context: &str) {
        let d = catalog::mismatch(self.span_of(i), expected, &found.to_string(), context);
        self.diags.push(d);
    }
}

/// The built-in functions' table in `docs/language.md`, generated from [`Builtin`].
pub fn markdown() -> String {
    let mut s = String::from("| function | does |\n|---|---|\n");
    for b in Builtin::ALL {
        let d = b.def();
        let forms: Vec<String> = d.usage.split("; ").map(|f| format!("`{f}`")).collect();
        s.push_str(&format!(
            "| {} | {} |\n",
            forms.join(", "),
            d.doc.replace('|', "\\|")
        ));
    }
    s
}

// Helpers shared by the families' implementations.

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

fn list<'a>(name: &str, v: &'a Value) -> Result<&'a Vec<Value>, Failure> {
    v.as_array().ok_or_else(|| {
        Failure::from(format!(
            "`{name}` needs a list, got {}",
            crate::value::describe(v)
        ))
    })
}

fn string<'a>(name: &str, v: &'a Value) -> Result<&'a str, Failure> {
    v.as_str().ok_or_else(|| {
        Failure::from(format!(
            "`{name}` needs a string, got {}",
            crate::value::describe(v)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for (k, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(Builtin::from_name(b.name()), Some(*b));
            assert_eq!(NAMES[k], b.name());
            assert!(!NAMES[..k].contains(&b.name()), "{} twice", b.name());
            assert!(
                b.def().usage.starts_with(&format!("{}(", b.name())),
                "{}'s usage names it",
                b.name()
            );
        }
        assert_eq!(Builtin::from_name("lenght"), None);
        assert!(!Builtin::Llm.is_pure() && !Builtin::Stable.is_pure());
        assert!(Builtin::Len.is_pure());
    }

    fn run(name: &str, args: &[Value]) -> Result<Value, Failure> {
        let b = Builtin::from_name(name).expect("a built-in");
        call(b, args, &Ctx::default())
    }

    #[test]
    fn builtins_compute() {
        use serde_json::json;
        assert_eq!(run("len", &[json!([1, 2, 3])]), Ok(json!(3)));
        assert_eq!(run("sum", &[json!([1, 2, 3])]), Ok(json!(6)));
        assert_eq!(run("avg", &[json!([1, 2])]), Ok(json!(1.5)));
        assert_eq!(run("max", &[json!([1, 7, 3])]), Ok(json!(7)));
        assert_eq!(run("min", &[json!(4), json!(2)]), Ok(json!(2)));
        assert_eq!(run("unique", &[json!([1, 1, 2])]), Ok(json!([1, 2])));
        assert_eq!(
            run("merge", &[json!({"a": {"x": 1}}), json!({"a": {"y": 2}})]),
            Ok(json!({"a": {"x": 1, "y": 2}}))
        );
        assert_eq!(
            run("join", &[json!(["a", "b"]), json!("-")]),
            Ok(json!("a-b"))
        );
        assert!(run("avg", &[json!([])]).is_err());
        // Integers beyond i64 (a tool's JSON) are an overflow, not a float sum.
        assert_eq!(
            run("sum", &[json!([1, u64::MAX])]),
            Err(Failure::from("`sum`: integer overflow"))
        );
        // A bad path points at the path argument.
        assert!(matches!(
            run("jsonpath", &[json!({}), json!("$.[")]),
            Err(Failure::Bad { arg: Some(1), .. })
        ));
    }

    #[test]
    fn long_builtins_stop_at_the_cutoff() {
        let past = Ctx {
            cutoff: Some(Instant::now()),
        };
        let n = Value::from(100_000);
        assert_eq!(
            call(Builtin::Range, std::slice::from_ref(&n), &past),
            Err(Failure::Stopped)
        );
        assert!(call(Builtin::Range, &[n], &Ctx::default()).is_ok());
    }

    #[test]
    fn unique_keeps_the_first_of_values_equal_holds_equal() {
        use serde_json::json;
        let items = json!([1, 1.0, 2.5, 2.5, {"a": 1, "b": [2]}, {"b": [2.0], "a": 1}, "1", [1, 2], [2, 1], null, null, true]);
        assert_eq!(
            run("unique", &[items]),
            Ok(json!([1, 2.5, {"a": 1, "b": [2]}, "1", [1, 2], [2, 1], null, true]))
        );
    }

    #[test]
    fn the_evaluators_own_are_not_called_here() {
        assert!(call(Builtin::Llm, &[], &Ctx::default()).is_err());
    }
}
