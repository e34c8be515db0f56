//! The built-ins the evaluator runs itself: `stable` (it compares with the
//! previous iteration of a loop) and `llm` (it asks a provider). Their type
//! rules are here; where they may appear is the checker's (`stable` only in
//! `until`, `llm` is a decision site and an effect).

use super::{Def, Run};
use crate::types::Type;

pub(super) const STABLE: Def = Def {
    usage: "stable(e) : bool",
    doc: "only in a loop's `until`: does `e` on the new state equal `e` on the previous one?",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        Type::Bool
    },
    run: Run::Evaluator,
};

pub(super) const LLM: Def = Def {
    usage: "llm(\"question\", ctx…) : bool",
    doc: "a yes/no question decided by an LLM",
    check: |c| {
        c.arity("a prompt and any context values", c.n() >= 1);
        c.want(0, &Type::String, "string");
        Type::Bool
    },
    run: Run::Evaluator,
};
