-- Baselines (CF-1), drift (CF-2) and installed software (CF-4) of hosts.

-- One row per version of a group's baseline: drafts, the approved one,
-- those it superseded. The document is the YAML as written.
CREATE TABLE baselines (
    id          TEXT   PRIMARY KEY, -- group@version
    grp         TEXT   NOT NULL,
    version     BIGINT NOT NULL,
    state       TEXT   NOT NULL,    -- draft, approved, superseded, rejected
    document    TEXT   NOT NULL,
    sha256      TEXT   NOT NULL,
    author      TEXT   NOT NULL,
    created_at  TEXT   NOT NULL,
    decided_by  TEXT   NOT NULL,
    decided_at  TEXT   NOT NULL,
    note        TEXT   NOT NULL
);
{{seal baselines id}}
CREATE UNIQUE INDEX baselines_version ON baselines (grp, version);

-- The newest result of each check on each host.
CREATE TABLE baseline_results (
    host_id     TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    baseline_id TEXT NOT NULL, -- group@version, or "default"
    kind        TEXT NOT NULL,
    pass        BIGINT NOT NULL,
    observed    TEXT NOT NULL, -- JSON object
    detail      TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (host_id, check_id)
);
{{seal baseline_results host_id check_id}}

-- A check that went from passing to failing: approved by a ticket or a
-- violation; closed when it passes again (a new baseline version may
-- accept the new state).
CREATE TABLE drifts (
    id           TEXT PRIMARY KEY,
    host_id      TEXT NOT NULL,
    check_id     TEXT NOT NULL,
    baseline_id  TEXT NOT NULL,
    at           TEXT NOT NULL,
    before_value TEXT NOT NULL, -- JSON object
    after_value  TEXT NOT NULL, -- JSON object
    status       TEXT NOT NULL, -- approved, violation
    ticket_id    TEXT NOT NULL,
    closed_at    TEXT NOT NULL,
    closed_why   TEXT NOT NULL
);
{{seal drifts id}}
CREATE INDEX drifts_host ON drifts (host_id, at);

-- The packages installed on each host, as its newest report listed them.
CREATE TABLE host_packages (
    host_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (host_id, name)
);
{{seal host_packages host_id name}}
