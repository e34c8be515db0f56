//! `flowc explain-replan FILE [--at PATH]`: what a re-plan of a block would
//! send to the model — the system and user messages, and the grammar of the
//! answer in GBNF and in Lark — without running anything. The values in scope
//! and the errors are the run's; here they are placeholders.

use super::Checked;
use super::session::Refusal;
use crate::check::{Program, block_key};
use crate::run::errors::{ErrorKind, RunError};
use crate::run::replan::{Ask, InScope, Length, binds_line, dedent, offered, system_prompt};
use crate::syntax::ast::{ItemKind, StmtKind};

/// A block that states `replan_on_error`: how `--at` names it, where it is.
struct Site {
    names: Vec<String>,
    key: crate::check::BlockKey,
    flow: String,
    line: usize,
    /// A flow's body (not a block that states `replan_on_error`).
    body: bool,
}

fn sites(program: &Program, text: &str) -> Vec<Site> {
    let md = program.root_module();
    let mut out = Vec::new();
    for item in &md.ast.items {
        let ItemKind::Flow(f) = &item.kind else {
            continue;
        };
        let flow = f.name.name.clone();
        let line = |start: u32| text[..start as usize].matches('\n').count() + 1;
        let body = block_key(&f.body);
        for (key, _) in program.replan_sites.iter() {
            let inside = key.0 == md.file && key.1 >= f.body.span.start && key.1 < f.body.span.end;
            if !inside {
                continue;
            }
            let mut names = vec![line(key.1).to_string()];
            if *key == body {
                names.push(flow.to_string());
            }
            for s in &f.body.stmts {
                if let StmtKind::Let { name, value, .. } = &s.kind
                    && value.span.start == key.1
                {
                    names.push(format!("{flow}/{}", name.name));
                }
            }
            out.push(Site {
                names,
                key: *key,
                flow: flow.to_string(),
                line: line(key.1),
                body: *key == body,
            });
        }
    }
    out.sort_by_key(|s| s.key.1);
    out.dedup_by_key(|s| s.key);
    out
}

/// What a re-plan of the block `at` names (`FLOW/NAME`, `FLOW` or a line;
/// the only one when `None`) would send to the model: the system and user
/// messages and the grammar of the answer (GBNF and Lark), as Markdown. The
/// values in scope and the errors are placeholders.
pub fn explain_replan(checked: &Checked, file: &str, at: Option<&str>) -> Result<String, Refusal> {
    let program = &checked.program;
    let md = program.root_module();
    let text = &checked.sources.get(md.file).text;
    let all = sites(program, text);
    let shown = |s: &Site| s.names.last().cloned().unwrap_or_default();
    let list = || {
        all.iter()
            .map(|s| format!("`{}` (line {})", shown(s), s.line))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let site = match (&at, all.as_slice()) {
        (_, []) => {
            return Err(Refusal::failed(format!(
                "no block of `{file}` states `replan_on_error: true`: nothing would be re-planned"
            )));
        }
        (None, [one]) => one,
        // Flow bodies are sites for `--set replan_on_error=true`; a block
        // that states it is the one meant.
        (None, _) if all.iter().filter(|s| !s.body).count() == 1 => {
            all.iter().find(|s| !s.body).expect("one block")
        }
        (None, _) => {
            return Err(Refusal::usage(format!(
                "`{file}` has {} blocks that may be re-planned: say which with `--at`: {}",
                all.len(),
                list()
            )));
        }
        (Some(at), _) => match all.iter().find(|s| s.names.iter().any(|n| n == *at)) {
            Some(s) => s,
            None => {
                return Err(Refusal::usage(format!(
                    "`--at {at}` names no block that may be re-planned in `{file}`; they are: {}",
                    list()
                )));
            }
        },
    };
    let Some(rs) = program.replan_sites.get(&site.key) else {
        return Err(Refusal::failed(format!(
            "the block at line {} of `{file}` has no re-plan site",
            site.line
        )));
    };
    let m = program.root;
    let flow_decl = md.ast.items.iter().find_map(|i| match &i.kind {
        ItemKind::Flow(f) if f.name.name == site.flow => Some(f),
        _ => None,
    });
    // The policy the flow states (a caller's may apply at run time).
    let policy = flow_decl
        .and_then(|f| crate::check::policy::named(f.options.as_deref()))
        .and_then(|n| md.policies.get(n.name.as_str()))
        .map(|p| &**p);
    let lowered = crate::ir::lower_program(program);
    let scope: Vec<InScope> = rs
        .names
        .iter()
        .map(|(n, t)| InScope {
            name: n.clone(),
            ty: t.clone(),
            value: serde_json::Value::Null,
        })
        .collect();
    let span = crate::span::Span {
        file: md.file,
        start: site.key.1,
        end: block_end(program, site.key).unwrap_or(site.key.1),
    };
    let block = dedent(text, span);
    let errors = [RunError::new(
        ErrorKind::ToolError,
        "(the failure the run meets)",
        "…",
        span,
    )];
    let flow_doc = md.flows.get(&site.flow).and_then(|s| s.doc.as_deref());
    let ask = Ask {
        flow: &site.flow,
        flow_doc,
        block: &block,
        errors: &errors,
        scope: &scope,
        callable: offered(program, &lowered, m, (m, &site.flow), policy),
        policy,
        expected: &rs.ty,
    };
    let (grammar, binds) = ask.grammar(program, m);
    Ok(format!(
        "# The re-plan of `{}` (line {} of {})\n\nThe values in scope and the errors are the run's; \
         here they are placeholders. With `[llm] constrain = \"auto\"` the grammar goes as GBNF \
         in `grammar`, else as Lark in a custom tool, as the server takes it.\n\n\
         ## system\n\n{}\n\n## user\n\n{}{}\n\n## grammar (GBNF)\n\n{}\n## grammar (Lark)\n\n{}",
        shown(site),
        site.line,
        file,
        system_prompt(Length::Full),
        ask.text(Length::Full),
        binds_line(&binds),
        grammar.gbnf,
        grammar.lark
    ))
}

/// Where the block expression starting at `key` ends.
fn block_end(program: &Program, key: crate::check::BlockKey) -> Option<u32> {
    let md = program.root_module();
    let mut end = None;
    for item in &md.ast.items {
        let ItemKind::Flow(f) = &item.kind else {
            continue;
        };
        if block_key(&f.body) == key {
            return Some(f.body.span.end);
        }
        crate::syntax::ast::block_children(&f.body, &mut |e| find(e, key.1, &mut end));
    }
    end
}

fn find(e: &crate::syntax::ast::Expr, start: u32, end: &mut Option<u32>) {
    if e.span.start == start && crate::check::block_options(e).is_some() {
        *end = Some(e.span.end);
        return;
    }
    crate::syntax::ast::children(e, &mut |c| find(c, start, end));
}
