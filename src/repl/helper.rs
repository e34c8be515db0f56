//! The line editor's helper: tab completion of names, fields, keywords and
//! `:` commands, and multi-line input (Enter continues while the input is
//! incomplete).

use std::collections::HashMap;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::input;
use super::session::COMMANDS;
use crate::check::Type;

/// The reserved words of the grammar.
pub const KEYWORDS: &[&str] = &[
    "import", "as", "type", "tool", "effect", "flow", "const", "let", "after", "with", "parallel",
    "sequence", "dag", "if", "else", "match", "loop", "until", "for", "in", "try", "catch",
    "decide", "race", "approve", "true", "false", "null", "merge", "concat", "max", "builtin",
    "exec", "http", "where",
];

/// What completion knows about the session.
#[derive(Default, Clone)]
pub struct Names {
    /// Names in scope: declarations, import aliases, bindings.
    pub words: Vec<String>,
    pub flows: Vec<String>,
    /// Members of each imported module, by alias.
    pub members: HashMap<String, Vec<String>>,
    /// Types of bindings (and `context`), for `x.field` completion.
    pub types: HashMap<String, Type>,
}

pub struct ReplHelper {
    pub names: Names,
    files: FilenameCompleter,
}

impl ReplHelper {
    pub fn new(names: Names) -> ReplHelper {
        ReplHelper {
            names,
            files: FilenameCompleter::new(),
        }
    }

    /// Candidates for the text before the cursor: `(start of the replaced word, candidates)`.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let lead = before.len() - before.trim_start().len();
        let trimmed = before.trim_start();
        // `:comm|`
        if trimmed.starts_with(':') && !trimmed.contains(char::is_whitespace) {
            let mut c: Vec<String> = COMMANDS
                .iter()
                .map(|(c, _)| c.split(' ').next().unwrap_or(c).to_string())
                .filter(|c| c.starts_with(trimmed))
                .collect();
            c.sort();
            return (lead, c);
        }
        // `:graph fl|`
        if let Some(rest) = trimmed.strip_prefix(":graph ") {
            let word = rest.trim_start();
            let start = pos - word.len();
            let mut c: Vec<String> = self
                .names
                .flows
                .iter()
                .chain(["dot", "mermaid", "json"].map(String::from).iter())
                .filter(|f| f.starts_with(word) && !word.contains(char::is_whitespace))
                .cloned()
                .collect();
            c.dedup();
            return (start, c);
        }
        // A name or a path `a.b[0].c|` (indexes and `[*]` step into list elements).
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '*')
            })
            .last()
            .map_or(pos, |(i, _)| i);
        let start = start
            + before[start..]
                .find(|c: char| c.is_ascii_alphabetic() || c == '_')
                .unwrap_or(before.len() - start);
        let word = &before[start..];
        match word.rsplit_once('.') {
            Some((path, last)) => {
                let begin = start + path.len() + 1;
                let (head, rest) = split_path(path);
                let mut out: Vec<String> = Vec::new();
                if rest.is_empty()
                    && let Some(m) = self.names.members.get(head)
                {
                    out.extend(m.iter().filter(|n| n.starts_with(last)).cloned());
                }
                if let Some(t) = self.names.types.get(head) {
                    let mut t = t.clone();
                    for step in rest {
                        let next = match step {
                            Step::Field(f) => field_type(&t, f),
                            Step::Element => t.unwrap_optional().element(),
                        };
                        t = match next {
                            Some(t) => t,
                            None => return (begin, out),
                        };
                    }
                    if let Type::Record(r) = t.unwrap_optional() {
                        out.extend(
                            r.fields
                                .iter()
                                .map(|f| f.name.clone())
                                .filter(|n| n.starts_with(last)),
                        );
                    }
                }
                out.sort();
                out.dedup();
                (begin, out)
            }
            None => {
                if word.is_empty() {
                    return (pos, Vec::new());
                }
                let mut out: Vec<String> = self
                    .names
                    .words
                    .iter()
                    .map(String::as_str)
                    .chain(KEYWORDS.iter().copied())
                    .chain(crate::builtins::NAMES.iter().copied())
                    .chain(["context"])
                    .filter(|n| n.starts_with(word))
                    .map(String::from)
                    .collect();
                out.sort();
                out.dedup();
                (start, out)
            }
        }
    }
}

