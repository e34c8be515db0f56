//! The runs a server runs: each on a thread of its own with the driver's
//! local engine (the same session, store, journal and resume policy as
//! `flowc run` and `flowc resume`), cancellable by the API; what each
//! reports kept as numbered events for the event streams; and the watcher
//! that takes up runs by itself: answered approvals (by the API or `flowc
//! approve`) and runs a server that died left behind.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::{Map, Value, json};
use tokio::sync::{oneshot, watch};

use super::metrics::Metrics;
use super::pool::{Conn, Pool};
use crate::driver::engine::run_on;
use crate::driver::project::LlmArgs;
use crate::driver::resume::resume_on;
use crate::driver::runner::cancelled_by;
use crate::driver::session::{self, Prepared, ResumeRequest, Settings};
use crate::driver::{ApproveMode, Event, FsLoader, Request, RunStatus, Wishes, check_source};
use crate::driver::{Refusal, Report};
use crate::store::Store;

/// Most events a run keeps for its streams (a run with more steps than
/// this streams its first ones and its end).
const MAX_EVENTS: usize = 200_000;

/// One event of a run, as its streams send it.
#[derive(Clone, Debug)]
pub struct Ev {
    /// 1, 2, …: the stream's `id:`, for `Last-Event-ID`.
    pub id: u64,
    pub kind: &'static str,
    pub data: Value,
}

#[derive(Default)]
struct LiveState {
    events: Vec<Ev>,
    /// Running in this server now.
    running: bool,
    /// Events not kept past [`MAX_EVENTS`].
    dropped: u64,
    next: u64,
}

/// A run this server has run (or runs): its events and how to cancel it.
pub struct Live {
    id: String,
    state: Mutex<LiveState>,
    /// The number of the last event, for streams that wait for the next.
    changed: watch::Sender<u64>,
    cancel: Mutex<Option<watch::Sender<bool>>>,
}

impl Live {
    fn new(id: &str) -> Live {
        Live {
            id: id.to_string(),
            state: Mutex::new(LiveState {
                next: 1,
                ..LiveState::default()
            }),
            changed: watch::channel(0).0,
            cancel: Mutex::new(None),
        }
    }

    fn push(&self, kind: &'static str, data: Value) {
        let mut s = self.state.lock().expect("a run's events");
        let id = s.next;
        s.next += 1;
        if kind == "run_finished" {
            s.running = false;
        }
        // The end is always kept; what does not fit before it is counted.
        if s.events.len() < MAX_EVENTS || kind == "run_finished" {
            s.events.push(Ev { id, kind, data });
        } else {
            s.dropped += 1;
        }
        drop(s);
        self.changed.send_replace(id);
    }

    /// The events after `last` (an event id), and whether the run still runs here.
    pub fn after(&self, last: u64) -> (Vec<Ev>, bool) {
        let s = self.state.lock().expect("a run's events");
        let from = s.events.partition_point(|e| e.id <= last);
        (s.events[from..].to_vec(), s.running)
    }

    /// Told of each new event.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn running(&self) -> bool {
        self.state.lock().expect("a run's events").running
    }
}

/// Why a run was not started.
#[derive(Debug)]
pub enum Refused {
    /// The request does not fit the flow (422): the errors as data.
    Unprocessable(Value),
    /// Cannot be done now (409): in words.
    Conflict(String),
    /// Something failed (500): in words.
    Failed(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Unprocessable(v) => match v.get("error").and_then(Value::as_str) {
                Some(e) => f.write_str(e),
                None => write!(f, "{v}"),
            },
            Refused::Conflict(m) | Refused::Failed(m) => f.write_str(m),
        }
    }
}

/// What `POST /api/v1/runs` asks.
pub struct Start {
    pub file: String,
    pub flow: String,
    pub args: Map<String, Value>,
    pub options: Map<String, Value>,
}

