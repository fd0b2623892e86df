-- Threat intelligence that raises a finding's risk (VM-6, VM-8): CISA's
-- Known Exploited Vulnerabilities and FIRST's EPSS scores, per CVE.

CREATE TABLE vuln_intel (
    cve        TEXT PRIMARY KEY,
    kev_added  TEXT NOT NULL,
    epss       REAL NOT NULL,
    percentile REAL NOT NULL,
    updated_at TEXT NOT NULL
);

-- An approved extension's due date, which a later risk change keeps.
ALTER TABLE findings ADD COLUMN extended_until TEXT;
