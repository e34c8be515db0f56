//! The journal of a run (SPEC §15): one row per step, keyed by its step path,
//! with its status, attempts, result or error and times.
//!
//! Durability rule: before an `effect` tool starts, every row written so far
//! and the effect's own `running` row are committed, so that a resume can tell
//! an effect that may have happened from one that did not. Finished steps are
//! batched: kept in memory and written in one transaction when
//! [`FLUSH_ROWS`] are waiting, when [`FLUSH_EVERY`] has passed since the last
//! write, before an effect, and at the end of the run.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use rusqlite::params;
use serde_json::Value;

use super::{Store, StoreError};

/// Finished rows kept before they are written.
pub const FLUSH_ROWS: usize = 256;
/// The longest a finished row waits before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// A step as the journal keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct JournalEntry {
    pub path: String,
    pub tool: String,
    /// `running`, `ok` or `failed`.
    pub status: &'static str,
    pub attempts: u32,
    pub result: Option<Value>,
    pub error: Option<Value>,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    /// SHA-256 of the tool's binding and canonical arguments.
    pub args_sha256: Option<String>,
}

/// The journal writer of one run.
pub struct Journal<'s> {
    store: &'s Store,
    run_id: String,
    pending: RefCell<Vec<JournalEntry>>,
    last_flush: Cell<Instant>,
}

impl<'s> Journal<'s> {
    pub fn new(store: &'s Store, run_id: &str) -> Journal<'s> {
        Journal {
            store,
            run_id: run_id.to_string(),
            pending: RefCell::new(Vec::new()),
            last_flush: Cell::new(Instant::now()),
        }
    }

    /// An effect is about to start: everything so far, and its `running`
    /// row, are committed before this returns.
    pub fn effect_started(&self, mut entry: JournalEntry) -> Result<(), StoreError> {
        entry.status = "running";
        self.pending.borrow_mut().push(entry);
        self.flush()
    }

    /// A step finished (`ok` or `failed`); written with the next batch.
    pub fn finished(&self, entry: JournalEntry) -> Result<(), StoreError> {
        let due = {
            let mut p = self.pending.borrow_mut();
            p.push(entry);
            p.len() >= FLUSH_ROWS || self.last_flush.get().elapsed() >= FLUSH_EVERY
        };
        if due { self.flush() } else { Ok(()) }
    }

    /// Writes every waiting row in one transaction.
    pub fn flush(&self) -> Result<(), StoreError> {
        let rows = std::mem::take(&mut *self.pending.borrow_mut());
        self.last_flush.set(Instant::now());
        if rows.is_empty() {
            return Ok(());
        }
        self.store
            .journal_put(&self.run_id, &rows)
            .map_err(|e| self.store.error(&e))
    }
}

impl Drop for Journal<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

impl Store {
    fn journal_put(&self, run_id: &str, rows: &[JournalEntry]) -> rusqlite::Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR REPLACE INTO journal
                 (run_id, path, tool, status, attempts, result, error, started_ms, ended_ms, args_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for r in rows {
                ins.execute(params![
                    run_id,
                    r.path,
                    r.tool,
                    r.status,
                    r.attempts,
                    text(&r.result),
                    text(&r.error),
                    r.started_ms,
                    r.ended_ms,
                    r.args_sha256
                ])?;
            }
        }
        tx.commit()
    }

    /// The journal of run `run_id`, in path order.
    pub fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let status = |s: String| -> &'static str {
            match s.as_str() {
                "ok" => "ok",
                "failed" => "failed",
                "replayed" => "replayed",
                _ => "running",
            }
        };
        let json = |s: Option<String>| s.and_then(|t| serde_json::from_str(&t).ok());
        let mut q = self
            .conn
            .prepare(
                "SELECT path, tool, status, attempts, result, error, started_ms, ended_ms, args_sha256
                 FROM journal WHERE run_id = ?1 ORDER BY path",
            )
            .map_err(|e| self.error(&e))?;
        let rows = q
            .query_map([run_id], |r| {
                Ok(JournalEntry {
                    path: r.get(0)?,
                    tool: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    status: status(r.get(2)?),
                    attempts: r.get(3)?,
                    result: json(r.get(4)?),
                    error: json(r.get(5)?),
                    started_ms: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
                    ended_ms: r.get(7)?,
                    args_sha256: r.get(8)?,
                })
            })
            .map_err(|e| self.error(&e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::now_ms;

    #[test]
    fn rows_are_batched_and_an_effect_start_commits_them() {
        let d = std::env::temp_dir().join(format!("flowc-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let s = Store::open(&d).expect("store");
        let j = Journal::new(&s, "r1");
        let entry = |path: &str| JournalEntry {
            path: path.into(),
            tool: "t".into(),
            status: "ok",
            attempts: 1,
            result: Some(serde_json::json!(1)),
            error: None,
            started_ms: now_ms(),
            ended_ms: Some(now_ms()),
            args_sha256: Some("h".into()),
        };
        j.finished(entry("main/a")).expect("kept");
        assert!(s.journal("r1").expect("read").is_empty(), "batched");
        j.effect_started(entry("main/b")).expect("committed");
        let rows = s.journal("r1").expect("read");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].status, "ok");
        assert_eq!(rows[0].result, Some(serde_json::json!(1)));
        assert_eq!(rows[1].status, "running");
        drop(j);
        let _ = std::fs::remove_dir_all(&d);
    }
}
