package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// minNote is the shortest reason taken for a rejection.
const minNote = 10

var docIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// DocumentView is a document with its current (published) version, its
// newest version and its review date.
type DocumentView struct {
	Document
	Current   *Version   `json:"current,omitempty"`
	Latest    Version    `json:"latest"`
	ReviewDue *time.Time `json:"review_due,omitempty"`
	Overdue   bool       `json:"overdue"`
}

// NewDraft is what a draft is made of. Empty Source redraws a built-in
// document from its template; a company's own document needs its Source
// (Markdown with the same placeholders) and, the first time, a Title.
type NewDraft struct {
	Title          string `json:"title,omitempty"`
	Summary        string `json:"summary"`
	Source         string `json:"source,omitempty"`
	Classification string `json:"classification,omitempty"`
}

func textHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// params are the values the templates are filled with now.
func (s *Service) params(ctx context.Context, classification string) (Params, error) {
	h, err := s.opts.Holders(ctx)
	if err != nil {
		return Params{}, err
	}
	names := func(role string) string {
		if len(h[role]) == 0 {
			return "(not assigned)"
		}
		return strings.Join(h[role], ", ")
	}
	return Params{Company: s.opts.Company, Classification: classification, Numbers: s.opts.Numbers,
		Roles: Roles{SecurityOfficer: names("security_officer"), EngineeringHead: names("engineering_head"), InfraOps: names("infra_ops"), Engineers: names("engineer")}}, nil
}

// write fills a document's template (its own Source, or the embedded one).
func (s *Service) write(ctx context.Context, docID, source, classification string) (string, error) {
	file := docID + ".md"
	if source == "" {
		b, ok := builtin(docID)
		if !ok {
			return "", invalid("source", "document %s is not built in: its draft needs a source text", docID)
		}
		source, file = builtinSource(b), b.File
	}
	t, err := Compile(file, source)
	if err != nil {
		return "", err
	}
	p, err := s.params(ctx, classification)
	if err != nil {
		return "", err
	}
	return Render(t, p)
}

// Sync makes sure every built-in document exists, and turns a change of the
// config's numbers since a document's newest version into a new draft
// written from them, with the document's review flagged (GV-2). The server
// runs it at start.
func (s *Service) Sync(ctx context.Context) ([]Version, error) {
	var made []Version
	for _, b := range Builtins {
		v, err := s.syncOne(ctx, b)
		if err != nil {
			return made, fmt.Errorf("policy sync %s: %w", b.ID, err)
		}
		if v != nil {
			made = append(made, *v)
		}
	}
	return made, nil
}

func (s *Service) syncOne(ctx context.Context, b Builtin) (*Version, error) {
	var made *Version
	err := s.store.Update(ctx, func(tx Tx) error {
		// Versions are numbered under the ledger's lock: two drafts at once
		// on two replicas cannot take the same number.
		if err := tx.LockLedger(ctx); err != nil {
			return err
		}
		now := s.stamp()
		d, err := tx.PolicyDocument(ctx, b.ID)
		fresh := opsguard.ErrorCode(err) == opsguard.ENotFound
		if err != nil && !fresh {
			return err
		}
		var vs []Version
		if !fresh {
			if vs, err = tx.PolicyVersions(ctx, b.ID); err != nil {
				return err
			}
		}
		fp := s.opts.Numbers.Fingerprint()
		if len(vs) > 0 && vs[0].Fingerprint == fp {
			return nil
		}
		summary, classification := "First version, written from the process config.", s.opts.DefaultClassification
		var events []ledger.Event
		if fresh {
			d = Document{ID: b.ID, Title: b.Title, Builtin: true, CreatedBy: "system", CreatedAt: now}
			if err := tx.InsertPolicyDocument(ctx, d); err != nil {
				return err
			}
			events = append(events, ledger.Event{Actor: "system", Kind: "policy.document_created", Subject: "policy/" + d.ID, Payload: map[string]any{"title": d.Title, "builtin": true}})
		} else {
			changed := s.opts.Numbers.changed(vs[0].Numbers)
			summary = "Significant change: the process config changed (" + strings.Join(changed, "; ") + ")."
			classification = vs[0].Classification
			d.ReviewFlag, d.ReviewFlaggedAt = summary, &now
			if err := tx.UpdatePolicyDocument(ctx, d); err != nil {
				return err
			}
			events = append(events, ledger.Event{Actor: "system", Kind: "policy.review_flagged", Subject: "policy/" + d.ID,
				Payload: map[string]any{"reason": summary, "fingerprint": fp, "previous_fingerprint": vs[0].Fingerprint}})
		}
		v, ev, err := s.newVersion(ctx, tx, Actor{Name: "system"}, d, vs, NewDraft{Summary: summary, Classification: classification}, now)
		if err != nil {
			return err
		}
		made = &v
		_, err = s.log.Append(ctx, tx, append(events, ev)...)
		return err
	})
	return made, err
}

