//! Policies (docs/language.md, "Policies"): `policy NAME { … }` items, declared per module, and
//! what the checker can see of them — unknown rules, wrongly typed values,
//! tools outside `allow_tools`, effects under `effects: "deny"`. The rest
//! (`max_steps`, `max_llm_calls`) is held at run time.

use std::collections::HashMap;
use std::rc::Rc;

use super::{ModInfo, Program};
use crate::diag::{Diagnostic, catalog, suggest};
use crate::syntax::ast::*;
use crate::syntax::span::Span;

/// What a policy does with calls of `effect` tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Effects {
    #[default]
    Allow,
    Deny,
    /// Each effect waits for an approval.
    Approve,
}

impl Effects {
    pub fn as_str(self) -> &'static str {
        match self {
            Effects::Allow => "allow",
            Effects::Deny => "deny",
            Effects::Approve => "approve",
        }
    }
}

/// A checked policy.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub name: String,
    pub span: Span,
    /// The tools and flows its flows may call (`None`: any).
    pub allow_tools: Option<Vec<String>>,
    /// Tool calls per run.
    pub max_steps: Option<u64>,
    /// LLM calls (decisions and re-plans) per run.
    pub max_llm_calls: Option<u64>,
    pub effects: Effects,
    /// Becomes `context.tenant`.
    pub tenant: Option<String>,
    /// The environment variables a re-planned fragment may read with `env` (none by default).
    pub fragment_env: Vec<String>,
    /// Whether a re-planned fragment may ask a person with `approve`.
    pub fragment_approve: bool,
    /// How long a re-planned fragment may run (`None`: [`DEFAULT_FRAGMENT_TIMEOUT`]).
    pub fragment_timeout: Option<std::time::Duration>,
}

/// How long a re-planned fragment runs at most when no policy says.
pub const DEFAULT_FRAGMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl Policy {
    /// Does it let a flow call the tool (or flow) `name`?
    pub fn allows(&self, name: &str) -> bool {
        self.allow_tools
            .as_ref()
            .is_none_or(|l| l.iter().any(|t| t == name))
    }

    /// The policy as `.flow` source (for re-planning requests and docs).
    pub fn source(&self) -> String {
        let mut s = format!("policy {} {{\n", self.name);
        if let Some(l) = &self.allow_tools {
            s.push_str(&format!("    allow_tools: [{}]\n", l.join(", ")));
        }
        if let Some(n) = self.max_steps {
            s.push_str(&format!("    max_steps: {n}\n"));
        }
        if let Some(n) = self.max_llm_calls {
            s.push_str(&format!("    max_llm_calls: {n}\n"));
        }
        s.push_str(&format!("    effects: \"{}\"\n", self.effects.as_str()));
        if let Some(t) = &self.tenant {
            s.push_str(&format!("    tenant: {t:?}\n"));
        }
        if !self.fragment_env.is_empty() {
            let names: Vec<String> = self.fragment_env.iter().map(|n| format!("{n:?}")).collect();
            s.push_str(&format!("    fragment_env: [{}]\n", names.join(", ")));
        }
        if self.fragment_approve {
            s.push_str("    fragment_approve: true\n");
        }
        if let Some(d) = self.fragment_timeout {
            s.push_str(&format!(
                "    fragment_timeout: {}\n",
                super::options::fmt_duration(d)
            ));
        }
        s.push('}');
        s
    }
}

/// The rules a policy may state, with what each takes.
pub const RULES: &[(&str, &str)] = &[
    (
        "allow_tools",
        "a list of tool or flow names such as `[cpu_analysis, memory_analysis]`",
    ),
    ("max_steps", "a positive integer"),
    ("max_llm_calls", "a non-negative integer"),
    ("effects", "`\"allow\"`, `\"deny\"` or `\"approve\"`"),
    ("tenant", "a string"),
    (
        "fragment_env",
        "a list of environment variable names such as `[\"REGION\"]`",
    ),
    ("fragment_approve", "`true` or `false`"),
    ("fragment_timeout", "a duration such as `30s`"),
];

/// Declares the policies of module `m` (after its tools and flows).
pub(super) fn declare(p: &mut Program, m: usize, diags: &mut Vec<Diagnostic>) {
    let md: &ModInfo = &p.modules[m];
    let mut out: HashMap<String, Rc<Policy>> = HashMap::new();
    let mut first: HashMap<String, Span> = HashMap::new();
    for it in &md.ast.items {
        let ItemKind::Policy(d) = &it.kind else {
            continue;
        };
        if let Some(f) = first.get(d.name.name.as_str()) {
            diags.push(catalog::duplicate(d.name.span, "policy", &d.name.name, *f));
            continue;
        }
        first.insert(d.name.name.to_string(), d.name.span);
        let rules = d
            .rules
            .entries
            .iter()
            .map(|e| (e.name.clone(), expr_value(&e.value), e.value.span));
        out.insert(
            d.name.name.to_string(),
            Rc::new(decode(md, &d.name, rules, diags)),
        );
    }
    p.modules[m].policies = out;
}

