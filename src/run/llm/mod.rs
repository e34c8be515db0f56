//! LLM decisions (docs/language.md, "LLM decisions"): `llm(…)` conditions and `decide` blocks.
//!
//! The interpreter builds a [`DecisionRequest`] — the program's prompt, the
//! context values and the labels it declared — and hands it to a [`Provider`].
//! The [`Llm`] hook validates each answer against the labels and re-asks up to
//! [`MAX_REASKS`] times, so no answer can choose anything the program did not
//! declare. Every decision is kept for the run record and `--record-llm`.

mod cmd;
mod human;
mod openai;
mod replay;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bytes of a provider's answer read at most (labels are short; docs/language.md, "Memory
/// and time limits"): more is an `llm_error`, never an out-of-memory.
pub const MAX_ANSWER: u64 = 1024 * 1024;

/// How many times an invalid answer is asked again.
pub const MAX_REASKS: u32 = 2;

/// The `--llm` choices, for error messages.
pub const CHOICES: &str =
    "`--llm openai:BASE_URL`, `--llm replay:FILE.json`, `--llm cmd:PROGRAM` or `--llm human`";

/// What the program asks: one decision.
#[derive(Clone, Debug, Serialize)]
pub struct DecisionRequest {
    /// The step that decides (its `let` name, or its flow).
    pub step: String,
    /// The decision's step path (`main/out/for[3]/decide`): where it stands
    /// and in which iteration, whatever the order decisions are reached in.
    pub path: String,
    /// `decide` or `llm`.
    pub kind: &'static str,
    /// Where the decision is written: `file:line:column`.
    pub at: String,
    /// The prompt, interpolated.
    pub prompt: String,
    /// The context values the program passed.
    pub context: Value,
    /// The labels it may answer, in the program's order.
    pub options: Vec<String>,
    /// For each label, the source text of what it does (its arm).
    pub descriptions: Vec<String>,
}

/// One message of a chat conversation.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

/// How a provider tells the model's decoder what may be answered
/// (`[llm] constrain`, `--llm-constrain`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Constrain {
    /// Whatever the server accepts: learnt from its refusals, once a run.
    #[default]
    Auto,
    /// `response_format` with a JSON Schema `enum` (decisions only).
    JsonSchema,
    /// A GBNF grammar in `grammar` (llama.cpp, llama-cpp-python).
    Gbnf,
    /// A Lark grammar in a custom tool (OpenAI's grammar-constrained tools).
    Lark,
    /// Nothing: the prompt says it, the checks hold to it.
    None,
}

impl Constrain {
    pub const CHOICES: &'static str = "`auto`, `json_schema`, `gbnf`, `lark` or `none`";

    pub fn parse(s: &str) -> Result<Constrain, String> {
        Ok(match s {
            "auto" => Constrain::Auto,
            "json_schema" => Constrain::JsonSchema,
            "gbnf" => Constrain::Gbnf,
            "lark" => Constrain::Lark,
            "none" => Constrain::None,
            _ => {
                return Err(format!(
                    "`{s}` is not a way to constrain answers; choose {}",
                    Constrain::CHOICES
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Constrain::Auto => "auto",
            Constrain::JsonSchema => "json_schema",
            Constrain::Gbnf => "gbnf",
            Constrain::Lark => "lark",
            Constrain::None => "none",
        }
    }
}

/// What an answer must be, for a provider that can say so to the decoder.
#[derive(Clone, Debug, PartialEq)]
pub enum Constraint {
    /// One of these labels (a decision).
    Labels(Vec<String>),
    /// A text of this grammar (a re-planned block body).
    Grammar(GrammarText),
}

/// A grammar in each dialect a server may take.
#[derive(Clone, Debug, PartialEq)]
pub struct GrammarText {
    pub gbnf: String,
    pub lark: String,
}

impl Constraint {
    /// The labels' grammar, or the grammar.
    pub fn grammar(&self) -> GrammarText {
        match self {
            Constraint::Labels(l) => {
                let g = crate::replan_grammar::labels(l);
                GrammarText {
                    gbnf: g.gbnf(),
                    lark: g.lark(),
                }
            }
            Constraint::Grammar(g) => g.clone(),
        }
    }
}

/// Something that can answer a decision: a model, a recording, a program or a person.
pub trait Provider {
    /// How it is named in the run record, e.g. `openai:http://127.0.0.1:8080/v1`.
    fn name(&self) -> String;

    /// One answer to the conversation so far. `attempt` counts from 1; after
    /// an invalid answer the conversation ends with a corrective message.
    fn ask<'a>(
        &'a self,
        req: &'a DecisionRequest,
        messages: &'a [Message],
        attempt: u32,
    ) -> LocalBoxFuture<'a, Result<Answer, AskError>>;

    /// [`Provider::ask`], telling the model's decoder what the answer must
    /// be where the provider can (a model server); the others ignore it.
    fn ask_constrained<'a>(
        &'a self,
        req: &'a DecisionRequest,
        messages: &'a [Message],
        attempt: u32,
        _constraint: &'a Constraint,
    ) -> LocalBoxFuture<'a, Result<Answer, AskError>> {
        self.ask(req, messages, attempt)
    }
}

/// A provider's answer, and what the provider changed in the request to get
/// it (for the decision log).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    pub text: String,
    /// Each change, in words (`max_tokens` lowered to fit the model's context).
    pub notes: Vec<String>,
}

