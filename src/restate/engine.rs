//! The Restate engine (docs/scale-out.md): a run is submitted to a Restate
//! server, where a worker runs it; this waits for its end. A run there goes
//! on by itself: resuming it waits for it again, and an answered approval
//! lets it go on.

use super::client::Client;
use super::{RunOutcome, RunRequest, worker};
use crate::driver::session::{Prepared, Refusal, Request};
use crate::driver::{ApproveRequest, ResumeRequest};
use crate::driver::{Engine, Event, RemoteEnd, Report, Reported};

/// Runs on the Restate server whose ingress is at `ingress`.
pub struct Restate {
    client: Client,
}

impl Restate {
    /// `ingress`: the ingress URL, without a trailing `/` ([`super::parse_engine`]).
    pub fn new(ingress: &str) -> Restate {
        Restate {
            client: Client::new(ingress),
        }
    }

    fn ingress(&self) -> &str {
        self.client.ingress()
    }

    /// Waits for run `id` of flow `flow` to end, reporting the approvals it
    /// waits for on the way.
    fn wait(
        &self,
        id: &str,
        flow: &str,
        sink: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, Refusal> {
        let ingress = self.ingress().to_string();
        let outcome = self
            .client
            .wait(id, |w| {
                sink(Event::ApprovalRequested {
                    run: Some(id),
                    path: &w.path,
                    message: &w.message,
                    goes_on_at: Some(&ingress),
                })
            })
            .map_err(|e| Refusal::failed(format!("run {id}: {e}")))?;
        let RunOutcome {
            status,
            result,
            errors,
            warnings,
            record,
            trace,
        } = outcome;
        sink(Event::Finished { status });
        Ok(Report {
            run_id: Some(id.to_string()),
            flow: flow.to_string(),
            reported: Reported::Remote(Box::new(RemoteEnd {
                engine: ingress,
                status,
                result,
                errors,
                warnings,
                record,
                trace,
            })),
        })
    }

    /// Refused when Restate has no run `id`.
    fn no_run(&self, id: &str) -> Refusal {
        let ingress = self.ingress();
        Refusal::usage(format!(
            "Restate at {ingress} has no run `{id}`; `flowc runs --engine restate:{ingress}` lists them"
        ))
    }
}

impl Engine for Restate {
    fn run(
        &mut self,
        prepared: Prepared,
        req: &Request,
        sink: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, Refusal> {
        let local_only = [
            (req.wishes.llm_recording, "--record-llm"),
            (req.llm.provider.is_some(), "--llm"),
        ];
        if let Some((_, flag)) = local_only.iter().find(|(given, _)| *given) {
            return Err(Refusal::usage(format!(
                "`{flag}` is for runs here, not with `--engine`: the workers ask their own LLM provider (docs/scale-out.md)"
            )));
        }
        let id = crate::store::new_run_id();
        let run = RunRequest {
            file: prepared.file.clone(),
            path: worker::absolute_path(&prepared.file),
            sha256: crate::store::sha256_hex(prepared.text().as_bytes()),
            flow: prepared.flow.clone(),
            inputs: prepared.inputs,
            set: prepared.settings,
            ingress: self.ingress().to_string(),
            trace: req.wishes.trace,
        };
        self.client.submit(&id, &run).map_err(Refusal::usage)?;
        sink(Event::Submitted {
            run: &id,
            engine: self.ingress(),
        });
        self.wait(&id, &prepared.flow, sink)
    }

    fn resume(
        &mut self,
        req: &ResumeRequest,
        sink: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, Refusal> {
        let id = &req.run;
        let flow = match self.client.show(id) {
            Ok(v) if v["request"].is_object() => {
                v["request"]["flow"].as_str().unwrap_or("").to_string()
            }
            Ok(_) => return Err(self.no_run(id)),
            Err(e) => return Err(Refusal::usage(e)),
        };
        self.wait(id, &flow, sink)
    }

    fn approve(&mut self, req: &ApproveRequest) -> Result<String, Refusal> {
        let run = &req.run;
        let ingress = self.ingress();
        let entry = self
            .client
            .runs()
            .map_err(Refusal::usage)?
            .into_iter()
            .find(|r| r.id == *run)
            .ok_or_else(|| self.no_run(run))?;
        let waiting: Vec<String> = entry
            .waiting
            .iter()
            .map(|w| format!("  {}: {}", w.path, w.message))
            .collect();
        let path = match (req.path.as_deref(), entry.waiting.as_slice()) {
            (Some(p), w) if w.iter().any(|x| x.path == p) => p.to_string(),
            (_, []) => {
                return Err(Refusal::usage(format!(
                    "run {run} waits for no approval (status `{}`)",
                    entry.status
                )));
            }
            (Some(p), _) => {
                return Err(Refusal::usage(format!(
                    "run {run} waits for no approval at `{p}`; it waits for:\n{}",
                    waiting.join("\n")
                )));
            }
            (None, [one]) => one.path.clone(),
            (None, several) => {
                return Err(Refusal::usage(format!(
                    "run {run} waits for {} approvals; name the one to answer (`flowc approve --engine restate:{ingress} {run} PATH`):\n{}",
                    several.len(),
                    waiting.join("\n")
                )));
            }
        };
        let by = req.by();
        let answer = super::Answer {
            approved: req.approved,
            by: Some(by.clone()),
            note: req.note.clone(),
            at: Some(crate::builtins::now_rfc3339()),
        };
        self.client
            .answer(run, &path, &answer)
            .map_err(Refusal::usage)?;
        Ok(format!(
            "{} `{path}` of run {run} (by {by}); the run goes on on Restate: `flowc resume --engine restate:{ingress} {run}` waits for its end",
            if req.approved { "approved" } else { "rejected" }
        ))
    }
}
