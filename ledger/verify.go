package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

// Source is what Verify reads.
type Source interface {
	// Snapshot returns every stored checkpoint (by size) and the lowest and
	// highest stored sequence numbers, read in one consistent snapshot.
	Snapshot(ctx context.Context) (cps []Checkpoint, minSeq, maxSeq int64, err error)
	// ScanEntries calls fn for every entry with from <= seq <= to, in
	// order. The entry passed to fn is reused between calls. Ranges may be
	// scanned concurrently.
	ScanEntries(ctx context.Context, from, to int64, fn func(*Entry) error) error
	// ScanBlobs calls fn for every evidence blob.
	ScanBlobs(ctx context.Context, fn func(Blob) error) error
}

// Report is the outcome of Verify.
type Report struct {
	Entries     int64    `json:"entries"`
	Checkpoints int      `json:"checkpoints"`
	Blobs       int      `json:"blobs"`
	Size        int64    `json:"size"`      // of the newest valid checkpoint
	Root        []byte   `json:"root_hash"` // of the newest valid checkpoint
	External    int64    `json:"external_size,omitempty"`
	Witnessed   int64    `json:"witnessed_size,omitempty"`
	FirstBadSeq int64    `json:"first_bad_seq,omitempty"`
	Problems    []string `json:"problems,omitempty"`

	state *Verified
}

// State is the state to resume from next time (see VerifyOptions), nil
// unless the ledger verified.
func (r *Report) State() *Verified { return r.state }

// OK reports whether nothing was found wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) bad(seq int64, format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	if seq > 0 && (r.FirstBadSeq == 0 || seq < r.FirstBadSeq) {
		r.FirstBadSeq = seq
	}
}

// target is a signed root the recomputed tree must match at its size.
type target struct {
	size  int64
	root  []byte
	label string
}

// chunkSize is how many entries one worker checks at a time. Chunks are
// scanned and hashed in parallel and folded into the tree in order.
const chunkSize = 16384

// chunk is the checked content of one range of sequence numbers.
type chunk struct {
	leaves  [][]byte // leaf hashes of the rows found, in order
	bad     []bool   // rows whose own hashes did not match
	seqs    []int64  // their sequence numbers
	refs    map[string]int64
	problem []string // per-row problems, in order
	badSeqs []int64
	seals   []sealEntry // the entries that seal rows
	err     error
}

// VerifyOptions say what Verify checks beyond the stored checkpoints.
type VerifyOptions struct {
	// External is the checkpoint kept outside the database, nil when there
	// is none.
	External []byte
	// Witnessed is the newest checkpoint the witness cosigned, nil when
	// there is no witness: the ledger must contain its size, consistently.
	Witnessed []byte
	// Verified is the state a previous verification passed at, kept beside
	// the checkpoint file (nil: none). It is a target like External; with
	// Incremental, the entries it covers are not read again.
	Verified    *Verified
	Incremental bool
	// Live is set for the instance's own database (not an export): the
	// newest checkpoint must pass the appender's own check (its frontier,
	// nothing stored beyond it), and a ledger with entries must have its
	// checkpoint kept outside the database.
	Live bool
}

// Verify recomputes the tree from src and checks every entry against its
// hashes, the tree against every stored checkpoint and against external
// (the checkpoint kept outside the database; nil to skip), and every blob
// against its hash. Problems are reported, not returned as errors; an
// error means the check itself could not run.
func Verify(ctx context.Context, src Source, v note.Verifier, external []byte) (*Report, error) {
	return VerifyWith(ctx, src, v, VerifyOptions{External: external})
}

