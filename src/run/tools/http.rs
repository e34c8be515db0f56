//! `http post` and `http get` tools: JSON in, JSON out.

use serde_json::Value;

use super::{ToolFailure, ToolResult, head};

/// A shared HTTP client (plain HTTP; connections are reused).
#[derive(Clone, Default)]
pub struct Client {
    inner: reqwest::Client,
}

impl Client {
    pub fn new() -> Client {
        Client::default()
    }

    /// `post`: the arguments as a JSON body; `get`: as the query string.
    pub async fn call(&self, method: &str, url: &str, args: &Value) -> ToolResult {
        let req = if method == "get" {
            let pairs: Vec<(String, String)> = args
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let s = match v {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            (k.clone(), s)
                        })
                        .collect()
                })
                .unwrap_or_default();
            self.inner.get(url).query(&pairs)
        } else {
            self.inner.post(url).json(args)
        };
        let resp = req
            .send()
            .await
            .map_err(|e| ToolFailure::new(format!("request to {url} failed: {}", describe(&e))))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| ToolFailure::new(format!("reading the response of {url}: {e}")))?;
        if !status.is_success() {
            return Err(ToolFailure::new(format!(
                "{url} answered {status}: {}",
                head(&body, 300)
            )));
        }
        serde_json::from_str(&body).map_err(|e| {
            ToolFailure::new(format!(
                "{url} did not answer JSON ({e}): {}",
                head(&body, 200)
            ))
        })
    }
}

pub fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
