//! What runs: every block of the program lowered once, before the run, into a plan
//! the scheduler follows — its edges as a compressed adjacency list, in-degrees,
//! how many statements read each `let`, each statement's step name (its path
//! segment) and whether it waits; every call resolved; every `with { … }` found.
//! The edges come from `edges.rs`; `flowc graph` draws the plans' own edges.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::slots::{Frames, Slot};
use crate::check::{BlockInfo, BlockKey, Program, Signature, block_key};
use crate::syntax::ast::*;

pub use super::edges::{EdgeKind, block_edges};

/// One statement of a block, as the scheduler sees it.
#[derive(Debug)]
pub struct StepPlan {
    /// Its path segment: the `let` name, else the callee or the construct
    /// (`for`, `if`, …), with `#2`, `#3` … for repeats in the block.
    pub name: Rc<str>,
    /// The name it binds (a `let`).
    pub binds: Option<Rc<str>>,
    /// Does evaluating it wait (tool calls, flows, nested blocks)? If not, it
    /// runs on the spot.
    pub waits: bool,
}

/// A block lowered for the scheduler.
#[derive(Debug)]
pub struct BlockPlan {
    pub steps: Vec<StepPlan>,
    /// How many edges lead into each statement.
    pub indeg: Vec<u32>,
    /// The statements waiting for statement `i`: `dependents[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<u32>,
    dependents: Vec<u32>,
    /// The `let`s of this block each statement reads: `reads[read_at[i]..read_at[i + 1]]`.
    read_at: Vec<u32>,
    reads: Vec<u32>,
    /// How many statements read each statement's value.
    pub readers: Vec<u32>,
    /// Every edge `(from, to, kind)`, in [`block_edges`]' order (for `flowc graph`).
    pub edges: Vec<(u32, u32, EdgeKind)>,
}

impl BlockPlan {
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The statements that wait for statement `i`.
    pub fn dependents(&self, i: usize) -> &[u32] {
        &self.dependents[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The `let`s of the block statement `i` reads.
    pub fn reads(&self, i: usize) -> &[u32] {
        &self.reads[self.read_at[i] as usize..self.read_at[i + 1] as usize]
    }

    /// Does any statement read a `let` of the block?
    pub fn has_reads(&self) -> bool {
        !self.reads.is_empty()
    }
}

/// Where a call or decision stands inside its step: the step itself, or a
/// segment under it (`upper`, `upper#2`, `decide`).
#[derive(Clone, Debug)]
pub enum Within {
    Step,
    Under(Rc<str>),
}

/// Does evaluating `e` wait (tool calls, flows, nested blocks, decisions)? What
/// does not wait is evaluated on the spot. `shadowed`: built-in names some
/// module declares as a tool or flow (a call by such a name may wait).
pub fn waits(shadowed: &HashSet<&str>, e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Duration { .. }
        | ExprKind::Regex { .. }
        | ExprKind::Name(_) => false,
        ExprKind::Str(parts) => parts
            .iter()
            .any(|p| matches!(p, StrPart::Interp(x) if waits(shadowed, x))),
        ExprKind::List(items) => items.iter().any(|x| waits(shadowed, x)),
        ExprKind::Record(fields) => fields.iter().any(|f| waits(shadowed, &f.value)),
        ExprKind::Call(c) => {
            !(c.callee.len() == 1
                && crate::check::is_builtin_fn(&c.callee[0].name)
                && !shadowed.contains(c.callee[0].name.as_str())
                && c.callee[0].name != "llm")
                || c.args.iter().any(|a| waits(shadowed, &a.value))
        }
        ExprKind::Field(b, _) | ExprKind::Wildcard(b) | ExprKind::Unary(_, b) => waits(shadowed, b),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            waits(shadowed, a) || waits(shadowed, b)
        }
        _ => true,
    }
}

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

/// The key of a call or a decision in [`Lowered::within`]: where the node is.
pub fn node_key<T>(node: &T) -> usize {
    node as *const T as usize
}

/// What a call reaches, resolved once by the lowering.
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
    Builtin(&'p str),
}