// VerifyWith is Verify with the checks opts add.
func VerifyWith(ctx context.Context, src Source, v note.Verifier, opts VerifyOptions) (*Report, error) {
	rep := &Report{}
	cps, minSeq, maxSeq, err := src.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	rep.Checkpoints = len(cps)
	since := opts.Verified
	if since != nil && !opts.Incremental {
		since = nil
	}
	start := int64(0)
	if since != nil {
		start = since.Size
	}
	targets := checkSignatures(cps, start, v, rep)
	checkChain(cps, start, targets, rep)
	targets = append(targets, outsideTargets(opts, maxSeq, v, rep)...)
	sort.SliceStable(targets, func(i, j int) bool { return targets[i].size < targets[j].size })
	if opts.Live {
		var head *Checkpoint
		if len(cps) > 0 {
			head = &cps[len(cps)-1]
		}
		if _, herr := checkHead(head, maxSeq, v); herr != nil {
			rep.bad(herr.Seq, "%s", herr.Msg)
		}
	}

	rng := factory.NewEmptyRange(0)
	first := min(minSeq, 1) // a row slipped in below the first entry must be seen
	if since != nil {
		if rng, err = since.open(v); err != nil {
			rep.bad(0, "%s", err)
			return rep, nil
		}
		if maxSeq < since.Size {
			rep.bad(maxSeq+1, "the checkpoint verified before (kept beside the key) covers %d entries but the ledger holds %d: entries %d..%d were deleted", since.Size, maxSeq, maxSeq+1, since.Size)
			return rep, nil
		}
		first = since.Size + 1
		targets = belowStart(targets, since, cps, rep)
	}
	count, refs, seals, err := fold(ctx, src, rng, first, maxSeq, targets, rep)
	if err != nil {
		return nil, err
	}
	rep.Entries = count
	if !opts.Live && maxSeq > rep.Size {
		rep.bad(rep.Size+1, "entries %d..%d are not covered by any signed checkpoint: written behind the server's back", rep.Size+1, maxSeq)
	}
	if since == nil {
		if err := verifyBlobs(ctx, src, refs, rep); err != nil {
			return nil, err
		}
		if rs, ok := src.(RowSource); ok {
			if err := checkRows(ctx, rs, seals, maxSeq, rep); err != nil {
				return nil, err
			}
		}
	}
	if rep.OK() && len(cps) > 0 && rng.End() == uint64(rep.Size) {
		cp := cps[len(cps)-1]
		rep.state = &Verified{Size: cp.Size, Root: cp.Root, Note: string(cp.Note), Frontier: rng.Hashes()}
	}
	return rep, nil
}

// outsideTargets are the checkpoints kept outside the database that the
// ledger must contain: the file, the witness's, the last verified.
func outsideTargets(opts VerifyOptions, maxSeq int64, v note.Verifier, rep *Report) []target {
	var ts []target
	switch {
	case opts.External != nil:
		_, size, root, err := OpenCheckpoint(opts.External, v)
		if err != nil {
			rep.bad(0, "checkpoint file: %v", err)
		} else {
			rep.External = size
			ts = append(ts, target{size, root, "the checkpoint kept outside the database"})
		}
	case opts.Live && maxSeq > 0:
		rep.bad(0, "the ledger holds entries but no checkpoint is kept outside the database (the file beside the ledger key is missing): entries may have been cut off the tail")
	}
	if opts.Witnessed != nil {
		_, size, root, err := OpenCheckpoint(opts.Witnessed, v)
		if err != nil {
			rep.bad(0, "witnessed checkpoint: %v", err)
		} else {
			rep.Witnessed = size
			ts = append(ts, target{size, root, "the checkpoint the witness cosigned"})
		}
	}
	if opts.Verified != nil {
		ts = append(ts, target{opts.Verified.Size, opts.Verified.Root, "the checkpoint verified before (kept beside the key)"})
	}
	return ts
}

// checkChain reports a checkpoint whose link names a size other than
// that of the checkpoint stored before it: the one between was deleted.
// Checkpoints of size at most start were checked before; signed are the
// checkpoints whose signatures verified.
func checkChain(cps []Checkpoint, start int64, signed []target, rep *Report) {
	valid := make(map[int64]bool, len(signed))
	for _, t := range signed {
		valid[t.size] = true
	}
	for i, cp := range cps {
		if cp.Size <= start || !valid[cp.Size] {
			continue // checked before, or its signature reported already
		}
		prev := prevOf(cp.Note)
		if prev < 0 {
			continue // signed before links existed
		}
		before := int64(0)
		if i > 0 {
			before = cps[i-1].Size
		}
		if prev != before {
			rep.bad(min(prev, before)+1, "signed checkpoint %d follows checkpoint %d, but the checkpoint stored before it is %d: a checkpoint was deleted", cp.Size, prev, before)
		}
	}
}

