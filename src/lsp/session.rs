//! The language server's session. One thread owns the open documents' texts
//! and decides what is checked and published; it never checks. Each check
//! runs on a thread of its own, which then keeps what it made (the checker's
//! data is not `Send`) and answers the questions about that document until a
//! newer check replaces it: a request never waits behind a check, and is
//! answered from the last checked text. A newer version (or a file it imports
//! changing on disk) cancels the check under way: its result is dropped, and
//! its work stops at the checker's next look at its flag (the parse runs to
//! its end). Changes that arrive meanwhile are taken together: the next check
//! sees only the newest text. A document over [`SIZE_LIMIT`] is not checked;
//! it gets one diagnostic that says so.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    TextDocumentContentChangeEvent, Uri,
};

use super::text::{Lines, apply_changes};
use crate::check::Loader;
use crate::check::index::{Target, cancellable};
use crate::diag::{Diagnostic, Severity};
use crate::driver::{Checked, check_source_indexed};
use crate::source::Sources;
use crate::span::{FileId, Span};

/// The largest document the server checks: the limit of `flowc check` for
/// source files (16 MiB).
pub const SIZE_LIMIT: u64 = crate::files::SOURCE_LIMIT;

/// One checked version of a document: its text then, and what the checker made of it.
pub struct Doc {
    pub uri: Uri,
    /// The text that was checked.
    pub text: String,
    pub version: i32,
    pub checked: Checked,
    /// Where the text's lines start.
    pub starts: Vec<usize>,
    /// The client's newest version of the document, when the question was asked.
    pub latest: i32,
}

impl Doc {
    /// The root file of the checked program.
    pub fn file(&self) -> FileId {
        self.checked.program.root_module().file
    }

    /// The checked text's lines, for positions.
    pub fn lines(&self) -> Lines<'_> {
        Lines::with(&self.text, &self.starts)
    }

    /// Whether the checked text is the client's newest: edits computed from
    /// it (rename, quick fixes) fit the editor's text only then.
    pub fn is_current(&self) -> bool {
        self.version == self.latest
    }
}

/// A question about a document, answered by the thread that holds its last
/// checked version (`None`: the document is not open, or not checked yet).
pub type Ask = Box<dyn FnOnce(Option<&Doc>) + Send>;

/// What the server (and the checks) send the session's thread.
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
    /// The newest text of a document (formatting reads it, not a checked one).
    Text(Uri, tokio::sync::oneshot::Sender<Option<Arc<String>>>),
    /// Files changed on disk (the client's file watcher).
    FilesChanged(Vec<Uri>),
    /// A check ended.
    Checked(Report),
}

/// Diagnostics to publish: the document, its diagnostics, the version they are of.
pub type Publish = (Uri, Vec<lsp::Diagnostic>, Option<i32>);

/// How a check ended, from its thread.
pub struct Report {
    uri: Uri,
    /// The document's generation the check was of.
    generation: u64,
    outcome: Outcome,
}

enum Outcome {
    /// Stopped by its flag: nothing to publish.
    Cancelled,
    Done {
        diagnostics: Vec<lsp::Diagnostic>,
        /// The thread that holds the checked version; `None` when the
        /// checker failed (the document keeps its last one).
        answers: Option<mpsc::Sender<(i32, Ask)>>,
        /// The files the check read (the document and its imports).
        files: Vec<String>,
        has_errors: bool,
    },
}

/// An open document, as the session keeps it.
struct Open {
    path: String,
    /// The client's newest text.
    text: Arc<String>,
    version: i32,
    /// Renewed by every change of the text or of a file it reads.
    generation: u64,
    /// The generation of the last check that ended and was taken.
    done: u64,
    /// The check under way: its generation and its flag.
    running: Option<(u64, Arc<AtomicBool>)>,
    /// The thread that answers questions from the last checked version.
    answers: Option<mpsc::Sender<(i32, Ask)>>,
    /// What the last check read, and whether it found errors.
    files: Vec<String>,
    has_errors: bool,
}

impl Open {
    fn reads(&self, path: &str) -> bool {
        self.files.iter().any(|f| f == path)
    }

