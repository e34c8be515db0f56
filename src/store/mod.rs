//! The embedded store (SPEC §15): one SQLite file, by default
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

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

pub use approvals::{Answer, Approval};
pub use cache::{CacheHit, cache_key};
pub use journal::{Journal, JournalEntry};
pub use runs::{NewRun, RunEnd, RunRow, RunStatus, new_run_id};

/// The schema version this flowc writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 3;

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

/// The migrations, in order: `MIGRATIONS[k]` takes version `k + 1` to `k + 2`.
const MIGRATIONS: [&str; 2] = [MIGRATE_V2, MIGRATE_V3];

/// Why the store cannot be used; the message names the file and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub message: String,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating it when missing) the store in folder `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(FILE_NAME);
        std::fs::create_dir_all(dir).map_err(|e| StoreError {
            message: format!(
                "cannot create the store's folder `{}`: {e}; choose another with --store DIR, or run with --no-store",
                dir.display()
            ),
        })?;
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

/// An SQLite error on the store at `path`, with what to do about it.
fn describe(path: &Path, e: &rusqlite::Error) -> StoreError {
    let p = path.display();
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
        Some(ErrorCode::DiskFull) => format!("the disk of the store `{p}` is full ({e})"),
        _ => format!("the store `{p}`: {e}"),
    };
    StoreError { message }
}

/// Milliseconds since the Unix epoch, as the store keeps times.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The SHA-256 of `bytes`, in lower-case hex: the source files' hashes and
/// the cache's keys.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    let digest = sha2::Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
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
