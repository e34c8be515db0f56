//! Checking flow bodies: scopes, the dataflow order of `let`s, expressions.

mod calls;
mod control;
mod kinds;
mod mocks;
mod paths;
pub(super) mod sites;

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

use super::index::{DeclKind, Local, ScopeInfo, Target};
use super::options::{self, Place};
use super::types::{FieldTy, Type, assignable, join};
use super::{
    BlockInfo, BlockKey, Program, Signature, block_key, context_type, error_type, resolve_type,
    value_names,
};
use crate::diag::{Diagnostic, catalog, suggest};
use crate::syntax::ast::*;
use crate::syntax::span::{FileId, Span};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum BindKind {
    Let,
    Param,
    ForVar,
    LoopVar,
    CatchVar,
    Implicit,
}

#[derive(Debug)]
pub(super) struct Binding {
    /// `None` while the `let` has not been checked yet (or is being checked).
    ty: Option<Type>,
    span: Span,
    used: bool,
    kind: BindKind,
    /// Index of the `let` in the scope's statements.
    stmt: Option<usize>,
}

pub(super) struct Scope<'p> {
    names: HashMap<String, Binding>,
    stmts: Option<&'p [Stmt]>,
    /// `let`s being checked, in order, for cycle paths.
    in_progress: Vec<String>,
    /// The block's key in [`BlockInfo`] tables, and the statement being checked.
    block: Option<BlockKey>,
    current: Option<usize>,
    /// For a `sequence`: lets defined later in it (name -> span).
    later: HashMap<String, Span>,
    /// The enclosing `loop`/`for` constructs when the scope was opened.
    loops: Vec<&'static str>,
    /// Where its names are visible, for the index.
    span: Span,
}

impl BindKind {
    fn decl_kind(self) -> DeclKind {
        match self {
            BindKind::Let => DeclKind::Let,
            BindKind::Param => DeclKind::Param,
            BindKind::ForVar => DeclKind::ForVar,
            BindKind::LoopVar => DeclKind::LoopVar,
            BindKind::CatchVar => DeclKind::CatchVar,
            BindKind::Implicit => DeclKind::Implicit,
        }
    }
}

impl Scope<'_> {
    fn new(loops: Vec<&'static str>, span: Span) -> Self {
        Scope {
            span,
            names: HashMap::new(),
            stmts: None,
            in_progress: Vec::new(),
            later: HashMap::new(),
            block: None,
            current: None,
            loops,
        }
    }
}

type FlowKey = (usize, String);

pub struct Ctx<'p> {
    pub(super) p: &'p Program,
    pub(super) module: usize,
    pub(super) scopes: Vec<Scope<'p>>,
    pub(super) diags: Vec<Diagnostic>,
    pub(super) in_until: bool,
    pub(super) loops: Vec<&'static str>,
    pub(super) in_test: bool,
    /// The first scope of the test being checked (its `let`s are at or above it).
    pub(super) test_base: usize,
    /// Set while a mock's value is checked: it reads no `let` and calls no
    /// tool or flow of its test (E0512).
    pub(super) in_mock: bool,
    /// The flow whose body is being checked.
    pub(super) current_flow: Option<FlowKey>,
    /// Result types of flows: `None` while being checked.
    pub(super) flow_types: HashMap<FlowKey, Option<Type>>,
    pub(super) calls: Vec<(FlowKey, FlowKey, Span)>,
    pub(super) used_tools: HashSet<(usize, String)>,
    /// Counts steps with effects (effect tools, flows, LLM decisions) seen so far.
    pub(super) effects: usize,
    pub(super) consts_cache: HashMap<usize, HashMap<String, (Type, Span)>>,
    pub(super) blocks: HashMap<BlockKey, BlockInfo>,
    /// Regex literals already compiled: the error message, if any.
    regexes: HashMap<String, Option<String>>,
    /// LLM decision sites by position (a `let` may be checked more than once).
    pub(super) decisions: std::collections::BTreeMap<(FileId, u32), super::DecisionSite>,
    /// The type expected of the next expression checked (a `let`'s annotation,
    /// a flow's result type), taken at once by [`Ctx::expr`]: it flows into the
    /// arms of `if`, `match`, `decide`, `try` and `catch`.
    want: Option<Type>,
    /// The type expected of the next block's last expression, taken by [`Ctx::block`].
    block_want: Option<Type>,
    /// `max_concurrent` stated by the flow and the enclosing blocks and `for`s
    /// (value, where), outermost first: a larger inner one is capped (W0008).
    stated_limits: Vec<(i64, Span)>,
    /// The scopes of blocks that may be re-planned (see [`super::ReplanSite`]).
    pub(super) replan_sites: HashMap<BlockKey, super::ReplanSite>,
    /// Whether some flow or block states `replan_on_error`.
    pub(super) replan_stated: bool,
    /// The policy of the flow being checked (`with { policy: NAME }`).
    pub(super) policy: Option<Rc<super::policy::Policy>>,
}

