-- The register's default order (soonest due first) without a sort of
-- every finding.
CREATE INDEX findings_due ON findings (due_at, id);
