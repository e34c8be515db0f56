//! The world outside the program: `now env`.

use serde_json::Value;

use super::{Def, Run, arg, string};
use crate::types::Type;

pub(super) const NOW: Def = Def {
    usage: "now() : string",
    doc: "the time (RFC 3339, UTC, seconds)",
    check: |c| {
        c.arity("no arguments", c.n() == 0);
        Type::String
    },
    run: Run::Pure(|_| Ok(Value::String(now_rfc3339()))),
};

pub(super) const ENV: Def = Def {
    usage: "env(\"NAME\") : string?",
    doc: "an environment variable, `null` when it is not set",
    check: |c| {
        c.arity("1 argument", c.n() == 1);
        c.want(0, &Type::String, "string");
        Type::optional(Type::String)
    },
    run: Run::Pure(|args| {
        Ok(match std::env::var(string("env", arg(args, 0))?) {
            Ok(v) => Value::String(v),
            Err(_) => Value::Null,
        })
    }),
};

/// The current time as RFC 3339 (UTC, seconds): `2025-11-24T16:00:00Z`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        let at = |secs| {
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
            )
            .to_string()
        };
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_764_000_000), "2025-11-24T16:00:00Z");
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
    }
}
