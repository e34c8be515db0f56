//! `flowc run`: one annotated `.flow` file per behaviour under `tests/run/`,
//! each run in-process by the harness below (its header says what the run
//! gives: tests/run/README.md); and, as Rust tests after it, what needs the
//! `flowc` process itself: exit codes and messages of usage errors, the run
//! record and trace files, processes killed at a timeout, an HTTP server.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};

mod common;
use common::{run_flow, run_in, tempdir};

// ------------------------------------------------------------------ harness

/// The folder of the annotated files, and of the helper files they use.
fn run_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/run")
}

/// What a file's header asks and expects (tests/run/README.md).
#[derive(Debug, Default)]
struct Spec {
    args: Map<String, Value>,
    set: Vec<String>,
    llm: Option<String>,
    expect: Option<(usize, Value)>,
    errors: Vec<(usize, String)>,
    warnings: Vec<(usize, String)>,
    steps: Vec<(usize, String, Value)>,
    paths: Option<(usize, Vec<String>)>,
    before: Vec<(usize, String, String)>,
    max_running: Vec<(usize, String, usize)>,
}

const KEYS: &[&str] = &[
    "args",
    "set",
    "llm",
    "expect",
    "expect-error",
    "warning",
    "step",
    "steps",
    "before",
    "max-running",
];

/// `// key: value` → (key, value), for a key of lower-case letters and `-`.
fn header_key(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("// ")?;
    let (key, value) = rest.split_once(':')?;
    let is_key = !key.is_empty()
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    is_key.then(|| (key, value.trim()))
}

/// Reads a file's header: the `//` lines at its top. `Err` names the line
/// (1-based) and what is wrong with it.
fn parse_spec(text: &str) -> Result<Spec, (usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let header_end = lines
        .iter()
        .position(|l| !l.starts_with("//"))
        .unwrap_or(lines.len());
    let mut spec = Spec::default();
    let mut i = 0;
    while i < header_end {
        let n = i + 1;
        let Some((key, value)) = header_key(lines[i]) else {
            i += 1;
            continue;
        };
        if !KEYS.contains(&key) {
            return Err((
                n,
                format!("unknown header key `{key}` (the keys: {})", KEYS.join(", ")),
            ));
        }
        // A JSON value may go on over the next comment lines.
        let json = |first: &str, i: &mut usize| -> Result<Value, (usize, String)> {
            let mut text = first.to_string();
            loop {
                match serde_json::from_str::<Value>(&text) {
                    Ok(v) => return Ok(v),
                    Err(e) if e.is_eof() && *i + 1 < header_end => {
                        *i += 1;
                        text.push('\n');
                        text.push_str(lines[*i].trim_start_matches('/'));
                    }
                    Err(e) => return Err((n, format!("`{key}`: not JSON ({e})"))),
                }
            }
        };
        let words = |k: usize| -> Result<Vec<&str>, (usize, String)> {
            let w: Vec<&str> = value.split_whitespace().collect();
            if w.len() == k {
                Ok(w)
            } else {
                Err((n, format!("`{key}` takes {k} words, not `{value}`")))
            }
        };
        match key {
            "args" => match json(value, &mut i)? {
                Value::Object(m) => spec.args = m,
                _ => return Err((n, "`args` is a JSON object".into())),
            },
            "set" => spec.set.push(value.to_string()),
            "llm" => spec.llm = Some(value.to_string()),
            "expect" => {
                if spec.expect.is_some() {
                    return Err((n, "a second `expect`".into()));
                }
                spec.expect = Some((n, json(value, &mut i)?));
            }
            "expect-error" | "warning" if value.split_whitespace().count() < 2 => {
                return Err((n, format!("`{key}` takes a code or kind, then a message")));
            }
            "expect-error" => spec.errors.push((n, value.to_string())),
            "warning" => spec.warnings.push((n, value.to_string())),
            "step" => {
                let (step, rest) = value.split_once(' ').unwrap_or((value, ""));
                match json(rest, &mut i)? {
                    v @ Value::Object(_) => spec.steps.push((n, step.to_string(), v)),
                    _ => return Err((n, "`step` takes a step and a JSON object".into())),
                }
            }
            "steps" => {
                let v = json(value, &mut i)?;
                let paths = serde_json::from_value::<Vec<String>>(v)
                    .map_err(|_| (n, "`steps` is a JSON list of step paths".to_string()))?;
                spec.paths = Some((n, paths));
            }
            "before" => {
                let w = words(2)?;
                spec.before.push((n, w[0].to_string(), w[1].to_string()));
            }
            "max-running" => {
                let w = words(2)?;
                let k = w[1]
                    .parse()
                    .map_err(|_| (n, format!("`max-running`: `{}` is not a count", w[1])))?;
                spec.max_running.push((n, w[0].to_string(), k));
            }
            _ => unreachable!("every key of KEYS has its arm"),
        }
        i += 1;
    }
    // A key below the header would be ignored: refuse it.
    for (j, line) in lines.iter().enumerate().skip(header_end) {
        if let Some((key, _)) = header_key(line.trim_start())
            && KEYS.contains(&key)
        {
            return Err((
                j + 1,
                format!("`{key}` below the header (the `//` lines at the top of the file)"),
            ));
        }
    }
    match (&spec.expect, spec.errors.is_empty()) {
        (None, true) => Err((
            1,
            "no expectation: the header needs `// expect: <JSON>` or `// expect-error: …`".into(),
        )),
        (Some((n, _)), false) => Err((*n, "both `expect` and `expect-error`".into())),
        _ => Ok(spec),
    }
}

