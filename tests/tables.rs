//! The tables that generate parts of the docs: docs/language.md's list of
//! built-in functions comes from `src/builtins/` and its options table from
//! `src/check/options.rs`. `BLESS=1 cargo test` rewrites the generated parts.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const START: &str = "<!-- generated from ";
const END: &str = "<!-- end of generated -->\n";

/// `text` with the generated part that follows the marker naming `source`
/// replaced by `generated`.
fn with_generated(text: &str, source: &str, generated: &str) -> String {
    let marker = format!("{START}{source} (BLESS=1 cargo test rewrites it) -->\n");
    let a = text
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/language.md has no marker `{}`", marker.trim()))
        + marker.len();
    let b = a + text[a..].find(END).expect("an end marker after the start");
    format!("{}{generated}{}", &text[..a], &text[b..])
}

/// The tests rewrite one file: one at a time.
static DOC: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn check_generated(source: &str, generated: &str) {
    let _one_at_a_time = DOC.lock().unwrap_or_else(|e| e.into_inner());
    let path = root().join("docs/language.md");
    let current = std::fs::read_to_string(&path).expect("docs/language.md");
    let wanted = with_generated(&current, source, generated);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &wanted).expect("write docs/language.md");
        return;
    }
    assert!(
        current == wanted,
        "docs/language.md is out of date with {source}; run BLESS=1 cargo test"
    );
}

#[test]
fn the_builtin_list_is_generated_from_the_table() {
    let generated = flowc::builtins::markdown();
    for name in flowc::builtins::NAMES {
        assert!(generated.contains(&format!("`{name}(")), "{name} is listed");
    }
    check_generated("src/builtins/", &generated);
}

#[test]
fn the_options_table_is_generated_from_the_table() {
    let generated = flowc::check::options::markdown();
    for o in flowc::check::options::OPTIONS {
        assert!(
            generated.contains(&format!("| `{}` |", o.name)),
            "{} is listed",
            o.name
        );
    }
    check_generated("src/check/options.rs", &generated);
}
