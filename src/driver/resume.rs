//! The resume policy (docs/store.md, `flowc resume`): a stored run is taken
//! up again only when it ended without success or paused, by one process at
//! a time, when its sources are unchanged (or `--allow-changed`), and when
//! no effect it started without an `idempotency_key` may have happened (or
//! `--rerun-uncertain`); its journal's successes are replayed, not run. Also
//! the answer to a paused run's approval (`flowc approve`).

use std::collections::HashMap;

use serde_json::Value;

use super::FsLoader;
use super::event::Event;
use super::project::{choose_provider, folder_of};
use super::report::{Here, Report, Reported};
use super::runner::{Job, RecordInfo, Runner, Stop, run_as_stored};
use super::session::{
    ApproveRequest, Refusal, ResumeRequest, Settings, asks_on_terminal, check_file,
};
use crate::run::Replay;
use crate::status::RunStatus;
use crate::store::{Answer, FILE_NAME, JournalEntry, RunRow, Store, sha256_hex};

/// Opens the store of `dir` when it exists; `missing` says what is refused
/// without it.
fn existing_store(dir: &std::path::Path, missing: &str) -> Result<Store, Refusal> {
    if !dir.join(FILE_NAME).exists() {
        return Err(Refusal::usage(format!(
            "there is no store `{}`: {missing}",
            dir.join(FILE_NAME).display()
        )));
    }
    Ok(Store::open(dir)?)
}

