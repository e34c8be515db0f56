//! One REPL session on the one driver: declarations and `let`s accumulate;
//! each input is checked with everything before it and then run by the
//! interpreter.
//!
//! The session is source text. Declarations are kept verbatim, one piece per
//! item. Statements go into a synthetic flow, `__repl_step`, whose parameters
//! are the earlier bindings (typed with their checked types, passed their
//! values), so earlier tool calls never run again. The flow's result is a
//! record of the new bindings and the value of the input's last expression:
//!
//! ```text
//! <declarations>
//! flow __repl_step(x: int, detail: { rows: [string] }) {
//!     <what was typed, with `let __repl_value = ` before its last expression>
//!     { y: y, __repl_value: __repl_value }
//! }
//! ```
//!
//! Its inferred result type gives the type of every new binding and of the value.

use std::collections::HashSet;
use std::io::Write;
use std::ops::Range;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::signals::{Interrupt, Signals};

use serde_json::{Map, Value};

use super::text::{Composed, Origin, Renderer};
use super::{Names, input};
use crate::check::types::RecordTy;
use crate::check::{Program, Signature, Type};
use crate::diag::{Diagnostic, suggest};
use crate::driver::{Checked, FsLoader, check_source};
use crate::ir::{BlockGraph, EdgeKind};
use crate::run::{Interp, RunConfig};
use crate::syntax::ast::{ExprKind, ImportTarget, Item, ItemKind, StmtKind};
use crate::syntax::span::{FileId, Span};

/// The synthetic flow that runs statements.
pub const STEP: &str = "__repl_step";
/// The root of the step paths of an input (`repl/y`, in the step view).
const ROOT: &str = "repl";
/// The binding that holds the value of an input's last expression.
const VALUE: &str = "__repl_value";

/// The commands, for `:help`, completion and did-you-mean.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        ":type EXPR",
        "the type of an expression, without running it",
    ),
    (
        ":graph [FLOW] [dot|mermaid|json]",
        "the dataflow graph of a flow, by level",
    ),
    (":load FILE", "add the declarations of a .flow file"),
    (
        ":tools",
        "the tools and flows in scope, with their signatures",
    ),
    (":env", "the bindings and constants, with their types"),
    (":reset", "forget everything (and load FILE again)"),
    (":help", "this help"),
    (":quit", "leave (Ctrl-D also does)"),
];

/// Whether a step is running: a signal then cancels it, else the session ends
/// at once (Ctrl-C only in a scripted session; SIGTERM and SIGHUP in both).
pub static RUNNING: AtomicBool = AtomicBool::new(false);

/// Does the session go on after an input?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    Quit,
}

/// Which names an item declares, so that a later declaration replaces it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Type(String),
    Value(String),
    Import(String),
    Test(String),
}

/// One declared item: a range of what was typed or loaded.
#[derive(Clone)]
struct Decl {
    key: Key,
    origin: Rc<Origin>,
    range: Range<usize>,
}

/// A `let` of the session: its checked type and its value.
pub struct Binding {
    pub name: String,
    pub ty: Type,
    pub value: Value,
}

/// A check of composed session text.
struct Check {
    composed: Composed,
    checked: Checked,
}

impl Check {
    fn session(&self) -> FileId {
        self.checked.program.root_module().file
    }

    fn renderer(&self, color: bool) -> Renderer<'_> {
        Renderer {
            composed: &self.composed,
            sources: &self.checked.sources,
            session: self.session(),
            color,
        }
    }
}

pub struct Session {
    /// The name the session text is checked under: `<repl>` in the session's folder,
    /// so imports resolve and exec tools run there.
    name: String,
    /// The FILE given on the command line, loaded again by `:reset`.
    initial: Option<String>,
    decls: Vec<Decl>,
    pub bindings: Vec<Binding>,
    /// Inputs so far; the current one is named `<input N>` in diagnostics.
    count: usize,
    rt: tokio::runtime::Runtime,
    /// Ctrl-C (SIGINT), SIGTERM and SIGHUP, listened to from the start so that
    /// none ends the process while a step's child processes run.
    signals: Signals,
    color: bool,
    /// A terminal session goes on after Ctrl-C cancels a step; a scripted one ends.
    interactive: bool,
    /// Whether an input has failed (the exit status of a scripted session).
    pub failed: bool,
    /// The signal that ended the session: Ctrl-C of a scripted one, or
    /// SIGTERM/SIGHUP of any.
    pub interrupted: Option<Interrupt>,
    /// `--llm`: who answers decisions (a provider is made for each run).
    pub llm: Option<String>,
}

/// The provider `--llm spec` names.
pub fn llm_provider(spec: &str) -> Result<Box<dyn crate::run::llm::Provider>, String> {
    crate::run::llm::provider(
        spec,
        &crate::run::llm::Settings::default(),
        std::path::Path::new(""),
    )
}

