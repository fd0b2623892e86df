package policy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
)

// Ack is a user's acknowledgement of a published version.
type Ack struct {
	VersionID  string    `json:"version_id"`
	DocumentID string    `json:"document_id"`
	Username   string    `json:"username"`
	AckedAt    time.Time `json:"acked_at"`
}

// staffRoles are the roles whose holders acknowledge the documents.
var staffRoles = []string{"security_officer", "engineering_head", "infra_ops", "engineer"}

// Acknowledge records that by read the current version of a document.
func (s *Service) Acknowledge(ctx context.Context, by Actor, docID string) (Ack, error) {
	var a Ack
	err := s.store.Update(ctx, func(tx Tx) error {
		d, vs, err := load(ctx, tx, docID)
		if err != nil {
			return err
		}
		cur := s.view(d, vs, s.now()).Current
		if cur == nil {
			return opsguard.Errorf(opsguard.EConflict, "document %s has no published version to acknowledge", docID)
		}
		acks, err := tx.PolicyAcks(ctx, cur.ID)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(acks, func(x Ack) bool { return strings.EqualFold(x.Username, by.user()) }) {
			return opsguard.Errorf(opsguard.EConflict, "%s already acknowledged version %d of %s", by.user(), cur.Number, docID)
		}
		a = Ack{VersionID: cur.ID, DocumentID: d.ID, Username: by.user(), AckedAt: s.stamp()}
		if err := tx.InsertPolicyAck(ctx, a); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "policy.acknowledged", Subject: "policy/" + d.ID,
			Payload: map[string]any{"version": cur.Number, "id": cur.ID, "sha256": cur.SHA256, "user": a.Username}})
		return err
	})
	if err != nil {
		return Ack{}, fmt.Errorf("acknowledge %s: %w", docID, err)
	}
	return a, nil
}

// Coverage is who acknowledged the current version of each document.
type Coverage struct {
	Documents []DocumentCoverage `json:"documents"`
}

// DocumentCoverage is one document's acknowledgements, by role.
type DocumentCoverage struct {
	Document string               `json:"document"`
	Title    string               `json:"title"`
	Version  int                  `json:"version"`
	Acked    []Ack                `json:"acked"`
	Missing  []string             `json:"missing"`
	ByRole   map[string]RoleCount `json:"by_role"`
}

// RoleCount is how many holders of a role acknowledged, of how many.
type RoleCount struct {
	Acked int `json:"acked"`
	Total int `json:"total"`
}

// Coverage returns the acknowledgements of every published document by
// the active holders of the staff roles.
func (s *Service) Coverage(ctx context.Context) (Coverage, error) {
	out := Coverage{Documents: []DocumentCoverage{}}
	staff := map[string]string{}
	if s.opts.Staff != nil {
		var err error
		if staff, err = s.opts.Staff(ctx); err != nil {
			return out, err
		}
	}
	ds, err := s.Documents(ctx)
	if err != nil {
		return out, err
	}
	for _, d := range ds {
		if d.Current == nil {
			continue
		}
		var acks []Ack
		err := s.store.View(ctx, func(tx Tx) error {
			var err error
			acks, err = tx.PolicyAcks(ctx, d.Current.ID)
			return err
		})
		if err != nil {
			return out, err
		}
		dc := DocumentCoverage{Document: d.ID, Title: d.Title, Version: d.Current.Number, Acked: acks, Missing: []string{}, ByRole: map[string]RoleCount{}}
		if dc.Acked == nil {
			dc.Acked = []Ack{}
		}
		done := map[string]bool{}
		for _, a := range acks {
			done[strings.ToLower(a.Username)] = true
		}
		for user, role := range staff {
			if !slices.Contains(staffRoles, role) {
				continue
			}
			c := dc.ByRole[role]
			c.Total++
			if done[strings.ToLower(user)] {
				c.Acked++
			} else {
				dc.Missing = append(dc.Missing, user)
			}
			dc.ByRole[role] = c
		}
		sort.Strings(dc.Missing)
		out.Documents = append(out.Documents, dc)
	}
	return out, nil
}

// Unacknowledged lists the published documents a user has not
// acknowledged in their current version.
func (s *Service) Unacknowledged(ctx context.Context, username string) ([]string, error) {
	c, err := s.Coverage(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, d := range c.Documents {
		if !slices.ContainsFunc(d.Acked, func(a Ack) bool { return strings.EqualFold(a.Username, username) }) {
			out = append(out, d.Document)
		}
	}
	return out, nil
}

// ackControl reports the coverage of acknowledgements by role: every
// holder of a staff role acknowledged every current document.
func (s *Service) ackControl(ctx context.Context) (control.Outcome, error) {
	c, err := s.Coverage(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	if len(c.Documents) == 0 {
		return control.Outcome{Status: control.NotApplicable, Summary: "No document is published yet."}, nil
	}
	var gaps []string
	var parts []string
	for _, d := range c.Documents {
		var roles []string
		for _, r := range staffRoles {
			if rc, ok := d.ByRole[r]; ok {
				roles = append(roles, fmt.Sprintf("%s %d/%d", r, rc.Acked, rc.Total))
			}
		}
		parts = append(parts, fmt.Sprintf("%s v%d: %s", d.Document, d.Version, strings.Join(roles, ", ")))
		for _, m := range d.Missing {
			gaps = append(gaps, d.Document+" by "+m)
		}
	}
	if len(gaps) > 0 {
		return control.Outcome{Status: control.Fail, Summary: fmt.Sprintf("%d acknowledgements are missing (%s): %s.", len(gaps), strings.Join(parts, "; "), control.Examples(gaps, 3, ", "))}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: "Every holder of a staff role acknowledged every current document (" + strings.Join(parts, "; ") + ")."}, nil
}