impl<'p> Ctx<'p> {
    pub fn new(p: &'p Program) -> Self {
        Ctx {
            p,
            module: p.root,
            scopes: Vec::new(),
            diags: Vec::new(),
            in_until: false,
            loops: Vec::new(),
            in_test: false,
            test_base: 0,
            in_mock: false,
            current_flow: None,
            flow_types: HashMap::new(),
            calls: Vec::new(),
            used_tools: HashSet::new(),
            effects: 0,
            consts_cache: HashMap::new(),
            blocks: HashMap::new(),
            regexes: HashMap::new(),
            decisions: Default::default(),
            want: None,
            block_want: None,
            stated_limits: Vec::new(),
            policy: None,
            replan_stated: false,
            replan_sites: HashMap::new(),
        }
    }

    pub fn check_module(&mut self, m: usize) {
        self.module = m;
        let md = &self.p.modules[m];
        // Constants first: flows may read them.
        let mut consts: HashMap<String, (Type, Span)> = HashMap::new();
        for it in &md.ast.items {
            if let ItemKind::Const(c) = &it.kind {
                let before = self.effects;
                let t = self.expr(&c.value);
                let t = match &c.ty {
                    Some(te) => {
                        let declared = resolve_type(self.p, m, te, &mut self.diags);
                        self.expect(&t, &declared, c.value.span, "");
                        declared
                    }
                    None => t,
                };
                if self.effects != before {
                    self.diags.push(catalog::not_allowed_here(
                        c.value.span,
                        "calling tools",
                        "flows and tests",
                    ));
                }
                self.p.record(|ix| ix.types.push((c.name.span, t.clone())));
                consts.insert(c.name.name.clone(), (t, c.name.span));
            }
        }
        self.consts_cache.insert(m, consts);
        let mut flows: Vec<&FlowDecl> = Vec::new();
        for it in &md.ast.items {
            match &it.kind {
                ItemKind::Flow(f) => flows.push(f),
                ItemKind::Test(t) => {
                    self.in_test = true;
                    self.test_base = self.scopes.len();
                    self.scopes.push(Scope::new(Vec::new(), t.body.span));
                    self.block(&t.body, false);
                    self.pop_scope();
                    self.in_test = false;
                }
                _ => {}
            }
        }
        for f in flows {
            self.flow_type(m, &f.name.name);
        }
        // A tool nothing calls is no mistake where a re-plan may call it.
        if m == self.p.root
            && !self.replan_stated
            && md
                .ast
                .items
                .iter()
                .any(|i| matches!(i.kind, ItemKind::Flow(_)))
        {
            let mut unused: Vec<&Rc<Signature>> = md
                .tools
                .values()
                .filter(|t| !self.used_tools.contains(&(m, t.name.clone())))
                .collect();
            unused.sort_by_key(|t| t.span.start);
            for t in unused {
                self.diags.push(catalog::unused_tool(t.span, &t.name));
            }
        }
    }

