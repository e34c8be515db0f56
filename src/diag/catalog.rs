//! Every diagnostic code, its explanation, and one constructor per code.
//!
//! Codes are stable: E01xx syntax, E02xx names, E03xx types, E04xx graph and
//! cycles, E05xx options and literals, E06xx policies and re-planning, W0xxx warnings. `flowc explain CODE` and
//! `docs/diagnostics.md` are generated from [`CODES`].

use super::Diagnostic;
use crate::span::Span;

pub struct CodeInfo {
    pub code: &'static str,
    pub title: &'static str,
    pub explanation: &'static str,
    pub example: &'static str,
}

macro_rules! codes {
    ($( $code:literal, $title:literal, $expl:literal, $example:literal; )*) => {
        pub const CODES: &[CodeInfo] = &[ $( CodeInfo { code: $code, title: $title, explanation: $expl, example: $example } ),* ];
    };
}

codes! {
    "E0101", "syntax error",
    "The parser cannot read the text: the message names what the grammar expected at the marked spot (\"expected an expression after `:`\") and the label what it found there instead. The usual causes are a value left out (`let x =`, `t(id: )`), a `.` with no field name after it, two values on one line with no operator or new line between them (`let a = 1 2`), a keyword used as a name (`let match = 1`), and a bracket, brace or string left open (then the error points at the opening one and says it is never closed). Fix the text at the marked spot: complete what is cut short or remove the extra token; a `help:` line, when there is one, names the fix. Only the bad statement or item is skipped, so the rest of the file is still checked, one diagnostic per bad statement; when one error leads to others, fix the first one and check again.",
    "tool lookup(id: string) -> { owner: string } = builtin \"echo\"\n\nflow main(id: string) -> string {\n    let rec = lookup(id: )   // the value of `id` is missing: write `lookup(id: id)`\n    rec.owner\n}";
    "E0102", "invalid escape in a string",
    "Strings know the escapes `\\n`, `\\t`, `\\r`, `\\0`, `\\\"`, `\\\\`, `\\{`, `\\}`, `\\/` and `\\u{HEX}`. Write `\\{` for a literal brace, since `{` starts an interpolation.",
    "const X = \"tab\\q\"";
    "E0103", "nesting too deep",
    "Expressions and blocks may nest at most 200 levels. Split the expression with `let` bindings.",
    "const X = ((((((((((((... 300 levels ...))))))))))))";
    "E0104", "number out of range",
    "Integers are 64-bit signed (from -9223372036854775808 to 9223372036854775807); this literal does not fit. Write a float (`1.0e20`) if an approximate value is fine, or a string if the digits are an identifier (an account or card number) rather than a quantity.",
    "const X = 99999999999999999999";
    "E0105", "expression too long",
    "A syntax tree may be at most 1000 levels deep. Nesting counts, and so does every operator chained in one expression (`a + b + c` is `(a + b) + c`), every `.field` or `[index]` after a value and every `else if`. Split the expression with `let` bindings, or sum a list with a loop.",
    "flow main() -> int { 1 + 1 + 1 + ... 1001 terms ... }";
    "E0201", "unknown name",
    "The name is not a binding in scope, a parameter, a constant or `context`. Bindings of a block are visible in the whole block (forward references are allowed), but not outside it.",
    "flow main() -> int { lenght }";
    "E0202", "unknown tool or flow",
    "The call names neither a tool, a flow, nor a built-in function. Imported ones are called through their module: `ops.triage(...)`.",
    "flow main() { fetch(id: \"a\") }";
    "E0203", "unknown type",
    "The type name is neither built in (`string int float bool duration null json`) nor declared with `type`.",
    "type A = { n: integer }";
    "E0204", "unknown field",
    "The record type has no such field. Records allow extra fields, but reading an undeclared one is an error; declare it (optionally with `?`) or use `json`.",
    "type A = { ci_id: string }\nflow f(a: A) -> string { a.ci_idd }";
    "E0205", "unknown module",
    "An `import` names a standard module that does not exist (`import std.nothing`), or a file that cannot be read: a path in quotes is relative to the importing file's folder, not to the folder `flowc` runs in. Fix the module's name (the `help:` line lists the standard modules) or the path; a file is imported with its `.flow` extension and an alias: `import \"lib/analysis.flow\" as analysis`.",
    "import std.nothing";
    "E0206", "duplicate definition",
    "A name is defined twice in the same scope: two items, two `let`s in one block, two parameters, two branches or two record fields.",
    "flow main() {\n    let a = 1\n    let a = 2\n    a\n}";
    "E0207", "unknown module member",
    "The module is imported, but declares no tool, flow, type or constant with that name: the name after the module's alias is misspelled, or the item lives in another module. Open the module to see what it declares (a standard one is in `stdlib/std/`), and call the item through the alias: `ops.sleep(…)`.",
    "import std.ops\nflow main() { ops.nothing(x: 1) }";
    "E0301", "mismatched types",
    "A value's type is not assignable to the type expected there. Records are structural (extra fields are fine), `int` widens to `float`, `null` fits only `T?`, and `json` fits anything (checked at run time).",
    "flow main() -> int { \"five\" }";
    "E0302", "missing argument",
    "A tool or flow parameter without a default was not given. One diagnostic lists every missing parameter of the call.",
    "tool t(a: string) -> json = builtin \"echo\"\nflow main() { t() }";
    "E0303", "unknown argument",
    "The tool or flow has no parameter with this name: arguments are named after the parameters of its declaration, so a misspelled or renamed parameter, or an argument meant for another call, is refused. Use a name from the declaration (the `help:` line suggests a close one when there is one), or add the parameter to the tool or flow.",
    "tool t(a: string) -> json = builtin \"echo\"\nflow main() { t(a: \"x\", b: 1) }";
    "E0304", "duplicate argument",
    "A call names the same argument twice (often a line copied in a long argument list). Each parameter takes one value: remove one of the two, or rename it to the parameter it was meant for.",
    "tool t(a: string) -> json = builtin \"echo\"\nflow main() { t(a: \"x\", a: \"y\") }";
    "E0305", "positional argument to a tool or flow",
    "Tool and flow arguments are named (`t(a: 1)`); only built-in functions take positional arguments.",
    "tool t(a: string) -> json = builtin \"echo\"\nflow main() { t(\"x\") }";
    "E0306", "condition is not a `bool`",
    "`if`, `until`, `assert`, a `for … where` condition and the operands of `&&`, `||` and `!` must be `bool`. Compare explicitly (`len(xs) > 0`).",
    "flow main() { if 1 { 2 } else { 3 } }";
    "E0307", "regex match on a non-string",
    "`~` and `!~` match a `string` on the left against a regex literal `/…/` on the right.",
    "flow main() -> bool { 42 ~ /4/ }";
    "E0308", "operator does not apply to these types",
    "Arithmetic needs numbers (or durations), `++` needs two lists or two strings, `<` and friends need two numbers, strings or durations.",
    "flow main() { \"a\" + 1 }";
    "E0309", "arms have incompatible types",
    "The arms of an `if`, `match`, `decide`, `try`/`catch` or `catch` must have types that unify, since the expression has one type. Where a type is expected (`let x: json = if …`, a flow's declared result type), each arm only has to fit that type.",
    "flow main(c: bool) { if c { 1 } else { \"one\" } }";
    "E0310", "use of an optional value",
    "The value may be `null` (its type is `T?`), so a field, index or operator cannot be applied directly. Give a default with `??` or test it with `if x != null`.",
    "type A = { note?: { text: string } }\nflow f(a: A) -> string { a.note.text }";
    "E0311", "not a list",
    "Indexing `[i]`, the wildcard `[*]` and `for … in` need a list (or `json`).",
    "flow main() { for x in 5 { x } }";
    "E0312", "not callable",
    "Only tools, flows and built-in functions can be called; a binding or a field cannot.",
    "flow main() { let f = 1\n f(x: 2) }";
    "E0313", "invalid type",
    "Unions may only combine string literals (`\"low\" | \"high\"`); for optional values write `T?`.",
    "type A = int | string";
    "E0314", "wrong number of arguments to a built-in function",
    "The built-in function takes a different number of positional arguments; `flowc explain` on the function's docs lists them.",
    "flow main() { len() }";
    "E0401", "dependency cycle",
    "Bindings in a dataflow block may refer to each other in any order, but not in a cycle: each value must be computable before the steps that read it. The message shows the cycle.",
    "flow main() {\n    let a = b + 1\n    let b = a + 1\n    a\n}";
    "E0402", "flow recursion",
    "A flow calls itself, directly or through other flows. The flow call graph must be acyclic; use `loop … until` to repeat.",
    "flow a() -> int { b() }\nflow b() -> int { a() }";
    "E0403", "import cycle",
    "Two files import each other, directly or through others, so neither can be checked first. The message lists the files of the cycle in order. Move what both need into a third file that both import, or merge the two files.",
    "import \"a.flow\" as a   // in b.flow, while a.flow imports b.flow";
    "E0404", "used before it is defined in a `sequence`",
    "A `sequence` runs its statements in order, so a statement may only use bindings from earlier statements.",
    "flow main() { sequence {\n    let a = b\n    let b = 1\n    a\n} }";
    "E0405", "flow calls or imports nested too deep",
    "Flow calls may nest at most 1,000 deep (a flow calling a flow calling a flow …), and imports too (a file importing a file importing a file …): each level takes room on the checker's and the interpreter's stack. The message shows the chain; the label is at the call or import past the limit. Call the flows of a long chain one after another from one flow, or merge files.",
    "flow main() -> int { f1() }\nflow f1() -> int { f2() }\n...\nflow f1000() -> int { 1 }";
    "E0501", "invalid regex",
    "The regex literal does not compile, or uses a flag other than `i`, `m`, `s` and `x`.",
    "flow main(s: string) -> bool { s ~ /(unclosed/ }";
    "E0502", "invalid JSONPath",
    "The literal path given to `jsonpath()` is not a valid RFC 9535 query.",
    "flow main(v: json) { jsonpath(v, \"$.rows[\") }";
    "E0503", "invalid duration",
    "Durations are a number followed by `ms`, `s`, `m`, `h` or `d`: `250ms`, `30s`, `1.5m`.",
    "const T = 10sec";
    "E0504", "unknown option",
    "The option is not one of `max_concurrent timeout timeout_per_step retry retry_on backoff max_loop_iterations on_max fail_fast deadline max_output max_memory cache idempotency_key replan_on_error replan_on max_replans replan_cooldown replan_repairs policy`.",
    "flow main() with { retries: 2 } { 1 }";
    "E0505", "option value of the wrong type",
    "Each option takes one kind of value: a duration for `timeout`, a non-negative integer for `retry`, and so on.",
    "flow main() with { timeout: 30 } { 1 }";
    "E0506", "option not allowed here",
    "Some options only make sense in some places: `max_concurrent` on flows, blocks and tools, `cache` on pure tools and calls, `idempotency_key` on calls of effect tools, `on_max` on loops, flows and blocks, `max_memory` on flows.",
    "tool t() -> json = builtin \"echo\"\nflow main() { t() with { max_concurrent: 2 } }";
    "E0507", "`stable` outside `until`",
    "`stable(e)` compares `e` on the new and the previous loop state, so it only has a meaning in a loop's `until` condition.",
    "flow main() -> bool { stable(1) }";
    "E0508", "duplicate `decide` label",
    "Each label of a `decide` is an option the model can choose; labels must be unique.",
    "flow main() { decide \"next?\" { go => 1\n go => 2 } }";
    "E0509", "invalid tool binding",
    "`exec` takes a list of string literals (argv, never a shell), `http` takes `post` or `get` and a URL literal, `builtin` names one of `sleep echo fail read_json http_get`.",
    "tool t() -> json = http put \"http://127.0.0.1/x\"";
    "E0510", "statement not allowed here",
    "`mock` and `assert` are only allowed in `test` blocks; `llm()` and `decide` only in flows. A re-planned fragment (written by a model) may not call a flow that leads back to the flow it repairs (that is flow recursion, E0402), may ask a person with `approve` only under a policy with `fragment_approve: true`, and may read the environment with `env(\"NAME\")` only for a literal name its policy lists in `fragment_env`. A `mock` stands among a test's own statements (not in a nested block), and only a mock of a tool or flow takes arguments (`mock lookup(id: \"a\") = …`; `mock llm` and `mock approve` answer every decision or approval).",
    "flow main() { assert true }";
    "E0511", "float literal out of range",
    "Floats are 64-bit; a literal beyond about `1.8e308` has no finite value (and infinity has no JSON form).",
    "const X = 1e999";
    "E0513", "unknown MCP server",
    "`tool … = mcp SERVER \"tool_name\"` names an `mcp server` item declared in the same file (`mcp server ops = stdio [\"python3\", \"ops_mcp.py\"]` or `= http \"URL\"`).",
    "tool t(id: string) -> json = mcp ops \"lookup\"";
    "E0514", "tool not offered by the MCP server",
    "The server's `tools/list` has no tool of that name (a `did you mean` help names a close one, and the help lists what it offers). The list is asked when checking and cached in the store; `flowc check --refresh-mcp` asks again after the server changed.",
    "mcp server ops = stdio [\"python3\", \"ops_mcp.py\"]   // lists `ci_detail` ...\ntool t(id: string) -> json = mcp ops \"ci_detial\"";
    "E0515", "parameter absent from the MCP tool's schema",
    "A declared parameter is not a property of the tool's input schema: the server would not know it. Remove it or rename it to the schema's name.",
    "mcp server ops = stdio [\"python3\", \"ops_mcp.py\"]   // ci_detail(ci_id) ...\ntool t(id: string) -> json = mcp ops \"ci_detail\"";
    "E0516", "required MCP parameter not declared",
    "The tool's input schema requires a property that the declaration does not have as a parameter, so no call could give it. Declare it (a parameter with a default is fine).",
    "mcp server ops = stdio [\"python3\", \"ops_mcp.py\"]   // ci_detail(ci_id, depth) ...\ntool t(ci_id: string) -> json = mcp ops \"ci_detail\"";
    "E0517", "parameter type does not fit the MCP tool's schema",
    "A value of the declared parameter type would not be valid for the tool's input schema. The message gives the path inside the parameter and what the schema says there (`rows[].ci_id: the schema says integer`); `$ref`s are followed, `anyOf` with `null` is an optional.",
    "mcp server ops = stdio [\"python3\", \"ops_mcp.py\"]   // ids: integer[] ...\ntool t(ids: [string]) -> json = mcp ops \"detail\"";
    "E0518", "result type cannot fit the MCP tool's output schema",
    "A result the tool's output schema allows would not be a value of the declared result type: a field of another type, a field the schema may leave out (declare it `field?: T`), a property it does not have. The path says where (`result.rows[].ci_id: the schema says integer`); `$ref`/`$defs` are resolved. `json` takes any result.",
    "mcp server ops = stdio [\"python3\", \"ops_mcp.py\"]   // rows[].ci_id: integer ...\ntool t(id: string) -> { rows: [{ ci_id: string }] } = mcp ops \"ci_detail\"";
    "E0519", "invalid cron expression",
    "A `schedule`'s cron expression cannot be read: the label gives the reason. Five fields are minute, hour, day of month, month and day of week (`*/5 * * * *`, `0 6 * * 1-5`); six fields put seconds first (`*/10 * * * * *`). Ranges (`1-5`), lists (`1,15`), steps (`*/15`), names (`MON`, `JAN`), `L`, `W` and `#` are known, as are `@hourly`, `@daily`, `@weekly`, `@monthly` and `@yearly`.",
    "flow main() { 1 }\nschedule \"61 * * * *\" main()";
    "E0520", "unknown time zone",
    "A `schedule`'s `timezone` is a name of the IANA time zone database (`Europe/Paris`, `America/New_York`, `UTC`); abbreviations such as `CET` or `PST` that are not names there are refused. Without `timezone` a schedule is in UTC.",
    "flow main() { 1 }\nschedule \"0 6 * * *\" main() with { timezone: \"Mars/Olympus\" }";
    "E0521", "a schedule must start a flow with literal arguments",
    "A `schedule` starts a flow of its own file (not a tool, a built-in function or an imported module's flow), and its arguments are literals — numbers, strings without `{…}`, `true`, `false`, `null`, durations, and lists and records of them — since nothing else is known when the schedule fires. Declare a flow that calls what is wanted, and schedule that flow.",
    "tool ping(host: string) -> json = builtin \"echo\"\nschedule \"*/5 * * * *\" ping(host: \"db1\")";
    "E0601", "unknown policy rule",
    "A `policy` states `allow_tools`, `max_steps`, `max_llm_calls`, `effects`, `tenant`, and for re-planned fragments `fragment_env`, `fragment_approve` and `fragment_timeout`; nothing else. A misspelled rule gets a `did you mean` help; run options such as `timeout` or `retry` are not policy rules and go in a flow's or a call's `with { … }`.",
    "policy ops { max_tools: 5 }";
    "E0602", "policy rule of the wrong type",
    "`allow_tools` takes a list of tool or flow names, `max_steps` a positive integer, `max_llm_calls` a non-negative integer, `effects` one of `\"allow\"`, `\"deny\"`, `\"approve\"`, `tenant` a string, `fragment_env` a list of environment variable names as strings, `fragment_approve` `true` or `false`, `fragment_timeout` a duration.",
    "policy ops { effects: \"maybe\" }";
    "E0603", "unknown policy",
    "`with { policy: NAME }` names a `policy` item declared in the same file.",
    "flow main() with { policy: nope } { 1 }";
    "E0604", "tool not allowed by the policy",
    "A flow under a policy with `allow_tools` calls a tool that is not in the list. Add it to `allow_tools`, or call an allowed one. Flows may be called; the tools they call are held to the policy when they run (a `policy_violation` at the step). A re-planned fragment is held to the same rule before it runs.",
    "tool a() -> json = builtin \"echo\"\ntool b() -> json = builtin \"echo\"\npolicy ops { allow_tools: [a] }\nflow main() with { policy: ops } { b() }";
    "E0605", "effect denied by the policy",
    "A flow under a policy with `effects: \"deny\"` calls an `effect` tool. Remove the call, or choose `effects: \"approve\"` to have a person approve each effect.",
    "effect tool t() -> json = builtin \"echo\"\npolicy ro { effects: \"deny\" }\nflow main() with { policy: ro } { t() }";
    "E0512", "a mock's value reads its test",
    "A `mock` is set before any statement of its test runs, so its value cannot read the test's `let`s or call a tool or flow. Give it literals and constants (`const`).",
    "tool t() -> { n: int } = builtin \"echo\"\ntest \"t\" {\n    let n = 1\n    mock t = { n: n }\n    assert true\n}";
    "W0001", "unused binding",
    "A `let`, parameter, branch or loop variable is never read. Remove it, or start its name with `_` to keep it on purpose.",
    "flow main() -> int {\n    let unused = 1\n    2\n}";
    "W0002", "unused tool",
    "The tool is declared in a file that has flows, but nothing calls it.",
    "tool t() -> json = builtin \"echo\"\nflow main() -> int { 1 }";
    "W0003", "value is never used",
    "A statement that is not the last of its block computes a value that nothing reads, and it has no effect. Bind it with `let` if something should use it, or remove it.",
    "flow main() -> int {\n    1 + 1\n    2\n}";
    "W0004", "unreachable arm",
    "A `match` arm after `_`, or a pattern that an earlier arm already covers, can never be taken.",
    "flow main(s: string) { match s { _ => 1\n \"a\" => 2 } }";
    "W0005", "`until` does not depend on the loop state",
    "The loop's condition does not read the loop variable, so it has the same value in every iteration: the loop runs once or until `max`.",
    "flow main(done: bool) { loop x = 0 max 3 until done { x + 1 } }";
    "W0006", "effect repeated in a loop",
    "An `effect` tool called inside `loop` or `for` may run its side effect again when the body is re-run or retried. State `with { retry: 0 }` or give an `idempotency_key` at the call.",
    "effect tool t(n: int) -> json = builtin \"echo\"\nflow main() { for i in [1, 2] { t(n: i) } }";
    "W0007", "exec program not found",
    "The program of an `exec` tool cannot be found now: a bare name is looked up on `PATH`, a path with a `/` is relative to the flow's folder. The run would fail when the tool is first called; it may still be installed before the run, hence a warning.",
    "tool t() -> json = exec [\"no-such-program\"]";
    "W0008", "inner `max_concurrent` capped by an outer one",
    "Limits nest: a call inside a block or `for` takes a permit of every stated `max_concurrent` around it, so an inner limit larger than an enclosing one (the flow's header, a block) only ever reaches the outer number. The default limit of 10 (no `max_concurrent` stated) does not cap an inner limit.",
    "flow main() with { max_concurrent: 2 } {\n    for i in range(100) with { max_concurrent: 50 } { i }\n}";
    "W0009", "MCP server not reachable, no cached schema",
    "Checking asks an `mcp server` for its tools (`tools/list`) and caches the answer in the store. This server could not be reached and nothing is cached, so its tools are not checked against their schemas; the run still checks each result against the declared type.",
    "mcp server ops = stdio [\"./no-such-server\"]\ntool t(id: string) -> json = mcp ops \"lookup\"\nflow main() { t(id: \"a\") }";
}

