//! The HTTP API (`/api/v1`, docs/service.md): routes, the bearer-token
//! check, JSON answers, the event streams (Server-Sent Events),
//! `/metrics` and the OpenAPI document of them all (`ApiDoc`: each route's
//! handler carries its `#[utoipa::path]`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::App;
use super::auth::{Caller, Role};
use super::console;
use super::openapi::{self as doc, Bearer};
use super::reply::{answer, error, security_headers};
use super::runs::{Ev, Refused, Start};
use crate::driver::session::ApproveRequest;
use crate::driver::{RunStatus, inspect};
use crate::store::Store;

/// Values longer than this (as JSON text) are cut in answers.
pub const CUT: usize = 64 * 1024;

/// Largest request body taken.
const MAX_BODY: usize = 1 << 20;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/v1/flows", get(flows))
        .route("/api/v1/graph", get(console::graph))
        .route("/api/v1/runs/{id}/value", get(console::value))
        .route("/api/v1/runs", get(list_runs).post(start_run))
        .route("/api/v1/runs/{id}", get(show_run))
        .route("/api/v1/runs/{id}/events", get(events))
        .route("/api/v1/runs/{id}/cancel", post(cancel_run))
        .route("/api/v1/runs/{id}/resume", post(resume_run))
        .route("/api/v1/runs/{id}/retry", post(retry_run))
        .route("/api/v1/runs/{id}/approvals/{*path}", post(approve))
        .route("/api/v1/schedules", get(schedules))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(app.clone(), guard))
        // The console's files need no token: they hold no data.
        .route("/", get(console::index))
        .route("/console.js", get(console::script))
        .route("/console.css", get(console::style))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Every request carries `Authorization: Bearer TOKEN` (or the console's
/// cookie); a viewer's token only reads. A write that comes with the cookie
/// alone must carry `X-Flowc: 1` too, which a page of another origin cannot
/// send (cross-site request forgery).
async fn guard(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let given = bearer(req.headers());
    let by_cookie = matches!(given, Some((_, true)));
    let Some(caller) = given.and_then(|(t, _)| app.tokens.caller(&t)) else {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "a token is needed: `Authorization: Bearer TOKEN` (flowc serve printed one at start, or see --tokens)",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    };
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD);
    if writes
        && by_cookie
        && req
            .headers()
            .get(console::CSRF_HEADER)
            .is_none_or(|v| v.as_bytes() != b"1")
    {
        return error(
            StatusCode::FORBIDDEN,
            "a write with the console's cookie carries `X-Flowc: 1` (the console sends it); other clients send `Authorization: Bearer TOKEN`",
        );
    }
    if writes && caller.role < Role::Operator {
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "`{}` is a viewer's token: it reads; an operator's starts, cancels, resumes and approves",
                caller.name
            ),
        );
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The token of a request: its bearer token, or the console's cookie
/// (`true`).
fn bearer(h: &HeaderMap) -> Option<(String, bool)> {
    if let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return v
            .strip_prefix("Bearer ")
            .map(|t| (t.trim().to_string(), false));
    }
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(console::COOKIE)
                .and_then(|c| c.strip_prefix('='))
                .map(|t| (t.to_string(), true))
        })
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such resource; the API is under /api/v1 (docs/service.md)",
    )
}

