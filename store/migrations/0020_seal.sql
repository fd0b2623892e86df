-- Sealed state: every row a control, a page or an export reads carries the
-- sequence number of the ledger entry that last sealed it (seal_seq) and
-- the SHA-256 of its canonical content (seal_hash); that entry records the
-- same hash. {{seal TABLE KEY [KEY2]}} (store/seal.go) adds the two columns
-- and the triggers that list every changed row in seal_pending, which the
-- ledger's appender empties by sealing them and a commit refuses to leave
-- behind. A table that already holds rows is listed in seal_upgrade: the
-- first start after this migration seals them with one ledger.sealed entry
-- per table.

-- xid: the PostgreSQL transaction that listed the row (0 in SQLite,
-- which has one writer at a time).
CREATE TABLE seal_pending (
    xid BIGINT NOT NULL DEFAULT 0,
    tbl TEXT   NOT NULL,
    k1  TEXT   NOT NULL,
    k2  TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (xid, tbl, k1, k2)
);

CREATE TABLE seal_upgrade (
    tbl TEXT PRIMARY KEY
);

{{seal users id}}
{{seal api_tokens id}}
{{seal control_runs id}}
{{seal control_results run_id control_id}}
{{seal assets id}}
{{seal scans id}}
{{seal findings id}}
{{seal finding_ids finding_id vuln_id}}
{{seal finding_tools finding_id tool}}
{{seal finding_merges finding_id}}
{{seal vuln_texts hash}}
{{seal vuln_requests id}}
{{seal vuln_intel cve}}
{{seal vuln_escalations finding_id}}
{{seal repositories id}}
{{seal repository_heads repo_id branch}}
{{seal changes id}}
{{seal change_reviews id}}
{{seal repository_violations id}}
{{seal change_tickets id}}
