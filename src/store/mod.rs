//! The embedded store (docs/store.md): one SQLite file, by default
//! `.flowc/flowc.db`, holding the runs, the source files they used, the
//! journal of their steps and the cross-run result cache. Its schema is
//! versioned with `PRAGMA user_version` and documented in `docs/store.md`.
//!
//! WAL mode and a busy timeout let several processes share one store (two
//! runs, `flowc runs` while a run writes); every write is one short
//! transaction. A store that is locked too long, damaged, not a flowc store,
//! or written by a newer flowc is a [`StoreError`] naming the file and what
//! to do, never a panic and never a silent reset.
//!
//! This module knows nothing of the interpreter: it stores JSON values and
//! strings its callers computed (canonical arguments, step paths).

mod approvals;
mod cache;
mod journal;
mod runs;
mod schedules;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

pub use crate::ids::{cache_key, new_run_id, now_ms, sha256_hex};
pub use crate::run::host::{ARGS_KEPT, JournalEntry, Row};
pub use crate::run::host::{CacheHit, StoreError};
pub use approvals::{Answer, Approval};
pub use journal::{Journal, RunJournal};
pub use runs::{NewRun, Process, RunEnd, RunRow, RunStatus};
pub use schedules::{Claim, Slot};

/// The schema version this flowc writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 7;

/// How long a write waits for another process's transaction to end.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The store's file name inside its folder.
pub const FILE_NAME: &str = "flowc.db";

