//! A `FlowRun` on a worker: the interpreter runs on a thread of its own (it
//! is not `Send`), and sends every tool call to Restate's `Step` service
//! through the ingress, with the step's idempotency key.

use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use serde_json::{Value, json};

use super::client::{approval_key, encode};
use super::{Answer, RunOutcome, RunRequest, StepOutcome, StepProgress, StepRequest, step_key};
use crate::diag::render;
use crate::driver::project::{LlmArgs, choose_provider, folder_of};
use crate::driver::runner::{Job, Keep, Outcome, RecordInfo, Runner};
use crate::driver::signals::Interrupt;
use crate::driver::{FsLoader, check_source};
use crate::ir::StepPath;
use crate::run::host::{StepHost, ToolCall};
use crate::run::record::Recorder;
use crate::run::tools::{ToolFailure, ToolResult};
use crate::status::RunStatus;

/// The interpreter's host on a worker: each tool call is a `Step` invocation,
/// each `approve` an `Approval` workflow, each decision kept by `Decision`.
pub struct RestateSteps {
    http: reqwest::Client,
    ingress: String,
    run: String,
    /// The served file's key, for the `Step` handler.
    file: String,
    /// Its SHA-256: a worker serving other text refuses the step.
    sha256: String,
}

impl RestateSteps {
    /// Sends the request `make` builds until Restate answers it: a server
    /// that is starting, stopping or unreachable is asked again (the same
    /// idempotency key or workflow key attaches to what is under way).
    /// `Err` with Restate's message when it refuses.
    async fn until_answered(
        &self,
        what: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<String, String> {
        let mut wait = Duration::from_millis(50);
        loop {
            match make().send().await {
                Ok(r) if r.status().is_success() => {
                    return r.text().await.map_err(|e| {
                        format!("Restate's answer for {what} could not be read: {e}")
                    });
                }
                Ok(r) if matches!(r.status().as_u16(), 429 | 502..=504) => {}
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    return Err(format!(
                        "Restate refused {what} ({status}): {}",
                        body.trim()
                    ));
                }
                Err(_) => {}
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }
}

impl StepHost for RestateSteps {
    /// None: every tool call, a built-in's too, is a durable `Step`.
    fn call_now(&self, _: &ToolCall<'_>) -> Option<crate::run::tools::Now> {
        None
    }

    fn call<'a>(&'a self, step: ToolCall<'a>) -> LocalBoxFuture<'a, ToolResult> {
        Box::pin(async move {
            let path = step.path.to_string();
            let request = StepRequest {
                run: self.run.clone(),
                path: path.clone(),
                file: self.file.clone(),
                sha256: self.sha256.clone(),
                module: step.module,
                tool: step.tool.to_string(),
                input: step.input.clone(),
                max_output: step.limits.max_output,
                key: step.key.map(str::to_string),
                deadline_ms: Some(epoch_ms().saturating_add(step.timeout.as_millis() as u64)),
            };
            let key = header_safe(&step_key(&self.run, &path, step.attempt));
            let url = format!("{}/Step/run", self.ingress);
            let text = self
                .until_answered(&format!("step `{path}`"), || {
                    self.http
                        .post(&url)
                        .header("idempotency-key", &key)
                        .json(&request)
                })
                .await
                .map_err(|m| ToolFailure::new(m).permanent())?;
            match serde_json::from_str::<StepOutcome>(&text) {
                Ok(StepOutcome::Ok(v)) => Ok(v),
                // Stopped at the timeout the interpreter keeps too: its
                // timer ends the call (started first, it fires first), so
                // the step fails as a `timeout`, as it does in a local run.
                Ok(StepOutcome::Failed {
                    timed_out: true, ..
                }) => std::future::pending().await,
                Ok(StepOutcome::Failed {
                    message,
                    help,
                    permanent,
                    timed_out: false,
                }) => Err(ToolFailure {
                    message,
                    help,
                    permanent,
                }),
                Err(e) => Err(ToolFailure::new(format!(
                    "Restate's answer for step `{path}` is not a step outcome: {e}"
                ))),
            }
        })
    }

    fn approve<'a>(
        &'a self,
        path: &'a StepPath,
        message: &'a str,
        context: Option<&'a Value>,
    ) -> LocalBoxFuture<'a, Option<Result<bool, String>>> {
        Box::pin(async move { Some(self.approval(path, message, context).await) })
    }

    fn decided<'a>(
        &'a self,
        path: &'a StepPath,
        answer: Value,
    ) -> LocalBoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            let path = path.to_string();
            // The same key as the path's step: the first answer recorded is the one kept.
            let key = header_safe(&step_key(&self.run, &path, 1));
            let url = format!("{}/Decision/record", self.ingress);
            let text = self
                .until_answered(&format!("the decision at `{path}`"), || {
                    self.http
                        .post(&url)
                        .header("idempotency-key", &key)
                        .json(&answer)
                })
                .await?;
            serde_json::from_str(&text)
                .map_err(|e| format!("the kept decision cannot be read: {e}"))
        })
    }
}