/// Runs `f` with the store on a blocking thread.
async fn with_store<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&Store) -> Result<T, Fail> + Send + 'static,
) -> Result<T, Response> {
    let app = app.clone();
    let done = tokio::task::spawn_blocking(move || {
        let store = app
            .runs
            .conn()
            .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        f(&store)
    })
    .await;
    match done {
        Ok(Ok(v)) => Ok(v),
        Ok(Err((status, m))) => Err(error(status, m)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// An error inside a store closure: its status and words.
type Fail = (StatusCode, String);

fn fail(status: StatusCode, m: impl ToString) -> Fail {
    (status, m.to_string())
}

#[utoipa::path(get, path = "/api/v1/flows", tag = "flows",
    responses(
        (status = 200, description = "Every flow served, with its parameters as JSON Schema", body = doc::Flows),
        (status = 401, response = doc::Unauthorized),
    ))]
async fn flows(State(app): State<Arc<App>>) -> Response {
    let flows: Vec<Value> = app.catalog.flows.iter().map(|f| f.to_json()).collect();
    let refused: Vec<Value> = app
        .catalog
        .refused
        .iter()
        .map(|(file, diagnostics)| json!({ "file": file, "diagnostics": diagnostics }))
        .collect();
    answer(
        StatusCode::OK,
        json!({ "flows": flows, "refused": refused }),
    )
}

/// A run to start.
#[derive(Deserialize, ToSchema)]
struct StartBody {
    /// The flow's file; may be left out when one file serves a flow of that name.
    file: Option<String>,
    flow: String,
    /// The arguments: JSON values of the parameters' types.
    #[serde(default)]
    #[schema(value_type = Object)]
    args: Map<String, Value>,
    /// Run-wide options as `--set` takes them (`{"timeout": "10s"}`).
    #[serde(default)]
    #[schema(value_type = Object)]
    options: Map<String, Value>,
}

#[utoipa::path(post, path = "/api/v1/runs", tag = "runs", request_body = StartBody,
    responses(
        (status = 201, description = "The run started", body = doc::RunId),
        (status = 400, description = "The body is not JSON of this shape", body = doc::Error),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 422, description = "Arguments that do not fit the parameters, or a file that no longer checks (with its diagnostics)", body = doc::Unprocessable),
    ))]
async fn start_run(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let body: StartBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body must be JSON `{{\"flow\": NAME, \"file\": FILE, \"args\": {{…}}, \"options\": {{…}}}}`: {e}"
                ),
            );
        }
    };
    let flow = match &body.file {
        Some(file) => app.catalog.find(file, &body.flow).ok_or_else(|| {
            format!(
                "`{file}` serves no flow `{}` (GET /api/v1/flows lists them)",
                body.flow
            )
        }),
        None => app.catalog.by_name(&body.flow),
    };
    let flow = match flow {
        Ok(f) => f,
        Err(m) => return error(StatusCode::NOT_FOUND, m),
    };
    let started = app.runs.start(Start {
        file: flow.file.clone(),
        flow: flow.name.clone(),
        args: body.args,
        options: body.options,
    });
    match started.await {
        Ok(Ok(id)) => answer(StatusCode::CREATED, json!({ "id": id })),
        Ok(Err(r)) => refused(r),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the run's thread ended before the run started",
        ),
    }
}

fn refused(r: Refused) -> Response {
    match r {
        Refused::Unprocessable(v) => answer(StatusCode::UNPROCESSABLE_ENTITY, v),
        Refused::Conflict(m) => error(StatusCode::CONFLICT, m),
        Refused::Failed(m) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only runs of this status (`running`, `ok`, `failed`, `paused`, `cancelled`, `interrupted`).
    status: Option<String>,
    /// Only runs of this flow.
    flow: Option<String>,
    /// At most this many (100 by default).
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(ListQuery),
    responses(
        (status = 200, description = "Runs, newest first", body = doc::Runs),
        (status = 400, description = "No such status", body = doc::Error),
        (status = 401, response = doc::Unauthorized),
    ))]
async fn list_runs(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> Response {
    let status = match q.status.as_deref().map(RunStatus::parse) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => {
            let all: Vec<&str> = RunStatus::STORED.iter().map(|s| s.as_str()).collect();
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "`status={}` is no run status; the statuses: {}",
                    q.status.unwrap_or_default(),
                    all.join(", ")
                ),
            );
        }
    };
    let limit = q.limit.unwrap_or(100).min(10_000);
    let flow = q.flow;
    let rows = with_store(&app, move |s| {
        s.runs(status)
            .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))
    })
    .await;
    match rows {
        Ok(rows) => {
            let runs: Vec<Value> = rows
                .iter()
                .filter(|r| flow.as_ref().is_none_or(|f| &r.flow == f))
                .take(limit)
                .map(|r| r.to_json())
                .collect();
            answer(StatusCode::OK, json!({ "runs": runs }))
        }
        Err(r) => r,
    }
}

#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run, its steps from the journal, its approvals, and whether this server runs it now", body = doc::Run),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
    ))]
