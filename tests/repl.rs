//! `flowc repl` end to end: golden transcripts through piped stdin
//! (`tests/repl/*.in`, expected output in `*.out`, `BLESS=1 cargo test`
//! rewrites them), and a session in a real terminal driven by tmux: the
//! prompt, a multi-line block, tab completion, Ctrl-C of a running tool (its
//! process must be gone), history and Ctrl-D.
//!
//! Each transcript runs in a fresh folder holding `tests/repl/files/` and the
//! tool scripts written below. A first line `// repl: ARGS` passes arguments.
//! The output is stdout and stderr as they interleave, then `[exit N]`.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Tmux;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh folder for one test.
fn tempdir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("flowc-repl-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for e in std::fs::read_dir(from).expect("read folder").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy file");
        }
    }
}

/// Upper-cases `text`; fails with status 3 on an empty text.
const SHOUT_PY: &str = r#"import json, sys
args = json.load(sys.stdin)
if args["text"] == "":
    print("nothing to shout", file=sys.stderr)
    sys.exit(3)
print(json.dumps({"text": args["text"].upper() + "!"}))
"#;

/// Counts words and names the folder it runs in.
const COUNT_PY: &str = r#"import json, os, sys
args = json.load(sys.stdin)
print(json.dumps({"words": len(args["text"].split()), "folder": os.path.basename(os.getcwd())}))
"#;

fn setup(dir: &Path) {
    copy_tree(&root().join("tests/repl/files"), dir);
    for (path, text) in [
        ("tools/shout.py", SHOUT_PY),
        ("app/tools/count.py", COUNT_PY),
    ] {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("a folder")).expect("create folder");
        std::fs::write(p, text).expect("write script");
    }
}

/// Runs one transcript; returns its output.
fn transcript(input: &Path) -> String {
    let tag = input
        .file_stem()
        .expect("a name")
        .to_string_lossy()
        .into_owned();
    let dir = tempdir(&tag);
    setup(&dir);
    let text = std::fs::read_to_string(input).expect("read input");
    let args: Vec<String> = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("// repl:"))
        .map(|a| a.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let out_path = dir.join("transcript.txt");
    let out = File::create(&out_path).expect("create transcript");
    let err = out.try_clone().expect("share the transcript");
    let history = dir.join("history");
    let status = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("repl")
        .args(&args)
        .current_dir(&dir)
        .stdin(File::open(input).expect("open input"))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .env("NO_COLOR", "1")
        .env("FLOWC_HISTORY", &history)
        .status()
        .expect("flowc runs");
    assert!(
        !history.exists(),
        "{tag}: a piped session must not write history"
    );
    let mut got = std::fs::read_to_string(&out_path).expect("read transcript");
    got = got.replace(&dir.to_string_lossy().into_owned(), "$DIR");
    got.push_str(&format!("[exit {}]\n", status.code().unwrap_or(-1)));
    let _ = std::fs::remove_dir_all(&dir);
    got
}