    /// The text changed, or a file it reads: the check under way is of an
    /// older state and is stopped.
    fn touch(&mut self) {
        self.generation = next_generation();
        if let Some((_, flag)) = &self.running {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// A generation no document had: a report of a closed and reopened
/// document's check is never taken for the new one's.
fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Reads imports from the open documents first (as they were when the check
/// started), then from the file system.
struct OpenFirst {
    texts: HashMap<String, Arc<String>>,
}

impl Loader for OpenFirst {
    fn read(&self, path: &str) -> Result<String, String> {
        if let Some(t) = self.texts.get(path) {
            return Ok(t.as_str().to_string());
        }
        crate::driver::FsLoader::here().read(path)
    }

    fn file_kind(&self, path: &std::path::Path) -> Option<crate::check::FileKind> {
        crate::driver::FsLoader::here().file_kind(path)
    }

    fn search_path(&self) -> Option<Vec<std::path::PathBuf>> {
        crate::driver::FsLoader::here().search_path()
    }

    /// Only the cache: the language server never starts an MCP server.
    fn mcp_tools(
        &self,
        server: &crate::check::mcp::McpServer,
        dir: &std::path::Path,
    ) -> crate::check::mcp::McpTools {
        match cached_mcp_tools(server, dir) {
            Some(t) => crate::check::mcp::McpTools::Listed(t),
            None => crate::check::mcp::McpTools::CannotTell,
        }
    }
}

/// What `server` (declared in a file of the folder `dir`) listed when a
/// check or a run last asked it, from the cache in the store (`--store` of
/// `flowc lsp`, else `FLOWC_STORE`, else `.flowc` in the server's folder).
/// The language server never starts an MCP server.
pub fn cached_mcp_tools(
    server: &crate::check::mcp::McpServer,
    dir: &std::path::Path,
) -> Option<Vec<crate::check::mcp::McpTool>> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    crate::driver::mcp::cached(&crate::driver::store_dir(None), server, &dir)
}

/// The folder of a document's file (the current folder for one not on disk).
pub fn dir_of(uri: &Uri) -> std::path::PathBuf {
    uri.to_file_path()
        .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_else(|| std::path::PathBuf::from("."))
}

/// The path a document is checked under.
fn path_of(uri: &Uri) -> String {
    uri.to_file_path()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| uri.as_str().to_string())
}

/// Runs the session until the server drops its sender; `me` is the session's
/// own sender, which the checks report to.
pub fn run(
    jobs: mpsc::Receiver<Job>,
    me: mpsc::Sender<Job>,
    publish: tokio::sync::mpsc::UnboundedSender<Publish>,
) {
    let mut docs: HashMap<Uri, Open> = HashMap::new();
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter());
        let mut changed: Vec<Uri> = Vec::new();
        let mut asks: Vec<(Uri, Ask)> = Vec::new();
        for job in batch {
            match job {
                Job::Open { uri, text, version } => {
                    let path = path_of(&uri);
                    let open = Open {
                        path,
                        text: Arc::new(text),
                        version,
                        generation: next_generation(),
                        done: 0,
                        running: None,
                        answers: None,
                        files: Vec::new(),
                        has_errors: false,
                    };
                    if let Some(mut old) = docs.insert(uri.clone(), open) {
                        old.touch();
                    }
                    changed.push(uri);
                }
                Job::Change {
                    uri,
                    changes,
                    version,
                } => {
                    if let Some(d) = docs.get_mut(&uri) {
                        apply_changes(Arc::make_mut(&mut d.text), changes);
                        d.version = version;
                        d.touch();
                        changed.push(uri);
                    }
                }
                Job::Close { uri } => {
                    if let Some(mut d) = docs.remove(&uri) {
                        d.touch();
                    }
                    changed.retain(|u| *u != uri);
                    let _ = publish.send((uri, Vec::new(), None));
                }
                Job::Ask(uri, f) => asks.push((uri, f)),
                Job::Text(uri, tx) => {
                    let _ = tx.send(docs.get(&uri).map(|d| d.text.clone()));
                }
                Job::FilesChanged(uris) => {
                    // An open document's text is the editor's, not the disk's:
                    // only files that are not open change what a check reads.
                    let paths: Vec<String> = uris
                        .iter()
                        .filter(|u| !docs.contains_key(*u))
                        .map(path_of)
                        .collect();
                    // A document with errors may import a file that was missing.
                    for d in docs.values_mut() {
                        if d.has_errors || paths.iter().any(|p| d.reads(p)) {
                            d.touch();
                        }
                    }
                }
                Job::Checked(report) => taken(&mut docs, report, &publish),
            }
        }
        // Open documents that import a changed one are checked again too.
        let paths: Vec<String> = changed
            .iter()
            .filter_map(|u| docs.get(u).map(|d| d.path.clone()))
            .collect();
        for (uri, d) in docs.iter_mut() {
            if !changed.contains(uri) && paths.iter().any(|p| *p != d.path && d.reads(p)) {
                d.touch();
            }
        }
        let due: Vec<Uri> = docs
            .iter()
            .filter(|(_, d)| d.running.is_none() && d.done != d.generation)
            .map(|(u, _)| u.clone())
            .collect();
        for uri in due {
            start(&mut docs, uri, &me, &publish);
        }
        for (uri, f) in asks {
            match docs.get(&uri) {
                Some(Open {
                    answers: Some(tx),
                    version,
                    ..
                }) => {
                    // The answering thread ends only when its sender is dropped.
                    let _ = tx.send((*version, f));
                }
                // A failed answer drops its reply: the request gets an empty answer.
                _ => {
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| f(None)));
                }
            }
        }
    }
}

