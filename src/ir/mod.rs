//! The lowered program: each block is a DAG (petgraph) whose nodes are its
//! statements (or branches) and whose edges come from data references, `after`,
//! `sequence` order and the source order of `effect` steps. Nested blocks are
//! clusters inside the node that contains them. Levels are for display only:
//! the scheduler starts a node as soon as its inputs are ready.

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::{Value, json};

use crate::check::{BlockInfo, Program, block_key};
use crate::source::Sources;
use crate::span::LineIndex;
use crate::syntax::ast::*;
use crate::syntax::span::Span;

pub mod edges;
pub mod expr;
pub mod path;
pub mod plan;
pub mod slots;

pub use path::StepPath;
pub use plan::{Bodies, EdgeKind, Lowered, lower_program, lower_program_taking, take_bodies};

#[derive(Clone, Debug)]
pub struct Node {
    pub label: String,
    pub kind: &'static str,
    pub line: usize,
    pub column: usize,
    /// Tools and flows this node calls directly (not inside nested blocks).
    pub calls: Vec<String>,
    pub children: Vec<BlockGraph>,
}

#[derive(Clone, Debug)]
pub struct BlockGraph {
    pub label: String,
    pub graph: DiGraph<Node, EdgeKind>,
    /// The level of each node: 0 for nodes without inputs, else 1 + the deepest input.
    pub levels: Vec<usize>,
}

pub struct FlowGraph {
    pub flow: String,
    pub body: BlockGraph,
}

struct Lower<'a> {
    program: &'a Program,
    sources: &'a Sources,
    /// The module of the flow: where single names resolve.
    module: usize,
    /// Each source file's line starts (by `FileId`), for the nodes' positions.
    lines: Vec<LineIndex<'a>>,
}

/// Lowers flow `name` of module `m`.
pub fn lower_flow(program: &Program, sources: &Sources, m: usize, name: &str) -> FlowGraph {
    let l = Lower {
        program,
        sources,
        module: m,
        lines: sources
            .iter()
            .map(|(_, f)| LineIndex::new(&f.text))
            .collect(),
    };
    let flow = program.modules[m]
        .ast
        .items
        .iter()
        .find_map(|i| match &i.kind {
            ItemKind::Flow(f) if f.name.name == name => Some(f),
            _ => None,
        })
        .expect("the flow exists");
    FlowGraph {
        flow: name.to_string(),
        body: l.block(&flow.body, format!("flow {name}")),
    }
}