// belowStart checks the targets an incremental verification does not
// reach against the stored checkpoint of their size, and returns the rest.
func belowStart(ts []target, since *Verified, cps []Checkpoint, rep *Report) []target {
	roots := map[int64][]byte{since.Size: since.Root}
	for _, cp := range cps {
		if cp.Size < since.Size {
			roots[cp.Size] = cp.Root
		}
	}
	var rest []target
	for _, t := range ts {
		if t.size > since.Size {
			rest = append(rest, t)
			continue
		}
		if r, ok := roots[t.size]; !ok || !bytes.Equal(r, t.root) {
			rep.bad(0, "%s (size %d) does not match the signed checkpoint of that size", t.label, t.size)
		}
	}
	return rest
}

// fold reads entries first..last into rng, checking the targets as the
// tree reaches their sizes, and returns the number of entries in the tree
// and the evidence the entries refer to.
func fold(ctx context.Context, src Source, rng *compact.Range, first, last int64, targets []target, rep *Report) (int64, map[string]int64, []sealEntry, error) {
	chunks := scanChunks(ctx, src, first, last)
	count := int64(rng.End())
	var expect, good, precise int64 = count + 1, count, 0
	mismatched, later := false, 0 // later: checkpoints failing only because an earlier one did
	refs := map[string]int64{}
	var seals []sealEntry
	ti := 0
	for c := range chunks {
		if c.err != nil {
			return 0, nil, nil, fmt.Errorf("read entries: %w", c.err)
		}
		for r, leaf := range c.leaves {
			seq := c.seqs[r]
			switch {
			case seq > expect:
				rep.bad(expect, "entries %d..%d are missing: deleted from the ledger", expect, seq-1)
				precise = count + 1
			case seq < 1:
				// FirstBadSeq counts from 1; the message names the row.
				rep.bad(1, "entry %d is numbered below the first entry: inserted behind the server's back", seq)
				precise = count + 1
			case seq < expect:
				rep.bad(seq, "entry %d is out of order or repeated", seq)
				precise = count + 1
			}
			expect = seq + 1
			if c.bad[r] {
				precise = count + 1
			}
			if err := rng.Append(leaf, nil); err != nil {
				return 0, nil, nil, err
			}
			count++
			for ; ti < len(targets) && targets[ti].size == count; ti++ {
				root, err := rng.GetRootHash(nil)
				if err != nil {
					return 0, nil, nil, err
				}
				switch {
				case bytes.Equal(root, targets[ti].root):
					good = count
				case !mismatched:
					// Every later root includes the same damage: report the
					// first, count the rest.
					mismatched = true
					blame := good + 1
					if precise > good {
						blame = 0
					}
					rep.bad(blame, "%s (size %d) does not match the stored entries: an entry in %d..%d was edited, inserted or deleted", targets[ti].label, targets[ti].size, good+1, count)
				default:
					later++
				}
			}
		}
		for i, p := range c.problem {
			rep.bad(c.badSeqs[i], "%s", p)
		}
		seals = append(seals, c.seals...)
		for r, seq := range c.refs {
			if _, ok := refs[r]; !ok {
				refs[r] = seq
			}
		}
	}
	if later > 0 {
		rep.bad(0, "%d later checkpoints no longer match for the same reason", later)
	}
	for ; ti < len(targets); ti++ {
		if targets[ti].size <= count {
			continue // reached before the first entry read (incremental)
		}
		rep.bad(count+1, "%s covers %d entries but the ledger holds %d: entries %d..%d were deleted", targets[ti].label, targets[ti].size, count, count+1, targets[ti].size)
	}
	return count, refs, seals, nil
}