/// An error or a warning: its code (the diagnostic's, the run error's
/// kind, or `run` for a run's warning), where it is, and its message.
#[derive(Clone, Debug)]
struct Said {
    code: String,
    /// `LINE:COL`.
    at: String,
    message: String,
}

impl Said {
    fn new(
        code: &str,
        sources: &flowc::source::Sources,
        span: flowc::span::Span,
        message: &str,
    ) -> Said {
        let (line, col) = flowc::span::line_col(&sources.get(span.file).text, span.start as usize);
        Said {
            code: code.to_string(),
            at: format!("{line}:{col}"),
            message: message.to_string(),
        }
    }

    /// `CODE [LINE:COL] TEXT`: the same code, the same place when given, and
    /// TEXT within the message.
    fn matches(&self, want: &str) -> bool {
        let (code, rest) = want.split_once(' ').unwrap_or((want, ""));
        let rest = rest.trim_start();
        let (at, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let is_at = at.split_once(':').is_some_and(|(l, c)| {
            !l.is_empty()
                && !c.is_empty()
                && (l.to_string() + c).chars().all(|ch| ch.is_ascii_digit())
        });
        let (at_ok, text) = if is_at {
            (at == self.at, text)
        } else {
            (true, rest)
        };
        code == self.code && at_ok && self.message.contains(text.trim())
    }

    fn shown(&self) -> String {
        format!("{} {} {}", self.code, self.at, self.message)
    }
}

/// What a run of a file gave.
struct Ran {
    /// The checker's errors: nothing ran when there are some.
    check_errors: Vec<Said>,
    /// The checker's warnings and the run's.
    warnings: Vec<Said>,
    /// The result, or the run's errors.
    outcome: Result<Value, Vec<Said>>,
    /// The run record's steps.
    steps: Vec<Value>,
}

/// Checks and runs `file` as `flowc run` does, in this process, through
/// `flowc::driver`. The one place the harness calls flowc: when the
/// driver's API changes, only this function changes.
fn run_file(file: &Path, text: &str, spec: &Spec) -> Result<Ran, String> {
    use flowc::driver::project::{LlmArgs, choose_provider};
    use flowc::driver::runner::{Job, Keep, Outcome, RecordInfo, Runner};
    use flowc::driver::session::{Settings, pick_flow};
    use flowc::driver::{FsLoader, check_source};

    let name = file.to_str().ok_or("a path in UTF-8")?;
    let checked = check_source(name, text, &FsLoader::here());
    let said = |d: &flowc::diag::Diagnostic| {
        Said::new(d.code, &checked.sources, d.primary_span(), &d.message)
    };
    let check_errors: Vec<Said> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(said)
        .collect();
    let mut warnings: Vec<Said> = checked
        .diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .map(said)
        .collect();
    if !check_errors.is_empty() {
        return Ok(Ran {
            check_errors,
            warnings,
            outcome: Ok(Value::Null),
            steps: Vec::new(),
        });
    }
    // The flow: the only one, or `main`; `--set` decoded as `flowc run` does.
    let flow = pick_flow(&checked.program, name, None).map_err(|r| r.error)?;
    let settings = Settings::parse(&spec.set).map_err(|e| format!("`set`: {e}"))?;
    let provider = match &spec.llm {
        Some(llm) => {
            let args = LlmArgs {
                provider: Some(llm.clone()),
                ..LlmArgs::default()
            };
            choose_provider(file.parent().ok_or("a folder")?, &args)
                .map_err(|e| format!("`llm: {llm}`: {e}"))?
                .provider
        }
        None => None,
    };
    let job = Job {
        inputs: spec.args.clone(),
        options: settings.opts().clone(),
        provider,
        keep: Keep {
            record: Some(RecordInfo {
                file: name.to_string(),
                set: spec.set.clone(),
            }),
            ..Keep::default()
        },
        ..Job::new(&checked.program, &checked.sources, &flow)
    };
    let finished = Runner::new().run(job, &mut |_| {});
    let outcome = match finished.outcome {
        Outcome::Ok(v) => Ok(v),
        Outcome::Failed(errors) => Err(errors
            .iter()
            .map(|e| {
                let d = e.to_diagnostic();
                Said::new(
                    e.kind.as_str(),
                    &checked.sources,
                    d.primary_span(),
                    &d.message,
                )
            })
            .collect()),
        other => return Err(format!("the run ended {other:?}")),
    };
    warnings.extend(finished.warnings.iter().map(|w| Said {
        code: "run".into(),
        at: format!("{}:{}", w.line, w.column),
        message: w.message.clone(),
    }));
    // The file's folder is a fresh one each time: `$DIR` in what is compared.
    let dir = file.parent().and_then(Path::to_str).ok_or("a folder")?;
    let record = serde_json::to_string(&finished.record.ok_or("no run record")?)
        .map_err(|e| e.to_string())?;
    let record: Value =
        serde_json::from_str(&record.replace(dir, "$DIR")).map_err(|e| e.to_string())?;
    let outcome = outcome.map_err(|errors: Vec<Said>| {
        errors
            .into_iter()
            .map(|e| Said {
                message: e.message.replace(dir, "$DIR"),
                ..e
            })
            .collect()
    });
    Ok(Ran {
        check_errors,
        warnings,
        outcome,
        steps: record["steps"].as_array().cloned().unwrap_or_default(),
    })
}

/// A fresh folder holding a copy of `file` and of the helper files
/// (`tests/run/files/`), so that what a run writes stays its own.
fn stage(file: &Path, helpers: &Path) -> Result<PathBuf, String> {
    fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            if e.file_type()?.is_dir() {
                copy_dir(&e.path(), &to.join(e.file_name()))?;
            } else {
                // Permissions too: a helper that is not executable stays so.
                std::fs::copy(e.path(), to.join(e.file_name()))?;
            }
        }
        Ok(())
    }
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("file");
    let dir = tempdir(&format!("run-{stem}"));
    if helpers.is_dir() {
        copy_dir(helpers, &dir.join("files"))
            .map_err(|e| format!("copying the helper files: {e}"))?;
    }
    let name = file.file_name().ok_or("a file name")?;
    std::fs::copy(file, dir.join(name)).map_err(|e| format!("copying the file: {e}"))?;
    Ok(dir.join(name))
}