/// The policies of the project (`[policy.NAME]` in `flowc.toml`, given by
/// the loader as that file's name and text) join the root module's, where
/// it declares none of that name. Each table is decoded as a `policy` item's
/// rules are, straight from its TOML values: no `.flow` text is made of it,
/// and a diagnostic points at the value in `flowc.toml`.
pub(super) fn declare_project(
    p: &mut Program,
    sources: &mut crate::source::Sources,
    project: Result<Option<(String, String)>, String>,
    diags: &mut Vec<Diagnostic>,
) {
    let root = p.root;
    // An unreadable or malformed `flowc.toml` is reported where the run reads
    // it (its `[llm]`).
    let Ok(Some((name, text))) = project else {
        return;
    };
    let Ok(doc) = toml::from_str::<ProjectPolicies>(&text) else {
        return;
    };
    let Some(tables) = doc.policy.filter(|t| !t.is_empty()) else {
        return;
    };
    let file = sources.add(name, text);
    let span = |r: std::ops::Range<usize>| Span::new(file, r.start, r.end);
    let md = &p.modules[root];
    let mut found = Vec::new();
    for (pname, table) in tables {
        if md.policies.contains_key(pname.get_ref()) {
            continue;
        }
        let name = Ident {
            span: span(pname.span()),
            name: pname.into_inner().into(),
        };
        let rules = table.into_iter().map(|(key, value)| {
            let at = span(value.span());
            let v = toml_value(key.get_ref(), value.get_ref(), at);
            let key = Ident {
                span: span(key.span()),
                name: key.into_inner().into(),
            };
            (key, v, at)
        });
        found.push((
            name.name.to_string(),
            Rc::new(decode(md, &name, rules, diags)),
        ));
    }
    p.modules[root].policies.extend(found);
}

/// The `[policy.NAME]` tables of a `flowc.toml`, with where each name and
/// value is (the rest of the file is the driver's).
#[derive(serde::Deserialize)]
struct ProjectPolicies {
    policy: Option<std::collections::BTreeMap<toml::Spanned<String>, TomlRules>>,
}

/// One `[policy.NAME]` table: each rule's name and value, with their places.
type TomlRules = std::collections::BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>;

/// A rule's value as data: a `policy` item's literal, or a `flowc.toml` value.
enum RuleValue {
    Int(i64),
    Bool(bool),
    /// A string; `None` when it interpolates.
    Str(Option<String>),
    Duration(Option<u64>),
    Name(String),
    List(Vec<(RuleValue, Span)>),
    /// Anything no rule takes, described.
    Other(String),
}

impl RuleValue {
    /// What it is, for E0602 (as `options::describe` says of a literal).
    fn describe(&self) -> String {
        match self {
            RuleValue::Int(_) => "an integer".into(),
            RuleValue::Bool(_) => "a bool".into(),
            RuleValue::Str(_) => "a string".into(),
            RuleValue::Duration(_) => "a duration".into(),
            RuleValue::Name(n) => format!("the name `{n}`"),
            RuleValue::List(_) => "a list".into(),
            RuleValue::Other(what) => what.clone(),
        }
    }
}

/// A `policy` item's rule value as data.
fn expr_value(e: &Expr) -> RuleValue {
    match &e.kind {
        ExprKind::Int(n) => RuleValue::Int(*n),
        ExprKind::Bool(b) => RuleValue::Bool(*b),
        ExprKind::Str(parts) => RuleValue::Str(text(parts)),
        ExprKind::Duration { ms, .. } => RuleValue::Duration(*ms),
        ExprKind::Name(n) => RuleValue::Name(n.name.to_string()),
        ExprKind::List(items) => {
            RuleValue::List(items.iter().map(|i| (expr_value(i), i.span)).collect())
        }
        _ => RuleValue::Other(super::options::describe(e)),
    }
}

/// A `flowc.toml` value of rule `key` as data: `allow_tools` lists names
/// (written as strings in TOML), `fragment_timeout` is a duration (`"30s"`).
/// The items of a list are at the list's place.
fn toml_value(key: &str, v: &toml::Value, at: Span) -> RuleValue {
    match v {
        toml::Value::String(s) if key == "allow_tools" => RuleValue::Name(s.clone()),
        toml::Value::String(s) if key == "fragment_timeout" => {
            match super::options::parse_duration(s) {
                Some(d) => RuleValue::Duration(Some(d.as_millis() as u64)),
                None => RuleValue::Str(Some(s.clone())),
            }
        }
        toml::Value::String(s) => RuleValue::Str(Some(s.clone())),
        toml::Value::Integer(n) => RuleValue::Int(*n),
        toml::Value::Float(_) => RuleValue::Other("a float".into()),
        toml::Value::Boolean(b) => RuleValue::Bool(*b),
        toml::Value::Array(items) => {
            RuleValue::List(items.iter().map(|i| (toml_value(key, i, at), at)).collect())
        }
        toml::Value::Datetime(_) => RuleValue::Other("a date".into()),
        toml::Value::Table(_) => RuleValue::Other("a record".into()),
    }
}

