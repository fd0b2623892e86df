// Package policy holds the governance documents (the Operations Security
// Policy and Procedure, and any a company adds), their versions, approvals
// and reviews (GV-1, GV-2, GV-5), and the attestations by which people
// vouch, with evidence, for what no collector can prove (CM-9, CM-10,
// VM-8). The built-in documents are written from the process config, so
// the text and the enforced numbers cannot disagree.
package policy

import (
	"context"
	"time"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
)

// Document is one governed document.
type Document struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Builtin   bool      `json:"builtin"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// ReviewFlag says why the document needs a review before its date (a
	// significant change); "" when none.
	ReviewFlag      string     `json:"review_flag,omitempty"`
	ReviewFlaggedAt *time.Time `json:"review_flagged_at,omitempty"`
}

// The states of a version: draft → submitted → approved | rejected;
// approved → published → superseded (by the next published version).
const (
	Draft      = "draft"
	Submitted  = "submitted"
	Approved   = "approved"
	Rejected   = "rejected"
	Published  = "published"
	Superseded = "superseded"
)

// Version is one version of a document. Its Text is fixed from approval
// on: a change is a new version.
type Version struct {
	ID             string `json:"id"`
	DocumentID     string `json:"document_id"`
	Number         int    `json:"number"`
	State          string `json:"state"`
	Classification string `json:"classification"`
	// Source is the Markdown template of a company's own document; empty
	// for a built-in one, whose template is embedded.
	Source      string     `json:"source,omitempty"`
	Text        string     `json:"text"`
	SHA256      string     `json:"sha256"`
	Fingerprint string     `json:"fingerprint"` // of the config numbers it was written from
	Numbers     Numbers    `json:"numbers"`
	Summary     string     `json:"summary"`
	Author      string     `json:"author"`
	CreatedAt   time.Time  `json:"created_at"`
	SubmittedAt *time.Time `json:"submitted_at,omitempty"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	Note        string     `json:"decision_note,omitempty"`
	PublishedBy string     `json:"published_by,omitempty"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
}

// Attestation is a person's statement, with evidence, that a requirement
// is met, valid until its expiry once someone else reviewed it.
type Attestation struct {
	ID          string     `json:"id"`
	Requirement string     `json:"requirement"`
	Statement   string     `json:"statement"`
	Evidence    []Evidence `json:"evidence"`
	AttestedBy  string     `json:"attested_by"`
	AttestedAt  time.Time  `json:"attested_at"`
	ValidUntil  time.Time  `json:"valid_until"`
	State       string     `json:"state"` // pending | accepted | rejected
	ReviewedBy  string     `json:"reviewed_by,omitempty"`
	ReviewedAt  *time.Time `json:"reviewed_at,omitempty"`
	ReviewNote  string     `json:"review_note,omitempty"`
}

// Evidence is a file kept as a ledger blob.
type Evidence struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// The states of an attestation.
const (
	Pending  = "pending"
	Accepted = "accepted"
	// Rejected (shared with versions) is an attestation its reviewer refused.
)

// Valid reports whether the attestation counts at t: accepted and not
// expired.
func (a Attestation) Valid(t time.Time) bool { return a.State == Accepted && t.Before(a.ValidUntil) }

// Actor is who acts, as the governance rules see them.
type Actor struct {
	Name            string // the ledger's actor
	Username        string
	SecurityOfficer bool   // may approve documents and review attestations
	Role            string // checked against governance.attest_roles
}

func (a Actor) user() string {
	if a.Username != "" {
		return a.Username
	}
	return a.Name
}

// Tx is what the service needs from a store transaction.
type Tx interface {
	ledger.Tx
	TrendTx
	InsertPolicyDocument(ctx context.Context, d Document) error
	UpdatePolicyDocument(ctx context.Context, d Document) error
	PolicyDocument(ctx context.Context, id string) (Document, error)
	PolicyDocuments(ctx context.Context) ([]Document, error)
	InsertPolicyVersion(ctx context.Context, v Version) error
	// UpdatePolicyVersion stores a version's state and decisions; its text
	// only while it is a draft.
	UpdatePolicyVersion(ctx context.Context, v Version) error
	// PolicyVersions returns a document's versions, newest first.
	PolicyVersions(ctx context.Context, documentID string) ([]Version, error)
	InsertAttestation(ctx context.Context, a Attestation) error
	UpdateAttestation(ctx context.Context, a Attestation) error
	AttestationByID(ctx context.Context, id string) (Attestation, error)
	// Attestations returns the attestations of a requirement ("" for all),
	// newest first.
	Attestations(ctx context.Context, requirement string) ([]Attestation, error)
	InsertPolicyAck(ctx context.Context, a Ack) error
	// PolicyAcks returns the acknowledgements of a version, oldest first.
	PolicyAcks(ctx context.Context, versionID string) ([]Ack, error)
	// PolicyNoticeSent records that a notice of kind was sent for a
	// document's review date, false when it already was.
	PolicyNoticeSent(ctx context.Context, documentID, kind string, due time.Time) (bool, error)
}

// Store runs transactions.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Notifier queues a notification in the transaction of its event.
type Notifier interface {
	Notify(ctx context.Context, tx Tx, kind, subject, summary string, data map[string]any) error
}

// Options configure the service.
type Options struct {
	Company               string
	DefaultClassification string
	ReviewInterval        time.Duration
	ReviewNotice          time.Duration
	FeedMaxAge            time.Duration
	AttestationMaxAge     time.Duration
	MaxEvidenceBytes      int
	// AttestRoles names the roles that may attest each requirement ("*":
	// every other); none: any caller the route admits.
	AttestRoles map[string][]string
	Numbers     Numbers
	// Holders returns the active users of each role (auth's role names).
	Holders func(ctx context.Context) (map[string][]string, error)
	// Staff returns the role of every active user, by user name, for the
	// coverage of acknowledgements.
	Staff func(ctx context.Context) (map[string]string, error)
	// Catalog is the control engine's catalog (the compliance view).
	Catalog func(ctx context.Context) ([]control.Item, error)
	// FeedImports returns when each vulnerability feed ("kev", "epss") was
	// last imported (VM-8).
	FeedImports func(ctx context.Context) (map[string]time.Time, error)
	Now         func() time.Time
}

// Service is the governance register.
type Service struct {
	store Store
	log   *ledger.Log
	opts  Options
	now   func() time.Time
}

// NewService returns the register over store and log.
func NewService(store Store, log *ledger.Log, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Holders == nil {
		opts.Holders = func(context.Context) (map[string][]string, error) { return nil, nil }
	}
	return &Service{store: store, log: log, opts: opts, now: opts.Now}
}

func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
