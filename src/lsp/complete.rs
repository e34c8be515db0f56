//! Completion: what may stand at the cursor, from the checker's index and
//! tables — fields after `.` (by the inferred type), a module's items, named
//! arguments of a call, option keys inside `with { }`, `decide` labels in
//! `mock llm = "…"`, else the names in scope, built-ins and keywords; and
//! signature help inside a call's parentheses.

use std::rc::Rc;

use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, Documentation, MarkupContent, MarkupKind,
    ParameterInformation, ParameterLabel, Position, SignatureHelp, SignatureInformation,
};

use super::features::{offset, signature_text};
use super::mcp;
use super::session::Doc;
use super::text::{given, is_word, open_bracket};
use crate::check::{Program, Signature, Type, options};

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        ..Default::default()
    }
}

fn with_doc(mut i: CompletionItem, doc: &str) -> CompletionItem {
    i.documentation = Some(Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value: doc.to_string(),
    }));
    i
}

pub fn complete(d: &Doc, pos: Position) -> Vec<CompletionItem> {
    let at = offset(d, pos) as usize;
    let before = &d.text[..at];
    let word_start = before.rfind(|c: char| !is_word(c)).map_or(0, |i| i + 1);
    let word = &before[word_start..];
    let pre = &before[..word_start];
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let p = &d.checked.program;
    if let Some(items) = mcp::tool_names(d, line).or_else(|| mcp::parameters(d, at)) {
        return items;
    }
    let mut out = if let Some(labels) = mock_llm_labels(p, line) {
        labels
    } else if pre.ends_with('.') {
        members(d, word_start - 1)
    } else {
        match open_bracket(pre) {
            Some((b'{', i)) if pre[..i].trim_end().ends_with("with") => option_keys(),
            Some((b'(', i)) => {
                let mut v = named_args(p, &pre[..i], &pre[i..]);
                v.extend(in_scope(d, at));
                v
            }
            _ => in_scope(d, at),
        }
    };
    out.retain(|i| i.label.starts_with(word) || i.label.starts_with('"'));
    out
}

/// `mock llm = "…` (or a list of answers): the labels every decision can answer.
fn mock_llm_labels(p: &Program, line: &str) -> Option<Vec<CompletionItem>> {
    let rest = line.trim_start().strip_prefix("mock")?;
    let rest = rest.trim_start().strip_prefix("llm")?;
    let rest = rest.trim_start().strip_prefix('=')?;
    if rest.matches('"').count() % 2 == 0 {
        return None;
    }
    let mut labels: Vec<(&str, String)> = Vec::new();
    for site in &p.decisions {
        for l in &site.labels {
            if !labels.iter().any(|(x, _)| x == l) {
                let flow = site.flow.as_deref().unwrap_or("a constant");
                labels.push((l, format!("{} in {flow}", site.kind)));
            }
        }
    }
    Some(
        labels
            .into_iter()
            .map(|(l, detail)| item(l, CompletionItemKind::ENUM_MEMBER, Some(detail)))
            .collect(),
    )
}

/// The type of the expression that ends at `dot`: from the checker's types,
/// else by the names before it (a statement that does not parse yet).
fn type_before(d: &Doc, dot: usize) -> Option<Type> {
    let p = &d.checked.program;
    let file = d.file();
    let index = p.index();
    if let Some((_, t)) = index
        .types
        .iter()
        .filter(|(s, _)| s.file == file && s.end as usize == dot && s.start < s.end)
        .max_by_key(|(s, _)| s.start)
    {
        return Some(t.clone());
    }
    let path_start = d.text[..dot]
        .rfind(|c: char| !(is_word(c) || c == '.'))
        .map_or(0, |i| i + 1);
    let mut names = d.text[path_start..dot].split('.');
    let head = names.next()?;
    let mut t = index
        .locals_at(file, dot as u32)
        .into_iter()
        .find(|l| l.name == head)
        .and_then(|l| l.ty.clone())
        .or_else(|| (head == "context").then(crate::check::context_type))?;
    for n in names {
        t = match t.unwrap_optional() {
            Type::Record(r) => r.field(n)?.ty.clone(),
            _ => return None,
        };
    }
    Some(t)
}

