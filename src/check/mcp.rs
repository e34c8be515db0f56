//! MCP servers and `mcp` tool bindings: the `mcp server` items checked, and
//! each `tool … = mcp SERVER "name"` declaration held to the tool's JSON
//! Schemas as the server lists them (`tools/list`). The schemas come through
//! the [`Loader`] (the driver asks the server, or reads its cache in the
//! store): the checker itself does no I/O.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::*;

/// An `mcp server` item as data (the interpreter's too: `ir::expr` re-exports it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct McpServer {
    pub name: String,
    pub transport: McpTransport,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum McpTransport {
    /// `stdio ["prog", "arg"]`: started in the folder of the file that declares it.
    Stdio { argv: Vec<String> },
    /// `http "URL" [auth_env "VAR"]`: the `Authorization` header's value is
    /// read from the environment variable `VAR` when the server is reached.
    Http {
        url: String,
        auth_env: Option<String>,
    },
}

impl McpServer {
    /// The item as written (without its name), for cache keys and hashes.
    pub fn text(&self) -> String {
        match &self.transport {
            McpTransport::Stdio { argv } => {
                let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
                format!("stdio [{}]", argv.join(", "))
            }
            McpTransport::Http { url, auth_env } => match auth_env {
                Some(v) => format!("http {url:?} auth_env {v:?}"),
                None => format!("http {url:?}"),
            },
        }
    }

    /// The item's data from its declaration.
    pub fn of(decl: &McpServerDecl) -> McpServer {
        McpServer {
            name: decl.name.name.to_string(),
            transport: match &decl.transport {
                ast::McpTransport::Stdio(argv) => McpTransport::Stdio {
                    argv: match &argv.kind {
                        ExprKind::List(items) => items.iter().filter_map(plain_str).collect(),
                        _ => Vec::new(),
                    },
                },
                ast::McpTransport::Http { url, auth_env } => McpTransport::Http {
                    url: plain_str(url).unwrap_or_default(),
                    auth_env: auth_env.as_ref().and_then(plain_str),
                },
            },
        }
    }
}

use crate::syntax::ast;

