//! The AST's byte spans: the crate's [`crate::span`], which `diag` and
//! `source` use too without depending on the parser.

pub use crate::span::*;
