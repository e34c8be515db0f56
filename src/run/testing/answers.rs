//! The LLM provider of a test: `mock llm`'s answers, no network.

use std::rc::Rc;

use futures_util::future::LocalBoxFuture;

use super::TestState;
use crate::run::llm::{Answer, AskError, DecisionRequest, Message, Provider};

pub struct MockLlm(pub Rc<TestState>);

impl Provider for MockLlm {
    fn name(&self) -> String {
        "mock".to_string()
    }

    fn ask<'a>(
        &'a self,
        req: &'a DecisionRequest,
        _messages: &'a [Message],
        _attempt: u32,
    ) -> LocalBoxFuture<'a, Result<Answer, AskError>> {
        let answer = self.0.answer(&req.step);
        Box::pin(async move { answer.map(Answer::from).map_err(AskError::Failed) })
    }
}
