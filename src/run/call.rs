//! Calls: flows, tools (options, cache, limits, retries, timeouts) and built-in functions.

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{LocalBoxFuture, join_all};
use serde_json::{Map, Value};

use super::errors::{ErrorKind, R, RunError};
use super::eval::{Scope, collect, earliest, err};
use super::limit::Limit;
use super::memory;
use super::opts::fmt_duration;
use super::opts::{self, Opts};
use super::record::{StepKind, StepStatus};
use super::tools::{self, Limits, Now};
use super::value::{self, equal};
use super::{Env, Interp};
use crate::builtins::{self, Builtin, Failure};
use crate::ir::StepPath;
use crate::ir::expr::{Binding, Call, Flow, Target, Tool};
use crate::ir::plan::Within;
use crate::span::Span;

impl<'p> Interp<'p> {
    /// The path of a decision or an approval (its place, from the lowering)
    /// inside the step of `sc`.
    pub(super) fn step_path(&self, place: &Within, sc: &Scope) -> StepPath {
        match place {
            Within::Step => sc.path.clone(),
            Within::Under(seg) => sc.path.step(seg),
        }
    }

    /// The path of a tool, flow or `llm()` call inside the step of `sc`.
    fn call_path(&self, c: &Call, sc: &Scope) -> StepPath {
        match &c.place {
            Some(place) => self.step_path(place, sc),
            None => sc.path.child(&c.name),
        }
    }

