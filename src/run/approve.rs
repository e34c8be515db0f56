//! `approve "message" with ctx` (docs/store.md, `approvals`): a person's answer.
//!
//! In a stored run without an answer yet, reaching it *pauses* the run: the
//! approval is kept in the store, steps already running finish (and are
//! journaled), nothing new starts ([`Pause::hold`] before every tool call and
//! decision), and the driver ends the run as `paused` once nothing runs
//! ([`Pause::settled`]). A pause is no error: the `approve` just never
//! returns, so `try`/`catch` cannot see it. On resume an answered approval
//! returns `true` (approved) or `false` (rejected). With `--interactive` on a
//! terminal, and in the REPL, the question is asked inline instead.

use std::cell::{Cell, RefCell};
use std::io::{BufRead, IsTerminal, Write};

use serde_json::Value;

use super::Interp;
use super::errors::{ErrorKind, R, RunError};
use super::eval::Scope;
use super::record::{StepKind, StepStatus};
use super::value::to_text;
use crate::ir::expr::Expr;
use crate::ir::plan::Within;
use crate::span::Span;

/// What an `approve` without an answer does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ApproveMode {
    /// No store and no terminal: nothing could resume the run, so it fails.
    #[default]
    Refuse,
    /// A stored run: it pauses until `flowc approve` and `flowc resume`.
    Pause,
    /// Asked inline on the terminal (`--interactive`, the REPL).
    Ask,
}

/// An approval the run paused at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub path: String,
    pub message: String,
    /// `within D`: when it expires unanswered (ms since the epoch).
    pub deadline_ms: Option<i64>,
}

/// The run's pause: whether one began, the steps still running, and the
/// approvals it waits for.
#[derive(Default)]
pub struct Pause {
    pausing: Cell<bool>,
    running: Cell<usize>,
    changed: tokio::sync::Notify,
    pending: RefCell<Vec<Pending>>,
    /// One inline question at a time.
    asking: tokio::sync::Mutex<()>,
}

/// A step that started (a tool call, a decision): counted until it ends.
pub struct Running<'a>(&'a Pause);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.set(self.0.running.get() - 1);
        self.0.changed.notify_one();
    }
}

impl Pause {
    /// Before a step starts: once the run pauses, nothing new starts (the
    /// step waits until the run ends); else the step is counted as running.
    pub async fn hold(&self) -> Running<'_> {
        match self.hold_now() {
            Some(r) => r,
            None => std::future::pending().await,
        }
    }

    /// [`Pause::hold`] without waiting: `None` once the run pauses.
    pub fn hold_now(&self) -> Option<Running<'_>> {
        if self.pausing.get() {
            return None;
        }
        self.running.set(self.running.get() + 1);
        Some(Running(self))
    }

    fn begin(&self, p: Pending) {
        self.pausing.set(true);
        self.pending.borrow_mut().push(p);
        self.changed.notify_one();
    }

    /// Resolves once the run paused and no step runs any more, with the
    /// approvals it waits for (in path order). Other `approve`s reached in
    /// the same turn (the items of a `for`) are listed too: it returns only
    /// once a few turns of the runtime added none.
    pub async fn settled(&self) -> Vec<Pending> {
        loop {
            self.changed.notified().await;
            let mut seen = usize::MAX;
            let mut quiet = 0;
            while self.pausing.get() && self.running.get() == 0 && quiet < 4 {
                let n = self.pending.borrow().len();
                quiet = if n == seen { quiet + 1 } else { 0 };
                seen = n;
                tokio::task::yield_now().await;
            }
            if quiet >= 4 {
                let mut all = self.pending.borrow().clone();
                all.sort_by(|a, b| a.path.cmp(&b.path));
                return all;
            }
        }
    }
}

/// Who answers at this terminal: `$USER`, else `local user`.
pub fn local_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "local user".into())
}

