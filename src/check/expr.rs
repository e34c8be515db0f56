//! Checking flow bodies: scopes, the dataflow order of `let`s, expressions.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

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
}

impl Scope<'_> {
    fn new(loops: Vec<&'static str>) -> Self {
        Scope {
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
                    self.scopes.push(Scope::new(Vec::new()));
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
        if m == self.p.root
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
        self.current_flow = Some(key.clone());

        let saved_limits = std::mem::take(&mut self.stated_limits);
        if let Some(o) = &decl.options {
            options::check_static(o, Place::Flow, &mut self.diags);
            self.stated_limit(o);
        }
        let mut params = Scope::new(Vec::new());
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
        self.scopes = saved_scopes;
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
        let mut scope = Scope::new(self.loops.clone());
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
                    if !self.in_test {
                        self.diags.push(catalog::not_allowed_here(
                            s.span,
                            "`mock`",
                            "`test` blocks",
                        ));
                    }
                    let expected = self.mock_target(target);
                    let t = self.expr(value);
                    if let Some(e) = expected {
                        self.expect(&t, &e, value.span, " (the mocked result)");
                    }
                    result = Type::Null;
                }
                StmtKind::Assert(e) => {
                    if !self.in_test {
                        self.diags.push(catalog::not_allowed_here(
                            s.span,
                            "`assert`",
                            "`test` blocks",
                        ));
                    }
                    let t = self.expr(e);
                    self.expect_bool(&t, e.span, "an `assert` condition");
                    result = Type::Null;
                }
                StmtKind::Error { .. } => result = Type::Unknown,
            }
        }
        self.pop_scope();
        result
    }

    /// The result type a mock must have, or `None` when unknown.
    fn mock_target(&mut self, target: &[Ident]) -> Option<Type> {
        if let [one] = target
            && one.name == "llm"
        {
            return Some(Type::String);
        }
        match self.resolve_callee(target) {
            Some(Callee::Tool(m, sig)) | Some(Callee::Flow(m, sig)) => {
                self.used_tools.insert((m, sig.name.clone()));
                sig.ret.clone()
            }
            _ => None,
        }
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
        if let Some((t, _)) = self
            .consts_cache
            .get(&self.module)
            .and_then(|c| c.get(&id.name))
        {
            return t.clone();
        }
        if id.name == "context" {
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
            for e in exprs {
                let t = self.expr(e);
                self.expect(&t, &Type::String, e.span, "");
            }
        }
    }

    // ------------------------------------------------------------ expressions

    pub fn expr(&mut self, e: &'p Expr) -> Type {
        // A construct's stated `max_concurrent` applies inside it only.
        let limits = self.stated_limits.len();
        let t = self.expr_kind(e);
        self.stated_limits.truncate(limits);
        t
    }

    fn expr_kind(&mut self, e: &'p Expr) -> Type {
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
                let mut seen: HashMap<&str, Span> = HashMap::new();
                let mut out = Vec::new();
                for f in fields {
                    if let Some(first) = seen.get(f.name.name.as_str()) {
                        self.diags.push(catalog::duplicate(
                            f.name.span,
                            "field",
                            &f.name.name,
                            *first,
                        ));
                        continue;
                    }
                    seen.insert(&f.name.name, f.name.span);
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
                let mut scope = Scope::new(self.loops.clone());
                scope.names.insert(
                    var.name.clone(),
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
                let mut scope = Scope::new(self.loops.clone());
                if let Some(v) = var {
                    scope.names.insert(
                        v.name.clone(),
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
                    .map(|a| a.label.name.clone())
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
            ExprKind::Approve { message, context } => {
                self.effects += 1;
                let t = self.expr(message);
                self.expect(&t, &Type::String, message.span, "");
                if let Some(c) = context {
                    self.expr(c);
                }
                Type::Bool
            }
        }
    }

    pub(super) fn decision_site(
        &mut self,
        span: Span,
        kind: &'static str,
        labels: Vec<String>,
        has_else: bool,
    ) {
        let flow = self.current_flow.as_ref().map(|(_, n)| n.clone());
        self.decisions.insert(
            (span.file, span.start),
            super::DecisionSite {
                span,
                flow,
                kind,
                labels,
                has_else,
            },
        );
    }

    fn regex(&mut self, pattern: &str, flags: &str, span: Span) {
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

    fn branches(&mut self, branches: &'p [Branch]) -> Vec<(String, Type, Span)> {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut out = Vec::new();
        for b in branches {
            if let Some(first) = seen.get(b.name.name.as_str()) {
                self.diags.push(catalog::duplicate(
                    b.name.span,
                    "branch",
                    &b.name.name,
                    *first,
                ));
                continue;
            }
            seen.insert(&b.name.name, b.name.span);
            let t = self.expr(&b.value);
            for a in &b.after {
                self.lookup_name(a);
            }
            out.push((b.name.name.clone(), t, b.value.span));
        }
        out
    }

    fn match_expr(
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

    fn loop_expr(
        &mut self,
        var: &'p Ident,
        init: &'p Expr,
        max: Option<&'p Expr>,
        until: &'p Expr,
        options: &'p Option<Options>,
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
        let mut scope = Scope::new(self.loops.clone());
        scope.names.insert(
            var.name.clone(),
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
        let used = self.scopes.last().is_some_and(|s| s.names[&var.name].used);
        self.pop_scope();
        self.expect_bool(&ut, until.span, "an `until` condition");
        if !used && ut != Type::Unknown {
            self.diags
                .push(catalog::until_constant(until.span, &var.name));
        }
        state
    }

    fn loop_body(&mut self, var: &'p Ident, state: &Type, body: &'p Block) -> Type {
        let mut scope = Scope::new(self.loops.clone());
        for (name, ty, span) in [
            (&var.name, state.clone(), var.span),
            (&"iteration".to_string(), Type::Int, var.span),
        ] {
            scope.names.insert(
                name.clone(),
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

    /// A path expression: (element type, number of `[*]` it maps over).
    fn path(&mut self, e: &'p Expr) -> (Type, usize) {
        match &e.kind {
            ExprKind::Field(base, name) => {
                if let ExprKind::Name(m) = &base.kind
                    && let Some(t) = self.module_const(m, name)
                {
                    return (t, 0);
                }
                let (t, d) = self.path(base);
                (self.field_of(&t, name, base.span), d)
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
                                name: name.clone(),
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
    fn module_const(&mut self, m: &Ident, name: &Ident) -> Option<Type> {
        if self.scopes.iter().any(|s| s.names.contains_key(&m.name)) {
            return None;
        }
        let &mi = self.p.modules[self.module].imports.get(&m.name)?;
        match self.consts_cache.get(&mi).and_then(|c| c.get(&name.name)) {
            Some((t, _)) => Some(t.clone()),
            None => {
                let help = suggest(&name.name, value_names(&self.p.modules[mi]));
                self.diags.push(catalog::unknown_member(
                    name.span, &m.name, &name.name, help,
                ));
                Some(Type::Unknown)
            }
        }
    }

    fn field_of(&mut self, t: &Type, name: &Ident, base: Span) -> Type {
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

    fn binary(&mut self, op: BinOp, l: &'p Expr, r: &'p Expr, span: Span) -> Type {
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

    fn resolve_callee(&self, callee: &[Ident]) -> Option<Callee> {
        let md = &self.p.modules[self.module];
        match callee {
            [one] => {
                if let Some(t) = md.tools.get(&one.name) {
                    return Some(Callee::Tool(self.module, t.clone()));
                }
                if let Some(f) = md.flows.get(&one.name) {
                    return Some(Callee::Flow(self.module, f.clone()));
                }
                None
            }
            [m, name] => {
                let &mi = md.imports.get(&m.name)?;
                let mm = &self.p.modules[mi];
                if let Some(t) = mm.tools.get(&name.name) {
                    return Some(Callee::Tool(mi, t.clone()));
                }
                mm.flows
                    .get(&name.name)
                    .map(|f| Callee::Flow(mi, f.clone()))
            }
            _ => None,
        }
    }

    fn call(&mut self, c: &'p Call, span: Span) -> Type {
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
                        return t;
                    }
                    // A local binding?
                    if self.scopes.iter().any(|s| s.names.contains_key(&one.name)) {
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
                && options::literal_int(c.options.as_ref(), "retry") != Some(0)
                && !options::has(c.options.as_ref(), "idempotency_key")
            {
                self.diags
                    .push(catalog::effect_in_loop(callee_span, &sig.name, construct));
            }
        }
        if !sig.is_flow {
            self.used_tools.insert((m, sig.name.clone()));
        }
        self.options(&c.options, Place::Call { effect: sig.effect });
        if self.current_flow.is_none() && !self.in_test {
            // Constants cannot call tools; reported by the caller via `effects`.
            self.effects += 1;
        }
        // Arguments.
        let mut given: HashMap<&str, Span> = HashMap::new();
        for a in &c.args {
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
                        !c.args
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
                    .push(catalog::positional_arg(a.span, &callee_name, help));
                continue;
            };
            if let Some(first) = given.get(name.name.as_str()) {
                self.diags
                    .push(catalog::duplicate_arg(name.span, &name.name, *first));
                continue;
            }
            given.insert(&name.name, name.span);
            match sig.params.iter().find(|p| p.name == name.name) {
                Some(p) => self.expect(
                    &t,
                    &p.ty,
                    a.value.span,
                    &format!(" (argument `{}`)", p.name),
                ),
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
                        &callee_name,
                        &name.name,
                        help,
                    ));
                }
            }
        }
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

    fn args_only(&mut self, c: &'p Call) {
        for a in &c.args {
            self.expr(&a.value);
        }
    }

    fn unknown_callee(&mut self, c: &Call, span: Span, name: &str) {
        let md = &self.p.modules[self.module];
        if let [m, _] = c.callee.as_slice()
            && md.broken_imports.contains(&m.name)
        {
            return;
        }
        match c.callee.as_slice() {
            [m, item] if md.imports.contains_key(&m.name) => {
                let mm = &self.p.modules[md.imports[&m.name]];
                let help = suggest(&item.name, value_names(mm));
                self.diags.push(catalog::unknown_member(
                    item.span, &m.name, &item.name, help,
                ));
            }
            [m, _] if self.scopes.iter().any(|s| s.names.contains_key(&m.name)) => {
                self.diags.push(catalog::not_callable(span, name));
            }
            _ => {
                let mut cands: Vec<&str> = value_names(md).into_iter().collect();
                cands.extend(crate::builtins::NAMES.iter().copied());
                let mut help = suggest(name, cands.iter().copied());
                if help.is_none()
                    && let [m, _] = c.callee.as_slice()
                    && super::stdlib::module(&format!("std.{}", m.name)).is_some()
                {
                    help = Some(format!("import the module first: `import std.{}`", m.name));
                }
                self.diags.push(catalog::unknown_callee(span, name, help));
            }
        }
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