impl From<String> for Answer {
    fn from(text: String) -> Answer {
        Answer {
            text,
            notes: Vec::new(),
        }
    }
}

/// Why a provider gave no answer.
#[derive(Clone, Debug, PartialEq)]
pub enum AskError {
    /// The message says what happened and what to do.
    Failed(String),
    /// The request does not fit the model's context window, even with the
    /// answer's length lowered: only a shorter request can fit.
    TooLong(TooLong),
}

/// A request the model's context window cannot hold, as the server said.
#[derive(Clone, Debug, PartialEq)]
pub struct TooLong {
    /// The model's context size in tokens, when the server said it.
    pub n_ctx: Option<u64>,
    /// The tokens of the request's messages, when the server said it.
    pub prompt_tokens: Option<u64>,
    /// The server's answer, shortened.
    pub detail: String,
}

impl TooLong {
    /// "the model's context of 2048 tokens (the request takes 2300)".
    pub fn context(&self) -> String {
        let size = match self.n_ctx {
            Some(n) => format!("the model's context of {n} tokens"),
            None => "the model's context".to_string(),
        };
        match self.prompt_tokens {
            Some(p) => format!("{size} (the request takes {p})"),
            None => size,
        }
    }
}

/// Settings of the providers: the model (for `openai`), the time one answer may take.
#[derive(Clone, Debug)]
pub struct Settings {
    pub model: String,
    /// Per HTTP call.
    pub timeout: Duration,
    /// Extra attempts after a 5xx answer or a connection error.
    pub retries: u32,
    /// How answers are constrained (`[llm] constrain`, `--llm-constrain`).
    pub constrain: Constrain,
    /// The model's context in tokens (`[llm] context`); `None`: asked from
    /// the server where it says (llama.cpp's `/props`), else unknown.
    pub context: Option<u64>,
    /// `[llm] context = "server"`: the context asked from the server once
    /// (llama.cpp's `/props`), when `context` does not say it.
    pub context_from_server: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: std::env::var("FLOWC_LLM_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into()),
            timeout: Duration::from_secs(60),
            retries: 2,
            constrain: Constrain::Auto,
            context: None,
            context_from_server: false,
        }
    }
}

