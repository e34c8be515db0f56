//! `flowc fmt`: one canonical layout of a `.flow` file (docs/style.md).
//!
//! A pure function over the AST and its comments: [`format_source`] parses,
//! refuses a file with syntax errors, and prints every item, statement and
//! expression again. Literals (numbers, durations, strings with their
//! interpolations, regexes) are copied from the source as written. Comments
//! are placed at the boundaries of sequences (items, statements, arguments,
//! fields, branches, arms): before an element, after it on its line, or
//! before the closing bracket; a comment in the middle of an expression moves
//! to the line after the element that holds it. Nothing is lost.

mod blocks;
mod chains;
pub mod diff;
mod exprs;
mod items;

use crate::diag::{Diagnostic, Severity};
use crate::syntax::ast::{Comment, CommentKind, Expr, ExprKind, Module, StrPart};
use crate::syntax::parse;
use crate::syntax::span::{FileId, Span};

/// Lines are kept within this many columns where a break can make them so.
pub const WIDTH: usize = 100;
/// One level of indentation.
const INDENT: usize = 4;

/// Formats one file. A file with syntax errors is not formatted: its
/// diagnostics are returned, their spans in `FileId(0)` (warnings alone do
/// not stop formatting).
pub fn format_source(src: &str) -> Result<String, Vec<Diagnostic>> {
    let (module, diags) = parse(FileId(0), src);
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(diags);
    }
    Ok(format_module(src, &module))
}

/// Formats a parsed module whose source is `src` (the module must come from
/// `src` without syntax errors).
pub fn format_module(src: &str, module: &Module) -> String {
    let mut strings = Vec::new();
    for item in &module.items {
        items::strings_of_item(&item.kind, &mut strings);
    }
    // Comments inside a string's interpolation are part of the string's
    // text. (The strings do not nest: one inside another's interpolation is
    // not collected.)
    strings.sort_by_key(|s: &Span| s.start);
    let comments = module
        .comments
        .iter()
        .filter(|c| {
            let i = strings.partition_point(|s| s.start <= c.span.start);
            i == 0 || strings[i - 1].end < c.span.end
        })
        .cloned()
        .collect();
    let mut p = Printer {
        src,
        comments,
        next: 0,
    };
    let body = p.seq(
        &module.items,
        |i| i.span,
        &Seq {
            open: None,
            close: src.len(),
            ind: 0,
            sep: "",
        },
        |p, item, ind| p.item(item, ind),
    );
    body.trim_start_matches('\n').to_string()
}

/// How a sequence is laid out: the position of its opening bracket (a
/// comment on that line stays there), of its closing one, the indentation
/// of its elements and what follows each element.
struct Seq<'a> {
    open: Option<usize>,
    close: usize,
    ind: usize,
    sep: &'a str,
}

struct Printer<'s> {
    src: &'s str,
    /// The comments to place, in source order.
    comments: Vec<Comment>,
    /// The first comment not placed yet.
    next: usize,
}

fn indent(n: usize) -> String {
    " ".repeat(n)
}

/// The column after `text` written from column `col`.
fn end_col(col: usize, text: &str) -> usize {
    match text.rfind('\n') {
        Some(i) => text[i + 1..].chars().count(),
        None => col + text.chars().count(),
    }
}

