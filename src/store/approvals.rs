//! The approvals of a run (docs/store.md, `approvals`): one row per `approve` the run
//! reached, keyed by its step path; `pending` until `flowc approve` (or a
//! person at the terminal) answers it, then `approved` or `rejected` with
//! who answered, when, and a note.

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::{Store, StoreError, now_ms};

/// An approval as the store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Approval {
    pub path: String,
    pub message: String,
    pub context: Option<Value>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub asked_ms: i64,
    pub answered_ms: Option<i64>,
    pub answered_by: Option<String>,
    pub note: Option<String>,
    /// `approve … within D`: when it expires unanswered (ms since the epoch).
    pub deadline_ms: Option<i64>,
}

impl Approval {
    /// `Some(true)` approved, `Some(false)` rejected, `None` pending.
    pub fn answer(&self) -> Option<bool> {
        match self.status.as_str() {
            "approved" => Some(true),
            "rejected" | "expired" => Some(false),
            _ => None,
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "path": self.path,
            "message": self.message,
            "context": self.context,
            "status": self.status,
            "asked_ms": self.asked_ms,
            "answered_ms": self.answered_ms,
            "answered_by": self.answered_by,
            "note": self.note,
            "deadline": self.deadline_ms.map(crate::ids::rfc3339_ms),
            "deadline_ms": self.deadline_ms,
        })
    }
}

/// An answer to an approval.
#[derive(Clone, Debug)]
pub struct Answer<'a> {
    pub approved: bool,
    pub by: &'a str,
    pub note: Option<&'a str>,
}

const COLUMNS: &str =
    "path, message, context, status, asked_ms, answered_ms, answered_by, note, deadline_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Approval> {
    Ok(Approval {
        path: r.get(0)?,
        message: r.get(1)?,
        context: r
            .get::<_, Option<String>>(2)?
            .and_then(|t| serde_json::from_str(&t).ok()),
        status: r.get(3)?,
        asked_ms: r.get(4)?,
        answered_ms: r.get(5)?,
        answered_by: r.get(6)?,
        note: r.get(7)?,
        deadline_ms: r.get(8)?,
    })
}

impl Store {
    /// Records that run `run_id` waits for an approval at `path` (kept as it
    /// was when the same approval was asked before).
    pub fn approval_ask(
        &self,
        run_id: &str,
        path: &str,
        message: &str,
        context: Option<&Value>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO approvals (run_id, path, message, context, status, asked_ms)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    run_id,
                    path,
                    message,
                    context.map(Value::to_string),
                    now_ms()
                ])
            })
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    /// The approval of run `run_id` at `path` expires `within_ms` after it
    /// was first asked (a deadline set before is kept).
    pub fn approval_deadline(
        &self,
        run_id: &str,
        path: &str,
        within_ms: u64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE approvals SET deadline_ms = asked_ms + ?3
                 WHERE run_id = ?1 AND path = ?2 AND deadline_ms IS NULL",
            )
            .and_then(|mut s| s.execute(params![run_id, path, within_ms as i64]))
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    /// Answers `expired` (a no) the pending approvals past their deadline,
    /// of run `run_id` or of every run; the (run, path) of each, in one
    /// statement.
    pub fn approvals_expire(
        &self,
        run_id: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut q = self
            .conn
            .prepare(
                "UPDATE approvals SET status = 'expired', answered_ms = ?1, answered_by = 'deadline',
                     note = 'unanswered by its deadline'
                 WHERE status = 'pending' AND deadline_ms IS NOT NULL AND deadline_ms <= ?1
                   AND (?2 IS NULL OR run_id = ?2)
                 RETURNING run_id, path",
            )
            .map_err(|e| self.error(&e))?;
        q.query_map(params![now_ms(), run_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error(&e))
    }

    /// The approval of run `run_id` at `path`, if it was reached.
    pub fn approval(&self, run_id: &str, path: &str) -> Result<Option<Approval>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM approvals WHERE run_id = ?1 AND path = ?2"),
                [run_id, path],
                row,
            )
            .optional()
            .map_err(|e| self.error(&e))
    }

    /// Every approval of run `run_id`, in path order.
    pub fn approvals(&self, run_id: &str) -> Result<Vec<Approval>, StoreError> {
        let mut q = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM approvals WHERE run_id = ?1 ORDER BY path"
            ))
            .map_err(|e| self.error(&e))?;
        q.query_map([run_id], row)
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error(&e))
    }

    /// Answers the pending approval of run `run_id` at `path`, in one
    /// statement (another process may write the store meanwhile).
    /// `Ok(Err(message))` when there is no such approval or it was answered.
    pub fn approval_answer(
        &self,
        run_id: &str,
        path: &str,
        answer: &Answer<'_>,
    ) -> Result<Result<(), String>, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE approvals SET status = ?3, answered_ms = ?4, answered_by = ?5, note = ?6
                 WHERE run_id = ?1 AND path = ?2 AND status = 'pending'",
            )
            .and_then(|mut s| {
                s.execute(params![
                    run_id,
                    path,
                    if answer.approved {
                        "approved"
                    } else {
                        "rejected"
                    },
                    now_ms(),
                    answer.by,
                    answer.note
                ])
            })
            .map_err(|e| self.error(&e))?;
        if n == 1 {
            return Ok(Ok(()));
        }
        Ok(Err(match self.approval(run_id, path)? {
            Some(a) if a.status == "expired" => format!(
                "the approval `{path}` of run {run_id} expired unanswered at {}: it answered no",
                a.deadline_ms
                    .map(crate::ids::rfc3339_ms)
                    .unwrap_or_default()
            ),
            Some(a) => format!(
                "the approval `{path}` of run {run_id} was already answered: {} by {} ({})",
                a.status,
                a.answered_by.as_deref().unwrap_or("?"),
                a.note.as_deref().unwrap_or("no note")
            ),
            None => format!("run {run_id} has no approval `{path}`"),
        }))
    }

    /// Records an approval asked and answered at once (a person at the
    /// terminal, `--interactive`).
    pub fn approval_answered_inline(
        &self,
        run_id: &str,
        path: &str,
        message: &str,
        context: Option<&Value>,
        answer: &Answer<'_>,
    ) -> Result<(), StoreError> {
        self.approval_ask(run_id, path, message, context)?;
        self.approval_answer(run_id, path, answer).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_is_asked_once_and_answered_once() {
        let d = std::env::temp_dir().join(format!("flowc-approvals-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let s = Store::open(&d).expect("store");
        s.approval_ask("r1", "main/ok", "Ship?", None)
            .expect("asked");
        s.approval_ask("r1", "main/ok", "Ship? (again)", None)
            .expect("asked again");
        let a = s.approval("r1", "main/ok").expect("read").expect("there");
        assert_eq!((a.message.as_str(), a.answer()), ("Ship?", None));
        let yes = Answer {
            approved: true,
            by: "ana",
            note: Some("fine"),
        };
        assert_eq!(s.approval_answer("r1", "main/ok", &yes), Ok(Ok(())));
        let again = s.approval_answer("r1", "main/ok", &yes).expect("read");
        assert!(again.unwrap_err().contains("already answered"));
        let none = s.approval_answer("r1", "main/no", &yes).expect("read");
        assert!(none.unwrap_err().contains("has no approval"));
        let a = s.approval("r1", "main/ok").expect("read").expect("there");
        assert_eq!(a.answer(), Some(true));
        assert_eq!(a.answered_by.as_deref(), Some("ana"));
        drop(s);
        let _ = std::fs::remove_dir_all(&d);
    }
}
