//! The interpreter: the only place that touches tools. A checked program runs
//! on a single-threaded tokio runtime; every block is scheduled eagerly — a
//! statement starts the moment the statements it reads have finished.

pub mod approve;
mod cache;
mod call;
mod decide;
pub mod errors;
mod eval;
mod expr;
mod journal;
pub mod llm;
pub mod memory;
pub mod opts;
mod policy;
mod pure;
pub mod record;
pub mod redact;
pub mod replan;
mod scheduler;
pub mod testing;
pub mod timer;
pub mod tools;
/// Runtime values live in the leaf module [`crate::value`], which built-ins share.
pub use crate::value;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use serde_json::{Map, Value};
use tokio::sync::Semaphore;

pub use call::invoke_binding;
pub use errors::{ErrorKind, Errors, R, RunError};
pub use eval::Scope;
use opts::Opts;
use record::Recorder;
pub use tools::Limits;

use crate::check::Program;
use crate::ir::expr::Options;
use crate::ir::{Lowered, StepPath};
use crate::source::Sources;

/// How a run is configured from the command line.
#[derive(Clone, Debug, Default)]
pub struct RunConfig {
    /// `--set key=value` options.
    pub set: Opts,
    /// Keep every step for `--record`/`--trace`.
    pub record: bool,
    pub tenant: Option<String>,
    /// The run's id (`context.run_id`, the record) when a store registered it.
    pub run_id: Option<String>,
    /// `--no-cache`: `cache` options are ignored (nothing is read or written).
    pub no_cache: bool,
    /// `flowc resume`: the journaled steps to replay.
    pub replay: Option<Replay>,
    /// What an `approve` without an answer does: pause, ask, or fail.
    pub approvals: approve::ApproveMode,
}

/// What `flowc resume` replays: the journaled successes of the run by step
/// path (tool name, hash of binding and canonical arguments, result, and the
/// times and attempts of the run that took the step, which its `replayed`
/// row keeps).
#[derive(Clone, Debug, Default)]
pub struct Replay {
    pub done: HashMap<String, crate::store::JournalEntry>,
    /// `--allow-changed`: replay a step only when its binding and arguments
    /// are also the same as journaled.
    pub check_args: bool,
}

/// Where tool calls run when not in this process (docs/scale-out.md): `flowc worker`
/// sends each one to Restate as an invocation of its own, keyed by the run
/// id and the step's path, so that a finished step is never run again.
pub trait Remote {
    /// One attempt of a tool call; its timeout and retries stay the interpreter's.
    fn call<'a>(
        &'a self,
        step: RemoteStep<'a>,
    ) -> futures_util::future::LocalBoxFuture<'a, tools::ToolResult>;

    /// An `approve` at `path`: waits for a person's answer (`true`: approved);
    /// `Err` says why none can come.
    fn approve<'a>(
        &'a self,
        path: &'a StepPath,
        message: &'a str,
        context: Option<&'a Value>,
    ) -> futures_util::future::LocalBoxFuture<'a, Result<bool, String>>;

    /// A decision at `path` was answered `answer` (as the journal keeps it):
    /// the answer kept for that path, which is the first one given, so that a
    /// run that starts again decides as before. `Err` says why none is kept.
    fn decision<'a>(
        &'a self,
        path: &'a StepPath,
        answer: Value,
    ) -> futures_util::future::LocalBoxFuture<'a, Result<Value, String>>;
}

/// A tool call as it travels to another process.
pub struct RemoteStep<'a> {
    /// The module that declares the tool (its index in the program).
    pub module: usize,
    pub tool: &'a str,
    pub path: &'a StepPath,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub input: &'a Value,
    pub max_output: u64,
    /// The idempotency key the tool is given (`FLOWC_IDEMPOTENCY_KEY`).
    pub key: Option<&'a str>,
    /// The attempt's `timeout`: where the tool runs, it is stopped then too.
    pub timeout: std::time::Duration,
}

/// A frame of variables (a block's `let`s, a flow's parameters, a loop's or
/// `for`'s variable, `catch e`), chained to the enclosing ones. Names were
/// resolved to slots by the lowering (`ir::slots`): a variable is read by
/// its frame (`up` parents out) and slot index, never by its name.
pub struct Env {
    slots: RefCell<Vec<Option<Value>>>,
    parent: Option<Rc<Env>>,
}

impl Env {
    /// A frame of `n` empty slots around nothing (a flow call, a constant).
    pub fn root(n: usize) -> Rc<Env> {
        Rc::new(Env {
            slots: RefCell::new(vec![None; n]),
            parent: None,
        })
    }

