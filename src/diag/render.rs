//! Rendering diagnostics: ariadne for terminals, JSON lines for tools.

use ariadne::{Color, Config, IndexType, Label, Report, ReportKind};
use serde::Serialize;

use super::{Diagnostic, Severity};
use crate::source::Sources;
use crate::span::line_col;

/// Renders one diagnostic the way a terminal shows it.
pub fn render(d: &Diagnostic, sources: &Sources, color: bool) -> String {
    let primary = d.primary_span();
    let name = |s: crate::span::Span| sources.get(s.file).name.clone();
    let kind = match d.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let label_color = match d.severity {
        Severity::Error => Color::Red,
        Severity::Warning => Color::Yellow,
    };
    let mut report = Report::build(kind, (name(primary), primary.range()))
        .with_config(
            Config::default()
                .with_index_type(IndexType::Byte)
                .with_color(color),
        )
        .with_code(d.code)
        .with_message(&d.message);
    for (i, l) in d.labels.iter().enumerate() {
        let mut label = Label::new((name(l.span), l.span.range()));
        if !l.message.is_empty() {
            label = label.with_message(&l.message);
        }
        if color {
            label = label.with_color(if i == 0 { label_color } else { Color::Blue });
        }
        report = report.with_label(label.with_order(i as i32));
    }
    for n in &d.notes {
        report = report.with_note(n);
    }
    if let Some(h) = &d.help {
        report = report.with_help(h);
    }
    let cache = ariadne::sources(
        sources
            .iter()
            .map(|(_, f)| (f.name.clone(), f.text.clone())),
    );
    let mut out = Vec::new();
    report
        .finish()
        .write(cache, &mut out)
        .expect("writing a report to memory cannot fail");
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: &'a str,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    labels: Vec<JsonLabel<'a>>,
    notes: &'a [String],
    help: Option<&'a str>,
}

/// One JSON object (one line) for a diagnostic; lines and columns are 1-based.
pub fn to_json(d: &Diagnostic, sources: &Sources) -> String {
    let labels: Vec<JsonLabel> = d
        .labels
        .iter()
        .map(|l| {
            let f = sources.get(l.span.file);
            let (line, column) = line_col(&f.text, l.span.start as usize);
            let (end_line, end_column) = line_col(&f.text, l.span.end as usize);
            JsonLabel {
                file: &f.name,
                line,
                column,
                end_line,
                end_column,
                message: &l.message,
            }
        })
        .collect();
    let p = &labels[0];
    let j = JsonDiagnostic {
        code: d.code,
        severity: d.severity.as_str(),
        message: &d.message,
        file: p.file,
        line: p.line,
        column: p.column,
        end_line: p.end_line,
        end_column: p.end_column,
        notes: &d.notes,
        help: d.help.as_deref(),
        labels,
    };
    serde_json::to_string(&j).expect("diagnostics serialise")
}
