//! `flowc approve RUN [PATH] [--reject] [--by NAME] [--note TEXT]`: answers
//! an approval a paused run waits for (docs/store.md, `approvals`); `flowc resume`
//! then continues the run with `true` or `false`.

use super::present::{engine, refused};
use crate::driver::{ApproveRequest, store_dir};
use crate::term::{OK, out};

#[derive(clap::Args, Debug)]
pub struct ApproveArgs {
    /// The run's id (or a unique start of it), as `flowc runs` lists it
    pub run: String,
    /// The approval's step path, as the paused run printed it (may be left
    /// out when the run waits for exactly one)
    pub path: Option<String>,
    /// Answer no: the `approve` returns `false`
    #[arg(long)]
    pub reject: bool,
    /// Who answers (default: $USER)
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// A note kept with the answer
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// The folder of the store that keeps the run (default: FLOWC_STORE, or `.flowc`)
    #[arg(long, value_name = "DIR")]
    pub store: Option<String>,
    /// A run on Restate, `restate:INGRESS_URL` (default: FLOWC_ENGINE): the
    /// answer resolves its approval and the run goes on by itself
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
}

pub fn approve(a: &ApproveArgs) -> u8 {
    let mut engine = match engine(a.engine.as_deref()) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let req = ApproveRequest {
        run: a.run.clone(),
        path: a.path.clone(),
        approved: !a.reject,
        by: a.by.clone(),
        note: a.note.clone(),
        store: store_dir(a.store.as_deref()),
    };
    match engine.approve(&req) {
        Ok(text) => {
            out::println(&text);
            OK
        }
        Err(r) => refused(&r),
    }
}
