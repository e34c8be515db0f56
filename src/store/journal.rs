//! The journal of a run (docs/store.md): one row per step, keyed by its step path,
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
use serde::Deserialize;
use serde_json::Value;

use super::{ARGS_KEPT, JournalEntry, Row, Store, StoreError};

enum Msg {
    /// Rows as JSON objects separated by commas.
    Rows(Vec<u8>),
    /// Commit everything before this, then answer.
    Sync(Sender<Result<(), StoreError>>),
}

/// Rows wait in the run's buffer until this many bytes have gathered, or the
/// writer comes for them ([`WAIT`]), or an effect, a pause or the end of the
/// run flushes them: one message and one wake-up of the writer per batch,
/// not per step.
const BATCH_BYTES: usize = 64 * 1024;

/// How long a finished pure step waits at most in the buffer before the
/// writer commits it (what a `kill -9` can lose, to be run again on resume).
const WAIT: Duration = Duration::from_millis(50);

/// The journal writer of one run.
pub struct Journal {
    /// Finished steps not yet handed to the writer. Sending to the writer
    /// happens under this lock, so rows reach it in the order they finished.
    buffer: Arc<Mutex<Buffer>>,
    writer: Option<JoinHandle<()>>,
    failure: Arc<Failure>,
}

/// The first store error under the run (a batch the writer could not
/// commit, an effect's start, an approval): the run stops at it.
#[derive(Default)]
struct Failure {
    error: Mutex<Option<StoreError>>,
    seen: tokio::sync::Notify,
}

struct Buffer {
    /// Rows serialised (JSON text), separated by commas.
    text: Vec<u8>,
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
        if self.text.is_empty() {
            return Ok(());
        }
        let rows = std::mem::replace(&mut self.text, Vec::with_capacity(BATCH_BYTES + 4096));
        self.send(Msg::Rows(rows))
    }

    fn push(&mut self, row: &Row<'_>) -> Result<(), StoreError> {
        let mut row = *row;
        // The label is kept only where the path does not say it.
        if row.step.is_some_and(|s| {
            row.path
                .strip_suffix(s)
                .is_some_and(|head| head.is_empty() || head.ends_with('/'))
        }) {
            row.step = None;
        }
        let mark = self.text.len();
        if mark > 0 {
            self.text.push(b',');
        }
        let r = serde_json::to_writer(&mut self.text, &row);
        if let Err(e) = r {
            self.text.truncate(mark);
            return Err(StoreError {
                message: format!("the step `{}` could not be journaled: {e}", row.path),
            });
        }
        // The arguments' JSON text, as the caller wrote it for their hash,
        // goes in as it is: the object's closing brace moves after it.
        if let Some(args) = row.args
            && self.text.last() == Some(&b'}')
        {
            self.text.pop();
            if args.len() <= ARGS_KEPT {
                self.text.extend_from_slice(b",\"args\":");
                self.text.extend_from_slice(args.as_bytes());
            } else {
                use std::io::Write;
                let _ = write!(self.text, ",\"args_bytes\":{}", args.len());
            }
            self.text.push(b'}');
        }
        Ok(())
    }
}

impl Journal {
    /// A writer for run `run_id` of the store in folder `dir`.
    pub fn new(dir: &Path, run_id: &str) -> Journal {
        let (tx, rx) = channel();
        let buffer = Arc::new(Mutex::new(Buffer {
            text: Vec::with_capacity(BATCH_BYTES + 4096),
            tx: Some(tx),
        }));
        let dir = dir.to_path_buf();
        let run_id = run_id.to_string();
        let shared = Arc::clone(&buffer);
        let failure = Arc::new(Failure::default());
        let fails = Arc::clone(&failure);
        let writer = std::thread::Builder::new()
            .name("flowc-journal".into())
            .spawn(move || write_loop(&dir, &run_id, &rx, &shared, &fails))
            .ok();
        Journal {
            buffer,
            writer,
            failure,
        }
    }

