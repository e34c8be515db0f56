//! What runs: every block of the program lowered once, before the run, into a plan
//! the scheduler follows — its edges as a compressed adjacency list, in-degrees,
//! how many statements read each `let`, each statement's step name (its path
//! segment) and whether it waits; every call resolved; every `with { … }` found.
//! The edges come from `edges.rs`; `flowc graph` draws the plans' own edges.

use std::borrow::Cow;
// Fx hashing: names and addresses, hashed for every node of a large flow.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use smol_str::SmolStr;
use std::rc::Rc;

use super::expr as ir;
use super::slots::{Frames, Slot};
use crate::builtins::Builtin;
use crate::check::options::{self, Opt, OptValue};
use crate::check::{BlockInfo, BlockKey, Program, Signature, block_key};
use crate::span::Span;
use crate::syntax::ast::*;

pub use super::edges::{EdgeKind, block_edges};

pub use super::expr::{BlockPlan, StepPlan, Within};

/// Is a call a step of its own (a tool, a flow, `llm()`), not a built-in function?
/// `module`: where its single names resolve.
pub fn is_step_call(program: &Program, module: usize, c: &Call) -> bool {
    let name = callee_name(c);
    let md = &program.modules[module];
    let declared = md.tools.contains_key(&*name) || md.flows.contains_key(&*name);
    !(c.callee.len() == 1 && crate::check::is_builtin_fn(&name)) || declared || name == "llm"
}

/// A callee as written: `upper`, `m.cpu`.
pub fn callee_name(c: &Call) -> Cow<'_, str> {
    match c.callee.as_slice() {
        [one] => Cow::Borrowed(one.name.as_str()),
        more => Cow::Owned(
            more.iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join("."),
        ),
    }
}

/// What a call reaches, resolved once by the lowering (for the calls each
/// flow makes: `Lowered::flow_calls`).
#[derive(Clone, Copy, Debug)]
pub enum Callee<'p> {
    Tool {
        module: usize,
        decl: &'p ToolDecl,
        sig: &'p Signature,
    },
    Flow {
        module: usize,
        decl: &'p FlowDecl,
    },
    /// `llm("question", …)`.
    Llm,
    /// A built-in function, by name.
    Builtin(Option<Builtin>),
}

/// A hasher for keys that are addresses or small integers (one multiply).
#[derive(Default, Clone, Copy)]
pub struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub type AddrMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<AddrHasher>>;

/// The lowered program: the owned IR of every tool, flow, constant and test
/// (`ir::expr`), a plan for every block, every `with { … }` decoded.
pub struct Lowered<'p> {
    blocks: AddrMap<BlockKey, Rc<BlockPlan>>,
    /// Every `with { … }` of the program, decoded (by `ir::Options::id`).
    options: Vec<Vec<(Opt, OptValue)>>,
    /// Built-in names some module declares as a tool or flow.
    pub shadowed: HashSet<&'p str>,
    /// For each block that may be re-planned (`Program::replan_sites`): the
    /// names visible around it and where their values live.
    scopes: AddrMap<BlockKey, Rc<Vec<(SmolStr, Slot)>>>,
    /// The tools and flows each flow (by module and name) calls itself, in
    /// its body, its parameters' defaults and its options.
    flow_calls: HashMap<(usize, &'p str), Vec<Callee<'p>>>,
    tools: Vec<ir::Tool<'p>>,
    flows: Vec<ir::Flow>,
    /// Each module's flows by name (their ids).
    flow_ids: Vec<HashMap<&'p str, u32>>,
    /// Each module's constants, in source order.
    consts: Vec<Vec<ir::Const>>,
    /// The test blocks of every module, in source order.
    tests: Vec<ir::Test>,
}

impl<'p> Lowered<'p> {
    /// The names visible around a block that may be re-planned (by the key
    /// of the block expression or the flow's body), with their slots.
    pub fn scope(&self, key: BlockKey) -> Option<&Rc<Vec<(SmolStr, Slot)>>> {
        self.scopes.get(&key)
    }

    /// The plan of a block of the AST (every block of the program has one).
    pub fn block(&self, b: &Block) -> Option<&Rc<BlockPlan>> {
        self.blocks.get(&block_key(b))
    }

    /// Every `with { … }` of the program, decoded, by `ir::Options::id`.
    pub fn options(&self) -> &[Vec<(Opt, OptValue)>] {
        &self.options
    }

    /// Tool `id` (of `ir::Target::Tool`).
    pub fn tool(&self, id: u32) -> &ir::Tool<'p> {
        &self.tools[id as usize]
    }

    /// Flow `id` (of `ir::Target::Flow`).
    pub fn flow(&self, id: u32) -> &ir::Flow {
        &self.flows[id as usize]
    }

    /// Flow `name` of module `m`.
    pub fn flow_named(&self, m: usize, name: &str) -> Option<&ir::Flow> {
        let id = *self.flow_ids.get(m)?.get(name)?;
        Some(self.flow(id))
    }

    /// Tool `name` of module `m`.
    pub fn tool_named(&self, m: usize, name: &str) -> Option<&ir::Tool<'p>> {
        self.tools
            .iter()
            .find(|t| t.module == m && &*t.name == name)
    }

    /// The constants of module `m`, in source order.
    pub fn consts(&self, m: usize) -> &[ir::Const] {
        self.consts.get(m).map_or(&[], Vec::as_slice)
    }

    /// The test blocks of every module, in source order.
    pub fn tests(&self) -> &[ir::Test] {
        &self.tests
    }

    /// The tools and flows that flow `name` of module `module` calls itself,
    /// each once (in the order of their first call).
    pub fn flow_calls(&self, module: usize, name: &'p str) -> &[Callee<'p>] {
        self.flow_calls
            .get(&(module, name))
            .map_or(&[], Vec::as_slice)
    }

    /// Every tool flow `name` of module `module` reaches through its calls
    /// and the flows it calls, each once; `None` when it reaches flow
    /// `avoid` (module and name), itself included.
    pub fn tools_reached(
        &self,
        module: usize,
        name: &'p str,
        avoid: (usize, &str),
    ) -> Option<Vec<&'p Signature>> {
        let mut seen = HashSet::from_iter([(module, name)]);
        let mut todo = vec![(module, name)];
        let mut tools = Vec::new();
        while let Some((m, f)) = todo.pop() {
            if (m, f) == avoid {
                return None;
            }
            for c in self.flow_calls(m, f) {
                match *c {
                    Callee::Tool { sig, .. } => tools.push(sig),
                    Callee::Flow { module, decl } => {
                        if seen.insert((module, decl.name.name.as_str())) {
                            todo.push((module, decl.name.name.as_str()));
                        }
                    }
                    Callee::Llm | Callee::Builtin(_) => {}
                }
            }
        }
        Some(tools)
    }
}

