//! What a re-plan asks and how its answer is checked: the request (the
//! failure, the scope, the callable tools, the policy, the expected type),
//! the system prompt with the language reference, and the fragment checked as
//! the body of a flow whose parameters are the failed block's scope.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::check::policy::Policy;
use std::rc::Rc;

use crate::check::fragment::{Fragment, check_fragment, fragment_rules};
use crate::check::{Loader, NoFiles, Program, Signature, Type};
use crate::run::errors::RunError;
use crate::source::Sources;

/// The synthetic flow a fragment is checked and run as.
pub const FLOW: &str = "__replan";
/// The name of a fragment's text among the sources it is checked and run with.
const FRAGMENT_FILE: &str = "the fragment";
/// Characters of a value shown in the request at most.
const VALUE_CHARS: usize = 300;

/// The compact language reference of `docs/language.md` (between its
/// `replan-reference` markers, then its `replan-reference-more` markers),
/// compiled in: the one copy the docs show.
const LANGUAGE_MD: &str = include_str!("../../../docs/language.md");

/// The text of `docs/language.md` between `<!-- NAME:start -->` and `<!-- NAME:end -->`.
fn section(name: &str) -> &'static str {
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    match (LANGUAGE_MD.find(&start), LANGUAGE_MD.find(&end)) {
        (Some(a), Some(b)) if a < b => LANGUAGE_MD[a + start.len()..b].trim(),
        _ => "",
    }
}

/// The essential language reference: what a block body is, how calls are
/// written, an example. A request shortened to fit a model's context keeps only this.
pub fn reference() -> &'static str {
    section("replan-reference")
}

/// The rest of the reference: literals, operators, blocks, built-in functions, types.
pub fn reference_more() -> &'static str {
    section("replan-reference-more")
}

/// Characters of a value shown in a shortened request at most.
pub const SHORT_VALUE_CHARS: usize = 80;

/// How much a request says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// Everything.
    Full,
    /// Shortened to fit a small context: the essential reference only; no
    /// flow documentation, no policy text (the callable list already keeps
    /// to it); values to 80 characters.
    Short,
}

/// The system message of a re-planning conversation.
pub fn system_prompt(length: Length) -> String {
    let more = match length {
        Length::Full => format!("\n{}", reference_more()),
        Length::Short => String::new(),
    };
    format!(
        "You repair a failed block of a workflow written in the .flow language. \
         Answer with the .flow source of a block body that replaces it: statements \
         (`let` bindings, calls) and a final expression that gives the block's value, \
         and nothing else — no explanation, no surrounding braces; a ```flow fence is \
         allowed. Call only the tools and flows listed, with named arguments; use only \
         the names in scope. Your answer is type-checked before it runs; if it does not \
         check you get the diagnostics and one more try.\n\n# The .flow language\n\n{}{more}",
        reference()
    )
}

/// One name in the failed block's scope.
pub struct InScope {
    pub name: String,
    pub ty: Type,
    pub value: Value,
}

/// What the request says, before it is written out.
pub struct Ask<'a> {
    pub flow: &'a str,
    pub flow_doc: Option<&'a str>,
    pub block: &'a str,
    pub errors: &'a [RunError],
    pub scope: &'a [InScope],
    pub callable: Vec<(&'a Signature, Option<Type>)>,
    pub policy: Option<&'a Policy>,
    pub expected: &'a Type,
}

/// `name(a: T, b: U) -> R`, `effect` first for effect tools.
fn signature(sig: &Signature, ret: Option<&Type>) -> String {
    let params: Vec<String> = sig
        .params
        .iter()
        .map(|p| {
            let d = if p.has_default { " = …" } else { "" };
            format!("{}: {}{d}", p.name, crate::types::source(&p.ty))
        })
        .collect();
    let ret = ret
        .map(|r| format!(" -> {}", crate::types::source(r)))
        .unwrap_or_default();
    let kind = match (sig.is_flow, sig.effect) {
        (true, _) => "flow",
        (false, true) => "effect tool",
        (false, false) => "tool",
    };
    format!("{kind} {}({}){ret}", sig.name, params.join(", "))
}

