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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::params;
use serde::Deserialize;
use serde_json::Value;

use super::{ARGS_KEPT, JournalEntry, Row, Store, StoreError};

enum Msg {
    /// A run's journal starts: its rows are written from now on.
    Open(Arc<Lane>),
    /// Rows wait in a run's buffer.
    Wake,
    /// Commit everything of run `.0` before this, then answer.
    Sync(u64, Sender<Result<(), StoreError>>),
    /// A run's journal ends: its last rows are written, then it is forgotten.
    Close(u64),
}

/// Rows wait in the run's buffer until this many bytes have gathered, or the
/// writer comes for them ([`WAIT`]), or an effect, a pause or the end of the
/// run flushes them: one message and one wake-up of the writer per batch,
/// not per step.
const BATCH_BYTES: usize = 64 * 1024;

/// How many batches a run's journal holds for the writer (8 MiB) before the
/// run waits for the writer to commit them: a run's journal holds bounded
/// memory however slow the disk.
const BEHIND: usize = 128;

/// The writer copies the store's write-ahead log into the database (a
/// checkpoint) itself, after it has answered the flushes waiting for its
/// commit: once it has committed this many bytes since the last copy (as
/// SQLite would at 1,000 pages), and when it has had nothing to write for
/// [`WAIT`]. (SQLite's own checkpoint runs inside a commit: a run's last
/// flush, or an effect's start, would wait for the copy of rows already
/// durable in the log.)
const LOG_BYTES: usize = 4 << 20;

/// How long a finished pure step waits at most in the buffer before the
/// writer commits it (what a `kill -9` can lose, to be run again on resume).
const WAIT: Duration = Duration::from_millis(50);

/// The journal of one run. Every run of one store in this process writes
/// through one writer thread and connection (a service runs many at once),
/// which commits what all of them wrote in one transaction.
pub struct Journal {
    lane: Arc<Lane>,
    writer: Arc<Writer>,
    /// The run's own journal (not a handle on it): its drop ends the run's part.
    own: bool,
}

/// One run's part of a writer.
struct Lane {
    key: u64,
    run_id: String,
    /// Finished steps not yet committed, in the order they finished.
    buffer: Mutex<Buffer>,
    failure: Failure,
}

/// The first store error under the run (a batch the writer could not
/// commit, an effect's start, an approval): the run stops at it.
#[derive(Default)]
struct Failure {
    error: Mutex<Option<StoreError>>,
    seen: tokio::sync::Notify,
}

struct Buffer {
    /// Rows not yet handed over.
    now: Chunk,
    /// Batches of [`BATCH_BYTES`] handed over, in order, before `now`.
    full: Vec<Chunk>,
    /// Chunks the writer has written, given back emptied (their memory is
    /// used again, not asked of the system for every batch).
    spare: Vec<Chunk>,
}

/// Rows serialised as JSON text: a JSON array once sealed, which the writer
/// commits as it is (one `journal_log` row), after it computes the hashes
/// in it.
struct Chunk {
    /// `[`, then the rows separated by commas.
    text: Vec<u8>,
    hashes: Vec<Hash>,
    /// The bindings the hashes are of, one after the other.
    bindings: Vec<u8>,
}

/// A row's `args_sha256` to compute: the hash of a binding, a NUL and the
/// row's arguments, written in hex over the 64 placeholder bytes at `at`.
struct Hash {
    at: usize,
    args: std::ops::Range<usize>,
    binding: std::ops::Range<usize>,
}

/// What a hash stands in for until the writer computes it.
const PLACEHOLDER: [u8; 64] = [b'0'; 64];

impl Chunk {
    fn with_capacity(bytes: usize) -> Chunk {
        let mut text = Vec::with_capacity(bytes);
        text.push(b'[');
        Chunk {
            text,
            // A row is 200 bytes or more.
            hashes: Vec::with_capacity(bytes / 200),
            bindings: Vec::with_capacity(bytes / 8),
        }
    }

    fn is_empty(&self) -> bool {
        self.text.len() <= 1
    }

    /// Computes its rows' hashes and closes the array (on the writer's
    /// thread).
    fn seal(&mut self) {
        for h in self.hashes.drain(..) {
            let mut hex = [0u8; 64];
            crate::ids::sha256_hex_into(
                &[&self.bindings[h.binding], b"\0", &self.text[h.args]],
                &mut hex,
            );
            self.text[h.at..h.at + 64].copy_from_slice(&hex);
        }
        self.bindings.clear();
        self.text.push(b']');
    }

