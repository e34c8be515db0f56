//! Items, signatures, tool bindings and types.

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
    let opts = |o: &Option<Box<Options>>, f: &mut dyn FnMut(&Expr)| {
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
        ItemKind::Policy(p) => {
            for en in &p.rules.entries {
                f(&en.value);
            }
        }
        ItemKind::McpServer(_) => {}
        ItemKind::Schedule(sc) => {
            f(&sc.call);
            opts(&sc.options, &mut f);
        }
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
            ItemKind::Policy(p) => {
                let head = format!("policy {} ", p.name.name);
                let col = ind + head.len();
                head + &self.options(&p.rules, col, ind)
            }
            ItemKind::McpServer(m) => {
                let head = format!("mcp server {} = ", m.name.name);
                match &m.transport {
                    McpTransport::Stdio(argv) => {
                        let col = ind + head.len() + 6;
                        head + "stdio " + &self.expr(argv, col, ind)
                    }
                    McpTransport::Http { url, auth_env } => {
                        let col = ind + head.len() + 5;
                        let mut s = head + "http " + &self.expr(url, col, ind);
                        if let Some(a) = auth_env {
                            s.push_str(" auth_env ");
                            let col = end_col(ind, &s);
                            s.push_str(&self.expr(a, col, ind));
                        }
                        s
                    }
                }
            }
            ItemKind::Schedule(sc) => {
                let head = format!("schedule {} ", self.text(sc.cron_span));
                let col = ind + head.len();
                let mut s = head + &self.expr(&sc.call, col, ind);
                if let Some(o) = &sc.options {
                    s.push_str(" with ");
                    let col = end_col(ind, &s);
                    s.push_str(&self.options(o, col, ind));
                }
                s
            }
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
        // A comment after the signature keeps its line; the binding goes below.
        let ret_end = self.trimmed(t.ret.span).end as usize;
        let after_sig = self.take_trailing(ret_end, t.binding.span.start as usize);
        let mut b = String::new();
        let one_line = after_sig.is_none()
            && self.flat_binding(&t.binding, &mut b)
            && end_col(ind, &sig) + 3 + b.chars().count() <= WIDTH;
        let mut s = sig;
        if one_line {
            s.push_str(" = ");
            s.push_str(&b);
        } else {
            if let Some(c) = after_sig {
                s.push(' ');
                s.push_str(&c);
            }
            s.push('\n');
            s.push_str(&indent(ind + INDENT));
            s.push_str("= ");
            let col = ind + INDENT + 2;
            s.push_str(&self.binding(&t.binding, col, ind + INDENT));
        }
        if let Some(o) = &t.options {
            let binding_end = self.trimmed(t.binding.span).end as usize;
            if let Some(c) = self.take_trailing(binding_end, o.span.start as usize) {
                s.push(' ');
                s.push_str(&c);
            }
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
                out.push_str(&server.name);
                out.push(' ');
                self.flat(tool, out, usize::MAX)
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
                let head = format!("mcp {} ", server.name);
                let t = self.expr(tool, col + head.len(), ind);
                head + &t
            }
        }
    }

    fn flow(&mut self, f: &FlowDecl, ind: usize) -> String {
        let head = format!(
            "{}flow {}",
            if f.export { "export " } else { "" },
            f.name.name
        );
        let tail = if f.options.is_some() { 0 } else { 2 };
        let mut s = self.signature(&head, &f.name, &f.params, f.ret.as_ref(), tail, ind);
        if let Some(o) = &f.options {
            // Comments after the signature and after the options keep their lines.
            let sig_end = match &f.ret {
                Some(r) => self.trimmed(r.span).end as usize,
                None => {
                    let from = f.params.last().map_or(f.name.span.end, |p| p.span.end);
                    self.find(from as usize, b')') + 1
                }
            };
            if let Some(c) = self.take_trailing(sig_end, o.span.start as usize) {
                s.push(' ');
                s.push_str(&c);
            }
            s.push('\n');
            s.push_str(&indent(ind + INDENT));
            s.push_str("with ");
            s.push_str(&self.options(o, ind + INDENT + 5, ind + INDENT));
            if let Some(c) = self.take_trailing(o.span.end as usize, f.body.span.start as usize) {
                s.push(' ');
                s.push_str(&c);
            }
            s.push('\n');
            s.push_str(&indent(ind));
        } else {
            s.push(' ');
        }
        s.push_str(&self.block(&f.body, ind));
        s
    }

    // ------------------------------------------------------------ types

    /// [`Printer::flat_ty`] of a part of `T?` or `A | B`: a union in
    /// parentheses.
    fn flat_ty_part(&self, t: &TypeExpr, out: &mut String) -> bool {
        let paren = matches!(t.kind, TypeExprKind::Union(_));
        if paren {
            out.push('(');
        }
        let ok = self.flat_ty(t, out);
        if paren {
            out.push(')');
        }
        ok
    }

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
                if !self.flat_ty_part(x, out) {
                    return false;
                }
                out.push('?');
            }
            TypeExprKind::Union(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" | ");
                    }
                    if !self.flat_ty_part(p, out) {
                        return false;
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
}
