//! The module graph of `src/` has no circles: no two modules import each
//! other, directly or round a longer loop.
//!
//! Every `crate::…` and `super::…` path in a file of `src/` (in `use` lines
//! and in code, groups such as `use crate::a::{b, c::d}` expanded; comments
//! and `#[cfg(test)]` modules skipped) is resolved to the deepest module file
//! it names. An import between two files is an edge between the two sibling
//! modules that hold them, under their nearest common parent: `repl/session.rs`
//! importing `cli/out.rs` is the edge `repl -> cli`, `check/expr.rs` importing
//! `check/builtins.rs` the edge `check/expr -> check/builtins`. A module and
//! its own submodules (a parent's `mod.rs` and the files below it) may use each
//! other: that is one module's inside. A circle among siblings fails the test,
//! naming each edge with the line that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module by its path from the crate root: `["run", "llm", "openai"]`.
type Module = Vec<String>;

/// Edges between sibling modules: from -> to -> an example (file and path).
type Graph = BTreeMap<Module, BTreeMap<Module, String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read src/")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module a file of `src/` is: `a/b.rs` and `a/b/mod.rs` are `a::b`;
/// `lib.rs` is the root. `main.rs` is another crate (`None`).
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    match last.as_str() {
        "main.rs" if parts.is_empty() => None,
        "lib.rs" if parts.is_empty() => Some(parts),
        "mod.rs" => Some(parts),
        name => {
            parts.push(name.trim_end_matches(".rs").to_string());
            Some(parts)
        }
    }
}

/// The text of a file that counts: no comments, no `#[cfg(test)]` module
/// (from its attribute to the end of the file, where such modules are kept).
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Reads a path at the start of `s` (`a::b::{c, d::e}`); returns every full
/// path it names, as segments.
fn read_paths(s: &str) -> Vec<Vec<String>> {
    let s = s.trim_start();
    if let Some(rest) = s.strip_prefix('{') {
        // A group: split its items at the top level.
        let mut depth = 0;
        let mut items = Vec::new();
        let mut start = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&rest[start..i]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&rest[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return items.into_iter().flat_map(read_paths).collect();
    }
    let ident: String = s.chars().take_while(|&c| is_ident(c)).collect();
    if ident.is_empty() {
        return vec![Vec::new()];
    }
    let rest = &s[ident.len()..];
    match rest.strip_prefix("::") {
        Some(rest) => read_paths(rest)
            .into_iter()
            .map(|mut p| {
                p.insert(0, ident.clone());
                p
            })
            .collect(),
        None => vec![vec![ident]],
    }
}

/// Every module path a file's code names through `crate::` or `super::`,
/// with the text that named it.
fn imports(module: &Module, code: &str) -> Vec<(Module, String)> {
    let mut found = Vec::new();
    for (i, _) in code.match_indices("::") {
        // The word before `::`.
        let before = &code[..i];
        let word_start = before
            .char_indices()
            .rev()
            .find(|&(_, c)| !is_ident(c))
            .map_or(0, |(j, c)| j + c.len_utf8());
        // Only where a path starts (not inside `a::crate`, which is no path).
        if before[..word_start].ends_with("::") {
            continue;
        }
        let word = &before[word_start..];
        let mut base: Module = match word {
            "crate" => Vec::new(),
            "super" => {
                // `super` of `a/b.rs` is `a`; of `a/mod.rs` (module `a`) the root.
                let mut m = module.clone();
                m.pop();
                m
            }
            _ => continue,
        };
        let mut rest = &code[i + 2..];
        if word == "super" {
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
        }
        let shown: String = code[word_start..]
            .chars()
            .take_while(|&c| c != ';' && c != '\n' && c != '(')
            .collect();
        for path in read_paths(rest) {
            let mut full = base.clone();
            full.extend(path.into_iter().filter(|s| s != "self"));
            found.push((full, shown.trim().to_string()));
        }
    }
    found
}

/// The sibling-module graph of the crate under `src`.
fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<Module, PathBuf> = files
        .iter()
        .filter_map(|f| module_of(src, f).map(|m| (m, f.clone())))
        .collect();
    let known: BTreeSet<&Module> = modules.keys().collect();
    let mut g = Graph::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (path, shown) in imports(module, &code_of(&text)) {
            // The deepest module file the path names.
            let target = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| known.contains(p))
                .unwrap_or_default();
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            // A module and its own submodules.
            if common == module.len() || common == target.len() {
                continue;
            }
            let from = module[..=common].to_vec();
            let to = target[..=common].to_vec();
            let rel = file.strip_prefix(src).expect("under src/").display();
            g.entry(from)
                .or_default()
                .entry(to)
                .or_insert_with(|| format!("src/{rel}: {shown}"));
        }
    }
    g
}

