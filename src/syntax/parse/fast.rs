//! The fast path of a flow body: the statements most programs are made of
//! (`let` and expression statements over names, paths, calls, numbers,
//! strings, regexes, lists, records, indexes, every operator and `catch`;
//! `if`, `parallel`, `race`, `sequence`, `dag`, `for`, `try`, `match`,
//! `loop`, `decide` and `approve`, with `with { … }` options) read straight
//! into the AST, without pest's pairs.
//!
//! It follows the grammar (`grammar/flow.pest`) token by token, spans
//! included: where pest's implicit whitespace (spaces, tabs, comments) ends up
//! inside a rule's span, it does here too. Anything else — another construct,
//! a newline that might continue an expression, an escape it does not know, a
//! statement long enough to meet a depth limit — gives up on the statement,
//! and the caller parses from there with pest (`parse_chunk`), so the result is
//! the same either way. `tests.rs` compares the two on every example.

use super::super::ast::*;
use super::super::is_reserved;
use super::super::span::{FileId, Span};

/// Statements longer than this go to pest (a bound on what a give-up costs).
const MAX_STMT: usize = 1 << 20;
/// The tree depth limit (E0105) is pest's path's to count and report. This
/// path computes, bottom-up, an upper bound of pest's count for each
/// expression (one level per expression and per prefix or infix operator in
/// it, one per postfix, per `.` of a path and per `else if`, over the deepest
/// part inside) and gives up past this, far below the limit of 1,000.
const MAX_LEVEL: u32 = 400;
/// Deepest nesting of expressions taken here (pest's path reports E0103 at 200).
const MAX_NEST: u32 = 100;

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

pub(super) struct Fast<'t> {
    file: FileId,
    base: usize,
    text: &'t str,
    b: &'t [u8],
    pub(super) pos: usize,
    pub(super) comments: Vec<Comment>,
    nest: u32,
    /// Where the statement being read starts.
    stmt_start: usize,
    /// Reading a `decide` arm's value: a line starting with `else` is the
    /// next arm (`else => …`), not the value's continuation.
    in_decide_arm: bool,
    /// The deepest bound of pest's tree depth count ([`MAX_LEVEL`]) among the
    /// expressions read so far inside the one being read.
    sub: u32,
    /// The prefix operators read so far in the expression being read.
    prefixes: u32,
}

impl<'t> Fast<'t> {
    pub(super) fn new(file: FileId, base: usize, text: &'t str) -> Fast<'t> {
        Fast {
            file,
            base,
            text,
            b: text.as_bytes(),
            pos: 0,
            comments: Vec::new(),
            nest: 0,
            stmt_start: 0,
            in_decide_arm: false,
            sub: 0,
            prefixes: 0,
        }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, self.base + start, self.base + end)
    }