    /// Runs a flow with its arguments bound; its steps are under `path`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn call_flow<'a>(
        &'a self,
        m: usize,
        flow: &'a Flow,
        args: Map<String, Value>,
        caller: Option<&'a Scope>,
        span: Span,
        label: Option<&str>,
        path: StepPath,
    ) -> LocalBoxFuture<'a, R<Value>> {
        let label = label.unwrap_or(&flow.name).to_string();
        Box::pin(async move {
            let none = Opts::default();
            let header: &Opts = self.opts_of(flow.options.as_deref()).map_or(&none, |o| o);
            let mut base = self.config.set.overlay(header);
            // The memory budget is the run's: a called flow keeps its caller's.
            if let (Some(c), None) = (caller, header.max_memory) {
                base.max_memory = c.opts.max_memory;
            }
            let (limits, default_limit) = match caller {
                None => {
                    let stated = header.max_concurrent.or(self.config.set.max_concurrent);
                    let mc = stated.unwrap_or(opts::DEFAULT_MAX_CONCURRENT);
                    (Rc::new(vec![Rc::new(Limit::new(mc))]), stated.is_none())
                }
                Some(c) => match header.max_concurrent {
                    Some(n) => (c.limits_within(n), false),
                    None => (c.limits.clone(), c.default_limit),
                },
            };
            // The parameters' frame: slot k is parameter k.
            let env = Env::root(flow.params.len());
            let sc = Scope {
                env: env.clone(),
                module: m,
                opts: Rc::new(base),
                limits,
                // A called flow's steps weigh with its caller's chain.
                priority: caller.map_or(0, |c| c.priority),
                default_limit,
                prev: None,
                label: Rc::from(label.as_str()),
                path,
                deadline_at: earliest(caller.and_then(|c| c.deadline_at), header.deadline),
                flow: flow.name.clone(),
                // A flow's own policy, else its caller's.
                policy: self
                    .policy_of(m, flow.options.as_deref())
                    .or_else(|| caller.and_then(|c| c.policy.clone())),
            };
            for (k, p) in flow.params.iter().enumerate() {
                let v = match args.get(&p.name) {
                    Some(v) => v.clone(),
                    None => match &p.default {
                        Some(d) => self.eval(d, &sc).await?,
                        None => Value::Null,
                    },
                };
                env.set(k, v);
            }
            let id = if caller.is_some() {
                self.recorder
                    .start(&label, &sc.path, &flow.name, StepKind::Flow, span)
            } else {
                usize::MAX
            };
            let started_ms = crate::ids::now_ms();
            let body = self.block(&flow.body, &sc);
            let r = match sc.opts.deadline {
                Some(d) => match tokio::time::timeout(d, body).await {
                    Ok(r) => r,
                    Err(_) => Err(err(
                        ErrorKind::Timeout,
                        format!(
                            "flow `{}` exceeded its deadline of {}",
                            flow.name,
                            fmt_duration(d)
                        ),
                        &sc,
                        flow.name_span,
                    )),
                },
                None => body.await,
            };
            // Re-planning of the body: stated in the header, or by `--set` for the run's flow.
            let r = if header.replan_on_error == Some(true)
                || (caller.is_none() && self.config.set.replan_on_error == Some(true))
            {
                self.replan_flow(flow, &sc, r).await
            } else {
                r
            };
            let error = r.as_ref().err().map(|e| e[0].record());
            if caller.is_some() && self.host.journal().is_some() {
                let error = error.as_ref().and_then(|e| serde_json::to_value(e).ok());
                // The arguments it was called with (its parameters' defaults not repeated).
                let args = serde_json::to_string(&args).ok();
                self.journal_step(
                    super::host::Row {
                        path: &sc.path.to_string(),
                        step: Some(&label),
                        tool: &flow.name,
                        kind: Some("flow"),
                        status: if r.is_ok() { "ok" } else { "failed" },
                        attempts: 1,
                        error: error.as_ref(),
                        started_ms,
                        args: args.as_deref(),
                        ..Default::default()
                    },
                    span,
                );
            }
            self.recorder.end(
                id,
                if r.is_ok() {
                    StepStatus::Ok
                } else {
                    StepStatus::Failed
                },
                1,
                error,
            );
            r
        })
    }

    pub(super) fn builtin_fn(&self, c: &Call, span: Span, sc: &Scope) -> R<Value> {
        let name = &*c.name;
        let b = match c.target {
            Target::Builtin(b) => b,
            _ => Builtin::from_name(name),
        };
        match b {
            Some(Builtin::Stable) => {
                let arg = &c.args[0].value;
                let now = self.eval_sync(arg, sc)?;
                let Some((until, prev)) = &sc.prev else {
                    return Ok(Value::Bool(false));
                };
                // The same frames, with the previous state's in place of the
                // `until`'s (frames opened inside `until` keep their slots).
                let Some(env) = sc.env.rebase(until, prev) else {
                    return Ok(Value::Bool(false));
                };
                let before = self.eval_sync(arg, &sc.with_env(env))?;
                Ok(Value::Bool(equal(&now, &before)))
            }
            Some(Builtin::Llm) => Err(err(
                ErrorKind::LlmError,
                "`llm()` cannot be evaluated here",
                sc,
                span,
            )),
            _ => {
                let args = c
                    .args
                    .iter()
                    .map(|a| self.eval_sync(&a.value, sc))
                    .collect::<R<Vec<_>>>()?;
                self.builtin_values(name, &args, c, span, sc)
            }
        }
    }

    /// A built-in function applied to evaluated arguments.
    pub(super) fn builtin_values(
        &self,
        name: &str,
        args: &[Value],
        c: &Call,
        span: Span,
        sc: &Scope,
    ) -> R<Value> {
        let b = match c.target {
            Target::Builtin(Some(b)) => Some(b),
            _ => Builtin::from_name(name),
        };
        let Some(b) = b else {
            return Err(err(
                ErrorKind::TypeError,
                format!("`{name}` is not a built-in function"),
                sc,
                span,
            ));
        };
        let what = format!("the result of `{name}`");
        if sc.opts.max_memory.is_some()
            && let Some(bytes) = builtins::estimate(b, args)
        {
            self.within_memory(bytes, &what, sc, span)?;
        }
        let ctx = builtins::Ctx {
            cutoff: sc.deadline_at,
        };
        let v = builtins::call(b, args, &ctx).map_err(|f| match f {
            Failure::Stopped => err(
                ErrorKind::Timeout,
                format!("`{name}` was stopped at the deadline of an enclosing block"),
                sc,
                span,
            ),
            Failure::Bad { message, arg } => {
                let at = arg
                    .and_then(|i| c.args.get(i))
                    .map_or(span, |a| a.value.span);
                err(ErrorKind::TypeError, message, sc, at)
            }
        })?;
        self.built(v, &what, sc, span)
    }

    /// A call: a built-in function, a flow or a tool.
    pub(super) async fn call(
        &self,
        c: &Call,
        span: Span,
        sc: &Scope,
        label: Option<&str>,
    ) -> R<Value> {
        // Resolved by the lowering (every call of the program is).
        let args_wait = c.args_wait;
        let (m, name, tool, flow) = match c.target {
            Target::Tool(id) => {
                let t = self.lowered.tool(id);
                (t.module, &*t.name, Some(t), None)
            }
            Target::Flow(id) => {
                let f = self.lowered.flow(id);
                (f.module, &*f.name, None, Some(f))
            }
            Target::Llm => {
                let path = self.call_path(c, sc);
                return Box::pin(self.llm_condition(c, span, sc, path)).await;
            }
            Target::Builtin(_) => (sc.module, &*c.name, None, None),
        };
        if tool.is_none() && flow.is_none() {
            if name != "stable" && args_wait {
                // Arguments that wait (a `for`, a tool call): evaluate them first.
                let vals = collect(join_all(c.args.iter().map(|a| self.eval(&a.value, sc))).await)?;
                return self.builtin_values(name, &vals, c, span, sc);
            }
            return self.builtin_fn(c, span, sc);
        }
        let path = self.call_path(c, sc);
        // Arguments, evaluated concurrently when they wait; else on the spot,
        // straight into the record (no list of values in between).
        let mut args = Map::with_capacity(c.args.len());
        if args_wait {
            let vals = collect(join_all(c.args.iter().map(|a| self.eval(&a.value, sc))).await)?;
            for (a, v) in c.args.iter().zip(vals) {
                if let Some(n) = &a.name {
                    args.insert(n.to_string(), v);
                }
            }
        } else {
            args = self.args_now(c, sc)?;
        }
        if let Some(r) = self.intercepted(m, name, &args, tool, label, span, &path) {
            return r;
        }
        let Some(tool) = tool else {
            let flow = flow.expect("a call that is not a tool or a built-in is a flow");
            return self
                .call_flow(m, flow, args, Some(sc), span, label, path)
                .await;
        };
        // Defaults of omitted parameters.
        let sig = tool.sig;
        for (p, ps) in tool.params.iter().zip(sig.params.iter()) {
            if let Some(d) = &p.default
                && !args.contains_key(&ps.name)
            {
                let dsc = Scope {
                    env: Env::root(0),
                    module: m,
                    ..sc.clone()
                };
                args.insert(ps.name.clone(), self.eval(d, &dsc).await?);
            }
        }
        let o = self.call_opts(c, tool, sc);
        let step: &str = label.unwrap_or(name);
        let input = Value::Object(args);
        self.call_tool(c, tool, &o, input, span, sc, step, &path)
            .await
    }

    /// The arguments of a call that do not wait, evaluated on the spot
    /// straight into the record (no list of values in between).
    fn args_now(&self, c: &Call, sc: &Scope) -> R<Map<String, Value>> {
        let mut args = Map::with_capacity(c.args.len());
        for a in &c.args {
            let v = self.eval_sync(&a.value, sc)?;
            if let Some(n) = &a.name {
                // `String::from`, not `to_string`: no formatter for each argument.
                args.insert(String::from(&**n), v);
            }
        }
        Ok(args)
    }

    /// What the host gives for a call without running it (in a test: a
    /// mocked tool or flow, or a tool the test refuses to run).
    #[allow(clippy::too_many_arguments)]
    fn intercepted(
        &self,
        m: usize,
        name: &str,
        args: &Map<String, Value>,
        tool: Option<&Tool<'_>>,
        label: Option<&str>,
        span: Span,
        path: &StepPath,
    ) -> Option<R<Value>> {
        let intercept = super::host::Intercept {
            module: self.run_modules[m],
            name,
            args,
            local: tool.map(|t| matches!(&t.binding, Binding::Builtin(b) if b != "http_get")),
            span,
        };
        let r = self.host.intercept(&intercept)?;
        Some(r.map_err(|f| {
            vec![
                RunError::new(ErrorKind::ToolError, f.message, label.unwrap_or(name), span)
                    .at(path)
                    .with_help(f.help),
            ]
        }))
    }

    /// The options a tool call runs with: its scope's, then the tool's,
    /// then the call's own. (A function of its own: the empty options are
    /// not kept in the call's state while the tool runs.)
    fn call_opts(&self, c: &Call, tool: &Tool<'_>, sc: &Scope) -> Rc<Opts> {
        let none = Opts::default();
        let tool_opts: &Opts = self.opts_of(tool.options.as_deref()).map_or(&none, |o| o);
        match (&tool.options, self.opts_of(c.options.as_deref())) {
            (None, None) => sc.opts.clone(),
            (_, None) => Rc::new(sc.opts.overlay(tool_opts)),
            (_, Some(co)) => Rc::new(sc.opts.overlay(tool_opts).overlay(co)),
        }
    }

    /// The tool's own concurrency limit (`max_concurrent` in its options),
    /// one for all its calls.
    fn tool_limit(&self, tool: &Tool<'_>) -> Option<Rc<Limit>> {
        let n = self
            .opts_of(tool.options.as_deref())
            .and_then(|t| t.max_concurrent)?;
        Some(
            self.tool_limits
                .borrow_mut()
                .entry((tool.module, tool.name.to_string()))
                .or_insert_with(|| Rc::new(Limit::new(n)))
                .clone(),
        )
    }

    /// A statement's tool call taken without a future, when nothing in it
    /// waits: its arguments do not, nor a default of a parameter left out;
    /// no cache, no effect (its start is committed first), no `max_memory`;
    /// a permit free under every limit; the run not pausing; and the host
    /// answers the attempt on the spot (a built-in that does not wait, a
    /// test's mock). It is the same step as [`Interp::call`] takes, with the
    /// same rows and record. `None`: the call goes that way instead (with a
    /// failure that `retries` would try again, too: the attempt was a
    /// built-in's, which runs again there).
    ///
    /// Most steps of a large run are such calls; taken so, a step is not a
    /// future nested three deep, which moves its whole state at each level.
    pub(super) fn call_at_once(
        &self,
        c: &Call,
        span: Span,
        sc: &Scope,
        label: Option<&str>,
    ) -> Option<R<Value>> {
        let Target::Tool(id) = c.target else {
            return None;
        };
        let tool = self.lowered.tool(id);
        if c.args_wait || tool.effect {
            return None;
        }
        let leaves_out_a_default = tool
            .params
            .iter()
            .zip(tool.sig.params.iter())
            .any(|(p, ps)| {
                p.default.is_some() && !c.args.iter().any(|a| a.name.as_deref() == Some(&*ps.name))
            });
        if leaves_out_a_default {
            return None;
        }
        let o = self.call_opts(c, tool, sc);
        if (o.cache.is_some() && !self.config.no_cache) || o.max_memory.is_some() {
            return None;
        }
        let (m, name) = (tool.module, &*tool.name);
        let path = self.call_path(c, sc);
        let args = match self.args_now(c, sc) {
            Ok(a) => a,
            Err(e) => return Some(Err(e)),
        };
        if let Some(r) = self.intercepted(m, name, &args, Some(tool), label, span, &path) {
            return Some(r);
        }
        let step: &str = label.unwrap_or(name);
        let input = Value::Object(args);
        if let Err(e) = self.hold_tool_to_policy(name, tool.effect, step, span, &path, sc) {
            return Some(Err(e));
        }
        if let Some(v) = self.replay_tool(name, tool, &input, step, &path, span) {
            return Some(Ok(v));
        }
        let mut permits = Permits {
            outer: &sc.limits,
            outer_held: 0,
            tool: None,
        };
        for s in sc.limits.iter().rev() {
            if !s.try_take(sc.priority) {
                return None;
            }
            permits.outer_held += 1;
        }
        if let Some(s) = self.tool_limit(tool) {
            if !s.try_take(sc.priority) {
                return None;
            }
            permits.tool = Some(s);
        }
        let _started = self.pause.hold_now()?;
        let call = self.tool_call(tool, &o, &input, None, &path, 1);
        let outcome = match self.host.call_now(&call)? {
            Now::Input => Ok(Ok(None)),
            Now::Done(r) => Ok(r.map(Some)),
        };
        let (r, permanent) = self.outcome(outcome, tool, &o, &input, step, span, &path);
        if let Err(e) = &r
            && 1 <= o.retries()
            && o.retries_on(e.kind)
            && !permanent
        {
            return None;
        }
        let id = self
            .recorder
            .start(step, &path, &tool.name, StepKind::Tool, span);
        let journaled = self.journal_at_once(tool, &input);
        let r = match r {
            Ok(v) => Ok(v.unwrap_or(input)),
            Err(mut e) => {
                e.attempts = 1;
                Err(e)
            }
        };
        drop(permits);
        if let Some(at) = journaled {
            self.journal_at_once_ended(at, tool, step, &path, kept(tool, &r), span);
        }
        Some(self.tool_ended(tool, None, id, r, 1, None, span))
    }

    /// A tool call once its arguments are evaluated and its options known:
    /// the policy's limits, the replayed step on resume, the cache, an
    /// effect's approval, the concurrency limits and memory budget, the
    /// idempotency key, the journal's rows, the attempts through the host,
    /// and the step in the record.
    #[allow(clippy::too_many_arguments)]
    async fn call_tool(
        &self,
        c: &Call,
        tool: &Tool<'_>,
        o: &Opts,
        input: Value,
        span: Span,
        sc: &Scope,
        step: &str,
        path: &StepPath,
    ) -> R<Value> {
        let name = &*tool.name;
        self.hold_tool_to_policy(name, tool.effect, step, span, path, sc)?;

        // On resume, a step with a journaled success returns it without running.
        if let Some(v) = self.replay_tool(name, tool, &input, step, path, span) {
            return Ok(v);
        }

        // Cache of pure tools (docs/store.md): this run's results, then the store's;
        // identical calls in flight wait for the first one, then find its result.
        let cache = match o.cache {
            Some(ttl) if !tool.effect && !self.config.no_cache => {
                Some(self.cache_key(name, tool, &input, ttl))
            }
            _ => None,
        };
        let flight = cache.as_ref().map(|key| self.flight_lock(key));
        let _flight = match &flight {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        if let Some(key) = &cache
            && let Some(v) = self.cache_hit(key, step, name, path, span)
        {
            return Ok(v);
        }

        // A policy with `effects: "approve"`: a person approves each effect first.
        if tool.effect {
            Box::pin(self.approve_effect(name, &input, step, span, path, sc)).await?;
        }

        // Concurrency: the innermost limit first, then the enclosing ones, then the tool's own.
        let tool_limit = self.tool_limit(tool);
        // `max_memory`: over the budget, a new step waits for memory to be released.
        let _running = match o.max_memory {
            Some(budget) => Some(Box::pin(self.memory.admit(budget)).await),
            None => None,
        };
        let mut permits = Permits {
            outer: &sc.limits,
            outer_held: 0,
            tool: None,
        };
        for s in sc.limits.iter().rev() {
            s.take(sc.priority).await;
            permits.outer_held += 1;
        }
        if let Some(s) = tool_limit {
            s.take(sc.priority).await;
            permits.tool = Some(s);
        }

        // The idempotency key (docs/store.md): a string, or `true` for one derived
        // from the run id and the step path; the same on every attempt and on resume.
        let key = match c
            .options
            .as_ref()
            .and_then(|o| o.idempotency_key.as_deref())
        {
            Some(e) if tool.effect => match self.eval(e, sc).await? {
                Value::String(s) => Some(s),
                Value::Bool(true) => Some(self.derived_key(path)),
                _ => None,
            },
            _ => None,
        };
        // Once the run pauses at an `approve`, no new step starts.
        let _started = self.pause.hold().await;
        let (id, journaled) = self.tool_started(tool, &input, step, path, span);
        // An effect never starts unless its `running` row is durable
        // (docs/store.md): its start is on disk before it runs.
        if tool.effect
            && let Some(row) = &journaled
            && let Err(e) = row.started(key.as_deref())
        {
            return Err(Box::pin(self.store_failed(e, step, span)).await);
        }
        let _guard = super::record::StepGuard {
            recorder: &self.recorder,
            id,
        };
        let (result, attempt) = self
            .attempts(tool, o, input, key.as_deref(), step, span, path)
            .await;
        drop(permits);
        self.tool_ended(tool, journaled, id, result, attempt, cache.as_ref(), span)
    }

    /// A tool call starts: its step in the record, and its row for the
    /// journal (written when it ends; an effect's also when it starts).
    fn tool_started<'a>(
        &'a self,
        tool: &'a Tool<'_>,
        input: &Value,
        step: &'a str,
        path: &StepPath,
        span: Span,
    ) -> (usize, Option<super::journal::ToolRow<'a>>) {
        let id = self
            .recorder
            .start(step, path, &tool.name, StepKind::Tool, span);
        let journaled = self.host.journal().map(|j| {
            let call = value::CallText::new(&tool.binding_text, input, super::host::ARGS_KEPT);
            super::journal::ToolRow::new(j, path.text(), step, &tool.name, tool.effect, call)
        });
        (id, journaled)
    }

    /// A tool call ended after `attempt` attempts: its row is written, its
    /// step ends in the record, and a success is cached under `cache`.
    #[allow(clippy::too_many_arguments)]
    fn tool_ended(
        &self,
        tool: &Tool<'_>,
        journaled: Option<super::journal::ToolRow<'_>>,
        id: usize,
        result: Result<Value, RunError>,
        attempt: u32,
        cache: Option<&super::cache::CacheKey>,
        span: Span,
    ) -> R<Value> {
        let name = &*tool.name;
        if let Some(mut row) = journaled
            && let Err(e) = row.ended(kept(tool, &result), attempt)
        {
            self.end_not_journaled(name, e, span);
        }
        match result {
            Ok(v) => {
                self.recorder.end(id, StepStatus::Ok, attempt, None);
                if let Some(key) = cache {
                    self.cache_keep(key, name, &v, span);
                }
                Ok(v)
            }
            Err(e) => {
                self.recorder
                    .end(id, StepStatus::Failed, attempt, Some(e.record()));
                Err(vec![e])
            }
        }
    }

    /// The attempts of a tool call through the host, each within its
    /// `timeout`, retried as `retries`, `retry_on` and `backoff` say; the
    /// result checked against the tool's result type and `max_memory`.
    /// Returns it with the number of attempts made. `input` is the result
    /// itself when the tool gives it back unchanged (`echo`, `sleep`).
    #[allow(clippy::too_many_arguments)]
    async fn attempts(
        &self,
        tool: &Tool<'_>,
        o: &Opts,
        input: Value,
        key: Option<&str>,
        step: &str,
        span: Span,
        path: &StepPath,
    ) -> (Result<Value, RunError>, u32) {
        let timeout = o.timeout();
        let retries = o.retries();
        let mut attempt = 0u32;
        let result = loop {
            attempt += 1;
            let mut call = self.tool_call(tool, o, &input, key, path, attempt);
            // An attempt the host answers on the spot (a built-in that does
            // not wait) needs no future and no timer. `None` stands for the
            // input given back (moved into the result at the end, not copied).
            let outcome: Result<Result<Option<Value>, _>, _> = match self.host.call_now(&call) {
                Some(Now::Input) => Ok(Ok(None)),
                Some(Now::Done(r)) => Ok(r.map(Some)),
                None => {
                    // When the attempt times out: an exec tool that exits before it
                    // ends its call by then (reading its pipes for less than the grace).
                    call.limits.ends = tokio::time::Instant::now().checked_add(timeout);
                    // Boxed: the timer's state is not carried by every call
                    // (most are answered at once, above).
                    Box::pin(self.attempt_in_time(call, timeout)).await
                }
            };
            let (r, permanent) = self.outcome(outcome, tool, o, &input, step, span, path);
            match r {
                Ok(v) => break Ok(v),
                Err(mut e) => {
                    e.attempts = attempt;
                    if attempt <= retries && o.retries_on(e.kind) && !permanent {
                        let base = o.backoff().as_secs_f64() * 2f64.powi(attempt as i32 - 1);
                        // Not kept in the state while it waits.
                        drop(e);
                        Box::pin(super::timer::sleep(Duration::from_secs_f64(
                            base * jitter(),
                        )))
                        .await;
                        continue;
                    }
                    break Err(e);
                }
            }
        };
        (result.map(|v| v.unwrap_or(input)), attempt)
    }

    /// Attempt `attempt` of a call of `tool` with `input`, as the host takes it.
    fn tool_call<'a>(
        &'a self,
        tool: &'a Tool<'_>,
        o: &Opts,
        input: &'a Value,
        key: Option<&'a str>,
        path: &'a StepPath,
        attempt: u32,
    ) -> super::host::ToolCall<'a> {
        let m = tool.module;
        super::host::ToolCall {
            module: self.run_modules[m],
            tool: &tool.name,
            binding: &tool.binding,
            dir: self.module_dir(m),
            path,
            attempt,
            input,
            limits: Limits {
                max_output: o.max_output(),
                ends: None,
            },
            key,
            timeout: o.timeout(),
        }
    }

    /// What an attempt's outcome makes of the call: its result (`None`:
    /// the input given back) checked against the tool's result type and
    /// `max_memory`, or its error; and whether every attempt would fail so
    /// (a program that cannot start).
    #[allow(clippy::too_many_arguments)]
    fn outcome(
        &self,
        outcome: Result<Result<Option<Value>, tools::ToolFailure>, tokio::time::error::Elapsed>,
        tool: &Tool<'_>,
        o: &Opts,
        input: &Value,
        step: &str,
        span: Span,
        path: &StepPath,
    ) -> (Result<Option<Value>, RunError>, bool) {
        let (name, sig) = (&*tool.name, tool.sig);
        let mut permanent = false;
        let r = match outcome {
            Ok(Ok(v))
                if o.max_memory
                    .is_some_and(|b| memory::size(v.as_ref().unwrap_or(input)) > b) =>
            {
                let v = v.as_ref().unwrap_or(input);
                let budget = o.max_memory.unwrap_or(0);
                Err(RunError::new(
                        ErrorKind::PolicyViolation,
                        format!(
                            "the result of `{name}` takes about {}, more than max_memory ({}) allows a run to hold",
                            opts::fmt_size(memory::size(v)),
                            opts::fmt_size(budget)
                        ),
                        step,
                        span,
                    )
                    .at(path)
                    .with_help("raise `max_memory` in the flow's `with { }` or with `--set max_memory=…`, or have the tool return less"))
            }
            Ok(Ok(v)) => {
                let ret = sig.ret.as_ref().expect("tools have a result type");
                let got = v.as_ref().unwrap_or(input);
                match value::conforms(got, ret) {
                    Ok(()) if value::in_order(got, ret) => Ok(v),
                    Ok(()) => Ok(Some(value::in_declared_order(
                        v.unwrap_or_else(|| input.clone()),
                        ret,
                    ))),
                    Err(mm) => Err(RunError::new(
                        ErrorKind::TypeError,
                        format!(
                            "`{name}` returned {} at `{}`, expected `{}`",
                            mm.found, mm.path, mm.expected
                        ),
                        step,
                        span,
                    )
                    .at(path)
                    .with_help(format!(
                        "the tool's declared result type is `{}`",
                        sig.ret.as_ref().expect("result type")
                    ))),
                }
            }
            Ok(Err(f)) => {
                permanent = f.permanent;
                let message = if f.permanent {
                    format!("tool `{name}`: {}", f.message)
                } else {
                    f.message
                };
                let mut e = RunError::new(ErrorKind::ToolError, message, step, span).at(path);
                e.help = f.help;
                Err(e)
            }
            Err(_) => Err(RunError::new(
                ErrorKind::Timeout,
                format!(
                    "`{name}` did not finish within {}",
                    fmt_duration(o.timeout())
                ),
                step,
                span,
            )
            .at(path)
            .with_help("raise it with `with { timeout: … }` on the call or the tool")),
        };
        (r, permanent)
    }

    /// One attempt through the host, stopped after `timeout`; `Err` when it
    /// did not finish by then.
    async fn attempt_in_time(
        &self,
        call: super::host::ToolCall<'_>,
        timeout: Duration,
    ) -> Result<Result<Option<Value>, tools::ToolFailure>, tokio::time::error::Elapsed> {
        let mut call = std::pin::pin!(self.host.call(call));
        // Poll once before arming the timer: builtins often finish at once.
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
        match first {
            std::task::Poll::Ready(r) => Ok(r.map(Some)),
            std::task::Poll::Pending => tokio::time::timeout(timeout, call)
                .await
                .map(|r| r.map(Some)),
        }
    }

    /// The idempotency key of `idempotency_key: true`: from the run id and
    /// the step's path, so a resumed run gives the same one.
    fn derived_key(&self, path: &StepPath) -> String {
        let run = self.config.run_id.as_deref().unwrap_or("");
        let h = crate::ids::sha256_hex(format!("{run}\0{path}").as_bytes());
        format!("flowc-{run}-{}", &h[..16])
    }
}

