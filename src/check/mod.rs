//! Name resolution, module imports and type checking (docs/language.md, "Reference").
//!
//! The core does no I/O: file imports are read through a [`Loader`], and the
//! standard library is compiled in. [`check_program`] returns the checked
//! program's tables and every diagnostic.
//!
//! The passes: modules loaded (`load`), declarations collected (`declare`,
//! with `bindings` and `type_exprs`), then flow bodies checked (`expr`).

mod bindings;
mod builtins;
mod declare;
mod expr;
pub mod fragment;
pub mod index;
pub mod options;
pub mod policy;
pub mod schedule;
pub use expr::sites::{ReplanSite, block_options};
mod load;
pub mod mcp;
pub mod stdlib;
mod type_exprs;
/// The type system lives in the leaf module [`crate::types`], which built-ins share.
pub use crate::types;
pub use type_exprs::resolve_type;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::diag::{Diagnostic, catalog, suggest};
use crate::source::Sources;
use crate::syntax::ast::*;
use crate::syntax::span::{FileId, Span};
use declare::declare;

/// The items whose name (`name_of`) comes first among them; each later one
/// with a name already seen is E0206, a duplicate `what` (parameter, field,
/// branch), and is left out.
fn first_named<'a, T>(
    items: &'a [T],
    name_of: impl Fn(&'a T) -> &'a Ident,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<&'a T> {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let name = name_of(it);
        match seen.get(name.name.as_str()) {
            Some(first) => diags.push(catalog::duplicate(name.span, what, &name.name, *first)),
            None => {
                seen.insert(&name.name, name.span);
                out.push(it);
            }
        }
    }
    out
}
use load::Load;
pub use types::Type;
use types::{FieldTy, RecordTy, assignable};

/// Reads the files a program imports. The CLI reads the file system; tests and
/// the REPL may serve files from memory.
pub trait Loader {
    /// The text of the file at `path` (already joined to the importing file's folder).
    fn read(&self, path: &str) -> Result<String, String>;

    /// Policies declared outside the source for the program rooted at the
    /// file `root`: the project's `flowc.toml` (the name diagnostics show for
    /// it, and its text), whose `[policy.NAME]` tables the checker decodes.
    fn project_policies(&self, _root: &str) -> Result<Option<(String, String)>, String> {
        Ok(None)
    }

    /// What is at `path` (joined to the flow's folder already), for an exec
    /// tool's program (W0007). `None`: this loader cannot tell, and the
    /// checker says nothing about the program.
    fn file_kind(&self, _path: &std::path::Path) -> Option<FileKind> {
        None
    }

    /// The folders of `PATH`, in order, where an exec tool's bare program
    /// name is looked for. `None`: this loader cannot tell (no W0007).
    fn search_path(&self) -> Option<Vec<std::path::PathBuf>> {
        None
    }

    /// The tools an MCP server lists (`tools/list`), for checking the
    /// `mcp` bindings to it; `dir` is the folder of the file that declares
    /// it (a stdio server starts there). The default cannot tell.
    fn mcp_tools(&self, _server: &mcp::McpServer, _dir: &std::path::Path) -> mcp::McpTools {
        mcp::McpTools::CannotTell
    }
}

/// What a [`Loader`] found at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Nothing, or not a regular file.
    Missing,
    /// A regular file no one may execute.
    File,
    /// A regular file with an execute bit.
    Executable,
}

/// A loader that knows no files (only `std.*` imports work).
pub struct NoFiles;

impl Loader for NoFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        Err(format!("cannot read `{path}` here"))
    }
}

#[derive(Clone, Debug)]
pub struct ParamSig {
    pub name: String,
    pub ty: Type,
    pub has_default: bool,
    pub span: Span,
}

/// The signature of a tool or a flow.
#[derive(Clone, Debug)]
pub struct Signature {
    pub name: String,
    pub params: Vec<ParamSig>,
    /// `None` for a flow whose result type is inferred from its body.
    pub ret: Option<Type>,
    pub effect: bool,
    pub is_flow: bool,
    pub span: Span,
    pub doc: Option<String>,
}

/// One checked module.
#[derive(Clone, Debug)]
pub struct ModInfo {
    pub file: FileId,
    pub name: String,
    pub ast: Module,
    /// Import alias -> module index.
    pub imports: HashMap<String, usize>,
    pub types: HashMap<String, Type>,
    pub tools: HashMap<String, Rc<Signature>>,
    pub flows: HashMap<String, Rc<Signature>>,
    pub consts: HashMap<String, (Type, Span)>,
    /// Aliases whose import failed (reported once; uses are not reported again).
    pub broken_imports: HashSet<String>,
    /// `policy` items, by name (their own namespace).
    pub policies: HashMap<String, Rc<policy::Policy>>,
}

