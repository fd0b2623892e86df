-- Hosts (CP-1 … CP-3, CF-3, CF-5): the machines whose agents report facts,
-- the environments each reported into, the facts as time series (every
-- report for capacity.raw_window, hourly aggregates after) and the state
-- of each capacity alert. Numbers are integers (percentages and loads in
-- hundredths), so that a row's sealed content reads the same on both
-- engines.

CREATE TABLE hosts (
    id             TEXT   PRIMARY KEY, -- the agent's host ID
    name           TEXT   NOT NULL,
    environment    TEXT   NOT NULL,
    env_set_by     TEXT   NOT NULL,    -- agent, or the admin who set it
    host_groups    TEXT   NOT NULL,    -- JSON list
    address        TEXT   NOT NULL,    -- of the newest report
    token_id       TEXT   NOT NULL,    -- of the newest report
    first_seen     TEXT   NOT NULL,
    last_seen      TEXT   NOT NULL,    -- collected_at of the newest report
    last_seen_unix BIGINT NOT NULL,
    received_at    TEXT   NOT NULL,
    facts          TEXT   NOT NULL     -- JSON: the newest report
);
{{seal hosts id}}
CREATE INDEX hosts_name ON hosts (name);

CREATE TABLE host_environments (
    host_id     TEXT NOT NULL,
    environment TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    PRIMARY KEY (host_id, environment)
);
{{seal host_environments host_id environment}}

-- One row per report, kept for capacity.raw_window.
CREATE TABLE host_samples (
    host_id TEXT   NOT NULL,
    at      TEXT   NOT NULL,
    at_unix BIGINT NOT NULL,
    points  TEXT   NOT NULL, -- JSON list of {series, value, total}
    PRIMARY KEY (host_id, at)
);
{{seal host_samples host_id at}}
CREATE INDEX host_samples_time ON host_samples (at_unix);

-- Hourly aggregates of each series (k: the hour, a space and the series),
-- added to at ingest: the least-squares fit reads these.
CREATE TABLE host_hourly (
    host_id   TEXT   NOT NULL,
    k         TEXT   NOT NULL,
    series    TEXT   NOT NULL,
    kind      TEXT   NOT NULL, -- cpu, memory, load1, disk, inodes
    hour_unix BIGINT NOT NULL,
    n         BIGINT NOT NULL,
    sum_value BIGINT NOT NULL,
    max_value BIGINT NOT NULL,
    total     BIGINT NOT NULL,
    PRIMARY KEY (host_id, k)
);
{{seal host_hourly host_id k}}
-- Covers the fit: one range scan of the window, no row read.
CREATE INDEX host_hourly_fit ON host_hourly (kind, hour_unix, host_id, series, n, sum_value, total);
CREATE INDEX host_hourly_series ON host_hourly (host_id, series, hour_unix);

CREATE TABLE capacity_alerts (
    k       TEXT NOT NULL PRIMARY KEY, -- host|metric|level
    host_id TEXT NOT NULL,
    state   TEXT NOT NULL,             -- pending, firing, clearing, ok
    data    TEXT NOT NULL              -- JSON: the whole state
);
{{seal capacity_alerts k}}
