//! `flowc run` and `flowc graph`.

use super::present::{Files, Shown, engine, refused, report};
use super::{GraphFormat, LlmFlags};
use crate::check::Program;
use crate::driver::{
    ApproveMode, Checked, Event, FsLoader, Request, Wishes, prepare, session, store_dir,
};
use crate::term::{OK, USAGE, out};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The `.flow` file
    pub file: String,
    /// The flow to run (default: the only flow, or `main`)
    #[arg(long)]
    pub flow: Option<String>,
    /// An argument, parsed by the parameter's type (repeatable)
    #[arg(long = "arg", value_name = "NAME=VALUE")]
    pub args: Vec<String>,
    /// A JSON object of arguments (`--arg` wins over it); `-` reads it from stdin
    #[arg(long, value_name = "FILE")]
    pub input: Option<String>,
    /// A run-wide option, such as `timeout=10s` (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Write the run record (every step, its timing and outcome) to FILE
    #[arg(long, value_name = "FILE")]
    pub record: Option<String>,
    /// Write a Chrome trace (open it in Perfetto) to FILE
    #[arg(long, value_name = "FILE")]
    pub trace: Option<String>,
    /// Print nothing on stderr but errors
    #[arg(long, short)]
    pub quiet: bool,
    /// Print how long checking and running took on stderr
    #[arg(long)]
    pub timings: bool,
    #[command(flatten)]
    pub llm: LlmFlags,
    /// Write every LLM decision to FILE, for `--llm replay:FILE`
    #[arg(long, value_name = "FILE")]
    pub record_llm: Option<String>,
    /// The folder of the store that keeps the run (default: FLOWC_STORE, or `.flowc`)
    #[arg(long, value_name = "DIR", conflicts_with = "no_store")]
    pub store: Option<String>,
    /// Keep no record of the run in a store
    #[arg(long)]
    pub no_store: bool,
    /// Ignore `cache` options: run every call, reuse and keep no result
    #[arg(long)]
    pub no_cache: bool,
    /// Run on Restate: `restate:INGRESS_URL` (default: FLOWC_ENGINE; none runs here)
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Ask each `approve` here (`approve? [y/N]`) when stdin is a terminal,
    /// instead of pausing the run
    #[arg(long)]
    pub interactive: bool,
}

/// Reads and checks a file; prints diagnostics. `Err(exit code)` when it cannot run.
pub(crate) fn load(file: &str, quiet: bool) -> Result<Checked, u8> {
    let mut shown = Shown::new(quiet);
    session::check_file(file, &FsLoader::here(), &mut |e| shown.event(e)).map_err(|r| refused(&r))
}

pub fn run(a: &RunArgs) -> u8 {
    let t0 = std::time::Instant::now();
    let req = Request {
        file: a.file.clone(),
        flow: a.flow.clone(),
        input: a.input.clone(),
        args: a.args.clone(),
        set: a.set.clone(),
        llm: a.llm.args(),
        store: (!a.no_store).then(|| store_dir(a.store.as_deref())),
        approvals: approve_mode(a.interactive),
        no_cache: a.no_cache,
        wishes: Wishes {
            record: a.record.is_some(),
            trace: a.trace.is_some(),
            llm_recording: a.record_llm.is_some(),
            progress: !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            steps: false,
        },
    };
    let mut shown = Shown::new(a.quiet);
    let mut sink = |e: Event<'_>| shown.event(e);
    let prepared = match prepare(&req, &mut sink) {
        Ok(p) => p,
        Err(r) => return refused(&r),
    };
    let mut engine = match engine(a.engine.as_deref()) {
        Ok(e) => e,
        Err(code) => return code,
    };
    match engine.run(prepared, &req, &mut sink) {
        Ok(r) => report(
            r,
            a.quiet,
            a.store.as_deref(),
            &Files {
                timings: a.timings.then_some(t0),
                record: a.record.as_deref(),
                llm_recording: a.record_llm.as_deref(),
                trace: a.trace.as_deref(),
            },
        ),
        Err(r) => refused(&r),
    }
}

/// What an `approve` without an answer does in `flowc run`/`flowc resume`:
/// asked here with `--interactive` on a terminal; else it pauses a stored
/// run (the driver's choice) and fails one without a store.
pub(super) fn approve_mode(interactive: bool) -> ApproveMode {
    if interactive && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        ApproveMode::Ask
    } else {
        ApproveMode::Refuse
    }
}

pub fn graph(file: &str, flow: Option<&str>, format: GraphFormat) -> u8 {
    let checked = match load(file, true) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (module, name) = match graph_flow(&checked.program, file, flow) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let mut g = crate::ir::lower_flow(&checked.program, &checked.sources, module, &name);
    if module != checked.program.root {
        // As code writes it: `lib.flow`.
        g.flow = flow.unwrap_or_default().to_string();
        g.body.label = format!("flow {}", g.flow);
    }
    let text = match format {
        GraphFormat::Dot => g.to_dot(),
        GraphFormat::Mermaid => g.to_mermaid(),
        GraphFormat::Json => serde_json::to_string_pretty(&g.to_json()).expect("graphs serialise"),
    };
    out::println(&text);
    OK
}

/// The flow `flowc graph` draws: as [`pick_flow`], or an imported module's
/// flow as code calls it (`lib.flow`, by the import's name): (module, flow).
fn graph_flow(program: &Program, file: &str, wanted: Option<&str>) -> Result<(usize, String), u8> {
    let Some((alias, name)) = wanted.and_then(|w| w.rsplit_once('.')) else {
        return session::pick_flow(program, file, wanted)
            .map(|f| (program.root, f))
            .map_err(|r| refused(&r));
    };
    let root = program.root_module();
    let Some(&m) = root.imports.get(alias) else {
        let mut aliases: Vec<&str> = root.imports.keys().map(String::as_str).collect();
        aliases.sort();
        let list = if aliases.is_empty() {
            "it imports nothing".to_string()
        } else {
            format!(
                "its imports: {}",
                aliases
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        eprintln!("error: `{file}` imports no module `{alias}`; {list}");
        return Err(USAGE);
    };
    let md = &program.modules[m];
    if md.flows.contains_key(name) {
        return Ok((m, name.to_string()));
    }
    let mut names: Vec<&str> = md.flows.keys().map(String::as_str).collect();
    names.sort();
    let help = crate::diag::suggest(name, names.iter().copied())
        .map(|h| format!("; {h}"))
        .unwrap_or_default();
    let list = names
        .iter()
        .map(|n| format!("`{alias}.{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!("error: module `{alias}` has no flow `{name}`{help}; its flows: {list}");
    Err(USAGE)
}
