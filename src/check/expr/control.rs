//! Decisions, regexes, `parallel` branches, `match` and loops.

use super::*;

impl<'p> Ctx<'p> {
    pub(in crate::check) fn decision_site(
        &mut self,
        span: Span,
        kind: &'static str,
        labels: Vec<String>,
        has_else: bool,
    ) {
        let flow = self.current_flow.as_ref().map(|(_, n)| n.clone());
        self.decisions.insert(
            (span.file, span.start),
            crate::check::DecisionSite {
                span,
                flow,
                kind,
                labels,
                has_else,
            },
        );
    }

    pub(in crate::check) fn regex(&mut self, pattern: &str, flags: &str, span: Span) {
        if let Some(bad) = flags.chars().find(|c| !"imsx".contains(*c)) {
            self.diags.push(catalog::invalid_regex(
                span,
                &format!("unknown flag `{bad}`; flags are i, m, s and x"),
            ));
            return;
        }
        let pat = if flags.is_empty() {
            pattern.to_string()
        } else {
            format!("(?{flags}){pattern}")
        };
        // Compiling is slow; a pattern seen before has the same outcome.
        if let Some(outcome) = self.regexes.get(&pat) {
            if let Some(line) = outcome {
                self.diags.push(catalog::invalid_regex(span, line));
            }
            return;
        }
        let outcome = regex::Regex::new(&pat).err().map(|err| {
            let msg = err.to_string();
            msg.lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .unwrap_or("does not compile")
                .trim_start_matches("error: ")
                .to_string()
        });
        self.regexes.insert(pat, outcome.clone());
        if let Some(line) = outcome {
            self.diags.push(catalog::invalid_regex(span, &line));
        }
    }

    pub(in crate::check) fn branches(
        &mut self,
        branches: &'p [Branch],
    ) -> Vec<(String, Type, Span)> {
        let mut out = Vec::new();
        for b in crate::check::first_named(branches, |b| &b.name, "branch", &mut self.diags) {
            let t = self.expr(&b.value);
            for a in &b.after {
                self.lookup_name(a);
            }
            out.push((b.name.name.to_string(), t, b.value.span));
        }
        out
    }

    pub(in crate::check) fn match_expr(
        &mut self,
        scrutinee: &'p Expr,
        arms: &'p [MatchArm],
        want: Option<Type>,
    ) -> Type {
        let st = self.expr(scrutinee);
        let mut wildcard: Option<Span> = None;
        let mut seen: Vec<(String, Span)> = Vec::new();
        let mut tys = Vec::new();
        for a in arms {
            if let Some(w) = wildcard {
                self.diags.push(catalog::unreachable_arm(
                    a.span,
                    w,
                    "`_` above already matches everything",
                ));
            }
            match &a.pattern {
                Pattern::Wildcard(s) => wildcard = wildcard.or(Some(*s)),
                Pattern::Literals(lits) => {
                    for l in lits {
                        let key = format!("{:?}", l.kind);
                        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                            self.diags.push(catalog::unreachable_arm(
                                l.span,
                                *first,
                                "an earlier arm already matches this value",
                            ));
                        } else {
                            seen.push((key, l.span));
                        }
                        let lt = self.expr(l);
                        if !assignable(&lt, &st) && !assignable(&st, &lt) && !(lt == Type::Null) {
                            self.diags.push(catalog::mismatch(
                                l.span,
                                &st.to_string(),
                                &lt.to_string(),
                                " (the pattern can never match)",
                            ));
                        }
                    }
                }
            }
            tys.push((self.expr_as(&a.body, want.clone()), a.body.span));
        }
        let t = self.arms_as(&tys, want.as_ref());
        let exhaustive = wildcard.is_some()
            || match &st {
                Type::Lit(opts) => opts.iter().all(|o| {
                    seen.iter().any(|(k, _)| {
                        *k == format!("{:?}", ExprKind::Str(vec![StrPart::Text(o.clone())]))
                    })
                }),
                Type::Bool => ["Bool(true)", "Bool(false)"]
                    .iter()
                    .all(|b| seen.iter().any(|(k, _)| k == b)),
                _ => false,
            };
        if exhaustive { t } else { Type::optional(t) }
    }

    pub(in crate::check) fn loop_expr(
        &mut self,
        var: &'p Ident,
        init: &'p Expr,
        max: Option<&'p Expr>,
        until: &'p Expr,
        options: &'p Option<Box<Options>>,
        body: &'p Block,
    ) -> Type {
        self.options(options, Place::Loop);
        if let Some(m) = max {
            match m.kind {
                ExprKind::Int(n) if n >= 1 => {}
                _ => {
                    let t = self.expr(m);
                    if t != Type::Int {
                        self.diags.push(catalog::mismatch(
                            m.span,
                            "int",
                            &t.to_string(),
                            " (`max` is a number of iterations)",
                        ));
                    }
                }
            }
        }
        let t0 = self.expr(init).widen();
        // Check the body with the initial state; if it yields a wider type, check again with that.
        let mark = self.diags.len();
        let t1 = self.loop_body(var, &t0, body);
        let state = if assignable(&t1, &t0) {
            t0
        } else {
            match join(&t0, &t1) {
                Some(j) => {
                    self.diags.truncate(mark);
                    self.loop_body(var, &j, body);
                    j
                }
                None => {
                    self.diags.push(catalog::mismatch(
                        body.tail().map(|t| t.span).unwrap_or(body.span),
                        &t0.to_string(),
                        &t1.to_string(),
                        " (the loop body gives the next state, which must have the type of the initial one)",
                    ));
                    Type::Unknown
                }
            }
        };
        // `until` sees the new state.
        let mut scope = Scope::new(self.loops.clone(), until.span);
        scope.names.insert(
            var.name.to_string(),
            Binding {
                ty: Some(state.clone()),
                span: var.span,
                used: false,
                kind: BindKind::LoopVar,
                stmt: None,
            },
        );
        self.scopes.push(scope);
        let saved = std::mem::replace(&mut self.in_until, true);
        let ut = self.expr(until);
        self.in_until = saved;
        let used = self
            .scopes
            .last()
            .is_some_and(|s| s.names[var.name.as_str()].used);
        self.pop_scope();
        self.expect_bool(&ut, until.span, "an `until` condition");
        if !used && ut != Type::Unknown {
            self.diags
                .push(catalog::until_constant(until.span, &var.name));
        }
        state
    }

    pub(in crate::check) fn loop_body(
        &mut self,
        var: &'p Ident,
        state: &Type,
        body: &'p Block,
    ) -> Type {
        let mut scope = Scope::new(self.loops.clone(), body.span);
        for (name, ty, span) in [
            (&var.name.to_string(), state.clone(), var.span),
            (&"iteration".to_string(), Type::Int, var.span),
        ] {
            scope.names.insert(
                name.to_string(),
                Binding {
                    ty: Some(ty),
                    span,
                    used: false,
                    kind: if name == "iteration" {
                        BindKind::Implicit
                    } else {
                        BindKind::LoopVar
                    },
                    stmt: None,
                },
            );
        }
        self.scopes.push(scope);
        self.loops.push("loop");
        let t = self.block(body, false).widen();
        self.loops.pop();
        self.pop_scope();
        t
    }
}
