//! Policies at run time (docs/language.md, "Policies"): what the checker cannot see —
//! `max_steps`, `max_llm_calls`, and the rules of a policy a called flow inherits from its
//! caller — raises `policy_violation` at the step, naming the rule and the limit.

use std::cell::Cell;

use super::Interp;
use super::errors::{ErrorKind, R, RunError};
use super::eval::Scope;
use super::record::{StepKind, StepStatus};
use crate::check::policy::Effects;
use crate::ir::StepPath;
use crate::span::Span;

/// Tool calls and LLM calls made under a policy so far in this run.
#[derive(Default)]
pub(super) struct Counts {
    steps: Cell<u64>,
    llm: Cell<u64>,
}

impl Counts {
    /// Gives `other` these counts (a fragment's run continues them, then gives them back).
    pub(super) fn copy_to(&self, other: &Counts) {
        other.steps.set(self.steps.get());
        other.llm.set(self.llm.get());
    }
}

impl<'p> Interp<'p> {
    /// Counts a tool call against the policy of its scope; `Err` when the
    /// policy forbids it.
    pub(super) fn hold_tool_to_policy(
        &self,
        name: &str,
        effect: bool,
        step: &str,
        span: Span,
        path: &StepPath,
        sc: &Scope,
    ) -> R<()> {
        let Some(pol) = &sc.policy else {
            return Ok(());
        };
        // The refused call is a failed step of the record, as if it had run.
        let fail = |message: String, help: String| {
            let e = RunError::new(ErrorKind::PolicyViolation, message, step, span)
                .at(path)
                .with_help(help);
            let id = self.recorder.start(step, path, name, StepKind::Tool, span);
            self.recorder
                .end(id, StepStatus::Failed, 0, Some(e.record()));
            Err(vec![e])
        };
        if !pol.allows(name) {
            return fail(
                format!(
                    "policy `{}` does not allow `{name}` (allow_tools: [{}])",
                    pol.name,
                    pol.allow_tools.as_deref().unwrap_or_default().join(", ")
                ),
                format!("add `{name}` to the `allow_tools` of `{}`", pol.name),
            );
        }
        if effect && pol.effects == Effects::Deny {
            return fail(
                format!(
                    "policy `{}` denies effects (`effects: \"deny\"`), and `{name}` is an `effect` tool",
                    pol.name
                ),
                "state `effects: \"approve\"` or `\"allow\"` in the policy".into(),
            );
        }
        let n = self.policy_counts.steps.get() + 1;
        self.policy_counts.steps.set(n);
        if let Some(max) = pol.max_steps
            && n > max
        {
            return fail(
                format!(
                    "policy `{}` allows {max} tool calls per run (`max_steps: {max}`); `{name}` would be call {n}",
                    pol.name
                ),
                format!(
                    "raise `max_steps` in policy `{}`, or catch `policy_violation`",
                    pol.name
                ),
            );
        }
        Ok(())
    }

    /// Under a policy with `effects: "approve"`, an effect waits for a
    /// person's approval at `path/approve` (docs/store.md: the run pauses, or the
    /// question is asked inline); rejected, it does not run.
    pub(super) async fn approve_effect(
        &self,
        name: &str,
        input: &serde_json::Value,
        step: &str,
        span: Span,
        path: &StepPath,
        sc: &Scope,
    ) -> R<()> {
        let Some(pol) = sc.policy.as_ref().filter(|p| p.effects == Effects::Approve) else {
            return Ok(());
        };
        let text = format!("run the effect `{name}` (policy `{}`)", pol.name);
        let at = path.child("approve");
        let answer = self
            .ask_approval(&at, text, Some(input.clone()), None, span, sc)
            .await?;
        if answer == serde_json::Value::Bool(true) {
            return Ok(());
        }
        Err(vec![
            RunError::new(
                ErrorKind::PolicyViolation,
                format!(
                    "the effect `{name}` was not approved (policy `{}` has `effects: \"approve\"`)",
                    pol.name
                ),
                step,
                span,
            )
            .at(path),
        ])
    }

    /// Counts an LLM call (a decision or a re-planning request) against the
    /// policy of its scope.
    pub(super) fn hold_llm_to_policy(&self, what: &str, span: Span, sc: &Scope) -> R<()> {
        let Some(pol) = &sc.policy else {
            return Ok(());
        };
        let n = self.policy_counts.llm.get() + 1;
        self.policy_counts.llm.set(n);
        match pol.max_llm_calls {
            Some(max) if n > max => Err(vec![
                RunError::new(
                    ErrorKind::PolicyViolation,
                    format!(
                        "policy `{}` allows {max} LLM calls per run (`max_llm_calls: {max}`); this {what} would be call {n}",
                        pol.name
                    ),
                    &*sc.label,
                    span,
                )
                .at(&sc.path)
                .with_help(format!("raise `max_llm_calls` in policy `{}`", pol.name)),
            ]),
            _ => Ok(()),
        }
    }
}
