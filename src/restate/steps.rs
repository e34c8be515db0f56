//! A `FlowRun` on a worker: the interpreter runs on a thread of its own (it
//! is not `Send`), and sends every tool call to Restate's `Step` service
//! through the ingress, with the step's idempotency key.

use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use super::{RunOutcome, RunRequest, StepOutcome, StepRequest, step_key};
use crate::diag::render;
use crate::driver::project::{LlmArgs, choose_provider, folder_of};
use crate::driver::{FsLoader, check_source};
use crate::run::llm::Llm;
use crate::run::tools::{ToolFailure, ToolResult};
use crate::run::{Interp, Remote, RemoteStep, RunConfig, opts::Opts};

/// The interpreter's way to Restate: each tool call is a `Step` invocation.
pub struct RestateSteps {
    http: reqwest::Client,
    ingress: String,
    run: String,
    /// The served file's key, for the `Step` handler.
    file: String,
}

impl Remote for RestateSteps {
    fn call<'a>(&'a self, step: RemoteStep<'a>) -> LocalBoxFuture<'a, ToolResult> {
        Box::pin(async move {
            let path = step.path.to_string();
            let request = StepRequest {
                run: self.run.clone(),
                path: path.clone(),
                file: self.file.clone(),
                module: step.module,
                tool: step.tool.to_string(),
                input: step.input.clone(),
                max_output: step.max_output,
                key: step.key.map(str::to_string),
            };
            let key = step_key(&self.run, &path, step.attempt);
            let url = format!("{}/Step/run", self.ingress);
            let mut wait = Duration::from_millis(50);
            loop {
                let sent = self
                    .http
                    .post(&url)
                    .header("idempotency-key", header_safe(&key))
                    .json(&request)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        return match r.json::<StepOutcome>().await {
                            Ok(StepOutcome::Ok(v)) => Ok(v),
                            Ok(StepOutcome::Failed {
                                message,
                                help,
                                permanent,
                            }) => Err(ToolFailure {
                                message,
                                help,
                                permanent,
                            }),
                            Err(e) => Err(ToolFailure::new(format!(
                                "Restate's answer for step `{path}` is not a step outcome: {e}"
                            ))),
                        };
                    }
                    // The server is starting, stopping or overloaded: ask again.
                    Ok(r) if matches!(r.status().as_u16(), 429 | 502 | 503 | 504) => {}
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        return Err(ToolFailure::new(format!(
                            "Restate refused step `{path}` ({status}): {}",
                            body.trim()
                        ))
                        .permanent());
                    }
                    // Not reachable now (a restart): the same key attaches to the
                    // step's invocation when it is back.
                    Err(_) => {}
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        })
    }
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
/// ends or `cancel` is dropped or fires (`None` then).
pub fn interpret(
    req: &RunRequest,
    run: &str,
    name: &str,
    text: &str,
    file_key: &str,
    cancel: tokio::sync::oneshot::Receiver<()>,
) -> Option<RunOutcome> {
    let checked = check_source(name, text, &FsLoader);
    if checked.has_errors() {
        return Some(RunOutcome {
            status: "failed".into(),
            errors: vec![render::render_all(
                checked.diagnostics.iter().filter(|d| d.is_error()),
                &checked.sources,
                false,
            )],
            ..RunOutcome::default()
        });
    }
    let mut set = Opts::default();
    for kv in &req.set {
        let parsed = kv
            .split_once('=')
            .ok_or_else(|| format!("`--set {kv}`: write `--set key=value`"))
            .and_then(|(k, v)| set.set(k, v));
        if let Err(e) = parsed {
            return Some(failed(format!("error: {e}\n")));
        }
    }
    let provider = match choose_provider(&folder_of(name), &LlmArgs::default()) {
        Ok(c) => c.provider,
        Err(e) => return Some(failed(format!("error: {e}\n"))),
    };
    let config = RunConfig {
        set,
        record: true,
        run_id: Some(run.to_string()),
        tenant: std::env::var("FLOWC_TENANT").ok(),
        ..RunConfig::default()
    };
    let mut interp = Interp::new(&checked.program, &checked.sources, config);
    interp.llm = Llm::new(provider);
    interp.remote = Some(Box::new(RestateSteps {
        http: crate::run::tools::http::reqwest_client(),
        ingress: req.ingress.clone(),
        run: run.to_string(),
        file: file_key.to_string(),
    }));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let result = rt.block_on(async {
        tokio::select! {
            r = interp.run_as(&req.flow, req.inputs.clone(), &req.flow) => Some(r),
            _ = cancel => None,
        }
    })?;
    let sources = &checked.sources;
    let steps = interp
        .recorder
        .steps_json(sources)
        .into_iter()
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
        .collect();
    let warnings = interp
        .recorder
        .warnings()
        .into_iter()
        .map(|w| format!("{}:{}:{}: {}", w.file, w.line, w.column, w.message))
        .collect();
    Some(match result {
        Ok(v) => RunOutcome {
            status: "ok".into(),
            result: Some(v),
            warnings,
            steps,
            ..RunOutcome::default()
        },
        Err(errors) => RunOutcome {
            status: "failed".into(),
            errors: errors
                .iter()
                .map(|e| render::render(&e.to_diagnostic(), sources, false))
                .collect(),
            warnings,
            steps,
            ..RunOutcome::default()
        },
    })
}

fn failed(message: String) -> RunOutcome {
    RunOutcome {
        status: "failed".into(),
        errors: vec![message],
        ..RunOutcome::default()
    }
}
