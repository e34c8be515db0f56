//! `flowc worker`: a Restate endpoint (restate-sdk) with the services a run
//! needs: `FlowRun` (a workflow per run: the interpreter), `Step` (one tool
//! call), `Approval` (a workflow per `approve`: a durable promise),
//! `RunIndex` (the runs, for `flowc runs`) and `RunProgress` (the steps of
//! a running run, for `flowc runs show`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use restate_sdk::prelude::*;
use serde_json::{Value, json};

use super::{
    Answer, Answered, RunEntry, RunOutcome, RunRequest, StepOutcome, StepRequest, Waiting, steps,
};
use crate::builtins::now_rfc3339;
use crate::ir::expr::Binding;
use crate::run::opts::fmt_size;
use crate::run::tools::http::Client;
use crate::status::RunStatus;
use crate::syntax::ast::ItemKind;

/// The `.flow` files a worker serves, checked when it starts.
pub struct Served {
    /// By key: the file's absolute path.
    files: HashMap<String, ServedFile>,
}

struct ServedFile {
    /// As named on the worker's command line.
    name: String,
    text: String,
    sha256: String,
    /// Each tool by module index and name: its binding and the folder it runs in.
    tools: HashMap<(usize, String), Arc<(Binding, PathBuf)>>,
}

impl Served {
    /// Checks `files`; those that cannot be read or do not check are not
    /// served: they come back with their rendered diagnostics.
    pub fn load(files: &[String]) -> (Served, Vec<(String, String)>) {
        let mut served = HashMap::new();
        let mut errors = Vec::new();
        for name in files {
            let text = match crate::files::read_source(name) {
                Ok(t) => t,
                Err(e) => {
                    errors.push((name.clone(), format!("error: {e}\n")));
                    continue;
                }
            };
            let checked =
                crate::driver::check_source(name, &text, &crate::driver::FsLoader::here());
            if checked.has_errors() {
                let mut text = crate::diag::render::render_all(
                    checked.diagnostics.iter().filter(|d| d.is_error()),
                    &checked.sources,
                    crate::term::color_stderr(),
                );
                text.push_str(&format!("error: `{name}` has errors; it is not served\n"));
                errors.push((name.clone(), text));
                continue;
            }
            let mut tools = HashMap::new();
            for (m, module) in checked.program.modules.iter().enumerate() {
                let file = &checked.sources.get(module.file).name;
                let dir = match Path::new(file).parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                for item in &module.ast.items {
                    if let ItemKind::Tool(t) = &item.kind {
                        tools.insert(
                            (m, t.name.name.to_string()),
                            Arc::new((
                                crate::ir::plan::binding_of(&t.binding.kind, &module.ast.items),
                                dir.clone(),
                            )),
                        );
                    }
                }
            }
            served.insert(
                absolute(name),
                ServedFile {
                    name: name.clone(),
                    sha256: crate::store::sha256_hex(text.as_bytes()),
                    text,
                    tools,
                },
            );
        }
        (Served { files: served }, errors)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The served file a run asks for: the same path, else the one file of
    /// the same name; with the same text. `Err` says why none.
    fn find(&self, req: &RunRequest) -> Result<(&str, &ServedFile), String> {
        let base = |p: &str| {
            Path::new(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        };
        let found = match self.files.get_key_value(&req.path) {
            Some((k, f)) => Some((k.as_str(), f)),
            None => {
                let same: Vec<_> = self
                    .files
                    .iter()
                    .filter(|(k, _)| base(k) == base(&req.path))
                    .collect();
                match same.as_slice() {
                    [(k, f)] => Some((k.as_str(), *f)),
                    _ => None,
                }
            }
        };
        let Some((key, file)) = found else {
            let mut names: Vec<&str> = self.files.values().map(|f| f.name.as_str()).collect();
            names.sort();
            return Err(format!(
                "the workers do not serve `{}`; they serve: {}; start them with it (`flowc worker --listen ADDR FILE`)",
                req.file,
                names.join(", ")
            ));
        };
        if file.sha256 != req.sha256 {
            return Err(format!(
                "the workers serve another version of `{}` (`{}`); start them with the same file as the run",
                req.file, file.name
            ));
        }
        Ok((key, file))
    }
}

impl Served {
    /// The tool a step calls, from the file of the same key and the same text
    /// as the run's; `Err` says why none (a worker started with another
    /// version of the file must not run the step: the run would mix versions).
    fn tool(&self, req: &StepRequest) -> Result<Arc<(Binding, PathBuf)>, String> {
        let Some(file) = self.files.get(&req.file) else {
            return Err(format!(
                "this worker does not serve `{}`; start every worker with the same files",
                req.file
            ));
        };
        if file.sha256 != req.sha256 {
            return Err(format!(
                "this worker serves another version of `{}` than the run's (step `{}`); start every worker with the same text of the file",
                file.name, req.path
            ));
        }
        file.tools
            .get(&(req.module, req.tool.clone()))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "this worker does not serve tool `{}` of `{}`; start every worker with the same files",
                    req.tool, file.name
                )
            })
    }
}

