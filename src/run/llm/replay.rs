//! `replay:FILE.json`: the answers an earlier run recorded (`--record-llm FILE`,
//! or a run record's `decisions`), matched by step path and prompt, so a
//! decision inside a concurrent `for` gets its own item's answer whatever
//! order the items reach it in. A recording without paths (an older one, or
//! hand-written), or a decision whose path it lacks, is matched by step and
//! prompt: a decision met several times then replays the answers in order.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::{Answer, AskError, Decision, DecisionRequest, Message, Provider};

pub struct Replay {
    file: String,
    /// (step, prompt) → the answers of each recorded decision, in order.
    entries: HashMap<(String, String), Vec<Vec<String>>>,
    /// (step, prompt) → how many decisions have started.
    used: RefCell<HashMap<(String, String), usize>>,
    /// (path, prompt) → the answers of the decision recorded there.
    by_path: HashMap<(String, String), Vec<String>>,
}

impl Replay {
    pub fn load(path: &Path) -> Result<Replay, String> {
        let file = path.display().to_string();
        let text = crate::files::read_text(path, crate::files::DATA_LIMIT, "LLM recordings")
            .map_err(|e| format!("cannot read the LLM recording `{file}`: {e}"))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("the LLM recording `{file}` is not JSON: {e}"))?;
        let Some(list) = v.get("decisions").and_then(Value::as_array) else {
            return Err(format!(
                "`{file}` has no `decisions`; write one with `flowc run … --record-llm {file}`"
            ));
        };
        let mut entries: HashMap<(String, String), Vec<Vec<String>>> = HashMap::new();
        let mut by_path = HashMap::new();
        for (i, d) in list.iter().enumerate() {
            let d = Decision::deserialize(d)
                .map_err(|e| format!("`{file}`: decision {i} is not one flowc recorded: {e}"))?;
            if !d.path.is_empty() {
                by_path.insert((d.path, d.prompt.clone()), d.answers.clone());
            }
            entries
                .entry((d.step, d.prompt))
                .or_default()
                .push(d.answers);
        }
        Ok(Replay {
            file,
            entries,
            used: RefCell::new(HashMap::new()),
            by_path,
        })
    }
}

impl Provider for Replay {
    fn name(&self) -> String {
        format!("replay:{}", self.file)
    }

    fn ask<'a>(
        &'a self,
        req: &'a DecisionRequest,
        _messages: &'a [Message],
        attempt: u32,
    ) -> LocalBoxFuture<'a, Result<Answer, AskError>> {
        if let Some(answers) = self.by_path.get(&(req.path.clone(), req.prompt.clone())) {
            let result = answers.get(attempt.saturating_sub(1) as usize).cloned().ok_or_else(|| {
                format!(
                    "the recording `{}` has {} answer{} for step `{}`, and attempt {} needs another",
                    self.file,
                    answers.len(),
                    if answers.len() == 1 { "" } else { "s" },
                    req.path,
                    attempt
                )
            });
            return Box::pin(async move { result.map(Answer::from).map_err(AskError::Failed) });
        }
        let key = (req.step.clone(), req.prompt.clone());
        let result = match self.entries.get(&key) {
            None => {
                let steps: Vec<&str> = {
                    let mut s: Vec<&str> = self.entries.keys().map(|k| k.0.as_str()).collect();
                    s.sort();
                    s.dedup();
                    s
                };
                Err(format!(
                    "the recording `{}` has no answer for step `{}` with the prompt \"{}\" \
                     (it has answers for: {}); record one with a live provider and `--record-llm`",
                    self.file,
                    req.step,
                    crate::run::tools::head(&req.prompt, 120),
                    if steps.is_empty() {
                        "nothing".into()
                    } else {
                        steps.join(", ")
                    }
                ))
            }
            Some(runs) => {
                let mut used = self.used.borrow_mut();
                let n = used.entry(key).or_insert(0);
                if attempt <= 1 {
                    *n += 1;
                }
                // A decision met more often than recorded replays the last recording.
                let answers = &runs[(*n).clamp(1, runs.len()) - 1];
                answers.get(attempt.saturating_sub(1) as usize).cloned().ok_or_else(|| {
                    format!(
                        "the recording `{}` has {} answer{} for step `{}`, and attempt {} needs another",
                        self.file,
                        answers.len(),
                        if answers.len() == 1 { "" } else { "s" },
                        req.step,
                        attempt
                    )
                })
            }
        };
        Box::pin(async move { result.map(Answer::from).map_err(AskError::Failed) })
    }
}
