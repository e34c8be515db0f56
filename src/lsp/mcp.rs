//! Completion of `mcp` bindings from what the servers listed (the cache in
//! the store that `flowc check` and `flowc run` fill): the tool names after
//! `= mcp SERVER "`, and inside `tool NAME(…) = mcp SERVER "tool"` the
//! parameters the tool's input schema has and the declaration lacks, typed
//! from the schema. No server is started.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, Documentation, MarkupContent, MarkupKind,
};

use super::session::{Doc, cached_mcp_tools, dir_of};
use super::text::{given, open_bracket};
use crate::check::mcp::{McpServer, McpTool, required_of, type_of_schema};
use crate::syntax::ast::ItemKind;

/// `= mcp SERVER "partial` at the end of the line before the cursor.
static NAME_AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"=\s*mcp\s+([A-Za-z_][A-Za-z0-9_]*)\s+"([^"\\]*)$"#).expect("a valid regex")
});

/// After a parameter list's `)`: `-> TYPE = mcp SERVER "tool"`.
static BINDING_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*(?:->[^=]*)?=\s*mcp\s+([A-Za-z_][A-Za-z0-9_]*)\s+"([^"\\]*)""#)
        .expect("a valid regex")
});

/// `tool NAME` (or `effect tool NAME`) just before a `(`.
static TOOL_BEFORE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\btool\s+[A-Za-z_][A-Za-z0-9_]*\s*$").expect("a valid regex"));

/// The tools `server_name` listed, if it is declared in the document and was asked before.
fn listed(d: &Doc, server_name: &str) -> Option<Vec<McpTool>> {
    let p = &d.checked.program;
    let server = p
        .root_module()
        .ast
        .items
        .iter()
        .find_map(|it| match &it.kind {
            ItemKind::McpServer(decl) if decl.name.name == server_name => Some(McpServer::of(decl)),
            _ => None,
        })?;
    cached_mcp_tools(&server, &dir_of(&d.uri))
}

fn markdown(value: String) -> Option<Documentation> {
    Some(Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value,
    }))
}

/// The declaration a tool's input schema asks for: `(name: type, …)`.
fn params_text(t: &McpTool) -> String {
    let s = &t.input_schema;
    let required = required_of(s);
    let props = s.get("properties").and_then(Value::as_object);
    let parts: Vec<String> = props
        .into_iter()
        .flatten()
        .map(|(n, ps)| {
            let ty = type_of_schema(ps, s);
            let opt = if required.contains(&n.as_str()) {
                ""
            } else {
                " (optional)"
            };
            format!("{n}: {ty}{opt}")
        })
        .collect();
    format!("({})", parts.join(", "))
}

/// Inside the string of `= mcp SERVER "…`: the server's tools.
pub fn tool_names(d: &Doc, line: &str) -> Option<Vec<CompletionItem>> {
    let caps = NAME_AT.captures(line)?;
    let typed = caps.get(2).map_or("", |m| m.as_str());
    let tools = listed(d, &caps[1])?;
    Some(
        tools
            .iter()
            .filter(|t| t.name.starts_with(typed))
            .map(|t| {
                let mut doc = format!("```\n{}{}\n```", t.name, params_text(t));
                if let Some(desc) = &t.description {
                    doc.push_str("\n\n");
                    doc.push_str(desc);
                }
                CompletionItem {
                    label: t.name.clone(),
                    kind: Some(CompletionItemKind::FUNCTION),
                    detail: t
                        .description
                        .as_deref()
                        .and_then(|x| x.lines().next())
                        .map(str::to_string),
                    documentation: markdown(doc),
                    // The part already typed is replaced by the editor's word
                    // rules; insert the rest of the name as the label.
                    insert_text: Some(t.name.clone()),
                    ..Default::default()
                }
            })
            .collect(),
    )
}

/// Inside `tool NAME(…)` bound to `mcp SERVER "tool"`: the schema's
/// parameters not declared yet, required ones first, as `name: type`.
pub fn parameters(d: &Doc, at: usize) -> Option<Vec<CompletionItem>> {
    let text = d.text.as_str();
    let before = &text[..at];
    let (b'(', open) = open_bracket(before)? else {
        return None;
    };
    let line_start = before[..open].rfind('\n').map_or(0, |i| i + 1);
    if !TOOL_BEFORE.is_match(&before[line_start..open]) {
        return None;
    }
    // The `)` that closes the list, then the binding after it.
    let after = &text[at..];
    let mut depth = 0i32;
    let close = after.char_indices().find_map(|(i, c)| {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        None
    })?;
    // The binding follows the list (a return type may span lines).
    let rest = &after[close + 1..];
    let mut cut = rest.len().min(4096);
    while !rest.is_char_boundary(cut) {
        cut -= 1;
    }
    let caps = BINDING_AFTER.captures(&rest[..cut])?;
    let tools = listed(d, &caps[1])?;
    let tool = tools.iter().find(|t| t.name == caps[2])?;
    let declared = &text[open + 1..at + close];
    let s = &tool.input_schema;
    let required = required_of(s);
    let props = s.get("properties").and_then(Value::as_object)?;
    Some(
        props
            .iter()
            .filter(|(n, _)| !given(declared, n))
            .map(|(n, ps)| {
                let ty = type_of_schema(ps, s);
                let req = required.contains(&n.as_str());
                let mut doc = format!("`{n}: {ty}`");
                if !req {
                    doc.push_str(" — optional: the declaration may leave it out");
                }
                if let Some(desc) = ps.get("description").and_then(Value::as_str) {
                    doc.push_str("\n\n");
                    doc.push_str(desc);
                }
                CompletionItem {
                    label: n.clone(),
                    kind: Some(CompletionItemKind::FIELD),
                    detail: Some(format!(
                        "{ty}{}",
                        if req { " (required)" } else { " (optional)" }
                    )),
                    documentation: markdown(doc),
                    insert_text: Some(format!("{n}: {ty}")),
                    sort_text: Some(format!("{}{n}", if req { 0 } else { 1 })),
                    ..Default::default()
                }
            })
            .collect(),
    )
}
