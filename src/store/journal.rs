//! The journal of a run (SPEC §15): one row per step, keyed by its step path,
//! with its status, attempts, result or error and times.
//!
//! Rows are written by a thread of their own, on its own connection to the
//! store, so that the run does not wait for SQLite: a finished step goes
//! into a buffer and the run goes on; the writer takes the buffer when it
//! holds a batch, at a flush, or every 50 ms, and commits it as one row of
//! `journal_log` (a JSON array of the steps) in one transaction. Durability rule: before an `effect` tool
//! starts, [`Journal::effect_started`] waits until every row sent so far and
//! the effect's own `running` row are committed, so that a resume can tell
//! an effect that may have happened from one that did not.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::params;
use serde::{Deserialize, Serialize};
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
    pub hash_of: Option<(std::sync::Arc<str>, Value)>,
}

enum Msg {
    Rows(Vec<JournalEntry>),
    /// Commit everything before this, then answer.
    Sync(Sender<Result<(), StoreError>>),
}

/// Rows wait in the run's buffer until this many have gathered, or the
/// writer comes for them ([`WAIT`]), or an effect, a pause or the end of the
/// run flushes them: one message and one wake-up of the writer per batch,
/// not per step.
const BATCH: usize = 512;

/// How long a finished pure step waits at most in the buffer before the
/// writer commits it (what a `kill -9` can lose, to be run again on resume).
const WAIT: Duration = Duration::from_millis(50);

/// The journal writer of one run.
pub struct Journal {
    /// Finished steps not yet handed to the writer. Sending to the writer
    /// happens under this lock, so rows reach it in the order they finished.
    buffer: Arc<Mutex<Buffer>>,
    writer: Option<JoinHandle<()>>,
}

struct Buffer {
    rows: Vec<JournalEntry>,
    tx: Option<Sender<Msg>>,
}

impl Buffer {
    fn send(&mut self, m: Msg) -> Result<(), StoreError> {
        self.tx
            .as_ref()
            .and_then(|t| t.send(m).ok())
            .ok_or_else(|| StoreError {
                message: "the journal's writer stopped".into(),
            })
    }

    /// Hands the waiting rows to the writer.
    fn hand_over(&mut self) -> Result<(), StoreError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        self.send(Msg::Rows(rows))
    }
}

