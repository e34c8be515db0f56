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

fn with_plans(check: impl FnOnce(&Program, &Lowered<'_>, &Block)) {
    let mut sources = Sources::new();
    let root = sources.add("t.flow", SRC);
    let (program, diags) = crate::check::check_program(&mut sources, root, &crate::check::NoFiles);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let lowered = lower_program(&program);
    let body = program.modules[program.root]
        .ast
        .items
        .iter()
        .find_map(|i| match &i.kind {
            ItemKind::Flow(f) => Some(&f.body),
            _ => None,
        })
        .expect("a flow");
    check(&program, &lowered, body);
}

#[test]
fn steps_are_named_by_let_callee_or_construct_and_repeats_are_numbered() {
    with_plans(|_, lowered, body| {
        let plan = lowered.block(body).expect("a plan");
        let names: Vec<&str> = plan.steps.iter().map(|s| &*s.name).collect();
        assert_eq!(names, ["a", "echo", "echo#2", "b", "both", "s", "expr"]);
        assert!(plan.steps[0].waits && !plan.steps[6].waits);
        // Calls inside a step: the step's own, or numbered under it.
        let StmtKind::Let { value, .. } = &body.stmts[4].kind else {
            panic!("a let")
        };
        let ExprKind::List(items) = &value.kind else {
            panic!("a list")
        };
        let places: Vec<String> = items
            .iter()
            .map(|i| {
                let ExprKind::Field(b, _) = &i.kind else {
                    panic!("a field")
                };
                let ExprKind::Call(c) = &b.kind else {
                    panic!("a call")
                };
                match &lowered.call(node_key(c)).expect("resolved").place {
                    Some(Within::Under(n)) => n.to_string(),
                    other => format!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(places, ["echo", "echo#2"]);
    });
}

#[test]
fn the_plan_has_data_after_and_sequence_edges() {
    with_plans(|_, lowered, body| {
        let plan = lowered.block(body).expect("a plan");
        assert!(plan.edges.contains(&(0, 3, EdgeKind::After)));
        assert!(plan.edges.contains(&(0, 4, EdgeKind::Data)));
        assert_eq!(plan.dependents(0), [3, 4]);
        assert_eq!(plan.indeg[6], 3);
        assert_eq!(plan.readers[0], 2);
        let ExprKind::Sequence { block, .. } = (match &body.stmts[5].kind {
            StmtKind::Let { value, .. } => &value.kind,
            _ => panic!("a let"),
        }) else {
            panic!("a sequence")
        };
        let inner = lowered.block(block).expect("nested blocks have plans");
        assert_eq!(inner.edges, [(0, 1, EdgeKind::Sequence)]);
    });
}

#[test]
fn names_resolve_to_the_slots_of_their_frames() {
    with_plans(|_, lowered, body| {
        // `let both = [echo(value: a).value, …]`: `a` is slot 0 of the block's frame.
        let StmtKind::Let { value, .. } = &body.stmts[4].kind else {
            panic!("a let")
        };
        let ExprKind::List(items) = &value.kind else {
            panic!("a list")
        };
        let ExprKind::Field(b, _) = &items[0].kind else {
            panic!("a field")
        };
        let ExprKind::Call(c) = &b.kind else {
            panic!("a call")
        };
        let a = &c.args[0].value;
        assert_eq!(
            lowered.slot(node_key(a)),
            Some(crate::ir::slots::Slot::Local { up: 0, index: 0 })
        );
        // The tail record reads `both`, `b`, `s`: slots 4, 3, 5.
        let StmtKind::Expr { expr, .. } = &body.stmts[6].kind else {
            panic!("an expression")
        };
        let ExprKind::Record(fields) = &expr.kind else {
            panic!("a record")
        };
        let slots: Vec<_> = fields
            .iter()
            .map(|f| lowered.slot(node_key(&f.value)))
            .collect();
        use crate::ir::slots::Slot::Local;
        assert_eq!(
            slots,
            [
                Some(Local { up: 0, index: 4 }),
                Some(Local { up: 0, index: 3 }),
                Some(Local { up: 0, index: 5 })
            ]
        );
    });
}