/// Each statement's height: the longest chain of statements that wait for
/// it, one after the other (0 for a statement nothing waits for). Computed in
/// topological order, so a statement's edges may point either way in the
/// block; one in a cycle (none pass the checker) counts 0.
fn heights(indeg: &[u32], offsets: &[u32], dependents: &[u32]) -> Vec<u32> {
    let n = indeg.len();
    let mut left = indeg.to_vec();
    let mut order: Vec<usize> = (0..n).filter(|&i| left[i] == 0).collect();
    let mut k = 0;
    while k < order.len() {
        let j = order[k];
        k += 1;
        for &d in &dependents[offsets[j] as usize..offsets[j + 1] as usize] {
            let d = d as usize;
            left[d] -= 1;
            if left[d] == 0 {
                order.push(d);
            }
        }
    }
    let mut height = vec![0u32; n];
    for &j in order.iter().rev() {
        height[j] = dependents[offsets[j] as usize..offsets[j + 1] as usize]
            .iter()
            .map(|&d| height[d as usize].saturating_add(1))
            .max()
            .unwrap_or(0);
    }
    height
}

/// The statements of every flow's body, taken out of a checked program to
/// be lowered and freed one by one ([`lower_program_taking`]).
pub struct Bodies(HashMap<BlockKey, Vec<Stmt>>);

/// Takes the statements of every flow's body out of `program`, which keeps
/// its declarations, types and tables. What runs from it is then lowered by
/// [`lower_program_taking`]; nothing may walk its flows' bodies after (the
/// graph, the REPL, `flowc test` and re-planning lower the whole program).
pub fn take_bodies(program: &mut Program) -> Bodies {
    let mut out = HashMap::default();
    for md in &mut program.modules {
        for it in &mut md.ast.items {
            if let ItemKind::Flow(f) = &mut it.kind {
                let key = block_key(&f.body);
                out.insert(key, std::mem::take(&mut f.body.stmts));
            }
        }
    }
    Bodies(out)
}

/// A block's statements: the program's, or taken out of it (each freed once
/// lowered, so the AST and the IR of a large flow are not alive together).
enum Stmts<'s> {
    Borrowed(&'s [Stmt]),
    Owned(Vec<Stmt>),
}

impl Stmts<'_> {
    fn all(&self) -> &[Stmt] {
        match self {
            Stmts::Borrowed(s) => s,
            Stmts::Owned(v) => v,
        }
    }

    /// Statement `i` is lowered: an owned one's expressions go.
    fn release(&mut self, i: usize) {
        if let Stmts::Owned(v) = self {
            v[i].kind = StmtKind::Error { binds: None };
        }
    }
}

/// Lowers every block of every module of `program`.
pub fn lower_program(program: &Program) -> Lowered<'_> {
    lower(program, None)
}

/// Lowers `program`, whose flows' bodies are `bodies` ([`take_bodies`]),
/// freeing each statement once lowered.
pub fn lower_program_taking(program: &Program, bodies: Bodies) -> Lowered<'_> {
    lower(program, Some(bodies))
}

