//! Where runs run: the [`Engine`] trait, so that commands do not branch on
//! it, and [`Local`], this process (its store, its runtime). The Restate
//! engine (`restate::engine`) submits runs to a Restate server instead.

use super::event::Event;
use super::project::{Chosen, choose_provider, folder_of};
use super::report::{Here, Report, Reported};
use super::runner::{Job, Keep, RecordInfo, Runner, Stop};
use super::session::{ApproveRequest, Prepared, Refusal, Request, ResumeRequest, asks_on_terminal};
use crate::store::Store;

/// An engine: runs prepared requests, resumes runs, answers their approvals.
pub trait Engine {
    /// Runs `prepared` (as `req` asks: provider, store, approvals, what to
    /// keep) to its end, a pause or a cancellation.
    fn run(
        &mut self,
        prepared: Prepared,
        req: &Request,
        sink: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, Refusal>;

    /// Takes up a run again (or, where runs go on by themselves, waits for it).
    fn resume(
        &mut self,
        req: &ResumeRequest,
        sink: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, Refusal>;

    /// Answers an approval a run waits for: what was done, in words.
    fn approve(&mut self, req: &ApproveRequest) -> Result<String, Refusal>;
}

/// This process: runs on the runner's runtime, kept in a store when the
/// request names one.
pub struct Local {
    runner: Runner,
}

impl Default for Local {
    fn default() -> Self {
        Local::new()
    }
}

impl Local {
    /// Listens to SIGINT, SIGTERM and SIGHUP from now: they cancel its runs.
    pub fn new() -> Local {
        Local {
            runner: Runner::new(),
        }
    }

    /// On `runner` (a service's: [`Runner::cancellable`], listening to no signal).
    pub fn on(runner: Runner) -> Local {
        Local { runner }
    }
}

impl Engine for Local {
    fn run(
        &mut self,
        prepared: Prepared,
        req: &Request,
        sink: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, Refusal> {
        match req.store.as_deref().map(Store::open).transpose()? {
            Some(store) => self
                .runner
                .stoppable(|stop| run_on(prepared, req, &store, sink, stop)),
            None => {
                let (checked, mut run) = Planned::of(prepared, req)?;
                let finished = self.runner.run(run.job(&checked, req), sink);
                Ok(run.report(finished, checked, None))
            }
        }
    }

    fn resume(
        &mut self,
        req: &ResumeRequest,
        sink: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, Refusal> {
        super::resume::resume(&mut self.runner, req, sink)
    }

    fn approve(&mut self, req: &ApproveRequest) -> Result<String, Refusal> {
        super::resume::approve(req)
    }
}

/// [`Local`]'s stored run on the runtime the caller is on, with `store`
/// open (a service runs many at once on a `LocalSet`), until the run ends
/// or `stop` does.
pub async fn run_on(
    prepared: Prepared,
    req: &Request,
    store: &Store,
    sink: &mut dyn FnMut(Event<'_>),
    stop: Stop<'_>,
) -> Result<Report, Refusal> {
    let (checked, mut run) = Planned::of(prepared, req)?;
    let info = run.info.clone();
    let job = run.job(&checked, req);
    let finished = super::runner::run_stored(job, store, &info, sink, stop).await?;
    Ok(run.report(finished, checked, Some(store)))
}

/// A prepared run's parts besides its checked program, with the provider
/// chosen.
struct Planned {
    file: String,
    flow: String,
    inputs: serde_json::Map<String, serde_json::Value>,
    settings: super::session::Settings,
    chosen: Option<Chosen>,
    provider: Option<String>,
    provider_from: Option<std::path::PathBuf>,
    /// The flows' bodies, taken out of the checked program for the run.
    bodies: Option<crate::ir::Bodies>,
    info: RecordInfo,
}

impl Planned {
    fn of(prepared: Prepared, req: &Request) -> Result<(super::Checked, Planned), Refusal> {
        let chosen =
            choose_provider(&folder_of(&prepared.file), &req.llm).map_err(Refusal::usage)?;
        let Prepared {
            mut checked,
            file,
            flow,
            inputs,
            settings,
        } = prepared;
        // What runs is lowered from the flows' bodies taken out of the
        // checked program, each statement freed once lowered: a large flow's
        // AST and IR are not alive together. (Not when the run may re-plan:
        // a fragment is checked against the whole program.)
        let replans =
            checked.program.replan_stated || settings.opts().replan_on_error == Some(true);
        let bodies = (!replans).then(|| crate::ir::take_bodies(&mut checked.program));
        let info = RecordInfo {
            file: file.clone(),
            set: settings.given().to_vec(),
        };
        Ok((
            checked,
            Planned {
                file,
                flow,
                inputs,
                settings,
                provider: chosen.name(),
                provider_from: chosen.from.clone(),
                chosen: Some(chosen),
                info,
                bodies,
            },
        ))
    }

    /// The job to run (its provider taken from the plan: once).
    fn job<'a>(&'a mut self, checked: &'a super::Checked, req: &Request) -> Job<'a> {
        let mut job = Job::new(&checked.program, &checked.sources, &self.flow);
        job.inputs = std::mem::take(&mut self.inputs);
        job.options = self.settings.opts().clone();
        job.approvals = req.approvals;
        job.no_cache = req.no_cache;
        job.provider = self.chosen.take().and_then(|c| c.provider);
        job.progress = req.wishes.progress && !asks_on_terminal(self.provider.as_deref());
        job.steps = req.wishes.steps;
        job.bodies = self.bodies.take();
        job.keep = Keep {
            record: req.wishes.record.then(|| self.info.clone()),
            trace: req
                .wishes
                .trace
                .then(|| format!("{} {}", self.file, self.flow)),
            llm_recording: req.wishes.llm_recording,
            ..Keep::default()
        };
        job
    }

    fn report(
        self,
        finished: super::runner::Finished,
        checked: super::Checked,
        store: Option<&Store>,
    ) -> Report {
        Report {
            run_id: finished.run_id.clone(),
            flow: self.flow,
            reported: Reported::Here(Box::new(Here {
                finished,
                checked,
                store: store.map(|s| s.path().to_path_buf()),
                provider: self.provider,
                provider_from: self.provider_from,
                resumed: false,
            })),
        }
    }
}