/// The explanation entry for a code, if it exists.
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

// ------------------------------------------------------------------ constructors

pub fn syntax(message: String, span: Span, label: String) -> Diagnostic {
    Diagnostic::error("E0101", message, span).with_label(label)
}

pub fn invalid_escape(span: Span, esc: &str) -> Diagnostic {
    Diagnostic::error("E0102", format!("unknown escape `{esc}` in a string"), span)
        .with_label("not an escape")
        .with_help("use one of `\\n \\t \\r \\0 \\\" \\\\ \\{ \\} \\/ \\u{…}`")
}

pub fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::error("E0103", "expression nested too deeply", span)
        .with_label("more than 200 levels deep here")
        .with_help("split the expression with `let` bindings")
}

pub fn tree_too_deep(span: Span, limit: u32) -> Diagnostic {
    Diagnostic::error("E0105", "expression too long", span)
        .with_label(format!(
            "more than {limit} operators, fields, `else if`s and nesting levels in a row"
        ))
        .with_help("split the expression with `let` bindings")
}

pub fn number_out_of_range(span: Span) -> Diagnostic {
    Diagnostic::error("E0104", "integer literal out of range", span)
        .with_label("does not fit in 64 bits")
        .with_help("use a float (`1.0e20`) if an approximate value is fine")
}

