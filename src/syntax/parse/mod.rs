//! pest pairs -> AST. Each converter checks the rule it received; an unexpected
//! rule is a bug in this file and panics with the rule's name (the tests parse
//! every construct, so they catch it).

mod exprs;
mod fast;
mod items;

use std::cell::{Cell, RefCell};
use std::sync::LazyLock;

use pest::Parser;
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::*;
use super::errors::{parse_error_diagnostic, unclosed_bracket};
use super::grammar::{FlowParser, Rule};
use super::scan::scan;
use super::span::{FileId, Span};
use crate::diag::{Diagnostic, catalog};

/// Deepest bracket and expression nesting accepted (E0103).
pub const MAX_DEPTH: u32 = 200;

/// Deepest syntax tree accepted (E0105): nesting levels plus the operators,
/// `.field`s and `[index]`es chained in one expression, each of which adds a
/// level to the tree. Checked before the tree is built, so no later stage (the
/// checker, the interpreter, dropping the tree) recurses deeper than this.
pub const MAX_TREE_DEPTH: u32 = 1000;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_catch, Assoc::Left))
        .op(Op::infix(Rule::op_coalesce, Assoc::Right))
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::op_match, Assoc::Left)
            | Op::infix(Rule::op_nmatch, Assoc::Left))
        .op(Op::infix(Rule::op_concat, Assoc::Left))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_rem, Assoc::Left))
        .op(Op::prefix(Rule::op_not) | Op::prefix(Rule::op_neg))
});

/// Runs the pest parser. `detail` collects what was expected at the furthest
/// position (slow; only for re-parsing a bad region). pest reads that setting
/// from a global when a parse starts, hence the lock.
fn parse_rule(
    rule: Rule,
    text: &str,
    detail: bool,
) -> Result<pest::iterators::Pairs<'_, Rule>, Box<pest::error::Error<Rule>>> {
    // Parses without detail run side by side; one with detail runs alone and
    // restores the default afterwards.
    static LOCK: std::sync::RwLock<()> = std::sync::RwLock::new(());
    if detail {
        let _w = LOCK.write().unwrap_or_else(|e| e.into_inner());
        pest::set_error_detail(true);
        let r = FlowParser::parse(rule, text).map_err(Box::new);
        pest::set_error_detail(false);
        r
    } else {
        let _r = LOCK.read().unwrap_or_else(|e| e.into_inner());
        FlowParser::parse(rule, text).map_err(Box::new)
    }
}

/// Parses one file. Always returns a module: regions that do not parse are
/// reported and left out.
pub fn parse(file: FileId, src: &str) -> (Module, Vec<Diagnostic>) {
    parse_with(file, src, true, true)
}

/// [`parse`], with or without the fast path of flow bodies (`fast.rs`), with
/// or without parsing the bodies ahead on every core; the tests compare them.
fn parse_with(file: FileId, src: &str, fast: bool, ahead: bool) -> (Module, Vec<Diagnostic>) {
    let mut conv = Converter::new(file, src, 0);
    conv.fast = fast;
    conv.ahead = ahead;
    if let Some(d) = conv.check_nesting() {
        return (
            Module {
                file,
                items: Vec::new(),
                comments: Vec::new(),
            },
            vec![d],
        );
    }
    let module = match parse_rule(Rule::file_fast, src, false) {
        Ok(mut pairs) => {
            let file_pair = pairs.next().expect("the file rule yields one pair");
            conv.file(file_pair)
        }
        Err(e) => {
            // Recovery rules accept any text, so this happens only on parser limits.
            conv.diags
                .borrow_mut()
                .push(parse_error_diagnostic(src, file, 0, &e, "the file"));
            Module {
                file,
                items: Vec::new(),
                comments: Vec::new(),
            }
        }
    };
    (module, conv.diags.into_inner())
}