/// The checked program: every module, the root first.
#[derive(Clone, Debug)]
pub struct Program {
    pub modules: Vec<ModInfo>,
    pub root: usize,
    /// Result types of flows, inferred where not declared.
    pub flow_types: HashMap<(usize, String), Type>,
    /// Per block: which `let`s each statement reads, and which statements call `effect` tools.
    pub blocks: rustc_hash::FxHashMap<BlockKey, BlockInfo>,
    /// Every place an LLM decides (`decide`, `llm()`), in source order.
    pub decisions: Vec<DecisionSite>,
    /// What a re-plan of a block or flow body sees (docs/language.md, "Re-planning"), by the key of
    /// the block expression (or of the flow's body).
    pub replan_sites: rustc_hash::FxHashMap<BlockKey, ReplanSite>,
    /// Does some flow or block state `replan_on_error`? (Else only `--set
    /// replan_on_error=true` makes a run re-plan.)
    pub replan_stated: bool,
    /// Every call of a flow from a flow: (caller module, name), (callee module,
    /// name), where the callee is named.
    pub flow_calls: Vec<(FlowKey, FlowKey, Span)>,
    /// The types of each module's constants, by module (what a fragment
    /// checked later reads).
    const_types: HashMap<usize, HashMap<String, (Type, Span)>>,
    /// The root module's `schedule` items that check, as data for the service.
    pub schedules: Vec<schedule::Schedule>,
    /// Types, references and scopes by place, recorded while checking when
    /// `indexing` (the language server asks for it; `check` and `run` do not).
    index: RefCell<index::Index>,
    indexing: bool,
}

/// A place where an LLM decides, and what it can answer.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionSite {
    pub span: Span,
    /// The flow it is in (`None` in a constant or test).
    pub flow: Option<String>,
    /// `decide` or `llm`.
    pub kind: &'static str,
    /// The labels the LLM may answer.
    pub labels: Vec<String>,
    /// Whether an `else` arm runs when no answer is valid.
    pub has_else: bool,
}

/// A flow: its module's index and its name.
pub type FlowKey = (usize, String);

/// Identifies a block: its file and start offset.
pub type BlockKey = (FileId, u32);

pub fn block_key(b: &Block) -> BlockKey {
    (b.span.file, b.span.start)
}

/// What the checker learned about a block's statements, for lowering.
#[derive(Clone, Debug, Default)]
pub struct BlockInfo {
    /// For each statement, the indices of the statements (`let`s of this block) it reads.
    pub deps: Vec<Vec<usize>>,
    /// For each statement, whether it calls an `effect` tool (anywhere inside).
    pub effects: Vec<bool>,
}

impl Program {
    pub fn root_module(&self) -> &ModInfo {
        &self.modules[self.root]
    }

    /// What the checker learned about each place: types, references, scopes
    /// (empty unless checked by [`check_program_indexed`]).
    pub fn index(&self) -> std::cell::Ref<'_, index::Index> {
        self.index.borrow()
    }

    /// Adds to the index, when one is kept.
    fn record(&self, f: impl FnOnce(&mut index::Index)) {
        if self.indexing {
            index::checkpoint();
            f(&mut self.index.borrow_mut());
        }
    }

    /// Records what a name at `span` refers to.
    fn record_ref(&self, span: Span, target: index::Target) {
        self.record(|ix| ix.refs.push(index::Ref { span, target }));
    }
}

/// Checks the program rooted at `root` (already added to `sources`), loading its imports.
pub fn check_program(
    sources: &mut Sources,
    root: FileId,
    loader: &dyn Loader,
) -> (Program, Vec<Diagnostic>) {
    check_with(sources, root, loader, false, None)
}

/// [`check_program`], also keeping the index of types, references and scopes
/// ([`Program::index`]) for an editor's questions.
pub fn check_program_indexed(
    sources: &mut Sources,
    root: FileId,
    loader: &dyn Loader,
) -> (Program, Vec<Diagnostic>) {
    check_with(sources, root, loader, true, None)
}