pub fn unknown_name(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error("E0201", format!("unknown name `{name}`"), span)
        .with_label("not found in this scope")
        .with_help_opt(help)
}

pub fn unknown_callee(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error("E0202", format!("unknown tool or flow `{name}`"), span)
        .with_label("no tool, flow or built-in function has this name")
        .with_help_opt(help)
}

pub fn unknown_type(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error("E0203", format!("unknown type `{name}`"), span)
        .with_label("not a built-in or declared type")
        .with_help_opt(help)
}

pub fn unknown_field(span: Span, field: &str, ty: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error("E0204", format!("no field `{field}` on type `{ty}`"), span)
        .with_label("unknown field")
        .with_help_opt(help)
}

pub fn unknown_module(span: Span, what: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error("E0205", format!("cannot find module {what}"), span)
        .with_label("imported here")
        .with_help_opt(help)
}

pub fn duplicate(span: Span, what: &str, name: &str, first: Span) -> Diagnostic {
    Diagnostic::error("E0206", format!("{what} `{name}` is defined twice"), span)
        .with_label("defined again here")
        .with_secondary(first, "first defined here")
        .with_help("rename one of them")
}

pub fn shadows_builtin(span: Span, what: &str, name: &str) -> Diagnostic {
    Diagnostic::error(
        "E0206",
        format!("{what} `{name}` takes the name of a built-in function"),
        span,
    )
    .with_label("already the name of a built-in function")
    .with_help(format!("rename the {what}, e.g. `{name}_all`"))
}

