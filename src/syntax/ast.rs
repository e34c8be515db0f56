//! The abstract syntax tree. Every node carries its byte span.

use super::span::{FileId, Span};

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: smol_str::SmolStr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Copy)]
pub enum CommentKind {
    Line,
    Block,
    Doc,
}

/// A comment, kept for the formatter and for doc comments.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    pub kind: CommentKind,
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    pub file: FileId,
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
    /// Text of the `///` comments right before the item.
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    Import(Import),
    Type(TypeDecl),
    Tool(Box<ToolDecl>),
    Flow(Box<FlowDecl>),
    Const(ConstDecl),
    Test(TestDecl),
    Policy(PolicyDecl),
    McpServer(McpServerDecl),
    Schedule(ScheduleDecl),
}

/// `schedule "CRON" flow(arg: literal, …) [with { timezone: "Area/City" }]`:
/// the service starts the flow at the times of the cron expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleDecl {
    /// The cron expression, as written (without interpolation).
    pub cron: String,
    pub cron_span: Span,
    /// The flow's call: an [`ExprKind::Call`] without options.
    pub call: Expr,
    /// The schedule's options (`timezone`), written after the call.
    pub options: Option<Box<Options>>,
}

/// `mcp server NAME = stdio ["prog", …]` or `= http "URL" [auth_env "VAR"]`.
#[derive(Clone, Debug, PartialEq)]
pub struct McpServerDecl {
    pub name: Ident,
    pub transport: McpTransport,
}

#[derive(Clone, Debug, PartialEq)]
pub enum McpTransport {
    /// `stdio ["prog", "arg"]`: a list literal, as an exec binding's argv.
    Stdio(Expr),
    /// `http "URL" [auth_env "VAR"]`: the `Authorization` header's value is
    /// read from the environment variable `VAR` when the server is reached.
    Http { url: Expr, auth_env: Option<Expr> },
}

