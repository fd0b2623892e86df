-- Auth hardening: a password an administrator reset is a one-time value
-- that the user must change at the next sign-in; failed sign-ins are
-- counted in the database, so that every replica shares the counts and a
-- restart does not forget them.

ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;

-- One row per throttled key ("pair:<user> <addr>", "user:<user>",
-- "addr:<addr>", "rejected:<addr>"): the failures counted in the window
-- that started at window_start, and the first refusal of that window.
-- Rows whose window has passed are swept on the next failure.
CREATE TABLE sign_in_failures (
    key          TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start TEXT    NOT NULL,
    refused_at   TEXT
);
CREATE INDEX sign_in_failures_window ON sign_in_failures (window_start);
