//! Calls: resolving the callee, arguments against parameters.

use super::*;

impl<'p> Ctx<'p> {
    /// The arguments of a call (or of a keyed `mock`) against the parameters
    /// of `sig`: each named, given once, a parameter, of its type. Returns the
    /// names given.
    pub(super) fn check_args(
        &mut self,
        args: &'p [Arg],
        sig: &Signature,
        callee_name: &str,
    ) -> HashMap<&'p str, Span> {
        let mut given: HashMap<&str, Span> = HashMap::new();
        for a in args {
            // The parameter's type is expected of the argument (it flows into arms).
            let param_ty = a.name.as_ref().and_then(|n| {
                sig.params
                    .iter()
                    .find(|p| p.name == n.name)
                    .map(|p| p.ty.clone())
            });
            let t = self.expr_as(&a.value, param_ty);
            let Some(name) = &a.name else {
                let free: Vec<&str> = sig
                    .params
                    .iter()
                    .map(|p| p.name.as_str())
                    .filter(|p| {
                        !args
                            .iter()
                            .any(|a| a.name.as_ref().is_some_and(|n| n.name == *p))
                    })
                    .collect();
                let help = match free.as_slice() {
                    [one] => Some(format!("name it: `{one}: …`")),
                    [] => None,
                    _ => Some(format!("parameters: {}", free.join(", "))),
                };
                self.diags
                    .push(catalog::positional_arg(a.span, callee_name, help));
                continue;
            };
            if let Some(first) = given.get(name.name.as_str()) {
                self.diags
                    .push(catalog::duplicate_arg(name.span, &name.name, *first));
                continue;
            }
            given.insert(&name.name, name.span);
            match sig.params.iter().find(|p| p.name == name.name) {
                Some(p) => {
                    // The parameter's name starts its span (`name: type = default`).
                    let decl = Span {
                        end: p.span.start + p.name.len() as u32,
                        ..p.span
                    };
                    self.p
                        .record_ref(name.span, Target::Decl(decl, DeclKind::Param));
                    self.expect(
                        &t,
                        &p.ty,
                        a.value.span,
                        &format!(" (argument `{}`)", p.name),
                    )
                }
                None => {
                    let help = suggest(&name.name, sig.params.iter().map(|p| p.name.as_str()))
                        .or_else(|| {
                            let names: Vec<&str> =
                                sig.params.iter().map(|p| p.name.as_str()).collect();
                            Some(if names.is_empty() {
                                format!("`{callee_name}` takes no arguments")
                            } else {
                                format!("parameters: {}", names.join(", "))
                            })
                        });
                    self.diags.push(catalog::unknown_arg(
                        name.span,
                        callee_name,
                        &name.name,
                        help,
                    ));
                }
            }
        }
        given
    }

    /// Resolves a callee, recording what its names refer to.
    pub(in crate::check) fn resolve_callee(&self, callee: &[Ident]) -> Option<Callee> {
        let found = self.find_callee(callee)?;
        let (Callee::Tool(m, sig) | Callee::Flow(m, sig)) = &found;
        let kind = if sig.is_flow {
            DeclKind::Flow
        } else {
            DeclKind::Tool
        };
        if let [module, _] = callee {
            self.p.record_ref(module.span, Target::Module(*m));
        }
        if let Some(last) = callee.last() {
            self.p.record_ref(last.span, Target::Decl(sig.span, kind));
        }
        Some(found)
    }

    pub(super) fn find_callee(&self, callee: &[Ident]) -> Option<Callee> {
        let md = &self.p.modules[self.module];
        match callee {
            [one] => {
                if let Some(t) = md.tools.get(one.name.as_str()) {
                    return Some(Callee::Tool(self.module, t.clone()));
                }
                if let Some(f) = md.flows.get(one.name.as_str()) {
                    return Some(Callee::Flow(self.module, f.clone()));
                }
                None
            }
            [m, name] => {
                let &mi = md.imports.get(m.name.as_str())?;
                let mm = &self.p.modules[mi];
                if let Some(t) = mm.tools.get(name.name.as_str()) {
                    return Some(Callee::Tool(mi, t.clone()));
                }
                mm.flows
                    .get(name.name.as_str())
                    .map(|f| Callee::Flow(mi, f.clone()))
            }
            _ => None,
        }
    }

    pub(in crate::check) fn call(&mut self, c: &'p Call, span: Span) -> Type {
        let callee_name = c
            .callee
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let callee_span = c.callee.first().expect("callee").span.to(c
            .callee
            .last()
            .expect("callee")
            .span);
        let resolved = self.resolve_callee(&c.callee);
        let (m, sig) = match resolved {
            Some(Callee::Tool(m, s)) | Some(Callee::Flow(m, s)) => (m, s),
            None => {
                if let [one] = c.callee.as_slice() {
                    if let Some(t) = self.builtin(&one.name, c, span) {
                        if let Some(b) = crate::builtins::Builtin::from_name(&one.name) {
                            self.p.record_ref(one.span, Target::Builtin(b.name()));
                        }
                        return t;
                    }
                    // A local binding?
                    if self
                        .scopes
                        .iter()
                        .any(|s| s.names.contains_key(one.name.as_str()))
                    {
                        self.lookup_name(one);
                        self.diags
                            .push(catalog::not_callable(callee_span, &one.name));
                        self.args_only(c);
                        return Type::Unknown;
                    }
                }
                self.unknown_callee(c, callee_span, &callee_name);
                self.args_only(c);
                return Type::Unknown;
            }
        };
        if sig.is_flow {
            self.effects += 1;
        }
        if sig.effect {
            for s in &self.scopes {
                if let (Some(key), Some(i)) = (s.block, s.current)
                    && let Some(info) = self.blocks.get_mut(&key)
                {
                    info.effects[i] = true;
                }
            }
            self.effects += 1;
            if let Some(construct) = self.loops.last().copied()
                && options::literal_int(c.options.as_deref(), "retry") != Some(0)
                && !options::has(c.options.as_deref(), "idempotency_key")
            {
                self.diags
                    .push(catalog::effect_in_loop(callee_span, &sig.name, construct));
            }
        }
        if !sig.is_flow {
            self.used_tools.insert((m, sig.name.clone()));
            if let Some(pol) = &self.policy {
                if !pol.allows(&callee_name) {
                    self.diags.push(catalog::tool_not_allowed(
                        callee_span,
                        &callee_name,
                        &pol.name,
                        pol.span,
                    ));
                } else if sig.effect && pol.effects == super::super::policy::Effects::Deny {
                    self.diags.push(catalog::effect_denied(
                        callee_span,
                        &callee_name,
                        &pol.name,
                        pol.span,
                    ));
                }
            }
        }
        if self.in_mock {
            let what = if sig.is_flow { "flow" } else { "tool" };
            self.diags.push(catalog::mock_reads_test(
                callee_span,
                &format!("{what} `{callee_name}`, which runs in the test"),
            ));
        }
        self.options(&c.options, Place::Call { effect: sig.effect });
        if self.current_flow.is_none() && !self.in_test {
            // Constants cannot call tools; reported by the caller via `effects`.
            self.effects += 1;
        }
        // Arguments.
        let given = self.check_args(&c.args, &sig, &callee_name);
        let positional = c.args.iter().any(|a| a.name.is_none());
        if !positional {
            let missing: Vec<(&str, String, Span)> = sig
                .params
                .iter()
                .filter(|p| !p.has_default && !given.contains_key(p.name.as_str()))
                .map(|p| (p.name.as_str(), p.ty.to_string(), p.span))
                .collect();
            if !missing.is_empty() {
                self.diags
                    .push(catalog::missing_args(callee_span, &callee_name, &missing));
            }
        }
        if sig.is_flow {
            if let Some(cur) = &self.current_flow {
                self.calls
                    .push((cur.clone(), (m, sig.name.clone()), callee_span));
            }
            match &sig.ret {
                Some(t) => t.clone(),
                None => self.flow_type(m, &sig.name),
            }
        } else {
            sig.ret.clone().unwrap_or(Type::Json)
        }
    }

    pub(in crate::check) fn args_only(&mut self, c: &'p Call) {
        for a in &c.args {
            self.expr(&a.value);
        }
    }

    pub(in crate::check) fn unknown_callee(&mut self, c: &Call, span: Span, name: &str) {
        let md = &self.p.modules[self.module];
        if let [m, _] = c.callee.as_slice()
            && md.broken_imports.contains(m.name.as_str())
        {
            return;
        }
        match c.callee.as_slice() {
            [m, item] if md.imports.contains_key(m.name.as_str()) => {
                let mm = &self.p.modules[md.imports[m.name.as_str()]];
                let help = suggest(&item.name, value_names(mm));
                self.diags.push(catalog::unknown_member(
                    item.span, &m.name, &item.name, help,
                ));
            }
            [m, _]
                if self
                    .scopes
                    .iter()
                    .any(|s| s.names.contains_key(m.name.as_str())) =>
            {
                self.diags.push(catalog::not_callable(span, name));
            }
            _ => {
                let mut cands: Vec<&str> = value_names(md).into_iter().collect();
                cands.extend(crate::builtins::NAMES.iter().copied());
                let mut help = suggest(name, cands.iter().copied());
                if help.is_none()
                    && let [m, _] = c.callee.as_slice()
                    && crate::check::stdlib::module(&format!("std.{}", m.name)).is_some()
                {
                    help = Some(format!("import the module first: `import std.{}`", m.name));
                }
                self.diags.push(catalog::unknown_callee(span, name, help));
            }
        }
    }
}
