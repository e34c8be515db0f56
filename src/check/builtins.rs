//! Calls of built-in functions (docs/language.md, "Built-in functions") in the checker:
//! what depends on where the call stands (named arguments, `with`, `stable` outside
//! `until`, `llm` as a decision site); the type rules are the table's (`crate::builtins`).

use super::expr::Ctx;
use super::types::Type;
use crate::builtins::{self, Builtin};
use crate::diag::catalog;
use crate::syntax::ast::Call;
use crate::syntax::span::Span;

impl<'p> Ctx<'p> {
    /// Checks a call of a built-in function; `None` if `name` is not one.
    pub(super) fn builtin(&mut self, name: &str, c: &'p Call, span: Span) -> Option<Type> {
        let b = Builtin::from_name(name)?;
        if let Some(a) = c.args.iter().find(|a| a.name.is_some()) {
            let n = a.name.as_ref().expect("found a named argument");
            self.diags.push(catalog::unknown_arg(
                n.span,
                name,
                &n.name,
                Some(format!(
                    "built-in functions take positional arguments: `{name}(x)`"
                )),
            ));
        }
        if let Some(o) = &c.options {
            self.diags.push(catalog::option_place(
                o.span,
                "with",
                "a built-in function",
                "tool and flow calls",
            ));
        }
        if b == Builtin::Stable && !self.in_until {
            self.diags.push(catalog::stable_outside_until(span));
        }
        if b == Builtin::Llm {
            self.effects += 1;
        }
        let args: Vec<(Type, Span)> = c
            .args
            .iter()
            .map(|a| (self.expr(&a.value), a.value.span))
            .collect();
        if b == Builtin::Llm {
            self.decision_site(span, "llm", vec!["yes".into(), "no".into()], false);
        }
        let mut check = builtins::Check {
            name: b.name(),
            span,
            args,
            call: c,
            diags: &mut self.diags,
        };
        Some((b.def().check)(&mut check))
    }
}
