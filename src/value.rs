//! Runtime values (JSON): the type check at tool boundaries, equality,
//! ordering and canonical text (the built-in functions are `crate::builtins`).

use serde_json::{Map, Number, Value};

use crate::types::Type;

/// A value's kind, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "record",
    }
}

/// A mismatch between a value and its declared type.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// JSON path of the mismatch, such as `$.rows[0].ci_id`.
    pub path: String,
    pub expected: String,
    pub found: String,
}

/// Checks `v` against `t` (width subtyping: extra fields are fine).
pub fn conforms(v: &Value, t: &Type) -> Result<(), Mismatch> {
    check(v, t).map_err(|mut m| {
        m.path.insert(0, '$');
        m
    })
}

/// The path of a mismatch is spelled out only when there is one (every tool
/// result is checked: a value that conforms costs no allocation).
fn check(v: &Value, t: &Type) -> Result<(), Mismatch> {
    let fail = |v: &Value| {
        Err(Mismatch {
            path: String::new(),
            expected: t.to_string(),
            found: describe(v),
        })
    };
    match (t, v) {
        (Type::Unknown | Type::Json, _) => Ok(()),
        (Type::Never, _) => fail(v),
        (Type::Null, Value::Null) => Ok(()),
        (Type::Bool, Value::Bool(_)) => Ok(()),
        (Type::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
        (Type::Float, Value::Number(_)) => Ok(()),
        (Type::Duration, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
        (Type::String, Value::String(_)) => Ok(()),
        (Type::Lit(opts), Value::String(s)) if opts.iter().any(|o| o == s) => Ok(()),
        (Type::Optional(_), Value::Null) => Ok(()),
        (Type::Optional(inner), v) => check(v, inner),
        (Type::List(el), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check(item, el).map_err(|m| under(m, format_args!("[{i}]")))?;
            }
            Ok(())
        }
        (Type::Record(r), Value::Object(m)) => {
            // The declared fields first and in their order (a tool's result
            // usually): checked side by side, without a look-up by name.
            let mut entries = m.iter();
            let side_by_side = r.fields.iter().all(|f| {
                entries
                    .next()
                    .is_some_and(|(k, x)| *k == f.name && !(x.is_null() && f.optional))
            });
            if side_by_side {
                for (f, (_, x)) in r.fields.iter().zip(m.iter()) {
                    check(x, &f.ty).map_err(|m| under(m, format_args!(".{}", f.name)))?;
                }
                return Ok(());
            }
            for f in &r.fields {
                match m.get(&f.name) {
                    None | Some(Value::Null) if f.optional => {}
                    None => {
                        return Err(Mismatch {
                            path: format!(".{}", f.name),
                            expected: f.ty.to_string(),
                            found: "nothing (the field is missing)".into(),
                        });
                    }
                    Some(x) => {
                        check(x, &f.ty).map_err(|m| under(m, format_args!(".{}", f.name)))?
                    }
                }
            }
            Ok(())
        }
        _ => fail(v),
    }
}

/// A mismatch found at `seg` under the value checked.
fn under(mut m: Mismatch, seg: std::fmt::Arguments<'_>) -> Mismatch {
    m.path.insert_str(0, &seg.to_string());
    m
}

/// `v` (which conforms to `t`) with each record's fields in `t`'s declared
/// order, undeclared extra fields after them in their own order: a tool's
/// result prints like its declared type, whatever order the tool wrote.
pub fn in_declared_order(v: Value, t: &Type) -> Value {
    match (t, v) {
        (Type::Optional(inner), v) => in_declared_order(v, inner),
        (Type::List(el), Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|x| in_declared_order(x, el))
                .collect(),
        ),
        (Type::Record(r), Value::Object(mut m)) => {
            let mut out = Map::with_capacity(m.len());
            for f in &r.fields {
                if let Some(x) = m.shift_remove(&f.name) {
                    out.insert(f.name.clone(), in_declared_order(x, &f.ty));
                }
            }
            out.extend(m);
            Value::Object(out)
        }
        (_, v) => v,
    }
}

