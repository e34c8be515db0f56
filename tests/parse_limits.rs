//! Hostile input: the parser stays linear in unclosed brackets, and a file with
//! thousands of diagnostics on one line prints a bounded amount.

use std::process::Command;
use std::time::{Duration, Instant};

use flowc::check::NoFiles;
use flowc::driver::check_source;
use proptest::prelude::*;

/// Things that open and are never closed.
const OPENERS: &[&str] = &[
    "[", "(", "{", "f(", "if x {", "/(u/ ", "\"", "\"{", "x[", "a: ",
];

/// The time this thread has spent on a CPU (`/proc/thread-self/schedstat`,
/// in nanoseconds), so a busy machine does not count against the bound; the
/// wall clock where the kernel does not say.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn check_timed(src: &str) -> (Vec<&'static str>, Duration) {
    let (t, cpu) = (Instant::now(), thread_cpu());
    let checked = check_source("hostile.flow", src, &NoFiles);
    let took = match (cpu, thread_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => t.elapsed(),
    };
    (checked.diagnostics.iter().map(|d| d.code).collect(), took)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Up to 100 unclosed openers, in a flow body and at top level, check in
    /// well under the bound (it was exponential: 24 `[` took 20 s).
    #[test]
    fn unclosed_openers_check_fast(
        picks in proptest::collection::vec(0..OPENERS.len(), 1..100),
        top in any::<bool>(),
    ) {
        // Openers can close each other (`"` then `"` is a string), so one `[`
        // more ends the text: it is unclosed inside a string, an
        // interpolation or code alike, and the text can never be valid.
        let mut openers: String = picks.iter().map(|&i| OPENERS[i]).collect::<Vec<_>>().join(" ");
        openers.push_str(" [");
        let src = if top {
            format!("const X = {openers}\nflow main() -> int {{ 1 }}\n")
        } else {
            format!("flow main() -> json {{ {openers} }}\n")
        };
        let (codes, took) = check_timed(&src);
        prop_assert!(took < Duration::from_secs(2), "{took:?} for {src:?}");
        prop_assert!(!codes.is_empty(), "no diagnostic for {src:?}");
    }
}

#[test]
fn one_hundred_of_each_opener_check_fast() {
    for o in OPENERS {
        let body = o.repeat(100);
        for src in [
            format!("flow main() -> json {{ {body} }}\n"),
            format!("{body}\n"),
            format!("flow main() -> json {{\n    let a = {body}\n    let b = 2\n}}\n"),
        ] {
            let (codes, took) = check_timed(&src);
            assert!(took < Duration::from_secs(2), "{took:?} for {src:?}");
            assert!(!codes.is_empty(), "no diagnostic for {src:?}");
        }
    }
}

#[test]
fn a_bad_statement_with_an_unclosed_bracket_is_one_line() {
    // The statement after the broken one is still read.
    let src = "flow main() -> int {\n    let a = f(1\n    let b = 2\n    b\n}\n";
    let checked = check_source("t.flow", src, &NoFiles);
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0101"], "{:?}", checked.diagnostics);
}

/// One diagnostic per `let` on a single 70 KB line: each used to reprint the
/// whole line (870 MB for 5,000).
#[test]
fn many_diagnostics_on_one_long_line_print_little() {
    let dir = std::env::temp_dir().join(format!("flowc-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("lets.flow");
    let lets = "let a = 1; ".repeat(5000);
    std::fs::write(&file, format!("flow main() {{ {lets}}}\n")).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("check")
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .expect("flowc runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.len() < 1 << 20, "{} bytes of stderr", stderr.len());
    let shown = stderr.matches("] Error:").count() + stderr.matches("] Warning:").count();
    assert_eq!(shown, 50, "{}", &stderr[..stderr.len().min(3000)]);
    let more = stderr
        .lines()
        .find(|l| l.starts_with("… and "))
        .expect("a line counting the rest");
    assert!(more.contains(" more errors"), "{more}");
    assert!(more.ends_with(&format!(" in {}", file.display())), "{more}");
    // The shown line is a window with the label under the right text.
    assert!(
        stderr.contains('…'),
        "{}",
        &stderr[..stderr.len().min(3000)]
    );
    // JSON keeps every diagnostic.
    let json = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["check", "--format", "json"])
        .arg(&file)
        .output()
        .expect("flowc runs");
    let lines = String::from_utf8_lossy(&json.stdout).lines().count();
    assert!(lines > 1000, "{lines} JSON diagnostics");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The nesting limit counts brackets in code only, as the REPL's completeness
/// check always did: brackets in strings and comments used to count.
#[test]
fn brackets_in_strings_and_comments_do_not_count_as_nesting() {
    let src = format!(
        "const X = \"{}\"\nconst Y = \"a {{\"b\"}} c\" // {}\n",
        "(".repeat(300),
        "[".repeat(300)
    );
    let checked = check_source("quoted.flow", &src, &NoFiles);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
}

/// Mismatched brackets in a statement keep the damage to that statement: the
/// rest of the flow is still read (not "this flow could not be read").
#[test]
fn mismatched_brackets_stay_in_their_statement() {
    let src = "flow main() -> int {\n    let a = [1, (2]\n    let q = { a: (1 }\n    let b = 2\n    b\n}\n";
    let checked = check_source("t.flow", src, &NoFiles);
    let lines: Vec<(&str, usize)> = checked
        .diagnostics
        .iter()
        .map(|d| {
            let at = d.primary_span().start as usize;
            (d.code, src[..at].matches('\n').count() + 1)
        })
        .collect();
    assert_eq!(
        lines,
        [("E0101", 2), ("E0101", 3)],
        "{:?}",
        checked.diagnostics
    );
}