// scanChunks reads and checks the ranges of [first, last] on as many
// workers as there are processors and delivers the chunks in order.
func scanChunks(ctx context.Context, src Source, first, last int64) <-chan *chunk {
	n := 0
	if last >= first {
		n = int((last - first + chunkSize) / chunkSize)
	}
	slots := make([]chan *chunk, n)
	for i := range slots {
		slots[i] = make(chan *chunk, 1)
	}
	out := make(chan *chunk)
	ctx, cancel := context.WithCancel(ctx)
	next := make(chan int)
	go func() {
		defer close(next)
		for i := 0; i < n; i++ {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	workers := runtime.GOMAXPROCS(0)
	// Bound the chunks in flight so memory stays flat on huge ledgers.
	window := make(chan struct{}, 2*workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := range next {
				window <- struct{}{}
				from := first + int64(i)*chunkSize
				slots[i] <- checkChunk(ctx, src, from, min(from+chunkSize-1, last))
			}
		}()
	}
	go func() {
		defer close(out)
		defer cancel()
		for i := 0; i < n; i++ {
			var c *chunk
			select {
			case c = <-slots[i]:
			case <-ctx.Done():
				return
			}
			<-window
			out <- c
			if c.err != nil {
				return
			}
		}
	}()
	return out
}

// checkChunk checks each entry of [from, to] against its own hashes.
func checkChunk(ctx context.Context, src Source, from, to int64) *chunk {
	c := &chunk{leaves: make([][]byte, 0, to-from+1), refs: map[string]int64{}}
	buf := make([]byte, 0, 256)
	c.err = src.ScanEntries(ctx, from, to, func(e *Entry) error {
		bad := false
		if sum := sha256.Sum256(e.Payload); !bytes.Equal(sum[:], e.PayloadHash) {
			c.problem = append(c.problem, fmt.Sprintf("entry %d: payload does not match its hash: edited", e.Seq))
			c.badSeqs = append(c.badSeqs, e.Seq)
			bad = true
		}
		buf = e.appendLeafData(buf[:0])
		leaf := hashLeaf(buf)
		if !bytes.Equal(leaf, e.LeafHash) {
			c.problem = append(c.problem, fmt.Sprintf("entry %d: fields do not match its leaf hash: edited", e.Seq))
			c.badSeqs = append(c.badSeqs, e.Seq)
			bad = true
		}
		collectRefs(e, c.refs)
		if e.Kind == KindRows || e.Kind == KindSealed {
			c.seals = append(c.seals, sealEntry{e.Seq, e.Kind, bytes.Clone(e.Payload)})
		}
		c.leaves = append(c.leaves, leaf)
		c.bad = append(c.bad, bad)
		c.seqs = append(c.seqs, e.Seq)
		return ctx.Err()
	})
	return c
}

// checkSignatures verifies every checkpoint's signature (in parallel: there
// is one per write transaction) and returns the valid ones as targets.
func checkSignatures(cps []Checkpoint, start int64, v note.Verifier, rep *Report) []target {
	if start > 0 {
		// An incremental check reads only the checkpoints after start.
		i := sort.Search(len(cps), func(i int) bool { return cps[i].Size > start })
		for _, cp := range cps[:i] {
			if cp.Size >= rep.Size {
				rep.Size, rep.Root = cp.Size, cp.Root
			}
		}
		cps = cps[i:]
	}
	errs := make([]error, len(cps))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(cps); i += workers {
				errs[i] = cps[i].verify(v)
			}
		}(w)
	}
	wg.Wait()
	targets := make([]target, 0, len(cps))
	for i, cp := range cps {
		if errs[i] != nil {
			rep.bad(0, "checkpoint at size %d: %v", cp.Size, errs[i])
			continue
		}
		targets = append(targets, target{cp.Size, cp.Root, fmt.Sprintf("signed checkpoint %d", cp.Size)})
		if cp.Size >= rep.Size {
			rep.Size, rep.Root = cp.Size, cp.Root
		}
	}
	return targets
}

// collectRefs notes the evidence an entry's payload refers to under
// "evidence" (a list of "sha256:<hex>").
func collectRefs(e *Entry, refs map[string]int64) {
	if !bytes.Contains(e.Payload, []byte(`"sha256:`)) {
		return
	}
	var p struct {
		Evidence []string `json:"evidence"`
	}
	if json.Unmarshal(e.Payload, &p) != nil {
		return
	}
	for _, r := range p.Evidence {
		if _, ok := refs[r]; !ok {
			refs[r] = e.Seq
		}
	}
}

func verifyBlobs(ctx context.Context, src Source, refs map[string]int64, rep *Report) error {
	seen := map[string]bool{}
	err := src.ScanBlobs(ctx, func(b Blob) error {
		rep.Blobs++
		sum := sha256.Sum256(b.Content)
		if hex.EncodeToString(sum[:]) != b.SHA256 {
			rep.bad(refs[b.Ref()], "evidence %s: content does not match its hash: edited", b.Ref())
		}
		seen[b.Ref()] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("read evidence: %w", err)
	}
	for ref, seq := range refs {
		if !seen[ref] {
			rep.bad(seq, "entry %d refers to evidence %s, which is missing", seq, ref)
		}
	}
	return nil
}
