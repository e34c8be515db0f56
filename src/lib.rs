//! flowc: a small typed language for orchestrating tools.
//!
//! Pipeline: [`syntax`] (pest grammar -> AST) -> [`check`] (names, types,
//! graph checks) -> diagnostics rendered by [`diag`]. The core does no I/O:
//! [`driver`] ties it to files through a [`check::Loader`].

pub mod builtins;
pub mod check;
pub mod cli;
pub mod diag;
pub mod driver;
pub mod ir;
pub mod repl;
pub mod run;
pub mod source;
pub mod syntax;