fn lower(program: &Program, mut bodies: Option<Bodies>) -> Lowered<'_> {
    let mut shadowed = HashSet::default();
    for m in &program.modules {
        for it in &m.ast.items {
            if let ItemKind::Tool(_) | ItemKind::Flow(_) = &it.kind
                && let Some(n) = it.kind.name()
                && crate::check::is_builtin_fn(&n.name)
            {
                shadowed.insert(n.name.as_str());
            }
        }
    }
    let mut decls = Vec::new();
    let mut consts = Vec::new();
    let mut flow_ids = Vec::new();
    let mut tool_ids = Vec::new();
    let (mut n_tools, mut n_flows) = (0u32, 0u32);
    for m in &program.modules {
        let mut c = HashMap::default();
        let declared = m.ast.items.iter().filter_map(|it| match &it.kind {
            ItemKind::Const(k) => Some(k.name.name.as_str()),
            _ => None,
        });
        for (index, name) in declared.enumerate() {
            c.insert(name, index);
        }
        consts.push(c);
        let mut tools = HashMap::default();
        let mut flows = HashMap::default();
        let mut fids = HashMap::default();
        let mut tids = HashMap::default();
        for it in &m.ast.items {
            match &it.kind {
                ItemKind::Tool(t) => {
                    tools.insert(t.name.name.as_str(), &**t);
                    tids.entry(t.name.name.as_str()).or_insert_with(|| {
                        n_tools += 1;
                        n_tools - 1
                    });
                }
                ItemKind::Flow(f) => {
                    flows.insert(f.name.name.as_str(), &**f);
                    fids.entry(f.name.name.as_str()).or_insert_with(|| {
                        n_flows += 1;
                        n_flows - 1
                    });
                }
                _ => {}
            }
        }
        decls.push((tools, flows));
        flow_ids.push(fids);
        tool_ids.push(tids);
    }
    let mut l = Lowering {
        program,
        decls,
        consts,
        tool_ids,
        frames: Frames::default(),
        module: 0,
        flow: None,
        called: HashSet::default(),
        interned: HashSet::default(),
        mocks: Vec::new(),
        tools: (0..n_tools).map(|_| None).collect(),
        flows: (0..n_flows).map(|_| None).collect(),
        out: Lowered {
            blocks: AddrMap::default(),
            options: Vec::new(),
            shadowed,
            scopes: AddrMap::default(),
            flow_calls: HashMap::default(),
            tools: Vec::new(),
            flows: Vec::new(),
            flow_ids,
            consts: Vec::new(),
            tests: Vec::new(),
        },
    };
    for (m, md) in program.modules.iter().enumerate() {
        l.module = m;
        let mut module_consts = Vec::new();
        for it in &md.ast.items {
            match &it.kind {
                ItemKind::Flow(f) => {
                    l.flow = Some(f.name.name.as_str());
                    // The parameters' frame: defaults and the body see them.
                    l.frames
                        .push(f.params.iter().map(|p| Some(p.name.name.clone())).collect());
                    let params = l.params(&f.params);
                    let options = l.options(f.options.as_deref());
                    l.keep_scope(block_key(&f.body));
                    let taken = bodies
                        .as_mut()
                        .and_then(|b| b.0.remove(&block_key(&f.body)));
                    let body = match taken {
                        Some(stmts) => l.block_in(f.body.span, Stmts::Owned(stmts), false),
                        None => l.block(&f.body, false),
                    };
                    l.frames.pop();
                    l.flow = None;
                    let id = l.out.flow_ids[m][f.name.name.as_str()] as usize;
                    if l.flows[id].is_none() {
                        l.flows[id] = Some(ir::Flow {
                            module: m,
                            name: Rc::from(f.name.name.as_str()),
                            name_span: f.name.span,
                            params,
                            options,
                            body,
                        });
                    }
                }
                ItemKind::Tool(t) => {
                    l.frames.push(Vec::new());
                    let params = l.params(&t.params);
                    let options = l.options(t.options.as_deref());
                    l.frames.pop();
                    let id = l.tool_ids[m][t.name.name.as_str()] as usize;
                    if l.tools[id].is_none()
                        && let Some(sig) = md.tools.get(t.name.name.as_str())
                    {
                        let binding = binding_of(&t.binding.kind, &md.ast.items);
                        l.tools[id] = Some(ir::Tool {
                            module: m,
                            name: Rc::from(t.name.name.as_str()),
                            effect: t.effect,
                            params,
                            binding_text: binding.text(&t.name.name).into(),
                            binding,
                            options,
                            sig,
                        });
                    }
                }
                ItemKind::Const(c) => {
                    l.frames.push(Vec::new());
                    let value = l.step(&c.value);
                    l.frames.pop();
                    module_consts.push(ir::Const {
                        name: Rc::from(c.name.name.as_str()),
                        value,
                    });
                }
                ItemKind::Test(t) => {
                    l.frames.push(Vec::new());
                    let body = l.block(&t.body, false);
                    l.frames.pop();
                    let mocks = std::mem::take(&mut l.mocks);
                    l.out.tests.push(ir::Test {
                        module: m,
                        name: t.name.clone(),
                        name_span: t.name_span,
                        mocks,
                        body,
                    });
                }
                ItemKind::Import(_)
                | ItemKind::Type(_)
                | ItemKind::Policy(_)
                | ItemKind::McpServer(_)
                | ItemKind::Schedule(_) => {}
            }
        }
        l.out.consts.push(module_consts);
    }
    let mut out = l.out;
    // Every declared tool and flow was lowered (a tool the checker gave no
    // signature is an error the run never reaches: its id is not called).
    out.flows = l.flows.into_iter().flatten().collect();
    out.tools = l.tools.into_iter().flatten().collect();
    out
}

/// Every name a statement's expressions read, in it or its nested blocks
/// (a name a nested `let` or variable shadows too: more than it reads,
/// never less).
fn names_in(s: &Stmt) -> HashSet<SmolStr> {
    fn walk(e: &Expr, out: &mut HashSet<SmolStr>) {
        if let ExprKind::Name(id) = &e.kind {
            out.insert(id.name.clone());
        }
        crate::syntax::ast::children(e, &mut |c| walk(c, out));
    }
    let mut out = HashSet::default();
    match &s.kind {
        StmtKind::Let { value: e, .. } | StmtKind::Expr { expr: e, .. } => walk(e, &mut out),
        StmtKind::Assert { cond, message } => {
            walk(cond, &mut out);
            if let Some(m) = message {
                walk(m, &mut out);
            }
        }
        StmtKind::Mock { value, .. } => walk(value, &mut out),
        StmtKind::Error { .. } => {}
    }
    out
}

/// A tool's binding as data: the literals of its declaration (an `mcp`
/// binding's server looked up among `items`, its module's).
pub fn binding_of(kind: &BindingKind, items: &[Item]) -> ir::Binding {
    match kind {
        BindingKind::Builtin(n) => ir::Binding::Builtin(lit(n)),
        BindingKind::Exec(argv) => ir::Binding::Exec {
            argv: match &argv.kind {
                ExprKind::List(items) => items.iter().map(lit).collect(),
                _ => Vec::new(),
            },
        },
        BindingKind::Http { method, url } => ir::Binding::Http {
            method: method.name.to_string(),
            url: lit(url),
        },
        BindingKind::Mcp { server, tool } => ir::Binding::Mcp {
            server: mcp_server_of(&server.name, items).unwrap_or_else(|| ir::McpServer {
                name: server.name.to_string(),
                transport: ir::McpTransport::Stdio { argv: Vec::new() },
            }),
            tool: lit(tool),
        },
    }
}

