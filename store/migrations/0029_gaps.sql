-- The remaining gaps of hosts part 1 and of governance. Hosts: the
-- least-squares fit's sums kept per series and day at ingest (capacity
-- status reads a row per series and day instead of one per hour), groups
-- set by an admin, the daily capacity record of each host. Governance:
-- the compliance counts of each day.

-- x is the hour within the day (0 … 23), y the hour's average rounded to
-- a whole byte or inode: integers, so a row's sealed content reads the
-- same on both engines. An hour's average that changes with a later
-- report changes sy and sxy by the difference.
CREATE TABLE host_fit_daily (
    host_id  TEXT   NOT NULL,
    k        TEXT   NOT NULL, -- the day, a space and the series
    series   TEXT   NOT NULL,
    day_unix BIGINT NOT NULL,
    n        BIGINT NOT NULL, -- hours with a value
    sx       BIGINT NOT NULL,
    sxx      BIGINT NOT NULL,
    sy       BIGINT NOT NULL,
    sxy      BIGINT NOT NULL,
    total    BIGINT NOT NULL,
    PRIMARY KEY (host_id, k)
);
{{seal host_fit_daily host_id k}}
CREATE INDEX host_fit_daily_day ON host_fit_daily (day_unix, host_id, series, n, sx, sxx, sy, sxy, total);

-- NULL: the agent's --group sets the groups; else the admin who set them.
ALTER TABLE hosts ADD COLUMN groups_set_by TEXT;

-- One row per host and day: its peaks and projections (JSON), written by
-- the daily capacity-record job with one ledger entry whose evidence is
-- every host's record of that day.
CREATE TABLE capacity_days (
    host_id TEXT NOT NULL,
    day     TEXT NOT NULL, -- YYYY-MM-DD, UTC
    data    TEXT NOT NULL,
    PRIMARY KEY (host_id, day)
);
{{seal capacity_days host_id day}}
CREATE INDEX capacity_days_day ON capacity_days (day);

-- Governance: the compliance view's counts of each day (pass, fail, gap,
-- attested, …), recorded once a day, for the trend.
CREATE TABLE compliance_days (
    day    TEXT PRIMARY KEY, -- YYYY-MM-DD, UTC
    counts TEXT NOT NULL     -- JSON: state → requirements
);
{{seal compliance_days day}}