    /// A frame of `n` empty slots inside `parent`.
    pub fn child(parent: &Rc<Env>, n: usize) -> Rc<Env> {
        Rc::new(Env {
            slots: RefCell::new(vec![None; n]),
            parent: Some(parent.clone()),
        })
    }

    pub fn set(&self, index: usize, v: Value) {
        if let Some(s) = self.slots.borrow_mut().get_mut(index) {
            *s = Some(v);
        }
    }

    /// Drops a slot's value (its last reader has finished).
    pub fn clear(&self, index: usize) {
        if let Some(s) = self.slots.borrow_mut().get_mut(index) {
            *s = None;
        }
    }

    /// This chain of frames with frame `from` replaced by `onto`: the frames
    /// inside `from` are copied onto `onto` (`None` if `from` is not in the chain).
    pub fn rebase(self: &Rc<Env>, from: &Rc<Env>, onto: &Rc<Env>) -> Option<Rc<Env>> {
        if Rc::ptr_eq(self, from) {
            return Some(onto.clone());
        }
        Some(Rc::new(Env {
            slots: RefCell::new(self.slots.borrow().clone()),
            parent: Some(self.parent.as_ref()?.rebase(from, onto)?),
        }))
    }

    /// The value in slot `index` of the frame `up` frames out.
    pub fn get(&self, up: u32, index: u32) -> Option<Value> {
        let mut env = self;
        for _ in 0..up {
            env = env.parent.as_deref()?;
        }
        env.slots.borrow().get(index as usize)?.clone()
    }
}

/// A running program.
pub struct Interp<'p> {
    pub program: &'p Program,
    pub sources: &'p Sources,
    pub recorder: Rc<Recorder>,
    pub config: RunConfig,
    /// Each module's constants, in source order (`ir::slots::Slot::Const`).
    consts: RefCell<Vec<Vec<Option<Value>>>>,
    dirs: Vec<PathBuf>,
    /// The program lowered once: block plans, step names, the places of calls.
    lowered: Rc<Lowered<'p>>,
    /// Every `with { … }` of the program, decoded once (by `ir::Options::id`).
    options: Rc<Vec<Rc<Opts>>>,
    tool_limits: RefCell<HashMap<(usize, String), Rc<Semaphore>>>,
    /// How many steps returned their journaled result (`flowc resume`).
    pub replayed: Cell<usize>,
    cache: RefCell<HashMap<String, (Instant, Value)>>,
    /// One lock per cache key: identical cached calls in flight share one
    /// execution (the later ones wait, then find the first one's result).
    inflight: RefCell<HashMap<String, Rc<tokio::sync::Mutex<()>>>>,
    /// The store whose cross-run cache `cache` options use (docs/store.md).
    pub store: Option<&'p crate::store::Store>,
    /// On resume: the journaled successes of the run, by step path.
    pub replay: Option<Replay>,
    /// The run's journal in the store (docs/store.md), when it has one.
    pub journal: Option<crate::store::Journal>,
    regexes: RefCell<HashMap<String, Rc<regex::Regex>>>,
    http: tools::http::Client,
    context: RefCell<Value>,
    /// When evaluation last gave the runtime a turn (see `Interp::breathe`).
    last_yield: Cell<Instant>,
    /// Set while evaluation waits for the runtime's turn.
    yielding: Cell<bool>,
    /// What the values of `let`s hold, for `max_memory`.
    memory: memory::Memory,
    /// The LLM decision hook (no provider until one is set).
    pub llm: llm::Llm,
    /// Tool calls and LLM calls made under a policy, for `max_steps` and
    /// `max_llm_calls` (docs/language.md, "Policies").
    policy_counts: policy::Counts,
    /// Reads the files a re-planned fragment's module imports (the driver's
    /// file system loader; without one, only `std.*` imports resolve).
    pub loader: Option<Rc<dyn crate::check::Loader>>,
    /// Re-plans of this run (docs/language.md, "Re-planning").
    replan: replan::State,
    /// Where tool calls run, when not here (`flowc worker`).
    pub remote: Option<Box<dyn Remote + 'p>>,
    /// The run's pause at an `approve` (docs/store.md); a re-planned fragment's
    /// run shares it.
    pub pause: Rc<approve::Pause>,
    /// In `flowc test`: the running test's mocks and failures.
    test: Option<Rc<testing::TestState>>,
}

/// A program lowered and its options decoded, once: what every interpreter of
/// it reads (`flowc test` shares one among the interpreters of its tests).
#[derive(Clone)]
pub struct Lowering<'p> {
    lowered: Rc<Lowered<'p>>,
    options: Rc<Vec<Rc<Opts>>>,
}