// newVersion writes and stores the next version of d as a draft and
// returns the event that records it.
func (s *Service) newVersion(ctx context.Context, tx Tx, by Actor, d Document, vs []Version, n NewDraft, now time.Time) (Version, ledger.Event, error) {
	n.Summary = strings.TrimSpace(n.Summary)
	if n.Summary == "" {
		return Version{}, ledger.Event{}, invalid("summary", "a version needs a summary of its changes")
	}
	if len(n.Summary) > 1000 {
		return Version{}, ledger.Event{}, invalid("summary", "the summary is longer than 1000 characters")
	}
	if n.Classification = strings.TrimSpace(n.Classification); n.Classification == "" {
		n.Classification = s.opts.DefaultClassification
		if len(vs) > 0 {
			n.Classification = vs[0].Classification
		}
	}
	if n.Source == "" && !d.Builtin && len(vs) > 0 {
		n.Source = vs[0].Source
	}
	text, err := s.write(ctx, d.ID, n.Source, n.Classification)
	if err != nil {
		return Version{}, ledger.Event{}, err
	}
	number := 1
	if len(vs) > 0 {
		number = vs[0].Number + 1
	}
	v := Version{ID: id.New("pv"), DocumentID: d.ID, Number: number, State: Draft, Classification: n.Classification, Source: n.Source,
		Text: text, SHA256: textHash(text), Fingerprint: s.opts.Numbers.Fingerprint(), Numbers: s.opts.Numbers, Summary: n.Summary,
		Author: by.user(), CreatedAt: now}
	if err := tx.InsertPolicyVersion(ctx, v); err != nil {
		return Version{}, ledger.Event{}, err
	}
	return v, ledger.Event{Actor: by.Name, Kind: "policy.drafted", Subject: "policy/" + d.ID,
		Payload: map[string]any{"version": v.Number, "id": v.ID, "sha256": v.SHA256, "summary": v.Summary, "classification": v.Classification, "fingerprint": v.Fingerprint}}, nil
}

// Draft makes a new draft version of a document; a company's own document
// is created by its first draft.
func (s *Service) Draft(ctx context.Context, by Actor, docID string, n NewDraft) (Version, error) {
	var v Version
	err := s.store.Update(ctx, func(tx Tx) error {
		// Versions are numbered under the ledger's lock: two drafts at once
		// on two replicas cannot take the same number.
		if err := tx.LockLedger(ctx); err != nil {
			return err
		}
		now := s.stamp()
		d, err := tx.PolicyDocument(ctx, docID)
		var events []ledger.Event
		if b, ok := builtin(docID); ok && opsguard.ErrorCode(err) == opsguard.ENotFound {
			d = Document{ID: b.ID, Title: b.Title, Builtin: true, CreatedBy: by.user(), CreatedAt: now}
			if err := tx.InsertPolicyDocument(ctx, d); err != nil {
				return err
			}
			events = append(events, ledger.Event{Actor: by.Name, Kind: "policy.document_created", Subject: "policy/" + d.ID, Payload: map[string]any{"title": d.Title, "builtin": true}})
		} else if opsguard.ErrorCode(err) == opsguard.ENotFound {
			if !docIDPattern.MatchString(docID) {
				return invalid("id", "document id %q: lowercase letters, digits and dashes, 2 to 63 characters", docID)
			}
			if n.Title = strings.TrimSpace(n.Title); n.Title == "" || n.Source == "" {
				return invalid("title", "a new document needs a title and a source text")
			}
			d = Document{ID: docID, Title: n.Title, CreatedBy: by.user(), CreatedAt: now}
			if err := tx.InsertPolicyDocument(ctx, d); err != nil {
				return err
			}
			events = append(events, ledger.Event{Actor: by.Name, Kind: "policy.document_created", Subject: "policy/" + d.ID, Payload: map[string]any{"title": d.Title, "builtin": false}})
		} else if err != nil {
			return err
		}
		vs, err := tx.PolicyVersions(ctx, docID)
		if err != nil {
			return err
		}
		for _, o := range vs {
			if o.State == Draft || o.State == Submitted {
				return opsguard.Errorf(opsguard.EConflict, "document %s already has version %d %s: finish or reject it first", docID, o.Number, o.State)
			}
		}
		var ev ledger.Event
		if v, ev, err = s.newVersion(ctx, tx, by, d, vs, n, now); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, append(events, ev)...)
		return err
	})
	if err != nil {
		return Version{}, fmt.Errorf("draft %s: %w", docID, err)
	}
	return v, nil
}