/// Builds the provider named by `--llm`. `base` is the folder relative paths
/// (of `replay:` files and `cmd:` programs) are resolved against.
pub fn provider(
    spec: &str,
    settings: &Settings,
    base: &std::path::Path,
) -> Result<Box<dyn Provider>, String> {
    let (kind, arg) = spec.split_once(':').unwrap_or((spec, ""));
    let resolve = |p: &str| {
        let path = std::path::Path::new(p);
        if path.is_absolute() || base.as_os_str().is_empty() {
            path.to_path_buf()
        } else {
            base.join(path)
        }
    };
    match (kind, arg) {
        ("openai", url) if !url.is_empty() => {
            Ok(Box::new(openai::OpenAi::new(url, settings.clone())?))
        }
        ("replay", file) if !file.is_empty() => Ok(Box::new(replay::Replay::load(&resolve(file))?)),
        ("cmd", program) if !program.is_empty() => {
            // Word by word, as `--llm` runs it: a bare program name is looked
            // up on `PATH`, a program with a `/` (`./decide`) is taken from
            // `base`, and so is an argument with a `/` that names a file or
            // folder there (`tools/llm.py`); other words are left as written.
            let argv = program
                .split_whitespace()
                .enumerate()
                .map(|(i, w)| {
                    let path = w.contains('/') && (i == 0 || resolve(w).exists());
                    if path {
                        resolve(w).to_string_lossy().into_owned()
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            Ok(Box::new(cmd::Cmd::new(argv, settings.timeout)))
        }
        ("human", "") => Ok(Box::new(human::Human::new())),
        _ => Err(format!(
            "`{}` is not an LLM provider; choose {}",
            crate::run::redact::redact(spec),
            CHOICES
        )),
    }
}

/// The decision hook of a run: the provider and the log of decisions.
pub struct Llm {
    provider: Option<std::rc::Rc<dyn Provider>>,
    log: RefCell<Vec<Decision>>,
    start: Instant,
}

/// One decision in the log: the run record's `decisions`, and what
/// `--record-llm` writes and the `replay:` provider reads (by `path` and
/// `prompt`, else by `step` and `prompt`, and `answers`; the rest may be
/// missing in a hand-written recording).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub step: String,
    /// The decision's step path; empty in recordings made before paths.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// `decide` or `llm`.
    #[serde(default)]
    pub kind: String,
    /// The source position, `file:line:column`.
    #[serde(default)]
    pub at: String,
    pub prompt: String,
    #[serde(default)]
    pub context: Value,
    #[serde(default)]
    pub options: Vec<String>,
    /// Every answer, the re-asked ones included.
    pub answers: Vec<String>,
    /// The chosen label.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub outcome: DecisionOutcome,
    /// The provider's failure.
    #[serde(default)]
    pub error: Option<String>,
    /// What was changed in the request to get an answer (`max_tokens`
    /// lowered, the request shortened to fit the model's context).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub start_ms: f64,
    #[serde(default)]
    pub latency_ms: f64,
}

/// How a logged decision ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    Chosen,
    /// The provider failed.
    Failed,
    /// No valid answer after the re-asks (also a recording that does not say).
    #[default]
    NoValidAnswer,
}

/// The file `--record-llm` writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recording {
    /// The format's version: 1.
    pub flowc_llm_record: u32,
    pub decisions: Vec<Decision>,
}

/// How a decision ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The provider chose this label (one of the options).
    Chosen(String),
    /// No valid answer after the re-asks: the `else` arm runs, or `llm_error`.
    NoValidAnswer { answers: Vec<String> },
}

impl Llm {
    pub fn new(provider: Option<Box<dyn Provider>>) -> Llm {
        Llm {
            provider: provider.map(std::rc::Rc::from),
            log: RefCell::new(Vec::new()),
            start: Instant::now(),
        }
    }

    /// A hook with the same provider and a log of its own (a re-planned
    /// fragment's run; its decisions come back with [`Llm::absorb`]).
    pub fn share(&self) -> Llm {
        Llm {
            provider: self.provider.clone(),
            log: RefCell::new(Vec::new()),
            start: self.start,
        }
    }

    /// Takes the decisions of a shared hook into this one's log.
    pub fn absorb(&self, other: &Llm) {
        self.log.borrow_mut().extend(other.decisions());
    }

    /// The provider's name, if there is one.
    pub fn provider_name(&self) -> Option<String> {
        self.provider.as_ref().map(|p| p.name())
    }

    /// One answer of the provider, unvalidated (re-planning checks it itself).
    pub async fn ask_raw(
        &self,
        req: &DecisionRequest,
        messages: &[Message],
        attempt: u32,
    ) -> Result<Answer, AskError> {
        match &self.provider {
            Some(p) => p.ask(req, messages, attempt).await,
            None => Err(AskError::Failed(format!(
                "re-planning needs an LLM provider; choose one with {CHOICES}"
            ))),
        }
    }

    /// [`Llm::ask_raw`] with the answer constrained (see [`Provider::ask_constrained`]).
    pub async fn ask_raw_constrained(
        &self,
        req: &DecisionRequest,
        messages: &[Message],
        attempt: u32,
        constraint: &Constraint,
    ) -> Result<Answer, AskError> {
        match &self.provider {
            Some(p) => p.ask_constrained(req, messages, attempt, constraint).await,
            None => self.ask_raw(req, messages, attempt).await,
        }
    }

