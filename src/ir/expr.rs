//! The owned IR the interpreter runs: every expression, block, tool and flow of
//! a checked program, lowered once (`plan.rs`). Names are resolved to slots,
//! each node says whether evaluating it waits, options are decoded, tool
//! bindings are data, step names and the places of calls in their steps are
//! precomputed. Only spans point back at the source (for messages); nothing
//! here refers to the AST.

use std::rc::Rc;

use super::slots::Slot;
use crate::check::{BlockKey, Signature};
use crate::span::Span;

/// An expression, lowered.
#[derive(Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// Does evaluating it wait (tool calls, flows, nested blocks, decisions)?
    /// What does not wait is evaluated on the spot.
    pub waits: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Coalesce,
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
    NotMatch,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Coalesce => "??",
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Match => "~",
            BinOp::NotMatch => "!~",
            BinOp::Concat => "++",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParallelMode {
    Record,
    Merge,
    Concat,
}

#[derive(Debug)]
pub enum StrPart {
    Text(String),
    Interp(Expr),
}

impl Expr {
    /// The options of a block expression (`parallel`, `race`, `sequence`,
    /// `dag`, `try`).
    pub fn block_options(&self) -> Option<&Options> {
        match &self.kind {
            ExprKind::Parallel(p) => p.options.as_deref(),
            ExprKind::Race { options, .. }
            | ExprKind::Sequence { options, .. }
            | ExprKind::Dag { options, .. }
            | ExprKind::Try { options, .. } => options.as_deref(),
            _ => None,
        }
    }
}

/// A `with { … }`, decoded once by the lowering.
#[derive(Debug)]
pub struct Options {
    /// Its decoded values: `Lowered::options()[id]`.
    pub id: u32,
    /// `idempotency_key:` (evaluated per call: a string, or `true`).
    pub idempotency_key: Option<Box<Expr>>,
    /// `policy: NAME`.
    pub policy: Option<Rc<str>>,
    pub span: Span,
}

