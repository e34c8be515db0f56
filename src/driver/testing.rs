//! `flowc test`: the `test` blocks of checked programs, run in parallel —
//! each in an interpreter of its own (its mocks are its own), a bounded
//! number at once, on the session's one-thread runtime. Results are handed
//! to the caller in the order the tests were given, as soon as each one and
//! those before it have finished.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Semaphore;

use super::runner::Runner;
use super::signals::Interrupt;
use crate::check::Program;
use crate::run::testing::TestFailure;
use crate::run::{Interp, Lowering, RunConfig};
use crate::source::Sources;
use crate::syntax::ast::{ItemKind, TestDecl};

/// How many tests run at once by default.
pub const DEFAULT_JOBS: usize = 8;

/// One test to run: a `test` block of a program's root module.
pub struct TestCase<'a> {
    pub program: &'a Program,
    pub sources: &'a Sources,
    pub decl: &'a TestDecl,
    /// The program lowered once for all its tests.
    lowering: Lowering<'a>,
}

/// How a test ended.
pub struct TestResult {
    pub name: String,
    /// Empty when the test passed.
    pub failures: Vec<TestFailure>,
    pub duration_ms: f64,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The test blocks of `program`'s root file whose names contain `filter`.
pub fn tests_of<'a>(
    program: &'a Program,
    sources: &'a Sources,
    filter: Option<&str>,
) -> Vec<TestCase<'a>> {
    let tests: Vec<&TestDecl> = program.modules[program.root]
        .ast
        .items
        .iter()
        .filter_map(|it| match &it.kind {
            ItemKind::Test(t) if filter.is_none_or(|f| t.name.contains(f)) => Some(t),
            _ => None,
        })
        .collect();
    if tests.is_empty() {
        return Vec::new();
    }
    let lowering = Lowering::new(program);
    tests
        .into_iter()
        .map(|decl| TestCase {
            program,
            sources,
            decl,
            lowering: lowering.clone(),
        })
        .collect()
}

/// Runs `tests`, at most `jobs` at once, each for at most `timeout`;
/// `on_result` gets each result in the order of `tests`. `Err` when a signal
/// stopped the run.
pub fn run_tests(
    runner: &mut Runner,
    tests: &[TestCase<'_>],
    jobs: usize,
    timeout: Duration,
    on_result: &mut dyn FnMut(usize, &TestResult),
) -> Result<(), Interrupt> {
    let limit = Semaphore::new(jobs.max(1));
    runner.until_signal(async {
        let mut running: FuturesUnordered<_> = tests
            .iter()
            .enumerate()
            .map(|(i, case)| {
                let limit = &limit;
                async move {
                    let _permit = limit.acquire().await.expect("never closed");
                    (i, run_one(case, timeout).await)
                }
            })
            .collect();
        let mut done: BTreeMap<usize, TestResult> = BTreeMap::new();
        let mut next = 0;
        while let Some((i, r)) = running.next().await {
            done.insert(i, r);
            while let Some(r) = done.remove(&next) {
                on_result(next, &r);
                next += 1;
            }
        }
    })
}

async fn run_one(case: &TestCase<'_>, timeout: Duration) -> TestResult {
    let config = RunConfig {
        no_cache: true,
        ..RunConfig::default()
    };
    let t0 = Instant::now();
    let interp = Interp::for_test(case.program, case.sources, config, case.lowering.clone());
    let failures = match tokio::time::timeout(
        timeout,
        interp.run_test(case.program.root, case.decl.name_span),
    )
    .await
    {
        Ok(f) => f,
        Err(_) => {
            let mut f = TestFailure::new(
                "timeout",
                format!(
                    "the test did not finish within {}",
                    crate::check::options::fmt_duration(timeout)
                ),
                case.decl.name_span,
            );
            f.help = Some("give it longer with `flowc test --timeout`; mocked calls answer at once, so it waits on something real (a `sleep`, a built-in tool)".into());
            vec![f]
        }
    };
    TestResult {
        name: case.decl.name.clone(),
        failures,
        duration_ms: t0.elapsed().as_secs_f64() * 1e3,
    }
}
