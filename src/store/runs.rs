//! The runs of a store: registered when they start, ended with their status,
//! result or errors and run record; listed, shown and collected.

use rusqlite::params;
use serde_json::Value;

use super::{Store, StoreError, now_ms};
use crate::ids::run_id;

pub use crate::status::RunStatus;

/// A run about to start.
pub struct NewRun<'a> {
    pub flow: &'a str,
    /// The `.flow` file as given on the command line.
    pub file: &'a str,
    pub args: &'a Value,
    /// The `--set` options as given (`key=value`): resume uses them again.
    pub options: &'a [String],
    /// Every source file the run uses: its name and text.
    pub sources: Vec<(&'a str, &'a str)>,
}

/// How a run ended.
pub struct RunEnd {
    pub status: RunStatus,
    pub result: Option<Value>,
    pub error: Option<Value>,
    /// The run record, as JSON text.
    pub record: Option<String>,
}

/// A run as the store keeps it.
#[derive(Clone, Debug)]
pub struct RunRow {
    pub id: String,
    pub flow: String,
    pub file: String,
    pub status: RunStatus,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub pid: i64,
    pub host: String,
    pub flowc_version: String,
    pub args: Value,
    /// The `--set` options it was started with (`key=value`).
    pub options: Vec<String>,
    pub result: Option<Value>,
    pub error: Option<Value>,
    /// Only from [`Store::run`]; listings leave it out.
    pub record: Option<Value>,
}

impl RunRow {
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "flow": self.flow,
            "file": self.file,
            "status": self.status,
            "started_ms": self.started_ms,
            "ended_ms": self.ended_ms,
            "duration_ms": self.ended_ms.map(|e| e - self.started_ms),
            "pid": self.pid,
            "host": self.host,
            "flowc_version": self.flowc_version,
            "args": self.args,
            "options": self.options,
            "result": self.result,
            "error": self.error,
        });
        if let Some(r) = &self.record {
            v["record"] = r.clone();
        }
        v
    }
}

const COLUMNS: &str = "id, flow, file, status, started_ms, ended_ms, pid, host, flowc_version, args, result, error, options";

/// A JSON column of row `r` (`None` when null). Text that is not JSON is an
/// error (the file is damaged), never read as if the column were empty: a
/// resume would run the flow with other arguments.
fn json_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Value>> {
    let Some(t) = r.get::<_, Option<String>>(i)? else {
        return Ok(None);
    };
    serde_json::from_str(&t).map(Some).map_err(|e| {
        let column = r.as_ref().column_name(i).unwrap_or("?").to_string();
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("column `{column}` of a run is not JSON ({e})").into(),
        )
    })
}

/// The status column of row `r`: text another program (or a damaged file)
/// wrote that names no status is an error that says so.
fn status_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<RunStatus> {
    let text: String = r.get(i)?;
    RunStatus::parse(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("the status of a run: {e}").into(),
        )
    })
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        flow: r.get(1)?,
        file: r.get(2)?,
        status: status_col(r, 3)?,
        started_ms: r.get(4)?,
        ended_ms: r.get(5)?,
        pid: r.get(6)?,
        host: r.get(7)?,
        flowc_version: r.get(8)?,
        args: json_col(r, 9)?.unwrap_or(Value::Null),
        result: json_col(r, 10)?,
        error: json_col(r, 11)?,
        options: json_col(r, 12)?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        record: None,
    })
}

