//! `flowc mcp` (docs/mcp.md): the flows of some files served as MCP tools
//! over stdio or streamable HTTP, with the official Rust SDK (`rmcp`). The tools are the
//! service's catalog (`catalog.rs`): a flow's parameters as the input schema,
//! its result as the output schema (a result whose type is not a record is sent
//! as `{ "result": … }`, since structured content is an object), its doc
//! comment as the description. A call runs the flow through the driver on a
//! thread of its own, kept in the store like `flowc run`'s runs; a flow that
//! pauses at `approve` answers its run's id and status `paused`, and the tool
//! `flowc_run_status` tells a run's status and, once it ended, its result.

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, InitializeResult,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};

use super::catalog::{Catalog, Flow};
use crate::driver::{
    ApproveMode, Engine, Local, Reported, Request, Settings, Wishes, runner::Outcome, session,
};

/// The name of the tool that reports a run's status.
pub const STATUS_TOOL: &str = "flowc_run_status";

#[derive(Clone)]
pub struct Flows {
    /// Each served flow by its tool's name.
    flows: Vec<(String, Flow)>,
    store: PathBuf,
}

/// The tool's name of each flow: its name, or, when files serve flows of
/// one name (`main`), the file's stem before it (`ci_analysis_main`), in
/// the letters every client takes (`[A-Za-z0-9_-]`).
/// Only the flows marked `export flow` when any is.
pub fn tool_names(catalog: &Catalog) -> Vec<(String, Flow)> {
    let any = catalog.flows.iter().any(|f| f.export);
    let served: Vec<&Flow> = catalog.flows.iter().filter(|f| f.export || !any).collect();
    served
        .iter()
        .map(|f| {
            let shared = served.iter().filter(|g| g.name == f.name).count() > 1;
            let name = if shared {
                let stem = std::path::Path::new(&f.file)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{stem}_{}", f.name)
            } else {
                f.name.clone()
            };
            let name: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            (name, (*f).clone())
        })
        .collect()
}

impl Flows {
    pub fn new(catalog: Catalog, store: PathBuf) -> Flows {
        Flows {
            flows: tool_names(&catalog),
            store,
        }
    }

