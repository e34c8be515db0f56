//! Presenting to a terminal, shared by `flowc` commands and `flowc repl`:
//! exit codes, colour, stdout that may close early ([`out`]), and the live
//! step view ([`view`]).

pub mod out;
pub mod view;

use std::io::IsTerminal;

/// Exit codes (docs/language.md, "The command line").
pub const OK: u8 = 0;
pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
/// The run paused at an `approve` (docs/store.md): `flowc approve`, then `flowc resume`.
pub const PAUSED: u8 = 3;

/// Whether to colour stderr: a terminal, and `NO_COLOR` unset.
pub fn color_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
