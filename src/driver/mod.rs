//! The one session layer under `flowc check`, `flowc run` and `flowc repl`:
//! load, parse and check ([`check_source`]), choose the LLM provider
//! ([`project`]), find the store ([`store_dir`]), and run with a runtime
//! that signals cancel ([`runner`]).
//! It returns data and events; the callers print them.

pub mod project;
pub mod runner;
pub mod signals;
pub mod testing;

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

/// Reads imported files from the file system.
pub struct FsLoader;

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