/// One step of a path after its first name.
enum Step<'a> {
    Field(&'a str),
    /// `[0]` or `[*]`
    Element,
}

/// `a.b[0].c` → (`a`, [field b, element, field c]); an index on the head is a step too.
fn split_path(path: &str) -> (&str, Vec<Step<'_>>) {
    let mut steps = Vec::new();
    let mut head = "";
    for (i, part) in path.split('.').enumerate() {
        let name = part.split('[').next().unwrap_or("");
        if i == 0 {
            head = name;
        } else {
            steps.push(Step::Field(name));
        }
        steps.extend(part.matches('[').map(|_| Step::Element));
    }
    (head, steps)
}

fn field_type(t: &Type, name: &str) -> Option<Type> {
    match t.unwrap_optional() {
        Type::Record(r) => r.field(name).map(|f| f.ty.clone()),
        _ => None,
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let trimmed = line[..pos].trim_start();
        if trimmed.starts_with(":load ") || trimmed.starts_with(":l ") {
            return self.files.complete(line, pos, ctx);
        }
        let (start, words) = self.candidates(line, pos);
        Ok((
            start,
            words
                .into_iter()
                .map(|w| Pair {
                    display: w.clone(),
                    replacement: w,
                })
                .collect(),
        ))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if input::is_complete(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReplHelper {
        let mut names = Names {
            words: vec!["lookup".into(), "detail".into(), "ops".into()],
            flows: vec!["analyze".into()],
            ..Names::default()
        };
        names
            .members
            .insert("ops".into(), vec!["summarize".into(), "score".into()]);
        names.types.insert(
            "detail".into(),
            Type::record(vec![Type::field(
                "rows",
                Type::record(vec![Type::field("ci_id", Type::String)]),
            )]),
        );
        names.types.insert(
            "items".into(),
            Type::list(Type::record(vec![Type::field("id", Type::String)])),
        );
        names
            .types
            .insert("context".into(), crate::check::context_type());
        ReplHelper::new(names)
    }

    #[test]
    fn completes_names_keywords_builtins_and_commands() {
        let h = helper();
        assert_eq!(
            h.candidates("let x = loo", 11),
            (8, vec!["lookup".into(), "loop".into()])
        );
        assert_eq!(
            h.candidates("le", 2).1,
            vec!["len".to_string(), "let".into()]
        );
        assert_eq!(h.candidates(":he", 3), (0, vec![":help".into()]));
        assert_eq!(
            h.candidates("for x in xs whe", 15),
            (12, vec!["where".to_string()])
        );
        assert_eq!(h.candidates(":graph a", 8), (7, vec!["analyze".into()]));
        assert_eq!(
            h.candidates("ops.s", 5),
            (4, vec!["score".into(), "summarize".into()])
        );
        assert_eq!(
            h.candidates("detail.rows.c", 13),
            (12, vec!["ci_id".into()])
        );
        assert_eq!(h.candidates("context.fl", 10).1, vec!["flow".to_string()]);
        assert!(h.candidates("12", 2).1.is_empty());
        assert_eq!(
            h.candidates("x + detail.rows.ci", 18).1,
            vec!["ci_id".to_string()]
        );
        assert_eq!(h.candidates("(items[0].", 10), (10, vec!["id".to_string()]));
        assert_eq!(h.candidates("items[*].i", 10), (9, vec!["id".to_string()]));
        assert_eq!(h.candidates("items.i", 7), (6, vec![]));
    }
}