/// What [`Runs::drive`] runs: a new run, or a run taken up again.
enum What {
    Start(Box<(Prepared, Request)>),
    Resume(ResumeRequest),
}

/// A run on its way, as [`Runs::drive`] awaits it.
type Running<'s> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Report, Refusal>> + 's>>;

/// The runs of one server.
pub struct Runs {
    store: PathBuf,
    live: Mutex<HashMap<String, Arc<Live>>>,
    /// The served files, as absolute paths: the runs the watcher may take up.
    served: HashSet<PathBuf>,
    /// Wakes the watcher (an approval was answered here).
    wake: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    /// What `/metrics` counts of the runs run here.
    pub metrics: Metrics,
    /// The threads the runs run on.
    pool: Pool,
    /// Connections to the store for the API's reads, kept for the next.
    idle: Mutex<Vec<Store>>,
}

/// A connection to the store lent by [`Runs::conn`]; given back when dropped.
pub struct Lent<'r> {
    store: Option<Store>,
    idle: &'r Mutex<Vec<Store>>,
}

impl std::ops::Deref for Lent<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store.as_ref().expect("a lent connection")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // As many as the requests that overlapped, up to a few.
        if idle.len() < 4
            && let Some(s) = self.store.take()
        {
            idle.push(s);
        }
    }
}

/// The file, in the store's folder, of the servers that run runs of the
/// store: one process a line, each written once as it starts, so that the
/// next server takes up the runs a server that died left `interrupted`.
const OWNED: &str = "serve-runs";

/// Writes the servers' file (whole, then renamed over the old one).
fn write_servers(path: &Path, servers: &[crate::store::Process]) -> Result<(), String> {
    let text: String = servers.iter().map(|s| format!("{s}\n")).collect();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            format!(
                "cannot write `{}` (a restarted server would not take up this one's runs): {e}",
                path.display()
            )
        })
}

impl Runs {
    pub fn new(store: PathBuf, served: &[String]) -> Result<Arc<Runs>, String> {
        Ok(Arc::new(Runs {
            pool: Pool::per_core(&store)?,
            idle: Mutex::new(Vec::new()),
            store,
            live: Mutex::new(HashMap::new()),
            served: served
                .iter()
                .filter_map(|f| absolute(Path::new(f)))
                .collect(),
            wake: Mutex::new(None),
            metrics: Metrics::default(),
        }))
    }