async fn show_run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let live = app.runs.live(&id).is_some_and(|l| l.running());
    let shown = with_store(&app, move |s| {
        s.run(&id)
            .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))?
            .map_err(|m| fail(StatusCode::NOT_FOUND, m))?;
        match inspect::run_json(s, &id, Some(CUT)) {
            Ok(Ok(mut v)) => {
                if let Some(r) = v.get("result") {
                    v["result"] = inspect::cut(r, CUT);
                }
                Ok(v)
            }
            Ok(Err(m)) => Err(fail(StatusCode::NOT_FOUND, m)),
            Err(e) => Err(fail(StatusCode::INTERNAL_SERVER_ERROR, e)),
        }
    })
    .await;
    match shown {
        Ok(mut v) => {
            v["live"] = json!(live);
            answer(StatusCode::OK, v)
        }
        Err(r) => r,
    }
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 202, description = "The run's tools are being killed; it ends `cancelled`", body = doc::Cancelling),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
    ))]
async fn cancel_run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match app.runs.cancel(&id) {
        Ok(()) => answer(
            StatusCode::ACCEPTED,
            json!({ "id": id, "cancelling": true }),
        ),
        Err(m) => error(StatusCode::CONFLICT, m),
    }
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/resume", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 202, description = "The run is taken up again", body = doc::RunId),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
        (status = 422, description = "The file no longer checks", body = doc::Unprocessable),
    ))]
async fn resume_run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    take_up(&app, &id, None).await
}

/// Where to retry from.
#[derive(Deserialize, ToSchema)]
struct RetryBody {
    /// A step's path: it and what depends on it run again.
    from: String,
}

/// Retry from a step: it and what depends on it run again, the rest is
/// replayed from the journal (`flowc resume RUN --rerun PATH`).
#[utoipa::path(post, path = "/api/v1/runs/{id}/retry", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    request_body = RetryBody,
    responses(
        (status = 202, description = "The run is taken up again from that step", body = doc::RunId),
        (status = 400, description = "The body is not JSON of this shape", body = doc::Error),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
        (status = 422, description = "The file no longer checks", body = doc::Unprocessable),
    ))]
async fn retry_run(State(app): State<Arc<App>>, Path(id): Path<String>, body: Bytes) -> Response {
    match serde_json::from_slice::<RetryBody>(&body) {
        Ok(b) => take_up(&app, &id, Some(b.from)).await,
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            format!("the body must be JSON `{{\"from\": STEP_PATH}}`: {e}"),
        ),
    }
}

async fn take_up(app: &Arc<App>, id: &str, rerun: Option<String>) -> Response {
    if app.runs.live(id).is_some_and(|l| l.running()) {
        return error(StatusCode::CONFLICT, format!("run {id} is running"));
    }
    match app.runs.resume(id, rerun).await {
        Ok(Ok(id)) => answer(StatusCode::ACCEPTED, json!({ "id": id })),
        Ok(Err(r)) => refused(r),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the run's thread ended before the run started",
        ),
    }
}

/// An approval's answer.
#[derive(Deserialize, ToSchema)]
struct ApproveBody {
    approve: bool,
    /// Recorded with the answer and the token's name.
    note: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/approvals/{path}", tag = "runs",
    params(("id" = String, Path, description = "The run's id"), ("path" = String, Path, description = "The approval's step path (`gated/ok`; it may hold `/`)")),
    request_body = ApproveBody,
    responses(
        (status = 200, description = "Answered; the server continues the run", body = doc::Answered),
        (status = 400, description = "The body is not JSON of this shape", body = doc::Error),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
    ))]