    pub fn finish(
        mut self,
    ) -> (
        Vec<Diagnostic>,
        HashMap<FlowKey, Type>,
        HashMap<BlockKey, BlockInfo>,
    ) {
        // Flow recursion, with the path.
        let mut ids: HashMap<&FlowKey, u32> = HashMap::new();
        let mut keys: Vec<&FlowKey> = Vec::new();
        let mut g: DiGraphMap<u32, Span> = DiGraphMap::new();
        for (a, b, span) in &self.calls {
            for k in [a, b] {
                if !ids.contains_key(k) {
                    ids.insert(k, keys.len() as u32);
                    keys.push(k);
                }
            }
            g.add_edge(ids[a], ids[b], *span);
        }
        let mut found = Vec::new();
        for scc in tarjan_scc(&g) {
            if scc.len() == 1 && !g.contains_edge(scc[0], scc[0]) {
                continue;
            }
            // Walk the cycle from its smallest member along edges inside the component.
            let set: HashSet<u32> = scc.iter().copied().collect();
            let start = *scc.iter().min().expect("non-empty component");
            let mut path = vec![start];
            let mut cur = start;
            let mut span;
            loop {
                let (next, s) = g
                    .edges(cur)
                    .filter(|(_, to, _)| set.contains(to))
                    .map(|(_, to, s)| (to, *s))
                    .min_by_key(|(to, _)| if *to == start { 0 } else { 1 + *to })
                    .expect("a strongly connected component has an inner edge");
                span = s;
                if next == start || path.contains(&next) {
                    path.push(next);
                    break;
                }
                path.push(next);
                cur = next;
            }
            let names: Vec<String> = path
                .iter()
                .map(|i| format!("`{}`", keys[*i as usize].1))
                .collect();
            found.push(catalog::flow_recursion(span, &names.join(" → ")));
        }
        self.diags.extend(found);
        let types = self
            .flow_types
            .into_iter()
            .filter_map(|(k, v)| v.map(|t| (k, t)))
            .collect();
        (self.diags, types, self.blocks)
    }

    // ------------------------------------------------------------ flows

    /// The result type of a flow, checking its body the first time.
    fn flow_type(&mut self, m: usize, name: &str) -> Type {
        let key = (m, name.to_string());
        if let Some(t) = self.flow_types.get(&key) {
            return t.clone().unwrap_or(Type::Unknown);
        }
        let sig = self.p.modules[m].flows[name].clone();
        let Some(decl) = self.p.modules[m]
            .ast
            .items
            .iter()
            .find_map(|i| match &i.kind {
                ItemKind::Flow(f) if f.name.name == name => Some(f),
                _ => None,
            })
        else {
            return Type::Unknown;
        };
        self.flow_types.insert(key.clone(), sig.ret.clone());
        // Check the body in a fresh context.
        let saved_scopes = std::mem::take(&mut self.scopes);
        let saved = (
            self.module,
            self.in_until,
            std::mem::take(&mut self.loops),
            self.in_test,
            self.current_flow.take(),
        );
        self.module = m;
        self.in_until = false;
        self.in_test = false;
        let saved_mock = std::mem::replace(&mut self.in_mock, false);
        self.current_flow = Some(key.clone());

        let saved_limits = std::mem::take(&mut self.stated_limits);
        if let Some(o) = &decl.options {
            options::check_static(o, Place::Flow, &mut self.diags);
            self.stated_limit(o);
            super::policy::check_option(&self.p.modules[m], Some(o), &mut self.diags);
            self.replan_stated |= options::has(Some(o), "replan_on_error");
        }
        let saved_policy =
            std::mem::replace(&mut self.policy, super::policy::of_flow(self.p, m, decl));
        let mut params = Scope::new(Vec::new(), decl.body.span);
        for (prm, ps) in decl.params.iter().zip(sig.params.iter()) {
            if let Some(d) = &prm.default {
                let t = self.expr(d);
                self.expect(&t, &ps.ty, d.span, " (the parameter's default)");
            }
            params.names.insert(
                ps.name.clone(),
                Binding {
                    ty: Some(ps.ty.clone()),
                    span: prm.name.span,
                    used: false,
                    kind: BindKind::Param,
                    stmt: None,
                },
            );
        }
        self.scopes.push(params);
        let body_ty = self.block_as(&decl.body, false, sig.ret.clone());
        // A flow's body may be re-planned (`replan_on_error` on it or `--set`).
        let site = super::ReplanSite {
            names: self.visible_names(),
            ty: sig.ret.clone().unwrap_or_else(|| body_ty.widen()),
        };
        self.replan_sites.insert(block_key(&decl.body), site);
        let ret = match &sig.ret {
            Some(r) => {
                let span = decl.body.tail().map(|e| e.span).unwrap_or(decl.body.span);
                self.expect(&body_ty, r, span, " (the flow's result)");
                r.clone()
            }
            None => body_ty.widen(),
        };
        self.pop_scope();

        self.stated_limits = saved_limits;
        self.policy = saved_policy;
        self.scopes = saved_scopes;
        self.in_mock = saved_mock;
        (
            self.module,
            self.in_until,
            self.loops,
            self.in_test,
            self.current_flow,
        ) = saved;
        self.flow_types.insert(key, Some(ret.clone()));
        ret
    }