/// A call, lowered: what it reaches, where it stands in its step (for steps:
/// tools, flows, `llm()`), and whether an argument waits.
#[derive(Clone, Debug)]
pub struct CallPlan<'p> {
    pub callee: Callee<'p>,
    pub place: Option<Within>,
    pub args_wait: bool,
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

pub type AddrMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<AddrHasher>>;

/// The lowered program: a plan for every block, the place of every call and
/// decision inside its step, and every `with { … }` (for the interpreter to decode
/// once, before the run).
pub struct Lowered<'p> {
    blocks: AddrMap<BlockKey, Rc<BlockPlan>>,
    within: AddrMap<usize, Within>,
    calls: AddrMap<usize, CallPlan<'p>>,
    /// Every `with { … }` of the program.
    pub options: Vec<&'p Options>,
    /// Built-in names some module declares as a tool or flow.
    pub shadowed: HashSet<&'p str>,
    /// Where each name read lives (`node_key` of the `Name` expression; of the
    /// `m.item` field expression for an imported module's constant).
    slots: AddrMap<usize, Slot>,
    /// For each block that may be re-planned (`Program::replan_sites`): the
    /// names visible around it and where their values live.
    scopes: AddrMap<BlockKey, Rc<Vec<(&'p str, Slot)>>>,
    /// The tools and flows each flow (by module and name) calls itself, in
    /// its body, its parameters' defaults and its options.
    flow_calls: HashMap<(usize, &'p str), Vec<Callee<'p>>>,
}

impl<'p> Lowered<'p> {
    /// The names visible around a block that may be re-planned (by the key
    /// of the block expression or the flow's body), with their slots.
    pub fn scope(&self, key: BlockKey) -> Option<&Rc<Vec<(&'p str, Slot)>>> {
        self.scopes.get(&key)
    }

    /// The plan of a block (every block of the program has one).
    pub fn block(&self, b: &Block) -> Option<&Rc<BlockPlan>> {
        self.blocks.get(&block_key(b))
    }

    /// Where a decision (`node_key(&expr)`) stands in its step.
    pub fn within(&self, key: usize) -> Option<&Within> {
        self.within.get(&key)
    }

    /// Where the value of a name (`node_key(&expr)`) lives at run time.
    pub fn slot(&self, key: usize) -> Option<Slot> {
        self.slots.get(&key).copied()
    }

    /// A call (`node_key(&call)`), resolved.
    pub fn call(&self, key: usize) -> Option<&CallPlan<'p>> {
        self.calls.get(&key)
    }

    /// The tools and flows that flow `name` of module `module` calls itself.
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
        let mut seen = HashSet::from([(module, name)]);
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

/// Lowers every block of every module of `program`.
pub fn lower_program(program: &Program) -> Lowered<'_> {
    let mut shadowed = HashSet::new();
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
    for m in &program.modules {
        let mut c = HashMap::new();
        let declared = m.ast.items.iter().filter_map(|it| match &it.kind {
            ItemKind::Const(k) => Some(k.name.name.as_str()),
            _ => None,
        });
        for (index, name) in declared.enumerate() {
            c.insert(name, index);
        }
        consts.push(c);
        let mut tools = HashMap::new();
        let mut flows = HashMap::new();
        for it in &m.ast.items {
            match &it.kind {
                ItemKind::Tool(t) => {
                    tools.insert(t.name.name.as_str(), &**t);
                }
                ItemKind::Flow(f) => {
                    flows.insert(f.name.name.as_str(), &**f);
                }
                _ => {}
            }
        }
        decls.push((tools, flows));
    }
    let mut l = Lowering {
        program,
        decls,
        consts,
        frames: Frames::default(),
        module: 0,
        flow: None,
        out: Lowered {
            blocks: AddrMap::default(),
            within: AddrMap::default(),
            calls: AddrMap::default(),
            options: Vec::new(),
            shadowed,
            slots: AddrMap::default(),
            scopes: AddrMap::default(),
            flow_calls: HashMap::new(),
        },
    };
    for (m, md) in program.modules.iter().enumerate() {
        l.module = m;
        for it in &md.ast.items {
            match &it.kind {
                ItemKind::Flow(f) => {
                    l.flow = Some(f.name.name.as_str());
                    // The parameters' frame: defaults and the body see them.
                    l.frames.push(
                        f.params
                            .iter()
                            .map(|p| Some(p.name.name.as_str()))
                            .collect(),
                    );
                    l.params(&f.params);
                    l.options(f.options.as_ref());
                    l.keep_scope(block_key(&f.body));
                    l.block(&f.body, false);
                    l.frames.pop();
                    l.flow = None;
                }
                ItemKind::Tool(t) => {
                    l.frames.push(Vec::new());
                    l.params(&t.params);
                    l.options(t.options.as_ref());
                    l.frames.pop();
                }
                ItemKind::Const(c) => {
                    l.frames.push(Vec::new());
                    l.step(&c.value);
                    l.frames.pop();
                }
                ItemKind::Test(t) => {
                    l.frames.push(Vec::new());
                    l.block(&t.body, false);
                    l.frames.pop();
                }
                ItemKind::Import(_) | ItemKind::Type(_) | ItemKind::Policy(_) => {}
            }
        }
    }
    l.out
}

