//! Source text to AST: the pest grammar, the converter, and parse errors in words.

pub mod ast;
pub mod errors;
pub mod grammar;
pub mod parse;
pub mod scan;
pub mod span;

pub use parse::{parse, parse_block_body, parse_block_body_in};

/// The language's reserved words (`grammar/flow.pest`'s `keyword`), as one
/// `match` (a jump on the length, then a comparison or two).
pub fn is_reserved(w: &str) -> bool {
    matches!(
        w,
        "import"
            | "assert"
            | "as"
            | "type"
            | "tool"
            | "effect"
            | "flow"
            | "const"
            | "let"
            | "after"
            | "with"
            | "parallel"
            | "sequence"
            | "dag"
            | "if"
            | "else"
            | "match"
            | "loop"
            | "until"
            | "for"
            | "in"
            | "try"
            | "catch"
            | "decide"
            | "race"
            | "approve"
            | "true"
            | "false"
            | "null"
            | "test"
            | "mock"
    )
}