/// An absolute path without `..` (the file need not exist).
fn absolute(name: &str) -> String {
    std::fs::canonicalize(name)
        .unwrap_or_else(|_| std::env::current_dir().unwrap_or_default().join(name))
        .to_string_lossy()
        .into_owned()
}

/// [`absolute`], for the client's side of a run.
pub fn absolute_path(name: &str) -> String {
    absolute(name)
}

/// One run: its interpreter.
pub struct FlowRun {
    served: Arc<Served>,
    /// The largest message sent to Restate (`--max-message`).
    max_message: u64,
}

#[restate_sdk::workflow(workflow_completion_retention = "7 days")]
impl FlowRun {
    /// Runs the flow; every tool call is a `Step`, every `approve` an `Approval`.
    #[handler(inactivity_timeout = "1 day", abort_timeout = "1m")]
    async fn run(
        &self,
        ctx: WorkflowContext<'_>,
        req: Json<RunRequest>,
    ) -> HandlerResult<Json<RunOutcome>> {
        let req = req.into_inner();
        let id = ctx.key().to_string();
        let (key, file) = self
            .served
            .find(&req)
            .map_err(|m| TerminalError::new_with_code(404, m))?;
        let started = ctx
            .run(|| async { Ok(now_rfc3339()) })
            .name("started")
            .await?;
        ctx.set("request", Json(req.clone()));
        ctx.set("status", RunStatus::Running.as_str().to_string());
        ctx.set("started", started.clone());
        ctx.object_client::<RunIndexClient>("runs")
            .add(Json(RunEntry {
                id: id.clone(),
                flow: req.flow.clone(),
                file: req.file.clone(),
                status: RunStatus::Running,
                started,
                ended: None,
                waiting: Vec::new(),
                answered: Vec::new(),
            }))
            .send();
        // The SDK sends what the handler did when it next awaits Restate: a
        // journaled no-op puts the state and the index entry out before the
        // long wait for the interpreter (`flowc runs` sees the run at once).
        ctx.run(|| async { Ok(()) }).name("registered").await?;
        eprintln!("flowc worker: run {id} ({} {})", req.file, req.flow);
        let flow = req.flow.clone();
        let outcome = run_on_thread(
            req,
            id.clone(),
            file.name.clone(),
            file.text.clone(),
            key.to_string(),
        )
        .await;
        let outcome = fit_outcome(outcome, &flow, self.max_message);
        let ended = ctx
            .run(|| async { Ok(now_rfc3339()) })
            .name("ended")
            .await?;
        ctx.set("status", outcome.status.as_str().to_string());
        ctx.set("ended", ended.clone());
        ctx.set("outcome", Json(outcome.clone()));
        ctx.object_client::<RunIndexClient>("runs")
            .ended(Json(
                json!({ "id": id, "status": outcome.status, "ended": ended }),
            ))
            .send();
        // The record has the steps now.
        ctx.object_client::<RunProgressClient>(id.clone())
            .clear()
            .send();
        eprintln!("flowc worker: run {id} {}", outcome.status);
        Ok(Json(outcome))
    }