/// One attempt of a call of a tool bound by `kind`; exec tools run in `dir`.
/// `flowc worker` runs the steps Restate gives it with this. `mcp`: the
/// run's MCP servers (started at their first call).
#[allow(clippy::too_many_arguments)]
pub async fn invoke_binding(
    kind: &Binding,
    dir: &std::path::Path,
    http: &tools::http::Client,
    mcp: &tools::mcp::Pool,
    input: &Value,
    limits: Limits,
    key: Option<&str>,
) -> tools::ToolResult {
    let max_output = limits.max_output;
    match kind {
        Binding::Builtin(n) => tools::builtin::call(n, input, dir, http, max_output).await,
        Binding::Exec { argv } => {
            // Boxed, as the HTTP call below: their futures are large, and every
            // step's future (the scheduler boxes one per statement) would carry them.
            Box::pin(tools::exec::call(argv, dir, input, limits, key)).await
        }
        Binding::Http { method, url } => {
            Box::pin(http.call(method, url, input, max_output, key)).await
        }
        Binding::Mcp { server, tool } => {
            Box::pin(mcp.call(server, tool, dir, input, limits, key)).await
        }
    }
}

/// Concurrency permits held by a running call: the innermost limits of
/// `outer` (counted by `outer_held`) and the tool's own; released on drop,
/// also when the call is cancelled while it waits.
pub(super) struct Permits<'a> {
    outer: &'a [Rc<Limit>],
    outer_held: usize,
    tool: Option<Rc<Limit>>,
}

impl Drop for Permits<'_> {
    fn drop(&mut self) {
        for s in self.outer.iter().rev().take(self.outer_held) {
            s.give();
        }
        if let Some(s) = &self.tool {
            s.give();
        }
    }
}

/// The largest result of a pure step the journal keeps (bytes, as
/// `max_memory` counts them).
const JOURNAL_MAX_RESULT: u64 = 256 * 1024;

/// What the journal keeps of a call's outcome: a pure step's large result
/// is not kept (it runs again on resume): the journal would hold a copy of
/// every one.
fn kept<'a>(
    tool: &Tool<'_>,
    r: &'a Result<Value, RunError>,
) -> Result<Option<&'a Value>, &'a RunError> {
    r.as_ref()
        .map(|v| Some(v).filter(|v| tool.effect || memory::size(v) <= JOURNAL_MAX_RESULT))
}

/// A factor in [0.8, 1.2) for retry backoff.
pub(super) fn jitter() -> f64 {
    0.8 + 0.4 * fastrand::f64()
}
