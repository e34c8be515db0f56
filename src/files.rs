//! Reading the files flowc is given — sources, imports, `flowc.toml`,
//! `--input`, LLM recordings: regular files only (a FIFO or a device such as
//! `/dev/zero` is refused before anything is read from it), and at most a
//! limit in size, so that no input makes a read without end.

use std::io::Read;
use std::path::Path;

/// The largest source file (a `.flow` file, an import, `flowc.toml`).
pub const SOURCE_LIMIT: u64 = 16 << 20;
/// The largest data file: `flowc run --input`, an LLM recording (`replay:`).
pub const DATA_LIMIT: u64 = 256 << 20;

/// The text of the regular file at `path`, at most `limit` bytes; `kind` names
/// the files the limit is for ("source files"). The error says why, without
/// the path: callers write "cannot read `PATH`: …".
pub fn read_text(path: &Path, limit: u64, kind: &str) -> Result<String, String> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking: opening a FIFO with no writer would wait for one.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(format!(
            "it is {}, not a regular file; flowc reads {kind} only from regular files",
            what_it_is(&meta.file_type())
        ));
    }
    if meta.len() > limit {
        return Err(too_large(meta.len(), limit, kind));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        // It grew while being read.
        return Err(too_large(bytes.len() as u64, limit, kind));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "it is not UTF-8 text (an invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// A source file's text, or "cannot read `PATH`: why".
pub fn read_source(path: &str) -> Result<String, String> {
    read_text(Path::new(path), SOURCE_LIMIT, "source files")
        .map_err(|e| format!("cannot read `{path}`: {e}"))
}

/// Standard input as text, at most `limit` bytes (`kind` as for [`read_text`]).
pub fn read_stdin(limit: u64, kind: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "more than {} came, the limit for {kind}",
            size(limit)
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "it is not UTF-8 text (an invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn too_large(len: u64, limit: u64, kind: &str) -> String {
    format!(
        "it is {}, over the {} limit for {kind}",
        size(len),
        size(limit)
    )
}

fn what_it_is(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Bytes in words: `16 MiB`, `23.7 MiB`, `512 KiB`, `100 bytes`.
pub fn size(n: u64) -> String {
    let units = [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in units {
        if n >= unit {
            let whole = n / unit;
            let tenths = (n % unit) * 10 / unit;
            return if tenths == 0 {
                format!("{whole} {name}")
            } else {
                format!("{whole}.{tenths} {name}")
            };
        }
    }
    format!("{n} bytes")
}

/// The `.flow` files under `dir`, recursively, sorted by path; hidden folders
/// (`.git`) and `target/` are skipped.
pub fn flow_files_in(dir: &std::path::Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<std::path::PathBuf> = rd.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" {
                flow_files_in(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "flow") {
            out.push(p.to_string_lossy().into_owned());
        }
    }
}