/// Every circle of the graph, each once, as a list of modules.
fn circles(g: &Graph) -> Vec<Vec<Module>> {
    let mut found: BTreeSet<Vec<Module>> = BTreeSet::new();
    fn walk(g: &Graph, path: &mut Vec<Module>, found: &mut BTreeSet<Vec<Module>>) {
        let here = path.last().expect("a start").clone();
        for next in g.get(&here).into_iter().flat_map(|m| m.keys()) {
            if let Some(at) = path.iter().position(|m| m == next) {
                // Rotate so that each circle is listed once, from its least module.
                let mut c = path[at..].to_vec();
                let least = (0..c.len()).min_by_key(|&i| &c[i]).expect("a module");
                c.rotate_left(least);
                found.insert(c);
            } else if path.len() < 12 {
                path.push(next.clone());
                walk(g, path, found);
                path.pop();
            }
        }
    }
    for start in g.keys() {
        walk(g, &mut vec![start.clone()], &mut found);
    }
    found.into_iter().collect()
}

/// `a -> b -> c`: a circle by its modules, from its least one.
fn name_of(circle: &[Module]) -> String {
    circle
        .iter()
        .map(|m| m.join("/"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

fn describe(g: &Graph, circle: &[Module]) -> String {
    let name = |m: &Module| m.join("/");
    let mut s = format!("{} -> {}\n", name_of(circle), name(&circle[0]));
    for (i, from) in circle.iter().enumerate() {
        let to = &circle[(i + 1) % circle.len()];
        s.push_str(&format!(
            "    {} -> {}: {}\n",
            name(from),
            name(to),
            g[from][to]
        ));
    }
    s
}

#[test]
fn no_two_modules_import_each_other() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    // The scan sees the crate: the driver is used by the command line.
    assert!(
        g.get(&vec!["cli".to_string()])
            .is_some_and(|m| m.contains_key(&vec!["driver".to_string()])),
        "the scan found no `cli -> driver` import: {g:#?}"
    );
    let found = circles(&g);
    let text: String = found.iter().map(|c| describe(&g, c)).collect();
    assert!(found.is_empty(), "import circles between modules:\n{text}");
}

/// The scan finds a circle round three files, through a group and `super::`.
#[test]
fn a_circle_is_found() {
    let dir = std::env::temp_dir().join(format!("flowc-arch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = [
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("a/mod.rs", "mod x;\nmod y;\nuse crate::b::Thing;\n"),
        ("a/x.rs", "use super::{y::Y, Z};\n"),
        (
            "a/y.rs",
            "pub struct Y;\n// use super::x;\nfn f() { crate::a::x::g() }\n",
        ),
        (
            "b.rs",
            "pub struct Thing;\nfn f() -> crate::a::Z { todo() }\n",
        ),
    ];
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("a folder")).expect("make folders");
        std::fs::write(p, text).expect("write a file");
    }
    let g = graph(&dir);
    let found: Vec<String> = circles(&g).iter().map(|c| name_of(c)).collect();
    let _ = std::fs::remove_dir_all(&dir);
    // `a` and `b` use each other; so do `a/x` and `a/y`. `a/x -> a` is the
    // module's own inside; the commented-out line and the test module of `b`
    // (its `c -> b -> c`) do not count.
    assert_eq!(found, vec!["a -> b", "a/x -> a/y"]);
}

/// The modules `from` imports among `src`'s top-level modules, with the line
/// that made each edge.
fn imports_of(src: &Path, from: &str) -> BTreeMap<Module, String> {
    graph(src)
        .remove(&vec![from.to_string()])
        .unwrap_or_default()
}

/// The command line is an adapter over the driver: it reaches the
/// interpreter (`run/`) only through what `driver` re-exports, so that
/// every front door shares one way to prepare, run and resume.
#[test]
fn the_command_line_imports_nothing_from_the_interpreter() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let cli = imports_of(&src, "cli");
    assert!(
        cli.contains_key(&vec!["driver".to_string()]),
        "the scan found no `cli -> driver` import: {cli:#?}"
    );
    let run = cli.get(&vec!["run".to_string()]);
    assert!(
        run.is_none(),
        "`cli` imports `run` ({}): re-export what it needs from `driver`",
        run.map_or("", String::as_str)
    );
}

/// Every `syntax::ast` path a file of `src/<dir>/` names (`syntax` itself
/// included: `use crate::syntax::*` or `use crate::syntax::{self}` reach the
/// AST too), as `file: text`.
fn ast_imports(src: &Path, dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src.join(dir), &mut files);
    let mut found = Vec::new();
    for file in &files {
        let Some(module) = module_of(src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (path, shown) in imports(&module, &code_of(&text)) {
            let ast = match path.as_slice() {
                [first] => first == "syntax",
                [first, second, ..] => first == "syntax" && (second == "ast" || second.is_empty()),
                [] => false,
            };
            let rel = file.strip_prefix(src).expect("under src/").display();
            let line = format!("src/{rel}: {shown}");
            if ast && found.last() != Some(&line) {
                found.push(line);
            }
        }
    }
    found
}

