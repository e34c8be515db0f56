//! What a re-plan of a block needs from the checker (docs/language.md, "Re-planning"): the names in
//! scope around a block that states `replan_on_error`, with their types, and
//! the block's type.

use super::super::options;
use super::{Binding, Ctx};
use crate::syntax::ast::*;
use crate::types::Type;

impl<'p> Ctx<'p> {
    /// Keeps the scope of `e` (of type `t`) when it states `replan_on_error`.
    pub(super) fn keep_replan_site(&mut self, e: &'p Expr, t: &Type) {
        if options::has(block_options(e), "replan_on_error") {
            self.replan_stated = true;
            let site = ReplanSite {
                names: self.visible_names(),
                ty: t.clone(),
            };
            self.replan_sites.insert((e.span.file, e.span.start), site);
        }
    }

    /// The names visible here with their types (inner ones shadow outer
    /// ones), leaving out `let`s not checked yet.
    pub(super) fn visible_names(&self) -> Vec<(String, Type)> {
        let mut out: Vec<(String, Type)> = Vec::new();
        for s in &self.scopes {
            let mut names: Vec<(&String, &Binding)> = s.names.iter().collect();
            names.sort_by_key(|(_, b)| b.span.start);
            for (n, b) in names {
                if let Some(t) = &b.ty {
                    out.retain(|(m, _)| m != n);
                    out.push((n.clone(), t.clone()));
                }
            }
        }
        out
    }
}

/// The scope of a block that may be re-planned: the names visible in it with
/// their types, and the type it must produce.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplanSite {
    pub names: Vec<(String, Type)>,
    pub ty: Type,
}

/// The `with { … }` of a block expression that may state re-planning
/// (`parallel`, `race`, `sequence`, `dag`, `try`).
pub fn block_options(e: &Expr) -> Option<&Options> {
    match &e.kind {
        ExprKind::Parallel { options, .. }
        | ExprKind::Race { options, .. }
        | ExprKind::Sequence { options, .. }
        | ExprKind::Dag { options, .. }
        | ExprKind::Try { options, .. } => options.as_deref(),
        _ => None,
    }
}
