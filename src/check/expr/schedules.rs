//! `schedule` items: the cron expression, the time zone, and the call of the
//! flow, checked as a call is (unknown flow, arguments, types) and then held
//! to what a schedule may start: a flow of its own file, literal arguments.

use super::{Callee, Ctx};
use crate::check::schedule::{self, Schedule};
use crate::diag::catalog;
use crate::syntax::ast::*;

impl<'p> Ctx<'p> {
    /// Checks one `schedule`; the schedule as data when it has no errors.
    pub(super) fn schedule(&mut self, s: &'p ScheduleDecl) -> Option<Schedule> {
        let before = self.diags.iter().filter(|d| d.is_error()).count();
        if let Err(why) = schedule::parse_cron(&s.cron) {
            self.diags.push(catalog::invalid_cron(s.cron_span, &why));
        }
        let mut timezone = None;
        if let Some(o) = &s.options {
            for e in &o.entries {
                if e.name.name != "timezone" {
                    self.diags.push(catalog::unknown_option(
                        e.name.span,
                        &e.name.name,
                        Some("a schedule takes `timezone` (a name such as `Europe/Paris`)".into()),
                    ));
                    continue;
                }
                match schedule::literal_json(&e.value) {
                    Some(serde_json::Value::String(name)) => {
                        match schedule::parse_timezone(&name) {
                            Ok(_) => timezone = Some(name),
                            Err(why) => self
                                .diags
                                .push(catalog::unknown_timezone(e.value.span, &why)),
                        }
                    }
                    _ => self.diags.push(catalog::option_type(
                        e.value.span,
                        "timezone",
                        "a string literal (`\"Europe/Paris\"`)",
                        "something else",
                    )),
                }
            }
        }
        let ExprKind::Call(c) = &s.call.kind else {
            return None;
        };
        // Arguments, their types, missing ones, an unknown flow: as any call.
        self.expr(&s.call);
        let name = c
            .callee
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let callee_span = c.callee[0].span.to(c.callee[c.callee.len() - 1].span);
        match self.find_callee(&c.callee) {
            Some(Callee::Flow(m, _)) if m == self.module && c.callee.len() == 1 => {}
            Some(Callee::Flow(..)) => self.diags.push(catalog::schedule_call(
                callee_span,
                &format!("a schedule starts a flow of its own file, not `{name}`"),
                &format!("declare a flow in this file that calls `{name}`, and schedule it"),
            )),
            Some(Callee::Tool(..)) => self.diags.push(catalog::schedule_call(
                callee_span,
                &format!("a schedule starts a flow, not the tool `{name}`"),
                &format!("declare a flow that calls `{name}`, and schedule it"),
            )),
            None if crate::builtins::Builtin::from_name(&name).is_some() => {
                self.diags.push(catalog::schedule_call(
                    callee_span,
                    &format!("a schedule starts a flow, not the built-in function `{name}`"),
                    "declare a flow that calls it, and schedule the flow",
                ))
            }
            // Unknown: said by the call's check.
            None => {}
        }
        let mut args = serde_json::Map::new();
        for a in &c.args {
            match schedule::literal_json(&a.value) {
                Some(v) => {
                    if let Some(n) = &a.name {
                        args.insert(n.name.to_string(), v);
                    }
                }
                None => self.diags.push(catalog::schedule_call(
                    a.value.span,
                    "a schedule's arguments are literals",
                    "write the value itself (a number, a string without `{…}`, a list or a record of them)",
                )),
            }
        }
        if self.diags.iter().filter(|d| d.is_error()).count() != before {
            return None;
        }
        Some(Schedule {
            cron: s.cron.clone(),
            timezone,
            flow: name,
            args,
            span: s.call.span,
        })
    }
}
