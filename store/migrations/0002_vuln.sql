-- Vulnerability register: assets, scans, findings (VM-1 … VM-8).

CREATE TABLE assets (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE scans (
    id           TEXT    PRIMARY KEY,
    asset_id     TEXT    NOT NULL REFERENCES assets (id),
    format       TEXT    NOT NULL,
    tool         TEXT    NOT NULL,
    tool_version TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    complete     BOOLEAN NOT NULL,
    evidence     TEXT    NOT NULL,
    findings     INTEGER NOT NULL,
    imported_at  TEXT    NOT NULL,
    imported_by  TEXT    NOT NULL
);
CREATE INDEX scans_asset_tool ON scans (asset_id, tool, imported_at);

CREATE TABLE findings (
    id             TEXT    PRIMARY KEY,
    asset_id       TEXT    NOT NULL REFERENCES assets (id),
    vuln_id        TEXT    NOT NULL,
    aliases        TEXT    NOT NULL,
    package        TEXT    NOT NULL,
    version        TEXT    NOT NULL,
    fixed_version  TEXT    NOT NULL,
    location       TEXT    NOT NULL,
    target         TEXT    NOT NULL,
    title          TEXT    NOT NULL,
    description    TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    severity_note  TEXT    NOT NULL,
    cvss_score     REAL    NOT NULL,
    cvss_vector    TEXT    NOT NULL,
    risk           TEXT    NOT NULL,
    risk_note      TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    resolution     TEXT    NOT NULL,
    first_seen     TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL,
    sla_days       INTEGER NOT NULL,
    due_at         TEXT    NOT NULL,
    closed_at      TEXT,
    fixed_by_scan  TEXT    NOT NULL,
    regression     BOOLEAN NOT NULL
);
CREATE INDEX findings_asset ON findings (asset_id, status);
CREATE INDEX findings_register ON findings (status, due_at, id);
CREATE INDEX findings_severity ON findings (severity, status);

-- Every identifier of a finding's vulnerability (its id and aliases), so
-- that a CVE, a GHSA and a GO- id of one vulnerability meet in one finding.
CREATE TABLE finding_ids (
    finding_id TEXT NOT NULL REFERENCES findings (id),
    vuln_id    TEXT NOT NULL,
    PRIMARY KEY (finding_id, vuln_id)
);
CREATE INDEX finding_ids_vuln ON finding_ids (vuln_id);

-- Which tools' latest scans of the asset report the finding: a complete
-- scan that no longer does removes its row; a finding with no row left is
-- fixed, verified by that scan.
CREATE TABLE finding_tools (
    finding_id TEXT NOT NULL REFERENCES findings (id),
    tool       TEXT NOT NULL,
    scan_id    TEXT NOT NULL REFERENCES scans (id),
    PRIMARY KEY (finding_id, tool)
);
CREATE INDEX finding_tools_scan ON finding_tools (scan_id);
