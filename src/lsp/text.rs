//! Text positions: the protocol's (line, UTF-16 column) and the checker's byte
//! offsets, and the edits a client sends.

use std::borrow::Cow;

use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};

/// Line starts of one text, for offset <-> position conversions: made once
/// per text (a checked document keeps its own), each conversion a binary
/// search and one line's characters.
pub struct Lines<'a> {
    text: &'a str,
    starts: Cow<'a, [usize]>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        Lines {
            text,
            starts: Cow::Owned(Lines::starts(text)),
        }
    }

    /// The offsets where the lines of `text` start.
    pub fn starts(text: &str) -> Vec<usize> {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        starts
    }

    /// The lines of `text`, whose [`Lines::starts`] were kept.
    pub fn with(text: &'a str, starts: &'a [usize]) -> Lines<'a> {
        Lines {
            text,
            starts: Cow::Borrowed(starts),
        }
    }

    /// The position of a byte offset (clamped to the text, and to a character boundary).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let col: usize = self.text[self.starts[line]..offset]
            .chars()
            .map(char::len_utf16)
            .sum();
        Position::new(line as u32, col as u32)
    }

    /// The byte offset of a position; past a line's end is its end, past the text its end.
    pub fn offset(&self, p: Position) -> usize {
        let Some(&start) = self.starts.get(p.line as usize) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(p.line as usize + 1)
            .map_or(self.text.len(), |e| e - 1);
        let mut units = 0usize;
        for (i, c) in self.text[start..end].char_indices() {
            if units >= p.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    pub fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end))
    }
}

/// Applies the client's changes, in order, to a document's text.
pub fn apply_changes(text: &mut String, changes: Vec<TextDocumentContentChangeEvent>) {
    for c in changes {
        match c.range {
            None => *text = c.text,
            Some(r) => {
                let lines = Lines::new(text);
                let (s, e) = (lines.offset(r.start), lines.offset(r.end));
                let (s, e) = (s.min(e), e.max(s));
                text.replace_range(s..e, &c.text);
            }
        }
    }
}

/// A character of a word (a name or keyword).
pub fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The innermost bracket still open at the end of `text` (strings and
/// comments skipped): the bracket and its offset.
pub fn open_bracket(text: &str) -> Option<(u8, usize)> {
    let b = text.as_bytes();
    let mut stack: Vec<(u8, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            c @ (b'(' | b'[' | b'{') => stack.push((c, i)),
            b')' | b']' | b'}' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    stack.pop()
}

/// Whether `name:` is written among the arguments so far.
pub fn given(args: &str, name: &str) -> bool {
    args.match_indices(name).any(|(i, _)| {
        let before_ok = args[..i].chars().next_back().is_none_or(|c| !is_word(c));
        let after = args[i + name.len()..].trim_start();
        before_ok && after.starts_with(':')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let t = "a\nxé😀y\n";
        let l = Lines::new(t);
        let y = t.find('y').expect("y");
        assert_eq!(l.position(y), Position::new(1, 4));
        assert_eq!(l.offset(Position::new(1, 4)), y);
        assert_eq!(l.offset(Position::new(1, 99)), t.len() - 1);
        assert_eq!(l.offset(Position::new(9, 0)), t.len());
        assert_eq!(l.position(t.len()), Position::new(2, 0));
    }

    #[test]
    fn changes_apply_in_order() {
        let mut t = "let a = 1\nlet b = 2\n".to_string();
        let change = |sl, sc, el, ec, text: &str| TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(sl, sc), Position::new(el, ec))),
            range_length: None,
            text: text.into(),
        };
        apply_changes(
            &mut t,
            vec![change(0, 4, 0, 5, "x"), change(1, 8, 1, 9, "20")],
        );
        assert_eq!(t, "let x = 1\nlet b = 20\n");
    }
}
