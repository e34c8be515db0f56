//! Expressions: the Pratt parser's operands, postfix chains, primaries, strings, calls.

use super::*;

impl Converter<'_> {
    /// Adds `levels` to the tree depth for the subtree `span`; false (and a
    /// diagnostic) if that makes the tree too deep.
    pub(in crate::syntax) fn enter(&self, levels: u32, span: Span) -> bool {
        let tree = self.tree.get().saturating_add(levels);
        if tree > MAX_TREE_DEPTH {
            self.cut.set(self.cut.get() + 1);
            // Once: the levels around the first place it happens are deep too.
            if !self.too_deep_reported.replace(true) {
                self.error(catalog::tree_too_deep(span, MAX_TREE_DEPTH));
            }
            return false;
        }
        self.tree.set(tree);
        true
    }

    pub(in crate::syntax) fn expr(&self, p: Pair<'_, Rule>) -> Expr {
        assert_eq!(p.as_rule(), Rule::expr);
        let span = self.span(&p);
        let depth = self.depth.get() + 1;
        if depth > MAX_DEPTH {
            self.cut.set(self.cut.get() + 1);
            self.error(catalog::too_deep(span));
            return Expr {
                kind: ExprKind::Null,
                span,
            };
        }
        // Operators nest in the tree: `a + b + c` is `(a + b) + c`, `!!a` is
        // `!(!a)`. One level for the expression and one per operator, counted
        // before the (recursive) Pratt parser sees them. Every level of a
        // subtree takes at least one byte of its text, so an expression short
        // enough for the depth left cannot go over: its levels are not counted.
        let tree = self.tree.get();
        let was_fit = self.fits.get();
        let len = p.as_span().end() - p.as_span().start();
        if !was_fit && tree as usize + len < MAX_TREE_DEPTH as usize {
            self.fits.set(true);
        }
        if !self.fits.get() {
            let ops = inner(p.clone())
                .filter(|c| c.as_rule() != Rule::postfix_expr)
                .count() as u32;
            if !self.enter(1 + ops, span) {
                return Expr {
                    kind: ExprKind::Null,
                    span,
                };
            }
        }
        self.depth.set(depth);
        let e = PRATT
            .map_primary(|p| self.postfix_expr(p))
            .map_prefix(|op, rhs| {
                let span = self.span(&op).to(rhs.span);
                let op = match op.as_rule() {
                    Rule::op_not => UnOp::Not,
                    Rule::op_neg => UnOp::Neg,
                    _ => unexpected(&op, "prefix"),
                };
                Expr {
                    kind: ExprKind::Unary(op, Box::new(rhs)),
                    span,
                }
            })
            .map_infix(|lhs, op, rhs| {
                let span = lhs.span.to(rhs.span);
                let bin = match op.as_rule() {
                    Rule::op_catch => {
                        return Expr {
                            kind: ExprKind::Catch(Box::new(lhs), Box::new(rhs)),
                            span,
                        };
                    }
                    Rule::op_coalesce => BinOp::Coalesce,
                    Rule::op_or => BinOp::Or,
                    Rule::op_and => BinOp::And,
                    Rule::op_eq => BinOp::Eq,
                    Rule::op_ne => BinOp::Ne,
                    Rule::op_lt => BinOp::Lt,
                    Rule::op_le => BinOp::Le,
                    Rule::op_gt => BinOp::Gt,
                    Rule::op_ge => BinOp::Ge,
                    Rule::op_match => BinOp::Match,
                    Rule::op_nmatch => BinOp::NotMatch,
                    Rule::op_concat => BinOp::Concat,
                    Rule::op_add => BinOp::Add,
                    Rule::op_sub => BinOp::Sub,
                    Rule::op_mul => BinOp::Mul,
                    Rule::op_div => BinOp::Div,
                    Rule::op_rem => BinOp::Rem,
                    _ => unexpected(&op, "infix"),
                };
                Expr {
                    kind: ExprKind::Binary(bin, Box::new(lhs), Box::new(rhs)),
                    span,
                }
            })
            .parse(inner(p));
        self.depth.set(depth - 1);
        self.tree.set(tree);
        self.fits.set(was_fit);
        e
    }

    pub(in crate::syntax) fn postfix_expr(&self, p: Pair<'_, Rule>) -> Expr {
        assert_eq!(p.as_rule(), Rule::postfix_expr);
        let span = self.span(&p);
        if self.fits.get() {
            return self.postfix_chain(p);
        }
        // Each `.field`, `[index]` and `[*]` wraps what is before it.
        let posts = inner(p.clone()).count().saturating_sub(1) as u32;
        let tree = self.tree.get();
        if !self.enter(posts, span) {
            return Expr {
                kind: ExprKind::Null,
                span,
            };
        }
        let e = self.postfix_chain(p);
        self.tree.set(tree);
        e
    }

    pub(in crate::syntax) fn postfix_chain(&self, p: Pair<'_, Rule>) -> Expr {
        let mut it = inner(p);
        let mut e = self.primary(it.next().expect("grammar: primary"));
        for post in it {
            let span = e.span.to(self.span(&post));
            e = match post.as_rule() {
                Rule::field_access => {
                    let f = inner(post).next().expect("grammar: field name");
                    let name = self.field_name(f);
                    Expr {
                        kind: ExprKind::Field(Box::new(e), name),
                        span,
                    }
                }
                Rule::wildcard => Expr {
                    kind: ExprKind::Wildcard(Box::new(e)),
                    span,
                },
                Rule::index => Expr {
                    kind: ExprKind::Index(
                        Box::new(e),
                        Box::new(self.expr(inner(post).next().expect("grammar: index"))),
                    ),
                    span,
                },
                _ => unexpected(&post, "postfix"),
            };
        }
        e
    }

    pub(in crate::syntax) fn field_name(&self, p: Pair<'_, Rule>) -> Ident {
        match p.as_rule() {
            Rule::ident | Rule::field_word => self.ident(p),
            Rule::string => Ident {
                span: self.span(&p),
                name: self.plain_string(&p).into(),
            },
            _ => unexpected(&p, "field name"),
        }
    }

    pub(in crate::syntax) fn primary(&self, p: Pair<'_, Rule>) -> Expr {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::postfix_expr => return self.postfix_expr(p),
            Rule::expr => return self.expr(p),
            Rule::paren => {
                return self.expr(inner(p).next().expect("grammar: parenthesised expression"));
            }
            Rule::int => match p.as_str().parse::<i64>() {
                Ok(n) => ExprKind::Int(n),
                Err(_) => {
                    self.error(catalog::number_out_of_range(span));
                    ExprKind::Int(0)
                }
            },
            Rule::float => ExprKind::Float(p.as_str().parse().unwrap_or(f64::INFINITY)),
            Rule::duration => self.duration(&p, span),
            Rule::true_lit => ExprKind::Bool(true),
            Rule::false_lit => ExprKind::Bool(false),
            Rule::null_lit => ExprKind::Null,
            Rule::string => ExprKind::Str(self.string_parts(p)),
            Rule::regex => {
                let mut it = inner(p);
                let body = it.next().expect("grammar: regex body").as_str().to_string();
                let flags = it
                    .next()
                    .map(|f| f.as_str().to_string())
                    .unwrap_or_default();
                ExprKind::Regex {
                    pattern: body,
                    flags,
                }
            }
            Rule::ident => ExprKind::Name(self.ident(p)),
            Rule::list_lit => {
                let mut items: Vec<Expr> = inner(p).map(|e| self.expr(e)).collect();
                items.shrink_to_fit();
                ExprKind::List(items)
            }
            Rule::record_lit => ExprKind::Record(
                inner(p)
                    .map(|f| {
                        let mut it = inner(f);
                        let name = self.field_name(it.next().expect("grammar: field name"));
                        match it.next() {
                            Some(v) => RecordField {
                                name,
                                value: self.expr(v),
                                shorthand: false,
                            },
                            None => RecordField {
                                value: Expr {
                                    kind: ExprKind::Name(name.clone()),
                                    span: name.span,
                                },
                                name,
                                shorthand: true,
                            },
                        }
                    })
                    .collect(),
            ),
            Rule::call => {
                let mut it = inner(p);
                let callee: Vec<Ident> = inner(it.next().expect("grammar: callee"))
                    .map(|i| self.ident(i))
                    .collect();
                match it.next() {
                    Some(args) => ExprKind::Call(self.call(callee, args)),
                    None => {
                        // A name, or a path `a.b.c` read as fields of `a`.
                        let tree = self.tree.get();
                        if !self.fits.get() && !self.enter(callee.len() as u32 - 1, span) {
                            return Expr {
                                kind: ExprKind::Null,
                                span,
                            };
                        }
                        self.tree.set(tree);
                        let mut parts = callee.into_iter();
                        let first = parts.next().expect("grammar: a name");
                        let mut e = Expr {
                            span: first.span,
                            kind: ExprKind::Name(first),
                        };
                        for f in parts {
                            e = Expr {
                                span: e.span.to(f.span),
                                kind: ExprKind::Field(Box::new(e), f),
                            };
                        }
                        return e;
                    }
                }
            }
            Rule::parallel_expr => {
                let mut mode = ParallelMode::Record;
                let mut options = None;
                let mut branches = Vec::new();
                for c in inner(p) {
                    match c.as_rule() {
                        Rule::kw_merge => mode = ParallelMode::Merge,
                        Rule::kw_concat => mode = ParallelMode::Concat,
                        Rule::block_with => options = Some(self.block_with(c)),
                        Rule::branch_block => branches = self.branches(c),
                        _ => unexpected(&c, "parallel"),
                    }
                }
                ExprKind::Parallel {
                    mode,
                    options: options.map(Box::new),
                    branches,
                }
            }
            Rule::race_expr => {
                let mut options = None;
                let mut branches = Vec::new();
                for c in inner(p) {
                    match c.as_rule() {
                        Rule::block_with => options = Some(self.block_with(c)),
                        Rule::branch_block => branches = self.branches(c),
                        _ => unexpected(&c, "race"),
                    }
                }
                ExprKind::Race {
                    options: options.map(Box::new),
                    branches,
                }
            }
            Rule::sequence_expr | Rule::dag_expr => {
                let is_seq = p.as_rule() == Rule::sequence_expr;
                let mut options = None;
                let mut block = None;
                for c in inner(p) {
                    match c.as_rule() {
                        Rule::block_with => options = Some(self.block_with(c)),
                        Rule::block => block = Some(self.block(c)),
                        _ => unexpected(&c, "sequence/dag"),
                    }
                }
                let block = block.expect("grammar: block");
                if is_seq {
                    ExprKind::Sequence {
                        options: options.map(Box::new),
                        block,
                    }
                } else {
                    ExprKind::Dag {
                        options: options.map(Box::new),
                        block,
                    }
                }
            }
            Rule::if_expr => {
                let mut it = inner(p);
                let cond = Box::new(self.expr(it.next().expect("grammar: if condition")));
                let then = self.block(it.next().expect("grammar: if block"));
                let mut otherwise = None;
                for c in it {
                    match c.as_rule() {
                        Rule::kw_else => {}
                        Rule::if_expr => {
                            // Each `else if` nests the next `if` one level deeper.
                            let tree = self.tree.get();
                            let span = self.span(&c);
                            if self.fits.get() || self.enter(1, span) {
                                otherwise = Some(Box::new(Else::If(self.primary(c))));
                            }
                            self.tree.set(tree);
                        }
                        Rule::block => otherwise = Some(Box::new(Else::Block(self.block(c)))),
                        _ => unexpected(&c, "else"),
                    }
                }
                ExprKind::If {
                    cond,
                    then,
                    otherwise,
                }
            }
            Rule::match_expr => {
                let mut it = inner(p);
                let scrutinee = Box::new(self.expr(it.next().expect("grammar: match scrutinee")));
                let mut arms = Vec::new();
                for a in it {
                    match a.as_rule() {
                        Rule::match_arm => arms.push(self.match_arm(a)),
                        Rule::bad_stmt => self.bad_region(&a, Rule::match_strict),
                        _ => unexpected(&a, "match"),
                    }
                }
                ExprKind::Match { scrutinee, arms }
            }
            Rule::loop_expr => {
                let mut var = None;
                let mut exprs = Vec::new();
                let mut max = None;
                let mut options = None;
                let mut body = None;
                for c in inner(p) {
                    match c.as_rule() {
                        Rule::ident => var = Some(self.ident(c)),
                        Rule::expr => exprs.push(self.expr(c)),
                        Rule::loop_max => {
                            let v = inner(c)
                                .find(|x| x.as_rule() == Rule::postfix_expr)
                                .expect("grammar: loop max");
                            max = Some(Box::new(self.postfix_expr(v)));
                        }
                        Rule::block_with => options = Some(self.block_with(c)),
                        Rule::block => body = Some(self.block(c)),
                        _ => unexpected(&c, "loop"),
                    }
                }
                let mut exprs = exprs.into_iter();
                ExprKind::Loop {
                    var: Box::new(var.expect("grammar: loop variable")),
                    init: Box::new(exprs.next().expect("grammar: loop init")),
                    max,
                    until: Box::new(exprs.next().expect("grammar: loop until")),
                    options: options.map(Box::new),
                    body: Box::new(body.expect("grammar: loop body")),
                }
            }
            Rule::for_expr => {
                let mut var = None;
                let mut iter = None;
                let mut filter = None;
                let mut options = None;
                let mut body = None;
                for c in inner(p) {
                    match c.as_rule() {
                        Rule::ident => var = Some(self.ident(c)),
                        Rule::expr => iter = Some(Box::new(self.expr(c))),
                        Rule::for_where => {
                            let cond = inner(c)
                                .find(|cc| cc.as_rule() == Rule::expr)
                                .expect("grammar: where condition");
                            filter = Some(Box::new(self.expr(cond)));
                        }
                        Rule::block_with => options = Some(self.block_with(c)),
                        Rule::block => body = Some(self.block(c)),
                        _ => unexpected(&c, "for"),
                    }
                }
                ExprKind::For {
                    var: Box::new(var.expect("grammar: for variable")),
                    iter: iter.expect("grammar: for list"),
                    filter,
                    options: options.map(Box::new),
                    body: Box::new(body.expect("grammar: for body")),
                }
            }
            Rule::try_expr => {
                let mut options = None;
                let mut body = None;
                let mut var = None;
                let mut handler = None;
                for c in inner(p) {
                    match c.as_rule() {
                        Rule::block_with => options = Some(self.block_with(c)),
                        Rule::block => body = Some(self.block(c)),
                        Rule::catch_block => {
                            for cc in inner(c) {
                                match cc.as_rule() {
                                    Rule::ident => var = Some(self.ident(cc)),
                                    Rule::block => handler = Some(self.block(cc)),
                                    _ => unexpected(&cc, "catch"),
                                }
                            }
                        }
                        _ => unexpected(&c, "try"),
                    }
                }
                ExprKind::Try {
                    options: options.map(Box::new),
                    body: Box::new(body.expect("grammar: try body")),
                    var: var.map(Box::new),
                    handler: Box::new(handler.expect("grammar: catch body")),
                }
            }
            Rule::decide_expr => {
                let mut prompt = None;
                let mut context = None;
                let mut arms = Vec::new();
                for c in inner(p) {
                    match c.as_rule() {
                        Rule::string => prompt = Some(Box::new(self.primary(c))),
                        Rule::expr => context = Some(Box::new(self.expr(c))),
                        Rule::decide_arm => {
                            let aspan = self.span(&c);
                            let mut it = inner(c);
                            let l = it.next().expect("grammar: decide label");
                            let is_else = l.as_rule() == Rule::kw_else;
                            let label = self.ident(l);
                            let body = self.arm_body(it.next().expect("grammar: decide arm body"));
                            arms.push(DecideArm {
                                label,
                                is_else,
                                body,
                                span: aspan,
                            });
                        }
                        Rule::bad_stmt => self.bad_region(&c, Rule::decide_strict),
                        _ => unexpected(&c, "decide"),
                    }
                }
                ExprKind::Decide {
                    prompt: prompt.expect("grammar: decide prompt"),
                    context,
                    arms,
                }
            }
            Rule::approve_expr => {
                let mut it = inner(p);
                let message = Box::new(self.primary(it.next().expect("grammar: approve message")));
                let mut context = None;
                let mut within = None;
                for c in it {
                    match c.as_rule() {
                        Rule::approve_within => {
                            let n = inner(c)
                                .find(|n| n.as_rule() != Rule::kw_within)
                                .expect("grammar: within has a number");
                            within = Some(Box::new(self.primary(n)));
                        }
                        _ => context = Some(Box::new(self.expr(c))),
                    }
                }
                ExprKind::Approve {
                    message,
                    context,
                    within,
                }
            }
            _ => unexpected(&p, "expression"),
        };
        Expr { kind, span }
    }

    pub(in crate::syntax) fn duration(&self, p: &Pair<'_, Rule>, span: Span) -> ExprKind {
        let text = p.as_str();
        let split = text
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(text.len());
        let (num, unit) = text.split_at(split);
        if let Some(bytes) = size_unit(unit) {
            // A size such as `64MB` is an integer of bytes.
            return match num.parse::<f64>() {
                Ok(n) if n * bytes < 9.2e18 => ExprKind::Int((n * bytes).round() as i64),
                _ => {
                    self.error(catalog::number_out_of_range(span));
                    ExprKind::Int(0)
                }
            };
        }
        let factor = match unit {
            "ms" => Some(1.0),
            "s" => Some(1_000.0),
            "m" => Some(60_000.0),
            "h" => Some(3_600_000.0),
            "d" => Some(86_400_000.0),
            _ => None,
        };
        let ms = match (factor, num.parse::<f64>()) {
            (Some(f), Ok(n)) if (n * f) < 1e15 => Some((n * f).round() as u64),
            (Some(_), _) => {
                self.error(catalog::invalid_duration(span, "too long"));
                None
            }
            (None, _) => {
                self.error(catalog::invalid_duration(
                    span,
                    &format!("unknown unit `{unit}`"),
                ));
                None
            }
        };
        ExprKind::Duration {
            ms,
            text: text.to_string(),
        }
    }

    pub(in crate::syntax) fn string_parts(&self, p: Pair<'_, Rule>) -> Vec<StrPart> {
        assert_eq!(p.as_rule(), Rule::string);
        let mut parts: Vec<StrPart> = Vec::new();
        let push_text = |parts: &mut Vec<StrPart>, s: &str| match parts.last_mut() {
            Some(StrPart::Text(t)) => t.push_str(s),
            _ => parts.push(StrPart::Text(s.to_string())),
        };
        for c in inner(p) {
            match c.as_rule() {
                Rule::str_text => push_text(&mut parts, c.as_str()),
                Rule::str_escape => {
                    let esc = c.as_str();
                    let ch = match esc {
                        "\\n" => Some('\n'),
                        "\\t" => Some('\t'),
                        "\\r" => Some('\r'),
                        "\\0" => Some('\0'),
                        "\\\"" => Some('"'),
                        "\\\\" => Some('\\'),
                        "\\{" => Some('{'),
                        "\\}" => Some('}'),
                        "\\/" => Some('/'),
                        _ if esc.starts_with("\\u{") => {
                            u32::from_str_radix(&esc[3..esc.len() - 1], 16)
                                .ok()
                                .and_then(char::from_u32)
                        }
                        _ => None,
                    };
                    match ch {
                        Some(ch) => push_text(&mut parts, ch.encode_utf8(&mut [0; 4])),
                        None => self.error(catalog::invalid_escape(self.span(&c), esc)),
                    }
                }
                Rule::interp => {
                    let e = inner(c).next().expect("grammar: interpolation expression");
                    parts.push(StrPart::Interp(self.expr(e)));
                }
                _ => unexpected(&c, "string"),
            }
        }
        parts
    }

    pub(in crate::syntax) fn block_with(&self, p: Pair<'_, Rule>) -> Options {
        assert_eq!(p.as_rule(), Rule::block_with);
        self.options(inner(p).next().expect("grammar: with has options"))
    }

    /// One argument: `name: value`, or a value.
    pub(in crate::syntax) fn arg(&self, c: Pair<'_, Rule>) -> Arg {
        let span = self.span(&c);
        let mut name = None;
        let mut value = None;
        for a in inner(c) {
            match a.as_rule() {
                Rule::ident => name = Some(self.ident(a)),
                Rule::expr => value = Some(self.expr(a)),
                _ => unexpected(&a, "argument"),
            }
        }
        Arg {
            name,
            value: value.expect("grammar: argument value"),
            span,
        }
    }

    pub(in crate::syntax) fn call(&self, callee: Vec<Ident>, p: Pair<'_, Rule>) -> Call {
        assert_eq!(p.as_rule(), Rule::call_args);
        let mut args = Vec::new();
        let mut options = None;
        for c in inner(p) {
            match c.as_rule() {
                Rule::arg => args.push(self.arg(c)),
                Rule::call_with => {
                    options =
                        Some(self.options(inner(c).next().expect("grammar: with has options")))
                }
                _ => unexpected(&c, "call"),
            }
        }
        // Exact sizes: a push-grown Vec keeps room for 4, and programs have many calls.
        args.shrink_to_fit();
        let mut callee = callee;
        callee.shrink_to_fit();
        Call {
            callee,
            args,
            options: options.map(Box::new),
        }
    }

    pub(in crate::syntax) fn branches(&self, p: Pair<'_, Rule>) -> Vec<Branch> {
        assert_eq!(p.as_rule(), Rule::branch_block);
        let mut out = Vec::new();
        for b in inner(p) {
            match b.as_rule() {
                Rule::branch => {
                    let span = self.span(&b);
                    let mut it = inner(b);
                    let name = self.ident(it.next().expect("grammar: branch name"));
                    let value = self.expr(it.next().expect("grammar: branch value"));
                    let after = it.next().map(|a| self.after(a)).unwrap_or_default();
                    out.push(Branch {
                        name,
                        value,
                        after,
                        span,
                    });
                }
                Rule::bad_stmt => self.bad_region(&b, Rule::branch_strict),
                _ => unexpected(&b, "branches"),
            }
        }
        out
    }

    /// The value of a `match` or `decide` arm: an expression or a block.
    fn arm_body(&self, p: Pair<'_, Rule>) -> Expr {
        match p.as_rule() {
            Rule::arm_block => {
                let span = self.span(&p);
                let block = self.block(inner(p).next().expect("grammar: arm block"));
                Expr {
                    kind: ExprKind::Block(block),
                    span,
                }
            }
            Rule::expr => self.expr(p),
            _ => unexpected(&p, "arm"),
        }
    }

    pub(in crate::syntax) fn match_arm(&self, p: Pair<'_, Rule>) -> MatchArm {
        let span = self.span(&p);
        let mut it = inner(p);
        let pat = it.next().expect("grammar: pattern");
        let pspan = self.span(&pat);
        let mut lits = Vec::new();
        let mut wild = false;
        for l in inner(pat) {
            match l.as_rule() {
                Rule::wild_pat => wild = true,
                Rule::neg_num => {
                    let lspan = self.span(&l);
                    let n = self.primary(inner(l).next().expect("grammar: number"));
                    let kind = match n.kind {
                        ExprKind::Int(i) => ExprKind::Int(-i),
                        ExprKind::Float(f) => ExprKind::Float(-f),
                        k => k,
                    };
                    lits.push(Expr { kind, span: lspan });
                }
                _ => lits.push(self.primary(l)),
            }
        }
        let pattern = if wild {
            Pattern::Wildcard(pspan)
        } else {
            Pattern::Literals(lits)
        };
        let body = self.arm_body(it.next().expect("grammar: arm body"));
        MatchArm {
            pattern,
            body,
            span,
        }
    }
}