pub fn unknown_member(span: Span, module: &str, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0207",
        format!("module `{module}` has no item `{name}`"),
        span,
    )
    .with_label("not declared in that module")
    .with_help_opt(help)
}

pub fn mismatch(span: Span, expected: &str, found: &str, context: &str) -> Diagnostic {
    Diagnostic::error(
        "E0301",
        format!("mismatched types: expected `{expected}`, found `{found}`"),
        span,
    )
    .with_label(format!("this is `{found}`{context}"))
}

/// Every parameter without a default that a call does not give: (name, type, declaration).
pub fn missing_args(span: Span, callee: &str, missing: &[(&str, String, Span)]) -> Diagnostic {
    let names: Vec<String> = missing.iter().map(|(n, _, _)| format!("`{n}`")).collect();
    let given: Vec<String> = missing
        .iter()
        .map(|(n, t, _)| format!("`{n}: {t}`"))
        .collect();
    let (message, label) = match missing {
        [_] => (
            format!("missing argument {} to `{callee}`", names[0]),
            format!("{} is not given", given[0]),
        ),
        _ => (
            format!("missing arguments {} to `{callee}`", names.join(", ")),
            format!("{} are not given", given.join(", ")),
        ),
    };
    let mut d = Diagnostic::error("E0302", message, span).with_label(label);
    for (n, _, decl) in missing {
        d = d.with_secondary(*decl, format!("parameter `{n}` declared here"));
    }
    let add: Vec<String> = missing.iter().map(|(n, _, _)| format!("{n}: …")).collect();
    d.with_help(format!("add `{}` to the call", add.join(", ")))
}

