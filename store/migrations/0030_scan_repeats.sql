-- A report imported again byte for byte (a nightly CI scan) no longer
-- moves the tool rows of its findings to the new scan: the new scan names
-- the scan those rows point at (repeats), and that scan keeps when it was
-- last seen (seen_at), which is the findings' last_seen. So a repeat
-- rewrites, and seals, two scan rows instead of one row per finding.
-- Both columns are NULL on earlier scans, which leaves their sealed
-- content as it was.
ALTER TABLE scans ADD COLUMN repeats TEXT;
ALTER TABLE scans ADD COLUMN seen_at TEXT;
