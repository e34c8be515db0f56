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
pub mod host;
mod journal;
mod limit;
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

pub use call::invoke_binding;
pub use errors::{ErrorKind, Errors, R, RunError};
pub use eval::Scope;
pub use host::{Replay, StepHost};
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
    /// `flowc resume`: the journaled steps to replay (the driver stacks a
    /// [`host::Replayed`] host with them).
    pub replay: Option<Replay>,
    /// What an `approve` without an answer does: pause, ask, or fail.
    pub approvals: approve::ApproveMode,
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

/// A running program. Built once ([`Interp::builder`]) with the host its
/// steps go through, and never changed from outside after.
pub struct Interp<'p> {
    program: &'p Program,
    sources: &'p Sources,
    recorder: Rc<Recorder>,
    config: RunConfig,
    /// Each module's constants, in source order (`ir::slots::Slot::Const`).
    consts: RefCell<Vec<Vec<Option<Value>>>>,
    dirs: Vec<PathBuf>,
    /// The program lowered once: block plans, step names, the places of calls.
    lowered: Rc<Lowered<'p>>,
    /// Every `with { … }` of the program, decoded once (by `ir::Options::id`).
    options: Rc<Vec<Rc<Opts>>>,
    tool_limits: RefCell<HashMap<(usize, String), Rc<limit::Limit>>>,
    /// How many steps returned their journaled result (`flowc resume`).
    replayed: Cell<usize>,
    cache: RefCell<HashMap<String, (Instant, Value)>>,
    /// One lock per cache key: identical cached calls in flight share one
    /// execution (the later ones wait, then find the first one's result).
    inflight: RefCell<HashMap<String, Rc<tokio::sync::Mutex<()>>>>,
    /// Where every step goes outside pure evaluation: tool calls, approvals,
    /// decisions kept, the journal, the cache, the replayed steps.
    host: Rc<dyn StepHost + 'p>,
    /// Each module's index in the program of the run (itself, except in a
    /// re-planned fragment's interpreter): how the host names a tool's module.
    run_modules: Vec<usize>,
    regexes: RefCell<HashMap<String, Rc<regex::Regex>>>,
    context: RefCell<Value>,
    /// When evaluation last gave the runtime a turn (see `Interp::breathe`).
    last_yield: Cell<Instant>,
    /// Set while evaluation waits for the runtime's turn.
    yielding: Cell<bool>,
    /// What the values of `let`s hold, for `max_memory`.
    memory: memory::Memory,
    /// The LLM decision hook (no provider unless the builder was given one).
    llm: llm::Llm,
    /// Tool calls and LLM calls made under a policy, for `max_steps` and
    /// `max_llm_calls` (docs/language.md, "Policies").
    policy_counts: policy::Counts,
    /// Reads the files a re-planned fragment's module imports (the driver's
    /// file system loader; without one, only `std.*` imports resolve).
    loader: Option<Rc<dyn crate::check::Loader>>,
    /// Re-plans of this run (docs/language.md, "Re-planning").
    replan: replan::State,
    /// The run's pause at an `approve` (docs/store.md); a re-planned fragment's
    /// run shares it.
    pause: Rc<approve::Pause>,
    /// In `flowc test`: the running test's mocks and failures.
    test: Option<Rc<testing::TestState>>,
    /// The text of a tool call taken at once, written again for each one
    /// (see `Interp::journal_at_once`).
    at_once: RefCell<journal::AtOnce>,
}

/// How an [`Interp`] is built: the program, the run's configuration, and
/// what its steps go through (the host; [`host::Local`] unless given), its
/// LLM provider and the loader of a re-planned fragment's imports.
pub struct Builder<'p> {
    program: &'p Program,
    sources: &'p Sources,
    config: RunConfig,
    lowering: Option<Lowering<'p>>,
    host: Option<Rc<dyn StepHost + 'p>>,
    llm: Option<llm::Llm>,
    loader: Option<Rc<dyn crate::check::Loader>>,
    test: Option<Rc<testing::TestState>>,
    /// A re-planned fragment's: what it shares with its parent's run.
    within: Option<Within>,
}

/// What a re-planned fragment's interpreter shares with its parent's run.
struct Within {
    recorder: Rc<Recorder>,
    pause: Rc<approve::Pause>,
    run_modules: Vec<usize>,
}