#[test]
fn golden_transcripts() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(root().join("tests/repl"))
        .expect("tests/repl exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "in"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 7, "transcripts are missing: {inputs:?}");
    let mut failures = Vec::new();
    for input in &inputs {
        let got = transcript(input);
        let expect_path = input.with_extension("out");
        if bless {
            std::fs::write(&expect_path, &got).expect("write .out");
            continue;
        }
        let expected = std::fs::read_to_string(&expect_path).unwrap_or_default();
        if expected != got {
            failures.push(format!(
                "{}: output differs\n--- expected\n{expected}\n--- actual\n{got}",
                input.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} transcript(s) differ (BLESS=1 to update):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Each transcript shows what it is for; these guard the expectations themselves.
#[test]
fn transcripts_cover_the_issue() {
    let read =
        |n: &str| std::fs::read_to_string(root().join("tests/repl").join(n)).unwrap_or_default();
    let values = read("values.out");
    assert!(values.contains("3 : int"), "{values}");
    assert!(values.contains("label : string = \"db\""), "{values}");
    assert!(
        values.contains("a : int = 1\nb : int = 2\n3 : int"),
        "{values}"
    );
    let declarations = read("declarations.out");
    assert!(declarations.contains("(redefined)"), "{declarations}");
    let errors = read("errors.out");
    assert!(
        errors.contains("[E0201] Error: unknown name `y`"),
        "{errors}"
    );
    assert!(errors.contains("╭─[ <input 3>:1:1 ]"), "{errors}");
    assert!(errors.contains("╭─[ <input 4>:1:12 ]"), "{errors}");
    assert!(errors.contains("\"still here: 5\" : string"), "{errors}");
    assert!(errors.ends_with("5 : int\n[exit 1]\n"), "{errors}");
    let exec = read("exec.out");
    assert!(exec.contains("\"text\": \"HELLO!\""), "{exec}");
    assert!(exec.contains("nothing to shout"), "{exec}");
    let file_arg = read("file_arg.out");
    assert!(file_arg.contains("\"folder\": \"app\""), "{file_arg}");
    let multiline = read("multiline.out");
    assert!(multiline.contains("42 : int"), "{multiline}");
    // The one error: the input that a blank line ended too early.
    assert_eq!(multiline.matches("Error:").count(), 1, "{multiline}");
    assert!(
        multiline.contains("let unfinished =\n   │                 ┬"),
        "{multiline}"
    );
}

/// Waits for a child with a time limit; kills it and panics past the limit.
fn wait_child(child: &mut std::process::Child, what: &str) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for flowc") {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("{what}: flowc did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &std::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("send SIGINT");
}

#[test]
fn ctrl_c_ends_a_scripted_session_and_kills_the_running_tool() {
    use std::io::{Read, Write};
    let dir = tempdir("sigint-running");
    let seconds = format!("901.{}", std::process::id());
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("repl")
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc starts");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(
        stdin,
        "tool snooze(x: int) -> json = exec [\"sleep\", \"{seconds}\"]\nsnooze(x: 1)\n\"not reached\""
    )
    .expect("write inputs");
    drop(stdin);
    wait_until("the `sleep` process", || {
        !processes(&["sleep", &seconds]).is_empty()
    });
    interrupt(&child);
    let code = wait_child(&mut child, "after Ctrl-C");
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    assert_eq!(code, 130, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("error: cancelled"), "{err}");
    assert!(!out.contains("not reached"), "{out}");
    wait_until("the `sleep` process to be killed", || {
        processes(&["sleep", &seconds]).is_empty()
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_between_inputs_ends_a_scripted_session() {
    use std::io::{BufRead, BufReader, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("repl")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowc starts");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "1 + 1").expect("write an input");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the result");
    assert_eq!(line, "2 : int\n");
    // Now it waits for the next line (stdin stays open).
    interrupt(&child);
    assert_eq!(wait_child(&mut child, "idle Ctrl-C"), 130);
    drop(stdin);
}

// ---------------------------------------------------------------- tmux

/// Processes whose command line is exactly `argv`.
fn processes(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                    let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                    (cmdline == want).then_some(pid)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn wait_until(what: &str, ok: impl Fn() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn terminal_session_in_tmux() {
    let dir = tempdir("tmux");
    let history = dir.join("history");
    let command = format!(
        "env TERM=xterm NO_COLOR=1 FLOWC_HISTORY='{}' '{}' repl",
        history.display(),
        env!("CARGO_BIN_EXE_flowc")
    );
    let Some(tmux) = Tmux::start("repl-session", "repl", (150, 50), &dir, &command) else {
        return;
    };
    let _ = tmux.cmd(&["set-option", "-t", "repl", "remain-on-exit", "on"]);

    // The prompt.
    tmux.wait("the prompt", |s| s.contains("flow> "));

    // A multi-line block: Enter inside open brackets continues the input.
    tmux.type_text("let r = {");
    tmux.keys(&["Enter"]);
    tmux.type_text("a: 1,");
    tmux.keys(&["Enter"]);
    let s = tmux.wait("the second line", |s| s.contains("a: 1,"));
    std::thread::sleep(Duration::from_millis(200));
    let s = format!("{s}{}", tmux.screen());
    assert!(
        !s.contains("r : ") && !s.contains("Error"),
        "submitted too early:\n{s}"
    );
    tmux.type_text("b: [1, 2]");
    tmux.keys(&["Enter"]);
    tmux.type_text("}");
    tmux.keys(&["Enter"]);
    tmux.wait("the block's binding", |s| {
        s.contains(r#"r : { a: int, b: [int] } = {"a":1,"b":[1,2]}"#)
    });

    // A tool that sleeps long, in a process of its own (a unique argument to find it).
    let seconds = format!("900.{}", std::process::id());
    tmux.type_text(&format!(
        r#"tool snooze_tool(x: int) -> json = exec ["sleep", "{seconds}"]"#
    ));
    tmux.keys(&["Enter"]);
    tmux.wait("the tool's declaration", |s| {
        s.contains("tool snooze_tool(x: int) -> json\n")
    });

    // Completion: a name, then a field of a binding, then a command.
    tmux.type_text("snoo");
    tmux.keys(&["Tab"]);
    tmux.wait("the completed name", |s| s.contains("flow> snooze_tool"));
    tmux.type_text("(x: r.");
    tmux.keys(&["Tab", "Tab"]);
    tmux.wait("the fields of `r`", |s| {
        s.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["a", "b"])
    });
    tmux.type_text("a)");
    tmux.keys(&["Enter"]);

    // Ctrl-C cancels the running step and kills its process; the session goes on.
    wait_until("the `sleep` process", || {
        !processes(&["sleep", &seconds]).is_empty()
    });
    tmux.keys(&["C-c"]);
    tmux.wait("the cancellation", |s| s.contains("error: cancelled"));
    wait_until("the `sleep` process to be killed", || {
        processes(&["sleep", &seconds]).is_empty()
    });
    tmux.type_text(":he");
    tmux.keys(&["Tab"]);
    tmux.wait("the completed command", |s| s.contains("flow> :help"));
    tmux.keys(&["Enter"]);
    tmux.wait("the help", |s| {
        s.contains("Ctrl-C cancels the running step")
    });
    tmux.type_text("r.a + 41");
    tmux.keys(&["Enter"]);
    // The next prompt: the line editor is reading again (a key sent earlier
    // reaches the terminal before its raw mode, and Ctrl-D would be lost).
    tmux.wait("a value after the cancellation", |s| {
        s.contains("42 : int\nflow>")
    });

    // Ctrl-D leaves; the history holds what was typed.
    tmux.keys(&["C-d"]);
    wait_until("the REPL to exit", || {
        let out = tmux.cmd(&["display-message", "-p", "-t", "repl", "#{pane_dead}"]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    });
    let h = std::fs::read_to_string(&history).expect("history was saved");
    assert!(h.contains("snooze_tool(x: r.a)"), "history:\n{h}");
    assert!(h.contains("r.a + 41"), "history:\n{h}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_at_the_prompt_ends_a_terminal_session_with_its_history() {
    let dir = tempdir("tmux-term");
    let history = dir.join("history");
    // A shell runs flowc and shows its exit status (tmux does not always
    // know it); flowc is the shell's one child.
    let command = format!(
        "sh -c \"env TERM=xterm NO_COLOR=1 FLOWC_HISTORY='{}' '{}' repl; echo [exit \\$?]\"",
        history.display(),
        env!("CARGO_BIN_EXE_flowc")
    );
    let Some(tmux) = Tmux::start("repl-sigterm", "repl", (120, 30), &dir, &command) else {
        return;
    };
    let _ = tmux.cmd(&["set-option", "-t", "repl", "remain-on-exit", "on"]);
    tmux.wait("the prompt", |s| s.contains("flow> "));
    tmux.type_text("20 + 22");
    tmux.keys(&["Enter"]);
    tmux.wait("the value", |s| s.contains("42 : int"));
    let shell = tmux.cmd(&["display-message", "-p", "-t", "repl", "#{pane_pid}"]);
    let shell = String::from_utf8_lossy(&shell.stdout).trim().to_string();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
        .expect("the shell's children");
    let pid: i32 = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("flowc is not a child of the shell {shell}: {children:?}"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("send SIGTERM");
    let s = tmux.wait("the exit status", |s| s.contains("[exit "));
    assert!(s.contains("[exit 143]"), "the screen:\n{s}");
    assert!(s.contains("ended by SIGTERM"), "the screen:\n{s}");
    let h = std::fs::read_to_string(&history).expect("history was saved");
    assert!(h.contains("20 + 22"), "history:\n{h}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The work of checking one input (expressions checked, `check::exprs_checked`)
/// does not grow with the session: each statement is checked alone in the
/// session's scope, against the declarations as they were checked — not the
/// declarations again, not the inputs before it.
#[test]
fn the_work_of_checking_an_input_does_not_grow_with_the_session() {
    use flowc::repl::Session;
    let mut session = Session::new(None, false, false);
    let flows = |from: usize, to: usize| -> String {
        (from..to)
            .map(|k| format!("flow f{k}(n: int) -> int {{ let a = n + {k}\n    a * 2 - n }}\n"))
            .collect()
    };
    session.handle(&flows(0, 10));
    let mut work = Vec::new();
    let mut input = |session: &mut Session, text: String| {
        let before = flowc::check::exprs_checked();
        session.handle(&text);
        work.push(flowc::check::exprs_checked() - before);
    };
    input(&mut session, "let v0 = f1(n: 0)".to_string());
    for k in 1..40 {
        input(&mut session, format!("let v{k} = f1(n: v{})", k - 1));
    }
    // Thirty more flows: the next statements check no more than before.
    session.handle(&flows(10, 40));
    for k in 40..80 {
        input(&mut session, format!("let v{k} = f1(n: v{})", k - 1));
    }
    assert!(!session.failed, "an input failed");
    assert_eq!(session.bindings.len(), 80);
    let first = work[1];
    assert!(first > 0, "{work:?}");
    eprintln!("expressions checked per input: {first}");
    assert!(
        work[1..].iter().all(|w| *w == first),
        "expressions checked per input: {work:?}"
    );
}
