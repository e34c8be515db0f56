//! The session layer as a library: `driver::runner::Runner` runs a checked
//! flow and returns data and events, printing nothing. Progress reaches a
//! live view while steps run; the run record, trace and LLM recording are
//! kept only when asked for; an LLM provider is used as given. A request is
//! prepared once (typed arguments and options, refusals as data); steps and
//! the end come as events; two runs share one runtime, each cancelled
//! alone; the resume policy is the driver's, on any engine.

mod common;

use flowc::check::NoFiles;
use flowc::driver::check_source;
use flowc::driver::runner::{Job, Keep, Outcome, RecordInfo, Runner, Session};
use flowc::driver::signals::Interrupt;
use flowc::driver::{
    Engine, Event, Exit, Local, Progress, Request, ResumeRequest, RunStatus, Settings, prepare,
};
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

const TYPED: &str = r#"
tool wait(ms: int) -> { ms: int } = builtin "sleep"

flow main(n: int, name: string, pause: duration) -> json {
    let w = wait(ms: 1)
    { n: n, name: name, pause: pause, waited: w.ms }
}
"#;

fn file(tag: &str, text: &str) -> (std::path::PathBuf, String) {
    let dir = common::tempdir(tag);
    let path = dir.join("main.flow");
    std::fs::write(&path, text).expect("write the flow");
    (dir, path.display().to_string())
}

fn request(file: &str, args: &[&str], set: &[&str]) -> Request {
    Request {
        file: file.to_string(),
        args: args.iter().map(|s| s.to_string()).collect(),
        set: set.iter().map(|s| s.to_string()).collect(),
        ..Request::default()
    }
}

#[test]
fn a_request_is_prepared_once_with_typed_arguments_and_options() {
    let (dir, main) = file("prepare", TYPED);
    let mut checked = 0;
    let req = request(&main, &["n=3", "name=x", "pause=2s"], &["timeout=5s"]);
    let prepared = prepare(&req, &mut |e| {
        if let Event::Checked(c) = e {
            assert!(!c.has_errors());
            checked += 1;
        }
    })
    .expect("prepared");
    assert_eq!(checked, 1);
    assert_eq!(prepared.flow, "main");
    assert_eq!(
        serde_json::Value::Object(prepared.inputs.clone()),
        json!({ "n": 3, "name": "x", "pause": 2000 })
    );
    assert_eq!(prepared.settings.given(), ["timeout=5s"]);
    assert_eq!(
        prepared.settings.opts().timeout,
        Some(std::time::Duration::from_secs(5))
    );
    // Sent to a worker as given, decoded once as it arrives.
    let sent = serde_json::to_value(&prepared.settings).expect("options serialise");
    assert_eq!(sent, json!(["timeout=5s"]));
    let back: Settings = serde_json::from_value(sent).expect("options decode");
    assert_eq!(back, prepared.settings);
    assert!(serde_json::from_value::<Settings>(json!(["timeout=soon"])).is_err());
    // Refusals are data: the error, and how the command ends.
    let refused = |req: &Request| prepare(req, &mut |_| {}).err().expect("refused");
    let r = refused(&request(&main, &["n=three", "name=x", "pause=1s"], &[]));
    assert_eq!(r.exit, Exit::Usage);
    assert_eq!(
        r.error,
        "`--arg n`: `three` is not a valid `int` (write it as JSON)"
    );
    let r = refused(&request(&main, &["n=1"], &[]));
    assert!(
        r.error.starts_with("flow `main` needs `name: string`"),
        "{r:?}"
    );
    let r = refused(&request(&main, &["n=1", "name=x", "pause=1s"], &["nope=1"]));
    assert!(r.error.starts_with("unknown option `nope`"), "{r:?}");
    std::fs::write(dir.join("main.flow"), "flow main( {").expect("write");
    let r = refused(&request(&main, &[], &[]));
    assert_eq!(r.exit, Exit::Failed);
    assert!(r.error.ends_with("has errors; nothing was run"), "{r:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn steps_and_the_end_come_as_events() {
    let checked = check_source("main.flow", SRC, &NoFiles);
    let mut job = job(&checked, false, Keep::default());
    job.steps = true;
    let mut seen: Vec<String> = Vec::new();
    let finished = Runner::new().run(job, &mut |e| match e {
        Event::StepStarted { path, .. } => seen.push(format!("start {path}")),
        Event::StepFinished { path, status, .. } => seen.push(format!("end {path} {status:?}")),
        Event::Finished { status } => seen.push(format!("finished {status}")),
        _ => {}
    });
    assert_eq!(finished.outcome.status(), RunStatus::Ok);
    for want in [
        "start main/slow",
        "start main/quick",
        "end main/quick Ok",
        "end main/slow Ok",
    ] {
        assert!(seen.iter().any(|s| s == want), "{want}: {seen:?}");
    }
    let at = |s: &str| seen.iter().position(|x| x == s).expect(s);
    assert!(at("start main/slow") < at("end main/slow Ok"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("finished ok"));
}

/// Many runs on one runtime, as a service runs them: each session is its
/// own, and stopping one leaves the other running to its end.
#[test]
fn two_runs_share_one_runtime_and_each_is_cancelled_alone() {
    let checked = check_source("main.flow", SRC, &NoFiles);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let long = Session::new(job(&checked, false, Keep::default()), None);
    let short = Session::new(job(&checked, false, Keep::default()), None);
    let (mut quiet_a, mut quiet_b) = (|_: Event<'_>| {}, |_: Event<'_>| {});
    let (a, b) = rt.block_on(async {
        tokio::join!(
            long.run(&mut quiet_a, |_| std::future::pending::<Interrupt>()),
            short.run(&mut quiet_b, |_| async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Interrupt::Term
            }),
        )
    });
    match &a {
        Outcome::Ok(v) => assert_eq!(*v, json!({ "slow": 350, "quick": 1 })),
        other => panic!("the long run did not succeed: {other:?}"),
    }
    assert!(matches!(b, Outcome::Cancelled(Interrupt::Term)), "{b:?}");
    assert_eq!(long.finish(a).outcome.status(), RunStatus::Ok);
    assert_eq!(short.finish(b).outcome.status(), RunStatus::Cancelled);
}

/// The resume policy is the driver's: a stored run that ended `ok` is not
/// taken up again, whichever front door asks.
#[test]
fn resume_refuses_a_run_that_ended_ok_as_data() {
    let (dir, main) = file("resume", TYPED);
    let mut req = request(&main, &["n=1", "name=x", "pause=1s"], &["timeout=5s"]);
    req.store = Some(dir.join("store"));
    let prepared = prepare(&req, &mut |_| {}).expect("prepared");
    let mut engine = Local::new();
    let report = engine.run(prepared, &req, &mut |_| {}).expect("ran");
    assert_eq!(report.status(), RunStatus::Ok);
    let id = report.run_id.clone().expect("a stored run");
    let again = ResumeRequest {
        run: id.clone(),
        store: dir.join("store"),
        ..ResumeRequest::default()
    };
    let r = engine.resume(&again, &mut |_| {}).err().expect("refused");
    assert_eq!(r.exit, Exit::Usage);
    assert!(
        r.error.starts_with(&format!(
            "run {id} already ended `ok`; there is nothing to resume"
        )),
        "{r:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
