-- One row per finding: a vulnerability at one place (package, code
-- location) of an asset. Two imports of one asset at once on two replicas
-- could each insert the same finding; imports now take a lock on the
-- asset, and the schema refuses a second row.

-- The duplicates stored before are merged into one of each key, chosen
-- the same way on every database: an open one if any (the one the scans
-- still report), then the first seen, then the smallest id. This table
-- keeps which row went into which, as the ledger entries of the merged
-- rows still name them.
CREATE TABLE finding_merges (
    finding_id  TEXT PRIMARY KEY,
    merged_into TEXT NOT NULL REFERENCES findings (id)
);

INSERT INTO finding_merges (finding_id, merged_into)
SELECT id, keep FROM (
    SELECT id, FIRST_VALUE(id) OVER (PARTITION BY asset_id, vuln_id, package, location
        ORDER BY CASE WHEN status = 'closed' THEN 1 ELSE 0 END, first_seen, id) AS keep
    FROM findings
) d WHERE id <> keep;

-- What the merged rows knew goes to the row kept: their other ids, the
-- tools reporting them (the newest scan's row where both have one), their
-- requests and their escalations.
INSERT INTO finding_ids (finding_id, vuln_id)
SELECT DISTINCT m.merged_into, i.vuln_id FROM finding_ids i JOIN finding_merges m ON m.finding_id = i.finding_id
WHERE true
ON CONFLICT DO NOTHING;

INSERT INTO finding_tools (finding_id, tool, scan_id)
SELECT m.merged_into, t.tool, MIN(t.scan_id) FROM finding_tools t JOIN finding_merges m ON m.finding_id = t.finding_id
WHERE NOT EXISTS (SELECT 1 FROM finding_tools k WHERE k.finding_id = m.merged_into AND k.tool = t.tool)
GROUP BY m.merged_into, t.tool;

UPDATE finding_tools SET scan_id = (
    SELECT o.scan_id FROM finding_tools o JOIN scans s ON s.id = o.scan_id
    WHERE o.tool = finding_tools.tool AND (o.finding_id = finding_tools.finding_id
        OR o.finding_id IN (SELECT finding_id FROM finding_merges WHERE merged_into = finding_tools.finding_id))
    ORDER BY s.imported_at DESC, s.id DESC LIMIT 1)
WHERE finding_id IN (SELECT merged_into FROM finding_merges);

UPDATE vuln_requests SET finding_id = (SELECT merged_into FROM finding_merges WHERE finding_merges.finding_id = vuln_requests.finding_id)
WHERE finding_id IN (SELECT finding_id FROM finding_merges);

INSERT INTO vuln_escalations (finding_id, first_at, last_at, count)
SELECT m.merged_into, MIN(e.first_at), MAX(e.last_at), SUM(e.count) FROM vuln_escalations e JOIN finding_merges m ON m.finding_id = e.finding_id
WHERE true
GROUP BY m.merged_into
ON CONFLICT (finding_id) DO UPDATE SET first_at = CASE WHEN excluded.first_at < vuln_escalations.first_at THEN excluded.first_at ELSE vuln_escalations.first_at END,
    last_at = CASE WHEN excluded.last_at > vuln_escalations.last_at THEN excluded.last_at ELSE vuln_escalations.last_at END,
    count = vuln_escalations.count + excluded.count;

DELETE FROM finding_ids WHERE finding_id IN (SELECT finding_id FROM finding_merges);
DELETE FROM finding_tools WHERE finding_id IN (SELECT finding_id FROM finding_merges);
DELETE FROM vuln_escalations WHERE finding_id IN (SELECT finding_id FROM finding_merges);
DELETE FROM findings WHERE id IN (SELECT finding_id FROM finding_merges);

-- A key's texts may be long (a code location): PostgreSQL indexes their
-- digest, as its index entries are bounded; SQLite's are not.
CREATE UNIQUE INDEX findings_key ON findings {{finding_key}};
