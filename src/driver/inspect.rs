//! A stored run as data: what `flowc runs show --format json` prints and
//! what the service's `GET /api/v1/runs/{id}` answers, built in one place.

use serde_json::{Value, json};

use crate::status::RunStatus;
use crate::store::{JournalEntry, RunRow, Store, StoreError};

/// A journaled step that started an effect and never said how it ended,
/// in a run no process runs any more.
pub fn uncertain(run: &RunRow, s: &JournalEntry) -> bool {
    s.status == "running" && run.status != RunStatus::Running
}

/// A step of a run: its journal row, without its result and arguments
/// unless `results` says how large a value may be shown (larger ones are
/// cut: `cut`); arguments the journal did not keep are `args_not_kept`, why
/// in words.
pub fn step_json(s: &JournalEntry, results: Option<usize>) -> Value {
    let mut v = json!({
        "path": s.path,
        "step": s.step,
        "kind": s.kind,
        "tool": s.tool,
        "status": s.status,
        "attempts": s.attempts,
        "started_ms": s.started_ms,
        "ended_ms": s.ended_ms,
        "duration_ms": s.ended_ms.map(|e| e - s.started_ms),
    });
    if let Some(age) = s.cached_age_s {
        v["cached_age_s"] = json!(age);
    }
    if let Some(e) = &s.error {
        v["error"] = e.clone();
    }
    if let Some(limit) = results {
        if let Some(r) = &s.result {
            v["result"] = cut(r, limit);
        }
        match (&s.args, s.args_bytes) {
            (Some(a), _) => v["args"] = cut(a, limit),
            (None, Some(n)) => {
                v["args_not_kept"] = json!(format!(
                    "{n} bytes, more than the {} KB a journal entry keeps",
                    crate::store::ARGS_KEPT / 1024
                ));
            }
            // The kinds whose arguments the journal keeps since version 7.
            (None, None) if matches!(s.kind.as_str(), "tool" | "flow" | "llm") => {
                v["args_not_kept"] = json!("not kept (run from an older store)");
            }
            (None, None) => {}
        }
    }
    v
}

/// `value`, or when its JSON text is longer than `limit` bytes, a stand-in
/// that says so: `{"cut": true, "bytes": N, "preview": "…"}` (the first
/// 1,000 characters of the text).
pub fn cut(value: &Value, limit: usize) -> Value {
    let text = value.to_string();
    if text.len() <= limit {
        return value.clone();
    }
    let preview: String = text.chars().take(1000).collect();
    json!({ "cut": true, "bytes": text.len(), "preview": preview })
}

/// Run `id` of `store`: its row, source files, approvals and steps (from
/// the journal, in the order they started); `Ok(Err(message))` when the
/// store has no such run.
pub fn run_json(
    store: &Store,
    id: &str,
    results: Option<usize>,
) -> Result<Result<Value, String>, StoreError> {
    let run = match store.run(id)? {
        Ok(r) => r,
        Err(message) => return Ok(Err(message)),
    };
    let sources = store.run_sources(&run.id)?;
    // An approval past its deadline is shown as what it now is: expired.
    store.approvals_expire(Some(&run.id))?;
    let approvals = store.approvals(&run.id)?;
    let mut steps = store.journal(&run.id)?;
    steps.sort_by_key(|s| s.started_ms);
    let mut v = run.to_json();
    v["sources"] = sources
        .iter()
        .map(|(path, sha256)| json!({ "path": path, "sha256": sha256 }))
        .collect();
    v["approvals"] = approvals.iter().map(|a| a.to_json()).collect();
    v["steps"] = steps
        .iter()
        .map(|s| {
            let mut j = step_json(s, results);
            if uncertain(&run, s) {
                j["uncertain"] = json!(true);
            }
            j
        })
        .collect();
    Ok(Ok(v))
}