/// A value as JSON text, at most `max` characters.
fn shown(v: &Value, max: usize) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    if s.chars().count() <= max {
        s
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

impl Ask<'_> {
    /// The request as JSON (what a `cmd:` program reads in `context`).
    pub fn json(&self) -> Value {
        json!({
            "flow": self.flow,
            "flow_doc": self.flow_doc,
            "block": self.block,
            "errors": self.errors.iter().map(|e| json!({
                "kind": e.kind.as_str(),
                "message": e.message,
                "step": e.path.clone().unwrap_or_else(|| e.step.clone()),
            })).collect::<Vec<_>>(),
            "scope": self.scope.iter().map(|s| json!({
                "name": s.name,
                "type": crate::types::source(&s.ty),
                "value": shown(&s.value, VALUE_CHARS),
            })).collect::<Vec<_>>(),
            "callable": self.callable.iter().map(|(s, r)| json!({
                "signature": signature(s, r.as_ref()),
                "doc": s.doc,
            })).collect::<Vec<_>>(),
            "policy": self.policy.map(Policy::source),
            "expected_type": crate::types::source(self.expected),
        })
    }

    /// The request as the user message of the conversation.
    pub fn text(&self, length: Length) -> String {
        let short = length == Length::Short;
        let value_chars = if short {
            SHORT_VALUE_CHARS
        } else {
            VALUE_CHARS
        };
        let mut t = String::new();
        let _ = writeln!(t, "A block of flow `{}` failed.", self.flow);
        if let Some(d) = self.flow_doc.filter(|_| !short) {
            let _ = writeln!(t, "The flow's documentation: {}", d.trim());
        }
        let _ = writeln!(t, "\nThe failed block:\n```flow\n{}\n```", self.block);
        let _ = writeln!(t, "\nErrors:");
        for e in self.errors {
            let _ = writeln!(
                t,
                "- {} at `{}`: {}",
                e.kind.as_str(),
                e.path.as_deref().unwrap_or(&e.step),
                e.message
            );
        }
        let _ = writeln!(t, "\nIn scope (name: type = value):");
        if self.scope.is_empty() {
            let _ = writeln!(t, "- nothing");
        }
        for s in self.scope {
            let _ = writeln!(
                t,
                "- {}: {} = {}",
                s.name,
                crate::types::source(&s.ty),
                shown(&s.value, value_chars)
            );
        }
        let _ = writeln!(t, "\nTools and flows you may call:");
        for (s, r) in &self.callable {
            let doc = s
                .doc
                .as_deref()
                .map(|d| format!("  // {}", d.trim().replace('\n', " ")))
                .unwrap_or_default();
            let _ = writeln!(t, "- {}{doc}", signature(s, r.as_ref()));
        }
        if let Some(p) = self.policy.filter(|_| !short) {
            let _ = writeln!(t, "\nThe policy the block runs under:\n{}", p.source());
        }
        let _ = write!(
            t,
            "\nThe block must produce a value of type `{}`. Write the replacement block body.",
            crate::types::source(self.expected)
        );
        t
    }
}

impl Ask<'_> {
    /// What the answer's grammar is made of: the scope's names and types,
    /// the offered tools and flows with their parameters, the names the
    /// failed block binds, the module `m`'s types and constants.
    pub fn grammar_spec(&self, program: &Program, m: usize) -> crate::replan_grammar::Spec {
        use crate::replan_grammar::scope;
        let names: Vec<(String, Type)> = self
            .scope
            .iter()
            .map(|s| (s.name.clone(), s.ty.clone()))
            .collect();
        let callables = self
            .callable
            .iter()
            .map(|(s, r)| scope::callable(s, r.clone(), ""))
            .collect();
        let approve = self.policy.is_some_and(|p| p.fragment_approve);
        let mut spec = scope::spec_for(program, m, &names, callables, self.block, approve);
        scope::fields_of(self.expected, &mut spec.fields);
        spec.expected = Some(self.expected.clone());
        spec.no_constant = true;
        spec
    }

    /// The grammar of the answer, in each dialect, and the names it lets
    /// the fragment bind.
    pub fn grammar(
        &self,
        program: &Program,
        m: usize,
    ) -> (crate::run::llm::GrammarText, Vec<String>) {
        let spec = self.grammar_spec(program, m);
        let g = crate::replan_grammar::block_body(&spec);
        (
            crate::run::llm::GrammarText {
                gbnf: g.gbnf(),
                lark: g.lark(),
            },
            spec.binds,
        )
    }
}

