//! A line diff for failed assertions on records and lists: `-` lines are the
//! left side's, `+` the right side's, three lines of context around changes.

/// Lines kept around a change.
const CONTEXT: usize = 3;
/// Beyond this many line pairs the diff is not computed: both sides are shown.
const MAX_CELLS: usize = 4_000_000;

/// The diff of `left` and `right`, line by line (longest common subsequence).
pub fn line_diff(left: &str, right: &str) -> String {
    let a: Vec<&str> = left.lines().collect();
    let b: Vec<&str> = right.lines().collect();
    let ops = if a.len().saturating_mul(b.len()) > MAX_CELLS {
        a.iter()
            .map(|l| ('-', *l))
            .chain(b.iter().map(|l| ('+', *l)))
            .collect()
    } else {
        lcs_ops(&a, &b)
    };
    // Keep the changes and CONTEXT lines around each; elide the rest.
    let mut near: Vec<bool> = (0..ops.len())
        .map(|i| {
            let lo = i.saturating_sub(CONTEXT);
            let hi = (i + CONTEXT + 1).min(ops.len());
            ops[lo..hi].iter().any(|(k, _)| *k != ' ')
        })
        .collect();
    // One hidden line is shown: `…` would take its place for nothing.
    for i in 0..near.len() {
        let before = i == 0 || near[i - 1];
        let after = i + 1 == near.len() || near[i + 1];
        if !near[i] && before && after {
            near[i] = true;
        }
    }
    let mut out = String::new();
    let mut elided = false;
    for (i, (k, line)) in ops.iter().enumerate() {
        if near[i] {
            out.push(*k);
            out.push(' ');
            out.push_str(line);
            out.push('\n');
            elided = false;
        } else if !elided {
            out.push_str("  …\n");
            elided = true;
        }
    }
    out
}

fn lcs_ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(char, &'a str)> {
    let (n, m) = (a.len(), b.len());
    // len[i][j]: the LCS of a[i..] and b[j..].
    let mut len = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[at(i, j)] = if a[i] == b[j] {
                len[at(i + 1, j + 1)] + 1
            } else {
                len[at(i + 1, j)].max(len[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || len[at(i + 1, j)] >= len[at(i, j + 1)]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::line_diff;

    #[test]
    fn changed_line_shows_both_sides() {
        let d = line_diff(
            "{\n  \"a\": 1,\n  \"b\": 2\n}",
            "{\n  \"a\": 1,\n  \"b\": 3\n}",
        );
        assert_eq!(d, "  {\n    \"a\": 1,\n-   \"b\": 2\n+   \"b\": 3\n  }\n");
    }

    #[test]
    fn far_context_is_elided() {
        let left: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        let mut right = left.clone();
        right[10] = "ten".into();
        let d = line_diff(&left.join("\n"), &right.join("\n"));
        assert_eq!(
            d,
            "  …\n  7\n  8\n  9\n- 10\n+ ten\n  11\n  12\n  13\n  …\n"
        );
    }
}