impl<'p> Interp<'p> {
    /// `approve "message" with ctx`: `true` approved, `false` rejected.
    pub(super) async fn approve(
        &self,
        e: &Expr,
        place: &Within,
        message: &Expr,
        context: Option<&Expr>,
        within_ms: Option<u64>,
        sc: &Scope,
    ) -> R<Value> {
        let path = self.step_path(place, sc);
        let span = Span {
            end: message.span.end,
            ..e.span
        };
        let text = to_text(&self.eval(message, sc).await?);
        let ctx = match context {
            Some(c) => Some(self.eval(c, sc).await?),
            None => None,
        };
        self.ask_approval(&path, text, ctx, within_ms, span, sc)
            .await
    }

    /// An approval at `path` (an `approve`, or an effect under a policy with
    /// `effects: "approve"`): answered before, asked inline, or the run pauses.
    /// `within_ms`: unanswered that long after it was first asked, it
    /// answers `false` (the store records it `expired`; on a terminal the
    /// question is dropped).
    pub(super) async fn ask_approval(
        &self,
        path: &crate::ir::StepPath,
        text: String,
        ctx: Option<Value>,
        within_ms: Option<u64>,
        span: Span,
        sc: &Scope,
    ) -> R<Value> {
        let id = self
            .recorder
            .start(&sc.label, path, "approve", StepKind::Approval, span);
        let key = path.to_string();
        // The host's answer: in `flowc test`, `mock approve`'s; on Restate
        // (`flowc worker`), `flowc approve --engine`'s.
        let answered = self.host.approve(path, &text, ctx.as_ref()).await.map(|a| {
            a.map_err(|why| format!("`approve` at `{key}` cannot wait for an answer: {why}"))
        });
        if let Some(answered) = answered {
            return match answered {
                Ok(yes) => {
                    self.recorder.end(id, StepStatus::Ok, 1, None);
                    self.journal_approval(&key, sc, Some(yes), span);
                    Ok(Value::Bool(yes))
                }
                Err(m) => {
                    let e = RunError::new(ErrorKind::PolicyViolation, m, &*sc.label, span).at(path);
                    self.recorder
                        .end(id, StepStatus::Failed, 1, Some(e.record()));
                    Err(vec![e])
                }
            };
        }
        // A stored run's approvals are kept with its journal.
        let stored = self.host.journal().filter(|_| self.config.run_id.is_some());
        // Answered before (`flowc approve`, then `flowc resume`).
        if let Some(journal) = stored {
            match journal.approval(&key) {
                Ok(Some(yes)) => {
                    self.recorder.end(id, StepStatus::Ok, 1, None);
                    self.journal_approval(&key, sc, Some(yes), span);
                    return Ok(Value::Bool(yes));
                }
                Ok(None) => {}
                Err(e) => return Err(self.store_failed(e, &sc.label, span).await),
            }
        }
        match self.config.approvals {
            ApproveMode::Refuse => {
                let e = RunError::new(
                    ErrorKind::PolicyViolation,
                    format!("`approve` at `{key}` waits for a person, and this run has no store to pause in"),
                    &*sc.label,
                    span,
                )
                .at(path)
                .with_help("run it with a store (without `--no-store`) to pause it for `flowc approve`, or with `--interactive` on a terminal to answer here (`flowc repl` asks on a terminal, not when its input is piped)");
                self.recorder
                    .end(id, StepStatus::Failed, 1, Some(e.record()));
                Err(vec![e])
            }
            ApproveMode::Ask => {
                let _one = self.pause.asking.lock().await;
                let _started = self.pause.hold().await;
                let asked = ask_inline(&key, &text, ctx.as_ref());
                let yes = match within_ms {
                    Some(ms) => tokio::time::timeout(std::time::Duration::from_millis(ms), asked)
                        .await
                        .unwrap_or(false),
                    None => asked.await,
                };
                if let Some(journal) = stored
                    && let Err(e) =
                        journal.approval_answered(&key, &text, ctx.as_ref(), yes, &local_user())
                {
                    return Err(self.store_failed(e, &sc.label, span).await);
                }
                self.recorder.end(id, StepStatus::Ok, 1, None);
                self.journal_approval(&key, sc, Some(yes), span);
                Ok(Value::Bool(yes))
            }
            ApproveMode::Pause => {
                let journal = stored.expect("a run pauses only with a store");
                if let Err(e) = journal.approval_ask(&key, &text, ctx.as_ref()) {
                    return Err(self.store_failed(e, &sc.label, span).await);
                }
                // The deadline counts from when it was first asked (kept on resume).
                let deadline_ms = match within_ms.map(|ms| journal.approval_deadline(&key, ms)) {
                    None => None,
                    Some(Ok(d)) => d,
                    Some(Err(e)) => return Err(self.store_failed(e, &sc.label, span).await),
                };
                self.journal_approval(&key, sc, None, span);
                // What the pause depends on is on disk before it happens.
                if let Err(e) = journal.flush() {
                    return Err(self.store_failed(e, &sc.label, span).await);
                }
                self.recorder.end(id, StepStatus::Paused, 0, None);
                self.pause.begin(Pending {
                    path: key,
                    message: text,
                    deadline_ms,
                });
                // Never answered in this process: the driver ends the run.
                std::future::pending().await
            }
        }
    }

