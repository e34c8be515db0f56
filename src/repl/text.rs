//! The session as source text: composed from pieces of what was typed or
//! loaded (kept verbatim) and a little synthetic glue, with the way back from
//! a span of the composed text to the input it came from. Diagnostics are
//! rendered against the inputs, so they point into what the user typed.
//! Values and types are printed here too, types as source that parses back.

use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use serde_json::Value;

use crate::check::types::RecordTy;
use crate::check::{Program, Type};
use crate::diag::{Diagnostic, render};
use crate::source::Sources;
use crate::syntax::span::{FileId, Span, line_col};

/// Something the user typed or loaded: its name in diagnostics and its text.
#[derive(Debug)]
pub struct Origin {
    pub name: String,
    pub text: String,
}

impl Origin {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Rc<Origin> {
        Rc::new(Origin {
            name: name.into(),
            text: text.into(),
        })
    }
}

struct Piece {
    start: usize,
    end: usize,
    /// The origin and the offset of `start` in it; `None` for glue.
    origin: Option<(Rc<Origin>, usize)>,
}

/// Source text built from pieces, each remembering where it came from.
#[derive(Default)]
pub struct Composed {
    pub text: String,
    pieces: Vec<Piece>,
}

impl Composed {
    /// Appends synthetic text (it maps to the nearest real input).
    pub fn glue(&mut self, s: &str) {
        self.push(s, None);
    }

    /// Appends `range` of `origin`, verbatim.
    pub fn source(&mut self, origin: &Rc<Origin>, range: Range<usize>) {
        let text = origin.text[range.clone()].to_string();
        self.push(&text, Some((origin.clone(), range.start)));
    }

    fn push(&mut self, s: &str, origin: Option<(Rc<Origin>, usize)>) {
        if s.is_empty() {
            return;
        }
        let start = self.text.len();
        self.text.push_str(s);
        self.pieces.push(Piece {
            start,
            end: self.text.len(),
            origin,
        });
    }

    fn piece_at(&self, pos: usize) -> Option<usize> {
        if self.pieces.is_empty() {
            return None;
        }
        Some(
            self.pieces
                .iter()
                .position(|p| pos < p.end)
                .unwrap_or(self.pieces.len() - 1),
        )
    }

    /// The origin whose own text holds byte `pos` (not glue).
    pub fn origin_at(&self, pos: usize) -> Option<Rc<Origin>> {
        let p = &self.pieces[self.piece_at(pos)?];
        match &p.origin {
            Some((o, _)) if p.start <= pos && pos < p.end.max(p.start + 1) => Some(o.clone()),
            _ => None,
        }
    }

    /// Maps `start..end` of the composed text to an origin. A span that starts
    /// in glue moves to the real text it covers, or else to the end of the
    /// input before it ("at the end of the input").
    pub fn map(&self, start: usize, end: usize) -> Option<(Rc<Origin>, usize, usize)> {
        let mut i = self.piece_at(start)?;
        let mut start = start;
        if self.pieces[i].origin.is_none() {
            let forward = (i + 1..self.pieces.len())
                .find(|&j| self.pieces[j].origin.is_some() && self.pieces[j].start < end);
            let backward = (0..i).rev().find(|&j| self.pieces[j].origin.is_some());
            match (forward, backward) {
                (Some(j), _) => {
                    i = j;
                    start = self.pieces[j].start;
                }
                (None, Some(j)) => {
                    let p = &self.pieces[j];
                    let (o, off) = p.origin.as_ref().expect("an origin piece");
                    let at = off + p.end - p.start;
                    return Some((o.clone(), at, at));
                }
                (None, None) => {
                    let j =
                        (i + 1..self.pieces.len()).find(|&j| self.pieces[j].origin.is_some())?;
                    let (o, off) = self.pieces[j].origin.as_ref().expect("an origin piece");
                    return Some((o.clone(), *off, *off));
                }
            }
        }
        let p = &self.pieces[i];
        let (o, off) = p.origin.as_ref().expect("an origin piece");
        let s = off + (start - p.start);
        // The end: in the same origin (perhaps a later piece of it), else clamped.
        let e = self
            .pieces
            .iter()
            .skip(i)
            .find(|q| q.start < end.max(start + 1) && end <= q.end)
            .and_then(|q| match &q.origin {
                Some((qo, qoff)) if Rc::ptr_eq(qo, o) => Some(qoff + (end - q.start)),
                _ => None,
            })
            .unwrap_or(off + (p.end - p.start));
        Some((o.clone(), s, e.max(s)))
    }
}

