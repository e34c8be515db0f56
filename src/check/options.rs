//! Options (`with { … }`): known names, value kinds, and where each is allowed (SPEC §10).

use std::collections::HashMap;

use crate::diag::{Diagnostic, catalog, suggest};
use crate::syntax::ast::{Expr, ExprKind, Options, StrPart};
use crate::syntax::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Flow,
    /// `parallel`, `race`, `sequence`, `dag`, `try`
    Block,
    Loop,
    For,
    Tool {
        effect: bool,
    },
    Call {
        effect: bool,
    },
}

impl Place {
    fn describe(self) -> &'static str {
        match self {
            Place::Flow => "a flow",
            Place::Block => "a block",
            Place::Loop => "a `loop`",
            Place::For => "a `for`",
            Place::Tool { .. } => "a tool declaration",
            Place::Call { .. } => "a call",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PosInt,
    NonNegInt,
    Duration,
    /// A size in bytes: `64MB` or an integer.
    Size,
    Bool,
    ErrorKinds,
    OnMax,
    /// Any expression of type string (checked by the expression checker).
    StringExpr,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::PosInt => "a positive integer",
            Kind::NonNegInt => "a non-negative integer",
            Kind::Duration => "a duration such as `30s`",
            Kind::Size => "a size such as `64MB` (or a number of bytes)",
            Kind::Bool => "`true` or `false`",
            Kind::ErrorKinds => "a list of error kinds such as `[\"timeout\", \"tool_error\"]`",
            Kind::OnMax => "`error` or `warn`",
            Kind::StringExpr => "a string",
        }
    }
}

pub struct OptionInfo {
    pub name: &'static str,
    pub kind: Kind,
    pub places: &'static str,
}

const ALL: &str = "flow block loop for tool call";

/// Every option, its kind, and the places it is allowed.
pub const OPTIONS: &[OptionInfo] = &[
    OptionInfo {
        name: "max_concurrent",
        kind: Kind::PosInt,
        places: "flow block for tool",
    },
    OptionInfo {
        name: "timeout",
        kind: Kind::Duration,
        places: ALL,
    },
    OptionInfo {
        name: "timeout_per_step",
        kind: Kind::Duration,
        places: ALL,
    },
    OptionInfo {
        name: "retry",
        kind: Kind::NonNegInt,
        places: ALL,
    },
    OptionInfo {
        name: "retry_on",
        kind: Kind::ErrorKinds,
        places: ALL,
    },
    OptionInfo {
        name: "backoff",
        kind: Kind::Duration,
        places: ALL,
    },
    OptionInfo {
        name: "max_loop_iterations",
        kind: Kind::PosInt,
        places: "flow block loop for",
    },
    OptionInfo {
        name: "on_max",
        kind: Kind::OnMax,
        places: "flow block loop for",
    },
    OptionInfo {
        name: "fail_fast",
        kind: Kind::Bool,
        places: "flow block for",
    },
    OptionInfo {
        name: "deadline",
        kind: Kind::Duration,
        places: "flow block loop for",
    },
    OptionInfo {
        name: "max_output",
        kind: Kind::Size,
        places: ALL,
    },
    OptionInfo {
        name: "max_memory",
        kind: Kind::Size,
        places: "flow",
    },
    OptionInfo {
        name: "cache",
        kind: Kind::Duration,
        places: "puretool purecall",
    },
    OptionInfo {
        name: "idempotency_key",
        kind: Kind::StringExpr,
        places: "effectcall",
    },
    OptionInfo {
        name: "replan_on_error",
        kind: Kind::Bool,
        places: "flow block",
    },
    OptionInfo {
        name: "max_replans",
        kind: Kind::NonNegInt,
        places: "flow block",
    },
    OptionInfo {
        name: "replan_cooldown",
        kind: Kind::Duration,
        places: "flow block",
    },
];

pub const ERROR_KINDS: &[&str] = &[
    "tool_error",
    "timeout",
    "type_error",
    "llm_error",
    "policy_violation",
    "cancelled",
];

fn allowed(info: &OptionInfo, place: Place) -> bool {
    let words: Vec<&str> = info.places.split(' ').collect();
    match place {
        Place::Flow => words.contains(&"flow"),
        Place::Block => words.contains(&"block"),
        Place::Loop => words.contains(&"loop"),
        Place::For => words.contains(&"for"),
        Place::Tool { effect } => {
            words.contains(&"tool") || (!effect && words.contains(&"puretool"))
        }
        Place::Call { effect } => {
            words.contains(&"call")
                || (!effect && words.contains(&"purecall"))
                || (effect && words.contains(&"effectcall"))
        }
    }
}

