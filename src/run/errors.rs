//! Runtime errors: the kinds a `catch` sees, with the failing step and its span.

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::source::Sources;
use crate::span::{Span, line_col};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    ToolError,
    Timeout,
    TypeError,
    LlmError,
    PolicyViolation,
    Cancelled,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ToolError => "tool_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::TypeError => "type_error",
            ErrorKind::LlmError => "llm_error",
            ErrorKind::PolicyViolation => "policy_violation",
            ErrorKind::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ErrorKind> {
        Some(match s {
            "tool_error" => ErrorKind::ToolError,
            "timeout" => ErrorKind::Timeout,
            "type_error" => ErrorKind::TypeError,
            "llm_error" => ErrorKind::LlmError,
            "policy_violation" => ErrorKind::PolicyViolation,
            "cancelled" => ErrorKind::Cancelled,
            _ => return None,
        })
    }
}

/// One failure of a step.
#[derive(Clone, Debug, PartialEq)]
pub struct RunError {
    pub kind: ErrorKind,
    pub message: String,
    /// The step's name: its binding, or its tool.
    pub step: String,
    /// The step's path (`main/out/for[3]/upper`), when it ran in a step.
    pub path: Option<String>,
    pub span: Span,
    pub attempts: u32,
    pub help: Option<String>,
    /// Notes, such as the re-plans tried for it.
    pub notes: Vec<String>,
}

impl RunError {
    pub fn new(
        kind: ErrorKind,
        message: impl Into<String>,
        step: impl Into<String>,
        span: Span,
    ) -> RunError {
        RunError {
            kind,
            message: message.into(),
            step: step.into(),
            path: None,
            span,
            attempts: 1,
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> RunError {
        self.help = Some(help.into());
        self
    }

    /// The error of the step at `path`.
    pub fn at(mut self, path: &crate::ir::StepPath) -> RunError {
        self.path = Some(path.to_string());
        self
    }

    /// The error as a diagnostic, for rendering like a compile error.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let attempts = if self.attempts > 1 {
            format!(" after {} attempts", self.attempts)
        } else {
            String::new()
        };
        let mut d = Diagnostic::error(
            self.kind.as_str(),
            format!(
                "step `{}` failed{attempts}: {}",
                self.path.as_deref().unwrap_or(&self.step),
                self.message
            ),
            self.span,
        )
        .with_label(format!("{} here", self.kind.as_str()));
        if let Some(h) = &self.help {
            d = d.with_help(h.clone());
        }
        for n in &self.notes {
            d = d.with_note(n.clone());
        }
        d
    }

    /// The error as the record and `catch e` show it (without a position).
    pub fn record(&self) -> ErrorRecord {
        ErrorRecord {
            kind: self.kind,
            message: self.message.clone(),
            step: self.step.clone(),
            attempts: self.attempts,
            span: None,
            notes: self.notes.clone(),
        }
    }

    /// [`RunError::record`] with the source position, for the run record.
    pub fn record_at(&self, sources: &Sources) -> ErrorRecord {
        ErrorRecord {
            span: Some(SpanRecord::start_of(self.span, sources)),
            ..self.record()
        }
    }

    /// The value bound by `catch e`.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self.record()).expect("error records serialise")
    }
}

/// An error as the run record and `catch e` show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub kind: ErrorKind,
    pub message: String,
    pub step: String,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<SpanRecord>,
    /// Notes, such as the re-plans tried for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ErrorRecord {
    /// The error of a step dropped before it ended.
    pub fn cancelled(step: &str) -> ErrorRecord {
        ErrorRecord {
            kind: ErrorKind::Cancelled,
            message: "cancelled before it finished".into(),
            step: step.to_string(),
            attempts: 0,
            span: None,
            notes: Vec::new(),
        }
    }
}

/// A source position in a record: file, line and column (1-based), and for
/// steps where they end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord {
    pub file: String,
    pub line: usize,
    pub column: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_column: Option<usize>,
}

impl SpanRecord {
    /// Where `span` starts.
    pub fn start_of(span: Span, sources: &Sources) -> SpanRecord {
        let f = sources.get(span.file);
        let (line, column) = line_col(&f.text, span.start as usize);
        SpanRecord {
            file: f.name.clone(),
            line,
            column,
            end_line: None,
            end_column: None,
        }
    }
}

/// Every error of a failed evaluation (a `parallel` reports all of its branches').
pub type Errors = Vec<RunError>;

pub type R<T> = Result<T, Errors>;