    /// The store failed under the run (the first error is kept): whoever
    /// waits in [`Journal::failed`] hears of it.
    pub fn fail(&self, e: StoreError) {
        self.failure.fail(e);
    }

    /// The store error the run stopped at, if one came.
    pub fn failure(&self) -> Option<StoreError> {
        self.failure
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Resolves with the first store error under the run (never, when none comes).
    pub async fn failed(&self) -> StoreError {
        loop {
            if let Some(e) = self.failure() {
                return e;
            }
            self.failure.seen.notified().await;
        }
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
            failure: self.failure.clone(),
        }
    }

    /// A step's row, written with the next batch.
    pub fn write(&self, row: &Row<'_>) -> Result<(), StoreError> {
        let mut b = self.buffer();
        b.push(row)?;
        if b.text.len() >= BATCH_BYTES {
            b.hand_over()?;
        }
        Ok(())
    }

    /// A step's row, committed with everything before it before this
    /// returns: an effect about to start, an accepted re-plan.
    pub fn write_now(&self, row: &Row<'_>) -> Result<(), StoreError> {
        self.buffer().push(row)?;
        self.flush()
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

/// A run's journal and approvals in the store: what a stored run's
/// interpreter writes through its host ([`crate::run::host::Journal`]).
pub struct RunJournal<'s> {
    store: &'s Store,
    run: String,
    journal: Journal,
}

impl<'s> RunJournal<'s> {
    /// Run `run` of `store`, its rows written by `journal` (a handle on the
    /// run's writer: the driver keeps the writer, and flushes it at the end).
    pub fn new(store: &'s Store, run: &str, journal: Journal) -> RunJournal<'s> {
        RunJournal {
            store,
            run: run.to_string(),
            journal,
        }
    }
}

impl crate::run::host::Journal for RunJournal<'_> {
    fn write(&self, row: &Row<'_>) -> Result<(), StoreError> {
        self.journal.write(row)
    }

    fn write_now(&self, row: &Row<'_>) -> Result<(), StoreError> {
        self.journal.write_now(row)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.journal.flush()
    }

    fn fail(&self, e: StoreError) {
        self.journal.fail(e);
    }

    fn approval(&self, path: &str) -> Result<Option<bool>, StoreError> {
        // Past its deadline, an unanswered approval is answered `expired` (no).
        self.store.approvals_expire(Some(&self.run))?;
        Ok(self
            .store
            .approval(&self.run, path)?
            .and_then(|a| a.answer()))
    }

    fn approval_deadline(&self, path: &str, within_ms: u64) -> Result<Option<i64>, StoreError> {
        self.store.approval_deadline(&self.run, path, within_ms)?;
        Ok(self
            .store
            .approval(&self.run, path)?
            .and_then(|a| a.deadline_ms))
    }

    fn approval_ask(
        &self,
        path: &str,
        message: &str,
        context: Option<&Value>,
    ) -> Result<(), StoreError> {
        self.store.approval_ask(&self.run, path, message, context)
    }