/// Runs one annotated file; `Err` says each way it missed its header, each
/// starting `PATH:LINE:`.
fn check_file(file: &Path, helpers: &Path) -> Result<(), String> {
    let shown = file
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(file)
        .display()
        .to_string();
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("{shown}: cannot read it: {e}"))?;
    let spec = parse_spec(&text).map_err(|(line, m)| format!("{shown}:{line}: {m}"))?;
    let staged = stage(file, helpers).map_err(|e| format!("{shown}: {e}"))?;
    let ran = run_file(&staged, &text, &spec).map_err(|e| format!("{shown}: {e}"));
    let _ = std::fs::remove_dir_all(staged.parent().expect("a folder"));
    let ran = ran?;
    let mut misses: Vec<String> = Vec::new();
    let mut miss = |line: usize, m: String| misses.push(format!("{shown}:{line}: {m}"));

    // Errors: each expected one said, and nothing else.
    let errors = if ran.check_errors.is_empty() {
        match &ran.outcome {
            Ok(_) => Vec::new(),
            Err(e) => e.clone(),
        }
    } else {
        ran.check_errors.clone()
    };
    matched(&spec.errors, &errors, "error", &mut miss);
    matched(&spec.warnings, &ran.warnings, "warning", &mut miss);
    if let (Some((line, want)), Ok(got)) = (&spec.expect, &ran.outcome)
        && ran.check_errors.is_empty()
    {
        let (want, got) = (pretty(want), pretty(got));
        if want != got {
            miss(
                *line,
                format!(
                    "the result differs\n{}",
                    flowc::fmt::diff::unified("expected -> actual", &want, &got)
                ),
            );
        }
    }
    // The run record's steps.
    let find = |sel: &str| -> Result<&Value, String> {
        let key = if sel.contains('/') { "path" } else { "step" };
        let all: Vec<&Value> = ran.steps.iter().filter(|s| s[key] == sel).collect();
        match all[..] {
            [one] => Ok(one),
            [] => Err(format!(
                "no step `{sel}`; the steps: {}",
                paths_of(&ran.steps).join(", ")
            )),
            _ => Err(format!(
                "{} steps are named `{sel}`: give its path",
                all.len()
            )),
        }
    };
    for (line, sel, want) in &spec.steps {
        match find(sel) {
            Ok(s) if !subset(want, s) => miss(
                *line,
                format!(
                    "step `{sel}` differs\n{}",
                    flowc::fmt::diff::unified(
                        "expected -> actual",
                        &pretty(want),
                        &pretty(&only_keys(s, want))
                    )
                ),
            ),
            Ok(_) => {}
            Err(e) => miss(*line, e),
        }
    }
    if let Some((line, want)) = &spec.paths {
        let got = paths_of(&ran.steps);
        if *want != got {
            miss(
                *line,
                format!(
                    "the steps differ\n{}",
                    flowc::fmt::diff::unified(
                        "expected -> actual",
                        &want.join("\n"),
                        &got.join("\n")
                    )
                ),
            );
        }
    }
    let time = |s: &Value, k: &str| s[k].as_f64().unwrap_or(f64::NAN);
    for (line, a, b) in &spec.before {
        match (find(a), find(b)) {
            (Ok(sa), Ok(sb)) if time(sa, "end_ms") <= time(sb, "start_ms") => {}
            (Ok(sa), Ok(sb)) => miss(
                *line,
                format!(
                    "`{a}` ended at {} ms, after `{b}` started at {} ms",
                    time(sa, "end_ms"),
                    time(sb, "start_ms")
                ),
            ),
            (Err(e), _) | (_, Err(e)) => miss(*line, e),
        }
    }
    for (line, tool, want) in &spec.max_running {
        let got = max_running(&ran.steps, tool);
        if got != *want {
            miss(
                *line,
                format!("at most {got} `{tool}` steps ran at once, not {want}"),
            );
        }
    }
    if misses.is_empty() {
        Ok(())
    } else {
        Err(misses.join("\n"))
    }
}

