//! A [`Spec`] from what the checker knows of one block: the names in its
//! scope (the re-plan site's, `sites.rs`), the module's constants and
//! `context`, the tools and flows offered, the module's type names, the
//! names the failed block binds.

use std::sync::LazyLock;

use super::{Callable, DEFAULT_BINDS, Spec, language_defaults};
use crate::check::{Program, Signature};
use crate::syntax::is_reserved;
use crate::types::Type;

/// The names `text` (a block's source) binds: `let`, `for`, `loop`, `catch`
/// and branch names. Read from the words, so a name in a string may be
/// taken too (a name more the fragment may bind).
pub fn binds_in(text: &str) -> Vec<String> {
    static PATTERNS: LazyLock<Vec<regex::Regex>> = LazyLock::new(|| {
        [
            r"\blet\s+([A-Za-z_][A-Za-z0-9_]*)",
            r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b",
            r"\bloop\s+([A-Za-z_][A-Za-z0-9_]*)\s*=",
            r"\bcatch\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{",
            r"(?m)^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=[^=>]",
            r"[{,;]\s*([A-Za-z_][A-Za-z0-9_]*)\s*=[^=>]",
        ]
        .iter()
        .filter_map(|p| regex::Regex::new(p).ok())
        .collect()
    });
    let mut out: Vec<String> = Vec::new();
    for re in PATTERNS.iter() {
        for c in re.captures_iter(text) {
            let n = c[1].to_string();
            if !is_reserved(&n) && !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// A tool's or flow's signature as the grammar calls it, under `prefix`
/// (`alias.` for an imported module's).
pub fn callable(sig: &Signature, ret: Option<Type>, prefix: &str) -> Callable {
    Callable {
        name: format!("{prefix}{}", sig.name),
        params: sig
            .params
            .iter()
            .map(|p| (p.name.clone(), p.ty.clone()))
            .collect(),
        ret,
    }
}

/// The spec of a block of module `m`: `names` in scope (the site's), the
/// module's constants and `context`, `callables`, the names the fragment may
/// bind (the block's own and the usual ones), the module's type names;
/// `approve` when the policy lets a fragment ask a person.
pub fn spec_for(
    program: &Program,
    m: usize,
    names: &[(String, Type)],
    callables: Vec<Callable>,
    block_text: &str,
    approve: bool,
) -> Spec {
    let md = &program.modules[m];
    let mut all: Vec<(String, Type)> = Vec::new();
    let mut consts: Vec<(&String, &(Type, crate::span::Span))> = md.consts.iter().collect();
    consts.sort_by_key(|(n, _)| n.as_str());
    for (n, (t, _)) in consts {
        all.push((n.clone(), t.clone()));
    }
    all.push(("context".into(), crate::check::context_type()));
    all.extend(names.iter().cloned());
    let mut binds: Vec<String> = DEFAULT_BINDS.iter().map(|s| s.to_string()).collect();
    for b in binds_in(block_text) {
        if !binds.contains(&b) {
            binds.push(b);
        }
    }
    // A `loop`'s body counts its rounds.
    if block_text.contains("loop ") && !binds.iter().any(|b| b == "iteration") {
        binds.push("iteration".into());
    }
    // A bound name shadows a name in scope; the grammar keeps it typed.
    binds.retain(|b| !all.iter().any(|(n, _)| n == b));
    let mut type_names: Vec<String> = md.types.keys().cloned().collect();
    for (alias, &i) in &md.imports {
        for t in program.modules[i].types.keys() {
            type_names.push(format!("{alias}.{t}"));
        }
    }
    type_names.sort();
    // Field names: the module's types', its tools' and flows', the block's
    // own record keys.
    let mut fields: Vec<String> = Vec::new();
    let mut add = |t: &Type| fields_of(t, &mut fields);
    for t in md.types.values() {
        add(t);
    }
    for s in md.tools.values().chain(md.flows.values()) {
        for p in &s.params {
            add(&p.ty);
        }
        if let Some(t) = &s.ret {
            add(t);
        }
    }
    for ((mm, _), t) in &program.flow_types {
        if *mm == m {
            add(t);
        }
    }
    static KEY: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"([A-Za-z_][A-Za-z0-9_]*)\s*:").ok());
    if let Some(re) = KEY.as_ref() {
        for c in re.captures_iter(block_text) {
            let k = c[1].to_string();
            if !is_reserved(&k) && !fields.contains(&k) {
                fields.push(k);
            }
        }
    }
    let mut spec = Spec {
        fields,
        names: all,
        binds,
        callables,
        type_names,
        approve,
        ..Spec::default()
    };
    language_defaults(&mut spec);
    spec
}

/// The field names of `t`, at any depth, into `out`.
pub fn fields_of(t: &Type, out: &mut Vec<String>) {
    match t {
        Type::Record(rt) => {
            for f in &rt.fields {
                if !out.contains(&f.name) {
                    out.push(f.name.clone());
                }
                fields_of(&f.ty, out);
            }
        }
        Type::List(e) | Type::Optional(e) => fields_of(e, out),
        _ => {}
    }
}

/// Every tool and flow of module `m` and of the modules it imports (as
/// `alias.name`), for a block that no policy restricts.
pub fn all_callables(program: &Program, m: usize) -> Vec<Callable> {
    let md = &program.modules[m];
    let mut out = Vec::new();
    let mut push = |sigs: Vec<&std::rc::Rc<Signature>>, module: usize, prefix: &str| {
        let mut sigs = sigs;
        sigs.sort_by_key(|s| s.name.clone());
        for s in sigs {
            let ret = s
                .ret
                .clone()
                .or_else(|| program.flow_types.get(&(module, s.name.clone())).cloned());
            out.push(callable(s, ret, prefix));
        }
    };
    push(md.tools.values().chain(md.flows.values()).collect(), m, "");
    let mut imports: Vec<(&String, &usize)> = md.imports.iter().collect();
    imports.sort();
    for (alias, &i) in imports {
        let other = &program.modules[i];
        push(
            other.tools.values().chain(other.flows.values()).collect(),
            i,
            &format!("{alias}."),
        );
    }
    out
}
