-- Resolution workflow of the register (VM-4, VM-5): risk acceptances and
-- SLA extensions are requests that a security officer other than the
-- requester approves.

ALTER TABLE findings ADD COLUMN justification TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN accepted_until TEXT;

CREATE TABLE vuln_requests (
    id            TEXT PRIMARY KEY,
    finding_id    TEXT NOT NULL REFERENCES findings (id),
    kind          TEXT NOT NULL,
    justification TEXT NOT NULL,
    until         TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    status        TEXT NOT NULL,
    decided_by    TEXT NOT NULL,
    decided_at    TEXT,
    decision_note TEXT NOT NULL
);
CREATE INDEX vuln_requests_status ON vuln_requests (status, requested_at);
CREATE INDEX vuln_requests_finding ON vuln_requests (finding_id);