/// The `mcp server` item named `name` among `items`, as data.
pub fn mcp_server_of(name: &str, items: &[Item]) -> Option<ir::McpServer> {
    items.iter().find_map(|it| match &it.kind {
        ItemKind::McpServer(m) if m.name.name == name => Some(ir::McpServer::of(m)),
        _ => None,
    })
}

/// The text of a plain string literal (its text parts).
fn lit(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Str(parts) => parts
            .iter()
            .map(|p| match p {
                StrPart::Text(t) => t.as_str(),
                StrPart::Interp(_) => "",
            })
            .collect(),
        _ => String::new(),
    }
}

/// Step names already given in one step or block, for `#2`, `#3` ….
#[derive(Default)]
struct Names(HashMap<SmolStr, usize>);

impl Names {
    fn next(&mut self, name: Cow<'_, str>) -> Rc<str> {
        self.next_in(name, false)
    }

    /// The next name for `name`, counted from 1 when a `let` of the block
    /// has it already (`taken`): `name#2`.
    fn next_in(&mut self, name: Cow<'_, str>, taken: bool) -> Rc<str> {
        let k = self
            .0
            .entry(SmolStr::new(&*name))
            .or_insert(usize::from(taken));
        *k += 1;
        if *k == 1 {
            Rc::from(&*name)
        } else {
            Rc::from(format!("{name}#{k}"))
        }
    }
}

type Decls<'p> = (
    HashMap<&'p str, &'p ToolDecl>,
    HashMap<&'p str, &'p FlowDecl>,
);

struct Lowering<'p> {
    program: &'p Program,
    /// Each module's tools and flows by name.
    decls: Vec<Decls<'p>>,
    /// Each module's constants: their index (source order) by name.
    consts: Vec<HashMap<&'p str, usize>>,
    /// Each module's tools by name (their ids).
    tool_ids: Vec<HashMap<&'p str, u32>>,
    /// The run-time frames around what is being lowered.
    frames: Frames,
    module: usize,
    /// The flow being lowered (its name), for `Lowered::flow_calls`.
    flow: Option<&'p str>,
    /// What is in `Lowered::flow_calls` already: (caller's module, caller,
    /// address of the callee's declaration). A flow that calls one tool
    /// 100,000 times keeps it once.
    called: HashSet<(usize, &'p str, usize)>,
    /// Names shared among the nodes that hold them (callees, argument names).
    interned: HashSet<Rc<str>>,
    /// The `mock`s of the test block being lowered.
    mocks: Vec<ir::Mock>,
    tools: Vec<Option<ir::Tool<'p>>>,
    flows: Vec<Option<ir::Flow>>,
    out: Lowered<'p>,
}

/// An IR node.
fn node(kind: ir::ExprKind, span: crate::span::Span, waits: bool) -> ir::Expr {
    ir::Expr { kind, span, waits }
}

fn boxed(e: ir::Expr) -> Box<ir::Expr> {
    Box::new(e)
}

impl<'p> Lowering<'p> {
    /// One shared copy of a name.
    fn intern(&mut self, name: &str) -> Rc<str> {
        if let Some(n) = self.interned.get(name) {
            return n.clone();
        }
        let n: Rc<str> = Rc::from(name);
        self.interned.insert(n.clone());
        n
    }

    /// Keeps the names visible here when a block here may be re-planned.
    fn keep_scope(&mut self, key: BlockKey) {
        if self.program.replan_sites.contains_key(&key) {
            let visible = Rc::new(self.frames.visible());
            self.out.scopes.insert(key, visible);
        }
    }

    /// A `with { … }`: its values decoded (the checker validated names and
    /// kinds), `idempotency_key`'s expression and `policy`'s name.
    fn options(&mut self, o: Option<&Options>) -> Option<Box<ir::Options>> {
        let o = o?;
        let mut decoded = Vec::new();
        let mut idempotency_key = None;
        let mut policy = None;
        for e in &o.entries {
            match e.name.name.as_str() {
                "idempotency_key" => {
                    let mut names = Names::default();
                    idempotency_key = Some(boxed(self.expr(&e.value, &mut names, false)));
                }
                "policy" => {
                    if let ExprKind::Name(n) = &e.value.kind {
                        policy = Some(Rc::from(n.name.as_str()));
                    }
                }
                _ => {}
            }
            if let Some(info) = options::lookup(&e.name.name)
                && let Ok(v) = info.kind.decode(&e.value)
            {
                decoded.push((info.opt, v));
            }
        }
        let id = self.out.options.len() as u32;
        self.out.options.push(decoded);
        Some(Box::new(ir::Options {
            id,
            idempotency_key,
            policy,
            span: o.span,
        }))
    }

    fn params(&mut self, params: &[Param]) -> Vec<ir::Param> {
        params
            .iter()
            .map(|p| ir::Param {
                name: p.name.name.to_string(),
                default: p.default.as_ref().map(|d| self.step(d)),
            })
            .collect()
    }

    fn block(&mut self, b: &Block, sequence: bool) -> ir::Block {
        self.block_in(b.span, Stmts::Borrowed(&b.stmts), sequence)
    }