impl Journal {
    /// A writer for run `run_id` of the store in folder `dir`.
    pub fn new(dir: &Path, run_id: &str) -> Journal {
        let (tx, rx) = channel();
        let buffer = Arc::new(Mutex::new(Buffer {
            rows: Vec::new(),
            tx: Some(tx),
        }));
        let dir = dir.to_path_buf();
        let run_id = run_id.to_string();
        let shared = Arc::clone(&buffer);
        let writer = std::thread::Builder::new()
            .name("flowc-journal".into())
            .spawn(move || write_loop(&dir, &run_id, &rx, &shared))
            .ok();
        Journal { buffer, writer }
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Another handle on the same buffer and writer (a re-planned fragment's
    /// run writes to its run's journal); dropping it closes nothing.
    pub fn handle(&self) -> Journal {
        Journal {
            buffer: self.buffer.clone(),
            writer: None,
        }
    }

    /// An effect is about to start: everything so far, and its `running`
    /// row, are committed before this returns.
    pub fn effect_started(&self, mut entry: JournalEntry) -> Result<(), StoreError> {
        entry.status = "running";
        self.buffer().rows.push(entry);
        self.flush()
    }

    /// A step finished (`ok` or `failed`); written with the next batch.
    pub fn finished(&self, entry: JournalEntry) -> Result<(), StoreError> {
        let mut b = self.buffer();
        b.rows.push(entry);
        if b.rows.len() >= BATCH {
            b.hand_over()?;
        }
        Ok(())
    }

    /// Waits until every row sent so far is committed.
    pub fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = channel();
        {
            let mut b = self.buffer();
            b.hand_over()?;
            b.send(Msg::Sync(tx))?;
        }
        rx.recv().unwrap_or_else(|_| {
            Err(StoreError {
                message: "the journal's writer stopped".into(),
            })
        })
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        {
            let mut b = self.buffer();
            let _ = b.hand_over();
            // Only the run's own journal (the one with the writer) closes it.
            if self.writer.is_some() {
                drop(b.tx.take());
            }
        }
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The writer: wakes for a batch, a flush or every [`WAIT`], takes every
/// row waiting, commits them in one transaction, answers the syncs among
/// them; until the run drops its sender.
fn write_loop(dir: &Path, run_id: &str, rx: &Receiver<Msg>, buffer: &Mutex<Buffer>) {
    let store = Store::open(dir);
    let mut seq = match &store {
        Ok(s) => s.journal_next_seq(run_id).map_err(|e| s.error(&e)),
        Err(e) => Err(e.clone()),
    };
    let mut rows = Vec::new();
    let mut syncs = Vec::new();
    let mut failed: Option<StoreError> = None;
    loop {
        let first = match rx.recv_timeout(WAIT) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        {
            // Under the buffer's lock: what was sent before, then what waits.
            let mut b = buffer.lock().unwrap_or_else(|p| p.into_inner());
            let mut next = first;
            while let Some(m) = next {
                match m {
                    Msg::Rows(mut r) => rows.append(&mut r),
                    Msg::Sync(s) => syncs.push(s),
                }
                next = rx.try_recv().ok();
            }
            rows.append(&mut b.rows);
        }
        for r in &mut rows {
            if let Some((binding, args)) = r.hash_of.take() {
                r.args_sha256 = Some(super::cache_key(&binding, &crate::value::canonical(&args)));
            }
        }
        let r = match (&store, &mut seq) {
            // A batch that could not be written fails every later flush too.
            _ if failed.is_some() => Err(failed.clone().expect("checked")),
            (Ok(_), Ok(_)) if rows.is_empty() => Ok(()),
            (Ok(s), Ok(n)) => {
                let put = s.journal_put(run_id, *n, &rows).map_err(|e| s.error(&e));
                if put.is_ok() {
                    *n += 1;
                }
                put
            }
            (Err(e), _) => Err(e.clone()),
            (_, Err(e)) => Err(e.clone()),
        };
        if let Err(e) = &r {
            failed.get_or_insert_with(|| e.clone());
        }
        rows.clear();
        for s in syncs.drain(..) {
            let _ = s.send(r.clone());
        }
    }
}

/// A step as one element of a batch's JSON array (`journal_log.entries`).
#[derive(Serialize)]
struct RowOut<'a> {
    path: &'a str,
    tool: &'a str,
    status: &'a str,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a Value>,
    started_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args_sha256: Option<&'a str>,
}

/// [`RowOut`] read back. A `result` or `error` that is present is kept even
/// when it is JSON `null` (a tool may return `null`); absent is `None`.
#[derive(Deserialize)]
struct RowIn {
    path: String,
    #[serde(default)]
    tool: Option<String>,
    status: String,
    #[serde(default)]
    attempts: u32,
    #[serde(default, deserialize_with = "present")]
    result: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    error: Option<Value>,
    #[serde(default)]
    started_ms: Option<i64>,
    #[serde(default)]
    ended_ms: Option<i64>,
    #[serde(default)]
    args_sha256: Option<String>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn status_of(s: &str) -> &'static str {
    match s {
        "ok" => "ok",
        "failed" => "failed",
        "replayed" => "replayed",
        _ => "running",
    }
}

impl Store {
    /// The number of the next batch of run `run_id` (a resumed run goes on
    /// after the batches of its earlier processes).
    fn journal_next_seq(&self, run_id: &str) -> rusqlite::Result<i64> {
        self.conn.query_row(
            "SELECT COALESCE(MAX(seq) + 1, 0) FROM journal_log WHERE run_id = ?1",
            [run_id],
            |r| r.get(0),
        )
    }

    /// One batch: every row in one JSON array, in one insert.
    fn journal_put(&self, run_id: &str, seq: i64, rows: &[JournalEntry]) -> rusqlite::Result<()> {
        let out: Vec<RowOut<'_>> = rows
            .iter()
            .map(|r| RowOut {
                path: &r.path,
                tool: &r.tool,
                status: r.status,
                attempts: r.attempts,
                result: r.result.as_ref(),
                error: r.error.as_ref(),
                started_ms: r.started_ms,
                ended_ms: r.ended_ms,
                args_sha256: r.args_sha256.as_deref(),
            })
            .collect();
        let entries = serde_json::to_string(&out)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.conn
            .prepare_cached("INSERT INTO journal_log (run_id, seq, entries) VALUES (?1, ?2, ?3)")?
            .execute(params![run_id, seq, entries])?;
        Ok(())
    }

    /// The journal of run `run_id`: the latest entry of every step, in path
    /// order.
    pub fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let mut q = self
            .conn
            .prepare("SELECT seq, entries FROM journal_log WHERE run_id = ?1 ORDER BY seq")
            .map_err(|e| self.error(&e))?;
        let batches = q
            .query_map([run_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(|e| self.error(&e))?;
        let mut latest = std::collections::BTreeMap::new();
        for (seq, text) in batches {
            let rows: Vec<RowIn> = serde_json::from_str(&text).map_err(|e| StoreError {
                message: format!(
                    "the store `{}` is damaged: batch {seq} of the journal of run {run_id} does not read ({e}); resume cannot trust it: start the run again",
                    self.path.display()
                ),
            })?;
            for r in rows {
                let entry = JournalEntry {
                    status: status_of(&r.status),
                    tool: r.tool.unwrap_or_default(),
                    attempts: r.attempts,
                    result: r.result,
                    error: r.error,
                    started_ms: r.started_ms.unwrap_or(0),
                    ended_ms: r.ended_ms,
                    args_sha256: r.args_sha256,
                    hash_of: None,
                    path: r.path,
                };
                latest.insert(entry.path.clone(), entry);
            }
        }
        Ok(latest.into_values().collect())
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
