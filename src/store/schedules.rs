//! The slots of schedules (docs/store.md, `schedule_slots`): a server that
//! fires a `schedule` at a time (its slot) claims the pair (schedule, slot)
//! in one transaction before the run starts, so that no slot is fired twice —
//! not after a `kill -9` and a restart, not by two servers on one store. A
//! slot whose schedule's previous run has not ended is recorded `skipped`.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, now_ms};

/// One slot of a schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    pub slot_ms: i64,
    /// `started` (a run was started, or is being), `skipped` (the previous
    /// run had not ended) or `failed` (the run could not start: `note` says why).
    pub outcome: String,
    pub run_id: Option<String>,
    pub at_ms: i64,
    pub note: Option<String>,
}

/// What claiming a slot found.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// This caller fires the slot: it starts the run.
    Fire,
    /// Recorded skipped: this run of the schedule has not ended.
    Skipped(String),
    /// The slot was claimed before (by this server before a restart, or another).
    Taken,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Slot> {
    Ok(Slot {
        slot_ms: r.get(0)?,
        outcome: r.get(1)?,
        run_id: r.get(2)?,
        at_ms: r.get(3)?,
        note: r.get(4)?,
    })
}

const COLUMNS: &str = "slot_ms, outcome, run_id, at_ms, note";

impl Store {
    /// Claims `slot_ms` of `schedule` in one transaction: taken if claimed
    /// before; skipped when the run of its latest started slot is still
    /// `running` or `paused`; else claimed to be fired.
    pub fn slot_claim(&self, schedule: &str, slot_ms: i64) -> Result<Claim, StoreError> {
        self.mark_interrupted()?;
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.error(&e))?;
        let claimed = self.slot_claim_in(schedule, slot_ms);
        let end = if claimed.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        let ended = self.conn.execute_batch(end).map_err(|e| self.error(&e));
        let claimed = claimed?;
        ended?;
        Ok(claimed)
    }

    fn slot_claim_in(&self, schedule: &str, slot_ms: i64) -> Result<Claim, StoreError> {
        let taken: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM schedule_slots WHERE schedule = ?1 AND slot_ms = ?2",
                params![schedule, slot_ms],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.error(&e))?;
        if taken.is_some() {
            return Ok(Claim::Taken);
        }
        let busy: Option<String> = self
            .conn
            .query_row(
                "SELECT r.id FROM schedule_slots AS s JOIN runs AS r ON r.id = s.run_id
                 WHERE s.schedule = ?1 AND s.outcome = 'started'
                   AND r.status IN ('running', 'paused')
                 ORDER BY s.slot_ms DESC LIMIT 1",
                [schedule],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.error(&e))?;
        let (outcome, note) = match &busy {
            Some(run) => ("skipped", Some(format!("run {run} had not ended"))),
            None => ("started", None),
        };
        self.conn
            .execute(
                "INSERT INTO schedule_slots (schedule, slot_ms, outcome, run_id, at_ms, note)
                 VALUES (?1, ?2, ?3, NULL, ?4, ?5)",
                params![schedule, slot_ms, outcome, now_ms(), note],
            )
            .map_err(|e| self.error(&e))?;
        Ok(match busy {
            Some(run) => Claim::Skipped(run),
            None => Claim::Fire,
        })
    }

    /// The run a fired slot started.
    pub fn slot_started(
        &self,
        schedule: &str,
        slot_ms: i64,
        run_id: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE schedule_slots SET run_id = ?3 WHERE schedule = ?1 AND slot_ms = ?2",
                params![schedule, slot_ms, run_id],
            )
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    /// A fired slot whose run could not start, and why.
    pub fn slot_failed(&self, schedule: &str, slot_ms: i64, why: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE schedule_slots SET outcome = 'failed', note = ?3 WHERE schedule = ?1 AND slot_ms = ?2",
                params![schedule, slot_ms, why],
            )
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    /// The latest slots of `schedule`, newest first.
    pub fn slots(&self, schedule: &str, limit: usize) -> Result<Vec<Slot>, StoreError> {
        let mut q = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM schedule_slots WHERE schedule = ?1 ORDER BY slot_ms DESC LIMIT ?2"
            ))
            .map_err(|e| self.error(&e))?;
        q.query_map(params![schedule, limit as i64], row)
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error(&e))
    }

    /// How many slots of `schedule` were skipped.
    pub fn slot_skips(&self, schedule: &str) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM schedule_slots WHERE schedule = ?1 AND outcome = 'skipped'",
                [schedule],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_claimed_once() {
        let dir = std::env::temp_dir().join(format!("flowc-slots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir).expect("a store");
        assert_eq!(s.slot_claim("k", 1000), Ok(Claim::Fire));
        assert_eq!(s.slot_claim("k", 1000), Ok(Claim::Taken));
        assert_eq!(s.slot_claim("other", 1000), Ok(Claim::Fire));
        assert_eq!(s.slot_claim("k", 2000), Ok(Claim::Fire));
        let slots = s.slots("k", 10).expect("slots");
        assert_eq!(
            slots.iter().map(|s| s.slot_ms).collect::<Vec<_>>(),
            vec![2000, 1000]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