#[derive(Debug)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Str(Vec<StrPart>),
    Regex(Box<Regex>),
    /// A name read, where the lowering found its value (`None`: nowhere).
    Name {
        name: Rc<str>,
        slot: Option<Slot>,
    },
    /// `m.item`: constant `index` of the imported module `module`.
    ModuleConst {
        module: u32,
        index: u32,
    },
    List(Vec<Expr>),
    Record(Vec<(String, Expr)>),
    Call(Box<Call>),
    Field(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    /// `list[*]`: the following path applies to every element.
    Wildcard(Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Catch(Box<Expr>, Box<Expr>),
    Parallel(Box<Parallel>),
    Race {
        options: Option<Box<Options>>,
        branches: Vec<Branch>,
    },
    Sequence {
        options: Option<Box<Options>>,
        block: Block,
    },
    Dag {
        options: Option<Box<Options>>,
        block: Block,
    },
    If {
        cond: Box<Expr>,
        then: Block,
        otherwise: Option<Box<Else>>,
    },
    Match {
        scrutinee: Box<Expr>,
        arms: Vec<MatchArm>,
    },
    Loop(Box<Loop>),
    For {
        iter: Box<Expr>,
        filter: Option<Box<Expr>>,
        options: Option<Box<Options>>,
        body: Block,
    },
    Try {
        options: Option<Box<Options>>,
        body: Block,
        /// `catch e`: the handler's frame binds the error.
        binds: bool,
        handler: Block,
    },
    Decide(Box<Decide>),
    Approve(Box<Approve>),
    Block(Block),
}

// The rarer constructs are boxed: inline, the largest of them sets the size
// of every expression (56 bytes, not 80).

/// A regex literal.
#[derive(Debug)]
pub struct Regex {
    pub pattern: String,
    pub flags: String,
}

/// `parallel { … }` (and `merge`, `concat`).
#[derive(Debug)]
pub struct Parallel {
    pub mode: ParallelMode,
    pub options: Option<Box<Options>>,
    pub branches: Vec<Branch>,
}

/// `loop var = init max n until cond { … }`.
#[derive(Debug)]
pub struct Loop {
    pub var: Rc<str>,
    pub init: Expr,
    pub max: Option<Expr>,
    pub until: Expr,
    pub options: Option<Box<Options>>,
    pub body: Block,
}

/// `decide "prompt" { … }`.
#[derive(Debug)]
pub struct Decide {
    pub prompt: Expr,
    pub context: Option<Expr>,
    pub arms: Vec<DecideArm>,
    pub place: Within,
}

/// `approve "message"`.
#[derive(Debug)]
pub struct Approve {
    pub message: Expr,
    pub context: Option<Expr>,
    pub place: Within,
    /// `within 24h`: how long it waits for an answer before it answers `false`.
    pub within_ms: Option<u64>,
}

#[derive(Debug)]
pub enum Else {
    If(Expr),
    Block(Block),
}

#[derive(Debug)]
pub struct Branch {
    pub name: String,
    pub value: Expr,
}

#[derive(Debug)]
pub enum Pattern {
    Wildcard,
    Literals(Vec<Expr>),
}

#[derive(Debug)]
pub struct MatchArm {
    pub pattern: Pattern,
    pub body: Expr,
}

#[derive(Debug)]
pub struct DecideArm {
    pub label: String,
    pub is_else: bool,
    pub body: Expr,
}

#[derive(Debug)]
pub struct Arg {
    pub name: Option<Rc<str>>,
    pub value: Expr,
}

/// What a call reaches, resolved by the lowering.
#[derive(Clone, Debug)]
pub enum Target {
    /// Tool `Lowered::tool(id)`.
    Tool(u32),
    /// Flow `Lowered::flow(id)`.
    Flow(u32),
    /// `llm("question", …)`.
    Llm,
    /// A built-in function, by name (`None`: not one; an error at run time).
    Builtin(Option<crate::builtins::Builtin>),
}

/// A call, lowered.
#[derive(Debug)]
pub struct Call {
    pub target: Target,
    /// The callee as written: `upper`, `m.cpu`.
    pub name: Rc<str>,
    /// Inline when there is one (most tool calls' case): a call read at run
    /// time follows no pointer to it.
    pub args: smallvec::SmallVec<[Arg; 1]>,
    pub options: Option<Box<Options>>,
    /// Where it stands in its step (tools, flows, `llm()`).
    pub place: Option<Within>,
    /// Does an argument wait?
    pub args_wait: bool,
}

/// A block, lowered (boxed: an expression that holds one stays small).
#[derive(Debug)]
pub struct Block(pub Box<BlockData>);

impl std::ops::Deref for Block {
    type Target = BlockData;

    fn deref(&self) -> &BlockData {
        &self.0
    }
}

/// A block's statements and the scheduler's plan.
#[derive(Debug)]
pub struct BlockData {
    pub stmts: Vec<Stmt>,
    pub plan: Rc<BlockPlan>,
    pub span: Span,
    /// Its key in the checker's tables (`Program::replan_sites`).
    pub key: BlockKey,
}

#[derive(Debug)]
pub enum Stmt {
    /// A `let` or an expression statement.
    Expr(Expr),
    /// A `let` or an expression statement that is one call of a tool, a
    /// flow or `llm()`, inline: running a block reads its statements in
    /// order, without following a pointer to each call.
    Call { call: Call, span: Span },
    /// `assert cond, message`.
    Assert {
        cond: Expr,
        message: Option<Box<Expr>>,
    },
    /// `mock …` (installed before a test runs) or a region that did not parse.
    Nothing,
}

/// A tool binding as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// `builtin "name"`
    Builtin(String),
    /// `exec ["prog", "arg"]`
    Exec { argv: Vec<String> },
    /// `http post "URL"`
    Http { method: String, url: String },
    /// `mcp SERVER "tool_name"`: the server's item as data, and the tool's
    /// name on it.
    Mcp { server: McpServer, tool: String },
}

/// An `mcp server` item as data (the checker's type).
pub use crate::check::mcp::{McpServer, McpTransport};

