package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/host/baseline"
	"github.com/opsguard/opsguard/ledger"
)

// Baseline is a version of a host group's baseline document (CF-1):
// drafted by its author, approved by a security officer who is not, and
// superseded by the next approved version; every version is kept.
type Baseline struct {
	ID        string    `json:"id"` // group@version
	Group     string    `json:"group"`
	Version   int       `json:"version"`
	State     string    `json:"state"`
	Document  string    `json:"document"` // the YAML as written
	SHA256    string    `json:"sha256"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	// DecidedBy approved or rejected the version.
	DecidedBy string     `json:"decided_by,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// The states of a baseline version.
const (
	BaselineDraft      = "draft"
	BaselineApproved   = "approved"
	BaselineSuperseded = "superseded"
	BaselineRejected   = "rejected"
)

// DefaultBaseline names the baseline shipped with opsguard, which an agent
// evaluates until its group has an approved one.
const DefaultBaseline = "default"

// Parsed is the baseline's document parsed (it was checked when added).
func (b Baseline) Parsed() (baseline.Document, error) {
	return baseline.Parse(b.ID, []byte(b.Document))
}

// AddBaseline stores a new draft version of group's baseline; the document
// is refused, with its line and key, when it does not parse.
func (s *Service) AddBaseline(ctx context.Context, by, group string, doc []byte) (Baseline, error) {
	if !NamePattern.MatchString(group) {
		return Baseline{}, invalid("group", "group %q: 1 to 100 letters, digits, '.', '_' or '-'", group)
	}
	if _, err := baseline.Parse(group+".yaml", doc); err != nil {
		return Baseline{}, err
	}
	sum := sha256.Sum256(doc)
	b := Baseline{Group: group, State: BaselineDraft, Document: string(doc), SHA256: hex.EncodeToString(sum[:]), Author: by, CreatedAt: s.now()}
	err := s.store.Update(ctx, func(tx Tx) error {
		vs, err := tx.ListBaselines(ctx, group)
		if err != nil {
			return err
		}
		b.Version = 1
		if len(vs) > 0 {
			b.Version = vs[0].Version + 1
		}
		b.ID = fmt.Sprintf("%s@%d", group, b.Version)
		if err := tx.InsertBaseline(ctx, b); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by, Kind: "baseline.added", Subject: "baseline/" + b.ID,
			Payload: map[string]any{"group": group, "version": b.Version, "sha256": b.SHA256}})
		return err
	})
	return b, err
}

// DecideBaseline approves or rejects a draft. The approver may not be its
// author; an approved version supersedes the group's previous one.
func (s *Service) DecideBaseline(ctx context.Context, by, id string, approve bool, note string) (Baseline, error) {
	if len(note) > 2000 {
		return Baseline{}, invalid("note", "note: at most 2000 bytes")
	}
	var b Baseline
	defer s.forgetApproved()
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if b, err = tx.BaselineByID(ctx, id); err != nil {
			return err
		}
		switch {
		case b.State != BaselineDraft:
			return opsguard.Errorf(opsguard.EConflict, "baseline %s is %s, not a draft", id, b.State)
		case b.Author == by:
			return opsguard.Errorf(opsguard.EForbidden, "baseline %s: its author %s may not decide on it", id, by)
		}
		now := s.now()
		b.State, b.DecidedBy, b.DecidedAt, b.Note = BaselineRejected, by, &now, note
		kind := "baseline.rejected"
		if approve {
			b.State, kind = BaselineApproved, "baseline.approved"
			if err := s.supersede(ctx, tx, b.Group); err != nil {
				return err
			}
		}
		if err := tx.UpdateBaseline(ctx, b); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by, Kind: kind, Subject: "baseline/" + b.ID,
			Payload: map[string]any{"group": b.Group, "version": b.Version, "sha256": b.SHA256, "author": b.Author, "note": note}})
		return err
	})
	return b, err
}