pub fn unknown_arg(span: Span, callee: &str, arg: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0303",
        format!("`{callee}` has no parameter `{arg}`"),
        span,
    )
    .with_label("unknown argument")
    .with_help_opt(help)
}

pub fn duplicate_arg(span: Span, arg: &str, first: Span) -> Diagnostic {
    Diagnostic::error("E0304", format!("argument `{arg}` is given twice"), span)
        .with_label("given again here")
        .with_secondary(first, "first given here")
}

pub fn positional_arg(span: Span, callee: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0305",
        format!("arguments to `{callee}` must be named"),
        span,
    )
    .with_label("positional argument")
    .with_help_opt(help)
}

pub fn not_bool(span: Span, what: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0306",
        format!("{what} must be `bool`, found `{found}`"),
        span,
    )
    .with_label(format!("this is `{found}`"))
}

pub fn regex_on_non_string(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0307",
        format!("`~` needs a `string` on the left, found `{found}`"),
        span,
    )
    .with_label(format!("this is `{found}`"))
    .with_help("convert it first: `to_string(x) ~ /…/`")
}

pub fn regex_rhs(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0307",
        "the right side of `~` must be a regex literal",
        span,
    )
    .with_label(format!("this is `{found}`, not `/…/`"))
    .with_help("write the pattern as a literal: `s ~ /pattern/i`")
}

