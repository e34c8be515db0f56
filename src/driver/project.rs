//! Who answers LLM decisions: `--llm`, `--model`, `--llm-timeout` and
//! `FLOWC_LLM_MODEL`, else `[llm]` of the nearest `flowc.toml` (in the flow's
//! folder or above it). `flowc run` and `flowc repl` choose the same way.

use std::path::{Path, PathBuf};

use crate::run::llm::{self, Provider};

/// The LLM choices of a command line; `None` leaves each to `flowc.toml`.
#[derive(Clone, Debug, Default)]
pub struct LlmArgs {
    /// `--llm`: openai:BASE_URL, replay:FILE.json, cmd:PROGRAM or human.
    pub provider: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `--llm-timeout`, such as `30s`.
    pub timeout: Option<String>,
    /// `--llm-constrain`: auto, json_schema, gbnf, lark or none.
    pub constrain: Option<String>,
}

/// The LLM settings of a project: `[llm]` in the nearest `flowc.toml`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    llm: Option<LlmSection>,
    /// `[policy.NAME]` tables: policies for the flows of the project (docs/language.md,
    /// "Policies").
    policy: Option<std::collections::BTreeMap<String, toml::Table>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LlmSection {
    provider: Option<String>,
    model: Option<String>,
    timeout: Option<String>,
    /// How answers are constrained: auto, json_schema, gbnf, lark or none.
    constrain: Option<String>,
    /// The model's context in tokens, or `"server"` (asked from llama.cpp's
    /// `/props`): requests are cut to fit it.
    context: Option<ContextSize>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum ContextSize {
    Tokens(u64),
    Word(String),
}

/// Finds and reads the `flowc.toml` that applies to the folder `dir`, or
/// above it: (its folder, its contents, its text).
fn project_file(dir: &Path) -> Result<Option<(PathBuf, ProjectFile, String)>, String> {
    let mut dir = std::fs::canonicalize(dir).ok();
    while let Some(d) = dir {
        let candidate = d.join("flowc.toml");
        if candidate.is_file() {
            let text =
                crate::files::read_text(&candidate, crate::files::SOURCE_LIMIT, "source files")
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
            return Ok(Some((shown, parsed, text)));
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    Ok(None)
}

/// The folder of `file` (the current folder for a bare file name).
pub fn folder_of(file: &str) -> PathBuf {
    match Path::new(file).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A chosen LLM provider, and the `flowc.toml` that chose it.
#[derive(Default)]
pub struct Chosen {
    pub provider: Option<Box<dyn Provider>>,
    /// The `flowc.toml` that named the provider (not set when `--llm` did).
    pub from: Option<PathBuf>,
}

impl Chosen {
    /// The provider's name, such as `replay:answers.json`.
    pub fn name(&self) -> Option<String> {
        self.provider.as_ref().map(|p| p.name())
    }
}

/// The LLM provider for flows in the folder `dir`: `--llm`, else the
/// project's `flowc.toml` (then also its path), else none.
pub fn choose_provider(dir: &Path, args: &LlmArgs) -> Result<Chosen, String> {
    let project = project_file(dir)?;
    let section = project
        .as_ref()
        .and_then(|(d, p, _)| p.llm.as_ref().map(|l| (d, l)));
    let mut settings = llm::Settings::default();
    let model = args
        .model
        .clone()
        .or_else(|| std::env::var("FLOWC_LLM_MODEL").ok())
        .or_else(|| section.and_then(|(_, l)| l.model.clone()));
    if let Some(m) = model {
        settings.model = m;
    }
    let timeout = args
        .timeout
        .clone()
        .or_else(|| section.and_then(|(_, l)| l.timeout.clone()));
    if let Some(t) = timeout {
        settings.timeout = crate::run::opts::parse_duration(&t)
            .ok_or_else(|| format!("LLM timeout `{t}` is not a duration such as `30s`"))?;
    }
    let from_toml = |e: String| match section {
        Some((dir, _)) => format!("{e} (from `{}`)", dir.join("flowc.toml").display()),
        None => e,
    };
    match &args.constrain {
        Some(c) => settings.constrain = llm::Constrain::parse(c)?,
        None => {
            if let Some(c) = section.and_then(|(_, l)| l.constrain.as_deref()) {
                settings.constrain = llm::Constrain::parse(c).map_err(from_toml)?;
            }
        }
    }
    match section.and_then(|(_, l)| l.context.as_ref()) {
        Some(ContextSize::Tokens(n)) if *n < 64 => {
            return Err(from_toml(format!(
                "`[llm] context = {n}`: a model's context is at least 64 tokens"
            )));
        }
        Some(ContextSize::Tokens(n)) => settings.context = Some(*n),
        Some(ContextSize::Word(w)) if w == "server" => settings.context_from_server = true,
        Some(ContextSize::Word(w)) => {
            return Err(from_toml(format!(
                "`[llm] context = {w:?}`: write the model's context in tokens (`context = 2048`), \
                 or `\"server\"` to ask the server (llama.cpp's `/props`)"
            )));
        }
        None => {}
    }
    match (&args.provider, section) {
        (Some(spec), _) => Ok(Chosen {
            provider: Some(llm::provider(spec, &settings, Path::new(""))?),
            from: None,
        }),
        (None, Some((dir, l))) => match &l.provider {
            Some(spec) => {
                let toml = dir.join("flowc.toml");
                let p = llm::provider(spec, &settings, dir)
                    .map_err(|e| format!("{e} (from `{}`)", toml.display()))?;
                Ok(Chosen {
                    provider: Some(p),
                    from: Some(toml),
                })
            }
            None => Ok(Chosen::default()),
        },
        (None, None) => Ok(Chosen::default()),
    }
}

/// The `flowc.toml` that applies to the folder `dir` when it has
/// `[policy.NAME]` tables: the name diagnostics show for it and its text,
/// which the checker decodes (`check::policy`); `None` without any.
pub fn policies_source(dir: &Path) -> Result<Option<(String, String)>, String> {
    let Some((folder, file, text)) = project_file(dir)? else {
        return Ok(None);
    };
    if file.policy.is_none_or(|t| t.is_empty()) {
        return Ok(None);
    }
    Ok(Some((
        format!("{}/flowc.toml [policy]", folder.display()),
        text,
    )))
}