fn plain_str(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Str(parts) => match parts.as_slice() {
            [] => Some(String::new()),
            [StrPart::Text(t)] => Some(t.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// One tool a server lists: its name and JSON Schemas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct McpTool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "inputSchema")]
    pub input_schema: Value,
    #[serde(
        rename = "outputSchema",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub output_schema: Option<Value>,
}

/// What a loader knows of a server's tools.
#[derive(Clone, Debug)]
pub enum McpTools {
    /// Its `tools/list` (asked now, or cached).
    Listed(Vec<McpTool>),
    /// It could not be reached and nothing is cached: why (W0009).
    Unreachable(String),
    /// This loader cannot tell (no check against schemas).
    CannotTell,
}

/// The `mcp server` items of a module checked: their names once, their
/// transports well formed. Returns them by name.
pub(super) fn declare_servers(
    items: &[Item],
    diags: &mut Vec<Diagnostic>,
) -> HashMap<String, (McpServer, Span)> {
    let mut out: HashMap<String, (McpServer, Span)> = HashMap::new();
    for it in items {
        let ItemKind::McpServer(d) = &it.kind else {
            continue;
        };
        if let Some((_, first)) = out.get(d.name.name.as_str()) {
            diags.push(catalog::duplicate(
                d.name.span,
                "mcp server",
                &d.name.name,
                *first,
            ));
            continue;
        }
        match &d.transport {
            ast::McpTransport::Stdio(argv) => match &argv.kind {
                ExprKind::List(items) if items.is_empty() => diags.push(catalog::invalid_binding(
                    argv.span,
                    "`stdio` needs at least the program",
                    "write `stdio [\"python3\", \"tools/server.py\"]`",
                )),
                ExprKind::List(items) => {
                    for i in items {
                        if plain_str(i).is_none() {
                            diags.push(catalog::invalid_binding(
                                i.span,
                                "`stdio` arguments must be plain string literals",
                                "argv is fixed at declaration",
                            ));
                        }
                    }
                }
                _ => diags.push(catalog::invalid_binding(
                    argv.span,
                    "`stdio` takes a list of strings",
                    "write `stdio [\"prog\", \"arg\"]`",
                )),
            },
            ast::McpTransport::Http { url, auth_env } => {
                match plain_str(url) {
                    Some(u) if u.starts_with("http://") || u.starts_with("https://") => {}
                    _ => diags.push(catalog::invalid_binding(
                        url.span,
                        "the URL must be a plain string literal starting with `http://` or `https://`",
                        "write the full URL of the server's MCP endpoint",
                    )),
                }
                if let Some(a) = auth_env
                    && plain_str(a).is_none_or(|v| v.is_empty())
                {
                    diags.push(catalog::invalid_binding(
                        a.span,
                        "`auth_env` takes the name of an environment variable",
                        "write `auth_env \"OPS_TOKEN\"`; the token itself is never written in the file",
                    ));
                }
            }
        }
        out.insert(d.name.name.to_string(), (McpServer::of(d), d.name.span));
    }
    out
}

/// A tool bound with `mcp SERVER "name"`: the server declared, the tool
/// listed, its parameters and result held to the tool's schemas.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_tool(
    t: &ToolDecl,
    params: &[ParamSig],
    ret: &Type,
    servers: &HashMap<String, (McpServer, Span)>,
    answers: &mut HashMap<String, McpTools>,
    dir: &std::path::Path,
    loader: &dyn Loader,
    diags: &mut Vec<Diagnostic>,
) {
    let BindingKind::Mcp { server, tool } = &t.binding.kind else {
        return;
    };
    let Some((spec, _)) = servers.get(server.name.as_str()) else {
        diags.push(catalog::mcp_unknown_server(
            server.span,
            &server.name,
            suggest(&server.name, servers.keys().map(String::as_str)),
        ));
        return;
    };
    let Some(name) = plain_str(tool) else {
        diags.push(catalog::invalid_binding(
            tool.span,
            "the MCP tool's name must be a plain string literal",
            "write `mcp SERVER \"tool_name\"`",
        ));
        return;
    };
    let answer = answers
        .entry(server.name.to_string())
        .or_insert_with(|| loader.mcp_tools(spec, dir));
    let listed = match answer {
        McpTools::Listed(l) => l,
        McpTools::Unreachable(why) => {
            diags.push(catalog::mcp_unreachable(server.span, &server.name, why));
            // Once per server.
            *answer = McpTools::CannotTell;
            return;
        }
        McpTools::CannotTell => return,
    };
    let Some(found) = listed.iter().find(|x| x.name == name) else {
        diags.push(catalog::mcp_tool_not_offered(
            tool.span,
            &server.name,
            &name,
            suggest(&name, listed.iter().map(|x| x.name.as_str())),
            &listed.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ));
        return;
    };
    let schema = &found.input_schema;
    let props = schema.get("properties").and_then(Value::as_object);
    let required = required_of(schema);
    for (p, ast_p) in params.iter().zip(&t.params) {
        match props.and_then(|m| m.get(&p.name)) {
            None => {
                if props.is_some()
                    || schema.get("additionalProperties") == Some(&Value::Bool(false))
                {
                    diags.push(catalog::mcp_param_absent(
                        ast_p.name.span,
                        &p.name,
                        &name,
                        suggest(
                            &p.name,
                            props.into_iter().flat_map(|m| m.keys().map(String::as_str)),
                        ),
                    ));
                }
            }
            Some(s) => {
                let nullable_ok = !required.contains(&p.name.as_str());
                let ty = match (&p.ty, nullable_ok) {
                    // An optional parameter left out is not sent.
                    (Type::Optional(inner), true) => (**inner).clone(),
                    (t, _) => t.clone(),
                };
                if let Some((path, says)) = fits_input(&ty, s, schema, &p.name) {
                    diags.push(catalog::mcp_type_mismatch(
                        ast_p.ty.span,
                        &name,
                        &format!("{path}: the schema says {says}"),
                    ));
                }
            }
        }
    }
    for r in &required {
        if !params.iter().any(|p| p.name == *r) {
            diags.push(catalog::mcp_param_missing(t.name.span, r, &name));
        }
    }
    if let Some(out) = &found.output_schema
        && let Some((path, says)) = fits_output(ret, out, out, "result")
    {
        diags.push(catalog::mcp_result_mismatch(
            t.ret.span,
            &name,
            &format!("{path}: the schema says {says}"),
        ));
    }
}

/// `$ref`s (`#/$defs/X`, `#/definitions/X`) followed in `root`.
fn resolve<'a>(mut s: &'a Value, root: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(r) = s.get("$ref").and_then(Value::as_str) else {
            return s;
        };
        let Some(ptr) = r.strip_prefix('#') else {
            return s;
        };
        match root.pointer(ptr) {
            Some(t) => s = t,
            None => return s,
        }
    }
    s
}

/// The alternatives of a schema: `anyOf`/`oneOf`, or a `type` list; `None`
/// for a schema of one kind.
fn branches(s: &Value) -> Option<Vec<Value>> {
    if let Some(a) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
    {
        return Some(a.clone());
    }
    if let Some(ts) = s.get("type").and_then(Value::as_array) {
        return Some(
            ts.iter()
                .map(|t| {
                    let mut b = s.clone();
                    b["type"] = t.clone();
                    b
                })
                .collect(),
        );
    }
    None
}

fn kind(s: &Value) -> Option<&str> {
    s.get("type").and_then(Value::as_str)
}

