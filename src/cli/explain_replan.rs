//! `flowc explain-replan FILE [--at PATH]`: prints what a re-plan of a
//! block would send to the model (`driver::explain`).

use super::present::refused;
use crate::driver::explain::explain_replan as explain;
use crate::term::{OK, out};

#[derive(clap::Args, Debug)]
pub struct ExplainReplanArgs {
    /// The `.flow` file
    pub file: String,
    /// The block: `FLOW/NAME` (the `let` whose value it is), `FLOW` (a
    /// flow's body), or `LINE` where the block starts (default: the only one)
    #[arg(long, value_name = "PATH")]
    pub at: Option<String>,
}

pub fn explain_replan(a: &ExplainReplanArgs) -> u8 {
    let checked = match super::run::load(&a.file, false) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match explain(&checked, &a.file, a.at.as_deref()) {
        Ok(text) => {
            out::println(&text);
            OK
        }
        Err(r) => refused(&r),
    }
}
