//! Tool bindings (SPEC §9): `builtin`, `exec` and `http`. Each returns the
//! tool's JSON result or a `tool_error` message; timeouts, retries and the type
//! check at the boundary are the interpreter's.

pub mod builtin;
pub mod exec;
pub mod http;

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
