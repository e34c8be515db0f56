//! Whole-program checks: a full sample program (tests/data/taste.flow), the examples and the standard library
//! check clean; the parser and checker never panic (property tests).

use std::path::{Path, PathBuf};

use flowc::check::NoFiles;
use flowc::driver::{FsLoader, check_source};
use proptest::prelude::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check_clean(rel: &str) {
    let text = std::fs::read_to_string(root().join(rel)).expect("file exists");
    let path = root().join(rel);
    let checked = check_source(path.to_str().expect("utf-8 path"), &text, &FsLoader::here());
    let rendered: Vec<String> = checked
        .diagnostics
        .iter()
        .map(|d| flowc::diag::render::render(d, &checked.sources, false))
        .collect();
    assert!(
        rendered.is_empty(),
        "{rel} should check clean:\n{}",
        rendered.join("\n")
    );
}

#[test]
fn spec_example_checks_clean() {
    check_clean("tests/data/taste.flow");
}

fn flow_files(dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            flow_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "flow") {
            out.push(
                p.strip_prefix(root())
                    .expect("under root")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

#[test]
fn examples_and_stdlib_check_clean() {
    let mut files = Vec::new();
    flow_files(&root().join("examples"), &mut files);
    flow_files(&root().join("stdlib"), &mut files);
    assert!(
        files.iter().any(|f| f.starts_with("stdlib")),
        "the standard library has modules"
    );
    for f in files {
        // Its MCP server needs the Python SDK: tests/mcp.rs checks it with one.
        if f.starts_with("examples/mcp/") {
            continue;
        }
        check_clean(&f);
    }
}

#[test]
fn every_stdlib_module_is_compiled_in() {
    let mut files = Vec::new();
    flow_files(&root().join("stdlib"), &mut files);
    for f in files {
        let name = f
            .trim_start_matches("stdlib/")
            .trim_end_matches(".flow")
            .replace('/', ".");
        let text = std::fs::read_to_string(root().join(&f)).expect("read");
        assert_eq!(
            flowc::check::stdlib::module(&name),
            Some(text.as_str()),
            "{f} is not in check::stdlib::MODULES"
        );
    }
}

fn no_panic(text: &str) {
    let _ = check_source("fuzz.flow", text, &NoFiles);
}

/// Valid programs to mutate.
const SEEDS: &[&str] = &[
    include_str!("data/taste.flow"),
    "flow main(xs: [int]) -> [int] {\n    let ys = for x in xs with { max_concurrent: 2 } { x * 2 }\n    let s = loop st = { n: 0 } max 3 until stable(st.n) { { n: st.n + 1 } }\n    match s.n { 1 | 2 => ys, _ => [] }\n}\n",
    "type T = { a: int, b?: string }\nconst K = 3\nflow f(t: T) -> string {\n    let r = race { x = \"a\"\n y = \"b\" }\n    let p = parallel concat { a = [1]; b = [2] }\n    try { t.b ?? \"none\" } catch e { e.message ++ \"{len(p)} {r.winner}\" }\n}\n",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        no_panic(&s);
    }

    #[test]
    fn random_tokens_never_panic(toks in prop::collection::vec(prop::sample::select(vec![
        "flow", "tool", "let", "=", "{", "}", "(", ")", "[", "]", ",", ":", "\n", "x", "y", "1", "2.5", "\"s {x}\"",
        "/re/i", "->", "=>", "if", "else", "for", "in", "loop", "until", "max", "parallel", "merge", "race", "decide",
        "catch", "try", "after", "with", "+", "++", "~", "??", "&&", ".", "[*]", "30s", "match", "_", "type", "int",
        "string", "?", "|", "effect", "exec", "builtin", "http", "post", "import", "std.ops", "const", "test", "assert",
        "mock", "sequence", "dag", "approve", "stable(x)", "jsonpath(x, \"$.a\")", ";", "//c\n", "/* c */",
    ]), 0..60)) {
        no_panic(&toks.join(" "));
    }

    #[test]
    fn mutated_programs_never_panic(seed in 0..SEEDS.len(), edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, "\\PC{0,3}"), 1..6)) {
        let mut s: Vec<char> = SEEDS[seed].chars().collect();
        for (idx, op, text) in edits {
            if s.is_empty() { break; }
            let i = idx.index(s.len());
            match op {
                0 => { s.remove(i); }
                1 => { for (k, c) in text.chars().enumerate() { s.insert(i + k, c); } }
                2 => { let j = (i + 1 + text.len()).min(s.len()); s.drain(i..j); }
                _ => { let c = s[i]; s.insert(i, c); }
            }
        }
        no_panic(&s.into_iter().collect::<String>());
    }
}

