-- Large imports, continued (0008 stores evidence compressed).

-- finding_ids holds a finding's other identifiers (its aliases) only: its
-- own vuln_id is in findings, and repeating it cost an import one row and
-- three B-tree inserts per finding.
DELETE FROM finding_ids WHERE vuln_id = (SELECT f.vuln_id FROM findings f WHERE f.id = finding_ids.finding_id);

-- A report imported again byte for byte is found by its evidence, and needs
-- the number of VEX statements it held (-1: imported before they were
-- counted, so such a scan is never taken for a repeat).
ALTER TABLE scans ADD COLUMN statements INTEGER NOT NULL DEFAULT -1;
CREATE INDEX scans_evidence ON scans (evidence);
