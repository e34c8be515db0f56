//! What the checker learned about each place of the program, kept as data:
//! the type of every expression and field name, the declaration every name
//! refers to, and the names each scope holds. The language server answers
//! hover, go to definition, completion and rename from it (no second pass
//! over the AST there).

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::span::{FileId, Span};
use crate::types::Type;

/// What a name refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A declaration or binding, by the span of its name.
    Decl(Span, DeclKind),
    /// A module, by its index in [`super::Program::modules`] (an import's alias).
    Module(usize),
    /// A built-in function of the table.
    Builtin(&'static str),
    /// `context`.
    Context,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeclKind {
    Let,
    Param,
    ForVar,
    LoopVar,
    CatchVar,
    /// `iteration` inside a `loop`.
    Implicit,
    Tool,
    Flow,
    Type,
    Const,
}

impl DeclKind {
    /// The word for it, in hovers and symbols.
    pub fn word(self) -> &'static str {
        match self {
            DeclKind::Let => "let",
            DeclKind::Param => "parameter",
            DeclKind::ForVar => "loop variable",
            DeclKind::LoopVar => "loop state",
            DeclKind::CatchVar => "error binding",
            DeclKind::Implicit => "iteration",
            DeclKind::Tool => "tool",
            DeclKind::Flow => "flow",
            DeclKind::Type => "type",
            DeclKind::Const => "constant",
        }
    }

    /// Whether a rename may change it (a binding or a declaration the file owns).
    pub fn renamable(self) -> bool {
        !matches!(self, DeclKind::Implicit)
    }
}

/// One use of a name and what it refers to.
#[derive(Clone, Debug, PartialEq)]
pub struct Ref {
    pub span: Span,
    pub target: Target,
}

/// A binding a scope holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Local {
    pub name: String,
    /// The span of its name where it is bound.
    pub span: Span,
    pub kind: DeclKind,
    /// `None` when it was never given a type (its `let` did not check).
    pub ty: Option<Type>,
}

/// A scope: where its names are visible, and the names.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopeInfo {
    pub span: Span,
    pub locals: Vec<Local>,
}

/// The index of one checked program.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Every expression checked, and every field name of a path, with its type.
    pub types: Vec<(Span, Type)>,
    /// Every name that refers to something.
    pub refs: Vec<Ref>,
    /// Every scope of bindings.
    pub scopes: Vec<ScopeInfo>,
    /// The names of shorthand record fields (`{ a }`): a use of `a` that also names the field.
    pub shorthand: Vec<Span>,
}

impl Index {
    /// The type of the smallest expression or field name around `offset` in `file`.
    pub fn type_at(&self, file: FileId, offset: u32) -> Option<(Span, &Type)> {
        self.types
            .iter()
            .filter(|(s, _)| contains(*s, file, offset))
            .min_by_key(|(s, _)| (s.end - s.start, std::cmp::Reverse(s.start)))
            .map(|(s, t)| (*s, t))
    }

    /// The name used at `offset`, and what it refers to.
    pub fn ref_at(&self, file: FileId, offset: u32) -> Option<&Ref> {
        self.refs
            .iter()
            .filter(|r| contains(r.span, file, offset))
            .min_by_key(|r| r.span.end - r.span.start)
    }

    /// Every use of the declaration whose name is at `decl`.
    pub fn uses_of(&self, decl: Span) -> impl Iterator<Item = Span> + '_ {
        self.refs.iter().filter_map(move |r| match r.target {
            Target::Decl(s, _) if s == decl => Some(r.span),
            _ => None,
        })
    }

    /// The bindings visible at `offset`, innermost first (a name appears once).
    pub fn locals_at(&self, file: FileId, offset: u32) -> Vec<&Local> {
        let mut scopes: Vec<&ScopeInfo> = self
            .scopes
            .iter()
            .filter(|s| contains(s.span, file, offset))
            .collect();
        scopes.sort_by_key(|s| s.span.end - s.span.start);
        let mut out: Vec<&Local> = Vec::new();
        for s in scopes {
            for l in &s.locals {
                if !out.iter().any(|o| o.name == l.name) {
                    out.push(l);
                }
            }
        }
        out
    }
}

/// A check given up: its caller asked for it to stop ([`cancellable`]).
#[derive(Debug)]
pub struct Cancelled;

