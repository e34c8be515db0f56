//! A fragment checked in the scope it stands in: statements and a final
//! expression (a re-planned block's replacement, what is typed at the REPL)
//! with the names visible there and their types, the module it belongs to,
//! the policy it runs under and the type it must have. No source text is
//! written for it: the fragment is parsed on its own (its spans point into
//! what was written) and checked as the body of a flow of that module whose
//! parameters are the scope — a flow the lowering and the interpreter take
//! as any other.

use super::*;
use crate::syntax::span::Span;

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
            name: name.to_string(),
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
                name: ident(&self.flow),
                params,
                ret: None,
                options,
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
