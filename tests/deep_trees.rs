//! No syntax tree deeper than the limit reaches the checker: long operator
//! chains, `.field` and `[index]` chains and `else if` chains stop at the
//! parser with E0105 (they used to overflow the stack).

use std::io::Write;
use std::process::{Command, Stdio};

use flowc::check::NoFiles;
use flowc::driver::check_source;

/// The chain is reported once, by the parser, and nothing else cascades from
/// it (its statement is checked as an error statement).
fn assert_e0105(src: &str) {
    let errors: Vec<&str> = codes_of(src)
        .into_iter()
        .filter(|c| c.starts_with('E'))
        .collect();
    assert_eq!(errors, ["E0105"]);
}

/// Checks on a thread with a large stack, as the `flowc` binary does: trees up
/// to the depth limit are recursed over.
fn codes_of(src: &str) -> Vec<&'static str> {
    let src = src.to_string();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let checked = check_source("long.flow", &src, &NoFiles);
            checked.diagnostics.iter().map(|d| d.code).collect()
        })
        .expect("spawn")
        .join()
        .expect("no panic")
}

/// Chains that used to build a tree as deep as they are long (and overflow the
/// stack converting, checking or dropping it) stop at the parser.
#[test]
fn long_chains_are_rejected_before_the_tree_is_built() {
    let sum = format!("flow main() -> int {{ 1{} }}\n", " + 1".repeat(300_000));
    assert_e0105(&sum);
    let coalesce = format!(
        "flow main(a: int?) -> int {{ a{} ?? 1 }}\n",
        " ?? a".repeat(35_000)
    );
    assert_e0105(&coalesce);
    let nots = format!("flow main() -> bool {{ {}true }}\n", "!".repeat(100_000));
    assert_e0105(&nots);
    let fields = format!(
        "flow main(a: json) -> json {{ a{} }}\n",
        ".b".repeat(100_000)
    );
    assert_e0105(&fields);
    let index = format!(
        "flow main(a: json) -> json {{ (a){} }}\n",
        "[0]".repeat(100_000)
    );
    assert_e0105(&index);
    let elifs = format!(
        "flow main(c: bool) -> int {{ if c {{ 1 }}{} else {{ 3 }} }}\n",
        " else if c { 2 }".repeat(5_000)
    );
    assert_e0105(&elifs);
}

#[test]
fn chains_under_the_limit_still_check() {
    let sum = format!("flow main() -> int {{ 1{} }}\n", " + 1".repeat(900));
    assert!(codes_of(&sum).is_empty(), "{:?}", codes_of(&sum));
}

#[test]
fn the_repl_rejects_a_long_chain_too() {
    let input = format!("1{}\n:quit\n", " + 1".repeat(300_000));
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("repl")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write input");
    let out = child.wait_with_output().expect("flowc finishes");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("E0105"), "{}", &all[..all.len().min(2000)]);
}
