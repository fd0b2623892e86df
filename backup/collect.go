package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
)

// CollectResult says what the collection found in one copy.
type CollectResult struct {
	DataSet string `json:"dataset"`
	Copy    string `json:"copy"`
	Source  string `json:"source"`
	New     int    `json:"new"`
	Gone    int    `json:"gone"`
	Live    int    `json:"live"`
	Error   string `json:"error,omitempty"`
}

// maxSnapshots bounds one listing.
const maxSnapshots = 100000

// Collect lists every copy's snapshots through its source (a manifest
// copy is pushed to, not listed) and records what is new and what is
// gone. A copy that fails keeps what it had, records the error on itself,
// and does not stop the others; the error names those that failed.
func (s *Service) Collect(ctx context.Context, by string) ([]CollectResult, error) {
	cs, err := s.Copies(ctx)
	if err != nil {
		return nil, err
	}
	out := []CollectResult{}
	var failed []string
	for _, c := range cs {
		if c.Source == SourceManifest {
			continue
		}
		res, err := s.CollectCopy(ctx, by, c)
		if err != nil {
			res.Error = err.Error()
			failed = append(failed, err.Error())
		}
		out = append(out, res)
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%d copies failed to collect: %s", len(failed), strings.Join(failed, "; "))
	}
	return out, nil
}

// CollectCopy lists one copy and records its snapshots in one
// transaction, ledgered with the listing as evidence; a failure is
// recorded on the copy, ledgered, and returned naming data set, copy and
// cause.
func (s *Service) CollectCopy(ctx context.Context, by string, c Copy) (CollectResult, error) {
	res := CollectResult{DataSet: c.DataSet, Copy: c.Name, Source: c.Source}
	l, err := s.list(ctx, c)
	if err != nil {
		err = fmt.Errorf("data set %s, copy %s (%s): %w", c.DataSet, c.Name, c.Source, err)
		if rerr := s.recordFailure(ctx, by, c, err); rerr != nil {
			return res, errors.Join(err, rerr)
		}
		return res, err
	}
	at := s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		live, err := tx.LiveSnapshotIDs(ctx, c.ID)
		if err != nil {
			return err
		}
		var fresh []Snapshot
		seen := map[string]bool{}
		for _, sn := range l.Snapshots {
			seen[sn.ID] = true
			if !live[sn.ID] {
				sn.CopyID, sn.DataSetID, sn.SeenAt = c.ID, c.DataSetID, at
				fresh = append(fresh, sn)
			}
		}
		var gone []string
		for id := range live {
			if !seen[id] {
				gone = append(gone, id)
			}
		}
		if err := tx.PutSnapshots(ctx, fresh); err != nil {
			return err
		}
		if err := tx.MarkSnapshotsGone(ctx, c.ID, gone, at); err != nil {
			return err
		}
		c.CollectedAt, c.CollectError = &at, ""
		if err := tx.UpdateCopyCollect(ctx, c); err != nil {
			return err
		}
		blob, err := s.log.PutBlob(ctx, tx, l.MediaType, l.Evidence)
		if err != nil {
			return err
		}
		res.New, res.Gone, res.Live = len(fresh), len(gone), len(seen)
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by, Kind: "backup.collected", Subject: "backup-copy/" + c.ID,
			Payload: map[string]any{"dataset": c.DataSet, "copy": c.Name, "new": ids(fresh), "gone": gone, "live": len(seen), "evidence": []string{blob.Ref()}}})
		return err
	})
	return res, err
}

func ids(ss []Snapshot) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

// list asks the copy's source for its snapshots.
func (s *Service) list(ctx context.Context, c Copy) (Listing, error) {
	src, ok := s.opts.Sources[c.Source]
	if !ok {
		return Listing{}, fmt.Errorf("no source for %q on this server", c.Source)
	}
	pw, err := s.Password(c)
	if err != nil {
		return Listing{}, fmt.Errorf("password: %w", err)
	}
	var known map[string]bool
	err = s.store.View(ctx, func(tx Tx) error {
		known, err = tx.LiveSnapshotIDs(ctx, c.ID)
		return err
	})
	if err != nil {
		return Listing{}, err
	}
	l, err := src.List(ctx, ListRequest{Copy: c, Password: pw, Known: known})
	if err != nil {
		return l, err
	}
	if len(l.Snapshots) > maxSnapshots {
		return l, fmt.Errorf("%d snapshots, more than the %d one collection reads", len(l.Snapshots), maxSnapshots)
	}
	for i, sn := range l.Snapshots {
		if sn.ID == "" || sn.Time.IsZero() || !validType(sn.Type) {
			return l, fmt.Errorf("snapshot %d of the listing has no id, no time or an unknown type %q", i, sn.Type)
		}
	}
	if l.MediaType == "" {
		l.MediaType = "application/json"
	}
	return l, nil
}

