//! The ingress side of runs on Restate: submit a run, wait for its end, list
//! and show runs, answer an approval. Blocking calls (a runtime of their own).

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Answer, RunEntry, RunOutcome, RunRequest, Waiting};

/// How long a client waits for an unreachable server before giving up.
const UNREACHABLE_MAX: Duration = Duration::from_secs(300);

/// How long a connection to the ingress may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the ingress may take to answer a request (all but the wait for
/// a run's end, which lasts as long as the run): Restate answers these at once.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one Restate ingress.
pub struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    ingress: String,
}

impl Client {
    pub fn new(ingress: &str) -> Client {
        Client {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime starts"),
            http: crate::run::tools::http::reqwest_builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build()
                .expect("a reqwest client with a connect timeout builds"),
            ingress: ingress.trim_end_matches('/').to_string(),
        }
    }

    pub fn ingress(&self) -> &str {
        &self.ingress
    }

    /// Submits run `id`: the `FlowRun` workflow of that key (a second submission
    /// of the same id is the same run).
    pub fn submit(&self, id: &str, req: &RunRequest) -> Result<(), String> {
        let url = format!("{}/FlowRun/{}/run/send", self.ingress, encode(id));
        let body = serde_json::to_value(req).expect("requests serialise");
        self.post::<Value>(&url, &body, false).map(|_| ())
    }

    /// Waits for run `id` to end; waits on through a server restart. Meanwhile,
    /// `waiting` is called once for each approval the run comes to wait for
    /// (the run's index entry is looked at every 1 to 5 s).
    pub fn wait(&self, id: &str, mut waiting: impl FnMut(&Waiting)) -> Result<RunOutcome, String> {
        let url = format!(
            "{}/restate/workflow/FlowRun/{}/attach",
            self.ingress,
            encode(id)
        );
        let entry = format!("{}/RunIndex/runs/entry", self.ingress);
        let body = Value::String(id.to_string());
        self.rt.block_on(async {
            let end = std::pin::pin!(self.send(&url, Method::Get, true));
            let watch = async {
                let mut told: Vec<String> = Vec::new();
                // Every second at first, then every 5 s at most: many runs
                // waited for at once must not keep the index busy.
                let mut every = Duration::from_secs(1);
                loop {
                    tokio::time::sleep(every).await;
                    every = (every + Duration::from_millis(500)).min(Duration::from_secs(5));
                    let Ok(Some(run)) = self
                        .send::<Option<RunEntry>>(&entry, Method::Post(&body), false)
                        .await
                    else {
                        continue;
                    };
                    for w in &run.waiting {
                        if !told.contains(&w.path) {
                            told.push(w.path.clone());
                            waiting(w);
                        }
                    }
                }
            };
            tokio::select! {
                r = end => r,
                _ = watch => unreachable!("the watch never ends"),
            }
        })
    }

    /// The steps of running run `id` so far (`null` when none were sent).
    pub fn progress(&self, id: &str) -> Result<Value, String> {
        let url = format!("{}/RunProgress/{}/get", self.ingress, encode(id));
        self.post(&url, &Value::Null, false)
    }

    /// The runs the `RunIndex` knows, oldest first.
    pub fn runs(&self) -> Result<Vec<RunEntry>, String> {
        let url = format!("{}/RunIndex/runs/list", self.ingress);
        self.post(&url, &Value::Null, false)
    }

    /// Run `id` as its workflow keeps it.
    pub fn show(&self, id: &str) -> Result<Value, String> {
        let url = format!("{}/FlowRun/{}/show", self.ingress, encode(id));
        self.post(&url, &Value::Null, false)
    }

    /// The approval of run `run` at step `path`.
    pub fn approval(&self, run: &str, path: &str) -> Result<Value, String> {
        let url = format!(
            "{}/Approval/{}/show",
            self.ingress,
            encode(&approval_key(run, path))
        );
        self.post(&url, &Value::Null, false)
    }

    /// Answers the approval of run `run` at step `path`.
    pub fn answer(&self, run: &str, path: &str, answer: &Answer) -> Result<(), String> {
        let url = format!(
            "{}/Approval/{}/answer",
            self.ingress,
            encode(&approval_key(run, path))
        );
        let body = serde_json::to_value(answer).expect("answers serialise");
        self.post::<Value>(&url, &body, false).map(|_| ())
    }

