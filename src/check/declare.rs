//! Declarations: each module's names (values and types apart), type aliases,
//! tool and flow signatures, parameters, and the module's policies.

use super::bindings::{check_binding, check_exec_program};
use super::type_exprs::TypeResolver;
use super::*;

/// Collects declarations: names, type aliases, tool and flow signatures, constants.
pub(super) fn declare(
    p: &mut Program,
    m: usize,
    dir: &std::path::Path,
    loader: &dyn Loader,
    diags: &mut Vec<Diagnostic>,
) {
    // Names: values (tools, flows, consts) and types are separate namespaces.
    let mut values: HashMap<String, Span> = HashMap::new();
    let mut types: HashMap<String, Span> = HashMap::new();
    let mut type_asts: HashMap<String, TypeExpr> = HashMap::new();
    for it in &p.modules[m].ast.items {
        let (ns, what) = match &it.kind {
            ItemKind::Type(_) => (&mut types, "type"),
            ItemKind::Tool(_) => (&mut values, "tool"),
            ItemKind::Flow(_) => (&mut values, "flow"),
            ItemKind::Const(_) => (&mut values, "constant"),
            _ => continue,
        };
        let name = it.kind.name().expect("named item");
        if let Some(first) = ns.get(name.name.as_str()) {
            diags.push(catalog::duplicate(name.span, what, &name.name, *first));
            continue;
        }
        ns.insert(name.name.to_string(), name.span);
        // A tool or flow may take a built-in's name (a tool `upper` is fine):
        // calls in this module go to the declaration. A constant is not callable,
        // so its name would only hide nothing and confuse.
        if what == "constant" && is_builtin_fn(&name.name) {
            diags.push(catalog::shadows_builtin(name.span, what, &name.name));
            continue;
        }
        if let ItemKind::Type(t) = &it.kind {
            if BUILTIN_TYPES.contains(&t.name.name.as_str()) {
                diags.push(catalog::invalid_type(
                    t.name.span,
                    &format!(
                        "`{}` is a built-in type and cannot be redefined",
                        t.name.name
                    ),
                ));
                continue;
            }
            type_asts.insert(t.name.name.to_string(), t.ty.clone());
        }
    }
    let mut resolver = TypeResolver {
        program: p,
        module: m,
        asts: &type_asts,
        done: HashMap::new(),
        in_progress: Vec::new(),
        diags,
    };
    let mut names: Vec<&String> = type_asts.keys().collect();
    names.sort();
    for n in names {
        resolver.alias(n);
    }
    let resolved = resolver.done;
    p.modules[m].types = resolved
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(Type::Unknown)))
        .collect();

    // Signatures are made with the program borrowed, then stored (no copy of the AST).
    let mut tools = Vec::new();
    let mut flows = Vec::new();
    let program: &Program = p;
    let servers = super::mcp::declare_servers(&program.modules[m].ast.items, diags);
    let mut answers = HashMap::new();
    for it in &program.modules[m].ast.items {
        let p = program;
        match &it.kind {
            ItemKind::Tool(t) => {
                let params = declare_params(p, m, &t.params, diags);
                let ret = resolve_type(p, m, &t.ret, diags);
                check_binding(&t.binding, diags);
                check_exec_program(&t.binding, &t.name.name, dir, loader, diags);
                super::mcp::check_tool(
                    t,
                    &params,
                    &ret,
                    &servers,
                    &mut answers,
                    dir,
                    loader,
                    diags,
                );
                if let Some(o) = &t.options {
                    options::check_static(o, options::Place::Tool { effect: t.effect }, diags);
                }
                let sig = Signature {
                    name: t.name.name.to_string(),
                    params,
                    ret: Some(ret),
                    effect: t.effect,
                    is_flow: false,
                    span: t.name.span,
                    doc: it.doc.clone(),
                };
                tools.push((t.name.name.to_string(), Rc::new(sig)));
            }
            ItemKind::Flow(f) => {
                let params = declare_params(p, m, &f.params, diags);
                let ret = f.ret.as_ref().map(|r| resolve_type(p, m, r, diags));
                let sig = Signature {
                    name: f.name.name.to_string(),
                    params,
                    ret,
                    effect: false,
                    is_flow: true,
                    span: f.name.span,
                    doc: it.doc.clone(),
                };
                flows.push((f.name.name.to_string(), Rc::new(sig)));
            }
            _ => {}
        }
    }
    p.modules[m].tools.extend(tools);
    p.modules[m].flows.extend(flows);
    policy::declare(p, m, diags);
}

fn declare_params(
    p: &Program,
    m: usize,
    params: &[Param],
    diags: &mut Vec<Diagnostic>,
) -> Vec<ParamSig> {
    let mut out = Vec::new();
    for prm in super::first_named(params, |p| &p.name, "parameter", diags) {
        out.push(ParamSig {
            name: prm.name.name.to_string(),
            ty: resolve_type(p, m, &prm.ty, diags),
            has_default: prm.default.is_some(),
            span: prm.span,
        });
    }
    out
}