/// Are the fields of `v` already in the order `t` declares (nothing for
/// `in_declared_order` to do)? Checked without building anything.
pub fn in_order(v: &Value, t: &Type) -> bool {
    match (t, v) {
        (Type::Optional(inner), v) => in_order(v, inner),
        (Type::List(el), Value::Array(items)) => items.iter().all(|x| in_order(x, el)),
        (Type::Record(r), Value::Object(m)) => {
            // Declared fields come first, in their order; the rest follow.
            let mut next = 0;
            let mut extra = false;
            for (k, x) in m {
                match r.fields.iter().position(|f| &f.name == k) {
                    Some(i) if !extra && i >= next && in_order(x, &r.fields[i].ty) => next = i + 1,
                    Some(_) => return false,
                    None => extra = true,
                }
            }
            true
        }
        _ => true,
    }
}

/// A short description of a value for messages: its kind and a preview.
pub fn describe(v: &Value) -> String {
    let text = v.to_string();
    let preview = if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    };
    format!("{} {}", kind(v), preview)
}

/// The text of a value inside a string interpolation: strings raw, the rest as JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn int(n: i64) -> Value {
    Value::Number(Number::from(n))
}

/// A finite float as a value; infinities and NaN have no JSON form (they
/// would turn into `null`), so they are an error.
pub fn float(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("float overflow: the result ({f}) is not a finite number"))
}

/// The message of an integer result that does not fit in 64 bits.
pub const INT_OVERFLOW: &str = "integer overflow";

pub fn as_f64(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Structural equality, with `1 == 1.0`.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| equal(p, q)))
        }
        _ => a == b,
    }
}

/// A text of `v` that is the same for values `equal` holds equal, whatever
/// order their fields were written in (records keep that order for printing):
/// integral numbers are written as integers (`1.0` as `1`), record keys are
/// sorted. For keys such as the tool cache's and `unique`'s.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

/// The hash of a call (`ids::cache_key(binding, &canonical(v))`), from one
/// buffer: the canonical text is written after the binding, not copied there.
pub fn call_hash(binding: &str, v: &Value) -> String {
    let mut text = String::with_capacity(binding.len() + 64);
    text.push_str(binding);
    text.push('\0');
    write_canonical(v, &mut text);
    crate::ids::sha256_hex(text.as_bytes())
}

/// A journaled call's arguments: their canonical text, which the journal
/// writes as the step's arguments instead of serialising them a second
/// time, and from which it computes the call's hash ([`call_hash`]) off the
/// run's thread. Arguments longer than the journal keeps are hashed here,
/// and only their length is kept.
pub struct CallText {
    /// The binding, a NUL, then the arguments' canonical text; emptied when
    /// the arguments are longer than the journal keeps.
    text: String,
    at: usize,
    /// The length of the arguments' text.
    bytes: usize,
    /// The hash, when the text is not kept.
    hash: Option<String>,
}

impl CallText {
    /// The text of a call of `binding` with arguments `v`, kept when it is
    /// at most `keep` bytes long (a larger one is hashed now and not held
    /// while the call runs: only its length and hash are).
    pub fn new(binding: &str, v: &Value, keep: usize) -> CallText {
        let mut call = CallText {
            text: String::with_capacity(binding.len() + 64),
            at: 0,
            bytes: 0,
            hash: None,
        };
        call.refill(binding, v, keep);
        call
    }

    /// An empty text, to be filled ([`CallText::refill`]) call after call.
    pub fn empty() -> CallText {
        CallText {
            text: String::new(),
            at: 0,
            bytes: 0,
            hash: None,
        }
    }

