//! The schedules a server fires (docs/service.md, "Schedules"): the
//! `schedule` items of the served files, each fired at the times of its
//! cron expression in its time zone. A firing is one slot (the scheduled
//! instant, to the second); the slot is claimed in the store before its run
//! starts (`Store::slot_claim`), so no slot is fired twice — not after a
//! `kill -9` and a restart, not by two servers on one store. A slot whose
//! schedule's previous run has not ended (running, or paused at an
//! approval) is recorded `skipped`. After a restart, the latest slot missed
//! while no server ran is fired once; earlier missed slots are not.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::catalog::Catalog;
use super::runs::{Refused, Runs, Start};
use crate::check::schedule::{Schedule, parse_cron, parse_timezone};
use crate::store::{Claim, Store};

/// How often the scheduler looks at the clock.
const TICK: Duration = Duration::from_millis(200);

/// One schedule of a served file.
pub struct Scheduled {
    pub file: String,
    pub schedule: Schedule,
    /// Its name in the store ([`Schedule::key`]).
    pub key: String,
    cron: croner::Cron,
    tz: chrono_tz::Tz,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The latest slot fired, skipped or claimed by another (ms since the epoch).
    last_slot: Option<i64>,
    /// The next slot after now.
    next_ms: Option<i64>,
}

/// Every schedule of the served files.
pub struct Schedules {
    pub list: Vec<Scheduled>,
}

