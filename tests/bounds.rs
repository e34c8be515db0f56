//! Bounded work on any input: flow-call and import chains past the depth
//! limit are E0405 (they exhausted the stack: exit 134), and every file flowc
//! reads is a regular file of bounded size (`/dev/zero` was read without end).

use std::path::Path;

mod common;
use common::{flowc, tempdir, text};

/// `main` → `f0` → … → `f{n}`: n + 2 flows, with or without result types.
fn call_chain(n: usize, typed: bool) -> String {
    let ret = if typed { " -> int" } else { "" };
    let mut src = format!("flow main(){ret} {{ f0() }}\n");
    for i in 0..n {
        src.push_str(&format!("flow f{i}(){ret} {{ f{}() }}\n", i + 1));
    }
    src.push_str(&format!("flow f{n}(){ret} {{ 1 }}\n"));
    src
}

/// `main.flow` imports `m0.flow`, which imports `m1.flow` … `m{n-1}.flow`:
/// n + 1 files nested.
fn import_chain(dir: &Path, n: usize) {
    std::fs::write(
        dir.join("main.flow"),
        "import \"m0.flow\"\nflow main() -> int { m0.g() }\n",
    )
    .expect("write main.flow");
    for i in 0..n {
        let import = if i + 1 < n {
            format!("import \"m{}.flow\"\n", i + 1)
        } else {
            String::new()
        };
        std::fs::write(
            dir.join(format!("m{i}.flow")),
            format!("{import}flow g() -> int {{ 1 }}\n"),
        )
        .expect("write a module");
    }
}

#[test]
fn flow_call_chains_past_the_limit_are_e0405_not_an_abort() {
    let dir = tempdir("call-chain");
    for typed in [true, false] {
        std::fs::write(dir.join("main.flow"), call_chain(20_000, typed)).expect("write");
        let out = flowc(&dir, &["check", "main.flow"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("[E0405] Error: flow calls nested deeper than 1,000"),
            "{err}"
        );
        assert!(err.contains("this chain is 20,002 flows deep"), "{err}");
        // The label is at the call that makes the 1,001st level: in `f998`.
        assert!(err.contains("flow f998()"), "{err}");
        let out = flowc(&dir, &["run", "--no-store", "main.flow"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("E0405"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flow_call_chains_at_the_limit_check_and_run() {
    let dir = tempdir("call-chain-ok");
    // 1,000 flows nested: `main`, `f0` … `f998`.
    std::fs::write(dir.join("main.flow"), call_chain(998, false)).expect("write");
    let out = flowc(&dir, &["run", "--no-store", "main.flow"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "1");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_chains_past_the_limit_are_e0405() {
    let dir = tempdir("import-chain");
    import_chain(&dir, 5_000);
    let out = flowc(&dir, &["check", "main.flow"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0405] Error: imports nested deeper than 1,000: `main.flow` → `m0.flow` → … → `m998.flow` → `m999.flow`"),
        "{err}"
    );
    // At the import in the 1,000th file.
    assert!(err.contains("m998.flow:1:1"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);

    // 1,000 files nested is within the limit.
    let dir = tempdir("import-chain-ok");
    import_chain(&dir, 999);
    let out = flowc(&dir, &["run", "--no-store", "main.flow"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "1");
    let _ = std::fs::remove_dir_all(&dir);
}
