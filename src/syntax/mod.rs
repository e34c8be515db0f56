//! Source text to AST: the pest grammar, the converter, and parse errors in words.

pub mod ast;
pub mod errors;
pub mod grammar;
pub mod parse;
pub mod scan;
pub mod span;

pub use parse::{parse, parse_block_body, parse_block_body_in};
