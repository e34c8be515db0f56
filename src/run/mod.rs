//! The interpreter: the only place that touches tools. A checked program runs
//! on a single-threaded tokio runtime; every block is scheduled eagerly — a
//! statement starts the moment the statements it reads have finished.

pub mod errors;
mod eval;
pub mod llm;
pub mod memory;
pub mod opts;
pub mod record;
pub mod redact;
pub mod timer;
pub mod tools;
pub mod value;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use serde_json::{Map, Value};
use tokio::sync::Semaphore;

pub use errors::{ErrorKind, Errors, R, RunError};
pub use eval::{Scope, jsonpath};
use opts::Opts;
use record::Recorder;

use crate::check::Program;
use crate::source::Sources;
use crate::syntax::ast::{FlowDecl, ItemKind, ToolDecl};

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
}

/// FxHash (as in rustc): fast for the short names of bindings.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

/// The `let` name of each statement of a block (`None` for other statements).
pub(crate) type Labels = Rc<[Option<Rc<str>>]>;

/// Variables of one block or call, chained to the enclosing ones.
pub struct Env {
    vars: RefCell<HashMap<Rc<str>, Value, FxBuild>>,
    parent: Option<Rc<Env>>,
}

impl Env {
    pub fn root() -> Rc<Env> {
        Rc::new(Env {
            vars: RefCell::new(HashMap::default()),
            parent: None,
        })
    }

    pub fn child(parent: &Rc<Env>) -> Rc<Env> {
        Rc::new(Env {
            vars: RefCell::new(HashMap::default()),
            parent: Some(parent.clone()),
        })
    }

    pub fn set(&self, name: &str, v: Value) {
        self.vars.borrow_mut().insert(Rc::from(name), v);
    }

    /// Drops a variable of this scope (its last reader has finished).
    pub fn remove(&self, name: &str) {
        self.vars.borrow_mut().remove(name);
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        let mut env = self;
        loop {
            if let Some(v) = env.vars.borrow().get(name) {
                return Some(v.clone());
            }
            env = env.parent.as_deref()?;
        }
    }
}

/// A running program.
pub struct Interp<'p> {
    pub program: &'p Program,
    pub sources: &'p Sources,
    pub recorder: Recorder,
    pub config: RunConfig,
    consts: RefCell<Vec<HashMap<String, Value>>>,
    tools: Vec<HashMap<&'p str, &'p ToolDecl, FxBuild>>,
    flows: Vec<HashMap<&'p str, &'p FlowDecl, FxBuild>>,
    dirs: Vec<PathBuf>,
    block_labels: RefCell<HashMap<crate::check::BlockKey, Labels, FxBuild>>,
    /// Built-in names that some module declares as a tool or flow: calls by
    /// those names may wait, and resolve in their module at the call.
    shadowed: std::collections::HashSet<&'p str>,
    tool_limits: RefCell<HashMap<(usize, String), Rc<Semaphore>>>,
    tool_opts: RefCell<HashMap<(usize, &'p str), Rc<opts::Opts>>>,
    cache: RefCell<HashMap<String, (Instant, Value)>>,
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
}

impl<'p> Interp<'p> {
    pub fn new(program: &'p Program, sources: &'p Sources, config: RunConfig) -> Interp<'p> {
        let mut tools = Vec::new();
        let mut flows = Vec::new();
        for m in &program.modules {
            let mut t = HashMap::default();
            let mut f = HashMap::default();
            for it in &m.ast.items {
                match &it.kind {
                    ItemKind::Tool(d) => {
                        t.insert(d.name.name.as_str(), &**d);
                    }
                    ItemKind::Flow(d) => {
                        f.insert(d.name.name.as_str(), &**d);
                    }
                    _ => {}
                }
            }
            tools.push(t);
            flows.push(f);
        }
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
        let shadowed = tools
            .iter()
            .flat_map(|t: &HashMap<&'p str, &'p ToolDecl, FxBuild>| t.keys())
            .chain(flows.iter().flat_map(|f| f.keys()))
            .copied()
            .filter(|n| crate::check::is_builtin_fn(n))
            .collect();
        Interp {
            shadowed,
            dirs,
            block_labels: RefCell::new(HashMap::default()),
            program,
            sources,
            recorder: Recorder::new(config.record),
            config,
            consts: RefCell::new(vec![HashMap::new(); program.modules.len()]),
            tools,
            flows,
            tool_limits: RefCell::new(HashMap::new()),
            tool_opts: RefCell::new(HashMap::new()),
            cache: RefCell::new(HashMap::new()),
            regexes: RefCell::new(HashMap::new()),
            http: tools::http::Client::new(),
            context: RefCell::new(Value::Null),
            last_yield: Cell::new(Instant::now()),
            yielding: Cell::new(false),
            memory: memory::Memory::default(),
            llm: llm::Llm::new(None),
        }
    }

    /// The folder of a module's file: where its exec tools run.
    pub fn module_dir(&self, m: usize) -> &std::path::Path {
        &self.dirs[m]
    }

    /// Runs flow `name` of the root module with `inputs` (already parsed by parameter type).
    pub async fn run(&self, name: &str, inputs: Map<String, Value>) -> R<Value> {
        // Without a store's id, one of the same form.
        let run_id = self
            .config
            .run_id
            .clone()
            .unwrap_or_else(crate::store::new_run_id);
        *self.context.borrow_mut() = serde_json::json!({
            "run_id": run_id,
            "flow": name,
            "started_at": value::now_rfc3339(),
            "tenant": self.config.tenant,
            "inputs": Value::Object(inputs.clone()),
        });
        // Constants, module by module (imports first).
        for m in 0..self.program.modules.len() {
            self.eval_consts(m)?;
        }
        let root = self.program.root;
        let flow = *self.flows[root]
            .get(name)
            .expect("the CLI checked the flow exists");
        let mut run = self.call_flow(root, flow, inputs, None, flow.name.span, None);
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