    fn peek(&self) -> u8 {
        self.b.get(self.pos).copied().unwrap_or(0)
    }

    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    /// The end of a comment starting at `i` (a `/`), if one does.
    fn comment_end(&self, i: usize) -> Option<Option<usize>> {
        match self.at(i + 1) {
            b'/' => {
                let rest = &self.b[i..];
                let len = rest
                    .iter()
                    .position(|&c| c == b'\n' || c == b'\r')
                    .unwrap_or(rest.len());
                Some(Some(i + len))
            }
            b'*' => {
                // Block comments nest.
                let mut depth = 0usize;
                let mut j = i;
                while j + 1 < self.b.len() {
                    if self.b[j] == b'/' && self.b[j + 1] == b'*' {
                        depth += 1;
                        j += 2;
                    } else if self.b[j] == b'*' && self.b[j + 1] == b'/' {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            return Some(Some(j));
                        }
                    } else {
                        j += 1;
                    }
                }
                Some(None)
            }
            _ => None,
        }
    }

    /// pest's implicit whitespace: spaces, tabs and comments (recorded).
    fn skip(&mut self) -> Option<()> {
        loop {
            match self.peek() {
                b' ' | b'\t' => self.pos += 1,
                b'/' => match self.comment_end(self.pos) {
                    None => return Some(()),
                    Some(None) => return None,
                    Some(Some(end)) => {
                        let text = &self.text[self.pos..end];
                        let kind = if text.starts_with("/*") {
                            CommentKind::Block
                        } else if text.starts_with("///") && !text.starts_with("////") {
                            CommentKind::Doc
                        } else {
                            CommentKind::Line
                        };
                        self.comments.push(Comment {
                            kind,
                            text: text.to_string(),
                            span: self.span(self.pos, end),
                        });
                        self.pos = end;
                    }
                },
                _ => return Some(()),
            }
        }
    }

    /// Whitespace, comments and new lines (`nls` between skips).
    fn skip_nl(&mut self) -> Option<bool> {
        let mut newline = false;
        loop {
            self.skip()?;
            if self.peek() == b'\n' {
                self.pos += 1;
                newline = true;
            } else {
                return Some(newline);
            }
        }
    }

    /// Separators between statements: new lines and `;`, with whitespace and comments.
    pub(super) fn seps(&mut self) -> Option<()> {
        loop {
            self.skip()?;
            match self.peek() {
                b'\n' | b';' => self.pos += 1,
                _ => return Some(()),
            }
        }
    }

    /// After a new line, could the next line continue what is before it (an
    /// operator, `.field`, `after`, `else`, `catch`)? Then this path gives up.
    fn continues(&self, mut i: usize) -> bool {
        loop {
            match self.at(i) {
                b' ' | b'\t' | b'\n' => i += 1,
                b'/' => match self.comment_end(i) {
                    Some(Some(end)) => i = end,
                    Some(None) => return true,
                    None => return true,
                },
                b'.' | b'?' | b'|' | b'&' | b'=' | b'!' | b'<' | b'>' | b'~' | b'+' | b'*'
                | b'%' | b'\r' => return true,
                _ => {
                    let rest = &self.b[i..];
                    return rest.starts_with(b"after")
                        || (rest.starts_with(b"else") && !self.in_decide_arm)
                        || rest.starts_with(b"catch");
                }
            }
        }
    }

    /// A word at the current position (no keyword check).
    fn word(&mut self) -> Option<(usize, usize)> {
        if !is_ident_start(self.peek()) {
            return None;
        }
        let start = self.pos;
        let mut i = start + 1;
        while is_ident_char(self.at(i)) {
            i += 1;
        }
        self.pos = i;
        Some((start, i))
    }

    fn ident_at(&self, (start, end): (usize, usize)) -> Ident {
        Ident {
            name: self.text[start..end].to_string().into(),
            span: self.span(start, end),
        }
    }

    /// The grammar's `ident`: a word that is not reserved.
    fn ident(&mut self) -> Option<Ident> {
        let w = self.word()?;
        if is_reserved(&self.text[w.0..w.1]) {
            return None;
        }
        Some(self.ident_at(w))
    }

    /// One statement, the position left after its trailing whitespace, at a
    /// separator or the end. `None`: not for this path.
    pub(super) fn stmt(&mut self) -> Option<Stmt> {
        self.nest = 0;
        self.sub = 0;
        self.prefixes = 0;
        self.stmt_start = self.pos;
        self.stmt_in(false)
    }

    /// A statement of the body (`in_block` false) or of a block inside it,
    /// which a `}` may end too.
    fn stmt_in(&mut self, in_block: bool) -> Option<Stmt> {
        let start = self.pos;
        let stmt_end;
        let rest = &self.b[start..];
        let kind = if rest.starts_with(b"let") && matches!(self.at(start + 3), b' ' | b'\t') {
            self.pos += 3;
            self.skip()?;
            let name = self.ident()?;
            self.skip()?;
            if self.peek() != b'=' {
                return None;
            }
            self.pos += 1;
            self.skip_nl()?;
            let value = self.expr()?;
            let (after, end) = self.after()?;
            stmt_end = end;
            StmtKind::Let {
                name,
                ty: None,
                value,
                after,
            }
        } else if rest.starts_with(b"let")
            || rest.starts_with(b"mock")
            || rest.starts_with(b"assert")
        {
            return None;
        } else {
            let expr = self.expr()?;
            let (after, end) = self.after()?;
            stmt_end = end;
            StmtKind::Expr { expr, after }
        };
        let end = stmt_end;
        if end - start >= MAX_STMT {
            return None;
        }
        match self.peek() {
            b'\n' if !self.continues(self.pos + 1) => {}
            b';' => {}
            b'}' if in_block => {}
            0 if self.at_end() && !in_block => {}
            _ => return None,
        }
        Some(Stmt {
            kind,
            span: self.span(start, end),
        })
    }

    /// `after a, b` on the statement's line (the position is after whitespace),
    /// and where the statement ends: after the whitespace when there is no
    /// `after`, else at its last name (as pest's spans have it).
    fn after(&mut self) -> Option<(Vec<Ident>, usize)> {
        if !self.b[self.pos..].starts_with(b"after") {
            return Some((Vec::new(), self.pos));
        }
        if !matches!(self.at(self.pos + 5), b' ' | b'\t') {
            return None;
        }
        self.pos += 5;
        self.skip()?;
        let mut names = vec![self.ident()?];
        self.skip()?;
        // One name: the clause takes the whitespace after it; more: it ends
        // at the last (pest's repetition gives back what it skipped).
        let mut end = self.pos;
        while self.peek() == b',' {
            self.pos += 1;
            self.skip_nl()?;
            names.push(self.ident()?);
            end = self.pos;
            self.skip()?;
        }
        names.shrink_to_fit();
        Some((names, end))
    }

    /// `expr`: prefix operators, operands and infix operators, combined by
    /// precedence as the Pratt parser does. The position is left after the
    /// trailing whitespace.
    fn expr(&mut self) -> Option<Expr> {
        self.expr_end().map(|(e, _)| e)
    }

    /// [`Fast::expr`], and where pest's `expr` pair ends: after the trailing
    /// whitespace, except after an operator's operand that ends with a postfix
    /// (`a + b.c[0]`), where it ends at the postfix.
    fn expr_end(&mut self) -> Option<(Expr, usize)> {
        self.nest += 1;
        if self.nest > MAX_NEST {
            return None;
        }
        let outer = std::mem::replace(&mut self.sub, 0);
        let outer_prefixes = std::mem::replace(&mut self.prefixes, 0);
        let mut operands: Vec<Expr> = Vec::new();
        let mut ops: Vec<Infix> = Vec::new();
        let mut end;
        loop {
            let (operand, operand_end) = self.operand()?;
            end = if operands.is_empty() {
                self.pos
            } else {
                operand_end
            };
            operands.push(operand);
            let op = match self.peek() {
                b'\n' => {
                    if self.continues(self.pos + 1) {
                        return None;
                    }
                    break;
                }
                b'?' if self.at(self.pos + 1) == b'?' => (BinOp::Coalesce, 2),
                b'|' if self.at(self.pos + 1) == b'|' => (BinOp::Or, 2),
                b'&' if self.at(self.pos + 1) == b'&' => (BinOp::And, 2),
                b'=' if self.at(self.pos + 1) == b'=' => (BinOp::Eq, 2),
                b'!' if self.at(self.pos + 1) == b'=' => (BinOp::Ne, 2),
                b'!' if self.at(self.pos + 1) == b'~' => (BinOp::NotMatch, 2),
                b'<' if self.at(self.pos + 1) == b'=' => (BinOp::Le, 2),
                b'>' if self.at(self.pos + 1) == b'=' => (BinOp::Ge, 2),
                b'<' => (BinOp::Lt, 1),
                b'>' => {
                    // `> =` is not an operator.
                    let mut i = self.pos + 1;
                    while matches!(self.at(i), b' ' | b'\t' | b'/') {
                        if self.at(i) == b'/' {
                            return None;
                        }
                        i += 1;
                    }
                    if self.at(i) == b'=' {
                        return None;
                    }
                    (BinOp::Gt, 1)
                }
                b'~' => (BinOp::Match, 1),
                b'+' if self.at(self.pos + 1) == b'+' => (BinOp::Concat, 2),
                b'+' => (BinOp::Add, 1),
                b'-' => (BinOp::Sub, 1),
                b'*' => (BinOp::Mul, 1),
                b'/' => (BinOp::Div, 1),
                b'%' => (BinOp::Rem, 1),
                b'c' if self.b[self.pos..].starts_with(b"catch") => {
                    if is_ident_char(self.at(self.pos + 5)) {
                        return None;
                    }
                    self.pos += 5;
                    self.skip_nl()?;
                    ops.push(Infix::Catch);
                    continue;
                }
                _ => break,
            };
            self.pos += op.1;
            self.skip_nl()?;
            ops.push(Infix::Bin(op.0));
        }
        self.nest -= 1;
        let levels = 1 + ops.len() as u32 + self.prefixes + self.sub;
        if levels > MAX_LEVEL {
            return None;
        }
        self.sub = outer.max(levels);
        self.prefixes = outer_prefixes;
        Some((combine(operands, ops), end))
    }

    /// Prefix operators and a postfix expression.
    /// The statement is past the length this path takes: give up before
    /// building a tree deep enough to matter (long chains of operators).
    fn too_long(&self) -> bool {
        self.pos - self.stmt_start >= MAX_STMT
    }

    fn operand(&mut self) -> Option<(Expr, usize)> {
        let mut prefixes: Vec<(UnOp, usize)> = Vec::new();
        loop {
            if self.too_long() {
                return None;
            }
            match self.peek() {
                b'-' => {
                    prefixes.push((UnOp::Neg, self.pos));
                    self.pos += 1;
                }
                b'!' => {
                    prefixes.push((UnOp::Not, self.pos));
                    self.pos += 1;
                    self.skip()?;
                    if self.peek() == b'~' {
                        return None;
                    }
                }
                _ => break,
            }
            self.skip()?;
        }
        self.prefixes += prefixes.len() as u32;
        let (mut e, end) = self.postfix_expr()?;
        for (op, at) in prefixes.into_iter().rev() {
            let span = self.span(at, at + 1).to(e.span);
            e = Expr {
                kind: ExprKind::Unary(op, Box::new(e)),
                span,
            };
        }
        Some((e, end))
    }

    /// `primary ~ postfix*`: `.field`, `[*]`, `[index]`.
    /// With where pest's pair ends: after the whitespace when there is no
    /// postfix, else at the last.
    fn postfix_expr(&mut self) -> Option<(Expr, usize)> {
        let outer = std::mem::replace(&mut self.sub, 0);
        let mut e = self.primary()?;
        self.skip()?;
        let mut end = self.pos;
        // Each postfix wraps what is before it.
        let mut posts = 0u32;
        loop {
            if self.too_long() {
                return None;
            }
            if matches!(self.peek(), b'.' | b'[') {
                posts += 1;
            } else {
                self.sub = outer.max(self.sub + posts);
            }
            match self.peek() {
                b'.' => {
                    let start = self.pos;
                    self.pos += 1;
                    self.skip()?;
                    let w = self.word()?;
                    let name = self.ident_at(w);
                    let span = e.span.to(self.span(start, w.1));
                    e = Expr {
                        kind: ExprKind::Field(Box::new(e), name),
                        span,
                    };
                }
                b'[' => {
                    let start = self.pos;
                    self.pos += 1;
                    let save = self.pos;
                    let ncomments = self.comments.len();
                    self.skip()?;
                    if self.peek() == b'*' {
                        self.pos += 1;
                        self.skip()?;
                        if self.peek() != b']' {
                            return None;
                        }
                        self.pos += 1;
                        let span = e.span.to(self.span(start, self.pos));
                        e = Expr {
                            kind: ExprKind::Wildcard(Box::new(e)),
                            span,
                        };
                    } else {
                        self.pos = save;
                        self.comments.truncate(ncomments);
                        self.skip_nl()?;
                        let index = self.expr()?;
                        self.skip_nl()?;
                        if self.peek() != b']' {
                            return None;
                        }
                        self.pos += 1;
                        let span = e.span.to(self.span(start, self.pos));
                        e = Expr {
                            kind: ExprKind::Index(Box::new(e), Box::new(index)),
                            span,
                        };
                    }
                }
                b'\n' => {
                    if self.continues(self.pos + 1) {
                        return None;
                    }
                    return Some((e, end));
                }
                _ => return Some((e, end)),
            }
            end = self.pos;
            self.skip()?;
        }
    }

    fn primary(&mut self) -> Option<Expr> {
        let start = self.pos;
        match self.peek() {
            c if is_ident_start(c) => {
                let w = self.word()?;
                let word = &self.text[w.0..w.1];
                let literal = match word {
                    "if" => return self.if_expr(start),
                    "parallel" => return self.parallel_expr(start, true),
                    "race" => return self.parallel_expr(start, false),
                    "sequence" | "dag" => return self.sequence_expr(start, word == "sequence"),
                    "for" => return self.for_expr(start),
                    "try" => return self.try_expr(start),
                    "match" => return self.match_expr(start),
                    "loop" => return self.loop_expr(start),
                    "decide" => return self.decide_expr(start),
                    "approve" => return self.approve_expr(start),
                    "true" => Some(ExprKind::Bool(true)),
                    "false" => Some(ExprKind::Bool(false)),
                    "null" => Some(ExprKind::Null),
                    _ if is_reserved(word) => return None,
                    _ => None,
                };
                if let Some(kind) = literal {
                    return Some(Expr {
                        kind,
                        span: self.span(w.0, w.1),
                    });
                }
                // `callee`: a name and `.word`s, then the arguments if any.
                let mut callee = vec![self.ident_at(w)];
                loop {
                    let save = self.pos;
                    let ncomments = self.comments.len();
                    self.skip()?;
                    if self.peek() == b'.' {
                        self.pos += 1;
                        self.skip()?;
                        if let Some(w) = self.word() {
                            callee.push(self.ident_at(w));
                            continue;
                        }
                    }
                    self.pos = save;
                    self.comments.truncate(ncomments);
                    break;
                }
                self.skip()?;
                if self.peek() == b'(' {
                    let args = self.call_args()?;
                    let options = self.call_with()?;
                    callee.shrink_to_fit();
                    return Some(Expr {
                        kind: ExprKind::Call(Call {
                            callee,
                            args,
                            options,
                        }),
                        span: self.span(start, self.pos),
                    });
                }
                // A path `a.b.c`: each `.` wraps what is before it.
                self.sub = self.sub.max(callee.len() as u32 - 1);
                let mut parts = callee.into_iter();
                let first = parts.next()?;
                let mut e = Expr {
                    span: first.span,
                    kind: ExprKind::Name(first),
                };
                for f in parts {
                    e = Expr {
                        span: e.span.to(f.span),
                        kind: ExprKind::Field(Box::new(e), f),
                    };
                }
                Some(e)
            }
            c if c.is_ascii_digit() => self.number(),
            b'/' => {
                // A regex (a comment was taken as whitespace before this).
                let mut i = start + 1;
                loop {
                    match self.at(i) {
                        _ if i >= self.b.len() => return None,
                        b'\\' => {
                            if i + 1 >= self.b.len() || matches!(self.at(i + 1), b'\n' | b'\r') {
                                return None;
                            }
                            i += 2;
                        }
                        b'\n' | b'\r' => return None,
                        b'/' if i == start + 1 => return None,
                        b'/' => break,
                        _ => i += 1,
                    }
                }
                let pattern = self.text[start + 1..i].to_string();
                let mut j = i + 1;
                while self.at(j).is_ascii_alphabetic() {
                    j += 1;
                }
                let flags = self.text[i + 1..j].to_string();
                self.pos = j;
                Some(Expr {
                    kind: ExprKind::Regex { pattern, flags },
                    span: self.span(start, j),
                })
            }
            b'"' => {
                let parts = self.string()?;
                Some(Expr {
                    kind: ExprKind::Str(parts),
                    span: self.span(start, self.pos),
                })
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_nl()?;
                while self.peek() != b']' {
                    items.push(self.expr()?);
                    self.skip_nl()?;
                    match self.peek() {
                        b',' => {
                            self.pos += 1;
                            self.skip_nl()?;
                        }
                        b']' => {}
                        _ => return None,
                    }
                }
                self.pos += 1;
                items.shrink_to_fit();
                Some(Expr {
                    kind: ExprKind::List(items),
                    span: self.span(start, self.pos),
                })
            }
            b'{' => {
                self.pos += 1;
                let mut fields = Vec::new();
                self.skip_nl()?;
                while self.peek() != b'}' {
                    let w = self.word()?;
                    let name = self.ident_at(w);
                    self.skip()?;
                    let field = if self.peek() == b':' {
                        self.pos += 1;
                        self.skip_nl()?;
                        RecordField {
                            name,
                            value: self.expr()?,
                            shorthand: false,
                        }
                    } else {
                        RecordField {
                            value: Expr {
                                kind: ExprKind::Name(name.clone()),
                                span: name.span,
                            },
                            name,
                            shorthand: true,
                        }
                    };
                    fields.push(field);
                    self.field_sep()?;
                }
                self.pos += 1;
                Some(Expr {
                    kind: ExprKind::Record(fields),
                    span: self.span(start, self.pos),
                })
            }
            b'(' => {
                self.pos += 1;
                self.skip_nl()?;
                let e = self.expr()?;
                self.skip_nl()?;
                if self.peek() != b')' {
                    return None;
                }
                self.pos += 1;
                Some(e)
            }
            _ => None,
        }
    }

    /// `if cond { … }`, with `else { … }` or `else if …` (on the line of the
    /// `}` or a later one), the position after `if`. Its span ends as pest's
    /// pair does: after the whitespace that follows the block when there is
    /// no `else`, else at the end of the `else` part.
    fn if_expr(&mut self, start: usize) -> Option<Expr> {
        self.skip()?;
        let cond = self.expr()?;
        if self.peek() != b'{' {
            return None;
        }
        let then = self.block()?;
        self.skip()?;
        let no_else = self.pos;
        let ncomments = self.comments.len();
        self.skip_nl()?;
        let otherwise =
            if self.b[self.pos..].starts_with(b"else") && !is_ident_char(self.at(self.pos + 4)) {
                self.pos += 4;
                self.skip()?;
                if self.b[self.pos..].starts_with(b"if") && !is_ident_char(self.at(self.pos + 2)) {
                    let at = self.pos;
                    self.pos += 2;
                    // Each `else if` nests the next `if` one level deeper.
                    let outer = std::mem::replace(&mut self.sub, 0);
                    let next = self.if_expr(at)?;
                    self.sub = outer.max(self.sub + 1);
                    Some(Box::new(Else::If(next)))
                } else if self.peek() == b'{' {
                    Some(Box::new(Else::Block(self.block()?)))
                } else {
                    return None;
                }
            } else {
                self.pos = no_else;
                self.comments.truncate(ncomments);
                None
            };
        Some(Expr {
            kind: ExprKind::If {
                cond: Box::new(cond),
                then,
                otherwise,
            },
            span: self.span(start, self.pos),
        })
    }

    /// Whether the word `w` (not part of a longer word) is at the position.
    fn at_word(&self, w: &[u8]) -> bool {
        self.b[self.pos..].starts_with(w) && !is_ident_char(self.at(self.pos + w.len()))
    }

    /// `parallel [merge|concat] { branches }` (`race { branches }` when not
    /// `parallel`), the position after the keyword; `with { … }` is pest's.
    fn parallel_expr(&mut self, start: usize, parallel: bool) -> Option<Expr> {
        self.skip()?;
        let mut mode = ParallelMode::Record;
        if parallel {
            if self.at_word(b"merge") {
                mode = ParallelMode::Merge;
                self.pos += 5;
                self.skip()?;
            } else if self.at_word(b"concat") {
                mode = ParallelMode::Concat;
                self.pos += 6;
                self.skip()?;
            }
        }
        let options = self.block_with()?;
        if self.peek() != b'{' {
            return None;
        }
        let branches = self.branches()?;
        let kind = if parallel {
            ExprKind::Parallel {
                mode,
                options,
                branches,
            }
        } else {
            ExprKind::Race { options, branches }
        };
        Some(Expr {
            kind,
            span: self.span(start, self.pos),
        })
    }

    /// New lines, `;` and `,` between branches, with whitespace and comments;
    /// whether there was one.
    fn branch_seps(&mut self) -> Option<bool> {
        let mut any = false;
        loop {
            self.skip()?;
            match self.peek() {
                b'\n' | b';' | b',' => {
                    self.pos += 1;
                    any = true;
                }
                _ => return Some(any),
            }
        }
    }

    /// `{ name = expr [after …] … }`, the position at its `{`. Branches not
    /// separated (`{ a = f()  b = g() }`) are pest's.
    fn branches(&mut self) -> Option<Vec<Branch>> {
        self.pos += 1;
        let mut out = Vec::new();
        self.branch_seps()?;
        while self.peek() != b'}' {
            if self.at_end() || self.too_long() {
                return None;
            }
            let start = self.pos;
            let name = self.ident()?;
            self.skip()?;
            if self.peek() != b'=' || matches!(self.at(self.pos + 1), b'=' | b'>') {
                return None;
            }
            self.pos += 1;
            self.skip_nl()?;
            let value = self.expr()?;
            let (after, end) = self.after()?;
            out.push(Branch {
                name,
                value,
                after,
                span: self.span(start, end),
            });
            if !matches!(self.peek(), b'\n' | b';' | b',' | b'}') {
                return None;
            }
            self.branch_seps()?;
        }
        self.pos += 1;
        out.shrink_to_fit();
        Some(out)
    }

    /// `sequence { … }` or `dag { … }`, the position after the keyword.
    fn sequence_expr(&mut self, start: usize, sequence: bool) -> Option<Expr> {
        self.skip()?;
        let (options, block) = self.options_block()?;
        let kind = if sequence {
            ExprKind::Sequence { options, block }
        } else {
            ExprKind::Dag { options, block }
        };
        Some(Expr {
            kind,
            span: self.span(start, self.pos),
        })
    }

    /// `for x in list { … }`, the position after `for`; `where` and `with`
    /// are pest's.
    fn for_expr(&mut self, start: usize) -> Option<Expr> {
        self.skip()?;
        let var = self.ident()?;
        self.skip()?;
        if !self.at_word(b"in") {
            return None;
        }
        self.pos += 2;
        self.skip()?;
        let iter = self.expr()?;
        let (options, body) = self.options_block()?;
        Some(Expr {
            kind: ExprKind::For {
                var: Box::new(var),
                iter: Box::new(iter),
                filter: None,
                options,
                body: Box::new(body),
            },
            span: self.span(start, self.pos),
        })
    }

    /// `try { … } catch [e] { … }` (the `catch` on the line of the `}` or a
    /// later one), the position after `try`; `with` is pest's.
    fn try_expr(&mut self, start: usize) -> Option<Expr> {
        self.skip()?;
        let (options, body) = self.options_block()?;
        self.skip_nl()?;
        if !self.at_word(b"catch") {
            return None;
        }
        self.pos += 5;
        self.skip()?;
        let var = if self.peek() == b'{' {
            None
        } else {
            let v = self.ident()?;
            self.skip()?;
            Some(v)
        };
        if self.peek() != b'{' {
            return None;
        }
        let handler = self.block()?;
        Some(Expr {
            kind: ExprKind::Try {
                options,
                body: Box::new(body),
                var: var.map(Box::new),
                handler: Box::new(handler),
            },
            span: self.span(start, self.pos),
        })
    }

    /// `match value { pattern => expr, … }`, the position after `match`.
    /// An arm whose value starts with `{` (a block or a record) is pest's.
    fn match_expr(&mut self, start: usize) -> Option<Expr> {
        self.skip()?;
        let scrutinee = self.expr()?;
        if self.peek() != b'{' {
            return None;
        }
        let arms = self.arms(
            false,
            |f| f.pattern(),
            |pattern, body, span| MatchArm {
                pattern,
                body,
                span,
            },
        )?;
        Some(Expr {
            kind: ExprKind::Match {
                scrutinee: Box::new(scrutinee),
                arms,
            },
            span: self.span(start, self.pos),
        })
    }

    /// `loop s = init [max n] until cond { … }` (`max` and `until` may start
    /// a line), the position after `loop`; `with` is pest's.
    fn loop_expr(&mut self, start: usize) -> Option<Expr> {
        self.skip()?;
        let var = self.ident()?;
        self.skip()?;
        if self.peek() != b'=' || self.at(self.pos + 1) == b'=' {
            return None;
        }
        self.pos += 1;
        self.skip_nl()?;
        let init = self.expr()?;
        self.skip_nl()?;
        let max = if self.at_word(b"max") {
            self.pos += 3;
            self.skip()?;
            let (m, _) = self.postfix_expr()?;
            self.skip_nl()?;
            Some(Box::new(m))
        } else {
            None
        };
        if !self.at_word(b"until") {
            return None;
        }
        self.pos += 5;
        self.skip()?;
        let until = self.expr()?;
        let (options, body) = self.options_block()?;
        Some(Expr {
            kind: ExprKind::Loop {
                var: Box::new(var),
                init: Box::new(init),
                max,
                until: Box::new(until),
                options,
                body: Box::new(body),
            },
            span: self.span(start, self.pos),
        })
    }

    /// `decide "prompt" [with context] { label => expr, … }`, the position
    /// after `decide`. An arm whose value starts with `{` is pest's.
    fn decide_expr(&mut self, start: usize) -> Option<Expr> {
        let (prompt, context) = self.text_with()?;
        if self.peek() != b'{' {
            return None;
        }
        let label = |f: &mut Self| {
            let w = f.word()?;
            let is_else = &f.text[w.0..w.1] == "else";
            if !is_else && is_reserved(&f.text[w.0..w.1]) {
                return None;
            }
            let label = f.ident_at(w);
            f.skip()?;
            Some((label, is_else))
        };
        let arms = self.arms(true, label, |(label, is_else), body, span| DecideArm {
            label,
            is_else,
            body,
            span,
        })?;
        Some(Expr {
            kind: ExprKind::Decide {
                prompt: Box::new(prompt),
                context,
                arms,
            },
            span: self.span(start, self.pos),
        })
    }

    /// `[with { … }] { … }`: a block and its options (the position after
    /// whitespace).
    fn options_block(&mut self) -> Option<(Option<Box<Options>>, Block)> {
        let options = self.block_with()?;
        if self.peek() != b'{' {
            return None;
        }
        Some((options, self.block()?))
    }

    /// `with { options }` before a block (the position after whitespace),
    /// the position left after the whitespace that follows; `None` inside
    /// when there is none.
    fn block_with(&mut self) -> Option<Option<Box<Options>>> {
        if !self.at_word(b"with") {
            return Some(None);
        }
        self.pos += 4;
        self.skip()?;
        if self.peek() != b'{' {
            return None;
        }
        let o = self.options()?;
        self.skip()?;
        Some(Some(o))
    }

    /// After a record's field or an option: a `,` or a new line before the
    /// next, or the closing `}` (the grammar's `field_sep`).
    fn field_sep(&mut self) -> Option<()> {
        let newline = self.skip_nl()?;
        match self.peek() {
            b',' => {
                self.pos += 1;
                self.skip_nl()?;
            }
            b'}' => {}
            _ if newline => {}
            _ => return None,
        }
        Some(())
    }

    /// `{ name: value, … }` (new lines or commas between), the position at
    /// its `{`, left after its `}`.
    fn options(&mut self) -> Option<Box<Options>> {
        let start = self.pos;
        self.pos += 1;
        let mut entries = Vec::new();
        self.skip_nl()?;
        while self.peek() != b'}' {
            if self.at_end() || self.too_long() {
                return None;
            }
            let name = self.ident()?;
            self.skip()?;
            if self.peek() != b':' {
                return None;
            }
            self.pos += 1;
            self.skip_nl()?;
            let value = self.expr()?;
            entries.push(OptionEntry { name, value });
            self.field_sep()?;
        }
        self.pos += 1;
        entries.shrink_to_fit();
        Some(Box::new(Options {
            entries,
            span: self.span(start, self.pos),
        }))
    }

    /// `approve "message" [with context]`, the position after `approve`; its
    /// span ends as pest's pair does (after the whitespace that follows, the
    /// optional `within` being last).
    fn approve_expr(&mut self, start: usize) -> Option<Expr> {
        let (message, context) = self.text_with()?;
        // `within 24h` is pest's.
        if self.at_word(b"within") {
            return None;
        }
        Some(Expr {
            kind: ExprKind::Approve {
                message: Box::new(message),
                context,
                within: None,
            },
            span: self.span(start, self.pos),
        })
    }

    /// `{ head => value, … }` of a `match` or `decide` (the position at its
    /// `{`): each arm's head read by `head` (the position left after its
    /// whitespace), its value an expression (one that starts with `{` is
    /// pest's), the arm made by `make` with its span. In a `decide`, a line
    /// starting with `else` after a value is the next arm.
    fn arms<H, A>(
        &mut self,
        decide: bool,
        head: impl Fn(&mut Self) -> Option<H>,
        make: impl Fn(H, Expr, Span) -> A,
    ) -> Option<Vec<A>> {
        self.pos += 1;
        let mut arms = Vec::new();
        self.arm_seps()?;
        while self.peek() != b'}' {
            if self.at_end() || self.too_long() {
                return None;
            }
            let arm_start = self.pos;
            let h = head(self)?;
            if !self.b[self.pos..].starts_with(b"=>") {
                return None;
            }
            self.pos += 2;
            self.skip_nl()?;
            if self.peek() == b'{' {
                return None;
            }
            let outer = std::mem::replace(&mut self.in_decide_arm, decide);
            let read = self.expr_end();
            self.in_decide_arm = outer;
            let (body, end) = read?;
            arms.push(make(h, body, self.span(arm_start, end)));
            if !matches!(self.peek(), b'\n' | b',' | b'}') {
                return None;
            }
            self.arm_seps()?;
        }
        self.pos += 1;
        arms.shrink_to_fit();
        Some(arms)
    }

    /// `"text" [with value]` after `decide` or `approve` (the position after
    /// the keyword), the position left after the whitespace that follows.
    fn text_with(&mut self) -> Option<(Expr, Option<Box<Expr>>)> {
        self.skip()?;
        if self.peek() != b'"' {
            return None;
        }
        let at = self.pos;
        let parts = self.string()?;
        let text = Expr {
            kind: ExprKind::Str(parts),
            span: self.span(at, self.pos),
        };
        self.skip()?;
        let with = if self.at_word(b"with") {
            self.pos += 4;
            self.skip()?;
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        Some((text, with))
    }

    /// New lines and `,` between arms, with whitespace and comments.
    fn arm_seps(&mut self) -> Option<()> {
        loop {
            self.skip()?;
            match self.peek() {
                b'\n' | b',' => self.pos += 1,
                _ => return Some(()),
            }
        }
    }

    /// `_`, or literals separated by `|`; the position left after the
    /// whitespace that follows.
    fn pattern(&mut self) -> Option<Pattern> {
        if self.peek() == b'_' && !is_ident_char(self.at(self.pos + 1)) {
            let at = self.pos;
            self.pos += 1;
            self.skip()?;
            return Some(Pattern::Wildcard(self.span(at, at + 1)));
        }
        let mut lits = Vec::new();
        loop {
            let at = self.pos;
            let lit = match self.peek() {
                b'"' => {
                    let parts = self.string()?;
                    Expr {
                        kind: ExprKind::Str(parts),
                        span: self.span(at, self.pos),
                    }
                }
                // Durations and sizes are not patterns (pest reports them).
                c if c.is_ascii_digit() => match self.number()? {
                    n @ Expr {
                        kind: ExprKind::Int(_) | ExprKind::Float(_),
                        ..
                    } => n,
                    _ => return None,
                },
                b'-' if self.at(at + 1).is_ascii_digit() => {
                    self.pos += 1;
                    let n = self.number()?;
                    let kind = match n.kind {
                        ExprKind::Int(i) => ExprKind::Int(-i),
                        ExprKind::Float(f) => ExprKind::Float(-f),
                        _ => return None,
                    };
                    Expr {
                        kind,
                        span: self.span(at, self.pos),
                    }
                }
                _ => {
                    let w = self.word()?;
                    let kind = match &self.text[w.0..w.1] {
                        "true" => ExprKind::Bool(true),
                        "false" => ExprKind::Bool(false),
                        "null" => ExprKind::Null,
                        _ => return None,
                    };
                    Expr {
                        kind,
                        span: self.span(w.0, w.1),
                    }
                }
            };
            lits.push(lit);
            self.skip()?;
            if self.peek() == b'|' && self.at(self.pos + 1) != b'|' {
                self.pos += 1;
                self.skip_nl()?;
            } else {
                break;
            }
        }
        lits.shrink_to_fit();
        Some(Pattern::Literals(lits))
    }

    /// `{ statements }`, the position at its `{`.
    fn block(&mut self) -> Option<Block> {
        let start = self.pos;
        self.pos += 1;
        let mut stmts = Vec::new();
        self.seps()?;
        while self.peek() != b'}' {
            if self.at_end() || self.too_long() {
                return None;
            }
            stmts.push(self.stmt_in(true)?);
            self.seps()?;
        }
        self.pos += 1;
        stmts.shrink_to_fit();
        Some(Block {
            stmts,
            span: self.span(start, self.pos),
        })
    }

    /// `( args )`, the position left after the whitespace that follows.
    fn call_args(&mut self) -> Option<Vec<Arg>> {
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_nl()?;
        while self.peek() != b')' {
            let start = self.pos;
            let ncomments = self.comments.len();
            let mut name = None;
            if let Some(id) = self.ident() {
                self.skip()?;
                if self.peek() == b':' {
                    self.pos += 1;
                    self.skip()?;
                    if self.peek() == b':' {
                        return None;
                    }
                    name = Some(id);
                }
            }
            if name.is_none() {
                self.pos = start;
                self.comments.truncate(ncomments);
            }
            self.skip_nl()?;
            let (value, end) = self.expr_end()?;
            args.push(Arg {
                name,
                value,
                span: self.span(start, end),
            });
            self.skip_nl()?;
            match self.peek() {
                b',' => {
                    self.pos += 1;
                    self.skip_nl()?;
                }
                b')' => {}
                _ => return None,
            }
        }
        self.pos += 1;
        self.skip()?;
        args.shrink_to_fit();
        Some(args)
    }

    /// `with { … }` after a call's arguments (the position after the
    /// whitespace that follows them), not followed by `{` (then the options
    /// are a block's: pest's); the position left after the whitespace.
    fn call_with(&mut self) -> Option<Option<Box<Options>>> {
        if !self.at_word(b"with") {
            return Some(None);
        }
        self.pos += 4;
        self.skip()?;
        if self.peek() != b'{' {
            return None;
        }
        let o = self.options()?;
        self.skip()?;
        if self.peek() == b'{' {
            return None;
        }
        Some(Some(o))
    }

    /// `number`: an integer, a float without exponent, a duration or a size
    /// (as the converter reads them); anything it would report is pest's.
    fn number(&mut self) -> Option<Expr> {
        let start = self.pos;
        let digits = |mut i: usize| {
            while self.at(i).is_ascii_digit() {
                i += 1;
            }
            i
        };
        let int_end = digits(start);
        let mut end = int_end;
        if self.at(end) == b'.' && self.at(end + 1).is_ascii_digit() {
            end = digits(end + 1);
        }
        let num_end = end;
        while self.at(end).is_ascii_alphabetic() {
            end += 1;
        }
        if is_ident_char(self.at(end)) {
            return None;
        }
        let text = &self.text[start..end];
        let kind = if end == int_end {
            if self.at(end) == b'.' && !is_ident_start(self.at(end + 1)) {
                // `1.` and what follows is pest's.
                return None;
            }
            ExprKind::Int(text.parse().ok()?)
        } else if end == num_end {
            if matches!(self.at(end), b'.') {
                return None;
            }
            ExprKind::Float(text.parse().ok()?)
        } else {
            let (num, unit) = text.split_at(num_end - start);
            // An exponent (`1e5`, `1.5E3`) is pest's.
            if matches!(unit.as_bytes()[0], b'e' | b'E') && unit.len() == 1 {
                return None;
            }
            let n: f64 = num.parse().ok()?;
            if let Some(bytes) = super::size_unit(unit) {
                if n * bytes >= 9.2e18 {
                    return None;
                }
                ExprKind::Int((n * bytes).round() as i64)
            } else {
                let factor = match unit {
                    "ms" => 1.0,
                    "s" => 1_000.0,
                    "m" => 60_000.0,
                    "h" => 3_600_000.0,
                    "d" => 86_400_000.0,
                    _ => return None,
                };
                if n * factor >= 1e15 {
                    return None;
                }
                ExprKind::Duration {
                    ms: Some((n * factor).round() as u64),
                    text: text.to_string(),
                }
            }
        };
        self.pos = end;
        Some(Expr {
            kind,
            span: self.span(start, end),
        })
    }

    /// A string, its interpolations read as expressions; the escapes the
    /// converter knows.
    fn string(&mut self) -> Option<Vec<StrPart>> {
        self.pos += 1;
        let mut text = String::new();
        let mut any = false;
        let mut parts = Vec::new();
        loop {
            let rest = &self.b[self.pos..];
            let n = rest
                .iter()
                .position(|&c| matches!(c, b'"' | b'\\' | b'{' | b'\n' | b'\r'))?;
            text.push_str(&self.text[self.pos..self.pos + n]);
            any |= n > 0;
            self.pos += n;
            match self.peek() {
                b'"' => {
                    self.pos += 1;
                    if any {
                        parts.push(StrPart::Text(text));
                    }
                    parts.shrink_to_fit();
                    return Some(parts);
                }
                b'{' => {
                    if any {
                        parts.push(StrPart::Text(std::mem::take(&mut text)));
                        any = false;
                    }
                    self.pos += 1;
                    self.skip_nl()?;
                    let e = self.expr()?;
                    self.skip_nl()?;
                    if self.peek() != b'}' {
                        return None;
                    }
                    self.pos += 1;
                    parts.push(StrPart::Interp(e));
                }
                b'\\' if self.at(self.pos + 1) == b'u' && self.at(self.pos + 2) == b'{' => {
                    let hex_start = self.pos + 3;
                    let mut i = hex_start;
                    while self.at(i).is_ascii_hexdigit() {
                        i += 1;
                    }
                    if i == hex_start || self.at(i) != b'}' {
                        return None;
                    }
                    let ch = u32::from_str_radix(&self.text[hex_start..i], 16)
                        .ok()
                        .and_then(char::from_u32)?;
                    text.push(ch);
                    any = true;
                    self.pos = i + 1;
                }
                b'\\' => {
                    let ch = match self.at(self.pos + 1) {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'0' => '\0',
                        b'"' => '"',
                        b'\\' => '\\',
                        b'{' => '{',
                        b'}' => '}',
                        b'/' => '/',
                        _ => return None,
                    };
                    text.push(ch);
                    any = true;
                    self.pos += 2;
                }
                _ => return None,
            }
        }
    }
}

