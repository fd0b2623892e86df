-- Placeholder for the migration number 0012 reserved for another branch,
-- so that 0013 applies on this one. Drop this file when merging that branch.
SELECT 1;
