package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard/backup"
)

// Restic lists a restic repository (Debian's restic 0.14: snapshots
// --json, stats --json). Every snapshot is a complete tree, so a full
// backup.
type Restic struct {
	Binary  string        // default "restic"
	Timeout time.Duration // of each run; default 10 minutes
	// MaxStats bounds how many new snapshots a listing sizes with stats
	// (one run each); default 50, the newest first.
	MaxStats int
}

// ResticMediaType is the evidence of a listing: restic's own JSON.
const ResticMediaType = "application/vnd.restic.snapshots+json"

// List runs restic snapshots --json, and stats --json for the newest new
// snapshots.
func (r *Restic) List(ctx context.Context, req backup.ListRequest) (backup.Listing, error) {
	out, err := r.run(ctx, req, "snapshots", "--json")
	if err != nil {
		return backup.Listing{}, err
	}
	ss, err := ParseResticSnapshots(out)
	if err != nil {
		return backup.Listing{}, fmt.Errorf("restic snapshots --json: %w", err)
	}
	slices.SortFunc(ss, func(a, b backup.Snapshot) int { return b.Time.Compare(a.Time) })
	n := r.MaxStats
	if n == 0 {
		n = 50
	}
	for i := range ss {
		if n == 0 {
			break
		}
		if req.Known[ss[i].ID] {
			continue
		}
		n--
		st, err := r.run(ctx, req, "stats", "--json", ss[i].ID)
		if err != nil {
			return backup.Listing{}, err
		}
		if ss[i].SizeBytes, err = ParseResticStats(st); err != nil {
			return backup.Listing{}, fmt.Errorf("restic stats --json %s: %w", ss[i].ID, err)
		}
	}
	return backup.Listing{Snapshots: ss, Evidence: out, MediaType: ResticMediaType}, nil
}

func (r *Restic) run(ctx context.Context, req backup.ListRequest, args ...string) ([]byte, error) {
	bin, timeout := r.Binary, r.Timeout
	if bin == "" {
		bin = "restic"
	}
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	// --no-lock: listing reads only, and a lock left by a backup running
	// now must not fail the collection.
	args = append([]string{"--repo", req.Copy.Location, "--no-cache", "--no-lock", "--quiet"}, args...)
	out, stderr, err := run(ctx, timeout, "RESTIC_", []string{"RESTIC_PASSWORD=" + req.Password}, bin, args...)
	if err != nil {
		return nil, ResticError(req.Copy.Location, stderr, err)
	}
	return out, nil
}

// ResticError says in words why restic failed: restic 0.14 exits 1 for
// every fatal error, so its standard error is read.
func ResticError(location, stderr string, err error) error {
	switch {
	case strings.Contains(stderr, "wrong password"):
		return fmt.Errorf("wrong password for the restic repository %s", location)
	case strings.Contains(stderr, "Is there a repository at the following location?"), strings.Contains(stderr, "unable to open config file"),
		strings.Contains(stderr, "repository does not exist"):
		return fmt.Errorf("no restic repository at %s", location)
	case strings.Contains(stderr, "repository is already locked"), strings.Contains(stderr, "unable to create lock"):
		return fmt.Errorf("the restic repository %s is locked: %s", location, lastLines(stderr, 2))
	case stderr != "":
		return fmt.Errorf("restic failed on %s: %s", location, lastLines(stderr, 3))
	}
	return fmt.Errorf("restic failed on %s: %w", location, err)
}

// resticSnapshot is what opsguard reads of restic's snapshot JSON.
type resticSnapshot struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths"`
	Tree     string    `json:"tree"`
}

// ParseResticSnapshots reads restic snapshots --json.
func ParseResticSnapshots(data []byte) ([]backup.Snapshot, error) {
	var raw []resticSnapshot
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, jsonError(err)
	}
	out := make([]backup.Snapshot, 0, len(raw))
	for i, s := range raw {
		if s.ID == "" || s.Time.IsZero() {
			return nil, fmt.Errorf("[%d]: a snapshot without an id or a time", i)
		}
		out = append(out, backup.Snapshot{ID: s.ID, Time: s.Time.UTC(), Type: backup.Full, Host: s.Hostname, Paths: s.Paths, Checksum: s.Tree})
	}
	return out, nil
}

// ParseResticStats reads restic stats --json: the snapshot's size as
// restored.
func ParseResticStats(data []byte) (int64, error) {
	var st struct {
		TotalSize *int64 `json:"total_size"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return 0, jsonError(err)
	}
	if st.TotalSize == nil || *st.TotalSize < 0 {
		return 0, fmt.Errorf("total_size: missing or negative")
	}
	return *st.TotalSize, nil
}

// jsonError names where JSON went wrong.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		return fmt.Errorf("field %q: want %s, got %s", te.Field, te.Type, te.Value)
	}
	return err
}