struct Converter<'s> {
    file: FileId,
    src: &'s str,
    /// Offset in `src` of the text the pairs come from (a re-parsed region).
    base: usize,
    diags: RefCell<Vec<Diagnostic>>,
    depth: Cell<u32>,
    /// Depth of the syntax tree being built (E0105).
    tree: Cell<u32>,
    too_deep_reported: Cell<bool>,
    /// How many expressions were left out for their depth.
    cut: Cell<u32>,
    /// The expression being converted is short enough that no subtree of it
    /// can reach the depth limit.
    fits: Cell<bool>,
    /// Comments found in regions parsed separately (flow bodies).
    comments: RefCell<Vec<Comment>>,
    /// Flow bodies go through the fast path first (`fast.rs`).
    fast: bool,
    /// Flow bodies already parsed (in parallel, before the items are
    /// converted), by the offset of their `{`.
    bodies: RefCell<std::collections::HashMap<usize, Option<Parsed>>>,
    /// Whether to parse flow bodies ahead (`bodies`).
    ahead: bool,
}

fn inner(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| p.as_rule() != Rule::COMMENT)
}

fn unexpected(p: &Pair<'_, Rule>, in_what: &str) -> ! {
    panic!("parser bug: unexpected rule {:?} in {in_what}", p.as_rule())
}

impl<'s> Converter<'s> {
    fn new(file: FileId, src: &'s str, base: usize) -> Converter<'s> {
        Converter {
            file,
            src,
            base,
            diags: RefCell::new(Vec::new()),
            depth: Cell::new(0),
            tree: Cell::new(0),
            too_deep_reported: Cell::new(false),
            cut: Cell::new(0),
            fits: Cell::new(false),
            comments: RefCell::new(Vec::new()),
            fast: true,
            bodies: RefCell::new(std::collections::HashMap::new()),
            ahead: false,
        }
    }

    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        let s = p.as_span();
        Span::new(self.file, self.base + s.start(), self.base + s.end())
    }

    fn ident(&self, p: Pair<'_, Rule>) -> Ident {
        Ident {
            span: self.span(&p),
            name: p.as_str().to_string().into(),
        }
    }

    fn error(&self, d: Diagnostic) {
        self.diags.borrow_mut().push(d);
    }

    /// Rejects bracket nesting deeper than the limit before pest recurses into it.
    fn check_nesting(&self) -> Option<Diagnostic> {
        let at = scan(self.src, MAX_DEPTH as usize, |_| {}).too_deep?;
        Some(catalog::too_deep(Span::new(self.file, at, at + 1)))
    }

    /// Reports a region that did not parse, by re-parsing it with the strict rule.
    fn bad_region(&self, p: &Pair<'_, Rule>, strict: Rule) {
        let start = self.base + p.as_span().start();
        let text = p.as_str();
        if strict == Rule::stmt_strict
            && text
                .strip_prefix("else")
                .is_some_and(|r| !r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
        {
            // Typed line by line (the REPL), `if c { a }` is complete before
            // its `else` arrives.
            let span = Span::new(self.file, start, start + 4);
            self.error(
                catalog::syntax(
                    "`else` without an `if` before it".into(),
                    span,
                    "this `else` starts a new statement".into(),
                )
                .with_help("put `else` on the line of the `}` that closes the `if`: `} else {`"),
            );
            return;
        }
        if strict == Rule::item_strict
            && let Some((at, open)) = unclosed_bracket(text)
        {
            let close = match open {
                '(' => ')',
                '[' => ']',
                _ => '}',
            };
            let span = Span::new(self.file, start + at, start + at + 1);
            self.error(
                catalog::syntax(
                    format!("unclosed `{open}`"),
                    span,
                    format!("this `{open}` is never closed"),
                )
                .with_help(format!("add the matching `{close}`")),
            );
            return;
        }
        match parse_rule(strict, text, true) {
            Err(e) => self.error(parse_error_diagnostic(
                self.src,
                self.file,
                start,
                &e,
                end_of(strict),
            )),
            Ok(_) => {
                let span = Span::new(self.file, start, self.base + p.as_span().end());
                self.error(catalog::syntax(
                    format!("expected {}", end_of(strict)),
                    span,
                    "this does not end where it should".into(),
                ));
            }
        }
    }

    /// `x` in a broken `let x = …`.
    fn broken_let_name(&self, p: &Pair<'_, Rule>) -> Option<Ident> {
        let text = p.as_str();
        let rest = text.strip_prefix("let")?;
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.len() == rest.len() {
            return None;
        }
        let len = trimmed
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(trimmed.len());
        let name = &trimmed[..len];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let start = self.base + p.as_span().start() + (text.len() - trimmed.len());
        Some(Ident {
            name: name.to_string().into(),
            span: Span::new(self.file, start, start + len),
        })
    }

    /// The comments of a subtree.
    fn collect_comments(&self, p: &Pair<'_, Rule>) -> Vec<Comment> {
        let mut comments = Vec::new();
        for c in p.clone().into_inner().flatten() {
            // pest reports the comment as a `COMMENT` pair (its inner rule is not kept).
            if c.as_rule() == Rule::COMMENT {
                let text = c.as_str();
                let kind = if text.starts_with("/*") {
                    CommentKind::Block
                } else if text.starts_with("///") && !text.starts_with("////") {
                    CommentKind::Doc
                } else {
                    CommentKind::Line
                };
                comments.push(Comment {
                    kind,
                    text: text.to_string(),
                    span: self.span(&c),
                });
            }
        }
        comments
    }
}

/// What ends the construct a strict rule parses.
fn end_of(rule: Rule) -> &'static str {
    match rule {
        Rule::item_strict => "a new line",
        Rule::stmt_strict => "a new line or `;`",
        Rule::branch_strict => "a new line, `;` or `,`",
        Rule::match_strict | Rule::decide_strict => "a new line or `,`",
        _ => "a new line",
    }
}

