-- Security events (LG-1) kept for logging.retention_days (LG-2). A batch
-- is what one agent post or one syslog connection's flush brought; its
-- row keeps the SHA-256 of its events after retention deleted them, so
-- the ledger entry that recorded the hash still has its row to prove.
-- An event's time is kept as microseconds since 1970 (at_us), to order
-- and bound on both engines alike. An event's id is its batch's id, a dot
-- and its place in the batch, so a batch's events are one range of the
-- primary key (retention deletes by it, with no column or index of its own).

CREATE TABLE event_batches (
    id          TEXT   PRIMARY KEY,
    host_id     TEXT   NOT NULL,
    source      TEXT   NOT NULL, -- agent | syslog
    actor       TEXT   NOT NULL,
    received_at TEXT   NOT NULL,
    received_us BIGINT NOT NULL,
    events      BIGINT NOT NULL,
    malformed   BIGINT NOT NULL,
    first_at    TEXT   NOT NULL, -- '' for a batch of no events
    last_us     BIGINT NOT NULL, -- newest event, or the receipt
    sha256      TEXT   NOT NULL,
    pruned_at   TEXT,            -- when retention deleted its events
    kept_us     BIGINT           -- newest event to pruning
);
{{seal event_batches id}}
CREATE INDEX event_batches_host ON event_batches (host_id, received_us);
CREATE INDEX event_batches_expiry ON event_batches (last_us);

CREATE TABLE events (
    id        TEXT   PRIMARY KEY,
    host      TEXT   NOT NULL,
    at_us     BIGINT NOT NULL,
    kind      TEXT   NOT NULL,
    user_name TEXT   NOT NULL,
    address   TEXT   NOT NULL,
    program   TEXT   NOT NULL,
    message   TEXT   NOT NULL
);
{{seal events id}}
CREATE INDEX events_time ON events (at_us);
CREATE INDEX events_host ON events (host, at_us);
CREATE INDEX events_kind_address ON events (kind, address, at_us);
CREATE INDEX events_user ON events (user_name, at_us);

-- The state of each alert pattern per key (a burst of failed sign-ins
-- from one address), so that a burst raises one alert.
CREATE TABLE event_alerts (
    k        TEXT   PRIMARY KEY, -- rule|key
    rule     TEXT   NOT NULL,
    key_text TEXT   NOT NULL,
    first_at TEXT   NOT NULL,
    last_at  TEXT   NOT NULL,
    count    BIGINT NOT NULL
);
{{seal event_alerts k}}
