//! What `/metrics` counts of the runs this server runs, kept in memory
//! since the server started (Prometheus takes a counter that starts again
//! at 0 as a restart): runs started and ended by flow and status, LLM calls
//! (decisions, re-plans) by flow, and a histogram of step durations by flow
//! and kind, from the journal of each run when it ends.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::store::Store;

/// The histogram's upper bounds, in seconds.
pub const BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
];

/// Step durations of one flow and kind.
#[derive(Default)]
struct Histogram {
    /// Per bucket of [`BUCKETS`], not cumulative; the last is `+Inf`.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let i = BUCKETS.partition_point(|b| *b < seconds);
        self.counts[i] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

/// A run being run here: what is told of it before its end.
struct Running {
    flow: String,
    /// When this take-up of it started (ms since the epoch): steps that
    /// started before were counted by an earlier one, or replayed.
    since_ms: i64,
    decisions: u64,
    replans: u64,
}

#[derive(Default)]
struct Inner {
    running: HashMap<String, Running>,
    /// Runs that ended and whose journal is not read yet: their flow and
    /// since when.
    ended: HashMap<String, (String, i64)>,
    /// flow → runs started (or taken up again) here.
    started: BTreeMap<String, u64>,
    /// (flow, status) → runs that ended here so.
    finished: BTreeMap<(String, String), u64>,
    /// (flow, kind) → LLM calls (`decision`, `replan`).
    llm: BTreeMap<(String, &'static str), u64>,
    /// (flow, kind) → step durations.
    steps: BTreeMap<(String, String), Histogram>,
}

/// The counters of one server.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner)
    }

    /// Run `run` of `flow` starts (or is taken up again) here; without
    /// `flow`, it is read from the store (`store`).
    pub fn started(&self, store: &Store, run: &str, flow: Option<&str>) {
        let since_ms = now_ms();
        let flow = match flow {
            Some(f) => f.to_string(),
            None => store
                .run(run)
                .ok()
                .and_then(Result::ok)
                .map_or_else(|| "?".to_string(), |r| r.flow),
        };
        self.with(|m| {
            *m.started.entry(flow.clone()).or_default() += 1;
            m.running.insert(
                run.to_string(),
                Running {
                    flow,
                    since_ms,
                    decisions: 0,
                    replans: 0,
                },
            );
        });
    }

    /// An LLM decision (`replan: false`) or re-plan was asked for in `run`.
    pub fn llm_call(&self, run: &str, replan: bool) {
        self.with(|m| {
            if let Some(r) = m.running.get_mut(run) {
                if replan {
                    r.replans += 1;
                } else {
                    r.decisions += 1;
                }
            }
        });
    }

    /// Run `run` ended here with `status` (its journal may not be written
    /// whole yet: [`Metrics::journaled`] reads it).
    pub fn finished(&self, run: &str, status: &str) {
        self.with(|m| {
            let Some(r) = m.running.remove(run) else {
                return;
            };
            *m.finished
                .entry((r.flow.clone(), status.to_string()))
                .or_default() += 1;
            for (kind, n) in [("decision", r.decisions), ("replan", r.replans)] {
                if n > 0 {
                    *m.llm.entry((r.flow.clone(), kind)).or_default() += n;
                }
            }
            m.ended.insert(run.to_string(), (r.flow, r.since_ms));
        });
    }

    /// Run `run` ended and its journal is written: the durations of the
    /// steps this take-up ran are read from it, in the store (`store`).
    pub fn journaled(&self, store: &Store, run: &str) {
        let Some((flow, since_ms)) = self.with(|m| m.ended.remove(run)) else {
            return;
        };
        let steps = store.journal(run).ok().unwrap_or_else(|| {
            eprintln!("flowc serve: cannot read run {run}'s journal for /metrics");
            Vec::new()
        });
        self.with(|m| {
            for s in &steps {
                // Steps this take-up ran: not those replayed from the journal.
                let timed = matches!(s.status, "ok" | "failed" | "cancelled" | "cached")
                    && s.started_ms >= since_ms;
                if let (true, Some(end)) = (timed, s.ended_ms) {
                    let seconds = (end - s.started_ms).max(0) as f64 / 1000.0;
                    m.steps
                        .entry((flow.clone(), s.kind.clone()))
                        .or_default()
                        .observe(seconds);
                }
            }
        });
    }