impl<'p> Builder<'p> {
    /// The program already lowered (by [`Lowering::new`]).
    pub fn lowering(mut self, lowering: Lowering<'p>) -> Self {
        self.lowering = Some(lowering);
        self
    }

    /// The host the run's steps go through.
    pub fn host(mut self, host: Rc<dyn StepHost + 'p>) -> Self {
        self.host = Some(host);
        self
    }

    /// The LLM decision hook.
    pub fn llm(mut self, llm: llm::Llm) -> Self {
        self.llm = Some(llm);
        self
    }

    /// The loader of a re-planned fragment's imports.
    pub fn loader(mut self, loader: Rc<dyn crate::check::Loader>) -> Self {
        self.loader = Some(loader);
        self
    }

    pub fn build(self) -> Interp<'p> {
        Interp::from_builder(self)
    }
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
        Lowering::of(crate::ir::lower_program(program))
    }

    /// The lowering of a program whose flows' bodies were taken out of it
    /// (`ir::take_bodies`): each statement is freed once lowered.
    pub fn taking(program: &'p Program, bodies: crate::ir::Bodies) -> Lowering<'p> {
        Lowering::of(crate::ir::lower_program_taking(program, bodies))
    }

    fn of(lowered: crate::ir::Lowered<'p>) -> Lowering<'p> {
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
    /// An interpreter whose tools run in this process, without a store or an LLM provider.
    pub fn new(program: &'p Program, sources: &'p Sources, config: RunConfig) -> Interp<'p> {
        Interp::builder(program, sources, config).build()
    }

    /// Builds an interpreter of `program` (see [`Builder`]).
    pub fn builder(program: &'p Program, sources: &'p Sources, config: RunConfig) -> Builder<'p> {
        Builder {
            program,
            sources,
            config,
            lowering: None,
            host: None,
            llm: None,
            loader: None,
            test: None,
            within: None,
        }
    }

    fn from_builder(b: Builder<'p>) -> Interp<'p> {
        let Builder {
            program,
            sources,
            config,
            lowering,
            host,
            llm,
            loader,
            test,
            within,
        } = b;
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
        let Lowering { lowered, options } = lowering.unwrap_or_else(|| Lowering::new(program));
        let (recorder, pause, run_modules) = match within {
            Some(w) => (w.recorder, w.pause, w.run_modules),
            None => (
                Rc::new(Recorder::new(config.record)),
                Rc::default(),
                (0..program.modules.len()).collect(),
            ),
        };
        Interp {
            lowered,
            options,
            dirs,
            program,
            sources,
            recorder,
            config,
            consts: RefCell::new(vec![Vec::new(); program.modules.len()]),
            tool_limits: RefCell::new(HashMap::new()),
            replayed: Cell::new(0),
            cache: RefCell::new(HashMap::new()),
            inflight: RefCell::new(HashMap::new()),
            host: host.unwrap_or_else(|| Rc::new(host::Local::new())),
            run_modules,
            regexes: RefCell::new(HashMap::new()),
            context: RefCell::new(Value::Null),
            last_yield: Cell::new(Instant::now()),
            yielding: Cell::new(false),
            memory: memory::Memory::default(),
            llm: llm.unwrap_or_else(|| llm::Llm::new(None)),
            policy_counts: policy::Counts::default(),
            loader,
            replan: replan::State::default(),
            pause,
            test,
            at_once: RefCell::new(journal::AtOnce::default()),
        }
    }

    pub fn program(&self) -> &'p Program {
        self.program
    }

    pub fn sources(&self) -> &'p Sources {
        self.sources
    }

    /// The run's record of steps, warnings and times.
    pub fn recorder(&self) -> &Rc<Recorder> {
        &self.recorder
    }

    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// How many steps returned their journaled result (`flowc resume`).
    pub fn replayed(&self) -> usize {
        self.replayed.get()
    }

    /// The LLM decision hook: its decisions and recording.
    pub fn llm(&self) -> &llm::Llm {
        &self.llm
    }

    /// The run's pause at an `approve` (the driver waits for it to settle).
    pub fn pause(&self) -> &approve::Pause {
        &self.pause
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
            .unwrap_or_else(crate::ids::new_run_id);
        let root = self.program.root;
        let lowered = self.lowered.clone();
        let flow = lowered
            .flow_named(root, name)
            .expect("the CLI checked the flow exists");
        // The flow's policy names the tenant, when it does.
        let tenant = self
            .policy_of(root, flow.options.as_deref())
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