    /// Adds a conversation to the log (as `--record-llm` writes and `replay:` reads it).
    pub fn log(&self, d: Decision) {
        self.log.borrow_mut().push(d);
    }

    /// Milliseconds since the hook was made (the run's start).
    pub fn since_start_ms(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.start).as_secs_f64() * 1e3
    }

    pub fn has_provider(&self) -> bool {
        self.provider.is_some()
    }

    /// Every decision so far, as recorded.
    pub fn decisions(&self) -> Vec<Decision> {
        self.log.borrow().clone()
    }

    /// The file `--record-llm` writes (and `replay:` reads).
    pub fn recording(&self) -> Recording {
        Recording {
            flowc_llm_record: 1,
            decisions: self.decisions(),
        }
    }

    /// Asks the provider, validates, re-asks. `Err` is a provider failure
    /// (or no provider at all): the step fails with `llm_error`.
    pub async fn decide(&self, req: &DecisionRequest) -> Result<Outcome, String> {
        let Some(provider) = &self.provider else {
            return Err(format!(
                "this {} needs an LLM provider, and none is configured",
                if req.kind == "llm" {
                    "`llm()` condition"
                } else {
                    "`decide`"
                }
            ));
        };
        let t0 = Instant::now();
        let mut messages = conversation(req);
        let mut answers = Vec::new();
        let mut outcome = None;
        let mut failure = None;
        let mut notes = Vec::new();
        // The labels, for a provider that can hold the model's decoder to them.
        let labels = Constraint::Labels(req.options.clone());
        for attempt in 1..=MAX_REASKS + 1 {
            match provider
                .ask_constrained(req, &messages, attempt, &labels)
                .await
            {
                Ok(Answer {
                    text: answer,
                    notes: n,
                }) => {
                    notes.extend(n);
                    answers.push(answer.clone());
                    if let Some(label) = validate(&answer, &req.options) {
                        outcome = Some(Outcome::Chosen(label));
                        break;
                    }
                    messages.push(Message {
                        role: "assistant",
                        content: answer.clone(),
                    });
                    messages.push(Message {
                        role: "user",
                        content: corrective(&answer, &req.options),
                    });
                }
                Err(AskError::TooLong(t)) => {
                    failure = Some(format!(
                        "the decision's request does not fit {}; give it less context \
                         (`with {{ … }}`) or serve the model with a larger context \
                         (llama.cpp: `--ctx-size`; llama-cpp-python: `--n_ctx`) ({})",
                        t.context(),
                        t.detail
                    ));
                    break;
                }
                Err(AskError::Failed(e)) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let latency_ms = t0.elapsed().as_secs_f64() * 1e3;
        let label = match &outcome {
            Some(Outcome::Chosen(l)) => Some(l.clone()),
            _ => None,
        };
        let attempts = answers.len() as u32 + u32::from(failure.is_some());
        self.log.borrow_mut().push(Decision {
            step: req.step.clone(),
            path: req.path.clone(),
            kind: req.kind.to_string(),
            at: req.at.clone(),
            prompt: req.prompt.clone(),
            context: req.context.clone(),
            options: req.options.clone(),
            answers: answers.clone(),
            label,
            outcome: match (&outcome, &failure) {
                (Some(_), _) => DecisionOutcome::Chosen,
                (None, Some(_)) => DecisionOutcome::Failed,
                (None, None) => DecisionOutcome::NoValidAnswer,
            },
            error: failure.clone(),
            notes,
            provider: provider.name(),
            attempts,
            start_ms: (t0 - self.start).as_secs_f64() * 1e3,
            latency_ms,
        });
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(outcome.unwrap_or(Outcome::NoValidAnswer { answers }))
    }
}

/// The conversation's first two messages: what the model must do, then the question.
pub fn conversation(req: &DecisionRequest) -> Vec<Message> {
    let list = req.options.join(", ");
    let system = format!(
        "You make one decision inside an automated workflow (step `{}`). \
         Answer with exactly one of these options and nothing else: {list}.",
        req.step
    );
    let mut user = req.prompt.trim().to_string();
    if !req.context.is_null() {
        user.push_str("\n\nContext (JSON):\n");
        user.push_str(&serde_json::to_string_pretty(&req.context).unwrap_or_default());
    }
    user.push_str("\n\nOptions:");
    for (o, d) in req.options.iter().zip(&req.descriptions) {
        if d.is_empty() {
            user.push_str(&format!("\n- {o}"));
        } else {
            user.push_str(&format!("\n- {o} (the workflow then runs: {d})"));
        }
    }
    user.push_str(&format!("\n\nAnswer with one word: {list}."));
    vec![
        Message {
            role: "system",
            content: system,
        },
        Message {
            role: "user",
            content: user,
        },
    ]
}

fn corrective(answer: &str, options: &[String]) -> String {
    let shown: String = answer.trim().chars().take(80).collect();
    format!(
        "\"{shown}\" is not one of the options. Answer with exactly one of: {}. No other words.",
        options.join(", ")
    )
}

/// The option an answer names: trimmed, case-insensitive, tolerant of quotes
/// around it and a trailing period. Anything else is invalid.
pub fn validate(answer: &str, options: &[String]) -> Option<String> {
    let mut s = answer.trim();
    loop {
        let before = s;
        s = s.trim_end_matches(['.', '!']).trim();
        for q in ['"', '\'', '`', '*'] {
            if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
                s = s[1..s.len() - 1].trim();
            }
        }
        if s == before {
            break;
        }
    }
    options.iter().find(|o| o.eq_ignore_ascii_case(s)).cloned()
}

