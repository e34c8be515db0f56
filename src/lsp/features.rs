//! Answers about a checked document: hover, go to definition, document
//! symbols, rename and code actions, all read from the checker's index.

use std::collections::HashMap;

use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, DocumentHighlight, DocumentHighlightKind,
    DocumentSymbol, Hover, HoverContents, Location, MarkupContent, MarkupKind, Position,
    SymbolKind, TextEdit, Uri, WorkspaceEdit,
};

use super::session::{Doc, Locator, location, uri_of};
use super::text::Lines;
use crate::check::index::{DeclKind, Ref, Target};
use crate::check::{Program, Signature, Type};
use crate::span::Span;
use crate::syntax::ast::ItemKind;

/// The byte offset of a position in the document.
pub fn offset(d: &Doc, p: Position) -> u32 {
    d.lines().offset(p) as u32
}

/// The signature of the tool or flow whose name is at `span`, with its module.
fn signature_at(p: &Program, span: Span) -> Option<(usize, &Signature)> {
    p.modules.iter().enumerate().find_map(|(m, md)| {
        md.tools
            .values()
            .chain(md.flows.values())
            .find(|s| s.span == span)
            .map(|s| (m, &**s))
    })
}

/// `tool name(a: T, b: U = …) -> R`, with the inferred result of a flow that states none.
pub fn signature_text(p: &Program, m: usize, s: &Signature) -> String {
    let params: Vec<String> = s
        .params
        .iter()
        .map(|p| {
            let default = if p.has_default { " = …" } else { "" };
            format!("{}: {}{default}", p.name, p.ty)
        })
        .collect();
    let ret = s
        .ret
        .clone()
        .or_else(|| p.flow_types.get(&(m, s.name.clone())).cloned())
        .map(|t| format!(" -> {t}"))
        .unwrap_or_default();
    let what = match (s.is_flow, s.effect) {
        (true, _) => "flow",
        (false, true) => "effect tool",
        (false, false) => "tool",
    };
    format!("{what} {}({}){ret}", s.name, params.join(", "))
}

/// A named record's fields, written out: `type Detail = { score: float, … }`.
fn type_text(t: &Type) -> Option<String> {
    let mut inner = t;
    while let Type::Optional(x) | Type::List(x) = inner {
        inner = x;
    }
    let Type::Record(r) = inner else { return None };
    let name = r.name.as_ref()?;
    let fields: Vec<String> = r
        .fields
        .iter()
        .map(|f| format!("{}{}: {}", f.name, if f.optional { "?" } else { "" }, f.ty))
        .collect();
    Some(format!("type {name} = {{ {} }}", fields.join(", ")))
}

fn code(lines: &[String], doc: Option<&str>) -> String {
    let mut s = format!("```flow\n{}\n```", lines.join("\n"));
    if let Some(doc) = doc.filter(|d| !d.trim().is_empty()) {
        s.push_str("\n\n");
        s.push_str(doc.trim());
    }
    s
}

/// The type of a binding or declaration whose name is at `span`.
fn local_type(p: &Program, span: Span) -> Option<Type> {
    let index = p.index();
    index
        .scopes
        .iter()
        .flat_map(|s| &s.locals)
        .find(|l| l.span == span)
        .and_then(|l| l.ty.clone())
        .or_else(|| {
            index
                .types
                .iter()
                .find(|(s, _)| *s == span)
                .map(|(_, t)| t.clone())
        })
}