/// The `///` comments directly above `start`, joined.
fn doc_before(src: &str, comments: &[Comment], start: usize) -> Option<String> {
    let mut lines = Vec::new();
    let mut pos = start;
    for c in comments
        .iter()
        .rev()
        .filter(|c| (c.span.end as usize) <= start)
    {
        let gap = &src[c.span.end as usize..pos];
        if c.kind != CommentKind::Doc
            || gap.chars().any(|ch| !ch.is_whitespace())
            || gap.matches('\n').count() > 1
        {
            break;
        }
        lines.push(c.text.trim_start_matches("///").trim().to_string());
        pos = c.span.start as usize;
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(lines.join("\n"))
}

/// Statements of a region parsed on its own, and its comments.
type Parsed = (Vec<Stmt>, Vec<Comment>);

/// Bodies larger than this are parsed in parallel groups of statements.
const PARALLEL_BODY: usize = 256 * 1024;

/// The stack of the threads that parse flow bodies: as deep as the CLI's
/// (`main.rs`), for the deepest trees accepted.
const PARSE_STACK: usize = 256 << 20;

/// Flow bodies of a file are parsed ahead, on every core, when together they
/// are at least this large.
const PARALLEL_BODIES: usize = 64 * 1024;

/// Parses the bodies of many flows (each `(offset of its text, text)`) on
/// every core; the results in the same order. A body's parse does not depend
/// on any other's, so the order the threads take them in does not matter.
/// The threads a parse may use (at most 8), asked of the system once: the
/// answer reads the process's cgroup files.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8)
    })
}