/// Each expectation (`CODE TEXT`) matched by one of `said`, in any order,
/// and each of `said` expected.
fn matched(
    want: &[(usize, String)],
    said: &[Said],
    what: &str,
    miss: &mut impl FnMut(usize, String),
) {
    let mut left: Vec<&Said> = said.iter().collect();
    for (line, w) in want {
        match left.iter().position(|s| s.matches(w)) {
            Some(k) => {
                left.remove(k);
            }
            None => miss(
                *line,
                format!(
                    "no {what} `{w}`; the {what}s: {}",
                    if said.is_empty() {
                        "none".to_string()
                    } else {
                        said.iter()
                            .map(|s| format!("\n  {}", s.shown()))
                            .collect::<String>()
                    }
                ),
            ),
        }
    }
    for s in left {
        miss(1, format!("an unexpected {what}: {}", s.shown()));
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("values serialise")
}

/// `want`'s fields (recursively) have the same values in `got`.
fn subset(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|x| subset(v, x))),
        _ => want == got,
    }
}

/// `got` with only the fields `want` names, for a short diff.
fn only_keys(got: &Value, want: &Value) -> Value {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => Value::Object(
            w.iter()
                .map(|(k, v)| (k.clone(), g.get(k).map_or(Value::Null, |x| only_keys(x, v))))
                .collect(),
        ),
        _ => got.clone(),
    }
}

