//! `flowc lsp` end to end with a real client: the pytest-lsp suite of
//! `tests/lsp/test_lsp.py` starts this build's `flowc lsp` and drives it over
//! stdio — diagnostics on open and change (codes, ranges, cleared when fixed),
//! hover, go to definition, completion, rename, symbols, quick fixes — and
//! measures how soon the diagnostics of a 2,000-line file arrive after a change.
//!
//! The client lives in `target/lsp-venv`; this test installs it there first
//! (`tests/lsp/install.sh`, from the pinned `tests/lsp/requirements.txt`; nothing
//! to do when it is there). When it cannot be installed this test fails and
//! says why; it is never skipped.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_language_server_answers_a_real_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The client is installed on first use (from PyPI, pinned; nothing when it is there).
    let installed = Command::new("bash")
        .arg(root.join("tests/lsp/install.sh"))
        .output()
        .expect("bash runs tests/lsp/install.sh");
    assert!(
        installed.status.success(),
        "tests/lsp/install.sh could not install the language server's test client (pytest-lsp from PyPI into target/lsp-venv; needs python3 with venv):\n{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let python = root.join("target/lsp-venv/bin/python");
    assert!(
        python.exists(),
        "the language server's test client (pytest-lsp) is not installed: run `bash tests/lsp/install.sh` \
         (it makes target/lsp-venv from tests/lsp/requirements.txt; needs python3 with venv and PyPI)"
    );
    let timing = std::env::temp_dir().join(format!("flowc-lsp-timing-{}", std::process::id()));
    let out = Command::new(&python)
        .args(["-m", "pytest", "tests/lsp", "-q", "-p", "no:cacheprovider"])
        .current_dir(root)
        .env("FLOWC", env!("CARGO_BIN_EXE_flowc"))
        .env("FLOWC_LSP_TIMING", &timing)
        .output()
        .expect("start pytest in target/lsp-venv");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the pytest-lsp suite failed:\n{text}");
    assert!(
        !text.contains("skipped"),
        "a test of the suite was skipped:\n{text}"
    );
    let figure = std::fs::read_to_string(&timing).expect("the suite writes the measured figure");
    let _ = std::fs::remove_file(&timing);
    // The figure, in the output of `cargo test --test lsp -- --nocapture`.
    println!("{}", figure.trim());
}

/// Neovim (headless, Debian's `neovim`) with `editors/vim` on its runtime path
/// starts `flowc lsp` for a `.flow` buffer and shows its diagnostic.
#[test]
fn neovim_starts_the_server_from_editors_vim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("flowc-lsp-nvim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let file = dir.join("broken.flow");
    std::fs::write(
        &file,
        "flow main() -> int {\n  let count = 1\n  cuont + 1\n}\n",
    )
    .expect("write the flow");
    let out_file = dir.join("diagnostics.txt");
    let out = Command::new("nvim")
        .args(["--headless", "-n", "-i", "NONE", "-u"])
        .arg(root.join("tests/lsp/nvim.lua"))
        .env("FLOWC", env!("CARGO_BIN_EXE_flowc"))
        .env("FLOWC_ROOT", root)
        .env("FLOWC_FILE", &file)
        .env("FLOWC_OUT", &out_file)
        .env("XDG_CONFIG_HOME", &dir)
        .env("XDG_DATA_HOME", &dir)
        .env("XDG_STATE_HOME", &dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("Neovim is needed by this test and could not be started ({e}): `apt-get install -y neovim`")
        });
    let got = std::fs::read_to_string(&out_file).unwrap_or_else(|e| {
        panic!(
            "Neovim wrote no diagnostics ({e}); it said:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut lines: Vec<&str> = got.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "2:7 W0001 unused binding `count`",
            "3:3 E0201 unknown name `cuont`"
        ],
        "Neovim's diagnostics"
    );
}

/// `flowc lsp` over raw stdio: each malformed message (not JSON, a batch, no
/// `jsonrpc`, a float id, bytes that are not UTF-8, frames with no or a bad
/// `Content-Length`) is answered with a JSON-RPC error, and the next request
/// is still served; the session ends normally at `exit`.
#[test]
fn malformed_messages_are_answered_and_the_server_keeps_serving() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::Duration;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        f.extend_from_slice(body);
        f
    }
    fn request(id: i64, method: &str, params: serde_json::Value) -> Vec<u8> {
        frame(
            serde_json::json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
                .to_string()
                .as_bytes(),
        )
    }

    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc lsp starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    // The server's messages, one JSON value each, read on a thread of their own.
    let (rx, reader) = common::lsp::messages(stdout);
    // The messages up to the response to `id`.
    let until = |id: i64| -> Vec<serde_json::Value> {
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(m) => {
                    let done = m["id"] == id && m.get("method").is_none();
                    seen.push(m);
                    if done {
                        return seen;
                    }
                }
                Err(e) => panic!("no answer to request {id} ({e}); the server said: {seen:#?}"),
            }
        }
    };

    stdin
        .write_all(&request(
            1,
            "initialize",
            serde_json::json!({ "capabilities": {} }),
        ))
        .expect("write");
    stdin.flush().expect("flush");
    assert!(until(1).last().expect("an answer")["result"]["capabilities"].is_object());
    stdin
        .write_all(&frame(
            br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
        ))
        .expect("write");

    let malformed: Vec<(&str, Vec<u8>, i64)> = vec![
        ("invalid JSON", frame(b"{not json"), -32700),
        ("an array", frame(b"[1, 2]"), -32600),
        (
            "non-UTF-8",
            frame(b"{\"jsonrpc\": \"2.0\", \"\xff\xfe\": 1}"),
            -32700,
        ),
        (
            "no `jsonrpc`",
            frame(br#"{"id": 7, "method": "shutdown"}"#),
            -32600,
        ),
        (
            "a float id",
            frame(br#"{"jsonrpc": "2.0", "id": 1.5, "method": "shutdown"}"#),
            -32600,
        ),
        (
            "no Content-Length",
            b"Content-Type: application/json\r\n\r\n".to_vec(),
            -32700,
        ),
        (
            "a bad Content-Length",
            b"Content-Length: many\r\n\r\n".to_vec(),
            -32700,
        ),
    ];
    let symbols = serde_json::json!({ "textDocument": { "uri": "file:///tmp/none.flow" } });
    for (n, (what, bytes, code)) in malformed.iter().enumerate() {
        let id = 10 + n as i64;
        stdin.write_all(bytes).expect("write");
        stdin
            .write_all(&request(id, "textDocument/documentSymbol", symbols.clone()))
            .expect("write");
        stdin
            .flush()
            .unwrap_or_else(|e| panic!("after {what}: the server is gone ({e})"));
        let seen = until(id);
        let errors: Vec<&serde_json::Value> = seen
            .iter()
            .filter(|m| m.get("error").is_some() && m["id"] != id)
            .collect();
        assert!(
            errors.iter().any(|e| e["error"]["code"] == *code),
            "{what}: no error {code} answered: {seen:#?}"
        );
    }

    stdin
        .write_all(&request(99, "shutdown", serde_json::Value::Null))
        .expect("write");
    stdin.flush().expect("flush");
    assert!(until(99).last().expect("an answer").get("error").is_none());
    stdin
        .write_all(&frame(br#"{"jsonrpc":"2.0","method":"exit"}"#))
        .expect("write");
    drop(stdin);
    let status = child.wait().expect("flowc lsp ends");
    assert!(status.success(), "{status}");
    reader.join().expect("the reader ends");
}