    /// The run as `flowc runs show --engine` presents it.
    #[handler]
    async fn show(&self, ctx: SharedWorkflowContext<'_>) -> HandlerResult<Json<Value>> {
        let request = ctx.get::<Json<RunRequest>>("request").await?;
        let status = ctx.get::<String>("status").await?;
        let started = ctx.get::<String>("started").await?;
        let ended = ctx.get::<String>("ended").await?;
        let outcome = ctx.get::<Json<RunOutcome>>("outcome").await?;
        Ok(Json(json!({
            "id": ctx.key(),
            "request": request.map(Json::into_inner),
            "status": status,
            "started": started,
            "ended": ended,
            "outcome": outcome.map(Json::into_inner),
        })))
    }
}

/// Runs the interpreter on a thread of its own and waits for it; dropping
/// the future (Restate took the invocation away) cancels the run.
async fn run_on_thread(
    req: RunRequest,
    id: String,
    name: String,
    text: String,
    key: String,
) -> RunOutcome {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name(format!("run {id}"))
        // Deeply nested programs recurse deeply (as `flowc run`'s thread).
        .stack_size(256 << 20)
        .spawn(move || {
            let out = steps::interpret(&req, &id, &name, &text, &key, cancel_rx);
            let _ = done_tx.send(out);
        });
    if let Err(e) = spawned {
        return RunOutcome {
            status: RunStatus::Failed,
            errors: vec![format!(
                "error: the worker cannot start a thread for the run: {e}\n"
            )],
            ..RunOutcome::default()
        };
    }
    let _cancel = cancel_tx;
    match done_rx.await {
        Ok(Some(out)) => out,
        _ => RunOutcome {
            status: RunStatus::Failed,
            errors: vec!["error: the run's interpreter stopped before the run ended\n".into()],
            ..RunOutcome::default()
        },
    }
}

/// One tool call of a run: executed once, its outcome kept by Restate.
pub struct Step {
    served: Arc<Served>,
    http: Client,
    /// The worker's MCP servers, started at their first call.
    mcp: std::sync::Arc<crate::run::tools::mcp::Pool>,
    /// The largest message sent to Restate (`--max-message`).
    max_message: u64,
}

#[restate_sdk::service]
impl Step {
    #[handler(
        inactivity_timeout = "1 day",
        abort_timeout = "1m",
        idempotency_retention = "7 days"
    )]
    async fn run(
        &self,
        ctx: Context<'_>,
        req: Json<StepRequest>,
    ) -> HandlerResult<Json<StepOutcome>> {
        let req = req.into_inner();
        let tool = self
            .served
            .tool(&req)
            .map_err(|m| TerminalError::new_with_code(404, m))?;
        let http = self.http.clone();
        let mcp = self.mcp.clone();
        let limit = self.max_message;
        let out = ctx
            .run(|| async move {
                let left = req
                    .deadline_ms
                    .map(|d| Duration::from_millis(d.saturating_sub(steps::epoch_ms())));
                if left.is_some_and(|l| l.is_zero()) {
                    // Restate gave it again (its worker died) after the
                    // run stopped waiting for it: it does not start again.
                    eprintln!(
                        "flowc worker: step {} {} not started: its timeout had passed",
                        req.run, req.path
                    );
                    return Ok(Json(StepOutcome::Failed {
                        message: format!(
                            "`{}` was not started again: its timeout had passed",
                            req.tool
                        ),
                        help: None,
                        permanent: true,
                        timed_out: true,
                    }));
                }
                eprintln!("flowc worker: step {} {} ({})", req.run, req.path, req.tool);
                let call = crate::run::invoke_binding(
                    &tool.0,
                    &tool.1,
                    &http,
                    &mcp,
                    &req.input,
                    crate::run::Limits {
                        max_output: req.max_output,
                        ends: None,
                    },
                    req.key.as_deref(),
                );
                // At the call's timeout the tool is stopped (its process
                // group killed), as the run stopped waiting for it.
                let r = match left {
                    Some(left) => match tokio::time::timeout(left, call).await {
                        Ok(r) => r,
                        Err(_) => {
                            eprintln!(
                                "flowc worker: step {} {} stopped at its timeout",
                                req.run, req.path
                            );
                            return Ok(Json(StepOutcome::Failed {
                                message: format!(
                                    "`{}` did not finish within its timeout; the worker stopped it",
                                    req.tool
                                ),
                                help: None,
                                permanent: false,
                                timed_out: true,
                            }));
                        }
                    },
                    None => call.await,
                };
                Ok(Json(fit_step(r, &req.tool, limit)))
            })
            .name("tool")
            .await?;
        Ok(out)
    }
}

