package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
)

// Reader is what Export reads, all in the caller's one read snapshot;
// the store's transaction has these methods.
type Reader interface {
	ledger.LeafScanner
	LedgerHead(ctx context.Context) (ledger.Checkpoint, bool, error)
	ScanCheckpoints(ctx context.Context, from, to time.Time, fn func(ledger.Checkpoint) error) error
	LedgerSeqRange(ctx context.Context, from, to time.Time) (first, last int64, ok bool, err error)
	ScanEntries(ctx context.Context, from, to int64, fn func(*ledger.Entry) error) error
	Blob(ctx context.Context, sha string) (ledger.Blob, error)
}

// Options say what Export writes.
type Options struct {
	From, To     time.Time // the period, [From, To)
	Requirements []string  // patterns ("CM-*", "LG-3"); none: every requirement
	Actor        string    // who asked
	Controls     []ControlInfo
	Now          time.Time
	Signer       note.Signer
	PublicKey    string
	// PDF prints the report; nil leaves report.pdf out.
	PDF func(ctx context.Context, html []byte) ([]byte, error)
}

// CheckPeriod refuses a period that is empty or runs backwards.
func CheckPeriod(from, to time.Time) error {
	if from.IsZero() || to.IsZero() {
		return opsguard.Errorf(opsguard.EInvalid, "from and to: both are needed")
	}
	if !to.After(from) {
		return opsguard.Errorf(opsguard.EInvalid, "to (%s) must come after from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return nil
}

// CheckRequirements refuses a pattern that is malformed or selects no
// requirement of the policy.
func CheckRequirements(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return opsguard.Errorf(opsguard.EInvalid, "requirements: %q is not a pattern (CM-*, LG-3): %v", p, err)
		}
		found := false
		for _, r := range control.Requirements {
			found = found || Selected(r.ID, []string{p})
		}
		if !found {
			return opsguard.Errorf(opsguard.EInvalid, "requirements: %q matches no requirement of the policy (CM-1 … GV-5)", p)
		}
	}
	return nil
}