    /// The counters in Prometheus' text format.
    pub fn text(&self, out: &mut String) {
        self.with(|m| {
            out.push_str(
                "# HELP flowc_runs_started_total Runs started (or taken up again) in this server since it started, by flow.\n",
            );
            out.push_str("# TYPE flowc_runs_started_total counter\n");
            for (flow, n) in &m.started {
                let _ = writeln!(
                    out,
                    "flowc_runs_started_total{{flow=\"{}\"}} {n}",
                    label(flow)
                );
            }
            out.push_str(
                "# HELP flowc_runs_total Runs that ended (or paused) in this server since it started, by flow and status.\n",
            );
            out.push_str("# TYPE flowc_runs_total counter\n");
            for ((flow, status), n) in &m.finished {
                let _ = writeln!(
                    out,
                    "flowc_runs_total{{flow=\"{}\",status=\"{}\"}} {n}",
                    label(flow),
                    label(status)
                );
            }
            out.push_str(
                "# HELP flowc_llm_calls_total LLM calls of the runs this server ran since it started (decisions and re-plans asked), by flow and kind.\n",
            );
            out.push_str("# TYPE flowc_llm_calls_total counter\n");
            for ((flow, kind), n) in &m.llm {
                let _ = writeln!(
                    out,
                    "flowc_llm_calls_total{{flow=\"{}\",kind=\"{kind}\"}} {n}",
                    label(flow)
                );
            }
            out.push_str(
                "# HELP flowc_step_duration_seconds How long the steps of the runs this server ran took, by flow and kind (tool, flow, llm, approval).\n",
            );
            out.push_str("# TYPE flowc_step_duration_seconds histogram\n");
            for ((flow, kind), h) in &m.steps {
                let labels = format!("flow=\"{}\",kind=\"{}\"", label(flow), label(kind));
                let mut below = 0;
                for (b, n) in BUCKETS.iter().zip(h.counts) {
                    below += n;
                    let _ = writeln!(
                        out,
                        "flowc_step_duration_seconds_bucket{{{labels},le=\"{b}\"}} {below}"
                    );
                }
                let _ = writeln!(
                    out,
                    "flowc_step_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "flowc_step_duration_seconds_sum{{{labels}}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "flowc_step_duration_seconds_count{{{labels}}} {}",
                    h.count
                );
            }
        });
    }
}

/// A Prometheus label value: `\`, `"` and newlines escaped.
pub fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_duration_in_its_bucket_and_below_the_larger_ones() {
        let mut h = Histogram::default();
        for s in [0.001, 0.005, 0.7, 7200.0] {
            h.observe(s);
        }
        // `le` is inclusive: 0.005 falls in the 0.005 bucket.
        assert_eq!(h.counts[0], 2);
        assert_eq!(h.counts[BUCKETS.iter().position(|b| *b == 1.0).unwrap()], 1);
        assert_eq!(h.counts[BUCKETS.len()], 1);
        assert_eq!(h.count, 4);
        let m = Metrics::default();
        m.with(|i| i.steps.insert(("f\"x".into(), "tool".into()), h));
        let mut text = String::new();
        m.text(&mut text);
        let bucket = |le: &str, n: u64| {
            format!(
                "flowc_step_duration_seconds_bucket{{flow=\"f\\\"x\",kind=\"tool\",le=\"{le}\"}} {n}\n"
            )
        };
        assert!(text.contains(&bucket("0.005", 2)), "{text}");
        assert!(text.contains(&bucket("0.5", 2)), "{text}");
        assert!(text.contains(&bucket("1", 3)), "{text}");
        assert!(text.contains(&bucket("3600", 3)), "{text}");
        assert!(text.contains(&bucket("+Inf", 4)), "{text}");
    }
}
