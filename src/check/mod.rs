//! Name resolution, module imports and type checking (SPEC §5–§11).
//!
//! The core does no I/O: file imports are read through a [`Loader`], and the
//! standard library is compiled in. [`check_program`] returns the checked
//! program's tables and every diagnostic.

mod builtins;
mod expr;
pub mod index;
pub mod options;
pub mod policy;
pub use expr::sites::{ReplanSite, block_options};
pub mod stdlib;
/// The type system lives in the leaf module [`crate::types`], which built-ins share.
pub use crate::types;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::diag::{Diagnostic, catalog, suggest};
use crate::source::Sources;
use crate::syntax::ast::*;
use crate::syntax::span::{FileId, Span};
pub use types::Type;
use types::{FieldTy, RecordTy, assignable};

/// Reads the files a program imports. The CLI reads the file system; tests and
/// the REPL may serve files from memory.
pub trait Loader {
    /// The text of the file at `path` (already joined to the importing file's folder).
    fn read(&self, path: &str) -> Result<String, String>;

    /// Policies declared outside the source for the program rooted at the
    /// file `root` (a project's `flowc.toml`), as `.flow` text with the name
    /// diagnostics show for it.
    fn project_policies(&self, _root: &str) -> Result<Option<(String, String)>, String> {
        Ok(None)
    }
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
#[derive(Debug)]
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
#[derive(Debug)]
pub struct Program {
    pub modules: Vec<ModInfo>,
    pub root: usize,
    /// Result types of flows, inferred where not declared.
    pub flow_types: HashMap<(usize, String), Type>,
    /// Per block: which `let`s each statement reads, and which statements call `effect` tools.
    pub blocks: HashMap<BlockKey, BlockInfo>,
    /// Every place an LLM decides (`decide`, `llm()`), in source order.
    pub decisions: Vec<DecisionSite>,
    /// What a re-plan of a block or flow body sees (SPEC §16), by the key of
    /// the block expression (or of the flow's body).
    pub replan_sites: HashMap<BlockKey, ReplanSite>,
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
    check_with(sources, root, loader, false)
}

/// [`check_program`], also keeping the index of types, references and scopes
/// ([`Program::index`]) for an editor's questions.
pub fn check_program_indexed(
    sources: &mut Sources,
    root: FileId,
    loader: &dyn Loader,
) -> (Program, Vec<Diagnostic>) {
    check_with(sources, root, loader, true)
}

fn check_with(
    sources: &mut Sources,
    root: FileId,
    loader: &dyn Loader,
    indexing: bool,
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
        blocks: HashMap::new(),
        decisions: Vec::new(),
        replan_sites: HashMap::new(),
        index: RefCell::default(),
        indexing,
    };
    for (span, target) in import_refs {
        program.record_ref(span, index::Target::Module(target));
    }
    for &m in &order {
        // Exec tools run in their module's folder, as the interpreter does.
        let name = &sources.get(program.modules[m].file).name;
        let dir = match std::path::Path::new(name).parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        declare(&mut program, m, &dir, &mut diags);
    }
    policy::declare_project(&mut program, sources, project, &mut diags);
    let mut ctx = expr::Ctx::new(&program);
    for &m in &order {
        ctx.check_module(m);
    }
    let decisions = std::mem::take(&mut ctx.decisions).into_values().collect();
    let replan_sites = std::mem::take(&mut ctx.replan_sites);
    let (mut body_diags, flow_types, blocks) = ctx.finish();
    program.decisions = decisions;
    program.replan_sites = replan_sites;
    program.blocks = blocks;
    diags.append(&mut body_diags);
    program.flow_types = flow_types;
    // Warnings are for the files being checked, not their imports.
    let root_file = program.modules[root_idx].file;
    diags.retain(|d| d.is_error() || d.primary_span().file == root_file);
    diags.sort_by_key(|d| {
        (
            d.primary_span().file != root_file,
            d.primary_span().file,
            d.primary_span().start,
        )
    });
    (program, diags)
}

struct Load<'a> {
    sources: &'a mut Sources,
    loader: &'a dyn Loader,
    modules: Vec<ModInfo>,
    by_name: HashMap<String, usize>,
    stack: Vec<String>,
    order: Vec<usize>,
    diags: Vec<Diagnostic>,
    /// Each import's path (and alias), and the module it loaded.
    import_refs: Vec<(Span, usize)>,
}

