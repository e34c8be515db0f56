//! The command line: thin adapters over the library. Returns exit codes.

mod approve;
mod engine;
mod explain_replan;
mod fmt;
mod mcp;
mod present;
mod resume;
mod run;
mod runs;
mod serve;
mod test;

use std::io::Write;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diag::{Severity, catalog, render};
use crate::driver::project::LlmArgs;
use crate::driver::{FsLoader, check_source};
use crate::term::{FAILED, OK, USAGE, color_stderr, out};

/// flowc: check and run `.flow` workflow programs.
#[derive(Parser, Debug)]
#[command(name = "flowc", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse and check files; report diagnostics
    Check {
        /// The `.flow` files to check; a folder checks every `.flow` file in it
        /// (recursively, sorted, skipping hidden folders and `target/`)
        #[arg(required = true)]
        files: Vec<String>,
        /// Output format of the diagnostics
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Exit with status 1 when there are warnings
        #[arg(long)]
        deny_warnings: bool,
        /// Also list every LLM decision (`decide`, `llm()`) and the labels it can answer
        #[arg(long)]
        decisions: bool,
        /// Ask MCP servers for their tools again rather than reading the
        /// answers cached in the store
        #[arg(long)]
        refresh_mcp: bool,
    },
    /// Run a flow; print its result as JSON on stdout
    Run(Box<run::RunArgs>),
    /// Print the dataflow graph of a flow
    Graph {
        /// The `.flow` file
        file: String,
        /// The flow (default: the only flow, or `main`); `lib.name` for a
        /// flow of an imported module, as code calls it
        #[arg(long)]
        flow: Option<String>,
        /// Output format
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// Serve a Restate endpoint that runs flows' steps (docs/scale-out.md)
    Worker(engine::WorkerArgs),
    /// Serve flows over HTTP: an API to start, watch, approve, cancel and
    /// resume runs, with live events (docs/service.md)
    Serve(serve::ServeArgs),
    /// Serve flows as MCP tools over stdin and stdout, for assistants that
    /// speak the Model Context Protocol (docs/mcp.md)
    Mcp(mcp::McpArgs),
    /// Resume a stored run that failed, was cancelled or was interrupted: its
    /// journaled steps are replayed, the rest run
    Resume(Box<resume::ResumeArgs>),
    /// Answer an approval a paused run waits for (then `flowc resume` it)
    Approve(approve::ApproveArgs),
    /// The runs in the store: newest first; `show RUN`, `gc --older-than D`
    Runs(runs::RunsArgs),
    /// The cross-run result cache in the store
    Cache {
        #[command(subcommand)]
        action: runs::CacheAction,
    },
    /// The store itself: `check` runs SQLite's integrity check on it
    Store {
        #[command(subcommand)]
        action: runs::StoreAction,
    },
    /// Run the `test` blocks of `.flow` files, with their mocks; report like `cargo test`
    Test(test::TestArgs),
    /// Format `.flow` files in their one canonical layout (stdin to stdout without files)
    Fmt(fmt::FmtArgs),
    /// Explain a diagnostic code, with an example
    Explain {
        /// The code, such as E0201
        code: String,
    },
    /// Print what a re-plan of a block would send the model: the messages and
    /// the grammar of the answer (GBNF and Lark), without running anything
    ExplainReplan(explain_replan::ExplainReplanArgs),
    /// An interactive session: declarations and statements accumulate, tools run
    Repl {
        /// A `.flow` file whose declarations start the session (its folder is where tools run)
        file: Option<String>,
        #[command(flatten)]
        llm: LlmFlags,
    },
    /// The language server, over stdin and stdout (editors start it)
    Lsp,
}

