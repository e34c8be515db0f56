//! The session layer as a library: `driver::runner::Runner` runs a checked
//! flow and returns data and events, printing nothing. Progress reaches a
//! live view while steps run; the run record, trace and LLM recording are
//! kept only when asked for; an LLM provider is used as given.

use flowc::check::NoFiles;
use flowc::driver::check_source;
use flowc::driver::runner::{Job, Keep, Outcome, RecordInfo, Runner};
use flowc::driver::{Event, Progress, RunStatus};
use serde_json::json;

const SRC: &str = r#"
tool wait(ms: int) -> { ms: int } = builtin "sleep"

flow main() -> json {
    let slow = wait(ms: 350)
    let quick = wait(ms: 1)
    { slow: slow.ms, quick: quick.ms }
}
"#;

fn job<'a>(checked: &'a flowc::driver::Checked, progress: bool, keep: Keep) -> Job<'a> {
    let mut job = Job::new(&checked.program, &checked.sources, "main");
    job.progress = progress;
    job.keep = keep;
    job
}

#[test]
fn progress_shows_the_running_steps_and_the_result_comes_back_as_data() {
    let checked = check_source("main.flow", SRC, &NoFiles);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let mut seen: Vec<Progress> = Vec::new();
    let finished = Runner::new().run(job(&checked, true, Keep::default()), &mut |e| {
        if let Event::Progress(p) = e {
            seen.push(p.clone())
        }
    });
    match &finished.outcome {
        Outcome::Ok(v) => assert_eq!(*v, json!({ "slow": 350, "quick": 1 })),
        other => panic!("the run did not succeed: {other:?}"),
    }
    assert_eq!(finished.outcome.status(), RunStatus::Ok);
    assert!(
        seen.iter()
            .any(|p| p.running == ["main/slow"] && p.done >= 1 && p.failed == 0),
        "no event while `slow` ran alone: {seen:?}"
    );
    // Nothing kept that was not asked for.
    assert!(finished.record.is_none() && finished.trace.is_none());
    assert!(finished.llm_recording.is_none());
    assert!(finished.duration_ms >= 350.0, "{}", finished.duration_ms);
}

#[test]
fn without_progress_no_event_comes_and_the_record_is_kept_when_asked() {
    let checked = check_source("main.flow", SRC, &NoFiles);
    let keep = Keep {
        record: Some(RecordInfo {
            file: "main.flow".into(),
            set: vec!["timeout=5s".into()],
        }),
        trace: Some("main.flow main".into()),
        llm_recording: true,
        ..Keep::default()
    };
    let mut events = 0;
    let finished = Runner::new().run(job(&checked, false, keep), &mut |e| {
        if !matches!(e, Event::Finished { .. }) {
            events += 1
        }
    });
    assert_eq!(events, 0);
    let record =
        serde_json::to_value(finished.record.expect("a record")).expect("records serialise");
    assert_eq!(record["status"], "ok");
    assert_eq!(record["file"], "main.flow");
    assert_eq!(record["options"], json!({ "timeout": "5s" }));
    assert_eq!(record["result"], json!({ "slow": 350, "quick": 1 }));
    let steps: Vec<&str> = record["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["step"].as_str())
        .collect();
    assert!(
        steps.contains(&"slow") && steps.contains(&"quick"),
        "{steps:?}"
    );
    assert!(finished.trace.expect("a trace")["traceEvents"].is_array());
    assert_eq!(
        serde_json::to_value(finished.llm_recording.expect("a recording"))
            .expect("recordings serialise")["decisions"],
        json!([])
    );
}

#[test]
fn a_failed_run_returns_its_errors() {
    let src = r#"
tool wait(ms: int) -> { ms: int } = builtin "sleep"

flow main() -> json {
    let r = wait(ms: 1000) with { timeout: 50ms }
    r
}
"#;
    let checked = check_source("main.flow", src, &NoFiles);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let finished = Runner::new().run(job(&checked, false, Keep::default()), &mut |_| {});
    let Outcome::Failed(errors) = &finished.outcome else {
        panic!("the run did not fail: {:?}", finished.outcome)
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].step, "r");
    assert_eq!(finished.outcome.status(), RunStatus::Failed);
}