pub fn bad_operands(span: Span, op: &str, left: &str, right: Option<&str>) -> Diagnostic {
    let msg = match right {
        Some(r) => format!("`{op}` cannot be applied to `{left}` and `{r}`"),
        None => format!("`{op}` cannot be applied to `{left}`"),
    };
    Diagnostic::error("E0308", msg, span)
}

pub fn incompatible_arms(span: Span, first: &str, other: &str, first_span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0309",
        format!("arms have incompatible types `{first}` and `{other}`"),
        span,
    )
    .with_label(format!("this is `{other}`"))
    .with_secondary(first_span, format!("this is `{first}`"))
    .with_help(
        "say which type the whole has, e.g. `let x: json = …` (any value fits `json`), \
         or convert one arm, e.g. `to_string(…)`",
    )
}

pub fn optional_use(span: Span, ty: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        "E0310",
        format!("cannot {what} a value of optional type `{ty}`"),
        span,
    )
    .with_label("this may be `null`")
    .with_help("give a default with `??`, or check it with `if x != null { … }`")
}

pub fn not_a_list(span: Span, what: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0311",
        format!("{what} needs a list, found `{found}`"),
        span,
    )
    .with_label(format!("this is `{found}`"))
}

pub fn not_callable(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        "E0312",
        format!("`{name}` is not a tool, flow or function"),
        span,
    )
    .with_label("cannot be called")
}

pub fn invalid_type(span: Span, message: &str) -> Diagnostic {
    Diagnostic::error("E0313", message.to_string(), span)
        .with_help("unions may only combine string literals; write `T?` for an optional value")
}

pub fn builtin_arity(span: Span, name: &str, expected: &str, found: usize) -> Diagnostic {
    Diagnostic::error(
        "E0314",
        format!("`{name}` takes {expected}, found {found}"),
        span,
    )
    .with_label(format!(
        "{found} argument{} given",
        if found == 1 { "" } else { "s" }
    ))
}

pub fn cycle(span: Span, path: &str) -> Diagnostic {
    Diagnostic::error("E0401", format!("dependency cycle: {path}"), span).with_help(
        "a value cannot depend on itself; break the cycle or use `loop … until` to iterate",
    )
}

pub fn flow_recursion(span: Span, path: &str) -> Diagnostic {
    Diagnostic::error("E0402", format!("flow recursion: {path}"), span)
        .with_label("this call closes the cycle")
        .with_help("flows cannot call themselves; repeat with `loop … until` instead")
}

pub fn import_cycle(span: Span, path: &str) -> Diagnostic {
    Diagnostic::error("E0403", format!("import cycle: {path}"), span)
        .with_label("this import closes the cycle")
}

/// `what` ("flow calls", "imports") nested past `limit` along `path`; `span` is
/// the call or import that goes past it.
pub fn nested_too_deep(span: Span, what: &str, limit: usize, path: &str) -> Diagnostic {
    Diagnostic::error(
        "E0405",
        format!("{what} nested deeper than {}: {path}", thousands(limit)),
        span,
    )
    .with_label(format!("this is level {}", thousands(limit + 1)))
    .with_help(format!(
        "{what} may nest at most {} deep; flatten the chain: call its flows one after another from one flow, import its files from one file",
        thousands(limit)
    ))
}