impl Store {
    /// Registers a run as `running` by this process, with the hashes of its
    /// source files; returns its id.
    pub fn begin_run(&self, run: &NewRun<'_>) -> Result<String, StoreError> {
        let started = now_ms();
        let args = run.args.to_string();
        let host = host_name();
        let pid = i64::from(std::process::id());
        let hashes: Vec<(&str, String)> = run
            .sources
            .iter()
            .map(|(name, text)| (*name, super::sha256_hex(text.as_bytes())))
            .collect();
        let write = |id: &str| -> rusqlite::Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            tx.prepare_cached("INSERT INTO runs (id, flow, file, status, started_ms, pid, host, process, flowc_version, args, options)
                 VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, ?8, ?9, ?10)").and_then(|mut s| s.execute(params![
                    id,
                    run.flow,
                    run.file,
                    started,
                    pid,
                    host,
                    own_start(),
                    env!("CARGO_PKG_VERSION"),
                    args,
                    Value::from(run.options.to_vec()).to_string()
                ]))?;
            {
                let mut ins = tx.prepare_cached(
                    "INSERT OR REPLACE INTO run_sources (run_id, path, sha256) VALUES (?1, ?2, ?3)",
                )?;
                for (name, hash) in &hashes {
                    ins.execute(params![id, name, hash])?;
                }
            }
            tx.commit()
        };
        // A new id on the rare clash with a run started in the same millisecond.
        let mut last = None;
        for salt in 0..4u64 {
            let id = run_id(started, salt);
            match write(&id) {
                Ok(()) => return Ok(id),
                Err(e)
                    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
                {
                    last = Some(e);
                }
                Err(e) => return Err(self.error(&e)),
            }
        }
        Err(self.error(&last.expect("the loop ran")))
    }

    /// Takes up run `id` again (`flowc resume`, and any later owner of a
    /// run: a service, a worker): one conditional update makes this process
    /// its owner (`running`, its pid, host, boot id and start time) only if
    /// the run is still `previous`, the status its caller read and judged.
    /// Of two processes taking one run at once exactly one succeeds; the
    /// other gets `Ok(Err(why))`, naming the owner, before anything ran.
    pub fn take_run(
        &self,
        id: &str,
        previous: RunStatus,
    ) -> Result<Result<(), String>, StoreError> {
        self.take(id, previous, false)
    }

    /// [`Store::take_run`], also of a run that ended `ok` (a retry from a
    /// step: `flowc resume --rerun`).
    pub fn take_run_to_retry(
        &self,
        id: &str,
        previous: RunStatus,
    ) -> Result<Result<(), String>, StoreError> {
        self.take(id, previous, true)
    }

    fn take(
        &self,
        id: &str,
        previous: RunStatus,
        ok_too: bool,
    ) -> Result<Result<(), String>, StoreError> {
        let pid = i64::from(std::process::id());
        let taken = self
            .conn
            .prepare_cached(
                "UPDATE runs SET status = 'running', ended_ms = NULL, result = NULL,
                 pid = ?3, host = ?4, process = ?5, flowc_version = ?6
                 WHERE id = ?1 AND status = ?2 AND status <> 'running' AND (status <> 'ok' OR ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    previous.as_str(),
                    pid,
                    host_name(),
                    own_start(),
                    env!("CARGO_PKG_VERSION"),
                    ok_too
                ])
            })
            .map_err(|e| self.error(&e))?;
        if taken == 1 {
            return Ok(Ok(()));
        }
        let now: Option<(RunStatus, i64, String)> = self
            .conn
            .prepare_cached("SELECT status, pid, host FROM runs WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| Ok((status_col(r, 0)?, r.get(1)?, r.get(2)?))))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| self.error(&e))?;
        Ok(Err(match now {
            None => format!(
                "run {id} is no longer in the store `{}` (`flowc runs gc` deleted it)",
                self.path.display()
            ),
            Some((RunStatus::Running, pid, host)) => format!(
                "run {id} is running: process {pid} on {host} took it first; nothing was run here"
            ),
            Some((status, ..)) => format!(
                "run {id} changed while this process was taking it up (now `{status}`); nothing was run here: try again"
            ),
        }))
    }

    /// Gives back a run this process owns without ending it (the store
    /// failed under it, or resume refused it): its status becomes `status`
    /// again, the one it had before, or `interrupted` for a new run.
    pub fn release_run(&self, id: &str, status: RunStatus) -> Result<(), StoreError> {
        let pid = i64::from(std::process::id());
        self.conn
            .prepare_cached(
                "UPDATE runs SET status = ?2,
                 ended_ms = CASE WHEN ?2 = 'interrupted' THEN NULL ELSE coalesce(ended_ms, ?5) END
                 WHERE id = ?1 AND status = 'running' AND pid = ?3 AND host = ?4",
            )
            .and_then(|mut s| s.execute(params![id, status.as_str(), pid, host_name(), now_ms()]))
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    /// Ends a run this process owns: its status, result or errors, and its
    /// record. A run that another process owns now is left alone (an error).
    pub fn end_run(&self, id: &str, end: &RunEnd) -> Result<(), StoreError> {
        let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
        let pid = i64::from(std::process::id());
        let n = self
            .conn
            .prepare_cached(
                "UPDATE runs SET status = ?2, ended_ms = ?3, result = ?4, error = ?5, record = ?6
                 WHERE id = ?1 AND status = 'running' AND pid = ?7 AND host = ?8",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    end.status.as_str(),
                    now_ms(),
                    text(&end.result),
                    text(&end.error),
                    end.record.as_deref(),
                    pid,
                    host_name()
                ])
            })
            .map_err(|e| self.error(&e))?;
        if n == 0 {
            return Err(StoreError {
                message: format!(
                    "run {id} is no longer this process's in the store `{}` (deleted, or taken up by another process): its end was not recorded",
                    self.path.display()
                ),
            });
        }
        Ok(())
    }

    /// Marks as `interrupted` the runs still `running` whose process on this
    /// host is gone.
    pub fn mark_interrupted(&self) -> Result<usize, StoreError> {
        let host = host_name();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, pid, process FROM runs WHERE status = 'running' AND host = ?1",
            )
            .map_err(|e| self.error(&e))?;
        let rows: Vec<(String, i64, Option<String>)> = stmt
            .query_map([&host], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error(&e))?;
        let mut n = 0;
        let me = i64::from(std::process::id());
        let gone = |(_, pid, process): &(String, i64, Option<String>)| {
            if *pid == me {
                // This process: alive; the run is another's only if the pid
                // was another process's then (read once: with many runs and
                // threads here, reading `/proc/PID/stat` for each run cost
                // O(runs × threads)).
                return process
                    .as_deref()
                    .zip(own_start())
                    .is_some_and(|(then, now)| then != now);
            }
            !process_alive(*pid)
                // The pid now belongs to another process (or another boot).
                || process
                    .as_ref()
                    .zip(process_start(*pid))
                    .is_some_and(|(then, now)| *then != now)
        };
        for (id, _, _) in rows.into_iter().filter(gone) {
            n += self
                .conn
                .prepare_cached(
                    "UPDATE runs SET status = 'interrupted' WHERE id = ?1 AND status = 'running'",
                )
                .and_then(|mut s| s.execute([&id]))
                .map_err(|e| self.error(&e))?;
        }
        Ok(n)
    }

    /// The runs, newest first, optionally of one status (records left out).
    pub fn runs(&self, status: Option<RunStatus>) -> Result<Vec<RunRow>, StoreError> {
        self.mark_interrupted()?;
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE ?1 IS NULL OR status = ?1 ORDER BY started_ms DESC, id DESC"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.error(&e))?;
        stmt.query_map([status.map(RunStatus::as_str)], row)
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error(&e))
    }

    /// The runs process `p` (a server that died) left `interrupted`, oldest first.
    pub fn runs_left_by(&self, p: &Process) -> Result<Vec<RunRow>, StoreError> {
        self.mark_interrupted()?;
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE status = 'interrupted' AND pid = ?1 AND host = ?2 AND process IS ?3 ORDER BY started_ms, id"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.error(&e))?;
        stmt.query_map(params![p.pid, p.host, p.start], row)
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error(&e))
    }

    /// One run with its record, by id or by a prefix of one id.
    /// `Ok(Err(message))` when no run or several match.
    pub fn run(&self, id: &str) -> Result<Result<RunRow, String>, StoreError> {
        self.mark_interrupted()?;
        let sql = format!(
            "SELECT {COLUMNS}, record FROM runs WHERE id = ?1 OR substr(id, 1, length(?1)) = ?1 ORDER BY id = ?1 DESC, id LIMIT 3"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.error(&e))?;
        let found: Vec<RunRow> = stmt
            .query_map([id], |r| {
                let mut run = row(r)?;
                run.record = json_col(r, 13)?;
                Ok(run)
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error(&e))?;
        Ok(match found.as_slice() {
            [] => Err(format!(
                "no run `{id}` in the store `{}`",
                self.path.display()
            )),
            [one, ..] if one.id == id => Ok(one.clone()),
            [one] => Ok(one.clone()),
            several => Err(format!(
                "`{id}` is the start of several runs ({}); give more of the id",
                several
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        })
    }

    /// The source files a run used and their SHA-256.
    pub fn run_sources(&self, id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path, sha256 FROM run_sources WHERE run_id = ?1 ORDER BY path")
            .map_err(|e| self.error(&e))?;
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error(&e))
    }

    /// Deletes the runs that ended (or were interrupted) more than
    /// `older_than_ms` ago, with their sources, journal and approvals;
    /// returns how many. A paused run waits for a person: it is kept; a
    /// `running` one has an owner (it is never deleted under it, and a
    /// resume takes a run with one conditional update, so the two never
    /// interleave). Journal batches, sources and approvals of runs that are
    /// gone (left by an older flowc) are deleted too.
    pub fn gc(&self, older_than_ms: i64) -> Result<usize, StoreError> {
        self.mark_interrupted()?;
        let cutoff = now_ms().saturating_sub(older_than_ms);
        let gone = "SELECT id FROM runs WHERE status NOT IN ('running', 'paused') AND coalesce(ended_ms, started_ms) < ?1";
        // The write lock first: what is deleted is what this transaction read.
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(|e| self.error(&e))?;
        let n = (|| -> rusqlite::Result<usize> {
            for table in ["journal_log", "run_sources", "approvals"] {
                tx.execute(
                    &format!(
                        "DELETE FROM {table} WHERE run_id IN ({gone}) OR run_id NOT IN (SELECT id FROM runs)"
                    ),
                    [cutoff],
                )?;
            }
            tx.execute(&format!("DELETE FROM runs WHERE id IN ({gone})"), [cutoff])
        })()
        .map_err(|e| self.error(&e))?;
        tx.commit().map_err(|e| self.error(&e))?;
        Ok(n)
    }
}

/// This machine's name, to tell whose process a run's pid is.
pub fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

/// A process as the store names a run's owner: its pid, host and, where
/// the system tells, its start ([`process_start`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: i64,
    pub host: String,
    pub start: Option<String>,
}

