//! `cmd:PROGRAM`: a program decides. It reads the request as JSON on stdin —
//! `step`, `path`, `kind`, `at`, `prompt`, `context`, `options`, `descriptions`,
//! `messages` (the chat so far) and `attempt` (1 for the first answer) — and
//! prints its answer on stdout.

use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use serde_json::json;

use super::{Answer, AskError, DecisionRequest, MAX_ANSWER, Message, Provider};
use crate::run::tools::exec;

pub struct Cmd {
    argv: Vec<String>,
    timeout: Duration,
}

impl Cmd {
    /// `argv`: the program and its arguments.
    pub fn new(argv: Vec<String>, timeout: Duration) -> Cmd {
        Cmd { argv, timeout }
    }
}

impl Provider for Cmd {
    fn name(&self) -> String {
        format!("cmd:{}", self.argv.join(" "))
    }

    fn ask<'a>(
        &'a self,
        req: &'a DecisionRequest,
        messages: &'a [Message],
        attempt: u32,
    ) -> LocalBoxFuture<'a, Result<Answer, AskError>> {
        Box::pin(async move {
            let mut input =
                serde_json::to_value(req).map_err(|e| AskError::Failed(e.to_string()))?;
            input["messages"] = json!(messages);
            input["attempt"] = json!(attempt);
            let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
            let answer = exec::output(&self.argv, &cwd, &input, MAX_ANSWER);
            let r = match tokio::time::timeout(self.timeout, answer).await {
                Ok(Ok(out)) => Ok(out.trim().to_string()),
                Ok(Err(exec::Failure::Failed(f))) => Err(f.message),
                Ok(Err(exec::Failure::TooLarge)) => Err(format!(
                    "the answer of `{}` is longer than {}; an answer is one of the labels",
                    self.argv.join(" "),
                    crate::run::opts::fmt_size(MAX_ANSWER)
                )),
                Err(_) => Err(format!(
                    "`{}` did not answer within {}",
                    self.argv.join(" "),
                    crate::run::opts::fmt_duration(self.timeout)
                )),
            };
            r.map(Answer::from).map_err(AskError::Failed)
        })
    }
}
