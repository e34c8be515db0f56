//! pest pairs -> AST. Each converter checks the rule it received; an unexpected
//! rule is a bug in this file and panics with the rule's name (the tests parse
//! every construct, so they catch it).

use std::cell::{Cell, RefCell};
use std::sync::LazyLock;

use pest::Parser;
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::*;
use super::errors::{parse_error_diagnostic, unclosed_bracket};
use super::grammar::{FlowParser, Rule};
use super::scan::scan;
use super::span::{FileId, Span};
use crate::diag::{Diagnostic, catalog};

/// Deepest bracket and expression nesting accepted (E0103).
pub const MAX_DEPTH: u32 = 200;

/// Deepest syntax tree accepted (E0105): nesting levels plus the operators,
/// `.field`s and `[index]`es chained in one expression, each of which adds a
/// level to the tree. Checked before the tree is built, so no later stage (the
/// checker, the interpreter, dropping the tree) recurses deeper than this.
pub const MAX_TREE_DEPTH: u32 = 1000;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_catch, Assoc::Left))
        .op(Op::infix(Rule::op_coalesce, Assoc::Right))
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::op_match, Assoc::Left)
            | Op::infix(Rule::op_nmatch, Assoc::Left))
        .op(Op::infix(Rule::op_concat, Assoc::Left))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_rem, Assoc::Left))
        .op(Op::prefix(Rule::op_not) | Op::prefix(Rule::op_neg))
});

/// Runs the pest parser. `detail` collects what was expected at the furthest
/// position (slow; only for re-parsing a bad region). pest reads that setting
/// from a global when a parse starts, hence the lock.
fn parse_rule(
    rule: Rule,
    text: &str,
    detail: bool,
) -> Result<pest::iterators::Pairs<'_, Rule>, Box<pest::error::Error<Rule>>> {
    // Parses without detail run side by side; one with detail runs alone and
    // restores the default afterwards.
    static LOCK: std::sync::RwLock<()> = std::sync::RwLock::new(());
    if detail {
        let _w = LOCK.write().unwrap_or_else(|e| e.into_inner());
        pest::set_error_detail(true);
        let r = FlowParser::parse(rule, text).map_err(Box::new);
        pest::set_error_detail(false);
        r
    } else {
        let _r = LOCK.read().unwrap_or_else(|e| e.into_inner());
        FlowParser::parse(rule, text).map_err(Box::new)
    }
}

/// Parses one file. Always returns a module: regions that do not parse are
/// reported and left out.
pub fn parse(file: FileId, src: &str) -> (Module, Vec<Diagnostic>) {
    let conv = Converter::new(file, src, 0);
    if let Some(d) = conv.check_nesting() {
        return (
            Module {
                file,
                items: Vec::new(),
                comments: Vec::new(),
            },
            vec![d],
        );
    }
    let module = match parse_rule(Rule::file_fast, src, false) {
        Ok(mut pairs) => {
            let file_pair = pairs.next().expect("the file rule yields one pair");
            conv.file(file_pair)
        }
        Err(e) => {
            // Recovery rules accept any text, so this happens only on parser limits.
            conv.diags
                .borrow_mut()
                .push(parse_error_diagnostic(src, file, 0, &e, "the file"));
            Module {
                file,
                items: Vec::new(),
                comments: Vec::new(),
            }
        }
    };
    (module, conv.diags.into_inner())
}

struct Converter<'s> {
    file: FileId,
    src: &'s str,
    /// Offset in `src` of the text the pairs come from (a re-parsed region).
    base: usize,
    diags: RefCell<Vec<Diagnostic>>,
    depth: Cell<u32>,
    /// Depth of the syntax tree being built (E0105).
    tree: Cell<u32>,
    too_deep_reported: Cell<bool>,
    /// How many expressions were left out for their depth.
    cut: Cell<u32>,
    /// The expression being converted is short enough that no subtree of it
    /// can reach the depth limit.
    fits: Cell<bool>,
    /// Comments found in regions parsed separately (flow bodies).
    comments: RefCell<Vec<Comment>>,
}

fn inner(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| p.as_rule() != Rule::COMMENT)
}

