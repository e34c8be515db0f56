//! Diagnostics: the data type, the catalog of codes, and renderers.
//!
//! The core produces [`Diagnostic`] values; only the edges (CLI, REPL) render them.

pub mod catalog;
pub mod render;

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One finding, with a stable code, its primary label first.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Primary label first; it may have an empty message.
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: vec![Label {
                span,
                message: String::new(),
            }],
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    /// Sets the message of the primary label.
    pub fn with_label(mut self, message: impl Into<String>) -> Diagnostic {
        self.labels[0].message = message.into();
        self
    }

    /// Adds a secondary label.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn primary_span(&self) -> Span {
        self.labels[0].span
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// How similar a candidate must be (Jaro-Winkler, 0 to 1) to be suggested.
///
/// Jaro-Winkler is relative to the names' lengths and weighs a shared prefix,
/// which is how identifiers are mistyped (`lenght`, `retries` for `retry`,
/// `timeout` for `timeout_per_step`); unrelated short names score low (`c`
/// and `a` score 0, where an absolute edit distance of 1 called them close).
pub const SIMILARITY_THRESHOLD: f64 = 0.85;

/// The most similar candidate, if it is similar enough to be a likely typo:
/// the one place every did-you-mean (names, fields, flows, options, labels,
/// modules, REPL commands) decides.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (similarity(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= SIMILARITY_THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

/// Jaro-Winkler similarity; dotted names with the same module part
/// (`std.nothing`, `std.triage`) compare their last parts, since a shared
/// prefix is what Jaro-Winkler rewards.
fn similarity(a: &str, b: &str) -> f64 {
    match (a.rsplit_once('.'), b.rsplit_once('.')) {
        (Some((ma, ia)), Some((mb, ib))) if ma == mb => strsim::jaro_winkler(ia, ib),
        _ => strsim::jaro_winkler(a, b),
    }
}

/// "did you mean `x`?" for a help line.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_picks_closest_within_limit() {
        let c = ["ci_id", "name", "cause"];
        assert_eq!(did_you_mean("ci_idd", c), Some("ci_id"));
        assert_eq!(did_you_mean("casue", c), Some("cause"));
        assert_eq!(did_you_mean("zzzzzz", c), None);
        assert_eq!(
            did_you_mean("retries", ["retry", "retry_on", "timeout"]),
            Some("retry")
        );
        assert_eq!(
            did_you_mean("timeout", ["timeout_per_step", "retry"]),
            Some("timeout_per_step")
        );
        assert_eq!(did_you_mean("lenght", ["len", "length"]), Some("length"));
        assert_eq!(did_you_mean("MAIN", ["main", "mian"]), Some("main"));
    }

    #[test]
    fn short_unrelated_names_are_not_suggested() {
        // An edit distance of 1 made any one-letter name "close" to any other.
        assert_eq!(did_you_mean("c", ["a", "b"]), None);
        assert_eq!(did_you_mean("ab", ["ac", "xy"]), None);
        assert_eq!(did_you_mean("max", ["min"]), None);
        assert_eq!(did_you_mean("upper", ["lower"]), None);
        assert_eq!(did_you_mean("std.nothing", ["std.ops", "std.triage"]), None);
        assert_eq!(
            did_you_mean("std.opps", ["std.ops", "std.triage"]),
            Some("std.ops")
        );
    }
}
