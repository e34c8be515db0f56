//! `flowc resume RUN`: evaluates a stored run's flow again as the same run;
//! steps with a journaled success are replayed, not run (docs/store.md, `flowc resume`).

use std::collections::HashMap;

use serde_json::Value;

use super::LlmFlags;
use super::run::parse_set;
use crate::driver::project::{choose_provider, folder_of};
use crate::driver::runner::{Job, Keep, Outcome, RecordInfo, Runner};
use crate::driver::store_dir;
use crate::run::{Replay, RunConfig};
use crate::store::{FILE_NAME, Store, sha256_hex};
use crate::term::{USAGE, view::StepView};

#[derive(clap::Args, Debug)]
pub struct ResumeArgs {
    /// The run's id (or a unique start of it), as `flowc runs` lists it
    pub run: String,
    /// The folder of the store that keeps the run (default: FLOWC_STORE, or `.flowc`)
    #[arg(long, value_name = "DIR")]
    pub store: Option<String>,
    /// Resume although a source file changed; a journaled step is then replayed
    /// only when its tool, binding and arguments are also unchanged
    #[arg(long)]
    pub allow_changed: bool,
    /// Run again the `effect` steps that started and did not finish, also
    /// those without an `idempotency_key`
    #[arg(long)]
    pub rerun_uncertain: bool,
    /// A run-wide option, such as `timeout=10s` (repeatable): added to, and
    /// winning over, the `--set` options the run was started with
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Ask each `approve` here (`approve? [y/N]`) when stdin is a terminal,
    /// instead of pausing the run again
    #[arg(long)]
    pub interactive: bool,
    /// Print nothing on stderr but errors
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub llm: LlmFlags,
    /// A run on Restate, `restate:INGRESS_URL` (default: FLOWC_ENGINE): it goes
    /// on by itself; this waits for its end and prints it
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
}

