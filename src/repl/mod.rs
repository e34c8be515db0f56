//! `flowc repl [FILE]`: an interactive session on the same driver as `check`
//! and `run`. Declarations and `let`s accumulate; each input is checked with
//! everything before it and run by the interpreter (see [`session`]).
//!
//! In a terminal it edits lines with rustyline (history, completion,
//! multi-line input); with stdin piped it reads inputs line by line, joins
//! multi-line ones the same way, and prints no prompts and no colours.

mod helper;
mod input;
pub mod session;
mod text;

use std::io::{BufRead, IsTerminal};

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};

pub use helper::Names;
pub use session::{Next, Session};

use crate::driver::project::LlmArgs;
use crate::driver::signals::{Interrupt, Signals};
use crate::term::{FAILED, OK, USAGE, color_stderr, out};

/// The prompt; continuation lines of a multi-line input are edited below it.
const PROMPT: &str = "flow> ";

/// Where history is kept: `FLOWC_HISTORY`, else `~/.flowc_history`; none if
/// `FLOWC_HISTORY` is empty.
pub fn history_path() -> Option<std::path::PathBuf> {
    match std::env::var_os("FLOWC_HISTORY") {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(p.into()),
        None => std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".flowc_history")),
    }
}

/// Runs the REPL; returns the exit code.
/// `llm` chooses who answers LLM decisions, as in `flowc run`: else the
/// `flowc.toml` beside FILE (or in the current folder) or above it.
pub fn main(file: Option<String>, llm: LlmArgs) -> u8 {
    let interactive = std::io::stdin().is_terminal();
    let mut session = Session::new(file, interactive, interactive && color_stderr());
    session.llm = llm;
    // A provider is made for each input that runs; a wrong choice is reported now.
    if let Err(e) = session.llm_provider() {
        eprintln!("error: {e}");
        return USAGE;
    }
    watch_signals(interactive);
    if !session.load_initial() {
        return USAGE;
    }
    if interactive {
        terminal(session)
    } else {
        piped(session)
    }
}

/// SIGTERM and SIGHUP end a session, and so does Ctrl-C (SIGINT) a scripted
/// one (in a terminal, Ctrl-C at the prompt is a key that drops the input).
/// A running step is cancelled first, its child processes killed, and the
/// session then ends (see `Session::run`); between steps the process exits at
/// once, with the terminal's settings put back. History is written after each
/// input, so none is lost. The exit status is 128 + the signal's number.
fn watch_signals(interactive: bool) {
    // The terminal's settings before the line editor changes them.
    let terminal = interactive
        .then(|| nix::sys::termios::tcgetattr(std::io::stdin()).ok())
        .flatten();
    let (ready, listening) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let mut signals = Signals::new(!interactive);
                let _ = ready.send(());
                loop {
                    let signal = signals.recv().await;
                    if !session::RUNNING.load(std::sync::atomic::Ordering::SeqCst) {
                        if let Some(t) = &terminal {
                            let _ = nix::sys::termios::tcsetattr(
                                std::io::stdin(),
                                nix::sys::termios::SetArg::TCSANOW,
                                t,
                            );
                            if signal != Interrupt::Int {
                                eprintln!("\nflowc repl: ended by {}", signal.name());
                            }
                        }
                        std::process::exit(signal.exit_code().into());
                    }
                }
            });
        });
    match spawned {
        // Inputs are read once the watcher listens.
        Ok(_) => {
            let _ = listening.recv_timeout(std::time::Duration::from_secs(5));
        }
        Err(e) => eprintln!("warning: signals will not end this session: {e}"),
    }
}

/// The exit status once the session is over.
fn exit_code(session: &Session) -> u8 {
    match session.interrupted {
        Some(signal) => signal.exit_code(),
        None if session.failed => FAILED,
        None => OK,
    }
}

/// Scripted use: one input per line, multi-line inputs joined; exit 1 if any input failed.
fn piped(mut session: Session) -> u8 {
    let mut buf = String::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if buf.is_empty() && line.trim().is_empty() {
            continue;
        }
        if !buf.is_empty() {
            buf.push('\n');
        }
        buf.push_str(&line);
        if input::is_complete(&buf) {
            let text = std::mem::take(&mut buf);
            // Nobody reads the results any more: stop.
            if session.handle(&text) == Next::Quit || out::closed() {
                buf.clear();
                break;
            }
        }
    }
    // An input still open at the end is checked as it is, to report what is missing.
    if !buf.trim().is_empty() {
        session.handle(&buf);
    }
    exit_code(&session)
}

fn terminal(mut session: Session) -> u8 {
    let config = Config::builder()
        .auto_add_history(true)
        .history_ignore_space(true)
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<helper::ReplHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot edit lines in this terminal: {e}");
            return piped(session);
        }
    };
    editor.set_helper(Some(helper::ReplHelper::new(session.names())));
    let mut history = history_path();
    if let Some(p) = &history {
        // A missing history file is the normal first time.
        let _ = editor.load_history(p);
    }
    out::println("flowc repl: :help for help, Tab completes, Ctrl-D leaves");
    loop {
        match editor.readline(PROMPT) {
            Ok(line) => {
                if let Some(p) = &history
                    && let Err(e) = editor.append_history(p)
                {
                    eprintln!("warning: cannot save history to `{}`: {e}", p.display());
                    history = None;
                }
                if session.handle(&line) == Next::Quit {
                    break;
                }
                if let Some(h) = editor.helper_mut() {
                    h.names = session.names();
                }
            }
            // Ctrl-C while editing drops the input.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: reading input: {e}");
                break;
            }
        }
    }
    // A signal during a step ends a terminal session too.
    session.interrupted.map_or(OK, Interrupt::exit_code)
}
