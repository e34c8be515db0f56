use super::*;

/// The words of the `keyword` rule, read from the grammar file.
fn keywords() -> Vec<String> {
    let g = include_str!("../../../grammar/flow.pest");
    let start = g.find("\nkeyword = @{").expect("keyword rule");
    let body = &g[start..start + g[start..].find("\n}").expect("end of rule")];
    body.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The ordinary path: the whole file through the `file` rule.
fn parse_slow(src: &str) -> Module {
    let conv = Converter::new(FileId(0), src, 0);
    let top = parse_rule(Rule::file, src, false)
        .expect("parses")
        .next()
        .expect("one pair");
    let m = conv.file(top);
    assert!(conv.diags.borrow().is_empty());
    m
}

#[test]
fn the_fast_path_gives_the_same_tree() {
    let big_body: String = (0..9000)
        .map(|i| format!("    let n{i} = wait(ms: {i}) after n{}\n", i.max(1) - 1))
        .collect();
    let big = format!(
        "tool wait(ms: int) -> {{ ms: int }} = builtin \"sleep\"\n/// doc\nflow main() -> int {{\n    let n0 = wait(ms: 0)\n{big_body}    // the end\n    1\n}}\n"
    );
    for src in [
        include_str!("../../../tests/data/taste.flow"),
        include_str!("../../../tests/ui/pass/every_construct.flow"),
        big.as_str(),
    ] {
        let (fast, diags) = parse(FileId(0), src);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(fast, parse_slow(src));
    }
    assert!(
        big.len() > PARALLEL_BODY,
        "the big program takes the parallel path"
    );
}

#[test]
fn comments_are_kept_and_doc_comments_attach_to_items() {
    let src = "/// Doc of t.\n/// Second line.\ntool t() -> json = builtin \"echo\"\n// plain\n\n/// Doc of main.\nflow main() -> json {\n    // inside\n    t() /* block */\n}\n";
    let (m, d) = parse(FileId(0), src);
    assert!(d.is_empty(), "{d:?}");
    let texts: Vec<(&str, CommentKind)> = m
        .comments
        .iter()
        .map(|c| (c.text.as_str(), c.kind))
        .collect();
    assert_eq!(
        texts,
        vec![
            ("/// Doc of t.", CommentKind::Doc),
            ("/// Second line.", CommentKind::Doc),
            ("// plain", CommentKind::Line),
            ("/// Doc of main.", CommentKind::Doc),
            ("// inside", CommentKind::Line),
            ("/* block */", CommentKind::Block),
        ]
    );
    assert_eq!(m.items[0].doc.as_deref(), Some("Doc of t.\nSecond line."));
    assert_eq!(m.items[1].doc.as_deref(), Some("Doc of main."));
}

#[test]
fn exponents_are_floats_and_letters_after_digits_are_durations() {
    let src = "const A = 1e-3\nconst B = 2.5E+3\nconst C = 4e2\nconst D = 10s\nconst E = 1.5h\n";
    let (m, d) = parse(FileId(0), src);
    assert!(d.is_empty(), "{d:?}");
    let kinds: Vec<String> = m
        .items
        .iter()
        .map(|it| match &it.kind {
            ItemKind::Const(c) => match &c.value.kind {
                ExprKind::Float(f) => format!("float {f}"),
                ExprKind::Duration { text, .. } => format!("duration {text}"),
                other => format!("{other:?}"),
            },
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "float 0.001",
            "float 2500",
            "float 400",
            "duration 10s",
            "duration 1.5h"
        ]
    );
}

#[test]
fn keyword_trie_accepts_exactly_the_keywords() {
    let words = keywords();
    assert!(words.len() >= 30, "{words:?}");
    for w in &words {
        assert!(
            parse_rule(Rule::keyword_trie, w, false).is_ok_and(|p| p.as_str() == w),
            "trie misses `{w}`"
        );
        assert!(
            parse_rule(Rule::keyword, w, false).is_ok_and(|p| p.as_str() == w),
            "keyword misses `{w}`"
        );
        assert!(
            parse_rule(Rule::ident, w, false).is_err(),
            "`{w}` is accepted as a name"
        );
        let longer = format!("{w}x");
        assert!(
            parse_rule(Rule::keyword_trie, &longer, false).is_err(),
            "trie takes the prefix of `{longer}`"
        );
    }
    for not_kw in [
        "asserts", "a", "iff", "n", "nul", "tools", "merge", "max", "exec", "flows", "_if",
    ] {
        assert!(
            parse_rule(Rule::keyword_trie, not_kw, false).is_err(),
            "`{not_kw}` is not a keyword"
        );
        assert!(
            parse_rule(Rule::ident, not_kw, false).is_ok(),
            "`{not_kw}` is a name"
        );
    }
}
