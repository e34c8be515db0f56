//! The console of `flowc serve` as people use it: a real headless Chromium
//! (Debian's `chromium` and `chromium-driver`) driven over the WebDriver
//! protocol with reqwest, against a real server on 127.0.0.1. Screenshots
//! of the run page are kept under `target/console/`.
//!
//! Without chromium the test says so and passes, unless
//! `FLOWC_REQUIRE_CHROMIUM` is set (CI sets it).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{command, tempdir};
use serde_json::{Value, json};

/// Answers after `ms` with how often it was called under `name`, and its arguments.
const TOOL: &str = r#"import json, os, sys, time
args = json.load(sys.stdin)
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "calls-" + args["name"])
with open(path, "a") as f:
    f.write("x")
time.sleep(args.get("ms", 0) / 1000)
print(json.dumps({"n": os.path.getsize(path), "said": args["name"]}))
"#;

const FLOWS: &str = r#"
tool count(name: string, ms: int) -> { n: int, said: string } = exec ["python3", "count.py"]

/// A slow step, two that need it, and their sum.
flow slow(ms: int = 2500) -> int {
    let first = count(name: "first", ms: ms)
    let left = count(name: "left", ms: first.n * 200)
    let right = count(name: "right", ms: first.n * 400)
    first.n + left.n + right.n
}

/// Counts, then asks a person (who has a day to answer).
flow gated(what: string) -> { what: string, ok: bool } {
    let c = count(name: "gated", ms: 0)
    let ok = approve "Ship {what}?" with { c } within 24h
    { what, ok }
}

/// Says back what it was given.
flow typed(name: string, times: int, loud: bool, tag: "a" | "b", items: [string], note: string?) -> {
    name: string, times: int, loud: bool, tag: string, items: [string], note: string?
} {
    let c = count(name: name, ms: 0)
    { name: c.said, times, loud, tag, items, note }
}
"#;

/// Where chromium and chromedriver are, if they are.
fn chromium() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(n))
                    .find(|p| p.is_file())
            })
        })
    };
    Some((
        find(&["chromium", "chromium-browser", "google-chrome"])?,
        find(&["chromedriver"]).or_else(|| {
            let p = PathBuf::from("/usr/lib/chromium/chromedriver");
            p.is_file().then_some(p)
        })?,
    ))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `flowc serve` in `dir`: the process, its address and its token.
fn serve(dir: &Path) -> (Proc, String, String) {
    let mut child = command(
        dir,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            ".flowc",
            "ops.flow",
        ],
    )
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .expect("flowc serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("serve: {line}");
            let _ = tx.send(line);
        }
    });
    let proc = Proc(child);
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("flowc serve prints the console's address");
        if let Some(url) = line.strip_prefix("console: ") {
            let (base, token) = url.split_once("/?token=").expect("a token in the address");
            return (proc, base.to_string(), token.to_string());
        }
    }
}

/// A WebDriver session of a headless Chromium.
struct Browser {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    url: String,
    _driver: Proc,
}