impl Load<'_> {
    fn load(&mut self, file: FileId, name: String) -> usize {
        let (ast, mut pd) = crate::syntax::parse(file, &self.sources.get(file).text);
        self.diags.append(&mut pd);
        let idx = self.modules.len();
        self.by_name.insert(name.clone(), idx);
        self.stack.push(name.clone());
        let imports: Vec<(Import, Span)> = ast
            .items
            .iter()
            .filter_map(|it| match &it.kind {
                ItemKind::Import(i) => Some((i.clone(), it.span)),
                _ => None,
            })
            .collect();
        self.modules.push(ModInfo {
            file,
            name: name.clone(),
            ast,
            imports: HashMap::new(),
            types: HashMap::new(),
            tools: HashMap::new(),
            flows: HashMap::new(),
            consts: HashMap::new(),
            broken_imports: HashSet::new(),
            policies: HashMap::new(),
        });
        let mut aliases: HashMap<String, Span> = HashMap::new();
        for (imp, span) in imports {
            let Some((key, alias, display)) = self.resolve_import(&name, &imp, span) else {
                continue;
            };
            if let Some(first) = aliases.get(&alias.name) {
                self.diags.push(catalog::duplicate(
                    alias.span,
                    "import",
                    &alias.name,
                    *first,
                ));
                continue;
            }
            aliases.insert(alias.name.clone(), alias.span);
            if let Some(pos) = self.stack.iter().position(|s| *s == key) {
                let mut path: Vec<String> =
                    self.stack[pos..].iter().map(|s| format!("`{s}`")).collect();
                path.push(format!("`{key}`"));
                self.diags
                    .push(catalog::import_cycle(span, &path.join(" → ")));
                self.modules[idx].broken_imports.insert(alias.name.clone());
                continue;
            }
            let target = match self.by_name.get(&key) {
                Some(&i) => i,
                None => {
                    let text = match &imp.target {
                        ImportTarget::Module(_) => stdlib::module(&display)
                            .map(str::to_string)
                            .ok_or_else(String::new),
                        ImportTarget::File(..) => self.loader.read(&key),
                    };
                    match text {
                        Ok(text) => {
                            let f = self.sources.add(key.clone(), text);
                            self.load(f, key.clone())
                        }
                        Err(e) => {
                            let what = match &imp.target {
                                ImportTarget::Module(_) => format!("`{display}`"),
                                ImportTarget::File(..) => format!("file `{key}`"),
                            };
                            let help = match &imp.target {
                                ImportTarget::Module(_) => suggest(&display, stdlib::names())
                                    .or_else(|| {
                                        Some(format!(
                                            "standard modules: {}",
                                            stdlib::names().collect::<Vec<_>>().join(", ")
                                        ))
                                    }),
                                ImportTarget::File(..) => {
                                    Some(format!("{e}; paths are relative to the importing file"))
                                }
                            };
                            self.diags.push(catalog::unknown_module(span, &what, help));
                            self.modules[idx].broken_imports.insert(alias.name.clone());
                            continue;
                        }
                    }
                }
            };
            let path_span = match &imp.target {
                ImportTarget::Module(path) => path
                    .first()
                    .expect("grammar: non-empty path")
                    .span
                    .to(path.last().expect("grammar: non-empty path").span),
                ImportTarget::File(_, s) => *s,
            };
            self.import_refs.push((path_span, target));
            if imp.alias.is_some() {
                self.import_refs.push((alias.span, target));
            }
            self.modules[idx].imports.insert(alias.name.clone(), target);
        }
        self.stack.pop();
        self.order.push(idx);
        idx
    }

    /// (module key, alias, display name) of an import.
    fn resolve_import(
        &self,
        from: &str,
        imp: &Import,
        span: Span,
    ) -> Option<(String, Ident, String)> {
        match &imp.target {
            ImportTarget::Module(path) => {
                let display = path
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                let alias = imp
                    .alias
                    .clone()
                    .unwrap_or_else(|| path.last().expect("grammar: non-empty path").clone());
                Some((format!("<{display}>"), alias, display))
            }
            ImportTarget::File(rel, _) => {
                let key = join_path(from, rel);
                let stem = std::path::Path::new(rel)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("module")
                    .to_string();
                let alias = imp.alias.clone().unwrap_or(Ident { name: stem, span });
                Some((key.clone(), alias, key))
            }
        }
    }
}