    /// A connection to the store (one kept from before, or a new one).
    pub fn conn(&self) -> Result<Lent<'_>, crate::store::StoreError> {
        let kept = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let store = match kept {
            Some(s) => s,
            None => Store::open(&self.store)?,
        };
        Ok(Lent {
            store: Some(store),
            idle: &self.idle,
        })
    }

    pub fn store_dir(&self) -> &Path {
        &self.store
    }

    pub fn live(&self, id: &str) -> Option<Arc<Live>> {
        self.live.lock().expect("the live runs").get(id).cloned()
    }

    /// How many runs run here now.
    pub fn running(&self) -> usize {
        let live = self.live.lock().expect("the live runs");
        live.values().filter(|l| l.running()).count()
    }

    fn attach(&self, id: &str) -> Arc<Live> {
        let mut live = self.live.lock().expect("the live runs");
        let l = live
            .entry(id.to_string())
            .or_insert_with(|| Arc::new(Live::new(id)));
        l.state.lock().expect("a run's events").running = true;
        l.clone()
    }

    /// Starts a run on the run threads; answers its id once the store has
    /// it, or why it did not start.
    pub fn start(self: &Arc<Self>, start: Start) -> oneshot::Receiver<Result<String, Refused>> {
        let (reply, answer) = oneshot::channel();
        let runs = self.clone();
        self.pool.spawn(Box::new(move |conn| {
            Box::pin(async move { runs.run_task(start, reply, conn).await })
        }));
        answer
    }

    async fn run_task(
        self: Arc<Self>,
        start: Start,
        reply: oneshot::Sender<Result<String, Refused>>,
        conn: Conn,
    ) {
        let prepared = match prepare(&start, &self.store) {
            Ok(p) => p,
            Err(r) => {
                let _ = reply.send(Err(r));
                return;
            }
        };
        let req = Request {
            file: start.file.clone(),
            flow: Some(start.flow.clone()),
            store: Some(self.store.clone()),
            approvals: ApproveMode::Refuse,
            wishes: Wishes {
                steps: true,
                ..Wishes::default()
            },
            ..Request::default()
        };
        let flow = start.flow.clone();
        self.drive(
            conn,
            reply,
            Some(&flow),
            What::Start(Box::new((prepared, req))),
        )
        .await;
    }

    /// Takes up run `id` again on the run threads (resume); `Err` when the
    /// resume policy refuses (changed sources, uncertain effects, …).
    pub fn resume(
        self: &Arc<Self>,
        id: &str,
        rerun: Option<String>,
    ) -> oneshot::Receiver<Result<String, Refused>> {
        let (reply, answer) = oneshot::channel();
        let runs = self.clone();
        let id = id.to_string();
        self.pool.spawn(Box::new(move |conn| {
            Box::pin(async move { runs.resume_task(id, rerun, reply, conn).await })
        }));
        answer
    }

    async fn resume_task(
        self: Arc<Self>,
        id: String,
        rerun: Option<String>,
        reply: oneshot::Sender<Result<String, Refused>>,
        conn: Conn,
    ) {
        let req = ResumeRequest {
            run: id,
            rerun,
            store: self.store.clone(),
            approvals: ApproveMode::Refuse,
            llm: LlmArgs::default(),
            wishes: Wishes {
                steps: true,
                ..Wishes::default()
            },
            ..ResumeRequest::default()
        };
        self.drive(conn, reply, None, What::Resume(req)).await;
    }

    /// Runs `run` (a start or a take-up, of `flow` when the caller knows)
    /// on its thread's connection, cancellable, its events kept for the
    /// streams; answers `reply` with the run's id once it starts, or with
    /// why it did not (`refused`), and keeps a panic to this run.
    async fn drive(
        self: Arc<Self>,
        conn: Conn,
        reply: oneshot::Sender<Result<String, Refused>>,
        flow: Option<&str>,
        what: What,
    ) {
        let mut reply = Some(reply);
        let store = match conn {
            Ok(s) => s,
            Err(e) => {
                let _ = reply
                    .take()
                    .map(|s| s.send(Err(Refused::Failed(e.to_string()))));
                return;
            }
        };
        let (cancel, cancelled) = watch::channel(false);
        let mut cancel = Some(cancel);
        let mut live: Option<Arc<Live>> = None;
        let mut sink = |e: Event<'_>| {
            self.event(e, &store, flow, &mut live, &mut cancel, &mut reply);
        };
        let stop = cancelled_by(cancelled);
        let resuming = matches!(what, What::Resume(_));
        let (on, to) = (&*store, &mut sink);
        let run: Running<'_> = match what {
            What::Start(start) => {
                let (prepared, req) = *start;
                Box::pin(async move { run_on(prepared, &req, on, to, stop).await })
            }
            What::Resume(req) => Box::pin(async move { resume_on(on, &req, to, stop).await }),
        };
        let result = AssertUnwindSafe(run).catch_unwind().await;
        let Ok(result) = result else {
            return self.panicked(&store, live.as_deref(), reply.take());
        };
        if let Some(l) = &live {
            self.metrics.journaled(&store, &l.id);
        }
        let why = match result {
            Ok(report) => match &report.reported {
                crate::driver::Reported::Here(h) => match &h.finished.store_error {
                    Some(e) => {
                        Refused::Failed(format!("the store failed under the run: {}", e.message))
                    }
                    None => return,
                },
                crate::driver::Reported::Remote(_) => return,
            },
            // The resume policy's refusal, in its words.
            Err(r) if resuming => Refused::Conflict(
                std::iter::once(r.error)
                    .chain(r.after)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Err(r) => Refused::Failed(r.error),
        };
        match reply.take() {
            Some(s) => {
                let _ = s.send(Err(why));
            }
            None => eprintln!("flowc serve: {why}"),
        }
    }

    /// A run's task panicked (a defect of flowc): the other runs go on;
    /// this one is given back `interrupted` (its journal kept, for `flowc
    /// resume`) and its streams end.
    fn panicked(
        &self,
        store: &Store,
        live: Option<&Live>,
        reply: Option<oneshot::Sender<Result<String, Refused>>>,
    ) {
        let why = "flowc failed inside the run (a defect: please report it with the server's log)";
        if let Some(r) = reply {
            let _ = r.send(Err(Refused::Failed(why.into())));
        }
        let Some(l) = live else { return };
        eprintln!("flowc serve: run {}: {why}; it is left `interrupted`", l.id);
        if let Err(e) = store.release_run(&l.id, RunStatus::Interrupted) {
            eprintln!("flowc serve: run {}: {e}", l.id);
        }
        self.metrics
            .finished(&l.id, RunStatus::Interrupted.as_str());
        l.push(
            "run_finished",
            json!({ "status": RunStatus::Interrupted.as_str(), "error": why }),
        );
    }

    /// One event of a run this server runs (of `flow` when the caller knows).
    fn event(
        &self,
        e: Event<'_>,
        store: &Store,
        flow: Option<&str>,
        live: &mut Option<Arc<Live>>,
        cancel: &mut Option<watch::Sender<bool>>,
        reply: &mut Option<oneshot::Sender<Result<String, Refused>>>,
    ) {
        let (kind, data) = match e {
            Event::Started { run } => {
                self.metrics.started(store, run, flow);
                let l = self.attach(run);
                if let Some(c) = cancel.take() {
                    *l.cancel.lock().expect("a run's cancel") = Some(c);
                }
                *live = Some(l);
                if let Some(r) = reply.take() {
                    let _ = r.send(Ok(run.to_string()));
                }
                ("run_started", json!({ "run": run }))
            }
            Event::StepStarted { path, tool } => {
                ("step_started", json!({ "path": path, "tool": tool }))
            }
            Event::StepFinished { path, tool, status } => (
                "step_finished",
                json!({ "path": path, "tool": tool, "status": status }),
            ),
            Event::Decision { path } => {
                if let Some(l) = live {
                    self.metrics.llm_call(&l.id, false);
                }
                ("decision", json!({ "path": path }))
            }
            Event::Replan { path } => {
                if let Some(l) = live {
                    self.metrics.llm_call(&l.id, true);
                }
                ("replan", json!({ "path": path }))
            }
            Event::ApprovalRequested { path, message, .. } => (
                "approval_requested",
                json!({ "path": path, "message": message }),
            ),
            Event::Finished { status } => {
                if let Some(l) = live {
                    // Whatever the store says of it now, this server no longer runs it.
                    self.metrics.finished(&l.id, status.as_str());
                }
                ("run_finished", json!({ "status": status.as_str() }))
            }
            Event::Checked(_) | Event::Submitted { .. } | Event::Progress(_) => return,
        };
        if let Some(l) = live {
            l.push(kind, data);
        }
    }

    /// Cancels a run this server runs: its tools are killed, it ends `cancelled`.
    pub fn cancel(&self, id: &str) -> Result<(), String> {
        let live = self.live(id).filter(|l| l.running());
        let Some(live) = live else {
            return Err(format!("run {id} is not running in this server"));
        };
        match &*live.cancel.lock().expect("a run's cancel") {
            Some(c) => {
                c.send_replace(true);
                Ok(())
            }
            None => Err(format!("run {id} cannot be cancelled")),
        }
    }

    /// The watcher should look now (an approval was answered).
    pub fn wake(&self) {
        if let Some(w) = &*self.wake.lock().expect("the watcher") {
            let _ = w.send(());
        }
    }

    /// Starts the watcher: at once, the runs of the served files that the
    /// last server ran and did not see end (it died: they are now
    /// `interrupted`) are taken up; then, every
    /// second or when woken, the paused runs of the served files whose
    /// approvals are all answered (an approval past its deadline is
    /// answered `expired` first). A run the resume policy refuses
    /// (uncertain effects wait for an operator) is said once and left.
    pub fn watch(self: &Arc<Self>) -> Result<(), String> {
        let store = Store::open(&self.store).map_err(|e| e.to_string())?;
        // The runs the servers before ran and did not see end: those of
        // the processes named in the file (written once by each server).
        let path = self.store.join(OWNED);
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        let me = crate::store::Process::this();
        let mut left = Vec::new();
        let mut servers = Vec::new();
        for line in before.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some(server) = crate::store::Process::parse(line) else {
                continue;
            };
            if server == me {
                continue;
            }
            for row in store.runs_left_by(&server).map_err(|e| e.to_string())? {
                if self.serves(&row.file) {
                    left.push(row.id);
                }
            }
            servers.push(server);
        }
        drop(store);
        // This server too, before any of its runs starts; those before it
        // stay named until their runs are taken up.
        servers.push(me.clone());
        write_servers(&path, &servers)?;
        let (wake, woken) = std::sync::mpsc::channel();
        *self.wake.lock().expect("the watcher") = Some(wake);
        let runs = self.clone();
        std::thread::Builder::new()
            .name("flowc-watch".into())
            .spawn(move || {
                let mut given_up: HashSet<String> = HashSet::new();
                for id in left {
                    runs.take_up(&id, "its server stopped", &mut given_up);
                }
                if let Err(e) = write_servers(&path, std::slice::from_ref(&me)) {
                    eprintln!("flowc serve: {e}");
                }
                loop {
                    match woken.recv_timeout(Duration::from_secs(1)) {
                        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                    if let Err(e) = runs.look(&mut given_up) {
                        eprintln!("flowc serve: {e}");
                    }
                }
            })
            .map_err(|e| format!("cannot start the watcher: {e}"))?;
        Ok(())
    }

    fn look(self: &Arc<Self>, given_up: &mut HashSet<String>) -> Result<(), String> {
        let store = self.conn().map_err(|e| e.to_string())?;
        // Approvals past their deadline answer no (`expired`), as an answer would.
        for (run, path) in store.approvals_expire(None).map_err(|e| e.to_string())? {
            eprintln!("flowc serve: the approval `{path}` of run {run} expired unanswered");
        }
        let paused = store
            .runs(Some(RunStatus::Paused))
            .map_err(|e| e.to_string())?;
        let mut ready = Vec::new();
        for r in paused {
            if given_up.contains(&r.id)
                || !self.serves(&r.file)
                || self.live(&r.id).is_some_and(|l| l.running())
            {
                continue;
            }
            let approvals = store.approvals(&r.id).map_err(|e| e.to_string())?;
            if !approvals.is_empty() && approvals.iter().all(|a| a.answer().is_some()) {
                ready.push(r.id);
            }
        }
        drop(store);
        for id in ready {
            self.take_up(&id, "its approvals were answered", given_up);
        }
        Ok(())
    }

    fn take_up(self: &Arc<Self>, id: &str, why: &str, given_up: &mut HashSet<String>) {
        let answer = self.resume(id, None);
        match answer.blocking_recv() {
            Ok(Ok(_)) => eprintln!("flowc serve: run {id} resumed ({why})"),
            Ok(Err(r)) => {
                eprintln!("flowc serve: run {id} was not resumed: {r}");
                given_up.insert(id.to_string());
            }
            Err(_) => {
                given_up.insert(id.to_string());
            }
        }
    }

    fn serves(&self, file: &str) -> bool {
        absolute(Path::new(file)).is_some_and(|p| self.served.contains(&p))
    }
}

