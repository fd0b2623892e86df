-- Foundation: the ledger, evidence, identities, control results, notification attempts.
-- One schema for SQLite and PostgreSQL: times are UTC RFC 3339 text with
-- microseconds (sortable as text), identifiers are opaque text, hashes are bytes.
-- {{int64_pk}} is a 64-bit integer primary key: INTEGER PRIMARY KEY in SQLite,
-- where it is the rowid and rows are stored in its order, BIGINT in PostgreSQL.

CREATE TABLE ledger_entries (
    seq          {{int64_pk}},
    time         TEXT   NOT NULL,
    actor        TEXT   NOT NULL,
    kind         TEXT   NOT NULL,
    subject      TEXT   NOT NULL,
    payload      TEXT   NOT NULL,
    payload_hash BYTEA  NOT NULL,
    leaf_hash    BYTEA  NOT NULL
);
CREATE INDEX ledger_entries_subject ON ledger_entries (subject, seq);
CREATE INDEX ledger_entries_kind ON ledger_entries (kind, seq);

-- Every checkpoint the server signed: the tree of the first size entries.
-- frontier holds the compact range [0, size) so the next append need not
-- re-read the log; it is checked against the signed root before use.
CREATE TABLE ledger_checkpoints (
    size       {{int64_pk}},
    root_hash  BYTEA  NOT NULL,
    note       TEXT   NOT NULL,
    frontier   BYTEA  NOT NULL,
    created_at TEXT   NOT NULL
);

CREATE TABLE evidence_blobs (
    sha256     TEXT   PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    media_type TEXT   NOT NULL,
    content    BYTEA  NOT NULL,
    created_at TEXT   NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    email         TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    disabled_at   TEXT
);

CREATE TABLE sessions (
    id_hash     BYTEA PRIMARY KEY,
    user_id     TEXT  NOT NULL REFERENCES users (id),
    csrf_token  TEXT  NOT NULL,
    remote_addr TEXT  NOT NULL,
    created_at  TEXT  NOT NULL,
    expires_at  TEXT  NOT NULL,
    ended_at    TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id          TEXT  PRIMARY KEY,
    user_id     TEXT  NOT NULL REFERENCES users (id),
    name        TEXT  NOT NULL,
    secret_hash BYTEA NOT NULL,
    created_at  TEXT  NOT NULL,
    created_by  TEXT  NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE control_runs (
    id          TEXT   PRIMARY KEY,
    trigger     TEXT   NOT NULL,
    actor       TEXT   NOT NULL,
    started_at  TEXT   NOT NULL,
    finished_at TEXT   NOT NULL
);
CREATE INDEX control_runs_started ON control_runs (started_at);

CREATE TABLE control_results (
    run_id       TEXT NOT NULL REFERENCES control_runs (id),
    control_id   TEXT NOT NULL,
    requirement  TEXT NOT NULL,
    status       TEXT NOT NULL,
    summary      TEXT NOT NULL,
    refs         TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, control_id)
);
CREATE INDEX control_results_control ON control_results (control_id, evaluated_at);

CREATE TABLE notification_attempts (
    id         TEXT    PRIMARY KEY,
    message_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    attempt    INTEGER NOT NULL,
    time       TEXT    NOT NULL,
    ok         BOOLEAN NOT NULL,
    error      TEXT    NOT NULL
);
CREATE INDEX notification_attempts_message ON notification_attempts (message_id);