/// Step names already given in one step or block, for `#2`, `#3` ….
#[derive(Default)]
struct Names<'p>(HashMap<Cow<'p, str>, usize>);

impl<'p> Names<'p> {
    fn next(&mut self, name: Cow<'p, str>) -> Rc<str> {
        let k = self.0.entry(name.clone()).or_insert(0);
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
    /// The run-time frames around what is being lowered.
    frames: Frames<'p>,
    module: usize,
    /// The flow being lowered (its name), for `Lowered::flow_calls`.
    flow: Option<&'p str>,
    out: Lowered<'p>,
}

impl<'p> Lowering<'p> {
    /// Keeps the names visible here when a block here may be re-planned.
    fn keep_scope(&mut self, key: BlockKey) {
        if self.program.replan_sites.contains_key(&key) {
            let visible = Rc::new(self.frames.visible());
            self.out.scopes.insert(key, visible);
        }
    }

    fn options(&mut self, o: Option<&'p Options>) {
        if let Some(o) = o {
            self.out.options.push(o);
        }
    }

    fn params(&mut self, params: &'p [Param]) {
        for p in params {
            if let Some(d) = &p.default {
                self.step(d);
            }
        }
    }

    fn block(&mut self, b: &'p Block, sequence: bool) {
        let empty = BlockInfo::default();
        let info = self.program.blocks.get(&block_key(b)).unwrap_or(&empty);
        let n = b.stmts.len();
        // `let` names are unique in a block; a statement named by its callee or
        // construct that repeats one is `name#2`.
        let mut names = Names::default();
        for s in &b.stmts {
            if let StmtKind::Let { name, .. } = &s.kind {
                names.0.insert(Cow::Borrowed(name.name.as_str()), 1);
            }
        }
        // The block's frame: slot `i` holds statement `i`'s `let` value.
        self.frames.push(
            b.stmts
                .iter()
                .map(|s| match &s.kind {
                    StmtKind::Let { name, .. } => Some(name.name.as_str()),
                    _ => None,
                })
                .collect(),
        );
        let mut steps = Vec::with_capacity(n);
        for s in &b.stmts {
            let (name, binds, expr) = match &s.kind {
                StmtKind::Let { name, value, .. } => (
                    Cow::Borrowed(""),
                    Some(Rc::<str>::from(name.name.as_str())),
                    Some(value),
                ),
                StmtKind::Expr { expr, .. } => (step_word(expr), None, Some(expr)),
                StmtKind::Assert { cond, .. } => (Cow::Borrowed("assert"), None, Some(cond)),
                StmtKind::Mock { value, .. } => (Cow::Borrowed("mock"), None, Some(value)),
                StmtKind::Error { .. } => (Cow::Borrowed("error"), None, None),
            };
            let waits = match (&s.kind, expr) {
                (StmtKind::Let { .. } | StmtKind::Expr { .. }, Some(e)) => {
                    waits(&self.out.shadowed, e)
                }
                (StmtKind::Assert { message, .. }, Some(e)) => {
                    waits(&self.out.shadowed, e)
                        || message
                            .as_ref()
                            .is_some_and(|m| waits(&self.out.shadowed, m))
                }
                _ => false,
            };
            if let Some(e) = expr {
                self.step(e);
            }
            if let StmtKind::Assert {
                message: Some(m), ..
            } = &s.kind
            {
                self.step(m);
            }
            steps.push(StepPlan {
                name: match &binds {
                    Some(b) => b.clone(),
                    None => names.next(name),
                },
                binds,
                waits,
            });
        }
        self.frames.pop();
        let edges = block_edges(b, info, sequence);
        let mut indeg = vec![0u32; n];
        let mut offsets = vec![0u32; n + 1];
        for &(j, i, _) in &edges {
            indeg[i] += 1;
            offsets[j + 1] += 1;
        }
        for k in 0..n {
            offsets[k + 1] += offsets[k];
        }
        let mut fill = offsets.clone();
        let mut dependents = vec![0u32; edges.len()];
        for &(j, i, _) in &edges {
            dependents[fill[j] as usize] = i as u32;
            fill[j] += 1;
        }
        let mut read_at = Vec::with_capacity(n + 1);
        let mut reads = Vec::new();
        let mut readers = vec![0u32; n];
        read_at.push(0);
        for i in 0..n {
            for &j in info.deps.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                if j != i && j < n {
                    reads.push(j as u32);
                    readers[j] += 1;
                }
            }
            read_at.push(reads.len() as u32);
        }
        self.out.blocks.insert(
            block_key(b),
            Rc::new(BlockPlan {
                steps,
                indeg,
                offsets,
                dependents,
                read_at,
                reads,
                readers,
                edges: edges
                    .into_iter()
                    .map(|(j, i, k)| (j as u32, i as u32, k))
                    .collect(),
            }),
        );
    }

