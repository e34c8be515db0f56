//! `flowc runs`, `flowc runs show RUN`, `flowc runs gc --older-than D` and
//! `flowc cache clear [TOOL]`: the runs and the cache of the store (docs/store.md).

use serde_json::Value;

use super::Format;
use crate::check::options::parse_duration;
use crate::diag::render::printable;
use crate::driver::inspect::{run_json, uncertain};
use crate::driver::store_dir;
use crate::store::{FILE_NAME, RunRow, RunStatus, Store, StoreError};
use crate::term::{FAILED, OK, USAGE, out};

#[derive(clap::Args, Debug)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub action: Option<RunsAction>,
    /// Only the runs of this status: running, ok, failed, cancelled, interrupted or paused
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "human", global = true)]
    pub format: Format,
    /// The folder of the store (default: FLOWC_STORE, or `.flowc`)
    #[arg(long, value_name = "DIR", global = true)]
    pub store: Option<String>,
    /// The runs on Restate: `restate:INGRESS_URL` (default: FLOWC_ENGINE)
    #[arg(long, value_name = "ENGINE", global = true)]
    pub engine: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum RunsAction {
    /// One run and every step of its record
    Show {
        /// The run's id (or the start of it)
        run: String,
    },
    /// Delete the runs that ended more than a duration ago, with their journal
    Gc {
        /// Such as 7d, 12h or 30m
        #[arg(long, value_name = "DURATION")]
        older_than: String,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum CacheAction {
    /// Empty the result cache, or only one tool's entries
    Clear {
        /// The tool whose entries go (default: all)
        tool: Option<String>,
        /// The folder of the store (default: FLOWC_STORE, or `.flowc`)
        #[arg(long, value_name = "DIR")]
        store: Option<String>,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum StoreAction {
    /// Check the store file: SQLite's integrity check of every page and index,
    /// and that every journal batch and run reads as JSON (exit 2 when damaged)
    Check {
        /// The folder of the store (default: FLOWC_STORE, or `.flowc`)
        #[arg(long, value_name = "DIR")]
        store: Option<String>,
    },
}

/// `flowc store check`.
pub fn store(action: &StoreAction) -> u8 {
    let StoreAction::Check { store } = action;
    let dir = store_dir(store.as_deref());
    let file = dir.join(FILE_NAME);
    let s = match open(store.as_deref()) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!(
                "error: there is no store `{}`: nothing to check",
                file.display()
            );
            return USAGE;
        }
        Err(e) => return fail(&e),
    };
    match s.check() {
        Ok(problems) if problems.is_empty() => {
            out::println(&format!("the store `{}` is sound", file.display()));
            OK
        }
        Ok(problems) => {
            for p in &problems {
                out::println(p);
            }
            eprintln!(
                "error: the store `{}` is damaged ({} problem{} above): move it away (flowc then starts a new, empty store there), or copy what still reads with `sqlite3 {} .recover`",
                file.display(),
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                file.display()
            );
            USAGE
        }
        Err(e) => fail(&e),
    }
}

/// Opens the store if it exists: `Ok(None)` when there is none yet.
fn open(flag: Option<&str>) -> Result<Option<Store>, StoreError> {
    let dir = store_dir(flag);
    if !dir.join(FILE_NAME).exists() {
        return Ok(None);
    }
    Store::open(&dir).map(Some)
}

/// Prints a store error; its exit code.
fn fail(e: &StoreError) -> u8 {
    eprintln!("error: {e}");
    USAGE
}

pub fn runs(a: &RunsArgs) -> u8 {
    match crate::restate::engine_of(a.engine.as_deref()) {
        Ok(Some(ingress)) => {
            let json = a.format == super::Format::Json;
            return match &a.action {
                None => match status_filter(a.status.as_deref()) {
                    Ok(status) => super::engine::runs(&ingress, status, json),
                    Err(code) => code,
                },
                Some(RunsAction::Show { run }) => super::engine::show(&ingress, run, json),
                Some(RunsAction::Gc { .. }) => {
                    eprintln!(
                        "error: Restate forgets ended runs by itself (after 7 days); `runs gc` is for the local store"
                    );
                    USAGE
                }
            };
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    }
    let store = match open(a.store.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    match &a.action {
        None => list(store.as_ref(), a),
        Some(RunsAction::Show { run }) => match &store {
            Some(s) => show(s, run, a.format),
            None => {
                eprintln!(
                    "error: no store in `{}`, so no run `{run}`; `--store DIR` or FLOWC_STORE names another",
                    store_dir(a.store.as_deref()).display()
                );
                USAGE
            }
        },
        Some(RunsAction::Gc { older_than }) => {
            let Some(d) = parse_duration(older_than) else {
                eprintln!("error: `--older-than {older_than}` is not a duration such as `7d`");
                return USAGE;
            };
            let n = match &store {
                Some(s) => match s.gc(d.as_millis() as i64) {
                    Ok(n) => n,
                    Err(e) => return fail(&e),
                },
                None => 0,
            };
            out::println(&format!(
                "deleted {n} run{} older than {older_than}",
                if n == 1 { "" } else { "s" }
            ));
            OK
        }
    }
}

/// `--status`, read once for either engine; `Err(exit code)` when it names no status.
pub(super) fn status_filter(status: Option<&str>) -> Result<Option<RunStatus>, u8> {
    match status.map(|s| (s, RunStatus::parse(s))) {
        None => Ok(None),
        Some((_, Ok(s))) => Ok(Some(s)),
        Some((s, Err(_))) => {
            let all: Vec<&str> = RunStatus::STORED.iter().map(|s| s.as_str()).collect();
            eprintln!(
                "error: `--status {s}` is no run status; the statuses: {}",
                all.join(", ")
            );
            Err(USAGE)
        }
    }
}

fn list(store: Option<&Store>, a: &RunsArgs) -> u8 {
    let status = match status_filter(a.status.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let rows = match store.map(|s| s.runs(status)) {
        None => Vec::new(),
        Some(Ok(rows)) => rows,
        Some(Err(e)) => return fail(&e),
    };
    if a.format == Format::Json {
        let all: Vec<Value> = rows.iter().map(RunRow::to_json).collect();
        out::println(&serde_json::to_string_pretty(&all).expect("runs serialise"));
        return OK;
    }
    if rows.is_empty() {
        eprintln!(
            "no runs in `{}`",
            store_dir(a.store.as_deref()).join(FILE_NAME).display()
        );
        return OK;
    }
    let table: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.flow.clone(),
                r.status.to_string(),
                time(r.started_ms),
                r.ended_ms
                    .map(|e| duration(e - r.started_ms))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print_table(["ID", "FLOW", "STATUS", "STARTED", "DURATION"], &table);
    OK
}

fn show(store: &Store, id: &str, format: Format) -> u8 {
    let run = match store.run(id) {
        Ok(Ok(r)) => r,
        Ok(Err(message)) => {
            eprintln!("error: {message}; `flowc runs` lists the runs");
            return FAILED;
        }
        Err(e) => return fail(&e),
    };
    if format == Format::Json {
        let v = match run_json(store, &run.id, None) {
            Ok(Ok(v)) => v,
            Ok(Err(message)) => {
                eprintln!("error: {message}; `flowc runs` lists the runs");
                return FAILED;
            }
            Err(e) => return fail(&e),
        };
        out::println(&serde_json::to_string_pretty(&v).expect("runs serialise"));
        return OK;
    }
    // An approval past its deadline is shown as what it now is: expired.
    if let Err(e) = store.approvals_expire(Some(&run.id)) {
        return fail(&e);
    }
    let approvals = match store.approvals(&run.id) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    // The steps are the journal's (docs/store.md), in the order they started.
    let mut steps = match store.journal(&run.id) {
        Ok(j) => j,
        Err(e) => return fail(&e),
    };
    steps.sort_by_key(|s| s.started_ms);
    let mut head = vec![
        ("run", run.id.clone()),
        ("flow", format!("{} in {}", run.flow, run.file)),
        ("status", run.status.to_string()),
        ("started", time(run.started_ms)),
        (
            "duration",
            run.ended_ms
                .map(|e| duration(e - run.started_ms))
                .unwrap_or_else(|| "-".into()),
        ),
        ("process", format!("{} on {}", run.pid, run.host)),
        ("args", run.args.to_string()),
    ];
    if let Some(r) = &run.result {
        head.push(("result", r.to_string()));
    }
    match &run.error {
        // The run's errors in words, one a line.
        Some(Value::Array(errors)) if !errors.is_empty() => {
            for (i, e) in errors.iter().enumerate() {
                head.push((if i == 0 { "error" } else { "" }, run_error(e)));
            }
        }
        Some(e) => head.push(("error", e.to_string())),
        None => {}
    }
    for (k, v) in head {
        out::println(&format!("{k:<9}{v}"));
    }
    if !approvals.is_empty() {
        out::println("");
        let table: Vec<[String; 4]> = approvals
            .iter()
            .map(|a| {
                let answered = match (&a.answered_by, a.answered_ms) {
                    (Some(by), Some(at)) => {
                        let note = a
                            .note
                            .as_ref()
                            .map(|n| format!(": {}", printable(n)))
                            .unwrap_or_default();
                        format!("by {by} at {}{note}", time(at))
                    }
                    _ => format!("`flowc approve {} {}` (or --reject)", run.id, a.path),
                };
                let answered = match a.deadline_ms {
                    Some(d) if a.status == "pending" => {
                        format!("{answered}; expires at {}", time(d))
                    }
                    Some(d) if a.status == "expired" => {
                        format!("none by its deadline, {}", time(d))
                    }
                    _ => answered,
                };
                [
                    a.path.clone(),
                    a.status.clone(),
                    printable(&a.message).into_owned(),
                    answered,
                ]
            })
            .collect();
        print_table(["APPROVAL", "STATUS", "MESSAGE", "ANSWER"], &table);
    }
    if steps.is_empty() {
        out::println(match run.ended_ms {
            Some(_) => "no steps",
            None => "no steps journaled yet (the run did not end)",
        });
        return OK;
    }
    out::println("");
    let day = |ms: i64| time(ms)[..10].to_string();
    let table: Vec<[String; 8]> = steps
        .iter()
        .map(|s| {
            let status = match s.cached_age_s {
                Some(age) => format!("{} ({age:.1}s old)", s.status),
                None if uncertain(&run, s) => "running (may have happened)".into(),
                None => s.status.to_string(),
            };
            // The time of day; the date too when it is not the run's.
            let started = time(s.started_ms);
            let started = if day(s.started_ms) == day(run.started_ms) {
                started[11..].to_string()
            } else {
                started
            };
            [
                s.path.clone(),
                s.kind.clone(),
                s.tool.clone(),
                status,
                s.attempts.to_string(),
                started,
                s.ended_ms
                    .map(|e| duration(e - s.started_ms))
                    .unwrap_or_else(|| "-".into()),
                s.error.as_ref().map(error_cell).unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        [
            "PATH", "KIND", "TOOL", "STATUS", "ATTEMPTS", "STARTED", "DURATION", "ERROR",
        ],
        &table,
    );
    if steps.iter().any(|s| s.status == "replayed") {
        out::println(
            "\nreplayed: taken from the journal on resume, not run again; its times are those of the run that took it",
        );
    }
    if steps.iter().any(|s| {
        s.error
            .as_ref()
            .is_some_and(|e| error_cell(e).ends_with('…'))
    }) {
        out::println("errors are cut short here: `--format json` shows each in full");
    }
    OK
}

/// One error of a failed run: `tool_error in step \`b\`: message` on one line.
fn run_error(e: &Value) -> String {
    let (Some(kind), Some(message)) = (e["kind"].as_str(), e["message"].as_str()) else {
        return e.to_string();
    };
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match e["step"].as_str() {
        Some(step) if !step.is_empty() => format!("{kind} in step `{step}`: {one_line}"),
        _ => format!("{kind}: {one_line}"),
    }
}

/// The widest error message of a step in the table, in characters.
const ERROR_WIDTH: usize = 60;

/// A step's error in the table: its kind and its message on one line, cut
/// short (the journal's error record: `kind`, `message`).
fn error_cell(e: &Value) -> String {
    let kind = e["kind"].as_str().unwrap_or("error");
    let message = e["message"].as_str().unwrap_or_default();
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return kind.to_string();
    }
    format!("{kind}: {}", crate::driver::head(&one_line, ERROR_WIDTH))
}

/// An effect that started and never ended in a run that is not running any
/// more: it may have happened (what `flowc resume` refuses to run again
/// without an idempotency key or `--rerun-uncertain`).
pub fn cache(action: &CacheAction) -> u8 {
    let CacheAction::Clear { tool, store } = action;
    let n = match open(store.as_deref()) {
        Ok(Some(s)) => match s.cache_clear(tool.as_deref()) {
            Ok(n) => n,
            Err(e) => return fail(&e),
        },
        Ok(None) => 0,
        Err(e) => return fail(&e),
    };
    let of = tool
        .as_ref()
        .map(|t| format!(" of `{t}`"))
        .unwrap_or_default();
    out::println(&format!(
        "cleared {n} cache entr{}{of}",
        if n == 1 { "y" } else { "ies" }
    ));
    OK
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
fn time(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

/// `850ms`, `12.3s`, `4m05s`, `2h07m`.
fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..1000 => format!("{ms}ms"),
        1000..60_000 => format!("{:.1}s", ms as f64 / 1e3),
        60_000..3_600_000 => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{}h{:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

fn print_table<const N: usize>(head: [&str; N], rows: &[[String; N]]) {
    let mut widths = head.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    out::println(&line(head.to_vec()));
    for r in rows {
        out::println(&line(r.iter().map(String::as_str).collect()));
    }
}