/// `1000` as `1,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn used_before_defined(span: Span, name: &str, def: Span) -> Diagnostic {
    Diagnostic::error(
        "E0404",
        format!("`{name}` is used before it is defined in this `sequence`"),
        span,
    )
    .with_label("used here")
    .with_secondary(def, "defined later here")
    .with_help("a `sequence` runs in order; move the definition up, or use `dag { … }`")
}

pub fn invalid_regex(span: Span, message: &str) -> Diagnostic {
    Diagnostic::error("E0501", "invalid regex", span).with_label(message.to_string())
}

pub fn invalid_jsonpath(span: Span, message: &str) -> Diagnostic {
    Diagnostic::error("E0502", "invalid JSONPath", span).with_label(message.to_string())
}

pub fn invalid_duration(span: Span, message: &str) -> Diagnostic {
    Diagnostic::error("E0503", "invalid duration", span)
        .with_label(message.to_string())
        .with_help("write a number and a unit: `250ms`, `30s`, `5m`, `1h`, `2d` (sizes: `512KB`, `64MB`, `1GB`)")
}

pub fn unknown_option(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error("E0504", format!("unknown option `{name}`"), span)
        .with_label("not an option")
        .with_help_opt(help)
}

pub fn option_type(span: Span, name: &str, expected: &str, found: &str) -> Diagnostic {
    Diagnostic::error("E0505", format!("option `{name}` takes {expected}"), span)
        .with_label(format!("this is {found}"))
}

pub fn option_place(span: Span, name: &str, place: &str, allowed: &str) -> Diagnostic {
    Diagnostic::error(
        "E0506",
        format!("option `{name}` is not allowed on {place}"),
        span,
    )
    .with_label("not allowed here")
    .with_note(format!("`{name}` is allowed on {allowed}"))
}

pub fn stable_outside_until(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0507",
        "`stable` can only be used in a loop's `until` condition",
        span,
    )
    .with_label("outside `until`")
    .with_help("`loop s = init until stable(s.signature) { … }`")
}

pub fn duplicate_label(span: Span, label: &str, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0508",
        format!("`decide` label `{label}` is used twice"),
        span,
    )
    .with_label("duplicate label")
    .with_secondary(first, "first used here")
    .with_help("each label is one choice for the model; merge the arms or rename one")
}

pub fn invalid_binding(span: Span, message: &str, help: &str) -> Diagnostic {
    Diagnostic::error("E0509", message.to_string(), span)
        .with_label("not a valid binding")
        .with_help(help.to_string())
}

pub fn not_allowed_here(span: Span, what: &str, place: &str) -> Diagnostic {
    Diagnostic::error("E0510", format!("{what} is only allowed in {place}"), span)
        .with_label("not allowed here")
}

pub fn float_out_of_range(span: Span) -> Diagnostic {
    Diagnostic::error("E0511", "float literal out of range", span)
        .with_label("larger than the largest 64-bit float")
        .with_help("floats go up to about `1.8e308`")
}

pub fn mock_reads_test(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error("E0512", format!("a mock's value cannot use {what}"), span)
        .with_label("used before the test runs")
        .with_help("mocks are set before the test's statements run: use literals or a `const`")
}

pub fn unused_binding(span: Span, what: &str, name: &str) -> Diagnostic {
    Diagnostic::warning("W0001", format!("unused {what} `{name}`"), span)
        .with_label("never read")
        .with_help(format!(
            "remove it, or name it `_{name}` to keep it on purpose"
        ))
}

pub fn unused_tool(span: Span, name: &str) -> Diagnostic {
    Diagnostic::warning("W0002", format!("tool `{name}` is never called"), span)
        .with_label("declared here")
}

pub fn unused_value(span: Span) -> Diagnostic {
    Diagnostic::warning("W0003", "this value is never used", span)
        .with_label("computed, then dropped")
        .with_help("bind it with `let` if something should read it, or remove it")
}

pub fn unreachable_arm(span: Span, because: Span, why: &str) -> Diagnostic {
    Diagnostic::warning("W0004", "unreachable arm", span)
        .with_label("this arm can never be taken")
        .with_secondary(because, why.to_string())
}

pub fn until_constant(span: Span, var: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0005",
        format!("`until` does not depend on the loop state `{var}`"),
        span,
    )
    .with_label("same value in every iteration")
    .with_help(format!("test the new state, e.g. `until stable({var})`"))
}

pub fn mcp_unknown_server(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error("E0513", format!("unknown MCP server `{name}`"), span)
        .with_label("no `mcp server` item of this name")
        .with_help(help.unwrap_or_else(|| {
            format!(
                "declare it: `mcp server {name} = stdio [\"prog\", \"arg\"]` or `= http \"URL\"`"
            )
        }))
}

