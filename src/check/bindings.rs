//! Tool bindings: `builtin`, `exec` and `mcp` bindings checked, and an exec
//! tool's program looked for in its folder or on `PATH` (W0007).

use super::*;

/// W0007 when an exec tool's program cannot be found now: a path (with a `/`)
/// is relative to the flow's folder, a bare name is looked up on `PATH` — as
/// the interpreter starts it. The files and `PATH` are the loader's to see
/// (the core does no I/O); a loader that cannot tell gives no warning.
pub(super) fn check_exec_program(
    b: &Binding,
    tool: &str,
    dir: &std::path::Path,
    loader: &dyn Loader,
    diags: &mut Vec<Diagnostic>,
) {
    let BindingKind::Exec(argv) = &b.kind else {
        return;
    };
    let ExprKind::List(items) = &argv.kind else {
        return;
    };
    let Some((prog, span)) = items
        .first()
        .and_then(|i| plain_str(i).map(|p| (p, i.span)))
    else {
        return;
    };
    if prog.is_empty() {
        return;
    }
    if prog.contains('/') {
        let path = if prog.starts_with('/') || dir == std::path::Path::new(".") {
            std::path::PathBuf::from(prog)
        } else {
            dir.join(prog)
        };
        if loader.file_kind(&path) == Some(FileKind::Missing) {
            diags.push(catalog::exec_program_missing(
                span,
                tool,
                prog,
                &format!("no such file: `{}`", path.display()),
                "a relative path is relative to the flow's folder",
            ));
        }
    } else if on_path(prog, loader) == Some(false) {
        let beside = loader
            .file_kind(&dir.join(prog))
            .is_some_and(|k| k != FileKind::Missing);
        diags.push(catalog::exec_program_missing(
            span,
            tool,
            prog,
            "not found on `PATH`",
            &if beside {
                format!("a bare name is looked up on `PATH`; write `./{prog}` for the file beside the flow")
            } else {
                "install it, or give its path (relative to the flow's folder)".to_string()
            },
        ));
    }
}

/// Is `prog` an executable file in one of the loader's `PATH` folders?
/// `None` when the loader cannot tell.
fn on_path(prog: &str, loader: &dyn Loader) -> Option<bool> {
    let mut found = Some(false);
    for d in loader.search_path()? {
        match loader.file_kind(&d.join(prog)) {
            Some(FileKind::Executable) => return Some(true),
            Some(_) => {}
            None => found = None,
        }
    }
    found
}

pub(super) fn check_binding(b: &Binding, diags: &mut Vec<Diagnostic>) {
    match &b.kind {
        BindingKind::Builtin(name) => match plain_str(name) {
            Some(n) if BUILTIN_TOOLS.contains(&n) => {}
            Some(n) => diags.push(
                catalog::invalid_binding(
                    name.span,
                    &format!("unknown builtin tool `{n}`"),
                    "builtin tools: sleep, echo, fail, read_json, http_get",
                )
                .with_help_opt(suggest(n, BUILTIN_TOOLS.iter().copied())),
            ),
            None => diags.push(catalog::invalid_binding(
                name.span,
                "the builtin name must be a plain string",
                "write `builtin \"echo\"`",
            )),
        },
        BindingKind::Exec(argv) => match &argv.kind {
            ExprKind::List(items) if items.is_empty() => diags.push(catalog::invalid_binding(
                argv.span,
                "`exec` needs at least the program",
                "write `exec [\"python3\", \"tools/x.py\"]`",
            )),
            ExprKind::List(items) => {
                for i in items {
                    if plain_str(i).is_none() {
                        diags.push(catalog::invalid_binding(
                            i.span,
                            "`exec` arguments must be plain string literals",
                            "argv is fixed at declaration; pass data as the tool's parameters (sent as JSON on stdin)",
                        ));
                    }
                }
            }
            _ => diags.push(catalog::invalid_binding(
                argv.span,
                "`exec` takes a list of strings",
                "write `exec [\"prog\", \"arg\"]`",
            )),
        },
        BindingKind::Http { method, url } => {
            if !matches!(method.name.as_str(), "post" | "get") {
                diags.push(catalog::invalid_binding(
                    method.span,
                    &format!("unknown HTTP method `{}`", method.name),
                    "use `http post \"URL\"` or `http get \"URL\"`",
                ));
            }
            match plain_str(url) {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => {}
                Some(_) => diags.push(catalog::invalid_binding(
                    url.span,
                    "the URL must start with `http://` or `https://`",
                    "write the full URL",
                )),
                None => diags.push(catalog::invalid_binding(
                    url.span,
                    "the URL must be a plain string literal",
                    "write the full URL",
                )),
            }
        }
        // Checked against the server's schemas (`mcp.rs`).
        BindingKind::Mcp { .. } => {}
    }
}

fn plain_str(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Str(parts) => match parts.as_slice() {
            [] => Some(""),
            [StrPart::Text(t)] => Some(t),
            _ => None,
        },
        _ => None,
    }
}