/// A tool call's outcome as a step's message: a result larger than `limit`
/// lets through fails the step at once (Restate would refuse the message and
/// run the step again and again).
fn fit_step(r: crate::run::tools::ToolResult, tool: &str, limit: u64) -> StepOutcome {
    match r {
        Ok(v) => match super::over_limit(&v, limit) {
            None => StepOutcome::Ok(v),
            Some(n) => StepOutcome::Failed {
                message: format!(
                    "the result of `{tool}` is {} as JSON, more than the {} a message to Restate may carry",
                    fmt_size(n),
                    fmt_size(limit)
                ),
                help: Some(
                    "have the tool return less (such as a path or a URL to the data), or raise Restate's `worker.invoker.message-size-limit` and `flowc worker --max-message` together".into(),
                ),
                permanent: true,
                timed_out: false,
            },
        },
        Err(f) => StepOutcome::Failed {
            message: f.message,
            help: f.help,
            permanent: f.permanent,
            timed_out: false,
        },
    }
}

/// A run's outcome as a message: what `limit` does not let through is left
/// out (the trace, then the record, with a warning each), and a result that
/// is too large itself fails the run, saying so. Restate would refuse the
/// message and run the flow again and again, its client waiting.
fn fit_outcome(mut o: RunOutcome, flow: &str, limit: u64) -> RunOutcome {
    if super::over_limit(&o, limit).is_none() {
        return o;
    }
    let too_large = |what: &str, n: u64| {
        format!(
            "{what} is {} as JSON, more than the {} a message to Restate may carry: it is not kept",
            fmt_size(n),
            fmt_size(limit)
        )
    };
    if let Some(t) = o.trace.take() {
        let n = super::over_limit(&t, 0).unwrap_or(0);
        o.warnings.push(too_large("the run's trace", n));
    }
    if super::over_limit(&o, limit).is_some()
        && let Some(r) = o.record.take()
    {
        let n = super::over_limit(&r, 0).unwrap_or(0);
        o.warnings.push(too_large("the run record", n));
    }
    if super::over_limit(&o, limit).is_some()
        && let Some(v) = o.result.take()
    {
        let n = super::over_limit(&v, 0).unwrap_or(0);
        o.status = RunStatus::Failed;
        o.errors.push(format!(
            "error: the result of flow `{flow}` is {} as JSON, more than the {} a message to Restate may carry\n  help: have the flow return less (such as a path or a URL to the data), or raise Restate's `worker.invoker.message-size-limit` and `flowc worker --max-message` together\n",
            fmt_size(n),
            fmt_size(limit)
        ));
    }
    if super::over_limit(&o, limit).is_some() {
        // Errors or warnings beyond the limit: the first lines of each.
        for e in o.errors.iter_mut().chain(o.warnings.iter_mut()) {
            if e.len() > 4096 {
                let mut cut = 4096;
                while !e.is_char_boundary(cut) {
                    cut -= 1;
                }
                e.truncate(cut);
                e.push_str("…\n");
            }
        }
    }
    o
}

/// The decisions of runs (`decide`, `llm()`): invoked with the idempotency
/// key `RUN_ID/STEP_PATH`, so Restate keeps the first answer and gives it back.
pub struct Decision;

#[restate_sdk::service]
impl Decision {
    #[handler(idempotency_retention = "7 days")]
    async fn record(&self, _ctx: Context<'_>, answer: Json<Value>) -> HandlerResult<Json<Value>> {
        Ok(answer)
    }
}

/// The runs, newest last, for `flowc runs --engine` (one object, key `runs`).
pub struct RunIndex;

/// How many runs the index keeps.
const INDEX_MAX: usize = 1000;

/// Changes the index's entry of run `id` (when it has one) with `change`.
async fn update_run(
    ctx: &ObjectContext<'_>,
    id: Option<&str>,
    change: impl FnOnce(&mut RunEntry),
) -> HandlerResult<()> {
    let mut runs = ctx
        .get::<Json<Vec<RunEntry>>>("runs")
        .await?
        .map(Json::into_inner)
        .unwrap_or_default();
    if let Some(r) = runs.iter_mut().find(|r| Some(r.id.as_str()) == id) {
        change(r);
    }
    ctx.set("runs", Json(runs));
    Ok(())
}

