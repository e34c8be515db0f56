//! Runs on Restate (docs/scale-out.md): `flowc worker`, and `flowc run`, `runs`,
//! `runs show`, `resume` and `approve` with `--engine restate:URL`.

use serde_json::{Map, Value};

use crate::restate::client::Client;
use crate::restate::{RunOutcome, RunRequest, worker};
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
            if let Err(e) = register(admin, &public).await {
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

/// Registers the deployment at `public` with the admin API at `admin` (again, with `force`).
async fn register(admin: &str, public: &str) -> Result<(), String> {
    let url = format!("{}/deployments", admin.trim_end_matches('/'));
    let body = serde_json::json!({ "uri": public, "force": true });
    let r = crate::run::tools::http::reqwest_client()
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot register with the Restate admin API at {admin}: {}",
                crate::run::tools::http::describe(&e)
            )
        })?;
    if r.status().is_success() {
        Ok(())
    } else {
        let status = r.status();
        Err(format!(
            "the Restate admin API at {admin} refused to register {public} ({status}): {}",
            r.text().await.unwrap_or_default().trim()
        ))
    }
}

/// What `flowc run --engine` writes besides the result: `--record` and `--trace` files.
pub struct Outputs<'a> {
    pub record: Option<&'a str>,
    pub trace: Option<&'a str>,
}

/// `flowc run --engine restate:URL`: submits the run, waits for it, presents it.
#[allow(clippy::too_many_arguments)]
pub fn run(
    ingress: &str,
    file: &str,
    text: &str,
    flow: &str,
    inputs: Map<String, Value>,
    set: &[String],
    quiet: bool,
    outputs: Outputs<'_>,
) -> u8 {
    let client = Client::new(ingress);
    let id = crate::store::new_run_id();
    let req = RunRequest {
        file: file.to_string(),
        path: worker::absolute_path(file),
        sha256: crate::store::sha256_hex(text.as_bytes()),
        flow: flow.to_string(),
        inputs,
        set: set.to_vec(),
        ingress: ingress.to_string(),
        trace: outputs.trace.is_some(),
    };
    if let Err(e) = client.submit(&id, &req) {
        eprintln!("error: {e}");
        return USAGE;
    }
    if !quiet {
        eprintln!("run {id} submitted to Restate at {ingress}");
    }
    wait(&client, &id, flow, quiet, outputs)
}

/// Waits for run `id` and presents it like a local run; its exit code.
fn wait(client: &Client, id: &str, flow: &str, quiet: bool, outputs: Outputs<'_>) -> u8 {
    let ingress = client.ingress().to_string();
    // As a local run that pauses prints its approvals (also with `--quiet`:
    // the run cannot go on without them); here the run waits for them.
    let waiting = |w: &crate::restate::Waiting| {
        eprintln!("run {id} waits for an approval");
        eprintln!("  {}: {}", w.path, w.message);
        eprintln!(
            "    flowc approve --engine restate:{ingress} {id} {}",
            w.path
        );
        eprintln!(
            "    flowc approve --engine restate:{ingress} {id} {} --reject",
            w.path
        );
        eprintln!(
            "then the run goes on by itself; Ctrl-C stops this wait, not the run (`flowc resume --engine restate:{ingress} {id}` waits again)"
        );
    };
    let outcome = match client.wait(id, waiting) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: run {id}: {e}");
            return FAILED;
        }
    };
    let code = present(&outcome, flow, quiet, id, client.ingress());
    let files = [
        (outputs.record, &outcome.record, "the run record"),
        (outputs.trace, &outcome.trace, "the trace"),
    ];
    for (path, value, what) in files {
        if let (Some(path), Some(value)) = (path, value) {
            let text = serde_json::to_string_pretty(value).expect("values serialise");
            if let Err(e) = std::fs::write(path, text) {
                eprintln!("error: cannot write {what} `{path}`: {e}");
                return USAGE;
            }
        }
    }
    code
}

fn present(o: &RunOutcome, flow: &str, quiet: bool, id: &str, ingress: &str) -> u8 {
    let code = match (&o.status[..], &o.result) {
        ("ok", Some(v)) => {
            out::println(&serde_json::to_string_pretty(v).expect("values serialise"));
            OK
        }
        _ => {
            for e in &o.errors {
                eprint!("{e}");
            }
            let n = o.errors.len();
            eprintln!(
                "error: flow `{flow}` failed with {n} error{}",
                if n == 1 { "" } else { "s" }
            );
            FAILED
        }
    };
    if !quiet {
        for w in &o.warnings {
            eprintln!("warning: {w}");
        }
        eprintln!(
            "run {id} is on Restate at {ingress}: `flowc runs show --engine restate:{ingress} {id}`"
        );
    }
    code
}

/// `flowc resume --engine restate:URL RUN`: a run on Restate goes on by
/// itself; this waits for its end and presents it.
pub fn resume(ingress: &str, id: &str, quiet: bool) -> u8 {
    let client = Client::new(ingress);
    let flow = match client.show(id) {
        Ok(v) if v["request"].is_object() => {
            v["request"]["flow"].as_str().unwrap_or("").to_string()
        }
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
    let none = Outputs {
        record: None,
        trace: None,
    };
    wait(&client, id, &flow, quiet, none)
}

/// `flowc runs --engine restate:URL`.
pub fn runs(ingress: &str, status: Option<&str>, json: bool) -> u8 {
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
        Some(r) if r.status == "waiting" && s("status") == "running" => r.status.clone(),
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

/// `flowc approve --engine restate:URL RUN [PATH]`: answers an approval the
/// run waits for; the run then goes on by itself.
pub fn approve(
    ingress: &str,
    run: &str,
    path: Option<&str>,
    approved: bool,
    by: &str,
    note: Option<&str>,
) -> u8 {
    let client = Client::new(ingress);
    let entry = match client.runs() {
        Ok(runs) => runs.into_iter().find(|r| r.id == run),
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    let Some(entry) = entry else {
        eprintln!(
            "error: Restate at {ingress} has no run `{run}`; `flowc runs --engine restate:{ingress}` lists them"
        );
        return USAGE;
    };
    let waiting: Vec<String> = entry
        .waiting
        .iter()
        .map(|w| format!("  {}: {}", w.path, w.message))
        .collect();
    let path = match (path, entry.waiting.as_slice()) {
        (Some(p), w) if w.iter().any(|x| x.path == p) => p.to_string(),
        (_, []) => {
            eprintln!(
                "error: run {run} waits for no approval (status `{}`)",
                entry.status
            );
            return USAGE;
        }
        (Some(p), _) => {
            eprintln!(
                "error: run {run} waits for no approval at `{p}`; it waits for:\n{}",
                waiting.join("\n")
            );
            return USAGE;
        }
        (None, [one]) => one.path.clone(),
        (None, several) => {
            eprintln!(
                "error: run {run} waits for {} approvals; name the one to answer (`flowc approve --engine restate:{ingress} {run} PATH`):\n{}",
                several.len(),
                waiting.join("\n")
            );
            return USAGE;
        }
    };
    let answer = crate::restate::Answer {
        approved,
        by: Some(by.to_string()),
        note: note.map(str::to_string),
        at: Some(crate::builtins::now_rfc3339()),
    };
    if let Err(e) = client.answer(run, &path, &answer) {
        eprintln!("error: {e}");
        return USAGE;
    }
    out::println(&format!(
        "{} `{path}` of run {run} (by {by}); the run goes on on Restate: `flowc resume --engine restate:{ingress} {run}` waits for its end",
        if approved { "approved" } else { "rejected" }
    ));
    OK
}