/// `rel` relative to the folder of `from`, with `.` and `..` folded.
fn join_path(from: &str, rel: &str) -> String {
    let base = if rel.starts_with('/') {
        std::path::PathBuf::new()
    } else {
        std::path::Path::new(from)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    };
    let mut parts: Vec<String> = Vec::new();
    for c in base.join(rel).components() {
        use std::path::Component;
        match c {
            Component::CurDir => {}
            Component::ParentDir if parts.last().is_some_and(|p| p != "..") => {
                parts.pop();
            }
            Component::RootDir => parts.push(String::new()),
            c => parts.push(c.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}

pub const BUILTIN_TYPES: &[&str] = &["string", "int", "float", "bool", "duration", "null", "json"];

/// Collects declarations: names, type aliases, tool and flow signatures, constants.
fn declare(p: &mut Program, m: usize, dir: &std::path::Path, diags: &mut Vec<Diagnostic>) {
    // Names: values (tools, flows, consts) and types are separate namespaces.
    let mut values: HashMap<String, Span> = HashMap::new();
    let mut types: HashMap<String, Span> = HashMap::new();
    let mut type_asts: HashMap<String, TypeExpr> = HashMap::new();
    for it in &p.modules[m].ast.items {
        let (ns, what) = match &it.kind {
            ItemKind::Type(_) => (&mut types, "type"),
            ItemKind::Tool(_) => (&mut values, "tool"),
            ItemKind::Flow(_) => (&mut values, "flow"),
            ItemKind::Const(_) => (&mut values, "constant"),
            _ => continue,
        };
        let name = it.kind.name().expect("named item");
        if let Some(first) = ns.get(&name.name) {
            diags.push(catalog::duplicate(name.span, what, &name.name, *first));
            continue;
        }
        ns.insert(name.name.clone(), name.span);
        // A tool or flow may take a built-in's name (SPEC §6 calls a tool `upper`):
        // calls in this module go to the declaration. A constant is not callable,
        // so its name would only hide nothing and confuse.
        if what == "constant" && is_builtin_fn(&name.name) {
            diags.push(catalog::shadows_builtin(name.span, what, &name.name));
            continue;
        }
        if let ItemKind::Type(t) = &it.kind {
            if BUILTIN_TYPES.contains(&t.name.name.as_str()) {
                diags.push(catalog::invalid_type(
                    t.name.span,
                    &format!(
                        "`{}` is a built-in type and cannot be redefined",
                        t.name.name
                    ),
                ));
                continue;
            }
            type_asts.insert(t.name.name.clone(), t.ty.clone());
        }
    }
    let mut resolver = TypeResolver {
        program: p,
        module: m,
        asts: &type_asts,
        done: HashMap::new(),
        in_progress: Vec::new(),
        diags,
    };
    let mut names: Vec<&String> = type_asts.keys().collect();
    names.sort();
    for n in names {
        resolver.alias(n);
    }
    let resolved = resolver.done;
    p.modules[m].types = resolved
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(Type::Unknown)))
        .collect();

    // Signatures are made with the program borrowed, then stored (no copy of the AST).
    let mut tools = Vec::new();
    let mut flows = Vec::new();
    let program: &Program = p;
    for it in &program.modules[m].ast.items {
        let p = program;
        match &it.kind {
            ItemKind::Tool(t) => {
                let params = declare_params(p, m, &t.params, diags);
                let ret = resolve_type(p, m, &t.ret, diags);
                check_binding(&t.binding, diags);
                check_exec_program(&t.binding, &t.name.name, dir, diags);
                if let Some(o) = &t.options {
                    options::check_static(o, options::Place::Tool { effect: t.effect }, diags);
                }
                let sig = Signature {
                    name: t.name.name.clone(),
                    params,
                    ret: Some(ret),
                    effect: t.effect,
                    is_flow: false,
                    span: t.name.span,
                    doc: it.doc.clone(),
                };
                tools.push((t.name.name.clone(), Rc::new(sig)));
            }
            ItemKind::Flow(f) => {
                let params = declare_params(p, m, &f.params, diags);
                let ret = f.ret.as_ref().map(|r| resolve_type(p, m, r, diags));
                let sig = Signature {
                    name: f.name.name.clone(),
                    params,
                    ret,
                    effect: false,
                    is_flow: true,
                    span: f.name.span,
                    doc: it.doc.clone(),
                };
                flows.push((f.name.name.clone(), Rc::new(sig)));
            }
            _ => {}
        }
    }
    p.modules[m].tools.extend(tools);
    p.modules[m].flows.extend(flows);
    policy::declare(p, m, diags);
}

fn declare_params(
    p: &Program,
    m: usize,
    params: &[Param],
    diags: &mut Vec<Diagnostic>,
) -> Vec<ParamSig> {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let mut out = Vec::new();
    for prm in params {
        if let Some(first) = seen.get(prm.name.name.as_str()) {
            diags.push(catalog::duplicate(
                prm.name.span,
                "parameter",
                &prm.name.name,
                *first,
            ));
            continue;
        }
        seen.insert(&prm.name.name, prm.name.span);
        out.push(ParamSig {
            name: prm.name.name.clone(),
            ty: resolve_type(p, m, &prm.ty, diags),
            has_default: prm.default.is_some(),
            span: prm.span,
        });
    }
    out
}

fn plain_str(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Str(parts) => match parts.as_slice() {
            [] => Some(""),
            [StrPart::Text(t)] => Some(t),
            _ => None,
        },
        _ => None,
    }
}