/// The paths of the steps, sorted.
fn paths_of(steps: &[Value]) -> Vec<String> {
    let mut p: Vec<String> = steps
        .iter()
        .filter_map(|s| s["path"].as_str().map(String::from))
        .collect();
    p.sort();
    p
}

/// The most steps of `tool` running at one moment.
fn max_running(steps: &[Value], tool: &str) -> usize {
    let mut events: Vec<(f64, i32)> = Vec::new();
    for s in steps.iter().filter(|s| s["tool"] == tool) {
        events.push((s["start_ms"].as_f64().unwrap_or(0.0), 1));
        events.push((s["end_ms"].as_f64().unwrap_or(f64::MAX), -1));
    }
    // Ends before starts at the same instant.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        max = max.max(now);
    }
    max as usize
}

/// Runs every file of `files`, a few at once; the failures, in file order.
fn check_all(files: &[PathBuf], helpers: &Path) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(f) = files.get(k) else { break };
                    let r = check_file(f, helpers);
                    results.lock().expect("lock").push((k, r));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("lock");
    results.sort_by_key(|(k, _)| *k);
    results.into_iter().filter_map(|(_, r)| r.err()).collect()
}

/// The annotated files: `tests/run/*.flow` (not the helpers under `files/`).
fn annotated_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/run exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "flow"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_annotated_file_runs_as_its_header_says() {
    let files = annotated_files(&run_dir());
    assert!(
        files.len() >= 30,
        "too few files under tests/run: {files:?}"
    );
    let failures = check_all(&files, &run_dir().join("files"));
    assert!(
        failures.is_empty(),
        "{} of {} files under tests/run failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// Files written for the self-tests, run by the harness.
fn harness_on(tag: &str, files: &[(&str, &str)]) -> Vec<String> {
    let dir = tempdir(tag);
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
    }
    let failures = check_all(&annotated_files(&dir), &dir.join("files"));
    let _ = std::fs::remove_dir_all(&dir);
    failures
}

#[test]
fn the_harness_reports_every_file_whose_run_differs_from_its_header() {
    let failures = harness_on(
        "harness-wrong",
        &[
            (
                "right.flow",
                "// expect: 3\n\nflow main() -> int { 1 + 2 }\n",
            ),
            (
                "wrong.flow",
                "// expect: 4\n\nflow main() -> int { 1 + 2 }\n",
            ),
            (
                "wrong_error.flow",
                "// expect-error: tool_error no such message\n\ntool boom(message: string) -> json = builtin \"fail\"\n\nflow main() -> json { boom(message: \"bad\") }\n",
            ),
            (
                "wrong_step.flow",
                "// expect: 1\n// step: one {\"status\": \"failed\"}\n\ntool echo(value: json) -> { value: json } = builtin \"echo\"\n\nflow main() -> json {\n    let one = echo(value: 1)\n    one.value\n}\n",
            ),
        ],
    );
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(
        failures[0].contains("wrong.flow:1: the result differs")
            && failures[0].contains("-4")
            && failures[0].contains("+3"),
        "{}",
        failures[0]
    );
    assert!(
        failures[1].contains("wrong_error.flow:1: no error `tool_error no such message`")
            && failures[1].contains("tool_error 5:23 step `main/boom` failed: bad"),
        "{}",
        failures[1]
    );
    assert!(
        failures[2].contains("wrong_step.flow:2: step `one` differs"),
        "{}",
        failures[2]
    );
}

#[test]
fn a_file_the_harness_cannot_read_as_annotated_is_a_failure_naming_its_line() {
    let failures = harness_on(
        "harness-bad",
        &[
            (
                "no_expectation.flow",
                "// What it does, but no expectation.\n\nflow main() -> int { 1 }\n",
            ),
            (
                "unknown_key.flow",
                "// A typo.\n// expects: 1\n\nflow main() -> int { 1 }\n",
            ),
            (
                "below.flow",
                "// expect: 1\n\nflow main() -> int {\n    // expect: 2\n    1\n}\n",
            ),
            (
                "bad_json.flow",
                "// expect: {\"a\": 1,,}\n\nflow main() -> json { { a: 1 } }\n",
            ),
            (
                "unexpected_warning.flow",
                "// expect: 3\n\nflow main() -> int {\n    let n = loop s = 0 max 3 until s > 100 { s + 1 }\n    n\n}\n",
            ),
        ],
    );
    let want = [
        "bad_json.flow:1: `expect`: not JSON",
        "below.flow:4: `expect` below the header",
        "no_expectation.flow:1: no expectation",
        "unexpected_warning.flow:1: an unexpected warning: run 4:13 ",
        "unknown_key.flow:2: unknown header key `expects`",
    ];
    assert_eq!(failures.len(), want.len(), "{failures:#?}");
    for (f, w) in failures.iter().zip(want) {
        assert!(f.contains(w), "{w:?} not in {f}");
    }
}

// ------------------------------------------------- what needs the process

const TOOLS: &str = r#"
tool wait(ms: int) -> { ms: int } = builtin "sleep"
tool echo(value: json) -> { value: json } = builtin "echo"
tool boom(message: string) -> json = builtin "fail"
"#;

fn with_tools(body: &str) -> String {
    format!("{TOOLS}\n{body}")
}

fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim().chars().next()
}