#[cfg(test)]
mod tests {

    #[test]
    fn decisions_round_trip_and_a_short_recording_reads() {
        let d = Decision {
            step: "pick".into(),
            path: "main/pick".into(),
            kind: "decide".into(),
            at: "a.flow:3:5".into(),
            prompt: "which?".into(),
            context: Value::Null,
            options: vec!["a".into(), "b".into()],
            answers: vec!["c".into(), "a".into()],
            label: Some("a".into()),
            outcome: DecisionOutcome::Chosen,
            error: None,
            notes: Vec::new(),
            provider: "cmd:x".into(),
            attempts: 2,
            start_ms: 1.5,
            latency_ms: 2.0,
        };
        let text = serde_json::to_string(&d).expect("serialises");
        assert!(text.contains(r#""outcome":"chosen""#), "{text}");
        assert_eq!(serde_json::from_str::<Decision>(&text).expect("reads"), d);
        let short: Decision =
            serde_json::from_str(r#"{"step": "pick", "prompt": "which?", "answers": ["a"]}"#)
                .expect("step, prompt and answers are enough");
        assert_eq!(short.answers, vec!["a".to_string()]);
        assert_eq!(short.outcome, DecisionOutcome::NoValidAnswer);
    }

    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn answers_are_validated_leniently_but_only_against_the_options() {
        let o = opts(&["continue", "retry", "escalate"]);
        for ok in [
            "retry",
            " Retry\n",
            "RETRY.",
            "\"retry\"",
            "'retry'.",
            "`retry`",
            "\"Retry.\"",
            "**retry**",
        ] {
            assert_eq!(validate(ok, &o).as_deref(), Some("retry"), "{ok:?}");
        }
        for bad in [
            "",
            "retry it",
            "I would retry",
            "retr",
            "delete_everything",
            "retry; escalate",
        ] {
            assert_eq!(validate(bad, &o), None, "{bad:?}");
        }
    }

    #[test]
    fn the_prompt_states_the_options_and_the_context() {
        let req = DecisionRequest {
            step: "action".into(),
            path: "main/action".into(),
            kind: "decide",
            at: "a.flow:3:5".into(),
            prompt: "What next?".into(),
            context: serde_json::json!({ "cause": "disk" }),
            options: opts(&["continue", "escalate"]),
            descriptions: vec!["\"monitor\"".into(), String::new()],
        };
        let m = conversation(&req);
        assert_eq!(m[0].role, "system");
        assert!(m[0].content.contains("continue, escalate"));
        assert!(m[1].content.starts_with("What next?"));
        assert!(m[1].content.contains("\"cause\": \"disk\""));
        assert!(
            m[1].content
                .contains("- continue (the workflow then runs: \"monitor\")")
        );
        assert!(m[1].content.contains("\n- escalate\n"));
    }
}
