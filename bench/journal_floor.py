#!/usr/bin/env python3
"""How long SQLite alone takes to commit a run's journal.

usage: journal_floor.py STORE_DIR [RUNS]

Reads the `journal_log` rows of the newest run in STORE_DIR/flowc.db (a store
written by `flowc run --store STORE_DIR ...`), then writes the same rows, in
the same order, into a new database the way flowc's journal writer does: WAL,
`synchronous = NORMAL`, SQLite's own checkpoints off, one transaction per row.
Once with a PASSIVE checkpoint after every 4 MiB (as the writer does during a
run), once with no checkpoint at all. Prints the medians of RUNS (default 5)
in milliseconds.

This is a floor for a stored run's run phase, which ends when the run's last
rows are committed: whatever the run's own thread does, the writer does at
least this much. (Python's `sqlite3` links the system's SQLite, not the one
flowc has compiled in; the figure is the same to within a few per cent.)
"""

import os
import sqlite3
import statistics
import sys
import tempfile
import time

LOG_BYTES = 4 << 20


def rows_of(store):
    db = sqlite3.connect(os.path.join(store, "flowc.db"))
    (run,) = db.execute("SELECT id FROM runs ORDER BY started_ms DESC LIMIT 1").fetchone()
    rows = [r for (r,) in db.execute(
        "SELECT entries FROM journal_log WHERE run_id = ? ORDER BY seq", (run,))]
    db.close()
    return run, rows


def commit(rows, checkpoints):
    with tempfile.TemporaryDirectory() as d:
        db = sqlite3.connect(os.path.join(d, "floor.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.execute("CREATE TABLE journal_log (run_id TEXT NOT NULL, seq INTEGER NOT NULL, "
                   "entries TEXT NOT NULL, PRIMARY KEY (run_id, seq))")
        start = time.perf_counter()
        logged = 0
        for seq, text in enumerate(rows):
            db.execute("INSERT INTO journal_log VALUES ('r', ?, ?)", (seq, text))
            logged += len(text)
            if checkpoints and logged >= LOG_BYTES:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                logged = 0
        took = time.perf_counter() - start
        db.close()
        return took * 1e3


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[2])
    runs = int(sys.argv[2]) if len(sys.argv) == 3 else 5
    run, rows = rows_of(sys.argv[1])
    size = sum(len(r) for r in rows)
    print(f"run {run}: {len(rows)} journal_log rows, {size / 1e6:.1f} MB")
    for checkpoints in (True, False):
        ms = statistics.median(commit(rows, checkpoints) for _ in range(runs))
        label = "with a checkpoint every 4 MiB" if checkpoints else "without checkpoints"
        print(f"commit {label}: {ms:.1f} ms (median of {runs})")


if __name__ == "__main__":
    main()
