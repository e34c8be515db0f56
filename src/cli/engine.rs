//! Runs on Restate (docs/scale-out.md): `flowc worker`, and `flowc runs` and
//! `runs show` with `--engine restate:URL` (`run`, `resume` and `approve`
//! go through the driver's `Engine`, `restate::engine::Restate`).

use serde_json::Value;

use crate::driver::RunStatus;
use crate::restate::client::Client;
use crate::restate::worker;
use crate::term::{FAILED, OK, USAGE, out};

#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// The address to serve Restate's requests on, such as 127.0.0.1:9080
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// The `.flow` files it runs; a folder serves every `.flow` file in it
    #[arg(required = true)]
    pub files: Vec<String>,
    /// Register this worker with the Restate server's admin API, such as
    /// http://127.0.0.1:9070 (workers behind a balancer register the balancer instead)
    #[arg(long, value_name = "ADMIN_URL")]
    pub register: Option<String>,
    /// The URL the server reaches this worker at (default: http://ADDR)
    #[arg(long, value_name = "URL", requires = "register")]
    pub public_url: Option<String>,
    /// The largest message the worker sends the server (a step's result, a
    /// run's outcome): Restate's `worker.invoker.message-size-limit`, 32MB
    /// unless the server's configuration raises it. A step whose result is
    /// larger fails at once, naming both sizes
    #[arg(long, value_name = "SIZE", default_value = "32MB")]
    pub max_message: String,
}

pub fn worker(a: &WorkerArgs) -> u8 {
    let mut files = Vec::new();
    let mut explicit = Vec::new();
    for f in &a.files {
        let p = std::path::Path::new(f);
        if p.is_dir() {
            let before = files.len();
            super::flow_files_in(p, &mut files);
            if files.len() == before {
                eprintln!("error: no `.flow` files in `{f}`");
                return USAGE;
            }
        } else {
            files.push(f.clone());
            explicit.push(f.clone());
        }
    }
    let Some(max_message) = crate::check::options::parse_size(&a.max_message) else {
        eprintln!(
            "error: `--max-message {}`: write a size such as `32MB` or `64MB`",
            a.max_message
        );
        return USAGE;
    };
    let (served, problems) = worker::Served::load(&files);
    let mut refused = false;
    for (name, text) in &problems {
        eprint!("{text}");
        refused |= explicit.contains(name);
    }
    if refused || served.is_empty() {
        eprintln!("error: the worker does not start: it would not serve every file named");
        return FAILED;
    }
    let addr: std::net::SocketAddr = match a.listen.parse() {
        Ok(x) => x,
        Err(_) => {
            eprintln!(
                "error: `--listen {}`: write an address such as 127.0.0.1:9080",
                a.listen
            );
            return USAGE;
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return USAGE;
            }
        };
        eprintln!(
            "flowc worker: serving {} file{} on http://{addr}",
            served.len(),
            if served.len() == 1 { "" } else { "s" }
        );
        let serving = tokio::spawn(worker::serve(served, listener, max_message));
        if let Some(admin) = &a.register {
            let public = a
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{addr}"));
            if let Err(e) = worker::register(admin, &public).await {
                eprintln!("error: {e}");
                serving.abort();
                return USAGE;
            }
            eprintln!("flowc worker: registered {public} with {admin}");
        }
        let _ = serving.await;
        OK
    })
}

/// `flowc runs --engine restate:URL`.
pub fn runs(ingress: &str, status: Option<RunStatus>, json: bool) -> u8 {
    let client = Client::new(ingress);
    let runs = match client.runs() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    let runs: Vec<_> = runs
        .into_iter()
        .rev()
        .filter(|r| status.is_none_or(|s| r.status == s))
        .collect();
    if json {
        for r in &runs {
            out::println(&serde_json::to_string(r).expect("entries serialise"));
        }
        return OK;
    }
    if runs.is_empty() {
        eprintln!("no runs on Restate at {ingress}");
        return OK;
    }
    out::println(&format!(
        "{:<14} {:<10} {:<26} {:<16} FILE",
        "RUN", "STATUS", "STARTED", "FLOW"
    ));
    for r in &runs {
        out::println(&format!(
            "{:<14} {:<10} {:<26} {:<16} {}",
            r.id, r.status, r.started, r.flow, r.file
        ));
    }
    OK
}