/// A check ended: its diagnostics are published, and its thread answers
/// questions from now on, only when nothing changed since it started.
fn taken(
    docs: &mut HashMap<Uri, Open>,
    report: Report,
    publish: &tokio::sync::mpsc::UnboundedSender<Publish>,
) {
    let Some(d) = docs.get_mut(&report.uri) else {
        return;
    };
    if d.running.as_ref().is_some_and(|r| r.0 == report.generation) {
        d.running = None;
    }
    let Outcome::Done {
        diagnostics,
        answers,
        files,
        has_errors,
    } = report.outcome
    else {
        return;
    };
    if report.generation != d.generation {
        // Of an older text: dropped (its thread ends with its sender).
        return;
    }
    d.done = report.generation;
    if let Some(answers) = answers {
        d.answers = Some(answers);
        d.files = files;
        d.has_errors = has_errors;
    }
    let _ = publish.send((report.uri, diagnostics, Some(d.version)));
}

/// Starts a check of the document's newest text on a thread of its own (or
/// publishes why it is not checked).
fn start(
    docs: &mut HashMap<Uri, Open>,
    uri: Uri,
    me: &mpsc::Sender<Job>,
    publish: &tokio::sync::mpsc::UnboundedSender<Publish>,
) {
    let texts: HashMap<String, Arc<String>> = docs
        .iter()
        .filter(|(u, _)| **u != uri)
        .map(|(_, d)| (d.path.clone(), d.text.clone()))
        .collect();
    let Some(d) = docs.get_mut(&uri) else { return };
    let size = d.text.len() as u64;
    if size > SIZE_LIMIT {
        // Its last checked version is of another text, and may be large: let it go.
        d.done = d.generation;
        d.answers = None;
        d.files = Vec::new();
        d.has_errors = true;
        let _ = publish.send((uri, vec![too_large(&d.text, size)], Some(d.version)));
        return;
    }
    let flag = Arc::new(AtomicBool::new(false));
    d.running = Some((d.generation, flag.clone()));
    let generation = d.generation;
    let (path, text, version) = (d.path.clone(), d.text.clone(), d.version);
    let report = me.clone();
    // Deeply nested programs recurse deeply in the checker: a large stack, as `main` has.
    let spawned = std::thread::Builder::new()
        .name("flowc-lsp-check".into())
        .stack_size(256 << 20)
        .spawn({
            let uri = uri.clone();
            move || check(uri, path, text, version, generation, flag, texts, report)
        });
    if let Err(e) = spawned {
        d.running = None;
        d.done = d.generation;
        let _ = publish.send((
            uri,
            vec![lsp::Diagnostic {
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some("flowc".into()),
                message: format!("this document is not checked: cannot start a thread ({e})"),
                ..Default::default()
            }],
            Some(d.version),
        ));
    }
}

/// The one diagnostic of a document over the size limit, on its first line.
fn too_large(text: &str, size: u64) -> lsp::Diagnostic {
    use crate::files::size as shown;
    let end = text.find('\n').unwrap_or(0).min(200);
    let mut end = end;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let is = if shown(size) == shown(SIZE_LIMIT) {
        format!("{} bytes", crate::diag::catalog::thousands(size as usize))
    } else {
        shown(size)
    };
    lsp::Diagnostic {
        range: Lines::new(text).range(0, end),
        severity: Some(DiagnosticSeverity::ERROR),
        source: Some("flowc".into()),
        message: format!(
            "this document is not checked: it is {is}, over the {} limit for source files; \
             split it into files that import each other",
            shown(SIZE_LIMIT)
        ),
        ..Default::default()
    }
}

