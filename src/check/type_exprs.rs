//! Type expressions resolved to types: type aliases (with their cycles),
//! records, literal unions, and names qualified by a module.

use super::*;

pub(super) struct TypeResolver<'a> {
    pub(super) program: &'a Program,
    pub(super) module: usize,
    pub(super) asts: &'a HashMap<String, TypeExpr>,
    pub(super) done: HashMap<String, Option<Type>>,
    pub(super) in_progress: Vec<String>,
    pub(super) diags: &'a mut Vec<Diagnostic>,
}

impl TypeResolver<'_> {
    pub(super) fn alias(&mut self, name: &str) -> Type {
        if let Some(t) = self.done.get(name) {
            return t.clone().unwrap_or(Type::Unknown);
        }
        if self.in_progress.iter().any(|n| n == name) {
            return Type::Unknown;
        }
        let Some(ast) = self.asts.get(name) else {
            return Type::Unknown;
        };
        self.in_progress.push(name.to_string());
        let ty = self.resolve(ast, name);
        self.in_progress.pop();
        let ty = match ty {
            Type::Record(r) => Type::Record(Rc::new(RecordTy {
                fields: r.fields.clone(),
                name: Some(name.to_string()),
            })),
            t => t,
        };
        self.done.insert(name.to_string(), Some(ty.clone()));
        ty
    }

    fn resolve(&mut self, t: &TypeExpr, alias: &str) -> Type {
        match &t.kind {
            TypeExprKind::Name(path)
                if path.len() == 1 && self.asts.contains_key(path[0].name.as_str()) =>
            {
                if self.in_progress.iter().any(|n| *n == path[0].name) {
                    self.diags.push(
                        catalog::invalid_type(t.span, &format!("type `{alias}` refers to itself"))
                            .with_label("recursive reference"),
                    );
                    return Type::Unknown;
                }
                let md = &self.program.modules[self.module];
                if let Some(d) = type_decl(md, &path[0].name) {
                    self.program
                        .record_ref(path[0].span, index::Target::Decl(d, index::DeclKind::Type));
                }
                self.alias(&path[0].name)
            }
            TypeExprKind::Name(_) | TypeExprKind::Null | TypeExprKind::Literal(_) => {
                resolve_type(self.program, self.module, t, self.diags)
            }
            TypeExprKind::List(e) => Type::list(self.resolve(e, alias)),
            TypeExprKind::Optional(e) => Type::optional(self.resolve(e, alias)),
            TypeExprKind::Union(_) => resolve_type(self.program, self.module, t, self.diags),
            TypeExprKind::Record(fields) => {
                let mut out = Vec::new();
                for f in super::first_named(fields, |f| &f.name, "field", self.diags) {
                    out.push(FieldTy {
                        name: f.name.name.to_string(),
                        ty: self.resolve(&f.ty, alias),
                        optional: f.optional,
                    });
                }
                Type::record(out)
            }
        }
    }
}

/// Resolves a type expression in module `m` (aliases must be declared already).
pub fn resolve_type(p: &Program, m: usize, t: &TypeExpr, diags: &mut Vec<Diagnostic>) -> Type {
    match &t.kind {
        TypeExprKind::Null => Type::Null,
        TypeExprKind::Literal(s) => Type::lit(s),
        TypeExprKind::List(e) => Type::list(resolve_type(p, m, e, diags)),
        TypeExprKind::Optional(e) => Type::optional(resolve_type(p, m, e, diags)),
        TypeExprKind::Union(parts) => {
            let mut lits = Vec::new();
            let mut optional = false;
            for part in parts {
                match &part.kind {
                    TypeExprKind::Literal(s) => lits.push(s.clone()),
                    TypeExprKind::Null => optional = true,
                    _ => {
                        diags.push(
                            catalog::invalid_type(
                                part.span,
                                "only string literals can be combined with `|`",
                            )
                            .with_label("not a string literal"),
                        );
                        return Type::Unknown;
                    }
                }
            }
            let t = Type::lits(lits);
            if optional { Type::optional(t) } else { t }
        }
        TypeExprKind::Record(fields) => {
            let mut out = Vec::new();
            for f in super::first_named(fields, |f| &f.name, "field", diags) {
                out.push(FieldTy {
                    name: f.name.name.to_string(),
                    ty: resolve_type(p, m, &f.ty, diags),
                    optional: f.optional,
                });
            }
            Type::record(out)
        }
        TypeExprKind::Name(path) => {
            let md = &p.modules[m];
            match path.as_slice() {
                [one] => match one.name.as_str() {
                    "string" => Type::String,
                    "int" => Type::Int,
                    "float" => Type::Float,
                    "bool" => Type::Bool,
                    "duration" => Type::Duration,
                    "json" => Type::Json,
                    n => match md.types.get(n) {
                        Some(t) => {
                            if let Some(d) = type_decl(md, n) {
                                p.record_ref(
                                    one.span,
                                    index::Target::Decl(d, index::DeclKind::Type),
                                );
                            }
                            t.clone()
                        }
                        None => {
                            let cands: Vec<&str> = BUILTIN_TYPES
                                .iter()
                                .copied()
                                .chain(md.types.keys().map(String::as_str))
                                .collect();
                            let mut help = suggest(n, cands.iter().copied());
                            if help.is_none()
                                && matches!(
                                    n,
                                    "integer" | "number" | "str" | "boolean" | "any" | "object"
                                )
                            {
                                help =
                                    Some(format!("built-in types: {}", BUILTIN_TYPES.join(", ")));
                            }
                            diags.push(catalog::unknown_type(one.span, n, help));
                            Type::Unknown
                        }
                    },
                },
                [module, name] => match md.imports.get(module.name.as_str()) {
                    Some(&mi) => match p.modules[mi].types.get(name.name.as_str()) {
                        Some(t) => {
                            p.record_ref(module.span, index::Target::Module(mi));
                            if let Some(d) = type_decl(&p.modules[mi], &name.name) {
                                p.record_ref(
                                    name.span,
                                    index::Target::Decl(d, index::DeclKind::Type),
                                );
                            }
                            t.clone()
                        }
                        None => {
                            let help =
                                suggest(&name.name, p.modules[mi].types.keys().map(String::as_str));
                            diags.push(catalog::unknown_member(
                                name.span,
                                &module.name,
                                &name.name,
                                help,
                            ));
                            Type::Unknown
                        }
                    },
                    None if md.broken_imports.contains(module.name.as_str()) => Type::Unknown,
                    None => {
                        diags.push(catalog::unknown_type(
                            t.span,
                            &format!("{}.{}", module.name, name.name),
                            Some(format!(
                                "import the module first: `import std.{}`",
                                module.name
                            )),
                        ));
                        Type::Unknown
                    }
                },
                _ => {
                    let n: Vec<&str> = path.iter().map(|i| i.name.as_str()).collect();
                    diags.push(catalog::unknown_type(t.span, &n.join("."), None));
                    Type::Unknown
                }
            }
        }
    }
}

/// The span of the name of the type `name` declared in `md`.
fn type_decl(md: &ModInfo, name: &str) -> Option<Span> {
    md.ast.items.iter().find_map(|it| match &it.kind {
        ItemKind::Type(t) if t.name.name == name => Some(t.name.span),
        _ => None,
    })
}
