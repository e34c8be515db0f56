//! The REPL's commands: `:type`, `:graph`, `:load`, `:tools`, `:env`,
//! `:reset`, `:help`, `:quit`, and the names completion offers.

use super::*;
use crate::diag::suggest;
use crate::ir::{BlockGraph, EdgeKind};

impl Session {
    pub(super) fn command(&mut self, text: &str) -> Next {
        let trimmed = text.trim();
        let (cmd, rest) = trimmed
            .split_once(char::is_whitespace)
            .map_or((trimmed, ""), |(c, r)| (c, r.trim()));
        match cmd {
            ":quit" | ":q" | ":exit" => return Next::Quit,
            ":help" | ":h" | ":?" => self.out(&help()),
            ":type" | ":t" => self.type_of(text),
            ":graph" | ":g" => self.graph(rest),
            ":load" | ":l" => {
                if rest.is_empty() {
                    self.error("`:load` needs a file: `:load path/to/file.flow`");
                } else {
                    self.load(rest);
                }
            }
            ":tools" => self.tools(),
            ":env" => self.env(),
            ":reset" => {
                self.decls.clear();
                self.base = None;
                self.bindings.clear();
                self.out("session reset");
                self.load_initial();
            }
            _ => {
                let names = COMMANDS
                    .iter()
                    .map(|(c, _)| c.split(' ').next().unwrap_or(c));
                let help = suggest(cmd, names)
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                self.error(&format!(
                    "unknown command `{cmd}`{help}; `:help` lists the commands"
                ));
            }
        }
        Next::Continue
    }

    /// `:load FILE`: reads and declares a file's items. `false` if it cannot be read.
    pub(super) fn load(&mut self, file: &str) -> bool {
        match crate::files::read_source(file) {
            Ok(text) => {
                let origin = Origin::new(file, text);
                self.declare(&origin, true);
                true
            }
            Err(e) => {
                self.error(&e);
                false
            }
        }
    }

    /// `:type EXPR`: checks the expression with the session, runs nothing.
    fn type_of(&mut self, text: &str) {
        let origin = Origin::new(format!("<input {}>", self.count), text);
        let start = text.find(":t").unwrap_or(0);
        let after_cmd = start
            + text[start..]
                .find(char::is_whitespace)
                .unwrap_or(text.len() - start);
        let expr_start =
            after_cmd + (text[after_cmd..].len() - text[after_cmd..].trim_start().len());
        let expr_end = text.trim_end().len().max(expr_start);
        if expr_start >= expr_end {
            self.error("`:type` needs an expression: `:type len(xs)`");
            return;
        }
        let mut base = self.take_base();
        if let Some((file, body)) =
            self.parse_input(&mut base.checked.sources, &origin, expr_start..expr_end)
        {
            let (body, _) = step_body(body, &[]);
            self.check_step(&mut base, file, body, &[]);
            if !self.report(&base, &origin) {
                let ty = step_type(&base.checked.program)
                    .and_then(|r| r.field(VALUE).map(|f| f.ty.clone()))
                    .unwrap_or(Type::Json);
                self.out(&show_type(&ty, &base.checked.program));
            }
        }
        self.keep(base);
    }

    /// Checks the declarations alone (for `:graph`, `:tools`, `:env` and completion).
    pub(super) fn check_decls(&self) -> Check {
        let mut c = Composed::default();
        self.compose_decls(&self.decls, &mut c);
        self.check(c)
    }

