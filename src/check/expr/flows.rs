//! Flows: a flow's body checked once, in a fresh context, against its
//! signature (parameters, defaults, result type, options, policy); flow
//! recursion found over the calls seen (E0402).

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graphmap::DiGraphMap;

use super::*;
use crate::check::{MAX_DEPTH, ReplanSite, policy};

impl<'p> Ctx<'p> {
    /// The result type of a flow, checking its body the first time.
    pub(in crate::check) fn flow_type(&mut self, m: usize, name: &str) -> Type {
        let key = (m, name.to_string());
        if let Some(t) = self.flow_types.get(&key) {
            return t.clone().unwrap_or(Type::Unknown);
        }
        if self.flow_depth >= MAX_DEPTH {
            // A chain this long is E0405 (`flow_depth`); the flow's body is
            // checked when its module's turn comes, on a fresh stack.
            return Type::Unknown;
        }
        let sig = self.p.modules[m].flows[name].clone();
        let Some(&decl) = self.flow_decls.get(&(m, name)) else {
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
            policy::check_option(&self.p.modules[m], Some(o), &mut self.diags);
            self.replan_stated |= options::has(Some(o), "replan_on_error");
        }
        let saved_policy = std::mem::replace(&mut self.policy, policy::of_flow(self.p, m, decl));
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
        self.flow_depth += 1;
        let body_ty = self.block_as(&decl.body, false, sig.ret.clone());
        self.flow_depth -= 1;
        // A flow's body may be re-planned (`replan_on_error` on it or `--set`).
        let site = ReplanSite {
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

    /// The flows that call flows, numbered, and the graph of their calls
    /// (each edge at a call's span).
    fn call_graph(&self) -> (Vec<&FlowKey>, DiGraphMap<u32, Span>) {
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
        (keys, g)
    }

    /// Flow recursion among the calls seen (one diagnostic per cycle, with the
    /// path); else flow calls nested past [`MAX_DEPTH`] (E0405, at the call past
    /// it on a longest chain).
    pub(super) fn flow_graph_errors(&self) -> Vec<Diagnostic> {
        let (keys, g) = self.call_graph();
        let found = self.flow_recursion(&keys, &g);
        if !found.is_empty() {
            return found;
        }
        flow_depth(&keys, &g).into_iter().collect()
    }

    fn flow_recursion(&self, keys: &[&FlowKey], g: &DiGraphMap<u32, Span>) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        for scc in tarjan_scc(g) {
            if scc.len() == 1 && !g.contains_edge(scc[0], scc[0]) {
                continue;
            }
            // Walk the cycle from its smallest member along edges inside the component.
            let set: HashSet<u32> = scc.iter().copied().collect();
            let start = *scc.iter().min().expect("non-empty component");
            let mut path = vec![start];
            let mut on_path = HashSet::from([start]);
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
                path.push(next);
                if !on_path.insert(next) {
                    break;
                }
                cur = next;
            }
            let names: Vec<String> = path
                .iter()
                .map(|i| format!("`{}`", keys[*i as usize].1))
                .collect();
            found.push(catalog::flow_recursion(span, &names.join(" → ")));
        }
        found
    }
}

/// E0405 when the longest chain of flow calls in the (acyclic) call graph is
/// more than [`MAX_DEPTH`] flows long: at the call that makes it one too many.
fn flow_depth(keys: &[&FlowKey], g: &DiGraphMap<u32, Span>) -> Option<Diagnostic> {
    let order = toposort(g, None).ok()?;
    // The flows nested from each flow down (itself included), and the call
    // that leads down a longest chain.
    let mut depth = vec![1usize; keys.len()];
    let mut down: Vec<Option<(u32, Span)>> = vec![None; keys.len()];
    for &f in order.iter().rev() {
        for (_, to, span) in g.edges(f) {
            if depth[to as usize] + 1 > depth[f as usize] {
                depth[f as usize] = depth[to as usize] + 1;
                down[f as usize] = Some((to, *span));
            }
        }
    }
    let top = order.iter().copied().max_by_key(|&f| depth[f as usize])?;
    if depth[top as usize] <= MAX_DEPTH {
        return None;
    }
    let mut names = vec![keys[top as usize].1.as_str()];
    let mut cur = top;
    let mut past = None;
    while let Some((to, span)) = down[cur as usize] {
        names.push(keys[to as usize].1.as_str());
        if names.len() == MAX_DEPTH + 1 {
            past = Some(span);
        }
        cur = to;
    }
    Some(
        catalog::nested_too_deep(
            past.expect("a chain longer than the limit passes it"),
            "flow calls",
            MAX_DEPTH,
            &crate::check::load::chain(&names),
        )
        .with_note(format!(
            "this chain is {} flows deep",
            catalog::thousands(names.len())
        )),
    )
}