fn unexpected(p: &Pair<'_, Rule>, in_what: &str) -> ! {
    panic!("parser bug: unexpected rule {:?} in {in_what}", p.as_rule())
}

impl<'s> Converter<'s> {
    fn new(file: FileId, src: &'s str, base: usize) -> Converter<'s> {
        Converter {
            file,
            src,
            base,
            diags: RefCell::new(Vec::new()),
            depth: Cell::new(0),
            tree: Cell::new(0),
            too_deep_reported: Cell::new(false),
            cut: Cell::new(0),
            fits: Cell::new(false),
            comments: RefCell::new(Vec::new()),
        }
    }

    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        let s = p.as_span();
        Span::new(self.file, self.base + s.start(), self.base + s.end())
    }

    fn ident(&self, p: Pair<'_, Rule>) -> Ident {
        Ident {
            span: self.span(&p),
            name: p.as_str().to_string(),
        }
    }

    fn error(&self, d: Diagnostic) {
        self.diags.borrow_mut().push(d);
    }

    /// Rejects bracket nesting deeper than the limit before pest recurses into it.
    fn check_nesting(&self) -> Option<Diagnostic> {
        let at = scan(self.src, MAX_DEPTH as usize, |_| {}).too_deep?;
        Some(catalog::too_deep(Span::new(self.file, at, at + 1)))
    }