fn check_with(
    sources: &mut Sources,
    root: FileId,
    loader: &dyn Loader,
    indexing: bool,
    fragment: Option<fragment::Fragment>,
) -> (Program, Vec<Diagnostic>) {
    let mut ld = Load {
        sources,
        loader,
        modules: Vec::new(),
        by_name: HashMap::new(),
        stack: Vec::new(),
        order: Vec::new(),
        diags: Vec::new(),
        import_refs: Vec::new(),
    };
    let root_name = ld.sources.get(root).name.clone();
    let project = loader.project_policies(&root_name);
    let root_idx = ld.load(root, root_name);
    let Load {
        modules,
        order,
        mut diags,
        import_refs,
        ..
    } = ld;
    let mut program = Program {
        modules,
        root: root_idx,
        flow_types: HashMap::new(),
        blocks: Default::default(),
        decisions: Vec::new(),
        replan_sites: Default::default(),
        replan_stated: false,
        flow_calls: Vec::new(),
        const_types: HashMap::new(),
        schedules: Vec::new(),
        index: RefCell::default(),
        indexing,
    };
    for (span, target) in import_refs {
        program.record_ref(span, index::Target::Module(target));
    }
    let fragment = fragment.map(|f| f.declare_in(&mut program));
    for &m in &order {
        // Exec tools run in their module's folder, as the interpreter does.
        let name = &sources.get(program.modules[m].file).name;
        let dir = match std::path::Path::new(name).parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        declare(&mut program, m, &dir, loader, &mut diags);
    }
    policy::declare_project(&mut program, sources, project, &mut diags);
    if let Some(f) = &fragment {
        f.sign(&mut program);
    }
    let mut ctx = expr::Ctx::new(&program);
    for &m in &order {
        ctx.check_module(m);
    }
    let decisions = std::mem::take(&mut ctx.decisions).into_values().collect();
    let replan_sites = std::mem::take(&mut ctx.replan_sites);
    let replan_stated = ctx.replan_stated;
    let const_types = std::mem::take(&mut ctx.consts_cache);
    let schedules = std::mem::take(&mut ctx.schedules);
    let mut done = ctx.finish();
    program.const_types = const_types;
    program.schedules = schedules;
    program.decisions = decisions;
    program.replan_sites = replan_sites;
    program.replan_stated = replan_stated;
    program.blocks = done.blocks;
    diags.append(&mut done.diags);
    program.flow_types = done.flow_types;
    program.flow_calls = done.flow_calls;
    // Warnings are for the files being checked, not their imports.
    let root_file = program.modules[root_idx].file;
    match &fragment {
        // A fragment's warnings are its own, not its module's again.
        Some(f) => diags.retain(|d| d.is_error() || f.is_about_what_was_written(d)),
        None => diags.retain(|d| d.is_error() || d.primary_span().file == root_file),
    }
    diags.sort_by_key(|d| {
        (
            d.primary_span().file != root_file,
            d.primary_span().file,
            d.primary_span().start,
        )
    });
    (program, diags)
}

thread_local! {
    /// Expressions checked on this thread ([`exprs_checked`]).
    static EXPRS_CHECKED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many expressions the checker has checked on this thread so far: the
/// work of a check, as a count (the REPL's tests compare it between inputs).
pub fn exprs_checked() -> u64 {
    EXPRS_CHECKED.with(|c| c.get())
}

fn count_expr() {
    EXPRS_CHECKED.with(|c| c.set(c.get() + 1));
}

/// How deep flow calls may nest (a flow calling a flow calling a flow …), and
/// how deep imports may: each level is a frame of the checker and of the
/// interpreter, so a chain past this is E0405 rather than an exhausted stack.
pub const MAX_DEPTH: usize = 1000;

pub const BUILTIN_TYPES: &[&str] = &["string", "int", "float", "bool", "duration", "null", "json"];

pub const BUILTIN_TOOLS: &[&str] = &["sleep", "echo", "fail", "read_json", "http_get"];

/// The type of `e` in `catch e { … }`.
pub fn error_type() -> Type {
    Type::record(vec![
        Type::field(
            "kind",
            Type::lits(
                [
                    "tool_error",
                    "timeout",
                    "type_error",
                    "llm_error",
                    "policy_violation",
                    "cancelled",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ),
        ),
        Type::field("message", Type::String),
        Type::field("step", Type::String),
        Type::field("attempts", Type::Int),
    ])
}

/// The type of `context`.
pub fn context_type() -> Type {
    Type::record(vec![
        Type::field("run_id", Type::String),
        Type::field("flow", Type::String),
        Type::field("started_at", Type::String),
        FieldTy {
            name: "tenant".into(),
            ty: Type::String,
            optional: true,
        },
        Type::field("inputs", Type::Json),
    ])
}

/// Returns whether a value of type `from` may be used as `to`, for callers outside the checker.
pub fn is_assignable(from: &Type, to: &Type) -> bool {
    assignable(from, to)
}

/// All names of the module's value namespace (for did-you-mean).
fn value_names(md: &ModInfo) -> HashSet<&str> {
    md.tools
        .keys()
        .chain(md.flows.keys())
        .chain(md.consts.keys())
        .map(String::as_str)
        .collect()
}

/// Is `name` a built-in function (`len`, `jsonpath`, …)?
pub fn is_builtin_fn(name: &str) -> bool {
    crate::builtins::is_builtin(name)
}

impl Program {
    /// The flows that lead (through their calls, or being it) to flow `to`,
    /// each with the path of names from it to `to`.
    pub fn flows_reaching(&self, to: &FlowKey) -> HashMap<FlowKey, Vec<String>> {
        let mut out: HashMap<FlowKey, Vec<String>> = HashMap::new();
        out.insert(to.clone(), vec![to.1.clone()]);
        let mut todo = vec![to.clone()];
        while let Some(cur) = todo.pop() {
            let path = out[&cur].clone();
            for (a, b, _) in &self.flow_calls {
                if *b == cur && !out.contains_key(a) {
                    let mut p = vec![a.1.clone()];
                    p.extend(path.iter().cloned());
                    out.insert(a.clone(), p);
                    todo.push(a.clone());
                }
            }
        }
        out
    }
}
