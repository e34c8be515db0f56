//! Where runs run: the [`Engine`] trait, so that commands do not branch on
//! it, and [`Local`], this process (its store, its runtime). The Restate
//! engine (`restate::engine`) submits runs to a Restate server instead.

use super::event::Event;
use super::project::{choose_provider, folder_of};
use super::report::{Here, Report, Reported};
use super::runner::{Job, Keep, RecordInfo, Runner};
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
}

impl Engine for Local {
    fn run(
        &mut self,
        prepared: Prepared,
        req: &Request,
        sink: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, Refusal> {
        let chosen =
            choose_provider(&folder_of(&prepared.file), &req.llm).map_err(Refusal::usage)?;
        let provider = chosen.name();
        let store = req.store.as_deref().map(Store::open).transpose()?;
        let Prepared {
            checked,
            file,
            flow,
            inputs,
            settings,
        } = prepared;
        let info = RecordInfo {
            file: file.clone(),
            set: settings.given().to_vec(),
        };
        let mut job = Job::new(&checked.program, &checked.sources, &flow);
        job.inputs = inputs;
        job.options = settings.opts().clone();
        job.approvals = req.approvals;
        job.no_cache = req.no_cache;
        job.provider = chosen.provider;
        job.progress = req.wishes.progress && !asks_on_terminal(provider.as_deref());
        job.steps = req.wishes.steps;
        job.keep = Keep {
            record: req.wishes.record.then(|| info.clone()),
            trace: req.wishes.trace.then(|| format!("{file} {flow}")),
            llm_recording: req.wishes.llm_recording,
            ..Keep::default()
        };
        let finished = match &store {
            Some(s) => self.runner.run_stored(job, s, &info, sink)?,
            None => self.runner.run(job, sink),
        };
        let run_id = finished.run_id.clone();
        Ok(Report {
            run_id,
            flow: flow.clone(),
            reported: Reported::Here(Box::new(Here {
                finished,
                checked,
                store: store.map(|s| s.path().to_path_buf()),
                provider,
                provider_from: chosen.from,
                resumed: false,
            })),
        })
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