    fn pop_scope(&mut self) {
        let scope = self.scopes.pop().expect("balanced scopes");
        self.p.record(|ix| {
            let mut locals: Vec<Local> = scope
                .names
                .iter()
                .map(|(n, b)| Local {
                    name: n.clone(),
                    span: b.span,
                    kind: b.kind.decl_kind(),
                    ty: b.ty.clone(),
                })
                .collect();
            locals.sort_by_key(|l| l.span.start);
            ix.scopes.push(ScopeInfo {
                span: scope.span,
                locals,
            });
        });
        let mut unused: Vec<(&String, &Binding)> = scope
            .names
            .iter()
            .filter(|(n, b)| {
                !b.used
                    && !n.starts_with('_')
                    && matches!(
                        b.kind,
                        BindKind::Let | BindKind::Param | BindKind::ForVar | BindKind::CatchVar
                    )
            })
            .collect();
        unused.sort_by_key(|(_, b)| b.span.start);
        for (n, b) in unused {
            let what = match b.kind {
                BindKind::Param => "parameter",
                BindKind::ForVar => "loop variable",
                BindKind::CatchVar => "error binding",
                _ => "binding",
            };
            self.diags.push(catalog::unused_binding(b.span, what, n));
        }
    }

    // ------------------------------------------------------------ blocks

