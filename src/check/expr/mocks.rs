//! `mock` statements of `test` blocks: what a mocked tool, flow, `llm` or
//! `approve` takes.

use std::rc::Rc;

use super::super::types::{Type, assignable};
use super::{Callee, Ctx};
use crate::diag::{catalog, suggest};
use crate::syntax::ast::*;
use crate::syntax::span::Span;

impl<'p> Ctx<'p> {
    /// `mock target = value`: the value has the target's result type;
    /// `fail("message")` makes every call fail; `mock llm` takes an answer, a
    /// list of answers, a record of either by the decision's step name, or `fail(…)`.
    ///
    /// `mock target(name: value, …) = …` replaces only the calls with those
    /// arguments: they are checked as a call's (names, types), read
    /// constants and literals like the value, and only tools and flows have them.
    pub(super) fn mock(
        &mut self,
        span: Span,
        target: &[Ident],
        args: Option<&'p [Arg]>,
        value: &'p Expr,
    ) {
        if !self.in_test {
            self.diags
                .push(catalog::not_allowed_here(span, "`mock`", "`test` blocks"));
        } else if self.scopes.len() != self.test_base + 2 {
            // Mocks are set before the test runs: one in a nested block would be a no-op.
            self.diags.push(catalog::not_allowed_here(
                span,
                "`mock`",
                "a `test` block's own statements, not in a nested block",
            ));
        }
        if let (Some(args), [one]) = (args, target)
            && (one.name == "llm" || one.name == "approve")
        {
            let span = args
                .first()
                .map_or(one.span, |a| a.span.to(args[args.len() - 1].span));
            self.diags.push(
                catalog::not_allowed_here(
                    span,
                    "a `mock` with arguments",
                    "mocks of tools and flows",
                )
                .with_help(format!(
                    "`mock {}` answers every {}: drop the arguments",
                    one.name,
                    if one.name == "llm" {
                        "decision"
                    } else {
                        "`approve`"
                    }
                )),
            );
        }
        if let [one] = target
            && one.name == "llm"
        {
            if let Some(msg) = value.mock_failure() {
                let t = self.mock_value(msg);
                self.expect(&t, &Type::String, msg.span, " (the failure's message)");
                return;
            }
            let t = self.mock_value(value);
            if !llm_answers(&t) {
                self.diags.push(
                    catalog::mismatch(
                        value.span,
                        "string | [string] | { step: string | [string] }",
                        &t.to_string(),
                        " (the mocked answers)",
                    )
                    .with_help("give an answer (`\"escalate\"`), answers in order (`[\"yes\", \"no\"]`), or answers by the step name of each decision (`{ action: \"escalate\" }`)"),
                );
            }
            return;
        }
        if let [one] = target
            && one.name == "approve"
        {
            // The answers of the test's `approve`s: one for all, or in order.
            let t = self.mock_value(value);
            let answers = match &t {
                Type::List(e) => matches!(**e, Type::Bool | Type::Unknown | Type::Never),
                t => matches!(t, Type::Bool | Type::Unknown),
            };
            if !answers {
                self.diags.push(
                    catalog::mismatch(value.span, "bool | [bool]", &t.to_string(), " (the mocked answers)")
                        .with_help("answer every `approve` (`true` or `false`), or each in order (`[true, false]`)"),
                );
            }
            return;
        }
        let expected = self.mock_target(target);
        if let Some(args) = args
            && let Some(Callee::Tool(_, sig) | Callee::Flow(_, sig)) = self.find_callee(target)
        {
            let name: Vec<&str> = target.iter().map(|i| i.name.as_str()).collect();
            self.in_mock = true;
            self.check_args(args, &sig, &name.join("."));
            self.in_mock = false;
        }
        if let Some(msg) = value.mock_failure() {
            let t = self.mock_value(msg);
            self.expect(&t, &Type::String, msg.span, " (the failure's message)");
            return;
        }
        let t = self.mock_value(value);
        if let Some(e) = expected {
            self.expect(&t, &e, value.span, " (the mocked result)");
        }
    }

    /// A mock's value (or a failure's message): set before the test runs, it
    /// reads constants and literals, not the test's `let`s or tools (E0512).
    fn mock_value(&mut self, value: &'p Expr) -> Type {
        self.in_mock = true;
        let t = self.expr(value);
        self.in_mock = false;
        t
    }

    /// The result type a mock must have, or `None` when unknown.
    fn mock_target(&mut self, target: &[Ident]) -> Option<Type> {
        match self.resolve_callee(target) {
            Some(Callee::Tool(m, sig)) | Some(Callee::Flow(m, sig)) => {
                self.used_tools.insert((m, sig.name.clone()));
                sig.ret.clone()
            }
            _ => {
                self.unknown_mock_target(target);
                None
            }
        }
    }

    /// E0202 (or E0203 for a module's member) for a mock of no tool or flow.
    fn unknown_mock_target(&mut self, target: &[Ident]) {
        let md = &self.p.modules[self.module];
        let (Some(first), Some(last)) = (target.first(), target.last()) else {
            return;
        };
        let d = match target {
            [m, _] if md.broken_imports.contains(m.name.as_str()) => return,
            [m, item] if md.imports.contains_key(m.name.as_str()) => {
                let mm = &self.p.modules[md.imports[m.name.as_str()]];
                let names = mm.tools.keys().chain(mm.flows.keys()).map(String::as_str);
                let help = suggest(&item.name, names);
                catalog::unknown_member(item.span, &m.name, &item.name, help)
            }
            _ => {
                let name: Vec<&str> = target.iter().map(|i| i.name.as_str()).collect();
                let name = name.join(".");
                let names = md.tools.keys().chain(md.flows.keys()).map(String::as_str);
                let help = suggest(&name, names.chain(["llm"]));
                catalog::unknown_callee(first.span.to(last.span), &name, help)
                    .with_label("a `mock` replaces a tool, a flow, `llm` or `approve`")
            }
        };
        self.diags.push(d);
    }
}

/// Whether `t` can be `mock llm`'s answers: a string, a list of them, or a
/// record of either (by step name).
fn llm_answers(t: &Type) -> bool {
    let one = |t: &Type| {
        assignable(t, &Type::String) || assignable(t, &Type::List(Rc::new(Type::String)))
    };
    match t {
        Type::Record(r) => r.fields.iter().all(|f| one(&f.ty)),
        t => one(t),
    }
}
