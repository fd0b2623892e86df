-- Backups (BK-1 … BK-7): the protected data sets, the copies where their
-- backups live, and the snapshots the collection read from each copy.

CREATE TABLE backup_datasets (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    owner          TEXT    NOT NULL, -- a user name: the data owner
    classification TEXT    NOT NULL,
    description    TEXT    NOT NULL, -- the data covered (BK-7)
    frequency      TEXT    NOT NULL, -- hourly | daily | weekly
    type           TEXT    NOT NULL, -- full | incremental | differential
    retention_days INTEGER NOT NULL,
    instructions   TEXT    NOT NULL, -- the restore procedure (BK-7)
    drill          TEXT    NOT NULL, -- JSON: the drill specification
    created_at     TEXT    NOT NULL,
    created_by     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);
{{seal backup_datasets id}}

-- A copy is one place a data set's backups live. The password of a restic
-- repository is the name of a secret (password_secret) or a value sealed
-- with the secrets key (password_sealed), never a path.
CREATE TABLE backup_copies (
    id              TEXT    PRIMARY KEY,
    dataset_id      TEXT    NOT NULL REFERENCES backup_datasets (id),
    name            TEXT    NOT NULL,
    source          TEXT    NOT NULL, -- restic | pgdump | pgbackrest | manifest
    location        TEXT    NOT NULL, -- repository URL or path, dump directory, pgBackRest stanza
    offsite         BOOLEAN NOT NULL, -- outside the production environment (BK-3)
    password_secret TEXT    NOT NULL,
    password_sealed TEXT    NOT NULL,
    added_locally   BOOLEAN NOT NULL,
    created_at      TEXT    NOT NULL,
    created_by      TEXT    NOT NULL,
    collected_at    TEXT,
    collect_error   TEXT    NOT NULL,
    UNIQUE (dataset_id, name)
);
{{seal backup_copies id}}

-- The snapshots seen in a copy: inserted when first listed, marked gone
-- (gone_at) when a later listing no longer has them. taken_unix is
-- taken_at in seconds, so that the retention window is counted in SQL.
CREATE TABLE backup_snapshots (
    copy_id     TEXT   NOT NULL REFERENCES backup_copies (id),
    snapshot_id TEXT   NOT NULL,
    dataset_id  TEXT   NOT NULL,
    taken_at    TEXT   NOT NULL,
    taken_unix  BIGINT NOT NULL,
    type        TEXT   NOT NULL,
    size_bytes  BIGINT NOT NULL,
    checksum    TEXT   NOT NULL,
    host        TEXT   NOT NULL,
    paths       TEXT   NOT NULL, -- JSON list
    seen_at     TEXT   NOT NULL,
    gone_at     TEXT,
    PRIMARY KEY (copy_id, snapshot_id)
);
{{seal backup_snapshots copy_id snapshot_id}}
CREATE INDEX backup_snapshots_taken ON backup_snapshots (copy_id, taken_unix);
-- Covers the status's sums of the live snapshots (backup status reads a
-- million in well under a second).
CREATE INDEX backup_snapshots_live ON backup_snapshots (copy_id, type, taken_unix) WHERE gone_at IS NULL;
