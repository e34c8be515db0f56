//! The scope stack: each scope's bindings, a scope's end (unused bindings,
//! its record in the index), and name lookup (locals, forcing a `let`
//! referenced before its turn, cycles, constants, `context`, did-you-mean).

use super::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(in crate::check) enum BindKind {
    Let,
    Param,
    ForVar,
    LoopVar,
    CatchVar,
    Implicit,
}

#[derive(Debug)]
pub(in crate::check) struct Binding {
    /// `None` while the `let` has not been checked yet (or is being checked).
    pub(super) ty: Option<Type>,
    pub(super) span: Span,
    pub(super) used: bool,
    pub(super) kind: BindKind,
    /// Index of the `let` in the scope's statements.
    pub(super) stmt: Option<usize>,
}

pub(in crate::check) struct Scope<'p> {
    pub(super) names: rustc_hash::FxHashMap<String, Binding>,
    pub(super) stmts: Option<&'p [Stmt]>,
    /// `let`s being checked, in order, for cycle paths.
    pub(super) in_progress: Vec<String>,
    /// The block's key in [`BlockInfo`] tables, and the statement being checked.
    pub(super) block: Option<BlockKey>,
    pub(super) current: Option<usize>,
    /// For a `sequence`: lets defined later in it (name -> span).
    pub(super) later: rustc_hash::FxHashMap<String, Span>,
    /// The enclosing `loop`/`for` constructs when the scope was opened.
    pub(super) loops: Vec<&'static str>,
    /// Where its names are visible, for the index.
    pub(super) span: Span,
}

impl BindKind {
    pub(super) fn decl_kind(self) -> DeclKind {
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
    pub(super) fn new(loops: Vec<&'static str>, span: Span) -> Self {
        Scope {
            span,
            names: Default::default(),
            stmts: None,
            in_progress: Vec::new(),
            later: Default::default(),
            block: None,
            current: None,
            loops,
        }
    }
}

impl<'p> Ctx<'p> {
    pub(super) fn pop_scope(&mut self) {
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

    /// Resolves a name in scope; reports unknown names. Marks it used.
    pub(super) fn lookup_name(&mut self, id: &Ident) -> Type {
        for level in (0..self.scopes.len()).rev() {
            let Some(b) = self.scopes[level].names.get_mut(id.name.as_str()) else {
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
            let Some(b) = self.scopes[level].names.get_mut(id.name.as_str()) else {
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
                if let Some(b) = self.scopes[level].names.get_mut(id.name.as_str()) {
                    b.ty = Some(Type::Unknown);
                }
                return Type::Unknown;
            }
            return self.force(level, &id.name);
        }
        // Defined later in an enclosing `sequence`?
        for level in (0..self.scopes.len()).rev() {
            if let Some(def) = self.scopes[level].later.get(id.name.as_str()) {
                self.diags
                    .push(catalog::used_before_defined(id.span, &id.name, *def));
                return Type::Unknown;
            }
        }
        if let Some((t, span)) = self
            .consts_cache
            .get(&self.module)
            .and_then(|c| c.get(id.name.as_str()))
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
        if md.broken_imports.contains(id.name.as_str()) {
            return Type::Unknown;
        }
        if md.imports.contains_key(id.name.as_str()) {
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
        if help.is_none()
            && (md.tools.contains_key(id.name.as_str()) || md.flows.contains_key(id.name.as_str()))
        {
            help = Some(format!(
                "`{0}` is a tool or flow; call it: `{0}(…)`",
                id.name
            ));
        }
        self.diags
            .push(catalog::unknown_name(id.span, &id.name, help));
        Type::Unknown
    }
}
