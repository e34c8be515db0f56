//! Tools implemented in flowc itself.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::{ToolFailure, ToolResult, http};
use crate::run::timer;

/// Calls the builtin tool `name` with its arguments (a JSON object).
pub async fn call(name: &str, args: &Value, base_dir: &Path, client: &http::Client) -> ToolResult {
    match name {
        "sleep" => {
            let ms = args.get("ms").and_then(Value::as_f64).unwrap_or(0.0);
            if ms > 0.0 {
                timer::sleep(Duration::from_micros((ms * 1000.0) as u64)).await;
            }
            Ok(args.clone())
        }
        "echo" => Ok(args.clone()),
        "fail" => {
            let msg = args
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("failed on purpose");
            Err(ToolFailure::new(msg))
        }
        "read_json" => {
            let rel = args
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| ToolFailure::new("`read_json` needs a `path` argument"))?;
            let path = base_dir.join(rel);
            let text = tokio::fs::read_to_string(&path)
                .await
                .map_err(|e| ToolFailure::new(format!("cannot read `{}`: {e}", path.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| ToolFailure::new(format!("`{}` is not JSON: {e}", path.display())))
        }
        "http_get" => {
            let url = args
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| ToolFailure::new("`http_get` needs a `url` argument"))?;
            client
                .call("get", url, &Value::Object(Default::default()))
                .await
        }
        other => Err(ToolFailure::new(format!("unknown builtin tool `{other}`"))),
    }
}