pub const BUILTIN_TOOLS: &[&str] = &["sleep", "echo", "fail", "read_json", "http_get"];

/// W0007 when an exec tool's program cannot be found now: a path (with a `/`)
/// is relative to the flow's folder, a bare name is looked up on `PATH` — as
/// the interpreter starts it.
fn check_exec_program(b: &Binding, tool: &str, dir: &std::path::Path, diags: &mut Vec<Diagnostic>) {
    let BindingKind::Exec(argv) = &b.kind else {
        return;
    };
    let ExprKind::List(items) = &argv.kind else {
        return;
    };
    let Some((prog, span)) = items
        .first()
        .and_then(|i| plain_str(i).map(|p| (p, i.span)))
    else {
        return;
    };
    if prog.is_empty() {
        return;
    }
    if prog.contains('/') {
        let path = if prog.starts_with('/') || dir == std::path::Path::new(".") {
            std::path::PathBuf::from(prog)
        } else {
            dir.join(prog)
        };
        if !path.is_file() {
            diags.push(catalog::exec_program_missing(
                span,
                tool,
                prog,
                &format!("no such file: `{}`", path.display()),
                "a relative path is relative to the flow's folder",
            ));
        }
    } else if !on_path(prog) {
        let beside = dir.join(prog).is_file();
        diags.push(catalog::exec_program_missing(
            span,
            tool,
            prog,
            "not found on `PATH`",
            &if beside {
                format!("a bare name is looked up on `PATH`; write `./{prog}` for the file beside the flow")
            } else {
                "install it, or give its path (relative to the flow's folder)".to_string()
            },
        ));
    }
}

