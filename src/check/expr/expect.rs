//! Expected types: a mismatch with notes naming the fields that differ, a
//! condition that must be `bool`, the expected type handed to the next
//! expression or block, and arms fitted to it or joined.

use super::*;

impl<'p> Ctx<'p> {
    pub(super) fn expect(&mut self, found: &Type, expected: &Type, span: Span, context: &str) {
        if !assignable(found, expected) {
            let mut d = catalog::mismatch(span, &expected.to_string(), &found.to_string(), context);
            let mut notes = Vec::new();
            field_differences(found, expected, "", &mut notes);
            let extra = notes.len().saturating_sub(MAX_FIELD_NOTES);
            for n in notes.into_iter().take(MAX_FIELD_NOTES) {
                d = d.with_note(n);
            }
            if extra > 0 {
                d = d.with_note(format!(
                    "and {extra} more field{}",
                    if extra == 1 { "" } else { "s" }
                ));
            }
            if matches!(found, Type::Optional(_)) && assignable(&found.unwrap_optional(), expected)
            {
                d = d.with_help("the value may be `null`; give a default with `??`");
            }
            self.diags.push(d);
        }
    }

    pub(super) fn expect_bool(&mut self, t: &Type, span: Span, what: &str) {
        if !assignable(t, &Type::Bool) {
            let mut d = catalog::not_bool(span, what, &t.to_string());
            if matches!(t, Type::List(_) | Type::String) {
                d = d.with_help("test it explicitly, e.g. `len(x) > 0`");
            } else if t.is_optional() {
                d = d.with_help("compare with null: `x != null`");
            }
            self.diags.push(d);
        }
    }

    /// Checks `e` where a value of type `want` is expected.
    pub(super) fn expr_as(&mut self, e: &'p Expr, want: Option<Type>) -> Type {
        self.want = want;
        self.expr(e)
    }

    /// Checks a block whose last expression should be a `want`.
    pub(super) fn block_as(&mut self, b: &'p Block, sequence: bool, want: Option<Type>) -> Type {
        self.block_want = want;
        self.block(b, sequence)
    }

    /// The type of arms where a `want` is expected: each arm must fit it (E0301),
    /// and the whole is a `want`. Without an expected type, the arms' join.
    pub(super) fn arms_as(&mut self, arms: &[(Type, Span)], want: Option<&Type>) -> Type {
        let Some(want) = want else {
            return self.join_arms(arms);
        };
        // Arms that agree on a type that fits keep it, as without an expected type.
        let joined = arms
            .iter()
            .try_fold(Type::Never, |acc, (t, _)| join(&acc, t));
        if let Some(j) = joined
            && assignable(&j, want)
        {
            return j;
        }
        for (t, s) in arms {
            self.expect(t, want, *s, " (an arm)");
        }
        want.clone()
    }

    /// Joins arm types, reporting the first arm that does not fit.
    pub(super) fn join_arms(&mut self, arms: &[(Type, Span)]) -> Type {
        let mut acc: Option<(Type, Span)> = None;
        for (t, s) in arms {
            acc = Some(match acc {
                None => (t.clone(), *s),
                Some((a, first)) => match join(&a, t) {
                    Some(j) => (j, first),
                    None => {
                        self.diags.push(catalog::incompatible_arms(
                            *s,
                            &a.to_string(),
                            &t.to_string(),
                            first,
                        ));
                        (Type::Unknown, first)
                    }
                },
            });
        }
        acc.map(|(t, _)| t).unwrap_or(Type::Null)
    }
}

/// At most this many notes name the fields in which two record types differ.
const MAX_FIELD_NOTES: usize = 6;

/// Where a `found` record type differs from the `expected` one, field by field
/// and into nested records and lists (`rows[].score`): missing fields and
/// fields of the wrong type, one note each.
fn field_differences(found: &Type, expected: &Type, path: &str, notes: &mut Vec<String>) {
    match (found, expected) {
        (_, Type::Optional(e)) => field_differences(&found.unwrap_optional(), e, path, notes),
        (Type::List(f), Type::List(e)) => field_differences(f, e, &format!("{path}[]"), notes),
        (Type::Record(f), Type::Record(e)) => {
            for ef in &e.fields {
                let name = if path.is_empty() {
                    ef.name.clone()
                } else {
                    format!("{path}.{}", ef.name)
                };
                match f.field(&ef.name) {
                    None if !ef.optional => {
                        notes.push(format!("field `{name}: {}` is missing", ef.ty));
                    }
                    Some(ff) if !assignable(&ff.ty, &ef.ty) => {
                        let before = notes.len();
                        field_differences(&ff.ty, &ef.ty, &name, notes);
                        if notes.len() == before {
                            notes.push(format!(
                                "field `{name}` is `{}`, expected `{}`",
                                ff.ty, ef.ty
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}
