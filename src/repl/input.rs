//! What an input is (a command, declarations or statements) and whether it is
//! complete: brackets, blocks and interpolations closed, and the parser not
//! waiting for more at the very end.

use crate::syntax::span::FileId;

const ITEM_KEYWORDS: &[&str] = &["import", "type", "tool", "effect", "flow", "const", "test"];

/// The text after leading whitespace and comments (doc comments `///` are kept).
fn skip_trivia(mut s: &str) -> &str {
    loop {
        let t = s.trim_start();
        if t.starts_with("//") && !t.starts_with("///") {
            s = t.find('\n').map_or("", |i| &t[i..]);
        } else if let Some(rest) = t.strip_prefix("/*") {
            s = rest.find("*/").map_or("", |i| &rest[i + 2..]);
        } else {
            return t;
        }
    }
}

/// Does the input declare items (`tool`, `type`, `flow`, `const`, `import`, …)?
pub fn is_declaration(text: &str) -> bool {
    let t = skip_trivia(text);
    // `schedule "CRON" …`: a word only there (a name before a string is no statement).
    let schedule = t.strip_prefix("schedule").is_some_and(|rest| {
        rest.trim_start().starts_with('"') && rest.starts_with(char::is_whitespace)
    });
    t.starts_with("///")
        || schedule
        || ITEM_KEYWORDS.iter().any(|k| {
            t.strip_prefix(k).is_some_and(|rest| {
                !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            })
        })
}

/// Is the input only whitespace and comments?
pub fn is_blank(text: &str) -> bool {
    skip_trivia(text).is_empty()
}

enum Brackets {
    /// A bracket, block comment or string interpolation is still open.
    Open,
    /// Everything is closed.
    Closed,
    /// A closing bracket (at this byte offset) that matches nothing.
    Broken(usize),
}

/// Brackets, strings (with `{…}` interpolation), comments and regex literals,
/// read by the parser's own scanner.
fn brackets(text: &str) -> Brackets {
    let b = crate::syntax::scan::scan(text, usize::MAX, |_| {});
    match (b.unmatched, b.open) {
        (Some(at), _) => Brackets::Broken(at),
        (None, true) => Brackets::Open,
        (None, false) => Brackets::Closed,
    }
}

/// The byte offset of a closing bracket that matches no opening one.
pub fn unmatched_bracket(text: &str) -> Option<usize> {
    match brackets(text) {
        Brackets::Broken(at) => Some(at),
        _ => None,
    }
}

/// Is the input complete, or does it continue on the next line? It continues
/// while a bracket, block, comment or interpolation is open, or while the
/// parser stops at its very end (`let x =`, `a +`, a `tool` without its
/// binding). An empty line ends an input whose brackets are closed.
pub fn is_complete(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() || t.starts_with(':') {
        return true;
    }
    match brackets(text) {
        Brackets::Open => return false,
        Brackets::Broken(_) => return true,
        Brackets::Closed => {}
    }
    if text.trim_end_matches([' ', '\t']).ends_with('\n') {
        return true;
    }
    !waits_for_more(text)
}

/// Does the parser stop at the end of `text`, expecting more? Statements are
/// parsed as a block body on their own.
fn waits_for_more(text: &str) -> bool {
    let end = text.trim_end().len();
    let diags = if is_declaration(text) {
        let (module, diags) = crate::syntax::parse(FileId(0), text);
        // Doc comments alone wait for the item they document.
        if module.items.is_empty() && skip_trivia(text).starts_with("///") {
            return true;
        }
        diags
    } else {
        crate::syntax::parse_block_body(FileId(0), text).1
    };
    diags
        .iter()
        .any(|d| d.is_error() && d.primary_span().start as usize >= end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_told_from_statements() {
        assert!(is_declaration("tool t() -> int = builtin \"echo\""));
        assert!(is_declaration(
            "  // a comment\neffect tool t() -> int = builtin \"echo\""
        ));
        assert!(is_declaration("/// docs\nflow f() { 1 }"));
        assert!(is_declaration("import std.ops"));
        assert!(!is_declaration("typed + 1"));
        assert!(!is_declaration("let x = 1"));
        assert!(!is_declaration("flows"));
        assert!(is_declaration("schedule \"*/5 * * * *\" f()"));
        assert!(!is_declaration("schedule(x: 1)"));
        assert!(is_blank("  // only a comment\n"));
    }

    #[test]
    fn open_brackets_continue() {
        assert!(!is_complete("let x = {"));
        assert!(!is_complete("f(a: [1,\n2"));
        assert!(!is_complete("\"a {b"));
        assert!(!is_complete("/* comment"));
        assert!(is_complete("let x = { a: 1 }"));
        assert!(is_complete("\"}\""));
        assert!(is_complete("s ~ /[/"));
        assert!(is_complete("let r = /{/"));
        assert!(!is_complete("f(a / (b"));
        assert!(is_complete("a)"));
        assert_eq!(unmatched_bracket("f(x)) + \"é\" }"), Some(4));
        assert_eq!(unmatched_bracket("\"é\" }"), Some(5));
        assert_eq!(unmatched_bracket("{ a: [1] }"), None);
        assert!(is_complete(":type {"));
    }

    #[test]
    fn the_parser_decides_at_the_end() {
        assert!(!is_complete("let x ="));
        assert!(!is_complete("1 +"));
        assert!(!is_complete("tool t(a: int) -> int"));
        assert!(!is_complete("flow f(a: int) -> { a: int }"));
        assert!(is_complete("1 + 2"));
        assert!(is_complete("let = 5"));
        assert!(is_complete("tool t(a: int) -> int = builtin \"echo\""));
        assert!(!is_complete("/// docs for the next item"));
        // an empty line ends it anyway
        assert!(is_complete("let x =\n"));
    }
}
