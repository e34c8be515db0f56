//! The framing between the client and the server: `Content-Length` frames
//! read from stdin and checked one by one before the server sees them. The
//! server's decoder ends the session at the first message it cannot read
//! (invalid JSON, a batch, no `"jsonrpc": "2.0"`, a float id, bytes that are
//! not UTF-8); here such a message is answered with a JSON-RPC error
//! (`-32700` parse error, `-32600` invalid request) and the session goes on.
//!
//! The server's own output is read back frame by frame and written to stdout
//! under the same lock as these answers, so that no two messages interleave.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};
use tokio::sync::Mutex;
use tower_lsp_server::jsonrpc::{Request, Response};

/// The longest header line read; a longer one makes its frame unreadable.
const MAX_HEADER_LINE: u64 = 8 << 10;
/// The largest message body accepted; a larger one is skipped and answered.
const MAX_BODY: u64 = 256 << 20;

/// The output shared by the server's messages and the answers given here.
pub(super) type Out<W> = Arc<Mutex<W>>;

/// A frame read from the client.
enum Frame {
    Body(Vec<u8>),
    /// A frame whose headers cannot be used (no `Content-Length`, a length
    /// that is not a number or is too large): why.
    Bad(String),
}

/// Reads the client's frames from `input` until it ends: each one that the
/// server can decode is passed on to `server` (re-framed), each other one is
/// answered on `out`. Returns when `input` ends or the server stops reading.
pub(super) async fn client_to_server<R, S, W>(input: R, mut server: S, out: Out<W>)
where
    R: AsyncRead + Unpin,
    S: AsyncWrite + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut input = tokio::io::BufReader::new(input);
    loop {
        let frame = match read_frame(&mut input).await {
            Ok(Some(f)) => f,
            // The end of stdin (or an error reading it) ends the session.
            Ok(None) | Err(_) => return,
        };
        let answer = match frame {
            Frame::Body(body) => match check(&body) {
                Ok(()) => {
                    let head = format!("Content-Length: {}\r\n\r\n", body.len());
                    if server.write_all(head.as_bytes()).await.is_err()
                        || server.write_all(&body).await.is_err()
                        || server.flush().await.is_err()
                    {
                        // The server has stopped (after `exit`).
                        return;
                    }
                    continue;
                }
                Err(answer) => answer,
            },
            Frame::Bad(why) => error(-32700, &why, Value::Null),
        };
        if write_message(&out, answer.to_string().as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Copies the server's messages to `out`, one whole frame at a time, until
/// the server closes its output.
pub(super) async fn server_to_client<R, W>(from_server: R, out: Out<W>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut from_server = tokio::io::BufReader::new(from_server);
    while let Ok(Some(Frame::Body(body))) = read_frame(&mut from_server).await {
        if write_message(&out, &body).await.is_err() {
            return;
        }
    }
}

/// Writes one message, framed, and flushes it, holding the output's lock.
async fn write_message<W: AsyncWrite + Unpin>(out: &Out<W>, body: &[u8]) -> std::io::Result<()> {
    let mut w = out.lock().await;
    w.write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes())
        .await?;
    w.write_all(body).await?;
    w.flush().await
}

/// A JSON-RPC error response.
fn error(code: i64, message: &str, id: Value) -> Value {
    json!({ "jsonrpc": "2.0", "error": { "code": code, "message": message }, "id": id })
}

/// Whether the server can decode `body` (a request, a notification or a
/// response to one of its requests); else the error to answer.
fn check(body: &[u8]) -> Result<(), Value> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(error(
            -32700,
            "parse error: the message is not UTF-8",
            Value::Null,
        ));
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Err(error(
                -32700,
                &format!("parse error: the message is not JSON ({e})"),
                Value::Null,
            ));
        }
    };
    let Some(object) = value.as_object() else {
        return Err(error(
            -32600,
            "invalid request: a message is one JSON object (batches are not part of LSP)",
            Value::Null,
        ));
    };
    // The id, when it is one a response can carry.
    let id = match object.get("id") {
        Some(id @ Value::String(_)) => id.clone(),
        Some(Value::Number(n)) if n.is_i64() => Value::Number(n.clone()),
        _ => Value::Null,
    };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(error(
            -32600,
            "invalid request: `\"jsonrpc\": \"2.0\"` is missing",
            id,
        ));
    }
    if object.get("id").is_some_and(|i| !i.is_null()) && id.is_null() {
        return Err(error(
            -32600,
            "invalid request: an id is an integer or a string",
            Value::Null,
        ));
    }
    // What the server's decoder accepts: its own types.
    if serde_json::from_str::<Response>(text).is_ok()
        || serde_json::from_str::<Request>(text).is_ok()
    {
        return Ok(());
    }
    Err(error(
        -32600,
        "invalid request: neither a request (`method`, `params`) nor a response (`result` or `error`)",
        id,
    ))
}