// Prepare checks the period holds entries before a byte is written, so
// that a refused export leaves nothing half-written.
func Prepare(ctx context.Context, r Reader, from, to time.Time) error {
	if err := CheckPeriod(from, to); err != nil {
		return err
	}
	_, _, ok, err := r.LedgerSeqRange(ctx, from, to)
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	if !ok {
		return opsguard.Errorf(opsguard.ENotFound, "the period %s to %s holds no ledger entries: nothing to export", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return nil
}

// Export writes the bundle of the period to w, streaming: entries,
// proofs and evidence are written as they are read. It returns the
// manifest and the SHA-256 of its canonical form (the one manifest.sig
// signs).
func Export(ctx context.Context, r Reader, w io.Writer, opts Options) (*Manifest, string, error) {
	if err := Prepare(ctx, r, opts.From, opts.To); err != nil {
		return nil, "", err
	}
	first, last, _, err := r.LedgerSeqRange(ctx, opts.From, opts.To)
	if err != nil {
		return nil, "", err
	}
	head, ok, err := r.LedgerHead(ctx)
	if err != nil || !ok {
		return nil, "", fmt.Errorf("audit export: no signed checkpoint (%v)", err)
	}
	if last > head.Size {
		return nil, "", fmt.Errorf("audit export: entries beyond the newest checkpoint %d; run opsguard ledger verify", head.Size)
	}
	prover, err := ledger.NewProver(ctx, r, head.Size, head.Root)
	if err != nil {
		return nil, "", fmt.Errorf("audit export: %w", err)
	}
	m := &Manifest{Format: Format, Origin: opts.Signer.Name(), PublicKey: opts.PublicKey, From: opts.From.UTC(), To: opts.To.UTC(),
		Requirements: opts.Requirements, CreatedAt: opts.Now.UTC().Truncate(time.Second), CreatedBy: opts.Actor,
		FirstSeq: first, LastSeq: last, TreeSize: head.Size}
	if m.Requirements == nil {
		m.Requirements = []string{}
	}
	bw := newBundleWriter(w, m.CreatedAt)
	col := newCollector(opts.Controls)
	refs, n, err := writeEntries(ctx, r, bw, first, last, col)
	if err != nil {
		return nil, "", err
	}
	if n != last-first+1 {
		return nil, "", fmt.Errorf("audit export: %d entries stored between %d and %d, want %d; run opsguard ledger verify", n, first, last, last-first+1)
	}
	m.Entries = n
	if err := writeInclusion(bw, prover, first, last); err != nil {
		return nil, "", err
	}
	if m.Blobs, err = writeBlobs(ctx, r, bw, refs); err != nil {
		return nil, "", err
	}
	if m.Checkpoints, err = writeCheckpoints(ctx, r, bw, prover, head, opts.From, opts.To); err != nil {
		return nil, "", err
	}
	res := col.results(m.From, m.To, opts.Requirements)
	if err := writeReports(ctx, bw, m, res, opts.PDF); err != nil {
		return nil, "", err
	}
	sum, err := writeManifest(bw, m, opts.Signer)
	if err != nil {
		return nil, "", err
	}
	return m, sum, bw.finish()
}

// writeEntries writes entries.jsonl and returns the evidence the entries
// refer to. An entry that does not match its own hashes stops the export:
// the ledger needs verifying first.
func writeEntries(ctx context.Context, r Reader, bw *bundleWriter, first, last int64, col *collector) ([]string, int64, error) {
	w, err := bw.create(EntriesName, true)
	if err != nil {
		return nil, 0, err
	}
	var n int64
	buf := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(buf)
	refs := map[string]bool{}
	var tbuf []byte
	err = r.ScanEntries(ctx, first, last, func(e *ledger.Entry) error {
		if !bytes.Equal(ledger.PayloadHashOf(e.Payload), e.PayloadHash) || !bytes.Equal(e.ComputeLeafHash(), e.LeafHash) {
			return fmt.Errorf("ledger entry %d does not match its hashes; run opsguard ledger verify", e.Seq)
		}
		tbuf = ledger.AppendTime(tbuf[:0], e.Time)
		be := Entry{Seq: e.Seq, Time: string(tbuf), Actor: e.Actor, Kind: e.Kind, Subject: e.Subject,
			PayloadSHA256: hex.EncodeToString(e.PayloadHash), Payload: e.Payload}
		if err := enc.Encode(&be); err != nil {
			return err
		}
		n++
		col.add(&be)
		for _, ref := range evidenceRefs(e.Payload) {
			refs[ref] = true
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("audit export: entries: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return nil, 0, err
	}
	out := make([]string, 0, len(refs))
	for r := range refs {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, n, nil
}

// evidenceRefs are the hex hashes of the evidence a payload lists under
// "evidence" ("sha256:<hex>"), as ledger verify reads them.
func evidenceRefs(payload []byte) []string {
	if !bytes.Contains(payload, []byte(`"sha256:`)) {
		return nil
	}
	var p struct {
		Evidence []string `json:"evidence"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return nil
	}
	var out []string
	for _, r := range p.Evidence {
		if h, ok := strings.CutPrefix(r, "sha256:"); ok && len(h) == 64 {
			if _, err := hex.DecodeString(h); err == nil {
				out = append(out, h)
			}
		}
	}
	return out
}

func writeInclusion(bw *bundleWriter, p *ledger.Prover, first, last int64) error {
	w, err := bw.create(InclusionName, false)
	if err != nil {
		return err
	}
	buf := bufio.NewWriterSize(w, 256<<10)
	fmt.Fprintf(buf, "%s %d\n", inclusionMagic, p.Size())
	var rec [9]byte
	for seq := first; seq <= last; seq++ {
		path, err := p.Inclusion(seq)
		if err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		binary.BigEndian.PutUint64(rec[:8], uint64(seq))
		rec[8] = byte(len(path))
		buf.Write(rec[:])
		for _, h := range path {
			buf.Write(h)
		}
	}
	return buf.Flush()
}

func writeBlobs(ctx context.Context, r Reader, bw *bundleWriter, refs []string) (int, error) {
	for _, sha := range refs {
		b, err := r.Blob(ctx, sha)
		if err != nil {
			return 0, fmt.Errorf("audit export: evidence sha256:%s: %w", sha, err)
		}
		if err := bw.put(blobDir+sha, b.Content, false); err != nil {
			return 0, err
		}
	}
	return len(refs), nil
}

// writeCheckpoints writes the last checkpoint signed on each day of the
// period and the newest, with consistency proofs chaining each to the
// next: the log grew append-only through the period, day by day, up to
// the checkpoint every entry is proved in. (One checkpoint is signed per
// write; a year's hundreds of thousands would add nothing a daily chain
// does not show.)
func writeCheckpoints(ctx context.Context, r Reader, bw *bundleWriter, p *ledger.Prover, head ledger.Checkpoint, from, to time.Time) (int, error) {
	var cps []ledger.Checkpoint
	err := r.ScanCheckpoints(ctx, from, to, func(cp ledger.Checkpoint) error {
		if cp.Size >= head.Size {
			return nil
		}
		if n := len(cps); n > 0 && sameDay(cps[n-1].Time, cp.Time) {
			cps[n-1] = cp
		} else {
			cps = append(cps, cp)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("audit export: checkpoints: %w", err)
	}
	cps = append(cps, head)
	w, err := bw.create(CheckpointsName, true)
	if err != nil {
		return 0, err
	}
	enc := json.NewEncoder(w)
	for _, cp := range cps {
		if err := enc.Encode(Checkpoint{Size: cp.Size, Time: string(ledger.AppendTime(nil, cp.Time)), Note: string(cp.Note)}); err != nil {
			return 0, err
		}
	}
	w, err = bw.create(ConsistencyName, true)
	if err != nil {
		return 0, err
	}
	enc = json.NewEncoder(w)
	for i := 1; i < len(cps); i++ {
		path, err := p.Consistency(cps[i-1].Size, cps[i].Size)
		if err != nil {
			return 0, fmt.Errorf("audit export: %w", err)
		}
		if err := enc.Encode(Consistency{From: cps[i-1].Size, To: cps[i].Size, Hashes: path}); err != nil {
			return 0, err
		}
	}
	return len(cps), nil
}

func sameDay(a, b time.Time) bool {
	return a.UTC().Truncate(24 * time.Hour).Equal(b.UTC().Truncate(24 * time.Hour))
}

func writeReports(ctx context.Context, bw *bundleWriter, m *Manifest, res Results, pdf func(context.Context, []byte) ([]byte, error)) error {
	if _, err := bw.putJSON(ResultsName, res); err != nil {
		return err
	}
	if _, err := bw.putJSON(OSCALName, NewOSCAL(m, res)); err != nil {
		return err
	}
	html, err := renderHTML(m, res)
	if err != nil {
		return err
	}
	if err := bw.put(HTMLName, html, true); err != nil {
		return err
	}
	if pdf == nil {
		return nil
	}
	doc, err := pdf(ctx, html)
	if err != nil {
		return fmt.Errorf("audit export: print the report: %w", err)
	}
	return bw.put(PDFName, doc, true)
}

// writeManifest lists the members written so far, writes the manifest
// and its signature, and returns the manifest's canonical hash.
func writeManifest(bw *bundleWriter, m *Manifest, s note.Signer) (string, error) {
	if err := bw.close(); err != nil {
		return "", err
	}
	m.Members = append([]Member(nil), bw.members...)
	body, err := bw.putJSON(ManifestName, m)
	if err != nil {
		return "", err
	}
	sum, err := contentHash(ManifestName, body)
	if err != nil {
		return "", err
	}
	sig, err := signManifest(s, sum)
	if err != nil {
		return "", fmt.Errorf("sign the manifest: %w", err)
	}
	return sum, bw.put(SignatureName, sig, true)
}

// ParseDate reads a period bound: a date (YYYY-MM-DD, midnight UTC) or
// an RFC 3339 time. end makes a date mean the end of that day.
func ParseDate(s string, end bool) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, opsguard.Errorf(opsguard.EInvalid, "%q: want a date (2026-01-31) or an RFC 3339 time", s)
	}
	return t.UTC(), nil
}