#[restate_sdk::object]
impl RunIndex {
    #[handler]
    async fn add(&self, ctx: ObjectContext<'_>, entry: Json<RunEntry>) -> HandlerResult<()> {
        let mut runs = ctx
            .get::<Json<Vec<RunEntry>>>("runs")
            .await?
            .map(Json::into_inner)
            .unwrap_or_default();
        let entry = entry.into_inner();
        if !runs.iter().any(|r| r.id == entry.id) {
            runs.push(entry);
        }
        if runs.len() > INDEX_MAX {
            runs.drain(..runs.len() - INDEX_MAX);
        }
        ctx.set("runs", Json(runs));
        Ok(())
    }

    #[handler]
    async fn ended(&self, ctx: ObjectContext<'_>, end: Json<Value>) -> HandlerResult<()> {
        let end = end.into_inner();
        update_run(&ctx, end["id"].as_str(), |r| {
            if let Ok(status) = serde_json::from_value(end["status"].clone()) {
                r.status = status;
            }
            r.ended = end["ended"].as_str().map(str::to_string);
            r.waiting.clear();
        })
        .await
    }

    /// A run waits for an approval: `{id, path, message}`.
    #[handler]
    async fn waiting(&self, ctx: ObjectContext<'_>, w: Json<Value>) -> HandlerResult<()> {
        let w = w.into_inner();
        update_run(&ctx, w["id"].as_str(), |r| {
            if r.ended.is_some() {
                return;
            }
            let path = w["path"].as_str().unwrap_or("").to_string();
            if !r.waiting.iter().any(|x| x.path == path) {
                r.waiting.push(Waiting {
                    path,
                    message: w["message"].as_str().unwrap_or("").to_string(),
                });
            }
            r.status = RunStatus::Waiting;
        })
        .await
    }

    /// An approval of a run was answered: `{id, path, message, answer}`.
    #[handler]
    async fn answered(&self, ctx: ObjectContext<'_>, w: Json<Value>) -> HandlerResult<()> {
        let w = w.into_inner();
        update_run(&ctx, w["id"].as_str(), |r| {
            r.waiting
                .retain(|x| Some(x.path.as_str()) != w["path"].as_str());
            let path = w["path"].as_str().unwrap_or("").to_string();
            if let Ok(a) = serde_json::from_value::<Answer>(w["answer"].clone())
                && !r.answered.iter().any(|x| x.path == path)
            {
                r.answered.push(Answered {
                    path,
                    message: w["message"].as_str().unwrap_or("").to_string(),
                    approved: a.approved,
                    by: a.by,
                    at: a.at,
                    note: a.note,
                });
            }
            if r.waiting.is_empty() && r.status == RunStatus::Waiting {
                r.status = RunStatus::Running;
            }
        })
        .await
    }

    /// The entry of one run (`null` when the index has none).
    #[handler]
    async fn entry(
        &self,
        ctx: SharedObjectContext<'_>,
        id: Json<String>,
    ) -> HandlerResult<Json<Option<RunEntry>>> {
        let id = id.into_inner();
        Ok(Json(
            ctx.get::<Json<Vec<RunEntry>>>("runs")
                .await?
                .and_then(|runs| runs.into_inner().into_iter().find(|r| r.id == id)),
        ))
    }

    #[handler]
    async fn list(&self, ctx: SharedObjectContext<'_>) -> HandlerResult<Json<Vec<RunEntry>>> {
        Ok(Json(
            ctx.get::<Json<Vec<RunEntry>>>("runs")
                .await?
                .map(Json::into_inner)
                .unwrap_or_default(),
        ))
    }
}

/// The steps of a running run (one object per run id), for `flowc runs
/// show --engine`: sent by the worker that runs its interpreter; cleared
/// when the run ends (its record has them then).
pub struct RunProgress;

#[restate_sdk::object]
impl RunProgress {
    #[handler]
    async fn set(&self, ctx: ObjectContext<'_>, steps: Json<Value>) -> HandlerResult<()> {
        ctx.set("steps", steps);
        Ok(())
    }