/// After `x.`: the fields of `x`'s record type, or a module's items.
fn members(d: &Doc, dot: usize) -> Vec<CompletionItem> {
    let p = &d.checked.program;
    let head_start = d.text[..dot]
        .rfind(|c: char| !is_word(c))
        .map_or(0, |i| i + 1);
    let head = &d.text[head_start..dot];
    let is_path_head = !d.text[..head_start].ends_with('.');
    if is_path_head
        && let Some(&m) = p.root_module().imports.get(head)
        && !d
            .checked
            .program
            .index()
            .locals_at(d.file(), dot as u32)
            .iter()
            .any(|l| l.name == head)
    {
        let md = &p.modules[m];
        let mut out: Vec<CompletionItem> = md
            .tools
            .values()
            .chain(md.flows.values())
            .map(|s| {
                let i = item(
                    &s.name,
                    CompletionItemKind::FUNCTION,
                    Some(signature_text(p, m, s)),
                );
                match &s.doc {
                    Some(doc) => with_doc(i, doc),
                    None => i,
                }
            })
            .collect();
        out.extend(
            md.types
                .iter()
                .map(|(n, t)| item(n, CompletionItemKind::STRUCT, Some(t.to_string()))),
        );
        out.sort_by(|a, b| a.label.cmp(&b.label));
        return out;
    }
    let Some(t) = type_before(d, dot) else {
        return Vec::new();
    };
    let t = match t.unwrap_optional() {
        Type::List(el) => el.unwrap_optional(),
        t => t,
    };
    match t {
        Type::Record(r) => r
            .fields
            .iter()
            .map(|f| {
                let ty = if f.optional {
                    format!("{}?", f.ty)
                } else {
                    f.ty.to_string()
                };
                item(&f.name, CompletionItemKind::FIELD, Some(ty))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Inside `with { }`: every option, with its doc.
fn option_keys() -> Vec<CompletionItem> {
    options::OPTIONS
        .iter()
        .map(|o| {
            let mut i = with_doc(
                item(
                    o.name,
                    CompletionItemKind::PROPERTY,
                    Some(format!("default {}", o.default)),
                ),
                o.doc,
            );
            i.insert_text = Some(format!("{}: ", o.name));
            i
        })
        .collect()
}

/// The tool or flow named right before a `(` (`lookup`, `lib.tag`), with its module.
fn callee_before(p: &Program, before_paren: &str) -> Option<(usize, Rc<Signature>)> {
    let start = before_paren
        .rfind(|c: char| !(is_word(c) || c == '.'))
        .map_or(0, |i| i + 1);
    let callee: Vec<&str> = before_paren[start..].split('.').collect();
    let root = p.root_module();
    let (m, md) = match callee.as_slice() {
        [_] => (p.root, root),
        [m, _] => {
            let mi = *root.imports.get(*m)?;
            (mi, &p.modules[mi])
        }
        _ => return None,
    };
    let name = callee.last()?;
    md.tools
        .get(*name)
        .or_else(|| md.flows.get(*name))
        .map(|s| (m, s.clone()))
}

/// Signature help inside `callee(…`: its signature, the parameter being
/// written (named by the argument the cursor is in) active.
pub fn signature_help(d: &Doc, pos: Position) -> Option<SignatureHelp> {
    let at = offset(d, pos) as usize;
    let before = &d.text[..at];
    let (b'(', i) = open_bracket(before)? else {
        return None;
    };
    let p = &d.checked.program;
    let (m, sig) = callee_before(p, &before[..i])?;
    let label = super::features::signature_text(p, m, &sig);
    let current = current_arg(&before[i + 1..]);
    let active = sig.params.iter().position(|prm| {
        current
            .trim_start()
            .strip_prefix(prm.name.as_str())
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    });
    let parameters = sig
        .params
        .iter()
        .map(|prm| ParameterInformation {
            label: ParameterLabel::Simple(format!("{}: {}", prm.name, prm.ty)),
            documentation: None,
        })
        .collect();
    Some(SignatureHelp {
        signatures: vec![SignatureInformation {
            label,
            documentation: sig.doc.clone().map(|doc| {
                Documentation::MarkupContent(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value: doc,
                })
            }),
            parameters: Some(parameters),
            active_parameter: active.map(|a| a as u32),
        }],
        active_signature: Some(0),
        active_parameter: active.map(|a| a as u32),
    })
}

/// The argument the end of `args` is in: the text after the last comma not
/// inside a bracket or a string.
fn current_arg(args: &str) -> &str {
    let b = args.as_bytes();
    let (mut depth, mut start, mut i) = (0i32, 0, 0);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => start = i + 1,
            _ => {}
        }
        i += 1;
    }
    &args[start.min(args.len())..]
}

/// Inside `callee(…`: the parameters not given yet, as `name: `.
fn named_args(p: &Program, before_paren: &str, args: &str) -> Vec<CompletionItem> {
    let Some((_, sig)) = callee_before(p, before_paren) else {
        return Vec::new();
    };
    sig.params
        .iter()
        .filter(|prm| !given(args, &prm.name))
        .map(|prm| {
            let mut i = item(
                &prm.name,
                CompletionItemKind::FIELD,
                Some(format!(
                    "{}{}",
                    prm.ty,
                    if prm.has_default {
                        " (has a default)"
                    } else {
                        ""
                    }
                )),
            );
            i.insert_text = Some(format!("{}: ", prm.name));
            i.sort_text = Some(format!("0{}", prm.name));
            i
        })
        .collect()
}

/// The bindings in scope, the module's items, built-ins, `context` and keywords.
fn in_scope(d: &Doc, at: usize) -> Vec<CompletionItem> {
    let p = &d.checked.program;
    let index = p.index();
    let mut out: Vec<CompletionItem> = index
        .locals_at(d.file(), at as u32)
        .into_iter()
        .map(|l| {
            item(
                &l.name,
                CompletionItemKind::VARIABLE,
                l.ty.as_ref().map(|t| format!("{}: {t}", l.kind.word())),
            )
        })
        .collect();
    let md = p.root_module();
    for s in md.tools.values().chain(md.flows.values()) {
        let i = item(
            &s.name,
            CompletionItemKind::FUNCTION,
            Some(signature_text(p, p.root, s)),
        );
        out.push(match &s.doc {
            Some(doc) => with_doc(i, doc),
            None => i,
        });
    }
    for it in &md.ast.items {
        if let crate::syntax::ast::ItemKind::Const(c) = &it.kind {
            out.push(item(&c.name.name, CompletionItemKind::CONSTANT, None));
        }
    }
    for (alias, &m) in &md.imports {
        let name = p.modules[m]
            .name
            .trim_start_matches('<')
            .trim_end_matches('>');
        out.push(item(
            alias,
            CompletionItemKind::MODULE,
            Some(name.to_string()),
        ));
    }
    for b in crate::builtins::Builtin::ALL {
        out.push(with_doc(
            item(
                b.name(),
                CompletionItemKind::FUNCTION,
                Some(b.def().usage.to_string()),
            ),
            b.def().doc,
        ));
    }
    out.push(item(
        "context",
        CompletionItemKind::VARIABLE,
        Some(crate::check::context_type().to_string()),
    ));
    for k in KEYWORDS {
        out.push(item(k, CompletionItemKind::KEYWORD, None));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|i| seen.insert(i.label.clone()));
    out
}

/// The words that start statements and expressions.
const KEYWORDS: &[&str] = &[
    "let", "if", "else", "match", "for", "in", "where", "loop", "until", "parallel", "race",
    "sequence", "dag", "try", "catch", "decide", "approve", "with", "after", "true", "false",
    "null", "import", "type", "tool", "effect", "flow", "const", "test", "mock", "assert",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_open_bracket_skips_strings_and_comments() {
        assert_eq!(open_bracket("f(a, g(b), "), Some((b'(', 1)));
        assert_eq!(open_bracket("x with { retry: 1, "), Some((b'{', 7)));
        assert_eq!(open_bracket("f(\"(\" // (\n"), Some((b'(', 1)));
        assert_eq!(open_bracket("f(a)"), None);
    }

    #[test]
    fn a_named_argument_counts_as_given() {
        assert!(given("id: 1, ", "id"));
        assert!(given("x, id : 1", "id"));
        assert!(!given("uid: 1", "id"));
        assert!(!given("id + 1", "id"));
    }
}
