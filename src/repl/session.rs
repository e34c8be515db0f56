//! One REPL session on the one driver: declarations and `let`s accumulate;
//! each input is checked against what came before it and then run by the
//! interpreter.
//!
//! Declarations are kept verbatim, one piece per item, and checked together
//! when they change. Statements are parsed on their own and checked alone
//! (`check::fragment`) in the session's scope: the earlier bindings with their
//! checked types, passed their values, so earlier inputs are never checked or
//! run again and no source text is written for them. The input is the body of
//! a flow of the session, `__repl_step`, whose last expression is bound to
//! `__repl_value` and which gives the record of its new bindings and that
//! value; its inferred result type gives the type of every new binding and of
//! the value.

use std::collections::HashSet;
use std::io::Write;
use std::ops::Range;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};

use super::text::{Composed, Origin, Renderer, compact, show_type, show_value, type_source};
use super::{Names, input};
use crate::check::fragment::{Fragment, check_fragment_in};
use crate::check::types::RecordTy;
use crate::check::{Program, Signature, Type};
use crate::diag::Diagnostic;
use crate::driver::project::{Chosen, LlmArgs, choose_provider, folder_of};
use crate::driver::runner::{Job, Outcome, Runner};
use crate::driver::signals::Interrupt;
use crate::driver::{ApproveMode, Checked, Event, FsLoader, check_source};
use crate::source::Sources;
use crate::syntax::ast::{
    Block, Expr, ExprKind, Ident, ImportTarget, Item, ItemKind, RecordField, Stmt, StmtKind,
};
use crate::syntax::span::{FileId, Span};
use crate::term::{out, view::StepView};

mod commands;

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
    Policy(String),
    McpServer(String),
    /// A schedule: its cron expression and flow.
    Schedule(String),
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