    /// The MCP tools: one per flow, and the status tool.
    pub fn tools(&self) -> Vec<Tool> {
        let mut out: Vec<Tool> = self.flows.iter().map(|(n, f)| tool_of(n, f)).collect();
        let mut status = Tool::new(
            STATUS_TOOL,
            "The status of a run that a flow's call started (a paused one answers its run id): `ok` with its result, `failed` with its error, `paused` with the approvals it waits for, `running`.",
            object(json!({
                "type": "object",
                "properties": { "run_id": { "type": "string" } },
                "required": ["run_id"],
            })),
        );
        status.output_schema = Some(Arc::new(object(json!({ "type": "object" }))));
        out.push(status);
        out
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Is the result type's schema an object's (sent as it is)?
fn is_object(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
}

fn tool_of(name: &str, f: &Flow) -> Tool {
    let doc = f
        .doc
        .clone()
        .unwrap_or_else(|| format!("The flow `{}` of `{}`.", f.name, f.file));
    let mut t = Tool::new(name.to_string(), doc, object(f.params.clone()));
    let out = if is_object(&f.result) {
        f.result.clone()
    } else {
        json!({ "type": "object", "properties": { "result": f.result }, "required": ["result"] })
    };
    // A paused run answers `{ run_id, status }`: either shape.
    let paused = json!({
        "type": "object",
        "properties": {
            "run_id": { "type": "string" },
            "status": { "type": "string", "enum": ["paused"] },
        },
        "required": ["run_id", "status"],
    });
    t.output_schema = Some(Arc::new(object(json!({
        "type": "object",
        "anyOf": [out, paused],
    }))));
    t
}

/// Runs `flow` of `file` with `args`, kept in `store`: the answer to the call.
/// `wrap`: the result type is not a record's, and the result is sent as
/// `{ "result": … }`.
/// `cancelled`: the client cancelled the call, which cancels the run.
fn run_flow(
    file: &str,
    flow: &str,
    args: Map<String, Value>,
    store: PathBuf,
    wrap: bool,
    cancelled: tokio::sync::watch::Receiver<bool>,
) -> CallToolResult {
    let text = match crate::files::read_source(file) {
        Ok(t) => t,
        Err(e) => return failure(&e),
    };
    let checked = crate::driver::check_source(file, &text, &crate::driver::FsLoader::new(&store));
    if checked.has_errors() {
        return failure(&format!("`{file}` has errors now; nothing was run"));
    }
    let inputs = match session::conforming(&checked.program, flow, args) {
        Ok(i) => i,
        Err(e) => return failure(&e.message(flow)),
    };
    let prepared = crate::driver::Prepared {
        checked,
        file: file.to_string(),
        flow: flow.to_string(),
        inputs,
        settings: Settings::default(),
    };
    let req = Request {
        file: file.to_string(),
        flow: Some(flow.to_string()),
        store: Some(store),
        approvals: ApproveMode::Refuse,
        wishes: Wishes::default(),
        ..Request::default()
    };
    let mut engine = Local::on(crate::driver::runner::Runner::cancellable(cancelled));
    let report = match engine.run(prepared, &req, &mut |_| {}) {
        Ok(r) => r,
        Err(r) => return failure(&r.error),
    };
    let run_id = report.run_id.clone().unwrap_or_default();
    let Reported::Here(h) = &report.reported else {
        return failure("the run ended elsewhere");
    };
    match &h.finished.outcome {
        Outcome::Ok(v) => {
            let v = if wrap {
                json!({ "result": v })
            } else {
                v.clone()
            };
            CallToolResult::structured(v)
        }
        Outcome::Paused(p) => CallToolResult::structured(json!({
            "run_id": run_id,
            "status": "paused",
            "waiting": p.iter().map(|a| json!({ "path": a.path.to_string(), "message": a.message })).collect::<Vec<_>>(),
            "answer": format!("flowc approve {run_id} (or --reject), then flowc resume {run_id}; `{STATUS_TOOL}` tells how it ended"),
        })),
        Outcome::Failed(errors) => failure(&format!(
            "run {run_id} failed: {}",
            errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Outcome::Cancelled(_) => failure(&format!("run {run_id} was cancelled")),
        Outcome::StoreFailed(e) => failure(&format!(
            "the store failed under run {run_id}: {}",
            e.message
        )),
    }
}

fn failure(message: &str) -> CallToolResult {
    CallToolResult::error(vec![rmcp::model::ContentBlock::text(message.to_string())])
}

fn status(store: &std::path::Path, id: &str) -> CallToolResult {
    let store = match crate::store::Store::open(store) {
        Ok(s) => s,
        Err(e) => return failure(&e.to_string()),
    };
    match store.run(id) {
        Ok(Ok(row)) => {
            let mut v = json!({ "run_id": row.id, "flow": row.flow, "status": row.status });
            if let Some(r) = row.result {
                v["result"] = r;
            }
            if let Some(e) = row.error {
                v["error"] = e;
            }
            CallToolResult::structured(v)
        }
        Ok(Err(m)) => failure(&m),
        Err(e) => failure(&e.to_string()),
    }
}

impl ServerHandler for Flows {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("flowc", env!("CARGO_PKG_VERSION")))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        let store = self.store.clone();
        if request.name == STATUS_TOOL {
            let id = args
                .get("run_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let r = tokio::task::spawn_blocking(move || status(&store, &id))
                .await
                .unwrap_or_else(|e| failure(&e.to_string()));
            return Ok(r.into());
        }
        let Some((_, flow)) = self.flows.iter().find(|(n, _)| *n == request.name) else {
            return Err(McpError::invalid_params(
                format!("no flow is served as `{}`", request.name),
                None,
            ));
        };
        let flow = flow.clone();
        // The driver's runner makes its own runtime: a thread of its own.
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let (cancel, cancelled) = tokio::sync::watch::channel(false);
        let spawned = std::thread::Builder::new()
            .name("flowc-mcp-run".into())
            .stack_size(64 << 20)
            .spawn(move || {
                let wrap = !is_object(&flow.result);
                let _ = tx.send(run_flow(
                    &flow.file, &flow.name, args, store, wrap, cancelled,
                ));
            });
        if let Err(e) = spawned {
            return Ok(failure(&format!("cannot start the run: {e}")).into());
        }
        // The client's cancellation cancels the run (its tools' processes
        // killed, the run `cancelled` in the store); its answer is then sent
        // to no one.
        let r = tokio::select! {
            r = &mut rx => r,
            _ = context.ct.cancelled() => {
                let _ = cancel.send(true);
                rx.await
            }
        };
        let r = r.unwrap_or_else(|_| failure("the run's thread ended without an answer"));
        Ok(r.into())
    }
}

/// Serves `catalog` over stdin and stdout until the client closes them.
pub fn serve_stdio(catalog: Catalog, store: PathBuf) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let server = Flows::new(catalog, store)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| e.to_string())?;
        server.waiting().await.map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Serves `catalog` over streamable HTTP at `http://ADDR/mcp`, every request
/// with `Authorization: Bearer TOKEN` of `tokens` (an operator's: a call
/// starts a run), until the process ends. `ready` is told the address.
pub fn serve_http(
    catalog: Catalog,
    store: PathBuf,
    listen: &str,
    tokens: super::auth::Tokens,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), String> {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let flows = Flows::new(catalog, store);
    let tokens = Arc::new(tokens);
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let service = StreamableHttpService::new(
            move || Ok(flows.clone()),
            LocalSessionManager::default().into(),
            StreamableHttpServerConfig::default(),
        );
        let guard = move |req: axum::extract::Request, next: axum::middleware::Next| {
            let tokens = tokens.clone();
            async move {
                use axum::response::IntoResponse;
                let given = req
                    .headers()
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(|t| t.trim().to_string());
                match given.and_then(|t| tokens.caller(&t)) {
                    Some(c) if c.role >= super::auth::Role::Operator => next.run(req).await,
                    Some(_) => (
                        axum::http::StatusCode::FORBIDDEN,
                        "a viewer's token cannot call flows",
                    )
                        .into_response(),
                    None => (
                        axum::http::StatusCode::UNAUTHORIZED,
                        [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                        "a token is needed: `Authorization: Bearer TOKEN`",
                    )
                        .into_response(),
                }
            }
        };
        let app = axum::Router::new()
            .nest_service("/mcp", service)
            .layer(axum::middleware::from_fn(guard));
        ready(addr);
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    })
}
