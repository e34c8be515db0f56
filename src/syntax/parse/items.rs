//! Items and statements: files, imports, tools, flows, types, blocks.

use super::*;

impl Converter<'_> {
    pub(in crate::syntax) fn file(&self, p: Pair<'_, Rule>) -> Module {
        assert!(matches!(p.as_rule(), Rule::file | Rule::file_fast));
        let mut comments = self.collect_comments(&p);
        self.parse_bodies_ahead(&p);
        let mut items = Vec::new();
        for it in inner(p) {
            match it.as_rule() {
                Rule::EOI => {}
                Rule::bad_item => self.bad_region(&it, Rule::item_strict),
                Rule::flow_fast => items.extend(self.flow_fast(it)),
                _ => {
                    if let Some(item) = self.item(it) {
                        items.push(item);
                    }
                }
            }
        }
        comments.append(&mut self.comments.borrow_mut());
        comments.sort_by_key(|c| c.span.start);
        for item in &mut items {
            item.doc = doc_before(self.src, &comments, item.span.start as usize);
        }
        Module {
            file: self.file,
            items,
            comments,
        }
    }

    /// The bodies of the file's flows (those not large enough to be cut in
    /// groups of their own), parsed on every core before the items are
    /// converted; `flow_fast` takes each one's result.
    fn parse_bodies_ahead(&self, p: &Pair<'_, Rule>) {
        let mut bodies = Vec::new();
        let mut total = 0;
        for it in p.clone().into_inner() {
            if it.as_rule() != Rule::flow_fast {
                continue;
            }
            let Some(raw) = it.into_inner().find(|c| c.as_rule() == Rule::raw_block) else {
                continue;
            };
            let text = raw.as_str();
            if text.len() >= PARALLEL_BODY {
                continue;
            }
            total += text.len();
            bodies.push((self.base + raw.as_span().start(), text));
        }
        if !self.ahead || total < PARALLEL_BODIES {
            return;
        }
        let inside: Vec<(usize, &str)> = bodies
            .iter()
            .map(|&(start, t)| (start + 1, &t[1..t.len() - 1]))
            .collect();
        let parsed = parse_bodies(self.file, self.src, &inside, self.fast);
        let mut ahead = self.bodies.borrow_mut();
        for ((start, _), r) in bodies.iter().zip(parsed) {
            ahead.insert(*start, r);
        }
    }

    pub(in crate::syntax) fn item(&self, p: Pair<'_, Rule>) -> Option<Item> {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::import_decl => ItemKind::Import(self.import(p)),
            Rule::type_decl => {
                let mut it = inner(p);
                let name = self.ident(it.next()?);
                let ty = self.type_expr(it.next()?);
                ItemKind::Type(TypeDecl { name, ty })
            }
            Rule::tool_decl => ItemKind::Tool(Box::new(self.tool(p))),
            Rule::flow_decl => ItemKind::Flow(Box::new(self.flow(p))),
            Rule::const_decl => {
                let mut name = None;
                let mut ty = None;
                let mut value = None;
                for c in inner(p) {
                    match c.as_rule() {
                        Rule::ident => name = Some(self.ident(c)),
                        Rule::type_expr => ty = Some(self.type_expr(c)),
                        Rule::expr => value = Some(self.expr(c)),
                        _ => unexpected(&c, "const"),
                    }
                }
                ItemKind::Const(ConstDecl {
                    name: name?,
                    ty,
                    value: value?,
                })
            }
            Rule::test_decl => {
                let mut it = inner(p);
                let s = it.next()?;
                let name_span = self.span(&s);
                let name = self.plain_string(&s);
                let body = self.block(it.next()?);
                ItemKind::Test(TestDecl {
                    name,
                    name_span,
                    body,
                })
            }
            Rule::policy_decl => {
                let mut name = None;
                let mut rules = None;
                for c in inner(p) {
                    match c.as_rule() {
                        Rule::kw_policy => {}
                        Rule::ident => name = Some(self.ident(c)),
                        Rule::options => rules = Some(self.options(c)),
                        _ => unexpected(&c, "policy"),
                    }
                }
                ItemKind::Policy(PolicyDecl {
                    name: name?,
                    rules: rules?,
                })
            }
            Rule::mcp_server_decl => {
                let mut name = None;
                let mut transport = None;
                for c in inner(p) {
                    match c.as_rule() {
                        Rule::kw_mcp | Rule::kw_server => {}
                        Rule::ident => name = Some(self.ident(c)),
                        Rule::mcp_stdio => {
                            let argv = inner(c).find(|a| a.as_rule() != Rule::kw_stdio)?;
                            transport = Some(McpTransport::Stdio(self.primary(argv)));
                        }
                        Rule::mcp_http => {
                            let mut parts = inner(c).filter(|a| {
                                !matches!(a.as_rule(), Rule::kw_http | Rule::kw_auth_env)
                            });
                            let url = self.primary(parts.next()?);
                            let auth_env = parts.next().map(|a| self.primary(a));
                            transport = Some(McpTransport::Http { url, auth_env });
                        }
                        _ => unexpected(&c, "mcp server"),
                    }
                }
                ItemKind::McpServer(McpServerDecl {
                    name: name?,
                    transport: transport?,
                })
            }
            Rule::schedule_decl => {
                let mut it = inner(p).filter(|c| c.as_rule() != Rule::kw_schedule);
                let s = it.next()?;
                let cron_span = self.span(&s);
                let cron = self.plain_string(&s);
                let callee_pair = it.next()?;
                let args = it.next()?;
                let call_span = Span::new(
                    self.file,
                    self.base + callee_pair.as_span().start(),
                    self.base + args.as_span().end(),
                );
                let callee: Vec<Ident> = inner(callee_pair).map(|i| self.ident(i)).collect();
                let mut call = self.call(callee, args);
                // The call's `with` is the schedule's: a scheduled call has no call options.
                let options = call.options.take();
                ItemKind::Schedule(ScheduleDecl {
                    cron,
                    cron_span,
                    call: Expr {
                        kind: ExprKind::Call(call),
                        span: call_span,
                    },
                    options,
                })
            }
            _ => unexpected(&p, "item"),
        };
        Some(Item {
            kind,
            span,
            doc: None,
        })
    }

    pub(in crate::syntax) fn import(&self, p: Pair<'_, Rule>) -> Import {
        let mut target = None;
        let mut alias = None;
        for c in inner(p) {
            match c.as_rule() {
                Rule::module_path => {
                    target = Some(ImportTarget::Module(
                        inner(c).map(|i| self.ident(i)).collect(),
                    ))
                }
                Rule::string => {
                    target = Some(ImportTarget::File(self.plain_string(&c), self.span(&c)))
                }
                Rule::ident => alias = Some(self.ident(c)),
                _ => unexpected(&c, "import"),
            }
        }
        Import {
            target: target.expect("grammar: import has a target"),
            alias,
        }
    }

    /// The text of a string literal without interpolation (interpolations are kept verbatim).
    pub(in crate::syntax) fn plain_string(&self, p: &Pair<'_, Rule>) -> String {
        let mut out = String::new();
        for part in self.string_parts(p.clone()) {
            match part {
                StrPart::Text(t) => out.push_str(&t),
                StrPart::Interp(e) => out.push_str(&self.src[e.span.range()]),
            }
        }
        out
    }

    pub(in crate::syntax) fn tool(&self, p: Pair<'_, Rule>) -> ToolDecl {
        let mut effect = false;
        let mut name = None;
        let mut params = Vec::new();
        let mut ret = None;
        let mut binding = None;
        let mut options = None;
        for c in inner(p) {
            match c.as_rule() {
                Rule::kw_effect => effect = true,
                Rule::ident => name = Some(self.ident(c)),
                Rule::params => params = self.params(c),
                Rule::type_expr => ret = Some(self.type_expr(c)),
                Rule::builtin_bind | Rule::exec_bind | Rule::http_bind | Rule::mcp_bind => {
                    binding = Some(self.binding(c))
                }
                Rule::decl_with => {
                    options =
                        Some(self.options(inner(c).next().expect("grammar: with has options")))
                }
                _ => unexpected(&c, "tool"),
            }
        }
        ToolDecl {
            effect,
            name: name.expect("grammar: tool name"),
            params,
            ret: ret.expect("grammar: tool return type"),
            binding: binding.expect("grammar: tool binding"),
            options: options.map(Box::new),
        }
    }

    pub(in crate::syntax) fn binding(&self, p: Pair<'_, Rule>) -> Binding {
        let span = self.span(&p);
        let rule = p.as_rule();
        let mut it = inner(p).filter(|c| {
            !matches!(
                c.as_rule(),
                Rule::kw_builtin | Rule::kw_exec | Rule::kw_http | Rule::kw_mcp
            )
        });
        let kind = match rule {
            Rule::builtin_bind => {
                BindingKind::Builtin(self.primary(it.next().expect("grammar: builtin name")))
            }
            Rule::exec_bind => {
                BindingKind::Exec(self.primary(it.next().expect("grammar: exec argv")))
            }
            Rule::http_bind => {
                let method = self.ident(it.next().expect("grammar: http method"));
                let url = self.primary(it.next().expect("grammar: http url"));
                BindingKind::Http { method, url }
            }
            Rule::mcp_bind => {
                let server = self.ident(it.next().expect("grammar: mcp server"));
                let tool = self.primary(it.next().expect("grammar: mcp tool name"));
                BindingKind::Mcp { server, tool }
            }
            _ => unreachable!("binding rules are matched by the caller"),
        };
        Binding { kind, span }
    }

    pub(in crate::syntax) fn flow(&self, p: Pair<'_, Rule>) -> FlowDecl {
        let mut name = None;
        let mut params = Vec::new();
        let mut ret = None;
        let mut options = None;
        let mut body = None;
        let mut export = false;
        for c in inner(p) {
            match c.as_rule() {
                Rule::kw_export => export = true,
                Rule::ident => name = Some(self.ident(c)),
                Rule::params => params = self.params(c),
                Rule::type_expr => ret = Some(self.type_expr(c)),
                Rule::decl_with => {
                    options =
                        Some(self.options(inner(c).next().expect("grammar: with has options")))
                }
                Rule::block => body = Some(self.block(c)),
                _ => unexpected(&c, "flow"),
            }
        }
        FlowDecl {
            export,
            name: name.expect("grammar: flow name"),
            params,
            ret,
            options: options.map(Box::new),
            body: body.expect("grammar: flow body"),
        }
    }

    pub(in crate::syntax) fn params(&self, p: Pair<'_, Rule>) -> Vec<Param> {
        assert_eq!(p.as_rule(), Rule::params);
        inner(p)
            .map(|param| {
                assert_eq!(param.as_rule(), Rule::param);
                let span = self.span(&param);
                let mut it = inner(param);
                let name = self.ident(it.next().expect("grammar: param name"));
                let ty = self.type_expr(it.next().expect("grammar: param type"));
                let default = it.next().map(|d| self.expr(d));
                Param {
                    name,
                    ty,
                    default,
                    span,
                }
            })
            .collect()
    }

    pub(in crate::syntax) fn options(&self, p: Pair<'_, Rule>) -> Options {
        assert_eq!(p.as_rule(), Rule::options);
        let span = self.span(&p);
        let entries = inner(p)
            .map(|o| {
                let mut it = inner(o);
                let name = self.ident(it.next().expect("grammar: option name"));
                let value = self.expr(it.next().expect("grammar: option value"));
                OptionEntry { name, value }
            })
            .collect();
        Options { entries, span }
    }

    // ------------------------------------------------------------ types

    pub(in crate::syntax) fn type_expr(&self, p: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::type_expr => {
                let mut parts: Vec<TypeExpr> = inner(p).map(|c| self.type_expr(c)).collect();
                if parts.len() == 1 {
                    parts.pop().expect("one part")
                } else {
                    TypeExpr {
                        kind: TypeExprKind::Union(parts),
                        span,
                    }
                }
            }
            Rule::type_postfix => {
                let mut it = inner(p);
                let mut ty = self.type_expr(it.next().expect("grammar: type atom"));
                for _mark in it {
                    ty = TypeExpr {
                        kind: TypeExprKind::Optional(Box::new(ty)),
                        span,
                    };
                }
                ty
            }
            Rule::type_null => TypeExpr {
                kind: TypeExprKind::Null,
                span,
            },
            Rule::type_name => TypeExpr {
                kind: TypeExprKind::Name(inner(p).map(|i| self.ident(i)).collect()),
                span,
            },
            Rule::string => TypeExpr {
                kind: TypeExprKind::Literal(self.plain_string(&p)),
                span,
            },
            Rule::list_type => TypeExpr {
                kind: TypeExprKind::List(Box::new(
                    self.type_expr(inner(p).next().expect("grammar: list element")),
                )),
                span,
            },
            Rule::record_type => {
                let fields = inner(p)
                    .map(|f| {
                        let mut name = None;
                        let mut optional = false;
                        let mut ty = None;
                        for c in inner(f) {
                            match c.as_rule() {
                                Rule::ident | Rule::field_word => name = Some(self.ident(c)),
                                Rule::string => {
                                    name = Some(Ident {
                                        span: self.span(&c),
                                        name: self.plain_string(&c).into(),
                                    })
                                }
                                Rule::optional_mark => optional = true,
                                Rule::type_expr => ty = Some(self.type_expr(c)),
                                _ => unexpected(&c, "record type field"),
                            }
                        }
                        TypeField {
                            name: name.expect("grammar: field name"),
                            optional,
                            ty: ty.expect("grammar: field type"),
                        }
                    })
                    .collect();
                TypeExpr {
                    kind: TypeExprKind::Record(fields),
                    span,
                }
            }
            _ => unexpected(&p, "type"),
        }
    }

    // ------------------------------------------------------------ statements

    pub(in crate::syntax) fn block(&self, p: Pair<'_, Rule>) -> Block {
        assert_eq!(p.as_rule(), Rule::block);
        let span = self.span(&p);
        let stmts = self.stmts(inner(p));
        Block { stmts, span }
    }

    /// The statements of a block (or of a group of them parsed on its own).
    pub(in crate::syntax) fn stmts<'i>(
        &self,
        pairs: impl Iterator<Item = Pair<'i, Rule>>,
    ) -> Vec<Stmt> {
        let mut stmts = Vec::new();
        for s in pairs {
            if s.as_rule() == Rule::EOI {
                continue;
            }
            let sspan = self.span(&s);
            let cut = self.cut.get();
            let kind = match s.as_rule() {
                Rule::let_stmt => {
                    let mut name = None;
                    let mut ty = None;
                    let mut value = None;
                    let mut after = Vec::new();
                    for c in inner(s) {
                        match c.as_rule() {
                            Rule::ident => name = Some(self.ident(c)),
                            Rule::type_expr => ty = Some(self.type_expr(c)),
                            Rule::expr => value = Some(self.expr(c)),
                            Rule::after_clause => after = self.after(c),
                            _ => unexpected(&c, "let"),
                        }
                    }
                    StmtKind::Let {
                        name: name.expect("grammar: let name"),
                        ty: ty.map(Box::new),
                        value: value.expect("grammar: let value"),
                        after,
                    }
                }
                Rule::expr_stmt => {
                    let mut it = inner(s);
                    let expr = self.expr(it.next().expect("grammar: expression"));
                    let after = it.next().map(|a| self.after(a)).unwrap_or_default();
                    StmtKind::Expr { expr, after }
                }
                Rule::mock_stmt => {
                    let mut it = inner(s);
                    let target = it.next().expect("grammar: mock target");
                    let target = match target.as_rule() {
                        Rule::mock_approve => vec![self.ident(target)],
                        _ => inner(target).map(|i| self.ident(i)).collect(),
                    };
                    let mut next = it.next().expect("grammar: mock value");
                    let args = if next.as_rule() == Rule::mock_args {
                        let args = inner(next).map(|a| self.arg(a)).collect();
                        next = it.next().expect("grammar: mock value");
                        Some(args)
                    } else {
                        None
                    };
                    let value = self.expr(next);
                    StmtKind::Mock {
                        target,
                        args,
                        value,
                    }
                }
                Rule::assert_stmt => {
                    let mut it = inner(s);
                    let cond = self.expr(it.next().expect("grammar: assert expression"));
                    let message = it.next().map(|m| Box::new(self.expr(m)));
                    StmtKind::Assert { cond, message }
                }
                Rule::bad_stmt => {
                    self.bad_region(&s, Rule::stmt_strict);
                    StmtKind::Error {
                        binds: self.broken_let_name(&s),
                    }
                }
                _ => unexpected(&s, "block"),
            };
            // A statement with an expression cut for its depth is an error
            // statement: checked as unknown, so the cut does not cascade.
            let kind = if self.cut.get() == cut {
                kind
            } else {
                StmtKind::Error {
                    binds: match kind {
                        StmtKind::Let { name, .. } => Some(name),
                        _ => None,
                    },
                }
            };
            stmts.push(Stmt { kind, span: sspan });
        }
        stmts.shrink_to_fit();
        stmts
    }

    /// A flow whose body was taken as one region: its statements are parsed in
    /// groups (in parallel when the body is large). If anything in the body does
    /// not parse, the whole item goes through the ordinary rule instead.
    pub(in crate::syntax) fn flow_fast(&self, p: Pair<'_, Rule>) -> Option<Item> {
        let item_span = self.span(&p);
        let item_text = p.as_str();
        let item_start = self.base + p.as_span().start();
        let mut name = None;
        let mut params = Vec::new();
        let mut ret = None;
        let mut options = None;
        let mut raw = None;
        let mut export = false;
        for c in inner(p) {
            match c.as_rule() {
                Rule::kw_export => export = true,
                Rule::ident => name = Some(self.ident(c)),
                Rule::params => params = self.params(c),
                Rule::type_expr => ret = Some(self.type_expr(c)),
                Rule::decl_with => {
                    options =
                        Some(self.options(inner(c).next().expect("grammar: with has options")))
                }
                Rule::raw_block => raw = Some(c),
                _ => unexpected(&c, "flow"),
            }
        }
        let raw = raw.expect("grammar: flow body");
        let body_start = self.base + raw.as_span().start();
        let ahead = self.bodies.borrow_mut().remove(&body_start);
        if self.diags.borrow().is_empty()
            && let Some((stmts, mut comments)) = ahead.unwrap_or_else(|| {
                parse_body(
                    self.file,
                    self.src,
                    body_start + 1,
                    &raw.as_str()[1..raw.as_str().len() - 1],
                    self.fast,
                )
            })
        {
            self.comments.borrow_mut().append(&mut comments);
            let body = Block {
                stmts,
                span: Span::new(self.file, body_start, body_start + raw.as_str().len()),
            };
            return Some(Item {
                kind: ItemKind::Flow(Box::new(FlowDecl {
                    export,
                    name: name.expect("grammar: flow name"),
                    params,
                    ret,
                    options: options.map(Box::new),
                    body,
                })),
                span: item_span,
                doc: None,
            });
        }
        // The ordinary path, with recovery and its diagnostics.
        let sub = Converter::new(self.file, self.src, item_start);
        let item = match parse_rule(Rule::item_strict, item_text, false) {
            Ok(mut pairs) => {
                let top = pairs.next().expect("item_strict yields one pair");
                sub.comments.borrow_mut().extend(sub.collect_comments(&top));
                let it = inner(top)
                    .find(|c| c.as_rule() == Rule::flow_decl)
                    .expect("item_strict holds the flow");
                sub.item(it)
            }
            Err(_) => {
                let whole = Span::new(self.file, item_start, item_start + item_text.len());
                self.diags.borrow_mut().push(catalog::syntax(
                    "this flow could not be read".into(),
                    whole,
                    "here".into(),
                ));
                None
            }
        };
        self.diags.borrow_mut().append(&mut sub.diags.borrow_mut());
        self.comments
            .borrow_mut()
            .append(&mut sub.comments.borrow_mut());
        item
    }

    pub(in crate::syntax) fn after(&self, p: Pair<'_, Rule>) -> Vec<Ident> {
        assert_eq!(p.as_rule(), Rule::after_clause);
        let mut names: Vec<Ident> = inner(p).map(|i| self.ident(i)).collect();
        names.shrink_to_fit();
        names
    }

    // ------------------------------------------------------------ expressions
}
