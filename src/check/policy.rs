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
        if let Some(f) = first.get(&d.name.name) {
            diags.push(catalog::duplicate(d.name.span, "policy", &d.name.name, *f));
            continue;
        }
        first.insert(d.name.name.clone(), d.name.span);
        out.insert(d.name.name.clone(), Rc::new(decode(md, d, diags)));
    }
    p.modules[m].policies = out;
}

/// The policies of the project (`[policy.NAME]` in `flowc.toml`, given as
/// `.flow` text) join the root module's, where it declares none of that name.
pub(super) fn declare_project(
    p: &mut Program,
    sources: &mut crate::source::Sources,
    project: Result<Option<(String, String)>, String>,
    diags: &mut Vec<Diagnostic>,
) {
    let root = p.root;
    // An unreadable `flowc.toml` is reported where the run reads it (its `[llm]`).
    let Ok(Some((name, text))) = project else {
        return;
    };
    let file = sources.add(name, text.clone());
    let (ast, mut pd) = crate::syntax::parse(file, &text);
    diags.append(&mut pd);
    let md = &p.modules[root];
    let mut found = Vec::new();
    for it in &ast.items {
        if let ItemKind::Policy(d) = &it.kind
            && !md.policies.contains_key(&d.name.name)
        {
            found.push((d.name.name.clone(), Rc::new(decode(md, d, diags))));
        }
    }
    p.modules[root].policies.extend(found);
}

fn decode(md: &ModInfo, d: &PolicyDecl, diags: &mut Vec<Diagnostic>) -> Policy {
    let mut pol = Policy {
        name: d.name.name.clone(),
        span: d.name.span,
        ..Policy::default()
    };
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for e in &d.rules.entries {
        let key = e.name.name.as_str();
        if let Some(f) = seen.get(key) {
            diags.push(catalog::duplicate(e.name.span, "policy rule", key, *f));
            continue;
        }
        seen.insert(key, e.name.span);
        let Some((_, takes)) = RULES.iter().find(|(k, _)| *k == key) else {
            let help = suggest(key, RULES.iter().map(|(k, _)| *k));
            diags.push(catalog::unknown_policy_rule(e.name.span, key, help));
            continue;
        };
        let bad = |diags: &mut Vec<Diagnostic>, v: &Expr| {
            let found = super::options::describe(v);
            diags.push(catalog::policy_rule_type(v.span, key, takes, &found));
        };
        match (key, &e.value.kind) {
            ("allow_tools", ExprKind::List(items)) => {
                let mut names = Vec::new();
                for i in items {
                    let name = match &i.kind {
                        ExprKind::Name(n) => n.name.clone(),
                        _ => {
                            bad(diags, i);
                            continue;
                        }
                    };
                    if !md.tools.contains_key(&name) && !md.flows.contains_key(&name) {
                        let known = md.tools.keys().chain(md.flows.keys()).map(String::as_str);
                        diags.push(catalog::unknown_callee(
                            i.span,
                            &name,
                            suggest(&name, known),
                        ));
                    }
                    names.push(name);
                }
                pol.allow_tools = Some(names);
            }
            ("max_steps", ExprKind::Int(n)) if *n >= 1 => pol.max_steps = Some(*n as u64),
            ("max_llm_calls", ExprKind::Int(n)) if *n >= 0 => pol.max_llm_calls = Some(*n as u64),
            ("effects", ExprKind::Str(parts)) => match text(parts).as_deref() {
                Some("allow") => pol.effects = Effects::Allow,
                Some("deny") => pol.effects = Effects::Deny,
                Some("approve") => pol.effects = Effects::Approve,
                _ => bad(diags, &e.value),
            },
            ("tenant", ExprKind::Str(parts)) => match text(parts) {
                Some(t) => pol.tenant = Some(t),
                None => bad(diags, &e.value),
            },
            ("fragment_env", ExprKind::List(items)) => {
                for i in items {
                    match &i.kind {
                        ExprKind::Str(parts) if text(parts).is_some() => {
                            pol.fragment_env.extend(text(parts));
                        }
                        _ => bad(diags, i),
                    }
                }
            }
            ("fragment_approve", ExprKind::Bool(b)) => pol.fragment_approve = *b,
            ("fragment_timeout", ExprKind::Duration { ms: Some(ms), .. }) if *ms > 0 => {
                pol.fragment_timeout = Some(std::time::Duration::from_millis(*ms));
            }
            _ => bad(diags, &e.value),
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
    let name = named(f.options.as_ref())?;
    p.modules[m].policies.get(&name.name).cloned()
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
        && !md.policies.contains_key(&n.name)
    {
        let help = suggest(&n.name, md.policies.keys().map(String::as_str)).or_else(|| {
            Some("declare it with `policy NAME { allow_tools: [...] }` at the top level".into())
        });
        diags.push(catalog::unknown_policy(n.span, &n.name, help));
    }
}
