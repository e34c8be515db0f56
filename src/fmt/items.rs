//! Items, types, blocks and statements, and the expressions that hold blocks.

use super::exprs::block_children;
use super::{INDENT, Printer, Seq, WIDTH, end_col, indent, strings_of_expr};
use crate::syntax::ast::*;
use crate::syntax::span::Span;

/// Spans of the strings with interpolations in an item (their comments are
/// part of their text).
pub(super) fn strings_of_item(kind: &ItemKind, out: &mut Vec<Span>) {
    let mut f = |e: &Expr| strings_of_expr(e, out);
    let params = |ps: &[Param], f: &mut dyn FnMut(&Expr)| {
        for p in ps {
            if let Some(d) = &p.default {
                f(d);
            }
        }
    };
    let opts = |o: &Option<Options>, f: &mut dyn FnMut(&Expr)| {
        if let Some(o) = o {
            for en in &o.entries {
                f(&en.value);
            }
        }
    };
    match kind {
        ItemKind::Import(_) | ItemKind::Type(_) => {}
        ItemKind::Tool(t) => {
            params(&t.params, &mut f);
            opts(&t.options, &mut f);
        }
        ItemKind::Flow(fl) => {
            params(&fl.params, &mut f);
            opts(&fl.options, &mut f);
            block_children(&fl.body, &mut f);
        }
        ItemKind::Const(c) => f(&c.value),
        ItemKind::Test(t) => block_children(&t.body, &mut f),
    }
}

fn type_field_span(f: &TypeField) -> Span {
    f.name.span.to(f.ty.span)
}

