-- A title or description longer than vuln.max_text_bytes is stored cut,
-- and marked so: the page and the API say that the report (kept whole as
-- evidence) holds more. The flags are part of the text's hash, so that a
-- cut text and a whole one that happen to read the same stay two.
ALTER TABLE vuln_texts ADD COLUMN title_cut BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE vuln_texts ADD COLUMN description_cut BOOLEAN NOT NULL DEFAULT FALSE;
