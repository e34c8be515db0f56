//! Operator chains (`a && b && c`, `x ?? y`, `s ++ t`): on one line when they
//! fit; else one operand that opens a bracket breaking inside; else broken
//! before each operator.

use super::exprs::prec;
use super::{INDENT, Printer, WIDTH, end_col, indent};
use crate::syntax::ast::*;

/// Whether `e` is written from an opening bracket or keyword to its end (a
/// record, list, call or block), so that it can open on a line and break inside.
fn opens_bracket(e: &Expr) -> bool {
    !matches!(
        e.kind,
        ExprKind::Binary(..)
            | ExprKind::Unary(..)
            | ExprKind::Catch(..)
            | ExprKind::Name(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Regex { .. }
            | ExprKind::Duration { .. }
            | ExprKind::Bool(_)
            | ExprKind::Null
            | ExprKind::Field(..)
            | ExprKind::Index(..)
            | ExprKind::Wildcard(..)
    )
}

/// Whether `text`, written from column `col`, keeps every line within [`WIDTH`].
fn within_width(text: &str, col: usize) -> bool {
    text.split('\n')
        .enumerate()
        .all(|(i, l)| l.chars().count() + if i == 0 { col } else { 0 } <= WIDTH)
}

impl Printer<'_> {
    /// The operands of the chain of operators of `e`'s level (`a && b && c`;
    /// `??` chains to the right), each with the operator before it.
    fn chain_parts<'e>(&self, e: &'e Expr, out: &mut Vec<(Option<BinOp>, &'e Expr)>) {
        let level = prec(e);
        let same = |x: &Expr| prec(x) == level && !self.parenthesised(x);
        match &e.kind {
            ExprKind::Binary(BinOp::Coalesce, a, b) => {
                out.push((None, a));
                let mut rest = vec![];
                if same(b) {
                    self.chain_parts(b, &mut rest);
                } else {
                    rest.push((None, &**b));
                }
                if let Some(first) = rest.first_mut() {
                    first.0 = Some(BinOp::Coalesce);
                }
                out.extend(rest);
            }
            ExprKind::Binary(op, a, b) => {
                if same(a) {
                    self.chain_parts(a, out);
                } else {
                    out.push((None, a));
                }
                out.push((Some(*op), b));
            }
            _ => out.push((None, e)),
        }
    }

    /// Whether a comment lies between two operands of the chain of `e` (one
    /// inside an operand is that operand's to place).
    pub(super) fn gap_comment(&self, e: &Expr) -> bool {
        let mut parts = Vec::new();
        self.chain_parts(e, &mut parts);
        parts.windows(2).any(|w| {
            let from = self.trimmed(w[0].1.span).end;
            let to = w[1].1.span.start;
            let i = self.comments.partition_point(|c| c.span.start < from);
            self.comments.get(i).is_some_and(|c| c.span.end <= to)
        })
    }

    /// Whether the chain of `e` can be broken before its operators: a line
    /// may not start with `-` (it would read as a new statement's negation).
    pub(super) fn breakable(&self, e: &Expr) -> bool {
        let mut parts = Vec::new();
        self.chain_parts(e, &mut parts);
        parts.len() > 1 && parts.iter().all(|(op, _)| *op != Some(BinOp::Sub))
    }

    /// An operator chain that does not fit on one line, or holds a comment:
    /// broken before each operator, the operators at `ind + INDENT`; a comment
    /// at the end of an operand's line stays there.
    pub(super) fn chain(&mut self, e: &Expr, col: usize, ind: usize) -> String {
        self.chain_at(e, col, ind, ind + INDENT)
    }

    /// The condition of an `if` (the list of a `for`, the value a `match`
    /// looks at) written from `col`: a chain that breaks has its operator
    /// lines two levels in, apart from the block's body one level in.
    pub(super) fn header(&mut self, e: &Expr, col: usize, ind: usize) -> String {
        let mut flat = String::new();
        if matches!(e.kind, ExprKind::Binary(..))
            && self.breakable(e)
            && !self.flat(e, &mut flat, WIDTH.saturating_sub(col))
        {
            return self.chain_at(e, col, ind, ind + 2 * INDENT);
        }
        self.expr(e, col, ind)
    }

    /// [`Printer::chain`] with its operator lines at `cont`.
    fn chain_at(&mut self, e: &Expr, col: usize, ind: usize, cont: usize) -> String {
        let mut parts = Vec::new();
        self.chain_parts(e, &mut parts);
        let level = prec(e);
        if !self.gap_comment(e) {
            // Laying it out places the comments inside its operands: a layout
            // that is not taken gives them back.
            let next = self.next;
            if let Some(s) = self.joined(&parts, level, col, ind) {
                return s;
            }
            self.next = next;
        }
        let (first, rest) = parts.split_first().expect("a chain has operands");
        let mut s = self.operand(first.1, level + 1, col, cont);
        let mut end = self.trimmed(first.1.span).end as usize;
        let mut last = None;
        for (op, x) in rest {
            let op = op.expect("every operand after the first has its operator");
            if let Some(c) = self.take_trailing(end, x.span.start as usize) {
                s.push(' ');
                s.push_str(&c);
            }
            s.push('\n');
            self.comments_before(x.span.start as usize, cont, &mut last, &mut s);
            s.push_str(&indent(cont));
            s.push_str(op.symbol());
            s.push(' ');
            // `??` groups to the right: its last operand may be a `??` itself
            // only in parentheses, which `chain_parts` kept as one operand.
            let need = if op == BinOp::Coalesce {
                level
            } else {
                level + 1
            };
            s.push_str(&self.operand(x, need, cont + op.symbol().len() + 1, cont));
            end = self.trimmed(x.span).end as usize;
        }
        s
    }

    /// A chain kept on its line, where at most one operand breaks inside
    /// (`assert r == {` and a record one field per line, `(try { … }) == x`)
    /// and every line is within the width; `None` otherwise.
    fn joined(
        &mut self,
        parts: &[(Option<BinOp>, &Expr)],
        level: u8,
        col: usize,
        ind: usize,
    ) -> Option<String> {
        let mut s = String::new();
        let mut broken = 0;
        for (o, x) in parts {
            if let Some(o) = o {
                s.push(' ');
                s.push_str(o.symbol());
                s.push(' ');
            }
            let need = if *o == Some(BinOp::Coalesce) {
                level
            } else {
                level + 1
            };
            let c = end_col(col, &s);
            let text = self.operand(x, need, c, ind);
            if text.contains('\n') {
                // Only a bracket or a block opens on the line and breaks inside.
                if !opens_bracket(x) {
                    return None;
                }
                broken += 1;
            }
            s.push_str(&text);
            if broken > 1 || !within_width(&s, col) {
                return None;
            }
        }
        Some(s)
    }
}