pub fn hover(d: &Doc, pos: Position) -> Option<Hover> {
    let at = offset(d, pos);
    let p = &d.checked.program;
    let file = d.file();
    let lines = d.lines();
    let index = p.index();
    let found = index.ref_at(file, at).cloned().or_else(|| {
        decl_at(d, at).map(|(s, k)| Ref {
            span: s,
            target: Target::Decl(s, k),
        })
    });
    let (span, text) = if let Some(r) = found {
        let text = match &r.target {
            Target::Decl(decl, DeclKind::Tool | DeclKind::Flow) => {
                let (m, sig) = signature_at(p, *decl)?;
                code(&[signature_text(p, m, sig)], sig.doc.as_deref())
            }
            Target::Decl(decl, DeclKind::Type) => {
                let md = p.modules.iter().find(|m| m.file == decl.file)?;
                let name = d_text(&d.checked.sources, *decl);
                let t = md.types.get(&name)?;
                let doc = item_doc(p, *decl);
                code(
                    &[type_text(t).unwrap_or_else(|| format!("type {name} = {t}"))],
                    doc.as_deref(),
                )
            }
            Target::Decl(decl, DeclKind::Const) => {
                let name = d_text(&d.checked.sources, *decl);
                let t = local_type(p, *decl).unwrap_or(Type::Unknown);
                code(
                    &[format!("const {name}: {t}")],
                    item_doc(p, *decl).as_deref(),
                )
            }
            Target::Decl(decl, kind) => {
                let name = d_text(&d.checked.sources, *decl);
                let t = local_type(p, *decl).unwrap_or(Type::Unknown);
                let mut l = vec![format!("({}) {name}: {t}", kind.word())];
                l.extend(type_text(&t));
                code(&l, None)
            }
            Target::Module(m) => {
                let md = &p.modules[*m];
                let mut items: Vec<String> = md
                    .tools
                    .values()
                    .chain(md.flows.values())
                    .map(|s| signature_text(p, *m, s))
                    .collect();
                items.sort();
                let name = md.name.trim_start_matches('<').trim_end_matches('>');
                let mut l = vec![format!("module {name}")];
                l.extend(items);
                code(&l, None)
            }
            Target::Builtin(name) => {
                let b = crate::builtins::Builtin::from_name(name)?;
                code(&[b.def().usage.replace("; ", "\n")], Some(b.def().doc))
            }
            Target::Context => code(
                &[format!("context: {}", crate::check::context_type())],
                Some(
                    "The run's context: its id, the flow, when it started, the tenant and the inputs.",
                ),
            ),
        };
        (r.span, text)
    } else {
        let (span, t) = index.type_at(file, at)?;
        let mut l = vec![t.to_string()];
        l.extend(type_text(t));
        (span, code(&l, None))
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(lines.range(span.start as usize, span.end as usize)),
    })
}

/// The text a span covers.
fn d_text(sources: &crate::source::Sources, span: Span) -> String {
    sources
        .get(span.file)
        .text
        .get(span.range())
        .unwrap_or("")
        .to_string()
}

/// The doc comment of the item whose name is at `span`.
fn item_doc(p: &Program, span: Span) -> Option<String> {
    p.modules
        .iter()
        .filter(|m| m.file == span.file)
        .flat_map(|m| &m.ast.items)
        .find(|it| it.kind.name().is_some_and(|n| n.span == span))
        .and_then(|it| it.doc.clone())
}

