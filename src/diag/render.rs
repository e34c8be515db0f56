//! Rendering diagnostics: ariadne for terminals, JSON lines for tools.

use ariadne::{Color, Config, IndexType, Label, Report, ReportKind};
use serde::Serialize;

use super::{Diagnostic, Severity};
use crate::source::Sources;
use crate::span::line_col;

/// Lines longer than this (in bytes) are shown as a window around the labels.
const LONG_LINE: usize = 160;
/// Bytes kept before the first label and after the last on a cut line.
const WINDOW_MARGIN: usize = 40;
/// Most bytes of a cut line shown.
const WINDOW_MAX: usize = 240;
/// Sources larger than this are shown from a copy of the lines the labels are on.
const LARGE_SOURCE: usize = 64 * 1024;

/// Most diagnostics shown per file by [`render_all`].
pub const MAX_SHOWN_PER_FILE: usize = 50;

/// The part of one source a diagnostic shows: the lines its labels are on
/// (other lines left empty, long ones cut to windows around the labels), and
/// how offsets in the file map into it.
struct Excerpt {
    text: String,
    /// (file offset where a kept piece starts, its end, where it starts in `text`).
    pieces: Vec<(usize, usize, usize)>,
}

impl Excerpt {
    /// `None` when the source is small and has no long line under a label:
    /// then it is shown as it is.
    fn new(src: &str, spans: &[(usize, usize)]) -> Option<Excerpt> {
        let line_start = |o: usize| src[..o].rfind('\n').map_or(0, |i| i + 1);
        let line_end = |o: usize| src[o..].find('\n').map_or(src.len(), |i| o + i);
        let lo = spans.iter().map(|s| s.0).min()?.min(src.len());
        let hi = spans.iter().map(|s| s.1).max()?.min(src.len());
        // The lines labels touch, each with the offsets that matter on it.
        let mut lines: Vec<(usize, usize, Vec<usize>)> = Vec::new();
        for &(s, e) in spans {
            let (s, e) = (s.min(src.len()), e.min(src.len()));
            for o in [s, floor(src, e.saturating_sub(1)).max(s)] {
                let ls = line_start(o);
                match lines.iter_mut().find(|l| l.0 == ls) {
                    Some(l) => l.2.push(o),
                    None => lines.push((ls, line_end(ls), vec![o])),
                }
            }
        }
        let long = lines.iter().any(|l| l.1 - l.0 > LONG_LINE);
        if !long && src.len() <= LARGE_SOURCE {
            return None;
        }
        lines.sort_by_key(|l| l.0);
        let first = line_start(lo);
        let last_end = line_end(hi);
        // Lines before: empty, so line numbers stay right.
        let mut text: String = "\n".repeat(src[..first].bytes().filter(|&b| b == b'\n').count());
        let mut pieces = Vec::new();
        let mut pos = first;
        for (ls, le, points) in lines {
            if ls < pos {
                continue;
            }
            // Lines between labels: kept as empty lines (line numbers stay right).
            text.extend(std::iter::repeat_n(
                '\n',
                src[pos..ls].matches('\n').count(),
            ));
            if le - ls <= LONG_LINE {
                pieces.push((ls, le, text.len()));
                text.push_str(&src[ls..le]);
            } else {
                // Windows around the labels' ends, `…` where text is cut.
                let mut points = points;
                points.sort_unstable();
                let mut windows: Vec<(usize, usize)> = Vec::new();
                for p in points {
                    let ws = floor(src, p.saturating_sub(WINDOW_MARGIN).max(ls));
                    let we = floor(src, (p + WINDOW_MARGIN).min(le));
                    match windows.last_mut() {
                        Some(w) if ws <= w.1 + WINDOW_MARGIN => w.1 = w.1.max(we),
                        _ => windows.push((ws, we)),
                    }
                }
                let mut at = ls;
                for (ws, we) in windows {
                    let we = we.min(floor(src, ws + WINDOW_MAX)).max(ws);
                    if ws > at {
                        text.push('…');
                    }
                    pieces.push((ws, we, text.len()));
                    text.push_str(&src[ws..we]);
                    at = we;
                }
                if at < le {
                    text.push('…');
                }
            }
            pos = le;
        }
        if pos < last_end {
            text.extend(std::iter::repeat_n(
                '\n',
                src[pos..last_end].matches('\n').count(),
            ));
        }
        Some(Excerpt { text, pieces })
    }

