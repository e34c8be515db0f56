//! What the integration tests share: temp folders, running `flowc run`, a
//! local HTTP server that records what it was sent, and one HTTP exchange
//! with a server under test (`http`).

#![allow(dead_code)]

pub mod service;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod lsp;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The store of the tests' runs that have no folder of their own
/// (`FLOWC_STORE`): one per test process, inside `target/`, never `.flowc/`
/// in the repository, and never one left by an older build.
pub fn test_store() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("store-{}", std::process::id()))
}

/// A fresh folder for one test.
/// The `.flow` files under `dir`, in its sub-folders too, sorted, appended to `out`.
pub fn flow_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            flow_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "flow") {
            out.push(p);
        }
    }
}

pub fn tempdir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("flowc-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
    pub record: Value,
    pub dir: PathBuf,
}

impl Drop for Out {
    fn drop(&mut self) {
        // Keep the folder of a failed test for a look; remove the others.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Out {
    pub fn result(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn steps(&self) -> Vec<Value> {
        self.record["steps"].as_array().cloned().unwrap_or_default()
    }

    pub fn step(&self, name: &str) -> Value {
        self.steps()
            .into_iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no step `{name}` in {:#}", self.record["steps"]))
    }
}

/// Writes `main.flow` (and extra files) into a temp dir and runs it with a record.
pub fn run_flow(tag: &str, src: &str, files: &[(&str, &str)], args: &[&str]) -> Out {
    let dir = tempdir(tag);
    std::fs::write(dir.join("main.flow"), src).expect("write flow");
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
        std::fs::write(&p, text).expect("write file");
    }
    run_in(&dir, args)
}

pub fn run_in(dir: &Path, args: &[&str]) -> Out {
    let record = dir.join("run.json");
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("run")
        .arg(dir.join("main.flow"))
        .arg("--record")
        .arg(&record)
        .args(args)
        .env("NO_COLOR", "1")
        .env("FLOWC_STORE", dir.join(".flowc"))
        .output()
        .expect("flowc runs");
    Out {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
        record: std::fs::read_to_string(&record)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null),
        dir: dir.to_path_buf(),
    }
}

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// What the server answers: a status, a body, after a delay.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
}

/// A local HTTP/1.1 server on 127.0.0.1; `respond` gets the request's index
/// (from 0) and the request. It runs until the test process ends.
pub struct Server {
    pub base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }
}

pub fn serve(respond: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
    let seen = requests.clone();
    let respond = Arc::new(respond);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let seen = seen.clone();
            let respond = respond.clone();
            std::thread::spawn(move || {
                let Some(req) = read_request(&mut s) else {
                    return;
                };
                let index = {
                    let mut all = seen.lock().expect("lock");
                    all.push(req.clone());
                    all.len() - 1
                };
                let reply = respond(index, &req);
                std::thread::sleep(reply.delay);
                let text = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    reply.status,
                    reply.body.len(),
                    reply.body
                );
                // The client may have given up (a timeout test).
                let _ = s.write_all(text.as_bytes());
            });
        }
    });
    Server {
        base: format!("http://{addr}"),
        requests,
    }
}

fn read_request(s: &mut std::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let k = s.read(&mut chunk).ok()?;
        if k == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..k]);
        let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..i]).to_string();
        let mut lines = head.lines();
        let mut first = lines.next().unwrap_or("").split_whitespace();
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
            .collect();
        let len = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < i + 4 + len {
            let k = s.read(&mut chunk).ok()?;
            if k == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..k]);
        }
        let body = String::from_utf8_lossy(&buf[i + 4..i + 4 + len]).to_string();
        return Some(Request {
            method,
            path,
            headers,
            body,
        });
    }
}

/// `flowc ARGS` in `dir`, with no colour, no stdin, and the store of `dir`
/// (`.flowc`) unless the arguments name another.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowc"));
    c.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLOWC_STORE")
        .stdin(Stdio::null());
    c
}

/// [`command`], run to its end.
pub fn flowc(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("flowc runs")
}

/// Bytes a process printed, as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A terminal driven by tmux (the REPL's and `approve`'s terminal tests): a
/// tmux server of its own, killed when the test ends.
pub struct Tmux {
    pub socket: String,
    /// The session the keys go to and the screen is read from.
    pub session: &'static str,
}

impl Tmux {
    /// A tmux server of its own (named after `test` and this process: tests
    /// run at the same time) with one session of `cols` × `rows` running the
    /// shell command `command` in `dir`; `None`, said on stderr, when tmux is
    /// not installed (`.ci/run` installs it).
    pub fn start(
        test: &str,
        session: &'static str,
        (cols, rows): (u16, u16),
        dir: &Path,
        command: &str,
    ) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            // Written to stderr directly: the test harness does not capture it.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: tmux is not installed (apt-get install tmux); .ci/run installs it"
            );
            return None;
        }
        let tmux = Tmux {
            socket: format!("flowc-{test}-{}", std::process::id()),
            session,
        };
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let dir = dir.to_string_lossy();
        let out = tmux.cmd(&[
            "new-session",
            "-d",
            "-x",
            &cols,
            "-y",
            &rows,
            "-s",
            session,
            "-c",
            &dir,
            command,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        Some(tmux)
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.session];
        args.extend_from_slice(keys);
        let out = self.cmd(&args);
        assert!(out.status.success(), "send-keys: {out:?}");
    }

    /// Types text literally (no key names).
    pub fn type_text(&self, text: &str) {
        let out = self.cmd(&["send-keys", "-t", self.session, "-l", text]);
        assert!(out.status.success(), "send-keys: {out:?}");
    }

    pub fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-J", "-S", "-200", "-t", self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after 15 s.
    pub fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(15) {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// One HTTP exchange: (status, JSON body or the text as a string).
pub fn http(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut req = client.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let t = resp.text().await.unwrap();
        (status, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    })
}