#[test]
fn a_hung_exec_tool_and_its_children_are_killed_at_timeout() {
    let script = "import json, os, subprocess, sys, time\nchild = subprocess.Popen(['sleep', '60'])\nopen(os.path.join(os.path.dirname(__file__), 'pids'), 'w').write('%d %d' % (os.getpid(), child.pid))\nsys.stdout.flush()\ntime.sleep(60)\n";
    let src = r#"
tool hang() -> json = exec ["python3", "hang.py"] with { timeout: 2500ms }
flow main() -> json { hang() }
"#;
    let started = std::time::Instant::now();
    let out = run_flow("hang", src, &[("hang.py", script)], &[]);
    assert_eq!(out.code, 1);
    assert!(started.elapsed().as_secs() < 10);
    assert!(out.stderr.contains("[timeout]"), "{}", out.stderr);
    let dir = PathBuf::from(out.record["file"].as_str().expect("file"))
        .parent()
        .expect("dir")
        .to_path_buf();
    let pids = std::fs::read_to_string(dir.join("pids")).expect("the tool wrote its pids");
    std::thread::sleep(std::time::Duration::from_millis(300));
    for pid in pids
        .split_whitespace()
        .map(|p| p.parse::<u32>().expect("pid"))
    {
        let state = process_state(pid);
        assert!(
            state.is_none() || state == Some('Z'),
            "process {pid} is still alive ({state:?})"
        );
    }
}

/// Bounded wait (20 s) for a process to be gone or a zombie.
fn wait_gone(pid: u32) {
    let start = std::time::Instant::now();
    while process_state(pid).is_some_and(|s| s != 'Z') {
        assert!(
            start.elapsed().as_secs() < 20,
            "process {pid} is still alive"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_tool_that_exits_leaving_a_child_on_its_stdout_succeeds_once() {
    // The tool prints its result and exits 0, but a child it leaves in the
    // background holds its stdout for 20 s: the call ends at the tool's
    // exit, is not a timeout, is not retried, and the child is killed.
    let script = "#!/bin/sh\necho ran >> \"$(dirname \"$0\")/runs\"\necho '{\"ok\": true}'\nsleep 20 &\necho $! > \"$(dirname \"$0\")/bg\"\nexit 0\n";
    let src = r#"
effect tool leaves() -> { ok: bool } = exec ["sh", "leaves.sh"] with { retry: 2, timeout: 3s, backoff: 10ms }
flow main() -> json { leaves() }
"#;
    let out = run_flow("leaves", src, &[("leaves.sh", script)], &[]);
    let runs = std::fs::read_to_string(out.dir.join("runs")).unwrap_or_default();
    assert_eq!(runs.lines().count(), 1, "the tool ran once: {}", out.stderr);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.result(), json!({"ok": true}));
    assert_eq!(out.step("leaves")["attempts"], 1);
    assert_eq!(out.step("leaves")["status"], "ok");
    let bg = std::fs::read_to_string(out.dir.join("bg")).expect("the tool wrote its child's pid");
    wait_gone(bg.trim().parse().expect("pid"));
}

/// A tiny HTTP/1.1 server: answers `n` requests with `respond(method, path, body)`.
fn serve(
    n: usize,
    respond: fn(&str, &str, &str) -> (u16, String),
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..n {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let k = s.read(&mut chunk).expect("read");
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let head = text[..i].to_string();
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < i + 4 + len {
                        let k = s.read(&mut chunk).expect("read body");
                        buf.extend_from_slice(&chunk[..k]);
                    }
                    break (
                        head,
                        String::from_utf8_lossy(&buf[i + 4..i + 4 + len]).to_string(),
                    );
                }
            };
            let first = head.lines().next().unwrap_or("").to_string();
            let mut parts = first.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let path = parts.next().unwrap_or("").to_string();
            seen.push(format!("{method} {path} {body}"));
            let (status, reply) = respond(&method, &path, &body);
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            s.write_all(resp.as_bytes()).expect("write");
        }
        seen
    });
    (format!("http://{addr}"), h)
}