/// Is `prog` an executable file in one of `PATH`'s folders?
fn on_path(prog: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).any(|d| {
        std::fs::metadata(d.join(prog))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

fn check_binding(b: &Binding, diags: &mut Vec<Diagnostic>) {
    match &b.kind {
        BindingKind::Builtin(name) => match plain_str(name) {
            Some(n) if BUILTIN_TOOLS.contains(&n) => {}
            Some(n) => diags.push(
                catalog::invalid_binding(
                    name.span,
                    &format!("unknown builtin tool `{n}`"),
                    "builtin tools: sleep, echo, fail, read_json, http_get",
                )
                .with_help_opt(suggest(n, BUILTIN_TOOLS.iter().copied())),
            ),
            None => diags.push(catalog::invalid_binding(
                name.span,
                "the builtin name must be a plain string",
                "write `builtin \"echo\"`",
            )),
        },
        BindingKind::Exec(argv) => match &argv.kind {
            ExprKind::List(items) if items.is_empty() => diags.push(catalog::invalid_binding(
                argv.span,
                "`exec` needs at least the program",
                "write `exec [\"python3\", \"tools/x.py\"]`",
            )),
            ExprKind::List(items) => {
                for i in items {
                    if plain_str(i).is_none() {
                        diags.push(catalog::invalid_binding(
                            i.span,
                            "`exec` arguments must be plain string literals",
                            "argv is fixed at declaration; pass data as the tool's parameters (sent as JSON on stdin)",
                        ));
                    }
                }
            }
            _ => diags.push(catalog::invalid_binding(
                argv.span,
                "`exec` takes a list of strings",
                "write `exec [\"prog\", \"arg\"]`",
            )),
        },
        BindingKind::Http { method, url } => {
            if !matches!(method.name.as_str(), "post" | "get") {
                diags.push(catalog::invalid_binding(
                    method.span,
                    &format!("unknown HTTP method `{}`", method.name),
                    "use `http post \"URL\"` or `http get \"URL\"`",
                ));
            }
            match plain_str(url) {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => {}
                Some(_) => diags.push(catalog::invalid_binding(
                    url.span,
                    "the URL must start with `http://` or `https://`",
                    "write the full URL",
                )),
                None => diags.push(catalog::invalid_binding(
                    url.span,
                    "the URL must be a plain string literal",
                    "write the full URL",
                )),
            }
        }
        BindingKind::Mcp { server, .. } => diags.push(catalog::invalid_binding(
            server.span,
            "`mcp` bindings are reserved and not supported yet",
            "use `exec` to run the tool as a process",
        )),
    }
}

struct TypeResolver<'a> {
    program: &'a Program,
    module: usize,
    asts: &'a HashMap<String, TypeExpr>,
    done: HashMap<String, Option<Type>>,
    in_progress: Vec<String>,
    diags: &'a mut Vec<Diagnostic>,
}

impl TypeResolver<'_> {
    fn alias(&mut self, name: &str) -> Type {
        if let Some(t) = self.done.get(name) {
            return t.clone().unwrap_or(Type::Unknown);
        }
        if self.in_progress.iter().any(|n| n == name) {
            return Type::Unknown;
        }
        let Some(ast) = self.asts.get(name) else {
            return Type::Unknown;
        };
        self.in_progress.push(name.to_string());
        let ty = self.resolve(ast, name);
        self.in_progress.pop();
        let ty = match ty {
            Type::Record(r) => Type::Record(Rc::new(RecordTy {
                fields: r.fields.clone(),
                name: Some(name.to_string()),
            })),
            t => t,
        };
        self.done.insert(name.to_string(), Some(ty.clone()));
        ty
    }

    fn resolve(&mut self, t: &TypeExpr, alias: &str) -> Type {
        match &t.kind {
            TypeExprKind::Name(path)
                if path.len() == 1 && self.asts.contains_key(&path[0].name) =>
            {
                if self.in_progress.iter().any(|n| *n == path[0].name) {
                    self.diags.push(
                        catalog::invalid_type(t.span, &format!("type `{alias}` refers to itself"))
                            .with_label("recursive reference"),
                    );
                    return Type::Unknown;
                }
                let md = &self.program.modules[self.module];
                if let Some(d) = type_decl(md, &path[0].name) {
                    self.program
                        .record_ref(path[0].span, index::Target::Decl(d, index::DeclKind::Type));
                }
                self.alias(&path[0].name)
            }
            TypeExprKind::Name(_) | TypeExprKind::Null | TypeExprKind::Literal(_) => {
                resolve_type(self.program, self.module, t, self.diags)
            }
            TypeExprKind::List(e) => Type::list(self.resolve(e, alias)),
            TypeExprKind::Optional(e) => Type::optional(self.resolve(e, alias)),
            TypeExprKind::Union(_) => resolve_type(self.program, self.module, t, self.diags),
            TypeExprKind::Record(fields) => {
                let mut seen: HashMap<&str, Span> = HashMap::new();
                let mut out = Vec::new();
                for f in fields {
                    if let Some(first) = seen.get(f.name.name.as_str()) {
                        self.diags.push(catalog::duplicate(
                            f.name.span,
                            "field",
                            &f.name.name,
                            *first,
                        ));
                        continue;
                    }
                    seen.insert(&f.name.name, f.name.span);
                    out.push(FieldTy {
                        name: f.name.name.clone(),
                        ty: self.resolve(&f.ty, alias),
                        optional: f.optional,
                    });
                }
                Type::record(out)
            }
        }
    }
}