    /// Makes this the text of a call of `binding` with arguments `v`, as
    /// [`CallText::new`] does, in the memory it already holds.
    pub fn refill(&mut self, binding: &str, v: &Value, keep: usize) {
        let text = &mut self.text;
        text.clear();
        text.push_str(binding);
        text.push('\0');
        self.at = text.len();
        write_canonical(v, text);
        self.bytes = text.len() - self.at;
        self.hash = (self.bytes > keep).then(|| {
            let h = crate::ids::sha256_hex(text.as_bytes());
            *text = String::new();
            h
        });
    }

    /// The arguments' canonical text (JSON), when kept.
    pub fn args(&self) -> Option<&str> {
        self.text.get(self.at..)
    }

    /// The binding called, when the arguments are kept: the journal hashes
    /// the two.
    pub fn binding(&self) -> Option<&str> {
        self.text.get(..self.at.checked_sub(1)?)
    }

    /// The call's hash, when computed here (the arguments not kept).
    pub fn hash(&self) -> Option<&str> {
        self.hash.as_deref()
    }

    /// The length of the arguments' canonical text, kept or not.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// [`canonical`], appended to `out`. Written for every journaled or cached
/// tool call (its hash), so without `fmt` where it can: numbers by `itoa`,
/// strings without an escape as they are.
pub fn write_canonical(v: &Value, out: &mut String) {
    use std::fmt::Write;
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(itoa::Buffer::new().format(i)),
            (None, Some(u), _) => out.push_str(itoa::Buffer::new().format(u)),
            (None, None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                out.push_str(itoa::Buffer::new().format(f as i64))
            }
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::Array(items) => {
            out.push('[');
            for (k, x) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            // Most records are small: their fields are sorted on the stack.
            let mut fields: smallvec::SmallVec<[(&String, &Value); 8]> = m.iter().collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (k, (key, value)) in fields.into_iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                push_json_str(out, key);
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::String(s) => push_json_str(out, s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
    }
}

/// Is `s` written in JSON as it is between quotes (no control character,
/// quote or backslash, the only ones `serde_json` escapes)?
pub fn plain_json_str(s: &str) -> bool {
    // Eight bytes at a time: is any byte below 0x20, a quote or a backslash?
    // (Exact for "any", by the usual bit tricks; a tail of under eight bytes
    // one by one.)
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let mut chunks = s.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().expect("eight bytes"));
        if (x.wrapping_sub(LO * 0x20) & !x & HI)
            | zero(x ^ (LO * u64::from(b'"')))
            | zero(x ^ (LO * u64::from(b'\\')))
            != 0
        {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// `v` as compact JSON, as `serde_json` writes it (records in their order),
/// appended to `out`: without `serde`'s general serialiser, for the values
/// of every journaled step.
pub fn write_json(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
            (None, Some(u)) => out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes()),
            _ => out.extend_from_slice(n.to_string().as_bytes()),
        },
        Value::String(s) => write_json_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (k, x) in items.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                write_json(x, out);
            }
            out.push(b']');
        }
        Value::Object(m) => {
            out.push(b'{');
            for (k, (key, x)) in m.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                write_json_str(key, out);
                out.push(b':');
                write_json(x, out);
            }
            out.push(b'}');
        }
    }
}

/// `s` as a JSON string, as `serde_json` writes it, appended to `out`.
pub fn write_json_str(s: &str, out: &mut Vec<u8>) {
    if plain_json_str(s) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string into a vector cannot fail.
        let _ = serde_json::to_writer(out, s);
    }
}

/// `s` as a JSON string, as `serde_json` writes it.
fn push_json_str(out: &mut String, s: &str) {
    if plain_json_str(s) {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).expect("a string is always JSON"));
    }
}

/// Ordering for `<` and `sort`: numbers, strings, then by JSON text.
pub fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => canonical(a).cmp(&canonical(b)),
    }
}

