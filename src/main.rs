//! The `flowc` binary: parses arguments and maps results to exit codes.

use std::process::ExitCode;

use clap::Parser;
use flowc::cli::{self, Cli};
use flowc::run::tools::watch;
use flowc::term;

fn main() -> ExitCode {
    // The watcher that kills exec tools' process groups when flowc dies.
    if std::env::args_os().nth(1).is_some_and(|a| a == watch::ARG) {
        return ExitCode::from(watch::serve());
    }
    watch::enable();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                term::USAGE
            } else {
                term::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // Deeply nested programs recurse deeply: run on a thread with a large stack.
    let worker = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || cli::run(cli))
        .expect("spawning the main thread");
    ExitCode::from(worker.join().unwrap_or(term::FAILED))
}
