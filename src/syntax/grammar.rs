//! The pest parser generated from `grammar/flow.pest`, and its [`Rule`]s:
//! read by the converter (`parse.rs`) and by the words of parse errors
//! (`errors.rs`).

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/flow.pest"]
pub struct FlowParser;
