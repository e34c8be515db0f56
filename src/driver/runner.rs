//! Running a checked flow, for every front door alike (`flowc run`, `resume`,
//! the REPL, a Restate worker): the tokio runtime, the signals that cancel a
//! run (SIGINT, SIGTERM, SIGHUP) or a run's own `stop`, the one place an
//! interpreter is built, the events a run reports, and what it leaves behind
//! (warnings, the run record, the Chrome trace, the LLM recording). Nothing
//! is printed here: the caller presents the [`Finished`] run and the
//! [`Event`]s.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

pub use super::event::Progress;
use super::event::{Event, Watch};
use super::signals::{Interrupt, Signals};
use crate::check::Program;
use crate::run::approve::{ApproveMode, Pending};
use crate::run::host::{self, StepHost};
use crate::run::llm::{Llm, Provider, Recording};
use crate::run::opts::Opts;
use crate::run::record::{Recorder, RunRecord, Warning};
use crate::run::{Interp, Replay, RunConfig, RunError};
use crate::source::Sources;
use crate::status::RunStatus;
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
    /// The run-wide options (`--set`), decoded once.
    pub options: Opts,
    /// What an `approve` without an answer does (a stored run pauses).
    pub approvals: ApproveMode,
    /// `--no-cache`: `cache` options are ignored.
    pub no_cache: bool,
    /// `flowc resume`: the journaled steps that return their results.
    pub replay: Option<Replay>,
    /// The run's id when no store gives it one (a run on a Restate worker).
    pub run_id: Option<String>,
    /// The step host when not this process's tools (a Restate worker's:
    /// tool calls as `Step` invocations); a re-planned fragment inherits it.
    pub host: Option<std::rc::Rc<dyn StepHost + 'a>>,
    /// Who answers LLM decisions (see [`super::project::choose_provider`]).
    pub provider: Option<Box<dyn Provider>>,
    /// Report [`Event::Progress`] every 100 ms while the run goes on.
    pub progress: bool,
    /// Report each step's start and end, decisions and re-plans
    /// ([`Event::StepStarted`], …) as they happen (every 100 ms).
    pub steps: bool,
    /// What to keep of the run besides its outcome and warnings.
    pub keep: Keep,
    /// The statements of the program's flows' bodies, when taken out of it
    /// (`ir::take_bodies`): lowered and freed one by one.
    pub bodies: Option<crate::ir::Bodies>,
}

impl<'a> Job<'a> {
    /// Flow `flow` of a checked program, with no arguments, the default
    /// options and nothing kept: set the fields that differ.
    pub fn new(program: &'a Program, sources: &'a Sources, flow: &'a str) -> Job<'a> {
        Job {
            program,
            sources,
            flow,
            root: None,
            inputs: Map::new(),
            options: Opts::default(),
            approvals: ApproveMode::default(),
            no_cache: false,
            replay: None,
            run_id: None,
            host: None,
            provider: None,
            progress: false,
            steps: false,
            keep: Keep::default(),
            bodies: None,
        }
    }
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
    /// `ok`, `failed`, `cancelled`, `paused` or `interrupted`, as the run
    /// record and the store say.
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
/// [`Runner::detached`] listens to none: each run is then ended by its own
/// `stop` future (a Restate worker's run, a service's).
pub struct Runner {
    rt: tokio::runtime::Runtime,
    signals: Option<Signals>,
    /// [`Runner::cancellable`]: its runs end when this turns `true`.
    cancel: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new()
    }
}

impl Runner {
    pub fn new() -> Runner {
        let rt = runtime();
        let signals = rt.block_on(async { Signals::new(true) });
        Runner {
            rt,
            signals: Some(signals),
            cancel: None,
        }
    }

    /// A runtime that listens to no signal.
    pub fn detached() -> Runner {
        Runner {
            rt: runtime(),
            signals: None,
            cancel: None,
        }
    }

    /// A runtime that listens to no signal, whose runs are cancelled
    /// ([`Interrupt::Cancel`]) when `cancel` turns `true` (a service's run).
    pub fn cancellable(cancel: tokio::sync::watch::Receiver<bool>) -> Runner {
        Runner {
            rt: runtime(),
            signals: None,
            cancel: Some(cancel),
        }
    }