impl<'p> Lowering<'p> {
    pub fn new(program: &'p Program) -> Lowering<'p> {
        let lowered = crate::ir::lower_program(program);
        let options = lowered
            .options()
            .iter()
            .map(|o| Rc::new(Opts::from_decoded(o)))
            .collect();
        Lowering {
            lowered: Rc::new(lowered),
            options: Rc::new(options),
        }
    }
}

impl<'p> Interp<'p> {
    pub fn new(program: &'p Program, sources: &'p Sources, config: RunConfig) -> Interp<'p> {
        Interp::with_lowering(program, sources, config, Lowering::new(program))
    }

    /// [`Interp::new`] with the program already lowered (by [`Lowering::new`]).
    pub fn with_lowering(
        program: &'p Program,
        sources: &'p Sources,
        config: RunConfig,
        lowering: Lowering<'p>,
    ) -> Interp<'p> {
        let dirs = program
            .modules
            .iter()
            .map(
                |m| match std::path::Path::new(&sources.get(m.file).name).parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                },
            )
            .collect();
        let Lowering { lowered, options } = lowering;
        Interp {
            lowered,
            options,
            dirs,
            program,
            sources,
            recorder: Rc::new(Recorder::new(config.record)),
            config,
            consts: RefCell::new(vec![Vec::new(); program.modules.len()]),
            tool_limits: RefCell::new(HashMap::new()),
            replayed: Cell::new(0),
            cache: RefCell::new(HashMap::new()),
            inflight: RefCell::new(HashMap::new()),
            store: None,
            journal: None,
            replay: None,
            regexes: RefCell::new(HashMap::new()),
            http: tools::http::Client::new(),
            context: RefCell::new(Value::Null),
            last_yield: Cell::new(Instant::now()),
            yielding: Cell::new(false),
            memory: memory::Memory::default(),
            llm: llm::Llm::new(None),
            policy_counts: policy::Counts::default(),
            loader: None,
            replan: replan::State::default(),
            remote: None,
            pause: Rc::default(),
            test: None,
        }
    }

    /// Options as decoded before the run (`None` for no `with { … }`).
    fn opts_of(&self, o: Option<&Options>) -> Option<&Rc<Opts>> {
        self.options.get(o?.id as usize)
    }

    /// The folder of a module's file: where its exec tools run.
    pub fn module_dir(&self, m: usize) -> &std::path::Path {
        &self.dirs[m]
    }

    /// Runs flow `name` of the root module with `inputs` (already parsed by parameter type).
    pub async fn run(&self, name: &str, inputs: Map<String, Value>) -> R<Value> {
        self.run_as(name, inputs, name).await
    }

    /// `run`, with the step paths rooted at `root` instead of the flow's name
    /// (the REPL's hidden step flow).
    pub async fn run_as(
        &self,
        name: &str,
        inputs: Map<String, Value>,
        root_path: &str,
    ) -> R<Value> {
        self.start(name, inputs, root_path, None).await
    }

    /// Every re-plan of the run so far, for the record.
    pub fn replans(&self) -> Vec<record::ReplanRecord> {
        self.replan.records.borrow().clone()
    }

    /// `run_as` with the run's `context` given (`None`: a new one).
    async fn start(
        &self,
        name: &str,
        inputs: Map<String, Value>,
        root_path: &str,
        context: Option<Value>,
    ) -> R<Value> {
        // Without a store's id, one of the same form.
        let run_id = self
            .config
            .run_id
            .clone()
            .unwrap_or_else(crate::store::new_run_id);
        let root = self.program.root;
        let lowered = self.lowered.clone();
        let flow = lowered
            .flow_named(root, name)
            .expect("the CLI checked the flow exists");
        // The flow's policy names the tenant, when it does.
        let tenant = self
            .policy_of(root, flow.options.as_ref())
            .and_then(|p| p.tenant.clone())
            .or_else(|| self.config.tenant.clone());
        *self.context.borrow_mut() = context.unwrap_or_else(|| {
            serde_json::json!({
                "run_id": run_id,
                "flow": name,
                "started_at": crate::builtins::now_rfc3339(),
                "tenant": tenant,
                "inputs": Value::Object(inputs.clone()),
            })
        });
        // Constants, module by module (imports first).
        for m in 0..self.program.modules.len() {
            self.eval_consts(m)?;
        }
        let path = StepPath::root(root_path);
        let mut run = self.call_flow(root, flow, inputs, None, flow.name_span, None, path);
        // Each poll by the runtime follows its turn (timers, signals): a new time
        // slice of evaluation begins (see `breathe`).
        std::future::poll_fn(|cx| {
            self.yielding.set(false);
            self.last_yield.set(Instant::now());
            run.as_mut().poll(cx)
        })
        .await
    }

    pub fn context_value(&self) -> Value {
        self.context.borrow().clone()
    }
}