async fn approve(
    State(app): State<Arc<App>>,
    Path((id, path)): Path<(String, String)>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    let body: ApproveBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body must be JSON `{{\"approve\": true|false, \"note\": \"…\"}}`: {e}"
                ),
            );
        }
    };
    let req = ApproveRequest {
        run: id,
        path: Some(path),
        approved: body.approve,
        by: Some(caller.name),
        note: body.note,
        store: app.runs.store_dir().to_path_buf(),
    };
    let done = tokio::task::spawn_blocking(move || crate::driver::resume::approve(&req)).await;
    match done {
        Ok(Ok(said)) => {
            app.runs.wake();
            // The server continues the run itself: not `flowc resume`.
            let said = said
                .split("; `flowc resume")
                .next()
                .unwrap_or(&said)
                .to_string();
            answer(StatusCode::OK, json!({ "answered": said }))
        }
        Ok(Err(r)) => error(StatusCode::CONFLICT, r.error),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `text/event-stream` of a run's events; `Last-Event-ID` continues after
/// that event. A run this server does not run is told from the store: its
/// steps as the journal has them, then its end if it ended.
#[utoipa::path(get, path = "/api/v1/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "The run's id"), ("Last-Event-ID" = Option<u64>, Header, description = "Continue after this event")),
    responses(
        (status = 200, description = "Server-Sent Events: `run_started`, `step_started`, `step_finished`, `decision`, `replan`, `approval_requested`, `run_finished`, each with an `id:` and JSON `data:`", body = String, content_type = "text/event-stream"),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
    ))]
async fn events(State(app): State<Arc<App>>, Path(id): Path<String>, h: HeaderMap) -> Response {
    let last: u64 = h
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let body = match app.runs.live(&id) {
        Some(live) => {
            let rx = live.subscribe();
            let state = (live, rx, last, false);
            Body::from_stream(futures_util::stream::unfold(
                state,
                |(live, mut rx, last, done)| async move {
                    if done {
                        return None;
                    }
                    loop {
                        let (evs, running) = live.after(last);
                        if !evs.is_empty() {
                            let next = evs.last().map_or(last, |e| e.id);
                            let ended = evs.iter().any(|e| e.kind == "run_finished") && !running;
                            let text: String = evs.iter().map(frame).collect();
                            return Some((
                                Ok::<_, Infallible>(Bytes::from(text)),
                                (live, rx, next, ended),
                            ));
                        }
                        if !running {
                            return None;
                        }
                        match tokio::time::timeout(Duration::from_secs(15), rx.changed()).await {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) => return None,
                            // A comment keeps proxies from closing an idle stream.
                            Err(_) => {
                                return Some((
                                    Ok(Bytes::from_static(b": keep-alive\n\n")),
                                    (live, rx, last, false),
                                ));
                            }
                        }
                    }
                },
            ))
        }
        None => {
            let told = with_store(&app, move |s| {
                let run = s
                    .run(&id)
                    .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))?
                    .map_err(|m| fail(StatusCode::NOT_FOUND, m))?;
                let mut steps = s
                    .journal(&run.id)
                    .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))?;
                steps.sort_by_key(|s| s.started_ms);
                let mut evs: Vec<Ev> = steps
                    .iter()
                    .map(|st| Ev {
                        id: 0,
                        kind: if st.status == "running" {
                            "step_started"
                        } else {
                            "step_finished"
                        },
                        data: json!({ "path": st.path, "tool": st.tool, "status": st.status }),
                    })
                    .collect();
                if run.status != RunStatus::Running {
                    evs.push(Ev {
                        id: 0,
                        kind: "run_finished",
                        data: json!({ "status": run.status.as_str() }),
                    });
                }
                for (i, e) in evs.iter_mut().enumerate() {
                    e.id = i as u64 + 1;
                }
                Ok(evs
                    .iter()
                    .filter(|e| e.id > last)
                    .map(frame)
                    .collect::<String>())
            })
            .await;
            match told {
                Ok(text) => Body::from(text),
                Err(r) => return r,
            }
        }
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    security_headers(h);
    r
}

/// One event as the stream sends it.
fn frame(e: &Ev) -> String {
    format!("id: {}\nevent: {}\ndata: {}\n\n", e.id, e.kind, e.data)
}

/// `GET /api/v1/schedules`: the schedules of the served files.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules",
    responses(
        (status = 200, description = "each `schedule` of the served files: its next and latest slot, the run its latest slot started, its skips and latest 10 slots (docs/service.md)", body = Object),
        (status = 401, response = doc::Unauthorized),
    ))]
async fn schedules(State(app): State<Arc<App>>) -> Response {
    let sched = app.schedules.clone();
    match with_store(&app, move |s| {
        sched
            .to_json(s)
            .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))
    })
    .await
    {
        Ok(v) => answer(StatusCode::OK, v),
        Err(r) => r,
    }
}

