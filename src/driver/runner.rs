//! Running a checked flow, for `flowc run` and `flowc repl` alike: the tokio
//! runtime, the signals that cancel a run (SIGINT, SIGTERM, SIGHUP), the LLM
//! provider, progress for a live view, and what a run leaves behind (warnings,
//! the run record, the Chrome trace, the LLM recording). Nothing is printed
//! here: the caller presents the [`Finished`] run and the [`Progress`] events.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::signals::{Interrupt, Signals};
use crate::check::Program;
use crate::run::approve::Pending;
use crate::run::host::{self, StepHost};
use crate::run::llm::{Llm, Provider, Recording};
use crate::run::record::{Recorder, RunRecord, RunStatus, Warning};
use crate::run::{Interp, RunConfig, RunError};
use crate::source::Sources;
use crate::store::{NewRun, RunEnd, Store, StoreError};

/// One flow to run.
pub struct Job<'a> {
    pub program: &'a Program,
    pub sources: &'a Sources,
    pub flow: &'a str,
    /// The first part of every step path; the flow's name when `None` (the
    /// REPL roots its hidden step flow's paths at `repl`).
    pub root: Option<&'a str>,
    pub inputs: Map<String, Value>,
    pub config: RunConfig,
    /// Who answers LLM decisions (see [`super::project::choose_provider`]).
    pub provider: Option<Box<dyn Provider>>,
    /// Report [`Progress`] every 100 ms while the run goes on.
    pub progress: bool,
    /// What to keep of the run besides its outcome and warnings.
    pub keep: Keep,
}

/// What a run keeps for its caller to write.
#[derive(Clone, Debug, Default)]
pub struct Keep {
    /// The run record (`--record`): the file it ran and its `--set` options.
    pub record: Option<RecordInfo>,
    /// The Chrome trace (`--trace`), under this name.
    pub trace: Option<String>,
    /// The LLM decisions as a replayable recording (`--record-llm`).
    pub llm_recording: bool,
    /// The run record without its steps: a stored run's, whose steps are in
    /// its journal (the recorder stays off unless something else needs it).
    pub record_without_steps: bool,
}

/// The parts of a run record that only the caller knows.
#[derive(Clone, Debug)]
pub struct RecordInfo {
    pub file: String,
    /// `--set` as given: `key=value`.
    pub set: Vec<String>,
}

/// The steps of a running flow, for a live view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The steps running now.
    pub running: Vec<String>,
    pub done: usize,
    pub failed: usize,
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The flow's result.
    Ok(Value),
    /// The flow failed with these errors.
    Failed(Vec<RunError>),
    /// A signal cancelled the run (its tools' process groups were killed).
    Cancelled(Interrupt),
    /// The run reached `approve`s that wait for an answer (in path order):
    /// it paused there, once the steps that were running had finished.
    Paused(Vec<Pending>),
    /// The store could not keep the run (a full disk, a damaged file): it
    /// stopped there, nothing started after, and an effect whose start was
    /// not kept never ran. A stored run's status is what it was before
    /// (`interrupted` for a new run): `flowc resume` continues it.
    StoreFailed(StoreError),
}

impl Outcome {
    /// `ok`, `failed` or `cancelled`, as the run record says.
    pub fn status(&self) -> RunStatus {
        match self {
            Outcome::Ok(_) => RunStatus::Ok,
            Outcome::Failed(_) => RunStatus::Failed,
            Outcome::Cancelled(_) => RunStatus::Cancelled,
            Outcome::Paused(_) => RunStatus::Paused,
            Outcome::StoreFailed(_) => RunStatus::Interrupted,
        }
    }
}

/// A run that has ended, and what it left behind.
pub struct Finished {
    pub outcome: Outcome,
    /// Warnings of the run, in order.
    pub warnings: Vec<Warning>,
    /// When the run started (after checking).
    pub started: Instant,
    pub duration_ms: f64,
    /// How many LLM decisions were made.
    pub decisions: usize,
    /// Asked for by [`Keep::record`].
    pub record: Option<RunRecord>,
    /// Asked for by [`Keep::trace`].
    pub trace: Option<Value>,
    /// Asked for by [`Keep::llm_recording`].
    pub llm_recording: Option<Recording>,
    /// The run's id in the store ([`Runner::run_stored`]).
    pub run_id: Option<String>,
    /// The store could not record how the run ended.
    pub store_error: Option<StoreError>,
    /// How many steps returned their journaled result (`flowc resume`).
    pub replayed: usize,
}

