//! The one bracket scanner: brackets, strings (with `{…}` interpolation),
//! comments and regex literals, in one linear pass over the bytes. The parser
//! uses it for the nesting limit, unclosed brackets and where a large body may
//! be cut; the REPL to tell whether an input is complete.

/// What a scan found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Brackets {
    /// The first bracket (byte offset and the bracket) still open at the end.
    pub unclosed: Option<(usize, char)>,
    /// The first closing bracket that matches no opening one.
    pub unmatched: Option<usize>,
    /// The first opening bracket deeper than the limit given to [`scan`].
    pub too_deep: Option<usize>,
    /// A bracket, block comment or interpolation is open at the end.
    pub open: bool,
}

/// Scans `text`. `on_newline` gets the offset of each newline outside brackets,
/// strings and comments. Brackets in strings, comments and regex literals do
/// not count; a `{` in a string opens an interpolation, which does. A closing
/// bracket that matches nothing is recorded and closes the innermost bracket.
pub fn scan(text: &str, max_depth: usize, mut on_newline: impl FnMut(usize)) -> Brackets {
    // b'(' b'[' b'{' in code, b'"' inside a string, b'i' for an interpolation's `{`.
    let mut stack: Vec<(usize, u8)> = Vec::new();
    let mut out = Brackets::default();
    let b = text.as_bytes();
    let mut i = 0;
    // The last significant byte in code, to tell a regex from a division.
    let mut prev = b'=';
    // Entries of `stack` that are not strings.
    let mut depth = 0usize;
    // The innermost entry is a string.
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                    in_string = false;
                    prev = b'"';
                }
                b'{' => {
                    stack.push((i, b'i'));
                    in_string = false;
                    depth += 1;
                    if depth > max_depth && out.too_deep.is_none() {
                        out.too_deep = Some(i);
                    }
                }
                // Strings end at the line; the parser reports it.
                b'\n' => {
                    stack.pop();
                    in_string = false;
                    continue;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                stack.push((i, b'"'));
                in_string = true;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut nest = 0;
                loop {
                    if i + 1 >= b.len() {
                        out.open = true;
                        i = b.len();
                        break;
                    }
                    if b[i] == b'/' && b[i + 1] == b'*' {
                        nest += 1;
                        i += 2;
                    } else if b[i] == b'*' && b[i + 1] == b'/' {
                        nest -= 1;
                        i += 2;
                        if nest == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            // After an operand `/` divides; elsewhere it starts a regex literal,
            // which runs to the next unescaped `/` on the line.
            b'/' if !(prev.is_ascii_alphanumeric()
                || prev >= 0x80
                || matches!(prev, b'_' | b')' | b']' | b'}' | b'"')) =>
            {
                i += 1;
                while i < b.len() && b[i] != b'/' && b[i] != b'\n' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                stack.push((i, c));
                depth += 1;
                if depth > max_depth && out.too_deep.is_none() {
                    out.too_deep = Some(i);
                }
            }
            b')' | b']' | b'}' => {
                let open = match c {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                match stack.last() {
                    Some(&(_, o)) if o == open || (o == b'i' && c == b'}') => {}
                    _ => {
                        if out.unmatched.is_none() {
                            out.unmatched = Some(i);
                        }
                    }
                }
                if stack.pop().is_some() {
                    depth -= 1;
                }
                in_string = stack.last().is_some_and(|s| s.1 == b'"');
            }
            b'\n' if stack.is_empty() => on_newline(i),
            _ => {}
        }
        if !c.is_ascii_whitespace() {
            prev = c;
        }
        i += 1;
    }
    out.unclosed = stack
        .iter()
        .find(|s| s.1 != b'"')
        .map(|&(at, c)| (at, if c == b'i' { '{' } else { c as char }));
    out.open |= out.unclosed.is_some();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Brackets {
        scan(text, 200, |_| {})
    }

    #[test]
    fn strings_comments_and_regexes_hide_brackets() {
        assert_eq!(s("f(\"(\") // (\n/* [ */ x ~ /(u/"), Brackets::default());
        assert_eq!(s("a / (b) / c"), Brackets::default());
        assert_eq!(s("\"a {b"), s("\"a {b"));
        assert!(s("\"a {b").open);
        assert_eq!(s("let x = f(1").unclosed, Some((9, '(')));
        assert_eq!(s("f(x)) + \"é\" }").unmatched, Some(4));
        assert!(s("/* open").open);
    }

    #[test]
    fn depth_counts_code_and_interpolations() {
        let deep = "[".repeat(201);
        assert_eq!(scan(&deep, 200, |_| {}).too_deep, Some(200));
        let quoted = format!("\"{deep}\"");
        assert_eq!(scan(&quoted, 200, |_| {}).too_deep, None);
        let mut lines = Vec::new();
        scan("a\nf(\n)\n\"\n\"\n", 200, |at| lines.push(at));
        assert_eq!(lines, vec![1, 6, 8, 10]);
    }
}
