//! Editor support (`editors/`) works and stays in step with the grammar:
//!
//! - the VS Code extension's own tests pass: `npm test` in `editors/vscode` runs
//!   the scope assertions of `tests/unit/` and the snapshots of every example
//!   and standard-library module through the real TextMate engine;
//! - every reserved word of `grammar/flow.pest` (its `keyword` rule) is a
//!   keyword for the TextMate grammar (tokenized by that engine) and in a
//!   keyword list of `editors/vim/syntax/flow.vim`, and the words reserved only
//!   where they appear (`kw_*` rules) are neither;
//! - vim highlights `editors/vim/tests/sample.flow` as recorded in
//!   `sample.expected` (`BLESS=1 cargo test` rewrites it) and re-indents every
//!   example exactly as written;
//! - every snippet, with its placeholders filled in, parses.
//!
//! Node.js, npm and vim are required: a missing one fails the test with what to
//! install. `node_modules` is installed with `npm ci` when it is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vscode_dir() -> PathBuf {
    root().join("editors/vscode")
}

/// Runs a command to completion (killing it after `limit`), with what to
/// install if the program is missing.
fn run(cmd: &mut Command, limit: Duration, install: &str) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("`{program}` is needed by the editor tests and could not be started ({e}): {install}")
        });
    // Read both pipes while the child runs, so a full pipe cannot block it.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{program}` did not finish within {limit:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const NODE: &str = "install Node.js and npm (Debian: `apt-get install -y nodejs npm`)";
const VIM: &str = "install vim (Debian: `apt-get install -y vim`)";

/// `npm ci` in editors/vscode once, if `node_modules` is missing.
fn npm_installed() {
    static INSTALL: OnceLock<Result<(), String>> = OnceLock::new();
    let result = INSTALL.get_or_init(|| {
        let dir = vscode_dir();
        if dir.join("node_modules/vscode-tmgrammar-test").is_dir() {
            return Ok(());
        }
        let out = run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
            Duration::from_secs(300),
            NODE,
        );
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`npm ci` failed in editors/vscode:\n{}",
                text(&out)
            ))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------- VS Code

#[test]
fn vscode_grammar_assertions_and_snapshots_pass() {
    npm_installed();
    let out = run(
        Command::new("npm")
            .args(["test", "--silent"])
            .current_dir(vscode_dir()),
        Duration::from_secs(120),
        NODE,
    );
    assert!(
        out.status.success(),
        "`npm test` failed in editors/vscode (snapshots: `npm run snap:update` there, then review):\n{}",
        text(&out)
    );
}

// ---------------------------------------------------------------- keywords in step

/// Whether `line` starts the definition of the pest rule `name` (`name = …`).
fn is_rule(line: &str, name: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next() == Some(name) && words.next() == Some("=")
}

/// The quoted words of the pest rule `name = @{ … }`.
fn pest_rule_words(grammar: &str, name: &str) -> Vec<String> {
    let start = grammar
        .lines()
        .position(|l| is_rule(l, name))
        .unwrap_or_else(|| panic!("grammar/flow.pest has no rule `{name}`"));
    let mut body = String::new();
    for line in grammar.lines().skip(start) {
        body.push_str(line);
        body.push('\n');
        if line.trim_end().ends_with('}') {
            break;
        }
    }
    body.split('"')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

/// The reserved words (the `keyword` rule) and the words reserved only where
/// they appear (`kw_*` rules that are not also reserved words).
fn grammar_words() -> (Vec<String>, Vec<String>) {
    let grammar = std::fs::read_to_string(root().join("grammar/flow.pest")).expect("grammar");
    let keywords = pest_rule_words(&grammar, "keyword");
    assert!(
        keywords.len() >= 25 && keywords.contains(&"parallel".to_string()),
        "the `keyword` rule was not read right: {keywords:?}"
    );
    let contextual: Vec<String> = grammar
        .lines()
        .filter_map(|l| l.split_whitespace().next().filter(|n| is_rule(l, n)))
        .filter(|n| n.starts_with("kw_"))
        .flat_map(|n| pest_rule_words(&grammar, n))
        .filter(|w| !keywords.contains(w))
        .collect();
    assert!(
        contextual.contains(&"max".to_string()),
        "the `kw_*` rules were not read right: {contextual:?}"
    );
    (keywords, contextual)
}

/// Each word alone on a line, through the TextMate engine: word -> scopes.
fn textmate_scopes(words: &[String]) -> BTreeMap<String, Vec<String>> {
    npm_installed();
    let out = run(
        Command::new("node")
            .arg("tests/tokenize.js")
            .arg("--words")
            .args(words)
            .current_dir(vscode_dir()),
        Duration::from_secs(60),
        NODE,
    );
    assert!(out.status.success(), "tokenize.js failed:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let word = v["word"].as_str().expect("word").to_string();
            let scopes = v["scopes"]
                .as_array()
                .expect("scopes")
                .iter()
                .map(|s| s.as_str().expect("a scope").to_string())
                .collect();
            (word, scopes)
        })
        .collect()
}

