-- Large imports (vulnerability reports of hundreds of megabytes).

-- Evidence may be stored compressed: encoding names the codec of content
-- ('' for the raw bytes, 'zstd'). sha256 and size_bytes stay those of the
-- raw bytes, so the ledger's references and checks are unchanged.
ALTER TABLE evidence_blobs ADD COLUMN encoding TEXT NOT NULL DEFAULT '';
