package sources

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/backup"
)

// PgBackRest lists a pgBackRest stanza with pgbackrest info
// --output=json, using the server's pgBackRest configuration; the copy's
// location is the stanza's name.
type PgBackRest struct {
	Binary  string        // default "pgbackrest"
	Timeout time.Duration // default 5 minutes
}

// PgBackRestMediaType is the evidence of a listing: pgBackRest's JSON.
const PgBackRestMediaType = "application/vnd.pgbackrest.info+json"

// List runs pgbackrest info.
func (p *PgBackRest) List(ctx context.Context, req backup.ListRequest) (backup.Listing, error) {
	bin, timeout := p.Binary, p.Timeout
	if bin == "" {
		bin = "pgbackrest"
	}
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	out, stderr, err := run(ctx, timeout, "PGBACKREST_STANZA", nil, bin, "--output=json", "--stanza="+req.Copy.Location, "info")
	if err != nil {
		if stderr != "" {
			return backup.Listing{}, fmt.Errorf("pgbackrest info of stanza %s: %s", req.Copy.Location, lastLines(stderr, 3))
		}
		return backup.Listing{}, fmt.Errorf("pgbackrest info of stanza %s: %w", req.Copy.Location, err)
	}
	ss, err := ParsePgBackRestInfo(out, req.Copy.Location)
	if err != nil {
		return backup.Listing{}, fmt.Errorf("pgbackrest info --output=json: %w", err)
	}
	return backup.Listing{Snapshots: ss, Evidence: out, MediaType: PgBackRestMediaType}, nil
}

// pgbrStanza is what opsguard reads of pgbackrest info --output=json.
type pgbrStanza struct {
	Name   string `json:"name"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	Backup []struct {
		Label     string `json:"label"`
		Type      string `json:"type"` // full | diff | incr
		Error     *bool  `json:"error"`
		Timestamp struct {
			Start int64 `json:"start"`
			Stop  int64 `json:"stop"`
		} `json:"timestamp"`
		Info struct {
			Size       int64 `json:"size"`
			Repository struct {
				Size int64 `json:"size"`
			} `json:"repository"`
		} `json:"info"`
		Database struct {
			ID int `json:"id"`
		} `json:"database"`
	} `json:"backup"`
}

var pgbrTypes = map[string]string{"full": backup.Full, "diff": backup.Differential, "incr": backup.Incremental}

// ParsePgBackRestInfo reads the backups of stanza from pgbackrest info
// --output=json. A backup pgBackRest marks as in error is left out: it is
// not a good backup. A stanza in error (status code other than 0, 2 "no
// valid backups") is an error naming its message.
func ParsePgBackRestInfo(data []byte, stanza string) ([]backup.Snapshot, error) {
	var stanzas []pgbrStanza
	if err := json.Unmarshal(data, &stanzas); err != nil {
		return nil, jsonError(err)
	}
	for i, st := range stanzas {
		if st.Name != stanza {
			continue
		}
		if st.Status.Code != 0 && st.Status.Code != 2 {
			return nil, fmt.Errorf("[%d].status: stanza %s: %s (code %d)", i, stanza, st.Status.Message, st.Status.Code)
		}
		out := []backup.Snapshot{}
		for j, b := range st.Backup {
			typ, ok := pgbrTypes[b.Type]
			switch {
			case b.Label == "":
				return nil, fmt.Errorf("[%d].backup[%d].label: missing", i, j)
			case !ok:
				return nil, fmt.Errorf("[%d].backup[%d].type: %q is not full, diff or incr", i, j, b.Type)
			case b.Timestamp.Stop <= 0:
				return nil, fmt.Errorf("[%d].backup[%d].timestamp.stop: missing", i, j)
			case b.Error != nil && *b.Error:
				continue
			}
			out = append(out, backup.Snapshot{ID: b.Label, Time: time.Unix(b.Timestamp.Stop, 0).UTC(), Type: typ, SizeBytes: b.Info.Size})
		}
		return out, nil
	}
	return nil, fmt.Errorf("no stanza %q in the output", stanza)
}
