//! `flowc test [FILE|DIR…]`: runs the `test` blocks (docs/language.md, "Tests") and reports
//! like `cargo test`: a line per test, the failures with their spans, then
//! `test result: N passed, N failed`.

use std::io::Write;

use serde_json::{Value, json};

use super::Format;
use crate::diag::{Diagnostic, render};
use crate::driver::TestFailure;
use crate::driver::runner::Runner;
use crate::driver::testing::{self, TestResult};
use crate::driver::{Checked, FsLoader, check_source};
use crate::source::Sources;
use crate::term::{FAILED, OK, USAGE, out};

#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// `.flow` files, or folders (every `.flow` file in them, recursively;
    /// hidden folders and `target/` skipped); the current folder by default
    pub files: Vec<String>,
    /// Run only the tests whose name contains this text
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Output format: human, or one JSON document
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// How long one test may take, such as 30s (it then fails)
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub timeout: String,
    /// How many tests run at once
    #[arg(long, value_name = "N", default_value_t = testing::DEFAULT_JOBS)]
    pub jobs: usize,
}

pub fn test(a: &TestArgs) -> u8 {
    let json = a.format == Format::Json;
    let Some(timeout) = crate::check::options::parse_duration(&a.timeout) else {
        eprintln!(
            "error: `--timeout {}` is not a duration; write it like `30s`, `2m` or `500ms`",
            a.timeout
        );
        return USAGE;
    };
    let color = !json && color_stdout();
    let stderr = std::io::stderr();
    let roots = if a.files.is_empty() {
        vec![".".to_string()]
    } else {
        a.files.clone()
    };
    let (mut files, mut unreadable) = super::expand_flow_files(&roots);
    // `flowc test` in a folder names its files as `a.flow`, not `./a.flow`.
    for f in &mut files {
        if let Some(rest) = f.strip_prefix("./") {
            *f = rest.to_string();
        }
    }
    // Check every file; a file with errors has its errors reported and its tests not run.
    let mut checked: Vec<(String, Checked)> = Vec::new();
    let mut broken: Vec<Value> = Vec::new();
    let mut broken_files = 0usize;
    for file in files {
        let text = match crate::files::read_source(&file) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(stderr.lock(), "error: {e}");
                unreadable = true;
                continue;
            }
        };
        let c = check_source(&file, &text, &FsLoader::here());
        if c.has_errors() {
            broken_files += 1;
            let errors: Vec<&Diagnostic> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
            if json {
                broken.push(json!({
                    "file": file,
                    "diagnostics": errors
                        .iter()
                        .map(|d| serde_json::from_str::<Value>(&render::to_json(d, &c.sources)).unwrap_or(Value::Null))
                        .collect::<Vec<_>>(),
                }));
            } else {
                let _ = writeln!(
                    stderr.lock(),
                    "{}error: `{file}` has check errors; its tests did not run",
                    render::render_all(errors, &c.sources, crate::term::color_stderr())
                );
            }
            continue;
        }
        checked.push((file, c));
    }
    if unreadable {
        return USAGE;
    }
    let several = checked.len() > 1;
    let mut cases = Vec::new();
    let mut file_of = Vec::new();
    for (file, c) in &checked {
        for case in testing::tests_of(&c.program, &c.sources, a.filter.as_deref()) {
            cases.push(case);
            file_of.push(file.as_str());
        }
    }
    if !json {
        out::println(&format!(
            "\nrunning {} test{}",
            cases.len(),
            if cases.len() == 1 { "" } else { "s" }
        ));
    }
    let t0 = std::time::Instant::now();
    let mut results: Vec<(usize, TestResult)> = Vec::new();
    let mut runner = Runner::new();
    let ran = testing::run_tests(&mut runner, &cases, a.jobs, timeout, &mut |i, r| {
        if !json {
            let name = display_name(several, file_of[i], &r.name);
            let status = match (r.passed(), color) {
                (true, false) => "ok",
                (false, false) => "FAILED",
                (true, true) => "\x1b[32mok\x1b[0m",
                (false, true) => "\x1b[31mFAILED\x1b[0m",
            };
            out::println(&format!("test {name} ... {status}"));
        }
        results.push((
            i,
            TestResult {
                name: r.name.clone(),
                failures: r.failures.clone(),
                duration_ms: r.duration_ms,
            },
        ));
    });
    if let Err(signal) = ran {
        let _ = writeln!(
            stderr.lock(),
            "error: the tests were stopped by {}",
            signal.name()
        );
        return signal.exit_code();
    }
    let passed = results.iter().filter(|(_, r)| r.passed()).count();
    let failed = results.len() - passed;
    let seconds = t0.elapsed().as_secs_f64();
    if json {
        let tests: Vec<Value> = results
            .iter()
            .map(|(i, r)| {
                let sources = cases[*i].sources;
                json!({
                    "name": r.name,
                    "file": file_of[*i],
                    "status": if r.passed() { "ok" } else { "failed" },
                    "duration_ms": r.duration_ms,
                    "failures": r.failures.iter().map(|f| failure_json(f, sources)).collect::<Vec<_>>(),
                })
            })
            .collect();
        out::println(
            &serde_json::to_string_pretty(&json!({
                "tests": tests,
                "passed": passed,
                "failed": failed,
                "check_errors": broken,
                "duration_ms": seconds * 1e3,
            }))
            .expect("JSON serialises"),
        );
    } else {
        if failed > 0 {
            out::println("\nfailures:\n");
            for (i, r) in results.iter().filter(|(_, r)| !r.passed()) {
                out::println(&format!(
                    "---- {} ----",
                    display_name(several, file_of[*i], &r.name)
                ));
                for f in &r.failures {
                    out::print(&render::render(&diagnostic(f), cases[*i].sources, color));
                }
                out::println("");
            }
            out::println("failures:");
            for (i, r) in results.iter().filter(|(_, r)| !r.passed()) {
                out::println(&format!(
                    "    {}",
                    display_name(several, file_of[*i], &r.name)
                ));
            }
        }
        out::println(&format!(
            "\ntest result: {passed} passed, {failed} failed; finished in {seconds:.2}s"
        ));
    }
    if failed > 0 || broken_files > 0 {
        FAILED
    } else {
        OK
    }
}

