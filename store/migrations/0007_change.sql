-- Change management (CM-1 … CM-8): watched repositories, the changes that
-- reached their protected branches, post-facto reviews, exceptions, and the
-- change tickets of non-code changes.

CREATE TABLE repositories (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    url               TEXT NOT NULL,
    branches          TEXT NOT NULL, -- JSON list of protected branches
    source            TEXT NOT NULL, -- git | github | gitlab
    project           TEXT NOT NULL, -- owner/name on GitHub, the project path on GitLab
    api_url           TEXT NOT NULL,
    token_file        TEXT NOT NULL,
    bots              TEXT NOT NULL, -- JSON list of allowed bots
    required_checks   TEXT NOT NULL, -- JSON list of check names
    emergency_trailer TEXT NOT NULL,
    emergency_label   TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    synced_at         TEXT,
    sync_error        TEXT NOT NULL,
    shallow           BOOLEAN NOT NULL
);

-- The newest commit of each protected branch whose first-parent history has
-- been verified: the next sync reads only what came after it.
CREATE TABLE repository_heads (
    repo_id     TEXT NOT NULL REFERENCES repositories (id),
    branch      TEXT NOT NULL,
    head        TEXT NOT NULL,
    verified_at TEXT NOT NULL,
    changes     INTEGER NOT NULL,
    PRIMARY KEY (repo_id, branch)
);

CREATE TABLE changes (
    id               TEXT    PRIMARY KEY,
    repo_id          TEXT    NOT NULL REFERENCES repositories (id),
    branch           TEXT    NOT NULL,
    sha              TEXT    NOT NULL,
    parents          TEXT    NOT NULL, -- space-separated
    kind             TEXT    NOT NULL, -- merge | squash | gerrit | direct
    pr               INTEGER NOT NULL,
    pr_url           TEXT    NOT NULL,
    pr_author        TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    author           TEXT    NOT NULL,
    author_email     TEXT    NOT NULL,
    committer        TEXT    NOT NULL,
    committer_email  TEXT    NOT NULL,
    authored_at      TEXT    NOT NULL,
    committed_at     TEXT    NOT NULL,
    merged_by        TEXT    NOT NULL,
    approvers        TEXT    NOT NULL, -- JSON
    checks           TEXT    NOT NULL, -- JSON
    labels           TEXT    NOT NULL, -- JSON
    emergency        BOOLEAN NOT NULL,
    emergency_reason TEXT    NOT NULL,
    review_due_at    TEXT,
    reverts          TEXT    NOT NULL, -- the sha this change reverts
    reverted_by      TEXT    NOT NULL,
    violations       TEXT    NOT NULL, -- JSON list of {rule, message}
    verdict          TEXT    NOT NULL, -- pass | fail | emergency | exception
    reviewed_by      TEXT    NOT NULL,
    reviewed_at      TEXT,
    exception_by     TEXT    NOT NULL,
    exception_at     TEXT,
    exception_reason TEXT    NOT NULL,
    recorded_at      TEXT    NOT NULL,
    UNIQUE (repo_id, branch, sha)
);
CREATE INDEX changes_list ON changes (repo_id, verdict, id);
CREATE INDEX changes_verdict ON changes (verdict, id);
CREATE INDEX changes_sha ON changes (sha);

-- Post-facto reviews (CM-7) and the reviewer's checklist (CM-6).
CREATE TABLE change_reviews (
    id          TEXT NOT NULL PRIMARY KEY,
    change_id   TEXT NOT NULL REFERENCES changes (id),
    reviewer    TEXT NOT NULL,
    checklist   TEXT NOT NULL, -- JSON
    comment     TEXT NOT NULL,
    reviewed_at TEXT NOT NULL,
    late        BOOLEAN NOT NULL
);
CREATE INDEX change_reviews_change ON change_reviews (change_id);

-- Violations of a repository rather than of one change: rewritten history
-- (CM-1).
CREATE TABLE repository_violations (
    id               TEXT PRIMARY KEY,
    repo_id          TEXT NOT NULL REFERENCES repositories (id),
    branch           TEXT NOT NULL,
    rule             TEXT NOT NULL,
    message          TEXT NOT NULL,
    old_head         TEXT NOT NULL,
    new_head         TEXT NOT NULL,
    detected_at      TEXT NOT NULL,
    exception_by     TEXT NOT NULL,
    exception_at     TEXT,
    exception_reason TEXT NOT NULL
);
CREATE INDEX repository_violations_repo ON repository_violations (repo_id);

-- Change tickets (CM-5) for infrastructure, network and configuration
-- changes outside git.
CREATE TABLE change_tickets (
    id             TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    category       TEXT NOT NULL, -- infrastructure | network | configuration
    owner          TEXT NOT NULL,
    approver       TEXT NOT NULL,
    impact         TEXT NOT NULL,
    risk           TEXT NOT NULL, -- low | medium | high
    rollback       TEXT NOT NULL,
    window_start   TEXT,
    window_end     TEXT,
    state          TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    submitted_at   TEXT,
    decided_by     TEXT NOT NULL,
    decided_at     TEXT,
    decision_note  TEXT NOT NULL,
    implemented_by TEXT NOT NULL,
    implemented_at TEXT,
    closed_by      TEXT NOT NULL,
    closed_at      TEXT,
    outcome_note   TEXT NOT NULL
);
CREATE INDEX change_tickets_state ON change_tickets (state, id);
