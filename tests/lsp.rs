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