    fn approval_answered(
        &self,
        path: &str,
        message: &str,
        context: Option<&Value>,
        approved: bool,
        by: &str,
    ) -> Result<(), StoreError> {
        let answer = super::Answer {
            approved,
            by,
            note: Some("answered at the terminal"),
        };
        self.store
            .approval_answered_inline(&self.run, path, message, context, &answer)
    }
}

impl Failure {
    fn fail(&self, e: StoreError) {
        self.error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
        // A permit, if the run is not waiting yet.
        self.seen.notify_one();
    }
}

/// The writer: wakes for a batch, a flush or every [`WAIT`], takes every
/// row waiting, commits them in one transaction, answers the syncs among
/// them; until the run drops its sender. A batch it cannot commit stops the
/// run ([`Journal::failed`]) and fails every later flush.
fn write_loop(
    dir: &Path,
    run_id: &str,
    rx: &Receiver<Msg>,
    buffer: &Mutex<Buffer>,
    failure: &Failure,
) {
    let store = Store::open(dir);
    let mut seq = match &store {
        Ok(s) => s.journal_next_seq(run_id).map_err(|e| s.error(&e)),
        Err(e) => Err(e.clone()),
    };
    if let Err(e) = &seq {
        failure.fail(e.clone());
    }
    // The batch's JSON array: `[`, the rows, `]`.
    let mut batch = Vec::new();
    let mut syncs = Vec::new();
    let mut failed: Option<StoreError> = None;
    loop {
        let first = match rx.recv_timeout(WAIT) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        batch.clear();
        batch.push(b'[');
        let mut take = |rows: &[u8]| {
            if !rows.is_empty() {
                if batch.len() > 1 {
                    batch.push(b',');
                }
                batch.extend_from_slice(rows);
            }
        };
        {
            // Under the buffer's lock: what was sent before, then what waits.
            let mut b = buffer.lock().unwrap_or_else(|p| p.into_inner());
            let mut next = first;
            while let Some(m) = next {
                match m {
                    Msg::Rows(r) => take(&r),
                    Msg::Sync(s) => syncs.push(s),
                }
                next = rx.try_recv().ok();
            }
            take(&b.text);
            b.text.clear();
        }
        batch.push(b']');
        let r = match (&store, &mut seq) {
            // A batch that could not be written fails every later flush too.
            _ if failed.is_some() => Err(failed.clone().expect("checked")),
            (Ok(_), Ok(_)) if batch.len() == 2 => Ok(()),
            (Ok(s), Ok(n)) => {
                let put = s.journal_put(run_id, *n, &batch).map_err(|e| s.error(&e));
                if put.is_ok() {
                    *n += 1;
                }
                put
            }
            (Err(e), _) => Err(e.clone()),
            (_, Err(e)) => Err(e.clone()),
        };
        if let Err(e) = &r
            && failed.is_none()
        {
            failed = Some(e.clone());
            failure.fail(e.clone());
        }
        for s in syncs.drain(..) {
            let _ = s.send(r.clone());
        }
    }
}

/// A [`Row`] read back. A `result` or `error` that is present is kept even
/// when it is JSON `null` (a tool may return `null`); absent is `None`.
#[derive(Deserialize)]
struct RowIn {
    path: String,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    kind: Option<String>,
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
    #[serde(default)]
    cached_age_s: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    args: Option<Value>,
    #[serde(default)]
    args_bytes: Option<u64>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn status_of(s: &str) -> &'static str {
    match s {
        "ok" => "ok",
        "failed" => "failed",
        "replayed" => "replayed",
        "cached" => "cached",
        "cancelled" => "cancelled",
        "paused" => "paused",
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

    /// One batch: its rows as one JSON array, in one insert.
    fn journal_put(&self, run_id: &str, seq: i64, batch: &[u8]) -> rusqlite::Result<()> {
        let entries = std::str::from_utf8(batch)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.conn
            .prepare_cached("INSERT INTO journal_log (run_id, seq, entries) VALUES (?1, ?2, ?3)")?
            .execute(params![run_id, seq, entries])?;
        Ok(())
    }

    /// The journal of run `run_id`: the latest entry of every step, in the
    /// order those entries were written.
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
        // Each path's latest entry, with its place in the order of writing.
        let mut latest = std::collections::HashMap::new();
        let mut written = 0usize;
        for (seq, text) in batches {
            let rows: Vec<RowIn> = serde_json::from_str(&text).map_err(|e| StoreError {
                message: format!(
                    "the store `{}` is damaged: batch {seq} of the journal of run {run_id} does not read ({e}); resume cannot trust it: start the run again",
                    self.path.display()
                ),
            })?;
            for r in rows {
                let entry = JournalEntry {
                    step: r.step.unwrap_or_else(|| {
                        r.path.rsplit('/').next().unwrap_or_default().to_string()
                    }),
                    status: status_of(&r.status),
                    tool: r.tool.unwrap_or_default(),
                    kind: r.kind.unwrap_or_else(|| "tool".into()),
                    attempts: r.attempts,
                    result: r.result,
                    error: r.error,
                    started_ms: r.started_ms.unwrap_or(0),
                    ended_ms: r.ended_ms,
                    args_sha256: r.args_sha256,
                    cached_age_s: r.cached_age_s,
                    args: r.args,
                    args_bytes: r.args_bytes,
                    path: r.path,
                };
                written += 1;
                latest.insert(entry.path.clone(), (written, entry));
            }
        }
        let mut entries: Vec<(usize, JournalEntry)> = latest.into_values().collect();
        entries.sort_unstable_by_key(|(at, _)| *at);
        Ok(entries.into_iter().map(|(_, e)| e).collect())
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
        let one = serde_json::json!(1);
        let row = |path: &'static str, status: &'static str| Row {
            path,
            step: Some("a"),
            tool: "t",
            status,
            attempts: 1,
            result: Some(&one),
            started_ms: now_ms(),
            ended_ms: Some(now_ms()),
            args_sha256: Some("h"),
            ..Row::default()
        };
        j.write(&row("main/a", "ok")).expect("sent");
        j.write_now(&row("main/b", "running")).expect("committed");
        let rows = s.journal("r1").expect("read");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].status, "ok");
        assert_eq!(rows[0].result, Some(one.clone()));
        assert_eq!(
            (rows[0].step.as_str(), rows[0].kind.as_str()),
            ("a", "tool")
        );
        assert!(rows[0].replayable());
        assert_eq!(rows[1].status, "running");
        // A label that the path does not end with is kept.
        assert_eq!(rows[1].step, "a");
        assert!(!rows[1].replayable());
        j.write(&Row {
            kind: Some("flow"),
            ..row("main/c", "ok")
        })
        .expect("sent");
        j.flush().expect("committed");
        let rows = s.journal("r1").expect("read");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].kind, "flow");
        assert!(!rows[2].replayable(), "a flow's row is not replayed");
        drop(j);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_steps_arguments_are_kept_as_written_or_by_their_size_when_too_large() {
        let d = std::env::temp_dir().join(format!("flowc-journal-args-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let s = Store::open(&d).expect("store");
        let j = Journal::new(&d, "r1");
        let input = serde_json::json!({ "name": "a\"b", "n": 2.0, "l": [1, { "z": null }] });
        let call = crate::value::CallText::new("builtin \"echo\"", &input, ARGS_KEPT);
        let big = format!("{{\"s\":\"{}\"}}", "x".repeat(ARGS_KEPT));
        let row = |path: &'static str| Row {
            path,
            tool: "t",
            status: "ok",
            attempts: 1,
            started_ms: now_ms(),
            ..Row::default()
        };
        j.write(&Row {
            args: call.args(),
            args_sha256: Some(&call.hash),
            ..row("main/a")
        })
        .expect("sent");
        j.write(&Row {
            args: Some(&big),
            ..row("main/big")
        })
        .expect("sent");
        j.write(&row("main/none")).expect("sent");
        j.flush().expect("committed");
        let rows = s.journal("r1").expect("read");
        // The canonical text reads back as the value it was called with.
        let args = rows[0].args.clone().expect("kept");
        assert!(crate::value::equal(&args, &input), "{args}");
        assert_eq!(args["name"], "a\"b");
        assert_eq!(rows[0].args_bytes, None);
        assert_eq!(rows[0].args_sha256.as_deref(), Some(call.hash.as_str()));
        assert_eq!(
            (rows[1].args.as_ref(), rows[1].args_bytes),
            (None, Some(big.len() as u64))
        );
        assert_eq!((rows[2].args.as_ref(), rows[2].args_bytes), (None, None));
        // The view shows them too.
        let (text, bytes): (Option<String>, Option<i64>) = s
            .conn
            .query_row(
                "SELECT args, args_bytes FROM journal WHERE run_id = 'r1' AND path = 'main/a'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("the view");
        assert_eq!((text.as_deref(), bytes), (call.args(), None));
        drop(j);
        let _ = std::fs::remove_dir_all(&d);
    }
}