func validType(t string) bool { return t == Full || t == Incremental || t == Differential }

// recordFailure keeps a failed collection's cause on the copy, ledgered.
func (s *Service) recordFailure(ctx context.Context, by string, c Copy, cause error) error {
	return s.store.Update(ctx, func(tx Tx) error {
		c.CollectError = cause.Error()
		if err := tx.UpdateCopyCollect(ctx, c); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: by, Kind: "backup.collect_failed", Subject: "backup-copy/" + c.ID,
			Payload: map[string]any{"dataset": c.DataSet, "copy": c.Name, "error": c.CollectError}})
		return err
	})
}

// Manifest is what a job opsguard cannot reach posts about a backup it
// took (the push manifest).
type Manifest struct {
	DataSet    string    `json:"dataset"`
	Copy       string    `json:"copy"`
	SnapshotID string    `json:"snapshot_id"`
	Time       time.Time `json:"time"`
	Type       string    `json:"type"`
	SizeBytes  int64     `json:"size_bytes"`
	Checksum   string    `json:"checksum"`
}

// Push records a backup a manifest reports, on a copy whose source is
// manifest. The same snapshot posted twice is recorded once.
func (s *Service) Push(ctx context.Context, by string, m Manifest) (Snapshot, error) {
	if err := m.Validate(s.now()); err != nil {
		return Snapshot{}, err
	}
	sn := Snapshot{ID: m.SnapshotID, Time: m.Time.UTC().Truncate(time.Second), Type: m.Type, SizeBytes: m.SizeBytes, Checksum: m.Checksum, SeenAt: s.now()}
	err := s.store.Update(ctx, func(tx Tx) error {
		d, err := tx.DataSetByName(ctx, m.DataSet)
		if opsguard.ErrorCode(err) == opsguard.ENotFound {
			return invalid("dataset", "dataset: no data set %q", m.DataSet)
		} else if err != nil {
			return err
		}
		c, err := tx.CopyByName(ctx, d.ID, m.Copy)
		if opsguard.ErrorCode(err) == opsguard.ENotFound {
			return invalid("copy", "copy: data set %s has no copy %q", d.Name, m.Copy)
		} else if err != nil {
			return err
		}
		if c.Source != SourceManifest {
			return invalid("copy", "copy: %s of data set %s is a %s copy, read by the collection; only a manifest copy takes pushes", c.Name, d.Name, c.Source)
		}
		sn.CopyID, sn.DataSetID = c.ID, d.ID
		live, err := tx.LiveSnapshotIDs(ctx, c.ID)
		if err != nil || live[sn.ID] {
			return err
		}
		if err := tx.PutSnapshots(ctx, []Snapshot{sn}); err != nil {
			return err
		}
		c.CollectedAt, c.CollectError = &sn.SeenAt, ""
		if err := tx.UpdateCopyCollect(ctx, c); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by, Kind: "backup.pushed", Subject: "backup-copy/" + c.ID, Payload: m})
		return err
	})
	return sn, err
}

// Validate checks a manifest's fields, naming the first that is wrong.
// A backup is not taken in the future: a time more than an hour ahead of
// now is refused.
func (m Manifest) Validate(now time.Time) error {
	switch {
	case m.DataSet == "":
		return invalid("dataset", "dataset: missing")
	case m.Copy == "":
		return invalid("copy", "copy: missing")
	case m.SnapshotID == "" || len(m.SnapshotID) > 200 || strings.ContainsAny(m.SnapshotID, "\x00\n\r\t"):
		return invalid("snapshot_id", "snapshot_id: 1 to 200 bytes, one line")
	case m.Time.IsZero():
		return invalid("time", "time: missing (RFC 3339)")
	case m.Time.After(now.Add(time.Hour)) || m.Time.Year() < 1990:
		return invalid("time", "time %s: not a time a backup was taken (in the future, or before 1990)", m.Time.Format(time.RFC3339))
	case !validType(m.Type):
		return invalid("type", "type %q: one of %s", m.Type, strings.Join(Types, ", "))
	case m.SizeBytes < 0:
		return invalid("size_bytes", "size_bytes: not negative")
	case len(m.Checksum) > 200:
		return invalid("checksum", "checksum: at most 200 bytes")
	}
	return nil
}