/// Decodes a policy's rules, each a key, its value and the value's place.
fn decode(
    md: &ModInfo,
    name: &Ident,
    rules: impl Iterator<Item = (Ident, RuleValue, Span)>,
    diags: &mut Vec<Diagnostic>,
) -> Policy {
    let mut pol = Policy {
        name: name.name.to_string(),
        span: name.span,
        ..Policy::default()
    };
    let mut seen: HashMap<String, Span> = HashMap::new();
    for (kname, value, at) in rules {
        let key = kname.name.as_str();
        if let Some(f) = seen.get(key) {
            diags.push(catalog::duplicate(kname.span, "policy rule", key, *f));
            continue;
        }
        seen.insert(key.to_string(), kname.span);
        let Some((_, takes)) = RULES.iter().find(|(k, _)| *k == key) else {
            let help = suggest(key, RULES.iter().map(|(k, _)| *k));
            diags.push(catalog::unknown_policy_rule(kname.span, key, help));
            continue;
        };
        let bad = |diags: &mut Vec<Diagnostic>, v: &RuleValue, at: Span| {
            diags.push(catalog::policy_rule_type(at, key, takes, &v.describe()));
        };
        match (key, &value) {
            ("allow_tools", RuleValue::List(items)) => {
                let mut names = Vec::new();
                for (i, ispan) in items {
                    let name = match i {
                        RuleValue::Name(n) => n.clone(),
                        _ => {
                            bad(diags, i, *ispan);
                            continue;
                        }
                    };
                    if !md.tools.contains_key(&name) && !md.flows.contains_key(&name) {
                        let known = md.tools.keys().chain(md.flows.keys()).map(String::as_str);
                        diags.push(catalog::unknown_callee(
                            *ispan,
                            &name,
                            suggest(&name, known),
                        ));
                    }
                    names.push(name);
                }
                pol.allow_tools = Some(names);
            }
            ("max_steps", RuleValue::Int(n)) if *n >= 1 => pol.max_steps = Some(*n as u64),
            ("max_llm_calls", RuleValue::Int(n)) if *n >= 0 => pol.max_llm_calls = Some(*n as u64),
            ("effects", RuleValue::Str(t)) => match t.as_deref() {
                Some("allow") => pol.effects = Effects::Allow,
                Some("deny") => pol.effects = Effects::Deny,
                Some("approve") => pol.effects = Effects::Approve,
                _ => bad(diags, &value, at),
            },
            ("tenant", RuleValue::Str(Some(t))) => pol.tenant = Some(t.clone()),
            ("fragment_env", RuleValue::List(items)) => {
                for (i, ispan) in items {
                    match i {
                        RuleValue::Str(Some(t)) => pol.fragment_env.push(t.clone()),
                        _ => bad(diags, i, *ispan),
                    }
                }
            }
            ("fragment_approve", RuleValue::Bool(b)) => pol.fragment_approve = *b,
            ("fragment_timeout", RuleValue::Duration(Some(ms))) if *ms > 0 => {
                pol.fragment_timeout = Some(std::time::Duration::from_millis(*ms));
            }
            _ => bad(diags, &value, at),
        }
    }
    pol
}

fn text(parts: &[StrPart]) -> Option<String> {
    match parts {
        [StrPart::Text(t)] => Some(t.clone()),
        [] => Some(String::new()),
        _ => None,
    }
}

/// The policy a flow's `with { policy: NAME }` names, in module `m`
/// (an unknown name is reported, once, by [`check_option`]).
pub fn of_flow(p: &Program, m: usize, f: &FlowDecl) -> Option<Rc<Policy>> {
    let name = named(f.options.as_deref())?;
    p.modules[m].policies.get(name.name.as_str()).cloned()
}

/// The name a `with { policy: NAME }` gives.
pub fn named(o: Option<&Options>) -> Option<&Ident> {
    o?.entries
        .iter()
        .find(|e| e.name.name == "policy")
        .and_then(|e| match &e.value.kind {
            ExprKind::Name(n) => Some(n),
            _ => None,
        })
}

/// Reports a `policy: NAME` that names no policy of module `m`.
pub(super) fn check_option(md: &ModInfo, o: Option<&Options>, diags: &mut Vec<Diagnostic>) {
    if let Some(n) = named(o)
        && !md.policies.contains_key(n.name.as_str())
    {
        let help = suggest(&n.name, md.policies.keys().map(String::as_str)).or_else(|| {
            Some("declare it with `policy NAME { allow_tools: [...] }` at the top level".into())
        });
        diags.push(catalog::unknown_policy(n.span, &n.name, help));
    }
}
