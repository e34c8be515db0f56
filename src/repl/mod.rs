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

use crate::cli::{FAILED, OK, USAGE, color_stderr};

/// The exit status of a scripted session ended by Ctrl-C (128 + SIGINT, as shells do).
const INTERRUPTED: u8 = 130;

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
pub fn main(file: Option<String>, llm: Option<String>) -> u8 {
    let interactive = std::io::stdin().is_terminal();
    if let Some(spec) = &llm
        && let Err(e) = session::llm_provider(spec)
    {
        eprintln!("error: {e}");
        return USAGE;
    }
    let mut session = Session::new(file, interactive, interactive && color_stderr());
    session.llm = llm;
    if !interactive {
        watch_interrupts();
    }
    if !session.load_initial() {
        return USAGE;
    }
    if interactive {
        terminal(session)
    } else {
        piped(session)
    }
}

/// A scripted session ends on Ctrl-C: a running step is cancelled first (its
/// child processes killed); between steps the process exits at once.
fn watch_interrupts() {
    let (ready, listening) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("sigint".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let sigint = signal(SignalKind::interrupt());
                let _ = ready.send(());
                let Ok(mut sigint) = sigint else { return };
                while sigint.recv().await.is_some() {
                    if !session::RUNNING.load(std::sync::atomic::Ordering::SeqCst) {
                        std::process::exit(INTERRUPTED.into());
                    }
                }
            });
        });
    match spawned {
        // Inputs are read once the watcher listens.
        Ok(_) => {
            let _ = listening.recv_timeout(std::time::Duration::from_secs(5));
        }
        Err(e) => eprintln!("warning: Ctrl-C will not end this session: {e}"),
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
            if session.handle(&text) == Next::Quit {
                buf.clear();
                break;
            }
        }
    }
    // An input still open at the end is checked as it is, to report what is missing.
    if !buf.trim().is_empty() {
        session.handle(&buf);
    }
    if session.interrupted {
        INTERRUPTED
    } else if session.failed {
        FAILED
    } else {
        OK
    }
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
    println!("flowc repl: :help for help, Tab completes, Ctrl-D leaves");
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
    OK
}
