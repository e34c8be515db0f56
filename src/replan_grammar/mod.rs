//! The grammar of what a re-plan may answer (docs/language.md, "Re-planning"):
//! the block-body syntax of `grammar/flow.pest`, specialised to one block's
//! scope — only the names in scope (and the names the fragment may bind), only
//! the tools and flows the policy allows with their parameter names, only the
//! fields the types have — rendered as GBNF (llama.cpp, llama-cpp-python) and
//! as Lark (llguidance: OpenAI's grammar-constrained custom tools, vLLM). Pure:
//! a [`Spec`] in, a [`Grammar`] out; the checker still decides.
//!
//! What the grammar leaves out of the language: `mock`, `assert` (tests only),
//! regular-expression flags, `\u{…}` escapes, a newline before a binary
//! operator, and comments unless [`Spec::comments`] says so (a model writes
//! prose in them).

pub mod scope;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::types::{RecordTy, Type};

/// A tool or flow the fragment may call.
#[derive(Clone, Debug)]
pub struct Callable {
    /// As it is called: `lookup`, or `alias.lookup` for an imported module's.
    pub name: String,
    /// Its parameters' names (arguments are named) and types (what an
    /// argument may be written as).
    pub params: Vec<(String, Type)>,
    /// Its result type, when known: the fields after the call.
    pub ret: Option<Type>,
}

/// What may be written in one block.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    /// The names in scope with their types.
    pub names: Vec<(String, Type)>,
    /// Names the fragment may bind (`let`, `for`, `catch`, branches, `loop`):
    /// of unknown type to the grammar, so any known field may follow them.
    pub binds: Vec<String>,
    pub callables: Vec<Callable>,
    /// Built-in functions (positional arguments).
    pub builtins: Vec<String>,
    /// Option names of `with { … }`.
    pub options: Vec<String>,
    /// Type names usable in `let x: T`.
    pub type_names: Vec<String>,
    /// Whether `approve "…"` may be written (the policy's `fragment_approve`).
    pub approve: bool,
    /// Whether `//` comments may be written.
    pub comments: bool,
    /// Field names besides those of the names' and callables' types: the
    /// module's types', the expected type's, the block's own record keys.
    pub fields: Vec<String>,
    /// The type the block must have: its final expression is written as a
    /// value of that type (a list of records cannot end in a number).
    pub expected: Option<Type>,
    /// Whether the block's value must come from work — a call, a name, a
    /// block form — and not be a constant: a re-plan that answers `[]` for
    /// a list of anomalies hides the failure instead of recovering from it.
    /// (Inside, literals are as usual.)
    pub no_constant: bool,
}

/// A grammar expression.
#[derive(Clone, Debug, PartialEq)]
pub enum G {
    /// Literal text.
    Lit(String),
    /// A token: a regular expression (Lark), the same in GBNF, and texts it
    /// matches (for sampling).
    Token(&'static Token),
    Ref(String),
    Seq(Vec<G>),
    Alt(Vec<G>),
    Opt(Box<G>),
    Star(Box<G>),
}

/// A token of the grammar: its GBNF and Lark forms, and sample texts.
#[derive(Debug, PartialEq)]
pub struct Token {
    pub name: &'static str,
    pub gbnf: &'static str,
    pub lark: &'static str,
    pub samples: &'static [&'static str],
}

