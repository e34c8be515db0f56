//! Expressions: on one line where they fit, else broken one element per line.

use super::{INDENT, Printer, Seq, WIDTH, end_col, indent};
use crate::syntax::ast::*;
use crate::syntax::span::Span;

/// How tightly an expression binds (higher binds tighter); an operand that
/// binds less tightly than its place needs is put in parentheses.
pub(super) fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Catch(..) => 1,
        ExprKind::Binary(op, ..) => match op {
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
        },
        ExprKind::Unary(..) => 9,
        ExprKind::Field(..) | ExprKind::Index(..) | ExprKind::Wildcard(..) => 10,
        _ => 11,
    }
}

/// The least binding power each operand of a binary operator needs.
fn operand_prec(op: BinOp) -> (u8, u8) {
    let p = prec(&Expr {
        kind: ExprKind::Binary(
            op,
            Box::new(Expr {
                kind: ExprKind::Null,
                span: Span::default(),
            }),
            Box::new(Expr {
                kind: ExprKind::Null,
                span: Span::default(),
            }),
        ),
        span: Span::default(),
    });
    if op == BinOp::Coalesce {
        (p + 1, p)
    } else {
        (p, p + 1)
    }
}

/// The span of a record field, from its name to its value.
fn field_span(f: &RecordField) -> Span {
    f.name.span.to(f.value.span)
}

fn entry_span(o: &OptionEntry) -> Span {
    o.name.span.to(o.value.span)
}

