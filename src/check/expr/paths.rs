//! Field and index paths, module constants, operators.

use super::*;

impl<'p> Ctx<'p> {
    /// A path expression: (element type, number of `[*]` it maps over).
    pub(in crate::check) fn path(&mut self, e: &'p Expr) -> (Type, usize) {
        match &e.kind {
            ExprKind::Field(base, name) => {
                if let ExprKind::Name(m) = &base.kind
                    && let Some(t) = self.module_const(m, name)
                {
                    return (t, 0);
                }
                let (t, d) = self.path(base);
                let ft = self.field_of(&t, name, base.span);
                self.p.record(|ix| ix.types.push((name.span, ft.clone())));
                (ft, d)
            }
            ExprKind::Index(base, idx) => {
                let (t, d) = self.path(base);
                let it = self.expr(idx);
                let r = match &t {
                    Type::Unknown | Type::Json => Type::Json,
                    Type::List(el) => {
                        if !assignable(&it, &Type::Int) {
                            self.diags.push(catalog::mismatch(
                                idx.span,
                                "int",
                                &it.to_string(),
                                " (a list index)",
                            ));
                        }
                        (**el).clone()
                    }
                    Type::Record(_) => match &idx.kind {
                        ExprKind::Str(parts) if matches!(parts.as_slice(), [StrPart::Text(_)]) => {
                            let StrPart::Text(name) = &parts[0] else {
                                unreachable!("matched above")
                            };
                            let id = Ident {
                                name: name.clone().into(),
                                span: idx.span,
                            };
                            self.field_of(&t, &id, base.span)
                        }
                        _ => {
                            self.diags.push(catalog::mismatch(
                                idx.span,
                                "a field name literal",
                                &it.to_string(),
                                " (records are indexed by literal names)",
                            ));
                            Type::Unknown
                        }
                    },
                    Type::Optional(_) | Type::Null => {
                        self.diags
                            .push(catalog::optional_use(base.span, &t.to_string(), "index"));
                        Type::Unknown
                    }
                    Type::Never => Type::Unknown,
                    t => {
                        self.diags
                            .push(catalog::not_a_list(base.span, "indexing", &t.to_string()));
                        Type::Unknown
                    }
                };
                (r, d)
            }
            ExprKind::Wildcard(base) => {
                let (t, d) = self.path(base);
                match t.element() {
                    Some(el) => (el, d + 1),
                    None if t.is_optional() => {
                        self.diags.push(catalog::optional_use(
                            base.span,
                            &t.to_string(),
                            "map `[*]` over",
                        ));
                        (Type::Unknown, d + 1)
                    }
                    None => {
                        self.diags
                            .push(catalog::not_a_list(base.span, "`[*]`", &t.to_string()));
                        (Type::Unknown, d + 1)
                    }
                }
            }
            _ => (self.expr(e), 0),
        }
    }

    /// `module.CONST` for an imported module's constant (`None` if `m` is not a module).
    pub(in crate::check) fn module_const(&mut self, m: &Ident, name: &Ident) -> Option<Type> {
        if self
            .scopes
            .iter()
            .any(|s| s.names.contains_key(m.name.as_str()))
        {
            return None;
        }
        let &mi = self.p.modules[self.module].imports.get(m.name.as_str())?;
        self.p.record_ref(m.span, Target::Module(mi));
        match self
            .consts_cache
            .get(&mi)
            .and_then(|c| c.get(name.name.as_str()))
        {
            Some((t, span)) => {
                self.p
                    .record_ref(name.span, Target::Decl(*span, DeclKind::Const));
                Some(t.clone())
            }
            None => {
                let help = suggest(&name.name, value_names(&self.p.modules[mi]));
                self.diags.push(catalog::unknown_member(
                    name.span, &m.name, &name.name, help,
                ));
                Some(Type::Unknown)
            }
        }
    }

    pub(in crate::check) fn field_of(&mut self, t: &Type, name: &Ident, base: Span) -> Type {
        match t {
            Type::Unknown | Type::Never => Type::Unknown,
            Type::Json => Type::Json,
            Type::Record(r) => match r.field(&name.name) {
                Some(f) if f.optional => Type::optional(f.ty.clone()),
                Some(f) => f.ty.clone(),
                None => {
                    let help = suggest(&name.name, r.fields.iter().map(|f| f.name.as_str()))
                        .or_else(|| {
                            let names: Vec<&str> =
                                r.fields.iter().map(|f| f.name.as_str()).collect();
                            (!names.is_empty() && names.len() <= 8)
                                .then(|| format!("its fields are: {}", names.join(", ")))
                        });
                    self.diags.push(catalog::unknown_field(
                        name.span,
                        &name.name,
                        &t.to_string(),
                        help,
                    ));
                    Type::Unknown
                }
            },
            Type::Optional(inner) => {
                // Report once, but keep the field's type for the rest of the expression.
                self.diags.push(catalog::optional_use(
                    base,
                    &t.to_string(),
                    &format!("read field `{}` of", name.name),
                ));
                let inner = (**inner).clone();
                let mark = self.diags.len();
                let r = self.field_of(&inner, name, base);
                self.diags.truncate(mark);
                r
            }
            Type::List(_) => {
                self.diags.push(
                    catalog::unknown_field(name.span, &name.name, &t.to_string(), Some(format!("this is a list: map over it with `[*].{0}`, or take one element with `[0].{0}`", name.name))),
                );
                Type::Unknown
            }
            other => {
                self.diags.push(catalog::unknown_field(
                    name.span,
                    &name.name,
                    &other.to_string(),
                    None,
                ));
                Type::Unknown
            }
        }
    }

