//! The standard library: `.flow` modules compiled into the binary, imported as `std.x`.

/// (module name, source text)
pub const MODULES: &[(&str, &str)] = &[
    (
        "std.anomalies",
        include_str!("../../stdlib/std/anomalies.flow"),
    ),
    ("std.ops", include_str!("../../stdlib/std/ops.flow")),
    ("std.triage", include_str!("../../stdlib/std/triage.flow")),
];

/// The source of a standard module, by its dotted name.
pub fn module(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The names of all standard modules.
pub fn names() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|(n, _)| *n)
}
