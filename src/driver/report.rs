//! How a run ended, on whichever engine, as data for the caller to present.

use std::path::PathBuf;

use serde_json::Value;

use super::Checked;
use super::runner::Finished;
use crate::status::RunStatus;

/// How a run ended, on whichever engine.
pub struct Report {
    /// Its id: in the store, or on the engine.
    pub run_id: Option<String>,
    pub flow: String,
    pub reported: Reported,
}

impl Report {
    pub fn status(&self) -> RunStatus {
        match &self.reported {
            Reported::Here(h) => h.finished.outcome.status(),
            Reported::Remote(r) => r.status,
        }
    }
}

/// The engine's account of a run.
pub enum Reported {
    /// Run by this process.
    Here(Box<Here>),
    /// Run on another engine, which rendered its errors.
    Remote(Box<RemoteEnd>),
}

/// A run of this process.
pub struct Here {
    pub finished: Finished,
    /// The program it ran (its sources render the errors).
    pub checked: Checked,
    /// The store's file, when one kept the run.
    pub store: Option<PathBuf>,
    /// The LLM provider's name, when there is one.
    pub provider: Option<String>,
    /// The `flowc.toml` that chose it (not when `--llm` did).
    pub provider_from: Option<PathBuf>,
    /// It was resumed (`flowc resume`), not started.
    pub resumed: bool,
}

/// A run that another engine ran.
#[derive(Clone, Debug)]
pub struct RemoteEnd {
    /// Where it ran: the engine's address.
    pub engine: String,
    pub status: RunStatus,
    pub result: Option<Value>,
    /// Each error, rendered where it ran.
    pub errors: Vec<String>,
    /// Each warning, as `file:line:column: message`.
    pub warnings: Vec<String>,
    pub record: Option<Value>,
    pub trace: Option<Value>,
}
