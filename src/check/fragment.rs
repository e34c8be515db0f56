//! A fragment checked in the scope it stands in: statements and a final
//! expression (a re-planned block's replacement, what is typed at the REPL)
//! with the names visible there and their types, the module it belongs to,
//! the policy it runs under and the type it must have. No source text is
//! written for it: the fragment is parsed on its own (its spans point into
//! what was written) and checked as the body of a flow of that module whose
//! parameters are the scope — a flow the lowering and the interpreter take
//! as any other.

use super::*;
use crate::syntax::ast::{StrPart, block_children, children};
use crate::syntax::span::Span;
use policy::Policy;

/// The key a fragment's policy is declared under in its module (never a name
/// a program can state: the policy keeps its own name for messages).
const POLICY_KEY: &str = " fragment policy";

/// A fragment and the place it stands in.
pub struct Fragment {
    /// The fragment's file in the sources (its text, as written).
    pub file: FileId,
    /// Its statements ([`crate::syntax::parse_block_body`]).
    pub body: Block,
    /// The name of the flow it is checked as (and run as), in the module.
    pub flow: String,
    /// The names visible where it stands, with their types.
    pub scope: Vec<(String, Type)>,
    /// The type it must have (`None`: its own).
    pub expected: Option<Type>,
    /// The policy it runs under, as a value (it may be another module's).
    pub policy: Option<Rc<policy::Policy>>,
}

/// Checks `fragment` as a part of the program rooted at `module` (its module
/// is the root), loading the program's imports through `loader`. The
/// fragment is the flow `fragment.flow` of the root module in the program
/// returned. The diagnostics are the program's errors and the fragment's
/// warnings.
pub fn check_fragment(
    sources: &mut Sources,
    module: FileId,
    loader: &dyn Loader,
    fragment: Fragment,
) -> (Program, Vec<Diagnostic>) {
    check_with(sources, module, loader, false, Some(fragment))
}

/// What stays of a fragment once it is a flow of the program: its file, its
/// flow's name, the types its signature takes.
pub(super) struct Declared {
    pub file: FileId,
    flow: String,
    scope: Vec<(String, Type)>,
    expected: Option<Type>,
    policy: Option<Rc<policy::Policy>>,
}

impl Fragment {
    /// Adds the fragment to the root module as a flow (before declarations
    /// are collected), stating its policy by a key of its own.
    pub(super) fn declare_in(self, program: &mut Program) -> Declared {
        let at = Span::new(self.file, 0, 0);
        let ident = |name: &str| Ident {
            name: name.to_string().into(),
            span: at,
        };
        // The parameters' types are given as types (the signature's, below);
        // their syntax is a placeholder the declaration resolves to `json`.
        let params = self
            .scope
            .iter()
            .map(|(name, _)| Param {
                name: ident(name),
                ty: TypeExpr {
                    kind: TypeExprKind::Name(vec![ident("json")]),
                    span: at,
                },
                default: None,
                span: at,
            })
            .collect();
        let root = program.root;
        let options = self.policy.as_ref().map(|_| Options {
            entries: vec![OptionEntry {
                name: ident("policy"),
                value: Expr {
                    kind: ExprKind::Name(ident(POLICY_KEY)),
                    span: at,
                },
            }],
            span: at,
        });
        let span = self.body.span;
        program.modules[root].ast.items.push(Item {
            kind: ItemKind::Flow(Box::new(FlowDecl {
                export: false,
                name: ident(&self.flow),
                params,
                ret: None,
                options: options.map(Box::new),
                body: self.body,
            })),
            span,
            doc: None,
        });
        Declared {
            file: self.file,
            flow: self.flow,
            scope: self.scope,
            expected: self.expected,
            policy: self.policy,
        }
    }
}

impl Declared {
    /// Whether a warning is about what the fragment's text says (not about
    /// the scope it was given, whose names stand at its start, zero-width:
    /// an unused one is no news).
    pub(super) fn is_about_what_was_written(&self, d: &Diagnostic) -> bool {
        let span = d.primary_span();
        span.file == self.file && span != Span::new(self.file, 0, 0)
    }