/// Deep merge of records: later fields win; nested records merge.
pub fn deep_merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => deep_merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The journal's and the cache's hashes of a call agree.
    #[test]
    fn call_hash_is_the_cache_key() {
        let v = json!({"ms": 0, "s": "a\u{0}b", "l": [1.0, {"z": null, "a": true}]});
        let b = "builtin \"sleep\"";
        assert_eq!(call_hash(b, &v), crate::ids::cache_key(b, &canonical(&v)));
        let kept = CallText::new(b, &v, 1024);
        // Kept, the text is hashed by the journal: binding, NUL, arguments.
        assert_eq!(kept.hash(), None);
        assert_eq!(kept.binding(), Some(b));
        assert_eq!(kept.args(), Some(canonical(&v).as_str()));
        assert_eq!(kept.bytes(), canonical(&v).len());
        let back: Value = serde_json::from_str(kept.args().expect("kept")).expect("JSON");
        assert!(equal(&back, &v));
        // Too long to keep: the same hash, the length only.
        let long = CallText::new(b, &v, 8);
        assert_eq!(long.hash(), Some(call_hash(b, &v).as_str()));
        assert_eq!(long.binding(), None);
        assert_eq!((long.args(), long.bytes()), (None, kept.bytes()));
    }

    #[test]
    fn conforms_reports_the_path() {
        let t = Type::record(vec![Type::field(
            "rows",
            Type::list(Type::record(vec![Type::field("ci_id", Type::String)])),
        )]);
        assert!(conforms(&json!({"rows": [{"ci_id": "a", "extra": 1}]}), &t).is_ok());
        let e = conforms(&json!({"rows": [{"ci_id": "a"}, {"ci_id": 5}]}), &t).unwrap_err();
        assert_eq!(e.path, "$.rows[1].ci_id");
        assert_eq!(e.expected, "string");
        assert!(e.found.starts_with("int"));
        let e = conforms(&json!({"rows": [{}]}), &t).unwrap_err();
        assert_eq!(e.path, "$.rows[0].ci_id");
    }

    #[test]
    fn records_keep_their_order_and_canonical_text_sorts_keys() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [2, {"d": 1, "c": 2}], "x": 3}}"#)
                .expect("json");
        let b: Value =
            serde_json::from_str(r#"{"a": {"x": 3, "y": [2, {"c": 2, "d": 1}]}, "b": 1}"#)
                .expect("json");
        assert_eq!(
            a.to_string(),
            r#"{"b":1,"a":{"y":[2,{"d":1,"c":2}],"x":3}}"#
        );
        assert_eq!(
            canonical(&a),
            r#"{"a":{"x":3,"y":[2,{"c":2,"d":1}]},"b":1}"#
        );
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(compare(&a, &b), std::cmp::Ordering::Equal);
    }

    /// The canonical text of every kind of value, escapes included: the
    /// hashes of journaled calls and cache keys are made from it, so it must
    /// not change from one version to the next.
    #[test]
    fn canonical_text_is_stable_for_every_kind_of_value() {
        let v = serde_json::json!({
            "é": 1.5,
            "b": [1, 2.0, -3, "x\"y\n\\z", null, false],
            "a": { "d": null, "c": true, "big": u64::MAX, "neg": i64::MIN },
            "tab\tkey": 1e300,
        });
        assert_eq!(
            canonical(&v),
            r#"{"a":{"big":18446744073709551615,"c":true,"d":null,"neg":-9223372036854775808},"b":[1,2,-3,"x\"y\n\\z",null,false],"tab\tkey":1e+300,"é":1.5}"#
        );
    }

    /// The journal's writer gives `serde_json`'s text for every kind of
    /// value, and the quick test for strings without escapes agrees with a
    /// byte-by-byte one at every length and position.
    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let v = serde_json::json!({
            "é": 1.5,
            "b": [1, 2.5e-7, -3, "x\"y\n\\z\u{1f}", null, false, u64::MAX, i64::MIN],
            "a": { "d": null, "c": true, "s": "plain text, longer than eight bytes" },
            "tab\tkey": 1e300,
        });
        let mut out = Vec::new();
        write_json(&v, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        for len in 0..20 {
            for at in 0..len {
                for special in [
                    '"', '\\', '\n', '\u{1f}', '\u{20}', '\u{7f}', 'é', '!', '#', '[', '\u{5c}',
                ] {
                    let mut s: String = "a".repeat(len);
                    s.replace_range(at..at + 1, &special.to_string());
                    let slow = s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
                    assert_eq!(plain_json_str(&s), slow, "{s:?}");
                }
            }
        }
    }

    /// A record checks the same whether its fields come in their declared
    /// order (side by side, no look-up) or not: the same mismatches, at the
    /// same paths.
    #[test]
    fn records_check_alike_in_and_out_of_their_order() {
        let mut opt = Type::field("note", Type::String);
        opt.optional = true;
        let t = Type::record(vec![
            Type::field("ms", Type::Int),
            opt,
            Type::field(
                "rows",
                Type::list(Type::record(vec![Type::field("x", Type::Int)])),
            ),
        ]);
        let path = |v: Value| conforms(&v, &t).err().map(|m| (m.path, m.found));
        for v in [
            json!({"ms": 1, "note": "a", "rows": [{"x": 1}]}),
            json!({"rows": [{"x": 1}], "note": "a", "ms": 1}),
            json!({"ms": 1, "note": null, "rows": []}),
            json!({"ms": 1, "rows": [], "extra": true}),
        ] {
            assert_eq!(path(v.clone()), None, "{v}");
        }
        for v in [
            json!({"ms": 1, "note": "a", "rows": [{"x": "1"}]}),
            json!({"rows": [{"x": "1"}], "ms": 1}),
        ] {
            assert_eq!(
                path(v.clone()),
                Some(("$.rows[0].x".to_string(), "string \"1\"".to_string())),
                "{v}"
            );
        }
        assert_eq!(
            path(json!({"ms": 1, "note": 2, "rows": []})).map(|p| p.0),
            Some("$.note".to_string())
        );
        assert_eq!(
            path(json!({"note": "a", "rows": []})).map(|p| p.0),
            Some("$.ms".to_string())
        );
    }

    #[test]
    fn tool_results_take_the_declared_field_order() {
        let t = Type::record(vec![
            Type::field("b", Type::Int),
            Type::field(
                "rows",
                Type::list(Type::record(vec![
                    Type::field("y", Type::Int),
                    Type::field("x", Type::Int),
                ])),
            ),
        ]);
        let v = json!({"extra": 0, "rows": [{"x": 1, "y": 2, "z": 3}], "b": 1});
        assert_eq!(
            in_declared_order(v, &t).to_string(),
            r#"{"b":1,"rows":[{"y":2,"x":1,"z":3}],"extra":0}"#
        );
    }

    #[test]
    fn in_order_says_when_there_is_nothing_to_reorder() {
        let t = Type::record(vec![
            Type::field("b", Type::Int),
            Type::field(
                "rows",
                Type::list(Type::record(vec![
                    Type::field("y", Type::Int),
                    Type::field("x", Type::Int),
                ])),
            ),
        ]);
        for (v, ordered) in [
            (
                json!({"b": 1, "rows": [{"y": 2, "x": 1, "z": 3}], "extra": 0}),
                true,
            ),
            (json!({"b": 1}), true),
            (json!({"rows": [], "b": 1}), false),
            (json!({"b": 1, "rows": [{"x": 1, "y": 2}]}), false),
            (json!({"extra": 0, "b": 1}), false),
        ] {
            assert_eq!(in_order(&v, &t), ordered, "{v}");
            // Where it holds, reordering changes nothing.
            if ordered {
                assert_eq!(in_declared_order(v.clone(), &t).to_string(), v.to_string());
            }
        }
    }
}