impl Process {
    /// This process.
    pub fn this() -> Process {
        Process {
            pid: i64::from(std::process::id()),
            host: host_name(),
            start: own_start().map(str::to_string),
        }
    }

    /// A process as [`Process`]'s `Display` wrote it: `PID HOST START` (`-`
    /// for no start).
    pub fn parse(line: &str) -> Option<Process> {
        let mut parts = line.split_whitespace();
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?.to_string();
        let start = match parts.next()? {
            "-" => None,
            s => Some(s.to_string()),
        };
        parts
            .next()
            .is_none()
            .then_some(Process { pid, host, start })
    }
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.pid,
            self.host,
            self.start.as_deref().unwrap_or("-")
        )
    }
}

/// Who process `pid` is beyond its number, where the system tells (Linux):
/// this boot's id and the process's start time in clock ticks since boot. A
/// pid given to another process, or the same pid after a reboot, differs.
fn process_start(pid: i64) -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's `)` (it may hold spaces and brackets): field 3 on;
    // the start time is field 22.
    let rest = &stat[stat.rfind(')')? + 1..];
    let start = rest.split_whitespace().nth(19)?;
    Some(format!("{}:{start}", boot.trim()))
}

/// [`process_start`] of this process, read once.
fn own_start() -> Option<&'static str> {
    static ME: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ME.get_or_init(|| process_start(i64::from(std::process::id())))
        .as_deref()
}