/// Who answers LLM decisions: the same flags for `flowc run` and `flowc repl`.
#[derive(clap::Args, Debug, Default)]
pub struct LlmFlags {
    /// Who answers `decide` and `llm()`: openai:BASE_URL, replay:FILE.json, cmd:PROGRAM or human
    /// (default: `[llm] provider` of a flowc.toml beside the flow or above it)
    #[arg(long, value_name = "PROVIDER")]
    pub llm: Option<String>,
    /// The model the openai provider asks (default: FLOWC_LLM_MODEL, or the flowc.toml's `model`)
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// How long one LLM answer may take, such as 30s (default: the flowc.toml's `timeout`, or 60s)
    #[arg(long, value_name = "DURATION")]
    pub llm_timeout: Option<String>,
    /// How answers are constrained for the model's decoder: auto, json_schema, gbnf, lark or none
    /// (default: the flowc.toml's `constrain`, or auto)
    #[arg(long, value_name = "HOW")]
    pub llm_constrain: Option<String>,
}

impl LlmFlags {
    pub fn args(&self) -> LlmArgs {
        LlmArgs {
            provider: self.llm.clone(),
            model: self.model.clone(),
            timeout: self.llm_timeout.clone(),
            constrain: self.llm_constrain.clone(),
        }
    }
}

pub fn run(cli: Cli) -> u8 {
    let code = match cli.command {
        Command::Check {
            files,
            format,
            deny_warnings,
            decisions,
            refresh_mcp,
        } => check(&files, format, deny_warnings, decisions, refresh_mcp),
        Command::Explain { code } => explain(&code),
        Command::ExplainReplan(a) => explain_replan::explain_replan(&a),
        Command::Test(a) => test::test(&a),
        Command::Fmt(a) => fmt::fmt(&a),
        Command::Run(a) => run::run(&a),
        Command::Graph { file, flow, format } => run::graph(&file, flow.as_deref(), format),
        Command::Runs(a) => runs::runs(&a),
        Command::Resume(a) => resume::resume(&a),
        Command::Approve(a) => approve::approve(&a),
        Command::Cache { action } => runs::cache(&action),
        Command::Store { action } => runs::store(&action),
        Command::Repl { file, llm } => crate::repl::main(file, llm.args()),
        Command::Lsp => crate::lsp::main(),
        Command::Worker(a) => engine::worker(&a),
        Command::Serve(a) => serve::serve(&a),
        Command::Mcp(a) => mcp::mcp(&a),
    };
    out::exit_code(code)
}

fn check(
    files: &[String],
    format: Format,
    deny_warnings: bool,
    decisions: bool,
    refresh_mcp: bool,
) -> u8 {
    let color = color_stderr();
    let mut errors = 0usize;
    let mut warnings = 0usize;
    let mut unreadable = false;
    let stderr = std::io::stderr();
    let loader = if refresh_mcp {
        FsLoader::here().refreshing()
    } else {
        FsLoader::here()
    };
    let (expanded, empty) = expand_flow_files(files);
    unreadable |= empty;
    for (k, file) in expanded.iter().enumerate() {
        let text = match crate::files::read_source(file) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(stderr.lock(), "error: {e}");
                unreadable = true;
                continue;
            }
        };
        let checked = check_source(file, &text, &loader);
        for d in &checked.diagnostics {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            if format == Format::Json {
                out::println(&render::to_json(d, &checked.sources).to_string());
            }
        }
        if format == Format::Human {
            // At most a screenful per file; JSON keeps them all.
            let _ = write!(
                stderr.lock(),
                "{}",
                render::render_all(&checked.diagnostics, &checked.sources, color)
            );
        }
        if decisions {
            for site in &checked.program.decisions {
                out::println(&decision_line(site, &checked.sources, format));
            }
        }
        // The process ends after the last file: its program (a large one's
        // AST is tens of megabytes, freed node by node) is left to the
        // operating system.
        if k + 1 == expanded.len() {
            std::mem::forget(checked);
        }
    }
    if format == Format::Human && (errors > 0 || warnings > 0) {
        let _ = writeln!(stderr.lock(), "{}", summary(errors, warnings));
    }
    if unreadable {
        USAGE
    } else if errors > 0 || (deny_warnings && warnings > 0) {
        FAILED
    } else {
        OK
    }
}

