//! `schedule` items (docs/language.md, "Schedules"): the cron expression read
//! by `croner` (five fields, or six with seconds first), the time zone by
//! `chrono-tz`, the flow's call checked as a call, its arguments literals —
//! and what a checked schedule is as data, for the service (`Schedule`).

use serde_json::{Map, Value};

use crate::syntax::ast::Expr;
use crate::syntax::ast::{ExprKind, RecordField, StrPart, UnOp};
use crate::syntax::span::Span;

/// A checked schedule of the root module: what `flowc serve` fires.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// The cron expression as written.
    pub cron: String,
    /// `with { timezone: "Area/City" }`; `None`: UTC.
    pub timezone: Option<String>,
    /// The flow it starts (of the same file).
    pub flow: String,
    /// The arguments as JSON values of the parameters' types (durations in
    /// milliseconds), as `POST /api/v1/runs` takes them.
    pub args: Map<String, Value>,
    pub span: Span,
}

impl Schedule {
    /// What names this schedule in the store: the same text in the same file
    /// is the same schedule across restarts.
    pub fn key(&self, file: &str) -> String {
        format!(
            "{file} {:?} {} {}({})",
            self.cron,
            self.timezone.as_deref().unwrap_or("UTC"),
            self.flow,
            Value::Object(self.args.clone())
        )
    }
}

/// The one parser of cron expressions: five fields (minute first) or six
/// (seconds first), POSIX weekdays, as `croner` reads them.
pub fn parse_cron(text: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(text)
        .map_err(|e| cron_reason(&e))
}

/// croner's reason in words, without its type names.
fn cron_reason(e: &croner::errors::CronError) -> String {
    use croner::errors::CronError as E;
    let s = match e {
        E::EmptyPattern => "the expression is empty".to_string(),
        E::InvalidPattern(m) | E::IllegalCharacters(m) | E::ComponentError(m) => m.clone(),
        other => other.to_string(),
    };
    let s = s.trim_end_matches('.');
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A time zone of the IANA database (`Europe/Paris`), or why not.
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("`{name}` is not a time zone of the IANA database"))
}

/// A literal argument as JSON: numbers, strings without interpolation,
/// `bool`, `null`, durations (milliseconds), and lists and records of them.
/// `None` for anything else.
pub fn literal_json(e: &Expr) -> Option<Value> {
    Some(match &e.kind {
        ExprKind::Int(n) => Value::from(*n),
        ExprKind::Float(f) => Value::from(*f),
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Null => Value::Null,
        ExprKind::Duration { ms, .. } => Value::from((*ms)?),
        ExprKind::Str(parts) => {
            let mut s = String::new();
            for p in parts {
                match p {
                    StrPart::Text(t) => s.push_str(t),
                    StrPart::Interp(_) => return None,
                }
            }
            Value::String(s)
        }
        ExprKind::Unary(UnOp::Neg, inner) => match &inner.kind {
            ExprKind::Int(n) => Value::from(n.checked_neg()?),
            ExprKind::Float(f) => Value::from(-f),
            _ => return None,
        },
        ExprKind::List(items) => {
            Value::Array(items.iter().map(literal_json).collect::<Option<_>>()?)
        }
        ExprKind::Record(fields) => {
            let mut m = Map::new();
            for RecordField { name, value, .. } in fields {
                m.insert(name.name.to_string(), literal_json(value)?);
            }
            Value::Object(m)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn cron_times_in_a_time_zone_and_with_seconds() {
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 5, 30, 10).unwrap();
        // 06:00 in Paris (UTC+1 in December) on weekdays: 05:00 UTC; 5 December 2026 is a
        // Saturday, so the Friday before.
        let c = parse_cron("0 6 * * 1-5").unwrap();
        let paris = parse_timezone("Europe/Paris").unwrap();
        let prev = c
            .find_previous_occurrence(&now.with_timezone(&paris), true)
            .unwrap();
        assert_eq!(
            prev.with_timezone(&Utc),
            Utc.with_ymd_and_hms(2026, 12, 4, 5, 0, 0).unwrap()
        );
        // Yearly: found in one search, far back.
        let y = parse_cron("@yearly").unwrap();
        let started = std::time::Instant::now();
        let prev = y.find_previous_occurrence(&now, true).unwrap();
        assert_eq!(prev, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let next = y.find_next_occurrence(&now, false).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        eprintln!("yearly searches: {:?}", started.elapsed());
        // Six fields: seconds first.
        let s = parse_cron("*/15 * * * * *").unwrap();
        assert_eq!(
            s.find_next_occurrence(&now, false).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 5, 5, 30, 15).unwrap()
        );
        assert!(
            parse_cron("61 * * * *")
                .unwrap_err()
                .contains("out of bounds")
        );
        assert!(parse_cron("").is_err());
        assert!(parse_timezone("Mars/Olympus").is_err());
    }
}
