//! Expressions: each kind's type rule.

use super::*;

impl<'p> Ctx<'p> {
    pub(in crate::check) fn expr_kind(&mut self, e: &'p Expr) -> Type {
        let want = self.want.take();
        match &e.kind {
            ExprKind::Int(_) => Type::Int,
            ExprKind::Float(f) => {
                if !f.is_finite() {
                    self.diags.push(catalog::float_out_of_range(e.span));
                }
                Type::Float
            }
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Null => Type::Null,
            ExprKind::Duration { ms, .. } => {
                if ms.is_some() {
                    Type::Duration
                } else {
                    Type::Unknown
                }
            }
            ExprKind::Str(parts) => {
                let mut text = String::new();
                let mut plain = true;
                for p in parts {
                    match p {
                        StrPart::Text(t) => text.push_str(t),
                        StrPart::Interp(x) => {
                            plain = false;
                            let t = self.expr(x);
                            if t == Type::Regex {
                                self.diags
                                    .push(catalog::mismatch(x.span, "a value", "regex", ""));
                            }
                        }
                    }
                }
                if plain {
                    Type::lit(&text)
                } else {
                    Type::String
                }
            }
            ExprKind::Regex { pattern, flags } => {
                self.regex(pattern, flags, e.span);
                Type::Regex
            }
            ExprKind::Name(id) => self.lookup_name(id),
            ExprKind::List(items) => {
                let arms: Vec<(Type, Span)> =
                    items.iter().map(|i| (self.expr(i), i.span)).collect();
                if arms.is_empty() {
                    return Type::list(Type::Never);
                }
                Type::list(self.join_arms(&arms))
            }
            ExprKind::Record(fields) => {
                let mut out = Vec::new();
                for f in crate::check::first_named(fields, |f| &f.name, "field", &mut self.diags) {
                    if f.shorthand {
                        self.p.record(|ix| ix.shorthand.push(f.name.span));
                    }
                    let t = self.expr(&f.value);
                    out.push(Type::field(&f.name.name, t));
                }
                Type::record(out)
            }
            ExprKind::Call(c) => self.call(c, e.span),
            ExprKind::Field(..) | ExprKind::Index(..) | ExprKind::Wildcard(..) => {
                let (t, depth) = self.path(e);
                (0..depth).fold(t, |t, _| Type::list(t))
            }
            ExprKind::Unary(op, x) => {
                let t = self.expr(x);
                match op {
                    UnOp::Not => {
                        self.expect_bool(&t, x.span, "the operand of `!`");
                        Type::Bool
                    }
                    UnOp::Neg => match t {
                        Type::Int | Type::Float | Type::Duration | Type::Unknown => t,
                        Type::Json => Type::Json,
                        t => {
                            self.diags.push(
                                catalog::bad_operands(e.span, "-", &t.to_string(), None)
                                    .with_label(format!("this is `{t}`")),
                            );
                            Type::Unknown
                        }
                    },
                }
            }
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, e.span),
            ExprKind::Catch(a, b) => {
                let ta = self.expr_as(a, want.clone());
                let tb = self.expr_as(b, want.clone());
                self.arms_as(&[(ta, a.span), (tb, b.span)], want.as_ref())
            }
            ExprKind::Parallel {
                mode,
                options,
                branches,
            } => {
                self.options(options, Place::Block);
                let tys = self.branches(branches);
                match mode {
                    ParallelMode::Record => Type::record(
                        tys.into_iter()
                            .map(|(n, t, _)| Type::field(&n, t))
                            .collect(),
                    ),
                    ParallelMode::Merge => {
                        let mut fields: Vec<FieldTy> = Vec::new();
                        let mut dynamic = false;
                        for (_, t, span) in tys {
                            match t {
                                Type::Record(r) => {
                                    for f in &r.fields {
                                        fields.retain(|x| x.name != f.name);
                                        fields.push(f.clone());
                                    }
                                }
                                Type::Json | Type::Unknown => dynamic = true,
                                t => self.diags.push(catalog::mismatch(
                                    span,
                                    "a record",
                                    &t.to_string(),
                                    " (`parallel merge` merges records)",
                                )),
                            }
                        }
                        if dynamic {
                            Type::Json
                        } else {
                            Type::record(fields)
                        }
                    }
                    ParallelMode::Concat => {
                        let mut arms = Vec::new();
                        for (_, t, span) in tys {
                            match t.element() {
                                Some(el) => arms.push((el, span)),
                                None => self.diags.push(catalog::mismatch(
                                    span,
                                    "a list",
                                    &t.to_string(),
                                    " (`parallel concat` joins lists)",
                                )),
                            }
                        }
                        if arms.is_empty() {
                            Type::list(Type::Never)
                        } else {
                            Type::list(self.join_arms(&arms))
                        }
                    }
                }
            }
            ExprKind::Race { options, branches } => {
                self.options(options, Place::Block);
                let tys = self.branches(branches);
                let names = tys.iter().map(|(n, _, _)| n.clone()).collect();
                let arms: Vec<(Type, Span)> = tys.into_iter().map(|(_, t, s)| (t, s)).collect();
                let value = self.join_arms(&arms);
                Type::record(vec![
                    Type::field("winner", Type::lits(names)),
                    Type::field("value", value),
                ])
            }
            ExprKind::Sequence { options, block } => {
                self.options(options, Place::Block);
                self.block_as(block, true, want)
            }
            ExprKind::Dag { options, block } => {
                self.options(options, Place::Block);
                self.block_as(block, false, want)
            }
            ExprKind::Block(block) => self.block_as(block, false, want),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                let ct = self.expr(cond);
                self.expect_bool(&ct, cond.span, "an `if` condition");
                let want = want.filter(|_| otherwise.is_some());
                let tt = self.block_as(then, false, want.clone());
                let tspan = then.tail().map(|t| t.span).unwrap_or(then.span);
                match otherwise.as_deref() {
                    None => Type::optional(tt),
                    Some(Else::Block(b)) => {
                        let et = self.block_as(b, false, want.clone());
                        let espan = b.tail().map(|t| t.span).unwrap_or(b.span);
                        self.arms_as(&[(tt, tspan), (et, espan)], want.as_ref())
                    }
                    Some(Else::If(x)) => {
                        let et = self.expr_as(x, want.clone());
                        self.arms_as(&[(tt, tspan), (et, x.span)], want.as_ref())
                    }
                }
            }
            ExprKind::Match { scrutinee, arms } => self.match_expr(scrutinee, arms, want),
            ExprKind::Loop {
                var,
                init,
                max,
                until,
                options,
                body,
            } => self.loop_expr(var, init, max.as_deref(), until, options, body),
            ExprKind::For {
                var,
                iter,
                filter,
                options,
                body,
            } => {
                self.options(options, Place::For);
                let it = self.expr(iter);
                let el = match it.element() {
                    Some(el) => el,
                    None => {
                        let what = if it.is_optional() {
                            "`for` (the value may be `null`; use `?? []`)"
                        } else {
                            "`for`"
                        };
                        self.diags
                            .push(catalog::not_a_list(iter.span, what, &it.to_string()));
                        Type::Unknown
                    }
                };
                let mut scope = Scope::new(self.loops.clone(), e.span);
                scope.names.insert(
                    var.name.to_string(),
                    Binding {
                        ty: Some(el),
                        span: var.span,
                        used: false,
                        kind: BindKind::ForVar,
                        stmt: None,
                    },
                );
                self.scopes.push(scope);
                self.loops.push("for");
                if let Some(f) = filter {
                    let ft = self.expr(f);
                    self.expect_bool(&ft, f.span, "a `where` condition");
                }
                let bt = self.block(body, false);
                self.loops.pop();
                self.pop_scope();
                Type::list(bt)
            }
            ExprKind::Try {
                options,
                body,
                var,
                handler,
            } => {
                self.options(options, Place::Block);
                let bt = self.block_as(body, false, want.clone());
                let mut scope = Scope::new(self.loops.clone(), handler.span);
                if let Some(v) = var {
                    scope.names.insert(
                        v.name.to_string(),
                        Binding {
                            ty: Some(error_type()),
                            span: v.span,
                            used: false,
                            kind: BindKind::CatchVar,
                            stmt: None,
                        },
                    );
                }
                self.scopes.push(scope);
                let ht = self.block_as(handler, false, want.clone());
                self.pop_scope();
                let bspan = body.tail().map(|t| t.span).unwrap_or(body.span);
                let hspan = handler.tail().map(|t| t.span).unwrap_or(handler.span);
                self.arms_as(&[(bt, bspan), (ht, hspan)], want.as_ref())
            }
            ExprKind::Decide {
                prompt,
                context,
                arms,
            } => {
                self.effects += 1;
                let pt = self.expr(prompt);
                self.expect(&pt, &Type::String, prompt.span, "");
                if let Some(c) = context {
                    self.expr(c);
                }
                let mut seen: HashMap<&str, Span> = HashMap::new();
                let mut tys = Vec::new();
                for a in arms {
                    if let Some(first) = seen.get(a.label.name.as_str()) {
                        if a.is_else {
                            self.diags.push(catalog::duplicate(
                                a.label.span,
                                "arm",
                                "else",
                                *first,
                            ));
                        } else {
                            self.diags.push(catalog::duplicate_label(
                                a.label.span,
                                &a.label.name,
                                *first,
                            ));
                        }
                    } else {
                        seen.insert(&a.label.name, a.label.span);
                    }
                    tys.push((self.expr_as(&a.body, want.clone()), a.body.span));
                }
                let labels = arms
                    .iter()
                    .filter(|a| !a.is_else)
                    .map(|a| a.label.name.to_string())
                    .collect();
                self.decision_site(e.span, "decide", labels, arms.iter().any(|a| a.is_else));
                if arms.iter().all(|a| a.is_else) {
                    let span = arms.first().map(|a| a.span).unwrap_or(e.span);
                    self.diags.push(
                        catalog::syntax(
                            "`decide` needs at least one label".into(),
                            span,
                            "no label to choose".into(),
                        )
                        .with_help("add arms such as `continue => …` and `escalate => …`"),
                    );
                }
                self.arms_as(&tys, want.as_ref())
            }
            ExprKind::Approve {
                message,
                context,
                within,
            } => {
                self.effects += 1;
                let t = self.expr(message);
                self.expect(&t, &Type::String, message.span, "");
                if let Some(c) = context {
                    self.expr(c);
                }
                if let Some(w) = within {
                    // A duration literal; a bad unit is said by its own check.
                    let t = self.expr(w);
                    if !matches!(w.kind, ExprKind::Duration { .. }) {
                        self.diags.push(catalog::option_type(
                            w.span,
                            "within",
                            "a duration literal (`30m`, `24h`, `2d`)",
                            &format!("`{}`", t),
                        ));
                    }
                }
                Type::Bool
            }
        }
    }
}