fn parse_bodies(
    file: FileId,
    src: &str,
    bodies: &[(usize, &str)],
    fast: bool,
) -> Vec<Option<Parsed>> {
    // Groups of bodies of about 16 KiB each, taken in turn.
    let mut groups = vec![0];
    let mut size = 0;
    for (k, (_, t)) in bodies.iter().enumerate() {
        size += t.len();
        if size >= 16 * 1024 {
            groups.push(k + 1);
            size = 0;
        }
    }
    if *groups.last().expect("a start") != bodies.len() {
        groups.push(bodies.len());
    }
    // No more threads than groups: a small file is parsed where it is.
    let threads = cores().min(groups.len() - 1);
    if threads < 2 {
        return bodies
            .iter()
            .map(|&(base, t)| parse_chunk(file, src, base, t, fast))
            .collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: Vec<Vec<(usize, Vec<Option<Parsed>>)>> = std::thread::scope(|s| {
        let work = || {
            let mut mine = Vec::new();
            loop {
                let g = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (Some(&from), Some(&to)) = (groups.get(g), groups.get(g + 1)) else {
                    break;
                };
                let parsed = bodies[from..to]
                    .iter()
                    .map(|&(base, t)| parse_chunk(file, src, base, t, fast))
                    .collect();
                mine.push((g, parsed));
            }
            mine
        };
        // As deep a stack as the thread the parse was called on has (the
        // CLI's and the language server's); a thread that cannot be made
        // leaves its share to the others.
        let handles: Vec<_> = (1..threads)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .stack_size(PARSE_STACK)
                    .spawn_scoped(s, work)
                    .ok()
            })
            .collect();
        let mut all = vec![work()];
        all.extend(handles.into_iter().map(|h| h.join().unwrap_or_default()));
        all
    });
    let mut by_group: Vec<Option<Vec<Option<Parsed>>>> = (0..groups.len()).map(|_| None).collect();
    for (g, parsed) in done.into_iter().flatten() {
        by_group[g] = Some(parsed);
    }
    let mut out = Vec::with_capacity(bodies.len());
    for (g, w) in groups.windows(2).enumerate() {
        match by_group[g].take() {
            Some(parsed) => out.extend(parsed),
            // A thread that panicked: those bodies take the ordinary path.
            None => out.extend((w[0]..w[1]).map(|_| None)),
        }
    }
    out
}

/// Parses the statements of a flow body (`text` starts at `base` in `src`).
/// A large body is cut into groups of statements of about `CHUNK` bytes; the
/// threads take turns through them, so only a few groups' pest pairs are in
/// memory at once. `None` if any part does not parse cleanly.
fn parse_body(
    file: FileId,
    src: &str,
    base: usize,
    text: &str,
    fast: bool,
) -> Option<(Vec<Stmt>, Vec<Comment>)> {
    const CHUNK: usize = 128 * 1024;
    let threads = cores();
    if text.len() < PARALLEL_BODY || threads < 2 {
        return parse_chunk(file, src, base, text, fast);
    }
    let mut bounds = vec![0];
    bounds.extend(split_points(text, CHUNK));
    bounds.push(text.len());
    let parts: Vec<(usize, &str)> = bounds
        .windows(2)
        .map(|w| (w[0], &text[w[0]..w[1]]))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Parsed>> = (0..parts.len()).map(|_| None).collect();
    let done: Vec<Vec<(usize, Option<Parsed>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .stack_size(PARSE_STACK)
                    .spawn_scoped(s, || {
                        let mut mine = Vec::new();
                        loop {
                            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&(off, t)) = parts.get(k) else { break };
                            mine.push((k, parse_chunk(file, src, base + off, t, fast)));
                        }
                        mine
                    })
                    .ok()
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (k, r) in done.into_iter().flatten() {
        results[k] = r;
    }
    let total = results
        .iter()
        .map(|r| r.as_ref().map_or(0, |(st, _)| st.len()))
        .sum();
    let mut stmts = Vec::with_capacity(total);
    let mut comments = Vec::new();
    for r in results {
        let (mut st, mut cm) = r?;
        stmts.append(&mut st);
        comments.append(&mut cm);
    }
    Some((stmts, comments))
}

/// The statements of a group: each through the fast path, and from where it
/// gives up to the next line that starts with `let` through pest.
fn parse_chunk(
    file: FileId,
    src: &str,
    base: usize,
    text: &str,
    fast: bool,
) -> Option<(Vec<Stmt>, Vec<Comment>)> {
    if !fast || text.contains('\r') {
        return parse_chunk_pest(file, src, base, text);
    }
    let mut f = fast::Fast::new(file, base, text);
    let mut stmts = Vec::new();
    loop {
        f.seps()?;
        if f.at_end() {
            break;
        }
        let start = f.pos;
        let ncomments = f.comments.len();
        if let Some(s) = f.stmt() {
            stmts.push(s);
            continue;
        }
        f.comments.truncate(ncomments);
        let end = next_let_line(text, start);
        let (mut st, mut cm) = parse_chunk_pest(file, src, base + start, &text[start..end])?;
        stmts.append(&mut st);
        f.comments.append(&mut cm);
        f.pos = end;
    }
    stmts.shrink_to_fit();
    Some((stmts, f.comments))
}

