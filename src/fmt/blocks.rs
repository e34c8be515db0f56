//! Blocks, statements, and the expressions that hold blocks or braced arms
//! (`if`, `parallel`, `race`, `match`, `loop`, `for`, `try`, `decide`).

use super::{INDENT, Printer, Seq, end_col, indent};
use crate::syntax::ast::*;
use crate::syntax::span::Span;

impl Printer<'_> {
    pub(super) fn block(&mut self, b: &Block, ind: usize) -> String {
        if b.stmts.is_empty() && !self.has_comment_in(b.span) {
            return "{}".to_string();
        }
        let mut s = "{".to_string();
        s.push_str(&self.seq(
            &b.stmts,
            |st| st.span,
            &Seq {
                open: Some(b.span.start as usize),
                close: b.span.end as usize - 1,
                ind: ind + INDENT,
                sep: "",
            },
            |p, st, i| p.stmt(st, i),
        ));
        s.push_str(&indent(ind));
        s.push('}');
        s
    }

    fn stmt(&mut self, st: &Stmt, ind: usize) -> String {
        // A comment in a statement's head (`let /* c */ x = …`) goes before the
        // statement, not into the first block of its value.
        let head_end = match &st.kind {
            StmtKind::Let { value, .. } | StmtKind::Mock { value, .. } => value.span.start,
            StmtKind::Assert { cond, .. } => cond.span.start,
            StmtKind::Expr { .. } | StmtKind::Error { .. } => st.span.start,
        };
        let mut lead = String::new();
        while let Some(c) = self.peek()
            && c.span.start >= st.span.start
            && c.span.start < head_end
        {
            lead.push_str(&Self::comment_text(c));
            lead.push('\n');
            lead.push_str(&indent(ind));
            self.next += 1;
        }
        let (mut s, after) = match &st.kind {
            StmtKind::Let {
                name,
                ty,
                value,
                after,
            } => {
                let mut s = format!("let {}", name.name);
                if let Some(t) = ty {
                    s.push_str(": ");
                    let c = ind + s.len();
                    s.push_str(&self.ty(t, c, ind));
                }
                s.push_str(" = ");
                let c = end_col(ind, &s);
                s.push_str(&self.expr(value, c, ind));
                (s, after.as_slice())
            }
            StmtKind::Expr { expr, after } => {
                let mut s = self.expr(expr, ind, ind);
                // A statement that starts with a regex literal, written on its
                // own line, would continue the statement above (`/` divides).
                if s.starts_with('/') {
                    s = format!("({s})");
                }
                (s, after.as_slice())
            }
            StmtKind::Mock {
                target,
                args,
                value,
            } => {
                let mut s = format!(
                    "mock {}",
                    target
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(".")
                );
                if let Some(args) = args {
                    s.push('(');
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            s.push_str(", ");
                        }
                        if let Some(n) = &a.name {
                            s.push_str(&n.name);
                            s.push_str(": ");
                        }
                        let c = end_col(ind, &s);
                        s.push_str(&self.expr(&a.value, c, ind));
                    }
                    s.push(')');
                }
                s.push_str(" = ");
                let c = end_col(ind, &s);
                s.push_str(&self.expr(value, c, ind));
                (s, &[][..])
            }
            StmtKind::Assert { cond, message } => {
                let mut s = format!("assert {}", self.expr(cond, ind + 7, ind));
                if let Some(m) = message {
                    s.push_str(", ");
                    let c = ind + s.len();
                    s.push_str(&self.expr(m, c, ind));
                }
                (s, &[][..])
            }
            StmtKind::Error { .. } => (self.text(st.span).to_string(), &[][..]),
        };
        push_after(&mut s, after);
        lead.push_str(&s);
        lead
    }

    /// The expressions that hold blocks or braced arms.
    pub(super) fn block_expr(&mut self, e: &Expr, col: usize, ind: usize) -> String {
        let with = |p: &mut Self, s: &mut String, o: &Option<Box<Options>>| {
            if let Some(o) = o {
                s.push_str(" with ");
                let c = end_col(col, s);
                s.push_str(&p.options(o, c, ind));
            }
        };
        match &e.kind {
            ExprKind::Parallel {
                mode,
                options,
                branches,
            } => {
                let mut s = match mode {
                    ParallelMode::Record => "parallel",
                    ParallelMode::Merge => "parallel merge",
                    ParallelMode::Concat => "parallel concat",
                }
                .to_string();
                with(self, &mut s, options);
                self.branches(&mut s, branches, e, options.as_deref(), ind);
                s
            }
            ExprKind::Race { options, branches } => {
                let mut s = "race".to_string();
                with(self, &mut s, options);
                self.branches(&mut s, branches, e, options.as_deref(), ind);
                s
            }
            ExprKind::Sequence { options, block } | ExprKind::Dag { options, block } => {
                let mut s = if matches!(e.kind, ExprKind::Sequence { .. }) {
                    "sequence"
                } else {
                    "dag"
                }
                .to_string();
                with(self, &mut s, options);
                s.push(' ');
                s.push_str(&self.block(block, ind));
                s
            }
            ExprKind::Block(block) => self.block(block, ind),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                let mut s = "if ".to_string();
                s.push_str(&self.header(cond, col + 3, ind));
                s.push(' ');
                s.push_str(&self.block(then, ind));
                match otherwise.as_deref() {
                    Some(Else::If(x)) => {
                        self.then_expr(&mut s, "else", x, col, ind);
                    }
                    Some(Else::Block(b)) => {
                        s.push_str(" else ");
                        s.push_str(&self.block(b, ind));
                    }
                    None => {}
                }
                s
            }
            ExprKind::Match { scrutinee, arms } => {
                let mut s = "match ".to_string();
                s.push_str(&self.header(scrutinee, col + 6, ind));
                let open = self.find(scrutinee.span.end as usize, b'{');
                s.push_str(" {");
                s.push_str(&self.seq(
                    arms,
                    |a| a.span,
                    &Seq {
                        open: Some(open),
                        close: e.span.end as usize - 1,
                        ind: ind + INDENT,
                        sep: "",
                    },
                    |p, a, i| {
                        let mut s = match &a.pattern {
                            Pattern::Wildcard(_) => "_".to_string(),
                            Pattern::Literals(ls) => ls
                                .iter()
                                .map(|l| p.text(l.span).trim_end())
                                .collect::<Vec<_>>()
                                .join(" | "),
                        };
                        s.push_str(" => ");
                        let c = i + s.len();
                        s.push_str(&p.expr(&a.body, c, i));
                        s
                    },
                ));
                s.push_str(&indent(ind));
                s.push('}');
                s
            }
            ExprKind::Loop {
                var,
                init,
                max,
                until,
                options,
                body,
            } => {
                let mut s = format!("loop {} = ", var.name);
                let c = col + s.len();
                s.push_str(&self.expr(init, c, ind));
                if let Some(m) = max {
                    s.push_str(" max ");
                    let c = end_col(col, &s);
                    s.push_str(&self.operand(m, 10, c, ind));
                }
                self.then_expr(&mut s, "until", until, col, ind);
                with(self, &mut s, options);
                s.push(' ');
                s.push_str(&self.block(body, ind));
                s
            }
            ExprKind::For {
                var,
                iter,
                filter,
                options,
                body,
            } => {
                let mut s = format!("for {} in ", var.name);
                let c = col + s.len();
                s.push_str(&self.header(iter, c, ind));
                if let Some(w) = filter {
                    self.then_expr(&mut s, "where", w, col, ind);
                }
                with(self, &mut s, options);
                s.push(' ');
                s.push_str(&self.block(body, ind));
                s
            }
            ExprKind::Try {
                options,
                body,
                var,
                handler,
            } => {
                let mut s = "try".to_string();
                with(self, &mut s, options);
                s.push(' ');
                s.push_str(&self.block(body, ind));
                s.push_str(" catch ");
                if let Some(v) = var {
                    s.push_str(&v.name);
                    s.push(' ');
                }
                s.push_str(&self.block(handler, ind));
                s
            }
            ExprKind::Decide {
                prompt,
                context,
                arms,
            } => {
                let mut s = "decide ".to_string();
                s.push_str(&self.expr(prompt, col + 7, ind));
                let mut from = prompt.span.end as usize;
                if let Some(c) = context {
                    // The prompt is kept whole, so its line may be long: the
                    // context breaks only where it would not fit a line of its own.
                    s.push_str(" with ");
                    let cc = end_col(col, &s).min(ind + INDENT);
                    s.push_str(&self.expr(c, cc, ind));
                    from = c.span.end as usize;
                }
                let open = self.find(from, b'{');
                s.push_str(" {");
                s.push_str(&self.seq(
                    arms,
                    |a| a.span,
                    &Seq {
                        open: Some(open),
                        close: e.span.end as usize - 1,
                        ind: ind + INDENT,
                        sep: "",
                    },
                    |p, a, i| {
                        let mut s = a.label.name.to_string();
                        s.push_str(" => ");
                        let c = i + s.len();
                        s.push_str(&p.expr(&a.body, c, i));
                        s.to_string()
                    },
                ));
                s.push_str(&indent(ind));
                s.push('}');
                s
            }
            _ => self.text(e.span).to_string(),
        }
    }

    /// ` { branches }` of `parallel` and `race`.
    fn branches(
        &mut self,
        s: &mut String,
        branches: &[Branch],
        e: &Expr,
        options: Option<&Options>,
        ind: usize,
    ) {
        let from = options.map_or(e.span.start as usize + 1, |o| o.span.end as usize);
        let open = self.find(from, b'{');
        let close = e.span.end as usize - 1;
        let whole = Span {
            start: open as u32,
            end: close as u32 + 1,
            ..Span::default()
        };
        if branches.is_empty() && !self.has_comment_in(whole) {
            s.push_str(" {}");
            return;
        }
        s.push_str(" {");
        s.push_str(&self.seq(
            branches,
            |b| b.span,
            &Seq {
                open: Some(open),
                close,
                ind: ind + INDENT,
                sep: "",
            },
            |p, b, i| {
                let mut s = format!("{} = ", b.name.name);
                let c = i + s.len();
                s.push_str(&p.expr(&b.value, c, i));
                push_after(&mut s, &b.after);
                s
            },
        ));
        s.push_str(&indent(ind));
        s.push('}');
    }
}

fn push_after(s: &mut String, after: &[Ident]) {
    if !after.is_empty() {
        s.push_str(" after ");
        s.push_str(
            &after
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
}
