//! What a re-plan asks and how its answer is checked: the request (the
//! failure, the scope, the callable tools, the policy, the expected type),
//! the system prompt with the language reference, and the fragment checked as
//! the body of a flow whose parameters are the failed block's scope.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::check::policy::Policy;
use crate::check::{Loader, NoFiles, Program, Signature, Type};
use crate::run::errors::RunError;
use crate::source::Sources;
use crate::syntax::ast::ItemKind;

/// The synthetic flow a fragment is checked and run as.
pub const FLOW: &str = "__replan";
/// The name the policy of a fragment is declared under in the checked text.
const POLICY: &str = "__replan_policy";
/// Characters of a value shown in the request at most.
const VALUE_CHARS: usize = 300;

/// The compact language reference of `docs/language.md` (between its
/// `replan-reference` markers, then its `replan-reference-more` markers),
/// compiled in: the one copy the docs show.
const LANGUAGE_MD: &str = include_str!("../../../docs/language.md");

/// The text of `docs/language.md` between `<!-- NAME:start -->` and `<!-- NAME:end -->`.
fn section(name: &str) -> &'static str {
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    match (LANGUAGE_MD.find(&start), LANGUAGE_MD.find(&end)) {
        (Some(a), Some(b)) if a < b => LANGUAGE_MD[a + start.len()..b].trim(),
        _ => "",
    }
}

/// The essential language reference: what a block body is, how calls are
/// written, an example. A request shortened to fit a model's context keeps only this.
pub fn reference() -> &'static str {
    section("replan-reference")
}

/// The rest of the reference: literals, operators, blocks, built-in functions, types.
pub fn reference_more() -> &'static str {
    section("replan-reference-more")
}

/// Characters of a value shown in a shortened request at most.
pub const SHORT_VALUE_CHARS: usize = 80;

/// How much a request says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// Everything.
    Full,
    /// Shortened to fit a small context: the essential reference only; no
    /// flow documentation, no policy text (the callable list already keeps
    /// to it); values to 80 characters.
    Short,
}

/// The system message of a re-planning conversation.
pub fn system_prompt(length: Length) -> String {
    let more = match length {
        Length::Full => format!("\n{}", reference_more()),
        Length::Short => String::new(),
    };
    format!(
        "You repair a failed block of a workflow written in the .flow language. \
         Answer with the .flow source of a block body that replaces it: statements \
         (`let` bindings, calls) and a final expression that gives the block's value, \
         and nothing else — no explanation, no surrounding braces; a ```flow fence is \
         allowed. Call only the tools and flows listed, with named arguments; use only \
         the names in scope. Your answer is type-checked before it runs; if it does not \
         check you get the diagnostics and one more try.\n\n# The .flow language\n\n{}{more}",
        reference()
    )
}

/// One name in the failed block's scope.
pub struct InScope {
    pub name: String,
    pub ty: Type,
    pub value: Value,
}

/// What the request says, before it is written out.
pub struct Ask<'a> {
    pub flow: &'a str,
    pub flow_doc: Option<&'a str>,
    pub block: &'a str,
    pub errors: &'a [RunError],
    pub scope: &'a [InScope],
    pub callable: Vec<(&'a Signature, Option<Type>)>,
    pub policy: Option<&'a Policy>,
    pub expected: &'a Type,
}

/// `name(a: T, b: U) -> R`, `effect` first for effect tools.
fn signature(sig: &Signature, ret: Option<&Type>) -> String {
    let params: Vec<String> = sig
        .params
        .iter()
        .map(|p| {
            let d = if p.has_default { " = …" } else { "" };
            format!("{}: {}{d}", p.name, crate::types::source(&p.ty))
        })
        .collect();
    let ret = ret
        .map(|r| format!(" -> {}", crate::types::source(r)))
        .unwrap_or_default();
    let kind = match (sig.is_flow, sig.effect) {
        (true, _) => "flow",
        (false, true) => "effect tool",
        (false, false) => "tool",
    };
    format!("{kind} {}({}){ret}", sig.name, params.join(", "))
}