    fn clear(&mut self) {
        self.text.clear();
        self.text.push(b'[');
        self.hashes.clear();
        self.bindings.clear();
    }
}

/// How many emptied chunks a run keeps for its next batches (about 1 MiB:
/// a run's journal holds at most that much memory it does not use). A
/// chunk freed goes back to the system, and the next one is faulted in
/// again, on the run's thread; more spares were no faster.
const SPARE: usize = 16;

impl Buffer {
    /// Sets the waiting rows aside as a batch for the writer.
    fn hand_over(&mut self) {
        if !self.now.is_empty() {
            let next = self
                .spare
                .pop()
                .unwrap_or_else(|| Chunk::with_capacity(BATCH_BYTES + 4096));
            let rows = std::mem::replace(&mut self.now, next);
            self.full.push(rows);
        }
    }

    fn pending(&self) -> bool {
        !self.now.is_empty() || !self.full.is_empty()
    }

    /// Every chunk of rows waiting, in order, for the writer.
    fn take(&mut self) -> Vec<Chunk> {
        self.hand_over();
        std::mem::take(&mut self.full)
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
        let chunk = &mut self.now;
        let text = &mut chunk.text;
        let mark = text.len();
        if mark > 1 {
            text.push(b',');
        }
        let r = row.write_json(text);
        if let Err(e) = r {
            text.truncate(mark);
            return Err(StoreError {
                message: format!("the step `{}` could not be journaled: {e}", row.path),
            });
        }
        // The arguments' JSON text, as the caller wrote it for their hash,
        // goes in as it is: the object's closing brace moves after it; then
        // their hash, when the writer is to compute it.
        if let Some(args) = row.args
            && text.last() == Some(&b'}')
        {
            text.pop();
            if args.len() <= ARGS_KEPT {
                text.extend_from_slice(b",\"args\":");
                let at = text.len();
                text.extend_from_slice(args.as_bytes());
                if let (None, Some(binding)) = (row.args_sha256, row.hash_binding) {
                    text.extend_from_slice(b",\"args_sha256\":\"");
                    let b = chunk.bindings.len();
                    chunk.bindings.extend_from_slice(binding.as_bytes());
                    chunk.hashes.push(Hash {
                        at: text.len(),
                        args: at..at + args.len(),
                        binding: b..chunk.bindings.len(),
                    });
                    text.extend_from_slice(&PLACEHOLDER);
                    text.push(b'"');
                }
            } else {
                use std::io::Write;
                let _ = write!(text, ",\"args_bytes\":{}", args.len());
                if let (None, Some(binding)) = (row.args_sha256, row.hash_binding) {
                    let hash = crate::ids::cache_key(binding, args);
                    let _ = write!(text, ",\"args_sha256\":\"{hash}\"");
                }
            }
            text.push(b'}');
        }
        Ok(())
    }
}

/// The writer thread of one store's folder, shared by the journals that
/// use it; it ends when the last of them is dropped.
struct Writer {
    tx: Mutex<Sender<Msg>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    fn send(&self, m: Msg) -> Result<(), StoreError> {
        self.tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(m)
            .map_err(|_| StoreError {
                message: "the journal's writer stopped".into(),
            })
    }

    /// The writer of the store in `dir`: the one running, or a new one.
    fn of(dir: &Path) -> Arc<Writer> {
        static WRITERS: Mutex<Option<HashMap<PathBuf, Weak<Writer>>>> = Mutex::new(None);
        let mut writers = WRITERS.lock().unwrap_or_else(|p| p.into_inner());
        let writers = writers.get_or_insert_with(HashMap::new);
        writers.retain(|_, w| w.strong_count() > 0);
        if let Some(w) = writers.get(dir).and_then(Weak::upgrade) {
            return w;
        }
        let (tx, rx) = channel();
        let folder = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("flowc-journal".into())
            .spawn(move || write_loop(&folder, &rx))
            .ok();
        let w = Arc::new(Writer {
            tx: Mutex::new(tx),
            thread: Mutex::new(thread),
        });
        writers.insert(dir.to_path_buf(), Arc::downgrade(&w));
        w
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // A closed channel ends the loop once what it holds is written.
        let (tx, _) = channel();
        drop(std::mem::replace(
            self.tx.get_mut().unwrap_or_else(|p| p.into_inner()),
            tx,
        ));
        if let Some(t) = self
            .thread
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = t.join();
        }
    }
}