#[test]
fn every_reserved_word_is_a_keyword_of_the_textmate_grammar() {
    let (keywords, contextual) = grammar_words();
    let all: Vec<String> = keywords.iter().chain(&contextual).cloned().collect();
    let scopes = textmate_scopes(&all);
    let mut wrong = Vec::new();
    for w in &keywords {
        let s = &scopes[w];
        // The literals are reserved words too; they are scoped as language constants.
        let want = if ["true", "false", "null"].contains(&w.as_str()) {
            "constant.language."
        } else {
            "keyword."
        };
        if !s.iter().any(|x| x.starts_with(want)) {
            wrong.push(format!("`{w}` is {s:?}, wanted a `{want}*` scope"));
        }
    }
    for w in &contextual {
        let s = &scopes[w];
        if s.iter().any(|x| x.starts_with("keyword.")) {
            wrong.push(format!(
                "`{w}` is reserved only where it appears, but alone it is {s:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "editors/vscode/syntaxes/flow.tmLanguage.json is out of step with grammar/flow.pest:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_reserved_word_is_in_a_vim_keyword_list() {
    let (keywords, contextual) = grammar_words();
    let syntax =
        std::fs::read_to_string(root().join("editors/vim/syntax/flow.vim")).expect("flow.vim");
    // `syn keyword GROUP word…`, except the contained lists (TODO in comments) and
    // the built-in types (ordinary names that vim shows as types).
    let mut listed = BTreeSet::new();
    for line in syntax.lines() {
        let mut parts = line.split_whitespace();
        if parts.next() != Some("syn") || parts.next() != Some("keyword") {
            continue;
        }
        let group = parts.next().expect("a group after `syn keyword`");
        let words: Vec<&str> = parts.collect();
        if group == "flowType" || words.contains(&"contained") {
            continue;
        }
        listed.extend(words.into_iter().map(String::from));
    }
    let keywords: BTreeSet<String> = keywords.into_iter().collect();
    let missing: Vec<_> = keywords.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&keywords).collect();
    let contextual: Vec<_> = contextual.iter().filter(|w| listed.contains(*w)).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && contextual.is_empty(),
        "the keyword lists of editors/vim/syntax/flow.vim are out of step with grammar/flow.pest:\n\
         reserved words missing: {missing:?}\nlisted but not reserved: {extra:?}\n\
         reserved only where they appear, but listed: {contextual:?}"
    );
}

// ---------------------------------------------------------------- vim

/// A fresh folder of one test's own.
fn tempdir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("flowc-editors-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Runs a vim test script over copies of `files` (paths relative to the
/// repository) in a folder of this test's own, and returns what the script
/// wrote to `g:flow_out`. Tests never share a file vim opens: vim runs without
/// a swap file (`-n`), without viminfo (`-i NONE`) and with `HOME` in that
/// folder, so two tests (or two clones) running at once cannot clash.
fn vim(script: &str, tag: &str, files: &[PathBuf]) -> String {
    let dir = tempdir(tag);
    for f in files {
        let to = dir.join(f);
        std::fs::create_dir_all(to.parent().expect("a folder")).expect("create folder");
        std::fs::copy(root().join(f), &to)
            .unwrap_or_else(|e| panic!("copy {} for vim: {e}", f.display()));
    }
    let out_file = dir.join("out.txt");
    let out = run(
        Command::new("vim")
            .args(["-Nu", "NONE", "-i", "NONE", "-n", "-Es"])
            .arg("-c")
            .arg(format!("let g:flow_out = '{}'", out_file.display()))
            .arg("-c")
            .arg(format!(
                "source {}",
                root().join("editors/vim/tests").join(script).display()
            ))
            .args(files)
            .current_dir(&dir)
            .env("HOME", &dir)
            .env_remove("VIMINIT")
            .env_remove("MYVIMRC"),
        Duration::from_secs(60),
        VIM,
    );
    assert!(
        out.status.success(),
        "vim reported errors running editors/vim/tests/{script}:\n{}",
        text(&out)
    );
    let got = std::fs::read_to_string(&out_file)
        .unwrap_or_else(|e| panic!("vim wrote no {}: {e}", out_file.display()));
    let _ = std::fs::remove_dir_all(&dir);
    got
}

#[test]
fn vim_highlights_the_sample_as_recorded() {
    let got = vim(
        "dump.vim",
        "dump",
        &[PathBuf::from("editors/vim/tests/sample.flow")],
    );
    let expected_path = root().join("editors/vim/tests/sample.expected");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&expected_path, &got).expect("bless sample.expected");
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if got != expected {
        let (g, e): (Vec<_>, Vec<_>) = (got.lines().collect(), expected.lines().collect());
        let diff: Vec<String> = (0..g.len().max(e.len()))
            .filter(|&i| g.get(i) != e.get(i))
            .take(20)
            .map(|i| {
                format!(
                    "  expected: {}\n  got:      {}",
                    e.get(i).unwrap_or(&"<nothing>"),
                    g.get(i).unwrap_or(&"<nothing>")
                )
            })
            .collect();
        panic!(
            "vim highlights editors/vim/tests/sample.flow differently from sample.expected \
             (BLESS=1 cargo test --test editors to accept):\n{}",
            diff.join("\n")
        );
    }
}

fn flow_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|e| PathBuf::from(dir).join(e.file_name()))
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .collect();
    files.sort();
    files
}

#[test]
fn vim_indents_every_example_as_written() {
    let mut files = flow_files("examples");
    files.extend(flow_files("stdlib/std"));
    files.push(PathBuf::from("tests/ui/pass/every_construct.flow"));
    files.push(PathBuf::from("editors/vim/tests/sample.flow"));
    // Operator chains broken as `flowc fmt` breaks them.
    files.push(PathBuf::from("tests/fmt/chains.out.flow"));
    let got = vim("indent.vim", "indent", &files);
    let expected = "options: shiftwidth=4 expandtab=1 commentstring=// %s \
                    comments=s1:/*,mb:*,ex:*/,:///,://\n";
    assert_eq!(
        got, expected,
        "re-indenting with editors/vim/indent/flow.vim changed lines (or the ftplugin's options differ)"
    );
}

// ---------------------------------------------------------------- snippets

/// A snippet body with every placeholder replaced by its default (a choice by
/// its first option, a mirror `$N` by the value of `N`), as a user who accepts
/// the defaults would get it.
fn expand_snippet(body: &str) -> String {
    fn expand(
        s: &[char],
        i: &mut usize,
        vars: &mut BTreeMap<String, String>,
        stop: bool,
    ) -> String {
        let mut out = String::new();
        while *i < s.len() {
            let c = s[*i];
            if c == '\\' && *i + 1 < s.len() {
                out.push(s[*i + 1]);
                *i += 2;
            } else if stop && c == '}' {
                return out;
            } else if c == '$' && *i + 1 < s.len() && s[*i + 1] == '{' {
                *i += 2;
                let mut n = String::new();
                while s[*i].is_ascii_digit() {
                    n.push(s[*i]);
                    *i += 1;
                }
                let value = match s[*i] {
                    ':' => {
                        *i += 1;
                        expand(s, i, vars, true)
                    }
                    '|' => {
                        *i += 1;
                        let mut options = String::new();
                        while s[*i] != '|' {
                            options.push(s[*i]);
                            *i += 1;
                        }
                        *i += 1;
                        options.split(',').next().unwrap_or("").to_string()
                    }
                    _ => vars.get(&n).cloned().unwrap_or_default(),
                };
                assert_eq!(s[*i], '}', "an unclosed placeholder in a snippet: {s:?}");
                *i += 1;
                vars.insert(n, value.clone());
                out.push_str(&value);
            } else if c == '$' && *i + 1 < s.len() && s[*i + 1].is_ascii_digit() {
                *i += 1;
                let mut n = String::new();
                while *i < s.len() && s[*i].is_ascii_digit() {
                    n.push(s[*i]);
                    *i += 1;
                }
                out.push_str(&vars.get(&n).cloned().unwrap_or_default());
            } else {
                out.push(c);
                *i += 1;
            }
        }
        out
    }
    let chars: Vec<char> = body.chars().collect();
    expand(&chars, &mut 0, &mut BTreeMap::new(), false)
}

#[test]
fn every_snippet_parses() {
    let path = vscode_dir().join("snippets/flow.json");
    let snippets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("snippets")).expect("JSON");
    let dir = tempdir("snippets");
    let mut problems = Vec::new();
    let snippets = snippets.as_object().expect("an object of snippets");
    assert!(snippets.len() >= 11, "too few snippets: {}", snippets.len());
    for (name, s) in snippets {
        let body: Vec<&str> = match &s["body"] {
            serde_json::Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect(),
            other => vec![other.as_str().expect("a body")],
        };
        let code = expand_snippet(&body.join("\n")).replace('\t', "    ");
        let first = code.split_whitespace().next().unwrap_or("");
        let file = match first {
            "flow" | "tool" | "effect" | "type" | "import" | "const" | "test" => code.clone(),
            // Options follow a declaration or a block.
            "with" => format!("flow main() -> json\n    {code}\n{{\n    null\n}}\n"),
            // Statements and expressions go in a flow's body.
            _ => format!("flow main() -> json {{\n{code}\n}}\n"),
        };
        let p = dir.join(format!(
            "{}.flow",
            name.replace(|c: char| !c.is_alphanumeric(), "_")
        ));
        std::fs::write(&p, &file).expect("write snippet");
        let out = run(
            Command::new(env!("CARGO_BIN_EXE_flowc"))
                .args(["check", "--format", "json"])
                .arg(&p),
            Duration::from_secs(60),
            "build flowc",
        );
        // Names like `expr` are not declared; only syntax errors (E01xx) count.
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let d: serde_json::Value = serde_json::from_str(line).expect("a JSON diagnostic");
            if d["code"].as_str().is_some_and(|c| c.starts_with("E01")) {
                problems.push(format!("snippet `{name}`: {}\n{file}", d["message"]));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
