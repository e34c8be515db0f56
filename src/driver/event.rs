//! What a run reports while it goes on, as data: the caller's sink (a
//! closure; a service forwards them to a channel) decides what to show.
//! Nothing here prints.

use super::Checked;
use crate::run::Interp;
use crate::run::record::StepStatus;
use crate::status::RunStatus;

/// One thing a run (or its preparation) reports.
pub enum Event<'a> {
    /// The program was checked: its diagnostics (warnings, or the errors
    /// that keep it from running), to show with its sources.
    Checked(&'a Checked),
    /// The run was handed to an engine that runs it elsewhere (Restate).
    Submitted { run: &'a str, engine: &'a str },
    /// The steps running now and how many ended (every 100 ms, when asked).
    Progress(&'a Progress),
    /// A step started (a tool call, a flow call, a decision, an approval).
    StepStarted { path: &'a str, tool: &'a str },
    /// A step ended.
    StepFinished {
        path: &'a str,
        tool: &'a str,
        status: StepStatus,
    },
    /// An LLM decision was made at `path`.
    Decision { path: &'a str },
    /// A failed block was re-planned (its re-plan's path).
    Replan { path: &'a str },
    /// The run waits for an answer at the approval `path`: paused (answer
    /// with `flowc approve`, then resume it), or, with `goes_on_at` (the
    /// engine's address), it goes on by itself once answered.
    ApprovalRequested {
        run: Option<&'a str>,
        path: &'a str,
        message: &'a str,
        goes_on_at: Option<&'a str>,
    },
    /// The run ended (or paused, or was cancelled).
    Finished { status: RunStatus },
}

/// The steps of a running flow, for a live view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The steps running now.
    pub running: Vec<String>,
    pub done: usize,
    pub failed: usize,
}

/// What the driver looks at while a run goes on, to report it: progress
/// for a live view, and each step's start and end, decisions and re-plans.
pub(super) struct Watch {
    progress: bool,
    steps: bool,
    /// Steps seen so far: running (`true`) or ended, by their index.
    seen: Vec<bool>,
    decisions: usize,
    replans: usize,
}

impl Watch {
    pub(super) fn new(progress: bool, steps: bool) -> Watch {
        Watch {
            progress,
            steps,
            seen: Vec::new(),
            decisions: 0,
            replans: 0,
        }
    }

    pub(super) fn wanted(&self) -> bool {
        self.progress || self.steps
    }

    /// Reports what changed since the last look.
    pub(super) fn look(&mut self, interp: &Interp<'_>, sink: &mut dyn FnMut(Event<'_>)) {
        if self.progress {
            let (running, done, failed) = interp.recorder().progress();
            sink(Event::Progress(&Progress {
                running,
                done,
                failed,
            }));
        }
        if !self.steps {
            return;
        }
        for (i, s) in interp.recorder().steps().iter().enumerate() {
            let running = s.status == StepStatus::Running;
            if i >= self.seen.len() {
                self.seen.push(true);
                sink(Event::StepStarted {
                    path: &s.path,
                    tool: &s.tool,
                });
            }
            if !running && self.seen[i] {
                self.seen[i] = false;
                sink(Event::StepFinished {
                    path: &s.path,
                    tool: &s.tool,
                    status: s.status,
                });
            }
        }
        let decisions = interp.llm().decisions();
        for d in decisions.iter().skip(self.decisions) {
            sink(Event::Decision { path: &d.path });
        }
        self.decisions = decisions.len();
        let replans = interp.replans();
        for r in replans.iter().skip(self.replans) {
            sink(Event::Replan { path: &r.path });
        }
        self.replans = replans.len();
    }
}
