//! A run prepared from a request: the file read and checked, the flow
//! chosen, the arguments parsed by their parameters' types and the `--set`
//! options decoded, each once. What is refused comes back as a
//! [`Refusal`], phrased, never printed.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::event::Event;
use super::project::LlmArgs;
use super::{Checked, FsLoader, check_source};
use crate::check::{Program, Type};
use crate::files;
use crate::run::approve::{ApproveMode, local_user};
use crate::run::opts::Opts;

/// How a refused command ends: a usage error (exit 2) or a failure (exit 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Usage,
    Failed,
}

/// Why the driver did not run (or resume, or answer) what it was asked:
/// the error in words, and lines that follow it (notes, lists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub exit: Exit,
    pub error: String,
    /// Shown after the error, as written (each its own line).
    pub after: Vec<String>,
}

impl Refusal {
    pub fn usage(error: impl Into<String>) -> Refusal {
        Refusal {
            exit: Exit::Usage,
            error: error.into(),
            after: Vec::new(),
        }
    }

    pub fn failed(error: impl Into<String>) -> Refusal {
        Refusal {
            exit: Exit::Failed,
            ..Refusal::usage(error)
        }
    }

    /// The refusal with one more line after its error.
    pub fn then(mut self, line: impl Into<String>) -> Refusal {
        self.after.push(line.into());
        self
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Refusal {
        Refusal::usage(e.to_string())
    }
}

/// The run-wide options (`--set key=value`), decoded once when given; the
/// text as given is kept for the run record and the store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    opts: Opts,
    given: Vec<String>,
}

impl Settings {
    /// Decodes `key=value` options; the first that does not decode is the error.
    pub fn parse(given: &[String]) -> Result<Settings, String> {
        let mut opts = Opts::default();
        for kv in given {
            kv.split_once('=')
                .ok_or_else(|| format!("`--set {kv}`: write `--set key=value`"))
                .and_then(|(k, v)| opts.set(k, v))?;
        }
        Ok(Settings {
            opts,
            given: given.to_vec(),
        })
    }

    /// These options, with `later`'s winning where both set one.
    pub fn with(&self, later: &Settings) -> Settings {
        Settings {
            opts: self.opts.overlay(&later.opts),
            given: self.given.iter().chain(&later.given).cloned().collect(),
        }
    }

    /// The options as decoded.
    pub fn opts(&self) -> &Opts {
        &self.opts
    }

    /// The options as given: `key=value`.
    pub fn given(&self) -> &[String] {
        &self.given
    }
}

/// Sent (to a Restate worker) as the options given, `["timeout=10s"]`.
impl serde::Serialize for Settings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.given.serialize(s)
    }
}

/// Received as the options given, decoded once as they arrive.
impl<'de> serde::Deserialize<'de> for Settings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Settings, D::Error> {
        let given = Vec::<String>::deserialize(d)?;
        Settings::parse(&given).map_err(serde::de::Error::custom)
    }
}

/// What to keep of a run besides its outcome (the caller writes the files).
#[derive(Clone, Copy, Debug, Default)]
pub struct Wishes {
    /// The run record (`--record`).
    pub record: bool,
    /// The Chrome trace (`--trace`).
    pub trace: bool,
    /// The LLM decisions, replayable (`--record-llm`).
    pub llm_recording: bool,
    /// [`Event::Progress`] every 100 ms (a live view).
    pub progress: bool,
    /// [`Event::StepStarted`], [`Event::StepFinished`], decisions and re-plans.
    pub steps: bool,
}

/// A run to start: what `flowc run` (and, next, a service) is asked.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The `.flow` file.
    pub file: String,
    /// The flow to run: the only one, or `main`, when `None`.
    pub flow: Option<String>,
    /// A file holding a JSON object of arguments (`-`: stdin).
    pub input: Option<String>,
    /// Arguments as `name=value`, parsed by the parameter's type (they win
    /// over the input's).
    pub args: Vec<String>,
    /// Run-wide options as `key=value`.
    pub set: Vec<String>,
    /// Who answers LLM decisions.
    pub llm: LlmArgs,
    /// The folder of the store that keeps the run; `None`: no store.
    pub store: Option<PathBuf>,
    /// What an `approve` without an answer does: `Ask` on a terminal, else
    /// the run pauses (with a store) or fails (without).
    pub approvals: ApproveMode,
    /// Ignore `cache` options.
    pub no_cache: bool,
    pub wishes: Wishes,
}