    /// A block of `stmts` at `span`. Statements it owns are freed one by
    /// one as they are lowered (a flow's body taken by [`take_bodies`]).
    fn block_in(&mut self, span: Span, mut stmts: Stmts<'_>, sequence: bool) -> ir::Block {
        let key: BlockKey = (span.file, span.start);
        let empty = BlockInfo::default();
        let program = self.program;
        let info = program.blocks.get(&key).unwrap_or(&empty);
        let all = stmts.all();
        let n = all.len();
        // `let` names are unique in a block; a statement named by its callee or
        // construct that repeats one is `name#2` (the block's frame knows its
        // `let`s: see `Names::next_in`).
        let mut names = Names::default();
        // Who reads whom: the `let`s each statement reads, and how many
        // statements read each. (A statement waits for what it names after
        // `after`, but reads it only if its expression names it too.)
        let mut read_at = Vec::with_capacity(n + 1);
        let mut reads = Vec::new();
        let mut readers = vec![0u32; n];
        read_at.push(0);
        for (i, s) in all.iter().enumerate() {
            let mut named: Option<HashSet<SmolStr>> = None;
            let after: &[Ident] = match &s.kind {
                StmtKind::Let { after, .. } | StmtKind::Expr { after, .. } => after,
                _ => &[],
            };
            for &j in info.deps.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                if j == i || j >= n {
                    continue;
                }
                if let StmtKind::Let { name, .. } = &all[j].kind
                    && after.iter().any(|a| a.name == name.name)
                    && !named
                        .get_or_insert_with(|| names_in(s))
                        .contains(name.name.as_str())
                {
                    continue;
                }
                reads.push(j as u32);
                readers[j] += 1;
            }
            read_at.push(reads.len() as u32);
        }
        // The block's frame: a slot for each `let` that is read, in order
        // (a value nothing reads is never kept, so it needs none).
        let mut slots = 0u32;
        let slot_of: Vec<u32> = all
            .iter()
            .zip(&readers)
            .map(|(s, &k)| match &s.kind {
                StmtKind::Let { .. } if k > 0 => {
                    slots += 1;
                    slots - 1
                }
                _ => ir::NO_SLOT,
            })
            .collect();
        // The edges, as a compressed adjacency list (made before the
        // statements are lowered: an owned one is gone once lowered).
        let edges = block_edges(all, info, sequence);
        let mut indeg = vec![0u32; n];
        let mut offsets = vec![0u32; n + 1];
        for &(j, i, _) in &edges {
            indeg[i as usize] += 1;
            offsets[j as usize + 1] += 1;
        }
        for k in 0..n {
            offsets[k + 1] += offsets[k];
        }
        let mut fill = offsets.clone();
        let mut dependents = vec![0u32; edges.len()];
        for &(j, i, _) in &edges {
            dependents[fill[j as usize] as usize] = i;
            fill[j as usize] += 1;
        }
        drop((edges, fill));
        let height = heights(&indeg, &offsets, &dependents);
        self.frames.push_mapped(
            all.iter()
                .map(|s| match &s.kind {
                    StmtKind::Let { name, .. } => Some(name.name.clone()),
                    _ => None,
                })
                .collect(),
            slot_of.clone(),
        );
        let mut steps = Vec::with_capacity(n);
        let mut lowered = Vec::with_capacity(n);
        for (i, &slot) in slot_of.iter().enumerate() {
            let s = &stmts.all()[i];
            let (name, binds) = match &s.kind {
                StmtKind::Let { name, .. } => {
                    (Cow::Borrowed(""), Some(Rc::<str>::from(name.name.as_str())))
                }
                StmtKind::Expr { expr, .. } => (step_word(expr), None),
                StmtKind::Assert { .. } => (Cow::Borrowed("assert"), None),
                StmtKind::Mock { .. } => (Cow::Borrowed("mock"), None),
                StmtKind::Error { .. } => (Cow::Borrowed("error"), None),
            };
            let stmt = match &s.kind {
                StmtKind::Let { value: e, .. } | StmtKind::Expr { expr: e, .. } => {
                    let x = self.step(e);
                    match x.kind {
                        ir::ExprKind::Call(call) if x.waits => ir::Stmt::Call {
                            call: *call,
                            span: x.span,
                        },
                        kind => ir::Stmt::Expr(node(kind, x.span, x.waits)),
                    }
                }
                StmtKind::Assert { cond, message } => ir::Stmt::Assert {
                    cond: self.step(cond),
                    message: message.as_ref().map(|m| boxed(self.step(m))),
                },
                StmtKind::Mock {
                    target,
                    args,
                    value,
                } => {
                    let mock = self.mock(target, args.as_deref(), value);
                    self.mocks.push(mock);
                    ir::Stmt::Nothing
                }
                StmtKind::Error { .. } => ir::Stmt::Nothing,
            };
            let waits = match &stmt {
                ir::Stmt::Expr(e) => e.waits,
                ir::Stmt::Call { .. } => true,
                ir::Stmt::Assert { cond, message } => {
                    cond.waits || message.as_ref().is_some_and(|m| m.waits)
                }
                ir::Stmt::Nothing => false,
            };
            let name = match &binds {
                Some(b) => b.clone(),
                None => {
                    let taken = self.frames.binds_here(&name);
                    names.next_in(name, taken)
                }
            };
            lowered.push(stmt);
            steps.push(StepPlan {
                name,
                binds,
                slot,
                waits,
            });
            stmts.release(i);
        }
        self.frames.pop();
        let plan = Rc::new(BlockPlan {
            steps,
            height,
            indeg,
            offsets,
            dependents,
            read_at,
            reads,
            readers,
            slots,
        });
        self.out.blocks.insert(key, plan.clone());
        ir::Block(Box::new(ir::BlockData {
            stmts: lowered,
            plan,
            span,
            key,
        }))
    }

    /// A `mock` statement of a test block.
    fn mock(&mut self, target: &[Ident], args: Option<&[Arg]>, value: &Expr) -> ir::Mock {
        let target = match target {
            [one] if one.name == "llm" => ir::MockTarget::Llm,
            [one] if one.name == "approve" => ir::MockTarget::Approve,
            [one] => ir::MockTarget::Callee {
                module: Some(self.module),
                name: one.name.to_string(),
            },
            [alias, item] => ir::MockTarget::Callee {
                module: self.program.modules[self.module]
                    .imports
                    .get(alias.name.as_str())
                    .copied(),
                name: item.name.to_string(),
            },
            _ => ir::MockTarget::Callee {
                module: None,
                name: String::new(),
            },
        };
        let args = args.map(|args| {
            args.iter()
                .filter_map(|a| Some((a.name.as_ref()?.name.to_string(), self.step(&a.value))))
                .collect()
        });
        let value = match value.mock_failure() {
            Some(msg) => ir::MockValue::Fail(self.step(msg)),
            None => ir::MockValue::Value(self.step(value)),
        };
        ir::Mock {
            target,
            args,
            value,
        }
    }

    /// A step: `e` is its whole expression (a statement's, a branch's).
    fn step(&mut self, e: &Expr) -> ir::Expr {
        let mut names = Names::default();
        self.expr(e, &mut names, true)
    }

    /// What a call reaches from the module being lowered.
    fn callee(&self, c: &Call) -> Option<Callee<'p>> {
        let (m, name) = match c.callee.as_slice() {
            [one] => (self.module, one.name.as_str()),
            [module, item] => (
                *self.program.modules[self.module]
                    .imports
                    .get(module.name.as_str())?,
                item.name.as_str(),
            ),
            _ => return None,
        };
        let (tools, flows) = &self.decls[m];
        if let (Some(&decl), Some(sig)) = (tools.get(name), self.program.modules[m].tools.get(name))
        {
            return Some(Callee::Tool {
                module: m,
                decl,
                sig,
            });
        }
        if let Some(&decl) = flows.get(name) {
            return Some(Callee::Flow { module: m, decl });
        }
        Some(if name == "llm" {
            Callee::Llm
        } else {
            Callee::Builtin(Builtin::from_name(name))
        })
    }

    /// The IR target of a resolved callee.
    fn target(&self, callee: Option<Callee<'p>>) -> ir::Target {
        match callee {
            Some(Callee::Tool { module, decl, .. }) => {
                ir::Target::Tool(self.tool_ids[module][decl.name.name.as_str()])
            }
            Some(Callee::Flow { module, decl }) => {
                ir::Target::Flow(self.out.flow_ids[module][decl.name.name.as_str()])
            }
            Some(Callee::Llm) => ir::Target::Llm,
            Some(Callee::Builtin(b)) => ir::Target::Builtin(b),
            None => ir::Target::Builtin(None),
        }
    }

    fn exprs(&mut self, es: &[Expr], names: &mut Names) -> (Vec<ir::Expr>, bool) {
        let out: Vec<ir::Expr> = es.iter().map(|x| self.expr(x, names, false)).collect();
        let waits = out.iter().any(|x| x.waits);
        (out, waits)
    }

    /// Lowers an expression of a step: calls and decisions get their place in
    /// it; nested blocks and branches are lowered as steps of their own.
    fn expr(&mut self, e: &Expr, names: &mut Names, top: bool) -> ir::Expr {
        use ir::ExprKind as K;
        self.keep_scope((e.span.file, e.span.start));
        let span = e.span;
        match &e.kind {
            ExprKind::Call(c) => {
                let callee = self.callee(c);
                let place = match callee {
                    Some(Callee::Tool { .. } | Callee::Flow { .. } | Callee::Llm) => {
                        Some(within(top, names, callee_name(c)))
                    }
                    _ => None,
                };
                if let (Some(f), Some(callee @ (Callee::Tool { .. } | Callee::Flow { .. }))) =
                    (self.flow, callee)
                {
                    let decl = match callee {
                        Callee::Tool { decl, .. } => std::ptr::from_ref(decl) as usize,
                        Callee::Flow { decl, .. } => std::ptr::from_ref(decl) as usize,
                        Callee::Llm | Callee::Builtin(_) => 0,
                    };
                    if self.called.insert((self.module, f, decl)) {
                        self.out
                            .flow_calls
                            .entry((self.module, f))
                            .or_default()
                            .push(callee);
                    }
                }
                let target = self.target(callee);
                let options = self.options(c.options.as_deref());
                let args: smallvec::SmallVec<[ir::Arg; 1]> = c
                    .args
                    .iter()
                    .map(|a| ir::Arg {
                        name: a.name.as_ref().map(|n| self.intern(&n.name)),
                        value: self.expr(&a.value, names, false),
                    })
                    .collect();
                let args_wait = args.iter().any(|a| a.value.waits);
                let pure = c.callee.len() == 1
                    && crate::check::is_builtin_fn(&c.callee[0].name)
                    && !self.out.shadowed.contains(c.callee[0].name.as_str())
                    && c.callee[0].name != "llm";
                let call = ir::Call {
                    target,
                    name: match callee_name(c) {
                        Cow::Borrowed(n) => self.intern(n),
                        Cow::Owned(n) => Rc::from(n),
                    },
                    args,
                    options,
                    place,
                    args_wait,
                };
                node(K::Call(Box::new(call)), span, !pure || args_wait)
            }
            ExprKind::Str(parts) => {
                let parts: Vec<ir::StrPart> = parts
                    .iter()
                    .map(|p| match p {
                        StrPart::Text(t) => ir::StrPart::Text(t.clone()),
                        StrPart::Interp(x) => ir::StrPart::Interp(self.expr(x, names, false)),
                    })
                    .collect();
                let waits = parts
                    .iter()
                    .any(|p| matches!(p, ir::StrPart::Interp(x) if x.waits));
                node(K::Str(parts), span, waits)
            }
            ExprKind::List(items) => {
                let (items, waits) = self.exprs(items, names);
                node(K::List(items), span, waits)
            }
            ExprKind::Record(fields) => {
                let fields: Vec<(String, ir::Expr)> = fields
                    .iter()
                    .map(|f| (f.name.name.to_string(), self.expr(&f.value, names, false)))
                    .collect();
                let waits = fields.iter().any(|(_, x)| x.waits);
                node(K::Record(fields), span, waits)
            }
            // A path over a call (`echo(value: 1).value`) and the left side of
            // `catch` keep the call the step's own.
            ExprKind::Field(b, item) => {
                // `m.item` of an imported module `m` (and no variable `m`): its constant.
                if let ExprKind::Name(m) = &b.kind
                    && self.frames.local(&m.name).is_none()
                    && let Some(&mi) = self.program.modules[self.module]
                        .imports
                        .get(m.name.as_str())
                    && let Some(&index) = self.consts[mi].get(item.name.as_str())
                {
                    let kind = K::ModuleConst {
                        module: mi as u32,
                        index: index as u32,
                    };
                    node(kind, span, false)
                } else {
                    let b = self.expr(b, names, top);
                    let waits = b.waits;
                    node(K::Field(boxed(b), item.name.to_string()), span, waits)
                }
            }
            ExprKind::Wildcard(b) => {
                let b = self.expr(b, names, top);
                let waits = b.waits;
                node(K::Wildcard(boxed(b)), span, waits)
            }
            ExprKind::Index(a, b) => {
                let a = self.expr(a, names, top);
                let b = self.expr(b, names, false);
                let waits = a.waits || b.waits;
                node(K::Index(boxed(a), boxed(b)), span, waits)
            }
            ExprKind::Catch(a, b) => {
                let a = self.expr(a, names, top);
                let b = self.expr(b, names, false);
                node(K::Catch(boxed(a), boxed(b)), span, true)
            }
            ExprKind::Unary(op, b) => {
                let b = self.expr(b, names, false);
                let waits = b.waits;
                let op = match op {
                    UnOp::Not => ir::UnOp::Not,
                    UnOp::Neg => ir::UnOp::Neg,
                };
                node(K::Unary(op, boxed(b)), span, waits)
            }
            ExprKind::Binary(op, a, b) => {
                let a = self.expr(a, names, false);
                let b = self.expr(b, names, false);
                let waits = a.waits || b.waits;
                node(K::Binary(bin_op(*op), boxed(a), boxed(b)), span, waits)
            }
            ExprKind::Parallel {
                mode,
                options,
                branches,
            } => {
                let options = self.options(options.as_deref());
                let branches = self.branches(branches);
                let mode = match mode {
                    ParallelMode::Record => ir::ParallelMode::Record,
                    ParallelMode::Merge => ir::ParallelMode::Merge,
                    ParallelMode::Concat => ir::ParallelMode::Concat,
                };
                let kind = K::Parallel(Box::new(ir::Parallel {
                    mode,
                    options,
                    branches,
                }));
                node(kind, span, true)
            }
            ExprKind::Race { options, branches } => {
                let options = self.options(options.as_deref());
                let branches = self.branches(branches);
                node(K::Race { options, branches }, span, true)
            }
            ExprKind::Sequence { options, block } => {
                let options = self.options(options.as_deref());
                let block = self.block(block, true);
                node(K::Sequence { options, block }, span, true)
            }
            ExprKind::Dag { options, block } => {
                let options = self.options(options.as_deref());
                let block = self.block(block, false);
                node(K::Dag { options, block }, span, true)
            }
            ExprKind::Block(block) => {
                let block = self.block(block, false);
                node(K::Block(block), span, true)
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.expr(cond, names, false);
                let then = self.block(then, false);
                let otherwise = match otherwise.as_deref() {
                    Some(Else::Block(b)) => Some(Box::new(ir::Else::Block(self.block(b, false)))),
                    Some(Else::If(x)) => Some(Box::new(ir::Else::If(self.expr(x, names, false)))),
                    None => None,
                };
                let kind = K::If {
                    cond: boxed(cond),
                    then,
                    otherwise,
                };
                node(kind, span, true)
            }
            ExprKind::Match { scrutinee, arms } => {
                let scrutinee = self.expr(scrutinee, names, false);
                let arms = arms
                    .iter()
                    .map(|a| {
                        let pattern = match &a.pattern {
                            Pattern::Wildcard(_) => ir::Pattern::Wildcard,
                            Pattern::Literals(lits) => {
                                ir::Pattern::Literals(self.exprs(lits, names).0)
                            }
                        };
                        let body = self.expr(&a.body, names, false);
                        ir::MatchArm { pattern, body }
                    })
                    .collect();
                let kind = K::Match {
                    scrutinee: boxed(scrutinee),
                    arms,
                };
                node(kind, span, true)
            }
            ExprKind::Loop {
                var,
                init,
                max,
                until,
                options,
                body,
            } => {
                let options = self.options(options.as_deref());
                let init = self.expr(init, names, false);
                let max = max.as_ref().map(|m| self.expr(m, names, false));
                self.frames.push(vec![Some(var.name.clone())]);
                let until = self.expr(until, names, false);
                self.frames.pop();
                self.frames.push(vec![
                    Some(var.name.clone()),
                    Some(SmolStr::new_static("iteration")),
                ]);
                let body = self.block(body, false);
                self.frames.pop();
                let kind = K::Loop(Box::new(ir::Loop {
                    var: self.intern(&var.name),
                    init,
                    max,
                    until,
                    options,
                    body,
                }));
                node(kind, span, true)
            }
            ExprKind::For {
                var,
                iter,
                filter,
                options,
                body,
            } => {
                let options = self.options(options.as_deref());
                let iter = self.expr(iter, names, false);
                self.frames.push(vec![Some(var.name.clone())]);
                let filter = filter.as_ref().map(|f| boxed(self.expr(f, names, false)));
                let body = self.block(body, false);
                self.frames.pop();
                let kind = K::For {
                    iter: boxed(iter),
                    filter,
                    options,
                    body,
                };
                node(kind, span, true)
            }
            ExprKind::Try {
                options,
                body,
                var,
                handler,
            } => {
                let options = self.options(options.as_deref());
                let body = self.block(body, false);
                self.frames.push(vec![var.as_ref().map(|v| v.name.clone())]);
                let handler = self.block(handler, false);
                self.frames.pop();
                let kind = K::Try {
                    options,
                    body,
                    binds: var.is_some(),
                    handler,
                };
                node(kind, span, true)
            }
            ExprKind::Decide {
                prompt,
                context,
                arms,
            } => {
                let place = within(top, names, Cow::Borrowed("decide"));
                let prompt = self.expr(prompt, names, false);
                let context = context.as_ref().map(|c| self.expr(c, names, false));
                let arms = arms
                    .iter()
                    .map(|a| ir::DecideArm {
                        label: a.label.name.to_string(),
                        is_else: a.is_else,
                        body: self.expr(&a.body, names, false),
                    })
                    .collect();
                let kind = K::Decide(Box::new(ir::Decide {
                    prompt,
                    context,
                    arms,
                    place,
                }));
                node(kind, span, true)
            }
            ExprKind::Approve {
                message,
                context,
                within: deadline,
            } => {
                let within_ms = deadline.as_ref().and_then(|w| match w.kind {
                    ExprKind::Duration { ms, .. } => ms,
                    _ => None,
                });
                let place = within(top, names, Cow::Borrowed("approve"));
                let message = self.expr(message, names, false);
                let context = context.as_ref().map(|c| self.expr(c, names, false));
                let kind = K::Approve(Box::new(ir::Approve {
                    message,
                    context,
                    place,
                    within_ms,
                }));
                node(kind, span, true)
            }
            ExprKind::Int(n) => node(K::Int(*n), span, false),
            ExprKind::Float(f) => node(K::Float(*f), span, false),
            ExprKind::Bool(b) => node(K::Bool(*b), span, false),
            ExprKind::Null => node(K::Null, span, false),
            ExprKind::Duration { ms, .. } => node(K::Int(ms.unwrap_or(0) as i64), span, false),
            ExprKind::Regex { pattern, flags } => {
                let kind = K::Regex(Box::new(ir::Regex {
                    pattern: pattern.clone(),
                    flags: flags.clone(),
                }));
                node(kind, span, false)
            }
            ExprKind::Name(id) => {
                let slot = self
                    .frames
                    .resolve(&id.name, self.module, &self.consts[self.module]);
                let kind = K::Name {
                    name: Rc::from(id.name.as_str()),
                    slot,
                };
                node(kind, span, false)
            }
        }
    }

    /// The branches of a `parallel` or `race`: each a step of its own.
    fn branches(&mut self, branches: &[Branch]) -> Vec<ir::Branch> {
        branches
            .iter()
            .map(|b| ir::Branch {
                name: b.name.name.to_string(),
                value: self.step(&b.value),
            })
            .collect()
    }
}