impl Session {
    /// A session whose tools run in `dir` (the folder of FILE, or the current folder).
    pub fn new(initial: Option<String>, interactive: bool, color: bool) -> Session {
        let dir = initial
            .as_deref()
            .and_then(|f| std::path::Path::new(f).parent())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = if dir.is_empty() {
            "<repl>".to_string()
        } else {
            format!("{dir}/<repl>")
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime starts");
        let signals = rt.block_on(async { Signals::new(true) });
        Session {
            name,
            initial,
            decls: Vec::new(),
            bindings: Vec::new(),
            count: 0,
            rt,
            signals,
            color,
            interactive,
            llm: None,
            failed: false,
            interrupted: None,
        }
    }

    fn out(&self, text: &str) {
        crate::cli::out::println(text);
    }

    fn err(&self, text: &str) {
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "{text}");
        if !text.ends_with('\n') {
            let _ = writeln!(e);
        }
        let _ = e.flush();
    }

    fn error(&mut self, message: &str) {
        self.failed = true;
        self.err(&format!("error: {message}"));
    }

    /// Loads FILE at the start (and after `:reset`). `false` if it cannot be read.
    pub fn load_initial(&mut self) -> bool {
        match self.initial.clone() {
            Some(f) => self.load(&f),
            None => true,
        }
    }

    /// Handles one complete input: a command, declarations or statements.
    pub fn handle(&mut self, text: &str) -> Next {
        if input::is_blank(text) {
            return Next::Continue;
        }
        // Forget a Ctrl-C that came before this input.
        let signals = &mut self.signals;
        self.rt.block_on(async { signals.forget_sigint() });
        self.count += 1;
        let trimmed = text.trim();
        if trimmed.starts_with(':') {
            return self.command(text);
        }
        let origin = Origin::new(format!("<input {}>", self.count), text);
        if input::is_declaration(text) {
            self.declare(&origin, false);
        } else {
            self.statements(&origin);
        }
        if self.interrupted.is_some() {
            Next::Quit
        } else {
            Next::Continue
        }
    }

    // ------------------------------------------------------------ checking

    fn compose_decls(&self, decls: &[Decl], c: &mut Composed) {
        for d in decls {
            c.source(&d.origin, d.range.clone());
            c.glue("\n");
        }
    }

    /// The session's declarations and a step flow whose body `body` writes;
    /// earlier bindings are its parameters, except those in `skip`.
    fn compose_step(&self, skip: &[String], body: impl FnOnce(&mut Composed)) -> Composed {
        let mut c = Composed::default();
        self.compose_decls(&self.decls, &mut c);
        let params: Vec<String> = self
            .bindings
            .iter()
            .filter(|b| !skip.contains(&b.name))
            .map(|b| format!("{}: {}", b.name, type_source(&b.ty)))
            .collect();
        c.glue(&format!("flow {STEP}({}) {{\n", params.join(", ")));
        body(&mut c);
        c.glue("\n}\n");
        c
    }

    fn check(&self, composed: Composed) -> Check {
        let checked = check_source(&self.name, &composed.text, &FsLoader);
        Check { composed, checked }
    }

    /// Shows the errors of a check, and its warnings about `current`; `true` if it has errors.
    fn report(&mut self, check: &Check, current: &Rc<Origin>) -> bool {
        let r = check.renderer(self.color);
        let mut errors = false;
        let mut text = String::new();
        for d in &check.checked.diagnostics {
            let show = if d.is_error() {
                errors = true;
                true
            } else {
                // Whether a tool is called depends on the session, not the input.
                d.code != "W0002" && r.is_in(d.primary_span(), current)
            };
            if show {
                text.push_str(&r.render(d));
            }
        }
        if !text.is_empty() {
            self.err(&text);
        }
        if errors {
            self.failed = true;
        }
        errors
    }

    /// Parses `composed` alone and shows its syntax errors; `None` if there are any.
    fn parse(&mut self, composed: &Composed) -> Option<crate::syntax::ast::Module> {
        let (module, diags) = crate::syntax::parse(FileId(0), &composed.text);
        if diags.iter().any(Diagnostic::is_error) {
            self.show_parse_errors(composed, &diags);
            return None;
        }
        Some(module)
    }

    /// Shows diagnostics about `composed` parsed alone as file 0.
    fn show_parse_errors(&mut self, composed: &Composed, diags: &[Diagnostic]) {
        let mut sources = crate::source::Sources::new();
        sources.add(self.name.clone(), composed.text.clone());
        let r = Renderer {
            composed,
            sources: &sources,
            session: FileId(0),
            color: self.color,
        };
        let text: String = diags.iter().map(|d| r.render(d)).collect();
        self.err(&text);
        self.failed = true;
    }

