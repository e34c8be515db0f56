//! Tool bindings (docs/language.md, "Tool bindings"): `builtin`, `exec` and `http`. Each
//! returns the tool's JSON result or a `tool_error` message; timeouts, retries and the type
//! check at the boundary are the interpreter's.

pub mod builtin;
pub mod exec;
pub mod http;
pub mod mcp;
pub mod watch;

/// A failed tool call: the message (and a hint) of its `tool_error`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolFailure {
    pub message: String,
    pub help: Option<String>,
    /// Another attempt cannot succeed (the program cannot be started): not retried.
    pub permanent: bool,
}

impl ToolFailure {
    pub fn new(message: impl Into<String>) -> ToolFailure {
        ToolFailure {
            message: message.into(),
            help: None,
            permanent: false,
        }
    }

    /// Marks a failure that every attempt would repeat.
    pub fn permanent(mut self) -> ToolFailure {
        self.permanent = true;
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> ToolFailure {
        self.help = Some(help.into());
        self
    }
}

pub type ToolResult = Result<serde_json::Value, ToolFailure>;

/// An attempt answered on the spot, without waiting (`StepHost::call_now`).
#[derive(Debug, PartialEq)]
pub enum Now {
    /// The tool's result.
    Done(ToolResult),
    /// The result is the call's input, unchanged (`echo`, `sleep`): the
    /// caller moves it instead of copying it.
    Input,
}

/// What bounds one attempt of a tool call.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of output read at most.
    pub max_output: u64,
    /// When the attempt times out (its caller's timer ends it then); `None`
    /// when the caller has no timer.
    pub ends: Option<tokio::time::Instant>,
}

/// Bytes of a failing tool's stderr kept for its error message: the last 8 KB.
pub const STDERR_TAIL: usize = 8 * 1024;

/// The failure of a tool whose output passed `max_output`.
pub fn too_large(what: &str, limit: u64) -> ToolFailure {
    ToolFailure::new(format!(
        "{what} exceeds max_output ({})",
        crate::run::opts::fmt_size(limit)
    ))
    .with_help(
        "raise it with `with { max_output: … }` on the call or the tool, or `--set max_output=…`",
    )
}

/// Reads `r` to its end into `buf`, keeping at most `limit` bytes: `false`
/// when there is more. What was read stays in `buf` if the future is dropped.
pub async fn read_capped_into<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    limit: u64,
    buf: &mut Vec<u8>,
) -> std::io::Result<bool> {
    use tokio::io::AsyncReadExt;
    let mut chunk = vec![0u8; 8192];
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(true);
        }
        if (buf.len() + n) as u64 > limit {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads `r` to its end into `tail`, keeping only its last `keep` bytes.
/// What was read stays in `tail` if the future is dropped.
pub async fn read_tail_into<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    keep: usize,
    tail: &mut Vec<u8>,
) -> std::io::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut chunk = vec![0u8; 8192];
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        tail.extend_from_slice(&chunk[..n]);
        if tail.len() > keep {
            tail.drain(..tail.len() - keep);
        }
    }
}

/// The last `max` bytes of a text, on a character boundary, trimmed.
pub fn tail(text: &str, max: usize) -> String {
    let t = text.trim_end();
    if t.len() <= max {
        return t.to_string();
    }
    let mut start = t.len() - max;
    while !t.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &t[start..])
}

/// The first `max` characters of a text.
pub fn head(text: &str, max: usize) -> String {
    let t = text.trim();
    if t.chars().count() <= max {
        return t.to_string();
    }
    format!("{}…", t.chars().take(max).collect::<String>())
}
