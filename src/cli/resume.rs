//! `flowc resume RUN`: evaluates a stored run's flow again as the same run;
//! steps with a journaled success are replayed, not run (docs/store.md,
//! `flowc resume`). The policy is the driver's (`driver::resume`).

use super::LlmFlags;
use super::present::{Files, Shown, engine, refused, report};
use crate::driver::{ResumeRequest, Wishes, store_dir};

#[derive(clap::Args, Debug)]
pub struct ResumeArgs {
    /// The run's id (or a unique start of it), as `flowc runs` lists it
    pub run: String,
    /// The folder of the store that keeps the run (default: FLOWC_STORE, or `.flowc`)
    #[arg(long, value_name = "DIR")]
    pub store: Option<String>,
    /// Resume although a source file changed; a journaled step is then replayed
    /// only when its tool, binding and arguments are also unchanged
    #[arg(long)]
    pub allow_changed: bool,
    /// Run again the `effect` steps that started and did not finish, also
    /// those without an `idempotency_key`
    #[arg(long)]
    pub rerun_uncertain: bool,
    /// A run-wide option, such as `timeout=10s` (repeatable): added to, and
    /// winning over, the `--set` options the run was started with
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Ask each `approve` here (`approve? [y/N]`) when stdin is a terminal,
    /// instead of pausing the run again
    #[arg(long)]
    pub interactive: bool,
    /// Print nothing on stderr but errors
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub llm: LlmFlags,
    /// A run on Restate, `restate:INGRESS_URL` (default: FLOWC_ENGINE): it goes
    /// on by itself; this waits for its end and prints it
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
}

pub fn resume(a: &ResumeArgs) -> u8 {
    let mut engine = match engine(a.engine.as_deref()) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let req = ResumeRequest {
        run: a.run.clone(),
        store: store_dir(a.store.as_deref()),
        allow_changed: a.allow_changed,
        rerun_uncertain: a.rerun_uncertain,
        set: a.set.clone(),
        approvals: super::run::approve_mode(a.interactive),
        llm: a.llm.args(),
        wishes: Wishes {
            progress: !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            ..Wishes::default()
        },
    };
    let mut shown = Shown::new(a.quiet);
    match engine.resume(&req, &mut |e| shown.event(e)) {
        Ok(r) => report(r, a.quiet, a.store.as_deref(), &Files::default()),
        Err(r) => refused(&r),
    }
}