impl ItemKind {
    /// The declared name, for items that have one.
    pub fn name(&self) -> Option<&Ident> {
        match self {
            ItemKind::Import(_) | ItemKind::Test(_) | ItemKind::Schedule(_) => None,
            ItemKind::Type(t) => Some(&t.name),
            ItemKind::Tool(t) => Some(&t.name),
            ItemKind::Flow(f) => Some(&f.name),
            ItemKind::Const(c) => Some(&c.name),
            ItemKind::Policy(p) => Some(&p.name),
            ItemKind::McpServer(m) => Some(&m.name),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ImportTarget {
    /// `import std.ops`
    Module(Vec<Ident>),
    /// `import "lib/common.flow"`
    File(String, Span),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub target: ImportTarget,
    pub alias: Option<Ident>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeDecl {
    pub name: Ident,
    pub ty: TypeExpr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeExprKind {
    /// A built-in or declared type name, possibly qualified (`ops.Anomaly`).
    Name(Vec<Ident>),
    Null,
    List(Box<TypeExpr>),
    Record(Vec<TypeField>),
    Optional(Box<TypeExpr>),
    /// A string literal type: `"low"`.
    Literal(String),
    Union(Vec<TypeExpr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeField {
    pub name: Ident,
    pub optional: bool,
    pub ty: TypeExpr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ToolDecl {
    pub effect: bool,
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: TypeExpr,
    pub binding: Binding,
    pub options: Option<Box<Options>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    pub kind: BindingKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BindingKind {
    /// `builtin "name"`
    Builtin(Expr),
    /// `exec ["prog", "arg"]`
    Exec(Expr),
    /// `http post "URL"`
    Http { method: Ident, url: Expr },
    /// `mcp SERVER "tool_name"`
    Mcp { server: Ident, tool: Expr },
}

#[derive(Clone, Debug, PartialEq)]
pub struct FlowDecl {
    /// `export flow …`: served by `flowc mcp` (when any flow is marked so).
    pub export: bool,
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: Option<TypeExpr>,
    pub options: Option<Box<Options>>,
    pub body: Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConstDecl {
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TestDecl {
    pub name: String,
    pub name_span: Span,
    pub body: Block,
}

/// `policy NAME { allow_tools: [...], max_steps: 50, … }` (docs/language.md, "Policies").
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDecl {
    pub name: Ident,
    pub rules: Options,
}

/// `with { key: value, … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub entries: Vec<OptionEntry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OptionEntry {
    pub name: Ident,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

impl Block {
    /// The expression that gives the block its value, if the last statement is one.
    pub fn tail(&self) -> Option<&Expr> {
        match self.stmts.last().map(|s| &s.kind) {
            Some(StmtKind::Expr { expr, .. }) => Some(expr),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `ty` and `assert`'s `message` are boxed: rare, and inline they made
    /// every statement of a program 104 bytes larger.
    Let {
        name: Ident,
        ty: Option<Box<TypeExpr>>,
        value: Expr,
        after: Vec<Ident>,
    },
    Expr {
        expr: Expr,
        after: Vec<Ident>,
    },
    /// `mock tool = value` (test blocks only)
    Mock {
        target: Vec<Ident>,
        /// `mock lookup(id: "a") = …`: only the calls with these arguments.
        args: Option<Vec<Arg>>,
        value: Expr,
    },
    /// `assert cond` or `assert cond, "message"` (test blocks only)
    Assert {
        cond: Expr,
        message: Option<Box<Expr>>,
    },
    /// A region that did not parse; its diagnostic is already reported.
    /// `binds` is the name of a broken `let`, so its uses are not reported again.
    Error {
        binds: Option<Ident>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

impl Expr {
    /// In a `mock`'s value, `fail("message")`: the mocked tool or flow fails
    /// with this message.
    pub fn mock_failure(&self) -> Option<&Expr> {
        match &self.kind {
            ExprKind::Call(c)
                if c.callee.len() == 1 && c.callee[0].name == "fail" && c.args.len() == 1 =>
            {
                Some(&c.args[0].value)
            }
            _ => None,
        }
    }
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

#[derive(Clone, Debug, PartialEq)]
pub enum StrPart {
    Text(String),
    Interp(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    /// A duration; `ms` is `None` when the unit is unknown (reported by the checker).
    Duration {
        ms: Option<u64>,
        text: String,
    },
    Str(Vec<StrPart>),
    Regex {
        pattern: String,
        flags: String,
    },
    Name(Ident),
    List(Vec<Expr>),
    Record(Vec<RecordField>),
    Call(Call),
    Field(Box<Expr>, Ident),
    Index(Box<Expr>, Box<Expr>),
    /// `list[*]`: the following path applies to every element.
    Wildcard(Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `expr catch fallback`
    Catch(Box<Expr>, Box<Expr>),
    Parallel {
        mode: ParallelMode,
        options: Option<Box<Options>>,
        branches: Vec<Branch>,
    },
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
    Loop {
        var: Box<Ident>,
        init: Box<Expr>,
        max: Option<Box<Expr>>,
        until: Box<Expr>,
        options: Option<Box<Options>>,
        body: Box<Block>,
    },
    For {
        var: Box<Ident>,
        iter: Box<Expr>,
        /// `where cond`: only the elements for which it is `true` run the body.
        filter: Option<Box<Expr>>,
        options: Option<Box<Options>>,
        body: Box<Block>,
    },
    Try {
        options: Option<Box<Options>>,
        body: Box<Block>,
        var: Option<Box<Ident>>,
        handler: Box<Block>,
    },
    Decide {
        prompt: Box<Expr>,
        context: Option<Box<Expr>>,
        arms: Vec<DecideArm>,
    },
    Approve {
        message: Box<Expr>,
        context: Option<Box<Expr>>,
        /// `within 24h`: unanswered by then, the approval answers `false`
        /// (a duration literal; anything else is reported by the checker).
        within: Option<Box<Expr>>,
    },
    /// A block as the value of a `match` or `decide` arm:
    /// `retry => { let again = f(); again.x }`.
    Block(Block),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Else {
    If(Expr),
    Block(Block),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// `tool`, or `module.tool` for an imported one.
    pub callee: Vec<Ident>,
    pub args: Vec<Arg>,
    /// Boxed, as in every expression: rare, and inline they made every
    /// expression node 32 bytes larger.
    pub options: Option<Box<Options>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecordField {
    pub name: Ident,
    pub value: Expr,
    /// `{ a }` for `{ a: a }`
    pub shorthand: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    pub name: Ident,
    pub value: Expr,
    pub after: Vec<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    Wildcard(Span),
    Literals(Vec<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MatchArm {
    pub pattern: Pattern,
    pub body: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DecideArm {
    /// The label; `else` for the fallback arm.
    pub label: Ident,
    pub is_else: bool,
    pub body: Expr,
    pub span: Span,
}

/// Calls `f` on each expression directly inside `e` (and inside its blocks).
pub fn children(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    let opts = |o: &Option<Box<Options>>, f: &mut dyn FnMut(&Expr)| {
        if let Some(o) = o {
            for en in &o.entries {
                f(&en.value);
            }
        }
    };
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Duration { .. }
        | ExprKind::Regex { .. }
        | ExprKind::Name(_) => {}
        ExprKind::Str(parts) => {
            for p in parts {
                if let StrPart::Interp(x) = p {
                    f(x);
                }
            }
        }
        ExprKind::List(xs) => xs.iter().for_each(&mut *f),
        ExprKind::Record(fs) => fs.iter().for_each(|x| f(&x.value)),
        ExprKind::Call(c) => {
            c.args.iter().for_each(|a| f(&a.value));
            opts(&c.options, f);
        }
        ExprKind::Field(b, _) | ExprKind::Wildcard(b) | ExprKind::Unary(_, b) => f(b),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) | ExprKind::Catch(a, b) => {
            f(a);
            f(b);
        }
        ExprKind::Parallel {
            options, branches, ..
        }
        | ExprKind::Race { options, branches } => {
            opts(options, f);
            branches.iter().for_each(|b| f(&b.value));
        }
        ExprKind::Sequence { options, block } | ExprKind::Dag { options, block } => {
            opts(options, f);
            block_children(block, f);
        }
        ExprKind::Block(block) => block_children(block, f),
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => {
            f(cond);
            block_children(then, f);
            match otherwise.as_deref() {
                Some(Else::If(x)) => f(x),
                Some(Else::Block(b)) => block_children(b, f),
                None => {}
            }
        }
        ExprKind::Match { scrutinee, arms } => {
            f(scrutinee);
            for a in arms {
                if let Pattern::Literals(ls) = &a.pattern {
                    ls.iter().for_each(&mut *f);
                }
                f(&a.body);
            }
        }
        ExprKind::Loop {
            init,
            max,
            until,
            options,
            body,
            ..
        } => {
            f(init);
            if let Some(m) = max {
                f(m);
            }
            f(until);
            opts(options, f);
            block_children(body, f);
        }
        ExprKind::For {
            iter,
            filter,
            options,
            body,
            ..
        } => {
            f(iter);
            if let Some(w) = filter {
                f(w);
            }
            opts(options, f);
            block_children(body, f);
        }
        ExprKind::Try {
            options,
            body,
            handler,
            ..
        } => {
            opts(options, f);
            block_children(body, f);
            block_children(handler, f);
        }
        ExprKind::Decide {
            prompt,
            context,
            arms,
        } => {
            f(prompt);
            if let Some(c) = context {
                f(c);
            }
            arms.iter().for_each(|a| f(&a.body));
        }
        ExprKind::Approve {
            message,
            context,
            within,
        } => {
            f(message);
            if let Some(c) = context {
                f(c);
            }
            if let Some(w) = within {
                f(w);
            }
        }
    }
}

pub fn block_children(b: &Block, f: &mut dyn FnMut(&Expr)) {
    for s in &b.stmts {
        match &s.kind {
            StmtKind::Let { value, .. } | StmtKind::Mock { value, .. } => f(value),
            StmtKind::Expr { expr, .. } => f(expr),
            StmtKind::Assert { cond, message } => {
                f(cond);
                if let Some(m) = message {
                    f(m);
                }
            }
            StmtKind::Error { .. } => {}
        }
    }
}
