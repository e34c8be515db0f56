//! `flowc graph`: the branches of an `if` and the arms of a `match` or
//! `decide` labelled by their condition, pattern or label; a flow of an
//! imported module drawn by the name code calls it with (`lib.flow`).

mod common;
use common::{flowc, tempdir, text};
use serde_json::Value;

const LIB: &str = r#"
tool shout(s: string) -> string = builtin "echo"

flow big(x: int) -> int {
    let said = shout(s: "big")
    x * 2
}
"#;

const MAIN: &str = r#"
import "lib.flow" as lib

flow main(x: int, s: string) -> int {
    let a = if x > 10 { lib.big(x: x) } else if x < 0 { 0 } else { 1 }
    let b = match s {
        "high" => lib.big(x: 1),
        "low" | "none" => 2,
        _ => 3,
    }
    a + b
}
"#;

fn setup(tag: &str) -> std::path::PathBuf {
    let dir = tempdir(tag);
    std::fs::write(dir.join("lib.flow"), LIB).expect("write lib.flow");
    std::fs::write(dir.join("main.flow"), MAIN).expect("write main.flow");
    dir
}

fn graph(dir: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["graph", "main.flow"];
    all.extend_from_slice(args);
    let out = flowc(dir, &all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// The node of `block` labelled `label`.
fn node<'a>(block: &'a Value, label: &str) -> &'a Value {
    block["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["label"] == label)
        .unwrap_or_else(|| panic!("no node `{label}` in {block:#}"))
}

fn child_labels(n: &Value) -> Vec<String> {
    n["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|c| c["label"].as_str().expect("label").to_string())
        .collect()
}

#[test]
fn branches_are_labelled_by_their_condition_or_pattern() {
    let dir = setup("graph-labels");
    let g: Value = serde_json::from_str(&graph(&dir, &["--format", "json"])).expect("JSON");
    let body = &g["body"];
    assert_eq!(
        child_labels(node(body, "a")),
        ["if x > 10", "else if x < 0", "else"]
    );
    let b = node(body, "b");
    assert_eq!(child_labels(b), ["match s"]);
    let arms = &b["children"][0];
    let labels: Vec<&str> = arms["nodes"]
        .as_array()
        .expect("arms")
        .iter()
        .map(|n| n["label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels, ["\"high\"", "\"low\" | \"none\"", "_"]);
    // The arm that calls a flow shows the call.
    assert_eq!(
        node(arms, "\"high\"")["calls"],
        serde_json::json!(["lib.big"])
    );

    let dot = graph(&dir, &["--format", "dot"]);
    assert!(dot.contains("label=\"if x > 10 (a)\""), "{dot}");
    assert!(dot.contains("label=\"else if x < 0 (a)\""), "{dot}");
    assert!(dot.contains("label=\"match s (b)\""), "{dot}");
    assert!(dot.contains("\\\"low\\\" | \\\"none\\\""), "{dot}");
    let mermaid = graph(&dir, &["--format", "mermaid"]);
    assert!(mermaid.contains("[\"if x > 10 (a)\"]"), "{mermaid}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flow_of_an_imported_module_is_named_as_code_calls_it() {
    let dir = setup("graph-import");
    let g: Value = serde_json::from_str(&graph(&dir, &["--flow", "lib.big", "--format", "json"]))
        .expect("JSON");
    assert_eq!(g["flow"], "lib.big");
    assert_eq!(g["body"]["label"], "flow lib.big");
    assert_eq!(
        node(&g["body"], "said")["calls"],
        serde_json::json!(["shout"])
    );

    let out = flowc(&dir, &["graph", "main.flow", "--flow", "lib.bog"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("module `lib` has no flow `bog`") && err.contains("its flows: `lib.big`"),
        "{err}"
    );
    let out = flowc(&dir, &["graph", "main.flow", "--flow", "other.big"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("`main.flow` imports no module `other`; its imports: `lib`"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
