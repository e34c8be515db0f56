//! A bounded fuzzer that runs in plain `cargo test` (see fuzz/README.md):
//! mutated corpus files through parse + check + rendering of the diagnostics,
//! and arbitrary JSON through the
//! conversion of a tool's output into a typed value. Any panic fails; so does
//! a parse + check that takes longer than 20 s (a hang). `FLOWC_FUZZ_CASES` sets the
//! number of cases (2,000 by default).

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use common::flow_files;
use flowc::check::{NoFiles, Type};
use flowc::diag::render;
use flowc::driver::check_source;
use flowc::run::value;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

fn cases() -> u32 {
    std::env::var("FLOWC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// The seed corpus: every `.flow` file of the examples and the tests.
static CORPUS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for d in ["examples", "tests/ui", "tests/data"] {
        flow_files(&root.join(d), &mut files);
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect()
});

/// Tokens and openers inserted by mutations.
const TOKENS: &[&str] = &[
    "(",
    "[",
    "{",
    ")",
    "]",
    "}",
    "\"",
    "\"{",
    "/(u/",
    "/",
    "f(",
    "if x {",
    "} else {",
    "else",
    "\n",
    ";",
    ",",
    "let x = ",
    "flow f() {",
    "tool t() -> int = builtin \"echo\"",
    "+",
    "??",
    "catch",
    ".",
    "[*]",
    "=>",
    "->",
    "with { retry: 2 }",
    "after",
    "match x {",
    "\\",
    "/*",
    "*/",
    "//",
    "1e999",
    "99999999999999999999",
    "é",
    "\u{FEFF}",
    "\r\n",
];

#[derive(Clone, Debug)]
enum Mutation {
    Insert(usize, Vec<u8>),
    Token(usize, usize),
    Delete(usize, usize),
    Duplicate(usize, usize, usize),
    Repeat(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::Token(p, t)),
        (any::<usize>(), 1..64usize).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), 1..256usize, any::<usize>())
            .prop_map(|(p, n, at)| Mutation::Duplicate(p, n, at)),
        // An opener or token many times: deep nesting, long chains.
        (any::<usize>(), 0..TOKENS.len(), 2..300usize)
            .prop_map(|(p, t, n)| Mutation::Repeat(p, t, n)),
    ]
}

fn apply(text: &mut Vec<u8>, m: &Mutation) {
    let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
    match m {
        Mutation::Insert(p, b) => {
            let i = at(*p, text.len());
            text.splice(i..i, b.iter().copied());
        }
        Mutation::Token(p, t) => {
            let i = at(*p, text.len());
            text.splice(i..i, TOKENS[*t].bytes());
        }
        Mutation::Delete(p, n) => {
            let i = at(*p, text.len());
            let j = (i + n).min(text.len());
            text.drain(i..j);
        }
        Mutation::Duplicate(p, n, to) => {
            let i = at(*p, text.len());
            let j = (i + n).min(text.len());
            let chunk: Vec<u8> = text[i..j].to_vec();
            let k = at(*to, text.len());
            text.splice(k..k, chunk);
        }
        Mutation::Repeat(p, t, n) => {
            let i = at(*p, text.len());
            text.splice(i..i, TOKENS[*t].repeat(*n).into_bytes());
        }
    }
}

/// Parse + check on a thread with the binary's stack: the time it took and
/// whether it found an error; `Err` with the panic message.
fn check_case(text: String) -> Result<(Duration, bool), String> {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let t = Instant::now();
            catch_unwind(AssertUnwindSafe(|| {
                let checked = check_source("fuzz.flow", &text, &NoFiles);
                // What `flowc check` prints, in both formats.
                let _ = render::render_all(&checked.diagnostics, &checked.sources, false);
                for d in &checked.diagnostics {
                    let _ = render::to_json(d, &checked.sources);
                }
                checked.has_errors()
            }))
            .map(|errors| (t.elapsed(), errors))
            .map_err(|e| {
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".into())
            })
        })
        .expect("spawn")
        .join()
        .unwrap_or_else(|_| Err("the checking thread died".into()))
}

