//! The web console (docs/service.md, "The console"): three files compiled
//! into the binary and served at `/`, the token taken from `/?token=…` into
//! an HttpOnly cookie, and what the console asks of the API beyond runs: a
//! flow's graph with its source, and a value whole (answers cut them).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::App;
use super::reply::{answer, error, security_headers};
use crate::driver::{FsLoader, check_source};

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// The name of the console's cookie.
pub const COOKIE: &str = "flowc_token";

/// The header the console's writes carry: a page of another origin cannot
/// send it, so a write that comes with the cookie alone is refused.
pub const CSRF_HEADER: &str = "x-flowc";

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut r = ([(header::CONTENT_TYPE, kind)], body).into_response();
    security_headers(r.headers_mut());
    r
}

#[derive(Deserialize)]
pub struct Login {
    token: Option<String>,
}

/// `/`: the console's page; `/?token=T` with a valid token sets the cookie
/// and sends the browser to `/` (the token leaves the address bar and the
/// history).
pub async fn index(State(app): State<Arc<App>>, Query(q): Query<Login>) -> Response {
    let Some(token) = q.token else {
        return asset(INDEX, "text/html; charset=utf-8");
    };
    if app.tokens.caller(&token).is_none() {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "this token is not one the server takes: open the address `flowc serve` printed\n",
        )
            .into_response();
        security_headers(r.headers_mut());
        return r;
    }
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
    )) {
        h.insert(header::SET_COOKIE, v);
    }
    security_headers(h);
    r
}

pub async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

pub async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphQuery {
    /// A served file, as `GET /api/v1/flows` names it.
    file: String,
    /// A flow of that file.
    flow: String,
}

/// `GET /api/v1/graph?file=&flow=`: the graph `flowc graph --format json`
/// draws for a served flow, and its file's text (for the source view).
/// Only served files are read.
#[utoipa::path(get, path = "/api/v1/graph", tag = "flows", params(GraphQuery),
    responses(
        (status = 200, description = "The flow's graph as `flowc graph --format json` prints it, with `file` and `source` (the file's text)", body = Object),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 409, response = super::openapi::Conflict),
    ))]
pub async fn graph(State(app): State<Arc<App>>, Query(q): Query<GraphQuery>) -> Response {
    let wanted = std::fs::canonicalize(&q.file).ok();
    let served = app.catalog.flows.iter().find(|f| {
        f.name == q.flow
            && (f.file == q.file
                || wanted.is_some() && std::fs::canonicalize(&f.file).ok() == wanted)
    });
    let Some(flow) = served else {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "`{}` is not a flow of a served file (GET /api/v1/flows lists them)",
                q.flow
            ),
        );
    };
    let (file, name) = (flow.file.clone(), flow.name.clone());
    let loader = FsLoader::new(app.runs.store_dir());
    let drawn = tokio::task::spawn_blocking(move || {
        let text = crate::files::read_source(&file)?;
        let checked = check_source(&file, &text, &loader);
        let root = checked.program.root;
        if !checked.program.modules[root].flows.contains_key(&name) {
            return Err(format!("`{file}` no longer has a flow `{name}`"));
        }
        let g = crate::ir::lower_flow(&checked.program, &checked.sources, root, &name);
        let mut v = g.to_json();
        v["file"] = json!(file);
        v["source"] = json!(text);
        Ok(v)
    })
    .await;
    match drawn {
        Ok(Ok(v)) => answer(StatusCode::OK, v),
        Ok(Err(m)) => error(StatusCode::CONFLICT, m),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ValueQuery {
    /// A step's path; without it, the run's result.
    step: Option<String>,
    /// With `step`: `result` (the default) or `args`, the arguments it was
    /// called with.
    part: Option<String>,
}

/// `GET /api/v1/runs/{id}/value?step=PATH[&part=args]`: a step's result
/// (or arguments) whole (the run's result without `step`), where the run's
/// answer cuts it.
#[utoipa::path(get, path = "/api/v1/runs/{id}/value", tag = "runs",
    params(("id" = String, Path, description = "The run's id"), ValueQuery),
    responses(
        (status = 200, description = "The value whole (any JSON value)", body = serde_json::Value),
        (status = 400, description = "A `part` other than `result` or `args`", body = super::openapi::Error),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ))]
pub async fn value(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<ValueQuery>,
) -> Response {
    let args = match q.part.as_deref() {
        None | Some("result") => false,
        Some("args") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("`part={other}` is neither `result` nor `args`"),
            );
        }
    };
    let found = tokio::task::spawn_blocking(move || {
        let store = app
            .runs
            .conn()
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let run = store
            .run(&id)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(|m| (StatusCode::NOT_FOUND, m))?;
        let Some(step) = q.step else {
            return Ok(run.result.unwrap_or(serde_json::Value::Null));
        };
        let steps = store
            .journal(&run.id)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let found = steps.into_iter().find(|s| s.path == step).ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                format!("run {id} has no step `{step}`"),
            )
        })?;
        if !args {
            return Ok(found.result.unwrap_or(serde_json::Value::Null));
        }
        found.args.ok_or_else(|| {
                (
                    StatusCode::NOT_FOUND,
                    format!(
                    "run {id} kept no arguments for step `{step}` (too large, a run from an older store, or a step that has none: an approval, a re-plan)"
                ),
            )
        })
    })
    .await;
    match found {
        Ok(Ok(v)) => answer(StatusCode::OK, v),
        Ok(Err((status, m))) => error(status, m),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
