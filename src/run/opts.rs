//! Effective options at run time, decoded with the option table
//! (`check::options::OPTIONS`). The innermost wins: call site > tool
//! declaration > enclosing blocks > flow header > `flowc run --set` > default.

use std::time::Duration;

use super::errors::ErrorKind;
use crate::check::options::{self, Opt, OptValue};
pub use crate::check::options::{fmt_duration, parse_duration, parse_size};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Opts {
    pub max_concurrent: Option<usize>,
    pub timeout: Option<Duration>,
    pub retry: Option<u32>,
    pub retry_on: Option<Vec<ErrorKind>>,
    pub backoff: Option<Duration>,
    pub max_loop_iterations: Option<u32>,
    pub on_max_error: Option<bool>,
    pub fail_fast: Option<bool>,
    pub deadline: Option<Duration>,
    pub cache: Option<Duration>,
    /// Bytes of a tool's output read at most (docs/language.md, "Memory and time limits").
    pub max_output: Option<u64>,
    /// Bytes of values a run holds before new steps wait (docs/language.md, "Memory and
    /// time limits").
    pub max_memory: Option<u64>,
    /// Re-planning (docs/language.md, "Re-planning").
    pub replan_on_error: Option<bool>,
    pub replan_on: Option<Vec<ErrorKind>>,
    pub max_replans: Option<u32>,
    pub replan_cooldown: Option<Duration>,
    pub replan_repairs: Option<u32>,
}

pub use crate::check::options::{
    DEFAULT_BACKOFF, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_LOOP, DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT,
};

impl Opts {
    /// `self` with every option `inner` sets replaced by `inner`'s.
    pub fn overlay(&self, inner: &Opts) -> Opts {
        Opts {
            max_concurrent: inner.max_concurrent.or(self.max_concurrent),
            timeout: inner.timeout.or(self.timeout),
            retry: inner.retry.or(self.retry),
            retry_on: inner.retry_on.clone().or_else(|| self.retry_on.clone()),
            backoff: inner.backoff.or(self.backoff),
            max_loop_iterations: inner.max_loop_iterations.or(self.max_loop_iterations),
            on_max_error: inner.on_max_error.or(self.on_max_error),
            fail_fast: inner.fail_fast.or(self.fail_fast),
            deadline: inner.deadline.or(self.deadline),
            cache: inner.cache.or(self.cache),
            max_output: inner.max_output.or(self.max_output),
            max_memory: inner.max_memory.or(self.max_memory),
            replan_on_error: inner.replan_on_error.or(self.replan_on_error),
            replan_on: inner.replan_on.clone().or_else(|| self.replan_on.clone()),
            max_replans: inner.max_replans.or(self.max_replans),
            replan_cooldown: inner.replan_cooldown.or(self.replan_cooldown),
            replan_repairs: inner.replan_repairs.or(self.replan_repairs),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }

    pub fn max_output(&self) -> u64 {
        self.max_output.unwrap_or(DEFAULT_MAX_OUTPUT)
    }

    pub fn retries(&self) -> u32 {
        self.retry.unwrap_or(0)
    }

    pub fn backoff(&self) -> Duration {
        self.backoff.unwrap_or(DEFAULT_BACKOFF)
    }

    /// Does an error of this kind trigger a re-plan (`replan_on`)?
    pub fn replans_on(&self, kind: ErrorKind) -> bool {
        match &self.replan_on {
            Some(kinds) => kinds.contains(&kind),
            None => matches!(
                kind,
                ErrorKind::ToolError | ErrorKind::Timeout | ErrorKind::PolicyViolation
            ),
        }
    }

    pub fn retries_on(&self, kind: ErrorKind) -> bool {
        match &self.retry_on {
            Some(kinds) => kinds.contains(&kind),
            None => matches!(kind, ErrorKind::ToolError | ErrorKind::Timeout),
        }
    }

    /// The options of a `with { … }` as the lowering decoded them.
    pub fn from_decoded(values: &[(Opt, OptValue)]) -> Opts {
        let mut out = Opts::default();
        for (opt, v) in values {
            out.put(*opt, v.clone());
        }
        out
    }

    /// Parses `flowc run --set key=value` (the options whose entry says `set`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let (info, v) = options::parse_set(key, value)?;
        self.put(info.opt, v);
        Ok(())
    }