func (s *Service) supersede(ctx context.Context, tx Tx, group string) error {
	vs, err := tx.ListBaselines(ctx, group)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.State == BaselineApproved {
			v.State = BaselineSuperseded
			if err := tx.UpdateBaseline(ctx, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Baselines lists the versions of a group's baseline (every group's for
// ""), newest first.
func (s *Service) Baselines(ctx context.Context, group string) ([]Baseline, error) {
	var out []Baseline
	err := s.store.View(ctx, func(tx Tx) (err error) { out, err = tx.ListBaselines(ctx, group); return err })
	return out, err
}

// Baseline returns a version by ID (group@version), the group's approved
// version when given a group's name, or for "default" the one shipped.
func (s *Service) Baseline(ctx context.Context, id string) (Baseline, error) {
	if id == DefaultBaseline {
		doc := baseline.DefaultYAML()
		sum := sha256.Sum256(doc)
		return Baseline{ID: DefaultBaseline, State: DefaultBaseline, Document: string(doc), SHA256: hex.EncodeToString(sum[:]), Author: "opsguard"}, nil
	}
	var b Baseline
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if strings.Contains(id, "@") {
			b, err = tx.BaselineByID(ctx, id)
			return err
		}
		var ok bool
		if b, ok, err = approvedOf(ctx, tx, []string{id}); err == nil && !ok {
			return opsguard.Errorf(opsguard.ENotFound, "group %s has no approved baseline", id)
		}
		return err
	})
	return b, err
}

// approvedOf is the approved baseline of the first of groups that has one.
func approvedOf(ctx context.Context, tx Tx, groups []string) (Baseline, bool, error) {
	for _, g := range groups {
		vs, err := tx.ListBaselines(ctx, g)
		if err != nil {
			return Baseline{}, false, err
		}
		if i := slices.IndexFunc(vs, func(b Baseline) bool { return b.State == BaselineApproved }); i >= 0 {
			return vs[i], true, nil
		}
	}
	return Baseline{}, false, nil
}

// Order is what the agent should evaluate next, sent back with a receipt
// when it differs from what the report evaluated: the group's approved
// baseline, or the default one (Document empty) when there is none.
type Order struct {
	Baseline      string `json:"baseline"`
	Document      string `json:"document,omitempty"`
	RetentionDays int    `json:"retention_days"`
}

// orderFor is the order for a report, nil when the agent is up to date.
func (s *Service) orderFor(ctx context.Context, r Report) (*Order, error) {
	approved, err := s.approved(ctx)
	if err != nil {
		return nil, err
	}
	want := Order{Baseline: DefaultBaseline, RetentionDays: s.opts.RetentionDays}
	for _, g := range r.Groups {
		if b, ok := approved[g]; ok {
			want.Baseline, want.Document = b.ID, b.Document
			break
		}
	}
	if r.Baseline != nil && r.Baseline.Baseline == want.Baseline {
		return nil, nil
	}
	return &want, nil
}

// approvedTTL bounds how long a replica answers agents with the approved
// baselines it read, when another replica approved a new one.
const approvedTTL = 10 * time.Second

// approved maps each group to its approved baseline, read once per
// approvedTTL rather than once per report.
func (s *Service) approved(ctx context.Context) (map[string]Baseline, error) {
	s.approvedMu.Lock()
	defer s.approvedMu.Unlock()
	if s.approvedMap != nil && time.Since(s.approvedAt) < approvedTTL {
		return s.approvedMap, nil
	}
	m := map[string]Baseline{}
	err := s.store.View(ctx, func(tx Tx) error {
		bs, err := tx.ListBaselines(ctx, "")
		for _, b := range bs {
			if b.State == BaselineApproved {
				m[b.Group] = b
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	s.approvedMap, s.approvedAt = m, time.Now()
	return m, nil
}

// forgetApproved makes the next report read the approved baselines anew.
func (s *Service) forgetApproved() {
	s.approvedMu.Lock()
	s.approvedMap = nil
	s.approvedMu.Unlock()
}

// Capture proposes a baseline from a host's state: its newest results
// with each expectation set to what was observed, and its installed
// packages as the software list. The proposal is stored as a draft of the
// host's first group, for a security officer to approve.
func (s *Service) Capture(ctx context.Context, by, name string) (Baseline, error) {
	var doc []byte
	var group string
	err := s.store.View(ctx, func(tx Tx) error {
		h, err := tx.HostByName(ctx, name)
		if err != nil {
			return err
		}
		if len(h.Groups) == 0 {
			return invalid("host", "host %s is in no group: run its agent with --group", h.Name)
		}
		group = h.Groups[0]
		rs, err := tx.BaselineResults(ctx, h.ID)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return opsguard.Errorf(opsguard.EConflict, "host %s has reported no baseline results yet", h.Name)
		}
		base := baseline.Default()
		if b, ok, err := approvedOf(ctx, tx, h.Groups); err != nil {
			return err
		} else if ok && b.ID == rs[0].Baseline {
			if base, err = b.Parsed(); err != nil {
				return err
			}
		}
		pkgs, err := tx.HostPackages(ctx, h.ID)
		if err != nil {
			return err
		}
		res := make([]baseline.Result, len(rs))
		for i, r := range rs {
			res[i] = r.Result
		}
		d := baseline.Capture(base, res, pkgs)
		d.Name, d.Description = group, fmt.Sprintf("Captured from %s on %s by %s", h.Name, s.now().Format(time.RFC3339), by)
		doc = baseline.Marshal(d)
		return nil
	})
	if err != nil {
		return Baseline{}, err
	}
	return s.AddBaseline(ctx, by, group, doc)
}
