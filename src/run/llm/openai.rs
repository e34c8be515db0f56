//! `openai:BASE_URL`: any OpenAI-compatible chat-completions endpoint (vLLM,
//! llama.cpp server, Ollama's `/v1`, …). Temperature 0; a timeout per call;
//! retries after a 5xx answer or a connection error. A request the model's
//! context cannot hold (HTTP 400: OpenAI's `context_length_exceeded`,
//! llama.cpp's `exceed_context_size_error`) is sent again once with
//! `max_tokens` lowered to what fits, when the server said the context size
//! and the request's tokens; otherwise it is [`AskError::TooLong`], for the
//! caller to shorten the request.

use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use serde_json::{Value, json};

use super::{
    Answer, AskError, Constrain, Constraint, DecisionRequest, MAX_ANSWER, Message, Provider,
    Settings, TooLong,
};
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
    /// The ways of constraining answers the server refused this run (`auto`
    /// does not send them again).
    refused: std::cell::RefCell<Vec<Constrain>>,
    /// The context the server said (`[llm] context = "server"`), asked once.
    server_context: std::cell::OnceCell<Option<u64>>,
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
            refused: std::cell::RefCell::new(Vec::new()),
            server_context: std::cell::OnceCell::new(),
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
        if status.is_client_error()
            && let Some(t) = too_long(&text)
        {
            return Err(Failure::TooLong(t));
        }
        if status.is_server_error() {
            return Err(Failure::Server(
                format!("{} answered {status}: {head}", self.shown),
                text.clone(),
            ));
        }
        if !status.is_success() {
            let hint = if status.as_u16() == 401 || status.as_u16() == 403 {
                " (set FLOWC_LLM_API_KEY or OPENAI_API_KEY)"
            } else if status.as_u16() == 404 {
                " (is the base URL right? flowc posts to BASE_URL/chat/completions)"
            } else {
                ""
            };
            return Err(Failure::Client(
                format!("{} answered {status}{hint}: {head}", self.shown),
                text.clone(),
            ));
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            Failure::Final(format!(
                "{} did not answer chat-completions JSON ({e}): {head}",
                self.shown
            ))
        })?;
        // A custom tool's call carries the answer of a Lark grammar.
        let tool = v
            .pointer("/choices/0/message/tool_calls/0/custom/input")
            .or_else(|| v.pointer("/choices/0/message/tool_calls/0/function/arguments"));
        match v.pointer("/choices/0/message/content") {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Null) | None if tool.is_some_and(Value::is_string) => {
                Ok(tool.and_then(Value::as_str).unwrap_or_default().to_string())
            }
            Some(Value::Null) | None => Err(Failure::Final(format!(
                "{}'s answer has no `choices[0].message.content`: {head}",
                self.shown
            ))),
            Some(other) => Ok(other.to_string()),
        }
    }
}

enum Failure {
    /// A connection error: worth another try.
    Retry(String),
    /// A 5xx answer: worth another try, unless its body refuses the way the
    /// answer was constrained (llama-cpp-python's server answers 500 to a
    /// `response_format` it cannot validate).
    Server(String, String),
    Final(String),
    /// A 4xx answer: the message, and the server's body (which may name a
    /// field it refuses).
    Client(String, String),
    /// The request does not fit the model's context.
    TooLong(TooLong),
}

/// Tokens an answer needs at least: a re-planned block body, a label.
fn min_tokens(kind: &str) -> u64 {
    if kind == "replan" { 64 } else { 4 }
}