/// A check of the session's declarations (composed from what was typed),
/// and of an input checked with them.
struct Check {
    composed: Composed,
    checked: Checked,
    /// The file of the input checked as a step, if one was.
    input: Option<FileId>,
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
    /// The check of `decls`, made when they last changed; each statement is
    /// checked into it (`check::fragment::check_fragment_in`), so nothing
    /// before the input is checked again.
    base: Option<Check>,
    pub bindings: Vec<Binding>,
    /// Inputs so far; the current one is named `<input N>` in diagnostics.
    count: usize,
    /// The runtime, listening to Ctrl-C (SIGINT), SIGTERM and SIGHUP from the
    /// start so that none ends the process while a step's child processes run.
    runner: Runner,
    color: bool,
    /// A terminal session goes on after Ctrl-C cancels a step; a scripted one ends.
    interactive: bool,
    /// Whether an input has failed (the exit status of a scripted session).
    pub failed: bool,
    /// The signal that ended the session: Ctrl-C of a scripted one, or
    /// SIGTERM/SIGHUP of any.
    pub interrupted: Option<Interrupt>,
    /// `--llm`, `--model`, `--llm-timeout`: who answers decisions, else the
    /// `flowc.toml` of the session's folder (a provider is made for each run).
    pub llm: LlmArgs,
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
        Session {
            name,
            initial,
            decls: Vec::new(),
            base: None,
            bindings: Vec::new(),
            count: 0,
            runner: Runner::new(),
            color,
            interactive,
            llm: LlmArgs::default(),
            failed: false,
            interrupted: None,
        }
    }

    fn out(&self, text: &str) {
        out::println(text);
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

    /// Who answers LLM decisions: `--llm`, else the `flowc.toml` of the
    /// session's folder (FILE's, or the current one) or above it.
    pub fn llm_provider(&self) -> Result<Chosen, String> {
        let dir = self
            .initial
            .as_deref()
            .map_or_else(|| ".".into(), folder_of);
        choose_provider(&dir, &self.llm)
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
        self.runner.forget_sigint();
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

    fn check(&self, composed: Composed) -> Check {
        let checked = check_source(&self.name, &composed.text, &FsLoader::here());
        Check {
            composed,
            checked,
            input: None,
        }
    }

    /// The check of the declarations, taken out of the session while a
    /// statement is checked and run in it (given back by [`Session::keep`]).
    fn take_base(&mut self) -> Check {
        match self.base.take() {
            Some(b) => b,
            None => self.check_decls(),
        }
    }

    fn keep(&mut self, base: Check) {
        self.base = Some(base);
    }

    /// Checks `body`, of the file `file` of the sources of `base` (what was
    /// typed), as a step of the session, into the check of its declarations:
    /// in the scope of its bindings except those in `skip` (which the step
    /// binds again), their types as checked. Only the input is checked, and
    /// nothing of the session is written as text for it.
    fn check_step(&self, base: &mut Check, file: FileId, body: Block, skip: &[String]) {
        let scope = self
            .bindings
            .iter()
            .filter(|b| !skip.contains(&b.name))
            .map(|b| (b.name.clone(), b.ty.clone()))
            .collect();
        let fragment = Fragment {
            file,
            body,
            flow: STEP.to_string(),
            scope,
            expected: None,
            policy: None,
        };
        base.checked.diagnostics = check_fragment_in(&mut base.checked.program, fragment);
        base.input = Some(file);
    }

    /// Parses the part `range` of what was typed (`origin`) as statements, in
    /// a file of its own added to `sources`; shows its syntax errors (`None`
    /// if there are any).
    fn parse_input(
        &mut self,
        sources: &mut Sources,
        origin: &Origin,
        range: Range<usize>,
    ) -> Option<(FileId, Block)> {
        let file = sources.add(origin.name.clone(), origin.text.clone());
        let (body, diags) = crate::syntax::parse_block_body_in(file, &origin.text, range);
        if diags.iter().any(Diagnostic::is_error) {
            let text: String = diags
                .iter()
                .map(|d| crate::diag::render::render(d, sources, self.color))
                .collect();
            self.err(&text);
            self.failed = true;
            return None;
        }
        match body {
            Some(body) => Some((file, body)),
            None => {
                self.error("this input does not read as statements; check its brackets");
                None
            }
        }
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
                let span = d.primary_span();
                d.code != "W0002" && (Some(span.file) == check.input || r.is_in(span, current))
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
        let mut check = check;
        let consts = self.const_types(&mut check);
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
        self.keep(check);
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
        let mut base = self.take_base();
        let parsed = self.parse_input(&mut base.checked.sources, origin, 0..origin.text.len());
        if let Some((file, body)) = parsed {
            self.step(&mut base, origin, file, body);
        }
        self.keep(base);
    }

    /// Checks and runs the statements `body` of the input `origin` (its file
    /// `file`) in the session's check `base`; prints new bindings and the
    /// value of the last expression.
    fn step(&mut self, base: &mut Check, origin: &Rc<Origin>, file: FileId, body: Block) {
        let lets: Vec<String> = body
            .stmts
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::Let { name, .. } => Some(name.name.to_string()),
                _ => None,
            })
            .collect();
        // The step of the last expression is named after its call, or the input.
        let tail_name = match body.tail().map(|e| &e.kind) {
            Some(ExprKind::Call(c)) => c
                .callee
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join("."),
            _ => origin.name.clone(),
        };
        let (body, tail) = step_body(body, &lets);
        self.check_step(base, file, body, &lets);
        let check: &Check = base;
        if self.report(check, origin) {
            return;
        }
        let result_ty = step_type(&check.checked.program);
        let inputs: Map<String, Value> = self
            .bindings
            .iter()
            .filter(|b| !lets.contains(&b.name))
            .map(|b| (b.name.clone(), b.value.clone()))
            .collect();
        let Some(value) = self.run(check, inputs, &tail_name) else {
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
            self.out(&format!(
                "{name} : {} = {}",
                show_type(&ty, &check.checked.program),
                compact(&v, 100)
            ));
            self.bindings.retain(|b| b.name != *name);
            self.bindings.push(Binding {
                name: name.clone(),
                ty,
                value: v,
            });
        }
        if tail {
            let ty = field_ty(VALUE);
            let v = value.get(VALUE).cloned().unwrap_or(Value::Null);
            self.out(&show_value(&v, &ty, &check.checked.program));
        }
    }

    /// Runs the step flow of a check; Ctrl-C cancels it (dropping the run kills
    /// its child processes). Errors are shown; `None` if it did not finish.
    /// `tail` names the step of the input's last expression in error messages.
    fn run(&mut self, check: &Check, inputs: Map<String, Value>, tail: &str) -> Option<Value> {
        // The session has no store to pause in: `approve` asks on the
        // terminal; piped, stdin is the script, and it fails.
        let approvals = if self.interactive {
            ApproveMode::Ask
        } else {
            ApproveMode::Refuse
        };
        // Made for each run: a `replay:` provider replays from its start.
        let chosen = match self.llm_provider() {
            Ok(chosen) => chosen,
            Err(e) => {
                self.error(&e);
                return None;
            }
        };
        // The step view, in a terminal session; it would draw over the
        // questions of `--llm human`.
        let view = self.interactive
            && std::io::IsTerminal::is_terminal(&std::io::stderr())
            && chosen.name().as_deref() != Some("human");
        let mut job = Job::new(&check.checked.program, &check.checked.sources, STEP);
        job.root = Some(ROOT);
        job.inputs = inputs;
        job.approvals = approvals;
        job.provider = chosen.provider;
        job.progress = view;
        RUNNING.store(true, Ordering::SeqCst);
        let step_view = StepView::new(view);
        let finished = self.runner.run(job, &mut |e| {
            if let Event::Progress(p) = e {
                step_view.show(p)
            }
        });
        step_view.finish();
        RUNNING.store(false, Ordering::SeqCst);
        let r = check.renderer(self.color);
        for w in &finished.warnings {
            let (msg, file, line, column) = (&w.message, w.file.as_str(), w.line, w.column);
            let at = if file == self.name {
                r.locate(line, column)
            } else {
                format!("{file}:{line}:{column}")
            };
            self.err(&format!("warning: {at}: {msg}"));
        }
        match finished.outcome {
            Outcome::Ok(v) => Some(v),
            Outcome::Failed(mut errors) => {
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
            Outcome::Cancelled(Interrupt::Int) => {
                self.error("cancelled");
                if !self.interactive {
                    self.interrupted = Some(Interrupt::Int);
                }
                None
            }
            Outcome::Cancelled(signal) => {
                self.error(&format!("cancelled by {}", signal.name()));
                self.interrupted = Some(signal);
                None
            }
            // Not reached: a session has no store.
            Outcome::StoreFailed(e) => {
                self.error(&e.message);
                self.failed = true;
                None
            }
            // Not reached: the session asks each `approve` inline.
            Outcome::Paused(_) => {
                self.error("the step paused at an `approve`, which a session cannot resume");
                self.failed = true;
                None
            }
        }
    }
}

