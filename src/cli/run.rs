//! `flowc run` and `flowc graph`.

use serde_json::{Map, Value};

use super::{GraphFormat, LlmFlags};
use crate::check::{Program, Type};
use crate::diag::render;
use crate::driver::project::{choose_provider, folder_of};
use crate::driver::runner::{Finished, Job, Keep, Outcome, RecordInfo, Runner};
use crate::driver::{Checked, FsLoader, check_source, store_dir};
use crate::files;
use crate::run::approve::{ApproveMode, Pending};
use crate::run::{RunConfig, opts::Opts};
use crate::store::Store;
use crate::term::{FAILED, OK, PAUSED, USAGE, color_stderr, out, view::StepView};
use std::path::Path;

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
pub(super) fn load(file: &str, quiet: bool) -> Result<Checked, u8> {
    let text = crate::files::read_source(file).map_err(|e| {
        eprintln!("error: {e}");
        USAGE
    })?;
    let checked = check_source(file, &text, &FsLoader);
    let color = color_stderr();
    eprint!(
        "{}",
        render::render_all(
            checked
                .diagnostics
                .iter()
                .filter(|d| d.is_error() || !quiet),
            &checked.sources,
            color
        )
    );
    if checked.has_errors() {
        eprintln!("error: `{file}` has errors; nothing was run");
        return Err(FAILED);
    }
    Ok(checked)
}

/// The flow to run: `--flow`, the only one, or `main`.
fn pick_flow(program: &Program, file: &str, wanted: Option<&str>) -> Result<String, u8> {
    let md = program.root_module();
    let mut names: Vec<&String> = md.flows.keys().collect();
    names.sort();
    let list = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match wanted {
        Some(w) if md.flows.contains_key(w) => Ok(w.to_string()),
        Some(w) => {
            let help = crate::diag::suggest(w, names.iter().map(|s| s.as_str()))
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            eprintln!("error: `{file}` has no flow `{w}`{help}; its flows: {list}");
            Err(USAGE)
        }
        None if names.len() == 1 => Ok(names[0].clone()),
        None if md.flows.contains_key("main") => Ok("main".into()),
        None if names.is_empty() => {
            eprintln!("error: `{file}` declares no flow to run");
            Err(USAGE)
        }
        None => {
            eprintln!(
                "error: `{file}` has several flows and none is `main`; choose one with --flow ({list})"
            );
            Err(USAGE)
        }
    }
}

/// Parses `--arg name=value` by the parameter's type: strings as written, the rest as JSON.
fn parse_arg(ty: &Type, raw: &str) -> Result<Value, String> {
    match ty {
        Type::String | Type::Lit(_) => Ok(Value::String(raw.to_string())),
        Type::Optional(inner) if matches!(**inner, Type::String | Type::Lit(_)) => {
            Ok(Value::String(raw.to_string()))
        }
        Type::Duration => crate::run::opts::parse_duration(raw)
            .map(|d| Value::from(d.as_millis() as i64))
            .ok_or_else(|| format!("`{raw}` is not a duration such as `30s`")),
        _ => serde_json::from_str(raw)
            .map_err(|_| format!("`{raw}` is not a valid `{ty}` (write it as JSON)")),
    }
}