// Edit rewrites a draft: only its author, only while it is a draft. An
// approved or published text never changes.
func (s *Service) Edit(ctx context.Context, by Actor, docID string, number int, n NewDraft) (Version, error) {
	return s.step(ctx, by, docID, number, "policy.edited", func(tx Tx, d Document, v *Version, _ time.Time) (map[string]any, error) {
		if v.State != Draft {
			return nil, opsguard.Errorf(opsguard.EConflict, "version %d of %s is %s: only a draft can be edited; make a new version", v.Number, d.ID, v.State)
		}
		if !strings.EqualFold(v.Author, by.user()) {
			return nil, opsguard.Errorf(opsguard.EForbidden, "%s did not write version %d of %s and may not edit it", by.user(), v.Number, d.ID)
		}
		if d.Builtin && n.Source != "" {
			return nil, invalid("source", "%s is written from its built-in template and the process config: change the config, not the text", d.ID)
		}
		if s := strings.TrimSpace(n.Summary); s != "" {
			v.Summary = s
		}
		if c := strings.TrimSpace(n.Classification); c != "" {
			v.Classification = c
		}
		if n.Source != "" {
			v.Source = n.Source
		}
		text, err := s.write(ctx, d.ID, v.Source, v.Classification)
		if err != nil {
			return nil, err
		}
		v.Text, v.SHA256 = text, textHash(text)
		return map[string]any{"sha256": v.SHA256, "summary": v.Summary, "classification": v.Classification}, nil
	})
}

// Submit sends a draft to the security officer.
func (s *Service) Submit(ctx context.Context, by Actor, docID string, number int) (Version, error) {
	return s.step(ctx, by, docID, number, "policy.submitted", func(_ Tx, d Document, v *Version, now time.Time) (map[string]any, error) {
		if err := state(d, v, Draft); err != nil {
			return nil, err
		}
		v.State, v.SubmittedAt = Submitted, &now
		return map[string]any{"sha256": v.SHA256}, nil
	})
}

// Approve approves a submitted version: only a security officer who did
// not write it (GV-1). The ledger records the SHA-256 of the exact text
// approved.
func (s *Service) Approve(ctx context.Context, by Actor, docID string, number int, note string) (Version, error) {
	return s.decide(ctx, by, docID, number, Approved, strings.TrimSpace(note))
}

// Reject sends a submitted version back, for a written reason.
func (s *Service) Reject(ctx context.Context, by Actor, docID string, number int, note string) (Version, error) {
	note = strings.TrimSpace(note)
	if len(note) < minNote {
		return Version{}, invalid("note", "a rejection needs a written reason of at least %d characters", minNote)
	}
	return s.decide(ctx, by, docID, number, Rejected, note)
}

func (s *Service) decide(ctx context.Context, by Actor, docID string, number int, to, note string) (Version, error) {
	verb := map[string]string{Approved: "approve", Rejected: "reject"}[to]
	if !by.SecurityOfficer {
		return Version{}, opsguard.Errorf(opsguard.EForbidden, "only the Information Security Officer may %s policy documents", verb)
	}
	return s.step(ctx, by, docID, number, "policy."+to, func(_ Tx, d Document, v *Version, now time.Time) (map[string]any, error) {
		if err := state(d, v, Submitted); err != nil {
			return nil, err
		}
		if strings.EqualFold(v.Author, by.user()) {
			return nil, opsguard.Errorf(opsguard.EForbidden, "%s wrote version %d of %s and may not %s it: segregation of duties", by.user(), v.Number, d.ID, verb)
		}
		if textHash(v.Text) != v.SHA256 {
			return nil, opsguard.Errorf(opsguard.EConflict, "version %d of %s: its text does not match its recorded SHA-256", v.Number, d.ID)
		}
		v.State, v.DecidedBy, v.DecidedAt, v.Note = to, by.user(), &now, note
		return map[string]any{"sha256": v.SHA256, "author": v.Author, "approver": by.user(), "note": note}, nil
	})
}

