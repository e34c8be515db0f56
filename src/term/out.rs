//! Everything flowc prints on stdout goes through here. A closed stdout (a
//! reader such as `head -1` that has had enough: EPIPE) is not an error to
//! report: writing stops quietly, the command finishes its other work (a run
//! still writes its record), and the exit status is 141, what a shell reports
//! for a writer ended by SIGPIPE, unless the command failed for another reason.
//! Any other write error is reported once on stderr and fails the command.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// The exit status of a command whose stdout was closed early: 128 + SIGPIPE.
pub const CLOSED: u8 = 141;

const OPEN: u8 = 0;
const BROKEN_PIPE: u8 = 1;
const FAILED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(OPEN);

/// Writes `text` to stdout and flushes it; nothing once stdout is closed.
pub fn print(text: &str) {
    if STATE.load(Ordering::SeqCst) != OPEN {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STATE.store(BROKEN_PIPE, Ordering::SeqCst);
        } else {
            STATE.store(FAILED, Ordering::SeqCst);
            let _ = writeln!(std::io::stderr(), "error: cannot write to stdout: {e}");
        }
    }
}

/// Writes `text` and a newline.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// Whether stdout can no longer be written (closed, or failing).
pub fn closed() -> bool {
    STATE.load(Ordering::SeqCst) != OPEN
}

/// The exit status of a command that returned `code`: a closed stdout turns a
/// success into [`CLOSED`], a failing one into 1.
pub fn exit_code(code: u8) -> u8 {
    match (code, STATE.load(Ordering::SeqCst)) {
        (0, BROKEN_PIPE) => CLOSED,
        (0, FAILED) => 1,
        (code, _) => code,
    }
}
