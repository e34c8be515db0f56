//! `flowc serve` for the tests of its OpenAPI document and its metrics: a
//! real server process on a free port of 127.0.0.1, with a tokens file of a
//! viewer and an operator, killed when the test ends.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{command, http};

pub const VIEWER: &str = "viewer-token-0123456789abcdef";
pub const OPERATOR: &str = "operator-token-0123456789abcdef";

pub struct Service {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// What the server printed on stderr so far.
    pub log: Arc<Mutex<String>>,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// `flowc serve FILE` in `dir` (store `.flowc`); waits until it listens.
    pub fn start(dir: &Path, file: &str) -> Service {
        std::fs::write(
            dir.join("tokens"),
            format!("viewer {VIEWER}\noperator {OPERATOR} Ops Test\n"),
        )
        .unwrap();
        let Launched {
            child, base, log, ..
        } = launch(
            dir,
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--store",
                ".flowc",
                "--tokens",
                "tokens",
                file,
            ],
        );
        Service { child, base, log }
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub fn get(&self, path: &str, token: &str) -> (u16, Value) {
        http("GET", &format!("{}{path}", self.base), Some(token), None)
    }

    /// Starts flow `flow` of `file` with `args` as the operator; its id.
    pub fn start_run(&self, file: &str, flow: &str, args: Value) -> String {
        let (status, v) = http(
            "POST",
            &format!("{}/api/v1/runs", self.base),
            Some(OPERATOR),
            Some(json!({ "file": file, "flow": flow, "args": args })),
        );
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// Waits until run `id` is `want` and no longer runs here.
    pub fn wait_status(&self, id: &str, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, v) = self.get(&format!("/api/v1/runs/{id}"), VIEWER);
            if v["status"] == want && v["live"] == false {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "run {id} never became `{want}`: {v:#}\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A `flowc serve` started by [`launch`].
pub struct Launched {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The random operator token it printed (none with `--tokens`).
    pub token: Option<String>,
    /// What the server printed on stderr so far.
    pub log: Arc<Mutex<String>>,
}

/// `flowc ARGS` (a `serve` on a free port) in `dir`; waits until it listens
/// and, without `--tokens`, until it printed its token.
pub fn launch(dir: &Path, args: &[&str]) -> Launched {
    let mut child = command(dir, args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("flowc serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = Arc::new(Mutex::new(String::new()));
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            kept.lock().unwrap().push_str(&format!("{line}\n"));
            let _ = tx.send(line);
        }
    });
    let wants_token = !args.contains(&"--tokens");
    let (mut base, mut token) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while base.is_none() || (wants_token && token.is_none()) {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("flowc serve did not start:\n{}", log.lock().unwrap()));
        if let Some(at) = line.find("http://")
            && base.is_none()
        {
            let url = line[at..].split_whitespace().next().unwrap();
            base = Some(url.trim_end_matches("/api/v1").to_string());
        }
        if let Some(t) = line.strip_prefix("token (operator, for this process only): ") {
            token = Some(t.to_string());
        }
    }
    Launched {
        child,
        base: base.unwrap(),
        token,
        log,
    }
}
