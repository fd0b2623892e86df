-- The notification outbox: one row per message and channel, written in the
-- transaction of the event it tells of, claimed and sent by the dispatcher,
-- retried across restarts until sent or dead.
CREATE TABLE outbox (
    id              TEXT    PRIMARY KEY,
    message_id      TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    summary         TEXT    NOT NULL,
    time            TEXT    NOT NULL,
    data            TEXT    NOT NULL,
    recipients      TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    created_at      TEXT    NOT NULL,
    next_attempt_at TEXT    NOT NULL,
    claimed_until   TEXT,
    done_at         TEXT,
    last_error      TEXT    NOT NULL,
    UNIQUE (message_id, channel)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_created ON outbox (created_at);