/// Renders diagnostics of a check of `composed` (file `session` in `sources`):
/// spans in the composed text point into the inputs they came from; spans in
/// imported files stay as they are.
pub struct Renderer<'a> {
    pub composed: &'a Composed,
    pub sources: &'a Sources,
    pub session: FileId,
    pub color: bool,
}

impl Renderer<'_> {
    /// The origin and offset of a span of the checked program, if it is in the session text.
    pub fn origin_of(&self, span: Span) -> Option<(Rc<Origin>, usize, usize)> {
        if span.file != self.session {
            return None;
        }
        self.composed.map(span.start as usize, span.end as usize)
    }

    /// The input, line and column (1-based) of a line and column of the session text.
    pub fn position(&self, line: usize, column: usize) -> Option<(Rc<Origin>, usize, usize)> {
        let text = &self.composed.text;
        let start = text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum::<usize>();
        let offset = start
            + text[start.min(text.len())..]
                .chars()
                .take(column.saturating_sub(1))
                .map(char::len_utf8)
                .sum::<usize>();
        let (o, s, _) = self.composed.map(offset, offset)?;
        let (l, c) = line_col(&o.text, s);
        Some((o, l, c))
    }

    /// `name:line:column` of a 1-based line and column of the session text, mapped to its input.
    pub fn locate(&self, line: usize, column: usize) -> String {
        match self.position(line, column) {
            Some((o, l, c)) => format!("{}:{l}:{c}", o.name),
            None => format!("{}:{line}:{column}", self.sources.get(self.session).name),
        }
    }

    /// Is the span in the text of `origin` itself (not glue around it)?
    pub fn is_in(&self, span: Span, origin: &Rc<Origin>) -> bool {
        span.file == self.session
            && self
                .composed
                .origin_at(span.start as usize)
                .is_some_and(|o| Rc::ptr_eq(&o, origin))
    }

    pub fn render(&self, d: &Diagnostic) -> String {
        let mut out = Sources::new();
        let mut ids: HashMap<String, FileId> = HashMap::new();
        let mut file = |name: &str, text: &str| -> FileId {
            *ids.entry(name.to_string())
                .or_insert_with(|| out.add(name, text))
        };
        let mut d2 = d.clone();
        for l in &mut d2.labels {
            if l.span.file == self.session {
                l.span = match self.origin_of(l.span) {
                    Some((o, s, e)) => Span::new(file(&o.name, &o.text), s, e),
                    None => {
                        let f = self.sources.get(self.session);
                        Span {
                            file: file(&f.name, &f.text),
                            ..l.span
                        }
                    }
                };
            } else {
                let f = self.sources.get(l.span.file);
                l.span = Span {
                    file: file(&f.name, &f.text),
                    ..l.span
                };
            }
        }
        render::render(&d2, &out, self.color)
    }
}

/// A value and its type: `3 : int`, or the pretty JSON with the type on its
/// last line; the type as code in the session writes it ([`show_type`]).
pub fn show_value(v: &Value, ty: &Type, p: &Program) -> String {
    let pretty = serde_json::to_string_pretty(v).expect("values serialise");
    let ty = show_type(ty, p);
    if pretty.contains('\n') {
        format!("{pretty}\n: {ty}")
    } else {
        format!("{pretty} : {ty}")
    }
}

/// A type as code in the session must write it: a record by the name it was
/// declared under, qualified by the alias of the module that declares it
/// (`analysis.Round`); a record without a name (the type of an earlier `let`
/// comes back by its fields) by the one declared type with the same fields;
/// else by its fields.
pub fn show_type(ty: &Type, p: &Program) -> String {
    ty.shown(&|r| record_name(r, p)).to_string()
}

