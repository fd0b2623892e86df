package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/policy"
)

// The queries of the governance register. *Tx implements policy.Tx.

var _ policy.Tx = (*Tx)(nil)

// InsertPolicyDocument stores a new document.
func (tx *Tx) InsertPolicyDocument(ctx context.Context, d policy.Document) error {
	_, err := tx.exec(ctx, `INSERT INTO policy_documents (id, title, builtin, created_by, created_at, review_flag, review_flagged_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Title, d.Builtin, d.CreatedBy, ts(d.CreatedAt), d.ReviewFlag, nullTS(d.ReviewFlaggedAt))
	return err
}

// UpdatePolicyDocument stores a document's review flag.
func (tx *Tx) UpdatePolicyDocument(ctx context.Context, d policy.Document) error {
	return tx.updateOne(ctx, "policy document "+d.ID, "UPDATE policy_documents SET review_flag = ?, review_flagged_at = ? WHERE id = ?",
		d.ReviewFlag, nullTS(d.ReviewFlaggedAt), d.ID)
}

const policyDocColumns = "id, title, builtin, created_by, created_at, review_flag, review_flagged_at"

func scanPolicyDocument(sc row) (policy.Document, error) {
	var d policy.Document
	var created string
	var flagged sql.NullString
	if err := sc.Scan(&d.ID, &d.Title, &d.Builtin, &d.CreatedBy, &created, &d.ReviewFlag, &flagged); err != nil {
		return d, err
	}
	var err error
	if d.CreatedAt, err = parseTS(created); err != nil {
		return d, err
	}
	d.ReviewFlaggedAt, err = parseNullTS(flagged)
	return d, err
}

// PolicyDocument returns one document.
func (tx *Tx) PolicyDocument(ctx context.Context, id string) (policy.Document, error) {
	d, err := scanPolicyDocument(tx.queryRow(ctx, "SELECT "+policyDocColumns+" FROM policy_documents WHERE id = ?", id))
	return d, notFound(err, "policy document "+id)
}

// PolicyDocuments returns every document, by id.
func (tx *Tx) PolicyDocuments(ctx context.Context) ([]policy.Document, error) {
	return queryAll(ctx, tx, scanPolicyDocument, "SELECT "+policyDocColumns+" FROM policy_documents ORDER BY id")
}

const policyVersionColumns = `id, document_id, number, state, classification, source, text, sha256, fingerprint, numbers, summary, author,
	created_at, submitted_at, decided_by, decided_at, decision_note, published_by, published_at`

// InsertPolicyVersion stores a new version.
func (tx *Tx) InsertPolicyVersion(ctx context.Context, v policy.Version) error {
	nums, err := json.Marshal(v.Numbers)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO policy_versions ("+policyVersionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.DocumentID, v.Number, v.State, v.Classification, v.Source, v.Text, v.SHA256, v.Fingerprint, string(nums), v.Summary, v.Author,
		ts(v.CreatedAt), nullTS(v.SubmittedAt), v.DecidedBy, nullTS(v.DecidedAt), v.Note, v.PublishedBy, nullTS(v.PublishedAt))
	return err
}

// UpdatePolicyVersion stores a version's state and decisions. Its text,
// source, classification and summary change only while it is a draft: the
// statement says so itself, so no caller can rewrite an approved text.
func (tx *Tx) UpdatePolicyVersion(ctx context.Context, v policy.Version) error {
	if err := tx.updateOne(ctx, "policy version "+v.ID, `UPDATE policy_versions SET state = ?, submitted_at = ?, decided_by = ?, decided_at = ?,
		decision_note = ?, published_by = ?, published_at = ? WHERE id = ?`,
		v.State, nullTS(v.SubmittedAt), v.DecidedBy, nullTS(v.DecidedAt), v.Note, v.PublishedBy, nullTS(v.PublishedAt), v.ID); err != nil {
		return err
	}
	_, err := tx.exec(ctx, `UPDATE policy_versions SET text = ?, sha256 = ?, source = ?, classification = ?, summary = ?
		WHERE id = ? AND state = 'draft'`, v.Text, v.SHA256, v.Source, v.Classification, v.Summary, v.ID)
	return err
}

func scanPolicyVersion(sc row) (policy.Version, error) {
	var v policy.Version
	var nums, created string
	var submitted, decided, published sql.NullString
	err := sc.Scan(&v.ID, &v.DocumentID, &v.Number, &v.State, &v.Classification, &v.Source, &v.Text, &v.SHA256, &v.Fingerprint, &nums, &v.Summary, &v.Author,
		&created, &submitted, &v.DecidedBy, &decided, &v.Note, &v.PublishedBy, &published)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal([]byte(nums), &v.Numbers); err != nil {
		return v, fmt.Errorf("policy version %s numbers: %w", v.ID, err)
	}
	if v.CreatedAt, err = parseTS(created); err != nil {
		return v, err
	}
	for _, p := range []struct {
		dst **time.Time
		src sql.NullString
	}{{&v.SubmittedAt, submitted}, {&v.DecidedAt, decided}, {&v.PublishedAt, published}} {
		if *p.dst, err = parseNullTS(p.src); err != nil {
			return v, err
		}
	}
	return v, nil
}

// PolicyVersions returns a document's versions, newest first.
func (tx *Tx) PolicyVersions(ctx context.Context, documentID string) ([]policy.Version, error) {
	return queryAll(ctx, tx, scanPolicyVersion, "SELECT "+policyVersionColumns+" FROM policy_versions WHERE document_id = ? ORDER BY number DESC", documentID)
}

const attestationColumns = "id, requirement, statement, evidence, attested_by, attested_at, valid_until, state, reviewed_by, reviewed_at, review_note"

// InsertAttestation stores a new attestation.
func (tx *Tx) InsertAttestation(ctx context.Context, a policy.Attestation) error {
	ev, err := json.Marshal(a.Evidence)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO attestations ("+attestationColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		a.ID, a.Requirement, a.Statement, string(ev), a.AttestedBy, ts(a.AttestedAt), ts(a.ValidUntil), a.State, a.ReviewedBy, nullTS(a.ReviewedAt), a.ReviewNote)
	return err
}

// UpdateAttestation stores an attestation's review.
func (tx *Tx) UpdateAttestation(ctx context.Context, a policy.Attestation) error {
	return tx.updateOne(ctx, "attestation "+a.ID, "UPDATE attestations SET state = ?, reviewed_by = ?, reviewed_at = ?, review_note = ? WHERE id = ?",
		a.State, a.ReviewedBy, nullTS(a.ReviewedAt), a.ReviewNote, a.ID)
}

func scanAttestation(sc row) (policy.Attestation, error) {
	var a policy.Attestation
	var ev, at, until string
	var reviewed sql.NullString
	if err := sc.Scan(&a.ID, &a.Requirement, &a.Statement, &ev, &a.AttestedBy, &at, &until, &a.State, &a.ReviewedBy, &reviewed, &a.ReviewNote); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(ev), &a.Evidence); err != nil {
		return a, fmt.Errorf("attestation %s evidence: %w", a.ID, err)
	}
	var err error
	if a.AttestedAt, err = parseTS(at); err != nil {
		return a, err
	}
	if a.ValidUntil, err = parseTS(until); err != nil {
		return a, err
	}
	a.ReviewedAt, err = parseNullTS(reviewed)
	return a, err
}

// AttestationByID returns one attestation.
func (tx *Tx) AttestationByID(ctx context.Context, id string) (policy.Attestation, error) {
	a, err := scanAttestation(tx.queryRow(ctx, "SELECT "+attestationColumns+" FROM attestations WHERE id = ?", id))
	return a, notFound(err, "attestation "+id)
}

// Attestations returns the attestations of a requirement ("" for all),
// newest first.
func (tx *Tx) Attestations(ctx context.Context, requirement string) ([]policy.Attestation, error) {
	if requirement == "" {
		return queryAll(ctx, tx, scanAttestation, "SELECT "+attestationColumns+" FROM attestations ORDER BY attested_at DESC, id DESC")
	}
	return queryAll(ctx, tx, scanAttestation, "SELECT "+attestationColumns+" FROM attestations WHERE requirement = ? ORDER BY attested_at DESC, id DESC", requirement)
}

// PolicyNoticeSent records that a review notice was sent; false when it
// already was.
func (tx *Tx) PolicyNoticeSent(ctx context.Context, documentID, kind string, due time.Time) (bool, error) {
	res, err := tx.exec(ctx, "INSERT INTO policy_notices (document_id, kind, due) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", documentID, kind, ts(due))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// InsertPolicyAck stores an acknowledgement.
func (tx *Tx) InsertPolicyAck(ctx context.Context, a policy.Ack) error {
	_, err := tx.exec(ctx, "INSERT INTO policy_acks (version_id, username, document_id, acked_at) VALUES (?, ?, ?, ?)",
		a.VersionID, a.Username, a.DocumentID, ts(a.AckedAt))
	return err
}

// PolicyAcks returns the acknowledgements of a version, oldest first.
func (tx *Tx) PolicyAcks(ctx context.Context, versionID string) ([]policy.Ack, error) {
	return queryAll(ctx, tx, func(sc row) (policy.Ack, error) {
		var a policy.Ack
		var at string
		if err := sc.Scan(&a.VersionID, &a.Username, &a.DocumentID, &at); err != nil {
			return a, err
		}
		var err error
		a.AckedAt, err = parseTS(at)
		return a, err
	}, "SELECT version_id, username, document_id, acked_at FROM policy_acks WHERE version_id = ? ORDER BY acked_at, username", versionID)
}

// PutComplianceDay stores a day's counts; false when the day has them.
func (tx *Tx) PutComplianceDay(ctx context.Context, d policy.DayCounts) (bool, error) {
	counts, err := json.Marshal(d.Counts)
	if err != nil {
		return false, err
	}
	res, err := tx.exec(ctx, "INSERT INTO compliance_days (day, counts) VALUES (?, ?) ON CONFLICT (day) DO NOTHING", d.Day, string(counts))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ComplianceDays returns the recorded days from since on, oldest first.
func (tx *Tx) ComplianceDays(ctx context.Context, since string) ([]policy.DayCounts, error) {
	return queryAll(ctx, tx, func(r row) (policy.DayCounts, error) {
		var d policy.DayCounts
		var counts string
		if err := r.Scan(&d.Day, &counts); err != nil {
			return d, err
		}
		return d, json.Unmarshal([]byte(counts), &d.Counts)
	}, "SELECT day, counts FROM compliance_days WHERE day >= ? ORDER BY day", since)
}