/// A value as JSON text, at most `max` characters.
fn shown(v: &Value, max: usize) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    if s.chars().count() <= max {
        s
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

impl Ask<'_> {
    /// The request as JSON (what a `cmd:` program reads in `context`).
    pub fn json(&self) -> Value {
        json!({
            "flow": self.flow,
            "flow_doc": self.flow_doc,
            "block": self.block,
            "errors": self.errors.iter().map(|e| json!({
                "kind": e.kind.as_str(),
                "message": e.message,
                "step": e.path.clone().unwrap_or_else(|| e.step.clone()),
            })).collect::<Vec<_>>(),
            "scope": self.scope.iter().map(|s| json!({
                "name": s.name,
                "type": crate::types::source(&s.ty),
                "value": shown(&s.value, VALUE_CHARS),
            })).collect::<Vec<_>>(),
            "callable": self.callable.iter().map(|(s, r)| json!({
                "signature": signature(s, r.as_ref()),
                "doc": s.doc,
            })).collect::<Vec<_>>(),
            "policy": self.policy.map(Policy::source),
            "expected_type": crate::types::source(self.expected),
        })
    }

    /// The request as the user message of the conversation.
    pub fn text(&self, length: Length) -> String {
        let short = length == Length::Short;
        let value_chars = if short {
            SHORT_VALUE_CHARS
        } else {
            VALUE_CHARS
        };
        let mut t = String::new();
        let _ = writeln!(t, "A block of flow `{}` failed.", self.flow);
        if let Some(d) = self.flow_doc.filter(|_| !short) {
            let _ = writeln!(t, "The flow's documentation: {}", d.trim());
        }
        let _ = writeln!(t, "\nThe failed block:\n```flow\n{}\n```", self.block);
        let _ = writeln!(t, "\nErrors:");
        for e in self.errors {
            let _ = writeln!(
                t,
                "- {} at `{}`: {}",
                e.kind.as_str(),
                e.path.as_deref().unwrap_or(&e.step),
                e.message
            );
        }
        let _ = writeln!(t, "\nIn scope (name: type = value):");
        if self.scope.is_empty() {
            let _ = writeln!(t, "- nothing");
        }
        for s in self.scope {
            let _ = writeln!(
                t,
                "- {}: {} = {}",
                s.name,
                crate::types::source(&s.ty),
                shown(&s.value, value_chars)
            );
        }
        let _ = writeln!(t, "\nTools and flows you may call:");
        for (s, r) in &self.callable {
            let doc = s
                .doc
                .as_deref()
                .map(|d| format!("  // {}", d.trim().replace('\n', " ")))
                .unwrap_or_default();
            let _ = writeln!(t, "- {}{doc}", signature(s, r.as_ref()));
        }
        if let Some(p) = self.policy.filter(|_| !short) {
            let _ = writeln!(t, "\nThe policy the block runs under:\n{}", p.source());
        }
        let _ = write!(
            t,
            "\nThe block must produce a value of type `{}`. Write the replacement block body.",
            crate::types::source(self.expected)
        );
        t
    }
}

impl Ask<'_> {
    /// What the answer's grammar is made of: the scope's names and types,
    /// the offered tools and flows with their parameters, the names the
    /// failed block binds, the module `m`'s types and constants.
    pub fn grammar_spec(&self, program: &Program, m: usize) -> crate::replan_grammar::Spec {
        use crate::replan_grammar::scope;
        let names: Vec<(String, Type)> = self
            .scope
            .iter()
            .map(|s| (s.name.clone(), s.ty.clone()))
            .collect();
        let callables = self
            .callable
            .iter()
            .map(|(s, r)| scope::callable(s, r.clone(), ""))
            .collect();
        let approve = self.policy.is_some_and(|p| p.fragment_approve);
        let mut spec = scope::spec_for(program, m, &names, callables, self.block, approve);
        scope::fields_of(self.expected, &mut spec.fields);
        spec
    }

    /// The grammar of the answer, in each dialect, and the names it lets
    /// the fragment bind.
    pub fn grammar(
        &self,
        program: &Program,
        m: usize,
    ) -> (crate::run::llm::GrammarText, Vec<String>) {
        let spec = self.grammar_spec(program, m);
        let g = crate::replan_grammar::block_body(&spec);
        (
            crate::run::llm::GrammarText {
                gbnf: g.gbnf(),
                lark: g.lark(),
            },
            spec.binds,
        )
    }
}