/// A loader with a `PATH` and files of its own: the checker asks it, not the
/// machine, where an exec tool's program is (W0007).
struct FakeMachine {
    path: Vec<PathBuf>,
    executables: Vec<PathBuf>,
}

impl flowc::check::Loader for FakeMachine {
    fn read(&self, path: &str) -> Result<String, String> {
        Err(format!("cannot read `{path}` here"))
    }

    fn file_kind(&self, path: &Path) -> Option<flowc::check::FileKind> {
        Some(if self.executables.iter().any(|e| e == path) {
            flowc::check::FileKind::Executable
        } else {
            flowc::check::FileKind::Missing
        })
    }

    fn search_path(&self) -> Option<Vec<PathBuf>> {
        Some(self.path.clone())
    }
}

#[test]
fn an_exec_program_is_found_on_the_path_the_loader_gives() {
    // Neither program exists on this machine; `sh` does, but not on the fake PATH.
    let src = r#"
tool a() -> json = exec ["flowc-fake-tool-a"]
tool b() -> json = exec ["flowc-fake-tool-b"]
tool c() -> json = exec ["sh", "-c", "echo 1"]
flow main() { [a(), b(), c()] }
"#;
    let fake = FakeMachine {
        path: vec![PathBuf::from("/fake/empty"), PathBuf::from("/fake/bin")],
        executables: vec![PathBuf::from("/fake/bin/flowc-fake-tool-a")],
    };
    let checked = check_source("main.flow", src, &fake);
    let missing: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| d.code == "W0007")
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert!(missing[0].contains("flowc-fake-tool-b"), "{missing:?}");
    assert!(missing[1].contains("`sh`"), "{missing:?}");

    // A loader that cannot tell (no file system) warns about nothing.
    let checked = check_source("main.flow", src, &NoFiles);
    assert!(
        checked.diagnostics.iter().all(|d| d.code != "W0007"),
        "{:?}",
        checked.diagnostics
    );
}

/// A fragment is checked alone, into a program already checked, in the scope
/// it is given (names and types, no source text): its errors point into what
/// was written, and its flow has the type it must have.
#[test]
fn a_fragment_is_checked_alone_in_the_scope_it_is_given() {
    use flowc::check::fragment::{Fragment, check_fragment_in};
    use flowc::check::{Type, exprs_checked};
    let src =
        "tool up(s: string) -> string = builtin \"echo\"\nflow main() -> string { up(s: \"x\") }\n";
    let mut c = check_source("main.flow", src, &NoFiles);
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    let text = "let a = up(s: name)\nlet b = up(s: count)\na ++ b";
    let file = c.sources.add("<fragment>", text);
    let (body, parsed) = flowc::syntax::parse_block_body(file, text);
    assert!(parsed.is_empty(), "{parsed:?}");
    let fragment = Fragment {
        file,
        body: body.expect("a block body"),
        flow: "__fragment".into(),
        scope: vec![("name".into(), Type::String), ("count".into(), Type::Int)],
        expected: Some(Type::String),
        policy: None,
    };
    let before = exprs_checked();
    let diags = check_fragment_in(&mut c.program, fragment);
    // The fragment's seven expressions (two calls with their arguments,
    // `a ++ b` and its operands); `main` is not checked again.
    assert_eq!(exprs_checked() - before, 7);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, "E0301");
    let span = diags[0].primary_span();
    assert_eq!(span.file, file);
    assert_eq!(&text[span.start as usize..span.end as usize], "count");
    let root = c.program.root;
    assert_eq!(
        c.program.flow_types.get(&(root, "__fragment".to_string())),
        Some(&Type::String)
    );
}