/// The name code in the root module writes `r` with (see [`show_type`]).
fn record_name(r: &RecordTy, p: &Program) -> Option<String> {
    let root = p.root_module();
    let mut imports: Vec<(&String, &usize)> = root.imports.iter().collect();
    imports.sort();
    // The types the session can name: its own, then each import's.
    let mut visible: Vec<(String, &Type)> = Vec::new();
    let mut own: Vec<(&String, &Type)> = root.types.iter().collect();
    own.sort_by_key(|(n, _)| *n);
    visible.extend(own.into_iter().map(|(n, t)| (n.clone(), t)));
    for (alias, &m) in imports {
        let mut theirs: Vec<(&String, &Type)> = p.modules[m].types.iter().collect();
        theirs.sort_by_key(|(n, _)| *n);
        visible.extend(theirs.into_iter().map(|(n, t)| (format!("{alias}.{n}"), t)));
    }
    let same_fields = |t: &Type| match t {
        Type::Record(d) => {
            d.fields.len() == r.fields.len() && d.fields.iter().all(|f| r.field(&f.name) == Some(f))
        }
        _ => false,
    };
    let declared =
        |t: &Type, n: &String| matches!(t, Type::Record(d) if d.name.as_ref() == Some(n));
    match &r.name {
        Some(n) => visible
            .iter()
            .find(|(_, t)| declared(t, n) && same_fields(t))
            .map(|(written, _)| written.clone()),
        None => {
            let mut matches = visible.iter().filter(|(_, t)| same_fields(t));
            match (matches.next(), matches.next()) {
                (Some((written, _)), None) => Some(written.clone()),
                _ => None,
            }
        }
    }
}

/// One-line JSON, cut to about `max` characters.
pub fn compact(v: &Value, max: usize) -> String {
    let s = serde_json::to_string(v).expect("values serialise");
    if s.chars().count() <= max {
        s
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

pub use crate::types::source as type_source;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_map_back_to_their_input() {
        let a = Origin::new("<input 1>", "tool t() -> int = builtin \"echo\"");
        let b = Origin::new("<input 2>", "let x = 1\nx + y");
        let mut c = Composed::default();
        c.source(&a, 0..a.text.len());
        c.glue("\nflow f() {\n");
        c.source(&b, 0..10);
        c.glue("let v = ");
        c.source(&b, 10..15);
        c.glue("\n}\n");
        // `y` in the second input
        let y = c.text.find("y\n}").expect("y is there");
        let (o, s, e) = c.map(y, y + 1).expect("maps");
        assert_eq!((o.name.as_str(), s, e), ("<input 2>", 14, 15));
        // a span over the inserted glue and the tail: starts at the tail
        let v = c.text.find("let v").expect("glue");
        let (o, s, e) = c.map(v, y + 1).expect("maps");
        assert_eq!((o.name.as_str(), s, e), ("<input 2>", 10, 15));
        // a span in the closing glue: the end of the input before it
        let close = c.text.rfind('}').expect("brace");
        let (o, s, e) = c.map(close, close + 1).expect("maps");
        assert_eq!((o.name.as_str(), s, e), ("<input 2>", 15, 15));
        // a span in the first input
        let (o, s, _) = c.map(5, 6).expect("maps");
        assert_eq!((o.name.as_str(), s), ("<input 1>", 5));
    }

    use crate::check::types::FieldTy;
    use crate::driver::check_source;

    #[test]
    fn types_print_as_source_that_parses_back() {
        let t = Type::record(vec![
            Type::field("a-b", Type::lits(vec!["x{".into(), "y\"".into()])),
            FieldTy {
                name: "c".into(),
                ty: Type::optional(Type::lits(vec!["low".into(), "high".into()])),
                optional: true,
            },
            Type::field("d", Type::list(Type::Never)),
        ]);
        let src = type_source(&t);
        assert_eq!(
            src,
            r#"{ "a-b": "x\{" | "y\"", c?: ("high" | "low")?, d: [json] }"#
        );
        let text = format!("type T = {src}\n");
        let checked = check_source("t.flow", &text, &crate::check::NoFiles);
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let back = &checked.program.root_module().types["T"];
        let Type::Record(r) = back else {
            panic!("a record: {back:?}")
        };
        assert_eq!(r.fields[0].name, "a-b");
        assert_eq!(r.fields[0].ty, Type::lits(vec!["x{".into(), "y\"".into()]));
    }

    #[test]
    fn values_show_with_their_type() {
        let checked = check_source("t.flow", "", &crate::check::NoFiles);
        let p = &checked.program;
        assert_eq!(show_value(&serde_json::json!(3), &Type::Int, p), "3 : int");
        assert_eq!(
            show_value(&serde_json::json!({"a": 1}), &Type::Json, p),
            "{\n  \"a\": 1\n}\n: json"
        );
        assert_eq!(compact(&serde_json::json!("abcdef"), 4), "\"abc…");
    }
}