fn bin_op(op: BinOp) -> ir::BinOp {
    match op {
        BinOp::Coalesce => ir::BinOp::Coalesce,
        BinOp::Or => ir::BinOp::Or,
        BinOp::And => ir::BinOp::And,
        BinOp::Eq => ir::BinOp::Eq,
        BinOp::Ne => ir::BinOp::Ne,
        BinOp::Lt => ir::BinOp::Lt,
        BinOp::Le => ir::BinOp::Le,
        BinOp::Gt => ir::BinOp::Gt,
        BinOp::Ge => ir::BinOp::Ge,
        BinOp::Match => ir::BinOp::Match,
        BinOp::NotMatch => ir::BinOp::NotMatch,
        BinOp::Concat => ir::BinOp::Concat,
        BinOp::Add => ir::BinOp::Add,
        BinOp::Sub => ir::BinOp::Sub,
        BinOp::Mul => ir::BinOp::Mul,
        BinOp::Div => ir::BinOp::Div,
        BinOp::Rem => ir::BinOp::Rem,
    }
}

/// The place of a call or decision in its step: the step itself when it is the
/// step's whole expression (`top`), else a name under it.
fn within(top: bool, names: &mut Names, name: Cow<'_, str>) -> Within {
    if top {
        Within::Step
    } else {
        Within::Under(names.next(name))
    }
}

