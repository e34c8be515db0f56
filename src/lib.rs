//! flowc: a small typed language for orchestrating tools.
//!
//! Pipeline: [`syntax`] (pest grammar -> AST) -> [`check`] (names, types,
//! graph checks) -> [`ir`] -> [`run`]. The core does no I/O: [`driver`] is
//! the session layer (files, the LLM provider, the runtime and its signals);
//! [`cli`] and [`repl`] present its results through [`term`].

pub mod builtins;
pub mod check;
pub mod cli;
pub mod diag;
pub mod driver;
pub mod files;
pub mod fmt;
pub mod ids;
pub mod ir;
pub mod lsp;
pub mod repl;
pub mod replan_grammar;
pub mod restate;
pub mod run;
pub mod serve;
pub mod source;
pub mod span;
pub mod status;
pub mod store;
pub mod syntax;
pub mod term;
pub mod types;
pub mod value;