    // ------------------------------------------------------------ declarations

    /// Adds the items of `origin`; a later item replaces an earlier one of the same name.
    /// Prints each item (or, for a loaded file, a summary). `false` on errors.
    fn declare(&mut self, origin: &Rc<Origin>, loaded: bool) -> bool {
        let mut alone = Composed::default();
        alone.source(origin, 0..origin.text.len());
        let Some(module) = self.parse(&alone) else {
            return false;
        };
        let mut new = Vec::new();
        let mut start = 0;
        for it in &module.items {
            let end = it.span.end as usize;
            new.push(Decl {
                key: key_of(it),
                origin: origin.clone(),
                range: start..end,
            });
            start = end;
        }
        let keys: HashSet<&Key> = new.iter().map(|d| &d.key).collect();
        let replaced: HashSet<Key> = self
            .decls
            .iter()
            .filter(|d| keys.contains(&d.key))
            .map(|d| d.key.clone())
            .collect();
        let mut decls: Vec<Decl> = self
            .decls
            .iter()
            .filter(|d| !keys.contains(&d.key))
            .cloned()
            .collect();
        decls.extend(new);
        let mut c = Composed::default();
        self.compose_decls(&decls, &mut c);
        let check = self.check(c);
        if self.report(&check, origin) {
            return false;
        }
        self.decls = decls;
        let consts = self.const_types(&check);
        let lines: Vec<String> = module
            .items
            .iter()
            .map(|it| describe(it, &check, &consts, replaced.contains(&key_of(it))))
            .collect();
        if loaded {
            self.out(&format!(
                "loaded {}: {}",
                origin.name,
                summary(&module.items)
            ));
        } else {
            for l in lines {
                self.out(&l);
            }
        }
        true
    }

    // ------------------------------------------------------------ statements