    #[handler]
    async fn clear(&self, ctx: ObjectContext<'_>) -> HandlerResult<()> {
        ctx.clear("steps");
        Ok(())
    }

    #[handler]
    async fn get(&self, ctx: SharedObjectContext<'_>) -> HandlerResult<Json<Value>> {
        Ok(Json(
            ctx.get::<Json<Value>>("steps")
                .await?
                .map_or(Value::Null, Json::into_inner),
        ))
    }
}

/// One `approve` of a run (key `RUN_ID/STEP_PATH`): waits for its answer.
pub struct Approval;

#[restate_sdk::workflow(workflow_completion_retention = "7 days")]
impl Approval {
    /// Waits for `answer`; its input is the question.
    #[handler(inactivity_timeout = "1 day", abort_timeout = "1m")]
    async fn run(
        &self,
        ctx: WorkflowContext<'_>,
        question: Json<Value>,
    ) -> HandlerResult<Json<Answer>> {
        let question = question.into_inner();
        let who = json!({
            "id": question["run"],
            "path": question["path"],
            "message": question["message"],
        });
        ctx.set("question", Json(question));
        ctx.set("status", "waiting".to_string());
        ctx.object_client::<RunIndexClient>("runs")
            .waiting(Json(who.clone()))
            .send();
        let answer = ctx.promise::<Json<Answer>>("answer").await?.into_inner();
        ctx.set("status", "answered".to_string());
        let mut who = who;
        who["answer"] = serde_json::to_value(&answer).expect("answers serialise");
        ctx.object_client::<RunIndexClient>("runs")
            .answered(Json(who))
            .send();
        Ok(Json(answer))
    }

    /// Resolves the approval (`flowc approve --engine`).
    #[handler]
    async fn answer(
        &self,
        ctx: SharedWorkflowContext<'_>,
        answer: Json<Answer>,
    ) -> HandlerResult<()> {
        ctx.resolve_promise("answer", answer);
        Ok(())
    }

    #[handler]
    async fn show(&self, ctx: SharedWorkflowContext<'_>) -> HandlerResult<Json<Value>> {
        let question = ctx.get::<Json<Value>>("question").await?;
        let status = ctx.get::<String>("status").await?;
        Ok(Json(json!({
            "key": ctx.key(),
            "question": question.map(Json::into_inner),
            "status": status,
        })))
    }
}

/// Registers the deployment at `public` with the admin API at `admin` (again, with `force`).
pub async fn register(admin: &str, public: &str) -> Result<(), String> {
    let url = format!("{}/deployments", admin.trim_end_matches('/'));
    let body = serde_json::json!({ "uri": public, "force": true });
    let r = crate::run::tools::http::reqwest_client()
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot register with the Restate admin API at {admin}: {}",
                crate::run::tools::http::describe(&e)
            )
        })?;
    if r.status().is_success() {
        Ok(())
    } else {
        let status = r.status();
        Err(format!(
            "the Restate admin API at {admin} refused to register {public} ({status}): {}",
            r.text().await.unwrap_or_default().trim()
        ))
    }
}

/// Serves the endpoint on `listener` until SIGINT or SIGTERM; no message
/// it sends Restate is larger than `max_message`.
pub async fn serve(served: Served, listener: tokio::net::TcpListener, max_message: u64) {
    let served = Arc::new(served);
    let endpoint = Endpoint::builder()
        .bind(FlowRun {
            served: served.clone(),
            max_message,
        })
        .bind(Step {
            served: served.clone(),
            http: Client::new(),
            mcp: Default::default(),
            max_message,
        })
        .bind(Decision)
        .bind(RunIndex)
        .bind(RunProgress)
        .bind(Approval)
        .build();
    // On SIGTERM or SIGINT the server stops taking requests and lets those
    // in flight end; a run can take hours, so it waits 10 s at most (Restate
    // gives what was cut off to another worker).
    let serving = HttpServer::new(endpoint).serve_with_cancel(listener, stop_signal());
    let give_up = async {
        stop_signal().await;
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    };
    tokio::select! {
        _ = serving => {}
        _ = give_up => {
            eprintln!("flowc worker: stopped with invocations in flight; Restate runs them again elsewhere");
        }
    }
}

/// SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
