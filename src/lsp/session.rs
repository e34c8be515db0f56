//! The language server's session: one thread owns the open documents and
//! their checked programs (the checker's data is not `Send`), checks a
//! document when it opens or changes (or a file it imports changes on disk,
//! as the client's file watcher reports), publishes its diagnostics, and
//! answers questions about it. Changes that arrive while a check runs are taken
//! together: the next check sees only the newest text (the debounce).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    TextDocumentContentChangeEvent, Uri,
};

use super::text::{Lines, apply_changes};
use crate::check::Loader;
use crate::check::index::Target;
use crate::diag::{Diagnostic, Severity};
use crate::driver::{Checked, check_source, check_source_indexed};
use crate::source::Sources;
use crate::span::{FileId, Span};

/// One open document and what the checker made of its newest text.
pub struct Doc {
    pub uri: Uri,
    /// The name it is checked under: its path, so that imports resolve beside it.
    pub path: String,
    pub text: String,
    pub version: i32,
    pub checked: Checked,
}

impl Doc {
    /// The root file of the checked program.
    pub fn file(&self) -> FileId {
        self.checked.program.root_module().file
    }
}

/// A question about a document, answered on the session's thread.
pub type Ask = Box<dyn FnOnce(Option<&Doc>) + Send>;

/// What the server sends the session's thread.
pub enum Job {
    Open {
        uri: Uri,
        text: String,
        version: i32,
    },
    Change {
        uri: Uri,
        changes: Vec<TextDocumentContentChangeEvent>,
        version: i32,
    },
    Close {
        uri: Uri,
    },
    Ask(Uri, Ask),
    /// Files changed on disk (the client's file watcher).
    FilesChanged(Vec<Uri>),
}

/// Diagnostics to publish: the document, its diagnostics, the version they are of.
pub type Publish = (Uri, Vec<lsp::Diagnostic>, Option<i32>);

/// Reads imports from the open documents first, then from the file system.
struct OpenFirst<'a> {
    docs: &'a HashMap<Uri, Doc>,
}

impl Loader for OpenFirst<'_> {
    fn read(&self, path: &str) -> Result<String, String> {
        if let Some(d) = self.docs.values().find(|d| d.path == path) {
            return Ok(d.text.clone());
        }
        crate::driver::FsLoader.read(path)
    }

    fn file_kind(&self, path: &std::path::Path) -> Option<crate::check::FileKind> {
        crate::driver::FsLoader.file_kind(path)
    }

    fn search_path(&self) -> Option<Vec<std::path::PathBuf>> {
        crate::driver::FsLoader.search_path()
    }
}

/// The path a document is checked under.
fn path_of(uri: &Uri) -> String {
    uri.to_file_path()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| uri.as_str().to_string())
}

/// Runs the session until the server drops its sender.
pub fn run(jobs: mpsc::Receiver<Job>, publish: tokio::sync::mpsc::UnboundedSender<Publish>) {
    let mut docs: HashMap<Uri, Doc> = HashMap::new();
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter());
        let mut dirty: Vec<Uri> = Vec::new();
        let mut asks: Vec<(Uri, Ask)> = Vec::new();
        for job in batch {
            match job {
                Job::Open { uri, text, version } => {
                    let path = path_of(&uri);
                    let checked = check_source(&path, "", &crate::check::NoFiles);
                    docs.insert(
                        uri.clone(),
                        Doc {
                            uri: uri.clone(),
                            path,
                            text,
                            version,
                            checked,
                        },
                    );
                    dirty.push(uri);
                }
                Job::Change {
                    uri,
                    changes,
                    version,
                } => {
                    if let Some(d) = docs.get_mut(&uri) {
                        apply_changes(&mut d.text, changes);
                        d.version = version;
                        dirty.push(uri);
                    }
                }
                Job::Close { uri } => {
                    docs.remove(&uri);
                    dirty.retain(|u| *u != uri);
                    let _ = publish.send((uri, Vec::new(), None));
                }
                Job::Ask(uri, f) => asks.push((uri, f)),
                Job::FilesChanged(uris) => {
                    // An open document's text is the editor's, not the disk's:
                    // only files that are not open change what a check reads.
                    let paths: Vec<String> = uris
                        .iter()
                        .filter(|u| !docs.contains_key(*u))
                        .map(path_of)
                        .collect();
                    // A document with errors may import a file that was missing.
                    for d in docs.values() {
                        if d.checked.has_errors()
                            || paths.iter().any(|p| d.checked.sources.find(p).is_some())
                        {
                            dirty.push(d.uri.clone());
                        }
                    }
                }
            }
        }
        // Open documents that import a changed one are checked again too.
        let changed: Vec<String> = dirty
            .iter()
            .filter_map(|u| docs.get(u).map(|d| d.path.clone()))
            .collect();
        for d in docs.values() {
            if !dirty.contains(&d.uri)
                && changed
                    .iter()
                    .any(|p| d.checked.sources.find(p).is_some() && *p != d.path)
            {
                dirty.push(d.uri.clone());
            }
        }
        let mut seen = std::collections::HashSet::new();
        dirty.retain(|u| seen.insert(u.clone()));
        for uri in dirty {
            let checked = {
                let Some(d) = docs.get(&uri) else { continue };
                let loader = OpenFirst { docs: &docs };
                // A bug in the checker must not end the session: the file keeps
                // its last result, and the client is told.
                std::panic::catch_unwind(AssertUnwindSafe(|| {
                    check_source_indexed(&d.path, &d.text, &loader)
                }))
            };
            let Some(d) = docs.get_mut(&uri) else {
                continue;
            };
            let diags = match checked {
                Ok(checked) => {
                    d.checked = checked;
                    diagnostics(d)
                }
                Err(_) => vec![lsp::Diagnostic {
                    severity: Some(DiagnosticSeverity::ERROR),
                    source: Some("flowc".into()),
                    message: "internal error: the checker failed on this text (a bug in flowc; \
                              please report it with the file)"
                        .into(),
                    ..Default::default()
                }],
            };
            let _ = publish.send((uri, diags, Some(d.version)));
        }
        for (uri, f) in asks {
            // A failed answer drops its reply: the request gets an empty answer.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| f(docs.get(&uri))));
        }
    }
}

