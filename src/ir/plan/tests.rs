//! Tests of the block plans: step names, places of calls, edges, slots.
use super::*;
use crate::source::Sources;

const SRC: &str = r#"
tool echo(value: json) -> { value: json } = builtin "echo"
flow main() -> json {
let a = echo(value: 1)
echo(value: 2)
echo(value: 3)
let b = echo(value: 8) after a
let both = [echo(value: a).value, echo(value: 5).value]
let s = sequence {
    echo(value: 6)
    echo(value: 7)
}
{ both, b, s }
}
"#;

fn with_plans(check: impl FnOnce(&Lowered<'_>, &ir::Block)) {
    with_program(SRC, |_, lowered, body| check(lowered, body));
}

/// `src` checked (without errors).
fn checked(src: &str) -> Program {
    let mut sources = Sources::new();
    let root = sources.add("t.flow", src);
    let (program, diags) = crate::check::check_program(&mut sources, root, &crate::check::NoFiles);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    program
}

/// `src` checked and lowered, with the body of its flow `main`.
fn with_program(src: &str, check: impl FnOnce(&Program, &Lowered<'_>, &ir::Block)) {
    let program = checked(src);
    let lowered = lower_program(&program);
    let body = &lowered
        .flow_named(program.root, "main")
        .expect("a flow")
        .body;
    check(&program, &lowered, body);
}

/// The expression of statement `i` of a block (a `let` or an expression).
fn stmt(b: &ir::Block, i: usize) -> &ir::Expr {
    match &b.stmts[i] {
        ir::Stmt::Expr(e) => e,
        other => panic!("an expression statement, not {other:?}"),
    }
}

/// The call of statement `i` of a block (a `let` or an expression that is
/// one call of a tool, a flow or `llm()`).
fn call(b: &ir::Block, i: usize) -> &ir::Call {
    match &b.stmts[i] {
        ir::Stmt::Call { call, .. } => call,
        other => panic!("a call statement, not {other:?}"),
    }
}

#[test]
fn steps_are_named_by_let_callee_or_construct_and_repeats_are_numbered() {
    with_plans(|_, body| {
        let plan = &body.plan;
        let names: Vec<&str> = plan.steps.iter().map(|s| &*s.name).collect();
        assert_eq!(names, ["a", "echo", "echo#2", "b", "both", "s", "expr"]);
        assert!(plan.steps[0].waits && !plan.steps[6].waits);
        // Calls inside a step: the step's own, or numbered under it.
        let ir::ExprKind::List(items) = &stmt(body, 4).kind else {
            panic!("a list")
        };
        let places: Vec<String> = items
            .iter()
            .map(|i| {
                let ir::ExprKind::Field(b, _) = &i.kind else {
                    panic!("a field")
                };
                let ir::ExprKind::Call(c) = &b.kind else {
                    panic!("a call")
                };
                assert!(matches!(c.target, ir::Target::Tool(_)));
                match &c.place {
                    Some(Within::Under(n)) => n.to_string(),
                    other => format!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(places, ["echo", "echo#2"]);
        // The call that is a step's whole expression is the step itself,
        // inline in its statement.
        assert!(matches!(call(body, 0).place, Some(Within::Step)));
    });
}

#[test]
fn the_plan_has_data_after_and_sequence_edges() {
    with_plans(|_, body| {
        let plan = &body.plan;
        assert_eq!(plan.dependents(0), [3, 4]);
        assert_eq!(plan.indeg[6], 3);
        // `both` reads `a`; `b` (`after a`) waits for it without reading it.
        assert_eq!(plan.readers[0], 1);
        let ir::ExprKind::Sequence { block, .. } = &stmt(body, 5).kind else {
            panic!("a sequence")
        };
        assert_eq!(block.plan.dependents(0), [1]);
    });
    // The edges' kinds, as the lowering makes them (and `flowc graph` draws them).
    let program = checked(SRC);
    let body = program.modules[program.root]
        .ast
        .items
        .iter()
        .find_map(|i| match &i.kind {
            ItemKind::Flow(f) => Some(&f.body),
            _ => None,
        })
        .expect("a flow");
    let info = |b: &Block| {
        program
            .blocks
            .get(&crate::check::block_key(b))
            .expect("checked")
    };
    let edges = block_edges(&body.stmts, info(body), false);
    assert!(edges.contains(&(0, 3, EdgeKind::After)));
    assert!(edges.contains(&(0, 4, EdgeKind::Data)));
    let StmtKind::Let { value, .. } = &body.stmts[5].kind else {
        panic!("a let")
    };
    let ExprKind::Sequence { block, .. } = &value.kind else {
        panic!("a sequence")
    };
    assert_eq!(
        block_edges(&block.stmts, info(block), true),
        [(0, 1, EdgeKind::Sequence)]
    );
}

#[test]
fn names_resolve_to_the_slots_of_their_frames() {
    use crate::ir::slots::Slot::Local;
    with_plans(|_, body| {
        // `let both = [echo(value: a).value, …]`: `a` is slot 0 of the block's frame.
        let ir::ExprKind::List(items) = &stmt(body, 4).kind else {
            panic!("a list")
        };
        let ir::ExprKind::Field(b, _) = &items[0].kind else {
            panic!("a field")
        };
        let ir::ExprKind::Call(c) = &b.kind else {
            panic!("a call")
        };
        let slot = |e: &ir::Expr| match &e.kind {
            ir::ExprKind::Name { slot, .. } => *slot,
            other => panic!("a name, not {other:?}"),
        };
        assert_eq!(slot(&c.args[0].value), Some(Local { up: 0, index: 0 }));
        // Only the `let`s something reads have slots, in order: `a` 0, `b` 1,
        // `both` 2, `s` 3. The tail record reads `both`, `b`, `s`: slots 2, 1, 3.
        let ir::ExprKind::Record(fields) = &stmt(body, 6).kind else {
            panic!("a record")
        };
        let slots: Vec<_> = fields.iter().map(|(_, v)| slot(v)).collect();
        assert_eq!(
            slots,
            [
                Some(Local { up: 0, index: 2 }),
                Some(Local { up: 0, index: 1 }),
                Some(Local { up: 0, index: 3 })
            ]
        );
        let steps: Vec<u32> = body.plan.steps.iter().map(|s| s.slot).collect();
        let none = ir::NO_SLOT;
        assert_eq!(steps, [0, none, none, 1, 2, 3, none]);
        assert_eq!(body.plan.slots, 4);
        // A record of names waits on nothing; a call of a tool waits.
        assert!(!stmt(body, 6).waits && body.plan.steps[0].waits);
    });
}

#[test]
fn tool_bindings_are_data_and_options_are_decoded_once() {
    let src = r#"
tool up(text: string) -> string = exec ["tr", "a-z", "A-Z"] with { timeout: 5s, cache: 1m }
effect tool post(body: json) -> json = http post "https://example.com/x"
flow main() -> string {
    post(body: 1) with { idempotency_key: true, retry: 2 }
    up(text: "a")
}
"#;
    let program = checked(src);
    let lowered = lower_program(&program);
    let up = lowered.tool_named(program.root, "up").expect("a tool");
    assert_eq!(
        up.binding,
        ir::Binding::Exec {
            argv: vec!["tr".into(), "a-z".into(), "A-Z".into()]
        }
    );
    assert_eq!(&*up.binding_text, r#"up = exec ["tr", "a-z", "A-Z"]"#);
    let o = up.options.as_ref().expect("options");
    let decoded = &lowered.options()[o.id as usize];
    assert!(decoded.contains(&(
        Opt::Timeout,
        OptValue::Duration(std::time::Duration::from_secs(5))
    )));
    let post = lowered.tool_named(program.root, "post").expect("a tool");
    assert_eq!(
        post.binding,
        ir::Binding::Http {
            method: "post".into(),
            url: "https://example.com/x".into()
        }
    );
    let body = &lowered
        .flow_named(program.root, "main")
        .expect("a flow")
        .body;
    let o = call(body, 0).options.as_ref().expect("options");
    assert!(matches!(
        o.idempotency_key.as_deref().map(|e| &e.kind),
        Some(ir::ExprKind::Bool(true))
    ));
    assert!(lowered.options()[o.id as usize].contains(&(Opt::Retry, OptValue::Int(2))));
}

/// The IR is held for the whole run, a node per expression: the large
/// variants (a regex, `parallel`, `loop`, `decide`, `approve`) are boxed so
/// that every node stays small. A statement that is one call holds it
/// inline, and a call its one argument: running such a statement follows no
/// pointer to its call.
#[test]
fn an_ir_node_stays_small() {
    use std::mem::size_of;
    assert!(size_of::<ir::Expr>() <= 56, "{}", size_of::<ir::Expr>());
    assert!(size_of::<ir::Arg>() <= 72, "{}", size_of::<ir::Arg>());
    assert!(size_of::<ir::Stmt>() <= 168, "{}", size_of::<ir::Stmt>());
    assert!(size_of::<ir::Call>() <= 152, "{}", size_of::<ir::Call>());
}

#[test]
fn after_waits_without_reading_unless_the_expression_names_it_too() {
    let src = r#"
tool echo(value: json) -> { value: json } = builtin "echo"
flow main() -> json {
let a = echo(value: 1)
let b = echo(value: 2) after a
let c = echo(value: b) after b
let d = echo(value: 3) after c
[d]
}
"#;
    with_program(src, |_, _, body| {
        let plan = &body.plan;
        // Every `after` is an edge; only `c` (which names `b`) and the list read.
        assert_eq!(plan.indeg, [0, 1, 1, 1, 1]);
        let reads: Vec<&[u32]> = (0..5).map(|i| plan.reads(i)).collect();
        assert_eq!(reads, [&[][..], &[], &[1], &[], &[3]]);
        assert_eq!(plan.readers, [0, 1, 0, 1, 0]);
        // So only `b` and `d` are kept, each in a slot of its own.
        let slots: Vec<u32> = plan.steps.iter().map(|s| s.slot).collect();
        let none = ir::NO_SLOT;
        assert_eq!(slots, [none, 0, none, 1, none]);
    });
}

#[test]
fn a_program_whose_bodies_are_taken_lowers_to_the_same_ir() {
    let mut program = checked(SRC);
    let whole = format!(
        "{:?}",
        lower_program(&program).flow_named(program.root, "main")
    );
    let bodies = take_bodies(&mut program);
    // The program keeps its declarations; its flows' bodies are gone.
    let main = program.modules[program.root]
        .ast
        .items
        .iter()
        .find_map(|i| match &i.kind {
            ItemKind::Flow(f) => Some(f),
            _ => None,
        })
        .expect("a flow");
    assert!(main.body.stmts.is_empty());
    let taken = format!(
        "{:?}",
        lower_program_taking(&program, bodies).flow_named(program.root, "main")
    );
    assert!(whole.contains("echo") && whole.len() > 1000, "{whole}");
    assert_eq!(whole, taken);
}

#[test]
fn a_step_named_by_its_callee_does_not_take_the_name_of_a_let() {
    let src = r#"
tool echo(value: json) -> { value: json } = builtin "echo"
flow main() -> json {
echo(value: 1)
let echo = echo(value: 2)
echo(value: 3)
echo
}
"#;
    with_program(src, |_, _, body| {
        let names: Vec<&str> = body.plan.steps.iter().map(|s| &*s.name).collect();
        assert_eq!(names, ["echo#2", "echo", "echo#3", "expr"]);
    });
}