/// The interpreter runs the lowered IR (`ir::expr`): no file of `run/`
/// reads the AST, which stays for spans and tooling.
#[test]
fn run_does_not_import_the_ast() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = ast_imports(&src, "run");
    assert!(
        found.is_empty(),
        "files under src/run/ import the AST (run the lowered IR, `crate::ir::expr`, instead):\n{}",
        found.join("\n")
    );
}

/// The scan finds an AST import through a group, a nested module and `super::`.
#[test]
fn an_ast_import_under_run_is_found() {
    let dir = std::env::temp_dir().join(format!("flowc-arch-ast-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = [
        ("lib.rs", "pub mod run;\npub mod syntax;\npub mod ir;\n"),
        ("syntax/mod.rs", "pub mod ast;\npub mod span;\n"),
        ("syntax/ast.rs", "pub struct Expr;\n"),
        ("syntax/span.rs", "pub struct Span;\n"),
        ("ir.rs", "use crate::syntax::ast::Expr;\n"),
        (
            "run/mod.rs",
            "mod a;\nmod b;\nuse crate::syntax::span::Span;\n",
        ),
        ("run/a.rs", "use crate::{ir, syntax::ast::{self, Expr}};\n"),
        (
            "run/b/mod.rs",
            "// use crate::syntax::ast::Expr;\nfn f(e: &super::super::syntax::ast::Expr) {}\n",
        ),
    ];
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("a folder")).expect("make folders");
        std::fs::write(p, text).expect("write a file");
    }
    let found = ast_imports(&dir, "run");
    let _ = std::fs::remove_dir_all(&dir);
    // `ir.rs` is not under `run/`; `syntax::span` is no AST; the comment does not count.
    assert_eq!(
        found,
        vec![
            "src/run/a.rs: crate::{ir, syntax::ast::{self, Expr}}",
            "src/run/b/mod.rs: super::super::syntax::ast::Expr) {}",
        ]
    );
}

/// What reaches outside the process: the environment, files, processes,
/// sockets — by path (`std::env::var`, `fs::metadata`) or as a method that
/// asks the file system (`path.is_file()`).
const IO: &[&str] = &[
    "std::env",
    "std::fs",
    "std::process",
    "std::net",
    "env::var",
    "env::split_paths",
    "env::current_dir",
    "fs::",
    "process::Command",
    "PermissionsExt",
    "File::open",
    "File::create",
    "read_dir(",
    ".is_file()",
    ".is_dir()",
    ".exists()",
    ".metadata()",
    ".canonicalize()",
];

/// The lines of the files under `dir` (below `src/`) that do I/O, as
/// `file:line: text`.
fn io_lines(src: &Path, dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src.join(dir), &mut files);
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read a source file");
        let rel = f
            .strip_prefix(src)
            .expect("under src/")
            .display()
            .to_string();
        // `use std::{env, fs}` names them apart from their paths.
        let grouped = |l: &str| {
            l.contains("use std::{")
                && ["env", "fs", "process", "net"].iter().any(|m| {
                    l.split(|c: char| !c.is_alphanumeric() && c != '_')
                        .any(|w| w == *m)
                })
        };
        for line in code_of(&text).lines() {
            if IO.iter().any(|p| line.contains(p)) || grouped(line) {
                out.push(format!("{rel}: {}", line.trim()));
            }
        }
    }
    out
}

/// The checker does no I/O: it reads imports, `flowc.toml`, the files of exec
/// tools and `PATH` only through the `Loader` it is given (the command line's
/// `FsLoader` does the real lookups; the language server and tests give their
/// own).
#[test]
fn the_checker_does_no_io() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    // The scan sees I/O where there is some.
    assert!(
        io_lines(&src, "driver")
            .iter()
            .any(|l| l.contains("std::fs")),
        "the scan found no I/O in driver/"
    );
    let found = io_lines(&src, "check");
    assert!(
        found.is_empty(),
        "I/O in the checker (go through `check::Loader`):\n{}",
        found.join("\n")
    );
}

/// Every path into module `target` (`["store"]`) that the files under
/// `src/<under>` name, with the file and the text that named it.
fn uses_of(src: &Path, under: &str, target: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src.join(under), &mut files);
    let mut found = Vec::new();
    for file in files {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read a source file");
        for (path, shown) in imports(&module, &code_of(&text)) {
            if path.len() >= target.len() && path.iter().zip(target).all(|(a, b)| a == b) {
                let rel = file.strip_prefix(src).expect("under src/").display();
                found.push(format!("src/{rel}: {shown}"));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The interpreter reaches the store only through its step host's journal
/// and cache traits (`run::host`): nothing under `src/run/` names `crate::store`.
#[test]
fn run_reaches_the_store_only_through_its_host() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    // The scan sees the store's users: the driver opens it.
    assert!(
        !uses_of(&src, "driver", &["store"]).is_empty(),
        "the scan found no use of the store in src/driver/"
    );
    let found = uses_of(&src, "run", &["store"]);
    assert!(
        found.is_empty(),
        "src/run/ uses the store directly (go through `run::host::Journal` or `Cache`):\n{}",
        found.join("\n")
    );
}