// Publish makes an approved version the document's current one; the one
// before is superseded, and a flagged review is settled when the version
// was written from the config numbers in force.
func (s *Service) Publish(ctx context.Context, by Actor, docID string, number int) (Version, error) {
	return s.step(ctx, by, docID, number, "policy.published", func(tx Tx, d Document, v *Version, now time.Time) (map[string]any, error) {
		if err := state(d, v, Approved); err != nil {
			return nil, err
		}
		vs, err := tx.PolicyVersions(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		for _, o := range vs {
			if o.State == Published {
				o.State = Superseded
				if err := tx.UpdatePolicyVersion(ctx, o); err != nil {
					return nil, err
				}
			}
		}
		v.State, v.PublishedBy, v.PublishedAt = Published, by.user(), &now
		if d.ReviewFlag != "" && v.Fingerprint == s.opts.Numbers.Fingerprint() {
			d.ReviewFlag, d.ReviewFlaggedAt = "", nil
			if err := tx.UpdatePolicyDocument(ctx, d); err != nil {
				return nil, err
			}
		}
		return map[string]any{"sha256": v.SHA256, "approver": v.DecidedBy}, nil
	})
}

func state(d Document, v *Version, want string) error {
	if v.State != want {
		return opsguard.Errorf(opsguard.EConflict, "version %d of %s is %s, not %s", v.Number, d.ID, v.State, want)
	}
	return nil
}

// step loads a version, applies fn, stores it and ledgers kind, in one
// transaction.
func (s *Service) step(ctx context.Context, by Actor, docID string, number int, kind string, fn func(tx Tx, d Document, v *Version, now time.Time) (map[string]any, error)) (Version, error) {
	var v Version
	err := s.store.Update(ctx, func(tx Tx) error {
		d, vs, err := load(ctx, tx, docID)
		if err != nil {
			return err
		}
		if v, err = pick(d, vs, number); err != nil {
			return err
		}
		from, now := v.State, s.stamp()
		payload, err := fn(tx, d, &v, now)
		if err != nil {
			return err
		}
		if err := tx.UpdatePolicyVersion(ctx, v); err != nil {
			return err
		}
		payload["version"], payload["id"], payload["from"], payload["to"] = v.Number, v.ID, from, v.State
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: kind, Subject: "policy/" + d.ID, Payload: payload})
		return err
	})
	if err != nil {
		return Version{}, fmt.Errorf("%s %s v%d: %w", kind, docID, number, err)
	}
	return v, nil
}

func load(ctx context.Context, tx Tx, docID string) (Document, []Version, error) {
	d, err := tx.PolicyDocument(ctx, docID)
	if err != nil {
		return d, nil, err
	}
	vs, err := tx.PolicyVersions(ctx, docID)
	return d, vs, err
}

// pick returns version number of vs; 0 is the current (published) one,
// or the newest when none is published.
func pick(d Document, vs []Version, number int) (Version, error) {
	if len(vs) == 0 {
		return Version{}, opsguard.Errorf(opsguard.ENotFound, "document %s has no version", d.ID)
	}
	for _, v := range vs {
		if (number == 0 && v.State == Published) || (number != 0 && v.Number == number) {
			return v, nil
		}
	}
	if number == 0 {
		return vs[0], nil
	}
	return Version{}, opsguard.Errorf(opsguard.ENotFound, "document %s has no version %d", d.ID, number)
}

// view builds a document's view at now.
func (s *Service) view(d Document, vs []Version, now time.Time) DocumentView {
	dv := DocumentView{Document: d}
	if len(vs) > 0 {
		dv.Latest = vs[0]
	}
	for i := range vs {
		if vs[i].State == Published {
			dv.Current = &vs[i]
			break
		}
	}
	// The review date runs from the newest approval.
	for _, v := range vs {
		if v.DecidedAt != nil && (v.State == Approved || v.State == Published || v.State == Superseded) {
			due := v.DecidedAt.Add(s.opts.ReviewInterval)
			dv.ReviewDue, dv.Overdue = &due, !now.Before(due)
			break
		}
	}
	return dv
}

// Documents lists every document with its current version and review date.
func (s *Service) Documents(ctx context.Context) ([]DocumentView, error) {
	var out []DocumentView
	now := s.now()
	err := s.store.View(ctx, func(tx Tx) error {
		ds, err := tx.PolicyDocuments(ctx)
		if err != nil {
			return err
		}
		for _, d := range ds {
			vs, err := tx.PolicyVersions(ctx, d.ID)
			if err != nil {
				return err
			}
			out = append(out, s.view(d, vs, now))
		}
		return nil
	})
	return out, err
}

// DocumentDetail is a document with its whole history, newest first.
type DocumentDetail struct {
	DocumentView
	Versions []Version `json:"versions"`
}

// Document returns one document and its versions.
func (s *Service) Document(ctx context.Context, docID string) (DocumentDetail, error) {
	var out DocumentDetail
	err := s.store.View(ctx, func(tx Tx) error {
		d, vs, err := load(ctx, tx, docID)
		if err != nil {
			return err
		}
		out = DocumentDetail{DocumentView: s.view(d, vs, s.now()), Versions: vs}
		return nil
	})
	return out, err
}
