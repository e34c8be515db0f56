//! The edges of a block — data references, `after`, `sequence` order, the source
//! order of `effect` steps — written down once: the block plans the scheduler
//! follows are built from them, and `flowc graph` draws the plans' edges.

use crate::check::BlockInfo;
use crate::syntax::ast::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    Data,
    After,
    Sequence,
    Effect,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Data => "data",
            EdgeKind::After => "after",
            EdgeKind::Sequence => "sequence",
            EdgeKind::Effect => "effect",
        }
    }
}

/// The edges `j -> i` of a block (statement `i` starts after statement `j`), each
/// pair once, in this order for each `i`: what `i` reads or waits for by `after`
/// (found by the checker), the previous statement in a `sequence`, the previous
/// `effect` statement.
pub fn block_edges(stmts: &[Stmt], info: &BlockInfo, sequence: bool) -> Vec<(u32, u32, EdgeKind)> {
    let n = stmts.len();
    let mut edges: Vec<(u32, u32, EdgeKind)> = Vec::with_capacity(n * 2);
    let mut last_effect: Option<usize> = None;
    // `into[j] == i + 1`: statement `i` already has an edge from `j` (one
    // look-up per edge: a statement that reads thousands of `let`s, as the
    // list that ends a large DAG does, made the search of its own edges
    // quadratic).
    let mut into = vec![0usize; n];
    for (i, s) in stmts.iter().enumerate() {
        let after: &[Ident] = match &s.kind {
            StmtKind::Let { after, .. } | StmtKind::Expr { after, .. } => after,
            _ => &[],
        };
        // The names after `after`, when there are many (else a search is cheaper).
        let after_names: Option<rustc_hash::FxHashSet<&str>> =
            (after.len() > 8).then(|| after.iter().map(|a| a.name.as_str()).collect());
        let has = |into: &mut Vec<usize>, j: usize| {
            let had = into[j] == i + 1;
            into[j] = i + 1;
            had
        };
        for &j in info.deps.get(i).map(Vec::as_slice).unwrap_or(&[]) {
            if j == i || j >= n || has(&mut into, j) {
                continue;
            }
            let waits = match &stmts[j].kind {
                StmtKind::Let { name, .. } => match &after_names {
                    Some(names) => names.contains(name.name.as_str()),
                    None => after.iter().any(|a| a.name == name.name),
                },
                _ => false,
            };
            let kind = if waits {
                EdgeKind::After
            } else {
                EdgeKind::Data
            };
            edges.push((j as u32, i as u32, kind));
        }
        if sequence && i > 0 && !has(&mut into, i - 1) {
            edges.push(((i - 1) as u32, i as u32, EdgeKind::Sequence));
        }
        if info.effects.get(i).copied().unwrap_or(false) {
            if let Some(j) = last_effect
                && !has(&mut into, j)
            {
                edges.push((j as u32, i as u32, EdgeKind::Effect));
            }
            last_effect = Some(i);
        }
    }
    edges
}