impl Lower<'_> {
    fn pos(&self, span: Span) -> (usize, usize) {
        self.lines[span.file.0 as usize].line_col(span.start as usize)
    }

    /// The source text at `span` on one line (runs of white space as one
    /// space), cut to 60 characters: a condition or pattern in a label.
    fn text(&self, span: Span) -> String {
        let text = self.sources.get(span.file).text.as_str();
        let one_line = text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("…")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        match one_line.char_indices().nth(60) {
            Some((cut, _)) => format!("{}…", &one_line[..cut]),
            None => one_line,
        }
    }

    fn block(&self, b: &Block, label: String) -> BlockGraph {
        self.block_as(b, label, false)
    }

    /// A block's graph; `sequence`: a `sequence { … }`'s, whose statements
    /// also wait each for the one before it.
    fn block_as(&self, b: &Block, label: String, sequence: bool) -> BlockGraph {
        let mut g: DiGraph<Node, EdgeKind> = DiGraph::new();
        let mut idx: Vec<NodeIndex> = Vec::new();
        for (i, s) in b.stmts.iter().enumerate() {
            let (label, kind, expr) = match &s.kind {
                StmtKind::Let { name, value, .. } => (name.name.to_string(), "let", Some(value)),
                StmtKind::Expr { expr, .. } => (
                    if i + 1 == b.stmts.len() {
                        "result".to_string()
                    } else {
                        format!("#{i}")
                    },
                    "expr",
                    Some(expr),
                ),
                StmtKind::Assert { cond, .. } => ("assert".to_string(), "assert", Some(cond)),
                StmtKind::Mock { value, .. } => ("mock".to_string(), "mock", Some(value)),
                StmtKind::Error { .. } => ("error".to_string(), "error", None),
            };
            let mut node = self.node(label, kind, s.span);
            if let Some(e) = expr {
                self.walk(e, &mut node);
            }
            idx.push(g.add_node(node));
        }
        // The edges the scheduler follows, as the lowering made them (the
        // plan keeps only who waits for whom, not the edges' kinds).
        let empty = BlockInfo::default();
        let info = self.program.blocks.get(&block_key(b)).unwrap_or(&empty);
        for (j, i, kind) in edges::block_edges(&b.stmts, info, sequence) {
            g.add_edge(idx[j as usize], idx[i as usize], kind);
        }
        let levels = levels(&g);
        BlockGraph {
            label,
            graph: g,
            levels,
        }
    }

    fn branches(&self, label: String, branches: &[Branch]) -> BlockGraph {
        let nodes = branches
            .iter()
            .map(|br| (br.name.name.to_string(), br.span, &br.value));
        self.alternatives(label, "branch", nodes)
    }

    /// A cluster of one node per branch or arm (label, span, body), no edges.
    fn alternatives<'e>(
        &self,
        label: String,
        kind: &'static str,
        nodes: impl Iterator<Item = (String, Span, &'e Expr)>,
    ) -> BlockGraph {
        let mut g: DiGraph<Node, EdgeKind> = DiGraph::new();
        for (name, span, body) in nodes {
            let mut node = self.node(name, kind, span);
            self.arm(span, body, &mut node);
            g.add_node(node);
        }
        let levels = levels(&g);
        BlockGraph {
            label,
            graph: g,
            levels,
        }
    }

    fn node(&self, label: String, kind: &'static str, span: Span) -> Node {
        let (line, column) = self.pos(span);
        Node {
            label,
            kind,
            line,
            column,
            calls: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Collects calls and nested blocks of an expression into `node`.
    fn walk(&self, e: &Expr, node: &mut Node) {
        match &e.kind {
            ExprKind::Call(c) => {
                if plan::is_step_call(self.program, self.module, c) {
                    node.calls.push(plan::callee_name(c).into_owned());
                }
                for a in &c.args {
                    self.walk(&a.value, node);
                }
            }
            ExprKind::Str(parts) => {
                for p in parts {
                    if let StrPart::Interp(x) = p {
                        self.walk(x, node);
                    }
                }
            }
            ExprKind::List(items) => items.iter().for_each(|i| self.walk(i, node)),
            ExprKind::Record(fields) => fields.iter().for_each(|f| self.walk(&f.value, node)),
            ExprKind::Field(b, _) | ExprKind::Wildcard(b) | ExprKind::Unary(_, b) => {
                self.walk(b, node)
            }
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) | ExprKind::Catch(a, b) => {
                self.walk(a, node);
                self.walk(b, node);
            }
            ExprKind::Parallel { mode, branches, .. } => {
                let m = match mode {
                    ParallelMode::Record => "parallel",
                    ParallelMode::Merge => "parallel merge",
                    ParallelMode::Concat => "parallel concat",
                };
                node.children.push(self.branches(m.to_string(), branches));
            }
            ExprKind::Race { branches, .. } => {
                node.children.push(self.branches("race".into(), branches))
            }
            ExprKind::Sequence { block, .. } => {
                node.children
                    .push(self.block_as(block, "sequence".into(), true))
            }
            ExprKind::Dag { block, .. } => node.children.push(self.block(block, "dag".into())),
            ExprKind::If { .. } => {
                // One cluster per branch, labelled by its condition: `if c`,
                // `else if d` …, `else`.
                let mut word = "if";
                let mut branch = Some(e);
                while let Some(x) = branch.take() {
                    let ExprKind::If {
                        cond,
                        then,
                        otherwise,
                    } = &x.kind
                    else {
                        self.walk(x, node);
                        break;
                    };
                    self.walk(cond, node);
                    let label = format!("{word} {}", self.text(cond.span));
                    node.children.push(self.block(then, label));
                    word = "else if";
                    match otherwise.as_deref() {
                        Some(Else::Block(b)) => node.children.push(self.block(b, "else".into())),
                        Some(Else::If(x)) => branch = Some(x),
                        None => {}
                    }
                }
            }
            ExprKind::Match { scrutinee, arms } => {
                // The arms as the nodes of a cluster, each labelled by its pattern.
                self.walk(scrutinee, node);
                let nodes = arms.iter().map(|a| {
                    let pattern = match &a.pattern {
                        Pattern::Wildcard(_) => "_".to_string(),
                        Pattern::Literals(lits) => lits
                            .iter()
                            .map(|l| self.text(l.span))
                            .collect::<Vec<_>>()
                            .join(" | "),
                    };
                    (pattern, a.span, &a.body)
                });
                let label = format!("match {}", self.text(scrutinee.span));
                node.children.push(self.alternatives(label, "arm", nodes));
            }
            ExprKind::Loop {
                var, init, body, ..
            } => {
                self.walk(init, node);
                node.children
                    .push(self.block(body, format!("loop {}", var.name)));
            }
            ExprKind::For {
                var,
                iter,
                filter,
                body,
                ..
            } => {
                self.walk(iter, node);
                let label = match filter {
                    Some(f) => {
                        // The condition runs once per element, before the body: its calls
                        // are the `for`'s, and the body's label shows it.
                        self.walk(f, node);
                        format!("for {} where {}", var.name, self.text(f.span))
                    }
                    None => format!("for {}", var.name),
                };
                node.children.push(self.block(body, label));
            }
            ExprKind::Try { body, handler, .. } => {
                node.children.push(self.block(body, "try".into()));
                node.children.push(self.block(handler, "catch".into()));
            }
            ExprKind::Decide { context, arms, .. } => {
                let labels: Vec<&str> = arms.iter().map(|a| a.label.name.as_str()).collect();
                node.calls.push(format!("decide({})", labels.join("|")));
                if let Some(c) = context {
                    self.walk(c, node);
                }
                let nodes = arms
                    .iter()
                    .map(|a| (a.label.name.to_string(), a.span, &a.body));
                node.children
                    .push(self.alternatives("decide".into(), "arm", nodes));
            }
            ExprKind::Approve { context, .. } => {
                node.calls.push("approve".into());
                if let Some(c) = context {
                    self.walk(c, node);
                }
            }
            ExprKind::Block(b) => node.children.push(self.block(b, "block".into())),
            _ => {}
        }
    }

    /// A `match` or `decide` arm (`span` from its pattern or label): a block
    /// is a cluster labelled by the arm's head (`retry =>`).
    /// An arm's body: a block of statements is a cluster named by the arm's head
    /// (`retry =>`), any other expression's calls belong to the arm's node.
    fn arm(&self, span: Span, body: &Expr, node: &mut Node) {
        let ExprKind::Block(b) = &body.kind else {
            return self.walk(body, node);
        };
        let text = &self.sources.get(span.file).text;
        let head = text
            .get(span.start as usize..body.span.start as usize)
            .unwrap_or("=>")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        node.children.push(self.block(b, head));
    }
}