pub fn definition(d: &Doc, pos: Position) -> Option<Location> {
    let at = offset(d, pos);
    let p = &d.checked.program;
    let index = p.index();
    let r = index.ref_at(d.file(), at)?;
    match &r.target {
        Target::Decl(span, _) => location(&d.checked.sources, *span),
        Target::Module(m) => {
            let f = d.checked.sources.get(p.modules[*m].file);
            Some(Location::new(uri_of(&f.name, &f.text)?, Default::default()))
        }
        Target::Builtin(_) | Target::Context => None,
    }
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written out
pub fn symbols(d: &Doc) -> Vec<DocumentSymbol> {
    let lines = d.lines();
    let range = |s: Span| lines.range(s.start as usize, s.end as usize);
    let module = d.checked.program.root_module();
    let mut out = Vec::new();
    for it in &module.ast.items {
        let (name, sel, kind, detail) = match &it.kind {
            ItemKind::Import(_) | ItemKind::Schedule(_) => continue,
            ItemKind::Type(t) => (
                t.name.name.to_string(),
                t.name.span,
                SymbolKind::STRUCT,
                None,
            ),
            ItemKind::Tool(t) => (
                t.name.name.to_string(),
                t.name.span,
                SymbolKind::FUNCTION,
                Some(if t.effect { "effect tool" } else { "tool" }),
            ),
            ItemKind::Flow(f) => (
                f.name.name.to_string(),
                f.name.span,
                SymbolKind::FUNCTION,
                Some("flow"),
            ),
            ItemKind::Const(c) => (
                c.name.name.to_string(),
                c.name.span,
                SymbolKind::CONSTANT,
                None,
            ),
            ItemKind::Policy(p) => (
                p.name.name.to_string(),
                p.name.span,
                SymbolKind::OBJECT,
                Some("policy"),
            ),
            ItemKind::McpServer(m) => (
                m.name.name.to_string(),
                m.name.span,
                SymbolKind::MODULE,
                Some("mcp server"),
            ),
            ItemKind::Test(t) => (
                format!("test {:?}", t.name),
                t.name_span,
                SymbolKind::METHOD,
                None,
            ),
        };
        out.push(DocumentSymbol {
            name,
            detail: detail.map(str::to_string),
            kind,
            tags: None,
            deprecated: None,
            range: range(it.span),
            selection_range: range(sel),
            children: match &it.kind {
                ItemKind::Flow(f) => Some(lets(&f.body, &range)),
                ItemKind::Test(t) => Some(lets(&t.body, &range)),
                _ => None,
            },
        });
    }
    out
}

/// The `let`s of a flow's or test's body, as children of its symbol.
#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written out
fn lets(
    body: &crate::syntax::ast::Block,
    range: &dyn Fn(Span) -> tower_lsp_server::ls_types::Range,
) -> Vec<DocumentSymbol> {
    body.stmts
        .iter()
        .filter_map(|s| match &s.kind {
            crate::syntax::ast::StmtKind::Let { name, .. } => Some(DocumentSymbol {
                name: name.name.to_string(),
                detail: None,
                kind: SymbolKind::VARIABLE,
                tags: None,
                deprecated: None,
                range: range(s.span),
                selection_range: range(name.span),
                children: None,
            }),
            _ => None,
        })
        .collect()
}

/// The declaration whose own name is at `at`: a binding, or an item of the file.
fn decl_at(d: &Doc, at: u32) -> Option<(Span, DeclKind)> {
    let p = &d.checked.program;
    let file = d.file();
    let on = |s: &Span| s.file == file && s.start <= at && at <= s.end;
    let index = p.index();
    let local = index
        .scopes
        .iter()
        .flat_map(|s| &s.locals)
        .find(|l| on(&l.span))
        .map(|l| (l.span, l.kind));
    local.or_else(|| {
        p.root_module().ast.items.iter().find_map(|it| {
            let kind = match &it.kind {
                ItemKind::Type(_) => DeclKind::Type,
                ItemKind::Tool(_) => DeclKind::Tool,
                ItemKind::Flow(_) => DeclKind::Flow,
                ItemKind::Const(_) => DeclKind::Const,
                _ => return None,
            };
            it.kind
                .name()
                .filter(|n| on(&n.span))
                .map(|n| (n.span, kind))
        })
    })
}

/// The declaration a rename at `at` changes: a binding, tool, flow, type or
/// constant, from a use of it or from its own name.
fn rename_target(d: &Doc, at: u32) -> Option<Span> {
    let p = &d.checked.program;
    let (decl, kind) = match p.index().ref_at(d.file(), at) {
        Some(r) => match r.target {
            Target::Decl(s, kind) => (s, kind),
            _ => return None,
        },
        None => decl_at(d, at)?,
    };
    (kind.renamable() && !decl.file_is_std(p)).then_some(decl)
}

trait StdSpan {
    fn file_is_std(&self, p: &Program) -> bool;
}

impl StdSpan for Span {
    /// Whether the span is in a standard module (read-only).
    fn file_is_std(&self, p: &Program) -> bool {
        p.modules
            .iter()
            .any(|m| m.file == self.file && m.name.starts_with('<'))
    }
}

/// The declaration the name at `at` refers to (or that is declared there).
fn target_decl(d: &Doc, at: u32) -> Option<Span> {
    match d.checked.program.index().ref_at(d.file(), at) {
        Some(r) => match r.target {
            Target::Decl(s, _) => Some(s),
            _ => None,
        },
        None => decl_at(d, at).map(|(s, _)| s),
    }
}

/// The declaration at `decl` and every use of it (this file and the files it
/// imports), in file and position order.
fn uses(d: &Doc, decl: Span, with_decl: bool) -> Vec<Span> {
    let mut spans: Vec<Span> = d.checked.program.index().uses_of(decl).collect();
    if with_decl {
        spans.push(decl);
    }
    spans.sort_by_key(|s| (s.file, s.start));
    spans.dedup();
    spans
}

/// Find references: every use of what the name at `pos` refers to.
pub fn references(d: &Doc, pos: Position, with_decl: bool) -> Vec<Location> {
    let Some(decl) = target_decl(d, offset(d, pos)) else {
        return Vec::new();
    };
    let mut at = Locator::new(d);
    uses(d, decl, with_decl)
        .into_iter()
        .filter_map(|s| at.location(s))
        .collect()
}

/// The uses of what the name at `pos` refers to in this file, and its
/// declaration when it is here (the editor highlights them together).
pub fn highlights(d: &Doc, pos: Position) -> Vec<DocumentHighlight> {
    let Some(decl) = target_decl(d, offset(d, pos)) else {
        return Vec::new();
    };
    let lines = d.lines();
    uses(d, decl, true)
        .into_iter()
        .filter(|s| s.file == d.file())
        .map(|s| DocumentHighlight {
            range: lines.range(s.start as usize, s.end as usize),
            kind: Some(if s == decl {
                DocumentHighlightKind::WRITE
            } else {
                DocumentHighlightKind::READ
            }),
        })
        .collect()
}

pub enum Renamed {
    Edit(WorkspaceEdit),
    Nothing,
    Bad(String),
    /// The last checked text is not the editor's: its edits would not fit.
    Stale,
}

/// Renames the declaration at `pos` and every use of it, in this file and the
/// files it imports.
pub fn rename(d: &Doc, pos: Position, new_name: &str) -> Renamed {
    if !is_ident(new_name) {
        return Renamed::Bad(format!(
            "`{new_name}` is not a name: use letters, digits and `_`, not starting with a digit, and no keyword"
        ));
    }
    if !d.is_current() {
        return Renamed::Stale;
    }
    let at = offset(d, pos);
    let Some(decl) = rename_target(d, at) else {
        return Renamed::Nothing;
    };
    let p = &d.checked.program;
    if let Some(why) = taken(p, decl, new_name) {
        return Renamed::Bad(why);
    }
    let index = p.index();
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    let mut at = Locator::new(d);
    let shorthand: std::collections::HashSet<Span> = index.shorthand.iter().copied().collect();
    for s in uses(d, decl, true) {
        if let Some(loc) = at.location(s) {
            // `{ a }` keeps its field's name: `{ a: b }`.
            let new_text = if shorthand.contains(&s) {
                let old = d_text(&d.checked.sources, s);
                format!("{old}: {new_name}")
            } else {
                new_name.to_string()
            };
            changes.entry(loc.uri).or_default().push(TextEdit {
                range: loc.range,
                new_text,
            });
        }
    }
    Renamed::Edit(WorkspaceEdit {
        changes: Some(changes),
        ..Default::default()
    })
}

/// Why `new` cannot be the new name of the declaration at `decl`: a binding
/// visible there, or an item of its module, already has it.
fn taken(p: &Program, decl: Span, new: &str) -> Option<String> {
    let index = p.index();
    let is_local = index
        .scopes
        .iter()
        .flat_map(|s| &s.locals)
        .any(|l| l.span == decl);
    if is_local {
        return index
            .locals_at(decl.file, decl.start)
            .iter()
            .any(|l| l.name == new)
            .then(|| format!("`{new}` is already bound here; choose another name"));
    }
    let md = p.modules.iter().find(|m| m.file == decl.file)?;
    let clash = md.tools.contains_key(new)
        || md.flows.contains_key(new)
        || md.types.contains_key(new)
        || md.imports.contains_key(new)
        || md.ast.items.iter().any(|it| match &it.kind {
            ItemKind::Const(c) => c.name.name == new,
            _ => false,
        });
    clash.then(|| format!("`{new}` is already declared in this file; choose another name"))
}

/// A name the grammar takes: its `ident` rule matches all of it (no keyword).
fn is_ident(s: &str) -> bool {
    use crate::syntax::grammar::{FlowParser, Rule};
    use pest::Parser;
    FlowParser::parse(Rule::ident, s).is_ok_and(|mut p| p.next().is_some_and(|x| x.as_str() == s))
}

/// Quick fixes: a diagnostic whose `help:` is a did-you-mean replaces the
/// name it points at with the suggestion.
pub fn code_actions(d: &Doc, start: Position, end: Position) -> Vec<CodeActionOrCommand> {
    // Edits of an older text would not fit the editor's.
    if !d.is_current() {
        return Vec::new();
    }
    let lines = d.lines();
    let (s, e) = (lines.offset(start) as u32, lines.offset(end) as u32);
    let file = d.file();
    let all = super::session::diagnostics(d);
    let mut out = Vec::new();
    for (diag, lsp_diag) in d.checked.diagnostics.iter().zip(all) {
        let span = diag.primary_span();
        if span.file != file || span.end < s || span.start > e {
            continue;
        }
        let Some(name) = diag
            .help
            .as_deref()
            .and_then(|h| h.strip_prefix("did you mean `"))
            .and_then(|h| h.strip_suffix("`?"))
        else {
            continue;
        };
        let old = d.text.get(span.range()).unwrap_or("");
        if old.is_empty() || old.contains(char::is_whitespace) || old == name {
            continue;
        }
        let edit = TextEdit {
            range: lines.range(span.start as usize, span.end as usize),
            new_text: name.to_string(),
        };
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: format!("replace `{old}` with `{name}`"),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![lsp_diag]),
            edit: Some(WorkspaceEdit {
                changes: Some(HashMap::from([(d.uri.clone(), vec![edit])])),
                ..Default::default()
            }),
            is_preferred: Some(true),
            ..Default::default()
        }));
    }
    out
}

/// The whole document in `flowc fmt`'s layout, as one edit (none when it is
/// already so); a file with syntax errors is not formatted.
pub fn format(text: &str) -> Result<Vec<TextEdit>, String> {
    if text.len() as u64 > super::session::SIZE_LIMIT {
        return Err(format!(
            "not formatted: the file is over the {} limit for source files",
            crate::files::size(super::session::SIZE_LIMIT)
        ));
    }
    match crate::fmt::format_source(text) {
        Ok(new) if new == text => Ok(Vec::new()),
        Ok(new) => Ok(vec![TextEdit {
            range: Lines::new(text).range(0, text.len()),
            new_text: new,
        }]),
        Err(diags) => {
            let first = diags
                .iter()
                .find(|x| x.is_error())
                .map(|x| {
                    let (l, c) = crate::span::line_col(text, x.primary_span().start as usize);
                    format!(": {l}:{c}: [{}] {}", x.code, x.message)
                })
                .unwrap_or_default();
            Err(format!(
                "not formatted: the file has syntax errors (fix them first){first}"
            ))
        }
    }
}