    /// An approval's row in the journal (the step view of `flowc runs
    /// show`): `ok` with the answer, or `paused` while it waits. What
    /// `flowc resume` reads is the `approvals` table.
    fn journal_approval(&self, key: &str, sc: &Scope, answer: Option<bool>, span: Span) {
        let result = answer.map(Value::Bool);
        self.journal_step(
            super::host::Row {
                path: key,
                step: Some(&sc.label),
                tool: "approve",
                kind: Some("approval"),
                status: if answer.is_some() { "ok" } else { "paused" },
                attempts: u32::from(answer.is_some()),
                result: result.as_ref(),
                ..Default::default()
            },
            span,
        );
    }
}

/// Asks on stderr, reads the answer from stdin (off the runtime's thread):
/// `y` or `yes` approves, anything else (and end of input) rejects.
async fn ask_inline(path: &str, message: &str, context: Option<&Value>) -> bool {
    let message = crate::diag::render::printable(message);
    let mut q = format!("approval `{path}`: {message}\n");
    if let Some(c) = context {
        q.push_str(&format!("  context: {c}\n"));
    }
    q.push_str("approve? [y/N] ");
    // A thread of its own, not the runtime's blocking pool: a run cancelled
    // while the question waits must not wait for the line at its end. The
    // thread waits for input without holding stdin, and reads nothing once
    // the question is dropped (Ctrl-C): the next line is the REPL's.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The live view stays quiet while the question is on screen, and its
    // line is cleared first.
    ASKING.store(true, std::sync::atomic::Ordering::Relaxed);
    let _asked = Asked(dropped.clone());
    if std::io::stderr().is_terminal() {
        q.insert_str(0, "\r\x1b[2K");
    }
    std::thread::spawn(move || {
        if dropped.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(q.as_bytes());
        let _ = err.flush();
        drop(err);
        if wait_for_input(&dropped) {
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            let _ = tx.send(line);
        }
    });
    let line = rx.await.unwrap_or_default();
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Tells the question's reader that nobody waits for its answer any more.
struct Asked(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for Asked {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        ASKING.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Set while a question is on the terminal (the live view does not draw).
static ASKING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether an approval is being asked on the terminal now.
pub fn asking() -> bool {
    ASKING.load(std::sync::atomic::Ordering::Relaxed)
}

/// Waits until stdin has input (`true`), or until `dropped` is set (`false`),
/// looking every 100 ms.
fn wait_for_input(dropped: &std::sync::atomic::AtomicBool) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    loop {
        if dropped.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            // Input, end of input or an error: the read says which.
            _ => return !dropped.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}