fn levels(g: &DiGraph<Node, EdgeKind>) -> Vec<usize> {
    let mut lv = vec![0usize; g.node_count()];
    if let Ok(order) = toposort(g, None) {
        for n in order {
            let l = g
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .map(|p| lv[p.index()] + 1)
                .max()
                .unwrap_or(0);
            lv[n.index()] = l;
        }
    }
    lv
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl FlowGraph {
    pub fn to_json(&self) -> Value {
        json!({ "flow": self.flow, "body": block_json(&self.body) })
    }

    pub fn to_dot(&self) -> String {
        let mut out = format!(
            "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n",
            esc(&self.flow)
        );
        let mut counter = 0;
        dot_block(&self.body, "n", &mut out, &mut counter, 1);
        out.push_str("}\n");
        out
    }

    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        let mut counter = 0;
        mermaid_block(&self.body, "n", &mut out, &mut counter, 1);
        out
    }
}

fn node_text(n: &Node, level: usize) -> String {
    let calls = if n.calls.is_empty() {
        String::new()
    } else {
        format!(" = {}", n.calls.join(", "))
    };
    format!("{}{} (L{level}, line {})", n.label, calls, n.line)
}

fn block_json(b: &BlockGraph) -> Value {
    let nodes: Vec<Value> = b
        .graph
        .node_indices()
        .map(|i| {
            let n = &b.graph[i];
            json!({
                "id": i.index(),
                "label": n.label,
                "kind": n.kind,
                "line": n.line,
                "column": n.column,
                "level": b.levels[i.index()],
                "calls": n.calls,
                "children": n.children.iter().map(block_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut edges: Vec<Value> = b
        .graph
        .edge_indices()
        .map(|e| {
            let (a, c) = b.graph.edge_endpoints(e).expect("edge exists");
            json!({ "from": a.index(), "to": c.index(), "kind": b.graph[e].as_str() })
        })
        .collect();
    edges.sort_by_key(|e| (e["from"].as_u64(), e["to"].as_u64()));
    json!({ "label": b.label, "nodes": nodes, "edges": edges })
}

fn dot_block(b: &BlockGraph, prefix: &str, out: &mut String, counter: &mut usize, depth: usize) {
    let pad = "  ".repeat(depth);
    for i in b.graph.node_indices() {
        let n = &b.graph[i];
        let id = format!("{prefix}{}", i.index());
        if n.children.is_empty() {
            out.push_str(&format!(
                "{pad}{id} [label=\"{}\"];\n",
                esc(&node_text(n, b.levels[i.index()]))
            ));
        } else {
            out.push_str(&format!(
                "{pad}{id} [label=\"{}\", style=bold];\n",
                esc(&node_text(n, b.levels[i.index()]))
            ));
            for (k, child) in n.children.iter().enumerate() {
                *counter += 1;
                out.push_str(&format!(
                    "{pad}subgraph cluster_{} {{\n{pad}  label=\"{} ({})\";\n",
                    counter,
                    esc(&child.label),
                    esc(&n.label)
                ));
                let cp = format!("{id}_{k}_");
                dot_block(child, &cp, out, counter, depth + 1);
                out.push_str(&format!("{pad}}}\n"));
            }
        }
    }
    for e in b.graph.edge_indices() {
        let (a, c) = b.graph.edge_endpoints(e).expect("edge exists");
        let style = match b.graph[e] {
            EdgeKind::Data => "",
            EdgeKind::After => " [style=dashed, label=\"after\"]",
            EdgeKind::Sequence => " [style=dotted, label=\"then\"]",
            EdgeKind::Effect => " [color=red, label=\"effect order\"]",
        };
        out.push_str(&format!(
            "{pad}{prefix}{} -> {prefix}{}{style};\n",
            a.index(),
            c.index()
        ));
    }
}

fn mermaid_block(
    b: &BlockGraph,
    prefix: &str,
    out: &mut String,
    counter: &mut usize,
    depth: usize,
) {
    let pad = "  ".repeat(depth);
    for i in b.graph.node_indices() {
        let n = &b.graph[i];
        let id = format!("{prefix}{}", i.index());
        out.push_str(&format!(
            "{pad}{id}[\"{}\"]\n",
            node_text(n, b.levels[i.index()]).replace('"', "'")
        ));
        for (k, child) in n.children.iter().enumerate() {
            *counter += 1;
            out.push_str(&format!(
                "{pad}subgraph c{}[\"{} ({})\"]\n",
                counter, child.label, n.label
            ));
            let cp = format!("{id}_{k}_");
            mermaid_block(child, &cp, out, counter, depth + 1);
            out.push_str(&format!("{pad}end\n"));
        }
    }
    for e in b.graph.edge_indices() {
        let (a, c) = b.graph.edge_endpoints(e).expect("edge exists");
        let arrow = match b.graph[e] {
            EdgeKind::Data => "-->".to_string(),
            k => format!("-.->|{}|", k.as_str()),
        };
        out.push_str(&format!(
            "{pad}{prefix}{} {arrow} {prefix}{}\n",
            a.index(),
            c.index()
        ));
    }
}