/// An infix operator: `catch` (the loosest) or a binary operator.
#[derive(Clone, Copy, PartialEq)]
enum Infix {
    Catch,
    Bin(BinOp),
}

/// Binary operators by precedence (the Pratt parser's table): `??` is right
/// associative, the others left.
fn combine(operands: Vec<Expr>, ops: Vec<Infix>) -> Expr {
    fn prec(op: Infix) -> u8 {
        let Infix::Bin(op) = op else {
            return 1;
        };
        match op {
            BinOp::Coalesce => 2,
            BinOp::Or => 3,
            BinOp::And => 4,
            BinOp::Eq
            | BinOp::Ne
            | BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::Match
            | BinOp::NotMatch => 5,
            BinOp::Concat => 6,
            BinOp::Add | BinOp::Sub => 7,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 8,
        }
    }
    fn reduce(out: &mut Vec<Expr>, op: Infix) {
        let rhs = out.pop().expect("an operand");
        let lhs = out.pop().expect("an operand");
        let span = lhs.span.to(rhs.span);
        let kind = match op {
            Infix::Catch => ExprKind::Catch(Box::new(lhs), Box::new(rhs)),
            Infix::Bin(op) => ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
        };
        out.push(Expr { kind, span });
    }
    let mut operands = operands.into_iter();
    let mut out = vec![operands.next().expect("an operand")];
    let mut stack: Vec<Infix> = Vec::new();
    for (op, rhs) in ops.into_iter().zip(operands) {
        while let Some(&top) = stack.last() {
            if prec(top) > prec(op) || (prec(top) == prec(op) && op != Infix::Bin(BinOp::Coalesce))
            {
                stack.pop();
                reduce(&mut out, top);
            } else {
                break;
            }
        }
        stack.push(op);
        out.push(rhs);
    }
    while let Some(op) = stack.pop() {
        reduce(&mut out, op);
    }
    out.pop().expect("one expression")
}
