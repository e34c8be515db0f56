//! RFC 9535 JSONPath compliance suite (tests/data/jsonpath-cts.json, BSD-2,
//! see jsonpath-cts.LICENSE) through flowc's `jsonpath()`: invalid selectors
//! must be rejected by the check-time validation, valid ones must give the
//! expected nodes.

use serde_json::Value;

#[test]
fn jsonpath_compliance_suite() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/jsonpath-cts.json"
    ))
    .expect("suite present");
    let suite: Value = serde_json::from_str(&text).expect("suite is JSON");
    let tests = suite["tests"].as_array().expect("tests");
    let mut passed = 0;
    let mut failed = Vec::new();
    for t in tests {
        let name = t["name"].as_str().unwrap_or("");
        let sel = t["selector"].as_str().unwrap_or("");
        let ok = if t["invalid_selector"].as_bool() == Some(true) {
            flowc::builtins::validate_jsonpath(sel).is_err()
        } else {
            match flowc::builtins::jsonpath(&t["document"], sel) {
                Ok(Value::Array(got)) => {
                    if let Some(r) = t.get("result") {
                        r.as_array() == Some(&got)
                    } else if let Some(rs) = t.get("results").and_then(Value::as_array) {
                        rs.iter().any(|r| r.as_array() == Some(&got))
                    } else {
                        false
                    }
                }
                _ => false,
            }
        };
        if ok {
            passed += 1;
        } else {
            failed.push(format!("{name}: {sel}"));
        }
    }
    let total = tests.len();
    println!(
        "JSONPath compliance: {passed} of {total} passed ({:.2}%)",
        100.0 * passed as f64 / total as f64
    );
    for f in &failed {
        println!("  failed: {f}");
    }
    assert_eq!(total, 703, "the suite has 703 cases");
    assert!(
        passed * 100 >= total * 99,
        "{passed} of {total} is below 99%:\n{}",
        failed.join("\n")
    );
}