fn display_name(several: bool, file: &str, name: &str) -> String {
    if several {
        format!("{file}: {name}")
    } else {
        name.to_string()
    }
}

/// A failure as a diagnostic, rendered like a check error.
fn diagnostic(f: &TestFailure) -> Diagnostic {
    let code = match f.kind {
        "error" => f.error_kind.unwrap_or("error"),
        k => k,
    };
    let mut d = Diagnostic::error(code, f.message.clone(), f.span);
    if let Some(n) = &f.note {
        d = d.with_note(n.clone());
    }
    d = match (&f.op, &f.left, &f.right) {
        (Some(op), Some(l), Some(r)) => d
            .with_label(format!("`{op}` is false here"))
            .with_note(format!("left:  {}", short(l)))
            .with_note(format!("right: {}", short(r))),
        _ if f.kind == "assert" => d.with_label("this is false"),
        _ if f.kind == "unmocked" => d.with_label("not mocked"),
        _ => d.with_label(format!("{code} here")),
    };
    if let Some(diff) = &f.diff {
        d = d.with_note(format!("diff (- left, + right):\n{}", diff.trim_end()));
    }
    if let Some(h) = &f.help {
        d = d.with_help(h.clone());
    }
    d
}

/// A value on one line, shortened.
fn short(v: &Value) -> String {
    crate::driver::head(&v.to_string(), 300)
}

fn failure_json(f: &TestFailure, sources: &Sources) -> Value {
    let mut v = serde_json::to_value(f).expect("failures serialise");
    let file = sources.get(f.span.file);
    let (line, column) = crate::syntax::span::line_col(&file.text, f.span.start as usize);
    v["file"] = json!(file.name);
    v["line"] = json!(line);
    v["column"] = json!(column);
    v
}

/// Whether to colour stdout: a terminal, and `NO_COLOR` unset.
fn color_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