fn absolute(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

/// How long a file's check is reused by the runs started after it on the
/// same run thread (a burst of starts checks it once).
const REUSE: Duration = Duration::from_secs(1);

thread_local! {
    /// The last check of each file started on this thread, and when it was made.
    static CHECKED: std::cell::RefCell<HashMap<String, (std::time::Instant, crate::driver::Checked)>> =
        std::cell::RefCell::new(HashMap::new());
}

/// `file` (whose text is `text`) checked: the check made on this thread
/// within [`REUSE`] when the file and every file it read are as they were
/// then (the standard library's modules are in the binary), else a new one.
/// What else a check looks at — programs on `PATH`, files a tool names —
/// is looked at again after a second at most.
fn checked(file: &str, text: &str, store: &Path) -> crate::driver::Checked {
    let kept = CHECKED.with(|c| {
        let c = c.borrow();
        let (at, checked) = c.get(file)?;
        let same = at.elapsed() < REUSE
            && checked.sources.iter().enumerate().all(|(i, (_, f))| {
                if i == 0 {
                    f.text == text
                } else {
                    unchanged(&f.name, &f.text)
                }
            });
        same.then(|| checked.clone())
    });
    if let Some(c) = kept {
        return c;
    }
    let checked = check_source(file, text, &FsLoader::new(store));
    CHECKED.with(|c| {
        let mut c = c.borrow_mut();
        c.retain(|_, (at, _)| at.elapsed() < REUSE);
        c.insert(
            file.to_string(),
            (std::time::Instant::now(), checked.clone()),
        );
    });
    checked
}

/// Whether a source a check read (named as the checker names it) still
/// has `text`.
fn unchanged(name: &str, text: &str) -> bool {
    if name.starts_with('<') && name.ends_with('>') {
        // A module of the standard library: in the binary.
        return true;
    }
    let path = name.strip_suffix(" [policy]").unwrap_or(name);
    std::fs::read_to_string(path).is_ok_and(|now| now == text)
}

/// The run `start` asks for, checked as `flowc run` checks it: the file
/// (read again: it may have changed since the server started), the flow,
/// the arguments (JSON values of the parameters' types) and the options.
fn prepare(start: &Start, store: &Path) -> Result<Prepared, Refused> {
    let text = crate::files::read_source(&start.file).map_err(Refused::Conflict)?;
    let checked = checked(&start.file, &text, store);
    if checked.has_errors() {
        let diagnostics: Vec<Value> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| {
                serde_json::from_str(&crate::diag::render::to_json(d, &checked.sources))
                    .unwrap_or(Value::Null)
            })
            .collect();
        return Err(Refused::Unprocessable(json!({
            "error": format!("`{}` has errors; nothing was run", start.file),
            "diagnostics": diagnostics,
        })));
    }
    if !checked
        .program
        .root_module()
        .flows
        .contains_key(&start.flow)
    {
        return Err(Refused::Unprocessable(json!({
            "error": format!("`{}` has no flow `{}`", start.file, start.flow),
        })));
    }
    let inputs =
        session::conforming(&checked.program, &start.flow, start.args.clone()).map_err(|e| {
            Refused::Unprocessable(json!({
                "error": e.message(&start.flow),
                "parameter": e.parameter(),
            }))
        })?;
    let set: Vec<String> = start
        .options
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            v => format!("{k}={v}"),
        })
        .collect();
    let settings = Settings::parse(&set)
        .map_err(|e| Refused::Unprocessable(json!({ "error": format!("options: {e}") })))?;
    Ok(Prepared {
        checked,
        file: start.file.clone(),
        flow: start.flow.clone(),
        inputs,
        settings,
    })
}