    /// POST `body` (none for `null`: handlers without input take none).
    fn post<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &Value,
        patient: bool,
    ) -> Result<T, String> {
        self.request(url, Method::Post(body), patient)
    }

    /// GET or POST; `patient`: an unreachable server is
    /// waited for (up to 5 minutes), else it is an error at once.
    fn request<T: DeserializeOwned>(
        &self,
        url: &str,
        method: Method<'_>,
        patient: bool,
    ) -> Result<T, String> {
        self.rt.block_on(self.send(url, method, patient))
    }

    /// [`Client::request`] on the client's runtime.
    async fn send<T: DeserializeOwned>(
        &self,
        url: &str,
        method: Method<'_>,
        patient: bool,
    ) -> Result<T, String> {
        {
            let mut down_since: Option<Instant> = None;
            let mut wait = Duration::from_millis(100);
            loop {
                let req = match method {
                    Method::Post(Value::Null) => self.http.post(url),
                    Method::Post(b) => self.http.post(url).json(b),
                    Method::Get => self.http.get(url),
                };
                // The wait for a run's end lasts as long as the run.
                let req = if patient {
                    req
                } else {
                    req.timeout(ANSWER_TIMEOUT)
                };
                let why = match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let text = r.text().await.map_err(|e| e.to_string())?;
                        let text = if text.is_empty() { "null" } else { &text };
                        return serde_json::from_str(text).map_err(|e| {
                            format!(
                                "Restate at {} answered {url} with what flowc cannot read: {e}",
                                self.ingress
                            )
                        });
                    }
                    Ok(r) if matches!(r.status().as_u16(), 502..=504) => {
                        format!("{}", r.status())
                    }
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        let message = serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|v| v["message"].as_str().map(str::to_string));
                        return Err(match message {
                            Some(m) if status.as_u16() == 404 && m.starts_with("service '") => {
                                format!(
                                    "Restate at {} has no flowc workers registered (it answered {status}: {m}); start one with `flowc worker --listen ADDR FILE… --register ADMIN_URL`, or register a worker or a balancer with `scripts/restate.sh register ADMIN_URL WORKER_URL`",
                                    self.ingress
                                )
                            }
                            Some(m) => format!(
                                "Restate at {} answered {status}: {}",
                                self.ingress,
                                m.trim()
                            ),
                            None if status.as_u16() == 404 => format!(
                                "{} answered {status} to {url}: it is not a Restate ingress; the engine is `restate:INGRESS_URL`, the Restate server's ingress (port 8080 by default; 9070 is its admin API)",
                                self.ingress
                            ),
                            None => format!(
                                "Restate at {} answered {status}: {}",
                                self.ingress,
                                text.trim()
                            ),
                        });
                    }
                    Err(e) if e.is_timeout() && !e.is_connect() => {
                        return Err(format!(
                            "{} accepted the connection but did not answer within {} s; is it Restate's ingress (such as http://127.0.0.1:8080)?",
                            self.ingress,
                            ANSWER_TIMEOUT.as_secs()
                        ));
                    }
                    Err(e) => crate::run::tools::http::describe(&e),
                };
                let since = *down_since.get_or_insert_with(Instant::now);
                if !patient {
                    return Err(format!(
                        "cannot reach Restate at {} ({why}); is the server running? (`scripts/restate.sh start DIR`)",
                        self.ingress
                    ));
                }
                if since.elapsed() > UNREACHABLE_MAX {
                    return Err(format!(
                        "Restate at {} has not answered for {} s ({why}); the run goes on there: wait for it again with `flowc resume --engine restate:{} RUN`",
                        self.ingress,
                        UNREACHABLE_MAX.as_secs(),
                        self.ingress
                    ));
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(1));
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Method<'a> {
    Get,
    Post(&'a Value),
}

/// The key of the `Approval` of run `run` at step `path`.
pub fn approval_key(run: &str, path: &str) -> String {
    format!("{run}/{path}")
}

/// Percent-encodes a key for a URL path segment.
pub fn encode(key: &str) -> String {
    let mut s = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}
