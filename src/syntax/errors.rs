//! Parse errors in words: pest's expectations mapped to what a user calls them.

use std::collections::BTreeSet;

use pest::error::{Error, ErrorVariant, InputLocation};

use super::grammar::Rule;
use super::span::{FileId, Span};
use crate::diag::{Diagnostic, catalog};

/// How a rule is named in an error message. `None`: never mentioned.
/// Words starting with `~` are continuations of a complete expression (an
/// operator, `.field`, …): mentioned only when nothing else was expected.
fn word(rule: Rule) -> Option<&'static str> {
    use Rule::*;
    Some(match rule {
        // In progress, not started, at the error: the expression could go on.
        expr | postfix_expr => "~an operator",
        prefix | op_not | op_neg | primary | int | float | duration | true_lit | false_lit
        | null_lit | regex | call | record_lit | paren | parallel_expr | race_expr
        | sequence_expr | dag_expr | if_expr | match_expr | loop_expr | for_expr | try_expr
        | decide_expr | approve_expr | interp => "an expression",
        string => "a string",
        list_lit => "a list",
        ident | callee | module_path => "a name",
        field_name | field_word => "a field name",
        type_expr | type_postfix | type_atom | type_null | type_name | list_type | record_type => {
            "a type"
        }
        op_catch | op_coalesce | op_or | op_and | op_eq | op_ne | op_le | op_ge | op_lt | op_gt
        | op_match | op_nmatch | op_concat | op_add | op_sub | op_mul | op_div | op_rem | infix
        | infix_nl => "~an operator",
        field_access => "~`.`",
        index | wildcard => "~`[`",
        call_with | block_with | decl_with => "~`with`",
        after_clause => "~`after`",
        optional_mark => "~`?`",
        str_text | str_escape => "the closing `\"` of the string",
        regex_body | regex_flags => "the closing `/` of the regex",
        let_stmt | expr_stmt | mock_stmt | assert_stmt | stmt_core | stmt_item => "a statement",
        import_decl | type_decl | tool_decl | flow_decl | const_decl | test_decl | item_core
        | mcp_server_decl | item => "an item (`flow`, `tool`, `type`, `const`, `import` or `test`)",
        builtin_bind | exec_bind | http_bind | mcp_bind | binding => {
            "a tool binding (`exec`, `http` or `builtin`)"
        }
        kw_builtin | kw_exec | kw_http | kw_mcp => "a tool binding (`exec`, `http` or `builtin`)",
        kw_effect => "`effect`",
        kw_export => "`export`",
        kw_server => "`server`",
        mcp_stdio | mcp_http | kw_stdio => "`stdio [\"prog\", …]` or `http \"URL\"`",
        kw_auth_env => "~`auth_env`",
        kw_merge | kw_concat => "~`merge` or `concat`",
        kw_max => "~`max`",
        kw_else => "~`else`",
        params => "`(`",
        param => "a parameter",
        arg => "an argument",
        rec_field | type_field => "a field",
        options => "`{`",
        option => "an option",
        block | branch_block | arm_block => "`{`",
        branch => "a branch (`name = expression`)",
        match_arm | pattern | wild_pat | neg_num => "a pattern",
        decide_arm => "a label",
        catch_block => "`catch`",
        loop_max => "~`max`",
        EOI => "end of input",
        _ => return None,
    })
}

/// A literal token pest expected (its `Display` is the token text).
fn token_word(token: &str) -> Option<String> {
    const OPERATORS: &[&str] = &[
        "!=", "!~", "%", "&&", "*", "++", "+", "<=", "<", "==", ">=", ">", "??", "||", "~", "catch",
    ];
    const EXPR_START: &[&str] = &["!", "\"", "(", "[", "{", "/", "-"];
    // `[`, `/` and `-` also continue an expression (index, division, minus).
    match token {
        "" | "BUILTIN_RULE" | " " | "\t" | "\u{feff}" | "//" | "/*" | "///" => None,
        "\n" | "\r\n" | "\r" => Some("~a new line".into()),
        "." => Some("~`.`".into()),
        t if OPERATORS.contains(&t) => Some("~an operator".into()),
        t if EXPR_START.contains(&t) => Some(format!("^`{t}`")),
        "after" | "with" | "else" => Some(format!("~`{token}`")),
        "until" | "in" | "as" | "=>" => Some(format!("`{token}`")),
        t if t.chars().all(|c| c.is_ascii_alphabetic() || c == '_') => None,
        t if t.contains("..") => None,
        t => Some(format!("`{t}`")),
    }
}