    /// Checks a block in a new scope. Dataflow blocks check `let`s on demand,
    /// in dependency order; a `sequence` checks them in text order.
    fn block(&mut self, b: &'p Block, sequence: bool) -> Type {
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
                scope.names.entry(name.name.clone()).or_insert(Binding {
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
                    .get(&name.name)
                    .map(|b| b.span)
                    .or_else(|| scope.later.get(&name.name).copied())
                {
                    self.diags
                        .push(catalog::duplicate(name.span, "binding", &name.name, first));
                    continue;
                }
                if sequence {
                    scope.later.insert(name.name.clone(), name.span);
                } else {
                    scope.names.insert(
                        name.name.clone(),
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
                        self.scopes[level].later.remove(&name.name);
                        let t = self.let_value(s);
                        if !self.scopes[level].names.contains_key(&name.name) {
                            self.scopes[level].names.insert(
                                name.name.clone(),
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
                        .get(&name.name)
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
                StmtKind::Mock { target, value } => {
                    self.mock(s.span, target, value);
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
    fn let_value(&mut self, s: &'p Stmt) -> Type {
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
    fn force(&mut self, level: usize, name: &str) -> Type {
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

    /// Resolves a name in scope; reports unknown names. Marks it used.
    fn lookup_name(&mut self, id: &Ident) -> Type {
        for level in (0..self.scopes.len()).rev() {
            let Some(b) = self.scopes[level].names.get_mut(&id.name) else {
                continue;
            };
            b.used = true;
            self.p
                .record_ref(id.span, Target::Decl(b.span, b.kind.decl_kind()));
            if self.in_mock && level >= self.test_base {
                self.diags.push(catalog::mock_reads_test(
                    id.span,
                    &format!("`{}`, a `let` of the test", id.name),
                ));
                return Type::Unknown;
            }
            if let (Some(j), Some(key), Some(i)) =
                (b.stmt, self.scopes[level].block, self.scopes[level].current)
                && let Some(info) = self.blocks.get_mut(&key)
                && !info.deps[i].contains(&j)
            {
                info.deps[i].push(j);
            }
            let Some(b) = self.scopes[level].names.get_mut(&id.name) else {
                unreachable!("found above")
            };
            if let Some(t) = &b.ty {
                return t.clone();
            }
            let in_progress = &self.scopes[level].in_progress;
            if let Some(pos) = in_progress.iter().position(|n| *n == id.name) {
                let mut path: Vec<String> = in_progress[pos..]
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect();
                path.push(format!("`{}`", id.name));
                let mut d = catalog::cycle(id.span, &path.join(" → ")).with_label(format!(
                    "`{}` is needed here before it has a value",
                    id.name
                ));
                for n in &in_progress[pos..] {
                    let sp = self.scopes[level].names[n].span;
                    d = d.with_secondary(sp, format!("`{n}` is defined here"));
                }
                self.diags.push(d);
                // Give the binding a type so the cycle is reported once.
                if let Some(b) = self.scopes[level].names.get_mut(&id.name) {
                    b.ty = Some(Type::Unknown);
                }
                return Type::Unknown;
            }
            return self.force(level, &id.name);
        }
        // Defined later in an enclosing `sequence`?
        for level in (0..self.scopes.len()).rev() {
            if let Some(def) = self.scopes[level].later.get(&id.name) {
                self.diags
                    .push(catalog::used_before_defined(id.span, &id.name, *def));
                return Type::Unknown;
            }
        }
        if let Some((t, span)) = self
            .consts_cache
            .get(&self.module)
            .and_then(|c| c.get(&id.name))
        {
            self.p
                .record_ref(id.span, Target::Decl(*span, DeclKind::Const));
            return t.clone();
        }
        if id.name == "context" {
            self.p.record_ref(id.span, Target::Context);
            return context_type();
        }
        let md = &self.p.modules[self.module];
        if md.broken_imports.contains(&id.name) {
            return Type::Unknown;
        }
        if md.imports.contains_key(&id.name) {
            self.diags.push(catalog::unknown_name(
                id.span,
                &id.name,
                Some(format!(
                    "`{}` is a module; use one of its items: `{}.name`",
                    id.name, id.name
                )),
            ));
            return Type::Unknown;
        }
        let mut cands: Vec<&str> = self
            .scopes
            .iter()
            .flat_map(|s| s.names.keys().map(String::as_str))
            .collect();
        if let Some(c) = self.consts_cache.get(&self.module) {
            cands.extend(c.keys().map(String::as_str));
        }
        cands.push("context");
        let mut help = suggest(&id.name, cands.iter().copied());
        if help.is_none() && (md.tools.contains_key(&id.name) || md.flows.contains_key(&id.name)) {
            help = Some(format!(
                "`{0}` is a tool or flow; call it: `{0}(…)`",
                id.name
            ));
        }
        self.diags
            .push(catalog::unknown_name(id.span, &id.name, help));
        Type::Unknown
    }

    // ------------------------------------------------------------ helpers

    fn expect(&mut self, found: &Type, expected: &Type, span: Span, context: &str) {
        if !assignable(found, expected) {
            let mut d = catalog::mismatch(span, &expected.to_string(), &found.to_string(), context);
            let mut notes = Vec::new();
            field_differences(found, expected, "", &mut notes);
            let extra = notes.len().saturating_sub(MAX_FIELD_NOTES);
            for n in notes.into_iter().take(MAX_FIELD_NOTES) {
                d = d.with_note(n);
            }
            if extra > 0 {
                d = d.with_note(format!(
                    "and {extra} more field{}",
                    if extra == 1 { "" } else { "s" }
                ));
            }
            if matches!(found, Type::Optional(_)) && assignable(&found.unwrap_optional(), expected)
            {
                d = d.with_help("the value may be `null`; give a default with `??`");
            }
            self.diags.push(d);
        }
    }

    fn expect_bool(&mut self, t: &Type, span: Span, what: &str) {
        if !assignable(t, &Type::Bool) {
            let mut d = catalog::not_bool(span, what, &t.to_string());
            if matches!(t, Type::List(_) | Type::String) {
                d = d.with_help("test it explicitly, e.g. `len(x) > 0`");
            } else if t.is_optional() {
                d = d.with_help("compare with null: `x != null`");
            }
            self.diags.push(d);
        }
    }

    /// Checks `e` where a value of type `want` is expected.
    fn expr_as(&mut self, e: &'p Expr, want: Option<Type>) -> Type {
        self.want = want;
        self.expr(e)
    }

    /// Checks a block whose last expression should be a `want`.
    fn block_as(&mut self, b: &'p Block, sequence: bool, want: Option<Type>) -> Type {
        self.block_want = want;
        self.block(b, sequence)
    }

    /// The type of arms where a `want` is expected: each arm must fit it (E0301),
    /// and the whole is a `want`. Without an expected type, the arms' join.
    fn arms_as(&mut self, arms: &[(Type, Span)], want: Option<&Type>) -> Type {
        let Some(want) = want else {
            return self.join_arms(arms);
        };
        // Arms that agree on a type that fits keep it, as without an expected type.
        let joined = arms
            .iter()
            .try_fold(Type::Never, |acc, (t, _)| join(&acc, t));
        if let Some(j) = joined
            && assignable(&j, want)
        {
            return j;
        }
        for (t, s) in arms {
            self.expect(t, want, *s, " (an arm)");
        }
        want.clone()
    }

    /// Joins arm types, reporting the first arm that does not fit.
    fn join_arms(&mut self, arms: &[(Type, Span)]) -> Type {
        let mut acc: Option<(Type, Span)> = None;
        for (t, s) in arms {
            acc = Some(match acc {
                None => (t.clone(), *s),
                Some((a, first)) => match join(&a, t) {
                    Some(j) => (j, first),
                    None => {
                        self.diags.push(catalog::incompatible_arms(
                            *s,
                            &a.to_string(),
                            &t.to_string(),
                            first,
                        ));
                        (Type::Unknown, first)
                    }
                },
            });
        }
        acc.map(|(t, _)| t).unwrap_or(Type::Null)
    }

    /// Notes a stated `max_concurrent` of a flow, block or `for` (popped when
    /// [`Ctx::expr`] leaves the construct); W0008 if an enclosing one is smaller.
    fn stated_limit(&mut self, o: &Options) {
        let Some((n, span)) = o.entries.iter().find_map(|e| match &e.value.kind {
            ExprKind::Int(n) if e.name.name == "max_concurrent" && *n >= 1 => {
                Some((*n, e.value.span))
            }
            _ => None,
        }) else {
            return;
        };
        if let Some(&(outer, outer_span)) = self.stated_limits.iter().min_by_key(|(v, _)| *v)
            && outer < n
        {
            self.diags
                .push(catalog::limit_capped(span, n, outer, outer_span));
        }
        self.stated_limits.push((n, span));
    }

    fn options(&mut self, o: &'p Option<Options>, place: Place) {
        if let Some(o) = o {
            if matches!(place, Place::Block | Place::For) {
                self.stated_limit(o);
            }
            let exprs = options::check_static(o, place, &mut self.diags);
            if place == Place::Block {
                super::policy::check_option(&self.p.modules[self.module], Some(o), &mut self.diags);
            }
            for e in exprs {
                // `idempotency_key: true`: a key derived from the run and the step path.
                if matches!(e.kind, ExprKind::Bool(true)) {
                    continue;
                }
                let t = self.expr(e);
                self.expect(&t, &Type::String, e.span, "");
            }
        }
    }

    // ------------------------------------------------------------ expressions

    pub fn expr(&mut self, e: &'p Expr) -> Type {
        // A construct's stated `max_concurrent` applies inside it only.
        let limits = self.stated_limits.len();
        // A block's `policy` holds inside it.
        let block_policy = super::policy::named(sites::block_options(e))
            .and_then(|n| self.p.modules[self.module].policies.get(&n.name).cloned());
        let saved_policy = match block_policy {
            Some(p) => Some(self.policy.replace(p)),
            None => None,
        };
        let t = self.expr_kind(e);
        if let Some(saved) = saved_policy {
            self.policy = saved;
        }
        self.stated_limits.truncate(limits);
        self.keep_replan_site(e, &t);
        self.p.record(|ix| ix.types.push((e.span, t.clone())));
        t
    }
}

pub(super) enum Callee {
    Tool(usize, Rc<Signature>),
    Flow(usize, Rc<Signature>),
}

/// At most this many notes name the fields in which two record types differ.
const MAX_FIELD_NOTES: usize = 6;

/// Where a `found` record type differs from the `expected` one, field by field
/// and into nested records and lists (`rows[].score`): missing fields and
/// fields of the wrong type, one note each.
fn field_differences(found: &Type, expected: &Type, path: &str, notes: &mut Vec<String>) {
    match (found, expected) {
        (_, Type::Optional(e)) => field_differences(&found.unwrap_optional(), e, path, notes),
        (Type::List(f), Type::List(e)) => field_differences(f, e, &format!("{path}[]"), notes),
        (Type::Record(f), Type::Record(e)) => {
            for ef in &e.fields {
                let name = if path.is_empty() {
                    ef.name.clone()
                } else {
                    format!("{path}.{}", ef.name)
                };
                match f.field(&ef.name) {
                    None if !ef.optional => {
                        notes.push(format!("field `{name}: {}` is missing", ef.ty));
                    }
                    Some(ff) if !assignable(&ff.ty, &ef.ty) => {
                        let before = notes.len();
                        field_differences(&ff.ty, &ef.ty, &name, notes);
                        if notes.len() == before {
                            notes.push(format!(
                                "field `{name}` is `{}`, expected `{}`",
                                ff.ty, ef.ty
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}
