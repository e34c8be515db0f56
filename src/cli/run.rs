//! `flowc run` and `flowc graph`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{FAILED, GraphFormat, OK, USAGE, color_stderr};
use crate::check::{Program, Type};
use crate::diag::render;
use crate::driver::{Checked, FsLoader, check_source};
use crate::run::llm::{self, Provider};
use crate::run::record::{RunRecord, RunStatus};
use crate::run::{Interp, RunConfig, opts::Opts};

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
    /// A JSON object of arguments (`--arg` wins over it)
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
    /// Who answers `decide` and `llm()`: openai:BASE_URL, replay:FILE.json, cmd:PROGRAM or human
    /// (default: `[llm] provider` of a flowc.toml beside the flow or above it)
    #[arg(long, value_name = "PROVIDER")]
    pub llm: Option<String>,
    /// The model the openai provider asks (default: FLOWC_LLM_MODEL, or the flowc.toml's `model`)
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// How long one LLM answer may take, such as 30s (default 60s)
    #[arg(long, value_name = "DURATION")]
    pub llm_timeout: Option<String>,
    /// Write every LLM decision to FILE, for `--llm replay:FILE`
    #[arg(long, value_name = "FILE")]
    pub record_llm: Option<String>,
}

/// The LLM settings of a project: `[llm]` in the nearest `flowc.toml`, in the
/// flow's folder or above it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    llm: Option<LlmSection>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LlmSection {
    provider: Option<String>,
    model: Option<String>,
    timeout: Option<String>,
}

