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
pub fn block_edges(b: &Block, info: &BlockInfo, sequence: bool) -> Vec<(usize, usize, EdgeKind)> {
    let n = b.stmts.len();
    let mut edges: Vec<(usize, usize, EdgeKind)> = Vec::with_capacity(n * 2);
    let mut last_effect: Option<usize> = None;
    for (i, s) in b.stmts.iter().enumerate() {
        let first = edges.len();
        let after: &[Ident] = match &s.kind {
            StmtKind::Let { after, .. } | StmtKind::Expr { after, .. } => after,
            _ => &[],
        };
        let has = |edges: &[(usize, usize, EdgeKind)], j: usize| {
            edges[first..].iter().any(|&(a, _, _)| a == j)
        };
        for &j in info.deps.get(i).map(Vec::as_slice).unwrap_or(&[]) {
            if j == i || j >= n || has(&edges, j) {
                continue;
            }
            let waits = match &b.stmts[j].kind {
                StmtKind::Let { name, .. } => after.iter().any(|a| a.name == name.name),
                _ => false,
            };
            let kind = if waits {
                EdgeKind::After
            } else {
                EdgeKind::Data
            };
            edges.push((j, i, kind));
        }
        if sequence && i > 0 && !has(&edges, i - 1) {
            edges.push((i - 1, i, EdgeKind::Sequence));
        }
        if info.effects.get(i).copied().unwrap_or(false) {
            if let Some(j) = last_effect
                && !has(&edges, j)
            {
                edges.push((j, i, EdgeKind::Effect));
            }
            last_effect = Some(i);
        }
    }
    edges
}