impl<'s> Printer<'s> {
    fn text(&self, span: Span) -> &'s str {
        &self.src[span.range()]
    }

    fn peek(&self) -> Option<&Comment> {
        self.comments.get(self.next)
    }

    /// The text of a comment as written again: line comments without
    /// trailing blanks, block comments with `\n` line ends.
    fn comment_text(c: &Comment) -> String {
        match c.kind {
            CommentKind::Block => c.text.replace("\r\n", "\n"),
            CommentKind::Line | CommentKind::Doc => c.text.trim_end().to_string(),
        }
    }

    /// `span` without the comments and blanks at its end: pest lets a rule
    /// that ends in an optional part take the comments before that part.
    fn trimmed(&self, span: Span) -> Span {
        let start = span.start as usize;
        let mut end = span.end as usize;
        loop {
            end = start + self.src[start..end].trim_end().len();
            let i = self
                .comments
                .partition_point(|c| (c.span.end as usize) < end);
            match self.comments.get(i) {
                Some(c) if c.span.end as usize == end && c.span.start as usize >= start => {
                    end = c.span.start as usize;
                }
                _ => break,
            }
        }
        Span {
            end: end as u32,
            ..span
        }
    }

    /// Whether any comment lies inside `span` (such a construct is never put
    /// on one line).
    fn has_comment_in(&self, span: Span) -> bool {
        let span = self.trimmed(span);
        let i = self.comments.partition_point(|c| c.span.start < span.start);
        self.comments.get(i).is_some_and(|c| c.span.end <= span.end)
    }

    /// The next comment to place, taken if it follows `after` on its line
    /// and comes before `before`.
    fn take_trailing(&mut self, after: usize, before: usize) -> Option<String> {
        let c = self.peek()?;
        let start = c.span.start as usize;
        if start < after || start >= before || self.src[after..start].contains('\n') {
            return None;
        }
        let text = Self::comment_text(c);
        self.next += 1;
        Some(text)
    }

    /// Appends ` word ` and `e`, laid out from where `s` (begun at column
    /// `col`) ends: `… until stable(x)`, `… else if …`, `… where …`.
    fn then_expr(&mut self, s: &mut String, word: &str, e: &Expr, col: usize, ind: usize) {
        s.push(' ');
        s.push_str(word);
        s.push(' ');
        let c = end_col(col, s);
        s.push_str(&self.expr(e, c, ind));
    }

    /// Places the next comment at the end of the line `out` is writing;
    /// whether it is a line comment (then nothing can follow on the line).
    fn onto_line(&mut self, out: &mut String, last: &mut Option<usize>) -> bool {
        let c = self.comments[self.next].clone();
        self.next += 1;
        out.push(' ');
        out.push_str(&Self::comment_text(&c));
        *last = Some(c.span.end as usize);
        c.kind != CommentKind::Block
    }

    /// Whether the source between `from` and `to` holds a blank line.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        if from >= to {
            return false;
        }
        let gap = &self.src[from..to];
        let parts: Vec<&str> = gap.split('\n').collect();
        parts.len() > 2
            && parts[1..parts.len() - 1]
                .iter()
                .any(|l| l.trim().is_empty())
    }

    /// Comments before `pos`, each on its own line at `ind`.
    fn comments_before(
        &mut self,
        pos: usize,
        ind: usize,
        last: &mut Option<usize>,
        out: &mut String,
    ) {
        while let Some(c) = self.peek() {
            if c.span.start as usize >= pos {
                break;
            }
            let c = c.clone();
            self.next += 1;
            if last.is_some_and(|l| self.blank_between(l, c.span.start as usize)) {
                out.push('\n');
            }
            out.push_str(&indent(ind));
            out.push_str(&Self::comment_text(&c));
            out.push('\n');
            *last = Some(c.span.end as usize);
        }
    }

    /// A sequence laid out one element per line. Returns the text from right
    /// after the opening bracket (a comment on its line, then a newline) to
    /// the line of the closing bracket (its indentation not included).
    fn seq<T>(
        &mut self,
        elems: &[T],
        span_of: impl Fn(&T) -> Span,
        how: &Seq<'_>,
        mut render: impl FnMut(&mut Self, &T, usize) -> String,
    ) -> String {
        let mut out = String::new();
        let mut last: Option<usize> = None;
        if let Some(open) = how.open {
            // Comments still to place that come before the opening bracket
            // (`len /* c */ (…`) go on its line, where they stay.
            let mut line_comment = false;
            while !line_comment
                && let Some(c) = self.peek()
                && (c.span.start as usize) < open
            {
                line_comment = self.onto_line(&mut out, &mut last);
            }
            // Comments on the line of the opening bracket stay there.
            while !line_comment
                && let Some(c) = self.peek()
                && (c.span.start as usize) > open
                && (c.span.start as usize) < how.close
                && elems
                    .first()
                    .is_none_or(|e| c.span.start < span_of(e).start)
                && !self.src[last.unwrap_or(open)..c.span.start as usize].contains('\n')
            {
                line_comment = self.onto_line(&mut out, &mut last);
            }
            out.push('\n');
        }
        for (k, e) in elems.iter().enumerate() {
            let sp = self.trimmed(span_of(e));
            let next = elems
                .get(k + 1)
                .map_or(how.close, |n| span_of(n).start as usize);
            self.comments_before(sp.start as usize, how.ind, &mut last, &mut out);
            if last.is_some_and(|l| self.blank_between(l, sp.start as usize)) {
                out.push('\n');
            }
            let body = render(self, e, how.ind);
            // Comments left inside the element: after it, on lines of their own.
            let mut orphans = Vec::new();
            while let Some(c) = self.peek() {
                if c.span.start >= sp.end {
                    break;
                }
                orphans.push(c.clone());
                self.next += 1;
            }
            let mut end = sp.end as usize;
            out.push_str(&indent(how.ind));
            out.push_str(&body);
            out.push_str(how.sep);
            if let Some(c) = self.peek()
                && (c.span.start as usize) < next
                && !self.src[end..c.span.start as usize].contains('\n')
            {
                let c = c.clone();
                self.next += 1;
                out.push(' ');
                out.push_str(&Self::comment_text(&c));
                end = c.span.end as usize;
            }
            out.push('\n');
            for c in orphans {
                out.push_str(&indent(how.ind));
                out.push_str(&Self::comment_text(&c));
                out.push('\n');
                end = end.max(c.span.end as usize);
            }
            last = Some(end);
        }
        self.comments_before(how.close, how.ind, &mut last, &mut out);
        out
    }

    /// Whether `e` was written in parentheses (of its own: in `(a) && (b)`
    /// the `(` before and the `)` after belong to `a` and `b`).
    fn parenthesised(&self, e: &Expr) -> bool {
        let (start, end) = (e.span.start as usize, e.span.end as usize);
        let before = self.src[..start].trim_end();
        let after = self.src[end..].trim_start();
        if !(before.ends_with('(') && after.starts_with(')')) {
            return false;
        }
        // Parentheses inside literals and comments do not count.
        let mut skip = Vec::new();
        literals_of_expr(e, &mut skip);
        skip.extend(
            self.comments
                .iter()
                .filter(|c| c.span.start as usize >= start && (c.span.end as usize) <= end)
                .map(|c| c.span),
        );
        let mut depth = 0i32;
        for (i, b) in self.src.as_bytes()[start..end].iter().enumerate() {
            let at = (start + i) as u32;
            if skip.iter().any(|s| s.start <= at && at < s.end) {
                continue;
            }
            match b {
                b'(' => depth += 1,
                b')' if depth == 0 => return false,
                b')' => depth -= 1,
                _ => {}
            }
        }
        true
    }

    /// The position of the first `ch` at or after `from`, outside comments.
    fn find(&self, from: usize, ch: u8) -> usize {
        let bytes = self.src.as_bytes();
        let mut i = from;
        while i < bytes.len() {
            let k = self
                .comments
                .partition_point(|c| (c.span.start as usize) < i);
            if let Some(c) = self.comments.get(k)
                && c.span.start as usize == i
            {
                i = c.span.end as usize;
                continue;
            }
            if bytes[i] == ch {
                return i;
            }
            i += 1;
        }
        bytes.len()
    }
}

/// Spans of the string and regex literals inside `e` (and `e` itself).
fn literals_of_expr(e: &Expr, out: &mut Vec<Span>) {
    if matches!(e.kind, ExprKind::Str(_) | ExprKind::Regex { .. }) {
        out.push(e.span);
        return;
    }
    crate::syntax::ast::children(e, &mut |c| literals_of_expr(c, out));
}

/// Spans of the string literals with interpolations inside `e`.
fn strings_of_expr(e: &Expr, out: &mut Vec<Span>) {
    if let ExprKind::Str(parts) = &e.kind {
        if parts.iter().any(|p| matches!(p, StrPart::Interp(_))) {
            out.push(e.span);
        }
        return;
    }
    crate::syntax::ast::children(e, &mut |c| strings_of_expr(c, out));
}