/// Prometheus' text format: runs in the store by flow and status,
/// approvals pending, runs running in this server, and what this server
/// counted since it started (`super::metrics`).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus' text format (docs/service.md lists the metrics)", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, response = doc::Unauthorized),
    ))]
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let running_here = app.runs.running();
    let sched = app.schedules.clone();
    let counted = with_store(&app, move |s| {
        let rows = s
            .runs(None)
            .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        let mut by: std::collections::BTreeMap<(String, String), u64> = Default::default();
        let mut pending = 0u64;
        for r in &rows {
            *by.entry((r.flow.clone(), r.status.as_str().to_string()))
                .or_default() += 1;
            if r.status == RunStatus::Paused {
                let a = s
                    .approvals(&r.id)
                    .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))?;
                pending += a.iter().filter(|a| a.answer().is_none()).count() as u64;
            }
        }
        let skips: Vec<(String, String, String, String, u64)> = sched
            .skips(s)
            .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))?
            .into_iter()
            .map(|(sc, n)| {
                (
                    sc.file.clone(),
                    sc.schedule.flow.clone(),
                    sc.schedule.cron.clone(),
                    Value::Object(sc.schedule.args.clone()).to_string(),
                    n,
                )
            })
            .collect();
        Ok((by, pending, skips))
    })
    .await;
    let (by, pending, skips) = match counted {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut text = String::new();
    text.push_str("# HELP flowc_runs Runs in the store, by flow and status.\n");
    text.push_str("# TYPE flowc_runs gauge\n");
    for ((flow, status), n) in &by {
        text.push_str(&format!(
            "flowc_runs{{flow=\"{}\",status=\"{status}\"}} {n}\n",
            label(flow)
        ));
    }
    text.push_str("# HELP flowc_approvals_pending Approvals that paused runs wait for.\n");
    text.push_str("# TYPE flowc_approvals_pending gauge\n");
    text.push_str(&format!("flowc_approvals_pending {pending}\n"));
    text.push_str("# HELP flowc_runs_running_here Runs this server runs now.\n");
    text.push_str("# TYPE flowc_runs_running_here gauge\n");
    text.push_str(&format!("flowc_runs_running_here {running_here}\n"));
    text.push_str(
        "# HELP flowc_schedule_skips_total Slots of a schedule skipped because its previous run had not ended.\n",
    );
    text.push_str("# TYPE flowc_schedule_skips_total counter\n");
    for (file, flow, cron, args, n) in &skips {
        text.push_str(&format!(
            "flowc_schedule_skips_total{{file=\"{}\",flow=\"{}\",cron=\"{}\",args=\"{}\"}} {n}\n",
            label(file),
            label(flow),
            label(cron),
            label(args)
        ));
    }
    app.runs.metrics.text(&mut text);
    let mut r = Response::new(Body::from(text));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

use super::metrics::label;

/// The API's OpenAPI document: the routes above, their parameters, bodies
/// and answers, and the bearer token.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "flowc serve",
        description = "Start, watch, answer, cancel, resume and retry the runs of the flows a `flowc serve` serves (docs/service.md)."
    ),
    paths(
        flows, console::graph, list_runs, start_run, show_run, events, console::value,
        approve, cancel_run, resume_run, retry_run, schedules, metrics, openapi
    ),
    components(responses(doc::Unauthorized, doc::Forbidden, doc::NotFound, doc::Conflict)),
    modifiers(&Bearer),
    security(("bearer" = [])),
    tags(
        (name = "flows", description = "The flows served"),
        (name = "runs", description = "Runs: start, list, watch, answer, cancel, resume, retry"),
        (name = "schedules", description = "The `schedule` items of the served files"),
        (name = "operations", description = "Metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document, made once.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses(
        (status = 200, description = "This document (OpenAPI 3.1)", body = Object),
        (status = 401, response = doc::Unauthorized),
    ))]
async fn openapi() -> Response {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let v = DOC.get_or_init(|| serde_json::to_value(ApiDoc::openapi()).unwrap_or_default());
    answer(StatusCode::OK, v.clone())
}
