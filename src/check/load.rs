//! Module loading: the root file, its imports (files, the standard library,
//! aliases), import cycles, and paths joined relative to the importing file.

use super::*;

pub(super) struct Load<'a> {
    pub(super) sources: &'a mut Sources,
    pub(super) loader: &'a dyn Loader,
    pub(super) modules: Vec<ModInfo>,
    pub(super) by_name: HashMap<String, usize>,
    pub(super) stack: Vec<String>,
    pub(super) order: Vec<usize>,
    pub(super) diags: Vec<Diagnostic>,
    /// Each import's path (and alias), and the module it loaded.
    pub(super) import_refs: Vec<(Span, usize)>,
}

impl Load<'_> {
    pub(super) fn load(&mut self, file: FileId, name: String) -> usize {
        let (ast, mut pd) = crate::syntax::parse(file, &self.sources.get(file).text);
        self.diags.append(&mut pd);
        let idx = self.modules.len();
        self.by_name.insert(name.clone(), idx);
        self.stack.push(name.clone());
        let imports: Vec<(Import, Span)> = ast
            .items
            .iter()
            .filter_map(|it| match &it.kind {
                ItemKind::Import(i) => Some((i.clone(), it.span)),
                _ => None,
            })
            .collect();
        self.modules.push(ModInfo {
            file,
            name: name.clone(),
            ast,
            imports: HashMap::new(),
            types: HashMap::new(),
            tools: HashMap::new(),
            flows: HashMap::new(),
            consts: HashMap::new(),
            broken_imports: HashSet::new(),
            policies: HashMap::new(),
        });
        let mut aliases: HashMap<String, Span> = HashMap::new();
        for (imp, span) in imports {
            let Some((key, alias, display)) = self.resolve_import(&name, &imp, span) else {
                continue;
            };
            if let Some(first) = aliases.get(alias.name.as_str()) {
                self.diags.push(catalog::duplicate(
                    alias.span,
                    "import",
                    &alias.name,
                    *first,
                ));
                continue;
            }
            aliases.insert(alias.name.to_string(), alias.span);
            if let Some(pos) = self.stack.iter().position(|s| *s == key) {
                let mut path: Vec<String> =
                    self.stack[pos..].iter().map(|s| format!("`{s}`")).collect();
                path.push(format!("`{key}`"));
                self.diags
                    .push(catalog::import_cycle(span, &path.join(" → ")));
                self.modules[idx]
                    .broken_imports
                    .insert(alias.name.to_string());
                continue;
            }
            let target = match self.by_name.get(&key) {
                Some(&i) => i,
                None if self.stack.len() >= MAX_DEPTH => {
                    self.diags.push(catalog::nested_too_deep(
                        span,
                        "imports",
                        MAX_DEPTH,
                        &chain(
                            &self
                                .stack
                                .iter()
                                .chain([&key])
                                .map(String::as_str)
                                .collect::<Vec<_>>(),
                        ),
                    ));
                    self.modules[idx]
                        .broken_imports
                        .insert(alias.name.to_string());
                    continue;
                }
                None => {
                    let text = match &imp.target {
                        ImportTarget::Module(_) => stdlib::module(&display)
                            .map(str::to_string)
                            .ok_or_else(String::new),
                        ImportTarget::File(..) => self.loader.read(&key),
                    };
                    match text {
                        Ok(text) => {
                            let f = self.sources.add(key.clone(), text);
                            self.load(f, key.clone())
                        }
                        Err(e) => {
                            let what = match &imp.target {
                                ImportTarget::Module(_) => format!("`{display}`"),
                                ImportTarget::File(..) => format!("file `{key}`"),
                            };
                            let help = match &imp.target {
                                ImportTarget::Module(_) => suggest(&display, stdlib::names())
                                    .or_else(|| {
                                        Some(format!(
                                            "standard modules: {}",
                                            stdlib::names().collect::<Vec<_>>().join(", ")
                                        ))
                                    }),
                                ImportTarget::File(..) => {
                                    Some(format!("{e}; paths are relative to the importing file"))
                                }
                            };
                            self.diags.push(catalog::unknown_module(span, &what, help));
                            self.modules[idx]
                                .broken_imports
                                .insert(alias.name.to_string());
                            continue;
                        }
                    }
                }
            };
            let path_span = match &imp.target {
                ImportTarget::Module(path) => path
                    .first()
                    .expect("grammar: non-empty path")
                    .span
                    .to(path.last().expect("grammar: non-empty path").span),
                ImportTarget::File(_, s) => *s,
            };
            self.import_refs.push((path_span, target));
            if imp.alias.is_some() {
                self.import_refs.push((alias.span, target));
            }
            self.modules[idx]
                .imports
                .insert(alias.name.to_string(), target);
        }
        self.stack.pop();
        self.order.push(idx);
        idx
    }

    /// (module key, alias, display name) of an import.
    fn resolve_import(
        &self,
        from: &str,
        imp: &Import,
        span: Span,
    ) -> Option<(String, Ident, String)> {
        match &imp.target {
            ImportTarget::Module(path) => {
                let display = path
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                let alias = imp
                    .alias
                    .clone()
                    .unwrap_or_else(|| path.last().expect("grammar: non-empty path").clone());
                Some((format!("<{display}>"), alias, display))
            }
            ImportTarget::File(rel, _) => {
                let key = join_path(from, rel);
                let stem = std::path::Path::new(rel)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("module")
                    .to_string();
                let alias = imp.alias.clone().unwrap_or(Ident {
                    name: stem.into(),
                    span,
                });
                Some((key.clone(), alias, key))
            }
        }
    }
}

/// A long chain of names shown by its ends: `a` → `b` → … → `y` → `z`.
pub(super) fn chain(names: &[&str]) -> String {
    let n = names.len();
    let shown = |s: &&str| format!("`{s}`");
    if n <= 6 {
        return names.iter().map(shown).collect::<Vec<_>>().join(" → ");
    }
    let mut parts = Vec::new();
    for (i, s) in names.iter().enumerate() {
        if i < 2 || i >= n - 2 {
            parts.push(shown(s));
        } else if i == 2 {
            parts.push("…".to_string());
        }
    }
    parts.join(" → ")
}

/// `rel` relative to the folder of `from`, with `.` and `..` folded.
fn join_path(from: &str, rel: &str) -> String {
    let base = if rel.starts_with('/') {
        std::path::PathBuf::new()
    } else {
        std::path::Path::new(from)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    };
    let mut parts: Vec<String> = Vec::new();
    for c in base.join(rel).components() {
        use std::path::Component;
        match c {
            Component::CurDir => {}
            Component::ParentDir if parts.last().is_some_and(|p| p != "..") => {
                parts.pop();
            }
            Component::RootDir => parts.push(String::new()),
            c => parts.push(c.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}