/// A stored run to take up again.
#[derive(Clone, Debug, Default)]
pub struct ResumeRequest {
    /// The run's id, or a unique start of it.
    pub run: String,
    /// The folder of the store that keeps it.
    pub store: PathBuf,
    /// Resume although a source file changed (a journaled step is then
    /// replayed only when its tool, binding and arguments are unchanged).
    pub allow_changed: bool,
    /// Run again the effects that started and did not finish.
    pub rerun_uncertain: bool,
    /// Retry from this step (its path): it and what depends on it run
    /// again, every other journaled step is replayed; a run that ended
    /// `ok` may be retried so.
    pub rerun: Option<String>,
    /// Options given now (`key=value`): added to, and winning over, the run's own.
    pub set: Vec<String>,
    pub approvals: ApproveMode,
    pub llm: LlmArgs,
    pub wishes: Wishes,
}

/// An answer to an approval a run waits for.
#[derive(Clone, Debug, Default)]
pub struct ApproveRequest {
    /// The run's id, or a unique start of it.
    pub run: String,
    /// The approval's step path; may be left out when the run waits for one.
    pub path: Option<String>,
    pub approved: bool,
    /// Who answers (default: the local user).
    pub by: Option<String>,
    pub note: Option<String>,
    /// The folder of the store that keeps the run (a local run).
    pub store: PathBuf,
}

impl ApproveRequest {
    /// Who answers: as given, else the local user.
    pub fn by(&self) -> String {
        self.by.clone().unwrap_or_else(local_user)
    }
}

/// A provider that asks on the terminal (`--llm human`): no live view is
/// drawn over its questions.
pub(super) fn asks_on_terminal(provider: Option<&str>) -> bool {
    provider == Some("human")
}

/// A checked run, ready for an engine.
pub struct Prepared {
    pub checked: Checked,
    pub file: String,
    pub flow: String,
    /// The arguments, each conforming to its parameter's type.
    pub inputs: Map<String, Value>,
    pub settings: Settings,
}

impl Prepared {
    /// The root file's text, as checked.
    pub fn text(&self) -> &str {
        let root = self.checked.program.root_module().file;
        &self.checked.sources.get(root).text
    }
}

/// Reads and checks `file` (the MCP servers' tools from the cache in the
/// store `loader` names), reporting [`Event::Checked`]; refused when it
/// cannot be read (usage) or has errors (failed).
pub fn check_file(
    file: &str,
    loader: &FsLoader,
    sink: &mut dyn FnMut(Event<'_>),
) -> Result<Checked, Refusal> {
    let text = files::read_source(file).map_err(Refusal::usage)?;
    let checked = check_source(file, &text, loader);
    sink(Event::Checked(&checked));
    if checked.has_errors() {
        return Err(Refusal::failed(format!(
            "`{file}` has errors; nothing was run"
        )));
    }
    Ok(checked)
}

/// Prepares `req`: checked, its flow, arguments and options.
pub fn prepare(req: &Request, sink: &mut dyn FnMut(Event<'_>)) -> Result<Prepared, Refusal> {
    // Without a store, the MCP cache of the default one.
    let loader = match &req.store {
        Some(dir) => FsLoader::new(dir),
        None => FsLoader::here(),
    };
    let checked = check_file(&req.file, &loader, sink)?;
    let flow = pick_flow(&checked.program, &req.file, req.flow.as_deref())?;
    let inputs = inputs(&checked.program, &flow, req.input.as_deref(), &req.args)?;
    let settings = Settings::parse(&req.set).map_err(Refusal::usage)?;
    Ok(Prepared {
        checked,
        file: req.file.clone(),
        flow,
        inputs,
        settings,
    })
}

/// The flow to run: `wanted`, the only one, or `main`.
pub fn pick_flow(program: &Program, file: &str, wanted: Option<&str>) -> Result<String, Refusal> {
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
            Err(Refusal::usage(format!(
                "`{file}` has no flow `{w}`{help}; its flows: {list}"
            )))
        }
        None if names.len() == 1 => Ok(names[0].clone()),
        None if md.flows.contains_key("main") => Ok("main".into()),
        None if names.is_empty() => {
            Err(Refusal::usage(format!("`{file}` declares no flow to run")))
        }
        None => Err(Refusal::usage(format!(
            "`{file}` has several flows and none is `main`; choose one with --flow ({list})"
        ))),
    }
}

