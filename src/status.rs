//! Where a run stands: one type for the store's runs, the run record, the
//! driver's outcome and a run on Restate. Its text (`ok`, `paused`, …) is
//! what stores and the record keep; [`RunStatus::parse`] is the one place
//! that reads it back.

use serde::{Deserialize, Serialize};

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// It runs now (in the store: under the process that owns it).
    Running,
    Ok,
    Failed,
    /// A signal cancelled it.
    Cancelled,
    /// It stopped before its end: its process died while it ran (`kill -9`,
    /// a crash, a reboot), or the store could not keep it.
    Interrupted,
    /// It reached an `approve` and waits for an answer (`flowc approve`),
    /// then `flowc resume`.
    Paused,
    /// On Restate: it runs and waits for an approval, going on by itself
    /// once answered (never a stored run's status).
    Waiting,
}

/// Text that names no run status (a store written by another program, a
/// damaged file, a mistyped `--status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl std::fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all: Vec<&str> = RunStatus::STORED.iter().map(|s| s.as_str()).collect();
        write!(
            f,
            "`{}` is no run status; the statuses: {}",
            self.0,
            all.join(", ")
        )
    }
}

impl std::error::Error for UnknownStatus {}

impl RunStatus {
    /// Every status a store keeps, in the order `flowc runs --help` lists them.
    pub const STORED: [RunStatus; 6] = [
        RunStatus::Running,
        RunStatus::Ok,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Interrupted,
        RunStatus::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Paused => "paused",
            RunStatus::Waiting => "waiting",
        }
    }

    /// The status `text` names: the one place statuses are read from text.
    pub fn parse(text: &str) -> Result<RunStatus, UnknownStatus> {
        RunStatus::STORED
            .into_iter()
            .chain([RunStatus::Waiting])
            .find(|r| r.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_string()))
    }

    /// A run of this status can be taken up again (`flowc resume`): it has
    /// ended without success, or it paused.
    pub fn resumable(self) -> bool {
        !matches!(
            self,
            RunStatus::Ok | RunStatus::Running | RunStatus::Waiting
        )
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RunStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<RunStatus, UnknownStatus> {
        RunStatus::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_unknown_text_is_an_error() {
        for s in RunStatus::STORED.into_iter().chain([RunStatus::Waiting]) {
            assert_eq!(RunStatus::parse(s.as_str()), Ok(s));
            let json = serde_json::to_value(s).expect("statuses serialise");
            assert_eq!(json, serde_json::Value::String(s.as_str().into()));
        }
        let e = RunStatus::parse("done").expect_err("no such status");
        assert_eq!(
            e.to_string(),
            "`done` is no run status; the statuses: running, ok, failed, cancelled, interrupted, paused"
        );
    }
}