fn key_of(it: &Item) -> Key {
    match &it.kind {
        ItemKind::Type(t) => Key::Type(t.name.name.to_string()),
        ItemKind::Import(i) => Key::Import(match (&i.alias, &i.target) {
            (Some(a), _) => a.name.to_string(),
            (None, ImportTarget::Module(path)) => path
                .last()
                .map(|p| p.name.clone())
                .unwrap_or_default()
                .to_string(),
            (None, ImportTarget::File(f, _)) => std::path::Path::new(f)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }),
        ItemKind::Test(t) => Key::Test(t.name.clone()),
        ItemKind::Policy(p) => Key::Policy(p.name.name.to_string()),
        ItemKind::McpServer(m) => Key::McpServer(m.name.name.to_string()),
        ItemKind::Schedule(sc) => Key::Schedule(schedule_line(sc)),
        k => Key::Value(
            k.name()
                .map(|n| n.name.clone())
                .unwrap_or_default()
                .to_string(),
        ),
    }
}

/// `name(a: T, b: U = …) -> R`, the types as code in the session writes them.
fn signature(sig: &Signature, ret: Option<&Type>, program: &Program) -> String {
    let params: Vec<String> = sig
        .params
        .iter()
        .map(|p| {
            format!(
                "{}: {}{}",
                p.name,
                show_type(&p.ty, program),
                if p.has_default { " = …" } else { "" }
            )
        })
        .collect();
    match ret {
        Some(r) => format!(
            "{}({}) -> {}",
            sig.name,
            params.join(", "),
            show_type(r, program)
        ),
        None => format!("{}({})", sig.name, params.join(", ")),
    }
}

