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

/// Every `.flow` file of the repository (examples, tests, the standard library).
fn repository_sources() -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "flow")
                && let Ok(text) = std::fs::read_to_string(&p)
            {
                out.push((p, text));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for d in ["examples", "tests", "stdlib", "editors"] {
        walk(&root.join(d), &mut out);
    }
    out
}

/// Statements written every way the layout allows: spaces, tabs and comments
/// between tokens, new lines inside brackets and after operators, lines that
/// continue the one before, and what the fast path leaves to pest.
fn on_a_large_stack(f: fn()) {
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(f)
        .expect("a thread")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

/// Long statements: flat (read by the fast path), and deep enough for the
/// tree depth limit (E0105) or near it (left to pest), in a flow.
fn long_variants() -> Vec<String> {
    let names = (0..3000).map(|i| format!("n{i}")).collect::<Vec<_>>();
    let long = [
        format!("let a = len([{}])", names.join(", ")),
        format!("let a = {}", names[..1200].join(" + ")),
        format!("let a = {}", names[..390].join(" + ")),
        format!("let a = b{}", ".c".repeat(1100)),
        format!("let a = b{}", "[0]".repeat(450)),
        format!("let a = {}b", "-".repeat(1100)),
        format!("let a = {}", names[..300].join(" catch ")),
        format!(
            "let a = f({})",
            names[..200]
                .iter()
                .map(|n| format!("{n}: {n}.x + 1"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "let a = if b {{ 1 }}{} else {{ 2 }}",
            " else if c { 1 }".repeat(1100)
        ),
        format!("let a = ({}b{})", "(".repeat(150), ")".repeat(150)),
    ];
    long.iter()
        .map(|s| format!("flow f(b: int) -> int {{\n    {s}\n    let z = 1\n    z\n}}\n"))
        .collect()
}

fn layout_variants() -> Vec<String> {
    let stmts = [
        "let a = f(x: 1, y: \"s\") after b, c",
        "let a = f( x : 1 ,y:2 , ) after  b ,c",
        "let a = f(x: 1) /* c */ after b /* d */ , c // e",
        "let a = f(x: 1)   ",
        "let a = g.h.i(j)[0].k[*].l  // tail",
        "let a = g . h [ * ] . type",
        "let a = -b * !c + d - e / f % g",
        "let a = b ?? c ?? d || e && f == g != h < i <= j > k >= l ++ m",
        "let a = (b + c) * (d\n  + e)",
        "let a = b\n    + c",
        "let a = b\n    .c",
        "let a = f()\n    after b",
        "let a = f() catch 1",
        "let a = b ~ /x/",
        "let a = b !~ /x/",
        "let a = [1, 2,\n  3,\n]",
        "let a = [ ]",
        "let a = {}",
        "let a = { b: 1, c, \"d\": 2 }",
        "let a = { b: 1\n  c: 2 }",
        "let a = { type: 1, b }",
        "let a = \"x\\n\\t\\\"\\{\\}\\/\\\\\"",
        "let a = \"\\u{41}\\q\"",
        "let a = \"{b}\"",
        "let a = \"\"",
        "let a = 1.5 + 2s + 3MB + 99999999999999999999",
        "let a = 1.x",
        "let a = true && false ?? null",
        "let a = if b { 1 } else { 2 }",
        "let a = f() with { timeout: 1s }",
        "let a: int = 1",
        "letter = 1",
        "let a = b > = c",
        "let a = b >= c > d",
        "let a = - - b",
        "let a = ! ~b",
        "let a = f(b::c)",
        "let a = f(type: 1)",
        "let a = b[\n  c\n]",
        "a.b(c)",
        "f(a: b + c  , d: e + f.g  , h: i[0] + j[1]  , k: l.m  , n: -o[0]  )",
        "f(a: b + c.d(e)  , f: (g)  , h: [i]  , j: k + (l)  )",
        "f(x) after a  ",
        "f(x) after a, b  ",
        "let a = b after c /* d */ ",
        "f(x) after a",
        "mockery(x)",
        "afterwards(x)",
        "let a = b /* open",
        "let a = b // c\n// d\n\n  // e\n",
        "let a = b;; let c = d ;",
        "let a = b c",
        "let a = 1\nlet a = b\n  // c\n  ?? d",
        "let a = b\n  /* c */ else",
        "let a = f(\n  x: 1 // one\n  , y: 2\n)",
        "let a = b\u{e9}",
        "let a = \"caf\u{e9}\" ++ b",
        "/// doc\nlet a = 1",
        "let a = b\r\nlet c = d",
        "let a = \"{b} and {c.d(e: 1)}{f}\" ++ \"x{ g + 1 }y\"",
        "let a = \"{ b /* c */ } {\n  d\n}\"",
        "let a = \"{\"inner {b}\"}\"",
        "let a = \"{}\"",
        "let a = \"{b\"",
        "let a = \"\\u{41}\\u{1F600}\\u{D800}\\u{}\"",
        "let a = b ~ /x\\/y/i && c !~ /[a-z]+/ || d ~ /\\d/gim",
        "let a = f(p: /a b/, q: 1 / 2 / c)",
        "let a = b / /c/",
        "let a = /\\",
        "let a = 1.5 + 2.25 * 0.5",
        "let a = 2s + 250ms + 1.5h + 3d + 10m + 2x",
        "let a = 512KB + 64MB + 1GiB + 1.5TB + 10000000000TB",
        "let a = 99999999999999d",
        "let a = 1.x + 1.5.y + 1. + 2e3 + 3e + 4E5s + 5.5e",
        "let a = [1s, 2.0, 3B]",
        "let a = if b > 1 { c } else if d { e } else { f }",
        "let a = if b { let c = 1; c + 1 } /* x */ else /* y */ {\n  2\n}  ",
        "let a = if b {\n  c\n}\nelse {\n  d\n}",
        "let a = if b {\n  c\n} // no else\nlet d = 1",
        "let a = if b { c }  \n\n  // e\n  else if f { g }",
        "if b { f(x) }",
        "if b { f(x) }  after c",
        "let a = if b {} else {}",
        "let a = if b { c } elsewhere",
        "let a = if b { c } else",
        "let a = if b { c } else d",
        "let a = if b\n{ c }",
        "let a = if b { c d }",
        "let a = if b { c } { d }",
        "let a = if b { let c = 1\n  mock d = 2 }",
        "let a = if b { if c { d } else { e } }.f",
        "let a = if { b: 1 } == c { d }",
        "let a = if b { c }\n  .d",
        "let a = parallel { c = f(x: 1); d = g() catch { e: [] } }",
        "let a = parallel merge { c = { x: 0 }; d = { y: \"v\" } }",
        "let a = parallel concat {\n  c = [1, 2]\n\n  d = [0] after e\n}",
        "let a = parallel { c = f(), d = g(), }",
        "let a = parallel { c = f()  d = g() }",
        "let a = parallel /* x */ { // y\n  c = f() // z\n}",
        "let a = parallel with { max_concurrent: 2 } { c = f() }",
        "let a = parallel {}",
        "let a = parallel { c == f() }",
        "let a = parallel { c = f()\n  .d }",
        "let a = race { fast = w(ms: 1); slow = w(ms: 50) }",
        "let a = race {\n  fast = w(ms: 1)\n}.winner",
        "let a = sequence {\n  let b = w(ms: 2)\n  let c = w(ms: b.ms + 1) after b\n  c.ms * 2\n}",
        "let a = sequence with { timeout: 1s } { b }",
        "let a = dag { let b = f(); b }",
        "let a = for x in xs { x * 1 + b.x }",
        "let a = for x in f(y: 1).z { let w = x\n  w }",
        "let a = for x in xs with { max_concurrent: 2 } { x }",
        "let a = for x in xs where x > 1 { x }",
        "let a = for x inxs { x }",
        "let a = for x in xs\n{ x }",
        "let a = try { ops.fail(message: \"boom\") } catch e { \"{e.kind}: {e.message}\" }",
        "let a = try {\n  f()\n}\ncatch {\n  0\n}",
        "let a = try { f() } /* c */ catch /* d */ e /* f */ { 0 }",
        "let a = try { f() }",
        "let a = try with { retry: 2 } { f() } catch { 0 }",
        "let a = f() catch g() catch 1",
        "let a = f() catch 1 ?? 2 || c",
        "let a = b ?? c catch d",
        "let a = f() catchy",
        "let a = match r.cause { \"disk\" | \"filesystem\" => \"storage\", \"cpu\" => \"compute\", _ => \"other\" }",
        "let a = match n {\n  1 | -2 | 3.5 => \"a\"\n  -4.5 => b + 1\n  true | false | null => c,\n  _ => d\n}",
        "let a = match n { 1 |\n  2 => 3 }",
        "let a = match n { 5s => 1 }",
        "let a = match n { _x => 1 }",
        "let a = match n { 1 => { b: 1 } }",
        "let a = match n { 1 => { let b = 1; b } }",
        "let a = match n { 1 => 2 3 => 4 }",
        "let a = match n { 1 => 2\n  .c }",
        "let a = match n {}",
        "let a = loop s = { k: 0, sig: \"\" } max 4 until stable(s.sig) || s.k > 0 {\n  { k: s.k + iteration, sig: to_string(min(s.k, 3)) }\n}",
        "let a = loop s = 0\n  max b.c[0]\n  until s > 3 { s + 1 }",
        "let a = loop s = 0 until s > 3 { s + 1 }",
        "let a = loop s = 0 max 3 { s + 1 }",
        "let a = loop s = 0 until s > 3 with { timeout: 1s } { s + 1 }",
        "let a = loop s == 0 until s { s }",
        "let a = decide \"What next for {c} ({k})?\" with { r, all } {\n  continue => \"monitor\"\n  escalate => t(c: c).ticket\n  else => \"monitor\"\n}",
        "let a = decide \"Which?\" { yes => 1, no => 2, }",
        "let a = decide \"Which?\" with b { yes => { c: 1 } }",
        "let a = decide \"Which?\" { if => 1 }",
        "let a = decide \"Which?\" { else => 1 else => 2 }",
        "let a = if b { decide \"x\" { y => 1, else => 2 } } else { 3 }",
        "let a = decide \"x\" {\n  y => b\n  else => 2\n}\nlet c = d\nelse",
        "let a = decide \"x\" {\n  y => if b { 1 }\n  else => 2\n}",
        "let a = decide \"x\" {\n  y => decide \"z\" { w => 1\n else => 2 }\n  else => b\n    else\n}",
        "let a = f(x) with { timeout: 1s, retry: 2 }",
        "let a = f(x) with {\n  timeout: 1s\n  retry: 2,\n}  // c",
        "let a = f(x)  with  { timeout: 1s }  .b",
        "let a = f(x) with {}",
        "let a = f(x) with { timeout: 1s } { b }",
        "let a = f(x) with { timeout: 1s retry: 2 }",
        "let a = f(x) with b",
        "let a = for x in f() with { max_concurrent: 2 } { x }",
        "let a = for x in xs with { max_concurrent: 2 } { x * 4 + m.x }",
        "let a = parallel merge with { max_concurrent: 2 } { c = f() }",
        "let a = race with { timeout: 1s } { c = f() }",
        "let a = sequence with { timeout: 1s } {\n  b\n}",
        "let a = try with { retry: 2 } { f() } catch { 0 }",
        "let a = loop s = 0 until s > 3 with { timeout: 1s } { s + 1 }",
        "let a = approve \"Ship {n} 0?\" with { action }",
        "let a = approve \"Ship?\"  ",
        "let a = approve \"Ship?\" with b.c + d[0]",
        "let a = approve \"Ship?\" with b.c  after d",
        "let a = approve b",
        "if approve \"Ship?\" { 1 } else { 2 }",
        "if approve \"Ship?\" with b { 1 }",
        "let a = approve \"Ship?\" within 24h",
        "let a = approve \"Ship?\" with b.c[0]  within 2s  ",
        "if approve \"Ship?\" with b within 1h { 1 }",
    ];
    let mut out = Vec::new();
    for s in stmts {
        out.push(format!(
            "flow f(b: int) -> int {{\n    {s}\n    let z = 1\n    z\n}}\n"
        ));
        out.push(format!("flow f() -> int {{ {s} }}\n"));
        out.push(format!("flow f() -> int {{\n{s}"));
    }
    out
}

#[test]
fn the_fast_body_path_gives_what_pest_gives() {
    // Deep trees (the long variants) need more stack than a test thread's.
    on_a_large_stack(the_fast_body_path_gives_what_pest_gives_body);
}

fn the_fast_body_path_gives_what_pest_gives_body() {
    let mut sources = repository_sources();
    assert!(sources.len() > 50, "the repository's .flow files are found");
    for v in layout_variants().into_iter().chain(long_variants()) {
        sources.push(("variant".into(), v));
    }
    let mut differ = Vec::new();
    for (path, src) in &sources {
        let (fast, fast_diags) = parse_with(FileId(0), src, true, false);
        let (slow, slow_diags) = parse_with(FileId(0), src, false, false);
        let show = |d: &[Diagnostic]| format!("{d:?}");
        if fast != slow || show(&fast_diags) != show(&slow_diags) {
            differ.push(format!(
                "{}:\n{src}\nfast: {fast:?}\nslow: {slow:?}\n",
                path.display()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// A file of many flows, large enough that their bodies are parsed ahead on
/// every core, gives what parsing them one by one gives: spans, comments,
/// docs and diagnostics, with bad regions among them.
#[test]
fn bodies_parsed_ahead_give_what_one_by_one_gives() {
    // Deep trees (the long variants) need more stack than a test thread's.
    on_a_large_stack(bodies_parsed_ahead_give_what_one_by_one_gives_body);
}

fn bodies_parsed_ahead_give_what_one_by_one_gives_body() {
    let mut texts: Vec<String> = repository_sources().into_iter().map(|(_, t)| t).collect();
    texts.extend(layout_variants().into_iter().map(|v| v + "\n}\n"));
    let mut src = String::new();
    let mut k = 0;
    // Sources that parse clean alone (so none swallows the rest of the file),
    // and a broken flow every tenth.
    texts.retain(|t| parse_with(FileId(0), t, true, false).1.is_empty());
    while src.len() < 4 * super::PARALLEL_BODIES {
        for text in &texts {
            src.push_str(text);
            src.push('\n');
            k += 1;
            if k % 10 == 0 {
                src.push_str("flow broken( {\n  let a = \n}\n");
            }
        }
    }
    assert!(
        src.len() > super::PARALLEL_BODIES,
        "large enough: {}",
        src.len()
    );
    let (ahead, ahead_diags) = parse_with(FileId(0), &src, true, true);
    let (one, one_diags) = parse_with(FileId(0), &src, true, false);
    assert!(
        one.items.len() > 100,
        "{} items, {one_diags:?}",
        one.items.len()
    );
    assert!(!one_diags.is_empty(), "the broken flows are reported");
    assert_eq!(format!("{ahead_diags:?}"), format!("{one_diags:?}"));
    assert!(ahead == one, "the modules differ");
}

/// The statements the fast path is for are read by it (not left to pest).
#[test]
fn the_fast_path_reads_the_common_statements() {
    for s in [
        "let a = f(x: 1, y: \"s\") after b, c",
        "let a = \"{b} and {c.d(e: 1)}\" ++ \"\\u{41}\"",
        "let a = b ~ /x\\/y/i && c !~ /[a-z]+/",
        "let a = 2s + 250ms + 1.5 + 64MB",
        "let a = { b: [1, 2], c } ?? null",
        "let a = f(p: /a b/, q: 1 / 2 / c)",
        "let a = if b { c } else if d { e } else { f }",
        "let a = parallel merge { c = f(x: 1); d = g() catch { e: [] } }",
        "let a = race { fast = w(ms: 1); slow = w(ms: 50) }",
        "let a = sequence { let b = w(ms: 2)\n  b.ms * 2 }",
        "let a = for x in xs { x * 1 }",
        "let a = try { f() } catch e { \"{e.kind}\" }",
        "let a = match c { \"disk\" | \"fs\" => \"storage\", -1 => \"neg\", _ => \"other\" }",
        "let a = loop s = { k: 0 } max 4 until s.k > 0 { { k: s.k + 1 } }",
        "let a = decide \"Next for {c}?\" with { r } { go => \"x\"\n  else => \"y\" }",
        "let a = for x in xs with { max_concurrent: 2 } { x * 4 }",
        "let a = approve \"Ship {n}?\" with { action }",
        "let a = f(x) with { timeout: 1s, retry: 2 }",
        &format!(
            "let a = len([{}])",
            (0..3000)
                .map(|i| format!("n{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ] {
        let mut f = super::fast::Fast::new(FileId(0), 0, s);
        assert!(f.stmt().is_some(), "{s}");
    }
}
