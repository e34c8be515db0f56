//! Runs on Restate (docs/scale-out.md): `flowc worker` serves a Restate endpoint, and
//! `flowc run --engine restate:URL` submits runs to it.
//!
//! The design (docs/scale-out.md): the interpreter stays the orchestrator. A
//! run is a `FlowRun` workflow keyed by its run id, whose handler runs the
//! interpreter; every tool call is a `Step` invocation of its own, sent
//! through the ingress with the idempotency key `RUN_ID/STEP_PATH`, so a step
//! that finished returns its result from Restate instead of running again,
//! and one in flight is attached to. A worker that dies takes its `FlowRun`
//! with it: Restate runs it again elsewhere, from the start, and every step
//! that had finished comes back without running. An `approve` is an
//! `Approval` workflow keyed `RUN_ID/STEP_PATH` that waits on a durable
//! promise. `RunIndex` lists the runs for `flowc runs`.
//!
//! [`client`] is the ingress side (submit, wait, list, show, approve);
//! [`worker`] the endpoint; [`steps`] the interpreter's way to Restate.

pub mod client;
pub mod engine;
pub mod steps;
pub mod worker;

pub use crate::status::RunStatus;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `FLOWC_ENGINE`: the engine when `--engine` is not given (`restate:URL`).
pub const ENGINE_ENV: &str = "FLOWC_ENGINE";

/// The largest message a worker sends to Restate by default (`flowc worker
/// --max-message`): Restate's own default limit, `worker.invoker.message-size-limit`
/// (32 MiB in server 1.7.12, as `ingress.request-size-limit`). A step's
/// result, a run's outcome: each is one message.
pub const MESSAGE_LIMIT: u64 = 32 << 20;

/// What a message carries besides its JSON value (the protocol's framing,
/// the entry's name): a value fits when its JSON text and this fit the limit.
pub const MESSAGE_ENVELOPE: u64 = 64 << 10;

/// The size of `value`'s JSON text when it is more than `limit` allows a
/// message to carry (with [`MESSAGE_ENVELOPE`]); `None` when it fits.
pub fn over_limit<T: Serialize>(value: &T, limit: u64) -> Option<u64> {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    serde_json::to_writer(&mut n, value).expect("values serialise");
    (n.0.saturating_add(MESSAGE_ENVELOPE) > limit).then_some(n.0)
}

/// The ingress URL of `restate:URL` (`http://127.0.0.1:8080`), without a trailing `/`.
pub fn parse_engine(spec: &str) -> Result<String, String> {
    let Some(url) = spec.strip_prefix("restate:") else {
        return Err(format!(
            "unknown engine `{spec}`: the engine is `restate:INGRESS_URL`, such as `restate:http://127.0.0.1:8080`"
        ));
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "`{spec}`: the ingress URL starts with `http://`, such as `restate:http://127.0.0.1:8080`"
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// The engine of `--engine`, else of `FLOWC_ENGINE`; `None` for a local run.
pub fn engine_of(flag: Option<&str>) -> Result<Option<String>, String> {
    match flag {
        Some(s) => parse_engine(s).map(Some),
        None => match std::env::var(ENGINE_ENV) {
            Ok(s) if !s.is_empty() => parse_engine(&s)
                .map(Some)
                .map_err(|e| format!("{ENGINE_ENV}: {e}")),
            _ => Ok(None),
        },
    }
}

/// What `flowc run --engine` submits: the `FlowRun` workflow's input.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRequest {
    /// The `.flow` file as the client named it.
    pub file: String,
    /// Its absolute path on the client's machine.
    pub path: String,
    /// SHA-256 of its text: the worker runs it only when it serves the same text.
    pub sha256: String,
    pub flow: String,
    pub inputs: Map<String, Value>,
    /// The run-wide options (`--set key=value`), decoded once: sent as
    /// given, decoded as they arrive.
    #[serde(default)]
    pub set: crate::driver::Settings,
    /// The ingress the worker sends the run's steps through.
    pub ingress: String,
    /// Keep the run's Chrome trace (`--trace`).
    #[serde(default)]
    pub trace: bool,
}

/// How a run on Restate ended: the `FlowRun` workflow's output.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOutcome {
    /// `ok` or `failed`.
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Each error, rendered by the worker.
    #[serde(default)]
    pub errors: Vec<String>,
    /// Each warning, as `file:line:column: message`.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The run record, as `flowc run --record` writes it (its `steps`:
    /// path, tool, status, attempts of each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Value>,
    /// The Chrome trace, when the request asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Value>,
}

impl Default for RunOutcome {
    /// A failed run, with nothing yet said of it.
    fn default() -> RunOutcome {
        RunOutcome {
            status: RunStatus::Failed,
            result: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            record: None,
            trace: None,
        }
    }
}

/// A tool call sent to the `Step` service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepRequest {
    pub run: String,
    pub path: String,
    /// The served file's key (see [`worker::Served`]).
    pub file: String,
    /// SHA-256 of the text the run's interpreter runs: a worker that serves
    /// other text under the same key refuses the step.
    pub sha256: String,
    pub module: usize,
    pub tool: String,
    pub input: Value,
    pub max_output: u64,
    #[serde(default)]
    pub key: Option<String>,
    /// When the call's `timeout` ends, in milliseconds since the Unix epoch:
    /// the worker stops the tool then, and does not start it after (the
    /// workers' clocks and the run's are taken to agree).
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

/// A tool call's outcome as Restate keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Ok(Value),
    Failed {
        message: String,
        #[serde(default)]
        help: Option<String>,
        #[serde(default)]
        permanent: bool,
        /// The worker stopped the tool at the call's timeout (or did not
        /// start it after): the run's own timer ends the call, as a `timeout`.
        #[serde(default)]
        timed_out: bool,
    },
}

/// A run as `flowc runs --engine` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunEntry {
    pub id: String,
    pub flow: String,
    pub file: String,
    /// `running`, `waiting` (for an approval), `ok` or `failed`.
    pub status: RunStatus,
    pub started: String,
    #[serde(default)]
    pub ended: Option<String>,
    /// The approvals it waits for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<Waiting>,
    /// The approvals answered, with who answered, when and their note.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answered: Vec<Answered>,
}

/// An approval of a run that was answered.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Answered {
    pub path: String,
    pub message: String,
    pub approved: bool,
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A step as a running run shows it (`flowc runs show --engine`): the
/// worker that runs the interpreter sends the run's steps to `RunProgress`
/// when they change, at most once a second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepProgress {
    pub path: String,
    pub tool: String,
    pub status: String,
}

/// An approval a run waits for.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Waiting {
    pub path: String,
    pub message: String,
}

/// An answer to an `approve` (`flowc approve --engine`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Answer {
    pub approved: bool,
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub at: Option<String>,
}

/// The idempotency key of a step's invocation: the run and the step's path;
/// a retry of the call (`retries`) is `#N` after it.
pub fn step_key(run: &str, path: &str, attempt: u32) -> String {
    if attempt <= 1 {
        format!("{run}/{path}")
    } else {
        format!("{run}/{path}#{attempt}")
    }
}