/// Whether process `pid` exists on this host (signal 0 checks, sends nothing).
fn process_alive(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::ESRCH) => false,
        // EPERM: it exists, owned by someone else.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_short_and_sort_by_time() {
        let a = run_id(1_700_000_000_000, 0);
        let b = run_id(1_700_000_000_001, 0);
        assert_eq!(a.len(), 12);
        assert!(a[..9] < b[..9]);
        assert!(a.chars().all(|c| crate::ids::BASE32.contains(&(c as u8))));
    }

    #[test]
    fn a_running_run_whose_pid_belongs_to_another_process_is_interrupted() {
        let dir = std::env::temp_dir().join(format!("flowc-store-reuse-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir).expect("a store");
        let new = |s: &Store| {
            s.begin_run(&NewRun {
                flow: "main",
                file: "main.flow",
                args: &Value::Null,
                options: &[],
                sources: vec![("main.flow", "flow main() -> int { 1 }")],
            })
            .expect("registered")
        };
        let mine = new(&s);
        let reused = new(&s);
        // This process, but started at another time: a reused pid.
        s.conn
            .prepare_cached("UPDATE runs SET process = 'another-boot:1' WHERE id = ?1")
            .and_then(|mut s| s.execute([&reused]))
            .expect("update");
        assert_eq!(s.mark_interrupted(), Ok(1));
        let status = |id: &str| s.run(id).expect("read").expect("found").status;
        assert_eq!(status(&mine), RunStatus::Running);
        assert_eq!(status(&reused), RunStatus::Interrupted);
        if cfg!(target_os = "linux") {
            let me = process_start(i64::from(std::process::id())).expect("/proc");
            assert_eq!(Some(me), process_start(i64::from(std::process::id())));
        }
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_run_is_taken_once_given_back_as_it_was_and_ended_by_its_owner_only() {
        let dir = std::env::temp_dir().join(format!("flowc-store-take-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, b) = (Store::open(&dir).expect("a"), Store::open(&dir).expect("b"));
        let id = a
            .begin_run(&NewRun {
                flow: "main",
                file: "main.flow",
                args: &Value::Null,
                options: &[],
                sources: vec![],
            })
            .expect("registered");
        let end = |status| RunEnd {
            status,
            result: None,
            error: None,
            record: None,
        };
        a.end_run(&id, &end(RunStatus::Failed)).expect("ended");
        // Both read `failed`; one conditional update wins.
        assert_eq!(a.take_run(&id, RunStatus::Failed), Ok(Ok(())));
        let lost = b
            .take_run(&id, RunStatus::Failed)
            .expect("read")
            .expect_err("taken");
        assert!(
            lost.contains(&format!("process {} on", std::process::id())),
            "{lost}"
        );
        // Given back with its old status, then taken and ended again.
        a.release_run(&id, RunStatus::Failed).expect("released");
        assert_eq!(
            a.run(&id).expect("read").expect("found").status,
            RunStatus::Failed
        );
        assert!(
            a.end_run(&id, &end(RunStatus::Ok)).is_err(),
            "not owned now"
        );
        assert_eq!(b.take_run(&id, RunStatus::Failed), Ok(Ok(())));
        b.end_run(&id, &end(RunStatus::Ok))
            .expect("ended by its owner");
        assert!(
            a.take_run(&id, RunStatus::Ok).expect("read").is_err(),
            "an ok run stays ok"
        );
        // A run gc deleted cannot be taken.
        assert_eq!(a.gc(-1_000), Ok(1));
        let gone = a
            .take_run(&id, RunStatus::Ok)
            .expect("read")
            .expect_err("gone");
        assert!(gone.contains("no longer in the store"), "{gone}");
        drop((a, b));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_run_whose_arguments_are_not_json_is_an_error_naming_the_store() {
        let dir = std::env::temp_dir().join(format!("flowc-store-json-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir).expect("store");
        let id = s
            .begin_run(&NewRun {
                flow: "main",
                file: "main.flow",
                args: &serde_json::json!({"n": 2}),
                options: &[],
                sources: vec![],
            })
            .expect("registered");
        s.conn
            .prepare_cached("UPDATE runs SET args = '{\"n\": 2\u{1}' WHERE id = ?1")
            .and_then(|mut s| s.execute([&id]))
            .expect("damaged");
        let e = s.run(&id).expect_err("refused");
        assert!(
            e.message.contains("is damaged") && e.message.contains("`args`"),
            "{e}"
        );
        assert!(s.runs(None).is_err());
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(process_alive(i64::from(std::process::id())));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("true runs");
        let pid = i64::from(child.id());
        child.wait().expect("reaped");
        assert!(!process_alive(pid));
    }
}