/// Spaces or tabs.
pub const WS: Token = Token {
    name: "WS",
    gbnf: r"[ \t]+",
    lark: r"/[ \t]+/",
    samples: &[" "],
};
/// Layout inside brackets: spaces, tabs, newlines.
pub const WSN: Token = Token {
    name: "WSN",
    gbnf: r"[ \t\n]+",
    lark: r"/[ \t\n]+/",
    samples: &[" ", "\n    ", "\n"],
};
/// The same with `//` comments.
pub const WSN_C: Token = Token {
    name: "WSNC",
    gbnf: r#"([ \t\n] | "//" [^\n]* "\n")+"#,
    lark: r"/([ \t\n]|\/\/[^\n]*\n)+/",
    samples: &[" ", "\n    ", "\n// a note\n"],
};
/// Between statements: a newline or `;`, with layout around.
pub const SEP: Token = Token {
    name: "SEP",
    gbnf: r"[ \t]* [\n;] [ \t\n;]*",
    lark: r"/[ \t]*[\n;][ \t\n;]*/",
    samples: &["\n", "\n    ", "; ", "\n\n"],
};
/// The same with `//` comments.
pub const SEP_C: Token = Token {
    name: "SEPC",
    gbnf: r#"[ \t]* ("//" [^\n]*)? [\n;] ([ \t\n;] | "//" [^\n]* "\n")*"#,
    lark: r"/[ \t]*(\/\/[^\n]*)?[\n;]([ \t\n;]|\/\/[^\n]*\n)*/",
    samples: &["\n", "  // a note\n", "\n// why\n    "],
};
/// Between the fields of a record on lines of their own: newlines.
pub const NL: Token = Token {
    name: "NL",
    gbnf: r"[ \t]* [\n] [ \t\n]*",
    lark: r"/[ \t]*\n[ \t\n]*/",
    samples: &["\n", "\n    "],
};
/// The same with `//` comments.
pub const NL_C: Token = Token {
    name: "NLC",
    gbnf: r#"[ \t]* ("//" [^\n]*)? [\n] ([ \t\n] | "//" [^\n]* "\n")*"#,
    lark: r"/[ \t]*(\/\/[^\n]*)?\n([ \t\n]|\/\/[^\n]*\n)*/",
    samples: &["\n", " // a field\n    "],
};
/// Layout at the start and end of a body: spaces, newlines, `;`.
pub const LAYOUT: Token = Token {
    name: "LAYOUT",
    gbnf: r"[ \t\n;]+",
    lark: r"/[ \t\n;]+/",
    samples: &[" ", "\n", "\n    "],
};
/// The same with `//` comments.
pub const LAYOUT_C: Token = Token {
    name: "LAYOUTC",
    gbnf: r#"([ \t\n;] | "//" [^\n]* "\n")+"#,
    lark: r"/([ \t\n;]|\/\/[^\n]*\n)+/",
    samples: &[" ", "\n", "\n// first\n    "],
};
/// Between the arms of `match` and `decide`: a newline or `,`.
pub const ARM_SEP: Token = Token {
    name: "ARMSEP",
    gbnf: r"[ \t]* [,\n] [ \t\n,]*",
    lark: r"/[ \t]*[,\n][ \t\n,]*/",
    samples: &["\n    ", ", ", ",\n"],
};
/// The same with `//` comments.
pub const ARM_SEP_C: Token = Token {
    name: "ARMSEPC",
    gbnf: r#"[ \t]* ("//" [^\n]*)? [,\n] ([ \t\n,] | "//" [^\n]* "\n")*"#,
    lark: r"/[ \t]*(\/\/[^\n]*)?[,\n]([ \t\n,]|\/\/[^\n]*\n)*/",
    samples: &["\n    ", ", ", "  // else\n"],
};
/// Between the branches of `parallel` and `race`: a newline, `,` or `;`.
pub const BRANCH_SEP: Token = Token {
    name: "BRANCHSEP",
    gbnf: r"[ \t]* [,;\n] [ \t\n,;]*",
    lark: r"/[ \t]*[,;\n][ \t\n,;]*/",
    samples: &["\n    ", ", ", "; "],
};
/// The same with `//` comments.
pub const BRANCH_SEP_C: Token = Token {
    name: "BRANCHSEPC",
    gbnf: r#"[ \t]* ("//" [^\n]*)? [,;\n] ([ \t\n,;] | "//" [^\n]* "\n")*"#,
    lark: r"/[ \t]*(\/\/[^\n]*)?[,;\n]([ \t\n,;]|\/\/[^\n]*\n)*/",
    samples: &["\n    ", ", ", " // b\n"],
};
/// Text in a string literal.
pub const STR_TEXT: Token = Token {
    name: "STRTEXT",
    gbnf: r#"[^"\\{}\n]+"#,
    lark: r#"/[^"\\{}\n]+/"#,
    samples: &["a", "disk full", "CI-123", "x: y"],
};
/// An escape in a string literal.
pub const STR_ESC: Token = Token {
    name: "STRESC",
    gbnf: r#""\\" [nt"\\{}]"#,
    lark: r#"/\\[nt"\\{}]/"#,
    samples: &[r"\n", r#"\""#, r"\{"],
};
/// A number: an integer, a decimal, or a duration.
pub const NUMBER: Token = Token {
    name: "NUMBER",
    gbnf: r#"[0-9]+ ("." [0-9]+)? ("ms" | "s" | "m" | "h" | "d")?"#,
    lark: r"/[0-9]+(\.[0-9]+)?(ms|s|m|h|d)?/",
    samples: &["0", "3", "0.5", "30s", "250ms", "12"],
};
/// A number in a `match` pattern: an integer or a decimal.
pub const PAT_NUMBER: Token = Token {
    name: "PATNUMBER",
    gbnf: r#"[0-9]+ ("." [0-9]+)?"#,
    lark: r"/[0-9]+(\.[0-9]+)?/",
    samples: &["0", "3", "0.5", "200"],
};
/// A regular expression literal's body.
pub const REGEX: Token = Token {
    name: "REGEX",
    gbnf: r#""/" [^/\\\n*] [^/\\\n]* "/" [a-z]*"#,
    lark: r"/\/[^\/\\\n*][^\/\\\n]*\/[a-z]*/",
    samples: &["/^CI-/", "/[0-9]+/", "/a.b/"],
};

/// A grammar: named rules, the first one the start.
#[derive(Clone, Debug, Default)]
pub struct Grammar {
    pub rules: Vec<(String, G)>,
}

fn lit(s: &str) -> G {
    G::Lit(s.to_string())
}
/// The block forms of an expression (`if`, `match`, … and `approve` where
/// allowed), as references to their rules.
fn block_forms(approve: bool) -> Vec<G> {
    let mut v: Vec<G> = [
        "if_expr",
        "match_expr",
        "for_expr",
        "try_expr",
        "branches_expr",
        "seq_expr",
        "loop_expr",
        "decide_expr",
    ]
    .into_iter()
    .map(r)
    .collect();
    if approve {
        v.push(r("approve_expr"));
    }
    v
}

fn r(s: &str) -> G {
    G::Ref(s.to_string())
}
fn seq(v: Vec<G>) -> G {
    G::Seq(v)
}
fn alt(v: Vec<G>) -> G {
    G::Alt(v)
}
fn opt(g: G) -> G {
    G::Opt(Box::new(g))
}
fn star(g: G) -> G {
    G::Star(Box::new(g))
}
/// `g (sep g)*`.
fn list_of(g: G, sep: G) -> G {
    seq(vec![g.clone(), star(seq(vec![sep, g]))])
}

/// The built-in functions, the options and the type names every spec offers.
pub fn language_defaults(spec: &mut Spec) {
    spec.builtins = crate::builtins::NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    spec.options = crate::check::options::OPTIONS
        .iter()
        .map(|o| o.name.to_string())
        .collect();
    for t in [
        "string", "int", "float", "bool", "json", "duration", "null", "any",
    ] {
        if !spec.type_names.iter().any(|n| n == t) {
            spec.type_names.push(t.to_string());
        }
    }
}

/// Names a fragment may bind besides the failed block's own: short, common
/// ones, and single letters.
pub const DEFAULT_BINDS: &[&str] = &[
    "result", "results", "value", "item", "items", "data", "out", "a", "b", "c", "d", "e", "f",
    "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y",
    "z",
];

/// Is `s` written as a bare word after `.` and as a record key?
fn is_word(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// `.name` or `."odd name"`.
fn field_text(name: &str) -> String {
    if is_word(name) {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

struct Builder<'s> {
    spec: &'s Spec,
    rules: Vec<(String, G)>,
    /// Type text → the rule of the postfix chain after a value of that type.
    paths: HashMap<String, String>,
    /// Every field name of every type seen.
    fields: BTreeSet<String>,
    /// Type text → the rule of an expression written as a value of that type.
    typed: HashMap<String, String>,
    /// (from, to) type texts → the rule of the paths from one to the other.
    to: HashMap<(String, String), Option<G>>,
    /// Set while the block's value's own rule is made.
    root: bool,
}

impl Builder<'_> {
    fn ws(&self) -> G {
        G::Token(&WS)
    }
    fn wsn(&self) -> G {
        G::Token(if self.spec.comments { &WSN_C } else { &WSN })
    }
    fn ows(&self) -> G {
        opt(self.ws())
    }
    fn owsn(&self) -> G {
        opt(self.wsn())
    }
    fn sep(&self) -> G {
        G::Token(if self.spec.comments { &SEP_C } else { &SEP })
    }
    fn layout(&self) -> G {
        G::Token(if self.spec.comments {
            &LAYOUT_C
        } else {
            &LAYOUT
        })
    }
    fn arm_sep(&self) -> G {
        G::Token(if self.spec.comments {
            &ARM_SEP_C
        } else {
            &ARM_SEP
        })
    }
    fn branch_sep(&self) -> G {
        G::Token(if self.spec.comments {
            &BRANCH_SEP_C
        } else {
            &BRANCH_SEP
        })
    }

    fn collect_fields(&mut self, t: &Type) {
        match t {
            Type::Record(rt) => {
                for f in &rt.fields {
                    self.fields.insert(f.name.clone());
                    self.collect_fields(&f.ty);
                }
            }
            Type::List(e) | Type::Optional(e) => self.collect_fields(e),
            _ => {}
        }
    }

    /// The rule for what may follow a value of type `t`: fields it has,
    /// indexes of lists; any known field after `json`.
    fn path(&mut self, t: &Type) -> G {
        match t {
            Type::Optional(inner) => return self.path(inner),
            Type::Json | Type::Unknown => return r("any_path"),
            Type::Record(_) | Type::List(_) => {}
            // Nothing follows a string, a number, a boolean, `null`.
            _ => return seq(vec![]),
        }
        let key = crate::types::source(t);
        if let Some(n) = self.paths.get(&key) {
            return r(n);
        }
        let name = format!("path_{}", self.paths.len());
        self.paths.insert(key, name.clone());
        let body = match t {
            Type::Record(rt) => self.record_path(rt),
            Type::List(e) => {
                let p = self.path(e);
                opt(alt(vec![
                    seq(vec![
                        lit("["),
                        self.owsn(),
                        r("expr"),
                        self.owsn(),
                        lit("]"),
                        p.clone(),
                    ]),
                    seq(vec![lit("[*]"), p]),
                ]))
            }
            _ => seq(vec![]),
        };
        self.rules.push((name.clone(), body));
        r(&name)
    }

    fn record_path(&mut self, rt: &RecordTy) -> G {
        let mut arms = Vec::new();
        for f in &rt.fields {
            let p = self.path(&f.ty);
            arms.push(seq(vec![lit(&format!(".{}", field_text(&f.name))), p]));
        }
        if arms.is_empty() {
            return seq(vec![]);
        }
        opt(alt(arms))
    }

    /// A call's arguments: each parameter by name, its value written as a
    /// value of the parameter's type. (`with { … }` after them only where
    /// `call_with` says.)
    fn call_args(&mut self, c: &Callable) -> G {
        let (ows, owsn) = (self.ows(), self.owsn());
        if c.params.is_empty() {
            return seq(vec![lit("("), owsn.clone(), lit(")")]);
        }
        let strict = self.spec.no_constant;
        let mut arms = Vec::new();
        for (p, t) in &c.params {
            let value = self.typed_as(t, strict);
            arms.push(seq(vec![
                lit(p),
                ows.clone(),
                lit(":"),
                owsn.clone(),
                value,
            ]));
        }
        let comma = seq(vec![owsn.clone(), lit(","), owsn.clone()]);
        // Under `no_constant`, every parameter once, in order (a small model
        // repeats an argument); else in any order.
        let list = if strict {
            let mut v = Vec::new();
            for (i, a) in arms.into_iter().enumerate() {
                if i > 0 {
                    v.push(comma.clone());
                }
                v.push(a);
            }
            seq(v)
        } else {
            opt(list_of(alt(arms), comma))
        };
        seq(vec![
            lit("("),
            owsn.clone(),
            list,
            owsn.clone(),
            opt(seq(vec![lit(","), owsn.clone()])),
            lit(")"),
        ])
    }

    /// The rule of an expression written as a value of type `t`: names and
    /// calls with a path that reaches `t`, the names the fragment binds (of
    /// types the grammar does not know), literals of `t`'s shape, the block
    /// forms, built-in functions; joined by the operators that keep the
    /// type (`++` for strings and lists, `??`, `catch`). Numbers, booleans
    /// and `json` are any expression.
    ///
    /// With `no_constant` (a re-plan's answer, [`Spec::no_constant`]): no
    /// literal string, no empty list, no record literal, no built-in
    /// function; a name the fragment binds, and of the block forms `try`,
    /// only in the block's value itself (`self.root`), not inside it.
    fn typed_as(&mut self, t: &Type, no_constant: bool) -> G {
        let t = match t {
            Type::Optional(inner) => &**inner,
            t => t,
        };
        let t = &match t {
            Type::Lit(_) => Type::String,
            t => t.clone(),
        };
        if !matches!(t, Type::String | Type::List(_) | Type::Record(_)) {
            return r("expr");
        }
        let root = std::mem::take(&mut self.root);
        let key = format!(
            "{}{}{}",
            if no_constant { "!" } else { "" },
            if root { "^" } else { "" },
            crate::types::source(t)
        );
        if let Some(n) = self.typed.get(&key) {
            return r(n);
        }
        let name = format!("typed_{}", self.typed.len());
        self.typed.insert(key, name.clone());
        let spec = self.spec;
        let (ws, ows, owsn) = (self.ws(), self.ows(), self.owsn());
        let mut atoms = Vec::new();
        let mut seen = BTreeSet::new();
        for (n, nt) in spec.names.iter().rev() {
            if !seen.insert(n.clone()) {
                continue;
            }
            if let Some(p) = self.path_to(nt, t, 4) {
                atoms.push(seq(vec![lit(n), p]));
            }
        }
        let mut binds: Vec<&String> = spec.binds.iter().filter(|b| !seen.contains(*b)).collect();
        binds.sort();
        binds.dedup();
        if !binds.is_empty() && (root || !no_constant) {
            atoms.push(seq(vec![
                alt(binds.iter().map(|b| lit(b)).collect()),
                r("any_path"),
            ]));
        }
        for c in &spec.callables {
            let path = match &c.ret {
                Some(rt) => self.path_to(rt, t, 4),
                None => Some(r("any_path")),
            };
            if let Some(path) = path {
                let args = self.call_args(c);
                atoms.push(seq(vec![lit(&c.name), args, path]));
            }
        }
        if !spec.builtins.is_empty() && !no_constant {
            let positional = seq(vec![
                lit("("),
                owsn.clone(),
                opt(seq(vec![
                    list_of(r("expr"), seq(vec![owsn.clone(), lit(","), owsn.clone()])),
                    owsn.clone(),
                    opt(seq(vec![lit(","), owsn.clone()])),
                ])),
                lit(")"),
            ]);
            atoms.push(seq(vec![
                alt(spec.builtins.iter().map(|b| lit(b)).collect()),
                positional,
                r("any_path"),
            ]));
        }
        match t {
            Type::String if no_constant => {}
            Type::String => atoms.push(r("string")),
            Type::List(e) => {
                // Under `no_constant`, not empty, of values that are not
                // constants either (`[id]`, not `[]` or `["CI-1"]`).
                let e = self.typed_as(e, no_constant);
                let items = seq(vec![
                    list_of(e, seq(vec![owsn.clone(), lit(","), owsn.clone()])),
                    owsn.clone(),
                    opt(seq(vec![lit(","), owsn.clone()])),
                ]);
                atoms.push(seq(vec![
                    lit("["),
                    owsn.clone(),
                    if no_constant { items } else { opt(items) },
                    lit("]"),
                ]));
                if !no_constant {
                    atoms.push(r("for_expr"));
                }
            }
            _ => {
                if !no_constant {
                    atoms.push(r("record"));
                }
                atoms.push(r("branches_expr"));
            }
        }
        // The block forms; under `no_constant` only `try`, the fallback, as
        // the block's value.
        let forms: &[&str] = if no_constant && !root {
            &[]
        } else if no_constant {
            &["try_expr"]
        } else {
            &[
                "if_expr",
                "match_expr",
                "try_expr",
                "seq_expr",
                "loop_expr",
                "decide_expr",
            ]
        };
        for form in forms {
            atoms.push(r(form));
        }
        let atom = format!("{name}_atom");
        self.rules.push((atom.clone(), alt(atoms)));
        let mut ops = vec![
            seq(vec![ows.clone(), lit("??"), owsn.clone(), r(&atom)]),
            seq(vec![ws.clone(), lit("catch"), ws.clone(), r(&atom)]),
        ];
        if !matches!(t, Type::Record(_)) {
            ops.push(seq(vec![ows, lit("++"), owsn, r(&atom)]));
        }
        self.rules
            .push((name.clone(), seq(vec![r(&atom), star(alt(ops))])));
        r(&name)
    }

    /// The paths after a value of type `from` that give a value of type
    /// `to` (or of `to?`, for `??`): none, fields, an index, `[*]` over a
    /// list; at most `depth` steps. `None` when no path does.
    fn path_to(&mut self, from: &Type, to: &Type, depth: usize) -> Option<G> {
        if from.is_dynamic() {
            return Some(r("any_path"));
        }
        let key = (
            format!("{}#{depth}", crate::types::source(from)),
            crate::types::source(to),
        );
        if let Some(g) = self.to.get(&key) {
            return g.clone();
        }
        // A type reached again on the way (a recursive alias) has no path.
        self.to.insert(key.clone(), None);
        let mut arms = Vec::new();
        let mut here = false;
        let fits = |f: &Type| {
            !matches!(f, Type::Null | Type::Never)
                && (crate::types::assignable(f, to)
                    || crate::types::assignable(&f.unwrap_optional(), to))
        };
        if fits(from) {
            here = true;
        }
        if depth > 0 {
            match from.unwrap_optional() {
                Type::Record(rt) => {
                    for f in &rt.fields {
                        if let Some(p) = self.path_to(&f.ty, to, depth - 1) {
                            arms.push(seq(vec![lit(&format!(".{}", field_text(&f.name))), p]));
                        }
                    }
                }
                Type::List(e) => {
                    if let Some(p) = self.path_to(&e, to, depth - 1) {
                        let owsn = self.owsn();
                        arms.push(seq(vec![
                            lit("["),
                            owsn.clone(),
                            r("expr"),
                            owsn,
                            lit("]"),
                            p,
                        ]));
                    }
                    if let Type::List(te) = to
                        && let Some(p) = self.path_to(&e, te, depth - 1)
                    {
                        arms.push(seq(vec![lit("[*]"), p]));
                    }
                }
                _ => {}
            }
        }
        let g = if arms.is_empty() {
            // The value itself, or nothing.
            here.then(|| seq(vec![]))
        } else {
            let name = format!("to_{}", self.rules.len());
            let body = if here { opt(alt(arms)) } else { alt(arms) };
            self.rules.push((name.clone(), body));
            Some(r(&name))
        };
        self.to.insert(key, g.clone());
        g
    }

    fn build(mut self) -> Grammar {
        let spec = self.spec;
        for (_, t) in &spec.names {
            self.collect_fields(t);
        }
        for c in &spec.callables {
            if let Some(t) = &c.ret {
                self.collect_fields(t);
            }
        }
        // A caught error's fields; a `race`'s.
        self.collect_fields(&crate::check::error_type());
        self.fields.insert("winner".into());
        self.fields.insert("value".into());
        for f in &spec.fields {
            self.fields.insert(f.clone());
        }
        let sep = self.sep();
        let layout = self.layout();
        let ws = self.ws();
        let ows = self.ows();
        let owsn = self.owsn();
        let wsn = self.wsn();
        let after = seq(vec![
            ws.clone(),
            lit("after"),
            ws.clone(),
            list_of(r("bind"), seq(vec![lit(","), ows.clone()])),
        ]);
        // The start: statements, the last one the block's value — written as
        // a value of the expected type when there is one.
        let body = match spec
            .expected
            .as_ref()
            // A record-typed block builds its record: literals allowed.
            .map(|t| {
                let record = matches!(t.unwrap_optional(), Type::Record(_));
                self.root = true;
                self.typed_as(t, spec.no_constant && !record)
            }) {
            Some(last) if last != r("expr") => {
                seq(vec![star(seq(vec![r("stmt"), sep.clone()])), last])
            }
            _ => seq(vec![star(seq(vec![r("stmt"), sep.clone()])), r("last")]),
        };
        // A model's answer: a newline may open it, nothing follows its last
        // statement (a small model given room writes `;` and newlines
        // without end). A person's text (with comments) has its layout.
        let start = if spec.comments {
            seq(vec![opt(layout.clone()), body, opt(layout.clone())])
        } else {
            seq(vec![opt(lit("\n")), body])
        };
        self.rules.push(("start".into(), start));
        // Statements: before the last, a `let` or an expression whose value
        // may be dropped (a call, a block form: what it does counts) — not a
        // bare literal or name, which a small model writes line after line;
        // the last, a `let` or any expression (the block's value).
        // Under `no_constant` a `let` binds work too: its value starts with
        // a call of a tool or a flow (a small model otherwise binds a record of made-up data, a
        // name to itself, or nests `for`s and `if`s without end).
        let value = if spec.no_constant {
            self.rules.push((
                "work".into(),
                seq(vec![r("tool_call"), star(r("expr_tail"))]),
            ));
            r("work")
        } else {
            r("expr")
        };
        let binding = seq(vec![
            lit("let"),
            ws.clone(),
            r("bind"),
            opt(seq(vec![ows.clone(), lit(":"), ows.clone(), r("type")])),
            ows.clone(),
            lit("="),
            owsn.clone(),
            alt(vec![r("expr_with"), value]),
            opt(after.clone()),
        ]);
        let mut doing = vec![r("expr_with"), r("call")];
        doing.extend(block_forms(spec.approve));
        self.rules.push((
            "stmt".into(),
            alt(vec![
                binding.clone(),
                seq(vec![alt(doing), opt(after.clone())]),
            ]),
        ));
        self.rules.push((
            "last".into(),
            alt(vec![
                binding,
                seq(vec![alt(vec![r("expr_with"), r("expr")]), opt(after)]),
            ]),
        ));
        self.rules.push((
            "block".into(),
            seq(vec![
                lit("{"),
                opt(layout.clone()),
                opt(seq(vec![
                    star(seq(vec![r("stmt"), sep.clone()])),
                    r("last"),
                    opt(layout.clone()),
                ])),
                lit("}"),
            ]),
        ));
        // Names: bound by the fragment (any known field after them) or in
        // scope (the fields of their types).
        let mut binds: Vec<&String> = spec.binds.iter().collect();
        binds.sort();
        binds.dedup();
        let bind_alts: Vec<G> = binds.iter().map(|b| lit(b)).collect();
        self.rules.push(("bind".into(), alt_or_never(bind_alts)));
        let mut refs = Vec::new();
        let mut seen = BTreeSet::new();
        for (n, t) in spec.names.iter().rev() {
            if !seen.insert(n.clone()) {
                continue;
            }
            let p = self.path(t);
            refs.push(seq(vec![lit(n), p]));
        }
        for b in &binds {
            if !seen.contains(*b) {
                refs.push(seq(vec![lit(b), r("any_path")]));
            }
        }
        self.rules.push(("name_ref".into(), alt_or_never(refs)));
        // After a value of unknown type: fields any type has (and the
        // names the fragment binds: branches name a `parallel`'s fields),
        // indexes.
        for b in &binds {
            self.fields.insert((*b).clone());
        }
        let fields: Vec<G> = self
            .fields
            .iter()
            .map(|f| lit(&format!(".{}", field_text(f))))
            .collect();
        let mut any = vec![
            seq(vec![
                lit("["),
                owsn.clone(),
                r("expr"),
                owsn.clone(),
                lit("]"),
            ]),
            lit("[*]"),
        ];
        if !fields.is_empty() {
            any.push(alt(fields));
        }
        self.rules.push(("any_path".into(), star(alt(any))));
        // Calls: tools and flows with their parameters' names, built-in
        // functions with positional arguments.
        let mut calls = Vec::new();
        // A call with `with { … }` stands only where no block can follow
        // (a statement, a `let`'s value): in `if f() with { … } { … }` the
        // options would be the `if`'s, which takes none.
        let mut with_calls = Vec::new();
        for c in &spec.callables {
            let args = self.call_args(c);
            let path = match &c.ret {
                Some(t) => self.path(t),
                None => r("any_path"),
            };
            calls.push(seq(vec![lit(&c.name), args.clone(), path.clone()]));
            with_calls.push(seq(vec![
                lit(&c.name),
                args,
                ws.clone(),
                lit("with"),
                ws.clone(),
                r("options"),
                path,
            ]));
        }
        let positional = seq(vec![
            lit("("),
            owsn.clone(),
            opt(seq(vec![
                list_of(r("expr"), seq(vec![owsn.clone(), lit(","), owsn.clone()])),
                owsn.clone(),
                opt(seq(vec![lit(","), owsn.clone()])),
            ])),
            lit(")"),
        ]);
        self.rules.push(("tool_call".into(), alt_or_never(calls)));
        let mut calls = vec![r("tool_call")];
        let names: Vec<G> = spec.builtins.iter().map(|b| lit(b)).collect();
        if !names.is_empty() {
            calls.push(seq(vec![alt(names), positional, r("any_path")]));
        }
        self.rules.push(("call".into(), alt(calls)));
        self.rules
            .push(("call_with".into(), alt_or_never(with_calls)));
        // `with { key: value, … }`.
        let keys: Vec<G> = spec.options.iter().map(|o| lit(o)).collect();
        let option = seq(vec![
            alt_or_never(keys),
            ows.clone(),
            lit(":"),
            owsn.clone(),
            r("expr"),
        ]);
        self.rules.push((
            "options".into(),
            seq(vec![
                lit("{"),
                owsn.clone(),
                opt(seq(vec![
                    list_of(option, r("field_sep")),
                    opt(r("field_sep")),
                ])),
                owsn.clone(),
                lit("}"),
            ]),
        ));
        self.rules.push((
            "field_sep".into(),
            alt(vec![
                seq(vec![owsn.clone(), lit(","), owsn.clone()]),
                G::Token(if spec.comments { &NL_C } else { &NL }),
            ]),
        ));
        // Expressions: operands and binary operators (precedence is the
        // parser's; any sequence parses).
        let ops = [
            "??", "||", "&&", "==", "!=", "<=", ">=", "<", ">", "++", "+", "-", "*", "%",
        ];
        self.rules
            .push(("expr".into(), seq(vec![r("unary"), star(r("expr_tail"))])));
        self.rules.push((
            "expr_tail".into(),
            alt(vec![
                seq(vec![
                    ows.clone(),
                    alt(ops.iter().map(|o| lit(o)).collect()),
                    owsn.clone(),
                    r("unary"),
                ]),
                // A space before `/`: right after a regular expression
                // `//` would start a comment.
                seq(vec![ws.clone(), lit("/"), owsn.clone(), r("unary")]),
                // A regular expression only right of `~` and `!~`.
                seq(vec![
                    ows.clone(),
                    alt(vec![lit("~"), lit("!~")]),
                    ows.clone(),
                    alt(vec![G::Token(&REGEX), r("unary")]),
                ]),
                seq(vec![ws.clone(), lit("catch"), ws.clone(), r("unary")]),
            ]),
        ));
        // A call with `with { … }` (a statement, a `let`'s value), and what
        // may follow it.
        self.rules.push((
            "expr_with".into(),
            seq(vec![r("call_with"), star(r("expr_tail"))]),
        ));
        // `!` before `~` would read as `!~`; no operand starts with it.
        self.rules.push((
            "unary".into(),
            seq(vec![star(alt(vec![lit("!"), lit("-")])), r("primary")]),
        ));
        let mut primary = vec![
            r("call"),
            r("name_ref"),
            G::Token(&NUMBER),
            r("string"),
            lit("true"),
            lit("false"),
            lit("null"),
            r("list"),
            r("record"),
            seq(vec![
                lit("("),
                owsn.clone(),
                r("expr"),
                owsn.clone(),
                lit(")"),
                r("any_path"),
            ]),
        ];
        primary.extend(block_forms(spec.approve));
        if spec.approve {
            self.rules.push((
                "approve_expr".into(),
                seq(vec![
                    lit("approve"),
                    ws.clone(),
                    r("string"),
                    opt(seq(vec![ws.clone(), lit("with"), ws.clone(), r("expr")])),
                ]),
            ));
        }
        self.rules.push(("primary".into(), alt(primary)));
        // Literals.
        self.rules.push((
            "string".into(),
            seq(vec![
                lit("\""),
                star(alt(vec![
                    G::Token(&STR_TEXT),
                    G::Token(&STR_ESC),
                    seq(vec![
                        lit("{"),
                        owsn.clone(),
                        r("expr"),
                        owsn.clone(),
                        lit("}"),
                    ]),
                ])),
                lit("\""),
            ]),
        ));
        self.rules.push((
            "list".into(),
            seq(vec![
                lit("["),
                owsn.clone(),
                opt(seq(vec![
                    list_of(r("expr"), seq(vec![owsn.clone(), lit(","), owsn.clone()])),
                    owsn.clone(),
                    opt(seq(vec![lit(","), owsn.clone()])),
                ])),
                lit("]"),
            ]),
        ));
        let mut keys: Vec<String> = self.fields.iter().map(|f| field_text(f)).collect();
        for b in &binds {
            if !keys.contains(b) {
                keys.push((*b).clone());
            }
        }
        for (n, _) in &spec.names {
            if !keys.contains(n) {
                keys.push(n.clone());
            }
        }
        keys.sort();
        let key = alt_or_never(keys.iter().map(|k| lit(k)).collect());
        // `{ key: value }`, or `{ name }` for a name in scope.
        let rec_field = seq(vec![
            key,
            opt(seq(vec![ows.clone(), lit(":"), owsn.clone(), r("expr")])),
        ]);
        self.rules.push((
            "record".into(),
            seq(vec![
                lit("{"),
                owsn.clone(),
                opt(seq(vec![
                    list_of(rec_field, r("field_sep")),
                    opt(r("field_sep")),
                ])),
                owsn.clone(),
                lit("}"),
            ]),
        ));
        // Types of `let x: T`.
        let tnames: Vec<G> = spec.type_names.iter().map(|t| lit(t)).collect();
        let tatom = alt(vec![
            alt_or_never(tnames),
            seq(vec![
                lit("["),
                ows.clone(),
                r("type"),
                ows.clone(),
                lit("]"),
            ]),
            r("string"),
        ]);
        self.rules.push((
            "type".into(),
            list_of(
                seq(vec![tatom, opt(lit("?"))]),
                seq(vec![ows.clone(), lit("|"), ows.clone()]),
            ),
        ));
        // The block forms.
        let with = opt(seq(vec![ws.clone(), lit("with"), ws.clone(), r("options")]));
        self.rules.push((
            "if_expr".into(),
            seq(vec![
                lit("if"),
                ws.clone(),
                r("expr"),
                ws.clone(),
                r("block"),
                opt(seq(vec![
                    ows.clone(),
                    lit("else"),
                    ws.clone(),
                    alt(vec![r("if_expr"), r("block")]),
                ])),
            ]),
        ));
        let pat_lit = alt(vec![
            r("string"),
            G::Token(&PAT_NUMBER),
            seq(vec![lit("-"), G::Token(&PAT_NUMBER)]),
            lit("true"),
            lit("false"),
            lit("null"),
        ]);
        let pattern = alt(vec![
            lit("_"),
            list_of(pat_lit, seq(vec![ows.clone(), lit("|"), ows.clone()])),
        ]);
        let arm_body = alt(vec![r("block"), r("expr")]);
        let arm_sep = self.arm_sep();
        let arms = |arm: G, wsn: &G| {
            seq(vec![
                lit("{"),
                opt(arm_sep.clone()),
                owsn_of(wsn),
                list_of(arm, arm_sep.clone()),
                opt(arm_sep.clone()),
                owsn_of(wsn),
                lit("}"),
            ])
        };
        self.rules.push((
            "match_expr".into(),
            seq(vec![
                lit("match"),
                ws.clone(),
                r("expr"),
                ws.clone(),
                arms(
                    seq(vec![
                        pattern,
                        ows.clone(),
                        lit("=>"),
                        owsn.clone(),
                        arm_body.clone(),
                    ]),
                    &wsn,
                ),
            ]),
        ));
        self.rules.push((
            "decide_expr".into(),
            seq(vec![
                lit("decide"),
                ws.clone(),
                r("string"),
                opt(seq(vec![ws.clone(), lit("with"), ws.clone(), r("expr")])),
                ws.clone(),
                arms(
                    seq(vec![
                        alt(vec![lit("else"), r("decide_label")]),
                        ows.clone(),
                        lit("=>"),
                        owsn.clone(),
                        arm_body,
                    ]),
                    &wsn,
                ),
            ]),
        ));
        // Named apart from the token: GBNF writes both in lower case.
        self.rules.push(("decide_label".into(), G::Token(&LABEL)));
        self.rules.push((
            "for_expr".into(),
            seq(vec![
                lit("for"),
                ws.clone(),
                r("bind"),
                ws.clone(),
                lit("in"),
                ws.clone(),
                r("expr"),
                opt(seq(vec![ws.clone(), lit("where"), ws.clone(), r("expr")])),
                with.clone(),
                ws.clone(),
                r("block"),
            ]),
        ));
        self.rules.push((
            "try_expr".into(),
            seq(vec![
                lit("try"),
                with.clone(),
                ws.clone(),
                r("block"),
                owsn.clone(),
                lit("catch"),
                opt(seq(vec![ws.clone(), r("bind")])),
                ws.clone(),
                r("block"),
            ]),
        ));
        let branch = seq(vec![
            r("bind"),
            ows.clone(),
            lit("="),
            owsn.clone(),
            r("expr"),
        ]);
        self.rules.push((
            "branches_expr".into(),
            seq(vec![
                alt(vec![
                    seq(vec![
                        lit("parallel"),
                        opt(seq(vec![
                            ws.clone(),
                            alt(vec![lit("merge"), lit("concat")]),
                        ])),
                    ]),
                    lit("race"),
                ]),
                with.clone(),
                ws.clone(),
                lit("{"),
                opt(self.branch_sep()),
                owsn.clone(),
                list_of(branch, self.branch_sep()),
                opt(self.branch_sep()),
                owsn.clone(),
                lit("}"),
            ]),
        ));
        self.rules.push((
            "seq_expr".into(),
            seq(vec![
                alt(vec![lit("sequence"), lit("dag")]),
                with.clone(),
                ws.clone(),
                r("block"),
            ]),
        ));
        self.rules.push((
            "loop_expr".into(),
            seq(vec![
                lit("loop"),
                ws.clone(),
                r("bind"),
                ows.clone(),
                lit("="),
                ows.clone(),
                r("expr"),
                opt(seq(vec![
                    ws.clone(),
                    lit("max"),
                    ws.clone(),
                    G::Token(&NUMBER),
                ])),
                ws.clone(),
                lit("until"),
                ws.clone(),
                r("expr"),
                with,
                ws.clone(),
                r("block"),
            ]),
        ));
        // The start rule first, as both dialects read best.
        if let Some(i) = self.rules.iter().position(|(n, _)| n == "start") {
            let start = self.rules.remove(i);
            self.rules.insert(0, start);
        }
        Grammar { rules: self.rules }
    }
}

/// A `decide` arm's label.
pub const LABEL: Token = Token {
    name: "LABEL",
    gbnf: r"[a-z_] [a-z0-9_]*",
    lark: r"/[a-z_][a-z0-9_]*/",
    samples: &["retry", "escalate", "ok"],
};

fn owsn_of(wsn: &G) -> G {
    opt(wsn.clone())
}

/// Alternatives that may be none (no names in scope, no callables): such a
/// rule matches nothing, and [`Grammar::pruned`] takes it out.
fn alt_or_never(v: Vec<G>) -> G {
    G::Alt(v)
}

/// The grammar of a block body in `spec`'s scope.
pub fn block_body(spec: &Spec) -> Grammar {
    Builder {
        spec,
        rules: Vec::new(),
        paths: HashMap::new(),
        fields: BTreeSet::new(),
        typed: HashMap::new(),
        to: HashMap::new(),
        root: false,
    }
    .build()
    .pruned()
}

/// The grammar of a decision's answer: one of the labels.
pub fn labels(options: &[String]) -> Grammar {
    Grammar {
        rules: vec![(
            "start".into(),
            G::Alt(options.iter().map(|o| lit(o)).collect()),
        )],
    }
}

/// JSON text of a string, as GBNF and Lark literals write it.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

impl Grammar {
    /// Rules with an empty alternative (nothing can match them: no names,
    /// no callables) removed, and references to them; rules nobody refers
    /// to removed.
    fn pruned(mut self) -> Grammar {
        loop {
            let dead: BTreeSet<String> = self
                .rules
                .iter()
                .filter(|(_, g)| never(g, &BTreeSet::new()))
                .map(|(n, _)| n.clone())
                .collect();
            let dead_refs: BTreeSet<String> = self
                .rules
                .iter()
                .filter(|(_, g)| never(g, &dead))
                .map(|(n, _)| n.clone())
                .collect();
            let all: BTreeSet<String> = dead.union(&dead_refs).cloned().collect();
            if all.is_empty() {
                break;
            }
            self.rules.retain(|(n, _)| !all.contains(n));
            for (_, g) in &mut self.rules {
                *g = drop_never(g, &all);
            }
        }
        // Unreferenced rules.
        let mut used = BTreeSet::from(["start".to_string()]);
        let mut todo = vec!["start".to_string()];
        let by_name: HashMap<String, G> = self.rules.iter().cloned().collect();
        while let Some(n) = todo.pop() {
            if let Some(g) = by_name.get(&n) {
                refs(g, &mut |x| {
                    if used.insert(x.to_string()) {
                        todo.push(x.to_string());
                    }
                });
            }
        }
        self.rules.retain(|(n, _)| used.contains(n));
        self
    }

    /// The grammar in llama.cpp's GBNF (its start rule is `root`).
    pub fn gbnf(&self) -> String {
        let mut out = String::new();
        let mut tokens: Vec<&'static Token> = Vec::new();
        for (name, g) in &self.rules {
            let n = if name == "start" {
                "root".into()
            } else {
                gbnf_name(name)
            };
            let _ = writeln!(out, "{n} ::= {}", gbnf_expr(g, &mut tokens));
        }
        for t in tokens {
            let _ = writeln!(out, "{} ::= {}", gbnf_name(&t.name.to_lowercase()), t.gbnf);
        }
        out
    }

    /// The grammar in llguidance's Lark (its start rule is `start`).
    pub fn lark(&self) -> String {
        let mut out = String::new();
        let mut tokens: Vec<&'static Token> = Vec::new();
        for (name, g) in &self.rules {
            let _ = writeln!(out, "{name}: {}", lark_expr(g, &mut tokens));
        }
        for t in tokens {
            let _ = writeln!(out, "{}: {}", t.name, t.lark);
        }
        out
    }

    /// A text the grammar generates: `choose(n)` picks one of `n` choices
    /// (an alternative, or whether to repeat); past `depth` nested rules,
    /// the shortest ways are taken.
    pub fn sample(&self, choose: &mut dyn FnMut(usize) -> usize, depth: usize) -> String {
        let by_name: HashMap<&str, &G> = self.rules.iter().map(|(n, g)| (n.as_str(), g)).collect();
        let cost = self.costs();
        let mut out = String::new();
        let start = by_name
            .get("start")
            .copied()
            .cloned()
            .unwrap_or(G::Seq(vec![]));
        sample_into(&start, &by_name, &cost, choose, depth, &mut out);
        out
    }

    /// For each rule, the least nesting needed to finish it.
    fn costs(&self) -> HashMap<String, usize> {
        let mut cost: HashMap<String, usize> = HashMap::new();
        loop {
            let mut changed = false;
            for (n, g) in &self.rules {
                if let Some(c) = g_cost(g, &cost) {
                    let c = c + 1;
                    if cost.get(n).is_none_or(|&old| c < old) {
                        cost.insert(n.clone(), c);
                        changed = true;
                    }
                }
            }
            if !changed {
                return cost;
            }
        }
    }
}

fn g_cost(g: &G, cost: &HashMap<String, usize>) -> Option<usize> {
    match g {
        G::Lit(_) | G::Token(_) | G::Opt(_) | G::Star(_) => Some(0),
        G::Ref(n) => cost.get(n).copied(),
        G::Seq(v) => v
            .iter()
            .try_fold(0, |acc, x| g_cost(x, cost).map(|c| acc.max(c))),
        G::Alt(v) => v.iter().filter_map(|x| g_cost(x, cost)).min(),
    }
}

fn sample_into(
    g: &G,
    rules: &HashMap<&str, &G>,
    cost: &HashMap<String, usize>,
    choose: &mut dyn FnMut(usize) -> usize,
    depth: usize,
    out: &mut String,
) {
    match g {
        G::Lit(s) => out.push_str(s),
        G::Token(t) => out.push_str(t.samples[choose(t.samples.len()) % t.samples.len()]),
        G::Ref(n) => {
            if let Some(g) = rules.get(n.as_str()) {
                sample_into(g, rules, cost, choose, depth.saturating_sub(1), out);
            }
        }
        G::Seq(v) => {
            for x in v {
                sample_into(x, rules, cost, choose, depth, out);
            }
        }
        G::Alt(v) => {
            let pick = if depth == 0 {
                // The cheapest alternative.
                v.iter()
                    .enumerate()
                    .filter_map(|(i, x)| g_cost(x, cost).map(|c| (c, i)))
                    .min()
                    .map_or(0, |(_, i)| i)
            } else {
                choose(v.len()) % v.len().max(1)
            };
            if let Some(x) = v.get(pick) {
                sample_into(x, rules, cost, choose, depth, out);
            }
        }
        G::Opt(x) => {
            if depth > 0 && choose(2) == 1 {
                sample_into(x, rules, cost, choose, depth, out);
            }
        }
        G::Star(x) => {
            if depth > 0 {
                let n = choose(3);
                for _ in 0..n {
                    sample_into(x, rules, cost, choose, depth, out);
                }
            }
        }
    }
}

/// Whether `g` can match nothing at all (an empty `Alt`, or a reference to a dead rule).
fn never(g: &G, dead: &BTreeSet<String>) -> bool {
    match g {
        G::Alt(v) => v.iter().all(|x| never(x, dead)),
        G::Seq(v) => v.iter().any(|x| never(x, dead)),
        G::Ref(n) => dead.contains(n),
        G::Lit(_) | G::Token(_) | G::Opt(_) | G::Star(_) => false,
    }
}

fn drop_never(g: &G, dead: &BTreeSet<String>) -> G {
    match g {
        G::Alt(v) => G::Alt(
            v.iter()
                .filter(|x| !never(x, dead))
                .map(|x| drop_never(x, dead))
                .collect(),
        ),
        G::Seq(v) => G::Seq(v.iter().map(|x| drop_never(x, dead)).collect()),
        G::Opt(x) if never(x, dead) => G::Seq(vec![]),
        G::Star(x) if never(x, dead) => G::Seq(vec![]),
        G::Opt(x) => G::Opt(Box::new(drop_never(x, dead))),
        G::Star(x) => G::Star(Box::new(drop_never(x, dead))),
        other => other.clone(),
    }
}

fn refs(g: &G, f: &mut dyn FnMut(&str)) {
    match g {
        G::Ref(n) => f(n),
        G::Seq(v) | G::Alt(v) => v.iter().for_each(|x| refs(x, f)),
        G::Opt(x) | G::Star(x) => refs(x, f),
        G::Lit(_) | G::Token(_) => {}
    }
}

/// GBNF rule names are letters, digits and `-`.
fn gbnf_name(n: &str) -> String {
    n.replace('_', "-")
}

fn gbnf_expr(g: &G, tokens: &mut Vec<&'static Token>) -> String {
    match g {
        G::Lit(s) => quoted(s),
        G::Token(t) => {
            if !tokens.iter().any(|x| x.name == t.name) {
                tokens.push(t);
            }
            gbnf_name(&t.name.to_lowercase())
        }
        G::Ref(n) => gbnf_name(n),
        G::Seq(v) if v.is_empty() => "\"\"".into(),
        G::Seq(v) => v
            .iter()
            .filter(|x| !matches!(x, G::Seq(w) if w.is_empty()))
            .map(|x| gbnf_expr(x, tokens))
            .collect::<Vec<_>>()
            .join(" "),
        G::Alt(v) => format!(
            "({})",
            v.iter()
                .map(|x| gbnf_expr(x, tokens))
                .collect::<Vec<_>>()
                .join(" | ")
        ),
        G::Opt(x) => format!("{}?", group(x, gbnf_expr(x, tokens))),
        G::Star(x) => format!("{}*", group(x, gbnf_expr(x, tokens))),
    }
}

fn lark_expr(g: &G, tokens: &mut Vec<&'static Token>) -> String {
    match g {
        G::Lit(s) => quoted(s),
        G::Token(t) => {
            if !tokens.iter().any(|x| x.name == t.name) {
                tokens.push(t);
            }
            t.name.to_string()
        }
        G::Ref(n) => n.clone(),
        G::Seq(v) if v.is_empty() => "\"\"".into(),
        G::Seq(v) => v
            .iter()
            .filter(|x| !matches!(x, G::Seq(w) if w.is_empty()))
            .map(|x| lark_expr(x, tokens))
            .collect::<Vec<_>>()
            .join(" "),
        G::Alt(v) => format!(
            "({})",
            v.iter()
                .map(|x| lark_expr(x, tokens))
                .collect::<Vec<_>>()
                .join(" | ")
        ),
        G::Opt(x) => format!("{}?", group(x, lark_expr(x, tokens))),
        G::Star(x) => format!("{}*", group(x, lark_expr(x, tokens))),
    }
}

/// Brackets around a sequence before `?` or `*`.
fn group(g: &G, s: String) -> String {
    match g {
        G::Seq(v) if v.len() > 1 => format!("({s})"),
        _ => s,
    }
}