    /// Where a file offset is in the excerpt (offsets outside the window are
    /// moved to its nearest end).
    fn map(&self, o: usize) -> usize {
        let i = self.pieces.partition_point(|p| p.0 <= o).saturating_sub(1);
        let (s, e, at) = self.pieces[i];
        at + o.clamp(s, e) - s
    }
}

fn floor(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders diagnostics the way a terminal shows them, at most
/// [`MAX_SHOWN_PER_FILE`] per file, each file's hidden ones counted in a line
/// after them.
pub fn render_all<'d>(
    diags: impl IntoIterator<Item = &'d Diagnostic>,
    sources: &Sources,
    color: bool,
) -> String {
    let mut out = String::new();
    let mut shown: Vec<(crate::span::FileId, usize, usize, usize)> = Vec::new();
    for d in diags {
        let file = d.primary_span().file;
        let i = match shown.iter().position(|s| s.0 == file) {
            Some(i) => i,
            None => {
                shown.push((file, 0, 0, 0));
                shown.len() - 1
            }
        };
        if shown[i].1 < MAX_SHOWN_PER_FILE {
            shown[i].1 += 1;
            out.push_str(&render(d, sources, color));
        } else if d.is_error() {
            shown[i].2 += 1;
        } else {
            shown[i].3 += 1;
        }
    }
    for (file, _, errors, warnings) in shown {
        let plural = |n: usize, w: &str| format!("{n} more {w}{}", if n == 1 { "" } else { "s" });
        let what = match (errors, warnings) {
            (0, 0) => continue,
            (e, 0) => plural(e, "error"),
            (0, w) => plural(w, "warning"),
            (e, w) => format!(
                "{} and {w} more warning{}",
                plural(e, "error"),
                if w == 1 { "" } else { "s" }
            ),
        };
        out.push_str(&format!("… and {what} in {}\n", sources.get(file).name));
    }
    out
}