/// `flowc runs show --engine restate:URL RUN`.
pub fn show(ingress: &str, id: &str, json: bool) -> u8 {
    let client = Client::new(ingress);
    let v = match client.show(id) {
        Ok(v) if v["request"].is_object() => v,
        Ok(_) => {
            eprintln!(
                "error: Restate at {ingress} has no run `{id}`; `flowc runs --engine restate:{ingress}` lists them"
            );
            return USAGE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    let entry = client
        .runs()
        .ok()
        .and_then(|runs| runs.into_iter().find(|r| r.id == id));
    // A run that goes on: the steps its worker sent last (once a second).
    let so_far = match v["outcome"]["record"]["steps"] {
        Value::Array(_) => Value::Null,
        _ => client.progress(id).unwrap_or(Value::Null),
    };
    if json {
        let mut v = v.clone();
        if let Some(r) = &entry {
            v["waiting"] = serde_json::to_value(&r.waiting).expect("entries serialise");
            v["answered"] = serde_json::to_value(&r.answered).expect("entries serialise");
        }
        v["steps_so_far"] = so_far;
        out::println(&serde_json::to_string_pretty(&v).expect("values serialise"));
        return OK;
    }
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    out::println(&format!("run      {id}"));
    out::println(&format!(
        "flow     {} in {}",
        v["request"]["flow"].as_str().unwrap_or(""),
        v["request"]["file"].as_str().unwrap_or("")
    ));
    // The index knows when a running run waits for an approval.
    let status = match &entry {
        Some(r)
            if r.status == RunStatus::Waiting
                && RunStatus::parse(&s("status")) == Ok(RunStatus::Running) =>
        {
            r.status.to_string()
        }
        _ => s("status"),
    };
    out::println(&format!("status   {status}"));
    out::println(&format!("started  {}", s("started")));
    if v["ended"].is_string() {
        out::println(&format!("ended    {}", s("ended")));
    }
    if let Some(r) = &entry {
        for w in &r.waiting {
            out::println(&format!("waiting  {}: {}", w.path, w.message));
        }
        for a in &r.answered {
            out::println(&format!("approval {}: {}", a.path, a.message));
            let mut said = (if a.approved { "approved" } else { "rejected" }).to_string();
            if let Some(by) = &a.by {
                said.push_str(&format!(" by {by}"));
            }
            if let Some(at) = &a.at {
                said.push_str(&format!(" at {at}"));
            }
            if let Some(note) = &a.note {
                said.push_str(&format!("; note: {note}"));
            }
            out::println(&format!("         {said}"));
        }
    }
    let outcome = &v["outcome"];
    let (steps, title) = match (outcome["record"]["steps"].as_array(), so_far.as_array()) {
        (Some(steps), _) => (Some(steps), "steps"),
        (None, Some(steps)) => (Some(steps), "steps so far"),
        _ => (None, ""),
    };
    if let Some(steps) = steps {
        out::println(title);
        for st in steps {
            out::println(&format!(
                "  {:<40} {:<8} {}",
                st["path"].as_str().unwrap_or(""),
                st["status"].as_str().unwrap_or(""),
                st["tool"].as_str().unwrap_or("")
            ));
        }
    }
    if outcome["result"] != Value::Null {
        out::println(&format!(
            "result   {}",
            serde_json::to_string(&outcome["result"]).expect("values serialise")
        ));
    }
    for e in outcome["errors"].as_array().into_iter().flatten() {
        out::println(&format!("error    {}", e.as_str().unwrap_or("").trim_end()));
    }
    OK
}