#[test]
fn http_tools_post_json_and_get_with_a_query_string() {
    let (base, server) = serve(3, |method, path, body| {
        if method == "POST" {
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            (
                200,
                json!({"cause": "disk", "confidence": 0.9, "echo": v}).to_string(),
            )
        } else if path.contains("fail") {
            (503, "{\"error\": \"down\"}".into())
        } else {
            (200, json!({"path": path}).to_string())
        }
    });
    let src = format!(
        r#"
tool rca(anomalies: [string]) -> {{ cause: string, confidence: float }} = http post "{base}/rca"
tool ci(id: string, n: int) -> {{ path: string }} = http get "{base}/ci"
tool down(id: string) -> json = http get "{base}/fail"
flow main() -> json {{
    let r = rca(anomalies: ["cpu"])
    let c = ci(id: "CI-1", n: 2)
    let d = down(id: "x") catch {{ failed: true }}
    {{ r, c, d }}
}}
"#
    );
    let out = run_flow("http", &src, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.result();
    assert_eq!(v["r"]["echo"], json!({"anomalies": ["cpu"]}));
    assert_eq!(v["c"]["path"], json!("/ci?id=CI-1&n=2"));
    assert_eq!(v["d"], json!({"failed": true}));
    let err = out.step("down")["error"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(err.contains("503"), "{err}");
    let seen = server.join().expect("server");
    assert_eq!(seen.len(), 3);
}

#[test]
fn the_run_record_and_the_trace_describe_the_run() {
    let src = with_tools(
        "flow main(x: int) -> int {\n    let a = wait(ms: 10)\n    let b = wait(ms: 10)\n    a.ms + b.ms + x\n}\n",
    );
    let dir = tempdir("trace");
    std::fs::write(dir.join("main.flow"), &src).expect("write");
    let trace = dir.join("trace.json");
    let out = run_in(
        &dir,
        &[
            "--arg",
            "x=1",
            "--trace",
            trace.to_str().expect("utf-8"),
            "--set",
            "timeout=5s",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = &out.record;
    assert_eq!(r["flow"], "main");
    assert_eq!(r["status"], "ok");
    assert_eq!(r["inputs"], json!({"x": 1}));
    assert_eq!(r["options"], json!({"timeout": "5s"}));
    assert_eq!(r["result"], json!(21));
    // A short, time-ordered id in Crockford's base32 (docs/store.md).
    let id = r["run_id"].as_str().expect("run id");
    assert!(
        id.len() == 12
            && id
                .chars()
                .all(|c| "0123456789abcdefghjkmnpqrstvwxyz".contains(c)),
        "{id}"
    );
    let a = out.step("a");
    assert_eq!(a["tool"], "wait");
    assert_eq!(a["status"], "ok");
    assert_eq!(a["attempts"], 1);
    assert_eq!(a["span"]["line"], 7);
    assert!(a["end_ms"].as_f64().expect("end") - a["start_ms"].as_f64().expect("start") >= 9.5);
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&trace).expect("trace written"))
        .expect("trace is JSON");
    let events: Vec<&Value> = t["traceEvents"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e["dur"].as_f64().expect("dur") >= 9000.0)
    );
    assert_ne!(
        events[0]["tid"], events[1]["tid"],
        "overlapping steps are on different lanes"
    );
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let src = "flow main(n: int) -> int { n }\n";
    let out = run_flow("usage1", src, &[], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("needs `n: int`"), "{}", out.stderr);
    let out = run_flow("usage2", src, &[], &["--arg", "n=abc"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`--arg n`"), "{}", out.stderr);
    let out = run_flow("usage3", src, &[], &["--arg", "n=1", "--flow", "mian"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("did you mean `main`"), "{}", out.stderr);
    let out = run_flow(
        "usage4",
        src,
        &[],
        &["--arg", "n=1", "--set", "timeout=fast"],
    );
    assert_eq!(out.code, 2);
    let out = run_flow("checkerr", "flow main() -> int { \"x\" }\n", &[], &[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("E0301"), "{}", out.stderr);
}

#[test]
fn unknown_flow_suggests_only_a_similar_name() {
    let dir = tempdir("flow-suggest");
    let file = dir.join("main.flow");
    std::fs::write(&file, "flow a() -> int { 1 }\nflow main() -> int { 2 }\n").expect("write");
    let run = |flow: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .arg("run")
            .arg(&file)
            .args(["--flow", flow])
            .env("FLOWC_STORE", common::test_store())
            .output()
            .expect("flowc run");
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let c = run("c");
    assert!(c.contains("has no flow `c`"), "{c}");
    assert!(!c.contains("did you mean"), "{c}");
    let mian = run("mian");
    assert!(mian.contains("did you mean `main`?"), "{mian}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn set_max_concurrent_zero_is_rejected() {
    let out = run_flow(
        "mc-zero",
        "flow main() -> int { 1 }\n",
        &[],
        &["--set", "max_concurrent=0"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`max_concurrent` takes a positive integer, not `0`"),
        "{}",
        out.stderr
    );
    // An unknown `--set` option gets the same did-you-mean as the source form.
    let out = run_flow(
        "set-typo",
        "flow main() -> int { 1 }\n",
        &[],
        &["--set", "retries=2"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("unknown option `retries`; did you mean `retry`?"),
        "{}",
        out.stderr
    );
}

/// A port on 127.0.0.1 that nothing listens on.
fn unused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address").port()
}

#[test]
fn credentials_in_urls_are_redacted_in_messages_records_and_traces() {
    let port = unused_port();
    let src = format!(
        r#"
tool down(q: string) -> json = http get "http://admin:hunter2-pw@127.0.0.1:{port}/v1?api_key=k3y-SECRET&q=1"
flow main() -> json {{
    let d = down(q: "x")
    let ok = llm("Is it fine?", "x")
    {{ d: d, ok: ok }}
}}
"#
    );
    let dir = common::tempdir("redact");
    std::fs::write(dir.join("main.flow"), &src).expect("write");
    let out = run_in(
        &dir,
        &[
            "--trace",
            dir.join("trace.json").to_str().expect("utf-8"),
            "--llm",
            &format!("openai:http://bot:llm-pw-SECRET@127.0.0.1:{port}/v1?token=tok-SECRET"),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let record = out.record.to_string();
    let trace = std::fs::read_to_string(dir.join("trace.json"))
        .unwrap_or_else(|e| panic!("the trace: {e}\n{}", out.stderr));
    for (what, text) in [
        ("stderr", out.stderr.as_str()),
        ("record", record.as_str()),
        ("trace", trace.as_str()),
    ] {
        for secret in ["hunter2-pw", "k3y-SECRET", "llm-pw-SECRET", "tok-SECRET"] {
            assert!(!text.contains(secret), "{what} shows `{secret}`:\n{text}");
        }
    }
    // The URL is still there to see, without its secrets.
    assert!(
        out.stderr.contains(&format!(
            "http://admin:***@127.0.0.1:{port}/v1?api_key=***&q=1"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn errors_on_stderr_and_traces_name_steps_by_path() {
    // What the errors say is in tests/run/errors_name_steps_by_path.flow;
    // here, how `flowc run` prints them, and the trace file.
    let src = with_tools(
        "flow main() -> json {\n    let xs = for v in [1, 2] { boom(message: \"no {v}\") }\n    xs\n}\n",
    );
    let dir = tempdir("pathtrace");
    std::fs::write(dir.join("main.flow"), &src).expect("write");
    let trace = dir.join("trace.json");
    let out = run_in(&dir, &["--trace", trace.to_str().expect("utf-8")]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("[tool_error] Error: step `main/xs/for[1]/boom` failed: no 2"),
        "{}",
        out.stderr
    );
    // At its place in the source.
    assert!(out.stderr.contains("main.flow:7:"), "{}", out.stderr);
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&trace).expect("trace written"))
        .expect("trace is JSON");
    let mut names: Vec<&str> = t["traceEvents"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    names.sort();
    assert_eq!(names, ["main/xs/for[0]/boom", "main/xs/for[1]/boom"]);
}
