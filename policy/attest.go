package policy

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Attestable are the requirements no collector proves, with what an
// attestation of each should say. Any other requirement may be attested
// too, next to its controls.
var Attestable = map[string]string{
	"CM-9":  "Changes are tested in a separate test or staging environment before production. Evidence: the environment's description and a recent test run.",
	"CM-10": "Modifications to vendor-supplied products are documented and the originals kept. Evidence: the list of modified products, their change records and where the originals are.",
	"VM-8":  "Vulnerability information comes from trusted sources (vendor advisories, CISA KEV, FIRST EPSS, distribution security trackers). Evidence: the subscribed sources.",
}

// NewAttestation is what an attester files.
type NewAttestation struct {
	Requirement string    `json:"requirement"`
	Statement   string    `json:"statement"`
	ValidUntil  time.Time `json:"valid_until"`
	Evidence    []File    `json:"evidence"`
}

// File is an evidence file as sent.
type File struct {
	Name    string `json:"name"`
	Content []byte `json:"content"` // base64 in JSON
}

const (
	maxStatement     = 4000
	maxEvidenceFiles = 20
)

// Attest files an attestation, pending until someone other than the
// attester reviews it. Its evidence files become ledger blobs; all or
// nothing is stored.
func (s *Service) Attest(ctx context.Context, by Actor, n NewAttestation) (Attestation, error) {
	n.Requirement = strings.ToUpper(strings.TrimSpace(n.Requirement))
	if _, ok := control.RequirementByID(n.Requirement); !ok {
		return Attestation{}, invalid("requirement", "unknown requirement %q: one of the IDs of the catalog (CM-1 … GV-5)", n.Requirement)
	}
	if roles := s.AttestRoles(n.Requirement); roles != nil && !slices.Contains(roles, by.Role) {
		return Attestation{}, opsguard.Errorf(opsguard.EForbidden, "the role %s may not attest %s: governance.attest_roles allows %s",
			orNone(by.Role), n.Requirement, strings.Join(roles, ", "))
	}
	n.Statement = strings.TrimSpace(n.Statement)
	now := s.stamp()
	switch {
	case len(n.Statement) < 20:
		return Attestation{}, invalid("statement", "a statement of at least 20 characters says what is attested")
	case len(n.Statement) > maxStatement:
		return Attestation{}, invalid("statement", "the statement is longer than %d characters", maxStatement)
	case !n.ValidUntil.After(now):
		return Attestation{}, invalid("valid_until", "an attestation must be valid until a date in the future")
	case n.ValidUntil.After(now.Add(s.opts.AttestationMaxAge)):
		return Attestation{}, invalid("valid_until", "an attestation may be valid at most %d days (governance.attestation_max_days)", int(s.opts.AttestationMaxAge.Hours()/24))
	case len(n.Evidence) > maxEvidenceFiles:
		return Attestation{}, invalid("evidence", "at most %d evidence files", maxEvidenceFiles)
	}
	total := 0
	for i, f := range n.Evidence {
		total += len(f.Content)
		name := filepath.Base(strings.TrimSpace(f.Name))
		if name == "" || name == "." || name == "/" || len(name) > 200 {
			return Attestation{}, invalid(fmt.Sprintf("evidence[%d].name", i), "an evidence file needs a name of at most 200 characters")
		}
		if len(f.Content) == 0 {
			return Attestation{}, invalid(fmt.Sprintf("evidence[%d].content", i), "evidence file %s is empty", name)
		}
		n.Evidence[i].Name = name
	}
	if total > s.opts.MaxEvidenceBytes {
		return Attestation{}, invalid("evidence", "the evidence files hold %d bytes, more than the %d of governance.max_evidence_bytes", total, s.opts.MaxEvidenceBytes)
	}
	a := Attestation{ID: id.New("att"), Requirement: n.Requirement, Statement: n.Statement, AttestedBy: by.user(), AttestedAt: now,
		ValidUntil: n.ValidUntil.UTC().Truncate(time.Microsecond), State: Pending, Evidence: []Evidence{}}
	err := s.store.Update(ctx, func(tx Tx) error {
		refs := []string{}
		for _, f := range n.Evidence {
			b, err := s.log.PutBlob(ctx, tx, "application/octet-stream", f.Content)
			if err != nil {
				return err
			}
			a.Evidence = append(a.Evidence, Evidence{Name: f.Name, SHA256: b.SHA256, Size: len(f.Content)})
			refs = append(refs, b.Ref())
		}
		if err := tx.InsertAttestation(ctx, a); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "attestation.filed", Subject: "attestation/" + a.ID,
			Payload: map[string]any{"requirement": a.Requirement, "statement": a.Statement, "valid_until": a.ValidUntil, "evidence": refs, "files": a.Evidence}})
		return err
	})
	if err != nil {
		return Attestation{}, fmt.Errorf("attest %s: %w", n.Requirement, err)
	}
	return a, nil
}

// AttestRoles returns the roles that may attest a requirement; nil when
// the config names none (any role the route admits).
func (s *Service) AttestRoles(requirement string) []string {
	if r, ok := s.opts.AttestRoles[requirement]; ok {
		return r
	}
	return s.opts.AttestRoles["*"]
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Review accepts or rejects a pending attestation: a security officer who
// is not its attester.
func (s *Service) Review(ctx context.Context, by Actor, attID string, accept bool, note string) (Attestation, error) {
	note = strings.TrimSpace(note)
	if !by.SecurityOfficer {
		return Attestation{}, opsguard.Errorf(opsguard.EForbidden, "only the Information Security Officer may review attestations")
	}
	if !accept && len(note) < minNote {
		return Attestation{}, invalid("note", "a rejection needs a written reason of at least %d characters", minNote)
	}
	var a Attestation
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if a, err = tx.AttestationByID(ctx, attID); err != nil {
			return err
		}
		if a.State != Pending {
			return opsguard.Errorf(opsguard.EConflict, "attestation %s is %s, not pending", a.ID, a.State)
		}
		if strings.EqualFold(a.AttestedBy, by.user()) {
			return opsguard.Errorf(opsguard.EForbidden, "%s filed attestation %s and may not review it: segregation of duties", by.user(), a.ID)
		}
		now := s.stamp()
		a.State, a.ReviewedBy, a.ReviewedAt, a.ReviewNote = Rejected, by.user(), &now, note
		if accept {
			a.State = Accepted
		}
		if err := tx.UpdateAttestation(ctx, a); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "attestation." + a.State, Subject: "attestation/" + a.ID,
			Payload: map[string]any{"requirement": a.Requirement, "attested_by": a.AttestedBy, "note": note}})
		return err
	})
	if err != nil {
		return Attestation{}, fmt.Errorf("review attestation %s: %w", attID, err)
	}
	return a, nil
}

// Attestations lists the attestations of a requirement ("" for every one),
// newest first.
func (s *Service) Attestations(ctx context.Context, requirement string) ([]Attestation, error) {
	var out []Attestation
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Attestations(ctx, strings.ToUpper(requirement))
		return err
	})
	return out, err
}

// Attestation returns one attestation.
func (s *Service) Attestation(ctx context.Context, attID string) (Attestation, error) {
	var a Attestation
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		a, err = tx.AttestationByID(ctx, attID)
		return err
	})
	return a, err
}
