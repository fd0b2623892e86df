package sources

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/opsguard/opsguard/backup"
)

// PgDump lists a directory of pg_dump custom-format files (pg_dump -Fc):
// every regular file that starts with the format's magic "PGDMP" is a
// full backup, taken at the time its name carries or else its
// modification time.
type PgDump struct {
	// MaxFiles bounds the directory read; default 100000.
	MaxFiles int
}

// PgDumpMediaType is the evidence of a listing: one line per dump, "name
// TAB size TAB time".
const PgDumpMediaType = "text/vnd.opsguard.pgdump-listing"

// List reads the directory.
func (p *PgDump) List(ctx context.Context, req backup.ListRequest) (backup.Listing, error) {
	dir := req.Copy.Location
	f, err := os.Open(dir)
	if err != nil {
		return backup.Listing{}, fmt.Errorf("dump directory: %w", err)
	}
	defer f.Close()
	limit := p.MaxFiles
	if limit == 0 {
		limit = 100000
	}
	ents, err := f.ReadDir(limit + 1)
	if err != nil && err != io.EOF {
		return backup.Listing{}, fmt.Errorf("dump directory %s: %w", dir, err)
	}
	if len(ents) > limit {
		return backup.Listing{}, fmt.Errorf("dump directory %s holds more than %d files", dir, limit)
	}
	var l backup.Listing
	var ev strings.Builder
	for _, e := range ents {
		if ctx.Err() != nil {
			return l, ctx.Err()
		}
		if !e.Type().IsRegular() || !isDump(filepath.Join(dir, e.Name())) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed while listed
		}
		at, ok := TimeInName(e.Name())
		if !ok {
			at = info.ModTime().UTC()
		}
		l.Snapshots = append(l.Snapshots, backup.Snapshot{ID: e.Name(), Time: at, Type: backup.Full, SizeBytes: info.Size()})
		fmt.Fprintf(&ev, "%s\t%d\t%s\n", e.Name(), info.Size(), at.Format(time.RFC3339))
	}
	l.Evidence, l.MediaType = []byte(ev.String()), PgDumpMediaType
	return l, nil
}

// isDump reports whether a file starts with pg_dump's custom format magic.
func isDump(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [5]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == "PGDMP"
}

// The timestamps a dump's name may carry, most precise first.
var nameTimes = []struct {
	re     *regexp.Regexp
	layout string
}{
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z`), "2006-01-02T15:04:05Z"},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z?`), "2006-01-02T15-04-05"},
	{regexp.MustCompile(`\d{8}T\d{6}Z?`), "20060102T150405"},
	{regexp.MustCompile(`\d{8}[-_]\d{6}`), "20060102-150405"},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}[_-]\d{2}-\d{2}`), "2006-01-02_15-04"},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}`), "2006-01-02"},
}

// TimeInName finds a UTC timestamp in a dump's file name: 2026-01-02T03:04:05Z,
// 2026-01-02T03-04-05, 20260102T030405Z, 20260102-030405,
// 2026-01-02_03-04 or 2026-01-02.
func TimeInName(name string) (time.Time, bool) {
	for _, nt := range nameTimes {
		m := nt.re.FindString(name)
		if m == "" {
			continue
		}
		m = strings.TrimSuffix(m, "Z")
		layout := strings.TrimSuffix(nt.layout, "Z")
		if len(m) > 8 && (m[8] == '_') {
			m = m[:8] + "-" + m[9:]
		}
		if len(m) > 10 && m[10] == '-' && layout == "2006-01-02_15-04" {
			m = m[:10] + "_" + m[11:]
		}
		if t, err := time.Parse(layout, m); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
