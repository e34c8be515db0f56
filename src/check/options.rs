//! Options (`with { … }`): known names, value kinds, and where each is allowed
//! (docs/language.md, "Options").

use std::collections::HashMap;
use std::time::Duration;

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
    /// The name of a `policy` item.
    PolicyName,
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
            Kind::PolicyName => "the name of a `policy`",
        }
    }
}

/// Which effective option an entry sets (decoded by `run::opts::Opts::put`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    MaxConcurrent,
    Timeout,
    Retry,
    RetryOn,
    Backoff,
    MaxLoopIterations,
    OnMax,
    FailFast,
    Deadline,
    MaxOutput,
    MaxMemory,
    Cache,
    /// Evaluated per call by the evaluator, not decoded.
    IdempotencyKey,
    ReplanOnError,
    ReplanOn,
    MaxReplans,
    ReplanCooldown,
    ReplanRepairs,
    /// Resolved to a `policy` item by the checker, not decoded.
    Policy,
}

/// One option: everything the checker, the run-time decoding, `--set` and the
/// docs know about it.
pub struct OptionInfo {
    pub name: &'static str,
    pub opt: Opt,
    pub kind: Kind,
    /// Where it is allowed: words among `flow block loop for tool call`, and
    /// `puretool purecall effectcall`.
    pub places: &'static str,
    /// `flowc run --set` takes it.
    pub set: bool,
    /// The value when no scope sets it.
    pub default: DefaultValue,
    /// What it does, for the docs (Markdown, one line).
    pub doc: &'static str,
}

pub const DEFAULT_MAX_CONCURRENT: usize = 10;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
pub const DEFAULT_MAX_LOOP: u32 = 4;
pub const DEFAULT_MAX_OUTPUT: u64 = 64 * 1024 * 1024;

/// An option's default: the constants the run-time options fall back on, or
/// words for the docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DefaultValue {
    Int(u64),
    Duration(Duration),
    Size(u64),
    Bool(bool),
    /// Markdown: `none`, `off`, a literal.
    Text(&'static str),
}

impl std::fmt::Display for DefaultValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DefaultValue::Int(n) => write!(f, "{n}"),
            DefaultValue::Duration(d) => f.write_str(&fmt_duration(*d)),
            DefaultValue::Size(n) => {
                let units = [("GB", 1u64 << 30), ("MB", 1 << 20), ("KB", 1 << 10)];
                match units.iter().find(|(_, u)| n % u == 0) {
                    Some((unit, u)) => write!(f, "{}{unit}", n / u),
                    None => write!(f, "{n}"),
                }
            }
            DefaultValue::Bool(b) => write!(f, "{b}"),
            DefaultValue::Text(t) => f.write_str(t),
        }
    }
}

const ALL: &str = "flow block loop for tool call";

