//! `/metrics` scraped by a real Prometheus (Debian's `prometheus`): a
//! server with a tokens file runs a flow through the API; Prometheus,
//! started with a generated configuration that scrapes it every second
//! with the viewer's bearer token, answers its query API with the run's
//! counter and the steps' histogram. Without `/usr/bin/prometheus` the test
//! says so and passes, unless `FLOWC_REQUIRE_PROMETHEUS=1` (.ci/run
//! installs it and sets that). A second test reads `/metrics` itself for
//! LLM calls and a run taken up again after its approval.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::service::{Service, VIEWER};
use common::{http, tempdir, text};
use serde_json::{Value, json};

const FLOWS: &str = r#"
tool echo(n: int) -> { n: int } = exec ["python3", "-c", "import json,sys; print(json.dumps(json.load(sys.stdin)))"]

/// Two tool calls.
flow twice(n: int) -> int {
    let a = echo(n: n)
    let b = echo(n: a.n + 1)
    b.n
}

/// One decision, answered by the `cmd:` provider of flowc.toml.
flow pick() -> int {
    decide "Pick one" { a => 1, b => 2 }
}

/// Waits for a person.
flow gated() -> bool {
    approve "Go on?"
}
"#;

/// The LLM: always `a`.
const LLM: &str = "import json, sys\njson.load(sys.stdin)\nprint(\"a\")\n";

fn prometheus() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/prometheus");
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var("FLOWC_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
        "FLOWC_REQUIRE_PROMETHEUS=1 but /usr/bin/prometheus is missing (apt-get install prometheus)"
    );
    eprintln!("note: /usr/bin/prometheus is missing: the scrape test is skipped");
    None
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Prometheus scraping `target` every second with `token`, its data in `dir`.
fn start_prometheus(bin: &Path, dir: &Path, target: &str, token: &str) -> (Killed, String) {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: flowc\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    authorization:\n      type: Bearer\n      credentials: {token}\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus starts");
    (Killed(child), format!("http://{listen}"))
}

