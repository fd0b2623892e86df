-- Runs of the scheduled jobs (package jobs): when each started and ended,
-- on which replica, and how it went. An operational record, like a log:
-- not sealed and not ledgered (each job ledgers what it changes), and
-- bounded, since the scheduler keeps only the newest runs of each job.
CREATE TABLE job_runs (
    id         TEXT PRIMARY KEY,
    job        TEXT NOT NULL,
    host       TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at   TEXT,
    outcome    TEXT NOT NULL,
    error      TEXT NOT NULL
);
CREATE INDEX job_runs_job ON job_runs (job, started_at);