/// The first offset after `from` (a statement's start) that starts a line
/// beginning with `let`, outside brackets, strings and comments; the end of
/// `text` if none. Scans a window that doubles until it finds one, so the
/// cost stays linear in the distance.
fn next_let_line(text: &str, from: usize) -> usize {
    let mut window = 4096;
    loop {
        let end = (from + window).min(text.len());
        let mut end_at = end;
        while !text.is_char_boundary(end_at) {
            end_at += 1;
        }
        let part = &text[from..end_at];
        let mut found = None;
        scan(part, usize::MAX, |i| {
            if found.is_none() {
                let t = part[i + 1..].trim_start_matches([' ', '\t']);
                if t.starts_with("let ") || t.starts_with("let\t") {
                    found = Some(from + i + 1);
                }
            }
        });
        if let Some(at) = found {
            return at;
        }
        if end_at >= text.len() {
            return text.len();
        }
        window *= 2;
    }
}

fn parse_chunk_pest(
    file: FileId,
    src: &str,
    base: usize,
    text: &str,
) -> Option<(Vec<Stmt>, Vec<Comment>)> {
    let conv = Converter::new(file, src, base);
    let top = parse_rule(Rule::stmts_chunk, text, false).ok()?.next()?;
    let comments = conv.collect_comments(&top);
    let stmts = conv.stmts(inner(top));
    let clean = conv.diags.borrow().is_empty()
        && !stmts
            .iter()
            .any(|s| matches!(s.kind, StmtKind::Error { .. }));
    clean.then_some((stmts, comments))
}

/// Offsets where a group of statements may start: after a newline at bracket
/// depth 0 (outside strings and comments), before a line that begins with
/// `let ` — a reserved word no statement can continue with. About one cut
/// per `target` bytes.
fn split_points(text: &str, target: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut last = 0;
    scan(text, usize::MAX, |i| {
        if i + 1 - last >= target {
            let rest = &text[i + 1..];
            let t = rest.trim_start_matches([' ', '\t']);
            if t.starts_with("let ") || t.starts_with("let\t") {
                cuts.push(i + 1);
                last = i + 1;
            }
        }
    });
    cuts
}

/// Bytes per unit of a size literal (`512KB`, `64MB`, `1GB`): powers of 1024.
fn size_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "B" => 1.0,
        "KB" | "KiB" => 1024.0,
        "MB" | "MiB" => 1024.0 * 1024.0,
        "GB" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TB" | "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;

/// Parses a block body given on its own — statements and a final expression,
/// without the braces around them: what is typed at the REPL, a re-planned
/// fragment. The block's span is the whole text. Regions that do not parse
/// are reported and left out, as in a file; text that ends the block early
/// (a `}` of its own) is reported at that place (`None`: the text is not one
/// block body).
pub fn parse_block_body(file: FileId, src: &str) -> (Option<Block>, Vec<Diagnostic>) {
    parse_block_body_in(file, src, 0..src.len())
}

/// [`parse_block_body`] of the part `range` of `src` (a REPL command's
/// argument): spans are offsets in `src`.
pub fn parse_block_body_in(
    file: FileId,
    src: &str,
    range: std::ops::Range<usize>,
) -> (Option<Block>, Vec<Diagnostic>) {
    let text = &src[range.clone()];
    if let Some(at) = scan(text, MAX_DEPTH as usize, |_| {}).too_deep {
        let at = range.start + at;
        return (None, vec![catalog::too_deep(Span::new(file, at, at + 1))]);
    }
    let conv = Converter::new(file, src, range.start);
    match parse_rule(Rule::stmts_chunk, text, false) {
        Ok(mut pairs) => {
            let top = pairs.next().expect("stmts_chunk yields one pair");
            let stmts = conv.stmts(inner(top));
            let block = Block {
                stmts,
                span: Span::new(file, range.start, range.end),
            };
            (Some(block), conv.diags.into_inner())
        }
        Err(e) => (
            None,
            vec![parse_error_diagnostic(
                src,
                file,
                range.start,
                &e,
                "a block body",
            )],
        ),
    }
}