    /// Forgets a SIGINT that came before now (Ctrl-C at an earlier prompt).
    pub fn forget_sigint(&mut self) {
        if let Some(signals) = &mut self.signals {
            self.rt.block_on(async { signals.forget_sigint() });
        }
    }

    /// The next signal, or the cancel (never, for a detached runner).
    async fn signal(
        signals: &mut Option<Signals>,
        cancel: &mut Option<tokio::sync::watch::Receiver<bool>>,
    ) -> Interrupt {
        match (signals, cancel) {
            (Some(s), _) => s.recv().await,
            (None, Some(c)) => cancelled_by(c.clone()).await,
            (None, None) => std::future::pending().await,
        }
    }

    /// Runs `fut` on the session's runtime to its end, or until a signal
    /// cancels it (`Err`; `fut` is dropped, which kills its tools' processes).
    pub fn until_signal<F: Future>(&mut self, fut: F) -> Result<F::Output, Interrupt> {
        let (signals, cancel) = (&mut self.signals, &mut self.cancel);
        self.rt.block_on(async {
            tokio::select! {
                r = fut => Ok(r),
                s = Runner::signal(signals, cancel) => Err(s),
            }
        })
    }

    /// Runs `job` to its end, or until a signal cancels it (dropping the run
    /// kills every tool's process group; what it recorded is still kept).
    /// `sink` receives the run's [`Event`]s as `job` asks for them.
    pub fn run(&mut self, job: Job<'_>, sink: &mut dyn FnMut(Event<'_>)) -> Finished {
        let (signals, cancel) = (&mut self.signals, &mut self.cancel);
        let session = Session::new(job, None);
        let outcome = self
            .rt
            .block_on(session.run(sink, |_| Runner::signal(signals, cancel)));
        session.finish(outcome)
    }

