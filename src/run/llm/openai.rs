//! `openai:BASE_URL`: any OpenAI-compatible chat-completions endpoint (vLLM,
//! llama.cpp server, Ollama's `/v1`, …). Temperature 0; a timeout per call;
//! retries after a 5xx answer or a connection error.

use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use serde_json::{Value, json};

use super::{DecisionRequest, MAX_ANSWER, Message, Provider, Settings};
use crate::run::tools::http::{describe, read_body};

pub struct OpenAi {
    url: String,
    /// `url` as messages show it: its secrets redacted.
    shown: String,
    /// The base URL as the provider's name shows it, redacted.
    base: String,
    key: Option<String>,
    settings: Settings,
    client: reqwest::Client,
}

impl OpenAi {
    pub fn new(base: &str, settings: Settings) -> Result<OpenAi, String> {
        let base_shown = crate::run::redact::redact(base);
        if cfg!(not(feature = "tls")) && base.starts_with("https://") {
            return Err(format!(
                "`{base_shown}`: this build of flowc speaks plain HTTP only; build it with \
                 `cargo install --path . --features tls` for HTTPS, or run the model locally \
                 (vLLM, llama.cpp server, Ollama)"
            ));
        }
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(format!(
                "`openai:{base_shown}`: write the endpoint's base URL, such as `openai:http://127.0.0.1:8080/v1`"
            ));
        }
        let trimmed = base.trim_end_matches('/');
        let url = if trimmed.ends_with("/chat/completions") {
            trimmed.to_string()
        } else {
            format!("{trimmed}/chat/completions")
        };
        let key = std::env::var("FLOWC_LLM_API_KEY")
            .or_else(|_| std::env::var("OPENAI_API_KEY"))
            .ok()
            .filter(|k| !k.is_empty());
        Ok(OpenAi {
            shown: crate::run::redact::redact(&url),
            url,
            base: crate::run::redact::redact(trimmed),
            key,
            settings,
            client: crate::run::tools::http::reqwest_client(),
        })
    }

    async fn once(&self, body: &Value) -> Result<String, Failure> {
        let mut req = self
            .client
            .post(&self.url)
            .timeout(self.settings.timeout)
            .json(body);
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        // A timeout is final: a slow model is not worth waiting for again.
        let timed_out = || {
            Failure::Final(format!(
                "{} did not answer within {}",
                self.shown,
                crate::run::opts::fmt_duration(self.settings.timeout)
            ))
        };
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                timed_out()
            } else {
                Failure::Retry(format!(
                    "request to {} failed: {}",
                    self.shown,
                    describe(&e)
                ))
            }
        })?;
        let status = resp.status();
        let text = match read_body(resp, MAX_ANSWER).await {
            Ok(Some(t)) => String::from_utf8_lossy(&t).into_owned(),
            Ok(None) => {
                return Err(Failure::Final(format!(
                    "{}'s answer is longer than {}",
                    self.url,
                    crate::run::opts::fmt_size(MAX_ANSWER)
                )));
            }
            Err(e) if e.is_timeout() => return Err(timed_out()),
            Err(e) => {
                return Err(Failure::Retry(format!(
                    "reading {}: {}",
                    self.shown,
                    describe(&e)
                )));
            }
        };
        let head = crate::run::tools::head(&text, 300);
        if status.is_server_error() {
            return Err(Failure::Retry(format!(
                "{} answered {status}: {head}",
                self.shown
            )));
        }
        if !status.is_success() {
            let hint = if status.as_u16() == 401 || status.as_u16() == 403 {
                " (set FLOWC_LLM_API_KEY or OPENAI_API_KEY)"
            } else if status.as_u16() == 404 {
                " (is the base URL right? flowc posts to BASE_URL/chat/completions)"
            } else {
                ""
            };
            return Err(Failure::Final(format!(
                "{} answered {status}{hint}: {head}",
                self.shown
            )));
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            Failure::Final(format!(
                "{} did not answer chat-completions JSON ({e}): {head}",
                self.shown
            ))
        })?;
        match v.pointer("/choices/0/message/content") {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Null) | None => Err(Failure::Final(format!(
                "{}'s answer has no `choices[0].message.content`: {head}",
                self.shown
            ))),
            Some(other) => Ok(other.to_string()),
        }
    }
}

enum Failure {
    /// A 5xx answer or a connection error: worth another try.
    Retry(String),
    Final(String),
}

impl Provider for OpenAi {
    fn name(&self) -> String {
        format!("openai:{} ({})", self.base, self.settings.model)
    }

    fn ask<'a>(
        &'a self,
        req: &'a DecisionRequest,
        messages: &'a [Message],
        _attempt: u32,
    ) -> LocalBoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            // A label is a word; a re-planned block body is a program.
            let max_tokens = if req.kind == "replan" { 1024 } else { 32 };
            let body = json!({
                "model": self.settings.model,
                "messages": messages,
                "temperature": 0,
                "max_tokens": max_tokens,
            });
            let mut tries = 0;
            loop {
                match self.once(&body).await {
                    Ok(s) => return Ok(s),
                    Err(Failure::Final(m)) => return Err(m),
                    Err(Failure::Retry(m)) if tries >= self.settings.retries => {
                        return Err(format!(
                            "{m} (after {} attempt{})",
                            tries + 1,
                            if tries == 0 { "" } else { "s" }
                        ));
                    }
                    Err(Failure::Retry(_)) => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(250 << tries)).await;
                    }
                }
            }
        })
    }
}