    /// Sets one option to a decoded value.
    pub fn put(&mut self, opt: Opt, v: OptValue) {
        let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        match (opt, v) {
            (Opt::MaxConcurrent, OptValue::Int(n)) => self.max_concurrent = Some(permits(n)),
            (Opt::Timeout, OptValue::Duration(d)) => self.timeout = Some(d),
            (Opt::Retry, OptValue::Int(n)) => self.retry = Some(count(n)),
            (Opt::RetryOn, OptValue::ErrorKinds(kinds)) => {
                self.retry_on = Some(kinds.iter().filter_map(|k| ErrorKind::parse(k)).collect())
            }
            (Opt::Backoff, OptValue::Duration(d)) => self.backoff = Some(d),
            (Opt::MaxLoopIterations, OptValue::Int(n)) => self.max_loop_iterations = Some(count(n)),
            (Opt::OnMax, OptValue::OnMaxError(e)) => self.on_max_error = Some(e),
            (Opt::FailFast, OptValue::Bool(b)) => self.fail_fast = Some(b),
            (Opt::Deadline, OptValue::Duration(d)) => self.deadline = Some(d),
            (Opt::Cache, OptValue::Duration(d)) => self.cache = Some(d),
            (Opt::MaxOutput, OptValue::Size(n)) => self.max_output = Some(n),
            (Opt::MaxMemory, OptValue::Size(n)) => self.max_memory = Some(n),
            (Opt::ReplanOnError, OptValue::Bool(b)) => self.replan_on_error = Some(b),
            (Opt::ReplanOn, OptValue::ErrorKinds(kinds)) => {
                self.replan_on = Some(kinds.iter().filter_map(|k| ErrorKind::parse(k)).collect())
            }
            (Opt::MaxReplans, OptValue::Int(n)) => self.max_replans = Some(count(n)),
            (Opt::ReplanCooldown, OptValue::Duration(d)) => self.replan_cooldown = Some(d),
            (Opt::ReplanRepairs, OptValue::Int(n)) => self.replan_repairs = Some(count(n)),
            // Evaluated per call, or not acted on yet; a value of another kind
            // cannot get here (the table gives each option one kind).
            _ => {}
        }
    }
}

/// A `max_concurrent` as a semaphore's permits: at least 1, at most what a
/// tokio semaphore holds (a larger limit is no limit anyway).
fn permits(n: u64) -> usize {
    usize::try_from(n)
        .unwrap_or(usize::MAX)
        .clamp(1, super::limit::MAX_PERMITS)
}

/// A size for messages: `64 MB`, `512 KB`, `100 bytes`.
pub fn fmt_size(n: u64) -> String {
    const K: u64 = 1024;
    for (unit, f) in [("GB", K * K * K), ("MB", K * K), ("KB", K)] {
        if n >= f {
            let v = n as f64 / f as f64;
            return if n.is_multiple_of(f) {
                format!("{} {unit}", n / f)
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_1024_and_print_back() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("64MB"), Some(64 << 20));
        assert_eq!(parse_size("1.5KB"), Some(1536));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("12parsecs"), None);
        assert_eq!(fmt_size(64 << 20), "64 MB");
        assert_eq!(fmt_size(1536), "1.5 KB");
        assert_eq!(fmt_size(100), "100 bytes");
    }

    #[test]
    fn every_decoded_option_lands_in_its_field() {
        use crate::check::options::{Kind, OPTIONS};
        for o in OPTIONS {
            let text = match o.kind {
                Kind::PosInt | Kind::NonNegInt => "2",
                Kind::Duration => "2s",
                Kind::Size => "2KB",
                Kind::Bool => "true",
                Kind::ErrorKinds => "timeout",
                Kind::OnMax => "error",
                Kind::StringExpr | Kind::PolicyName => continue,
            };
            let v = o.kind.parse(o.name, text).expect("a value of the kind");
            let mut opts = Opts::default();
            opts.put(o.opt, v);
            assert_ne!(opts, Opts::default(), "`{}` sets a field", o.name);
        }
    }
}