/// The step name of a statement that binds nothing: its callee (also under a
/// path or a `catch`), or its construct.
fn step_word(e: &Expr) -> Cow<'_, str> {
    match &e.kind {
        ExprKind::Call(c) => callee_name(c),
        ExprKind::Field(b, _)
        | ExprKind::Wildcard(b)
        | ExprKind::Index(b, _)
        | ExprKind::Catch(b, _) => step_word(b),
        ExprKind::Parallel { .. } => Cow::Borrowed("parallel"),
        ExprKind::Race { .. } => Cow::Borrowed("race"),
        ExprKind::Sequence { .. } => Cow::Borrowed("sequence"),
        ExprKind::Dag { .. } => Cow::Borrowed("dag"),
        ExprKind::If { .. } => Cow::Borrowed("if"),
        ExprKind::Match { .. } => Cow::Borrowed("match"),
        ExprKind::Loop { .. } => Cow::Borrowed("loop"),
        ExprKind::For { .. } => Cow::Borrowed("for"),
        ExprKind::Try { .. } => Cow::Borrowed("try"),
        ExprKind::Decide { .. } => Cow::Borrowed("decide"),
        ExprKind::Approve { .. } => Cow::Borrowed("approve"),
        ExprKind::Block(_) => Cow::Borrowed("block"),
        _ => Cow::Borrowed("expr"),
    }
}

#[cfg(test)]
mod tests;
