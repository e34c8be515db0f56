//! `flowc approve RUN [PATH] [--reject] [--by NAME] [--note TEXT]`: answers
//! an approval a paused run waits for (docs/store.md, `approvals`); `flowc resume`
//! then continues the run with `true` or `false`.

use crate::driver::store_dir;
use crate::run::approve::local_user;
use crate::store::{Answer, FILE_NAME, Store};
use crate::term::{OK, USAGE, out};

#[derive(clap::Args, Debug)]
pub struct ApproveArgs {
    /// The run's id (or a unique start of it), as `flowc runs` lists it
    pub run: String,
    /// The approval's step path, as the paused run printed it (may be left
    /// out when the run waits for exactly one)
    pub path: Option<String>,
    /// Answer no: the `approve` returns `false`
    #[arg(long)]
    pub reject: bool,
    /// Who answers (default: $USER)
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// A note kept with the answer
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// The folder of the store that keeps the run (default: FLOWC_STORE, or `.flowc`)
    #[arg(long, value_name = "DIR")]
    pub store: Option<String>,
    /// A run on Restate, `restate:INGRESS_URL` (default: FLOWC_ENGINE): the
    /// answer resolves its approval and the run goes on by itself
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
}

pub fn approve(a: &ApproveArgs) -> u8 {
    match crate::restate::engine_of(a.engine.as_deref()) {
        Ok(Some(ingress)) => {
            let by = a.by.clone().unwrap_or_else(local_user);
            return super::engine::approve(
                &ingress,
                &a.run,
                a.path.as_deref(),
                !a.reject,
                &by,
                a.note.as_deref(),
            );
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    }
    match answer(a) {
        Ok(text) => {
            out::println(&text);
            OK
        }
        Err(message) => {
            eprintln!("error: {message}");
            USAGE
        }
    }
}

fn answer(a: &ApproveArgs) -> Result<String, String> {
    let dir = store_dir(a.store.as_deref());
    if !dir.join(FILE_NAME).exists() {
        return Err(format!(
            "there is no store `{}`: no run waits for an approval there",
            dir.join(FILE_NAME).display()
        ));
    }
    let store = Store::open(&dir).map_err(|e| e.to_string())?;
    let run = store
        .run(&a.run)
        .map_err(|e| e.to_string())?
        .map_err(|m| format!("{m}; `flowc runs --status paused` lists the paused runs"))?;
    let approvals = store.approvals(&run.id).map_err(|e| e.to_string())?;
    let pending: Vec<_> = approvals.iter().filter(|p| p.answer().is_none()).collect();
    let path = match (&a.path, pending.as_slice()) {
        (Some(p), _) => p.clone(),
        (None, [one]) => one.path.clone(),
        (None, []) => {
            return Err(format!(
                "run {} waits for no approval (status `{}`; {} answered); `flowc runs show {}` shows it",
                run.id,
                run.status,
                approvals.len(),
                run.id
            ));
        }
        (None, several) => {
            let list: Vec<String> = several
                .iter()
                .map(|p| {
                    format!(
                        "  {}: {}",
                        p.path,
                        crate::diag::render::printable(&p.message)
                    )
                })
                .collect();
            return Err(format!(
                "run {} waits for {} approvals; name the one to answer (`flowc approve {} PATH`):\n{}",
                run.id,
                several.len(),
                run.id,
                list.join("\n")
            ));
        }
    };
    let by = a.by.clone().unwrap_or_else(local_user);
    let answer = Answer {
        approved: !a.reject,
        by: &by,
        note: a.note.as_deref(),
    };
    store
        .approval_answer(&run.id, &path, &answer)
        .map_err(|e| e.to_string())?
        .map_err(|m| {
            let open: Vec<&str> = pending.iter().map(|p| p.path.as_str()).collect();
            if open.is_empty() {
                format!("{m}; it waits for no other approval")
            } else {
                format!("{m}; it waits for: {}", open.join(", "))
            }
        })?;
    let left = pending.len().saturating_sub(1);
    let then = if left == 0 {
        format!("`flowc resume {}` continues the run", run.id)
    } else {
        format!(
            "{left} more approval{} pending; `flowc resume {}` continues the run and pauses at them again",
            if left == 1 { "" } else { "s" },
            run.id
        )
    };
    Ok(format!(
        "{} `{path}` of run {} (by {by}); {then}",
        if a.reject { "rejected" } else { "approved" },
        run.id
    ))
}