/// Resumes run `req.run` of its store on `runner`, reporting `sink` events.
pub fn resume(
    runner: &mut Runner,
    req: &ResumeRequest,
    sink: &mut dyn FnMut(Event<'_>),
) -> Result<Report, Refusal> {
    let store = existing_store(&req.store, "nothing to resume")?;
    runner.stoppable(|stop| resume_on(&store, req, sink, stop))
}

/// [`resume`] on the runtime the caller is on, with `store` open (a
/// service's), until the run ends or `stop` does.
pub async fn resume_on(
    store: &Store,
    req: &ResumeRequest,
    sink: &mut dyn FnMut(Event<'_>),
    stop: Stop<'_>,
) -> Result<Report, Refusal> {
    let run = store
        .run(&req.run)?
        .map_err(|m| Refusal::usage(format!("{m}; `flowc runs` lists the runs")))?;
    match run.status {
        RunStatus::Ok if req.rerun.is_none() => {
            return Err(Refusal::usage(format!(
                "run {} already ended `ok`; there is nothing to resume (`flowc runs show {}` shows its result)",
                run.id, run.id
            )));
        }
        RunStatus::Running => {
            return Err(Refusal::usage(format!(
                "run {} is still running (process {} on {}); resume it once it has stopped",
                run.id, run.pid, run.host
            )));
        }
        _ => {}
    }
    // One process owns a run at a time: taken before anything of it is read
    // to be run again (its journal, its approvals), given back when refused.
    let previous = run.status;
    let taken = if req.rerun.is_some() {
        store.take_run_to_retry(&run.id, previous)?
    } else {
        store.take_run(&run.id, previous)?
    };
    taken.map_err(Refusal::usage)?;
    let id = run.id.clone();
    let job = match owned(req, store, run, sink) {
        Ok(job) => job,
        Err(refusal) => {
            return Err(match store.release_run(&id, previous) {
                Ok(()) => refusal,
                Err(e) => refusal.then(format!("error: {e}")),
            });
        }
    };
    let Owned {
        checked,
        run,
        settings,
        chosen,
        done,
    } = job;
    let provider = chosen.name();
    let inputs = match run.args {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let info = RecordInfo {
        file: run.file.clone(),
        set: settings.given().to_vec(),
    };
    let mut job = Job::new(&checked.program, &checked.sources, &run.flow);
    job.inputs = inputs;
    job.options = settings.opts().clone();
    job.approvals = req.approvals;
    job.replay = Some(Replay {
        done,
        check_args: req.allow_changed,
    });
    job.provider = chosen.provider;
    job.progress = req.wishes.progress && !asks_on_terminal(provider.as_deref());
    job.steps = req.wishes.steps;
    let finished = run_as_stored(job, store, run.id.clone(), run.status, &info, sink, stop).await;
    Ok(Report {
        run_id: Some(run.id),
        flow: run.flow.clone(),
        reported: Reported::Here(Box::new(Here {
            finished,
            checked,
            store: Some(store.path().to_path_buf()),
            provider,
            provider_from: chosen.from,
            resumed: true,
        })),
    })
}

/// The journaled steps that a retry from step `path` runs again: the step
/// and the steps under it; in the flow's top-level `let` that holds it, the
/// steps that started after it did (they may have used it); and every step
/// of the top-level `let`s that depend on that one, directly or not (the
/// flow's dataflow graph, as `flowc graph` draws it).
fn rerun_set(
    checked: &super::Checked,
    run: &RunRow,
    journal: &[JournalEntry],
    path: &str,
) -> Result<std::collections::HashSet<String>, Refusal> {
    let Some(target) = journal.iter().find(|e| e.path == path) else {
        let mut paths: Vec<&str> = journal.iter().map(|e| e.path.as_str()).collect();
        paths.sort_unstable();
        let help = crate::diag::suggest(path, paths.iter().copied())
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        return Err(Refusal::usage(format!(
            "run {} has no step `{path}`{help}; `flowc runs show {}` lists its steps",
            run.id, run.id
        )));
    };
    // `main/out/for[3]/s` -> `out`; `main/p.left` -> `p`.
    let top = |p: &str| -> Option<String> {
        let rest = p.strip_prefix(&format!("{}/", run.flow))?;
        let end = rest.find(['/', '.', '[']).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    };
    let own = top(path);
    let graph = crate::ir::lower_flow(
        &checked.program,
        &checked.sources,
        checked.program.root,
        &run.flow,
    );
    let g = &graph.body.graph;
    let mut later: std::collections::HashSet<String> = Default::default();
    if let Some(start) = g
        .node_indices()
        .find(|&n| Some(&g[n].label) == own.as_ref())
    {
        let mut dfs = petgraph::visit::Dfs::new(g, start);
        while let Some(n) = dfs.next(g) {
            if n != start {
                later.insert(g[n].label.clone());
            }
        }
    }
    let under = format!("{path}/");
    Ok(journal
        .iter()
        .filter(|e| {
            let t = top(&e.path);
            e.path == path
                || e.path.starts_with(&under)
                || (t == own && own.is_some() && e.started_ms >= target.started_ms)
                || t.is_some_and(|t| later.contains(&t))
        })
        .map(|e| e.path.clone())
        .collect())
}

/// The files of a run that changed since it ran (by their hashes), and
/// those it did not use then.
fn changed_sources(stored: &[(String, String)], now: &crate::source::Sources) -> Vec<String> {
    let now: HashMap<&str, String> = now
        .iter()
        .map(|(_, f)| (f.name.as_str(), sha256_hex(f.text.as_bytes())))
        .collect();
    let mut changed: Vec<String> = stored
        .iter()
        .filter(|(p, h)| now.get(p.as_str()) != Some(h))
        .map(|(p, _)| p.clone())
        .collect();
    changed.extend(
        now.keys()
            .filter(|p| !stored.iter().any(|(s, _)| s == *p))
            .map(|p| p.to_string()),
    );
    changed.sort_unstable();
    changed
}

/// Resumes `run`, which this process owns; refused before it runs (the
/// caller gives it back).
fn owned(
    req: &ResumeRequest,
    store: &Store,
    run: RunRow,
    sink: &mut dyn FnMut(Event<'_>),
) -> Result<Owned, Refusal> {
    let checked = check_file(&run.file, &FsLoader::new(&req.store), sink).map_err(|r| {
        r.then(format!(
            "note: run {} ran `{}`; resume it from the folder it was started in",
            run.id, run.file
        ))
    })?;
    let changed = changed_sources(&store.run_sources(&run.id)?, &checked.sources);
    if !changed.is_empty() && !req.allow_changed {
        return Err(Refusal::usage(format!(
            "the source of run {} changed since it ran: {}; `--allow-changed` resumes it anyway, running again the steps whose tool or arguments changed",
            run.id,
            changed.join(", ")
        )));
    }
    let journal = store.journal(&run.id)?;
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
    if !uncertain.is_empty() && !req.rerun_uncertain {
        let mut refusal = Refusal::usage(format!(
            "run {} was stopped while these effects ran, without an `idempotency_key`; they may have happened:",
            run.id
        ));
        for p in &uncertain {
            refusal = refusal.then(format!("  {p}"));
        }
        return Err(refusal.then(
            "give their calls `with { idempotency_key: … }`, or `--rerun-uncertain` runs them again",
        ));
    }
    let again = match &req.rerun {
        Some(path) => rerun_set(&checked, &run, &journal, path)?,
        None => Default::default(),
    };
    let done = journal
        .into_iter()
        .filter(|e| e.replayable() && !again.contains(&e.path))
        .map(|e| (e.path.clone(), e))
        .collect();
    // The run's own options, then those given now.
    let settings = Settings::parse(&run.options)
        .and_then(|own| Ok(own.with(&Settings::parse(&req.set)?)))
        .map_err(Refusal::usage)?;
    let chosen = choose_provider(&folder_of(&run.file), &req.llm).map_err(Refusal::usage)?;
    Ok(Owned {
        checked,
        run,
        settings,
        chosen,
        done,
    })
}

/// What a run taken up is run with, once the resume policy let it.
struct Owned {
    checked: super::Checked,
    run: RunRow,
    settings: Settings,
    chosen: super::project::Chosen,
    done: HashMap<String, JournalEntry>,
}

/// Answers an approval a paused run of the store waits for: what was done,
/// in words (`flowc resume` then continues the run).
pub fn approve(req: &ApproveRequest) -> Result<String, Refusal> {
    let store = existing_store(&req.store, "no run waits for an approval there")?;
    let run = store.run(&req.run)?.map_err(|m| {
        Refusal::usage(format!(
            "{m}; `flowc runs --status paused` lists the paused runs"
        ))
    })?;
    // Past its deadline an approval is answered `expired` (a no) before anything else.
    store.approvals_expire(Some(&run.id))?;
    let approvals = store.approvals(&run.id)?;
    let pending: Vec<_> = approvals.iter().filter(|p| p.answer().is_none()).collect();
    let path = match (&req.path, pending.as_slice()) {
        (Some(p), _) => p.clone(),
        (None, [one]) => one.path.clone(),
        (None, []) => {
            return Err(Refusal::usage(format!(
                "run {} waits for no approval (status `{}`; {} answered); `flowc runs show {}` shows it",
                run.id,
                run.status,
                approvals.len(),
                run.id
            )));
        }
        (None, several) => {
            let list: Vec<String> = several
                .iter()
                .map(|p| {
                    format!(
                        "  {}: {}",
                        p.path,
                        crate::diag::render::printable(&p.message)
                    )
                })
                .collect();
            return Err(Refusal::usage(format!(
                "run {} waits for {} approvals; name the one to answer (`flowc approve {} PATH`):\n{}",
                run.id,
                several.len(),
                run.id,
                list.join("\n")
            )));
        }
    };
    let by = req.by();
    let answer = Answer {
        approved: req.approved,
        by: &by,
        note: req.note.as_deref(),
    };
    store
        .approval_answer(&run.id, &path, &answer)?
        .map_err(|m| {
            let open: Vec<&str> = pending.iter().map(|p| p.path.as_str()).collect();
            Refusal::usage(if open.is_empty() {
                format!("{m}; it waits for no other approval")
            } else {
                format!("{m}; it waits for: {}", open.join(", "))
            })
        })?;
    let left = pending.len().saturating_sub(1);
    let then = if left == 0 {
        format!("`flowc resume {}` continues the run", run.id)
    } else {
        format!(
            "{left} more approval{} pending; `flowc resume {}` continues the run and pauses at them again",
            if left == 1 { "" } else { "s" },
            run.id
        )
    };
    Ok(format!(
        "{} `{path}` of run {} (by {by}); {then}",
        if req.approved { "approved" } else { "rejected" },
        run.id
    ))
}