/// Reads one frame: headers up to an empty line, then `Content-Length`
/// bytes. `Ok(None)` at the end of the input.
async fn read_frame<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Frame>> {
    let mut length: Option<Result<u64, String>> = None;
    let mut too_long = false;
    let mut any = false;
    loop {
        let mut line = Vec::new();
        let n = (&mut *r)
            .take(MAX_HEADER_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(None);
        }
        if !line.ends_with(b"\n") {
            if n as u64 == MAX_HEADER_LINE {
                too_long = true;
                continue;
            }
            // The input ended in the middle of a header.
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !any && !too_long {
                // Blank lines between frames.
                continue;
            }
            break;
        }
        any = true;
        if let Some((name, value)) = text.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = Some(value.trim().parse::<u64>().map_err(|_| {
                format!(
                    "parse error: `Content-Length: {}` is not a length",
                    value.trim()
                )
            }));
        }
    }
    if too_long {
        return Ok(Some(Frame::Bad(format!(
            "parse error: a header line is longer than {MAX_HEADER_LINE} bytes"
        ))));
    }
    let length = match length {
        None => {
            return Ok(Some(Frame::Bad(
                "parse error: a message without a `Content-Length` header".into(),
            )));
        }
        Some(Err(why)) => return Ok(Some(Frame::Bad(why))),
        Some(Ok(n)) => n,
    };
    if length > MAX_BODY {
        let skipped = tokio::io::copy(&mut (&mut *r).take(length), &mut tokio::io::sink()).await?;
        if skipped < length {
            return Ok(None);
        }
        return Ok(Some(Frame::Bad(format!(
            "parse error: a message of {length} bytes is larger than the {MAX_BODY} bytes accepted"
        ))));
    }
    let mut body = Vec::with_capacity(length as usize);
    (&mut *r).take(length).read_to_end(&mut body).await?;
    if (body.len() as u64) < length {
        return Ok(None);
    }
    Ok(Some(Frame::Body(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> Option<i64> {
        check(body.as_bytes())
            .err()
            .and_then(|e| e["error"]["code"].as_i64())
    }

    #[test]
    fn messages_the_server_cannot_decode_are_answered() {
        assert_eq!(code("not json"), Some(-32700));
        assert_eq!(code("[1, 2]"), Some(-32600));
        assert_eq!(code(r#"{"id": 3, "method": "x"}"#), Some(-32600));
        assert_eq!(
            code(r#"{"jsonrpc": "2.0", "id": 1.5, "method": "x"}"#),
            Some(-32600)
        );
        assert_eq!(
            code(r#"{"jsonrpc": "2.0", "id": 1, "method": 5}"#),
            Some(-32600)
        );
        assert_eq!(
            check(b"\xff\xfe{}")
                .err()
                .map(|e| e["error"]["code"].clone()),
            Some(json!(-32700))
        );
        assert_eq!(
            code(r#"{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}"#),
            None
        );
        assert_eq!(
            code(r#"{"jsonrpc": "2.0", "method": "initialized", "params": {}}"#),
            None
        );
        assert_eq!(
            code(r#"{"jsonrpc": "2.0", "id": "a", "result": null}"#),
            None
        );
    }
}