impl Schedules {
    pub fn of(catalog: &Catalog) -> Schedules {
        let mut list = Vec::new();
        for (file, s) in &catalog.schedules {
            // Checked already: a failure here is a zone or pattern croner
            // read then and not now, said and left out.
            let cron = match parse_cron(&s.cron) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("flowc serve: {file}: schedule {:?}: {e}", s.cron);
                    continue;
                }
            };
            let tz = match s.timezone.as_deref().map(parse_timezone) {
                None => chrono_tz::UTC,
                Some(Ok(tz)) => tz,
                Some(Err(e)) => {
                    eprintln!("flowc serve: {file}: schedule {:?}: {e}", s.cron);
                    continue;
                }
            };
            // The key names the file by its absolute path: `ops.flow` and
            // `./ops.flow` are one schedule across restarts.
            let absolute = std::fs::canonicalize(file)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| file.clone());
            list.push(Scheduled {
                file: file.clone(),
                key: s.key(&absolute),
                schedule: s.clone(),
                cron,
                tz,
                state: Mutex::new(State::default()),
            });
        }
        Schedules { list }
    }

    /// Starts the scheduler's thread (none when nothing is scheduled).
    pub fn start(self: &Arc<Self>, runs: Arc<Runs>) -> Result<(), String> {
        if self.list.is_empty() {
            return Ok(());
        }
        let store = Store::open(runs.store_dir()).map_err(|e| e.to_string())?;
        for s in &self.list {
            let last = store
                .slots(&s.key, 1)
                .map_err(|e| e.to_string())?
                .first()
                .map(|slot| slot.slot_ms);
            let mut st = s.state.lock().expect("a schedule's state");
            // A schedule never fired starts from now: nothing before it is missed.
            st.last_slot = last.or_else(|| s.latest(Utc::now()));
            st.next_ms = s.next(Utc::now());
        }
        let me = self.clone();
        std::thread::Builder::new()
            .name("flowc-schedules".into())
            .spawn(move || {
                loop {
                    for s in &me.list {
                        if let Err(e) = s.tick(&store, &runs) {
                            eprintln!(
                                "flowc serve: schedule {:?} of {}: {e}",
                                s.schedule.cron, s.file
                            );
                        }
                    }
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| format!("cannot start the scheduler: {e}"))?;
        Ok(())
    }

    /// `GET /api/v1/schedules`: each schedule, its next slot, its latest
    /// slots from the store (the last run), its skips.
    pub fn to_json(&self, store: &Store) -> Result<Value, String> {
        let mut out = Vec::new();
        for s in &self.list {
            let slots = store.slots(&s.key, 10).map_err(|e| e.to_string())?;
            let skips = store.slot_skips(&s.key).map_err(|e| e.to_string())?;
            let next = s.state.lock().expect("a schedule's state").next_ms;
            let last_run = slots.iter().find_map(|sl| sl.run_id.clone());
            out.push(json!({
                "file": s.file,
                "flow": s.schedule.flow,
                "cron": s.schedule.cron,
                "timezone": s.schedule.timezone.as_deref().unwrap_or("UTC"),
                "args": Value::Object(s.schedule.args.clone()),
                "next": next.map(rfc3339),
                "last_slot": slots.first().map(|sl| rfc3339(sl.slot_ms)),
                "last_run": last_run,
                "skips": skips,
                "slots": slots.iter().map(|sl| json!({
                    "slot": rfc3339(sl.slot_ms),
                    "outcome": sl.outcome,
                    "run": sl.run_id,
                    "note": sl.note,
                })).collect::<Vec<_>>(),
            }));
        }
        Ok(json!({ "schedules": out }))
    }

    /// Skipped slots by schedule (file, flow, cron), for `/metrics`.
    pub fn skips(&self, store: &Store) -> Result<Vec<(&Scheduled, u64)>, String> {
        self.list
            .iter()
            .map(|s| Ok((s, store.slot_skips(&s.key).map_err(|e| e.to_string())?)))
            .collect()
    }
}

impl Scheduled {
    /// The latest slot at or before `now`.
    fn latest(&self, now: DateTime<Utc>) -> Option<i64> {
        let here = now.with_timezone(&self.tz);
        self.cron
            .find_previous_occurrence(&here, true)
            .ok()
            .map(|t| t.timestamp() * 1000)
    }

    /// The first slot after `now`.
    fn next(&self, now: DateTime<Utc>) -> Option<i64> {
        let here = now.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&here, false)
            .ok()
            .map(|t| t.timestamp() * 1000)
    }

    /// Fires the latest slot if it is newer than the last one fired.
    fn tick(&self, store: &Store, runs: &Arc<Runs>) -> Result<(), String> {
        let now = Utc::now();
        let latest = self.latest(now);
        let mut st = self.state.lock().expect("a schedule's state");
        st.next_ms = self.next(now);
        let Some(slot) = latest.filter(|l| st.last_slot.is_none_or(|last| *l > last)) else {
            return Ok(());
        };
        st.last_slot = Some(slot);
        drop(st);
        match store
            .slot_claim(&self.key, slot)
            .map_err(|e| e.to_string())?
        {
            Claim::Taken => Ok(()),
            Claim::Skipped(run) => {
                eprintln!(
                    "flowc serve: schedule {:?} {}: slot {} skipped (run {run} has not ended)",
                    self.schedule.cron,
                    self.schedule.flow,
                    rfc3339(slot)
                );
                Ok(())
            }
            Claim::Fire => {
                let answer = runs.start(Start {
                    file: self.file.clone(),
                    flow: self.schedule.flow.clone(),
                    args: self.schedule.args.clone(),
                    options: Map::new(),
                });
                match answer.blocking_recv() {
                    Ok(Ok(id)) => store
                        .slot_started(&self.key, slot, &id)
                        .map_err(|e| e.to_string()),
                    Ok(Err(r)) => {
                        let why = match r {
                            Refused::Unprocessable(v) => v
                                .get("error")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string()),
                            Refused::Conflict(m) | Refused::Failed(m) => m,
                        };
                        store
                            .slot_failed(&self.key, slot, &why)
                            .map_err(|e| e.to_string())?;
                        Err(format!(
                            "slot {}: the run did not start: {why}",
                            rfc3339(slot)
                        ))
                    }
                    Err(_) => {
                        let why = "the run's thread ended before it started";
                        store
                            .slot_failed(&self.key, slot, why)
                            .map_err(|e| e.to_string())?;
                        Err(why.to_string())
                    }
                }
            }
        }
    }
}

/// Milliseconds since the epoch as RFC 3339 (UTC).
pub fn rfc3339(ms: i64) -> String {
    crate::ids::rfc3339_ms(ms)
}