/// One line about a declared item.
fn describe(it: &Item, check: &Check, consts: &[(String, Type)], replaced: bool) -> String {
    let p = &check.checked.program;
    let md = p.root_module();
    let line = match &it.kind {
        ItemKind::Tool(t) => match md.tools.get(t.name.name.as_str()) {
            Some(sig) => format!(
                "{}tool {}",
                if sig.effect { "effect " } else { "" },
                signature(sig, sig.ret.as_ref(), p)
            ),
            None => format!("tool {}", t.name.name),
        },
        ItemKind::Flow(f) => match md.flows.get(f.name.name.as_str()) {
            Some(sig) => format!(
                "flow {}",
                signature(sig, p.flow_types.get(&(p.root, f.name.name.to_string())), p)
            ),
            None => format!("flow {}", f.name.name),
        },
        ItemKind::Type(t) => match md.types.get(t.name.name.as_str()) {
            Some(ty) => format!("type {} = {}", t.name.name, type_source(ty)),
            None => format!("type {}", t.name.name),
        },
        ItemKind::Const(c) => match consts.iter().find(|(n, _)| *n == c.name.name) {
            Some((_, ty)) => format!("const {} : {}", c.name.name, show_type(ty, p)),
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
        ItemKind::Policy(p) => format!("policy {}", p.name.name),
        ItemKind::McpServer(m) => format!("mcp server {}", m.name.name),
        ItemKind::Schedule(sc) => schedule_line(sc),
    };
    if replaced {
        format!("{line} (redefined)")
    } else {
        line
    }
}

/// `schedule "CRON" flow`: a schedule as the session names it.
fn schedule_line(sc: &crate::syntax::ast::ScheduleDecl) -> String {
    let flow = match &sc.call.kind {
        crate::syntax::ast::ExprKind::Call(c) => c
            .callee
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join("."),
        _ => String::new(),
    };
    format!("schedule {:?} {flow}", sc.cron)
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
            ItemKind::Policy(_) => "policy",
            ItemKind::McpServer(_) => "mcp server",
            ItemKind::Schedule(_) => "schedule",
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

/// The body of a step: what was typed, its last expression (if it ends in
/// one: then `true`) bound to [`VALUE`], then the record of the `let`s and
/// the value — as syntax, at the end of the input.
fn step_body(mut body: Block, lets: &[String]) -> (Block, bool) {
    let end = Span {
        start: body.span.end,
        ..body.span
    };
    let ident = |name: &str, span: Span| Ident {
        name: name.to_string().into(),
        span,
    };
    let mut names: Vec<&str> = lets.iter().map(String::as_str).collect();
    let tail = match body.stmts.pop() {
        Some(Stmt {
            kind: StmtKind::Expr { expr, after },
            span,
        }) => {
            let at = Span {
                end: expr.span.start,
                ..expr.span
            };
            body.stmts.push(Stmt {
                kind: StmtKind::Let {
                    name: ident(VALUE, at),
                    ty: None,
                    value: expr,
                    after,
                },
                span,
            });
            names.push(VALUE);
            true
        }
        Some(s) => {
            body.stmts.push(s);
            false
        }
        None => false,
    };
    body.stmts.push(record_of(&names, end));
    (body, tail)
}

/// `{ a: a, b: b }` of `names`, as a statement at `at`.
fn record_of(names: &[&str], at: Span) -> Stmt {
    let ident = |name: &str| Ident {
        name: name.to_string().into(),
        span: at,
    };
    let fields = names
        .iter()
        .map(|n| RecordField {
            name: ident(n),
            value: Expr {
                kind: ExprKind::Name(ident(n)),
                span: at,
            },
            shorthand: true,
        })
        .collect();
    Stmt {
        kind: StmtKind::Expr {
            expr: Expr {
                kind: ExprKind::Record(fields),
                span: at,
            },
            after: Vec::new(),
        },
        span: at,
    }
}

/// The record type the step flow returns.
fn step_type(p: &Program) -> Option<Rc<RecordTy>> {
    match p.flow_types.get(&(p.root, STEP.to_string())) {
        Some(Type::Record(r)) => Some(r.clone()),
        _ => None,
    }
}
