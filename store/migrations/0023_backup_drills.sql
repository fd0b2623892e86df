-- Restore drills (BK-4), their root-cause analyses (BK-5) and the
-- disaster-recovery tabletop exercises (BK-6).

-- A drill is inserted running and updated once when it ends, passed or
-- failed, with every check (JSON) and the tool's log as an evidence blob.
CREATE TABLE backup_drills (
    id             TEXT   PRIMARY KEY,
    dataset_id     TEXT   NOT NULL REFERENCES backup_datasets (id),
    copy_id        TEXT   NOT NULL REFERENCES backup_copies (id),
    kind           TEXT   NOT NULL, -- restic | pgdump
    state          TEXT   NOT NULL, -- running | passed | failed
    selector       TEXT   NOT NULL, -- latest | random | an ID, as asked
    snapshot_id    TEXT   NOT NULL,
    snapshot_time  TEXT,
    run_by         TEXT   NOT NULL, -- the ledger's actor
    run_by_user    TEXT   NOT NULL, -- the user, for segregation of duties
    started_at     TEXT   NOT NULL,
    finished_at    TEXT,
    duration_ms    BIGINT NOT NULL, -- the measured RTO
    rpo_seconds    BIGINT NOT NULL, -- the snapshot's age at the start
    bytes_restored BIGINT NOT NULL,
    files          BIGINT NOT NULL,
    checks         TEXT   NOT NULL, -- JSON list of {name, expected, actual, ok}
    notes          TEXT   NOT NULL, -- JSON list
    log_ref        TEXT   NOT NULL, -- the ledger evidence blob of the tool's log
    approved_by    TEXT,
    approved_at    TEXT
);
{{seal backup_drills id}}
CREATE INDEX backup_drills_dataset ON backup_drills (dataset_id, started_at);

-- A failed drill opens a root-cause analysis; someone other than the
-- drill's runner records its cause and corrective action.
CREATE TABLE backup_rcas (
    id          TEXT PRIMARY KEY,
    drill_id    TEXT NOT NULL REFERENCES backup_drills (id), -- one per failed drill (the service)
    dataset_id  TEXT NOT NULL REFERENCES backup_datasets (id),
    opened_at   TEXT NOT NULL,
    cause       TEXT NOT NULL,
    action      TEXT NOT NULL,
    recorded_by TEXT,
    recorded_at TEXT
);
{{seal backup_rcas id}}

CREATE TABLE backup_exercises (
    id           TEXT PRIMARY KEY,
    scenario     TEXT NOT NULL,
    held_on      TEXT NOT NULL, -- YYYY-MM-DD
    participants TEXT NOT NULL, -- JSON list of user names
    findings     TEXT NOT NULL,
    actions      TEXT NOT NULL, -- JSON list of {text, owner}
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL
);
{{seal backup_exercises id}}
