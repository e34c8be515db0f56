//! The cache of pure tools (docs/store.md, `cache`): the key is the tool's binding and its
//! canonical arguments; this run's results first, then the store's, so a
//! result is reused across runs within the call's TTL. Identical calls in
//! flight share one execution: the later ones wait for the first, then find
//! its result. Failures are never kept.

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Interp;
use super::record::StepKind;
use crate::ir::StepPath;
use crate::ir::expr::Tool;
use crate::span::Span;

/// A cached call's key.
pub(super) struct CacheKey {
    /// The tool's binding as text (`ir::Binding::text`, made by the lowering).
    binding: Rc<str>,
    /// The arguments as canonical JSON.
    args: String,
    ttl: Duration,
}

impl CacheKey {
    /// The key of this run's results and of the in-flight locks.
    fn text(&self) -> String {
        format!("{}\n{}", self.binding, self.args)
    }
}

impl Interp<'_> {
    pub(super) fn cache_key(
        &self,
        _name: &str,
        tool: &Tool<'_>,
        input: &Value,
        ttl: Duration,
    ) -> CacheKey {
        CacheKey {
            binding: tool.binding_text.clone(),
            args: crate::value::canonical(input),
            ttl,
        }
    }

    /// The lock of calls with this key: the one that holds it runs, identical
    /// calls wait for it.
    pub(super) fn flight_lock(&self, key: &CacheKey) -> Rc<tokio::sync::Mutex<()>> {
        self.inflight
            .borrow_mut()
            .entry(key.text())
            .or_default()
            .clone()
    }

    /// A cached result for `key`, as a step of kind tool that is `cached`
    /// (with the entry's age) in the record and the journal.
    pub(super) fn cache_hit(
        &self,
        key: &CacheKey,
        step: &str,
        name: &str,
        path: &StepPath,
        span: Span,
    ) -> Option<Value> {
        let (v, age) = self.cached(key, span)?;
        let id = self.recorder.start(step, path, name, StepKind::Tool, span);
        self.recorder.cached(id, age);
        self.journal_step(
            super::host::Row {
                path: &path.to_string(),
                step: Some(step),
                tool: name,
                status: "cached",
                cached_age_s: Some((age.as_secs_f64() * 1000.0).round() / 1000.0),
                args: Some(&key.args),
                ..Default::default()
            },
            span,
        );
        Some(v)
    }

    /// A cached result for `key` younger than its TTL, with its age: from
    /// this run, else from the store (a store that cannot be read is a
    /// warning and a miss).
    fn cached(&self, key: &CacheKey, span: Span) -> Option<(Value, Duration)> {
        let text = key.text();
        if let Some((at, v)) = self.cache.borrow().get(&text)
            && at.elapsed() <= key.ttl
        {
            return Some((v.clone(), at.elapsed()));
        }
        match self.host.cache()?.get(&key.binding, &key.args, key.ttl) {
            Ok(Some(hit)) => {
                let at = Instant::now()
                    .checked_sub(hit.age)
                    .unwrap_or_else(Instant::now);
                self.cache
                    .borrow_mut()
                    .insert(text, (at, hit.value.clone()));
                Some((hit.value, hit.age))
            }
            Ok(None) => None,
            Err(e) => {
                self.recorder.warn(
                    format!("the cache could not be read: {e}"),
                    span,
                    self.sources,
                );
                None
            }
        }
    }

    /// Keeps a success of tool `name` for `key`: in this run, and in the
    /// store for later runs (a store that cannot keep it is a warning).
    pub(super) fn cache_keep(&self, key: &CacheKey, name: &str, v: &Value, span: Span) {
        self.cache
            .borrow_mut()
            .insert(key.text(), (Instant::now(), v.clone()));
        if let Some(cache) = self.host.cache()
            && let Err(e) = cache.put(name, &key.binding, &key.args, v)
        {
            self.recorder.warn(
                format!("the cache could not keep a result: {e}"),
                span,
                self.sources,
            );
        }
    }
}