/// The samples Prometheus answers for `query` now (none while it starts).
fn query(prom: &str, q: &str) -> Vec<Value> {
    let url = format!(
        "{prom}/api/v1/query?query={}",
        q.replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
            .replace('=', "%3D")
            .replace(',', "%2C")
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = rt.block_on(async {
        let r = reqwest::Client::new().get(&url).send().await.ok()?;
        r.text().await.ok()
    });
    answer
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

/// The value of the one sample of `q`, once Prometheus has it.
fn wait_for(prom: &str, q: &str, dir: &Path) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let found = query(prom, q);
        if let Some(v) = found.first() {
            assert_eq!(found.len(), 1, "{q}: {found:?}");
            return v["value"][1].as_str().unwrap().parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had `{q}`; its log:\n{}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn prometheus_scrapes_the_runs_and_step_durations_with_the_bearer_token() {
    let Some(bin) = prometheus() else { return };
    let dir = tempdir("prometheus");
    std::fs::write(dir.join("ops.flow"), FLOWS).unwrap();
    let s = Service::start(&dir, "ops.flow");

    // /metrics wants a token too.
    let (status, _) = http("GET", &format!("{}/metrics", s.base), None, None);
    assert_eq!(status, 401);

    for n in [1, 2] {
        let id = s.start_run("ops.flow", "twice", json!({ "n": n }));
        s.wait_status(&id, "ok");
    }
    let (status, m) = s.get("/metrics", VIEWER);
    assert_eq!(status, 200);
    let m = m.as_str().unwrap().to_string();
    // Counted before the run is seen to end.
    assert!(
        m.contains("flowc_runs_total{flow=\"twice\",status=\"ok\"} 2\n"),
        "{m}"
    );
    // The durations are read from the journal once it is written whole, just after.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = s.get("/metrics", VIEWER).1;
        let m = m.as_str().unwrap();
        if m.contains("flowc_step_duration_seconds_count{flow=\"twice\",kind=\"tool\"} 4\n") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "four tool steps never counted:\n{m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let (_prom, prom) = start_prometheus(&bin, &dir, s.addr(), VIEWER);
    // Scraped with the token (a refused scrape would make `up` 0).
    assert_eq!(wait_for(&prom, "up{job=\"flowc\"}", &dir), 1.0);
    assert_eq!(
        wait_for(
            &prom,
            "flowc_runs_total{flow=\"twice\",status=\"ok\"}",
            &dir
        ),
        2.0
    );
    assert_eq!(
        wait_for(
            &prom,
            "flowc_step_duration_seconds_count{flow=\"twice\",kind=\"tool\"}",
            &dir
        ),
        4.0
    );
    assert_eq!(
        wait_for(&prom, "flowc_runs_started_total{flow=\"twice\"}", &dir),
        2.0
    );
    // A histogram Prometheus can take quantiles of.
    let p = wait_for(
        &prom,
        "histogram_quantile(0.5, flowc_step_duration_seconds_bucket{flow=\"twice\",kind=\"tool\"})",
        &dir,
    );
    assert!(p > 0.0 && p <= 3600.0, "median step duration {p}");

    // A third run shows as the counter goes up.
    let id = s.start_run("ops.flow", "twice", json!({ "n": 3 }));
    s.wait_status(&id, "ok");
    let deadline = Instant::now() + Duration::from_secs(120);
    while wait_for(
        &prom,
        "flowc_runs_total{flow=\"twice\",status=\"ok\"}",
        &dir,
    ) < 3.0
    {
        assert!(
            Instant::now() < deadline,
            "the counter never reached 3: {}",
            text(&std::fs::read(dir.join("prometheus.log")).unwrap_or_default())
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `/metrics` itself for what the scrape test does not run: LLM calls, and
/// a run that pauses at an approval and is taken up again when answered.
#[test]
fn llm_calls_and_runs_taken_up_after_an_approval_are_counted() {
    let dir = tempdir("metrics-llm");
    std::fs::write(dir.join("ops.flow"), FLOWS).unwrap();
    std::fs::create_dir_all(dir.join("tools")).unwrap();
    std::fs::write(dir.join("tools/llm.py"), LLM).unwrap();
    std::fs::write(
        dir.join("flowc.toml"),
        "[llm]\nprovider = \"cmd:python3 tools/llm.py\"\n",
    )
    .unwrap();
    let s = Service::start(&dir, "ops.flow");
    let metrics = || s.get("/metrics", VIEWER).1.as_str().unwrap().to_string();
    let wait = |line: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let m = metrics();
            if m.lines().any(|l| l == line) {
                return;
            }
            assert!(Instant::now() < deadline, "no `{line}` in:\n{m}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    let id = s.start_run("ops.flow", "pick", json!({}));
    assert_eq!(s.wait_status(&id, "ok")["result"], 1);
    wait("flowc_llm_calls_total{flow=\"pick\",kind=\"decision\"} 1");
    wait("flowc_step_duration_seconds_count{flow=\"pick\",kind=\"llm\"} 1");

    let id = s.start_run("ops.flow", "gated", json!({}));
    s.wait_status(&id, "paused");
    wait("flowc_runs_total{flow=\"gated\",status=\"paused\"} 1");
    wait("flowc_approvals_pending 1");
    let (status, v) = http(
        "POST",
        &format!("{}/api/v1/runs/{id}/approvals/gated/approve", s.base),
        Some(common::service::OPERATOR),
        Some(json!({ "approve": true })),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(s.wait_status(&id, "ok")["result"], true);
    // Taken up again by the watcher: started twice, ended once paused and once ok.
    wait("flowc_runs_started_total{flow=\"gated\"} 2");
    wait("flowc_runs_total{flow=\"gated\",status=\"ok\"} 1");
    wait("flowc_approvals_pending 0");
}