    /// A step: `e` is its whole expression (a statement's, a branch's).
    fn step(&mut self, e: &'p Expr) {
        let mut names = Names::default();
        self.expr(e, &mut names, true);
    }

    fn place(&mut self, key: usize, top: bool, names: &mut Names<'p>, name: Cow<'p, str>) {
        let w = within(top, names, name);
        self.out.within.insert(key, w);
    }

    /// What a call reaches from the module being lowered.
    fn callee(&self, c: &'p Call) -> Option<Callee<'p>> {
        let (m, name) = match c.callee.as_slice() {
            [one] => (self.module, one.name.as_str()),
            [module, item] => (
                *self.program.modules[self.module]
                    .imports
                    .get(&module.name)?,
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
            Callee::Builtin(name)
        })
    }

    /// Walks an expression of a step: calls and decisions get their place in it;
    /// nested blocks and branches are lowered as steps of their own.
    fn expr(&mut self, e: &'p Expr, names: &mut Names<'p>, top: bool) {
        self.keep_scope((e.span.file, e.span.start));
        match &e.kind {
            ExprKind::Call(c) => {
                if let Some(callee) = self.callee(c) {
                    let place = matches!(
                        callee,
                        Callee::Tool { .. } | Callee::Flow { .. } | Callee::Llm
                    )
                    .then(|| within(top, names, callee_name(c)));
                    let args_wait = c.args.iter().any(|a| waits(&self.out.shadowed, &a.value));
                    if let Some(f) = self.flow
                        && matches!(callee, Callee::Tool { .. } | Callee::Flow { .. })
                    {
                        self.out
                            .flow_calls
                            .entry((self.module, f))
                            .or_default()
                            .push(callee);
                    }
                    self.out.calls.insert(
                        node_key(c),
                        CallPlan {
                            callee,
                            place,
                            args_wait,
                        },
                    );
                }
                self.options(c.options.as_ref());
                for a in &c.args {
                    self.expr(&a.value, names, false);
                }
            }
            ExprKind::Str(parts) => {
                for p in parts {
                    if let StrPart::Interp(x) = p {
                        self.expr(x, names, false);
                    }
                }
            }
            ExprKind::List(items) => items.iter().for_each(|i| self.expr(i, names, false)),
            ExprKind::Record(fields) => fields
                .iter()
                .for_each(|f| self.expr(&f.value, names, false)),
            // A path over a call (`echo(value: 1).value`) and the left side of
            // `catch` keep the call the step's own.
            ExprKind::Field(b, item) => {
                // `m.item` of an imported module `m` (and no variable `m`): its constant.
                if let ExprKind::Name(m) = &b.kind
                    && self.frames.local(&m.name).is_none()
                    && let Some(&mi) = self.program.modules[self.module].imports.get(&m.name)
                    && let Some(&index) = self.consts[mi].get(item.name.as_str())
                {
                    let slot = Slot::Const {
                        module: mi as u32,
                        index: index as u32,
                    };
                    self.out.slots.insert(node_key(e), slot);
                } else {
                    self.expr(b, names, top);
                }
            }
            ExprKind::Wildcard(b) => self.expr(b, names, top),
            ExprKind::Index(a, b) | ExprKind::Catch(a, b) => {
                self.expr(a, names, top);
                self.expr(b, names, false);
            }
            ExprKind::Unary(_, b) => self.expr(b, names, false),
            ExprKind::Binary(_, a, b) => {
                self.expr(a, names, false);
                self.expr(b, names, false);
            }
            ExprKind::Parallel {
                options, branches, ..
            }
            | ExprKind::Race { options, branches } => {
                self.options(options.as_ref());
                for br in branches {
                    self.step(&br.value);
                }
            }
            ExprKind::Sequence { options, block } => {
                self.options(options.as_ref());
                self.block(block, true);
            }
            ExprKind::Dag { options, block } => {
                self.options(options.as_ref());
                self.block(block, false);
            }
            ExprKind::Block(block) => self.block(block, false),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond, names, false);
                self.block(then, false);
                match otherwise.as_deref() {
                    Some(Else::Block(b)) => self.block(b, false),
                    Some(Else::If(x)) => self.expr(x, names, false),
                    None => {}
                }
            }
            ExprKind::Match { scrutinee, arms } => {
                self.expr(scrutinee, names, false);
                for a in arms {
                    if let Pattern::Literals(lits) = &a.pattern {
                        lits.iter().for_each(|l| self.expr(l, names, false));
                    }
                    self.expr(&a.body, names, false);
                }
            }
            ExprKind::Loop {
                var,
                init,
                max,
                until,
                options,
                body,
            } => {
                self.options(options.as_ref());
                self.expr(init, names, false);
                if let Some(m) = max {
                    self.expr(m, names, false);
                }
                self.frames.push(vec![Some(var.name.as_str())]);
                self.expr(until, names, false);
                self.frames.pop();
                self.frames
                    .push(vec![Some(var.name.as_str()), Some("iteration")]);
                self.block(body, false);
                self.frames.pop();
            }
            ExprKind::For {
                var,
                iter,
                filter,
                options,
                body,
            } => {
                self.options(options.as_ref());
                self.expr(iter, names, false);
                self.frames.push(vec![Some(var.name.as_str())]);
                if let Some(f) = filter {
                    self.expr(f, names, false);
                }
                self.block(body, false);
                self.frames.pop();
            }
            ExprKind::Try {
                options,
                body,
                var,
                handler,
            } => {
                self.options(options.as_ref());
                self.block(body, false);
                self.frames
                    .push(vec![var.as_ref().map(|v| v.name.as_str())]);
                self.block(handler, false);
                self.frames.pop();
            }
            ExprKind::Decide {
                prompt,
                context,
                arms,
            } => {
                self.place(node_key(e), top, names, Cow::Borrowed("decide"));
                self.expr(prompt, names, false);
                if let Some(c) = context {
                    self.expr(c, names, false);
                }
                for a in arms {
                    self.expr(&a.body, names, false);
                }
            }
            ExprKind::Approve { message, context } => {
                self.place(node_key(e), top, names, Cow::Borrowed("approve"));
                self.expr(message, names, false);
                if let Some(c) = context {
                    self.expr(c, names, false);
                }
            }
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Null
            | ExprKind::Duration { .. }
            | ExprKind::Regex { .. } => {}
            ExprKind::Name(id) => {
                if let Some(slot) =
                    self.frames
                        .resolve(&id.name, self.module, &self.consts[self.module])
                {
                    self.out.slots.insert(node_key(e), slot);
                }
            }
        }
    }
}

/// The place of a call or decision in its step: the step itself when it is the
/// step's whole expression (`top`), else a name under it.
fn within<'p>(top: bool, names: &mut Names<'p>, name: Cow<'p, str>) -> Within {
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