    /// Checks and runs statements; prints new bindings and the value of the last expression.
    fn statements(&mut self, origin: &Rc<Origin>) {
        // A stray `}` would close the step flow early: say so before parsing.
        if let Some(at) = input::unmatched_bracket(&origin.text) {
            let mut c = Composed::default();
            c.source(origin, 0..origin.text.len());
            let ch = origin.text[at..].chars().next().unwrap_or('}');
            let d = crate::diag::catalog::syntax(
                format!("unmatched `{ch}`"),
                Span::new(FileId(0), at, at + ch.len_utf8()),
                "nothing opened it".into(),
            );
            self.show_parse_errors(&c, &[d]);
            return;
        }
        let mut alone = Composed::default();
        alone.glue(input::STEP_OPEN);
        alone.source(origin, 0..origin.text.len());
        alone.glue(input::STEP_CLOSE);
        let Some(module) = self.parse(&alone) else {
            return;
        };
        let (Some(ItemKind::Flow(f)), 1) =
            (module.items.first().map(|i| &i.kind), module.items.len())
        else {
            self.error("this input does not read as statements; check its brackets");
            return;
        };
        let base = input::STEP_OPEN.len();
        let lets: Vec<String> = f
            .body
            .stmts
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::Let { name, .. } => Some(name.name.clone()),
                _ => None,
            })
            .collect();
        let tail = match f.body.stmts.last() {
            Some(s) if matches!(s.kind, StmtKind::Expr { .. }) => {
                Some(s.span.start as usize - base)
            }
            _ => None,
        };
        let len = origin.text.len();
        let composed = self.compose_step(&lets, |c| {
            match tail {
                Some(k) => {
                    c.source(origin, 0..k);
                    c.glue(&format!("let {VALUE} = "));
                    c.source(origin, k..len);
                }
                None => c.source(origin, 0..len),
            }
            let mut fields: Vec<String> = lets.iter().map(|n| format!("{n}: {n}")).collect();
            if tail.is_some() {
                fields.push(format!("{VALUE}: {VALUE}"));
            }
            c.glue(&format!("\n{{ {} }}", fields.join(", ")));
        });
        let check = self.check(composed);
        if self.report(&check, origin) {
            return;
        }
        let result_ty = step_type(&check.checked.program);
        let inputs: Map<String, Value> = self
            .bindings
            .iter()
            .filter(|b| !lets.contains(&b.name))
            .map(|b| (b.name.clone(), b.value.clone()))
            .collect();
        // The step of the last expression is named after its call, or the input.
        let tail_name = match f.body.tail().map(|e| &e.kind) {
            Some(ExprKind::Call(c)) => c
                .callee
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join("."),
            _ => origin.name.clone(),
        };
        let Some(value) = self.run(&check, inputs, &tail_name) else {
            return;
        };
        let field_ty = |n: &str| {
            result_ty
                .as_ref()
                .and_then(|r| r.field(n))
                .map_or(Type::Json, |f| f.ty.clone())
        };
        for name in &lets {
            let ty = field_ty(name);
            let v = value.get(name).cloned().unwrap_or(Value::Null);
            self.out(&format!("{name} : {ty} = {}", compact(&v, 100)));
            self.bindings.retain(|b| b.name != *name);
            self.bindings.push(Binding {
                name: name.clone(),
                ty,
                value: v,
            });
        }
        if tail.is_some() {
            let ty = field_ty(VALUE);
            let v = value.get(VALUE).cloned().unwrap_or(Value::Null);
            self.out(&show_value(&v, &ty));
        }
    }

    /// Runs the step flow of a check; Ctrl-C cancels it (dropping the run kills
    /// its child processes). Errors are shown; `None` if it did not finish.
    /// `tail` names the step of the input's last expression in error messages.
    fn run(&mut self, check: &Check, inputs: Map<String, Value>, tail: &str) -> Option<Value> {
        // The step view, in a terminal session.
        let view = self.interactive && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let config = RunConfig {
            tenant: std::env::var("FLOWC_TENANT").ok(),
            record: view,
            ..RunConfig::default()
        };
        let mut interp = Interp::new(&check.checked.program, &check.checked.sources, config);
        if let Some(spec) = &self.llm {
            interp.llm = crate::run::llm::Llm::new(llm_provider(spec).ok());
        }
        let signals = &mut self.signals;
        RUNNING.store(true, Ordering::SeqCst);
        let step_view = crate::cli::view::StepView::new(view);
        let outcome = self.rt.block_on(async {
            tokio::select! {
                r = step_view.drive(interp.run_as(STEP, inputs, ROOT), &interp.recorder) => Ok(r),
                s = signals.recv() => Err(s),
            }
        });
        step_view.finish();
        RUNNING.store(false, Ordering::SeqCst);
        let r = check.renderer(self.color);
        for w in interp.recorder.warnings() {
            let msg = w["message"].as_str().unwrap_or("");
            let file = w["file"].as_str().unwrap_or("");
            let (line, column) = (
                w["line"].as_u64().unwrap_or(1) as usize,
                w["column"].as_u64().unwrap_or(1) as usize,
            );
            let at = if file == self.name {
                r.locate(line, column)
            } else {
                format!("{file}:{line}:{column}")
            };
            self.err(&format!("warning: {at}: {msg}"));
        }
        match outcome {
            Ok(Ok(v)) => Some(v),
            Ok(Err(mut errors)) => {
                for e in &mut errors {
                    if e.step == VALUE {
                        e.step = tail.to_string();
                    }
                    // Paths inside the input, with its last expression named like its step.
                    if let Some(p) = &e.path {
                        let rel = p.strip_prefix(ROOT).and_then(|p| p.strip_prefix('/'));
                        e.path = rel.map(|rel| match rel.strip_prefix(VALUE) {
                            Some(rest) => format!("{tail}{rest}"),
                            None => rel.to_string(),
                        });
                    }
                }
                let text: String = errors
                    .iter()
                    .map(|e| r.render(&e.to_diagnostic()))
                    .collect();
                self.err(&text);
                self.failed = true;
                None
            }
            // Ctrl-C cancels the step; a terminal session goes on.
            Err(Interrupt::Int) => {
                self.error("cancelled");
                if !self.interactive {
                    self.interrupted = Some(Interrupt::Int);
                }
                None
            }
            Err(signal) => {
                self.error(&format!("cancelled by {}", signal.name()));
                self.interrupted = Some(signal);
                None
            }
        }
    }

    // ------------------------------------------------------------ commands

    fn command(&mut self, text: &str) -> Next {
        let trimmed = text.trim();
        let (cmd, rest) = trimmed
            .split_once(char::is_whitespace)
            .map_or((trimmed, ""), |(c, r)| (c, r.trim()));
        match cmd {
            ":quit" | ":q" | ":exit" => return Next::Quit,
            ":help" | ":h" | ":?" => self.out(&help()),
            ":type" | ":t" => self.type_of(text),
            ":graph" | ":g" => self.graph(rest),
            ":load" | ":l" => {
                if rest.is_empty() {
                    self.error("`:load` needs a file: `:load path/to/file.flow`");
                } else {
                    self.load(rest);
                }
            }
            ":tools" => self.tools(),
            ":env" => self.env(),
            ":reset" => {
                self.decls.clear();
                self.bindings.clear();
                self.out("session reset");
                self.load_initial();
            }
            _ => {
                let names = COMMANDS
                    .iter()
                    .map(|(c, _)| c.split(' ').next().unwrap_or(c));
                let help = suggest(cmd, names)
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                self.error(&format!(
                    "unknown command `{cmd}`{help}; `:help` lists the commands"
                ));
            }
        }
        Next::Continue
    }

    /// `:load FILE`: reads and declares a file's items. `false` if it cannot be read.
    fn load(&mut self, file: &str) -> bool {
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let origin = Origin::new(file, text);
                self.declare(&origin, true);
                true
            }
            Err(e) => {
                self.error(&format!("cannot read `{file}`: {e}"));
                false
            }
        }
    }

    /// `:type EXPR`: checks the expression with the session, runs nothing.
    fn type_of(&mut self, text: &str) {
        let origin = Origin::new(format!("<input {}>", self.count), text);
        let start = text.find(":t").unwrap_or(0);
        let after_cmd = start
            + text[start..]
                .find(char::is_whitespace)
                .unwrap_or(text.len() - start);
        let expr_start =
            after_cmd + (text[after_cmd..].len() - text[after_cmd..].trim_start().len());
        let expr_end = text.trim_end().len().max(expr_start);
        if expr_start >= expr_end {
            self.error("`:type` needs an expression: `:type len(xs)`");
            return;
        }
        let composed = self.compose_step(&[], |c| {
            c.glue(&format!("let {VALUE} = "));
            c.source(&origin, expr_start..expr_end);
            c.glue(&format!("\n{{ {VALUE}: {VALUE} }}"));
        });
        let check = self.check(composed);
        if self.report(&check, &origin) {
            return;
        }
        let ty = step_type(&check.checked.program)
            .and_then(|r| r.field(VALUE).map(|f| f.ty.clone()))
            .unwrap_or(Type::Json);
        self.out(&ty.to_string());
    }

    /// Checks the declarations alone (for `:graph`, `:tools`, `:env` and completion).
    fn check_decls(&self) -> Check {
        let mut c = Composed::default();
        self.compose_decls(&self.decls, &mut c);
        self.check(c)
    }

    /// The types of the declared constants, in order. (`ModInfo::consts` is
    /// not filled by the checker, so they are read from a step that returns them.)
    fn const_types(&self, check: &Check) -> Vec<(String, Type)> {
        let names: Vec<String> = check
            .checked
            .program
            .root_module()
            .ast
            .items
            .iter()
            .filter_map(|it| match &it.kind {
                ItemKind::Const(c) => Some(c.name.name.clone()),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            return Vec::new();
        }
        let all: Vec<String> = self.bindings.iter().map(|b| b.name.clone()).collect();
        let fields: Vec<String> = names.iter().map(|n| format!("{n}: {n}")).collect();
        let composed = self.compose_step(&all, |c| c.glue(&format!("{{ {} }}", fields.join(", "))));
        let types = step_type(&self.check(composed).checked.program);
        names
            .into_iter()
            .map(|n| {
                let t = types
                    .as_ref()
                    .and_then(|r| r.field(&n))
                    .map_or(Type::Unknown, |f| f.ty.clone());
                (n, t)
            })
            .collect()
    }

    fn graph(&mut self, args: &str) {
        let check = self.check_decls();
        let program = &check.checked.program;
        let md = program.root_module();
        let mut flows: Vec<&String> = md.flows.keys().filter(|n| *n != STEP).collect();
        flows.sort();
        let mut words = args.split_whitespace();
        let mut flow = words.next();
        let mut format = words.next();
        if let Some(f) = flow
            && matches!(f, "dot" | "mermaid" | "json")
            && !md.flows.contains_key(f)
        {
            format = Some(f);
            flow = None;
        }
        let list = flows
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let name = match flow {
            Some(f) if md.flows.contains_key(f) && f != STEP => f.to_string(),
            Some(f) => {
                let help = suggest(f, flows.iter().map(|s| s.as_str()))
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                let known = if flows.is_empty() {
                    "no flow is declared".to_string()
                } else {
                    format!("the flows: {list}")
                };
                self.error(&format!("no flow `{f}`{help}; {known}"));
                return;
            }
            None if flows.len() == 1 => flows[0].clone(),
            None if flows.is_empty() => {
                self.error("no flow is declared; declare one with `flow name() { … }`");
                return;
            }
            None => {
                self.error(&format!("which flow? `:graph NAME` with one of {list}"));
                return;
            }
        };
        let mut g = crate::ir::lower_flow(program, &check.checked.sources, program.root, &name);
        // Lines of the session text mean nothing to the user: use those of the inputs.
        let r = check.renderer(false);
        remap_lines(&mut g.body, &r);
        let text = match format {
            None => {
                let top = g.body.graph.node_count();
                let levels = g.body.levels.iter().max().map_or(0, |l| l + 1);
                let mut s = format!(
                    "flow {name}: {top} step{} in {levels} level{}\n",
                    if top == 1 { "" } else { "s" },
                    if levels == 1 { "" } else { "s" }
                );
                graph_text(&g.body, 1, &mut s);
                s.trim_end().to_string()
            }
            Some("dot") => g.to_dot().trim_end().to_string(),
            Some("mermaid") => g.to_mermaid().trim_end().to_string(),
            Some("json") => serde_json::to_string_pretty(&g.to_json()).expect("graphs serialise"),
            Some(other) => {
                self.error(&format!(
                    "unknown graph format `{other}`; use dot, mermaid or json"
                ));
                return;
            }
        };
        self.out(&text);
    }

    fn tools(&mut self) {
        let check = self.check_decls();
        let p = &check.checked.program;
        let mut lines = Vec::new();
        let mut modules: Vec<(String, usize)> = vec![(String::new(), p.root)];
        let mut imports: Vec<(&String, &usize)> = p.root_module().imports.iter().collect();
        imports.sort();
        modules.extend(imports.into_iter().map(|(a, m)| (format!("{a}."), *m)));
        for (prefix, m) in modules {
            let md = &p.modules[m];
            let text = &check.checked.sources.get(md.file).text;
            for it in &md.ast.items {
                let (line, doc) = match &it.kind {
                    ItemKind::Tool(t) => {
                        let Some(sig) = md.tools.get(&t.name.name) else {
                            continue;
                        };
                        let binding = crate::run::redact::redact(
                            &text
                                .get(t.binding.span.range())
                                .unwrap_or("")
                                .split_whitespace()
                                .collect::<Vec<_>>()
                                .join(" "),
                        );
                        (
                            format!(
                                "{}tool {prefix}{} = {binding}",
                                if sig.effect { "effect " } else { "" },
                                signature(sig, sig.ret.as_ref())
                            ),
                            &it.doc,
                        )
                    }
                    ItemKind::Flow(f) if f.name.name != STEP => {
                        let Some(sig) = md.flows.get(&f.name.name) else {
                            continue;
                        };
                        let ret = p.flow_types.get(&(m, f.name.name.clone()));
                        (format!("flow {prefix}{}", signature(sig, ret)), &it.doc)
                    }
                    _ => continue,
                };
                lines.push(line);
                let doc = doc
                    .clone()
                    .or_else(|| doc_above(text, it.span.start as usize));
                if let Some(d) = doc.as_deref().and_then(|d| d.lines().next()) {
                    lines.push(format!("    {}", d.trim()));
                }
            }
        }
        if lines.is_empty() {
            self.out("no tools or flows are declared");
        } else {
            self.out(&lines.join("\n"));
        }
    }

    fn env(&mut self) {
        let check = self.check_decls();
        let mut lines: Vec<String> = self
            .const_types(&check)
            .iter()
            .map(|(n, t)| format!("const {n} : {t}"))
            .collect();
        lines.extend(
            self.bindings
                .iter()
                .map(|b| format!("{} : {}", b.name, b.ty)),
        );
        if lines.is_empty() {
            self.out("no bindings yet");
        } else {
            self.out(&lines.join("\n"));
        }
    }

    /// The names completion offers: declarations, imports and their members, bindings.
    pub fn names(&self) -> Names {
        let check = self.check_decls();
        let p = &check.checked.program;
        let md = p.root_module();
        let mut names = Names::default();
        let members = |m: usize| -> Vec<String> {
            let md = &p.modules[m];
            let consts = md.ast.items.iter().filter_map(|it| match &it.kind {
                ItemKind::Const(c) => Some(&c.name.name),
                _ => None,
            });
            let mut v: Vec<String> = md
                .tools
                .keys()
                .chain(md.flows.keys())
                .chain(consts)
                .chain(md.types.keys())
                .cloned()
                .collect();
            v.sort();
            v
        };
        names.words = members(p.root);
        for (alias, &m) in &md.imports {
            names.words.push(alias.clone());
            names.members.insert(alias.clone(), members(m));
        }
        names.flows = md.flows.keys().cloned().collect();
        names.flows.sort();
        for b in &self.bindings {
            names.words.push(b.name.clone());
            names.types.insert(b.name.clone(), b.ty.clone());
        }
        names
            .types
            .insert("context".into(), crate::check::context_type());
        names.words.retain(|w| w != STEP);
        names.flows.retain(|w| w != STEP);
        names
    }
}

