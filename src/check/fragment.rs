//! The rules a re-planned fragment is held to beyond a flow's: checked on
//! the program a fragment was checked in, as the body of flow `fragment_flow`.

use super::Program;
use super::policy::Policy;
use crate::span::Span;
use crate::syntax::ast::{Expr, ExprKind, ItemKind, StrPart, block_children, children};

/// The span of the body of flow `name` of the root module.
pub fn flow_body_span(program: &Program, name: &str) -> Option<Span> {
    program
        .root_module()
        .ast
        .items
        .iter()
        .find_map(|i| match &i.kind {
            ItemKind::Flow(f) if f.name.name == name => Some(f.body.span),
            _ => None,
        })
}

/// What a fragment, written by a model, may not do that a flow may: call a
/// flow that leads back to the flow it repairs (flow recursion, E0402, as
/// if its body were the flow's), ask a person with `approve` unless the
/// policy states `fragment_approve: true`, read an environment variable the
/// policy's `fragment_env` does not list (a literal name only) — E0510.
pub fn fragment_rules(
    program: &Program,
    fragment_flow: &str,
    site_flow: &str,
    policy: Option<&Policy>,
) -> Vec<crate::diag::Diagnostic> {
    use crate::diag::catalog;
    let root = program.root;
    let mut out = Vec::new();
    let reaching = program.flows_reaching(&(root, site_flow.to_string()));
    for (from, to, span) in &program.flow_calls {
        if *from != (root, fragment_flow.to_string()) {
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
        ItemKind::Flow(f) if f.name.name == fragment_flow => Some(&f.body),
        _ => None,
    }) else {
        return out;
    };
    // `env` is the built-in unless the module declares a tool or flow of that name.
    let env_builtin = !md.tools.contains_key("env") && !md.flows.contains_key("env");
    let mut visit = |e: &Expr, out: &mut Vec<crate::diag::Diagnostic>| match &e.kind {
        ExprKind::Approve { message, .. } if !policy.is_some_and(|p| p.fragment_approve) => {
            let head = crate::span::Span {
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