/// The document's diagnostics for the client: the same codes and messages as
/// `flowc check`; labels, notes and `help:` as related information.
/// Diagnostics in an imported file are shown on the import that leads there.
pub fn diagnostics(d: &Doc) -> Vec<lsp::Diagnostic> {
    let c = &d.checked;
    let root = d.file();
    let lines = Lines::new(&d.text);
    c.diagnostics
        .iter()
        .map(|diag| {
            let primary = diag.primary_span();
            let range = if primary.file == root {
                lines.range(primary.start as usize, primary.end as usize)
            } else {
                let at = import_leading_to(c, primary.file).unwrap_or_default();
                lines.range(at.start as usize, at.end as usize)
            };
            let mut message = diag.message.clone();
            if primary.file != root {
                let name = &c.sources.get(primary.file).name;
                let (l, col) = crate::span::line_col(
                    &c.sources.get(primary.file).text,
                    primary.start as usize,
                );
                message = format!("{message} (in `{name}` at {l}:{col})");
            }
            lsp::Diagnostic {
                range,
                severity: Some(match diag.severity {
                    Severity::Error => DiagnosticSeverity::ERROR,
                    Severity::Warning => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(diag.code.to_string())),
                source: Some("flowc".into()),
                message,
                related_information: related(diag, &c.sources, &d.uri, range),
                ..Default::default()
            }
        })
        .collect()
}

/// The labels, notes and help of a diagnostic, each where it points.
fn related(
    diag: &Diagnostic,
    sources: &Sources,
    uri: &Uri,
    primary: lsp::Range,
) -> Option<Vec<DiagnosticRelatedInformation>> {
    let mut out = Vec::new();
    for (i, l) in diag.labels.iter().enumerate() {
        if l.message.is_empty() {
            continue;
        }
        let location = if i == 0 {
            Some(Location::new(uri.clone(), primary))
        } else {
            location(sources, l.span)
        };
        if let Some(location) = location {
            out.push(DiagnosticRelatedInformation {
                location,
                message: l.message.clone(),
            });
        }
    }
    for n in &diag.notes {
        out.push(DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), primary),
            message: format!("note: {n}"),
        });
    }
    if let Some(h) = &diag.help {
        out.push(DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), primary),
            message: format!("help: {h}"),
        });
    }
    (!out.is_empty()).then_some(out)
}

/// The import in the root file through which `file` was loaded.
fn import_leading_to(c: &Checked, file: FileId) -> Option<Span> {
    let p = &c.program;
    let root = p.root_module().file;
    let index = p.index();
    let mut best: Option<Span> = None;
    for r in &index.refs {
        if let Target::Module(m) = r.target
            && r.span.file == root
            && (p.modules[m].file == file || best.is_none())
        {
            if p.modules[m].file == file {
                return Some(r.span);
            }
            best = Some(r.span);
        }
    }
    best
}

/// Where a span is, for the client: a file on disk, or the standard library's
/// text written once to a cache folder so that an editor can open it.
pub fn location(sources: &Sources, span: Span) -> Option<Location> {
    let f = sources.get(span.file);
    let uri = uri_of(&f.name, &f.text)?;
    let lines = Lines::new(&f.text);
    Some(Location::new(
        uri,
        lines.range(span.start as usize, span.end as usize),
    ))
}

/// The URI of a source file by its name in [`Sources`].
pub fn uri_of(name: &str, text: &str) -> Option<Uri> {
    let path = match name.strip_prefix('<').and_then(|n| n.strip_suffix('>')) {
        Some(module) => stdlib_copy(module, text)?,
        None => std::path::absolute(name).ok()?,
    };
    Uri::from_file_path(path)
}

/// A read-only copy of a standard module, for go to definition.
fn stdlib_copy(module: &str, text: &str) -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    let dir = base
        .join("flowc")
        .join(format!("stdlib-{}", env!("CARGO_PKG_VERSION")));
    let path = dir.join(format!("{}.flow", module.replace('.', "/")));
    let kept = crate::files::read_text(&path, crate::files::SOURCE_LIMIT, "source files");
    if kept.ok().as_deref() != Some(text) {
        std::fs::create_dir_all(path.parent()?).ok()?;
        std::fs::write(&path, text).ok()?;
    }
    Some(path)
}
