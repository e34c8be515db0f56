//! A test's host: its mocks answer the calls of mocked tools and flows and its
//! `approve`s; a tool that would start a program or use the network, and is
//! not mocked, is refused. Everything else goes to the host below (local
//! built-in tools).

use std::rc::Rc;

use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use super::{Mocked, TestState};
use crate::ir::StepPath;
use crate::run::host::{Intercept, Refusal, StepHost};

/// The mocks of the test an interpreter runs, over the host below.
pub struct Mocks<'h> {
    below: Rc<dyn StepHost + 'h>,
    state: Rc<TestState>,
}

impl<'h> Mocks<'h> {
    pub fn new(below: Rc<dyn StepHost + 'h>, state: Rc<TestState>) -> Mocks<'h> {
        Mocks { below, state }
    }
}

impl StepHost for Mocks<'_> {
    fn below(&self) -> Option<&dyn StepHost> {
        Some(&*self.below)
    }

    /// What a call of a tool or flow gives in the test: its mock, or a
    /// refusal for a tool that would start a process or use the network.
    /// `None`: the call runs (a flow, a local built-in tool).
    fn intercept(&self, c: &Intercept<'_>) -> Option<Result<Value, Refusal>> {
        let state = &self.state;
        let name = c.name;
        let key = (c.module, name.to_string());
        // The first keyed mock whose arguments the call has, else the plain one.
        let keyed = state.keyed.borrow().get(&key).and_then(|ms| {
            ms.iter()
                .find(|(with, _)| {
                    with.iter()
                        .all(|(n, v)| c.args.get(n).is_some_and(|a| crate::value::equal(a, v)))
                })
                .map(|(_, mocked)| mocked.clone())
        });
        let mocked = keyed.or_else(|| state.mocks.borrow().get(&key).cloned());
        match mocked {
            Some(Mocked::Value(v)) => Some(Ok(v)),
            Some(Mocked::Fail(message)) => Some(Err(Refusal {
                message,
                help: format!("`mock {name} = fail(…)` in this test"),
            })),
            None => {
                if c.local? {
                    return None;
                }
                let keyed = state.keyed.borrow().contains_key(&key);
                let (message, help) = if keyed {
                    let given = Value::Object(c.args.clone());
                    (
                        format!(
                            "no `mock {name}(…)` of this test matches this call's arguments {given}"
                        ),
                        format!(
                            "add `mock {name}(…) = …` with these arguments, or `mock {name} = …` for every call the others do not match"
                        ),
                    )
                } else {
                    (
                        format!(
                            "tool `{name}` is not mocked in this test (a test starts no tool process and makes no network call)"
                        ),
                        format!("add `mock {name} = …` to the test"),
                    )
                };
                state
                    .refused
                    .borrow_mut()
                    .push((message.clone(), Some(c.span)));
                Some(Err(Refusal { message, help }))
            }
        }
    }

    /// `mock approve` answers every `approve`.
    fn approve<'a>(
        &'a self,
        path: &'a StepPath,
        _message: &'a str,
        _context: Option<&'a Value>,
    ) -> LocalBoxFuture<'a, Option<Result<bool, String>>> {
        Box::pin(async move { Some(self.state.approve_answer(&path.to_string())) })
    }
}
