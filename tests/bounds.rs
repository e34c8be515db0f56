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

/// `flowc ARGS` in `dir` with its address space capped at 4 GB (before the
/// fix, `/dev/zero` was read until the kernel stepped in) and a generous bound
/// on its time (a FIFO with no writer blocked forever): (exit code, stderr).
fn flowc_bounded(dir: &Path, args: &[&str], stdin: Option<&Path>) -> (Option<i32>, String) {
    let (code, _, err) = flowc_within(dir, args, stdin, 60);
    (code, err)
}

/// [`flowc_bounded`] within `secs` seconds: (exit code, stdout, stderr).
/// Stdout goes to a file, so that a large output never blocks the process.
fn flowc_within(
    dir: &Path,
    args: &[&str],
    stdin: Option<&Path>,
    secs: u64,
) -> (Option<i32>, String, String) {
    use std::process::{Command, Stdio};
    let out_path = dir.join("stdout.txt");
    let err_path = dir.join("stderr.txt");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4000000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLOWC_STORE")
        .stdin(match stdin {
            Some(p) => Stdio::from(std::fs::File::open(p).expect("open stdin")),
            None => Stdio::null(),
        })
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("flowc runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
            return (status.code(), read(&out_path), read(&err_path));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`flowc {}` did not end within {secs} s", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn devices_and_fifos_are_refused_by_name() {
    let dir = tempdir("devices");
    mkfifo(&dir.join("pipe"));
    std::fs::write(dir.join("one.flow"), "flow main() -> int { 1 }\n").expect("write");
    std::fs::write(dir.join("arg.flow"), "flow main(a: int) -> int { a }\n").expect("write");
    for target in ["/dev/zero", "pipe"] {
        let what = if target == "pipe" {
            "a FIFO"
        } else {
            "a character device"
        };
        std::fs::write(
            dir.join("imports.flow"),
            format!("import \"{target}\" as z\nflow main() -> int {{ 1 }}\n"),
        )
        .expect("write");
        let cases: [(&[&str], i32, String); 4] = [
            (
                &["check", target],
                2,
                format!("error: cannot read `{target}`: it is {what}, not a regular file"),
            ),
            (
                &["check", "imports.flow"],
                1,
                format!("cannot read `{target}`: it is {what}, not a regular file"),
            ),
            (
                &["run", "--no-store", "arg.flow", "--input", target],
                2,
                format!("error: cannot read `{target}`: it is {what}, not a regular file"),
            ),
            (
                &[
                    "run",
                    "--no-store",
                    "one.flow",
                    "--llm",
                    &format!("replay:{target}"),
                ],
                2,
                format!("cannot read the LLM recording `{target}`: it is {what}"),
            ),
        ];
        for (args, code, message) in cases {
            let (got, err) = flowc_bounded(&dir, args, None);
            assert_eq!(got, Some(code), "flowc {args:?}: {err}");
            assert!(err.contains(&message), "flowc {args:?}: {err}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn files_over_the_limit_are_refused_naming_the_limit() {
    let dir = tempdir("large");
    // Sparse files: their size without the disk space.
    let sparse = |name: &str, len: u64| {
        let f = std::fs::File::create(dir.join(name)).expect("create");
        f.set_len(len).expect("set_len");
    };
    sparse("big.flow", 17 << 20);
    sparse("big.json", 257 << 20);
    std::fs::write(dir.join("one.flow"), "flow main() -> int { 1 }\n").expect("write");
    std::fs::write(dir.join("arg.flow"), "flow main(a: int) -> int { a }\n").expect("write");
    std::fs::write(
        dir.join("imports.flow"),
        "import \"big.flow\" as big\nflow main() -> int { 1 }\n",
    )
    .expect("write");
    let cases: [(&[&str], &str); 4] = [
        (
            &["check", "big.flow"],
            "cannot read `big.flow`: it is 17 MiB, over the 16 MiB limit for source files",
        ),
        (
            &["check", "imports.flow"],
            "cannot read `big.flow`: it is 17 MiB, over the 16 MiB limit for source files",
        ),
        (
            &["run", "--no-store", "arg.flow", "--input", "big.json"],
            "cannot read `big.json`: it is 257 MiB, over the 256 MiB limit for `--input` files",
        ),
        (
            &["run", "--no-store", "one.flow", "--llm", "replay:big.json"],
            "cannot read the LLM recording `big.json`: it is 257 MiB, over the 256 MiB limit for LLM recordings",
        ),
    ];
    for (args, message) in cases {
        let (code, err) = flowc_bounded(&dir, args, None);
        assert!(
            matches!(code, Some(1 | 2)),
            "flowc {args:?}: {code:?} {err}"
        );
        assert!(err.contains(message), "flowc {args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn input_dash_reads_stdin_within_the_limit() {
    let dir = tempdir("stdin");
    std::fs::write(dir.join("arg.flow"), "flow main(a: int) -> int { a }\n").expect("write");
    let out = common::command(&dir, &["run", "--no-store", "arg.flow", "--input", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(b"{\"a\": 5}")?;
            c.wait_with_output()
        })
        .expect("flowc runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "5");
    // An endless stdin stops at the limit.
    let (code, err) = flowc_bounded(
        &dir,
        &["run", "--no-store", "arg.flow", "--input", "-"],
        Some(Path::new("/dev/zero")),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot read `-`: more than 256 MiB came, the limit for `--input`"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `flowc graph` of a flow of 50,000 `let`s and `flowc check` of 100,000 flows
/// end well within the bound (they were quadratic: each node's line counted
/// from the start of the file, each flow's declaration looked for among all
/// items; at 10,000 and 20,000 already 13 s and 10 s in a debug build). The
/// bound is generous, for loaded machines; the times are in docs/performance.md.
#[test]
fn large_programs_graph_and_check_in_linear_time() {
    let dir = tempdir("large-programs");
    let n = 50_000;
    let mut src = String::from("flow main() -> int {\n    let v0 = 1\n");
    for i in 1..n {
        src.push_str(&format!("    let v{i} = v{} + 1\n", i - 1));
    }
    src.push_str(&format!("    v{}\n}}\n", n - 1));
    std::fs::write(dir.join("lets.flow"), src).expect("write");
    let (code, out, err) =
        flowc_within(&dir, &["graph", "lets.flow", "--format", "json"], None, 300);
    assert_eq!(code, Some(0), "{err}");
    let g: serde_json::Value = serde_json::from_str(&out).expect("graph JSON");
    assert_eq!(g["body"]["nodes"].as_array().map(Vec::len), Some(n + 1));

    let n = 100_000;
    let mut src = String::from("flow main() -> int { f0() }\n");
    for i in 0..n {
        src.push_str(&format!("flow f{i}() -> int {{ {i} }}\n"));
    }
    std::fs::write(dir.join("flows.flow"), src).expect("write");
    let (code, _, err) = flowc_within(&dir, &["check", "flows.flow"], None, 300);
    assert_eq!(code, Some(0), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
