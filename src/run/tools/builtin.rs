//! Tools implemented in flowc itself.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::{Now, ToolFailure, ToolResult, http};
use crate::run::timer;

/// Calls the builtin tool `name` with its arguments (a JSON object); outputs
/// are read up to `max_output` bytes.
pub async fn call(
    name: &str,
    args: &Value,
    base_dir: &Path,
    client: &http::Client,
    max_output: u64,
) -> ToolResult {
    if let Some(now) = call_now(name, args) {
        return match now {
            Now::Input => Ok(args.clone()),
            Now::Done(r) => r,
        };
    }
    match name {
        "sleep" => {
            let ms = args.get("ms").and_then(Value::as_f64).unwrap_or(0.0);
            timer::sleep(Duration::from_micros((ms * 1000.0) as u64)).await;
            Ok(args.clone())
        }
        "read_json" => {
            let rel = args
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| ToolFailure::new("`read_json` needs a `path` argument"))?;
            let path = base_dir.join(rel);
            // Boxed, as `http_get` below: the future of every built-in call
            // (`sleep`, `echo`) is allocated per step, and would carry theirs.
            let bytes = Box::pin(read_file(&path, max_output))
                .await
                .map_err(|e| ToolFailure::new(format!("cannot read `{}`: {e}", path.display())))?
                .ok_or_else(|| super::too_large(&format!("`{}`", path.display()), max_output))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| ToolFailure::new(format!("`{}` is not JSON: {e}", path.display())))
        }
        "http_get" => {
            let url = args
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| ToolFailure::new("`http_get` needs a `url` argument"))?;
            Box::pin(client.call(
                "get",
                url,
                &Value::Object(Default::default()),
                max_output,
                None,
            ))
            .await
        }
        other => Err(ToolFailure::new(format!("unknown builtin tool `{other}`"))),
    }
}

/// The builtin tools that finish without waiting, answered on the spot:
/// `echo`, `fail`, and `sleep` of at most 0 ms. `None`: the call waits (a
/// longer `sleep`, a file, the network), or `name` is not one of these.
pub fn call_now(name: &str, args: &Value) -> Option<Now> {
    match name {
        "sleep" => {
            let ms = args.get("ms").and_then(Value::as_f64).unwrap_or(0.0);
            // What is not above 0 (NaN too) does not sleep.
            if ms > 0.0 { None } else { Some(Now::Input) }
        }
        "echo" => Some(Now::Input),
        "fail" => {
            let msg = args
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("failed on purpose");
            Some(Now::Done(Err(ToolFailure::new(msg))))
        }
        _ => None,
    }
}

/// Reads at most `limit` bytes of a file (`None` when there is more) on a thread
/// of its own. Opening a FIFO blocks until a writer comes, and a device such as
/// `/dev/zero` never ends: when the step times out or is cancelled the thread is
/// abandoned (it holds no lock and never blocks the process's exit), instead of
/// a runtime's blocking pool, which is waited for at shutdown.
async fn read_file(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("flowc-read".into())
        .spawn(move || {
            let r = std::fs::File::open(&path).and_then(|f| {
                let mut buf = Vec::new();
                f.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
                Ok((buf.len() as u64 <= limit).then_some(buf))
            });
            let _ = tx.send(r);
        })?;
    rx.await
        .unwrap_or_else(|_| Err(std::io::Error::other("the reading thread stopped")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What finishes without waiting is answered on the spot, `echo` and a
    /// `sleep` of 0 ms with their input; what waits is left to `call`.
    #[test]
    fn builtins_that_do_not_wait_are_answered_now() {
        assert_eq!(call_now("sleep", &json!({ "ms": 0 })), Some(Now::Input));
        assert_eq!(call_now("sleep", &json!({ "ms": -3 })), Some(Now::Input));
        assert_eq!(call_now("sleep", &json!({ "ms": 5 })), None);
        assert_eq!(call_now("echo", &json!({ "x": [1] })), Some(Now::Input));
        assert_eq!(
            call_now("fail", &json!({ "message": "no" })),
            Some(Now::Done(Err(ToolFailure::new("no"))))
        );
        assert_eq!(call_now("read_json", &json!({ "path": "a.json" })), None);
        assert_eq!(call_now("http_get", &json!({ "url": "http://x" })), None);
    }

    /// The asynchronous call gives what the synchronous answer says.
    #[test]
    fn the_async_call_agrees() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let client = http::Client::default();
        let dir = Path::new(".");
        for (name, args) in [
            ("sleep", json!({ "ms": 0 })),
            ("sleep", json!({ "ms": 1 })),
            ("echo", json!({ "a": "b" })),
        ] {
            let got = rt.block_on(call(name, &args, dir, &client, 1 << 20));
            assert_eq!(got, Ok(args.clone()), "{name}");
        }
        let failed = rt.block_on(call("fail", &json!({}), dir, &client, 1 << 20));
        assert_eq!(failed, Err(ToolFailure::new("failed on purpose")));
    }
}