/// Every option, in the docs' order.
pub const OPTIONS: &[OptionInfo] = &[
    OptionInfo {
        name: "max_concurrent",
        opt: Opt::MaxConcurrent,
        kind: Kind::PosInt,
        places: "flow block for tool",
        set: true,
        default: DefaultValue::Int(DEFAULT_MAX_CONCURRENT as u64),
        doc: "tool calls in flight at once in this scope; nested scopes add their own limits, so a stated outer limit caps a larger inner one (warning W0008), but the default of 10 does not (`for … with { max_concurrent: 200 }` runs 200 at once); a tool's limit is shared by all its calls; `--set max_concurrent=N` states the outermost limit (N ≥ 1)",
    },
    OptionInfo {
        name: "timeout",
        opt: Opt::Timeout,
        kind: Kind::Duration,
        places: ALL,
        set: true,
        default: DefaultValue::Duration(DEFAULT_TIMEOUT),
        doc: "per attempt of a step",
    },
    OptionInfo {
        name: "timeout_per_step",
        opt: Opt::Timeout,
        kind: Kind::Duration,
        places: ALL,
        set: true,
        default: DefaultValue::Duration(DEFAULT_TIMEOUT),
        doc: "the same as `timeout`",
    },
    OptionInfo {
        name: "retry",
        opt: Opt::Retry,
        kind: Kind::NonNegInt,
        places: ALL,
        set: true,
        default: DefaultValue::Int(0),
        doc: "extra attempts on `tool_error`/`timeout`; an exec program that cannot be started (not found, not executable) fails at once, without retries",
    },
    OptionInfo {
        name: "retry_on",
        opt: Opt::RetryOn,
        kind: Kind::ErrorKinds,
        places: ALL,
        set: true,
        default: DefaultValue::Text("`[\"tool_error\", \"timeout\"]`"),
        doc: "the error kinds retried (`--set retry_on=timeout,tool_error`)",
    },
    OptionInfo {
        name: "backoff",
        opt: Opt::Backoff,
        kind: Kind::Duration,
        places: ALL,
        set: true,
        default: DefaultValue::Duration(DEFAULT_BACKOFF),
        doc: "first retry delay, doubling, with ±20 % jitter",
    },
    OptionInfo {
        name: "max_loop_iterations",
        opt: Opt::MaxLoopIterations,
        kind: Kind::PosInt,
        places: "flow block loop for",
        set: true,
        default: DefaultValue::Int(DEFAULT_MAX_LOOP as u64),
        doc: "default `max` of loops",
    },
    OptionInfo {
        name: "on_max",
        opt: Opt::OnMax,
        kind: Kind::OnMax,
        places: "flow block loop for",
        set: true,
        default: DefaultValue::Text("`warn`"),
        doc: "`error` makes reaching `max` a `policy_violation`",
    },
    OptionInfo {
        name: "fail_fast",
        opt: Opt::FailFast,
        kind: Kind::Bool,
        places: "flow block for",
        set: true,
        default: DefaultValue::Bool(false),
        doc: "cancel running steps on the first failure",
    },
    OptionInfo {
        name: "deadline",
        opt: Opt::Deadline,
        kind: Kind::Duration,
        places: "flow block loop for",
        set: true,
        default: DefaultValue::Text("none"),
        doc: "time limit of the whole flow or block, pure computation included (evaluation gives timers and Ctrl-C a turn every 10 ms)",
    },
    OptionInfo {
        name: "max_output",
        opt: Opt::MaxOutput,
        kind: Kind::Size,
        places: ALL,
        set: true,
        default: DefaultValue::Size(DEFAULT_MAX_OUTPUT),
        doc: "bytes of a tool's output read at most (exec stdout, an HTTP body, a `read_json` file); more is a `tool_error` naming `max_output`, and a failing tool's message keeps the last 8 KB of its stderr. A size (`1MB`) or a number of bytes; `--set max_output=1MB`",
    },
    OptionInfo {
        name: "max_memory",
        opt: Opt::MaxMemory,
        kind: Kind::Size,
        places: "flow",
        set: true,
        default: DefaultValue::Text("none"),
        doc: "a budget for the values a run holds (below); `--set max_memory=512MB`",
    },
    OptionInfo {
        name: "cache",
        opt: Opt::Cache,
        kind: Kind::Duration,
        places: "puretool purecall",
        set: true,
        default: DefaultValue::Text("off"),
        doc: "a duration: reuse a result for the same tool binding and arguments (in any key order) within it, across runs through the store; identical calls in flight run once; failures are never kept; `flowc run --no-cache` ignores it",
    },
    OptionInfo {
        name: "idempotency_key",
        opt: Opt::IdempotencyKey,
        kind: Kind::StringExpr,
        places: "effectcall",
        set: false,
        default: DefaultValue::Text("none"),
        doc: "a string, or `true` for a key made of the run id and the step path: the same on every attempt and on `flowc resume`, given to exec tools in env `FLOWC_IDEMPOTENCY_KEY` and to http tools as the `Idempotency-Key` header; an effect cut off with one is run again by `flowc resume` (W0006)",
    },
    OptionInfo {
        name: "replan_on_error",
        opt: Opt::ReplanOnError,
        kind: Kind::Bool,
        places: "flow block",
        set: true,
        default: DefaultValue::Text("off"),
        doc: "re-plan the flow's body or the block (`parallel`, `race`, `sequence`, `dag`, `try`) where it is stated when it fails (below); `--set replan_on_error=true` states it on the run's flow",
    },
    OptionInfo {
        name: "replan_on",
        opt: Opt::ReplanOn,
        kind: Kind::ErrorKinds,
        places: "flow block",
        set: true,
        default: DefaultValue::Text("`[\"tool_error\", \"timeout\", \"policy_violation\"]`"),
        doc: "the error kinds that trigger a re-plan",
    },
    OptionInfo {
        name: "max_replans",
        opt: Opt::MaxReplans,
        kind: Kind::NonNegInt,
        places: "flow block",
        set: true,
        default: DefaultValue::Int(3),
        doc: "re-plans per run",
    },
    OptionInfo {
        name: "replan_cooldown",
        opt: Opt::ReplanCooldown,
        kind: Kind::Duration,
        places: "flow block",
        set: true,
        default: DefaultValue::Duration(Duration::from_secs(60)),
        doc: "the least time between two re-plans of the same block",
    },
    OptionInfo {
        name: "replan_repairs",
        opt: Opt::ReplanRepairs,
        kind: Kind::NonNegInt,
        places: "flow block",
        set: true,
        default: DefaultValue::Int(2),
        doc: "how many times a fragment that does not check goes back, with its diagnostics, for a repair",
    },
    OptionInfo {
        name: "policy",
        opt: Opt::Policy,
        kind: Kind::PolicyName,
        places: "flow block",
        set: false,
        default: DefaultValue::Text("none"),
        doc: "the `policy` the flow or block runs under (below); the flows it calls run under it too unless they name their own",
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

/// Where an option is allowed, short, for the docs' table.
fn where_text(info: &OptionInfo) -> String {
    if info.places == ALL {
        return "anywhere".into();
    }
    let words: Vec<&str> = info
        .places
        .split(' ')
        .map(|w| match w {
            "for" => "`for`",
            "puretool" => "pure tools",
            "purecall" => "their calls",
            "effectcall" => "calls of `effect` tools",
            w => w,
        })
        .collect();
    words.join(", ")
}

/// The options table in `docs/language.md`, generated from [`OPTIONS`].
pub fn markdown() -> String {
    let mut s = String::from("| option | default | where | meaning |\n|---|---|---|---|\n");
    for o in OPTIONS {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            o.name,
            o.default,
            where_text(o),
            o.doc.replace('|', "\\|")
        ));
    }
    let set: Vec<String> = OPTIONS
        .iter()
        .filter(|o| o.set)
        .map(|o| format!("`{}`", o.name))
        .collect();
    s.push_str(&format!(
        "\n`flowc run --set k=v` takes {} (as the outermost scope).\n",
        set.join(", ")
    ));
    s
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
        if let Err(found) = info.kind.decode(&e.value) {
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

/// An option's value, decoded from a literal or from `--set`'s text.
#[derive(Clone, Debug, PartialEq)]
pub enum OptValue {
    /// A count (`max_concurrent`, `retry`, `max_loop_iterations`, …).
    Int(u64),
    Duration(Duration),
    /// Bytes.
    Size(u64),
    Bool(bool),
    /// Names among [`ERROR_KINDS`].
    ErrorKinds(Vec<String>),
    /// `on_max`: is reaching `max` an error?
    OnMaxError(bool),
    /// Nothing to decode: an expression evaluated per call (`idempotency_key`),
    /// or a literal already reported by the parser (a duration out of range).
    Unset,
}

impl Kind {
    /// The value of a literal of this kind; `Err` says what the literal is instead.
    pub fn decode(self, v: &Expr) -> Result<OptValue, String> {
        let text = |p: &[StrPart]| match p {
            [StrPart::Text(t)] => Some(t.clone()),
            _ => None,
        };
        match (self, &v.kind) {
            (Kind::PosInt, ExprKind::Int(n)) if *n >= 1 => Ok(OptValue::Int(*n as u64)),
            (Kind::NonNegInt, ExprKind::Int(n)) if *n >= 0 => Ok(OptValue::Int(*n as u64)),
            (Kind::Size, ExprKind::Int(n)) if *n >= 1 => Ok(OptValue::Size(*n as u64)),
            (Kind::PosInt | Kind::NonNegInt | Kind::Size, ExprKind::Int(n)) => {
                Err(format!("`{n}`"))
            }
            (Kind::Duration, ExprKind::Duration { ms, .. }) => Ok(match ms {
                Some(ms) => OptValue::Duration(Duration::from_millis(*ms)),
                None => OptValue::Unset,
            }),
            (Kind::Bool, ExprKind::Bool(b)) => Ok(OptValue::Bool(*b)),
            (Kind::OnMax, ExprKind::Name(n)) if matches!(n.name.as_str(), "error" | "warn") => {
                Ok(OptValue::OnMaxError(n.name == "error"))
            }
            (Kind::OnMax, ExprKind::Str(parts))
                if matches!(text(parts).as_deref(), Some("error" | "warn")) =>
            {
                Ok(OptValue::OnMaxError(
                    text(parts).as_deref() == Some("error"),
                ))
            }
            (Kind::ErrorKinds, ExprKind::List(items)) => {
                let mut kinds = Vec::new();
                for i in items {
                    match &i.kind {
                        ExprKind::Str(parts)
                            if text(parts).is_some_and(|t| ERROR_KINDS.contains(&t.as_str())) =>
                        {
                            kinds.extend(text(parts));
                        }
                        _ => {
                            return Err(format!(
                                "{}, not an error kind ({})",
                                describe(i),
                                ERROR_KINDS.join(", ")
                            ));
                        }
                    }
                }
                Ok(OptValue::ErrorKinds(kinds))
            }
            (Kind::StringExpr, _) => Ok(OptValue::Unset),
            (Kind::PolicyName, ExprKind::Name(_)) => Ok(OptValue::Unset),
            _ => Err(describe(v)),
        }
    }

    /// The value of `flowc run --set key=text`.
    pub fn parse(self, key: &str, text: &str) -> Result<OptValue, String> {
        let takes = |what: &str| format!("`{key}` takes {what}, not `{text}`");
        match self {
            Kind::PosInt => match text.parse::<u64>() {
                // As in the source (E0505): a limit of 0 would never run anything.
                Ok(0) | Err(_) => Err(takes("a positive integer")),
                Ok(n) => Ok(OptValue::Int(n)),
            },
            Kind::NonNegInt => text
                .parse::<u64>()
                .map(OptValue::Int)
                .map_err(|_| takes("a non-negative integer")),
            Kind::Duration => parse_duration(text)
                .map(OptValue::Duration)
                .ok_or_else(|| takes("a duration such as `30s`")),
            Kind::Size => parse_size(text)
                .map(OptValue::Size)
                .ok_or_else(|| takes("a size such as `64MB` or a number of bytes")),
            Kind::Bool => text
                .parse::<bool>()
                .map(OptValue::Bool)
                .map_err(|_| takes("`true` or `false`")),
            Kind::OnMax => match text {
                "error" | "warn" => Ok(OptValue::OnMaxError(text == "error")),
                _ => Err(takes("`error` or `warn`")),
            },
            Kind::ErrorKinds => text
                .split(',')
                .map(|k| match ERROR_KINDS.contains(&k.trim()) {
                    true => Ok(k.trim().to_string()),
                    false => Err(format!("`{k}` is not an error kind")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(OptValue::ErrorKinds),
            Kind::StringExpr | Kind::PolicyName => {
                Err(format!("`{key}` cannot be set on the command line"))
            }
        }
    }
}

/// `flowc run --set key=value`: the entry and the decoded value.
pub fn parse_set(key: &str, value: &str) -> Result<(&'static OptionInfo, OptValue), String> {
    let settable = || OPTIONS.iter().filter(|o| o.set).map(|o| o.name);
    match lookup(key).filter(|o| o.set) {
        Some(info) => Ok((info, info.kind.parse(key, value)?)),
        None => {
            let help = suggest(key, settable())
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            Err(format!(
                "unknown option `{key}`{help} (options: {})",
                settable().collect::<Vec<_>>().join(", ")
            ))
        }
    }
}

/// `1048576`, `512KB`, `64MB`, `1.5GB` (powers of 1024); at least one byte.
pub fn parse_size(s: &str) -> Option<u64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let factor: f64 = match unit {
        "" | "B" => 1.0,
        "KB" | "KiB" => 1024.0,
        "MB" | "MiB" => 1024.0 * 1024.0,
        "GB" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TB" | "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = num.parse::<f64>().ok()? * factor;
    (1.0..9.2e18).contains(&bytes).then(|| bytes.round() as u64)
}

/// `250ms`, `30s`, `1.5m`, `1h`, `2d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1e3,
        "m" => n * 60e3,
        "h" => n * 3600e3,
        "d" => n * 86400e3,
        _ => return None,
    };
    (0.0..1e15)
        .contains(&ms)
        .then(|| Duration::from_micros((ms * 1000.0) as u64))
}

/// A duration as the language writes it: `250ms`, `30s`, `5m`, `1h`, `2d`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(86_400_000) && ms > 0 {
        format!("{}d", ms / 86_400_000)
    } else if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

pub(crate) fn describe(v: &Expr) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_named_once_and_in_the_unknown_option_explanation() {
        let e0504 = crate::diag::catalog::CODES
            .iter()
            .find(|c| c.code == "E0504")
            .expect("E0504 is in the catalog");
        for (k, o) in OPTIONS.iter().enumerate() {
            assert!(
                !OPTIONS[..k].iter().any(|p| p.name == o.name),
                "{} twice",
                o.name
            );
            assert!(
                e0504.explanation.contains(o.name),
                "E0504's explanation lists `{}`",
                o.name
            );
            for w in o.places.split(' ') {
                assert!(
                    "flow block loop for tool call puretool purecall effectcall"
                        .split(' ')
                        .any(|p| p == w),
                    "{}: place `{w}`",
                    o.name
                );
            }
        }
    }

    #[test]
    fn set_parses_with_the_kinds_messages() {
        assert_eq!(
            parse_set("timeout", "1.5m").map(|(i, v)| (i.opt, v)),
            Ok((Opt::Timeout, OptValue::Duration(Duration::from_secs(90))))
        );
        assert_eq!(
            parse_set("max_concurrent", "0").map(|(_, v)| v),
            Err("`max_concurrent` takes a positive integer, not `0`".to_string())
        );
        assert_eq!(
            parse_set("retry_on", "timeout, tool_error").map(|(_, v)| v),
            Ok(OptValue::ErrorKinds(vec![
                "timeout".into(),
                "tool_error".into()
            ]))
        );
        let e = parse_set("idempotency_key", "x")
            .map(|(_, v)| v)
            .unwrap_err();
        assert!(e.starts_with("unknown option `idempotency_key`"), "{e}");
        assert!(e.contains("max_output, max_memory"), "{e}");
    }
}