fn says(s: &Value) -> String {
    match kind(s) {
        Some("array") => "a list".into(),
        Some("object") => "an object".into(),
        Some("string") if s.get("enum").is_some() => format!("one of {}", s["enum"]),
        Some(k) => k.to_string(),
        None => s.to_string(),
    }
}

/// An object schema's `required` names (none when it says none).
pub fn required_of(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The type a declaration would write for values of the schema `s`
/// (the language server's completion of an MCP tool's parameters): `json`
/// where the schema says nothing flowc can write, nested at most 8 deep.
pub fn type_of_schema(s: &Value, root: &Value) -> Type {
    schema_type(s, root, 8)
}

fn schema_type(s: &Value, root: &Value, depth: u8) -> Type {
    let s = resolve(s, root);
    if depth == 0 {
        return Type::Json;
    }
    if let Some(bs) = branches(s) {
        let (nulls, rest): (Vec<&Value>, Vec<&Value>) = bs
            .iter()
            .partition(|b| kind(resolve(b, root)) == Some("null"));
        let inner = match rest.as_slice() {
            [one] => schema_type(one, root, depth - 1),
            _ => Type::Json,
        };
        return if nulls.is_empty() || inner == Type::Json {
            inner
        } else {
            Type::Optional(Rc::new(inner))
        };
    }
    match kind(s) {
        Some("string") => match s.get("enum").and_then(Value::as_array) {
            Some(e) if !e.is_empty() && e.iter().all(Value::is_string) => {
                let mut v: Vec<String> = e
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect();
                v.sort();
                v.dedup();
                Type::Lit(Rc::new(v))
            }
            _ => Type::String,
        },
        Some("integer") => Type::Int,
        Some("number") => Type::Float,
        Some("boolean") => Type::Bool,
        Some("null") => Type::Null,
        Some("array") => match s.get("items") {
            Some(items) => Type::List(Rc::new(schema_type(items, root, depth - 1))),
            None => Type::List(Rc::new(Type::Json)),
        },
        Some("object") => match s.get("properties").and_then(Value::as_object) {
            Some(props) if !props.is_empty() => {
                let required = required_of(s);
                Type::Record(Rc::new(crate::types::RecordTy {
                    fields: props
                        .iter()
                        .map(|(name, fs)| crate::types::FieldTy {
                            name: name.clone(),
                            ty: schema_type(fs, root, depth - 1),
                            optional: !required.contains(&name.as_str()),
                        })
                        .collect(),
                    name: None,
                }))
            }
            _ => Type::Json,
        },
        _ => Type::Json,
    }
}

/// Does every value of `ty` fit the schema `s` (an argument flowc sends)?
/// The first misfit: its path and what the schema says.
fn fits_input(ty: &Type, s: &Value, root: &Value, path: &str) -> Option<(String, String)> {
    let s = resolve(s, root);
    if let Some(bs) = branches(s) {
        // Each alternative of the type fits some branch.
        let parts: Vec<Type> = match ty {
            Type::Optional(t) => vec![(**t).clone(), Type::Null],
            t => vec![t.clone()],
        };
        for part in parts {
            if !bs
                .iter()
                .any(|b| fits_input(&part, b, root, path).is_none())
            {
                let first = bs.iter().find_map(|b| fits_input(&part, b, root, path));
                return first;
            }
        }
        return None;
    }
    // A schema with no `type` takes any value.
    let k = kind(s)?;
    let bad = || Some((path.to_string(), says(s)));
    match (ty, k) {
        (Type::Unknown | Type::Json | Type::Never, _) => None,
        (Type::Optional(_), _) => Some((path.to_string(), format!("{} (not null)", says(s)))),
        (Type::Null, "null") => None,
        (Type::Bool, "boolean") => None,
        (Type::Int | Type::Duration, "integer" | "number") => None,
        (Type::Float, "number") => None,
        (Type::String | Type::Regex, "string") => match s.get("enum") {
            Some(_) => bad(),
            None => None,
        },
        (Type::Lit(vs), "string") => match s.get("enum").and_then(Value::as_array) {
            Some(e) if !vs.iter().all(|v| e.iter().any(|x| x.as_str() == Some(v))) => bad(),
            _ => None,
        },
        (Type::List(t), "array") => match s.get("items") {
            Some(items) => fits_input(t, items, root, &format!("{path}[]")),
            None => None,
        },
        (Type::Record(r), "object") => {
            let props = s.get("properties").and_then(Value::as_object);
            let required = required_of(s);
            for req in &required {
                match r.field(req) {
                    Some(f) if !f.optional => {}
                    _ => {
                        return Some((format!("{path}.{req}"), "it is required".to_string()));
                    }
                }
            }
            for f in &r.fields {
                if let Some(fs) = props.and_then(|p| p.get(&f.name)) {
                    let ty = if required.contains(&f.name.as_str()) {
                        f.ty.clone()
                    } else {
                        match &f.ty {
                            Type::Optional(t) => (**t).clone(),
                            t => t.clone(),
                        }
                    };
                    if let Some(m) = fits_input(&ty, fs, root, &format!("{path}.{}", f.name)) {
                        return Some(m);
                    }
                } else if s.get("additionalProperties") == Some(&Value::Bool(false)) {
                    return Some((format!("{path}.{}", f.name), "no such property".to_string()));
                }
            }
            None
        }
        _ => bad(),
    }
}

/// Can every value the schema `s` allows (a result the server sends) be
/// taken by `ty`? The first misfit: its path and what the schema says.
fn fits_output(ty: &Type, s: &Value, root: &Value, path: &str) -> Option<(String, String)> {
    let s = resolve(s, root);
    if let Some(bs) = branches(s) {
        return bs.iter().find_map(|b| fits_output(ty, b, root, path));
    }
    let inner = match ty {
        Type::Optional(t) => {
            if kind(s) == Some("null") {
                return None;
            }
            &**t
        }
        t => t,
    };
    let Some(k) = kind(s) else {
        // Any value: only `json` takes it all.
        return match inner {
            Type::Json | Type::Unknown => None,
            _ if s.as_object().is_some_and(|o| o.is_empty()) => {
                Some((path.to_string(), "any value".to_string()))
            }
            _ => None,
        };
    };
    let bad = || Some((path.to_string(), says(s)));
    match (inner, k) {
        (Type::Unknown | Type::Json, _) => None,
        (Type::Null, "null") => None,
        (Type::Bool, "boolean") => None,
        (Type::Int, "integer") => None,
        (Type::Float, "number" | "integer") => None,
        (Type::String, "string") => None,
        (Type::Lit(vs), "string") => match s.get("enum").and_then(Value::as_array) {
            Some(e)
                if e.iter()
                    .all(|x| x.as_str().is_some_and(|x| vs.iter().any(|v| v == x))) =>
            {
                None
            }
            _ => bad(),
        },
        (Type::List(t), "array") => match s.get("items") {
            Some(items) => fits_output(t, items, root, &format!("{path}[]")),
            None => fits_output(
                t,
                &Value::Object(Default::default()),
                root,
                &format!("{path}[]"),
            ),
        },
        (Type::Record(r), "object") => {
            let props = s.get("properties").and_then(Value::as_object);
            let required = required_of(s);
            for f in &r.fields {
                let fp = format!("{path}.{}", f.name);
                match props.and_then(|p| p.get(&f.name)) {
                    None if f.optional || f.ty.is_optional() => {}
                    None => return Some((fp, "no such property".to_string())),
                    Some(fs) => {
                        if !required.contains(&f.name.as_str())
                            && !f.optional
                            && !f.ty.is_optional()
                        {
                            return Some((fp, "it may be absent".to_string()));
                        }
                        if let Some(m) = fits_output(&f.ty, fs, root, &fp) {
                            return Some(m);
                        }
                    }
                }
            }
            None
        }
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(fields: Vec<(&str, Type)>) -> Type {
        Type::Record(Rc::new(RecordTy {
            fields: fields.into_iter().map(|(n, t)| Type::field(n, t)).collect(),
            name: None,
        }))
    }

    #[test]
    fn refs_are_followed_and_paths_named() {
        let out = json!({
            "type": "object",
            "properties": { "rows": { "type": "array", "items": { "$ref": "#/$defs/Row" } } },
            "required": ["rows"],
            "$defs": { "Row": {
                "type": "object",
                "properties": { "ci_id": { "type": "integer" } },
                "required": ["ci_id"]
            } }
        });
        let good = rec(vec![(
            "rows",
            Type::List(Rc::new(rec(vec![("ci_id", Type::Int)]))),
        )]);
        assert_eq!(fits_output(&good, &out, &out, "result"), None);
        let bad = rec(vec![(
            "rows",
            Type::List(Rc::new(rec(vec![("ci_id", Type::String)]))),
        )]);
        assert_eq!(
            fits_output(&bad, &out, &out, "result"),
            Some(("result.rows[].ci_id".into(), "integer".into()))
        );
        let s = json!({ "type": "array", "items": { "type": "integer" } });
        assert_eq!(
            fits_input(&Type::List(Rc::new(Type::String)), &s, &s, "ids"),
            Some(("ids[]".into(), "integer".into()))
        );
        let opt = json!({ "anyOf": [{ "type": "string" }, { "type": "null" }] });
        assert_eq!(
            fits_input(&Type::optional(Type::String), &opt, &opt, "x"),
            None
        );
        assert_eq!(
            fits_output(&Type::String, &opt, &opt, "result"),
            Some(("result".into(), "null".into()))
        );
    }
}