impl RestateSteps {
    /// The `Approval` workflow of `path`: started once, then waited for.
    async fn approval(
        &self,
        path: &StepPath,
        message: &str,
        context: Option<&Value>,
    ) -> Result<bool, String> {
        let path = path.to_string();
        let key = encode(&approval_key(&self.run, &path));
        let question = json!({
            "run": self.run,
            "path": path,
            "message": message,
            "context": context,
        });
        // The approval's workflow: started once; again, it is the same one.
        let start = format!("{}/Approval/{key}/run/send", self.ingress);
        self.until_answered("the approval", || self.http.post(&start).json(&question))
            .await?;
        let attach = format!("{}/restate/workflow/Approval/{key}/attach", self.ingress);
        let text = self
            .until_answered("the approval", || self.http.get(&attach))
            .await?;
        serde_json::from_str::<Answer>(&text)
            .map(|a| a.approved)
            .map_err(|e| format!("the answer is not an approval's answer: {e}"))
    }
}

/// Now, in milliseconds since the Unix epoch.
pub fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// An idempotency key as a header value: visible ASCII, the rest percent-encoded.
fn header_safe(key: &str) -> String {
    let mut s = String::with_capacity(key.len());
    for b in key.bytes() {
        if (0x21..0x7f).contains(&b) && b != b'%' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Runs the flow of `req` as run `run`: `name` and `text` are the served
/// file's, `file_key` its key for the `Step` handler. Blocks until the run
/// ends or `cancel` is dropped or fires (`None` then). The driver runs it,
/// as it runs a local run, with every tool call sent to `Step`.
pub fn interpret(
    req: &RunRequest,
    run: &str,
    name: &str,
    text: &str,
    file_key: &str,
    cancel: tokio::sync::oneshot::Receiver<()>,
) -> Option<RunOutcome> {
    let checked = check_source(name, text, &FsLoader::here());
    if checked.has_errors() {
        return Some(RunOutcome {
            status: RunStatus::Failed,
            errors: vec![render::render_all(
                checked.diagnostics.iter().filter(|d| d.is_error()),
                &checked.sources,
                false,
            )],
            ..RunOutcome::default()
        });
    }
    let settings = &req.set;
    let provider = match choose_provider(&folder_of(name), &LlmArgs::default()) {
        Ok(c) => c.provider,
        Err(e) => return Some(failed(format!("error: {e}\n"))),
    };
    let mut job = Job::new(&checked.program, &checked.sources, &req.flow);
    job.inputs = req.inputs.clone();
    job.options = settings.opts().clone();
    job.run_id = Some(run.to_string());
    job.provider = provider;
    // A re-planned fragment's interpreter inherits the host (its tool calls
    // are `Step`s too).
    job.host = Some(std::rc::Rc::new(RestateSteps {
        http: crate::run::tools::http::reqwest_client(),
        ingress: req.ingress.clone(),
        run: run.to_string(),
        file: file_key.to_string(),
        sha256: crate::store::sha256_hex(text.as_bytes()),
    }));
    job.keep = Keep {
        record: Some(RecordInfo {
            file: req.file.clone(),
            set: settings.given().to_vec(),
        }),
        trace: req.trace.then(|| format!("{} {}", req.file, req.flow)),
        ..Keep::default()
    };
    // Every step is recorded: the record is the run's outcome on Restate.
    job.steps = false;
    let mut cancelled = false;
    let finished = Runner::detached().run_until(job, &mut |_| {}, |recorder| {
        let progress = publish_progress(&req.ingress, run, recorder.clone());
        let cancelled = &mut cancelled;
        async move {
            tokio::select! {
                _ = cancel => {}
                _ = progress => {}
            }
            *cancelled = true;
            Interrupt::Term
        }
    });
    if cancelled {
        return None;
    }
    let sources = &checked.sources;
    let warnings = finished
        .warnings
        .iter()
        .map(|w| format!("{}:{}:{}: {}", w.file, w.line, w.column, w.message))
        .collect();
    let record = finished
        .record
        .as_ref()
        .and_then(|r| serde_json::to_value(r).ok());
    let (status, result, errors) = match finished.outcome {
        Outcome::Ok(v) => (RunStatus::Ok, Some(v), Vec::new()),
        Outcome::Failed(errors) => (
            RunStatus::Failed,
            None,
            errors
                .iter()
                .map(|e| render::render(&e.to_diagnostic(), sources, false))
                .collect(),
        ),
        // Not made here: no signal reaches the run, and an approve waits.
        other => (
            RunStatus::Failed,
            None,
            vec![format!("error: the run ended `{:?}`\n", other.status())],
        ),
    };
    Some(RunOutcome {
        status,
        result,
        errors,
        warnings,
        record,
        trace: finished.trace,
    })
}

/// Sends the run's steps to `RunProgress` when they changed, at most once a
/// second, for `flowc runs show` while the run goes on; never ends. A step
/// list too large for one message is not sent.
async fn publish_progress(ingress: &str, run: &str, recorder: std::rc::Rc<Recorder>) {
    let http = crate::run::tools::http::reqwest_client();
    let url = format!("{ingress}/RunProgress/{}/set/send", encode(run));
    let mut last = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let steps: Vec<StepProgress> = recorder
            .steps()
            .into_iter()
            .map(|s| StepProgress {
                path: s.path,
                tool: s.tool,
                status: serde_json::to_value(s.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            })
            .collect();
        if steps == last || super::over_limit(&steps, super::MESSAGE_LIMIT).is_some() {
            continue;
        }
        let sent = http
            .post(&url)
            .json(&steps)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        if sent.is_ok_and(|r| r.status().is_success()) {
            last = steps;
        }
    }
}

fn failed(message: String) -> RunOutcome {
    RunOutcome {
        status: RunStatus::Failed,
        errors: vec![message],
        ..RunOutcome::default()
    }
}