impl Printer<'_> {
    pub(super) fn item(&mut self, item: &Item, ind: usize) -> String {
        match &item.kind {
            ItemKind::Import(i) => {
                let mut s = "import ".to_string();
                match &i.target {
                    ImportTarget::Module(parts) => s.push_str(
                        &parts
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join("."),
                    ),
                    ImportTarget::File(_, span) => s.push_str(self.text(*span)),
                }
                if let Some(a) = &i.alias {
                    s.push_str(" as ");
                    s.push_str(&a.name);
                }
                s
            }
            ItemKind::Type(t) => {
                let head = format!("type {} = ", t.name.name);
                let ty = self.ty(&t.ty, ind + head.len(), ind);
                head + &ty
            }
            ItemKind::Const(c) => {
                let mut s = format!("const {}", c.name.name);
                if let Some(t) = &c.ty {
                    s.push_str(": ");
                    let col = ind + s.len();
                    s.push_str(&self.ty(t, col, ind));
                }
                s.push_str(" = ");
                let col = end_col(ind, &s);
                s.push_str(&self.expr(&c.value, col, ind));
                s
            }
            ItemKind::Test(t) => {
                format!(
                    "test {} {}",
                    self.text(t.name_span),
                    self.block(&t.body, ind)
                )
            }
            ItemKind::Tool(t) => self.tool(t, ind),
            ItemKind::Flow(f) => self.flow(f, ind),
        }
    }

    /// `name(params) -> ret`, its parameters one per line if the line would
    /// pass the width (`tail` is what follows on the line).
    fn signature(
        &mut self,
        head: &str,
        name: &Ident,
        params: &[Param],
        ret: Option<&TypeExpr>,
        tail: usize,
        ind: usize,
    ) -> String {
        let open = self.find(name.span.end as usize, b'(');
        let close = match params.last() {
            Some(p) => self.find(p.span.end as usize, b')'),
            None => self.find(open + 1, b')'),
        };
        let whole = Span {
            start: open as u32,
            end: close as u32 + 1,
            ..Span::default()
        };
        let mut s = format!("{head}(");
        let mut flat = !self.has_comment_in(whole);
        if flat {
            for (i, p) in params.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                match self.flat_param(p) {
                    Some(t) => s.push_str(&t),
                    None => {
                        flat = false;
                        break;
                    }
                }
            }
            s.push(')');
            if let Some(r) = ret {
                s.push_str(" -> ");
                flat = flat && self.flat_ty(r, &mut s);
            }
            if flat && ind + s.len() + tail <= WIDTH && !s.contains('\n') {
                return s;
            }
        }
        let mut s = head.to_string();
        s.push('(');
        if params.is_empty() && !self.has_comment_in(whole) {
            s.push(')');
        } else {
            s.push_str(&self.seq(
                params,
                |p| p.span,
                &Seq {
                    open: Some(open),
                    close,
                    ind: ind + INDENT,
                    sep: ",",
                },
                |pr, p, i| pr.param(p, i),
            ));
            s.push_str(&indent(ind));
            s.push(')');
        }
        if let Some(r) = ret {
            s.push_str(" -> ");
            let col = end_col(ind, &s);
            s.push_str(&self.ty(r, col, ind));
        }
        s
    }

    fn flat_param(&self, p: &Param) -> Option<String> {
        let mut s = format!("{}: ", p.name.name);
        if !self.flat_ty(&p.ty, &mut s) {
            return None;
        }
        if let Some(d) = &p.default {
            s.push_str(" = ");
            if !self.flat(d, &mut s, WIDTH) {
                return None;
            }
        }
        Some(s)
    }

    fn param(&mut self, p: &Param, ind: usize) -> String {
        let mut s = format!("{}: ", p.name.name);
        let col = ind + s.len();
        s.push_str(&self.ty(&p.ty, col, ind));
        if let Some(d) = &p.default {
            s.push_str(" = ");
            let col = end_col(ind, &s);
            s.push_str(&self.expr(d, col, ind));
        }
        s
    }

    fn tool(&mut self, t: &ToolDecl, ind: usize) -> String {
        let head = format!(
            "{}tool {}",
            if t.effect { "effect " } else { "" },
            t.name.name
        );
        let sig = self.signature(&head, &t.name, &t.params, Some(&t.ret), 0, ind);
        let mut b = String::new();
        let one_line = self.flat_binding(&t.binding, &mut b)
            && end_col(ind, &sig) + 3 + b.chars().count() <= WIDTH;
        let mut s = sig;
        if one_line {
            s.push_str(" = ");
            s.push_str(&b);
        } else {
            s.push('\n');
            s.push_str(&indent(ind + INDENT));
            s.push_str("= ");
            let col = ind + INDENT + 2;
            s.push_str(&self.binding(&t.binding, col, ind + INDENT));
        }
        if let Some(o) = &t.options {
            s.push('\n');
            s.push_str(&indent(ind + INDENT));
            s.push_str("with ");
            s.push_str(&self.options(o, ind + INDENT + 5, ind + INDENT));
        }
        s
    }

    fn flat_binding(&self, b: &Binding, out: &mut String) -> bool {
        match &b.kind {
            BindingKind::Builtin(e) => {
                out.push_str("builtin ");
                self.flat(e, out, usize::MAX)
            }
            BindingKind::Exec(e) => {
                out.push_str("exec ");
                self.flat(e, out, usize::MAX)
            }
            BindingKind::Http { method, url } => {
                out.push_str("http ");
                out.push_str(&method.name);
                out.push(' ');
                self.flat(url, out, usize::MAX)
            }
            BindingKind::Mcp { server, tool } => {
                out.push_str("mcp ");
                let ok = self.flat(server, out, usize::MAX);
                if let Some(t) = tool {
                    out.push(' ');
                    return ok && self.flat(t, out, usize::MAX);
                }
                ok
            }
        }
    }

    fn binding(&mut self, b: &Binding, col: usize, ind: usize) -> String {
        match &b.kind {
            BindingKind::Builtin(e) => format!("builtin {}", self.expr(e, col + 8, ind)),
            BindingKind::Exec(e) => format!("exec {}", self.expr(e, col + 5, ind)),
            BindingKind::Http { method, url } => {
                let head = format!("http {} ", method.name);
                let u = self.expr(url, col + head.len(), ind);
                head + &u
            }
            BindingKind::Mcp { server, tool } => {
                let mut s = format!("mcp {}", self.expr(server, col + 4, ind));
                if let Some(t) = tool {
                    s.push(' ');
                    let c = end_col(col, &s);
                    s.push_str(&self.expr(t, c, ind));
                }
                s
            }
        }
    }

    fn flow(&mut self, f: &FlowDecl, ind: usize) -> String {
        let head = format!("flow {}", f.name.name);
        let tail = if f.options.is_some() { 0 } else { 2 };
        let mut s = self.signature(&head, &f.name, &f.params, f.ret.as_ref(), tail, ind);
        if let Some(o) = &f.options {
            s.push('\n');
            s.push_str(&indent(ind + INDENT));
            s.push_str("with ");
            s.push_str(&self.options(o, ind + INDENT + 5, ind + INDENT));
            s.push('\n');
            s.push_str(&indent(ind));
        } else {
            s.push(' ');
        }
        s.push_str(&self.block(&f.body, ind));
        s
    }

    // ------------------------------------------------------------ types

    /// A type on one line, appended to `out`; `false` for a record that
    /// holds a comment or was written broken.
    pub(super) fn flat_ty(&self, t: &TypeExpr, out: &mut String) -> bool {
        match &t.kind {
            TypeExprKind::Name(parts) => out.push_str(
                &parts
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            TypeExprKind::Null => out.push_str("null"),
            TypeExprKind::Literal(_) => out.push_str(self.text(t.span)),
            TypeExprKind::List(x) => {
                out.push('[');
                if !self.flat_ty(x, out) {
                    return false;
                }
                out.push(']');
            }
            TypeExprKind::Optional(x) => {
                let paren = matches!(x.kind, TypeExprKind::Union(_));
                if paren {
                    out.push('(');
                }
                if !self.flat_ty(x, out) {
                    return false;
                }
                if paren {
                    out.push(')');
                }
                out.push('?');
            }
            TypeExprKind::Union(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" | ");
                    }
                    let paren = matches!(p.kind, TypeExprKind::Union(_));
                    if paren {
                        out.push('(');
                    }
                    if !self.flat_ty(p, out) {
                        return false;
                    }
                    if paren {
                        out.push(')');
                    }
                }
            }
            TypeExprKind::Record(fields) => {
                if self.has_comment_in(t.span)
                    || self.kept_broken(t.span, fields.first().map(type_field_span))
                {
                    return false;
                }
                if fields.is_empty() {
                    out.push_str("{}");
                    return true;
                }
                out.push_str("{ ");
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(self.text(f.name.span));
                    if f.optional {
                        out.push('?');
                    }
                    out.push_str(": ");
                    if !self.flat_ty(&f.ty, out) {
                        return false;
                    }
                }
                out.push_str(" }");
            }
        }
        true
    }

    /// A type written from column `col`: records past the width (or written
    /// broken) one field per line.
    pub(super) fn ty(&mut self, t: &TypeExpr, col: usize, ind: usize) -> String {
        let mut s = String::new();
        if self.flat_ty(t, &mut s) && col + s.len() <= WIDTH {
            return s;
        }
        match &t.kind {
            TypeExprKind::Name(_) | TypeExprKind::Null | TypeExprKind::Literal(_) => s,
            TypeExprKind::List(x) => format!("[{}]", self.ty(x, col + 1, ind)),
            TypeExprKind::Optional(x) => {
                if matches!(x.kind, TypeExprKind::Union(_)) {
                    format!("({})?", self.ty(x, col + 1, ind))
                } else {
                    format!("{}?", self.ty(x, col, ind))
                }
            }
            TypeExprKind::Union(parts) => {
                let mut s = String::new();
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        s.push_str(" | ");
                    }
                    let c = end_col(col, &s);
                    if matches!(p.kind, TypeExprKind::Union(_)) {
                        s.push_str(&format!("({})", self.ty(p, c + 1, ind)));
                    } else {
                        s.push_str(&self.ty(p, c, ind));
                    }
                }
                s
            }
            TypeExprKind::Record(fields) => {
                let open = t.span.start as usize;
                let close = t.span.end as usize - 1;
                if fields.is_empty() && !self.has_comment_in(t.span) {
                    return "{}".to_string();
                }
                let mut s = "{".to_string();
                s.push_str(&self.seq(
                    fields,
                    type_field_span,
                    &Seq {
                        open: Some(open),
                        close,
                        ind: ind + INDENT,
                        sep: ",",
                    },
                    |p, f, i| {
                        let mut s = p.text(f.name.span).to_string();
                        if f.optional {
                            s.push('?');
                        }
                        s.push_str(": ");
                        let c = i + s.len();
                        s.push_str(&p.ty(&f.ty, c, i));
                        s
                    },
                ));
                s.push_str(&indent(ind));
                s.push('}');
                s
            }
        }
    }

    // ------------------------------------------------------------ blocks

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
            StmtKind::Expr { expr, after } => (self.expr(expr, ind, ind), after.as_slice()),
            StmtKind::Mock { target, value } => {
                let mut s = format!(
                    "mock {} = ",
                    target
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(".")
                );
                let c = ind + s.len();
                s.push_str(&self.expr(value, c, ind));
                (s, &[][..])
            }
            StmtKind::Assert(e) => (format!("assert {}", self.expr(e, ind + 7, ind)), &[][..]),
            StmtKind::Error { .. } => (self.text(st.span).to_string(), &[][..]),
        };
        push_after(&mut s, after);
        s
    }

    /// The expressions that hold blocks or braced arms.
    pub(super) fn block_expr(&mut self, e: &Expr, col: usize, ind: usize) -> String {
        let with = |p: &mut Self, s: &mut String, o: &Option<Options>| {
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
                self.branches(&mut s, branches, e, options.as_ref(), ind);
                s
            }
            ExprKind::Race { options, branches } => {
                let mut s = "race".to_string();
                with(self, &mut s, options);
                self.branches(&mut s, branches, e, options.as_ref(), ind);
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
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                let mut s = "if ".to_string();
                s.push_str(&self.expr(cond, col + 3, ind));
                s.push(' ');
                s.push_str(&self.block(then, ind));
                match otherwise.as_deref() {
                    Some(Else::If(x)) => {
                        s.push_str(" else ");
                        let c = end_col(col, &s);
                        s.push_str(&self.expr(x, c, ind));
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
                s.push_str(&self.expr(scrutinee, col + 6, ind));
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
                s.push_str(" until ");
                let c = end_col(col, &s);
                s.push_str(&self.expr(until, c, ind));
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
                s.push_str(&self.expr(iter, c, ind));
                if let Some(w) = filter {
                    s.push_str(" where ");
                    let c = end_col(col, &s);
                    s.push_str(&self.expr(w, c, ind));
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
                        let mut s = a.label.name.clone();
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
