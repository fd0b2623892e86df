package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// ExportReader is what NewExport reads from the caller's open (read)
// transaction, all in its one snapshot; the store's transaction has these
// methods.
type ExportReader interface {
	// Checkpoints returns every checkpoint by size.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	// ScanEntries calls fn for every entry with from <= seq <= to (to 0:
	// no upper bound) in order; the entry is lent only during fn.
	ScanEntries(ctx context.Context, from, to int64, fn func(*Entry) error) error
	// ScanBlobs calls fn for every evidence blob.
	ScanBlobs(ctx context.Context, fn func(Blob) error) error
}

// Export is everything needed to verify the ledger offline with the public
// key alone: entries, checkpoints and evidence.
type Export struct {
	Format      string       `json:"format"`
	PublicKey   string       `json:"public_key"`
	Checkpoints []Checkpoint `json:"checkpoints"`
	Entries     []Entry      `json:"entries"`
	Blobs       []Blob       `json:"evidence"`
}

// ExportFormat names the export's layout.
const ExportFormat = "opsguard-ledger-export/v1"

// NewExport collects the whole ledger r reads; public is the key its
// checkpoints verify with.
func NewExport(ctx context.Context, r ExportReader, public string) (*Export, error) {
	x := &Export{Format: ExportFormat, PublicKey: public, Entries: []Entry{}, Blobs: []Blob{}}
	var err error
	if x.Checkpoints, err = r.Checkpoints(ctx); err != nil {
		return nil, err
	}
	if err := r.ScanEntries(ctx, 1, 0, func(e *Entry) error {
		c := *e // the scan lends its buffers: keep copies
		c.Payload = append([]byte(nil), e.Payload...)
		c.PayloadHash = append([]byte(nil), e.PayloadHash...)
		c.LeafHash = append([]byte(nil), e.LeafHash...)
		x.Entries = append(x.Entries, c)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := r.ScanBlobs(ctx, func(b Blob) error {
		x.Blobs = append(x.Blobs, b)
		return nil
	}); err != nil {
		return nil, err
	}
	return x, nil
}

// Verify checks an export offline: against its own public key, or against
// trusted when given (the key an auditor got by other means).
func (x *Export) Verify(ctx context.Context, trusted string) (*Report, error) {
	if x.Format != ExportFormat {
		return nil, fmt.Errorf("export: format %q, want %q", x.Format, ExportFormat)
	}
	pub := x.PublicKey
	if trusted != "" {
		pub = trusted
	}
	// Entries out of order would hide from the range scans: order them,
	// and Verify reports any gap or repetition.
	sort.SliceStable(x.Entries, func(i, j int) bool { return x.Entries[i].Seq < x.Entries[j].Seq })
	v, err := NewVerifier(pub)
	if err != nil {
		return nil, err
	}
	return Verify(ctx, exportSource{x}, v, nil)
}

type exportSource struct{ x *Export }

// Snapshot gives the export's checkpoints and its range of sequence
// numbers (the entries are sorted by Verify).
func (s exportSource) Snapshot(context.Context) ([]Checkpoint, int64, int64, error) {
	if len(s.x.Entries) == 0 {
		return s.x.Checkpoints, 1, 0, nil
	}
	return s.x.Checkpoints, s.x.Entries[0].Seq, s.x.Entries[len(s.x.Entries)-1].Seq, nil
}

// ScanEntries walks the export's entries in seq order within [from, to].
func (s exportSource) ScanEntries(_ context.Context, from, to int64, fn func(*Entry) error) error {
	i := sort.Search(len(s.x.Entries), func(i int) bool { return s.x.Entries[i].Seq >= from })
	for ; i < len(s.x.Entries) && s.x.Entries[i].Seq <= to; i++ {
		e := s.x.Entries[i] // a copy: ranges are walked concurrently
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

func (s exportSource) ScanBlobs(_ context.Context, fn func(Blob) error) error {
	for _, b := range s.x.Blobs {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// exportEntry is an entry as an export carries it: its payload readable
// as JSON and, in payload_bytes, as the exact bytes its hash is of, so
// that reformatting the export (jq .) never makes an honest entry fail.
type exportEntry struct {
	Entry
	PayloadBytes []byte `json:"payload_bytes"`
}

type exportJSON struct {
	Format      string        `json:"format"`
	PublicKey   string        `json:"public_key"`
	Checkpoints []Checkpoint  `json:"checkpoints"`
	Entries     []exportEntry `json:"entries"`
	Blobs       []Blob        `json:"evidence"`
}

// MarshalJSON writes each entry's payload also as exact bytes.
func (x Export) MarshalJSON() ([]byte, error) {
	j := exportJSON{Format: x.Format, PublicKey: x.PublicKey, Checkpoints: x.Checkpoints, Blobs: x.Blobs, Entries: make([]exportEntry, len(x.Entries))}
	for i, e := range x.Entries {
		j.Entries[i] = exportEntry{Entry: e, PayloadBytes: e.Payload}
	}
	return json.Marshal(j)
}

// UnmarshalJSON takes each entry's payload from its exact bytes when the
// export carries them (exports written before did not).
func (x *Export) UnmarshalJSON(b []byte) error {
	var j exportJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*x = Export{Format: j.Format, PublicKey: j.PublicKey, Checkpoints: j.Checkpoints, Blobs: j.Blobs, Entries: make([]Entry, len(j.Entries))}
	for i, e := range j.Entries {
		x.Entries[i] = e.Entry
		if e.PayloadBytes != nil {
			x.Entries[i].Payload = e.PayloadBytes
		}
	}
	return nil
}