impl Printer<'_> {
    /// A record written with a line break after its `{` stays broken.
    pub(super) fn kept_broken(&self, span: Span, first: Option<Span>) -> bool {
        let Some(first) = first else {
            return false;
        };
        let end = first.start as usize;
        let start = (span.start as usize + 1).min(end);
        self.src[start..end].contains('\n')
    }

    /// `e` on one line, appended to `out`; `false` if it cannot be on one
    /// line (a block, a comment, a record kept broken) or `out` grows past
    /// `limit`.
    pub(super) fn flat(&self, e: &Expr, out: &mut String, limit: usize) -> bool {
        if out.len() > limit {
            return false;
        }
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Regex { .. } => {
                let t = self.text(e.span);
                if t.contains('\n') {
                    return false;
                }
                out.push_str(t);
            }
            ExprKind::Duration { text, .. } => out.push_str(text),
            ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            ExprKind::Null => out.push_str("null"),
            ExprKind::Name(n) => out.push_str(&n.name),
            ExprKind::List(xs) => {
                if self.has_comment_in(e.span) {
                    return false;
                }
                out.push('[');
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if !self.flat(x, out, limit) {
                        return false;
                    }
                }
                out.push(']');
            }
            ExprKind::Record(fs) => {
                if self.has_comment_in(e.span)
                    || self.kept_broken(e.span, fs.first().map(field_span))
                {
                    return false;
                }
                if !self.flat_record(fs, out, limit) {
                    return false;
                }
            }
            ExprKind::Call(c) => {
                if self.has_comment_in(e.span) {
                    return false;
                }
                out.push_str(&callee(c));
                out.push('(');
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if let Some(n) = &a.name {
                        out.push_str(&n.name);
                        out.push_str(": ");
                    }
                    if !self.flat(&a.value, out, limit) {
                        return false;
                    }
                }
                out.push(')');
                if let Some(o) = &c.options {
                    out.push_str(" with ");
                    if !self.flat_options(o, out, limit) {
                        return false;
                    }
                }
            }
            ExprKind::Field(b, name) => {
                if !self.flat_operand(b, 10, out, limit) {
                    return false;
                }
                out.push('.');
                out.push_str(self.text(name.span));
            }
            ExprKind::Index(b, i) => {
                if !self.flat_operand(b, 10, out, limit) {
                    return false;
                }
                out.push('[');
                if !self.flat(i, out, limit) {
                    return false;
                }
                out.push(']');
            }
            ExprKind::Wildcard(b) => {
                if !self.flat_operand(b, 10, out, limit) {
                    return false;
                }
                out.push_str("[*]");
            }
            ExprKind::Unary(op, x) => {
                out.push(if *op == UnOp::Not { '!' } else { '-' });
                if !self.flat_operand(x, 9, out, limit) {
                    return false;
                }
            }
            // A comment between the operands of a chain keeps it broken (`chain`).
            ExprKind::Binary(..) if self.breakable(e) && self.gap_comment(e) => return false,
            ExprKind::Binary(op, a, b) => {
                let (pa, pb) = operand_prec(*op);
                if !self.flat_operand(a, pa, out, limit) {
                    return false;
                }
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
                if !self.flat_operand(b, pb, out, limit) {
                    return false;
                }
            }
            ExprKind::Catch(a, b) => {
                if !self.flat_operand(a, 1, out, limit) {
                    return false;
                }
                out.push_str(" catch ");
                if !self.flat_operand(b, 2, out, limit) {
                    return false;
                }
            }
            ExprKind::Approve {
                message,
                context,
                within,
            } => {
                out.push_str("approve ");
                if !self.flat(message, out, limit) {
                    return false;
                }
                if let Some(c) = context {
                    out.push_str(" with ");
                    if !self.flat(c, out, limit) {
                        return false;
                    }
                }
                if let Some(w) = within {
                    out.push_str(" within ");
                    if !self.flat(w, out, limit) {
                        return false;
                    }
                }
            }
            _ => return false,
        }
        out.len() <= limit
    }

    fn flat_operand(&self, e: &Expr, need: u8, out: &mut String, limit: usize) -> bool {
        if prec(e) < need || self.parenthesised(e) {
            out.push('(');
            let ok = self.flat(e, out, limit);
            out.push(')');
            ok
        } else {
            self.flat(e, out, limit)
        }
    }

    fn flat_record(&self, fs: &[RecordField], out: &mut String, limit: usize) -> bool {
        if fs.is_empty() {
            out.push_str("{}");
            return true;
        }
        out.push_str("{ ");
        for (i, f) in fs.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(self.text(f.name.span));
            if !f.shorthand {
                out.push_str(": ");
                if !self.flat(&f.value, out, limit) {
                    return false;
                }
            }
        }
        out.push_str(" }");
        out.len() <= limit
    }

    pub(super) fn flat_options(&self, o: &Options, out: &mut String, limit: usize) -> bool {
        if self.has_comment_in(o.span) {
            return false;
        }
        if o.entries.is_empty() {
            out.push_str("{}");
            return true;
        }
        out.push_str("{ ");
        for (i, en) in o.entries.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&en.name.name);
            out.push_str(": ");
            if !self.flat(&en.value, out, limit) {
                return false;
            }
        }
        out.push_str(" }");
        out.len() <= limit
    }

    /// `e` written from column `col`, its continuation lines at `ind`.
    pub(super) fn expr(&mut self, e: &Expr, col: usize, ind: usize) -> String {
        let mut s = String::new();
        if self.flat(e, &mut s, WIDTH.saturating_sub(col)) {
            return s;
        }
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Regex { .. } => {
                self.text(e.span).to_string()
            }
            ExprKind::Duration { text, .. } => text.clone(),
            ExprKind::Bool(b) => if *b { "true" } else { "false" }.to_string(),
            ExprKind::Null => "null".to_string(),
            ExprKind::Name(n) => n.name.to_string(),
            ExprKind::List(xs) => self.list(
                xs,
                |x| x.span,
                (e.span.start as usize, e.span.end as usize - 1),
                ("[", "]"),
                ind,
                |p, x, i| p.expr(x, i, i),
            ),
            ExprKind::Record(fs) => self.record(fs, e.span, ind),
            ExprKind::Call(c) => self.call(c, col, ind),
            ExprKind::Field(b, name) => {
                let mut s = self.operand(b, 10, col, ind);
                s.push('.');
                s.push_str(self.text(name.span));
                s
            }
            ExprKind::Index(b, i) => {
                let mut s = self.operand(b, 10, col, ind);
                s.push('[');
                let c = end_col(col, &s);
                s.push_str(&self.expr(i, c, ind));
                s.push(']');
                s
            }
            ExprKind::Wildcard(b) => {
                let mut s = self.operand(b, 10, col, ind);
                s.push_str("[*]");
                s
            }
            ExprKind::Unary(op, x) => {
                let mut s = if *op == UnOp::Not { "!" } else { "-" }.to_string();
                s.push_str(&self.operand(x, 9, col + 1, ind));
                s
            }
            ExprKind::Binary(..) if self.breakable(e) => self.chain(e, col, ind),
            ExprKind::Binary(op, a, b) => {
                let (pa, pb) = operand_prec(*op);
                let mut s = self.operand(a, pa, col, ind);
                s.push(' ');
                s.push_str(op.symbol());
                s.push(' ');
                let c = end_col(col, &s);
                s.push_str(&self.operand(b, pb, c, ind));
                s
            }
            ExprKind::Catch(a, b) => {
                let mut s = self.operand(a, 1, col, ind);
                s.push_str(" catch ");
                let c = end_col(col, &s);
                s.push_str(&self.operand(b, 2, c, ind));
                s
            }
            ExprKind::Approve {
                message,
                context,
                within,
            } => {
                let mut s = "approve ".to_string();
                s.push_str(&self.expr(message, col + 8, ind));
                if let Some(c) = context {
                    self.then_expr(&mut s, "with", c, col, ind);
                }
                if let Some(w) = within {
                    self.then_expr(&mut s, "within", w, col, ind);
                }
                s
            }
            _ => self.block_expr(e, col, ind),
        }
    }

    /// An operand, in parentheses where it binds less tightly than `need` or
    /// was written in them.
    pub(super) fn operand(&mut self, e: &Expr, need: u8, col: usize, ind: usize) -> String {
        if prec(e) < need || self.parenthesised(e) {
            format!("({})", self.expr(e, col + 1, ind))
        } else {
            self.expr(e, col, ind)
        }
    }

    /// A bracketed list broken one element per line, each with a trailing
    /// comma (`render` gets the element's indentation, which is also its
    /// column). Only where the list does not fit on one line.
    pub(super) fn list<T>(
        &mut self,
        elems: &[T],
        span_of: impl Fn(&T) -> Span,
        (open, close): (usize, usize),
        (left, right): (&str, &str),
        ind: usize,
        mut render: impl FnMut(&mut Self, &T, usize) -> String,
    ) -> String {
        let whole = Span {
            start: open as u32,
            end: close as u32 + 1,
            ..Span::default()
        };
        let comments = self.has_comment_in(whole);
        if elems.is_empty() && !comments {
            return format!("{left}{right}");
        }
        let mut out = String::from(left);
        out.push_str(&self.seq(
            elems,
            span_of,
            &Seq {
                open: Some(open),
                close,
                ind: ind + INDENT,
                sep: ",",
            },
            |p, x, i| render(p, x, i),
        ));
        out.push_str(&indent(ind));
        out.push_str(right);
        out
    }

    fn record(&mut self, fs: &[RecordField], span: Span, ind: usize) -> String {
        self.list(
            fs,
            field_span,
            (span.start as usize, span.end as usize - 1),
            ("{", "}"),
            ind,
            |p, f, i| {
                let name = p.text(f.name.span).to_string();
                if f.shorthand {
                    name
                } else {
                    let v = p.expr(&f.value, i + name.len() + 2, i);
                    format!("{name}: {v}")
                }
            },
        )
    }

    pub(super) fn options(&mut self, o: &Options, col: usize, ind: usize) -> String {
        let mut s = String::new();
        if self.flat_options(o, &mut s, WIDTH.saturating_sub(col)) {
            return s;
        }
        self.list(
            &o.entries,
            entry_span,
            (o.span.start as usize, o.span.end as usize - 1),
            ("{", "}"),
            ind,
            |p, en, i| {
                let v = p.expr(&en.value, i + en.name.name.len() + 2, i);
                format!("{}: {v}", en.name.name)
            },
        )
    }

    fn call(&mut self, c: &Call, col: usize, ind: usize) -> String {
        let name = callee(c);
        let callee_end = c.callee.last().map_or(0, |i| i.span.end as usize);
        let open = self.find(callee_end, b'(');
        let close = match c.args.last() {
            Some(a) => self.find(a.span.end as usize, b')'),
            None => self.find(open + 1, b')'),
        };
        let whole = Span {
            start: open as u32,
            end: close as u32 + 1,
            ..Span::default()
        };
        // A comment anywhere from the callee to `)` keeps the arguments one
        // per line (one between the callee and `(` goes to the `(` line).
        let call_span = Span {
            start: c.callee.first().map_or(open as u32, |i| i.span.start),
            ..whole
        };
        let mut s = name.clone();
        // The arguments on one line, when only the options are too long.
        let mut flat_args = String::new();
        let args_fit = c.options.is_some()
            && !self.has_comment_in(call_span)
            && c.args.iter().enumerate().all(|(i, a)| {
                if i > 0 {
                    flat_args.push_str(", ");
                }
                if let Some(n) = &a.name {
                    flat_args.push_str(&n.name);
                    flat_args.push_str(": ");
                }
                self.flat(&a.value, &mut flat_args, WIDTH)
            })
            && col + name.len() + flat_args.len() + 2 <= WIDTH;
        let hug = !args_fit
            && !self.has_comment_in(call_span)
            && c.args.last().is_some_and(|a| huggable(&a.value))
            && {
                let mut head = format!("{name}(");
                let limit = WIDTH.saturating_sub(col);
                c.args[..c.args.len() - 1].iter().all(|a| {
                    if let Some(n) = &a.name {
                        head.push_str(&n.name);
                        head.push_str(": ");
                    }
                    let ok = self.flat(&a.value, &mut head, limit);
                    head.push_str(", ");
                    ok
                }) && head.len() + 1 < limit
            };
        if args_fit {
            s.push('(');
            s.push_str(&flat_args);
            s.push(')');
        } else if hug {
            s.push('(');
            let n = c.args.len();
            for a in &c.args[..n - 1] {
                if let Some(nm) = &a.name {
                    s.push_str(&nm.name);
                    s.push_str(": ");
                }
                self.flat(&a.value, &mut s, usize::MAX);
                s.push_str(", ");
            }
            let last = &c.args[n - 1];
            if let Some(nm) = &last.name {
                s.push_str(&nm.name);
                s.push_str(": ");
            }
            let cc = end_col(col, &s);
            s.push_str(&self.expr(&last.value, cc, ind));
            s.push(')');
        } else {
            s.push_str(&self.list(
                &c.args,
                |a| a.span,
                (open, close),
                ("(", ")"),
                ind,
                |p, a, i| match &a.name {
                    Some(n) => {
                        let v = p.expr(&a.value, i + n.name.len() + 2, i);
                        format!("{}: {v}", n.name)
                    }
                    None => p.expr(&a.value, i, i),
                },
            ));
        }
        if let Some(o) = &c.options {
            s.push_str(" with ");
            let cc = end_col(col, &s);
            s.push_str(&self.options(o, cc, ind));
        }
        s
    }
}

/// An argument that may open on the call's line and close on a line of its
/// own: a record, a list or an expression with a block.
fn huggable(e: &Expr) -> bool {
    !matches!(
        e.kind,
        ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Null
            | ExprKind::Duration { .. }
            | ExprKind::Str(_)
            | ExprKind::Regex { .. }
            | ExprKind::Name(_)
            | ExprKind::Call(_)
            | ExprKind::Field(..)
            | ExprKind::Index(..)
            | ExprKind::Wildcard(_)
            | ExprKind::Unary(..)
            | ExprKind::Binary(..)
            | ExprKind::Catch(..)
            | ExprKind::Approve { .. }
    )
}

pub(super) fn callee(c: &Call) -> String {
    c.callee
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(".")
}
