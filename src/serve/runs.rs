//! The runs a server runs: each on a thread of its own with the driver's
//! local engine (the same session, store, journal and resume policy as
//! `flowc run` and `flowc resume`), cancellable by the API; what each
//! reports kept as numbered events for the event streams; and the watcher
//! that takes up runs by itself: answered approvals (by the API or `flowc
//! approve`) and runs a server that died left behind.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::{oneshot, watch};

use super::metrics::Metrics;
use crate::driver::project::LlmArgs;
use crate::driver::runner::Runner;
use crate::driver::session::{self, Prepared, ResumeRequest, Settings};
use crate::driver::{
    ApproveMode, Engine, Event, FsLoader, Local, Request, RunStatus, Wishes, check_source,
};
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

/// What `POST /api/v1/runs` asks.
pub struct Start {
    pub file: String,
    pub flow: String,
    pub args: Map<String, Value>,
    pub options: Map<String, Value>,
}

/// The runs of one server.
pub struct Runs {
    store: PathBuf,
    live: Mutex<HashMap<String, Arc<Live>>>,
    /// The served files, as absolute paths: the runs the watcher may take up.
    served: HashSet<PathBuf>,
    /// Wakes the watcher (an approval was answered here).
    wake: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    /// The runs running here, kept in the store's folder ([`OWNED`]) so
    /// that the next server takes up those this one leaves behind.
    owned: Mutex<std::collections::BTreeSet<String>>,
    /// What `/metrics` counts of the runs run here.
    pub metrics: Metrics,
}

/// The file, in the store's folder, of the runs a server runs: one id a line.
const OWNED: &str = "serve-runs";

impl Runs {
    pub fn new(store: PathBuf, served: &[String]) -> Arc<Runs> {
        Arc::new(Runs {
            store,
            live: Mutex::new(HashMap::new()),
            served: served
                .iter()
                .filter_map(|f| absolute(Path::new(f)))
                .collect(),
            wake: Mutex::new(None),
            owned: Mutex::new(Default::default()),
            metrics: Metrics::default(),
        })
    }

    /// Notes that run `id` runs here (`true`) or no longer does, in [`OWNED`].
    fn own(&self, id: &str, running: bool) {
        let mut owned = self.owned.lock().expect("the owned runs");
        let changed = if running {
            owned.insert(id.to_string())
        } else {
            owned.remove(id)
        };
        if !changed {
            return;
        }
        let text: String = owned.iter().map(|id| format!("{id}\n")).collect();
        let path = self.store.join(OWNED);
        let tmp = self.store.join(format!("{OWNED}.tmp"));
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            eprintln!(
                "flowc serve: cannot write `{}` (a restarted server would not take up its runs): {e}",
                path.display()
            );
        }
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

    /// Starts a run on a thread of its own; answers its id once the store
    /// has it, or why it did not start.
    pub fn start(self: &Arc<Self>, start: Start) -> oneshot::Receiver<Result<String, Refused>> {
        let (reply, answer) = oneshot::channel();
        let runs = self.clone();
        let spawned = std::thread::Builder::new()
            .name("flowc-run".into())
            .stack_size(64 << 20)
            .spawn(move || runs.run_thread(start, reply));
        if let Err(e) = spawned {
            eprintln!("flowc serve: cannot start a thread for a run: {e}");
        }
        answer
    }

