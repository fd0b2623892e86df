-- A vulnerability's title and description repeat for every package, target
-- and asset it affects, and are most of a finding's row: they are stored
-- once, under the SHA-256 of both, so that a register of a million findings
-- holds each advisory's text once and an import of a hundred thousand
-- writes a third of the bytes.
CREATE TABLE vuln_texts (
    hash        TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT NOT NULL
);

-- The findings stored before keep their texts in their own row
-- (text_hash '').
ALTER TABLE findings ADD COLUMN text_hash TEXT NOT NULL DEFAULT '';
