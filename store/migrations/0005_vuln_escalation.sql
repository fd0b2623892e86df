-- Escalation of breached SLAs (VM-4): when each finding was last escalated.

CREATE TABLE vuln_escalations (
    finding_id TEXT    PRIMARY KEY REFERENCES findings (id),
    first_at   TEXT    NOT NULL,
    last_at    TEXT    NOT NULL,
    count      INTEGER NOT NULL
);