/// Text as it may reach a terminal: control characters (but newlines and
/// tabs) and bidirectional overrides escaped as `\u{1b}`, so a message that
/// carries a model's or a tool's bytes cannot move the cursor, recolour, set
/// the window title or reorder what is shown.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Renders one diagnostic the way a terminal shows it.
pub fn render(d: &Diagnostic, sources: &Sources, color: bool) -> String {
    let primary = d.primary_span();
    let name = |s: crate::span::Span| sources.get(s.file).name.clone();
    // Each file the labels point into, shown from an excerpt when it is large
    // or a labelled line is long.
    let mut files: Vec<crate::span::FileId> = Vec::new();
    for l in &d.labels {
        if !files.contains(&l.span.file) {
            files.push(l.span.file);
        }
    }
    let excerpts: Vec<Option<Excerpt>> = files
        .iter()
        .map(|&f| {
            let spans: Vec<(usize, usize)> = d
                .labels
                .iter()
                .filter(|l| l.span.file == f)
                .map(|l| (l.span.start as usize, l.span.end as usize))
                .collect();
            Excerpt::new(&sources.get(f).text, &spans)
        })
        .collect();
    let range = |s: crate::span::Span| {
        let r = s.range();
        let k = files
            .iter()
            .position(|&f| f == s.file)
            .expect("a labelled file");
        match &excerpts[k] {
            Some(x) => x.map(r.start)..x.map(r.end).max(x.map(r.start)),
            None => r,
        }
    };
    let kind = match d.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let label_color = match d.severity {
        Severity::Error => Color::Red,
        Severity::Warning => Color::Yellow,
    };
    let mut report = Report::build(kind, (name(primary), range(primary)))
        .with_config(
            Config::default()
                .with_index_type(IndexType::Byte)
                .with_color(color),
        )
        .with_code(d.code)
        .with_message(printable(&d.message));
    for (i, l) in d.labels.iter().enumerate() {
        let mut label = Label::new((name(l.span), range(l.span)));
        if !l.message.is_empty() {
            label = label.with_message(printable(&l.message));
        }
        if color {
            label = label.with_color(if i == 0 { label_color } else { Color::Blue });
        }
        report = report.with_label(label.with_order(i as i32));
    }
    for n in &d.notes {
        report = report.with_note(printable(n));
    }
    if let Some(h) = &d.help {
        report = report.with_help(printable(h));
    }
    let shown: std::collections::HashMap<String, ariadne::Source<String>> = files
        .iter()
        .zip(&excerpts)
        .map(|(&f, x)| {
            let file = sources.get(f);
            let source = match x {
                Some(x) => ariadne::Source::from(x.text.clone()),
                None => ariadne::Source::from(file.text.clone()),
            };
            (file.name.clone(), source)
        })
        .collect();
    let cache = ariadne::FnCache::new(
        (|id: &String| Err(format!("no source `{id}`"))) as fn(&String) -> Result<String, String>,
    )
    .with_sources(shown);
    let mut out = Vec::new();
    report
        .finish()
        .write(cache, &mut out)
        .expect("writing a report to memory cannot fail");
    let mut text = String::from_utf8_lossy(&out).into_owned();
    // The header's column is counted in the excerpt: put the file's back.
    for (k, &f) in files.iter().enumerate() {
        if let Some(x) = &excerpts[k] {
            let file = sources.get(f);
            let at = if f == primary.file {
                primary.start as usize
            } else {
                d.labels
                    .iter()
                    .find(|l| l.span.file == f)
                    .map_or(0, |l| l.span.start as usize)
            };
            let (line, col) = line_col(&file.text, at);
            let (_, xcol) = line_col(&x.text, x.map(at));
            let shown = format!("{}:{line}:{xcol} ", file.name);
            if let Some(p) = text.find(&shown) {
                text.replace_range(p..p + shown.len(), &format!("{}:{line}:{col} ", file.name));
            }
        }
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{FileId, Span};

    fn one(text: &str, start: usize, end: usize) -> String {
        let mut sources = Sources::new();
        let f = sources.add("t.flow", text);
        let d = Diagnostic::error("E0101", "m", Span::new(f, start, end)).with_label("here");
        assert_eq!(f, FileId(0));
        render(&d, &sources, false)
    }

    #[test]
    fn a_long_line_is_cut_around_the_label_which_still_points_right() {
        let text = format!("{}TARGET{}\n", "a ".repeat(500), " b".repeat(500));
        let at = text.find("TARGET").expect("target");
        let out = one(&text, at, at + 6);
        assert!(out.len() < 1000, "{out}");
        assert!(out.contains(&format!("t.flow:1:{}", at + 1)), "{out}");
        let line = out
            .lines()
            .find(|l| l.contains("TARGET"))
            .expect("the line");
        let under = out
            .lines()
            .find(|l| l.contains('┬'))
            .expect("the label line");
        let col = |s: &str, pat: &str| s[..s.find(pat).expect("found")].chars().count();
        assert_eq!(col(line, "TARGET"), col(under, "─"), "{out}");
        assert!(line.contains('…'), "{out}");
    }

    #[test]
    fn multibyte_text_at_the_cuts_is_fine() {
        let text = format!("{}\n", "é".repeat(400));
        let out = one(&text, 302, 304);
        assert!(out.contains('…'), "{out}");
        let out = one(&text, 0, text.len() - 1);
        assert!(out.contains("t.flow:1:1"), "{out}");
    }

    #[test]
    fn printable_escapes_control_bytes_and_bidi_overrides_only() {
        assert!(matches!(
            printable("plain\ttext\nnext — ü"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("\u{1b}[2Jx\u{7}\r\u{9b}1m\u{202e}y\u{7f}"),
            "\\u{1b}[2Jx\\u{7}\\u{d}\\u{9b}1m\\u{202e}y\\u{7f}"
        );
    }
}
