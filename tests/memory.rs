//! What the front end and the lowering keep, in bytes of heap, counted by
//! this test binary's allocator (a counter around the system's): the AST of
//! a file is what is still allocated once `parse` has returned it (pest's
//! tokens and every other temporary are freed by then); the checked program
//! and the lowered IR likewise. The counts do not depend on the build's
//! optimisation level, so a debug build measures what a release build keeps.
//!
//! `ast_heap_is_bounded_per_statement` holds the AST of a generated DAG to a
//! bound per statement. `measure_memory` (ignored; run it with `--ignored
//! --nocapture`, `FLOWC_MEMORY_FILE=FILE`) prints the figures of
//! docs/performance.md ("What a run keeps").

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use flowc::check::NoFiles;
use flowc::driver::check_source;
use flowc::source::Sources;

/// The system's allocator, counting the bytes allocated now and the most
/// allocated at once since [`reset_peak`].
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
// SAFETY: every call is passed to `System` with the same arguments; the
// counters are plain atomics and allocate nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn reset_peak() -> usize {
    let now = live();
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Heap figures of one phase: what it kept, and the most it held at once
/// above what was there before it.
#[derive(Debug)]
struct Phase {
    kept: usize,
    peak: usize,
}

fn phase<T>(f: impl FnOnce() -> T) -> (T, Phase) {
    let before = reset_peak();
    let value = f();
    let phase = Phase {
        kept: live().saturating_sub(before),
        peak: peak().saturating_sub(before),
    };
    (value, phase)
}

/// A DAG of `n` steps as the bench kit writes it: each step a `sleep` after
/// up to two earlier ones, a list of the sinks at the end.
fn dag(n: usize) -> String {
    let mut s = String::from(
        "tool sleep(ms: int) -> { ms: int } = builtin \"sleep\"\n\n\
         flow main() -> int with { max_concurrent: 64 } {\n",
    );
    let mut read = vec![false; n];
    for i in 0..n {
        s.push_str(&format!("    let n{i} = sleep(ms: 0)"));
        let deps: Vec<usize> = [i.wrapping_sub(1), i / 2]
            .into_iter()
            .filter(|&d| d < i)
            .collect();
        if !deps.is_empty() {
            let names: Vec<String> = deps.iter().map(|d| format!("n{d}")).collect();
            s.push_str(&format!(" after {}", names.join(", ")));
            for d in deps {
                read[d] = true;
            }
        }
        s.push('\n');
    }
    let sinks: Vec<String> = (0..n)
        .filter(|&i| !read[i])
        .map(|i| format!("n{i}"))
        .collect();
    s.push_str(&format!("    len([{}])\n}}\n", sinks.join(", ")));
    s
}

fn parse_phase(name: &str, text: &str) -> (flowc::syntax::ast::Module, Phase) {
    let mut sources = Sources::new();
    let file = sources.add(name, text);
    let ((module, diags), p) = phase(|| flowc::syntax::parse(file, text));
    assert!(diags.is_empty(), "{diags:?}");
    (module, p)
}

/// The AST of a DAG's statement (`let nI = sleep(ms: 0) after nA, nB`)
/// stays under 1.5 KB of heap, and parsing it frees what it does not keep.
#[test]
fn ast_heap_is_bounded_per_statement() {
    let n = 2_000;
    let text = dag(n);
    let (module, p) = parse_phase("dag.flow", &text);
    let per_stmt = p.kept / n;
    assert!(p.kept > 0, "the AST is on the heap");
    assert!(per_stmt < 1_500, "{per_stmt} bytes of AST per statement");
    assert!(p.peak >= p.kept);
    let before = live();
    drop(module);
    assert!(live() < before, "dropping the AST frees it");
}

/// Prints the heap of each phase for `FLOWC_MEMORY_FILE` (a `.flow` file),
/// or for a generated 100,000-step DAG.
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn measure_memory() {
    let (name, text) = match std::env::var("FLOWC_MEMORY_FILE") {
        Ok(f) => {
            let text = std::fs::read_to_string(&f).expect("FLOWC_MEMORY_FILE is readable");
            (f, text)
        }
        Err(_) => ("dag100k.flow".to_string(), dag(100_000)),
    };
    let mb = |b: usize| b as f64 / 1e6;
    let (module, p) = parse_phase(&name, &text);
    println!(
        "source {:.2} MB; parse: AST kept {:.1} MB, peak {:.1} MB above the start",
        mb(text.len()),
        mb(p.kept),
        mb(p.peak)
    );
    let ast = p.kept;
    drop(module);
    let (checked, c) = phase(|| check_source(&name, &text, &NoFiles));
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    println!(
        "check (parse included): kept {:.1} MB (AST, source, tables), peak {:.1} MB = {:.2} × the AST",
        mb(c.kept),
        mb(c.peak),
        c.peak as f64 / ast as f64
    );
    let (lowered, l) = phase(|| flowc::ir::lower_program(&checked.program));
    println!(
        "lowering: IR kept {:.1} MB, peak {:.1} MB",
        mb(l.kept),
        mb(l.peak)
    );
    drop(lowered);
    drop(checked);
}

/// A statement's node: `let`'s type and `assert`'s message are boxed, so
/// every statement does not carry room for them; an expression's rare large
/// parts (a `with { … }`, the blocks and variable of a `loop`, `for` or
/// `try`) are boxed, so every expression — a statement's value, each
/// argument of a call — does not either.
#[test]
fn statement_nodes_stay_small() {
    use flowc::syntax::ast::{Arg, Expr, Stmt, StmtKind};
    use std::mem::size_of;
    assert!(size_of::<Expr>() <= 80, "{}", size_of::<Expr>());
    assert!(size_of::<Arg>() <= 136, "{}", size_of::<Arg>());
    assert!(size_of::<StmtKind>() <= 152, "{}", size_of::<StmtKind>());
    assert!(size_of::<Stmt>() <= 168, "{}", size_of::<Stmt>());
}