thread_local! {
    /// The flag of the cancellable check on this thread, and the records since it was read.
    static CANCEL: std::cell::RefCell<Option<Arc<AtomicBool>>> = const { std::cell::RefCell::new(None) };
    static RECORDS: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` (an indexed check, on this thread) until it ends or `flag` is
/// set: the checker looks at the flag every 1,024 records of its index and
/// unwinds from there, dropping all it built. Parsing is not interrupted.
pub fn cancellable<R>(flag: Arc<AtomicBool>, f: impl FnOnce() -> R) -> Result<R, Cancelled> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CANCEL.with(|c| c.borrow_mut().take());
        }
    }
    CANCEL.with(|c| *c.borrow_mut() = Some(flag));
    let _reset = Reset;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Ok(r),
        Err(payload) if payload.is::<Cancelled>() => Err(Cancelled),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Called at each record of the index: unwinds when the check was cancelled.
pub(super) fn checkpoint() {
    let n = RECORDS.get().wrapping_add(1);
    RECORDS.set(n);
    if n.is_multiple_of(1024)
        && CANCEL.with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Relaxed))
        })
    {
        // Not a panic: no message, and `cancellable` tells it apart.
        std::panic::resume_unwind(Box::new(Cancelled));
    }
}

/// Whether `offset` is in `span` (its end included: a cursor right after a name is on it).
fn contains(span: Span, file: FileId, offset: u32) -> bool {
    span.file == file && span.start <= offset && offset <= span.end
}

#[cfg(test)]
mod tests {
    use crate::check::{NoFiles, Type};
    use crate::driver::{check_source, check_source_indexed};

    use super::*;

    const SRC: &str = r#"type Detail = { score: float, note: string }

/// Looks a thing up.
tool lookup(id: string) -> Detail = exec ["true"]

flow main(id: string) -> float {
  let detail = lookup(id: id)
  let scores = for x in [1, 2] { x * 2 }
  detail.score
}
"#;

    fn at(needle: &str, nth: usize) -> u32 {
        SRC.match_indices(needle).nth(nth).expect("needle").0 as u32
    }

    #[test]
    fn types_refs_and_scopes_of_a_flow() {
        let c = check_source_indexed("t.flow", SRC, &NoFiles);
        let file = c.program.root_module().file;
        let ix = c.program.index();
        // A field name has the field's type; a name its binding's.
        let score = at("detail.score", 0) + 8;
        assert_eq!(
            ix.type_at(file, score).map(|t| t.1.clone()),
            Some(Type::Float)
        );
        let detail_use = at("detail.score", 0) + 1;
        let t = ix.type_at(file, detail_use).expect("a type").1.to_string();
        assert_eq!(t, "Detail");
        // The use of `detail` refers to its `let`; the call to the tool; `Detail` to its type.
        let r = ix.ref_at(file, detail_use).expect("a ref");
        let Target::Decl(decl, DeclKind::Let) = r.target else {
            panic!("{r:?}")
        };
        assert_eq!(decl.start, at("detail", 0));
        let r = ix
            .ref_at(file, at("lookup", 1) + 2)
            .expect("a ref to the tool");
        assert!(matches!(r.target, Target::Decl(s, DeclKind::Tool) if s.start == at("lookup", 0)));
        let r = ix
            .ref_at(file, at("Detail", 1) + 1)
            .expect("a ref to the type");
        assert!(matches!(r.target, Target::Decl(s, DeclKind::Type) if s.start == at("Detail", 0)));
        let r = ix
            .ref_at(file, at("id: id", 0) + 5)
            .expect("a ref to the parameter");
        assert!(matches!(r.target, Target::Decl(_, DeclKind::Param)));
        assert_eq!(ix.uses_of(decl).count(), 1);
        // Inside the `for`: `x`, then the block's lets, then the parameter.
        let names: Vec<&str> = ix
            .locals_at(file, at("x * 2", 0))
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(names[0], "x");
        for n in ["detail", "scores", "id"] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        // Outside it, no `x`.
        let names: Vec<String> = ix
            .locals_at(file, at("detail.score", 0))
            .iter()
            .map(|l| l.name.clone())
            .collect();
        assert!(!names.contains(&"x".to_string()));
        let detail = ix
            .locals_at(file, at("detail.score", 0))
            .into_iter()
            .find(|l| l.name == "detail")
            .and_then(|l| l.ty.clone())
            .expect("typed");
        assert_eq!(detail.to_string(), "Detail");
    }

    #[test]
    fn the_index_is_kept_only_when_asked_for() {
        let c = check_source("t.flow", SRC, &NoFiles);
        let ix = c.program.index();
        assert!(ix.types.is_empty() && ix.refs.is_empty() && ix.scopes.is_empty());
    }

    #[test]
    fn imports_and_builtins_are_targets() {
        let src = "import std.ops\n\nflow main() -> int {\n  len([ops.echo(value: 1)])\n}\n";
        let c = check_source_indexed("t.flow", src, &NoFiles);
        let file = c.program.root_module().file;
        let ix = c.program.index();
        let ops = src.rfind("ops.").expect("ops") as u32;
        let r = ix.ref_at(file, ops + 1).expect("the module");
        assert!(matches!(r.target, Target::Module(_)), "{r:?}");
        let r = ix.ref_at(file, ops + 5).expect("the tool");
        assert!(
            matches!(r.target, Target::Decl(s, DeclKind::Tool) if s.file != file),
            "{r:?}"
        );
        let r = ix.ref_at(file, 9).expect("the import");
        assert!(matches!(r.target, Target::Module(_)), "{r:?}");
        let len = src.find("len").expect("len") as u32;
        let r = ix.ref_at(file, len + 1).expect("the built-in");
        assert_eq!(r.target, Target::Builtin("len"));
    }
}