    fn run_thread(self: Arc<Self>, start: Start, reply: oneshot::Sender<Result<String, Refused>>) {
        let mut reply = Some(reply);
        let prepared = match prepare(&start, &self.store) {
            Ok(p) => p,
            Err(r) => {
                let _ = reply.take().map(|s| s.send(Err(r)));
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
        let (cancel, cancelled) = watch::channel(false);
        let mut cancel = Some(cancel);
        let mut engine = Local::on(Runner::cancellable(cancelled));
        let mut live: Option<Arc<Live>> = None;
        let result = engine.run(prepared, &req, &mut |e| {
            self.event(e, Some(&start.flow), &mut live, &mut cancel, &mut reply);
        });
        if let Some(l) = &live {
            self.metrics.journaled(&self.store, &l.id);
        }
        let why = match result {
            Ok(report) => match &report.reported {
                crate::driver::Reported::Here(h) => match &h.finished.store_error {
                    Some(e) => format!("the store failed under the run: {}", e.message),
                    None => return,
                },
                crate::driver::Reported::Remote(_) => return,
            },
            Err(r) => r.error,
        };
        match reply.take() {
            Some(s) => {
                let _ = s.send(Err(Refused::Failed(why)));
            }
            None => eprintln!("flowc serve: {why}"),
        }
    }

    /// Takes up run `id` again on a thread of its own (resume); `Err` when
    /// the resume policy refuses (changed sources, uncertain effects, …).
    pub fn resume(
        self: &Arc<Self>,
        id: &str,
        rerun: Option<String>,
    ) -> oneshot::Receiver<Result<String, Refused>> {
        let (reply, answer) = oneshot::channel();
        let runs = self.clone();
        let id = id.to_string();
        let spawned = std::thread::Builder::new()
            .name("flowc-resume".into())
            .stack_size(64 << 20)
            .spawn(move || {
                let mut reply = Some(reply);
                let req = ResumeRequest {
                    run: id,
                    rerun,
                    store: runs.store.clone(),
                    approvals: ApproveMode::Refuse,
                    llm: LlmArgs::default(),
                    wishes: Wishes {
                        steps: true,
                        ..Wishes::default()
                    },
                    ..ResumeRequest::default()
                };
                let (cancel, cancelled) = watch::channel(false);
                let mut cancel = Some(cancel);
                let mut engine = Local::on(Runner::cancellable(cancelled));
                let mut live = None;
                let result = engine.resume(&req, &mut |e| {
                    runs.event(e, None, &mut live, &mut cancel, &mut reply);
                });
                if let Some(l) = &live {
                    runs.metrics.journaled(&runs.store, &l.id);
                }
                if let Err(r) = result {
                    let why = std::iter::once(r.error.clone())
                        .chain(r.after.iter().cloned())
                        .collect::<Vec<_>>()
                        .join("\n");
                    match reply.take() {
                        Some(s) => {
                            let _ = s.send(Err(Refused::Conflict(why)));
                        }
                        None => eprintln!("flowc serve: {why}"),
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("flowc serve: cannot start a thread for a run: {e}");
        }
        answer
    }

    /// One event of a run this server runs (of `flow` when the caller knows).
    fn event(
        &self,
        e: Event<'_>,
        flow: Option<&str>,
        live: &mut Option<Arc<Live>>,
        cancel: &mut Option<watch::Sender<bool>>,
        reply: &mut Option<oneshot::Sender<Result<String, Refused>>>,
    ) {
        let (kind, data) = match e {
            Event::Started { run } => {
                self.own(run, true);
                self.metrics.started(&self.store, run, flow);
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
                    let id = l.id.clone();
                    self.own(&id, false);
                    self.metrics.finished(&id, status.as_str());
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
        // The runs the last server ran and did not see end.
        let before = std::fs::read_to_string(self.store.join(OWNED)).unwrap_or_default();
        let mut left = Vec::new();
        for id in before.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Ok(row) = store.run(id).map_err(|e| e.to_string())?
                && row.status == RunStatus::Interrupted
                && self.serves(&row.file)
            {
                left.push(row.id);
            }
        }
        drop(store);
        let _ = std::fs::remove_file(self.store.join(OWNED));
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
        let store = Store::open(&self.store).map_err(|e| e.to_string())?;
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
            Ok(Err(Refused::Conflict(m) | Refused::Failed(m))) => {
                eprintln!("flowc serve: run {id} was not resumed: {m}");
                given_up.insert(id.to_string());
            }
            Ok(Err(Refused::Unprocessable(v))) => {
                eprintln!("flowc serve: run {id} was not resumed: {v}");
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

/// The run `start` asks for, checked as `flowc run` checks it: the file
/// (read again: it may have changed since the server started), the flow,
/// the arguments (JSON values of the parameters' types) and the options.
fn prepare(start: &Start, store: &Path) -> Result<Prepared, Refused> {
    let text = crate::files::read_source(&start.file).map_err(Refused::Conflict)?;
    let checked = check_source(&start.file, &text, &FsLoader::new(store));
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