impl Binding {
    /// What a tool is bound to, for cache keys and the journal's hash: its
    /// name and its binding as written (`exec ["python3", "t.py"]`), without
    /// positions, so that editing other parts of the file does not change it.
    pub fn text(&self, name: &str) -> String {
        match self {
            Binding::Builtin(n) => format!("{name} = builtin {n:?}"),
            Binding::Exec { argv } => {
                let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
                format!("{name} = exec [{}]", argv.join(", "))
            }
            Binding::Http { method, url } => format!("{name} = http {method} {url:?}"),
            Binding::Mcp { server, tool } => {
                format!("{name} = mcp {} {tool:?} ({})", server.name, server.text())
            }
        }
    }
}

/// A parameter: its name and default.
#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub default: Option<Expr>,
}

/// A tool declaration, lowered.
#[derive(Debug)]
pub struct Tool<'p> {
    pub module: usize,
    pub name: Rc<str>,
    pub effect: bool,
    pub params: Vec<Param>,
    pub binding: Binding,
    /// [`Binding::text`], made once.
    pub binding_text: Rc<str>,
    pub options: Option<Box<Options>>,
    pub sig: &'p Signature,
}

/// A flow declaration, lowered.
#[derive(Debug)]
pub struct Flow {
    pub module: usize,
    pub name: Rc<str>,
    pub name_span: Span,
    pub params: Vec<Param>,
    pub options: Option<Box<Options>>,
    pub body: Block,
}

/// A constant, lowered.
#[derive(Debug)]
pub struct Const {
    pub name: Rc<str>,
    pub value: Expr,
}

/// What a `mock` gives.
#[derive(Debug)]
pub enum MockValue {
    Value(Expr),
    /// `fail("message")`
    Fail(Expr),
}

/// What a `mock` replaces.
#[derive(Debug)]
pub enum MockTarget {
    /// `mock llm = …`
    Llm,
    /// `mock approve = …`
    Approve,
    /// A tool or flow of module `module` (`None`: an unknown alias).
    Callee { module: Option<usize>, name: String },
}

#[derive(Debug)]
pub struct Mock {
    pub target: MockTarget,
    /// `mock lookup(id: "a") = …`: the named arguments to match.
    pub args: Option<Vec<(String, Expr)>>,
    pub value: MockValue,
}

/// A `test` block, lowered.
#[derive(Debug)]
pub struct Test {
    pub module: usize,
    pub name: String,
    pub name_span: Span,
    pub mocks: Vec<Mock>,
    pub body: Block,
}

/// One statement of a block, as the scheduler sees it.
#[derive(Debug)]
pub struct StepPlan {
    /// Its path segment: the `let` name, else the callee or the construct
    /// (`for`, `if`, …), with `#2`, `#3` … for repeats in the block.
    pub name: Rc<str>,
    /// The name it binds (a `let`).
    pub binds: Option<Rc<str>>,
    /// Where its value is kept in the block's frame: a `let` some statement
    /// of the block reads has a slot of its own; any other, [`NO_SLOT`].
    pub slot: u32,
    /// Does evaluating it wait (tool calls, flows, nested blocks)? If not, it
    /// runs on the spot.
    pub waits: bool,
}

/// A block lowered for the scheduler.
#[derive(Debug)]
pub struct BlockPlan {
    pub steps: Vec<StepPlan>,
    /// Each statement's longest chain of statements waiting for it, one
    /// after the other: its priority when a concurrency limit holds steps
    /// back (`run::limit`).
    pub height: Vec<u32>,
    /// How many edges lead into each statement.
    pub indeg: Vec<u32>,
    /// The statements waiting for statement `i`: `dependents[offsets[i]..offsets[i + 1]]`.
    pub(super) offsets: Vec<u32>,
    pub(super) dependents: Vec<u32>,
    /// The `let`s of this block each statement reads: `reads[read_at[i]..read_at[i + 1]]`.
    pub(super) read_at: Vec<u32>,
    pub(super) reads: Vec<u32>,
    /// How many statements read each statement's value.
    pub readers: Vec<u32>,
    /// How many slots the block's frame has (its `let`s that are read).
    pub slots: u32,
}

/// The slot of a `let` nothing reads: it is past the end of every frame, so
/// its value is never kept (and a read of it finds nothing).
pub const NO_SLOT: u32 = u32::MAX;

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
