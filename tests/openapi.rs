//! The service's OpenAPI document (`GET /api/v1/openapi.json`) as a client
//! generator reads it: fetched from a real server with a viewer's token, it
//! is OpenAPI 3.x, documents every route the router serves (read from
//! src/serve/api.rs, so a route added without its `#[utoipa::path]` fails
//! here), the bearer token and the error answers, and passes
//! `openapi-spec-validator` (PyPI, pinned in tests/openapi/requirements.txt,
//! installed into target/openapi-venv by tests/openapi/install.sh, which
//! .ci/run calls; without it the validation is skipped with a note unless
//! `FLOWC_REQUIRE_OPENAPI_VALIDATOR=1`).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::service::{OPERATOR, Service, VIEWER};
use common::{http, tempdir, text};
use serde_json::Value;

const FLOWS: &str = r#"
/// Says hello.
flow main(name: string) -> string {
    "hello {name}"
}
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The API routes the router serves, as (method, OpenAPI path): every
/// `.route("…", get(…).post(…))` of src/serve/api.rs under `/api/` and
/// `/metrics` (the console's files, `/`, `/console.js` and `/console.css`,
/// are not API). `{*path}` is written `{path}`.
fn routes() -> BTreeSet<(String, String)> {
    let src = std::fs::read_to_string(root().join("src/serve/api.rs")).unwrap();
    let mut out = BTreeSet::new();
    for (at, _) in src.match_indices(".route(\"") {
        let rest = &src[at + ".route(".len()..];
        // The call's text: up to its closing parenthesis.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("a closed .route(…) call");
        let call = &rest[..end];
        let path = call[1..].split('"').next().unwrap().replace("{*", "{");
        if !(path.starts_with("/api/") || path == "/metrics") {
            continue;
        }
        let mut methods = 0;
        for m in ["get", "post", "put", "delete", "patch"] {
            for (i, _) in call.match_indices(&format!("{m}(")) {
                let before = call[..i].chars().last().unwrap_or(' ');
                if !before.is_alphanumeric() && before != '_' {
                    out.insert((m.to_string(), path.clone()));
                    methods += 1;
                }
            }
        }
        assert!(methods > 0, "no method found in `.route({call})`");
    }
    assert!(
        out.len() >= 13,
        "the router's routes were not found: {out:?}"
    );
    out
}

#[test]
fn the_openapi_document_describes_every_route_and_validates() {
    let dir = tempdir("openapi");
    std::fs::write(dir.join("hello.flow"), FLOWS).unwrap();
    let s = Service::start(&dir, "hello.flow");

    let (status, _) = http(
        "GET",
        &format!("{}/api/v1/openapi.json", s.base),
        None,
        None,
    );
    assert_eq!(status, 401, "the document needs a token like the rest");
    let (status, doc) = s.get("/api/v1/openapi.json", VIEWER);
    assert_eq!(status, 200, "{doc}");
    let version = doc["openapi"].as_str().expect("an `openapi` version");
    assert!(version.starts_with("3."), "OpenAPI 3.x, not {version}");

    // Every route of the router, with each of its methods.
    let paths = doc["paths"].as_object().expect("paths");
    let mut missing = Vec::new();
    for (method, path) in routes() {
        let Some(op) = paths.get(&path).and_then(|p| p.get(&method)) else {
            missing.push(format!("{} {path}", method.to_uppercase()));
            continue;
        };
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.contains_key("401"),
            "{method} {path} says nothing of 401"
        );
        if method != "get" {
            assert!(
                responses.contains_key("403"),
                "{method} {path} (a write) says nothing of 403"
            );
        }
    }
    assert!(
        missing.is_empty(),
        "routes of src/serve/api.rs without an OpenAPI operation (add `#[utoipa::path]` and list the handler in `ApiDoc`): {missing:?}"
    );
    // And nothing that is not served.
    let served: BTreeSet<String> = routes().into_iter().map(|(_, p)| p).collect();
    for p in paths.keys() {
        assert!(served.contains(p), "{p} is documented but not routed");
    }

    // The bearer token, required by every operation.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["security"][0]["bearer"], Value::Array(vec![]));

    // Request bodies and answers as schemas; the 422's diagnostics.
    let start = &paths["/api/v1/runs"]["post"];
    let body_ref = start["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .expect("the start body is a schema");
    let body = &doc["components"]["schemas"][body_ref.rsplit('/').next().unwrap()];
    assert_eq!(body["required"], serde_json::json!(["flow"]), "{body}");
    let unprocessable = &doc["components"]["schemas"]["Unprocessable"];
    assert_eq!(
        unprocessable["properties"]["diagnostics"]["type"],
        serde_json::json!(["array", "null"]),
        "{unprocessable}"
    );
    assert!(
        doc["components"]["schemas"]["Diagnostic"]["required"]
            .as_array()
            .unwrap()
            .contains(&Value::from("code"))
    );
    // An operator reads it too.
    assert_eq!(s.get("/api/v1/openapi.json", OPERATOR).0, 200);

    // A real validator.
    let validator = root().join("target/openapi-venv/bin/openapi-spec-validator");
    if !validator.exists() {
        assert!(
            std::env::var("FLOWC_REQUIRE_OPENAPI_VALIDATOR").as_deref() != Ok("1"),
            "{} is missing: run tests/openapi/install.sh",
            validator.display()
        );
        eprintln!("note: not validated with openapi-spec-validator (run tests/openapi/install.sh)");
        return;
    }
    let file = dir.join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = std::process::Command::new(&validator)
        .arg(&file)
        .output()
        .expect("openapi-spec-validator runs");
    assert!(
        out.status.success(),
        "openapi-spec-validator refuses the document:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
