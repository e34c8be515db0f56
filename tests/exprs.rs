//! Arithmetic and numeric built-ins over edge values (`i64::MIN`/`MAX`, 0, -1,
//! huge and tiny floats): random expressions are checked and run through the
//! library, and each result is compared with a model that computes the same
//! expression exactly (i128 for integers) — an overflow or a non-finite float
//! must be an error, never a panic, a clamped integer or a `null`.

use flowc::check::NoFiles;
use flowc::driver::check_source;
use flowc::run::{Interp, RunConfig};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// A model value: `None` is "the run must fail".
#[derive(Clone, Copy, Debug, PartialEq)]
enum V {
    I(i64),
    F(f64),
}

impl V {
    fn f(self) -> f64 {
        match self {
            V::I(i) => i as f64,
            V::F(f) => f,
        }
    }
}

fn int(i: i128) -> Option<V> {
    i64::try_from(i).ok().map(V::I)
}

fn fin(f: f64) -> Option<V> {
    f.is_finite().then_some(V::F(f))
}

fn to_int(f: f64) -> Option<V> {
    (f.is_finite() && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(V::I(f as i64))
}

/// An expression: its source text, whether its static type is `float`, and
/// its model value.
#[derive(Clone, Debug)]
struct E {
    src: String,
    float: bool,
    value: Option<V>,
}

fn leaf(src: &str, v: V) -> E {
    E {
        src: src.to_string(),
        float: matches!(v, V::F(_)),
        value: Some(v),
    }
}

fn leaves() -> impl Strategy<Value = E> {
    prop_oneof![
        Just(leaf("(-9223372036854775807 - 1)", V::I(i64::MIN))),
        Just(leaf("9223372036854775807", V::I(i64::MAX))),
        Just(leaf("0", V::I(0))),
        Just(leaf("(-1)", V::I(-1))),
        Just(leaf("7", V::I(7))),
        Just(leaf("1e308", V::F(1e308))),
        Just(leaf("(-1e308)", V::F(-1e308))),
        Just(leaf("0.0", V::F(0.0))),
        Just(leaf("2.5", V::F(2.5))),
        Just(leaf("1e-300", V::F(1e-300))),
    ]
}

fn binary(op: &'static str, a: &E, b: &E) -> E {
    let float = a.float || b.float;
    let value = match (a.value, b.value) {
        (Some(V::I(x)), Some(V::I(y))) => {
            let (x, y) = (i128::from(x), i128::from(y));
            match op {
                "+" => int(x + y),
                "-" => int(x - y),
                "*" => int(x * y),
                "/" if y == 0 => None,
                "/" => int(x / y),
                "%" if y == 0 => None,
                _ => int(x % y),
            }
        }
        (Some(x), Some(y)) => {
            let (x, y) = (x.f(), y.f());
            match op {
                "+" => fin(x + y),
                "-" => fin(x - y),
                "*" => fin(x * y),
                "/" | "%" if y == 0.0 => None,
                "/" => fin(x / y),
                _ => fin(x % y),
            }
        }
        _ => None,
    };
    E {
        src: format!("({} {op} {})", a.src, b.src),
        float,
        value,
    }
}

fn call(name: &str, a: &E) -> E {
    let (float, value) = match name {
        "abs" => (
            a.float,
            match a.value {
                Some(V::I(i)) => i.checked_abs().map(V::I),
                Some(V::F(f)) => fin(f.abs()),
                None => None,
            },
        ),
        "neg" => (
            a.float,
            match a.value {
                Some(V::I(i)) => i.checked_neg().map(V::I),
                Some(V::F(f)) => fin(-f),
                None => None,
            },
        ),
        "round" => (
            false,
            match a.value {
                Some(V::I(i)) => Some(V::I(i)),
                Some(V::F(f)) => to_int(f.round()),
                None => None,
            },
        ),
        "to_int" => (
            false,
            match a.value {
                Some(V::I(i)) => Some(V::I(i)),
                Some(V::F(f)) => to_int(f.trunc()),
                None => None,
            },
        ),
        _ => (true, a.value.and_then(|v| fin(v.f()))),
    };
    let src = if name == "neg" {
        format!("(-{})", a.src)
    } else {
        format!("{name}({})", a.src)
    };
    E { src, float, value }
}

/// Built-ins over two values of the same type.
fn pair(name: &'static str, a: &E, b: &E) -> E {
    let (a, b) = if a.float == b.float {
        (a.clone(), b.clone())
    } else {
        (call("to_float", a), call("to_float", b))
    };
    let float = a.float;
    let value = match (a.value, b.value) {
        (Some(x), Some(y)) => match (name, x, y) {
            ("sum", V::I(i), V::I(j)) => int(i128::from(i) + i128::from(j)),
            ("sum", x, y) => fin(x.f() + y.f()),
            ("avg", x, y) => fin((x.f() + y.f()) / 2.0),
            ("min", V::I(i), V::I(j)) => Some(V::I(i.min(j))),
            ("max", V::I(i), V::I(j)) => Some(V::I(i.max(j))),
            ("min", x, y) => Some(if y.f() < x.f() { y } else { x }),
            _ => Some(if y.f() > x.f() { y } else { x }),
        },
        _ => None,
    };
    match name {
        "sum" | "avg" => E {
            src: format!("{name}([{}, {}])", a.src, b.src),
            float: float || name == "avg",
            value,
        },
        _ => E {
            src: format!("{name}({}, {})", a.src, b.src),
            float,
            value,
        },
    }
}

fn exprs() -> impl Strategy<Value = E> {
    leaves().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec!["+", "-", "*", "/", "%"]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| binary(op, &a, &b)),
            (
                prop::sample::select(vec!["abs", "neg", "round", "to_int", "to_float"]),
                inner.clone()
            )
                .prop_map(|(name, a)| call(name, &a)),
            (
                prop::sample::select(vec!["sum", "avg", "min", "max"]),
                inner.clone(),
                inner
            )
                .prop_map(|(name, a, b)| pair(name, &a, &b)),
        ]
    })
}

