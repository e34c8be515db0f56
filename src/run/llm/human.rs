//! `human`: the person at the terminal decides (the "escalate to a human" of
//! the design). Questions are asked one at a time, on stderr; the answer is
//! read from stdin, by label or by number.

use std::io::{BufRead, IsTerminal, Write};

use futures_util::future::LocalBoxFuture;

use super::{Answer, AskError, DecisionRequest, Message, Provider};

pub struct Human {
    /// One question at a time, even when decisions run in parallel.
    turn: tokio::sync::Mutex<()>,
}

impl Human {
    pub fn new() -> Human {
        Human {
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

impl Provider for Human {
    fn name(&self) -> String {
        "human".into()
    }

    fn ask<'a>(
        &'a self,
        req: &'a DecisionRequest,
        messages: &'a [Message],
        attempt: u32,
    ) -> LocalBoxFuture<'a, Result<Answer, AskError>> {
        Box::pin(async move {
            self.answer(req, messages, attempt)
                .await
                .map(Answer::from)
                .map_err(AskError::Failed)
        })
    }
}

impl Human {
    async fn answer(
        &self,
        req: &DecisionRequest,
        messages: &[Message],
        attempt: u32,
    ) -> Result<String, String> {
        if !std::io::stdin().is_terminal() {
            return Err(
                "`--llm human` asks at the terminal, and stdin is not a terminal; \
                 use `--llm replay:FILE` or `--llm cmd:PROGRAM` when nobody is there"
                    .into(),
            );
        }
        let _turn = self.turn.lock().await;
        if req.kind == "replan" {
            return ask_fragment(req, messages, attempt).await;
        }
        let mut text = String::new();
        if attempt == 1 {
            text.push_str(&format!("\n── decision `{}` at {} ──\n", req.step, req.at));
            text.push_str(req.prompt.trim());
            text.push('\n');
            if !req.context.is_null() {
                text.push_str(&serde_json::to_string_pretty(&req.context).unwrap_or_default());
                text.push('\n');
            }
        } else {
            text.push_str("That is not one of the options.\n");
        }
        for (i, o) in req.options.iter().enumerate() {
            text.push_str(&format!("  {}) {o}\n", i + 1));
        }
        text.push_str("your choice: ");
        // A prompt or context may carry a model's bytes: escaped for the terminal.
        let text = crate::diag::render::printable(&text).into_owned();
        let options = req.options.clone();
        tokio::task::spawn_blocking(move || {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(text.as_bytes());
            let _ = err.flush();
            let mut line = String::new();
            match std::io::stdin().lock().read_line(&mut line) {
                Ok(0) => Err("stdin closed before an answer".to_string()),
                Ok(_) => {
                    let t = line.trim();
                    // A number picks by position.
                    Ok(match t.parse::<usize>() {
                        Ok(n) if n >= 1 && n <= options.len() => options[n - 1].clone(),
                        _ => t.to_string(),
                    })
                }
                Err(e) => Err(format!("reading the answer: {e}")),
            }
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// A re-plan (docs/language.md, "Re-planning"): the request (or the diagnostics of the last
/// fragment) on stderr; the person types a block body, ended by a line with a
/// single `.` (or end of input). It is checked like a model's.
async fn ask_fragment(
    req: &DecisionRequest,
    messages: &[Message],
    attempt: u32,
) -> Result<String, String> {
    let mut text = String::new();
    if attempt == 1 {
        text.push_str(&format!("\n── re-plan `{}` at {} ──\n", req.step, req.at));
    }
    if let Some(m) = messages.last() {
        text.push_str(m.content.trim());
        text.push('\n');
    }
    text.push_str("type the block body, then a line with a single `.`:\n");
    let text = crate::diag::render::printable(&text).into_owned();
    tokio::task::spawn_blocking(move || {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
        let mut body = String::new();
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        loop {
            let mut line = String::new();
            match lock.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) if line.trim_end() == "." => break,
                Ok(_) => body.push_str(&line),
                Err(e) => return Err(format!("reading the fragment: {e}")),
            }
        }
        if body.trim().is_empty() {
            Err("no fragment was typed".to_string())
        } else {
            Ok(body.trim_end().to_string())
        }
    })
    .await
    .map_err(|e| e.to_string())?
}
