//! The one session layer under every front door (`flowc check`, `run`,
//! `resume`, `approve`, `test`, the REPL, the Restate worker): load, parse
//! and check ([`check_source`]); prepare a run from a [`Request`]
//! ([`session`]: the flow, typed arguments, typed options); run it on an
//! [`Engine`] ([`engine`]: here, or on Restate) with a runtime that signals
//! or the caller cancel ([`runner`]); resume it under the resume policy
//! ([`resume`]); report what happens as [`Event`]s. It holds no
//! process-wide state and prints nothing: the callers present its data.

pub mod engine;
pub mod event;
pub mod explain;
pub mod inspect;
pub mod mcp;
pub mod project;
pub mod report;
pub mod resume;
pub mod runner;
pub mod session;
pub mod signals;
pub mod testing;

pub use engine::{Engine, Local};
pub use event::{Event, Progress};
pub use report::{Here, RemoteEnd, Report, Reported};
pub use session::{
    ApproveRequest, Exit, Prepared, Refusal, Request, ResumeRequest, Settings, Wishes, prepare,
};

/// What the front doors show of a run's parts, without reaching into `run`.
pub use crate::run::approve::{ApproveMode, Pending, local_user};
pub use crate::run::record::StepStatus;
pub use crate::run::testing::TestFailure;
pub use crate::run::tools::head;
pub use crate::status::RunStatus;

use crate::check::{self, Loader, Program};
use crate::diag::Diagnostic;
use crate::source::Sources;

/// The folder of the store (docs/store.md): `--store DIR`, else `FLOWC_STORE`,
/// else `.flowc` in the current folder.
pub fn store_dir(flag: Option<&str>) -> std::path::PathBuf {
    flag.map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("FLOWC_STORE")
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from)
        })
        .unwrap_or_else(|| std::path::PathBuf::from(".flowc"))
}

/// Reads imported files from the file system; MCP servers' tools come from
/// the cache in `store` (asked when nothing is cached, or always when
/// `refresh_mcp`: `flowc check --refresh-mcp`).
#[derive(Clone, Debug)]
pub struct FsLoader {
    store: std::path::PathBuf,
    refresh_mcp: bool,
}

impl FsLoader {
    /// A loader whose MCP cache is in the store at `store`.
    pub fn new(store: &std::path::Path) -> FsLoader {
        FsLoader {
            store: store.to_path_buf(),
            refresh_mcp: false,
        }
    }

    /// A loader whose MCP cache is in the default store ([`store_dir`] `(None)`).
    pub fn here() -> FsLoader {
        FsLoader::new(&store_dir(None))
    }

    /// The same loader, asking MCP servers again rather than reading the cache.
    pub fn refreshing(mut self) -> FsLoader {
        self.refresh_mcp = true;
        self
    }
}

impl Loader for FsLoader {
    fn read(&self, path: &str) -> Result<String, String> {
        crate::files::read_source(path)
    }

    fn project_policies(&self, root: &str) -> Result<Option<(String, String)>, String> {
        project::policies_source(&project::folder_of(root))
    }

    fn file_kind(&self, path: &std::path::Path) -> Option<check::FileKind> {
        Some(file_kind(path))
    }

    fn search_path(&self) -> Option<Vec<std::path::PathBuf>> {
        Some(search_path())
    }

    fn mcp_tools(
        &self,
        server: &check::mcp::McpServer,
        dir: &std::path::Path,
    ) -> check::mcp::McpTools {
        mcp::tools(&self.store, server, &absolute(dir), self.refresh_mcp)
    }
}

/// `dir` made absolute (the cache's key does not depend on the current folder).
fn absolute(dir: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// What is at `path` on the file system (symbolic links followed).
pub fn file_kind(path: &std::path::Path) -> check::FileKind {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => check::FileKind::Executable,
        Ok(m) if m.is_file() => check::FileKind::File,
        _ => check::FileKind::Missing,
    }
}

/// The folders of this process's `PATH` (`/usr/bin:/bin` without one).
pub fn search_path() -> Vec<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).collect()
}

/// The outcome of checking one root file.
#[derive(Clone)]
pub struct Checked {
    pub sources: Sources,
    pub program: Program,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks source text given under `name` (imports resolve relative to `name`).
pub fn check_source(name: &str, text: &str, loader: &dyn Loader) -> Checked {
    checked(name, text, loader, check::check_program)
}

/// [`check_source`], keeping the checker's index of types, references and
/// scopes (`Program::index`), as the language server needs.
pub fn check_source_indexed(name: &str, text: &str, loader: &dyn Loader) -> Checked {
    checked(name, text, loader, check::check_program_indexed)
}

type CheckFn = fn(&mut Sources, crate::span::FileId, &dyn Loader) -> (Program, Vec<Diagnostic>);

fn checked(name: &str, text: &str, loader: &dyn Loader, check: CheckFn) -> Checked {
    let mut sources = Sources::new();
    let root = sources.add(name, text);
    let (program, diagnostics) = check(&mut sources, root, loader);
    Checked {
        sources,
        program,
        diagnostics,
    }
}