impl Browser {
    fn start(chromium: &Path, driver: &Path) -> Browser {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut b = Browser {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::new(),
            url: format!("http://127.0.0.1:{port}"),
            _driver: Proc(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while b.call("GET", "/status", None).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1100"],
            },
        }}});
        let v = b.call("POST", "/session", Some(caps)).expect("a session");
        let id = v["sessionId"].as_str().expect("a session id").to_string();
        b.url = format!("{}/session/{id}", b.url);
        b
    }

    /// One WebDriver command: its `value`, or the error in words.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.rt.block_on(async {
            let mut req = self
                .client
                .request(method.parse().unwrap(), format!("{}{path}", self.url));
            if let Some(b) = body {
                req = req
                    .header("content-type", "application/json")
                    .body(b.to_string());
            }
            let resp = req.send().await.map_err(|e| e.to_string())?;
            let ok = resp.status().is_success();
            let v: Value = resp.json().await.map_err(|e| e.to_string())?;
            if ok {
                Ok(v["value"].clone())
            } else {
                Err(v.to_string())
            }
        })
    }

    fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })))
            .expect("the page opens");
    }

    /// Runs `script` in the page (`return …`), with `args`.
    fn js(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .unwrap_or_else(|e| panic!("the script failed: {e}\n{script}"))
    }

    /// The text of the element `css`, or null.
    fn text(&self, css: &str) -> Value {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            json!([css]),
        )
    }

    fn find(&self, css: &str) -> Option<String> {
        let v = self
            .call(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .ok()?;
        v.as_object()?.values().next()?.as_str().map(str::to_string)
    }

    fn click(&self, css: &str) {
        let e = self
            .find(css)
            .unwrap_or_else(|| panic!("no `{css}` on the page"));
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})))
            .unwrap_or_else(|m| panic!("cannot click `{css}`: {m}"));
    }

    fn type_in(&self, css: &str, text: &str) {
        let e = self
            .find(css)
            .unwrap_or_else(|| panic!("no `{css}` on the page"));
        self.call("POST", &format!("/element/{e}/clear"), Some(json!({})))
            .unwrap();
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .unwrap();
    }

    fn select(&self, css: &str, value: &str) {
        self.js(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event('change')); return e.value;",
            json!([css, value]),
        );
    }

    /// Waits until `f` gives `Some`, at most `secs`.
    fn wait<T>(&self, what: &str, secs: u64, mut f: impl FnMut(&Browser) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if Instant::now() > deadline {
                self.screenshot("failed");
                panic!(
                    "waited {secs} s for {what}; the page:\n{}",
                    self.text("main")
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn state(&self, node: &str) -> Value {
        self.js(
            "const e = document.querySelector(`#graph g.node[data-node=\"${arguments[0]}\"]`); return e ? e.getAttribute('data-state') : null;",
            json!([node]),
        )
    }

    /// Saves the page as `target/console/NAME.png`.
    fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.call("GET", "/screenshot", None).expect("a screenshot");
        let png = base64(v.as_str().unwrap_or_default());
        let dir = artefacts();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call("DELETE", "", None);
    }
}

/// Standard base64 (a screenshot's PNG), decoded.
fn base64(text: &str) -> Vec<u8> {
    let digit = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .map(digit)
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    out
}

/// `target/console/`, where the screenshots are kept.
fn artefacts() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/")
        .join("console")
}

/// The API, as a program calls it (a bearer token).
fn api(base: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    common::http(method, &format!("{base}{path}"), Some(token), body)
}

