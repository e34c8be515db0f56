//! The shapes of the API's answers, for its OpenAPI document
//! (`GET /api/v1/openapi.json`, made in `api.rs` from these types, the
//! request bodies and the routes' annotations): errors, the `422` of
//! arguments or a file that do not check (with `flowc check`'s
//! diagnostics), flows, runs and what the writes answer.

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, ToResponse, ToSchema};

/// An error: what went wrong and what to do, in words.
#[derive(Serialize, ToSchema)]
pub struct Error {
    pub error: String,
}

/// A request the flow refuses: arguments that do not fit its parameters
/// (`parameter` names the first), or a file that no longer checks
/// (`diagnostics`, as `flowc check --format json` prints them).
#[derive(Serialize, ToSchema)]
pub struct Unprocessable {
    pub error: String,
    pub parameter: Option<String>,
    pub diagnostics: Option<Vec<Diagnostic>>,
}

/// One diagnostic, as `flowc check --format json` prints it.
#[derive(Serialize, ToSchema)]
pub struct Diagnostic {
    /// `E0101`, … (docs/diagnostics.md).
    pub code: String,
    /// `error` or `warning`.
    pub severity: String,
    pub message: String,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub notes: Vec<String>,
    pub help: Option<String>,
    pub labels: Vec<Label>,
}

/// A span of a diagnostic, with what it says there.
#[derive(Serialize, ToSchema)]
pub struct Label {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
}

/// The flows served, and the files whose flows are not (they have errors).
#[derive(Serialize, ToSchema)]
pub struct Flows {
    pub flows: Vec<Flow>,
    pub refused: Vec<RefusedFile>,
}

/// A flow served.
#[derive(Serialize, ToSchema)]
pub struct Flow {
    pub file: String,
    pub name: String,
    /// Its doc comment.
    pub doc: Option<String>,
    /// Its parameters as a JSON Schema object (from their types).
    #[schema(value_type = Object)]
    pub parameters: Value,
    /// Its result type as a JSON Schema.
    #[schema(value_type = Object)]
    pub result: Value,
}

/// A file with errors: its flows are not served.
#[derive(Serialize, ToSchema)]
pub struct RefusedFile {
    pub file: String,
    /// Its diagnostics, rendered as `flowc check` prints them.
    pub diagnostics: String,
}

/// A run started or taken up again.
#[derive(Serialize, ToSchema)]
pub struct RunId {
    pub id: String,
}

/// A run being cancelled.
#[derive(Serialize, ToSchema)]
pub struct Cancelling {
    pub id: String,
    pub cancelling: bool,
}

/// An approval answered: what was recorded, in words.
#[derive(Serialize, ToSchema)]
pub struct Answered {
    pub answered: String,
}

/// Runs, newest first.
#[derive(Serialize, ToSchema)]
pub struct Runs {
    pub runs: Vec<RunRow>,
}

/// A run, as `flowc runs --format json` lists it.
#[derive(Serialize, ToSchema)]
pub struct RunRow {
    pub id: String,
    pub flow: String,
    pub file: String,
    /// `running`, `ok`, `failed`, `paused`, `cancelled`, `interrupted`.
    pub status: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub pid: Option<i64>,
    pub host: Option<String>,
    pub flowc_version: Option<String>,
    #[schema(value_type = Object)]
    pub args: Value,
    #[schema(value_type = Object)]
    pub options: Value,
    /// The flow's result (any JSON value), when it ended `ok`.
    pub result: Option<Value>,
    pub error: Option<Value>,
}

/// A run as `flowc runs show --format json` shows it, with `live`.
#[derive(Serialize, ToSchema)]
pub struct Run {
    #[serde(flatten)]
    pub row: RunRow,
    /// The source files it ran, with their SHA-256.
    pub sources: Vec<Source>,
    /// Its approvals: asked, answered (by whom, with a note), expired.
    pub approvals: Vec<Value>,
    pub steps: Vec<Step>,
    /// Whether this server runs it now.
    pub live: bool,
}

/// A source file of a run.
#[derive(Serialize, ToSchema)]
pub struct Source {
    pub path: String,
    pub sha256: String,
}

/// A step from the run's journal. A value longer than 64 KB as JSON is cut:
/// `{"cut": true, "bytes": N, "preview": "…"}`.
#[derive(Serialize, ToSchema)]
pub struct Step {
    /// Its path in the run (`gated/ok`).
    pub path: String,
    /// `tool`, `flow`, `llm` (a decision or a re-plan) or `approval`.
    pub kind: String,
    pub tool: String,
    /// `running`, `ok`, `failed`, `cached`, `replayed`, `cancelled`, `paused`.
    pub status: String,
    pub attempts: u32,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    /// The arguments it was called with, as a JSON object (a tool call's,
    /// a flow call's; a decision's prompt, context and options), the whole at
    /// `GET /api/v1/runs/{id}/value?step=PATH&part=args` when cut.
    #[schema(value_type = Option<Object>)]
    pub args: Option<Value>,
    /// Why the arguments are absent: too large to keep, or a run from an
    /// older store (schema before 7).
    pub args_not_kept: Option<String>,
    pub result: Option<Value>,
    pub error: Option<Value>,
}

/// `401`: no token, or one the server does not know.
#[derive(ToResponse)]
#[response(description = "No token or an unknown one (`Authorization: Bearer TOKEN`)")]
pub struct Unauthorized(#[allow(dead_code)] Error);

/// `403`: a viewer's token asked for a write (or a cookie write without `X-Flowc: 1`).
#[derive(ToResponse)]
#[response(description = "A viewer's token asked for a write")]
pub struct Forbidden(#[allow(dead_code)] Error);

/// `404`: no such run, flow or file.
#[derive(ToResponse)]
#[response(description = "No such run, flow, step or file")]
pub struct NotFound(#[allow(dead_code)] Error);

/// `409`: cannot be done now.
#[derive(ToResponse)]
#[response(
    description = "Cannot be done now (the run runs, or is not run here; the resume policy refuses)"
)]
pub struct Conflict(#[allow(dead_code)] Error);

/// The bearer token every request carries (docs/service.md, "Tokens").
pub struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token of `--tokens FILE` (`viewer` reads, `operator` also writes), or the one `flowc serve` printed at start",
                    ))
                    .build(),
            ),
        );
    }
}