/// Resolves a type expression in module `m` (aliases must be declared already).
pub fn resolve_type(p: &Program, m: usize, t: &TypeExpr, diags: &mut Vec<Diagnostic>) -> Type {
    match &t.kind {
        TypeExprKind::Null => Type::Null,
        TypeExprKind::Literal(s) => Type::lit(s),
        TypeExprKind::List(e) => Type::list(resolve_type(p, m, e, diags)),
        TypeExprKind::Optional(e) => Type::optional(resolve_type(p, m, e, diags)),
        TypeExprKind::Union(parts) => {
            let mut lits = Vec::new();
            let mut optional = false;
            for part in parts {
                match &part.kind {
                    TypeExprKind::Literal(s) => lits.push(s.clone()),
                    TypeExprKind::Null => optional = true,
                    _ => {
                        diags.push(
                            catalog::invalid_type(
                                part.span,
                                "only string literals can be combined with `|`",
                            )
                            .with_label("not a string literal"),
                        );
                        return Type::Unknown;
                    }
                }
            }
            let t = Type::lits(lits);
            if optional { Type::optional(t) } else { t }
        }
        TypeExprKind::Record(fields) => {
            let mut seen: HashMap<&str, Span> = HashMap::new();
            let mut out = Vec::new();
            for f in fields {
                if let Some(first) = seen.get(f.name.name.as_str()) {
                    diags.push(catalog::duplicate(
                        f.name.span,
                        "field",
                        &f.name.name,
                        *first,
                    ));
                    continue;
                }
                seen.insert(&f.name.name, f.name.span);
                out.push(FieldTy {
                    name: f.name.name.clone(),
                    ty: resolve_type(p, m, &f.ty, diags),
                    optional: f.optional,
                });
            }
            Type::record(out)
        }
        TypeExprKind::Name(path) => {
            let md = &p.modules[m];
            match path.as_slice() {
                [one] => match one.name.as_str() {
                    "string" => Type::String,
                    "int" => Type::Int,
                    "float" => Type::Float,
                    "bool" => Type::Bool,
                    "duration" => Type::Duration,
                    "json" => Type::Json,
                    n => match md.types.get(n) {
                        Some(t) => {
                            if let Some(d) = type_decl(md, n) {
                                p.record_ref(
                                    one.span,
                                    index::Target::Decl(d, index::DeclKind::Type),
                                );
                            }
                            t.clone()
                        }
                        None => {
                            let cands: Vec<&str> = BUILTIN_TYPES
                                .iter()
                                .copied()
                                .chain(md.types.keys().map(String::as_str))
                                .collect();
                            let mut help = suggest(n, cands.iter().copied());
                            if help.is_none()
                                && matches!(
                                    n,
                                    "integer" | "number" | "str" | "boolean" | "any" | "object"
                                )
                            {
                                help =
                                    Some(format!("built-in types: {}", BUILTIN_TYPES.join(", ")));
                            }
                            diags.push(catalog::unknown_type(one.span, n, help));
                            Type::Unknown
                        }
                    },
                },
                [module, name] => match md.imports.get(&module.name) {
                    Some(&mi) => match p.modules[mi].types.get(&name.name) {
                        Some(t) => {
                            p.record_ref(module.span, index::Target::Module(mi));
                            if let Some(d) = type_decl(&p.modules[mi], &name.name) {
                                p.record_ref(
                                    name.span,
                                    index::Target::Decl(d, index::DeclKind::Type),
                                );
                            }
                            t.clone()
                        }
                        None => {
                            let help =
                                suggest(&name.name, p.modules[mi].types.keys().map(String::as_str));
                            diags.push(catalog::unknown_member(
                                name.span,
                                &module.name,
                                &name.name,
                                help,
                            ));
                            Type::Unknown
                        }
                    },
                    None if md.broken_imports.contains(&module.name) => Type::Unknown,
                    None => {
                        diags.push(catalog::unknown_type(
                            t.span,
                            &format!("{}.{}", module.name, name.name),
                            Some(format!(
                                "import the module first: `import std.{}`",
                                module.name
                            )),
                        ));
                        Type::Unknown
                    }
                },
                _ => {
                    let n: Vec<&str> = path.iter().map(|i| i.name.as_str()).collect();
                    diags.push(catalog::unknown_type(t.span, &n.join("."), None));
                    Type::Unknown
                }
            }
        }
    }
}

/// The span of the name of the type `name` declared in `md`.
fn type_decl(md: &ModInfo, name: &str) -> Option<Span> {
    md.ast.items.iter().find_map(|it| match &it.kind {
        ItemKind::Type(t) if t.name.name == name => Some(t.name.span),
        _ => None,
    })
}

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
