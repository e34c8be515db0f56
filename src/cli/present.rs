//! How `flowc run`, `resume` and `approve` show what the driver reports:
//! its events as they come (diagnostics, the live view, approvals a run on
//! Restate waits for), its refusals, and the end of a run on either engine.

use std::path::Path;

use crate::diag::render::{self, printable};
use crate::driver::runner::Outcome;
use crate::driver::{Engine, Event, Exit, Local, Pending, Refusal, Report, Reported};
use crate::driver::{Here, RemoteEnd};
use crate::store::StoreError;
use crate::term::{FAILED, OK, PAUSED, USAGE, color_stderr, out, view::StepView};

/// The engine of `--engine restate:URL`, else of `FLOWC_ENGINE`, else this
/// process: the one place commands learn where runs run.
pub fn engine(flag: Option<&str>) -> Result<Box<dyn Engine>, u8> {
    match crate::restate::engine_of(flag) {
        Ok(Some(ingress)) => Ok(Box::new(crate::restate::engine::Restate::new(&ingress))),
        Ok(None) => Ok(Box::new(Local::new())),
        Err(e) => Err(refused(&Refusal::usage(e))),
    }
}

/// Prints a refusal; its exit code.
pub fn refused(r: &Refusal) -> u8 {
    eprintln!("error: {}", r.error);
    for line in &r.after {
        eprintln!("{line}");
    }
    match r.exit {
        Exit::Usage => USAGE,
        Exit::Failed => FAILED,
    }
}

/// Shows the driver's events on stderr: the check's diagnostics (errors
/// only when `quiet`), the live step view, a submitted run, and the
/// approvals a run on Restate waits for.
pub struct Shown {
    quiet: bool,
    view: Option<StepView>,
}

impl Shown {
    pub fn new(quiet: bool) -> Shown {
        Shown { quiet, view: None }
    }

    pub fn event(&mut self, e: Event<'_>) {
        match e {
            Event::Checked(checked) => eprint!(
                "{}",
                render::render_all(
                    checked
                        .diagnostics
                        .iter()
                        .filter(|d| d.is_error() || !self.quiet),
                    &checked.sources,
                    color_stderr()
                )
            ),
            Event::Progress(p) => self.view.get_or_insert_with(|| StepView::new(true)).show(p),
            Event::Submitted { run, engine } if !self.quiet => {
                eprintln!("run {run} submitted to Restate at {engine}");
            }
            // As a local run that pauses prints its approvals (also with
            // `--quiet`: the run cannot go on without them); here the run
            // waits for them.
            Event::ApprovalRequested {
                run: Some(id),
                path,
                message,
                goes_on_at: Some(ingress),
            } => {
                eprintln!("run {id} waits for an approval");
                eprintln!("  {path}: {message}");
                eprintln!("    flowc approve --engine restate:{ingress} {id} {path}");
                eprintln!("    flowc approve --engine restate:{ingress} {id} {path} --reject");
                eprintln!(
                    "then the run goes on by itself; Ctrl-C stops this wait, not the run (`flowc resume --engine restate:{ingress} {id}` waits again)"
                );
            }
            Event::Finished { .. } => {
                if let Some(v) = self.view.take() {
                    v.finish();
                }
            }
            _ => {}
        }
    }
}

/// What `flowc run` writes besides the result (and, with `timings`, when
/// it began, for `--timings`).
#[derive(Default)]
pub struct Files<'a> {
    pub timings: Option<std::time::Instant>,
    pub record: Option<&'a str>,
    pub llm_recording: Option<&'a str>,
    pub trace: Option<&'a str>,
}

/// Presents the end of a run: its result or errors, warnings, where it is
/// kept or what it waits for; writes the files asked for. Its exit code.
/// `store` is the `--store` flag as given (the commands printed repeat it).
pub fn report(report: Report, quiet: bool, store: Option<&str>, files: &Files<'_>) -> u8 {
    let id = report.run_id.clone().unwrap_or_default();
    match report.reported {
        Reported::Here(here) => local(*here, &id, &report.flow, quiet, store, files),
        Reported::Remote(end) => remote(*end, &id, &report.flow, quiet, files),
    }
}

