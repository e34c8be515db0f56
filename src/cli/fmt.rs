//! `flowc fmt [--check] [FILE…]`: files rewritten in their canonical layout,
//! or stdin to stdout; `--check` prints a diff instead and fails when
//! anything would change.

use std::io::Write;

use crate::diag::render;
use crate::fmt::{diff, format_source};
use crate::source::Sources;
use crate::term::{FAILED, OK, USAGE, color_stderr, out};

#[derive(clap::Args, Debug)]
pub struct FmtArgs {
    /// The `.flow` files to format in place; a folder formats every `.flow`
    /// file in it. Without files: stdin to stdout
    pub files: Vec<String>,
    /// Change nothing: print a unified diff of what would change and exit
    /// with status 1 if anything would
    #[arg(long)]
    pub check: bool,
}

/// What happened to one text.
enum Outcome {
    Same,
    Changed(String),
    Failed,
}

pub fn fmt(args: &FmtArgs) -> u8 {
    if args.files.is_empty() {
        return stdin(args.check);
    }
    let stderr = std::io::stderr();
    let mut unreadable = false;
    let mut failed = false;
    let mut changed = 0usize;
    let (files, empty) = super::expand_flow_files(&args.files);
    unreadable |= empty;
    for file in &files {
        let text = match crate::files::read_source(file) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(stderr.lock(), "error: {e}");
                unreadable = true;
                continue;
            }
        };
        match format_one(file, &text) {
            Outcome::Same => {}
            Outcome::Failed => failed = true,
            Outcome::Changed(new) => {
                changed += 1;
                if args.check {
                    out::print(&diff::unified(file, &text, &new));
                } else if let Err(e) = std::fs::write(file, new) {
                    let _ = writeln!(stderr.lock(), "error: cannot write `{file}`: {e}");
                    unreadable = true;
                }
            }
        }
    }
    if args.check && changed > 0 {
        let _ = writeln!(
            stderr.lock(),
            "{changed} file{} not formatted (`flowc fmt` rewrites {})",
            if changed == 1 { " is" } else { "s are" },
            if changed == 1 { "it" } else { "them" }
        );
    }
    if unreadable {
        USAGE
    } else if failed || (args.check && changed > 0) {
        FAILED
    } else {
        OK
    }
}

fn stdin(check: bool) -> u8 {
    let text = match crate::files::read_stdin(crate::files::SOURCE_LIMIT, "source files") {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: cannot read stdin: {e}");
            return USAGE;
        }
    };
    match format_one("<stdin>", &text) {
        Outcome::Failed => FAILED,
        Outcome::Same if !check => {
            out::print(&text);
            OK
        }
        Outcome::Same => OK,
        Outcome::Changed(new) if check => {
            out::print(&diff::unified("<stdin>", &text, &new));
            FAILED
        }
        Outcome::Changed(new) => {
            out::print(&new);
            OK
        }
    }
}

/// Formats one text; a syntax error is reported on stderr.
fn format_one(name: &str, text: &str) -> Outcome {
    match format_source(text) {
        Ok(new) if new == text => Outcome::Same,
        Ok(new) => Outcome::Changed(new),
        Err(diags) => {
            let mut sources = Sources::new();
            sources.add(name, text);
            let _ = write!(
                std::io::stderr().lock(),
                "{}",
                render::render_all(&diags, &sources, color_stderr())
            );
            let _ = writeln!(
                std::io::stderr().lock(),
                "error: `{name}` is not formatted: it does not parse"
            );
            Outcome::Failed
        }
    }
}
