package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Declared is what applying a data set declared in the process config did.
type Declared struct {
	DataSet string
	Created bool
	// Copies are the copies added.
	Copies []string
	// Differences say where the stored data set differs from the
	// declaration; the stored one is kept as it is.
	Differences []string
}

// Declare applies a data set declared in the process config: it creates
// the data set and its copies when no data set of its name exists, and
// adds the declared copies missing from one the config created before.
// It never changes or deletes what is stored, since a data set may be
// managed by hand through the CLI, API or UI: a difference is returned
// for the caller to report.
func (s *Service) Declare(ctx context.Context, by Actor, d DataSet, copies []Copy) (Declared, error) {
	res := Declared{DataSet: d.Name}
	if err := normalize(&d); err != nil {
		return res, err
	}
	for i := range copies {
		if err := s.checkCopy(&copies[i], by); err != nil {
			return res, fmt.Errorf("copy %s: %w", copies[i].Name, err)
		}
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		res = Declared{DataSet: d.Name}
		stored, err := tx.DataSetByName(ctx, d.Name)
		switch {
		case opsguard.ErrorCode(err) == opsguard.ENotFound:
			if stored, err = s.insertDeclared(ctx, tx, by, d); err != nil {
				return err
			}
			res.Created = true
		case err != nil:
			return err
		default:
			res.Differences = dataSetDifferences(stored, d)
		}
		return s.declareCopies(ctx, tx, by, stored, copies, &res)
	})
	return res, err
}

// checkCopy names, checks and prepares a copy before its transaction.
func (s *Service) checkCopy(c *Copy, by Actor) error {
	if c.Name == "" {
		c.Name = c.Source
	}
	if !namePattern.MatchString(c.Name) {
		return invalid("name", "copy name %q: 1 to 100 letters, digits, '.', '_' or '-'", c.Name)
	}
	if err := s.checkLocation(c, by); err != nil {
		return err
	}
	c.ID, c.CreatedAt, c.CreatedBy, c.CollectedAt, c.CollectError = id.New("bkc"), s.now(), by.Name, nil, ""
	return s.takePassword(c)
}

func (s *Service) insertDeclared(ctx context.Context, tx Tx, by Actor, d DataSet) (DataSet, error) {
	if _, _, err := tx.UserByName(ctx, d.Owner); opsguard.ErrorCode(err) == opsguard.ENotFound {
		return d, invalid("owner", "owner %q is not a user", d.Owner)
	} else if err != nil {
		return d, err
	}
	now := s.now()
	d.ID, d.CreatedAt, d.CreatedBy, d.UpdatedAt = id.New("ds"), now, by.Name, now
	if err := tx.InsertDataSet(ctx, d); err != nil {
		return d, err
	}
	_, err := s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "backup.dataset_added", Subject: "dataset/" + d.ID, Payload: d})
	return d, err
}

// declareCopies adds the missing copies to a data set the declarer
// created, and reports how the stored copies differ from the declared.
func (s *Service) declareCopies(ctx context.Context, tx Tx, by Actor, d DataSet, copies []Copy, res *Declared) error {
	for _, c := range copies {
		old, err := tx.CopyByName(ctx, d.ID, c.Name)
		switch {
		case err == nil:
			res.Differences = append(res.Differences, copyDifferences(old, c)...)
			continue
		case opsguard.ErrorCode(err) != opsguard.ENotFound:
			return err
		case d.CreatedBy != by.Name:
			res.Differences = append(res.Differences, fmt.Sprintf("copy %s: not stored (the data set is managed by %s)", c.Name, d.CreatedBy))
			continue
		}
		c.DataSetID, c.DataSet = d.ID, d.Name
		if err := tx.InsertCopy(ctx, c); err != nil {
			return err
		}
		if _, err := s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "backup.copy_added", Subject: "backup-copy/" + c.ID, Payload: c}); err != nil {
			return err
		}
		res.Copies = append(res.Copies, c.Name)
	}
	return nil
}

func dataSetDifferences(stored, want DataSet) []string {
	var out []string
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"owner", stored.Owner, want.Owner},
		{"classification", stored.Classification, want.Classification},
		{"description", stored.Description, want.Description},
		{"frequency", stored.Frequency, want.Frequency},
		{"type", stored.Type, want.Type},
		{"retention_days", stored.RetentionDays, want.RetentionDays},
		{"instructions", stored.Instructions, want.Instructions},
	} {
		if f.got != f.want {
			out = append(out, fmt.Sprintf("%s: stored %v, declared %v", f.name, brief(f.got), brief(f.want)))
		}
	}
	if !sameJSON(stored.Drill, want.Drill) {
		out = append(out, fmt.Sprintf("drill: stored %s, declared %s", brief(string(stored.Drill)), brief(string(want.Drill))))
	}
	return out
}

func copyDifferences(stored, want Copy) []string {
	var out []string
	if stored.Source != want.Source || stored.Location != want.Location {
		out = append(out, fmt.Sprintf("copy %s: stored %s %s, declared %s %s", want.Name, stored.Source, stored.Location, want.Source, want.Location))
	}
	if stored.Offsite != want.Offsite {
		out = append(out, fmt.Sprintf("copy %s: offsite stored %v, declared %v", want.Name, stored.Offsite, want.Offsite))
	}
	if stored.PasswordSecret != want.PasswordSecret {
		out = append(out, fmt.Sprintf("copy %s: password_secret stored %q, declared %q", want.Name, stored.PasswordSecret, want.PasswordSecret))
	}
	return out
}

func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// brief keeps a logged value short: instructions may run to pages.
func brief(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 80 {
		return fmt.Sprintf("%q… (%d bytes)", s[:80], len(s))
	}
	return fmt.Sprintf("%q", s)
}