/// A session's runtime: one thread, listening to SIGINT, SIGTERM and SIGHUP
/// from the moment it is made, so that none ends the process while a run's
/// child processes are alive: a signal cancels the run instead.
pub struct Runner {
    rt: tokio::runtime::Runtime,
    signals: Signals,
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new()
    }
}

impl Runner {
    pub fn new() -> Runner {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime starts");
        let signals = rt.block_on(async { Signals::new(true) });
        Runner { rt, signals }
    }

    /// Forgets a SIGINT that came before now (Ctrl-C at an earlier prompt).
    pub fn forget_sigint(&mut self) {
        let signals = &mut self.signals;
        self.rt.block_on(async { signals.forget_sigint() });
    }

    /// Runs `fut` on the session's runtime to its end, or until a signal
    /// cancels it (`Err`; `fut` is dropped, which kills its tools' processes).
    pub fn until_signal<F: Future>(&mut self, fut: F) -> Result<F::Output, Interrupt> {
        let signals = &mut self.signals;
        self.rt.block_on(async {
            tokio::select! {
                r = fut => Ok(r),
                s = signals.recv() => Err(s),
            }
        })
    }

    /// Runs `job` to its end, or until a signal cancels it (dropping the run
    /// kills every tool's process group; what it recorded is still kept).
    /// `on_progress` is called every 100 ms when `job.progress` is set.
    pub fn run(&mut self, job: Job<'_>, on_progress: &mut dyn FnMut(&Progress)) -> Finished {
        self.run_with(job, None, on_progress)
    }

