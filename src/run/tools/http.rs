//! `http post` and `http get` tools: JSON in, JSON out.

use serde_json::Value;

use super::{ToolFailure, ToolResult, head};

/// A shared HTTP client (connections are reused). Plain HTTP, and HTTPS when
/// built with the `tls` feature.
#[derive(Clone)]
pub struct Client {
    inner: reqwest::Client,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

/// A reqwest client; with the `tls` feature, rustls's ring provider is installed first.
pub fn reqwest_client() -> reqwest::Client {
    reqwest_builder()
        .build()
        .expect("a reqwest client with default settings builds")
}

/// [`reqwest_client`]'s builder, for a client with settings of its own.
pub fn reqwest_builder() -> reqwest::ClientBuilder {
    #[cfg(feature = "tls")]
    {
        // Fails only when a provider is installed already: either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
}

impl Client {
    pub fn new() -> Client {
        Client {
            inner: reqwest_client(),
        }
    }

    /// `post`: the arguments as a JSON body; `get`: as the query string. At most
    /// `max_output` bytes of the answer are read. Messages show the URL with its
    /// secrets redacted.
    /// `key`: the call's idempotency key, sent as the `Idempotency-Key` header.
    pub async fn call(
        &self,
        method: &str,
        url: &str,
        args: &Value,
        max_output: u64,
        key: Option<&str>,
    ) -> ToolResult {
        let shown = crate::run::redact::redact(url);
        if cfg!(not(feature = "tls")) && url.starts_with("https://") {
            return Err(ToolFailure::new(format!(
                "`{shown}`: this build of flowc speaks plain HTTP only"
            ))
            .with_help("build flowc with `cargo install --path . --features tls` for HTTPS"));
        }
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
        let req = match key {
            Some(k) => req.header("Idempotency-Key", k),
            None => req,
        };
        let resp = req.send().await.map_err(|e| {
            ToolFailure::new(format!("request to {shown} failed: {}", describe(&e)))
        })?;
        let status = resp.status();
        let body = read_body(resp, max_output)
            .await
            .map_err(|e| {
                ToolFailure::new(format!("reading the response of {shown}: {}", describe(&e)))
            })?
            .ok_or_else(|| super::too_large(&format!("the response of {shown}"), max_output))?;
        let body = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(ToolFailure::new(format!(
                "{shown} answered {status}: {}",
                head(&body, 300)
            )));
        }
        serde_json::from_str(&body).map_err(|e| {
            ToolFailure::new(format!(
                "{shown} did not answer JSON ({e}): {}",
                head(&body, 200)
            ))
        })
    }
}

/// Reads a response's body chunk by chunk, at most `limit` bytes: `None` when
/// there is more (the connection is then dropped).
pub async fn read_body(
    mut resp: reqwest::Response,
    limit: u64,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// A reqwest error with its causes; URLs in it are redacted.
pub fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    crate::run::redact::redact(&s)
}