    /// The types of the declared constants, in order. (`ModInfo::consts` is
    /// not filled by the checker, so they are read from a step that returns them.)
    pub(super) fn const_types(&self, check: &mut Check) -> Vec<(String, Type)> {
        let names: Vec<String> = check
            .checked
            .program
            .root_module()
            .ast
            .items
            .iter()
            .filter_map(|it| match &it.kind {
                ItemKind::Const(c) => Some(c.name.name.to_string()),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            return Vec::new();
        }
        // A step of the record of the constants, outside the bindings' scope.
        let all: Vec<String> = self.bindings.iter().map(|b| b.name.clone()).collect();
        let file = check.checked.sources.add("<constants>", "");
        let at = Span::new(file, 0, 0);
        let fields: Vec<&str> = names.iter().map(String::as_str).collect();
        let body = Block {
            stmts: vec![record_of(&fields, at)],
            span: at,
        };
        self.check_step(check, file, body, &all);
        let types = step_type(&check.checked.program);
        names
            .into_iter()
            .map(|n| {
                let t = types
                    .as_ref()
                    .and_then(|r| r.field(&n))
                    .map_or(Type::Unknown, |f| f.ty.clone());
                (n, t)
            })
            .collect()
    }

    fn graph(&mut self, args: &str) {
        let check = self.check_decls();
        let program = &check.checked.program;
        let md = program.root_module();
        let mut flows: Vec<&String> = md.flows.keys().filter(|n| *n != STEP).collect();
        flows.sort();
        let mut words = args.split_whitespace();
        let mut flow = words.next();
        let mut format = words.next();
        if let Some(f) = flow
            && matches!(f, "dot" | "mermaid" | "json")
            && !md.flows.contains_key(f)
        {
            format = Some(f);
            flow = None;
        }
        let list = flows
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let name = match flow {
            Some(f) if md.flows.contains_key(f) && f != STEP => f.to_string(),
            Some(f) => {
                let help = suggest(f, flows.iter().map(|s| s.as_str()))
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                let known = if flows.is_empty() {
                    "no flow is declared".to_string()
                } else {
                    format!("the flows: {list}")
                };
                self.error(&format!("no flow `{f}`{help}; {known}"));
                return;
            }
            None if flows.len() == 1 => flows[0].clone(),
            None if flows.is_empty() => {
                self.error("no flow is declared; declare one with `flow name() { … }`");
                return;
            }
            None => {
                self.error(&format!("which flow? `:graph NAME` with one of {list}"));
                return;
            }
        };
        let mut g = crate::ir::lower_flow(program, &check.checked.sources, program.root, &name);
        // Lines of the session text mean nothing to the user: use those of the inputs.
        let r = check.renderer(false);
        remap_lines(&mut g.body, &r);
        let text = match format {
            None => {
                let top = g.body.graph.node_count();
                let levels = g.body.levels.iter().max().map_or(0, |l| l + 1);
                let mut s = format!(
                    "flow {name}: {top} step{} in {levels} level{}\n",
                    if top == 1 { "" } else { "s" },
                    if levels == 1 { "" } else { "s" }
                );
                graph_text(&g.body, 1, &mut s);
                s.trim_end().to_string()
            }
            Some("dot") => g.to_dot().trim_end().to_string(),
            Some("mermaid") => g.to_mermaid().trim_end().to_string(),
            Some("json") => serde_json::to_string_pretty(&g.to_json()).expect("graphs serialise"),
            Some(other) => {
                self.error(&format!(
                    "unknown graph format `{other}`; use dot, mermaid or json"
                ));
                return;
            }
        };
        self.out(&text);
    }

    fn tools(&mut self) {
        let check = self.check_decls();
        let p = &check.checked.program;
        let mut lines = Vec::new();
        let mut modules: Vec<(String, usize)> = vec![(String::new(), p.root)];
        let mut imports: Vec<(&String, &usize)> = p.root_module().imports.iter().collect();
        imports.sort();
        modules.extend(imports.into_iter().map(|(a, m)| (format!("{a}."), *m)));
        for (prefix, m) in modules {
            let md = &p.modules[m];
            let text = &check.checked.sources.get(md.file).text;
            for it in &md.ast.items {
                let (line, doc) = match &it.kind {
                    ItemKind::Tool(t) => {
                        let Some(sig) = md.tools.get(t.name.name.as_str()) else {
                            continue;
                        };
                        let binding = crate::run::redact::redact(
                            &text
                                .get(t.binding.span.range())
                                .unwrap_or("")
                                .split_whitespace()
                                .collect::<Vec<_>>()
                                .join(" "),
                        );
                        (
                            format!(
                                "{}tool {prefix}{} = {binding}",
                                if sig.effect { "effect " } else { "" },
                                signature(sig, sig.ret.as_ref(), p)
                            ),
                            &it.doc,
                        )
                    }
                    ItemKind::Flow(f) if f.name.name != STEP => {
                        let Some(sig) = md.flows.get(f.name.name.as_str()) else {
                            continue;
                        };
                        let ret = p.flow_types.get(&(m, f.name.name.to_string()));
                        (format!("flow {prefix}{}", signature(sig, ret, p)), &it.doc)
                    }
                    _ => continue,
                };
                lines.push(line);
                let doc = doc
                    .clone()
                    .or_else(|| doc_above(text, it.span.start as usize));
                if let Some(d) = doc.as_deref().and_then(|d| d.lines().next()) {
                    lines.push(format!("    {}", d.trim()));
                }
            }
        }
        if lines.is_empty() {
            self.out("no tools or flows are declared");
        } else {
            self.out(&lines.join("\n"));
        }
    }

    fn env(&mut self) {
        let mut check = self.check_decls();
        let consts = self.const_types(&mut check);
        let p = &check.checked.program;
        let mut lines: Vec<String> = consts
            .iter()
            .map(|(n, t)| format!("const {n} : {}", show_type(t, p)))
            .collect();
        lines.extend(
            self.bindings
                .iter()
                .map(|b| format!("{} : {}", b.name, show_type(&b.ty, p))),
        );
        if lines.is_empty() {
            self.out("no bindings yet");
        } else {
            self.out(&lines.join("\n"));
        }
    }

    /// The names completion offers: declarations, imports and their members, bindings.
    pub fn names(&self) -> Names {
        let check = self.check_decls();
        let p = &check.checked.program;
        let md = p.root_module();
        let mut names = Names::default();
        let members = |m: usize| -> Vec<String> {
            let md = &p.modules[m];
            let consts = md.ast.items.iter().filter_map(|it| match &it.kind {
                ItemKind::Const(c) => Some(c.name.name.as_str()),
                _ => None,
            });
            let mut v: Vec<String> = md
                .tools
                .keys()
                .chain(md.flows.keys())
                .map(String::as_str)
                .chain(consts)
                .chain(md.types.keys().map(String::as_str))
                .map(str::to_string)
                .collect();
            v.sort();
            v
        };
        names.words = members(p.root);
        for (alias, &m) in &md.imports {
            names.words.push(alias.clone());
            names.members.insert(alias.clone(), members(m));
        }
        names.flows = md.flows.keys().cloned().collect();
        names.flows.sort();
        for b in &self.bindings {
            names.words.push(b.name.clone());
            names.types.insert(b.name.clone(), b.ty.clone());
        }
        names
            .types
            .insert("context".into(), crate::check::context_type());
        names.words.retain(|w| w != STEP);
        names.flows.retain(|w| w != STEP);
        names
    }
}

/// The `///` lines right above byte `start` of `text`, joined.
fn doc_above(text: &str, start: usize) -> Option<String> {
    let mut lines: Vec<&str> = text[..start.min(text.len())]
        .lines()
        .rev()
        .skip_while(|l| l.trim().is_empty())
        .map_while(|l| l.trim().strip_prefix("///"))
        .map(str::trim)
        .collect();
    lines.reverse();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn help() -> String {
    let mut s = String::from(
        "Type declarations (tool, type, flow, const, import) or statements (let x = …, expressions).\n\
         An expression prints its value and type; tool calls run. An input continues on the\n\
         next line while a bracket or block is open; an empty line ends it.\n\n",
    );
    let w = COMMANDS.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    for (c, what) in COMMANDS {
        s.push_str(&format!("  {c:w$}  {what}\n"));
    }
    s.push_str(
        "\nTab completes names and commands; Ctrl-C cancels the running step; Ctrl-D leaves.",
    );
    s
}

/// Sets the lines and columns of a lowered block to those in the inputs.
fn remap_lines(b: &mut BlockGraph, r: &Renderer<'_>) {
    for n in b.graph.node_weights_mut() {
        if let Some((_, line, column)) = r.position(n.line, n.column) {
            n.line = line;
            n.column = column;
        }
        for c in &mut n.children {
            remap_lines(c, r);
        }
    }
}

/// A block of a lowered flow, one line per step, by level.
fn graph_text(b: &BlockGraph, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let mut nodes: Vec<_> = b.graph.node_indices().collect();
    nodes.sort_by_key(|i| (b.levels[i.index()], i.index()));
    for i in nodes {
        let n = &b.graph[i];
        let mut line = format!("{pad}L{} {}", b.levels[i.index()], n.label);
        if !n.calls.is_empty() {
            line.push_str(&format!(" = {}", n.calls.join(", ")));
        }
        let mut inputs: Vec<(usize, String)> = b
            .graph
            .edges_directed(i, petgraph::Direction::Incoming)
            .map(|e| {
                use petgraph::visit::EdgeRef;
                let from = &b.graph[e.source()].label;
                let what = match e.weight() {
                    EdgeKind::Data => from.clone(),
                    EdgeKind::After => format!("{from} (after)"),
                    EdgeKind::Sequence => format!("{from} (sequence)"),
                    EdgeKind::Effect => format!("{from} (effect order)"),
                };
                (e.source().index(), what)
            })
            .collect();
        inputs.sort();
        if !inputs.is_empty() {
            let names: Vec<String> = inputs.into_iter().map(|(_, w)| w).collect();
            line.push_str(&format!("  <- {}", names.join(", ")));
        }
        out.push_str(&line);
        out.push('\n');
        for child in &n.children {
            out.push_str(&format!("{pad}  {}:\n", child.label));
            graph_text(child, depth + 2, out);
        }
    }
}