/// The tools and flows a fragment of module `m` may call under `policy`:
/// the tools it allows (`allow_tools`, no `effect` tool under `effects:
/// "deny"`), and the flows whose every tool it allows, except the failed
/// flow `site` (module, name) and the flows that reach it (a call would
/// fail again or recurse).
pub fn offered<'p>(
    program: &'p Program,
    lowered: &crate::ir::plan::Lowered<'p>,
    m: usize,
    site: (usize, &str),
    policy: Option<&Policy>,
) -> Vec<(&'p Signature, Option<Type>)> {
    let md = &program.modules[m];
    let allowed = |s: &Signature| {
        policy.is_none_or(|p| {
            p.allows(&s.name) && !(s.effect && p.effects == crate::check::policy::Effects::Deny)
        })
    };
    let mut out: Vec<(&'p Signature, Option<Type>)> = Vec::new();
    for s in md.tools.values() {
        if allowed(s) {
            out.push((&**s, s.ret.clone()));
        }
    }
    // A flow that leads back to this one would be flow recursion (E0402);
    // one that calls a tool the policy forbids is not offered either.
    for s in md.flows.values() {
        let reached = lowered.tools_reached(m, &s.name, site);
        if !reached.is_some_and(|tools| tools.into_iter().all(&allowed)) {
            continue;
        }
        let ret = s
            .ret
            .clone()
            .or_else(|| program.flow_types.get(&(m, s.name.clone())).cloned());
        out.push((&**s, ret));
    }
    out.sort_by_key(|(s, _)| (s.is_flow, s.span.start));
    out
}

/// The line of a request that names what a fragment may bind, when its
/// answer is held to a grammar.
pub fn binds_line(binds: &[String]) -> String {
    let letter = |b: &String| b.len() == 1;
    let letters = binds.iter().filter(|b| letter(b)).count();
    let mut words: Vec<String> = binds
        .iter()
        .filter(|b| letters < 26 || !letter(b))
        .map(|b| format!("`{b}`"))
        .collect();
    if letters == 26 {
        words.push("a single letter".into());
    }
    format!(
        "\nName new values (`let`, `for`, `catch`) only: {}.",
        words.join(", ")
    )
}

/// The answer's fragment: the first fenced block if there is one (to the
/// end of the answer when its fence is never closed, as an answer cut off at
/// `max_tokens` is), else the whole answer.
pub fn extract(answer: &str) -> String {
    if let Some(a) = answer.find("```") {
        let rest = &answer[a + 3..];
        let rest = rest.split_once('\n').map_or("", |(_, r)| r);
        let end = rest.find("```").unwrap_or(rest.len());
        return rest[..end].trim().to_string();
    }
    answer.trim().to_string()
}

/// A fragment that checked: the program to run it in.
pub struct Checked {
    pub sources: Sources,
    pub program: Program,
}

/// Checks `fragment` in the failed block's place: in the module of the file
/// `module` of the run's `sources` (their file ids kept), with the names of `scope` and
/// their types, to give a value of type `expected`, under `policy` (a value:
/// it may be another module's), as a part of flow `site_flow` of that module
/// (see [`fragment_rules`]). The fragment is parsed on its own and checked as
/// the flow [`FLOW`] of the module; no source text is written for it.
/// `Err`: the diagnostics as plain text, lines counted in the fragment.
#[allow(clippy::too_many_arguments)]
pub fn check(
    sources: &Sources,
    module: crate::span::FileId,
    site_flow: &str,
    fragment: &str,
    scope: &[InScope],
    expected: &Type,
    policy: Option<&Rc<Policy>>,
    loader: Option<&dyn Loader>,
) -> Result<Checked, Vec<String>> {
    let run_sources = sources;
    let mut sources = sources.clone();
    let root = module;
    let file = sources.add(FRAGMENT_FILE, fragment);
    let (body, parsed) = crate::syntax::parse_block_body(file, fragment);
    let line_of = |at: u32| {
        fragment[..(at as usize).min(fragment.len())]
            .matches('\n')
            .count()
            + 1
    };
    let plain = |d: &crate::diag::Diagnostic| {
        let span = d.primary_span();
        let at = if span.file == file {
            format!(" (line {} of the fragment)", line_of(span.start))
        } else {
            String::new()
        };
        let mut s = format!("{}: {}{at}", d.code, d.message);
        if let Some(l) = d.labels.first().filter(|l| !l.message.is_empty()) {
            let _ = write!(s, "; {}", l.message);
        }
        if let Some(h) = &d.help {
            let _ = write!(s, "; help: {h}");
        }
        s
    };
    // The fragment is one block body: it may not close the block and
    // declare items of its own.
    let Some(body) = body else {
        let too_deep = parsed.iter().filter(|d| d.code != "E0101").map(plain);
        let mut out: Vec<String> = too_deep.collect();
        if out.is_empty() {
            out.push(
                "E0101: the answer is not one block body (it closes the block or declares items); \
                 write only statements and a final expression"
                    .into(),
            );
        }
        return Err(out);
    };
    let fragment = Fragment {
        file,
        body,
        flow: FLOW.to_string(),
        scope: scope
            .iter()
            .map(|s| (s.name.clone(), s.ty.clone()))
            .collect(),
        expected: Some(expected.clone()),
        policy: policy.cloned(),
    };
    let known = RunSources {
        sources: run_sources,
        next: loader.unwrap_or(&NoFiles),
    };
    let (program, checked) = check_fragment(&mut sources, root, &known, fragment);
    let mut diags: Vec<crate::diag::Diagnostic> = parsed
        .into_iter()
        .chain(checked)
        .filter(|d| d.is_error())
        .collect();
    if diags.is_empty() {
        diags = fragment_rules(&program, FLOW, site_flow, policy.map(|p| &**p));
    }
    if diags.is_empty() {
        Ok(Checked { sources, program })
    } else {
        Err(diags.iter().map(plain).collect())
    }
}

/// The files of the run's program read from the texts the run runs (a
/// file changed on disk since does not change what a fragment is checked
/// with), others through `next`.
struct RunSources<'a> {
    sources: &'a Sources,
    next: &'a dyn Loader,
}

impl Loader for RunSources<'_> {
    fn read(&self, path: &str) -> Result<String, String> {
        match self.sources.find(path) {
            Some(id) => Ok(self.sources.get(id).text.clone()),
            None => self.next.read(path),
        }
    }

    fn project_policies(&self, root: &str) -> Result<Option<(String, String)>, String> {
        self.next.project_policies(root)
    }

    fn file_kind(&self, path: &std::path::Path) -> Option<crate::check::FileKind> {
        self.next.file_kind(path)
    }

    fn search_path(&self) -> Option<Vec<std::path::PathBuf>> {
        self.next.search_path()
    }
}