impl Journal {
    /// The journal of run `run_id` of the store in folder `dir`.
    pub fn new(dir: &Path, run_id: &str) -> Journal {
        use std::sync::atomic::{AtomicU64, Ordering};
        static KEYS: AtomicU64 = AtomicU64::new(1);
        let lane = Arc::new(Lane {
            key: KEYS.fetch_add(1, Ordering::Relaxed),
            run_id: run_id.to_string(),
            buffer: Mutex::new(Buffer {
                now: Chunk::with_capacity(4096),
                full: Vec::new(),
                spare: Vec::new(),
            }),
            failure: Failure::default(),
        });
        let writer = Writer::of(dir);
        if let Err(e) = writer.send(Msg::Open(lane.clone())) {
            lane.failure.fail(e);
        }
        Journal {
            lane,
            writer,
            own: true,
        }
    }

    /// The store failed under the run (the first error is kept): whoever
    /// waits in [`Journal::failed`] hears of it.
    pub fn fail(&self, e: StoreError) {
        self.lane.failure.fail(e);
    }

    /// The first store error under the run, if any.
    pub fn failure(&self) -> Option<StoreError> {
        self.lane
            .failure
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Returns when the store fails under the run (never, if it does not).
    pub async fn failed(&self) -> StoreError {
        loop {
            if let Some(e) = self.failure() {
                return e;
            }
            self.lane.failure.seen.notified().await;
        }
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.lane.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Another handle on the same journal (the step host's): its rows go to
    /// the same buffer; dropping it does not end the journal.
    pub fn handle(&self) -> Journal {
        Journal {
            lane: self.lane.clone(),
            writer: self.writer.clone(),
            own: false,
        }
    }

    /// Keeps a finished step; written within [`WAIT`] or with the batch.
    pub fn write(&self, row: &Row<'_>) -> Result<(), StoreError> {
        let mut b = self.buffer();
        b.push(row)?;
        if b.now.text.len() >= BATCH_BYTES {
            b.hand_over();
            let behind = b.full.len() >= BEHIND;
            drop(b);
            self.writer.send(Msg::Wake)?;
            if behind {
                // The writer is that far behind (a slow or busy disk): the
                // run waits for it rather than hold more of its journal.
                self.flush()?;
            }
        }
        Ok(())
    }

    /// How many batches wait for the writer.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.buffer().full.len()
    }

    /// Keeps `row` and waits until it and every row before it are committed.
    pub fn write_now(&self, row: &Row<'_>) -> Result<(), StoreError> {
        self.buffer().push(row)?;
        self.flush()
    }

    /// Waits until every row written so far is committed.
    pub fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = channel();
        self.writer.send(Msg::Sync(self.lane.key, tx))?;
        rx.recv().unwrap_or_else(|_| {
            Err(StoreError {
                message: "the journal's writer stopped".into(),
            })
        })
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // The run's own journal: what it holds is written, then the run is
        // forgotten by the writer (which ends with the last run).
        if self.own {
            if self.buffer().pending() {
                let _ = self.flush();
            }
            let _ = self.writer.send(Msg::Close(self.lane.key));
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

/// A run's part as the writer keeps it: its next batch number, or why it
/// cannot be written (a batch it could not commit fails every later flush).
struct Open {
    lane: Arc<Lane>,
    seq: Result<i64, StoreError>,
    closing: bool,
}

/// The writer: wakes for a batch, a flush, a run's start or end, or every
/// [`WAIT`]; takes every row waiting in every run's buffer, commits them in
/// one transaction (one `journal_log` row per run), answers the syncs; until
/// the last journal using it is dropped. A batch it cannot commit stops its
/// runs ([`Journal::failed`]).
fn write_loop(dir: &Path, rx: &Receiver<Msg>) {
    let mut store: Option<Store> = None;
    let mut runs: HashMap<u64, Open> = HashMap::new();
    let mut syncs: Vec<(u64, Sender<Result<(), StoreError>>)> = Vec::new();
    // Bytes committed since the log was last copied into the database.
    let mut logged = 0usize;
    loop {
        let first = match rx.recv_timeout(WAIT) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let idle = first.is_none();
        let mut next = first;
        while let Some(m) = next {
            match m {
                Msg::Open(lane) => {
                    // A store that could not be opened is tried again for each run.
                    if store.is_none() {
                        match Store::open(dir) {
                            Ok(s) => {
                                // Checkpoints: see [`LOG_BYTES`].
                                let _ = s.conn.execute_batch("PRAGMA wal_autocheckpoint = 0");
                                store = Some(s);
                            }
                            Err(e) => lane.failure.fail(e),
                        }
                    }
                    let seq = match &store {
                        Some(s) => s.journal_next_seq(&lane.run_id).map_err(|e| s.error(&e)),
                        None => Err(lane.failure.error().unwrap_or_else(|| StoreError {
                            message: "the store could not be opened".into(),
                        })),
                    };
                    if let Err(e) = &seq {
                        lane.failure.fail(e.clone());
                    }
                    runs.insert(
                        lane.key,
                        Open {
                            lane,
                            seq,
                            closing: false,
                        },
                    );
                }
                Msg::Wake => {}
                Msg::Sync(key, s) => syncs.push((key, s)),
                Msg::Close(key) => {
                    if let Some(o) = runs.get_mut(&key) {
                        o.closing = true;
                    }
                }
            }
            next = rx.try_recv().ok();
        }
        // Every run's rows: the chunks handed over, then what waits; their
        // hashes are computed here, outside the lock the run writes under.
        let mut batches: Vec<(u64, Vec<Chunk>)> = Vec::new();
        for (key, o) in &runs {
            let mut chunks = {
                let mut b = o.lane.buffer.lock().unwrap_or_else(|p| p.into_inner());
                if !b.pending() {
                    continue;
                }
                b.take()
            };
            for c in &mut chunks {
                c.seal();
            }
            batches.push((*key, chunks));
        }
        let wrote = !batches.is_empty();
        if wrote {
            let written = match &store {
                Some(s) => s.journal_put_all(&mut runs, &batches),
                None => Err(StoreError {
                    message: "the store could not be opened".into(),
                }),
            };
            if let Err(e) = written {
                for (key, _) in &batches {
                    if let Some(o) = runs.get_mut(key) {
                        if o.seq.is_ok() {
                            o.seq = Err(e.clone());
                        }
                        o.lane.failure.fail(e.clone());
                    }
                }
            }
            logged += batches
                .iter()
                .flat_map(|(_, chunks)| chunks)
                .map(|c| c.text.len())
                .sum::<usize>();
            // The chunks go back to their runs, to be filled again.
            for (key, chunks) in batches {
                if let Some(o) = runs.get(&key) {
                    let mut b = o.lane.buffer.lock().unwrap_or_else(|p| p.into_inner());
                    for mut c in chunks {
                        if b.spare.len() < SPARE && c.text.capacity() >= BATCH_BYTES {
                            c.clear();
                            b.spare.push(c);
                        }
                    }
                }
            }
        }
        for (key, s) in syncs.drain(..) {
            let r = match runs.get(&key) {
                Some(o) => o.seq.as_ref().map(|_| ()).map_err(Clone::clone),
                None => Err(StoreError {
                    message: "the journal's writer does not know the run".into(),
                }),
            };
            let _ = s.send(r);
        }
        if (logged >= LOG_BYTES || (idle && !wrote && logged > 0))
            && let Some(s) = &store
        {
            s.checkpoint();
            logged = 0;
        }
        runs.retain(|_, o| !o.closing);
    }
}

impl Failure {
    fn error(&self) -> Option<StoreError> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Store {
    /// Copies the write-ahead log into the database, as far as no reader
    /// holds it back (a passive checkpoint); a failure is left to the next.
    fn checkpoint(&self) {
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }

    /// Commits every run's chunks, one `journal_log` row each, in one
    /// transaction; a run's batch number goes up by a chunk once it is
    /// committed.
    fn journal_put_all(
        &self,
        runs: &mut HashMap<u64, Open>,
        batches: &[(u64, Vec<Chunk>)],
    ) -> Result<(), StoreError> {
        let put = || -> rusqlite::Result<()> {
            self.conn
                .prepare_cached("BEGIN IMMEDIATE")
                .and_then(|mut s| s.execute([]))?;
            let r = (|| {
                for (key, chunks) in batches {
                    // A run whose journal already failed writes nothing more.
                    if let Some(Open {
                        lane, seq: Ok(n), ..
                    }) = runs.get(key)
                    {
                        for (k, c) in chunks.iter().enumerate() {
                            self.journal_put(&lane.run_id, *n + k as i64, &c.text)?;
                        }
                    }
                }
                self.conn
                    .prepare_cached("COMMIT")
                    .and_then(|mut s| s.execute([]))
                    .map(drop)
            })();
            if r.is_err() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            r
        };
        put().map_err(|e| self.error(&e))?;
        for (key, chunks) in batches {
            if let Some(Open { seq: Ok(n), .. }) = runs.get_mut(key) {
                *n += chunks.len() as i64;
            }
        }
        Ok(())
    }
}

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
        self.conn
            .prepare_cached("SELECT COALESCE(MAX(seq) + 1, 0) FROM journal_log WHERE run_id = ?1")
            .and_then(|mut s| s.query_row([run_id], |r| r.get(0)))
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
            .prepare_cached("SELECT seq, entries FROM journal_log WHERE run_id = ?1 ORDER BY seq")
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

    /// An empty folder of this process for the test `tag`.
    fn folder(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("flowc-journal{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// A step's row of about 1 KB (its result `text`).
    fn kilobyte_row<'a>(path: &'a str, text: &'a Value) -> Row<'a> {
        Row {
            path,
            tool: "t",
            status: "ok",
            attempts: 1,
            result: Some(text),
            ..Row::default()
        }
    }

    #[test]
    fn rows_are_committed_by_an_effect_start_and_by_flush() {
        let d = folder("");
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
    fn a_run_waits_for_a_writer_that_falls_behind_rather_than_hold_its_journal() {
        let d = folder("-behind");
        let s = Store::open(&d).expect("store");
        let j = Journal::new(&d, "r1");
        let seen = j.handle();
        // Another connection holds the database's write lock: the writer
        // waits for it (within the store's busy timeout).
        let lock = rusqlite::Connection::open(d.join("flowc.db")).expect("open");
        lock.execute_batch("BEGIN IMMEDIATE").expect("locked");
        // 30,000 rows of about 1 KB: more than the run may hold, with what
        // the writer took before it found the lock.
        const ROWS: usize = 30_000;
        let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = written.clone();
        let run = std::thread::spawn(move || {
            let text = serde_json::json!("x".repeat(1000));
            for k in 0..ROWS {
                j.write(&kilobyte_row(&format!("main/s{k}"), &text))
                    .expect("kept");
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            j.flush().expect("committed");
            j
        });
        std::thread::sleep(Duration::from_millis(1500));
        let held = written.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            (BEHIND * BATCH_BYTES / 1100..ROWS).contains(&held),
            "{held} rows written while the writer could not commit"
        );
        assert_eq!(seen.waiting(), BEHIND);
        lock.execute_batch("COMMIT").expect("unlocked");
        let j = run.join().expect("the run ends");
        assert_eq!(s.journal("r1").expect("read").len(), ROWS);
        drop((j, seen));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_log_is_copied_into_the_database_once_the_writer_is_idle() {
        let d = folder("-idle");
        let s = Store::open(&d).expect("store");
        let j = Journal::new(&d, "r1");
        let text = serde_json::json!("x".repeat(1000));
        for k in 0..400 {
            j.write(&kilobyte_row(&format!("main/s{k}"), &text))
                .expect("sent");
        }
        j.flush().expect("committed");
        // 400 KB: a tenth of what SQLite's own checkpoint waits for. The
        // writer copies the log once nothing has come for a while.
        let db = d.join("flowc.db");
        let copied = (0..250).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            std::fs::metadata(&db).is_ok_and(|m| m.len() > 400_000)
        });
        assert!(copied, "the database file did not take the log's rows");
        assert_eq!(s.journal("r1").expect("read").len(), 400);
        drop(j);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_steps_arguments_are_kept_as_written_or_by_their_size_when_too_large() {
        let d = folder("-args");
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
            hash_binding: call.binding(),
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
        // Its hash, computed by the writer, is the call's.
        let hash = crate::value::call_hash("builtin \"echo\"", &input);
        assert_eq!(rows[0].args_sha256.as_deref(), Some(hash.as_str()));
        assert_eq!(
            (rows[1].args.as_ref(), rows[1].args_bytes),
            (None, Some(big.len() as u64))
        );
        assert_eq!((rows[2].args.as_ref(), rows[2].args_bytes), (None, None));
        // The view shows them too.
        let (text, bytes): (Option<String>, Option<i64>) = s
            .conn
            .prepare_cached(
                "SELECT args, args_bytes FROM journal WHERE run_id = 'r1' AND path = 'main/a'",
            )
            .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
            .expect("the view");
        assert_eq!((text.as_deref(), bytes), (call.args(), None));
        drop(j);
        let _ = std::fs::remove_dir_all(&d);
    }
}