    /// Reports a region that did not parse, by re-parsing it with the strict rule.
    fn bad_region(&self, p: &Pair<'_, Rule>, strict: Rule) {
        let start = self.base + p.as_span().start();
        let text = p.as_str();
        if strict == Rule::stmt_strict
            && text
                .strip_prefix("else")
                .is_some_and(|r| !r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
        {
            // Typed line by line (the REPL), `if c { a }` is complete before
            // its `else` arrives.
            let span = Span::new(self.file, start, start + 4);
            self.error(
                catalog::syntax(
                    "`else` without an `if` before it".into(),
                    span,
                    "this `else` starts a new statement".into(),
                )
                .with_help("put `else` on the line of the `}` that closes the `if`: `} else {`"),
            );
            return;
        }
        if strict == Rule::item_strict
            && let Some((at, open)) = unclosed_bracket(text)
        {
            let close = match open {
                '(' => ')',
                '[' => ']',
                _ => '}',
            };
            let span = Span::new(self.file, start + at, start + at + 1);
            self.error(
                catalog::syntax(
                    format!("unclosed `{open}`"),
                    span,
                    format!("this `{open}` is never closed"),
                )
                .with_help(format!("add the matching `{close}`")),
            );
            return;
        }
        match parse_rule(strict, text, true) {
            Err(e) => self.error(parse_error_diagnostic(
                self.src,
                self.file,
                start,
                &e,
                end_of(strict),
            )),
            Ok(_) => {
                let span = Span::new(self.file, start, self.base + p.as_span().end());
                self.error(catalog::syntax(
                    format!("expected {}", end_of(strict)),
                    span,
                    "this does not end where it should".into(),
                ));
            }
        }
    }

    /// `x` in a broken `let x = …`.
    fn broken_let_name(&self, p: &Pair<'_, Rule>) -> Option<Ident> {
        let text = p.as_str();
        let rest = text.strip_prefix("let")?;
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.len() == rest.len() {
            return None;
        }
        let len = trimmed
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(trimmed.len());
        let name = &trimmed[..len];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let start = self.base + p.as_span().start() + (text.len() - trimmed.len());
        Some(Ident {
            name: name.to_string(),
            span: Span::new(self.file, start, start + len),
        })
    }

    /// The comments of a subtree.
    fn collect_comments(&self, p: &Pair<'_, Rule>) -> Vec<Comment> {
        let mut comments = Vec::new();
        for c in p.clone().into_inner().flatten() {
            // pest reports the comment as a `COMMENT` pair (its inner rule is not kept).
            if c.as_rule() == Rule::COMMENT {
                let text = c.as_str();
                let kind = if text.starts_with("/*") {
                    CommentKind::Block
                } else if text.starts_with("///") && !text.starts_with("////") {
                    CommentKind::Doc
                } else {
                    CommentKind::Line
                };
                comments.push(Comment {
                    kind,
                    text: text.to_string(),
                    span: self.span(&c),
                });
            }
        }
        comments
    }

    fn file(&self, p: Pair<'_, Rule>) -> Module {
        assert!(matches!(p.as_rule(), Rule::file | Rule::file_fast));
        let mut comments = self.collect_comments(&p);
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

    fn item(&self, p: Pair<'_, Rule>) -> Option<Item> {
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
            _ => unexpected(&p, "item"),
        };
        Some(Item {
            kind,
            span,
            doc: None,
        })
    }

    fn import(&self, p: Pair<'_, Rule>) -> Import {
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
    fn plain_string(&self, p: &Pair<'_, Rule>) -> String {
        let mut out = String::new();
        for part in self.string_parts(p.clone()) {
            match part {
                StrPart::Text(t) => out.push_str(&t),
                StrPart::Interp(e) => out.push_str(&self.src[e.span.range()]),
            }
        }
        out
    }

    fn tool(&self, p: Pair<'_, Rule>) -> ToolDecl {
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
            options,
        }
    }

    fn binding(&self, p: Pair<'_, Rule>) -> Binding {
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
                let server = self.primary(it.next().expect("grammar: mcp server"));
                let tool = it.next().map(|t| self.primary(t));
                BindingKind::Mcp { server, tool }
            }
            _ => unreachable!("binding rules are matched by the caller"),
        };
        Binding { kind, span }
    }

    fn flow(&self, p: Pair<'_, Rule>) -> FlowDecl {
        let mut name = None;
        let mut params = Vec::new();
        let mut ret = None;
        let mut options = None;
        let mut body = None;
        for c in inner(p) {
            match c.as_rule() {
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
            name: name.expect("grammar: flow name"),
            params,
            ret,
            options,
            body: body.expect("grammar: flow body"),
        }
    }

    fn params(&self, p: Pair<'_, Rule>) -> Vec<Param> {
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

    fn options(&self, p: Pair<'_, Rule>) -> Options {
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

    fn type_expr(&self, p: Pair<'_, Rule>) -> TypeExpr {
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
                                        name: self.plain_string(&c),
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

    fn block(&self, p: Pair<'_, Rule>) -> Block {
        assert_eq!(p.as_rule(), Rule::block);
        let span = self.span(&p);
        let stmts = self.stmts(inner(p));
        Block { stmts, span }
    }

    /// The statements of a block (or of a group of them parsed on its own).
    fn stmts<'i>(&self, pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Vec<Stmt> {
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
                        ty,
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
                    let target = inner(it.next().expect("grammar: mock target"))
                        .map(|i| self.ident(i))
                        .collect();
                    let value = self.expr(it.next().expect("grammar: mock value"));
                    StmtKind::Mock { target, value }
                }
                Rule::assert_stmt => StmtKind::Assert(
                    self.expr(inner(s).next().expect("grammar: assert expression")),
                ),
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
    fn flow_fast(&self, p: Pair<'_, Rule>) -> Option<Item> {
        let item_span = self.span(&p);
        let item_text = p.as_str();
        let item_start = self.base + p.as_span().start();
        let mut name = None;
        let mut params = Vec::new();
        let mut ret = None;
        let mut options = None;
        let mut raw = None;
        for c in inner(p) {
            match c.as_rule() {
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
        if self.diags.borrow().is_empty()
            && let Some((stmts, mut comments)) = parse_body(
                self.file,
                self.src,
                body_start + 1,
                &raw.as_str()[1..raw.as_str().len() - 1],
            )
        {
            self.comments.borrow_mut().append(&mut comments);
            let body = Block {
                stmts,
                span: Span::new(self.file, body_start, body_start + raw.as_str().len()),
            };
            return Some(Item {
                kind: ItemKind::Flow(Box::new(FlowDecl {
                    name: name.expect("grammar: flow name"),
                    params,
                    ret,
                    options,
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

    fn after(&self, p: Pair<'_, Rule>) -> Vec<Ident> {
        assert_eq!(p.as_rule(), Rule::after_clause);
        let mut names: Vec<Ident> = inner(p).map(|i| self.ident(i)).collect();
        names.shrink_to_fit();
        names
    }

    // ------------------------------------------------------------ expressions

    /// Adds `levels` to the tree depth for the subtree `span`; false (and a
    /// diagnostic) if that makes the tree too deep.
    fn enter(&self, levels: u32, span: Span) -> bool {
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

    fn expr(&self, p: Pair<'_, Rule>) -> Expr {
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

    fn postfix_expr(&self, p: Pair<'_, Rule>) -> Expr {
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

    fn postfix_chain(&self, p: Pair<'_, Rule>) -> Expr {
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

    fn field_name(&self, p: Pair<'_, Rule>) -> Ident {
        match p.as_rule() {
            Rule::ident | Rule::field_word => self.ident(p),
            Rule::string => Ident {
                span: self.span(&p),
                name: self.plain_string(&p),
            },
            _ => unexpected(&p, "field name"),
        }
    }

    fn primary(&self, p: Pair<'_, Rule>) -> Expr {
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
                    options,
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
                ExprKind::Race { options, branches }
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
                    ExprKind::Sequence { options, block }
                } else {
                    ExprKind::Dag { options, block }
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
                    var: var.expect("grammar: loop variable"),
                    init: Box::new(exprs.next().expect("grammar: loop init")),
                    max,
                    until: Box::new(exprs.next().expect("grammar: loop until")),
                    options,
                    body: body.expect("grammar: loop body"),
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
                    var: var.expect("grammar: for variable"),
                    iter: iter.expect("grammar: for list"),
                    filter,
                    options,
                    body: body.expect("grammar: for body"),
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
                    options,
                    body: body.expect("grammar: try body"),
                    var,
                    handler: handler.expect("grammar: catch body"),
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
                            let body = self.expr(it.next().expect("grammar: decide arm body"));
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
                let context = it.next().map(|c| Box::new(self.expr(c)));
                ExprKind::Approve { message, context }
            }
            _ => unexpected(&p, "expression"),
        };
        Expr { kind, span }
    }

    fn duration(&self, p: &Pair<'_, Rule>, span: Span) -> ExprKind {
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

    fn string_parts(&self, p: Pair<'_, Rule>) -> Vec<StrPart> {
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

    fn block_with(&self, p: Pair<'_, Rule>) -> Options {
        assert_eq!(p.as_rule(), Rule::block_with);
        self.options(inner(p).next().expect("grammar: with has options"))
    }

    fn call(&self, callee: Vec<Ident>, p: Pair<'_, Rule>) -> Call {
        assert_eq!(p.as_rule(), Rule::call_args);
        let mut args = Vec::new();
        let mut options = None;
        for c in inner(p) {
            match c.as_rule() {
                Rule::arg => {
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
                    args.push(Arg {
                        name,
                        value: value.expect("grammar: argument value"),
                        span,
                    });
                }
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
            options,
        }
    }

    fn branches(&self, p: Pair<'_, Rule>) -> Vec<Branch> {
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

    fn match_arm(&self, p: Pair<'_, Rule>) -> MatchArm {
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
        let body = self.expr(it.next().expect("grammar: arm body"));
        MatchArm {
            pattern,
            body,
            span,
        }
    }
}

/// What ends the construct a strict rule parses.
fn end_of(rule: Rule) -> &'static str {
    match rule {
        Rule::item_strict => "a new line",
        Rule::stmt_strict => "a new line or `;`",
        Rule::branch_strict => "a new line, `;` or `,`",
        Rule::match_strict | Rule::decide_strict => "a new line or `,`",
        _ => "a new line",
    }
}

/// The `///` comments directly above `start`, joined.
fn doc_before(src: &str, comments: &[Comment], start: usize) -> Option<String> {
    let mut lines = Vec::new();
    let mut pos = start;
    for c in comments
        .iter()
        .rev()
        .filter(|c| (c.span.end as usize) <= start)
    {
        let gap = &src[c.span.end as usize..pos];
        if c.kind != CommentKind::Doc
            || gap.chars().any(|ch| !ch.is_whitespace())
            || gap.matches('\n').count() > 1
        {
            break;
        }
        lines.push(c.text.trim_start_matches("///").trim().to_string());
        pos = c.span.start as usize;
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(lines.join("\n"))
}

/// Statements of a region parsed on its own, and its comments.
type Parsed = (Vec<Stmt>, Vec<Comment>);

/// Bodies larger than this are parsed in parallel groups of statements.
const PARALLEL_BODY: usize = 256 * 1024;

/// Parses the statements of a flow body (`text` starts at `base` in `src`).
/// A large body is cut into groups of statements of about `CHUNK` bytes; the
/// threads take turns through them, so only a few groups' pest pairs are in
/// memory at once. `None` if any part does not parse cleanly.
fn parse_body(
    file: FileId,
    src: &str,
    base: usize,
    text: &str,
) -> Option<(Vec<Stmt>, Vec<Comment>)> {
    const CHUNK: usize = 128 * 1024;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if text.len() < PARALLEL_BODY || threads < 2 {
        return parse_chunk(file, src, base, text);
    }
    let mut bounds = vec![0];
    bounds.extend(split_points(text, CHUNK));
    bounds.push(text.len());
    let parts: Vec<(usize, &str)> = bounds
        .windows(2)
        .map(|w| (w[0], &text[w[0]..w[1]]))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Parsed>> = (0..parts.len()).map(|_| None).collect();
    let done: Vec<Vec<(usize, Option<Parsed>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(off, t)) = parts.get(k) else { break };
                        mine.push((k, parse_chunk(file, src, base + off, t)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (k, r) in done.into_iter().flatten() {
        results[k] = r;
    }
    let total = results
        .iter()
        .map(|r| r.as_ref().map_or(0, |(st, _)| st.len()))
        .sum();
    let mut stmts = Vec::with_capacity(total);
    let mut comments = Vec::new();
    for r in results {
        let (mut st, mut cm) = r?;
        stmts.append(&mut st);
        comments.append(&mut cm);
    }
    Some((stmts, comments))
}

fn parse_chunk(
    file: FileId,
    src: &str,
    base: usize,
    text: &str,
) -> Option<(Vec<Stmt>, Vec<Comment>)> {
    let conv = Converter::new(file, src, base);
    let top = parse_rule(Rule::stmts_chunk, text, false).ok()?.next()?;
    let comments = conv.collect_comments(&top);
    let stmts = conv.stmts(inner(top));
    let clean = conv.diags.borrow().is_empty()
        && !stmts
            .iter()
            .any(|s| matches!(s.kind, StmtKind::Error { .. }));
    clean.then_some((stmts, comments))
}

/// Offsets where a group of statements may start: after a newline at bracket
/// depth 0 (outside strings and comments), before a line that begins with
/// `let ` — a reserved word no statement can continue with. About one cut
/// per `target` bytes.
fn split_points(text: &str, target: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut last = 0;
    scan(text, usize::MAX, |i| {
        if i + 1 - last >= target {
            let rest = &text[i + 1..];
            let t = rest.trim_start_matches([' ', '\t']);
            if t.starts_with("let ") || t.starts_with("let\t") {
                cuts.push(i + 1);
                last = i + 1;
            }
        }
    });
    cuts
}

/// Bytes per unit of a size literal (`512KB`, `64MB`, `1GB`): powers of 1024.
fn size_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "B" => 1.0,
        "KB" | "KiB" => 1024.0,
        "MB" | "MiB" => 1024.0 * 1024.0,
        "GB" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TB" | "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words of the `keyword` rule, read from the grammar file.
    fn keywords() -> Vec<String> {
        let g = include_str!("../../grammar/flow.pest");
        let start = g.find("\nkeyword = @{").expect("keyword rule");
        let body = &g[start..start + g[start..].find("\n}").expect("end of rule")];
        body.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    /// The ordinary path: the whole file through the `file` rule.
    fn parse_slow(src: &str) -> Module {
        let conv = Converter::new(FileId(0), src, 0);
        let top = parse_rule(Rule::file, src, false)
            .expect("parses")
            .next()
            .expect("one pair");
        let m = conv.file(top);
        assert!(conv.diags.borrow().is_empty());
        m
    }

    #[test]
    fn the_fast_path_gives_the_same_tree() {
        let big_body: String = (0..9000)
            .map(|i| format!("    let n{i} = wait(ms: {i}) after n{}\n", i.max(1) - 1))
            .collect();
        let big = format!(
            "tool wait(ms: int) -> {{ ms: int }} = builtin \"sleep\"\n/// doc\nflow main() -> int {{\n    let n0 = wait(ms: 0)\n{big_body}    // the end\n    1\n}}\n"
        );
        for src in [
            include_str!("../../tests/data/spec_taste.flow"),
            include_str!("../../tests/ui/pass/every_construct.flow"),
            big.as_str(),
        ] {
            let (fast, diags) = parse(FileId(0), src);
            assert!(diags.is_empty(), "{diags:?}");
            assert_eq!(fast, parse_slow(src));
        }
        assert!(
            big.len() > PARALLEL_BODY,
            "the big program takes the parallel path"
        );
    }

    #[test]
    fn comments_are_kept_and_doc_comments_attach_to_items() {
        let src = "/// Doc of t.\n/// Second line.\ntool t() -> json = builtin \"echo\"\n// plain\n\n/// Doc of main.\nflow main() -> json {\n    // inside\n    t() /* block */\n}\n";
        let (m, d) = parse(FileId(0), src);
        assert!(d.is_empty(), "{d:?}");
        let texts: Vec<(&str, CommentKind)> = m
            .comments
            .iter()
            .map(|c| (c.text.as_str(), c.kind))
            .collect();
        assert_eq!(
            texts,
            vec![
                ("/// Doc of t.", CommentKind::Doc),
                ("/// Second line.", CommentKind::Doc),
                ("// plain", CommentKind::Line),
                ("/// Doc of main.", CommentKind::Doc),
                ("// inside", CommentKind::Line),
                ("/* block */", CommentKind::Block),
            ]
        );
        assert_eq!(m.items[0].doc.as_deref(), Some("Doc of t.\nSecond line."));
        assert_eq!(m.items[1].doc.as_deref(), Some("Doc of main."));
    }

    #[test]
    fn exponents_are_floats_and_letters_after_digits_are_durations() {
        let src =
            "const A = 1e-3\nconst B = 2.5E+3\nconst C = 4e2\nconst D = 10s\nconst E = 1.5h\n";
        let (m, d) = parse(FileId(0), src);
        assert!(d.is_empty(), "{d:?}");
        let kinds: Vec<String> = m
            .items
            .iter()
            .map(|it| match &it.kind {
                ItemKind::Const(c) => match &c.value.kind {
                    ExprKind::Float(f) => format!("float {f}"),
                    ExprKind::Duration { text, .. } => format!("duration {text}"),
                    other => format!("{other:?}"),
                },
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "float 0.001",
                "float 2500",
                "float 400",
                "duration 10s",
                "duration 1.5h"
            ]
        );
    }

    #[test]
    fn keyword_trie_accepts_exactly_the_keywords() {
        let words = keywords();
        assert!(words.len() >= 30, "{words:?}");
        for w in &words {
            assert!(
                parse_rule(Rule::keyword_trie, w, false).is_ok_and(|p| p.as_str() == w),
                "trie misses `{w}`"
            );
            assert!(
                parse_rule(Rule::keyword, w, false).is_ok_and(|p| p.as_str() == w),
                "keyword misses `{w}`"
            );
            assert!(
                parse_rule(Rule::ident, w, false).is_err(),
                "`{w}` is accepted as a name"
            );
            let longer = format!("{w}x");
            assert!(
                parse_rule(Rule::keyword_trie, &longer, false).is_err(),
                "trie takes the prefix of `{longer}`"
            );
        }
        for not_kw in [
            "asserts", "a", "iff", "n", "nul", "tools", "merge", "max", "exec", "flows", "_if",
        ] {
            assert!(
                parse_rule(Rule::keyword_trie, not_kw, false).is_err(),
                "`{not_kw}` is not a keyword"
            );
            assert!(
                parse_rule(Rule::ident, not_kw, false).is_ok(),
                "`{not_kw}` is a name"
            );
        }
    }
}
