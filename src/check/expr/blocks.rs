//! Blocks and statements: a block's bindings, its `let`s checked on demand in
//! dataflow order (or in text order for a `sequence`), the dependencies of its
//! statements, expression statements, `assert`.

use super::*;

impl<'p> Ctx<'p> {
    /// Checks a block in a new scope. Dataflow blocks check `let`s on demand,
    /// in dependency order; a `sequence` checks them in text order.
    pub(super) fn block(&mut self, b: &'p Block, sequence: bool) -> Type {
        let want = self.block_want.take();
        let mut scope = Scope::new(self.loops.clone(), b.span);
        scope.stmts = Some(&b.stmts);
        let key = block_key(b);
        scope.block = Some(key);
        self.blocks.insert(
            key,
            BlockInfo {
                deps: vec![Vec::new(); b.stmts.len()],
                effects: vec![false; b.stmts.len()],
            },
        );
        for (i, s) in b.stmts.iter().enumerate() {
            if let StmtKind::Error { binds: Some(name) } = &s.kind {
                scope.names.entry(name.name.to_string()).or_insert(Binding {
                    ty: Some(Type::Unknown),
                    span: name.span,
                    used: true,
                    kind: BindKind::Let,
                    stmt: None,
                });
                continue;
            }
            if let StmtKind::Let { name, .. } = &s.kind {
                if let Some(first) = scope
                    .names
                    .get(name.name.as_str())
                    .map(|b| b.span)
                    .or_else(|| scope.later.get(name.name.as_str()).copied())
                {
                    self.diags
                        .push(catalog::duplicate(name.span, "binding", &name.name, first));
                    continue;
                }
                if sequence {
                    scope.later.insert(name.name.to_string(), name.span);
                } else {
                    scope.names.insert(
                        name.name.to_string(),
                        Binding {
                            ty: None,
                            span: name.span,
                            used: false,
                            kind: BindKind::Let,
                            stmt: Some(i),
                        },
                    );
                }
            }
        }
        self.scopes.push(scope);
        let level = self.scopes.len() - 1;
        let mut result = Type::Null;
        let last = b.stmts.len().saturating_sub(1);
        for (i, s) in b.stmts.iter().enumerate() {
            self.scopes[level].current = Some(i);
            match &s.kind {
                StmtKind::Let { name, .. } => {
                    if sequence {
                        self.scopes[level].later.remove(name.name.as_str());
                        let t = self.let_value(s);
                        if !self.scopes[level].names.contains_key(name.name.as_str()) {
                            self.scopes[level].names.insert(
                                name.name.to_string(),
                                Binding {
                                    ty: Some(t),
                                    span: name.span,
                                    used: false,
                                    kind: BindKind::Let,
                                    stmt: Some(i),
                                },
                            );
                        }
                    } else if self.scopes[level]
                        .names
                        .get(name.name.as_str())
                        .is_some_and(|b| b.ty.is_none() && b.stmt == Some(i))
                    {
                        self.force(level, &name.name);
                    }
                    result = Type::Null;
                }
                StmtKind::Expr { expr, after } => {
                    let before = self.effects;
                    if i == last {
                        self.want.clone_from(&want);
                    }
                    let t = self.expr(expr);
                    for a in after {
                        self.lookup_name(a);
                    }
                    if i != last && self.effects == before && after.is_empty() {
                        self.diags.push(catalog::unused_value(expr.span));
                    }
                    result = t;
                }
                StmtKind::Mock {
                    target,
                    args,
                    value,
                } => {
                    self.mock(s.span, target, args.as_deref(), value);
                    result = Type::Null;
                }
                StmtKind::Assert { cond: e, message } => {
                    if !self.in_test {
                        self.diags.push(catalog::not_allowed_here(
                            s.span,
                            "`assert`",
                            "`test` blocks",
                        ));
                    }
                    let t = self.expr(e);
                    self.expect_bool(&t, e.span, "an `assert` condition");
                    if let Some(m) = message {
                        let t = self.expr(m);
                        self.expect(&t, &Type::String, m.span, " (the assertion's message)");
                    }
                    result = Type::Null;
                }
                StmtKind::Error { .. } => result = Type::Unknown,
            }
        }
        self.pop_scope();
        result
    }

    /// Checks a `let`'s value (and its `after` names); returns the binding's type.
    pub(super) fn let_value(&mut self, s: &'p Stmt) -> Type {
        let StmtKind::Let {
            ty, value, after, ..
        } = &s.kind
        else {
            unreachable!("let_value is called on lets")
        };
        let declared = ty
            .as_ref()
            .map(|te| resolve_type(self.p, self.module, te, &mut self.diags));
        let t = self.expr_as(value, declared.clone());
        for a in after {
            self.lookup_name(a);
        }
        match declared {
            Some(declared) => {
                self.expect(&t, &declared, value.span, "");
                declared
            }
            None => t,
        }
    }

    /// Checks the `let` named `name` of scope `level` now (it is referenced before its turn).
    pub(super) fn force(&mut self, level: usize, name: &str) -> Type {
        let stmt = self.scopes[level].names[name]
            .stmt
            .expect("lets have a statement");
        let s = &self.scopes[level]
            .stmts
            .expect("block scopes have statements")[stmt];
        let saved = self.scopes.split_off(level + 1);
        let saved_loops = std::mem::replace(&mut self.loops, self.scopes[level].loops.clone());
        let saved_until = std::mem::replace(&mut self.in_until, false);
        self.scopes[level].in_progress.push(name.to_string());
        let saved_current = self.scopes[level].current.replace(stmt);
        let t = self.let_value(s);
        self.scopes[level].in_progress.pop();
        self.scopes[level].current = saved_current;
        self.in_until = saved_until;
        self.loops = saved_loops;
        self.scopes.extend(saved);
        if let Some(b) = self.scopes[level].names.get_mut(name)
            && b.ty.is_none()
        {
            b.ty = Some(t.clone());
        }
        t
    }
}