    /// [`Runner::run`], with `store`'s cross-run cache for `cache` options.
    fn run_with(
        &mut self,
        job: Job<'_>,
        store: Option<&Store>,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Finished {
        let Job {
            program,
            sources,
            flow,
            root,
            inputs,
            mut config,
            provider,
            progress,
            keep,
        } = job;
        config.record |= progress
            || (keep.record.is_some() && !keep.record_without_steps)
            || keep.trace.is_some();
        let record_inputs = keep.record.as_ref().map(|_| inputs.clone());
        // The run's journal writer, kept here: its handle goes to the host,
        // and what it holds is written before the run ends.
        let journal = match (store, &config.run_id) {
            (Some(s), Some(id)) => s
                .path()
                .parent()
                .map(|dir| crate::store::Journal::new(dir, id)),
            _ => None,
        };
        let host = step_host(store, config.replay.take(), journal.as_ref(), &config);
        let interp = Interp::builder(program, sources, config)
            .host(host)
            .llm(Llm::new(provider))
            .loader(std::rc::Rc::new(super::FsLoader))
            .build();
        let started_at = crate::builtins::now_rfc3339();
        let signals = &mut self.signals;
        let outcome = self.rt.block_on(async {
            let run = drive(
                interp.run_as(flow, inputs, root.unwrap_or(flow)),
                interp.recorder(),
                progress,
                on_progress,
            );
            tokio::select! {
                biased;
                r = run => match r {
                    Ok(v) => Outcome::Ok(v),
                    Err(errors) => Outcome::Failed(errors),
                },
                p = interp.pause().settled() => Outcome::Paused(p),
                e = store_failed(journal.as_ref()) => Outcome::StoreFailed(e),
                s = signals.recv() => Outcome::Cancelled(s),
            }
        });
        // What the journal still holds is written before the run ends.
        let journal_error = journal.and_then(|j| j.flush().err());
        let duration_ms = interp.recorder().now_ms();
        // The trace before the record: the record takes the recorder's steps.
        let trace = keep.trace.map(|name| interp.recorder().trace(&name));
        let record = keep.record.map(|info| {
            run_record(
                &interp,
                &info,
                flow,
                record_inputs.unwrap_or_default(),
                &outcome,
                &started_at,
                duration_ms,
            )
        });
        Finished {
            replayed: interp.replayed(),
            warnings: interp.recorder().warnings(),
            started: interp.recorder().start,
            duration_ms,
            decisions: interp.llm().decisions().len(),
            record,
            trace,
            llm_recording: keep.llm_recording.then(|| interp.llm().recording()),
            run_id: None,
            store_error: journal_error,
            outcome,
        }
    }

    /// Runs `job` as a run of `store` (docs/store.md): registered as `running`
    /// with its source files' hashes before it starts, every step journaled,
    /// and ended with its status, result or errors, and its run record
    /// without the steps (kept even when `--record` did not ask for it). `Err` when the store cannot register
    /// it (nothing ran then); a store that cannot record the end is
    /// [`Finished::store_error`]. `info` names the run's `.flow` file and
    /// its `--set` options (kept with the run for `flowc resume`).
    pub fn run_stored(
        &mut self,
        job: Job<'_>,
        store: &Store,
        info: &RecordInfo,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<Finished, StoreError> {
        let args = Value::Object(job.inputs.clone());
        let id = store.begin_run(&NewRun {
            flow: job.flow,
            file: &info.file,
            args: &args,
            options: &info.set,
            sources: job
                .sources
                .iter()
                .map(|(_, f)| (f.name.as_str(), f.text.as_str()))
                .collect(),
        })?;
        Ok(self.run_as_stored(
            job,
            store,
            id,
            crate::store::RunStatus::Interrupted,
            info,
            on_progress,
        ))
    }

    /// Runs `job` again as run `id` of `store` (`flowc resume`), which this
    /// process took ([`Store::take_run`]) from status `previous`: the steps
    /// of `job.replay` return their journaled results, and it ends with its
    /// new status (or `previous` again when the store fails under it).
    pub fn resume_stored(
        &mut self,
        job: Job<'_>,
        store: &Store,
        id: &str,
        previous: crate::store::RunStatus,
        info: &RecordInfo,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Finished {
        self.run_as_stored(job, store, id.to_string(), previous, info, on_progress)
    }

    fn run_as_stored(
        &mut self,
        mut job: Job<'_>,
        store: &Store,
        id: String,
        previous: crate::store::RunStatus,
        info: &RecordInfo,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Finished {
        job.config.run_id = Some(id.clone());
        // A stored run can pause at an `approve` (unless it is asked inline).
        if job.config.approvals == crate::run::approve::ApproveMode::Refuse {
            job.config.approvals = crate::run::approve::ApproveMode::Pause;
        }
        // The store keeps the run record without its steps (they are in the
        // journal): `--record` alone asks for them.
        if job.keep.record.is_none() {
            job.keep.record = Some(info.clone());
            job.keep.record_without_steps = true;
        }
        let sources = job.sources;
        let mut finished = self.run_with(job, Some(store), on_progress);
        if let Outcome::StoreFailed(e) = &finished.outcome {
            finished.store_error.get_or_insert_with(|| e.clone());
        }
        // The store did not keep all of the run (its journal): the run is
        // not ended `ok` (nor failed) over steps it lost; it is given back
        // as it was, to be resumed, and the exit status says so (2).
        if let Some(e) = &finished.store_error {
            if let Err(again) = store.release_run(&id, previous) {
                // Still `running` under this process: `interrupted` once it is gone.
                finished.store_error = Some(StoreError {
                    message: format!("{e}; and the run's status could not be written: {again}"),
                });
            }
            finished.run_id = Some(id);
            return finished;
        }
        let (status, error) = match &finished.outcome {
            Outcome::Ok(_) => (crate::store::RunStatus::Ok, None),
            Outcome::Failed(errors) => (
                crate::store::RunStatus::Failed,
                Some(json!(
                    errors
                        .iter()
                        .map(|e| e.record_at(sources))
                        .collect::<Vec<_>>()
                )),
            ),
            Outcome::Cancelled(s) => (
                crate::store::RunStatus::Cancelled,
                Some(json!({ "signal": s.name() })),
            ),
            Outcome::Paused(_) => (crate::store::RunStatus::Paused, None),
            Outcome::StoreFailed(_) => unreachable!("handled above"),
        };
        let end = RunEnd {
            status,
            result: match &finished.outcome {
                Outcome::Ok(v) => Some(v.clone()),
                _ => None,
            },
            error,
            record: finished.record.as_mut().map(|r| {
                let steps = std::mem::take(&mut r.steps);
                let mut v = serde_json::to_value(&*r).expect("records serialise");
                r.steps = steps;
                if let Some(o) = v.as_object_mut() {
                    o.remove("steps");
                }
                v.to_string()
            }),
        };
        let ended = store.end_run(&id, &end).err();
        finished.store_error = ended.or(finished.store_error.take());
        finished.run_id = Some(id);
        finished
    }
}

/// The host a run's steps go through: tools in this process; on resume, the
/// journaled steps replayed; with a store, its journal (through a handle on
/// `journal`, the run's writer) and its cross-run cache.
fn step_host<'s>(
    store: Option<&'s Store>,
    replay: Option<crate::run::Replay>,
    journal: Option<&crate::store::Journal>,
    config: &RunConfig,
) -> std::rc::Rc<dyn StepHost + 's> {
    use std::rc::Rc;
    let mut host: Rc<dyn StepHost + 's> = Rc::new(host::Local::new());
    if let Some(replay) = replay {
        host = Rc::new(host::Replayed::new(host, replay));
    }
    if let Some(store) = store {
        let journal = journal.zip(config.run_id.as_deref()).map(|(j, id)| {
            Box::new(crate::store::RunJournal::new(store, id, j.handle()))
                as Box<dyn host::Journal + 's>
        });
        host = Rc::new(host::Journaled::new(host, journal, Some(store)));
    }
    host
}

/// The first store error under a stored run (never, without a journal).
async fn store_failed(journal: Option<&crate::store::Journal>) -> StoreError {
    match journal {
        Some(j) => j.failed().await,
        None => std::future::pending().await,
    }
}

/// Runs `run`, reporting the recorder's steps every 100 ms when `progress`.
async fn drive<F: Future>(
    run: F,
    recorder: &Recorder,
    progress: bool,
    on_progress: &mut dyn FnMut(&Progress),
) -> F::Output {
    if !progress {
        return run.await;
    }
    tokio::pin!(run);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            r = &mut run => return r,
            _ = tick.tick() => {
                let (running, done, failed) = recorder.progress();
                on_progress(&Progress { running, done, failed });
            }
        }
    }
}

