//! The journal of a run (SPEC §15): one row per step, keyed by its step path,
//! with its status, attempts, result or error and times.
//!
//! Rows are written by a thread of their own, on its own connection to the
//! store, so that the run does not wait for SQLite: it sends each row and
//! goes on; the writer commits whatever has arrived in one transaction each
//! time it catches up (a batch). Durability rule: before an `effect` tool
//! starts, [`Journal::effect_started`] waits until every row sent so far and
//! the effect's own `running` row are committed, so that a resume can tell
//! an effect that may have happened from one that did not.

use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use rusqlite::params;
use serde_json::Value;

use super::{Store, StoreError};

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
    /// The binding and arguments to hash into `args_sha256`: the writer
    /// hashes them, off the run's thread.
    pub hash_of: Option<(String, Value)>,
}

enum Msg {
    Row(Box<JournalEntry>),
    /// Commit everything before this, then answer.
    Sync(Sender<Result<(), StoreError>>),
}

/// The journal writer of one run.
pub struct Journal {
    tx: Option<Sender<Msg>>,
    writer: Option<JoinHandle<()>>,
}

impl Journal {
    /// A writer for run `run_id` of the store in folder `dir`.
    pub fn new(dir: &Path, run_id: &str) -> Journal {
        let (tx, rx) = channel();
        let dir = dir.to_path_buf();
        let run_id = run_id.to_string();
        let writer = std::thread::Builder::new()
            .name("flowc-journal".into())
            .spawn(move || write_loop(&dir, &run_id, &rx))
            .ok();
        Journal {
            tx: Some(tx),
            writer,
        }
    }

    /// Another handle on the same writer (a re-planned fragment's run writes
    /// to its run's journal).
    pub fn handle(&self) -> Journal {
        Journal {
            tx: self.tx.clone(),
            writer: None,
        }
    }

    fn send(&self, m: Msg) -> Result<(), StoreError> {
        self.tx
            .as_ref()
            .and_then(|t| t.send(m).ok())
            .ok_or_else(|| StoreError {
                message: "the journal's writer stopped".into(),
            })
    }

    /// An effect is about to start: everything so far, and its `running`
    /// row, are committed before this returns.
    pub fn effect_started(&self, mut entry: JournalEntry) -> Result<(), StoreError> {
        entry.status = "running";
        self.send(Msg::Row(Box::new(entry)))?;
        self.flush()
    }

    /// A step finished (`ok` or `failed`); written with the next batch.
    pub fn finished(&self, entry: JournalEntry) -> Result<(), StoreError> {
        self.send(Msg::Row(Box::new(entry)))
    }

    /// Waits until every row sent so far is committed.
    pub fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = channel();
        self.send(Msg::Sync(tx))?;
        rx.recv().unwrap_or_else(|_| {
            Err(StoreError {
                message: "the journal's writer stopped".into(),
            })
        })
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The writer: takes every row waiting, commits them in one transaction,
/// answers the syncs among them; until the run drops its sender.
fn write_loop(dir: &Path, run_id: &str, rx: &Receiver<Msg>) {
    let store = Store::open(dir);
    let mut rows = Vec::new();
    let mut syncs = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(m) = next {
            match m {
                Msg::Row(mut r) => {
                    if let Some((binding, args)) = r.hash_of.take() {
                        r.args_sha256 =
                            Some(super::cache_key(&binding, &crate::value::canonical(&args)));
                    }
                    rows.push(*r)
                }
                Msg::Sync(s) => syncs.push(s),
            }
            next = rx.try_recv().ok();
        }
        let r = match &store {
            Ok(_) if rows.is_empty() => Ok(()),
            Ok(s) => s.journal_put(run_id, &rows).map_err(|e| s.error(&e)),
            Err(e) => Err(e.clone()),
        };
        rows.clear();
        for s in syncs.drain(..) {
            let _ = s.send(r.clone());
        }
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
                    hash_of: None,
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
    fn rows_are_committed_by_an_effect_start_and_by_flush() {
        let d = std::env::temp_dir().join(format!("flowc-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let s = Store::open(&d).expect("store");
        let j = Journal::new(&d, "r1");
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
            hash_of: None,
        };
        j.finished(entry("main/a")).expect("sent");
        j.effect_started(entry("main/b")).expect("committed");
        let rows = s.journal("r1").expect("read");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].status, "ok");
        assert_eq!(rows[0].result, Some(serde_json::json!(1)));
        assert_eq!(rows[1].status, "running");
        j.finished(entry("main/c")).expect("sent");
        j.flush().expect("committed");
        assert_eq!(s.journal("r1").expect("read").len(), 3);
        drop(j);
        let _ = std::fs::remove_dir_all(&d);
    }
}