    /// Gives the fragment's flow the scope's types and the expected type
    /// (after declarations are collected), and declares its policy under
    /// the key the flow states.
    pub(super) fn sign(&self, program: &mut Program) {
        let md = &mut program.modules[program.root];
        if let Some(p) = &self.policy {
            md.policies.insert(POLICY_KEY.to_string(), p.clone());
        }
        let Some(sig) = md.flows.get(&self.flow) else {
            return;
        };
        let mut sig = (**sig).clone();
        for (p, (_, ty)) in sig.params.iter_mut().zip(&self.scope) {
            p.ty = ty.clone();
        }
        sig.ret = self.expected.clone();
        md.flows.insert(self.flow.clone(), Rc::new(sig));
    }
}

/// Checks `fragment` as a part of `program`, already checked, without
/// checking anything of the program again: the fragment replaces the flow of
/// its name (a previous fragment) in the root module, and only its body is
/// checked — the flows it calls keep the types they were checked with. Its
/// text is in `sources` already (its file). The diagnostics are its errors
/// and warnings; the program holds its flow, its blocks and its decisions
/// afterwards.
pub fn check_fragment_in(program: &mut Program, fragment: Fragment) -> Vec<Diagnostic> {
    let root = program.root;
    let key: FlowKey = (root, fragment.flow.clone());
    // The previous fragment of that name, and what checking it left.
    let md = &mut program.modules[root];
    let before = md
        .ast
        .items
        .iter()
        .position(|i| matches!(&i.kind, ItemKind::Flow(f) if f.name.name == fragment.flow));
    if let Some(at) = before {
        let old = md.ast.items.remove(at).span.file;
        program.blocks.retain(|k, _| k.0 != old);
        program.replan_sites.retain(|k, _| k.0 != old);
        program.decisions.retain(|d| d.span.file != old);
        program.flow_calls.retain(|(from, _, _)| *from != key);
        program.flow_types.remove(&key);
    }
    let declared = fragment.declare_in(program);
    let at = Span::new(declared.file, 0, 0);
    let sig = Signature {
        name: declared.flow.clone(),
        params: declared
            .scope
            .iter()
            .map(|(name, ty)| ParamSig {
                name: name.clone(),
                ty: ty.clone(),
                has_default: false,
                span: at,
            })
            .collect(),
        ret: declared.expected.clone(),
        effect: false,
        is_flow: true,
        span: at,
        doc: None,
    };
    program.modules[root]
        .flows
        .insert(declared.flow.clone(), Rc::new(sig));
    declared.sign(program);

    let p: &Program = program;
    let mut ctx = expr::Ctx::new(p);
    // What the program's check found stands: the flows it calls are not
    // checked again, and its constants have their types.
    for (k, t) in &p.flow_types {
        ctx.flow_types.insert(k.clone(), Some(t.clone()));
    }
    ctx.consts_cache = p.const_types.clone();
    ctx.flow_type(root, &declared.flow);
    let decisions: Vec<DecisionSite> = std::mem::take(&mut ctx.decisions).into_values().collect();
    let replan_sites = std::mem::take(&mut ctx.replan_sites);
    let done = ctx.finish();
    let mut diags = done.diags;
    let flow_type = done.flow_types.get(&key).cloned();
    program.decisions.extend(decisions);
    program.replan_sites.extend(replan_sites);
    program.blocks.extend(done.blocks);
    program.flow_calls.extend(
        done.flow_calls
            .into_iter()
            .filter(|(from, _, _)| *from == key),
    );
    if let Some(t) = flow_type {
        program.flow_types.insert(key, t);
    }
    diags.retain(|d| d.is_error() || declared.is_about_what_was_written(d));
    diags.sort_by_key(|d| (d.primary_span().file, d.primary_span().start));
    diags
}

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
            let head = Span {
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
