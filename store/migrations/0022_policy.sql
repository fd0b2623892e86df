-- Governance (policy/): documents, their versions and approvals (GV-1,
-- GV-2, GV-5), attestations of what no collector proves. A version's text
-- is fixed once approved: the service never rewrites it and the seal of
-- its row makes an edit in the database visible to ledger verify.

CREATE TABLE policy_documents (
    id                TEXT PRIMARY KEY,
    title             TEXT NOT NULL,
    builtin           BOOLEAN NOT NULL,
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    review_flag       TEXT NOT NULL,
    review_flagged_at TEXT
);
{{seal policy_documents id}}

CREATE TABLE policy_versions (
    id             TEXT PRIMARY KEY,
    document_id    TEXT NOT NULL REFERENCES policy_documents (id),
    number         INTEGER NOT NULL,
    state          TEXT NOT NULL, -- draft | submitted | approved | rejected | published | superseded
    classification TEXT NOT NULL,
    source         TEXT NOT NULL,
    text           TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    numbers        TEXT NOT NULL, -- JSON of the config numbers written from
    summary        TEXT NOT NULL,
    author         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    submitted_at   TEXT,
    decided_by     TEXT NOT NULL,
    decided_at     TEXT,
    decision_note  TEXT NOT NULL,
    published_by   TEXT NOT NULL,
    published_at   TEXT
);
{{seal policy_versions id}}
-- Not unique: the numbering is the service's, under the ledger's lock.
CREATE INDEX policy_versions_document ON policy_versions (document_id, number);

CREATE TABLE attestations (
    id          TEXT PRIMARY KEY,
    requirement TEXT NOT NULL,
    statement   TEXT NOT NULL,
    evidence    TEXT NOT NULL, -- JSON: [{name, sha256, size}], the blobs in evidence_blobs
    attested_by TEXT NOT NULL,
    attested_at TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    state       TEXT NOT NULL, -- pending | accepted | rejected
    reviewed_by TEXT NOT NULL,
    reviewed_at TEXT,
    review_note TEXT NOT NULL
);
{{seal attestations id}}
CREATE INDEX attestations_requirement ON attestations (requirement, attested_at);

-- Which review notices were sent, so each goes once per review date:
-- operational state, like the outbox (the notice itself is ledgered).
CREATE TABLE policy_notices (
    document_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    due         TEXT NOT NULL,
    PRIMARY KEY (document_id, kind, due)
);

-- Acknowledgements: a user read a published version.
CREATE TABLE policy_acks (
    version_id  TEXT NOT NULL REFERENCES policy_versions (id),
    username    TEXT NOT NULL,
    document_id TEXT NOT NULL,
    acked_at    TEXT NOT NULL,
    PRIMARY KEY (version_id, username)
);
{{seal policy_acks version_id username}}