fn key_of(it: &Item) -> Key {
    match &it.kind {
        ItemKind::Type(t) => Key::Type(t.name.name.clone()),
        ItemKind::Import(i) => Key::Import(match (&i.alias, &i.target) {
            (Some(a), _) => a.name.clone(),
            (None, ImportTarget::Module(path)) => {
                path.last().map(|p| p.name.clone()).unwrap_or_default()
            }
            (None, ImportTarget::File(f, _)) => std::path::Path::new(f)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }),
        ItemKind::Test(t) => Key::Test(t.name.clone()),
        k => Key::Value(k.name().map(|n| n.name.clone()).unwrap_or_default()),
    }
}

/// The `///` lines right above byte `start` of `text`, joined.
fn doc_above(text: &str, start: usize) -> Option<String> {
    let mut lines: Vec<&str> = text[..start.min(text.len())]
        .lines()
        .rev()
        .skip_while(|l| l.trim().is_empty())
        .map_while(|l| l.trim().strip_prefix("///"))
        .map(str::trim)
        .collect();
    lines.reverse();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// `name(a: T, b: U = …) -> R`
fn signature(sig: &Signature, ret: Option<&Type>) -> String {
    let params: Vec<String> = sig
        .params
        .iter()
        .map(|p| {
            format!(
                "{}: {}{}",
                p.name,
                p.ty,
                if p.has_default { " = …" } else { "" }
            )
        })
        .collect();
    match ret {
        Some(r) => format!("{}({}) -> {r}", sig.name, params.join(", ")),
        None => format!("{}({})", sig.name, params.join(", ")),
    }
}

/// One line about a declared item.
fn describe(it: &Item, check: &Check, consts: &[(String, Type)], replaced: bool) -> String {
    let p = &check.checked.program;
    let md = p.root_module();
    let line = match &it.kind {
        ItemKind::Tool(t) => match md.tools.get(&t.name.name) {
            Some(sig) => format!(
                "{}tool {}",
                if sig.effect { "effect " } else { "" },
                signature(sig, sig.ret.as_ref())
            ),
            None => format!("tool {}", t.name.name),
        },
        ItemKind::Flow(f) => match md.flows.get(&f.name.name) {
            Some(sig) => format!(
                "flow {}",
                signature(sig, p.flow_types.get(&(p.root, f.name.name.clone())))
            ),
            None => format!("flow {}", f.name.name),
        },
        ItemKind::Type(t) => match md.types.get(&t.name.name) {
            Some(ty) => format!("type {} = {}", t.name.name, type_source(ty)),
            None => format!("type {}", t.name.name),
        },
        ItemKind::Const(c) => match consts.iter().find(|(n, _)| *n == c.name.name) {
            Some((_, ty)) => format!("const {} : {ty}", c.name.name),
            None => format!("const {}", c.name.name),
        },
        ItemKind::Import(i) => {
            let alias = match key_of(it) {
                Key::Import(a) => a,
                _ => unreachable!("imports have import keys"),
            };
            match &i.target {
                ImportTarget::Module(path) => {
                    let full = path
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(".");
                    format!("import {full} as {alias}")
                }
                ImportTarget::File(f, _) => format!("import \"{f}\" as {alias}"),
            }
        }
        ItemKind::Test(t) => format!("test \"{}\"", t.name),
    };
    if replaced {
        format!("{line} (redefined)")
    } else {
        line
    }
}

/// "2 tools, 1 flow, 1 type"
fn summary(items: &[Item]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for it in items {
        let what = match &it.kind {
            ItemKind::Tool(_) => "tool",
            ItemKind::Flow(_) => "flow",
            ItemKind::Type(_) => "type",
            ItemKind::Const(_) => "constant",
            ItemKind::Import(_) => "import",
            ItemKind::Test(_) => "test",
        };
        match counts.iter_mut().find(|(w, _)| *w == what) {
            Some((_, n)) => *n += 1,
            None => counts.push((what, 1)),
        }
    }
    if counts.is_empty() {
        return "nothing declared".into();
    }
    counts
        .iter()
        .map(|(w, n)| format!("{n} {w}{}", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The record type the step flow returns.
fn step_type(p: &Program) -> Option<Rc<RecordTy>> {
    match p.flow_types.get(&(p.root, STEP.to_string())) {
        Some(Type::Record(r)) => Some(r.clone()),
        _ => None,
    }
}

fn help() -> String {
    let mut s = String::from(
        "Type declarations (tool, type, flow, const, import) or statements (let x = …, expressions).\n\
         An expression prints its value and type; tool calls run. An input continues on the\n\
         next line while a bracket or block is open; an empty line ends it.\n\n",
    );
    let w = COMMANDS.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    for (c, what) in COMMANDS {
        s.push_str(&format!("  {c:w$}  {what}\n"));
    }
    s.push_str(
        "\nTab completes names and commands; Ctrl-C cancels the running step; Ctrl-D leaves.",
    );
    s
}

/// A value and its type: `3 : int`, or the pretty JSON with the type on its last line.
fn show_value(v: &Value, ty: &Type) -> String {
    let pretty = serde_json::to_string_pretty(v).expect("values serialise");
    if pretty.contains('\n') {
        format!("{pretty}\n: {ty}")
    } else {
        format!("{pretty} : {ty}")
    }
}

/// One-line JSON, cut to about `max` characters.
fn compact(v: &Value, max: usize) -> String {
    let s = serde_json::to_string(v).expect("values serialise");
    if s.chars().count() <= max {
        s
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// A type as source text that parses back to the same type (aliases spelled
/// out, types that cannot be written as `json`).
pub fn type_source(t: &Type) -> String {
    match t {
        Type::Unknown | Type::Never | Type::Regex | Type::Json => "json".into(),
        Type::Null => "null".into(),
        Type::Bool => "bool".into(),
        Type::Int => "int".into(),
        Type::Float => "float".into(),
        Type::String => "string".into(),
        Type::Duration => "duration".into(),
        Type::Lit(v) => v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" | "),
        Type::List(e) => format!("[{}]", type_source(e)),
        Type::Optional(e) if matches!(**e, Type::Lit(_)) => format!("({})?", type_source(e)),
        Type::Optional(e) => format!("{}?", type_source(e)),
        Type::Record(r) if r.fields.is_empty() => "{}".into(),
        Type::Record(r) => {
            let fields: Vec<String> = r
                .fields
                .iter()
                .map(|f| {
                    let plain = f
                        .name
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && f.name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_');
                    format!(
                        "{}{}: {}",
                        if plain {
                            f.name.clone()
                        } else {
                            quote(&f.name)
                        },
                        if f.optional { "?" } else { "" },
                        type_source(&f.ty)
                    )
                })
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
    }
}

/// A string literal of the language.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Sets the lines and columns of a lowered block to those in the inputs.
fn remap_lines(b: &mut BlockGraph, r: &Renderer<'_>) {
    for n in b.graph.node_weights_mut() {
        if let Some((_, line, column)) = r.position(n.line, n.column) {
            n.line = line;
            n.column = column;
        }
        for c in &mut n.children {
            remap_lines(c, r);
        }
    }
}

/// A block of a lowered flow, one line per step, by level.
fn graph_text(b: &BlockGraph, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let mut nodes: Vec<_> = b.graph.node_indices().collect();
    nodes.sort_by_key(|i| (b.levels[i.index()], i.index()));
    for i in nodes {
        let n = &b.graph[i];
        let mut line = format!("{pad}L{} {}", b.levels[i.index()], n.label);
        if !n.calls.is_empty() {
            line.push_str(&format!(" = {}", n.calls.join(", ")));
        }
        let mut inputs: Vec<(usize, String)> = b
            .graph
            .edges_directed(i, petgraph::Direction::Incoming)
            .map(|e| {
                use petgraph::visit::EdgeRef;
                let from = &b.graph[e.source()].label;
                let what = match e.weight() {
                    EdgeKind::Data => from.clone(),
                    EdgeKind::After => format!("{from} (after)"),
                    EdgeKind::Sequence => format!("{from} (sequence)"),
                    EdgeKind::Effect => format!("{from} (effect order)"),
                };
                (e.source().index(), what)
            })
            .collect();
        inputs.sort();
        if !inputs.is_empty() {
            let names: Vec<String> = inputs.into_iter().map(|(_, w)| w).collect();
            line.push_str(&format!("  <- {}", names.join(", ")));
        }
        out.push_str(&line);
        out.push('\n');
        for child in &n.children {
            out.push_str(&format!("{pad}  {}:\n", child.label));
            graph_text(child, depth + 2, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::types::FieldTy;

    #[test]
    fn types_print_as_source_that_parses_back() {
        let t = Type::record(vec![
            Type::field("a-b", Type::lits(vec!["x{".into(), "y\"".into()])),
            FieldTy {
                name: "c".into(),
                ty: Type::optional(Type::lits(vec!["low".into(), "high".into()])),
                optional: true,
            },
            Type::field("d", Type::list(Type::Never)),
        ]);
        let src = type_source(&t);
        assert_eq!(
            src,
            r#"{ "a-b": "x\{" | "y\"", c?: ("high" | "low")?, d: [json] }"#
        );
        let text = format!("type T = {src}\n");
        let checked = check_source("t.flow", &text, &crate::check::NoFiles);
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let back = &checked.program.root_module().types["T"];
        let Type::Record(r) = back else {
            panic!("a record: {back:?}")
        };
        assert_eq!(r.fields[0].name, "a-b");
        assert_eq!(r.fields[0].ty, Type::lits(vec!["x{".into(), "y\"".into()]));
    }

    #[test]
    fn values_show_with_their_type() {
        assert_eq!(show_value(&serde_json::json!(3), &Type::Int), "3 : int");
        assert_eq!(
            show_value(&serde_json::json!({"a": 1}), &Type::Json),
            "{\n  \"a\": 1\n}\n: json"
        );
        assert_eq!(compact(&serde_json::json!("abcdef"), 4), "\"abc…");
    }
}