/// The tools and flows a fragment of module `m` may call under `policy`:
/// the tools it allows (`allow_tools`, no `effect` tool under `effects:
/// "deny"`), and the flows whose every tool it allows, except the failed
/// flow `site` (module, name) and the flows that reach it (a call would
/// fail again or recurse).
pub fn offered<'p>(
    program: &'p Program,
    lowered: &crate::ir::plan::Lowered<'p>,
    m: usize,
    site: (usize, &str),
    policy: Option<&Policy>,
) -> Vec<(&'p Signature, Option<Type>)> {
    let md = &program.modules[m];
    let allowed = |s: &Signature| {
        policy.is_none_or(|p| {
            p.allows(&s.name) && !(s.effect && p.effects == crate::check::policy::Effects::Deny)
        })
    };
    let mut out: Vec<(&'p Signature, Option<Type>)> = Vec::new();
    for s in md.tools.values() {
        if allowed(s) {
            out.push((&**s, s.ret.clone()));
        }
    }
    // A flow that leads back to this one would be flow recursion (E0402);
    // one that calls a tool the policy forbids is not offered either.
    for s in md.flows.values() {
        let reached = lowered.tools_reached(m, &s.name, site);
        if !reached.is_some_and(|tools| tools.into_iter().all(&allowed)) {
            continue;
        }
        let ret = s
            .ret
            .clone()
            .or_else(|| program.flow_types.get(&(m, s.name.clone())).cloned());
        out.push((&**s, ret));
    }
    out.sort_by_key(|(s, _)| (s.is_flow, s.span.start));
    out
}

/// The line of a request that names what a fragment may bind, when its
/// answer is held to a grammar.
pub fn binds_line(binds: &[String]) -> String {
    let letter = |b: &String| b.len() == 1;
    let letters = binds.iter().filter(|b| letter(b)).count();
    let mut words: Vec<String> = binds
        .iter()
        .filter(|b| letters < 26 || !letter(b))
        .map(|b| format!("`{b}`"))
        .collect();
    if letters == 26 {
        words.push("a single letter".into());
    }
    format!(
        "\nName new values (`let`, `for`, `catch`) only: {}.",
        words.join(", ")
    )
}

/// The answer's fragment: the first fenced block if there is one (to the
/// end of the answer when its fence is never closed, as an answer cut off at
/// `max_tokens` is), else the whole answer.
pub fn extract(answer: &str) -> String {
    if let Some(a) = answer.find("```") {
        let rest = &answer[a + 3..];
        let rest = rest.split_once('\n').map_or("", |(_, r)| r);
        let end = rest.find("```").unwrap_or(rest.len());
        return rest[..end].trim().to_string();
    }
    answer.trim().to_string()
}

/// A fragment that checked: the program to run it in.
pub struct Checked {
    pub sources: Sources,
    pub program: Program,
}

/// Checks `fragment` as the body of a flow whose parameters are `scope` and
/// whose result type is `expected`, in the text of the module `module_name`
/// (`module_text`), under `policy` (`true`: declared in that module under
/// its name), as a part of flow `site_flow` of that module (see
/// [`fragment_rules`]). `Err`: the diagnostics as plain text.
#[allow(clippy::too_many_arguments)]
pub fn check(
    module_name: &str,
    module_text: &str,
    site_flow: &str,
    fragment: &str,
    scope: &[InScope],
    expected: &Type,
    policy: Option<(&Policy, bool)>,
    loader: Option<&dyn Loader>,
) -> Result<Checked, Vec<String>> {
    let mut text = module_text.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let policy_name = match policy {
        Some((p, true)) => Some(p.name.clone()),
        Some((p, false)) => {
            // A caller's policy from another module: declared again here.
            let src = p.source().replacen(
                &format!("policy {} ", p.name),
                &format!("policy {POLICY} "),
                1,
            );
            let _ = writeln!(text, "{src}");
            Some(POLICY.to_string())
        }
        None => None,
    };
    let params: Vec<String> = scope
        .iter()
        .map(|s| format!("{}: {}", s.name, crate::types::source(&s.ty)))
        .collect();
    let with = policy_name
        .map(|n| format!(" with {{ policy: {n} }}"))
        .unwrap_or_default();
    let _ = write!(
        text,
        "flow {FLOW}({}) -> {}{with} ",
        params.join(", "),
        crate::types::source(expected)
    );
    let open = text.len();
    text.push_str("{\n");
    let frag_start = text.len();
    text.push_str(fragment);
    text.push_str("\n}");
    let close = text.len();
    text.push('\n');

    let mut sources = Sources::new();
    let root = sources.add(module_name, text.clone());
    let (program, diags) =
        crate::check::check_program(&mut sources, root, loader.unwrap_or(&NoFiles));
    let line_of = |at: usize| -> Option<usize> {
        (frag_start..=frag_start + fragment.len())
            .contains(&at)
            .then(|| text[frag_start..at].matches('\n').count() + 1)
    };
    let mut diags: Vec<crate::diag::Diagnostic> =
        diags.into_iter().filter(|d| d.is_error()).collect();
    if diags.is_empty() {
        diags = fragment_rules(&program, site_flow, policy.map(|(p, _)| p));
    }
    let mut out = Vec::new();
    for d in &diags {
        let span = d.primary_span();
        let at = match line_of(span.start as usize) {
            Some(l) if span.file == root => format!(" (line {l} of the fragment)"),
            _ => String::new(),
        };
        let mut s = format!("{}: {}{at}", d.code, d.message);
        if let Some(l) = d.labels.first().filter(|l| !l.message.is_empty()) {
            let _ = write!(s, "; {}", l.message);
        }
        if let Some(h) = &d.help {
            let _ = write!(s, "; help: {h}");
        }
        out.push(s);
    }
    // The fragment is one block body: it may not close the flow and declare
    // items of its own.
    let body = program
        .root_module()
        .ast
        .items
        .iter()
        .find_map(|i| match &i.kind {
            ItemKind::Flow(f) if f.name.name == FLOW => Some(f.body.span),
            _ => None,
        });
    let whole = body.is_some_and(|b| b.start as usize == open && b.end as usize == close);
    if out.is_empty() && !whole {
        out.push(
            "E0101: the answer is not one block body (it closes the block or declares items); \
             write only statements and a final expression"
                .into(),
        );
    }
    if out.is_empty() {
        Ok(Checked { sources, program })
    } else {
        Err(out)
    }
}

/// What a fragment, written by a model, may not do that a flow may: call a
/// flow that leads back to the flow it repairs (flow recursion, E0402, as
/// if its body were the flow's), ask a person with `approve` unless the
/// policy states `fragment_approve: true`, read an environment variable the
/// policy's `fragment_env` does not list (a literal name only) — E0510.
fn fragment_rules(
    program: &Program,
    site_flow: &str,
    policy: Option<&Policy>,
) -> Vec<crate::diag::Diagnostic> {
    use crate::diag::catalog;
    use crate::syntax::ast::{Expr, ExprKind, StrPart, block_children, children};
    let root = program.root;
    let mut out = Vec::new();
    let reaching = program.flows_reaching(&(root, site_flow.to_string()));
    for (from, to, span) in &program.flow_calls {
        if *from != (root, FLOW.to_string()) {
            continue;
        }
        if let Some(path) = reaching.get(to) {
            let names: Vec<String> = std::iter::once(site_flow)
                .chain(path.iter().map(String::as_str))
                .map(|n| format!("`{n}`"))
                .collect();
            out.push(
                catalog::flow_recursion(*span, &names.join(" → ")).with_note(format!(
                    "the fragment replaces a block of `{site_flow}`: a call of `{}` from it runs `{site_flow}` again",
                    to.1
                )),
            );
        }
    }
    let md = &program.modules[root];
    let Some(body) = md.ast.items.iter().find_map(|i| match &i.kind {
        ItemKind::Flow(f) if f.name.name == FLOW => Some(&f.body),
        _ => None,
    }) else {
        return out;
    };
    // `env` is the built-in unless the module declares a tool or flow of that name.
    let env_builtin = !md.tools.contains_key("env") && !md.flows.contains_key("env");
    let mut visit = |e: &Expr, out: &mut Vec<crate::diag::Diagnostic>| match &e.kind {
        ExprKind::Approve { message, .. } if !policy.is_some_and(|p| p.fragment_approve) => {
            let head = crate::syntax::span::Span {
                end: message.span.end,
                ..e.span
            };
            out.push(
                catalog::not_allowed_here(
                    head,
                    "`approve`",
                    "a re-planned fragment under a policy with `fragment_approve: true`",
                )
                .with_help(
                    "a fragment asks a person only where its policy states `fragment_approve: true`; compute the value, or let the failure stand",
                ),
            );
        }
        ExprKind::Call(c) if env_builtin && c.callee.len() == 1 && c.callee[0].name == "env" => {
            let name = c.args.first().and_then(|a| match &a.value.kind {
                ExprKind::Str(parts) => match parts.as_slice() {
                    [StrPart::Text(t)] => Some(t.clone()),
                    [] => Some(String::new()),
                    _ => None,
                },
                _ => None,
            });
            let allowed = policy.map_or(&[][..], |p| p.fragment_env.as_slice());
            if !name.as_ref().is_some_and(|n| allowed.contains(n)) {
                let what = match &name {
                    Some(n) => format!("`env({n:?})`"),
                    None => "`env(…)` with a name computed at run time".to_string(),
                };
                out.push(
                    catalog::not_allowed_here(
                        e.span,
                        &what,
                        "a re-planned fragment for a name its policy lists in `fragment_env`",
                    )
                    .with_help(match policy {
                        Some(p) if !allowed.is_empty() => format!(
                            "policy `{}` lets a fragment read only {}; use the names in scope",
                            p.name,
                            allowed.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
                        ),
                        _ => "no `fragment_env` in the policy lets a fragment read the environment; use the names in scope".to_string(),
                    }),
                );
            }
        }
        _ => {}
    };
    fn walk(
        e: &Expr,
        visit: &mut dyn FnMut(&Expr, &mut Vec<crate::diag::Diagnostic>),
        out: &mut Vec<crate::diag::Diagnostic>,
    ) {
        visit(e, out);
        children(e, &mut |c| walk(c, visit, out));
    }
    block_children(body, &mut |e| walk(e, &mut visit, &mut out));
    out
}