/// A 4xx body that says the request exceeds the model's context: OpenAI's
/// and llama-cpp-python's `context_length_exceeded` ("This model's maximum
/// context length is 2048 tokens. However, you requested 2100 tokens (1076
/// in the messages, 1024 in the completion)…", or "…your messages resulted in
/// 2100 tokens…"), llama.cpp's `exceed_context_size_error` (with `n_ctx` and
/// `n_prompt_tokens`), or a message in those words.
fn too_long(body: &str) -> Option<TooLong> {
    let v: Value = serde_json::from_str(body).ok()?;
    let e = v.get("error").unwrap_or(&v);
    let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
    let message = match e.get("message") {
        Some(Value::String(m)) => m.clone(),
        _ => e.as_str().unwrap_or_default().to_string(),
    };
    let lower = message.to_lowercase();
    let said = field("code") == "context_length_exceeded"
        || field("type") == "exceed_context_size_error"
        || lower.contains("maximum context length")
        || lower.contains("exceeds the available context size");
    if !said {
        return None;
    }
    let number = |re: &str| {
        regex::Regex::new(re)
            .ok()?
            .captures(&message)?
            .get(1)?
            .as_str()
            .parse::<u64>()
            .ok()
    };
    let n_ctx = e.get("n_ctx").and_then(Value::as_u64).or_else(|| {
        number(r"maximum context length is (\d+)")
            .or_else(|| number(r"available context size \((\d+) tokens"))
    });
    let prompt_tokens = e
        .get("n_prompt_tokens")
        .and_then(Value::as_u64)
        .or_else(|| {
            number(r"\((\d+) in the messages")
                .or_else(|| number(r"messages resulted in (\d+) tokens"))
                .or_else(|| number(r"request \((\d+) tokens\)"))
        });
    Some(TooLong {
        n_ctx,
        prompt_tokens,
        detail: crate::run::tools::head(if message.is_empty() { body } else { &message }, 300),
    })
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
    ) -> LocalBoxFuture<'a, Result<Answer, AskError>> {
        Box::pin(self.chat(req, messages, None))
    }

    fn ask_constrained<'a>(
        &'a self,
        req: &'a DecisionRequest,
        messages: &'a [Message],
        _attempt: u32,
        constraint: &'a Constraint,
    ) -> LocalBoxFuture<'a, Result<Answer, AskError>> {
        Box::pin(self.chat(req, messages, Some(constraint)))
    }
}

/// Tokens a request's messages take at most, estimated without the model's
/// tokenizer: a token per 3 characters (code and JSON are dense), and the
/// chat template's few per message.
pub fn estimate_tokens(messages: &[Message]) -> u64 {
    messages
        .iter()
        .map(|m| (m.content.chars().count() as u64).div_ceil(3) + 8)
        .sum()
}

/// The ways to try, in order, for `constraint` under `mode`: `auto` tries
/// what the server may take, then nothing.
fn dialects(mode: Constrain, constraint: Option<&Constraint>) -> Vec<Constrain> {
    match (mode, constraint) {
        (_, None) | (Constrain::None, _) => vec![Constrain::None],
        (Constrain::Auto, Some(Constraint::Labels(_))) => {
            vec![Constrain::JsonSchema, Constrain::Gbnf, Constrain::None]
        }
        (Constrain::Auto, Some(Constraint::Grammar(_))) => {
            vec![Constrain::Gbnf, Constrain::Lark, Constrain::None]
        }
        // A JSON Schema cannot say what a block body is.
        (Constrain::JsonSchema, Some(Constraint::Grammar(_))) => vec![Constrain::None],
        (m, Some(_)) => vec![m],
    }
}

/// The request's fields that say `constraint` in `dialect`.
fn constrain_fields(body: &mut Value, dialect: Constrain, constraint: &Constraint) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    match dialect {
        Constrain::JsonSchema => {
            if let Constraint::Labels(labels) = constraint {
                obj.insert(
                    "response_format".into(),
                    json!({
                        "type": "json_schema",
                        "json_schema": {
                            "name": "decision",
                            "strict": true,
                            "schema": {
                                "type": "object",
                                "properties": { "label": { "type": "string", "enum": labels } },
                                "required": ["label"],
                                "additionalProperties": false,
                            },
                        },
                    }),
                );
            }
        }
        Constrain::Gbnf => {
            obj.insert("grammar".into(), Value::String(constraint.grammar().gbnf));
        }
        Constrain::Lark => {
            let (name, description) = match constraint {
                Constraint::Labels(_) => ("decision", "One of the decision's labels."),
                Constraint::Grammar(_) => (
                    "block_body",
                    "The .flow source of the replacement block body.",
                ),
            };
            obj.insert(
                "tools".into(),
                json!([{
                    "type": "custom",
                    "custom": {
                        "name": name,
                        "description": description,
                        "format": {
                            "type": "grammar",
                            "grammar": { "syntax": "lark", "definition": constraint.grammar().lark },
                        },
                    },
                }]),
            );
            obj.insert(
                "tool_choice".into(),
                json!({ "type": "custom", "custom": { "name": name } }),
            );
        }
        Constrain::Auto | Constrain::None => {}
    }
}