pub fn mcp_tool_not_offered(
    span: Span,
    server: &str,
    tool: &str,
    help: Option<String>,
    offered: &[&str],
) -> Diagnostic {
    let list = if offered.is_empty() {
        "it offers no tools".to_string()
    } else {
        format!(
            "it offers {}",
            offered
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Diagnostic::error(
        "E0514",
        format!("MCP server `{server}` does not offer a tool `{tool}`"),
        span,
    )
    .with_label("not in its `tools/list`")
    .with_help(match help {
        Some(h) => format!("{h} ({list})"),
        None => list,
    })
}

pub fn mcp_param_absent(span: Span, param: &str, tool: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0515",
        format!("parameter `{param}` is not in the input schema of MCP tool `{tool}`"),
        span,
    )
    .with_label("the schema has no such property")
    .with_help(help.unwrap_or_else(|| "remove it, or use the schema's name".to_string()))
}

pub fn mcp_param_missing(span: Span, param: &str, tool: &str) -> Diagnostic {
    Diagnostic::error(
        "E0516",
        format!("MCP tool `{tool}` requires `{param}`, which is not declared"),
        span,
    )
    .with_label("no such parameter")
    .with_help(format!("declare the parameter `{param}`"))
}

pub fn mcp_type_mismatch(span: Span, tool: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        "E0517",
        format!("parameter type does not fit the input schema of MCP tool `{tool}`"),
        span,
    )
    .with_label(what.to_string())
    .with_help("declare the type the schema gives")
}

pub fn mcp_result_mismatch(span: Span, tool: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        "E0518",
        format!("result type cannot fit the output schema of MCP tool `{tool}`"),
        span,
    )
    .with_label(what.to_string())
    .with_help(
        "declare the type the schema gives (a field it may leave out is `field?: T`), or `json`",
    )
}

pub fn invalid_cron(span: Span, reason: &str) -> Diagnostic {
    Diagnostic::error("E0519", "invalid cron expression", span)
        .with_label(reason.to_string())
        .with_help("five fields: minute hour day-of-month month day-of-week (`*/5 * * * *`); six put seconds first")
}

pub fn unknown_timezone(span: Span, reason: &str) -> Diagnostic {
    Diagnostic::error("E0520", "unknown time zone", span)
        .with_label(reason.to_string())
        .with_help("write a name of the IANA database, such as `Europe/Paris` or `UTC`")
}

pub fn schedule_call(span: Span, message: &str, help: &str) -> Diagnostic {
    Diagnostic::error("E0521", message.to_string(), span)
        .with_label("not allowed in a schedule")
        .with_help(help.to_string())
}

pub fn mcp_unreachable(span: Span, server: &str, why: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0009",
        format!("MCP server `{server}` could not be reached: {why}"),
        span,
    )
    .with_label("its tools are not checked against their schemas")
    .with_help("start it or fix the item, then `flowc check --refresh-mcp`")
}

pub fn exec_program_missing(
    span: Span,
    tool: &str,
    prog: &str,
    label: &str,
    help: &str,
) -> Diagnostic {
    Diagnostic::warning(
        "W0007",
        format!("program `{prog}` of exec tool `{tool}` cannot be found"),
        span,
    )
    .with_label(label.to_string())
    .with_help(help.to_string())
}

pub fn limit_capped(span: Span, inner: i64, outer: i64, outer_span: Span) -> Diagnostic {
    Diagnostic::warning(
        "W0008",
        format!("`max_concurrent: {inner}` is capped by an enclosing `max_concurrent: {outer}`"),
        span,
    )
    .with_label(format!("at most {outer} run at a time, not {inner}"))
    .with_secondary(outer_span, "the enclosing limit")
    .with_help(format!(
        "raise the enclosing limit to {inner}, or lower this one to {outer}"
    ))
}

pub fn effect_in_loop(span: Span, tool: &str, construct: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0006",
        format!("effect tool `{tool}` is called inside `{construct}`"),
        span,
    )
    .with_label("the side effect may run again")
    .with_help("state `with { retry: 0 }` or give `with { idempotency_key: … }` at this call")
}

pub fn unknown_policy_rule(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error("E0601", format!("unknown policy rule `{name}`"), span)
        .with_label("not a policy rule")
        .with_help_opt(help)
        .with_note(
            "a policy states `allow_tools`, `max_steps`, `max_llm_calls`, `effects`, `tenant`, `fragment_env`, `fragment_approve` and `fragment_timeout`",
        )
}

pub fn policy_rule_type(span: Span, name: &str, expected: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0602",
        format!("policy rule `{name}` takes {expected}"),
        span,
    )
    .with_label(format!("this is {found}"))
}

pub fn unknown_policy(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error("E0603", format!("unknown policy `{name}`"), span)
        .with_label("no `policy` item has this name")
        .with_help_opt(help)
}

pub fn tool_not_allowed(span: Span, tool: &str, policy: &str, policy_span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0604",
        format!("`{tool}` is not allowed by policy `{policy}`"),
        span,
    )
    .with_label("not in `allow_tools`")
    .with_secondary(policy_span, "the policy is declared here")
    .with_help(format!(
        "add `{tool}` to the `allow_tools` of `{policy}`, or call an allowed tool"
    ))
}

pub fn effect_denied(span: Span, tool: &str, policy: &str, policy_span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0605",
        format!("effect `{tool}` is denied by policy `{policy}`"),
        span,
    )
    .with_label("an `effect` tool")
    .with_secondary(policy_span, "the policy states `effects: \"deny\"`")
    .with_help("remove the call, or state `effects: \"approve\"` to have each effect approved")
}
