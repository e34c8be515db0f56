//! Checking flow bodies: scopes, the dataflow order of `let`s, expressions.

mod blocks;
mod calls;
mod control;
mod expect;
mod flows;
mod kinds;
mod mocks;
mod paths;
mod schedules;
mod scopes;
pub(super) mod sites;

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

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
use scopes::{BindKind, Binding, Scope};

use crate::check::FlowKey;

/// What checking the bodies found: diagnostics, inferred flow types, blocks, flow calls.
pub struct Finished {
    pub diags: Vec<Diagnostic>,
    pub flow_types: HashMap<FlowKey, Type>,
    pub blocks: rustc_hash::FxHashMap<BlockKey, BlockInfo>,
    /// Every call of a flow from a flow: caller, callee, the callee's span.
    pub flow_calls: Vec<(FlowKey, FlowKey, Span)>,
}

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
    /// How many flow bodies are being checked, one inside another (bounded by
    /// [`crate::check::MAX_DEPTH`]).
    pub(super) flow_depth: usize,
    /// Each module's flow declarations by name (the first of a name).
    flow_decls: HashMap<(usize, &'p str), &'p FlowDecl>,
    /// Result types of flows: `None` while being checked.
    pub(super) flow_types: HashMap<FlowKey, Option<Type>>,
    pub(super) calls: Vec<(FlowKey, FlowKey, Span)>,
    pub(super) used_tools: HashSet<(usize, String)>,
    /// Counts steps with effects (effect tools, flows, LLM decisions) seen so far.
    pub(super) effects: usize,
    pub(super) consts_cache: HashMap<usize, HashMap<String, (Type, Span)>>,
    pub(super) blocks: rustc_hash::FxHashMap<BlockKey, BlockInfo>,
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
    pub(super) replan_sites: rustc_hash::FxHashMap<BlockKey, super::ReplanSite>,
    /// Whether some flow or block states `replan_on_error`.
    pub(super) replan_stated: bool,
    /// The policy of the flow being checked (`with { policy: NAME }`).
    pub(super) policy: Option<Rc<super::policy::Policy>>,
    /// The root module's schedules that check (the service fires them).
    pub(super) schedules: Vec<super::schedule::Schedule>,
}

/// Each module's flows by name, the first declaration of a name (as a
/// lookup in the items in order would find).
fn flow_decls(p: &Program) -> HashMap<(usize, &str), &FlowDecl> {
    let mut decls = HashMap::new();
    for (m, md) in p.modules.iter().enumerate() {
        for it in &md.ast.items {
            if let ItemKind::Flow(f) = &it.kind {
                decls.entry((m, f.name.name.as_str())).or_insert(&**f);
            }
        }
    }
    decls
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
            flow_depth: 0,
            flow_decls: flow_decls(p),
            flow_types: HashMap::new(),
            calls: Vec::new(),
            used_tools: HashSet::new(),
            effects: 0,
            consts_cache: HashMap::new(),
            blocks: Default::default(),
            regexes: HashMap::new(),
            decisions: Default::default(),
            want: None,
            block_want: None,
            stated_limits: Vec::new(),
            policy: None,
            replan_stated: false,
            replan_sites: Default::default(),
            schedules: Vec::new(),
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
                consts.insert(c.name.name.to_string(), (t, c.name.span));
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
        for it in &md.ast.items {
            if let ItemKind::Schedule(s) = &it.kind
                && let Some(s) = self.schedule(s)
                && m == self.p.root
            {
                self.schedules.push(s);
            }
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

    pub fn finish(mut self) -> Finished {
        let found = self.flow_graph_errors();
        let mut diags = std::mem::take(&mut self.diags);
        diags.extend(found);
        let flow_types = self
            .flow_types
            .into_iter()
            .filter_map(|(k, v)| v.map(|t| (k, t)))
            .collect();
        Finished {
            diags,
            flow_types,
            blocks: self.blocks,
            flow_calls: self.calls,
        }
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

    fn options(&mut self, o: &'p Option<Box<Options>>, place: Place) {
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

    pub fn expr(&mut self, e: &'p Expr) -> Type {
        super::count_expr();
        // A construct's stated `max_concurrent` applies inside it only.
        let limits = self.stated_limits.len();
        // A block's `policy` holds inside it.
        let block_policy = super::policy::named(sites::block_options(e)).and_then(|n| {
            self.p.modules[self.module]
                .policies
                .get(n.name.as_str())
                .cloned()
        });
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