/// Checks and runs `flow main() -> T { body }`: the diagnostics' codes, or the result.
fn run(ret: &str, body: &str) -> Result<Result<Value, String>, Vec<String>> {
    let src = format!("flow main() -> {ret} {{ {body} }}\n");
    let checked = check_source("exprs.flow", &src, &NoFiles);
    if checked.has_errors() {
        return Err(checked
            .diagnostics
            .iter()
            .map(|d| d.code.to_string())
            .collect());
    }
    let interp = Interp::new(&checked.program, &checked.sources, RunConfig::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    Ok(rt.block_on(interp.run("main", Map::new())).map_err(|es| {
        es.iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arithmetic_matches_the_exact_model(e in exprs()) {
        let ret = if e.float { "float" } else { "int" };
        let out = run(ret, &e.src).unwrap_or_else(|codes| panic!("{} does not check: {codes:?}", e.src));
        match (e.value, out) {
            (None, Ok(v)) => prop_assert!(false, "{} should fail, gave {v}", e.src),
            (Some(m), Err(msg)) => prop_assert!(false, "{} should give {m:?}, failed: {msg}", e.src),
            (None, Err(_)) => {}
            (Some(V::I(i)), Ok(v)) => prop_assert_eq!(v.as_i64(), Some(i), "{}", e.src),
            (Some(V::F(f)), Ok(v)) => {
                let got = v.as_f64();
                prop_assert!(got.is_some_and(f64::is_finite), "{} gave {v}, not a finite float", e.src);
                prop_assert_eq!(got, Some(f), "{}", e.src);
            }
        }
    }
}

#[test]
fn overflowing_range_is_an_error_not_a_panic() {
    for body in [
        "len(range(-1, 9223372036854775807))",
        "len(range((-9223372036854775807 - 1), 9223372036854775807))",
        "len(range(9223372036854775807))",
    ] {
        let out = run("int", body).expect("checks");
        let msg = out.expect_err(body);
        assert!(msg.contains("limited to 10,000,000"), "{body}: {msg}");
    }
}

#[test]
fn range_of_a_non_integer_is_an_error_not_an_empty_list() {
    let msg = run("int", "len(range(parse_json(\"2.5\")))")
        .expect("checks")
        .expect_err("a float bound");
    assert!(msg.contains("`range` needs integers"), "{msg}");
}

#[test]
fn integer_builtins_report_overflow_like_plus() {
    for (body, what) in [
        ("abs(-9223372036854775807 - 1)", "integer overflow"),
        ("sum([9223372036854775807, 1])", "integer overflow"),
        ("to_int(1e300)", "integer overflow"),
        ("round(-1e300)", "integer overflow"),
        ("to_int(\"1e300\")", "integer overflow"),
        ("9223372036854775807 + 1", "integer overflow"),
        // Integers beyond i64 in JSON (a tool's result) are not silently floats.
        (
            "parse_json(\"18446744073709551615\") + 0",
            "integer overflow",
        ),
        ("-parse_json(\"18446744073709551615\")", "integer overflow"),
        (
            "abs(parse_json(\"18446744073709551615\"))",
            "integer overflow",
        ),
        (
            "sum([parse_json(\"18446744073709551615\")])",
            "integer overflow",
        ),
    ] {
        let msg = run("int", body).expect("checks").expect_err(body);
        assert!(msg.contains(what), "{body}: {msg}");
    }
}

#[test]
fn non_finite_floats_are_errors_not_null() {
    for (body, what) in [
        ("1.0 / 0.0", "division by zero"),
        ("1 / 0.0", "division by zero"),
        ("0.0 % 0.0", "remainder by zero"),
        ("1e308 * 10.0", "not a finite number"),
        ("sum([1e308, 1e308])", "not a finite number"),
        ("to_float(\"inf\")", "not a finite number"),
        ("to_float(\"NaN\")", "not a finite number"),
    ] {
        let msg = run("float", body).expect("checks").expect_err(body);
        assert!(msg.contains(what), "{body}: {msg}");
    }
    assert_eq!(run("float", "1e999"), Err(vec!["E0511".to_string()]));
    assert_eq!(run("float", "-1e999 * 0.0"), Err(vec!["E0511".to_string()]));
}