pub fn resume(a: &ResumeArgs) -> u8 {
    match crate::restate::engine_of(a.engine.as_deref()) {
        Ok(Some(ingress)) => return super::engine::resume(&ingress, &a.run, a.quiet),
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    }
    let dir = store_dir(a.store.as_deref());
    if !dir.join(FILE_NAME).exists() {
        eprintln!(
            "error: there is no store `{}`: nothing to resume",
            dir.join(FILE_NAME).display()
        );
        return USAGE;
    }
    let store = match Store::open(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    let run = match store.run(&a.run) {
        Ok(Ok(r)) => r,
        Ok(Err(message)) => {
            eprintln!("error: {message}; `flowc runs` lists the runs");
            return USAGE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    match run.status.as_str() {
        "ok" => {
            eprintln!(
                "error: run {} already ended `ok`; there is nothing to resume (`flowc runs show {}` shows its result)",
                run.id, run.id
            );
            return USAGE;
        }
        "running" => {
            eprintln!(
                "error: run {} is still running (process {} on {}); resume it once it has stopped",
                run.id, run.pid, run.host
            );
            return USAGE;
        }
        _ => {}
    }
    // One process owns a run at a time: taken before anything of it is read
    // to be run again (its journal, its approvals), given back when refused.
    let Some(previous) = crate::store::RunStatus::parse(&run.status) else {
        eprintln!(
            "error: run {} has an unknown status `{}`",
            run.id, run.status
        );
        return USAGE;
    };
    match store.take_run(&run.id, &run.status) {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            eprintln!("error: {why}");
            return USAGE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    }
    match resume_owned(a, &store, run) {
        Ok(code) => code,
        Err((code, id)) => {
            if let Err(e) = store.release_run(&id, previous) {
                eprintln!("error: {e}");
            }
            code
        }
    }
}

/// Resumes `run`, which this process owns; `Err((exit code, run id))` when
/// it is refused before it runs (the caller gives it back).
fn resume_owned(
    a: &ResumeArgs,
    store: &Store,
    run: crate::store::RunRow,
) -> Result<u8, (u8, String)> {
    let refuse = |code: u8| Err((code, run.id.clone()));
    let checked = match super::run::load(&run.file, a.quiet) {
        Ok(c) => c,
        Err(code) => {
            eprintln!(
                "note: run {} ran `{}`; resume it from the folder it was started in",
                run.id, run.file
            );
            return refuse(code);
        }
    };
    // Changed source (docs/store.md): every file the run used, by its hash.
    let stored = match store.run_sources(&run.id) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return refuse(USAGE);
        }
    };
    let now: HashMap<&str, String> = checked
        .sources
        .iter()
        .map(|(_, f)| (f.name.as_str(), sha256_hex(f.text.as_bytes())))
        .collect();
    let mut changed: Vec<&str> = stored
        .iter()
        .filter(|(p, h)| now.get(p.as_str()) != Some(h))
        .map(|(p, _)| p.as_str())
        .collect();
    changed.extend(
        now.keys()
            .filter(|p| !stored.iter().any(|(s, _)| s == *p))
            .copied(),
    );
    changed.sort_unstable();
    if !changed.is_empty() && !a.allow_changed {
        eprintln!(
            "error: the source of run {} changed since it ran: {}; `--allow-changed` resumes it anyway, running again the steps whose tool or arguments changed",
            run.id,
            changed.join(", ")
        );
        return refuse(USAGE);
    }
    let journal = match store.journal(&run.id) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: {e}");
            return refuse(USAGE);
        }
    };
    // Effects that started and did not finish: they may have happened.
    let mut uncertain: Vec<&str> = journal
        .iter()
        .filter(|e| {
            e.status == "running"
                && e.result
                    .as_ref()
                    .and_then(|r| r.get("idempotency_key"))
                    .is_none()
        })
        .map(|e| e.path.as_str())
        .collect();
    uncertain.sort_unstable();
    if !uncertain.is_empty() && !a.rerun_uncertain {
        eprintln!(
            "error: run {} was stopped while these effects ran, without an `idempotency_key`; they may have happened:",
            run.id
        );
        for p in &uncertain {
            eprintln!("  {p}");
        }
        eprintln!(
            "give their calls `with {{ idempotency_key: … }}`, or `--rerun-uncertain` runs them again"
        );
        return refuse(USAGE);
    }
    let done = journal
        .into_iter()
        .filter(|e| e.replayable())
        .map(|e| (e.path.clone(), e))
        .collect();
    // The run's own `--set` options, then those given now.
    let options: Vec<String> = run.options.iter().chain(&a.set).cloned().collect();
    let set = match parse_set(&options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return refuse(USAGE);
        }
    };
    let chosen = match choose_provider(&folder_of(&run.file), &a.llm.args()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return refuse(USAGE);
        }
    };
    let inputs = match run.args {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let view = !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let config = RunConfig {
        set,
        tenant: std::env::var("FLOWC_TENANT").ok(),
        replay: Some(Replay {
            done,
            check_args: a.allow_changed,
        }),
        approvals: super::run::approve_mode(a.interactive),
        ..RunConfig::default()
    };
    let job = Job {
        program: &checked.program,
        sources: &checked.sources,
        flow: &run.flow,
        root: None,
        inputs,
        config,
        provider: chosen.provider,
        progress: view,
        keep: Keep::default(),
    };
    let step_view = StepView::new(view);
    let mut runner = Runner::new();
    let info = RecordInfo {
        file: run.file.clone(),
        set: options,
    };
    let previous =
        crate::store::RunStatus::parse(&run.status).unwrap_or(crate::store::RunStatus::Interrupted);
    let finished = runner.resume_stored(job, store, &run.id, previous, &info, &mut |p| {
        step_view.show(p)
    });
    step_view.finish();
    let mut code = super::run::present(&finished, &checked, &run.flow, a.quiet);
    if let Some(e) = &finished.store_error {
        super::run::print_store_failed(&run.id, e);
        code = USAGE;
    } else if let Outcome::Paused(pending) = &finished.outcome {
        super::run::print_paused(&run.id, pending, a.store.as_deref());
    } else if !a.quiet {
        let replayed = finished.replayed;
        eprintln!(
            "run {} resumed ({replayed} steps replayed from its journal): `flowc runs show {}`",
            run.id, run.id
        );
    }
    Ok(code)
}