/// Builds the E0101 diagnostic for a pest error in `src[offset..]`.
/// `end_of` says what ends the construct being parsed ("a new line or `;`").
pub fn parse_error_diagnostic(
    src: &str,
    file: FileId,
    offset: usize,
    err: &Error<Rule>,
    end_of: &str,
) -> Diagnostic {
    let mut expected: BTreeSet<String> = BTreeSet::new();
    let mut pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    if let Some(attempts) = err.parse_attempts() {
        pos = attempts.max_position;
        for t in attempts.expected_tokens() {
            if let Some(w) = token_word(&t.to_string()) {
                expected.insert(w);
            }
        }
        if std::env::var_os("FLOWC_DEBUG_PARSE").is_some() {
            eprintln!(
                "{:?} {:?}",
                attempts.expected_tokens(),
                attempts.call_stacks()
            );
        }
    }
    // Rules attempted right at the error position (not the ones in progress).
    if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
        if std::env::var_os("FLOWC_DEBUG_PARSE").is_some() {
            eprintln!("positives {positives:?}");
        }
        for r in positives {
            if let Some(w) = word(*r) {
                expected.insert(w.to_string());
            }
        }
    }
    if let ErrorVariant::CustomError { message } = &err.variant
        && expected.is_empty()
    {
        let at = offset + pos;
        return catalog::syntax(message.clone(), Span::new(file, at, at), String::new());
    }
    // Strict rules end with EOI: inside a region, "end of input" means "end of the line".
    let had_eoi = expected.remove("end of input");
    // Tokens that can only start an expression mean one was expected; the
    // others of its kind are then covered by "an expression".
    let has_type = expected.contains("a type");
    let starts_expr = expected.contains("^`!`");
    let has_expr = !has_type && (starts_expr || expected.contains("an expression"));
    if has_expr {
        expected.insert("an expression".into());
    }
    // A field name may be quoted: "a field name" covers the string.
    if expected.contains("a field name") {
        expected.remove("a string");
    }
    let has_string = ["a string", "a field", "a name", "a field name"]
        .iter()
        .any(|w| expected.contains(*w));
    expected = expected
        .into_iter()
        .filter_map(|w| match w.strip_prefix('^') {
            Some(_) if has_expr || has_type => None,
            Some("`\"`") if has_string => None,
            Some(tok @ ("`[`" | "`/`" | "`-`")) => Some(format!("~{tok}")),
            Some(tok) => Some(tok.to_string()),
            None => Some(w),
        })
        .filter(|w| !(has_expr && matches!(w.as_str(), "a string" | "a list" | "a name")))
        .collect();
    let _ = had_eoi;
    let mut main: Vec<String> = expected
        .iter()
        .filter(|w| !w.starts_with('~'))
        .cloned()
        .collect();
    if main.is_empty() {
        // Only ways to continue a complete construct: what it lacks is its end.
        main.push(end_of.to_string());
    }
    // Order: specific tokens first, then categories.
    main.sort_by_key(|w| (!w.starts_with('`'), w.clone()));
    main.dedup();
    let list = join_or(&main);

    let at = offset + pos;
    let prev = previous_token(src, at);
    let message = match &prev {
        Some(p) => format!("expected {list} after {p}"),
        None => format!("expected {list}"),
    };
    let (span, found) = found_at(src, file, at);
    let d = catalog::syntax(message, span, found);
    if main == ["a field name"] && prev.as_deref() == Some("`.`") {
        return d.with_help("write the field to read after `.` (`r.name`, or `r.\"a key\"` for a key that is not a name)");
    }
    d
}

fn join_or(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// The token before `at`, quoted, for "after `=`".
fn previous_token(src: &str, at: usize) -> Option<String> {
    let before = src[..at.min(src.len())].trim_end();
    let last = before.chars().next_back()?;
    if last.is_alphanumeric() || last == '_' {
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map(|(i, _)| i)?;
        let word = &before[start..];
        if word.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return Some("this number".into());
        }
        return Some(format!("`{word}`"));
    }
    if last == '"' {
        return Some("this string".into());
    }
    let ops: String = before
        .chars()
        .rev()
        .take_while(|c| "=<>!~+-*/%&|?:.,;".contains(*c))
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if ops.is_empty() {
        Some(format!("`{last}`"))
    } else {
        Some(format!("`{ops}`"))
    }
}

/// The span of what was found at `at`, and a label naming it.
fn found_at(src: &str, file: FileId, at: usize) -> (Span, String) {
    let rest = &src[at.min(src.len())..];
    match rest.chars().next() {
        None => (Span::new(file, at, at), "found end of file".into()),
        Some('\n') | Some('\r') => (Span::new(file, at, at + 1), "found end of line".into()),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            let len: usize = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .map(char::len_utf8)
                .sum();
            (
                Span::new(file, at, at + len),
                format!("found `{}`", &rest[..len]),
            )
        }
        Some(c) => (
            Span::new(file, at, at + c.len_utf8()),
            format!("found `{c}`"),
        ),
    }
}

/// The first bracket of `text` that is never closed (strings, comments and
/// regex literals skipped); `None` if a closing bracket matches nothing.
pub fn unclosed_bracket(text: &str) -> Option<(usize, char)> {
    let b = super::scan::scan(text, usize::MAX, |_| {});
    if b.unmatched.is_some() {
        return None;
    }
    b.unclosed
}