fn wait_run(base: &str, token: &str, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, v) = api(base, token, "GET", &format!("/api/v1/runs/{id}"), None);
        if v["status"] == want && v["live"] == false {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "run {id} never became `{want}`: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_console_lists_draws_inspects_approves_and_starts_runs() {
    let Some((chromium, driver)) = chromium() else {
        assert!(
            std::env::var_os("FLOWC_REQUIRE_CHROMIUM").is_none(),
            "FLOWC_REQUIRE_CHROMIUM is set and chromium or chromedriver is missing: apt-get install -y chromium chromium-driver"
        );
        eprintln!(
            "SKIPPED: the console's browser test needs chromium and chromedriver (apt-get install -y chromium chromium-driver)"
        );
        return;
    };
    let dir = tempdir("console");
    std::fs::write(dir.join("ops.flow"), FLOWS).unwrap();
    std::fs::write(dir.join("count.py"), TOOL).unwrap();
    let (_server, base, token) = serve(&dir);
    let b = Browser::start(&chromium, &driver);

    // The token goes into a cookie; the address bar keeps none.
    b.goto(&format!("{base}/?token={token}"));
    let href = b.js("return location.href", json!([]));
    assert_eq!(
        href,
        json!(format!("{base}/")),
        "the token left the address"
    );
    b.wait("the runs list", 10, |b| b.find("#runs"));

    // A new run shows in the list within a second.
    let (status, v) = api(
        &base,
        &token,
        "POST",
        "/api/v1/runs",
        Some(json!({ "flow": "slow", "args": { "ms": 3000 } })),
    );
    assert_eq!(status, 201, "{v}");
    let slow = v["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let row = format!("#runs tr[data-run=\"{slow}\"]");
    b.wait("the new run in the list", 5, |b| b.find(&row));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the run showed after {took:?}"
    );

    // Its page: the running step's node changes state, then the next one's.
    b.click(&format!("{row} a"));
    b.wait("the first step running", 10, |b| {
        (b.state("first") == json!("running")).then_some(())
    });
    b.screenshot("run-running");
    b.wait("the first step done", 20, |b| {
        (b.state("first") == json!("ok")).then_some(())
    });
    b.wait("the run ended", 20, |b| {
        (b.state("right") == json!("ok") && b.text("#run-status").as_str() == Some("ok"))
            .then_some(())
    });
    // Clicking a node shows its arguments and result.
    b.click("#graph g.node[data-node=\"first\"] rect");
    let call = b.wait("the inspector", 10, |b| {
        b.text("#inspector-call").as_str().map(str::to_string)
    });
    assert!(call.contains("count(name: \"first\", ms: ms)"), "{call}");
    let result = b.text("#inspector .step[data-path=\"slow/first\"] .result");
    let result = result.as_str().unwrap_or_default();
    assert!(result.contains("\"said\": \"first\""), "{result}");
    // Its arguments: the values it was called with (`ms` is the run's
    // argument, 3000; the source says `ms: ms`), above its result.
    let args = b.text("#inspector .step[data-path=\"slow/first\"] .args");
    let args = args.as_str().unwrap_or_default();
    assert!(
        args.contains("\"ms\": 3000") && args.contains("\"name\": \"first\""),
        "{args}"
    );
    let order = b.js(
        "const st = document.querySelector('#inspector .step[data-path=\"slow/first\"]');
         return [...st.querySelectorAll('h3')].map((e) => e.textContent)",
        json!([]),
    );
    assert_eq!(order, json!(["arguments", "result"]));
    assert!(
        b.text("#source .ln.hl")
            .as_str()
            .unwrap_or_default()
            .contains("let first")
    );
    assert!(b.find("#timeline .bar.st-ok").is_some());
    b.screenshot("run-inspected");
    // The whole of a value, as the inspector's link to it fetches it.
    let (status, whole) = api(
        &base,
        &token,
        "GET",
        &format!("/api/v1/runs/{slow}/value?step=slow/first"),
        None,
    );
    assert_eq!((status, whole), (200, json!({ "n": 1, "said": "first" })));
    // Retry from a step: it runs again, the step it depends on does not.
    b.click("#graph g.node[data-node=\"left\"] rect");
    b.wait("the retry button", 10, |b| {
        b.find("#inspector .step[data-path=\"slow/left\"] button.retry")
    });
    // `ms: first.n * 200`, computed when it ran.
    let args = b.text("#inspector .step[data-path=\"slow/left\"] .args");
    assert!(
        args.as_str().unwrap_or_default().contains("\"ms\": 200"),
        "{args}"
    );
    b.click("#inspector .step[data-path=\"slow/left\"] button.retry");
    b.wait("the retried step run again", 20, |_| {
        (std::fs::read_to_string(dir.join("calls-left")).unwrap_or_default() == "xx").then_some(())
    });
    wait_run(&base, &token, &slow, "ok");
    let calls = |name: &str| std::fs::read_to_string(dir.join(format!("calls-{name}"))).unwrap();
    assert_eq!((calls("first"), calls("left")), ("x".into(), "xx".into()));

    // Approve continues a paused run.
    let (status, v) = api(
        &base,
        &token,
        "POST",
        "/api/v1/runs",
        Some(json!({ "flow": "gated", "args": { "what": "v1" } })),
    );
    assert_eq!(status, 201, "{v}");
    let gated = v["id"].as_str().unwrap().to_string();
    b.goto(&format!("{base}/#/run/{gated}"));
    let approval = ".approval[data-path=\"gated/ok\"]";
    b.wait("the approval", 20, |b| {
        b.find(&format!("{approval} button.approve"))
    });
    assert_eq!(b.state("ok"), json!("waiting"));
    // Its deadline, a day after it was asked.
    let left = b.text(&format!("{approval} .deadline"));
    assert!(
        left.as_str()
            .is_some_and(|t| t.starts_with("expires in 23 h") || t == "expires in 24 h 0 min"),
        "{left}"
    );
    b.click("#graph g.node[data-node=\"c\"] rect");
    b.screenshot("run-paused");
    b.type_in(&format!("{approval} input.note"), "looks right");
    b.click(&format!("{approval} button.approve"));
    let done = wait_run(&base, &token, &gated, "ok");
    assert_eq!(done["result"], json!({ "what": "v1", "ok": true }));
    assert_eq!(done["approvals"][0]["note"], json!("looks right"));
    b.wait("the approved run ends in the page", 20, |b| {
        (b.text("#run-status").as_str() == Some("ok") && b.state("ok") == json!("ok")).then_some(())
    });
    b.screenshot("run-approved");

    // The start form: made from the parameters; a 422 is shown; typed
    // arguments start a run.
    b.goto(&format!("{base}/#/start/ops.flow:typed"));
    b.wait("the start form", 10, |b| b.find("#arg-items"));
    let kinds = b.js(
        "return ['name','times','loud','tag','items','note'].map(n => document.getElementById('arg-' + n).tagName + ':' + (document.getElementById('arg-' + n).type || ''))",
        json!([]),
    );
    assert_eq!(
        kinds,
        json!([
            "INPUT:text",
            "INPUT:number",
            "SELECT:select-one",
            "SELECT:select-one",
            "TEXTAREA:textarea",
            "INPUT:text"
        ])
    );
    b.type_in("#arg-name", "typed-run");
    b.type_in("#arg-times", "3");
    b.select("#arg-loud", "true");
    b.select("#arg-tag", "b");
    b.type_in("#arg-items", "[1, 2]");
    b.click("#start-run");
    let refused = b.wait("the 422", 10, |b| {
        b.text("#start-error").as_str().map(str::to_string)
    });
    assert!(refused.starts_with("422"), "{refused}");
    b.type_in("#arg-items", "[\"x\", \"y\"]");
    b.click("#start-run");
    let hash = b.wait("the new run's page", 10, |b| {
        b.js("return location.hash", json!([]))
            .as_str()
            .filter(|h| h.starts_with("#/run/"))
            .map(str::to_string)
    });
    let typed = hash.trim_start_matches("#/run/").to_string();
    let done = wait_run(&base, &token, &typed, "ok");
    assert_eq!(
        done["result"],
        json!({ "name": "typed-run", "times": 3, "loud": true, "tag": "b", "items": ["x", "y"], "note": null })
    );
    b.wait("the typed run's graph", 20, |b| {
        (b.state("c") == json!("ok")).then_some(())
    });
    b.screenshot("run-typed");

    // The list filtered by flow.
    b.goto(&format!("{base}/#/"));
    b.wait("the runs list", 10, |b| {
        b.find(&format!("#runs tr[data-run=\"{typed}\"]"))
    });
    b.select("#filter-flow", "gated");
    let shown = b.wait("only the gated run", 10, |b| {
        let ids = b.js(
            "return [...document.querySelectorAll('#runs tr[data-run]')].map(r => r.getAttribute('data-run'))",
            json!([]),
        );
        (ids == json!([gated])).then_some(ids)
    });
    assert_eq!(shown, json!([gated]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The schedules of the served files show above the runs, with the run of
/// their latest slot; a click on it opens that run.
#[test]
fn the_console_lists_the_schedules_and_their_last_run() {
    let Some((chromium, driver)) = chromium() else {
        assert!(
            std::env::var_os("FLOWC_REQUIRE_CHROMIUM").is_none(),
            "FLOWC_REQUIRE_CHROMIUM is set and chromium or chromedriver is missing: apt-get install -y chromium chromium-driver"
        );
        eprintln!(
            "SKIPPED: the console's browser test needs chromium and chromedriver (apt-get install -y chromium chromium-driver)"
        );
        return;
    };
    let dir = tempdir("console-schedules");
    std::fs::write(
        dir.join("ops.flow"),
        "tool count(name: string, ms: int) -> { n: int, said: string } = exec [\"python3\", \"count.py\"]\n\n\
         flow tick(name: string) -> int {\n    count(name: name, ms: 0).n\n}\n\n\
         schedule \"*/2 * * * * *\" tick(name: \"ticks\") with { timezone: \"Europe/Paris\" }\n",
    )
    .unwrap();
    std::fs::write(dir.join("count.py"), TOOL).unwrap();
    let (_server, base, token) = serve(&dir);
    let b = Browser::start(&chromium, &driver);
    b.goto(&format!("{base}/?token={token}"));
    let row = "#schedules tr[data-schedule=\"tick */2 * * * * *\"]";
    b.wait("the schedule", 10, |b| b.find(row));
    assert_eq!(
        b.text(&format!("{row} td.mono")),
        json!("*/2 * * * * * (Europe/Paris)")
    );
    let link = format!("{row} a");
    let run = b.wait("its last run", 30, |b| {
        b.text(&link).as_str().map(str::to_string)
    });
    b.click(&link);
    b.wait("the run's page", 10, |b| {
        b.js("return location.hash", json!([]))
            .as_str()
            .filter(|h| h.contains(&run))
            .map(str::to_string)
    });
}