/// The run record (`--record`): every step, its timing and outcome (also
/// of a run on Restate, made by the worker that ran it).
pub fn run_record(
    interp: &Interp<'_>,
    info: &RecordInfo,
    flow: &str,
    inputs: Map<String, Value>,
    outcome: &Outcome,
    started_at: &str,
    duration_ms: f64,
) -> RunRecord {
    let ctx = interp.context_value();
    let sources = interp.sources();
    RunRecord {
        run_id: ctx["run_id"].clone(),
        file: info.file.clone(),
        flow: flow.to_string(),
        inputs: Value::Object(inputs),
        options: set_json(&info.set),
        status: outcome.status(),
        started_at: started_at.to_string(),
        duration_ms,
        signal: match outcome {
            Outcome::Cancelled(s) => Some(s.name()),
            _ => None,
        },
        result: match outcome {
            Outcome::Ok(v) => Some(v.clone()),
            _ => None,
        },
        errors: match outcome {
            Outcome::Failed(errors) => Some(errors.iter().map(|e| e.record_at(sources)).collect()),
            _ => None,
        },
        warnings: interp.recorder().warnings(),
        steps: interp.recorder().take_steps_json(sources),
        decisions: interp.llm().decisions(),
        replans: interp.replans(),
    }
}

fn set_json(set: &[String]) -> Map<String, Value> {
    set.iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}
