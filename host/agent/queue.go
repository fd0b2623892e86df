package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Queue keeps the reports not yet accepted, one file each, named so that
// they sort oldest first. It holds at most max; when full, the oldest is
// dropped to make room (a week of reports at the default interval).
type Queue struct {
	dir     string
	max     int
	mu      sync.Mutex
	seq     int64
	Dropped int
}

// OpenQueue opens (creating) the queue in dir.
func OpenQueue(dir string, max int) (*Queue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return &Queue{dir: dir, max: max}, nil
}

// Names lists the queued reports, oldest first.
func (q *Queue) Names() ([]string, error) {
	es, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	var out []string
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".json") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// Push stores a report, written whole (to a temporary name, then renamed)
// so that a crash leaves no half report; key orders it (collection time).
func (q *Queue) Push(key int64, body []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	names, err := q.Names()
	if err != nil {
		return err
	}
	for len(names) >= q.max {
		if err := os.Remove(filepath.Join(q.dir, names[0])); err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		names = names[1:]
		q.Dropped++
	}
	q.seq++
	name := fmt.Sprintf("%020d-%06d.json", key, q.seq%1000000)
	tmp := filepath.Join(q.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, body, 0o600); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return os.Rename(tmp, filepath.Join(q.dir, name))
}

// Read returns a queued report.
func (q *Queue) Read(name string) ([]byte, error) { return os.ReadFile(filepath.Join(q.dir, name)) }

// Remove drops a report that was accepted (or refused for good).
func (q *Queue) Remove(name string) error {
	err := os.Remove(filepath.Join(q.dir, name))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}
