//! `flowc graph`: the branches of an `if` and the arms of a `match` or
//! `decide` labelled by their condition, pattern or label; a flow of an
//! imported module drawn by the name code calls it with (`lib.flow`); the
//! graphs of some files of `tests/run/` (calls, `for … where`, block arms);
//! snapshots of the JSON, dot and mermaid output.

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

// ------------------------------------------------ the files of tests/run

/// `flowc graph FILE ARGS` of an annotated file of tests/run (README.md there).
fn graph_of_run_file(file: &str, args: &[&str]) -> String {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/run");
    let mut all = vec!["graph", file];
    all.extend_from_slice(args);
    let out = flowc(&dir, &all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn a_call_of_a_tool_named_like_a_builtin_is_drawn_and_the_builtin_is_not() {
    let g: Value = serde_json::from_str(&graph_of_run_file(
        "a_tool_or_flow_named_like_a_builtin_shadows_it.flow",
        &["--format", "json"],
    ))
    .expect("graph JSON");
    let calls: Vec<Value> = g["body"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .flat_map(|n| n["calls"].as_array().cloned().unwrap_or_default())
        .collect();
    // The tool `upper` twice, not the built-in `len`.
    assert_eq!(calls, ["upper", "upper", "lib.both", "lib.len"]);
}

#[test]
fn a_for_where_shows_its_condition() {
    let text = graph_of_run_file(
        "for_where_keeps_the_elements_whose_condition_holds.flow",
        &["--format", "mermaid"],
    );
    assert!(text.contains("for x where x > 4 (big)"), "{text}");
}

#[test]
fn each_block_arm_is_a_cluster_named_by_its_head() {
    let g: Value = serde_json::from_str(&graph_of_run_file(
        "an_arm_may_be_a_block_of_statements.flow",
        &["--format", "json"],
    ))
    .expect("graph JSON");
    // The block arms are clusters inside the arms' nodes of the `match`/`decide`
    // clusters, in the order they are written.
    fn clusters<'v>(block: &'v Value, out: &mut Vec<&'v str>) {
        for n in block["nodes"].as_array().into_iter().flatten() {
            for c in n["children"].as_array().into_iter().flatten() {
                out.push(c["label"].as_str().unwrap_or(""));
                clusters(c, out);
            }
        }
    }
    let mut all = Vec::new();
    clusters(&g["body"], &mut all);
    let arms: Vec<&str> = all.into_iter().filter(|l| l.ends_with("=>")).collect();
    assert_eq!(arms, ["1 =>", "_ =>", "retry =>"], "{g:#}");
}

const TOOLS: &str = r#"
tool wait(ms: int) -> { ms: int } = builtin "sleep"
tool echo(value: json) -> { value: json } = builtin "echo"
tool boom(message: string) -> json = builtin "fail"
"#;

fn with_tools(body: &str) -> String {
    format!("{TOOLS}\n{body}")
}

#[test]
fn graph_snapshots() {
    let dir = tempdir("graph");
    let src = with_tools(
        r#"
flow main() -> json {
    let a = wait(ms: 1)
    let b = wait(ms: a.ms) after a
    let p = parallel { x = echo(value: b); y = echo(value: 2) }
    let s = sequence { let one = wait(ms: 1)
        one.ms }
    { p, s }
}
"#,
    );
    std::fs::write(dir.join("main.flow"), src).expect("write");
    let run = |fmt: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["graph", "--format", fmt])
            .arg(dir.join("main.flow"))
            .output()
            .expect("flowc graph");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let snap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/graph.json");
    let json_out = run("json");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(snap, &json_out).expect("bless");
    }
    assert_eq!(
        json_out,
        std::fs::read_to_string(snap).unwrap_or_default(),
        "flowc graph --format json changed (BLESS=1 to update)"
    );
    let dot = run("dot");
    assert!(
        dot.starts_with("digraph") && dot.contains("cluster") && dot.contains("after"),
        "{dot}"
    );
    let mermaid = run("mermaid");
    assert!(
        mermaid.starts_with("flowchart TD") && mermaid.contains("subgraph"),
        "{mermaid}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
