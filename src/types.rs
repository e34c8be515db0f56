//! The type system: structural records with width subtyping, optionals,
//! string-literal unions, `json` as the dynamic type, `int` widening to `float`.

use std::fmt;
use std::rc::Rc;

#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    /// The type of an expression that already has an error: accepted everywhere,
    /// so one mistake does not cascade.
    Unknown,
    /// The element type of `[]`: assignable to everything.
    Never,
    Null,
    Bool,
    Int,
    Float,
    String,
    Duration,
    Json,
    /// A regex literal; only valid on the right of `~`.
    Regex,
    /// A union of string literals, sorted and without duplicates.
    Lit(Rc<Vec<String>>),
    List(Rc<Type>),
    Record(Rc<RecordTy>),
    Optional(Rc<Type>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecordTy {
    pub fields: Vec<FieldTy>,
    /// The alias it was declared under, for messages.
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldTy {
    pub name: String,
    pub ty: Type,
    pub optional: bool,
}

impl RecordTy {
    pub fn field(&self, name: &str) -> Option<&FieldTy> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl Type {
    pub fn list(t: Type) -> Type {
        Type::List(Rc::new(t))
    }

    pub fn optional(t: Type) -> Type {
        match t {
            Type::Optional(_) | Type::Null | Type::Json | Type::Unknown => t,
            t => Type::Optional(Rc::new(t)),
        }
    }

    pub fn lit(s: &str) -> Type {
        Type::Lit(Rc::new(vec![s.to_string()]))
    }

    pub fn lits(mut v: Vec<String>) -> Type {
        v.sort();
        v.dedup();
        Type::Lit(Rc::new(v))
    }

    pub fn record(fields: Vec<FieldTy>) -> Type {
        Type::Record(Rc::new(RecordTy { fields, name: None }))
    }

    pub fn field(name: &str, ty: Type) -> FieldTy {
        FieldTy {
            name: name.to_string(),
            ty,
            optional: false,
        }
    }

    /// `Unknown` or `json`: anything goes, checked at run time.
    pub fn is_dynamic(&self) -> bool {
        matches!(self, Type::Unknown | Type::Json)
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Float | Type::Never) || self.is_dynamic()
    }

    pub fn is_stringy(&self) -> bool {
        matches!(self, Type::String | Type::Lit(_) | Type::Never) || self.is_dynamic()
    }

    pub fn is_optional(&self) -> bool {
        matches!(self, Type::Optional(_) | Type::Null)
    }

    /// `T` for `T?`.
    pub fn unwrap_optional(&self) -> Type {
        match self {
            Type::Optional(t) => (**t).clone(),
            Type::Null => Type::Never,
            t => t.clone(),
        }
    }

    /// Element type of a list (`json` for `json`).
    pub fn element(&self) -> Option<Type> {
        match self {
            Type::List(t) => Some((**t).clone()),
            Type::Json => Some(Type::Json),
            Type::Unknown | Type::Never => Some(Type::Unknown),
            _ => None,
        }
    }

    /// Widens literal unions to `string` (for inferred bindings used as state).
    pub fn widen(&self) -> Type {
        match self {
            Type::Lit(_) => Type::String,
            Type::List(t) => Type::list(t.widen()),
            Type::Optional(t) => Type::optional(t.widen()),
            t => t.clone(),
        }
    }
}

/// Can a value of type `from` be used where `to` is expected?
pub fn assignable(from: &Type, to: &Type) -> bool {
    use Type::*;
    match (from, to) {
        (Unknown, _) | (_, Unknown) | (Never, _) | (Json, _) | (_, Json) => true,
        (Int, Float) => true,
        (Null, Optional(_)) => true,
        (Optional(a), Optional(b)) => assignable(a, b),
        (a, Optional(b)) => assignable(a, b),
        (Lit(_), String) => true,
        (Lit(a), Lit(b)) => a.iter().all(|x| b.contains(x)),
        (List(a), List(b)) => assignable(a, b),
        (Record(a), Record(b)) => b.fields.iter().all(|bf| match a.field(&bf.name) {
            Some(af) => {
                let aty = if af.optional {
                    Type::optional(af.ty.clone())
                } else {
                    af.ty.clone()
                };
                let bty = if bf.optional {
                    Type::optional(bf.ty.clone())
                } else {
                    bf.ty.clone()
                };
                assignable(&aty, &bty)
            }
            None => bf.optional,
        }),
        (a, b) => a == b,
    }
}

/// The least type both fit, if there is one (the type of `if`/`match` arms).
pub fn join(a: &Type, b: &Type) -> Option<Type> {
    use Type::*;
    match (a, b) {
        (Unknown, _) | (_, Unknown) => Some(Unknown),
        (Never, t) | (t, Never) => Some(t.clone()),
        (Json, _) | (_, Json) => Some(Json),
        (Null, Null) => Some(Null),
        (Null, t) | (t, Null) => Some(Type::optional(t.clone())),
        (Optional(x), Optional(y)) => join(x, y).map(Type::optional),
        (Optional(x), t) | (t, Optional(x)) => join(x, t).map(Type::optional),
        (Lit(x), Lit(y)) => {
            let mut v: Vec<std::string::String> = x.iter().chain(y.iter()).cloned().collect();
            v.sort();
            v.dedup();
            Some(Type::Lit(Rc::new(v)))
        }
        (Lit(_), String) | (String, Lit(_)) => Some(String),
        (Int, Float) | (Float, Int) => Some(Float),
        (List(x), List(y)) => join(x, y).map(Type::list),
        (Record(x), Record(y)) => {
            if assignable(a, b) {
                return Some(b.clone());
            }
            if assignable(b, a) {
                return Some(a.clone());
            }
            let mut fields = Vec::new();
            for xf in &x.fields {
                match y.field(&xf.name) {
                    Some(yf) => fields.push(FieldTy {
                        name: xf.name.clone(),
                        ty: join(&xf.ty, &yf.ty)?,
                        optional: xf.optional || yf.optional,
                    }),
                    None => fields.push(FieldTy {
                        optional: true,
                        ..xf.clone()
                    }),
                }
            }
            for yf in &y.fields {
                if x.field(&yf.name).is_none() {
                    fields.push(FieldTy {
                        optional: true,
                        ..yf.clone()
                    });
                }
            }
            Some(Type::record(fields))
        }
        (x, y) if x == y => Some(x.clone()),
        _ => None,
    }
}

/// How a named record is written when a type is shown: `Some(text)`, or
/// `None` to write its fields.
pub type RecordNamer<'a> = &'a dyn Fn(&RecordTy) -> Option<String>;

/// A type shown with a [`RecordNamer`] (see [`Type::shown`]).
pub struct Shown<'a> {
    ty: &'a Type,
    name: RecordNamer<'a>,
}

impl Type {
    /// The type as `Display` writes it, except that `name` chooses how each
    /// record is written: the REPL qualifies an imported type by its module's
    /// alias (`analysis.Round`), as code must write it.
    pub fn shown<'a>(&'a self, name: RecordNamer<'a>) -> Shown<'a> {
        Shown { ty: self, name }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shown(&|r| r.name.clone()).fmt(f)
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name;
        match self.ty {
            Type::Unknown => write!(f, "unknown"),
            Type::Never => write!(f, "never"),
            Type::Null => write!(f, "null"),
            Type::Bool => write!(f, "bool"),
            Type::Int => write!(f, "int"),
            Type::Float => write!(f, "float"),
            Type::String => write!(f, "string"),
            Type::Duration => write!(f, "duration"),
            Type::Json => write!(f, "json"),
            Type::Regex => write!(f, "regex"),
            Type::Lit(v) => {
                let parts: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
                write!(f, "{}", parts.join(" | "))
            }
            Type::List(t) if **t == Type::Never => write!(f, "[]"),
            Type::List(t) => write!(f, "[{}]", t.shown(name)),
            Type::Optional(t) if matches!(**t, Type::Lit(_)) => write!(f, "({})?", t.shown(name)),
            Type::Optional(t) => write!(f, "{}?", t.shown(name)),
            Type::Record(r) => {
                if let Some(n) = name(r) {
                    return write!(f, "{n}");
                }
                if r.fields.is_empty() {
                    return write!(f, "{{}}");
                }
                write!(f, "{{ ")?;
                for (i, fl) in r.fields.iter().enumerate() {
                    if i == 5 {
                        write!(f, ", …")?;
                        break;
                    }
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(
                        f,
                        "{}{}: {}",
                        fl.name,
                        if fl.optional { "?" } else { "" },
                        fl.ty.shown(name)
                    )?;
                }
                write!(f, " }}")
            }
        }
    }
}

pub fn source(t: &Type) -> String {
    match t {
        Type::Unknown | Type::Never | Type::Regex | Type::Json => "json".into(),
        Type::Null => "null".into(),
        Type::Bool => "bool".into(),
        Type::Int => "int".into(),
        Type::Float => "float".into(),
        Type::String => "string".into(),
        Type::Duration => "duration".into(),
        Type::Lit(v) => v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" | "),
        Type::List(e) => format!("[{}]", source(e)),
        Type::Optional(e) if matches!(**e, Type::Lit(_)) => format!("({})?", source(e)),
        Type::Optional(e) => format!("{}?", source(e)),
        Type::Record(r) if r.fields.is_empty() => "{}".into(),
        Type::Record(r) => {
            let fields: Vec<String> = r
                .fields
                .iter()
                .map(|f| {
                    let plain = f
                        .name
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && f.name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_');
                    format!(
                        "{}{}: {}",
                        if plain {
                            f.name.clone()
                        } else {
                            quote(&f.name)
                        },
                        if f.optional { "?" } else { "" },
                        source(&f.ty)
                    )
                })
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
    }
}

/// A string literal of the language.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Type {
    /// The JSON Schema (2020-12) of the values of this type, as a service's
    /// start form or an MCP tool's input schema shows them: records as
    /// objects (their optional fields not required, no other field allowed),
    /// lists as arrays, optionals as `null` or the type, unions of string
    /// literals as `enum`, durations as milliseconds, `json` as anything.
    pub fn json_schema(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::Unknown | Type::Json => json!({}),
            Type::Never => json!({ "not": {} }),
            Type::Null => json!({ "type": "null" }),
            Type::Bool => json!({ "type": "boolean" }),
            Type::Int => json!({ "type": "integer" }),
            Type::Float => json!({ "type": "number" }),
            Type::String | Type::Regex => json!({ "type": "string" }),
            Type::Duration => json!({
                "type": "integer",
                "minimum": 0,
                "description": "a duration in milliseconds"
            }),
            Type::Lit(v) => json!({ "type": "string", "enum": v.as_slice() }),
            Type::List(t) => json!({ "type": "array", "items": t.json_schema() }),
            Type::Optional(t) => json!({ "anyOf": [t.json_schema(), { "type": "null" }] }),
            Type::Record(r) => {
                let props: serde_json::Map<String, serde_json::Value> = r
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), f.ty.json_schema()))
                    .collect();
                let required: Vec<&str> = r
                    .fields
                    .iter()
                    .filter(|f| !f.optional && !f.ty.is_optional())
                    .map(|f| f.name.as_str())
                    .collect();
                let mut o = json!({
                    "type": "object",
                    "properties": props,
                    "required": required,
                });
                if let Some(n) = &r.name {
                    o["title"] = json!(n);
                }
                o
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn json_schemas_of_types() {
        use serde_json::json;
        let row = Type::Record(Rc::new(RecordTy {
            fields: vec![
                Type::field("id", Type::Int),
                FieldTy {
                    name: "note".into(),
                    ty: Type::String,
                    optional: true,
                },
                Type::field(
                    "tag",
                    Type::optional(Type::lits(vec!["b".into(), "a".into()])),
                ),
            ],
            name: Some("Row".into()),
        }));
        assert_eq!(
            Type::list(row).json_schema(),
            json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "title": "Row",
                    "properties": {
                        "id": { "type": "integer" },
                        "note": { "type": "string" },
                        "tag": { "anyOf": [{ "type": "string", "enum": ["a", "b"] }, { "type": "null" }] },
                    },
                    "required": ["id"],
                },
            })
        );
        assert_eq!(Type::Json.json_schema(), json!({}));
        assert_eq!(Type::Duration.json_schema()["type"], "integer");
    }
    use super::*;

    fn rec(fields: &[(&str, Type, bool)]) -> Type {
        Type::record(
            fields
                .iter()
                .map(|(n, t, o)| FieldTy {
                    name: n.to_string(),
                    ty: t.clone(),
                    optional: *o,
                })
                .collect(),
        )
    }

    #[test]
    fn width_subtyping() {
        let wide = rec(&[("a", Type::Int, false), ("b", Type::String, false)]);
        let narrow = rec(&[("a", Type::Float, false)]);
        assert!(assignable(&wide, &narrow));
        assert!(!assignable(&narrow, &wide));
        let opt = rec(&[("a", Type::Int, false), ("c", Type::Bool, true)]);
        assert!(assignable(&rec(&[("a", Type::Int, false)]), &opt));
    }

    #[test]
    fn optionals_and_literals() {
        assert!(assignable(&Type::Null, &Type::optional(Type::Int)));
        assert!(!assignable(&Type::optional(Type::Int), &Type::Int));
        assert!(assignable(&Type::lit("a"), &Type::String));
        assert!(!assignable(&Type::String, &Type::lit("a")));
        assert_eq!(
            join(&Type::lit("a"), &Type::lit("b")),
            Some(Type::lits(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            join(&Type::Int, &Type::Null),
            Some(Type::optional(Type::Int))
        );
        assert_eq!(join(&Type::Int, &Type::String), None);
    }
}