fn local(
    here: Here,
    id: &str,
    flow: &str,
    quiet: bool,
    store: Option<&str>,
    files: &Files<'_>,
) -> u8 {
    let finished = &here.finished;
    if let (Some(toml), false, false) = (
        &here.provider_from,
        quiet || finished.decisions == 0,
        here.resumed,
    ) {
        let name = here.provider.as_deref().unwrap_or("");
        eprintln!(
            "note: LLM decisions were answered by `{name}`, chosen in `{}`; `--llm` chooses another provider",
            toml.display()
        );
    }
    if let Some(t0) = files.timings {
        let check_ms = (finished.started - t0).as_secs_f64() * 1e3;
        eprintln!(
            "timings: check {check_ms:.1} ms, run {:.1} ms",
            finished.duration_ms
        );
    }
    let color = color_stderr();
    let mut code = match &finished.outcome {
        // A result the store did not keep with its steps is not printed as
        // a success: the run is to be resumed (said below, exit 2).
        _ if finished.store_error.is_some() => USAGE,
        Outcome::Ok(v) => {
            out::println(&serde_json::to_string_pretty(v).expect("values serialise"));
            OK
        }
        Outcome::Failed(errors) => {
            for e in errors {
                eprint!(
                    "{}",
                    render::render(&e.to_diagnostic(), &here.checked.sources, color)
                );
            }
            eprintln!(
                "error: flow `{flow}` failed with {} error{}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            FAILED
        }
        Outcome::Cancelled(signal) => {
            eprintln!("error: run cancelled by {}", signal.name());
            signal.exit_code()
        }
        Outcome::Paused(_) => PAUSED,
        Outcome::StoreFailed(_) => USAGE,
    };
    if !quiet {
        for w in &finished.warnings {
            eprintln!(
                "warning: {}:{}:{}: {}",
                w.file,
                w.line,
                w.column,
                printable(&w.message)
            );
        }
    }
    if let (Some(_), Some(path)) = (&finished.run_id, &here.store) {
        if let Some(e) = &finished.store_error {
            store_failed(id, e);
            code = USAGE;
        } else if let Outcome::Paused(pending) = &finished.outcome {
            paused(id, pending, store);
        } else if quiet {
        } else if here.resumed {
            eprintln!(
                "run {id} resumed ({} steps replayed from its journal): `flowc runs show {id}`",
                finished.replayed
            );
        } else {
            eprintln!(
                "run {id} is in the store `{}`: `flowc runs show {id}`",
                path.display()
            );
        }
    }
    let Here {
        finished, checked, ..
    } = here;
    // The process ends after this: the program (a large one's AST is tens of
    // megabytes, freed node by node) is left to the operating system.
    std::mem::forget(checked);
    let written = [
        (
            files.record,
            finished.record.map(|r| serde_json::to_string_pretty(&r)),
            "the run record",
        ),
        (
            files.llm_recording,
            finished
                .llm_recording
                .map(|r| serde_json::to_string_pretty(&r)),
            "the LLM recording",
        ),
        (
            files.trace,
            finished.trace.map(|t| Ok(t.to_string())),
            "the trace",
        ),
    ];
    for (path, text, what) in written {
        if let (Some(path), Some(text)) = (path, text)
            && let Err(code) = write(path, &text.expect("records serialise"), what)
        {
            return code;
        }
    }
    code
}

fn remote(end: RemoteEnd, id: &str, flow: &str, quiet: bool, files: &Files<'_>) -> u8 {
    let code = match (end.status, &end.result) {
        (crate::status::RunStatus::Ok, Some(v)) => {
            out::println(&serde_json::to_string_pretty(v).expect("values serialise"));
            OK
        }
        _ => {
            for e in &end.errors {
                eprint!("{e}");
            }
            let n = end.errors.len();
            eprintln!(
                "error: flow `{flow}` failed with {n} error{}",
                if n == 1 { "" } else { "s" }
            );
            FAILED
        }
    };
    if !quiet {
        for w in &end.warnings {
            eprintln!("warning: {w}");
        }
        let ingress = &end.engine;
        eprintln!(
            "run {id} is on Restate at {ingress}: `flowc runs show --engine restate:{ingress} {id}`"
        );
    }
    let written = [
        (files.record, &end.record, "the run record"),
        (files.trace, &end.trace, "the trace"),
    ];
    for (path, value, what) in written {
        if let (Some(path), Some(value)) = (path, value) {
            let text = serde_json::to_string_pretty(value).expect("values serialise");
            if let Err(code) = write(path, &text, what) {
                return code;
            }
        }
    }
    code
}

fn write(path: &str, text: &str, what: &str) -> Result<(), u8> {
    std::fs::write(Path::new(path), text).map_err(|e| {
        eprintln!("error: cannot write {what} `{path}`: {e}");
        USAGE
    })
}

/// A paused run: the approvals it waits for and the commands that answer
/// them (on stderr, also with `--quiet`: the run cannot go on without them).
fn paused(id: &str, pending: &[Pending], store: Option<&str>) {
    let store = store.map(|s| format!(" --store {s}")).unwrap_or_default();
    eprintln!(
        "run {id} paused: {} approval{} pending",
        pending.len(),
        if pending.len() == 1 { "" } else { "s" }
    );
    for p in pending {
        eprintln!("  {}: {}", p.path, printable(&p.message));
        if let Some(d) = p.deadline_ms {
            eprintln!(
                "    (expires at {}: unanswered by then, it answers no)",
                crate::ids::rfc3339_ms(d)
            );
        }
        eprintln!("    flowc approve{store} {id} {}", p.path);
        eprintln!("    flowc approve{store} {id} {} --reject", p.path);
    }
    eprintln!("then continue it with `flowc resume{store} {id}`");
}

/// The store failed under run `id`: the error, and what comes next.
fn store_failed(id: &str, e: &StoreError) {
    eprintln!("error: {e}");
    eprintln!(
        "note: run {id} stopped there: nothing started after the store failed (an effect whose start it did not keep never ran), and the run keeps the status it had; once the store works again (`flowc store check`), `flowc resume {id}` continues it"
    );
}
