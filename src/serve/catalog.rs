//! The flows a server serves: each `.flow` file named on its command line (a
//! folder: every `.flow` file in it), checked at start, its flows described
//! as data a client can use (parameters as JSON Schema).

use serde_json::{Value, json};

use crate::check::Signature;
use crate::diag::render;
use crate::driver::{FsLoader, check_source};

/// One served flow.
#[derive(Clone, Debug)]
pub struct Flow {
    /// The file as the server was given it (`examples/ci.flow`).
    pub file: String,
    pub name: String,
    pub doc: Option<String>,
    /// The arguments' JSON Schema: an object with one property a parameter.
    pub params: Value,
    /// The result's JSON Schema (`{}` when the flow's result type is inferred).
    pub result: Value,
    /// Marked `export flow` (what `flowc mcp` serves when any flow is).
    pub export: bool,
}

impl Flow {
    pub fn to_json(&self) -> Value {
        json!({
            "file": self.file,
            "name": self.name,
            "doc": self.doc,
            "parameters": self.params,
            "result": self.result,
        })
    }
}

/// What was found in the files given.
pub struct Catalog {
    pub flows: Vec<Flow>,
    /// The files that have errors, with their rendered diagnostics: their
    /// flows are not served.
    pub refused: Vec<(String, String)>,
    /// The `schedule` items of the files served, with their file.
    pub schedules: Vec<(String, crate::check::schedule::Schedule)>,
}

impl Catalog {
    /// Checks `files` (folders expanded) and collects their flows, sorted by
    /// file and name.
    pub fn load(paths: &[String], store: &std::path::Path) -> Result<Catalog, String> {
        let mut files = Vec::new();
        for p in paths {
            let path = std::path::Path::new(p);
            if path.is_dir() {
                crate::files::flow_files_in(path, &mut files);
            } else if path.is_file() {
                files.push(p.clone());
            } else {
                return Err(format!("`{p}` is neither a `.flow` file nor a folder"));
            }
        }
        if files.is_empty() {
            return Err(format!(
                "no `.flow` files in {} (hidden folders and `target/` are skipped)",
                paths
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut flows = Vec::new();
        let mut refused = Vec::new();
        let mut schedules = Vec::new();
        for file in files {
            let text = crate::files::read_source(&file)?;
            let checked = check_source(&file, &text, &FsLoader::new(store));
            if checked.has_errors() {
                let shown = checked
                    .diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .map(|d| render::render(d, &checked.sources, false))
                    .collect::<Vec<_>>()
                    .join("\n");
                refused.push((file, shown));
                continue;
            }
            let mut sigs: Vec<&Signature> = checked
                .program
                .root_module()
                .flows
                .values()
                .map(|s| &**s)
                .collect();
            sigs.sort_by(|a, b| a.name.cmp(&b.name));
            schedules.extend(
                checked
                    .program
                    .schedules
                    .iter()
                    .map(|s| (file.clone(), s.clone())),
            );
            let exported: Vec<&str> = checked
                .program
                .root_module()
                .ast
                .items
                .iter()
                .filter_map(|it| match &it.kind {
                    crate::syntax::ast::ItemKind::Flow(f) if f.export => Some(f.name.name.as_str()),
                    _ => None,
                })
                .collect();
            flows.extend(sigs.into_iter().map(|s| Flow {
                export: exported.contains(&s.name.as_str()),
                ..describe(&file, s)
            }));
        }
        Ok(Catalog {
            flows,
            refused,
            schedules,
        })
    }

    pub fn find(&self, file: &str, name: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.file == file && f.name == name)
    }

    /// The flow `name` when `file` is not said: the only one of that name.
    pub fn by_name(&self, name: &str) -> Result<&Flow, String> {
        let found: Vec<&Flow> = self.flows.iter().filter(|f| f.name == name).collect();
        match found[..] {
            [one] => Ok(one),
            [] => Err(format!("no flow `{name}` is served")),
            _ => Err(format!(
                "several files serve a flow `{name}` ({}); say which with `file`",
                found
                    .iter()
                    .map(|f| format!("`{}`", f.file))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// A flow's signature as a client sees it.
pub fn describe(file: &str, s: &Signature) -> Flow {
    let props: serde_json::Map<String, Value> = s
        .params
        .iter()
        .map(|p| (p.name.clone(), p.ty.json_schema()))
        .collect();
    let required: Vec<&str> = s
        .params
        .iter()
        .filter(|p| !p.has_default && !p.ty.is_optional())
        .map(|p| p.name.as_str())
        .collect();
    Flow {
        file: file.to_string(),
        name: s.name.clone(),
        doc: s.doc.clone(),
        params: json!({
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": false,
        }),
        result: s.ret.as_ref().map(|t| t.json_schema()).unwrap_or(json!({})),
        export: false,
    }
}