/// Does a 4xx body refuse what `dialect` added to the request (names its field)?
fn refuses(body: &str, dialect: Constrain) -> bool {
    let b = body.to_lowercase();
    match dialect {
        Constrain::JsonSchema => b.contains("response_format") || b.contains("json_schema"),
        Constrain::Gbnf => b.contains("grammar"),
        Constrain::Lark => {
            b.contains("tools")
                || b.contains("tool_choice")
                || b.contains("custom")
                || b.contains("grammar")
        }
        Constrain::Auto | Constrain::None => false,
    }
}

/// A JSON Schema answer, `{"label": "retry"}`: the label; else the text as it is.
fn unwrap_label(text: String) -> String {
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(Value::Object(o)) if o.len() == 1 => match o.get("label") {
            Some(Value::String(l)) => l.clone(),
            _ => text,
        },
        _ => text,
    }
}

impl OpenAi {
    /// The model's context as llama.cpp's server says it (`GET /props`:
    /// `default_generation_settings.n_ctx`, or `n_ctx`), asked once a run;
    /// `None` from a server that does not say.
    async fn server_context(&self) -> Option<u64> {
        if let Some(n) = self.server_context.get() {
            return *n;
        }
        let root = self.url.trim_end_matches("/chat/completions");
        let root = root.strip_suffix("/v1").unwrap_or(root);
        let mut req = self
            .client
            .get(format!("{root}/props"))
            .timeout(self.settings.timeout);
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        let said = match req.send().await {
            Ok(resp) if resp.status().is_success() => match read_body(resp, MAX_ANSWER).await {
                Ok(Some(body)) => serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
                    v.pointer("/default_generation_settings/n_ctx")
                        .or_else(|| v.get("n_ctx"))
                        .and_then(Value::as_u64)
                }),
                _ => None,
            },
            _ => None,
        };
        let _ = self.server_context.set(said);
        said
    }

    /// One answer: the request in the first dialect the server has not
    /// refused; a refusal naming the dialect's field tries the next (`auto`).
    async fn chat(
        &self,
        req: &DecisionRequest,
        messages: &[Message],
        constraint: Option<&Constraint>,
    ) -> Result<Answer, AskError> {
        // A label is a word; a re-planned block body is a program.
        let mut max_tokens: u64 = if req.kind == "replan" { 1024 } else { 32 };
        let mut notes = Vec::new();
        // The model's context, when `[llm] context` says it: the answer gets
        // the rest of it, and a request that cannot fit is not sent.
        let context = match self.settings.context {
            Some(n) => Some(n),
            None if self.settings.context_from_server => self.server_context().await,
            None => None,
        };
        if let Some(n_ctx) = context {
            let prompt = estimate_tokens(messages);
            let room = n_ctx.saturating_sub(prompt);
            if room < min_tokens(req.kind) {
                return Err(AskError::TooLong(TooLong {
                    n_ctx: Some(n_ctx),
                    prompt_tokens: Some(prompt),
                    detail: format!(
                        "about {prompt} tokens by flowc's estimate, over `[llm] context = {n_ctx}`{}",
                        if self.settings.context.is_none() {
                            " (as the server said)"
                        } else {
                            ""
                        }
                    ),
                }));
            }
            if room < max_tokens {
                notes.push(format!(
                    "`max_tokens` lowered from {max_tokens} to {room} to fit `[llm] context = {n_ctx}`{} (the request takes about {prompt} tokens)",
                    if self.settings.context.is_none() { " (as the server said)" } else { "" }
                ));
                max_tokens = room;
            }
        }
        let auto = self.settings.constrain == Constrain::Auto;
        let mut tries = 0;
        let mut lowered = false;
        'dialects: for dialect in dialects(self.settings.constrain, constraint) {
            if auto && dialect != Constrain::None && self.refused.borrow().contains(&dialect) {
                continue;
            }
            loop {
                let mut body = json!({
                    "model": self.settings.model,
                    "messages": messages,
                    "temperature": 0,
                    "max_tokens": max_tokens,
                });
                if let Some(c) = constraint {
                    constrain_fields(&mut body, dialect, c);
                }
                match self.once(&body).await {
                    Ok(text) => {
                        let text = if dialect == Constrain::JsonSchema {
                            unwrap_label(text)
                        } else {
                            text
                        };
                        return Ok(Answer { text, notes });
                    }
                    Err(Failure::Final(m)) => return Err(AskError::Failed(m)),
                    Err(Failure::Client(m, body) | Failure::Server(m, body))
                        if dialect != Constrain::None && refuses(&body, dialect) =>
                    {
                        if auto {
                            // Remembered for the run: not sent again.
                            self.refused.borrow_mut().push(dialect);
                            continue 'dialects;
                        }
                        return Err(AskError::Failed(format!(
                            "{m} (the server refuses answers constrained by `{}`; set \
                             `[llm] constrain = \"auto\"` or `--llm-constrain none`)",
                            dialect.as_str()
                        )));
                    }
                    Err(Failure::Client(m, _)) => return Err(AskError::Failed(m)),
                    Err(Failure::TooLong(t)) => {
                        // The server said what fits: the answer gets the rest
                        // of the context, once, if that is enough for one.
                        let room = match (t.n_ctx, t.prompt_tokens) {
                            (Some(n), Some(p)) => n.saturating_sub(p),
                            _ => 0,
                        };
                        if lowered || room < min_tokens(req.kind) || room >= max_tokens {
                            return Err(AskError::TooLong(t));
                        }
                        notes.push(format!(
                            "`max_tokens` lowered from {max_tokens} to {room} to fit {}",
                            t.context()
                        ));
                        lowered = true;
                        max_tokens = room;
                    }
                    Err(Failure::Retry(m) | Failure::Server(m, _))
                        if tries >= self.settings.retries =>
                    {
                        return Err(AskError::Failed(format!(
                            "{m} (after {} attempt{})",
                            tries + 1,
                            if tries == 0 { "" } else { "s" }
                        )));
                    }
                    Err(Failure::Retry(_) | Failure::Server(..)) => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(250 << tries)).await;
                    }
                }
            }
        }
        Err(AskError::Failed(format!(
            "{} refused every way of constraining the answer",
            self.shown
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::too_long;

    #[test]
    fn context_overflows_are_read_in_each_servers_words() {
        // llama-cpp-python (and OpenAI): the numbers are in the message.
        let t = too_long(
            r#"{"error": {"message": "This model's maximum context length is 2048 tokens. However, you requested 2123 tokens (1099 in the messages, 1024 in the completion). Please reduce the length of the messages or completion.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}"#,
        )
        .expect("an overflow");
        assert_eq!((t.n_ctx, t.prompt_tokens), (Some(2048), Some(1099)));
        let t = too_long(
            r#"{"error": {"message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.", "code": "context_length_exceeded"}}"#,
        )
        .expect("an overflow");
        assert_eq!((t.n_ctx, t.prompt_tokens), (Some(8192), Some(9000)));
        // llama.cpp's server: the numbers are fields.
        let t = too_long(
            r#"{"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 2300, "n_ctx": 2048}}"#,
        )
        .expect("an overflow");
        assert_eq!((t.n_ctx, t.prompt_tokens), (Some(2048), Some(2300)));
        let t = too_long(
            r#"{"error": {"code": 400, "message": "request (4476 tokens) exceeds the available context size (4096 tokens), try increasing it", "type": "exceed_context_size_error"}}"#,
        )
        .expect("an overflow");
        assert_eq!((t.n_ctx, t.prompt_tokens), (Some(4096), Some(4476)));
        // Other client errors are not overflows.
        assert_eq!(
            too_long(r#"{"error": {"message": "model `x` not found"}}"#),
            None
        );
        assert_eq!(too_long("Bad Request"), None);
    }
}