/// The arguments of `flow`: the `input` file's object, then each `name=value`
/// of `args` parsed by its parameter's type; every parameter without a
/// default given, every value conforming to its type.
pub fn inputs(
    program: &Program,
    flow: &str,
    input: Option<&str>,
    args: &[String],
) -> Result<Map<String, Value>, Refusal> {
    let sig = &program.root_module().flows[flow];
    let mut inputs = Map::new();
    if let Some(path) = input {
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
                return Err(Refusal::usage(format!(
                    "`{path}` must hold a JSON object of arguments"
                )));
            }
            Err(e) => return Err(Refusal::usage(format!("cannot read `{path}`: {e}"))),
        }
    }
    for kv in args {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(Refusal::usage(format!(
                "`--arg {kv}`: write `--arg name=value`"
            )));
        };
        let Some(p) = sig.params.iter().find(|p| p.name == k) else {
            let names: Vec<&str> = sig.params.iter().map(|p| p.name.as_str()).collect();
            return Err(Refusal::usage(format!(
                "flow `{flow}` has no parameter `{k}`; its parameters: {}",
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            )));
        };
        let val = parse_arg(&p.ty, v).map_err(|e| Refusal::usage(format!("`--arg {k}`: {e}")))?;
        inputs.insert(k.to_string(), val);
    }
    conforming(program, flow, inputs).map_err(|e| Refusal::usage(e.message(flow)))
}

/// Why arguments do not fit a flow's parameters (a service answers it as
/// data: the parameter and, for a mismatch, where in the value).
#[derive(Clone, Debug, PartialEq)]
pub enum ArgError {
    /// No parameter of that name.
    Unknown { name: String, params: Vec<String> },
    /// A parameter without a default that was not given.
    Missing { name: String, ty: String },
    /// A value that does not have its parameter's type.
    Mismatch {
        name: String,
        expected: String,
        path: String,
        found: String,
    },
}

impl ArgError {
    /// The parameter it is about.
    pub fn parameter(&self) -> &str {
        match self {
            ArgError::Unknown { name, .. }
            | ArgError::Missing { name, .. }
            | ArgError::Mismatch { name, .. } => name,
        }
    }
}

impl ArgError {
    /// In words, naming `flow`.
    pub fn message(&self, flow: &str) -> String {
        match self {
            ArgError::Unknown { name, params } => format!(
                "flow `{flow}` has no parameter `{name}`; its parameters: {}",
                if params.is_empty() {
                    "none".into()
                } else {
                    params.join(", ")
                }
            ),
            ArgError::Missing { name, ty } => format!(
                "flow `{flow}` needs `{name}: {ty}`; pass it with `--arg {name}=…` or `--input args.json`"
            ),
            ArgError::Mismatch {
                name,
                expected,
                path,
                found,
            } => format!(
                "argument `{name}` of flow `{flow}`: expected `{expected}` at `{path}`, found {found}"
            ),
        }
    }
}

/// `inputs` when every argument is a JSON value already: each a parameter
/// of `flow`, every parameter without a default given, every value of its
/// type. The first error.
pub fn conforming(
    program: &Program,
    flow: &str,
    inputs: Map<String, Value>,
) -> Result<Map<String, Value>, ArgError> {
    let sig = &program.root_module().flows[flow];
    if let Some(k) = inputs
        .keys()
        .find(|k| sig.params.iter().all(|p| &p.name != *k))
    {
        return Err(ArgError::Unknown {
            name: k.clone(),
            params: sig.params.iter().map(|p| p.name.clone()).collect(),
        });
    }
    for p in &sig.params {
        match inputs.get(&p.name) {
            None if !p.has_default && !p.ty.is_optional() => {
                return Err(ArgError::Missing {
                    name: p.name.clone(),
                    ty: p.ty.to_string(),
                });
            }
            Some(v) => {
                if let Err(m) = crate::value::conforms(v, &p.ty) {
                    return Err(ArgError::Mismatch {
                        name: p.name.clone(),
                        expected: m.expected.to_string(),
                        path: m.path.to_string(),
                        found: m.found.to_string(),
                    });
                }
            }
            None => {}
        }
    }
    Ok(inputs)
}

/// An argument's text by its parameter's type: strings as written, durations
/// as `30s`, the rest as JSON.
pub fn parse_arg(ty: &Type, raw: &str) -> Result<Value, String> {
    match ty {
        Type::String | Type::Lit(_) => Ok(Value::String(raw.to_string())),
        Type::Optional(inner) if matches!(**inner, Type::String | Type::Lit(_)) => {
            Ok(Value::String(raw.to_string()))
        }
        Type::Duration => crate::check::options::parse_duration(raw)
            .map(|d| Value::from(d.as_millis() as i64))
            .ok_or_else(|| format!("`{raw}` is not a duration such as `30s`")),
        _ => serde_json::from_str(raw)
            .map_err(|_| format!("`{raw}` is not a valid `{ty}` (write it as JSON)")),
    }
}