/// The tables of schema version 1 (see `docs/store.md`).
const SCHEMA_V1: &str = "
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    flow          TEXT NOT NULL,
    file          TEXT NOT NULL,
    status        TEXT NOT NULL,
    started_ms    INTEGER NOT NULL,
    ended_ms      INTEGER,
    pid           INTEGER NOT NULL,
    host          TEXT NOT NULL,
    process       TEXT,
    flowc_version TEXT NOT NULL,
    args          TEXT NOT NULL,
    result        TEXT,
    error         TEXT,
    record        TEXT
);
CREATE INDEX runs_by_start ON runs (started_ms);
CREATE TABLE run_sources (
    run_id TEXT NOT NULL,
    path   TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (run_id, path)
);
CREATE TABLE journal (
    run_id     TEXT NOT NULL,
    path       TEXT NOT NULL,
    tool       TEXT,
    status     TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    result     TEXT,
    error      TEXT,
    started_ms INTEGER,
    ended_ms   INTEGER,
    PRIMARY KEY (run_id, path)
);
CREATE TABLE cache (
    key        TEXT PRIMARY KEY,
    tool       TEXT NOT NULL,
    binding    TEXT NOT NULL,
    args       TEXT NOT NULL,
    result     TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX cache_by_tool ON cache (tool);
";

/// From version 1 to 2: the journal keeps a hash of each step's tool
/// binding and canonical arguments (resume with `--allow-changed`).
const MIGRATE_V2: &str = "ALTER TABLE journal ADD COLUMN args_sha256 TEXT;";

/// From version 2 to 3: the approvals of paused runs, and the `--set`
/// options a run was started with (resume uses them again).
const MIGRATE_V3: &str = "
CREATE TABLE approvals (
    run_id      TEXT NOT NULL,
    path        TEXT NOT NULL,
    message     TEXT NOT NULL,
    context     TEXT,
    status      TEXT NOT NULL,
    asked_ms    INTEGER NOT NULL,
    answered_ms INTEGER,
    answered_by TEXT,
    note        TEXT,
    PRIMARY KEY (run_id, path)
);
ALTER TABLE runs ADD COLUMN options TEXT;
";

/// From version 3 to 4: the journal is a log of batches, one row per
/// commit holding the steps it wrote as a JSON array (one SQLite row per step
/// cost about 4 µs a step, more than a zero-latency step itself); the view
/// `journal` shows the latest entry of every step as the table of version 3
/// did, for `sqlite3` users.
const MIGRATE_V4: &str = "
CREATE TABLE journal_log (
    run_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    entries TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
INSERT INTO journal_log (run_id, seq, entries)
SELECT run_id, 0, json_group_array(json_remove(
    json_object(
        'path', path, 'tool', tool, 'status', status, 'attempts', attempts,
        'result', json(result), 'error', json(error), 'started_ms', started_ms,
        'ended_ms', ended_ms, 'args_sha256', args_sha256),
    CASE WHEN result IS NULL THEN '$.result' ELSE '$.none' END,
    CASE WHEN error IS NULL THEN '$.error' ELSE '$.none' END,
    CASE WHEN ended_ms IS NULL THEN '$.ended_ms' ELSE '$.none' END,
    CASE WHEN args_sha256 IS NULL THEN '$.args_sha256' ELSE '$.none' END))
FROM journal GROUP BY run_id;
DROP TABLE journal;
CREATE VIEW journal AS
SELECT run_id, path, tool, status, attempts, result, error, started_ms, ended_ms, args_sha256
FROM (
    SELECT l.run_id AS run_id,
           e.value ->> '$.path' AS path,
           e.value ->> '$.tool' AS tool,
           e.value ->> '$.status' AS status,
           e.value ->> '$.attempts' AS attempts,
           e.value -> '$.result' AS result,
           e.value -> '$.error' AS error,
           e.value ->> '$.started_ms' AS started_ms,
           e.value ->> '$.ended_ms' AS ended_ms,
           e.value ->> '$.args_sha256' AS args_sha256,
           row_number() OVER (
               PARTITION BY l.run_id, e.value ->> '$.path'
               ORDER BY l.seq DESC, e.key DESC
           ) AS latest
    FROM journal_log AS l, json_each(l.entries) AS e
)
WHERE latest = 1;
";

/// From version 4 to 5: the journal is also the step view of a run (its
/// record in `runs` no longer lists the steps). Its entries may have a
/// `kind` (`flow`, `llm`, `approval`; absent: `tool`), a `step` (the label,
/// when the path does not end with it) and a `cached_age_s`, and the
/// statuses `cached`, `replayed`, `cancelled` and `paused`; a `replayed`
/// entry keeps its result, so a later resume replays it again. No data
/// changes, but a flowc of version 4 would read `replayed` as not done and
/// `cancelled` as an effect that may have happened: hence the new version.
/// The view `journal` shows the new keys.
const MIGRATE_V5: &str = "
DROP VIEW journal;
CREATE VIEW journal AS
SELECT run_id, path, step, tool, kind, status, attempts, result, error, started_ms, ended_ms,
       args_sha256, cached_age_s
FROM (
    SELECT l.run_id AS run_id,
           e.value ->> '$.path' AS path,
           coalesce(e.value ->> '$.step', replace(e.value ->> '$.path',
               rtrim(e.value ->> '$.path', replace(e.value ->> '$.path', '/', '')), '')) AS step,
           e.value ->> '$.tool' AS tool,
           coalesce(e.value ->> '$.kind', 'tool') AS kind,
           e.value ->> '$.status' AS status,
           e.value ->> '$.attempts' AS attempts,
           e.value -> '$.result' AS result,
           e.value -> '$.error' AS error,
           e.value ->> '$.started_ms' AS started_ms,
           e.value ->> '$.ended_ms' AS ended_ms,
           e.value ->> '$.args_sha256' AS args_sha256,
           e.value ->> '$.cached_age_s' AS cached_age_s,
           row_number() OVER (
               PARTITION BY l.run_id, e.value ->> '$.path'
               ORDER BY l.seq DESC, e.key DESC
           ) AS latest
    FROM journal_log AS l, json_each(l.entries) AS e
)
WHERE latest = 1;
";

/// From version 5 to 6: the slots of `schedule` items that a server fired
/// or skipped, one row per (schedule, slot) — the key that keeps a slot from
/// being fired twice, across restarts and by two servers on one store — and
/// the deadline of an approval that expires (`approve … within 24h`).
const MIGRATE_V6: &str = "
CREATE TABLE schedule_slots (
    schedule TEXT NOT NULL,
    slot_ms  INTEGER NOT NULL,
    outcome  TEXT NOT NULL,
    run_id   TEXT,
    at_ms    INTEGER NOT NULL,
    note     TEXT,
    PRIMARY KEY (schedule, slot_ms)
);
ALTER TABLE approvals ADD COLUMN deadline_ms INTEGER;
";

/// From version 6 to 7: journal entries keep the arguments a step was
/// called with (`args`: a tool call's canonical JSON arguments, a flow
/// call's, a decision's prompt, context and options), or their size when
/// too large to keep (`args_bytes`). Entries written before have neither
/// (shown as not kept); no data changes, and the view `journal` shows the
/// new keys.
const MIGRATE_V7: &str = "
DROP VIEW journal;
CREATE VIEW journal AS
SELECT run_id, path, step, tool, kind, status, attempts, result, error, started_ms, ended_ms,
       args_sha256, cached_age_s, args, args_bytes
FROM (
    SELECT l.run_id AS run_id,
           e.value ->> '$.path' AS path,
           coalesce(e.value ->> '$.step', replace(e.value ->> '$.path',
               rtrim(e.value ->> '$.path', replace(e.value ->> '$.path', '/', '')), '')) AS step,
           e.value ->> '$.tool' AS tool,
           coalesce(e.value ->> '$.kind', 'tool') AS kind,
           e.value ->> '$.status' AS status,
           e.value ->> '$.attempts' AS attempts,
           e.value -> '$.result' AS result,
           e.value -> '$.error' AS error,
           e.value ->> '$.started_ms' AS started_ms,
           e.value ->> '$.ended_ms' AS ended_ms,
           e.value ->> '$.args_sha256' AS args_sha256,
           e.value ->> '$.cached_age_s' AS cached_age_s,
           e.value -> '$.args' AS args,
           e.value ->> '$.args_bytes' AS args_bytes,
           row_number() OVER (
               PARTITION BY l.run_id, e.value ->> '$.path'
               ORDER BY l.seq DESC, e.key DESC
           ) AS latest
    FROM journal_log AS l, json_each(l.entries) AS e
)
WHERE latest = 1;
";

/// The migrations, in order: `MIGRATIONS[k]` takes version `k + 1` to `k + 2`.
const MIGRATIONS: [&str; 6] = [
    MIGRATE_V2, MIGRATE_V3, MIGRATE_V4, MIGRATE_V5, MIGRATE_V6, MIGRATE_V7,
];

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating it when missing) the store in folder `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(FILE_NAME);
        // The store holds the arguments and results of every run: its folder,
        // when flowc makes it, is its owner's only (an existing folder, which
        // may be shared, is left as it is), and its files are too.
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
        }
        .map_err(|e| StoreError {
            message: format!(
                "cannot create the store's folder `{}`: {e}; choose another with --store DIR, or run with --no-store",
                dir.display()
            ),
        })?;
        owner_only(&path)?;
        // Two processes that open a store that does not exist yet may both
        // read its empty header as a rollback-journal database; then the one
        // that switches it to WAL second can never get the exclusive lock the
        // switch needs (the first holds WAL's shared lock for as long as it
        // runs). The switch therefore does not wait: a busy one reopens the
        // file, which then reads as WAL, and tries again.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let store = loop {
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| describe(&path, &e))?;
            // A server's connections live long and run the same few dozen
            // statements: each prepared once.
            conn.set_prepared_statement_cache_capacity(64);
            let store = Store {
                conn,
                path: path.clone(),
            };
            match store.setup() {
                Ok(()) => break store,
                Err(e)
                    if matches!(
                        e.sqlite_error_code(),
                        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                    ) && std::time::Instant::now() < deadline =>
                {
                    drop(store);
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(store.error(&e)),
            }
        };
        store.migrate()?;
        Ok(store)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Connection settings: the busy timeout first, so that every later
    /// statement waits for a lock instead of failing at once.
    fn setup(&self) -> rusqlite::Result<()> {
        // The switch to WAL does not wait (see `open`); everything after it does.
        self.conn.busy_timeout(Duration::ZERO)?;
        // Durable across a crash of the process in WAL mode; FULL would add
        // power-loss safety at the cost of an fsync per commit.
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;")?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("the store stays in `{mode}` journal mode, not WAL")),
            ));
        }
        Ok(())
    }

    /// Creates the schema in a new store; refuses a newer one or a file that
    /// is not a flowc store.
    fn migrate(&self) -> Result<(), StoreError> {
        let version = self.user_version()?;
        if version == 0 {
            // A new file, or one that another process is creating right now:
            // `BEGIN IMMEDIATE` takes the write lock, so exactly one creates it.
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| self.error(&e))?;
            let created = self.create_schema();
            let end = if created.is_ok() {
                "COMMIT"
            } else {
                "ROLLBACK"
            };
            let ended = self.conn.execute_batch(end).map_err(|e| self.error(&e));
            created?;
            ended?;
        }
        // Each older version, one migration at a time, each in one transaction.
        loop {
            let v = self.user_version()?;
            if !(1..SCHEMA_VERSION).contains(&v) {
                break;
            }
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| self.error(&e))?;
            // Another process may have migrated it first.
            let migrated = match self.user_version() {
                Ok(now) if now == v => self
                    .conn
                    .execute_batch(&format!(
                        "{} PRAGMA user_version = {};",
                        MIGRATIONS[(v - 1) as usize],
                        v + 1
                    ))
                    .map_err(|e| self.error(&e)),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            let end = if migrated.is_ok() {
                "COMMIT"
            } else {
                "ROLLBACK"
            };
            let ended = self.conn.execute_batch(end).map_err(|e| self.error(&e));
            migrated?;
            ended?;
        }
        let version = self.user_version()?;
        if version > SCHEMA_VERSION {
            return Err(StoreError {
                message: format!(
                    "the store `{}` has schema version {version}, written by a newer flowc; this flowc knows version {SCHEMA_VERSION}: use a newer flowc, or another store (--store DIR, FLOWC_STORE) or --no-store",
                    self.path.display()
                ),
            });
        }
        Ok(())
    }

    /// Inside the write lock: the tables of [`SCHEMA_VERSION`], unless another
    /// process made them first.
    fn create_schema(&self) -> Result<(), StoreError> {
        if self.user_version()? != 0 {
            return Ok(());
        }
        let tables: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.error(&e))?;
        if tables > 0 {
            return Err(StoreError {
                message: format!(
                    "`{}` is an SQLite database but not a flowc store (it has tables and no flowc schema version): choose another store with --store DIR",
                    self.path.display()
                ),
            });
        }
        self.conn
            .execute_batch(SCHEMA_V1)
            .and_then(|()| {
                self.conn.execute_batch(&format!(
                    "{} PRAGMA user_version = {SCHEMA_VERSION}",
                    MIGRATIONS.concat()
                ))
            })
            .map_err(|e| self.error(&e))
    }

    /// `flowc store check`: SQLite's integrity check of the whole file (every
    /// page, every index against its table), and the JSON of every journal
    /// batch and run; the problems found, in words (none: a sound store).
    pub fn check(&self) -> Result<Vec<String>, StoreError> {
        let checked = self
            .conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut q| {
                q.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            });
        let mut problems: Vec<String> = match checked {
            Ok(lines) => lines.into_iter().filter(|line| line != "ok").collect(),
            // Damage that stops the check itself is its finding.
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
                ) =>
            {
                vec![format!("SQLite stopped the check: {e}")]
            }
            Err(e) => return Err(self.error(&e)),
        };
        if !problems.is_empty() {
            // The tables below may not read: SQLite's findings are the answer.
            return Ok(problems);
        }
        let mut json = |sql: &str, what: &dyn Fn(String, String) -> String| {
            self.conn
                .prepare(sql)
                .and_then(|mut q| {
                    q.query_map([], |r| Ok(what(r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map(|found| problems.extend(found))
                .map_err(|e| self.error(&e))
        };
        json(
            "SELECT run_id, seq FROM journal_log WHERE NOT json_valid(entries) ORDER BY run_id, seq",
            &|run, seq| format!("batch {seq} of the journal of run {run} is not JSON"),
        )?;
        json(
            "SELECT id, 'x' FROM runs WHERE NOT (json_valid(args) AND json_valid(coalesce(options, 'null'))
                 AND json_valid(coalesce(result, 'null')) AND json_valid(coalesce(error, 'null'))
                 AND json_valid(coalesce(record, 'null'))) ORDER BY id",
            &|run, _| format!("run {run} has a column that is not JSON"),
        )?;
        Ok(problems)
    }

    fn user_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.error(&e))
    }

    /// A database error of this store, in words.
    fn error(&self, e: &rusqlite::Error) -> StoreError {
        describe(&self.path, e)
    }
}

/// Makes the database file readable and writable by its owner only (0600),
/// creating it empty when missing, before SQLite opens it: SQLite gives its
/// `-wal` and `-shm` files the database file's permissions. A store made
/// by an older flowc (0644) is tightened, with those files when present.
///
/// An existing file is never opened here: closing a descriptor of the file
/// would drop the POSIX locks that this process's other connections to it
/// hold (the journal's writer has one), and a process that thinks it is the
/// last one open then deletes the WAL under them.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match made {
        Ok(f) => drop(f),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(StoreError {
                message: format!(
                    "cannot create the store `{}` ({e}): check its folder's permissions, or use another store (--store DIR, FLOWC_STORE) or --no-store",
                    path.display()
                ),
            });
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            // Another user's store keeps its permissions (theirs to set).
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
    Ok(())
}

/// An SQLite error on the store at `path`, with what to do about it.
fn describe(path: &Path, e: &rusqlite::Error) -> StoreError {
    let p = path.display();
    if let rusqlite::Error::FromSqlConversionFailure(..) = e {
        return StoreError {
            message: format!(
                "the store `{p}` is damaged: {e}; `flowc store check` lists what else is: move it away (flowc then starts a new, empty store there) or use another store (--store DIR, FLOWC_STORE) or --no-store"
            ),
        };
    }
    let message = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
            "the store `{p}` is locked by another process (waited {} s): try again when it is done, or use another store (--store DIR, FLOWC_STORE) or --no-store",
            BUSY_TIMEOUT.as_secs()
        ),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => format!(
            "the store `{p}` is damaged or not an SQLite database ({e}): move it away (flowc then starts a new, empty store there) or use another store (--store DIR, FLOWC_STORE) or --no-store"
        ),
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen) => format!(
            "cannot open the store `{p}` for writing ({e}): check its permissions, or use another store (--store DIR, FLOWC_STORE) or --no-store"
        ),
        Some(ErrorCode::DiskFull) => format!(
            "the disk of the store `{p}` is full ({e}): free some space, or use another store (--store DIR, FLOWC_STORE) or --no-store"
        ),
        Some(ErrorCode::SystemIoFailure) => format!(
            "cannot read or write the store `{p}` ({e}: its disk may be full or failing, or the file over a size limit): free some space, or use another store (--store DIR, FLOWC_STORE) or --no-store"
        ),
        _ => format!("the store `{p}`: {e}"),
    };
    StoreError { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("flowc-store-open-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_new_store_gets_the_schema_in_wal_mode_and_opens_again() {
        let d = dir("new");
        let s = Store::open(&d).expect("a new store");
        assert_eq!(s.user_version(), Ok(SCHEMA_VERSION));
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
        drop(s);
        assert!(Store::open(&d).is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_version_2_store_is_migrated_to_3_keeping_its_runs() {
        let d = dir("v2");
        std::fs::create_dir_all(&d).expect("dir");
        let c = Connection::open(d.join(FILE_NAME)).expect("sqlite");
        c.execute_batch(&format!(
            "{SCHEMA_V1} {MIGRATE_V2} PRAGMA user_version = 2;"
        ))
        .expect("a version-2 store");
        c.execute_batch(
            "INSERT INTO runs (id, flow, file, status, started_ms, pid, host, flowc_version, args)
             VALUES ('r1', 'main', 'main.flow', 'ok', 1, 1, 'h', '0', '{}')",
        )
        .expect("a run");
        drop(c);
        let s = Store::open(&d).expect("migrated");
        assert_eq!(s.user_version(), Ok(SCHEMA_VERSION));
        let kept: String = s
            .conn
            .query_row("SELECT status FROM runs WHERE id = 'r1'", [], |r| r.get(0))
            .expect("the run is kept");
        assert_eq!(kept, "ok");
        assert_eq!(s.approvals("r1"), Ok(vec![]));
        drop(s);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_version_5_store_is_migrated_to_6_keeping_its_approvals() {
        let d = dir("v5");
        std::fs::create_dir_all(&d).expect("dir");
        let c = Connection::open(d.join(FILE_NAME)).expect("sqlite");
        c.execute_batch(&format!(
            "{SCHEMA_V1} {MIGRATE_V2} {MIGRATE_V3} {MIGRATE_V4} {MIGRATE_V5} PRAGMA user_version = 5;"
        ))
        .expect("a version-5 store");
        c.execute_batch(
            "INSERT INTO approvals (run_id, path, message, status, asked_ms)
             VALUES ('r1', 'main/ok', 'Ship?', 'pending', 1)",
        )
        .expect("an approval");
        drop(c);
        let s = Store::open(&d).expect("migrated");
        assert_eq!(s.user_version(), Ok(SCHEMA_VERSION));
        // An old approval has no deadline and never expires.
        let a = s.approval("r1", "main/ok").expect("read").expect("kept");
        assert_eq!((a.status.as_str(), a.deadline_ms), ("pending", None));
        assert_eq!(s.approvals_expire(None), Ok(vec![]));
        // A deadline counts from when it was asked; past it, `expired` (a no).
        s.approval_deadline("r1", "main/ok", 10).expect("deadline");
        let a = s.approval("r1", "main/ok").expect("read").expect("kept");
        assert_eq!(a.deadline_ms, Some(11));
        assert_eq!(
            s.approvals_expire(Some("r1")),
            Ok(vec![("r1".to_string(), "main/ok".to_string())])
        );
        let a = s.approval("r1", "main/ok").expect("read").expect("kept");
        assert_eq!((a.status.as_str(), a.answer()), ("expired", Some(false)));
        assert_eq!(s.slot_claim("k", 1), Ok(Claim::Fire));
        drop(s);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_version_6_store_is_migrated_to_7_its_steps_without_arguments() {
        let d = dir("v6");
        std::fs::create_dir_all(&d).expect("dir");
        let c = Connection::open(d.join(FILE_NAME)).expect("sqlite");
        c.execute_batch(&format!(
            "{SCHEMA_V1} {MIGRATE_V2} {MIGRATE_V3} {MIGRATE_V4} {MIGRATE_V5} {MIGRATE_V6} PRAGMA user_version = 6;"
        ))
        .expect("a version-6 store");
        c.execute_batch(
            "INSERT INTO journal_log (run_id, seq, entries) VALUES ('r1', 0,
               '[{\"path\":\"main/a\",\"tool\":\"t\",\"status\":\"ok\",\"attempts\":1,\"result\":5,\"started_ms\":1,\"args_sha256\":\"h\"}]')",
        )
        .expect("a journal batch");
        drop(c);
        let s = Store::open(&d).expect("migrated");
        assert_eq!(s.user_version(), Ok(SCHEMA_VERSION));
        // The old step is kept, its result replayable, its arguments not kept.
        let old = s.journal("r1").expect("read");
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].result, Some(serde_json::json!(5)));
        assert!(old[0].replayable());
        assert_eq!((old[0].args.as_ref(), old[0].args_bytes), (None, None));
        let shown = crate::driver::inspect::step_json(&old[0], Some(1024));
        assert_eq!(shown["args_not_kept"], "not kept (run from an older store)");
        assert!(shown.get("args").is_none());
        // A step written now keeps them, in the log and the view.
        let j = journal::Journal::new(&d, "r1");
        j.write(&Row {
            path: "main/b",
            tool: "t",
            status: "ok",
            started_ms: 2,
            args: Some("{\"x\":1}"),
            ..Row::default()
        })
        .expect("sent");
        j.flush().expect("committed");
        drop(j);
        let new = s.journal("r1").expect("read");
        assert_eq!(new[1].args, Some(serde_json::json!({ "x": 1 })));
        let shown = crate::driver::inspect::step_json(&new[1], Some(1024));
        assert_eq!(shown["args"], serde_json::json!({ "x": 1 }));
        let args: Vec<Option<String>> = s
            .conn
            .prepare("SELECT args FROM journal WHERE run_id = 'r1' ORDER BY path")
            .and_then(|mut q| {
                q.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .expect("the view");
        assert_eq!(args, [None, Some("{\"x\":1}".to_string())]);
        drop(s);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_version_3_journal_is_migrated_to_the_log_of_version_4() {
        let d = dir("v3");
        std::fs::create_dir_all(&d).expect("dir");
        let c = Connection::open(d.join(FILE_NAME)).expect("sqlite");
        c.execute_batch(&format!(
            "{SCHEMA_V1} {MIGRATE_V2} {MIGRATE_V3} PRAGMA user_version = 3;"
        ))
        .expect("a version-3 store");
        c.execute_batch(
            "INSERT INTO journal (run_id, path, tool, status, attempts, result, error, started_ms, ended_ms, args_sha256)
             VALUES ('r1', 'main/b', 't', 'ok', 1, '{\"x\":1}', NULL, 5, 6, 'h1'),
                    ('r1', 'main/a', 't', 'ok', 2, 'null', NULL, 1, 2, NULL),
                    ('r1', 'main/c', 'e', 'running', 1, NULL, NULL, 7, NULL, 'h3'),
                    ('r2', 'main/a', 't', 'failed', 3, NULL, '{\"kind\":\"tool_error\"}', 1, 2, NULL)",
        )
        .expect("journal rows");
        drop(c);
        let s = Store::open(&d).expect("migrated");
        assert_eq!(s.user_version(), Ok(SCHEMA_VERSION));
        let mut j = s.journal("r1").expect("read");
        j.sort_by(|a, b| a.path.cmp(&b.path));
        let paths: Vec<&str> = j.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["main/a", "main/b", "main/c"]);
        // A `null` result stays a result; a missing one stays missing.
        assert_eq!(j[0].result, Some(serde_json::Value::Null));
        assert_eq!(j[0].attempts, 2);
        assert_eq!(j[1].result, Some(serde_json::json!({"x": 1})));
        assert_eq!(j[1].args_sha256.as_deref(), Some("h1"));
        assert_eq!(
            (j[2].status, &j[2].result, j[2].ended_ms),
            ("running", &None, None)
        );
        let r2 = s.journal("r2").expect("read");
        assert_eq!(r2[0].error, Some(serde_json::json!({"kind": "tool_error"})));
        assert_eq!(r2[0].result, None);
        // The view reads like the table of version 3.
        let (status, result): (String, String) = s
            .conn
            .query_row(
                "SELECT status, result FROM journal WHERE run_id = 'r1' AND path = 'main/b'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("the view");
        assert_eq!((status.as_str(), result.as_str()), ("ok", "{\"x\":1}"));
        drop(s);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_journal_view_shows_the_latest_entry_of_each_step() {
        let d = dir("view");
        let s = Store::open(&d).expect("store");
        let j = journal::Journal::new(&d, "r1");
        let seven = serde_json::json!(7);
        let entry = |path: &'static str, status: &'static str| Row {
            path,
            tool: "t",
            status,
            attempts: 1,
            result: (status == "ok").then_some(&seven),
            started_ms: 1,
            ..Row::default()
        };
        j.write_now(&entry("main/e", "running")).expect("committed");
        j.write(&entry("main/p", "ok")).expect("sent");
        j.write(&entry("main/e", "ok")).expect("sent");
        j.flush().expect("committed");
        drop(j);
        // A resumed run's writer goes on after the batches already there.
        let j = journal::Journal::new(&d, "r1");
        j.write(&entry("main/p", "failed")).expect("sent");
        j.flush().expect("committed");
        drop(j);
        let batches: i64 = s
            .conn
            .query_row(
                "SELECT count(*) FROM journal_log WHERE run_id = 'r1'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert!(batches >= 2, "{batches}");
        let rows: Vec<(String, String)> = s
            .conn
            .prepare("SELECT path, status FROM journal WHERE run_id = 'r1' ORDER BY path")
            .and_then(|mut q| {
                q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .expect("the view");
        let want = [("main/e", "ok"), ("main/p", "failed")];
        assert_eq!(rows.len(), 2);
        for ((p, st), (wp, ws)) in rows.iter().zip(want) {
            assert_eq!((p.as_str(), st.as_str()), (wp, ws));
        }
        let read: Vec<&'static str> = s
            .journal("r1")
            .expect("read")
            .iter()
            .map(|e| e.status)
            .collect();
        assert_eq!(read, ["ok", "failed"]);
        // Version 5: the kind (`tool` when absent) and the step's name.
        let j = journal::Journal::new(&d, "r1");
        j.write(&Row {
            kind: Some("flow"),
            ..entry("main/f/for[2]/g", "ok")
        })
        .expect("sent");
        j.write(&Row {
            step: Some("label"),
            ..entry("main/h", "ok")
        })
        .expect("sent");
        j.flush().expect("committed");
        drop(j);
        let rows: Vec<(String, String, String)> = s
            .conn
            .prepare("SELECT path, kind, step FROM journal WHERE run_id = 'r1' ORDER BY path")
            .and_then(|mut q| {
                q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .expect("the view");
        let rows: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                ("main/e", "tool", "e"),
                ("main/f/for[2]/g", "flow", "g"),
                ("main/h", "tool", "label"),
                ("main/p", "tool", "p"),
            ]
        );
        drop(s);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn sha256_hex_is_the_standard_digest_in_lower_case() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_hex(b"").len(), 64);
    }

    #[test]
    fn an_sqlite_file_of_another_program_is_refused_untouched() {
        let d = dir("foreign");
        std::fs::create_dir_all(&d).expect("dir");
        let c = Connection::open(d.join(FILE_NAME)).expect("sqlite");
        c.execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('keep me')")
            .expect("a foreign table");
        drop(c);
        let e = Store::open(&d).err().expect("refused");
        assert!(e.message.contains("not a flowc store"), "{e}");
        let c = Connection::open(d.join(FILE_NAME)).expect("sqlite");
        let kept: String = c
            .query_row("SELECT text FROM notes", [], |r| r.get(0))
            .expect("still there");
        assert_eq!(kept, "keep me");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_a_clear_error() {
        let d = dir("file");
        std::fs::write(&d, "a file, not a folder").expect("write");
        let e = Store::open(&d).err().expect("refused");
        assert!(
            e.message.contains("cannot create the store's folder"),
            "{e}"
        );
        let _ = std::fs::remove_file(&d);
    }
}
