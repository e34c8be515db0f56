//! A client of `flowc lsp` over raw stdio for the tests: requests and
//! notifications framed by hand, every message the server sends kept in order.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running `flowc lsp` and the messages it sent, in order.
pub struct Server {
    pub child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
    /// Every message read so far.
    pub seen: Vec<Value>,
    next_id: i64,
}

pub fn frame(body: &Value) -> Vec<u8> {
    let body = body.to_string();
    let mut f = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    f.extend_from_slice(body.as_bytes());
    f
}

impl Server {
    pub fn start(bin: &Path) -> Server {
        Server::start_with(bin, &[])
    }

    /// `flowc lsp` with these environment variables set.
    pub fn start_with(bin: &Path, env: &[(&str, &Path)]) -> Server {
        let mut child = Command::new(bin)
            .arg("lsp")
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("flowc lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (rx, _reader) = messages(stdout);
        let mut s = Server {
            child,
            stdin,
            rx,
            seen: Vec::new(),
            next_id: 1,
        };
        let id = s.request("initialize", json!({ "capabilities": {} }));
        s.response(id);
        s.notify("initialized", json!({}));
        s
    }

    pub fn send(&mut self, v: &Value) {
        self.stdin.write_all(&frame(v)).expect("write to flowc lsp");
        self.stdin.flush().expect("flush to flowc lsp");
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    pub fn request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        id
    }

    /// The first message, already read or read until then, for which `done`
    /// holds. Bounded: a generous limit, for a debug build on a loaded machine.
    pub fn until(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        if let Some(m) = self.seen.iter().find(|m| done(m)) {
            return m.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(m) => {
                    self.seen.push(m.clone());
                    if done(&m) {
                        return m;
                    }
                }
                Err(e) => panic!(
                    "no {what} from flowc lsp ({e}); it sent: {:#?}",
                    self.seen.iter().map(short).collect::<Vec<_>>()
                ),
            }
        }
    }

    pub fn response(&mut self, id: i64) -> Value {
        self.until(&format!("response to request {id}"), |m| {
            m["id"] == id && m.get("method").is_none()
        })
    }

    pub fn diagnostics(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let m = self.until(&format!("diagnostics of version {version}"), |m| {
            is_publish(m, uri, version)
        });
        m["params"]["diagnostics"]
            .as_array()
            .expect("a list of diagnostics")
            .clone()
    }

    pub fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "flow", "version": 1, "text": text } }),
        );
    }

    pub fn replace(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [{ "text": text }],
            }),
        );
    }

    pub fn completion(&mut self, uri: &str, at: (usize, usize)) -> i64 {
        self.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": { "line": at.0, "character": at.1 } }),
        )
    }

    pub fn hover(&mut self, uri: &str, at: (usize, usize)) -> i64 {
        self.request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri }, "position": { "line": at.0, "character": at.1 } }),
        )
    }

    /// Ends the session; returns every message sent after `from`.
    pub fn finish(mut self) -> Vec<Value> {
        let id = self.request("shutdown", Value::Null);
        self.response(id);
        self.notify("exit", Value::Null);
        let status = self.child.wait().expect("flowc lsp ends");
        assert!(status.success(), "flowc lsp ended with {status}");
        while let Ok(m) = self.rx.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(m);
        }
        self.seen
    }
}

pub fn is_publish(m: &Value, uri: &str, version: i64) -> bool {
    m["method"] == "textDocument/publishDiagnostics"
        && m["params"]["uri"] == uri
        && m["params"]["version"] == version
}

/// A message, shortened for a failure's text.
pub fn short(m: &Value) -> String {
    let s = m.to_string();
    if s.len() > 300 {
        format!("{}…", &s[..300])
    } else {
        s
    }
}

/// The messages a language server writes to `stdout`, one JSON value each,
/// read on a thread of their own (which ends with the stream).
pub fn messages(
    stdout: std::process::ChildStdout,
) -> (mpsc::Receiver<Value>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        loop {
            let mut length = None;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(n) = line.strip_prefix("Content-Length: ") {
                    length = n.parse::<usize>().ok();
                }
            }
            let mut body = vec![0; length.expect("every message has a Content-Length")];
            r.read_exact(&mut body).expect("a whole message");
            let v: Value = serde_json::from_slice(&body).expect("every message is JSON");
            if tx.send(v).is_err() {
                return;
            }
        }
    });
    (rx, reader)
}