    /// Runs `job` until it ends or `stop` (given the run's recorder, as
    /// the run starts) returns the reason to stop it: a run with its own
    /// cancellation, such as a Restate worker's.
    pub fn run_until<F: Future<Output = Interrupt>>(
        &mut self,
        job: Job<'_>,
        sink: &mut dyn FnMut(Event<'_>),
        stop: impl FnOnce(&std::rc::Rc<Recorder>) -> F,
    ) -> Finished {
        let session = Session::new(job, None);
        let outcome = self.rt.block_on(session.run(sink, stop));
        session.finish(outcome)
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
        sink: &mut dyn FnMut(Event<'_>),
    ) -> Result<Finished, StoreError> {
        self.stoppable(|stop| run_stored(job, store, info, sink, stop))
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
        previous: RunStatus,
        info: &RecordInfo,
        sink: &mut dyn FnMut(Event<'_>),
    ) -> Finished {
        self.stoppable(|stop| run_as_stored(job, store, id.to_string(), previous, info, sink, stop))
    }

    /// Runs the future `f` makes on the session's runtime to its end; `f`
    /// is given the signal (or the cancel) that stops a run, which a run
    /// awaits beside its work to end as cancelled.
    pub fn stoppable<'s, T, F: Future<Output = T>>(
        &'s mut self,
        f: impl FnOnce(Stop<'s>) -> F,
    ) -> T {
        let (rt, signals, cancel) = (&self.rt, &mut self.signals, &mut self.cancel);
        rt.block_on(f(Box::pin(Runner::signal(signals, cancel))))
    }
}

/// What stops a run: a signal, a service's cancel; the run ends
/// [`Outcome::Cancelled`] with its answer.
pub type Stop<'s> = std::pin::Pin<Box<dyn Future<Output = Interrupt> + 's>>;

/// The stop of a run that `cancel` cancels when it turns `true` (never, if
/// its sender is dropped without).
pub fn cancelled_by(mut cancel: tokio::sync::watch::Receiver<bool>) -> Stop<'static> {
    Box::pin(async move {
        if cancel.wait_for(|v| *v).await.is_err() {
            std::future::pending::<()>().await;
        }
        Interrupt::Cancel
    })
}

/// [`Runner::run_stored`] on the runtime the caller is on (a service runs
/// many at once on a `LocalSet`), until it ends or `stop` does.
pub async fn run_stored(
    job: Job<'_>,
    store: &Store,
    info: &RecordInfo,
    sink: &mut dyn FnMut(Event<'_>),
    stop: Stop<'_>,
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
    Ok(run_as_stored(job, store, id, RunStatus::Interrupted, info, sink, stop).await)
}

/// Runs `job` as run `id` of `store`, which this process owns (taken from
/// status `previous`, given back to it when the store fails under the run).
pub async fn run_as_stored(
    mut job: Job<'_>,
    store: &Store,
    id: String,
    previous: RunStatus,
    info: &RecordInfo,
    sink: &mut dyn FnMut(Event<'_>),
    stop: Stop<'_>,
) -> Finished {
    job.run_id = Some(id.clone());
    // A stored run can pause at an `approve` (unless it is asked inline).
    if job.approvals == ApproveMode::Refuse {
        job.approvals = ApproveMode::Pause;
    }
    // The store keeps the run record without its steps (they are in the
    // journal): `--record` alone asks for them.
    if job.keep.record.is_none() {
        job.keep.record = Some(info.clone());
        job.keep.record_without_steps = true;
    }
    let sources = job.sources;
    sink(Event::Started { run: &id });
    let session = Session::new(job, Some(store));
    let outcome = session.run(sink, |_| stop).await;
    let mut finished = session.finish(outcome);
    finished.run_id = Some(id.clone());
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
        return finished;
    }
    let error = match &finished.outcome {
        Outcome::Failed(errors) => Some(json!(
            errors
                .iter()
                .map(|e| e.record_at(sources))
                .collect::<Vec<_>>()
        )),
        Outcome::Cancelled(s) => Some(json!({ "signal": s.name() })),
        _ => None,
    };
    let end = RunEnd {
        status: finished.outcome.status(),
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
    finished
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

/// The one place an interpreter is built for a run: its options, its step
/// host (`host`, such as a Restate worker's, else this process's tools with
/// the replayed steps and the store's journal and cache), LLM provider,
/// loader, and lowering (of `bodies`, the flows' bodies taken out of
/// `program`, when given).
fn interpreter<'p>(
    program: &'p Program,
    sources: &'p Sources,
    mut config: RunConfig,
    (store, journal): (Option<&'p Store>, Option<&crate::store::Journal>),
    host: Option<std::rc::Rc<dyn StepHost + 'p>>,
    provider: Option<Box<dyn Provider>>,
    bodies: Option<crate::ir::Bodies>,
) -> Interp<'p> {
    // A re-planned fragment's imports, and the MCP cache of the run's store.
    let loader = match store.and_then(|s| s.path().parent()) {
        Some(dir) => super::FsLoader::new(dir),
        None => super::FsLoader::here(),
    };
    let host = match host {
        Some(h) => h,
        None => step_host(store, config.replay.take(), journal, &config),
    };
    let builder = Interp::builder(program, sources, config);
    let builder = match bodies {
        Some(b) => builder.lowering(crate::run::Lowering::taking(program, b)),
        None => builder,
    };
    builder
        .host(host)
        .llm(Llm::new(provider))
        .loader(std::rc::Rc::new(loader))
        .build()
}

/// One run on its way: its interpreter and what it keeps. Many sessions can
/// run at once on one runtime (a `LocalSet`: the interpreter is not `Send`);
/// nothing of one is shared with another.
pub struct Session<'a> {
    interp: Interp<'a>,
    /// The run's journal writer (a stored run): the host journals through a
    /// handle on it; what it holds is written before the run ends.
    journal: Option<crate::store::Journal>,
    run_id: Option<String>,
    flow: &'a str,
    root: Option<&'a str>,
    inputs: Map<String, Value>,
    record_inputs: Option<Map<String, Value>>,
    keep: Keep,
    progress: bool,
    steps: bool,
    started_at: String,
}

impl<'a> Session<'a> {
    /// Prepares `job`'s run (nothing runs yet), journaled to `store`'s when
    /// it has a run id.
    pub fn new(job: Job<'a>, store: Option<&'a Store>) -> Session<'a> {
        let Job {
            program,
            sources,
            flow,
            root,
            inputs,
            options,
            approvals,
            no_cache,
            replay,
            run_id,
            host,
            provider,
            progress,
            steps,
            keep,
            bodies,
        } = job;
        let record = progress
            || steps
            || (keep.record.is_some() && !keep.record_without_steps)
            || keep.trace.is_some();
        let config = RunConfig {
            set: options,
            record,
            tenant: std::env::var("FLOWC_TENANT").ok(),
            run_id,
            no_cache,
            replay,
            approvals,
        };
        let journal = match (store, &config.run_id) {
            (Some(s), Some(id)) => s
                .path()
                .parent()
                .map(|dir| crate::store::Journal::new(dir, id)),
            _ => None,
        };
        let run_id = config.run_id.clone();
        Session {
            interp: interpreter(
                program,
                sources,
                config,
                (store, journal.as_ref()),
                host,
                provider,
                bodies,
            ),
            journal,
            run_id,
            record_inputs: keep.record.as_ref().map(|_| inputs.clone()),
            flow,
            root,
            inputs,
            keep,
            progress,
            steps,
            started_at: crate::builtins::now_rfc3339(),
        }
    }

    /// Runs the flow to its end, a pause, a store failure, or until `stop`
    /// (given the run's recorder) returns: then the run is dropped, which
    /// kills its tools' process groups, and it is [`Outcome::Cancelled`].
    pub async fn run<F: Future<Output = Interrupt>>(
        &self,
        sink: &mut dyn FnMut(Event<'_>),
        stop: impl FnOnce(&std::rc::Rc<Recorder>) -> F,
    ) -> Outcome {
        let interp = &self.interp;
        let stop = stop(interp.recorder());
        let mut watch = Watch::new(self.progress, self.steps);
        let run = drive(
            interp.run_as(
                self.flow,
                self.inputs.clone(),
                self.root.unwrap_or(self.flow),
            ),
            interp,
            &mut watch,
            sink,
        );
        let outcome = tokio::select! {
            biased;
            r = run => match r {
                Ok(v) => Outcome::Ok(v),
                Err(errors) => Outcome::Failed(errors),
            },
            p = interp.pause().settled() => Outcome::Paused(p),
            e = store_failed(self.journal.as_ref()) => Outcome::StoreFailed(e),
            s = stop => Outcome::Cancelled(s),
        };
        if self.steps {
            watch.look(interp, sink);
        }
        if let Outcome::Paused(pending) = &outcome {
            let run = self.run_id.as_deref();
            for p in pending {
                sink(Event::ApprovalRequested {
                    run,
                    path: &p.path,
                    message: &p.message,
                    goes_on_at: None,
                });
            }
        }
        sink(Event::Finished {
            status: outcome.status(),
        });
        outcome
    }

    /// What the run left behind, once it has ended as `outcome`.
    pub fn finish(mut self, outcome: Outcome) -> Finished {
        let interp = &mut self.interp;
        // What the journal still holds is written before the run ends.
        let journal_error = self.journal.take().and_then(|j| j.flush().err());
        let duration_ms = interp.recorder().now_ms();
        // The trace before the record: the record takes the recorder's steps.
        let trace = self
            .keep
            .trace
            .take()
            .map(|name| interp.recorder().trace(&name));
        let record = self.keep.record.take().map(|info| {
            run_record(
                interp,
                &info,
                self.flow,
                self.record_inputs.take().unwrap_or_default(),
                &outcome,
                &self.started_at,
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
            llm_recording: self.keep.llm_recording.then(|| interp.llm().recording()),
            run_id: None,
            store_error: journal_error,
            outcome,
        }
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

/// Runs `run`, reporting what `watch` looks for every 100 ms.
async fn drive<F: Future>(
    run: F,
    interp: &Interp<'_>,
    watch: &mut Watch,
    sink: &mut dyn FnMut(Event<'_>),
) -> F::Output {
    if !watch.wanted() {
        return run.await;
    }
    tokio::pin!(run);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            r = &mut run => return r,
            _ = tick.tick() => watch.look(interp, sink),
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