#[test]
fn mutated_programs_never_panic_or_hang() {
    assert!(CORPUS.len() > 20, "the corpus is missing");
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..CORPUS.len(), proptest::collection::vec(mutation(), 1..6));
    let executed = std::sync::atomic::AtomicUsize::new(0);
    let with_errors = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&strategy, |(k, muts)| {
        let mut text = CORPUS[k].clone().into_bytes();
        for m in &muts {
            apply(&mut text, m);
        }
        let text = String::from_utf8_lossy(&text).into_owned();
        executed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match check_case(text.clone()) {
            Ok((took, errors)) => {
                if errors {
                    with_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                // A hang detector, not a speed goal (a case takes milliseconds;
                // `docs/performance.md` measures speed): generous enough that
                // a loaded machine never trips it, and an exponential blow-up does.
                prop_assert!(
                    took < Duration::from_secs(20),
                    "parse + check took {took:?} on:\n{text}"
                )
            }
            Err(panic) => prop_assert!(false, "panic `{panic}` on:\n{text}"),
        }
        Ok(())
    });
    let executed = executed.load(std::sync::atomic::Ordering::Relaxed);
    let with_errors = with_errors.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("fuzz: {executed} parse + check executions, {with_errors} with errors");
    if let Err(e) = result {
        panic!("{e}");
    }
    // The mutations reach the error paths (and do not only break every file).
    assert!(
        with_errors * 10 > executed && with_errors < executed,
        "{with_errors} of {executed} cases had errors"
    );
}

// ------------------------------------------------------------------ tool output

/// Arbitrary JSON: nested lists and records, big and odd numbers, odd strings.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".*".prop_map(Value::String),
        prop_oneof![
            Just("ci_id"),
            Just("rows"),
            Just("n"),
            Just("a"),
            Just(""),
            Just("\u{0}"),
            Just("é\u{FEFF}")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(8, 256, 10, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..10).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("rows".to_string()),
                        Just("ci_id".to_string()),
                        ".{0,8}"
                    ],
                    inner
                ),
                0..10
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Tool output as text: a value, or JSON that is odd at the text level.
fn tool_output() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => json_value().prop_map(|v| v.to_string()),
        1 => (1..2000usize, any::<bool>()).prop_map(|(n, obj)| {
            // Nesting past serde_json's recursion limit.
            if obj {
                format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n))
            } else {
                format!("{}{}", "[".repeat(n), "]".repeat(n))
            }
        }),
        1 => prop_oneof![
            Just("1e999".to_string()),
            Just("-1e999".to_string()),
            Just("123456789012345678901234567890".to_string()),
            Just("-9223372036854775809".to_string()),
            Just("18446744073709551616".to_string()),
            Just("-0".to_string()),
            Just("\"\\ud800\"".to_string()),
            Just("{\"a\":1,\"a\":2}".to_string()),
            Just("".to_string()),
        ],
    ]
}

/// Result types to check tool output against, declared the way users do.
static TYPES: LazyLock<Vec<String>> = LazyLock::new(|| {
    vec![
        "int".into(),
        "float".into(),
        "string".into(),
        "bool".into(),
        "duration".into(),
        "json".into(),
        "null".into(),
        "int?".into(),
        "[string]".into(),
        "[[int?]]".into(),
        "\"a\" | \"b\"".into(),
        "{ rows: [{ ci_id: string, n?: int }] }".into(),
        "{ a: { a: { a: int } }, b?: [json] }".into(),
    ]
});

thread_local! {
    static CHECKED_TYPES: Vec<Type> = TYPES
        .iter()
        .map(|t| {
            let src = format!("tool t() -> {t} = builtin \"echo\"\n");
            let checked = check_source("types.flow", &src, &NoFiles);
            assert!(!checked.has_errors(), "{t}");
            let sig = checked.program.modules[checked.program.root]
                .tools
                .get("t")
                .expect("the tool")
                .clone();
            sig.ret.clone().expect("a result type")
        })
        .collect();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// What `exec` and `http` tools do with their output: parse one JSON value,
    /// check it against the declared result type, describe it for messages.
    #[test]
    fn tool_output_never_panics(text in tool_output()) {
        let outcome = catch_unwind(|| {
            let Ok(v) = serde_json::from_str::<Value>(text.trim()) else {
                return;
            };
            CHECKED_TYPES.with(|types| {
                for t in types {
                    let _ = value::conforms(&v, t);
                }
            });
            let _ = value::describe(&v);
            let _ = value::to_text(&v);
            assert!(value::equal(&v, &v));
            let _ = value::compare(&v, &v);
        });
        prop_assert!(outcome.is_ok(), "panic on tool output {text:?}");
    }
}