/// Finds and reads the `flowc.toml` that applies to `file`: (its folder, its contents).
fn project_file(file: &str) -> Result<Option<(PathBuf, ProjectFile)>, String> {
    let mut dir = std::fs::canonicalize(file)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    while let Some(d) = dir {
        let candidate = d.join("flowc.toml");
        if candidate.is_file() {
            let text = std::fs::read_to_string(&candidate)
                .map_err(|e| format!("cannot read `{}`: {e}", candidate.display()))?;
            let parsed: ProjectFile =
                toml::from_str(&text).map_err(|e| format!("`{}`: {e}", candidate.display()))?;
            // Shown relative to the current folder where it is inside it.
            let cwd = std::env::current_dir().unwrap_or_default();
            let shown = match d.strip_prefix(&cwd) {
                Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
                Ok(rel) => rel.to_path_buf(),
                Err(_) => d,
            };
            return Ok(Some((shown, parsed)));
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    Ok(None)
}

/// A run's provider, and the `flowc.toml` that chose it.
type ChosenProvider = (Option<Box<dyn Provider>>, Option<PathBuf>);

/// The LLM provider of a run: `--llm`, else the project's `flowc.toml` (then
/// also its path), else none.
fn llm_provider(a: &RunArgs) -> Result<ChosenProvider, String> {
    let project = project_file(&a.file)?;
    let section = project
        .as_ref()
        .and_then(|(d, p)| p.llm.as_ref().map(|l| (d, l)));
    let mut settings = llm::Settings::default();
    let model = a
        .model
        .clone()
        .or_else(|| std::env::var("FLOWC_LLM_MODEL").ok())
        .or_else(|| section.and_then(|(_, l)| l.model.clone()));
    if let Some(m) = model {
        settings.model = m;
    }
    let timeout = a
        .llm_timeout
        .clone()
        .or_else(|| section.and_then(|(_, l)| l.timeout.clone()));
    if let Some(t) = timeout {
        settings.timeout = crate::run::opts::parse_duration(&t)
            .ok_or_else(|| format!("LLM timeout `{t}` is not a duration such as `30s`"))?;
    }
    match (&a.llm, section) {
        (Some(spec), _) => Ok((Some(llm::provider(spec, &settings, Path::new(""))?), None)),
        (None, Some((dir, l))) => match &l.provider {
            Some(spec) => {
                let toml = dir.join("flowc.toml");
                let p = llm::provider(spec, &settings, dir)
                    .map_err(|e| format!("{e} (from `{}`)", toml.display()))?;
                Ok((Some(p), Some(toml)))
            }
            None => Ok((None, None)),
        },
        (None, None) => Ok((None, None)),
    }
}

/// Reads and checks a file; prints diagnostics. `Err(exit code)` when it cannot run.
fn load(file: &str, quiet: bool) -> Result<Checked, u8> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        eprintln!("error: cannot read `{file}`: {e}");
        USAGE
    })?;
    let checked = check_source(file, &text, &FsLoader);
    let color = color_stderr();
    for d in &checked.diagnostics {
        if d.is_error() || !quiet {
            eprint!("{}", render::render(d, &checked.sources, color));
        }
    }
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
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()));
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
    let mut set = Opts::default();
    for kv in &a.set {
        let r = kv
            .split_once('=')
            .ok_or_else(|| format!("`--set {kv}`: write `--set key=value`"))
            .and_then(|(k, v)| set.set(k, v));
        if let Err(e) = r {
            eprintln!("error: {e}");
            return USAGE;
        }
    }
    let (provider, provider_from) = match llm_provider(a) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    // The step view would draw over the questions of `--llm human`.
    let view = !a.quiet
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
        && provider.as_ref().is_none_or(|p| p.name() != "human");
    let config = RunConfig {
        set: set.clone(),
        record: a.record.is_some() || a.trace.is_some() || view,
        tenant: std::env::var("FLOWC_TENANT").ok(),
    };
    let provider_name = provider.as_ref().map(|p| p.name());
    let mut interp = Interp::new(&checked.program, &checked.sources, config);
    interp.llm = llm::Llm::new(provider);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let started = crate::builtins::now_rfc3339();
    let step_view = super::view::StepView::new(view);
    // SIGINT, SIGTERM and SIGHUP cancel the run: dropping it kills every
    // tool's process group; the record and the trace are still written.
    let outcome = rt.block_on(async {
        let mut signals = super::signals::Signals::new(true);
        tokio::select! {
            r = step_view.drive(interp.run(&flow, inputs.clone()), &interp.recorder) => Ok(r),
            s = signals.recv() => Err(s),
        }
    });
    step_view.finish();
    let duration_ms = interp.recorder.now_ms();
    if let (Some(toml), false) = (&provider_from, a.quiet || interp.llm.decisions().is_empty()) {
        let name = provider_name.as_deref().unwrap_or("");
        eprintln!(
            "note: LLM decisions were answered by `{name}`, chosen in `{}`; `--llm` chooses another provider",
            toml.display()
        );
    }
    if a.timings {
        let check_ms = (interp.recorder.start - t0).as_secs_f64() * 1e3;
        eprintln!("timings: check {check_ms:.1} ms, run {duration_ms:.1} ms");
    }
    let color = color_stderr();
    let (status, code) = match &outcome {
        Ok(Ok(v)) => {
            super::out::println(&serde_json::to_string_pretty(v).expect("values serialise"));
            (RunStatus::Ok, OK)
        }
        Ok(Err(errors)) => {
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
            (RunStatus::Failed, FAILED)
        }
        Err(signal) => {
            eprintln!("error: run cancelled by {}", signal.name());
            (RunStatus::Cancelled, signal.exit_code())
        }
    };
    for w in interp.recorder.warnings() {
        if !a.quiet {
            eprintln!("warning: {}:{}:{}: {}", w.file, w.line, w.column, w.message);
        }
    }
    if let Some(path) = &a.record {
        let ctx = interp.context_value();
        let record = RunRecord {
            run_id: ctx["run_id"].clone(),
            file: a.file.clone(),
            flow: flow.clone(),
            inputs: Value::Object(inputs),
            options: set_json(&a.set),
            status,
            started_at: started,
            duration_ms,
            signal: outcome.as_ref().err().map(|s| s.name()),
            result: outcome.as_ref().ok().and_then(|r| r.as_ref().ok()).cloned(),
            errors: outcome
                .as_ref()
                .ok()
                .and_then(|r| r.as_ref().err())
                .map(|es| es.iter().map(|e| e.record_at(&checked.sources)).collect()),
            warnings: interp.recorder.warnings(),
            steps: interp.recorder.steps_json(&checked.sources),
            decisions: interp.llm.decisions(),
        };
        if let Err(e) = std::fs::write(
            path,
            serde_json::to_string_pretty(&record).expect("records serialise"),
        ) {
            eprintln!("error: cannot write the run record `{path}`: {e}");
            return USAGE;
        }
    }
    if let Some(path) = &a.record_llm
        && let Err(e) = std::fs::write(
            path,
            serde_json::to_string_pretty(&interp.llm.recording()).expect("records serialise"),
        )
    {
        eprintln!("error: cannot write the LLM recording `{path}`: {e}");
        return USAGE;
    }
    if let Some(path) = &a.trace
        && let Err(e) = std::fs::write(
            path,
            interp
                .recorder
                .trace(&format!("{} {flow}", a.file))
                .to_string(),
        )
    {
        eprintln!("error: cannot write the trace `{path}`: {e}");
        return USAGE;
    }
    code
}

fn set_json(set: &[String]) -> serde_json::Map<String, Value> {
    set.iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

pub fn graph(file: &str, flow: Option<&str>, format: GraphFormat) -> u8 {
    let checked = match load(file, true) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let name = match pick_flow(&checked.program, file, flow) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let g = crate::ir::lower_flow(
        &checked.program,
        &checked.sources,
        checked.program.root,
        &name,
    );
    let text = match format {
        GraphFormat::Dot => g.to_dot(),
        GraphFormat::Mermaid => g.to_mermaid(),
        GraphFormat::Json => serde_json::to_string_pretty(&g.to_json()).expect("graphs serialise"),
    };
    super::out::println(&text);
    OK
}