    pub(in crate::check) fn binary(
        &mut self,
        op: BinOp,
        l: &'p Expr,
        r: &'p Expr,
        span: Span,
    ) -> Type {
        let lt = self.expr(l);
        let rt = self.expr(r);
        let bad = |me: &mut Self, lt: &Type, rt: &Type| {
            let d =
                catalog::bad_operands(span, op.symbol(), &lt.to_string(), Some(&rt.to_string()))
                    .with_label(format!("this is `{lt}`"))
                    .with_secondary(r.span, format!("this is `{rt}`"));
            let d = if lt.is_optional() || rt.is_optional() {
                d.with_help("a value may be `null`; give a default with `??`")
            } else if op == BinOp::Add && lt.is_stringy() && rt.is_stringy() {
                d.with_help("join strings with `++`")
            } else {
                d
            };
            me.diags.push(d);
            Type::Unknown
        };
        if lt == Type::Unknown || rt == Type::Unknown {
            return match op {
                BinOp::Eq
                | BinOp::Ne
                | BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::Match
                | BinOp::NotMatch
                | BinOp::And
                | BinOp::Or => Type::Bool,
                BinOp::Coalesce => rt,
                _ => Type::Unknown,
            };
        }
        match op {
            BinOp::And | BinOp::Or => {
                self.expect_bool(
                    &lt,
                    l.span,
                    &format!("the left operand of `{}`", op.symbol()),
                );
                self.expect_bool(
                    &rt,
                    r.span,
                    &format!("the right operand of `{}`", op.symbol()),
                );
                Type::Bool
            }
            BinOp::Eq | BinOp::Ne => {
                if join(&lt, &rt).is_none() && !(lt.is_numeric() && rt.is_numeric()) {
                    self.diags.push(
                        catalog::bad_operands(
                            span,
                            op.symbol(),
                            &lt.to_string(),
                            Some(&rt.to_string()),
                        )
                        .with_label(format!("this is `{lt}`"))
                        .with_secondary(r.span, format!("this is `{rt}`"))
                        .with_note("values of these types are never equal"),
                    );
                }
                Type::Bool
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ok = (lt.is_numeric() && rt.is_numeric())
                    || (lt.is_stringy() && rt.is_stringy())
                    || (matches!(lt, Type::Duration | Type::Json)
                        && matches!(rt, Type::Duration | Type::Json));
                if !ok {
                    bad(self, &lt, &rt);
                }
                Type::Bool
            }
            BinOp::Match | BinOp::NotMatch => {
                if !lt.is_stringy() {
                    self.diags
                        .push(catalog::regex_on_non_string(l.span, &lt.to_string()));
                }
                if rt != Type::Regex {
                    self.diags.push(catalog::regex_rhs(r.span, &rt.to_string()));
                }
                Type::Bool
            }
            BinOp::Concat => match (&lt, &rt) {
                (a, b)
                    if a.is_stringy() && b.is_stringy() && !(a.is_dynamic() && b.is_dynamic()) =>
                {
                    Type::String
                }
                (Type::List(_), Type::List(_)) => match join(&lt, &rt) {
                    Some(t) => t,
                    None => bad(self, &lt, &rt),
                },
                (Type::Json, _) | (_, Type::Json) => Type::Json,
                _ => bad(self, &lt, &rt),
            },
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => match (&lt, &rt) {
                (Type::Int, Type::Int) => Type::Int,
                (Type::Int | Type::Float, Type::Int | Type::Float) => Type::Float,
                (Type::Duration, Type::Duration) if matches!(op, BinOp::Add | BinOp::Sub) => {
                    Type::Duration
                }
                (Type::Duration, Type::Int | Type::Float)
                    if matches!(op, BinOp::Mul | BinOp::Div) =>
                {
                    Type::Duration
                }
                (Type::Json, t) | (t, Type::Json) if t.is_numeric() => Type::Json,
                _ => bad(self, &lt, &rt),
            },
            BinOp::Coalesce => {
                let inner = lt.unwrap_optional();
                match join(&inner, &rt) {
                    Some(t) => t,
                    None => {
                        self.diags.push(catalog::incompatible_arms(
                            r.span,
                            &inner.to_string(),
                            &rt.to_string(),
                            l.span,
                        ));
                        Type::Unknown
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------ calls
}