/// A check's thread: checks the text, reports to the session, then answers
/// the questions about this version until the session lets it go.
#[allow(clippy::too_many_arguments)]
fn check(
    uri: Uri,
    path: String,
    text: Arc<String>,
    version: i32,
    generation: u64,
    flag: Arc<AtomicBool>,
    texts: HashMap<String, Arc<String>>,
    report: mpsc::Sender<Job>,
) {
    let loader = OpenFirst { texts };
    // A bug in the checker must not end the session: the file keeps its
    // last checked version, and the client is told.
    let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
        cancellable(flag, || check_source_indexed(&path, &text, &loader))
    }));
    let send = |outcome| {
        let _ = report.send(Job::Checked(Report {
            uri: uri.clone(),
            generation,
            outcome,
        }));
    };
    let checked = match checked {
        Ok(Ok(checked)) => checked,
        Ok(Err(_cancelled)) => return send(Outcome::Cancelled),
        Err(_) => {
            return send(Outcome::Done {
                diagnostics: vec![lsp::Diagnostic {
                    severity: Some(DiagnosticSeverity::ERROR),
                    source: Some("flowc".into()),
                    message: "internal error: the checker failed on this text (a bug in flowc; \
                              please report it with the file)"
                        .into(),
                    ..Default::default()
                }],
                answers: None,
                files: Vec::new(),
                has_errors: true,
            });
        }
    };
    drop(loader);
    let text = Arc::unwrap_or_clone(text);
    let mut doc = Doc {
        uri: uri.clone(),
        starts: Lines::starts(&text),
        text,
        version,
        checked,
        latest: version,
    };
    let diagnostics = diagnostics(&doc);
    let files = doc
        .checked
        .sources
        .iter()
        .map(|(_, f)| f.name.clone())
        .collect();
    let (tx, asks) = mpsc::channel::<(i32, Ask)>();
    send(Outcome::Done {
        diagnostics,
        answers: Some(tx),
        files,
        has_errors: doc.checked.has_errors(),
    });
    drop(report);
    for (latest, f) in asks {
        doc.latest = latest;
        // A failed answer drops its reply: the request gets an empty answer.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| f(Some(&doc))));
    }
}

/// The document's diagnostics for the client: the same codes and messages as
/// `flowc check`; labels, notes and `help:` as related information.
/// Diagnostics in an imported file are shown on the import that leads there.
pub fn diagnostics(d: &Doc) -> Vec<lsp::Diagnostic> {
    let c = &d.checked;
    let root = d.file();
    let lines = d.lines();
    let mut at = Locator::new(d);
    let mut leading: HashMap<FileId, Span> = HashMap::new();
    c.diagnostics
        .iter()
        .map(|diag| {
            let primary = diag.primary_span();
            let range = if primary.file == root {
                lines.range(primary.start as usize, primary.end as usize)
            } else {
                // Once per imported file: the search reads the whole index.
                let import = *leading
                    .entry(primary.file)
                    .or_insert_with(|| import_leading_to(c, primary.file).unwrap_or_default());
                lines.range(import.start as usize, import.end as usize)
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
                related_information: related(diag, &mut at, &d.uri, range),
                ..Default::default()
            }
        })
        .collect()
}

/// The labels, notes and help of a diagnostic, each where it points.
fn related(
    diag: &Diagnostic,
    at: &mut Locator,
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
            at.location(l.span)
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

/// [`location`] for many spans of a checked document: each file's URI and
/// lines are made once (not once per span, which is quadratic in a large file).
pub struct Locator<'a> {
    sources: &'a Sources,
    files: HashMap<FileId, Option<(Uri, Lines<'a>)>>,
}

impl<'a> Locator<'a> {
    pub fn new(d: &'a Doc) -> Locator<'a> {
        let mut files = HashMap::new();
        files.insert(d.file(), Some((d.uri.clone(), d.lines())));
        Locator {
            sources: &d.checked.sources,
            files,
        }
    }

    pub fn location(&mut self, span: Span) -> Option<Location> {
        let sources = self.sources;
        let (uri, lines) = self
            .files
            .entry(span.file)
            .or_insert_with(|| {
                let f = sources.get(span.file);
                Some((uri_of(&f.name, &f.text)?, Lines::new(&f.text)))
            })
            .as_ref()?;
        Some(Location::new(
            uri.clone(),
            lines.range(span.start as usize, span.end as usize),
        ))
    }
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