fn allowed_text(info: &OptionInfo) -> String {
    let mut v: Vec<&str> = Vec::new();
    for w in info.places.split(' ') {
        v.push(match w {
            "flow" => "flows",
            "block" => "blocks",
            "loop" => "loops",
            "for" => "`for`",
            "tool" => "tool declarations",
            "call" => "calls",
            "puretool" => "declarations of tools that are not `effect`",
            "purecall" => "calls of tools that are not `effect`",
            "effectcall" => "calls of `effect` tools",
            _ => w,
        });
    }
    v.join(", ")
}

pub fn lookup(name: &str) -> Option<&'static OptionInfo> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// Checks names, places and literal values. Returns the entries whose value
/// the expression checker must still check (`idempotency_key`).
pub fn check_static<'a>(
    opts: &'a Options,
    place: Place,
    diags: &mut Vec<Diagnostic>,
) -> Vec<&'a Expr> {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let mut exprs = Vec::new();
    for e in &opts.entries {
        let name = e.name.name.as_str();
        if let Some(first) = seen.get(name) {
            diags.push(catalog::duplicate(e.name.span, "option", name, *first));
            continue;
        }
        seen.insert(name, e.name.span);
        let Some(info) = lookup(name) else {
            diags.push(catalog::unknown_option(
                e.name.span,
                name,
                suggest(name, OPTIONS.iter().map(|o| o.name)),
            ));
            continue;
        };
        if !allowed(info, place) {
            let d = catalog::option_place(e.name.span, name, place.describe(), &allowed_text(info));
            diags.push(d);
            continue;
        }
        if let Some(found) = check_value(info.kind, &e.value) {
            diags.push(catalog::option_type(
                e.value.span,
                name,
                info.kind.describe(),
                &found,
            ));
        }
        if info.kind == Kind::StringExpr {
            exprs.push(&e.value);
        }
    }
    exprs
}

/// `None` when the value fits the kind, else a description of what it is.
fn check_value(kind: Kind, v: &Expr) -> Option<String> {
    let what = describe(v);
    match (kind, &v.kind) {
        (Kind::PosInt, ExprKind::Int(n)) if *n >= 1 => None,
        (Kind::PosInt, ExprKind::Int(n)) => Some(format!("`{n}`")),
        (Kind::NonNegInt, ExprKind::Int(n)) if *n >= 0 => None,
        (Kind::NonNegInt, ExprKind::Int(n)) => Some(format!("`{n}`")),
        (Kind::Duration, ExprKind::Duration { .. }) => None,
        (Kind::Size, ExprKind::Int(n)) if *n >= 1 => None,
        (Kind::Size, ExprKind::Int(n)) => Some(format!("`{n}`")),
        (Kind::Bool, ExprKind::Bool(_)) => None,
        (Kind::OnMax, ExprKind::Name(n)) if matches!(n.name.as_str(), "error" | "warn") => None,
        (Kind::OnMax, ExprKind::Str(parts)) if matches!(parts.as_slice(), [StrPart::Text(t)] if t == "error" || t == "warn") => {
            None
        }
        (Kind::ErrorKinds, ExprKind::List(items)) => {
            for i in items {
                match &i.kind {
                    ExprKind::Str(parts) if matches!(parts.as_slice(), [StrPart::Text(t)] if ERROR_KINDS.contains(&t.as_str())) =>
                        {}
                    _ => {
                        return Some(format!(
                            "{}, not an error kind ({})",
                            describe(i),
                            ERROR_KINDS.join(", ")
                        ));
                    }
                }
            }
            None
        }
        (Kind::StringExpr, _) => None,
        _ => Some(what),
    }
}

fn describe(v: &Expr) -> String {
    match &v.kind {
        ExprKind::Int(_) => "an integer".into(),
        ExprKind::Float(_) => "a float".into(),
        ExprKind::Bool(_) => "a bool".into(),
        ExprKind::Str(_) => "a string".into(),
        ExprKind::Duration { .. } => "a duration".into(),
        ExprKind::List(_) => "a list".into(),
        ExprKind::Record(_) => "a record".into(),
        ExprKind::Null => "`null`".into(),
        ExprKind::Name(n) => format!("the name `{}`", n.name),
        _ => "an expression; options take literal values".into(),
    }
}

/// The literal `retry` of an option set, if given.
pub fn literal_int(opts: Option<&Options>, name: &str) -> Option<i64> {
    opts?
        .entries
        .iter()
        .find(|e| e.name.name == name)
        .and_then(|e| match e.value.kind {
            ExprKind::Int(n) => Some(n),
            _ => None,
        })
}

pub fn has(opts: Option<&Options>, name: &str) -> bool {
    opts.is_some_and(|o| o.entries.iter().any(|e| e.name.name == name))
}