pub fn run(a: &RunArgs) -> u8 {
    let t0 = std::time::Instant::now();
    let checked = match load(&a.file, a.quiet) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let flow = match pick_flow(&checked.program, &a.file, a.flow.as_deref()) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let sig = checked.program.root_module().flows[&flow].clone();
    // Inputs: --input, then --arg.
    let mut inputs = Map::new();
    if let Some(path) = &a.input {
        let text = if path == "-" {
            files::read_stdin(files::DATA_LIMIT, "`--input`")
        } else {
            files::read_text(Path::new(path), files::DATA_LIMIT, "`--input` files")
        };
        let parsed =
            text.and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(Value::Object(m)) => inputs = m,
            Ok(_) => {
                eprintln!("error: `{path}` must hold a JSON object of arguments");
                return USAGE;
            }
            Err(e) => {
                eprintln!("error: cannot read `{path}`: {e}");
                return USAGE;
            }
        }
    }
    for kv in &a.args {
        let Some((k, v)) = kv.split_once('=') else {
            eprintln!("error: `--arg {kv}`: write `--arg name=value`");
            return USAGE;
        };
        let Some(p) = sig.params.iter().find(|p| p.name == k) else {
            let names: Vec<&str> = sig.params.iter().map(|p| p.name.as_str()).collect();
            eprintln!(
                "error: flow `{flow}` has no parameter `{k}`; its parameters: {}",
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            );
            return USAGE;
        };
        match parse_arg(&p.ty, v) {
            Ok(val) => {
                inputs.insert(k.to_string(), val);
            }
            Err(e) => {
                eprintln!("error: `--arg {k}`: {e}");
                return USAGE;
            }
        }
    }
    for p in &sig.params {
        match inputs.get(&p.name) {
            None if !p.has_default && !p.ty.is_optional() => {
                eprintln!(
                    "error: flow `{flow}` needs `{}: {}`; pass it with `--arg {}=…` or `--input args.json`",
                    p.name, p.ty, p.name
                );
                return USAGE;
            }
            Some(v) => {
                if let Err(m) = crate::run::value::conforms(v, &p.ty) {
                    eprintln!(
                        "error: argument `{}` of flow `{flow}`: expected `{}` at `{}`, found {}",
                        p.name, m.expected, m.path, m.found
                    );
                    return USAGE;
                }
            }
            None => {}
        }
    }
    let set = match parse_set(&a.set) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    match crate::restate::engine_of(a.engine.as_deref()) {
        Ok(Some(ingress)) => {
            let local_only = [
                (a.record_llm.is_some(), "--record-llm"),
                (a.llm.llm.is_some(), "--llm"),
            ];
            if let Some((_, flag)) = local_only.iter().find(|(given, _)| *given) {
                eprintln!(
                    "error: `{flag}` is for runs here, not with `--engine`: the workers ask their own LLM provider (docs/scale-out.md)"
                );
                return USAGE;
            }
            let root = checked.program.root_module().file;
            let text = checked.sources.get(root).text.clone();
            let outputs = super::engine::Outputs {
                record: a.record.as_deref(),
                trace: a.trace.as_deref(),
            };
            return super::engine::run(
                &ingress, &a.file, &text, &flow, inputs, &a.set, a.quiet, outputs,
            );
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    }
    let chosen = match choose_provider(&folder_of(&a.file), &a.llm.args()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    let provider_name = chosen.name();
    // The step view would draw over the questions of `--llm human`.
    let view = !a.quiet
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
        && provider_name.as_deref() != Some("human");
    let config = RunConfig {
        set,
        tenant: std::env::var("FLOWC_TENANT").ok(),
        no_cache: a.no_cache,
        approvals: approve_mode(a.interactive),
        ..RunConfig::default()
    };
    let job = Job {
        program: &checked.program,
        sources: &checked.sources,
        flow: &flow,
        root: None,
        inputs,
        config,
        provider: chosen.provider,
        progress: view,
        keep: Keep {
            record: a.record.as_ref().map(|_| RecordInfo {
                file: a.file.clone(),
                set: a.set.clone(),
            }),
            trace: a.trace.as_ref().map(|_| format!("{} {flow}", a.file)),
            llm_recording: a.record_llm.is_some(),
            ..Keep::default()
        },
    };
    let store = if a.no_store {
        None
    } else {
        match Store::open(&store_dir(a.store.as_deref())) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("error: {e}");
                return USAGE;
            }
        }
    };
    // SIGINT, SIGTERM and SIGHUP cancel the run: dropping it kills every
    // tool's process group; the record and the trace are still written.
    let step_view = StepView::new(view);
    let mut runner = Runner::new();
    let finished = match &store {
        Some(s) => {
            let info = RecordInfo {
                file: a.file.clone(),
                set: a.set.clone(),
            };
            runner.run_stored(job, s, &info, &mut |p| step_view.show(p))
        }
        None => Ok(runner.run(job, &mut |p| step_view.show(p))),
    };
    step_view.finish();
    let finished = match finished {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    if let (Some(toml), false) = (&chosen.from, a.quiet || finished.decisions == 0) {
        let name = provider_name.as_deref().unwrap_or("");
        eprintln!(
            "note: LLM decisions were answered by `{name}`, chosen in `{}`; `--llm` chooses another provider",
            toml.display()
        );
    }
    if a.timings {
        let check_ms = (finished.started - t0).as_secs_f64() * 1e3;
        eprintln!(
            "timings: check {check_ms:.1} ms, run {:.1} ms",
            finished.duration_ms
        );
    }
    let mut code = present(&finished, &checked, &flow, a.quiet);
    if let (Some(id), Some(store)) = (&finished.run_id, &store) {
        if let Some(e) = &finished.store_error {
            print_store_failed(id, e);
            code = USAGE;
        } else if let Outcome::Paused(pending) = &finished.outcome {
            print_paused(id, pending, a.store.as_deref());
        } else if !a.quiet {
            eprintln!(
                "run {id} is in the store `{}`: `flowc runs show {id}`",
                store.path().display()
            );
        }
    }
    match write_outputs(a, finished) {
        Ok(()) => code,
        Err(failed) => failed,
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

/// A paused run: the approvals it waits for and the commands that answer
/// them (on stderr, also with `--quiet`: the run cannot go on without them).
pub(super) fn print_paused(id: &str, pending: &[Pending], store: Option<&str>) {
    let store = store.map(|s| format!(" --store {s}")).unwrap_or_default();
    eprintln!(
        "run {id} paused: {} approval{} pending",
        pending.len(),
        if pending.len() == 1 { "" } else { "s" }
    );
    for p in pending {
        eprintln!(
            "  {}: {}",
            p.path,
            crate::diag::render::printable(&p.message)
        );
        eprintln!("    flowc approve{store} {id} {}", p.path);
        eprintln!("    flowc approve{store} {id} {} --reject", p.path);
    }
    eprintln!("then continue it with `flowc resume{store} {id}`");
}

/// Prints a run's result, errors and warnings; returns its exit code.
/// The store failed under run `id`: the error, and what comes next.
pub(super) fn print_store_failed(id: &str, e: &crate::store::StoreError) {
    eprintln!("error: {e}");
    eprintln!(
        "note: run {id} stopped there: nothing started after the store failed (an effect whose start it did not keep never ran), and the run keeps the status it had; once the store works again (`flowc store check`), `flowc resume {id}` continues it"
    );
}

pub(super) fn present(finished: &Finished, checked: &Checked, flow: &str, quiet: bool) -> u8 {
    let color = color_stderr();
    let code = match &finished.outcome {
        // A result the store did not keep with its steps is not printed as
        // a success: the run is to be resumed (the caller says why, exit 2).
        _ if finished.store_error.is_some() => USAGE,
        Outcome::Ok(v) => {
            out::println(&serde_json::to_string_pretty(v).expect("values serialise"));
            OK
        }
        Outcome::Failed(errors) => {
            for e in errors {
                eprint!(
                    "{}",
                    render::render(&e.to_diagnostic(), &checked.sources, color)
                );
            }
            eprintln!(
                "error: flow `{flow}` failed with {} error{}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            FAILED
        }
        Outcome::Cancelled(signal) => {
            eprintln!("error: run cancelled by {}", signal.name());
            signal.exit_code()
        }
        // The caller prints how to answer (it knows the run's id).
        Outcome::Paused(_) => PAUSED,
        // The caller prints the store's error.
        Outcome::StoreFailed(_) => USAGE,
    };
    if !quiet {
        for w in &finished.warnings {
            eprintln!(
                "warning: {}:{}:{}: {}",
                w.file,
                w.line,
                w.column,
                crate::diag::render::printable(&w.message)
            );
        }
    }
    code
}

/// Writes the run record, the LLM recording and the trace that were asked
/// for; `Err(exit code)` when one cannot be written.
fn write_outputs(a: &RunArgs, finished: Finished) -> Result<(), u8> {
    let files = [
        (
            &a.record,
            finished.record.map(|r| serde_json::to_string_pretty(&r)),
            "the run record",
        ),
        (
            &a.record_llm,
            finished
                .llm_recording
                .map(|r| serde_json::to_string_pretty(&r)),
            "the LLM recording",
        ),
    ];
    for (path, text, what) in files {
        if let (Some(path), Some(text)) = (path, text)
            && let Err(e) = std::fs::write(path, text.expect("records serialise"))
        {
            eprintln!("error: cannot write {what} `{path}`: {e}");
            return Err(USAGE);
        }
    }
    if let (Some(path), Some(trace)) = (&a.trace, finished.trace)
        && let Err(e) = std::fs::write(path, trace.to_string())
    {
        eprintln!("error: cannot write the trace `{path}`: {e}");
        return Err(USAGE);
    }
    Ok(())
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
        return pick_flow(program, file, wanted).map(|f| (program.root, f));
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

/// `--set key=value`, each given: the options they state (for `flowc run` and
/// `flowc resume`).
pub(super) fn parse_set(set: &[String]) -> Result<Opts, String> {
    let mut opts = Opts::default();
    for kv in set {
        kv.split_once('=')
            .ok_or_else(|| format!("`--set {kv}`: write `--set key=value`"))
            .and_then(|(k, v)| opts.set(k, v))?;
    }
    Ok(opts)
}
