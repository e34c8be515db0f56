//! Effective options at run time. The innermost wins: call site > tool
//! declaration > enclosing blocks > flow header > `flowc run --set` > default.

use std::time::Duration;

use super::errors::ErrorKind;
use crate::syntax::ast::{ExprKind, Options, StrPart};

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
    /// Bytes of a tool's output read at most (SPEC §17).
    pub max_output: Option<u64>,
    /// Bytes of values a run holds before new steps wait (SPEC §17).
    pub max_memory: Option<u64>,
}

/// The options `flowc run --set` takes.
pub const SET_OPTIONS: &[&str] = &[
    "max_concurrent",
    "timeout",
    "timeout_per_step",
    "retry",
    "backoff",
    "max_loop_iterations",
    "on_max",
    "fail_fast",
    "deadline",
    "cache",
    "retry_on",
];

pub const DEFAULT_MAX_CONCURRENT: usize = 10;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
pub const DEFAULT_MAX_LOOP: u32 = 4;
pub const DEFAULT_MAX_OUTPUT: u64 = 64 * 1024 * 1024;

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

    pub fn retries_on(&self, kind: ErrorKind) -> bool {
        match &self.retry_on {
            Some(kinds) => kinds.contains(&kind),
            None => matches!(kind, ErrorKind::ToolError | ErrorKind::Timeout),
        }
    }

    /// Reads checked option literals (the checker has validated names and kinds).
    pub fn from_ast(o: Option<&Options>) -> Opts {
        let mut out = Opts::default();
        let Some(o) = o else { return out };
        for e in &o.entries {
            let v = &e.value.kind;
            let dur = || match v {
                ExprKind::Duration { ms: Some(ms), .. } => Some(Duration::from_millis(*ms)),
                _ => None,
            };
            let int = || match v {
                ExprKind::Int(n) if *n >= 0 => Some(*n as u64),
                _ => None,
            };
            let boolean = || match v {
                ExprKind::Bool(b) => Some(*b),
                _ => None,
            };
            match e.name.name.as_str() {
                "max_concurrent" => out.max_concurrent = int().map(permits),
                "timeout" | "timeout_per_step" => out.timeout = dur(),
                "retry" => out.retry = int().map(|n| n.min(u32::MAX as u64) as u32),
                "retry_on" => {
                    if let ExprKind::List(items) = v {
                        out.retry_on = Some(
                            items
                                .iter()
                                .filter_map(|i| match &i.kind {
                                    ExprKind::Str(p) => match p.as_slice() {
                                        [StrPart::Text(t)] => ErrorKind::parse(t),
                                        _ => None,
                                    },
                                    _ => None,
                                })
                                .collect(),
                        );
                    }
                }
                "backoff" => out.backoff = dur(),
                "max_loop_iterations" => {
                    out.max_loop_iterations = int().map(|n| n.min(u32::MAX as u64) as u32)
                }
                "on_max" => {
                    out.on_max_error = match v {
                        ExprKind::Name(n) => Some(n.name == "error"),
                        ExprKind::Str(p) => {
                            Some(matches!(p.as_slice(), [StrPart::Text(t)] if t == "error"))
                        }
                        _ => None,
                    }
                }
                "fail_fast" => out.fail_fast = boolean(),
                "deadline" => out.deadline = dur(),
                "cache" => out.cache = dur(),
                "max_output" => out.max_output = int(),
                "max_memory" => out.max_memory = int(),
                _ => {}
            }
        }
        out
    }

    /// Parses `flowc run --set key=value` (one of [`SET_OPTIONS`]).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let dur = || {
            parse_duration(value)
                .ok_or_else(|| format!("`{key}` takes a duration such as `30s`, not `{value}`"))
        };
        let int = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("`{key}` takes a non-negative integer, not `{value}`"))
        };
        let boolean = || {
            value
                .parse::<bool>()
                .map_err(|_| format!("`{key}` takes `true` or `false`, not `{value}`"))
        };
        // As in the source (E0505): a limit of 0 would never run anything.
        let positive = || match int()? {
            0 => Err(format!("`{key}` takes a positive integer, not `0`")),
            n => Ok(n),
        };
        match key {
            "max_concurrent" => self.max_concurrent = Some(permits(positive()?)),
            "timeout" | "timeout_per_step" => self.timeout = Some(dur()?),
            "retry" => self.retry = Some(int()? as u32),
            "backoff" => self.backoff = Some(dur()?),
            "max_loop_iterations" => {
                self.max_loop_iterations = Some(u32::try_from(positive()?).unwrap_or(u32::MAX))
            }
            "on_max" => {
                self.on_max_error = Some(match value {
                    "error" => true,
                    "warn" => false,
                    _ => return Err(format!("`on_max` takes `error` or `warn`, not `{value}`")),
                })
            }
            "fail_fast" => self.fail_fast = Some(boolean()?),
            "deadline" => self.deadline = Some(dur()?),
            "cache" => self.cache = Some(dur()?),
            "max_output" | "max_memory" => {
                let n = parse_size(value).ok_or_else(|| {
                    format!(
                        "`{key}` takes a size such as `64MB` or a number of bytes, not `{value}`"
                    )
                })?;
                if key == "max_output" {
                    self.max_output = Some(n);
                } else {
                    self.max_memory = Some(n);
                }
            }
            "retry_on" => {
                let kinds: Result<Vec<ErrorKind>, String> = value
                    .split(',')
                    .map(|k| {
                        ErrorKind::parse(k.trim())
                            .ok_or_else(|| format!("`{k}` is not an error kind"))
                    })
                    .collect();
                self.retry_on = Some(kinds?);
            }
            _ => {
                let help = crate::diag::suggest(key, SET_OPTIONS.iter().copied())
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown option `{key}`{help} (options: {})",
                    SET_OPTIONS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// A `max_concurrent` as a semaphore's permits: at least 1, at most what a
/// tokio semaphore holds (a larger limit is no limit anyway).
fn permits(n: u64) -> usize {
    usize::try_from(n)
        .unwrap_or(usize::MAX)
        .clamp(1, tokio::sync::Semaphore::MAX_PERMITS)
}

/// `1048576`, `512KB`, `64MB`, `1.5GB` (powers of 1024); at least one byte.
pub fn parse_size(s: &str) -> Option<u64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let factor: f64 = match unit {
        "" | "B" => 1.0,
        "KB" | "KiB" => 1024.0,
        "MB" | "MiB" => 1024.0 * 1024.0,
        "GB" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TB" | "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = num.parse::<f64>().ok()? * factor;
    (1.0..9.2e18).contains(&bytes).then(|| bytes.round() as u64)
}

/// A size for messages: `64 MB`, `512 KB`, `100 bytes`.
pub fn fmt_size(n: u64) -> String {
    const K: u64 = 1024;
    for (unit, f) in [("GB", K * K * K), ("MB", K * K), ("KB", K)] {
        if n >= f {
            let v = n as f64 / f as f64;
            return if n % f == 0 {
                format!("{} {unit}", n / f)
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{n} bytes")
}

/// A duration as the language writes it: `2d`, `1h`, `5m`, `30s`, else `250ms`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 86_400_000 == 0 && ms > 0 {
        format!("{}d", ms / 86_400_000)
    } else if ms % 3_600_000 == 0 && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// `250ms`, `30s`, `1.5m`, `1h`, `2d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1e3,
        "m" => n * 60e3,
        "h" => n * 3600e3,
        "d" => n * 86400e3,
        _ => return None,
    };
    (0.0..1e15)
        .contains(&ms)
        .then(|| Duration::from_micros((ms * 1000.0) as u64))
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
}