/// The files named on a command line, each folder replaced by its `.flow`
/// files ([`crate::files::flow_files_in`]); `true` when a folder had none (said on stderr).
pub(super) fn expand_flow_files(args: &[String]) -> (Vec<String>, bool) {
    let mut files = Vec::new();
    let mut empty = false;
    for arg in args {
        let path = std::path::Path::new(arg);
        if path.is_dir() {
            let before = files.len();
            crate::files::flow_files_in(path, &mut files);
            if files.len() == before {
                eprintln!(
                    "error: no `.flow` files in `{arg}` (hidden folders and `target/` are skipped)"
                );
                empty = true;
            }
        } else {
            files.push(arg.clone());
        }
    }
    (files, empty)
}

fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) => format!("{} emitted", plural(w, "warning")),
        (e, 0) => format!("{} emitted", plural(e, "error")),
        (e, w) => format!(
            "{} and {} emitted",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

fn explain(code: &str) -> u8 {
    match catalog::lookup(code) {
        Some(info) => {
            out::println(&explain_text(info));
            OK
        }
        None => {
            eprintln!(
                "error: unknown diagnostic code `{code}`; codes look like E0201 or W0001 (see docs/diagnostics.md)"
            );
            USAGE
        }
    }
}

/// One line of `flowc check --decisions`.
fn decision_line(
    site: &crate::check::DecisionSite,
    sources: &crate::source::Sources,
    format: Format,
) -> String {
    let f = sources.get(site.span.file);
    let (line, column) = crate::syntax::span::line_col(&f.text, site.span.start as usize);
    match format {
        Format::Json => serde_json::json!({
            "decision": site.kind,
            "file": f.name,
            "line": line,
            "column": column,
            "flow": site.flow,
            "labels": site.labels,
            "else": site.has_else,
        })
        .to_string(),
        Format::Human => {
            let what = if site.kind == "llm" {
                "llm()"
            } else {
                "decide"
            };
            let flow = site
                .flow
                .as_ref()
                .map(|n| format!(" in flow `{n}`"))
                .unwrap_or_default();
            let invalid = if site.has_else {
                "`else` when no answer is valid"
            } else {
                "llm_error when no answer is valid"
            };
            format!(
                "{}:{line}:{column}: {what}{flow} answers {}; {invalid}",
                f.name,
                site.labels.join(" | ")
            )
        }
    }
}

/// The long form of a code: used by `flowc explain` and `docs/diagnostics.md`.
pub fn explain_text(info: &catalog::CodeInfo) -> String {
    format!(
        "{}: {}\n\n{}\n\nExample:\n\n```flow\n{}\n```",
        info.code, info.title, info.explanation, info.example
    )
}

/// `docs/diagnostics.md`, generated from the catalog (a test keeps the file in step).
pub fn diagnostics_markdown() -> String {
    let mut s = String::from(
        "# Diagnostics\n\nEvery diagnostic `flowc check` can report, with a stable code. `flowc explain CODE` prints the same text.\nCodes: E01xx syntax, E02xx names, E03xx types, E04xx graph and cycles, E05xx options and literals, W0xxx warnings.\n\nThis file is generated from `src/diag/catalog.rs` (`BLESS=1 cargo test` rewrites it).\n\n| code | what |\n|---|---|\n",
    );
    for c in catalog::CODES {
        s.push_str(&format!(
            "| [{0}](#{1}) | {2} |\n",
            c.code,
            c.code.to_lowercase(),
            c.title.replace('|', "\\|")
        ));
    }
    for c in catalog::CODES {
        s.push_str(&format!(
            "\n## {}\n\n**{}**\n\n{}\n\nExample:\n\n```flow\n{}\n```\n",
            c.code, c.title, c.explanation, c.example
        ));
    }
    s
}
