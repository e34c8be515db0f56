//! A unified diff of two texts, by line (`flowc fmt --check`): a shortest
//! edit script of the lines, in hunks with three lines of context.

/// The unified diff from `old` to `new`, with `name` in both headers; empty
/// when the texts are equal.
pub fn unified(name: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = lcs_ops(&a, &b);
    let mut out = format!("--- {name}\n+++ {name}\n");
    const CONTEXT: usize = 3;
    // The indexes of ops that change something, grouped into hunks.
    let changed: Vec<usize> = (0..ops.len())
        .filter(|&i| !matches!(ops[i], Op::Same(..)))
        .collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 2 * CONTEXT {
            end = changed[k];
            k += 1;
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let (mut a_start, mut b_start) = position(&ops[..start]);
        let hunk = &ops[start..end];
        let a_len = hunk.iter().filter(|o| !matches!(o, Op::Add(_))).count();
        let b_len = hunk.iter().filter(|o| !matches!(o, Op::Del(_))).count();
        // Line numbers are 1-based; an empty side names the line before it.
        if a_len > 0 {
            a_start += 1;
        }
        if b_len > 0 {
            b_start += 1;
        }
        out.push_str(&format!("@@ -{a_start},{a_len} +{b_start},{b_len} @@\n"));
        for o in hunk {
            let (mark, line) = match o {
                Op::Same(i) => (' ', a[*i]),
                Op::Del(i) => ('-', a[*i]),
                Op::Add(j) => ('+', b[*j]),
            };
            out.push(mark);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Op {
    Same(usize),
    Del(usize),
    Add(usize),
}

/// Lines of `a` and `b` before the ops.
fn position(ops: &[Op]) -> (usize, usize) {
    let a = ops.iter().filter(|o| !matches!(o, Op::Add(_))).count();
    let b = ops.iter().filter(|o| !matches!(o, Op::Del(_))).count();
    (a, b)
}

/// The edit script, by Myers' algorithm (the `similar` crate: linear memory,
/// and a deadline after which the rest is diffed coarsely, so a file that
/// changed everywhere costs seconds, not a table of lines × lines).
fn lcs_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    use similar::DiffOp;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let diff = similar::capture_diff_deadline(
        similar::Algorithm::Myers,
        a,
        0..a.len(),
        b,
        0..b.len(),
        Some(deadline),
    );
    let mut ops = Vec::with_capacity(a.len().max(b.len()));
    for d in diff {
        match d {
            DiffOp::Equal { old_index, len, .. } => {
                ops.extend((old_index..old_index + len).map(Op::Same));
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => ops.extend((old_index..old_index + old_len).map(Op::Del)),
            DiffOp::Insert {
                new_index, new_len, ..
            } => ops.extend((new_index..new_index + new_len).map(Op::Add)),
            // Removed lines before added ones, as diff prints them.
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                ops.extend((old_index..old_index + old_len).map(Op::Del));
                ops.extend((new_index..new_index + new_len).map(Op::Add));
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("f", "a\nb\n", "a\nb\n"), "");
    }

    #[test]
    fn one_changed_line_in_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified("f.flow", old, new),
            "--- f.flow\n+++ f.flow\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn far_apart_changes_make_two_hunks() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new: String = (1..=20)
            .map(|i| match i {
                2 => "two\n".to_string(),
                19 => "nineteen\n".to_string(),
                _ => format!("{i}\n"),
            })
            .collect();
        let d = unified("f", &old, &new);
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
    }

    /// Two long texts different on every line: linear memory and bounded
    /// time (a table of lines × lines was 24 GB for 100,000 lines).
    #[test]
    fn long_texts_that_differ_everywhere() {
        let old: String = (0..60_000).map(|i| format!("a{i}\n")).collect();
        let new: String = (0..60_000).map(|i| format!("b{i}\n")).collect();
        let d = unified("f", &old, &new);
        assert_eq!(d.lines().filter(|l| l.starts_with('-')).count(), 60_001);
        assert_eq!(d.lines().filter(|l| l.starts_with('+')).count(), 60_001);
    }
}
