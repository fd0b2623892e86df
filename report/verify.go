package report

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	kflate "github.com/klauspost/compress/flate"
	"golang.org/x/mod/sumdb/note"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
)

// VerifyOptions bound what Verify reads.
type VerifyOptions struct {
	// MaxMemberBytes is the largest member accepted (default 8 GiB): a
	// member declaring more is refused unread, as is one that inflates
	// beyond what it declares.
	MaxMemberBytes int64
	// MaxJSONBytes is the largest .json member, read whole (default 1 GiB).
	MaxJSONBytes int64
}

func (o VerifyOptions) withDefaults() VerifyOptions {
	if o.MaxMemberBytes <= 0 {
		o.MaxMemberBytes = 8 << 30
	}
	if o.MaxJSONBytes <= 0 {
		o.MaxJSONBytes = 1 << 30
	}
	return o
}

// maxProblems bounds the problems Verify names; the rest are counted.
const maxProblems = 50

// maxRatio is the most a member may inflate over its compressed size:
// deflate cannot exceed about 1032, so more is a forged header.
const maxRatio = 1100

// Summary is what Verify found.
type Summary struct {
	OK           bool      `json:"ok"`
	Origin       string    `json:"origin"`
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	Entries      int64     `json:"entries"`
	Blobs        int       `json:"blobs"`
	Checkpoints  int       `json:"checkpoints"`
	Requirements int       `json:"requirements"`
	TreeSize     int64     `json:"tree_size"`
	Manifest     string    `json:"manifest_sha256"`
	Problems     []string  `json:"problems,omitempty"`
	More         int       `json:"more_problems,omitempty"`
}

func (s *Summary) bad(member, format string, args ...any) {
	if len(s.Problems) >= maxProblems {
		s.More++
		return
	}
	s.Problems = append(s.Problems, member+": "+fmt.Sprintf(format, args...))
}

// verifier holds one bundle under verification.
type verifier struct {
	ctx    context.Context
	opts   VerifyOptions
	v      note.Verifier
	files  map[string]*zip.File
	m      Manifest
	listed map[string]string // name → sha256, from the manifest
	sum    *Summary
	col    *collector
	refs   map[string]int64 // evidence → the first entry citing it
	root   []byte
}

// Verify checks a bundle offline with the ledger's public key alone. An
// error means the bundle could not be read as one (not a zip, truncated,
// a path climbing out, a member too large to be honest, another key);
// what does not match is in the Summary's Problems.
func Verify(ctx context.Context, r io.ReaderAt, size int64, publicKey string, opts VerifyOptions) (*Summary, error) {
	vk, err := ledger.NewVerifier(publicKey)
	if err != nil {
		return nil, opsguard.Errorf(opsguard.EInvalid, "%v", err)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, opsguard.Errorf(opsguard.EInvalid, "not an audit bundle: not a zip archive, or a truncated one: %v", err)
	}
	zr.RegisterDecompressor(zip.Deflate, kflate.NewReader) // the same format, inflated faster
	vr := &verifier{ctx: ctx, opts: opts.withDefaults(), v: vk, files: map[string]*zip.File{}, sum: &Summary{},
		refs: map[string]int64{}}
	if err := vr.checkNames(zr.File); err != nil {
		return nil, err
	}
	if err := vr.openManifest(); err != nil {
		return nil, err
	}
	vr.checkMembers()
	vr.checkCheckpoints()
	vr.checkEntries()
	vr.checkBlobs()
	vr.checkResults()
	vr.sum.OK = len(vr.sum.Problems) == 0
	return vr.sum, nil
}

// checkNames refuses paths that climb out or are not plain, repeated
// names, and members too large to be honest.
func (vr *verifier) checkNames(fs []*zip.File) error {
	for _, f := range fs {
		n := f.Name
		if n == "" || strings.HasPrefix(n, "/") || strings.Contains(n, `\`) || path.Clean(n) != n || n == ".." || strings.HasPrefix(n, "../") || strings.Contains(n, "/../") || strings.HasSuffix(n, "/") {
			return opsguard.Errorf(opsguard.EInvalid, "bundle member %q: not a plain relative path (a path climbing out is refused)", n)
		}
		if _, dup := vr.files[n]; dup {
			return opsguard.Errorf(opsguard.EInvalid, "bundle member %q appears twice", n)
		}
		if f.UncompressedSize64 > uint64(vr.opts.MaxMemberBytes) {
			return opsguard.Errorf(opsguard.EInvalid, "bundle member %q declares %d bytes, more than the limit of %d: refused unread", n, f.UncompressedSize64, vr.opts.MaxMemberBytes)
		}
		if f.UncompressedSize64 > 1<<20 && f.UncompressedSize64 > maxRatio*f.CompressedSize64 {
			return opsguard.Errorf(opsguard.EInvalid, "bundle member %q inflates %d bytes to %d, beyond what compression can do honestly: refused unread", n, f.CompressedSize64, f.UncompressedSize64)
		}
		vr.files[n] = f
	}
	return nil
}

// open opens a member for reading, bounded by its declared size: a
// member that inflates beyond it fails (archive/zip also checks its size
// and CRC at its end).
func (vr *verifier) open(name string) (io.ReadCloser, error) {
	f := vr.files[name]
	if f == nil {
		return nil, fmt.Errorf("missing")
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{&boundedReader{r: rc, left: int64(f.UncompressedSize64), name: name}, rc}, nil
}

type boundedReader struct {
	r    io.Reader
	left int64
	name string
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("member %s is larger than it declares", b.name)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// readAll reads a whole member, at most limit bytes.
func (vr *verifier) readAll(name string, limit int64) ([]byte, error) {
	if f := vr.files[name]; f != nil && f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%d bytes, more than the limit of %d", f.UncompressedSize64, limit)
	}
	rc, err := vr.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// openManifest reads the manifest and checks its signature with the key:
// nothing else is worth reading without it.
func (vr *verifier) openManifest() error {
	body, err := vr.readAll(ManifestName, vr.opts.MaxJSONBytes)
	if err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "%s: %v", ManifestName, err)
	}
	sig, err := vr.readAll(SignatureName, 64<<10)
	if err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "%s: %v", SignatureName, err)
	}
	sum, err := contentHash(ManifestName, body)
	if err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "%v", err)
	}
	n, err := note.Open(sig, note.VerifierList(vr.v))
	if err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "%s: not signed by the key %s: %v", SignatureName, vr.v.Name(), err)
	}
	if n.Text != signatureText(vr.v.Name(), sum) {
		return opsguard.Errorf(opsguard.EInvalid, "%s: the signed hash is not that of %s (sha256 %s): the manifest was changed", SignatureName, ManifestName, sum)
	}
	if err := json.Unmarshal(body, &vr.m); err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "%s: %v", ManifestName, err)
	}
	if vr.m.Format != Format {
		return opsguard.Errorf(opsguard.EInvalid, "%s: format %q, want %q", ManifestName, vr.m.Format, Format)
	}
	s := vr.sum
	s.Origin, s.From, s.To, s.TreeSize, s.Manifest = vr.m.Origin, vr.m.From, vr.m.To, vr.m.TreeSize, sum
	vr.listed = map[string]string{}
	for _, mb := range vr.m.Members {
		vr.listed[mb.Name] = mb.SHA256
	}
	return nil
}

// checkMembers checks every member against the manifest, except the two
// that are read while parsed (entries and proofs).
func (vr *verifier) checkMembers() {
	for name := range vr.files {
		if _, ok := vr.listed[name]; !ok && name != ManifestName && name != SignatureName {
			vr.sum.bad(name, "not listed in the manifest: added")
		}
	}
	for _, mb := range vr.m.Members {
		if vr.files[mb.Name] == nil {
			vr.sum.bad(mb.Name, "listed in the manifest but missing from the bundle: removed")
			continue
		}
		if mb.Name == EntriesName || mb.Name == InclusionName {
			continue
		}
		got, err := vr.hashMember(mb.Name)
		if err != nil {
			vr.sum.bad(mb.Name, "%v", err)
		} else if got != mb.SHA256 {
			vr.sum.bad(mb.Name, "content (sha256 %s) does not match the manifest (%s): changed", got, mb.SHA256)
		}
	}
}

func (vr *verifier) hashMember(name string) (string, error) {
	if canonicalJSON(name) {
		b, err := vr.readAll(name, vr.opts.MaxJSONBytes)
		if err != nil {
			return "", err
		}
		return contentHash(name, b)
	}
	rc, err := vr.open(name)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashing wraps a member read while parsed, so its hash is checked in the
// same pass.
type hashing struct {
	name string
	rc   io.ReadCloser
	h    io.Writer
	sum  func() []byte
}

func (vr *verifier) openHashed(name string) (*hashing, io.Reader, error) {
	rc, err := vr.open(name)
	if err != nil {
		return nil, nil, err
	}
	h := sha256.New()
	return &hashing{name: name, rc: rc, h: h, sum: func() []byte { return h.Sum(nil) }}, io.TeeReader(rc, h), nil
}

// done drains the member, closes it and compares its hash.
func (vr *verifier) done(hm *hashing, r io.Reader) {
	if _, err := io.Copy(io.Discard, r); err != nil {
		vr.sum.bad(hm.name, "%v", err)
	}
	hm.rc.Close()
	if got := hex.EncodeToString(hm.sum()); vr.listed[hm.name] != "" && got != vr.listed[hm.name] {
		vr.sum.bad(hm.name, "content (sha256 %s) does not match the manifest (%s): changed", got, vr.listed[hm.name])
	}
}

// checkCheckpoints opens every checkpoint with the key and checks the
// consistency proofs chaining them; the newest is the root the entries
// are proved under.
func (vr *verifier) checkCheckpoints() {
	var cps []Checkpoint
	if err := vr.eachLine(CheckpointsName, func(line []byte) error {
		var c Checkpoint
		if err := json.Unmarshal(line, &c); err != nil {
			return err
		}
		cps = append(cps, c)
		return nil
	}); err != nil {
		vr.sum.bad(CheckpointsName, "%v", err)
		return
	}
	vr.sum.Checkpoints = len(cps)
	if len(cps) == 0 {
		vr.sum.bad(CheckpointsName, "no checkpoint")
		return
	}
	for i, c := range cps {
		_, size, root, err := ledger.OpenCheckpoint([]byte(c.Note), vr.v)
		switch {
		case err != nil:
			vr.sum.bad(CheckpointsName, "checkpoint %d: %v", c.Size, err)
		case size != c.Size:
			vr.sum.bad(CheckpointsName, "checkpoint %d: its signed note states size %d", c.Size, size)
		case i > 0 && c.Size <= cps[i-1].Size:
			vr.sum.bad(CheckpointsName, "checkpoint %d follows %d: out of order", c.Size, cps[i-1].Size)
		case i == len(cps)-1:
			vr.root = root
		}
	}
	if last := cps[len(cps)-1]; last.Size != vr.m.TreeSize {
		vr.sum.bad(CheckpointsName, "the newest checkpoint is of size %d, the manifest proves entries in %d", last.Size, vr.m.TreeSize)
	}
	i := 1
	if err := vr.eachLine(ConsistencyName, func(line []byte) error {
		var p Consistency
		if err := json.Unmarshal(line, &p); err != nil {
			return err
		}
		if i >= len(cps) || p.From != cps[i-1].Size || p.To != cps[i].Size {
			return fmt.Errorf("proof %d..%d does not chain the checkpoints", p.From, p.To)
		}
		if err := ledger.VerifyConsistency(vr.v, []byte(cps[i-1].Note), []byte(cps[i].Note), p.Hashes); err != nil {
			msg := err.Error()
			if strings.Contains(msg, "calculated root") {
				msg = "the proof does not lead to the signed roots"
			}
			vr.sum.bad(ConsistencyName, "checkpoint %d is not proved a prefix of checkpoint %d: %s", p.From, p.To, msg)
		}
		i++
		return nil
	}); err != nil {
		vr.sum.bad(ConsistencyName, "%v", err)
	}
	if i != len(cps) {
		vr.sum.bad(ConsistencyName, "%d consistency proofs for %d checkpoints, want %d", i-1, len(cps), len(cps)-1)
	}
}

// maxLine bounds one line of a .jsonl member (an entry's payload).
const maxLine = 256 << 20

// eachLine calls fn for every line of a .jsonl member.
func (vr *verifier) eachLine(name string, fn func([]byte) error) error {
	rc, err := vr.open(name)
	if err != nil {
		return err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}

// checkEntries reads the entries and their inclusion proofs side by side:
// each entry's payload against its hash, its leaf under the newest
// checkpoint, the sequence without gap over the manifest's range.
func (vr *verifier) checkEntries() {
	eh, er, err := vr.openHashed(EntriesName)
	if err != nil {
		vr.sum.bad(EntriesName, "%v", err)
		return
	}
	ph, pr, err := vr.openHashed(InclusionName)
	if err != nil {
		eh.rc.Close()
		vr.sum.bad(InclusionName, "%v", err)
		return
	}
	ra := newReadAhead(er)
	defer ra.Close()
	entries := bufio.NewReaderSize(ra, 256<<10)
	proofs := bufio.NewReaderSize(pr, 256<<10)
	vr.col = newCollector(nil)
	if err := vr.walkEntries(entries, proofs); err != nil {
		vr.sum.bad(err.member, "%s", err.msg)
	}
	vr.done(eh, entries)
	vr.done(ph, proofs)
}

type memberError struct{ member, msg string }

// parsed is an entry read, with its leaf hash ("" msg) or what is wrong.
type parsed struct {
	e    Entry
	leaf []byte
	msg  string
	err  string // the line does not parse: the walk stops
}

// parseEntries reads entries.jsonl on its own goroutine (parsing and
// hashing are most of the work) and hands them over in batches.
func parseEntries(r io.Reader, out chan<- []parsed, stop <-chan struct{}) {
	defer close(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	batch := make([]parsed, 0, 256)
	send := func() bool {
		select {
		case out <- batch:
			batch = make([]parsed, 0, 256)
			return true
		case <-stop:
			return false
		}
	}
	for sc.Scan() {
		var p parsed
		if err := parseEntryLine(sc.Bytes(), &p.e); err != nil {
			p.err = err.Error()
		} else if le, msg := ledgerEntry(&p.e); msg != "" {
			p.msg = msg
		} else {
			p.leaf = le.ComputeLeafHash()
		}
		batch = append(batch, p)
		if (len(batch) == cap(batch) || p.err != "") && !send() {
			return
		}
		if p.err != "" {
			return
		}
	}
	if err := sc.Err(); err != nil {
		batch = append(batch, parsed{err: err.Error()})
	}
	if len(batch) > 0 {
		send()
	}
}

func (vr *verifier) walkEntries(entries, proofs *bufio.Reader) *memberError {
	head, err := proofs.ReadString('\n')
	if err != nil || head != fmt.Sprintf("%s %d\n", inclusionMagic, vr.m.TreeSize) {
		return &memberError{InclusionName, fmt.Sprintf("does not start with %q", fmt.Sprintf("%s %d", inclusionMagic, vr.m.TreeSize))}
	}
	pv := newPathVerifier(vr.m.TreeSize, vr.root)
	batches, stop := make(chan []parsed, 4), make(chan struct{})
	defer func() {
		close(stop)
		for range batches { // let the parser end
		}
	}()
	go parseEntries(entries, batches, stop)
	next := vr.m.FirstSeq
	var path [][]byte
	var rec [9]byte
	for batch := range batches {
		for i := range batch {
			p := &batch[i]
			e := &p.e
			if p.err != "" {
				return &memberError{EntriesName, fmt.Sprintf("entry after %d: %s", next-1, p.err)}
			}
			if e.Seq != next {
				return &memberError{EntriesName, fmt.Sprintf("entry %d where %d was due: entries missing, added or reordered", e.Seq, next)}
			}
			next++
			if p.msg != "" {
				vr.sum.bad(EntriesName, "entry %d: %s", e.Seq, p.msg)
			}
			if _, err := io.ReadFull(proofs, rec[:]); err != nil {
				return &memberError{InclusionName, fmt.Sprintf("no proof of entry %d: %v", e.Seq, err)}
			}
			// One buffer per path: the verifier keeps paths it checked.
			hashes := make([]byte, 32*int(rec[8]))
			if _, err := io.ReadFull(proofs, hashes); err != nil {
				return &memberError{InclusionName, fmt.Sprintf("proof of entry %d: %v", e.Seq, err)}
			}
			path = path[:0]
			for j := 0; j < len(hashes); j += 32 {
				path = append(path, hashes[j:j+32:j+32])
			}
			if got := int64(binary.BigEndian.Uint64(rec[:8])); got != e.Seq {
				return &memberError{InclusionName, fmt.Sprintf("the proof for entry %d names entry %d", e.Seq, got)}
			}
			if vr.root != nil && p.msg == "" {
				if err := pv.verify(e.Seq-1, p.leaf, path); err != nil {
					vr.sum.bad(InclusionName, "entry %d or its audit path was changed: %v (checkpoint of size %d)", e.Seq, err, vr.m.TreeSize)
				}
			}
			vr.sum.Entries++
			if msg := vr.col.add(e); msg != "" {
				vr.sum.bad(EntriesName, "entry %d: %s", e.Seq, msg)
			}
			for _, ref := range evidenceRefs(e.Payload) {
				if _, ok := vr.refs[ref]; !ok {
					vr.refs[ref] = e.Seq
				}
			}
		}
	}
	if next != vr.m.LastSeq+1 {
		return &memberError{EntriesName, fmt.Sprintf("entries end at %d, the manifest says %d: entries removed", next-1, vr.m.LastSeq)}
	}
	if _, err := proofs.ReadByte(); err == nil {
		return &memberError{InclusionName, "more proofs than entries"}
	}
	return nil
}

// ledgerEntry turns a line back into the ledger's entry, checking its
// payload against its hash.
func ledgerEntry(e *Entry) (*ledger.Entry, string) {
	t, err := ledger.ParseTime(e.Time)
	if err != nil {
		return nil, "time: " + err.Error()
	}
	ph, err := hex.DecodeString(e.PayloadSHA256)
	if err != nil || len(ph) != 32 {
		return nil, "payload_sha256 is not a SHA-256"
	}
	if !bytes.Equal(ledger.PayloadHashOf(e.Payload), ph) {
		return nil, "payload does not match its hash: edited"
	}
	return &ledger.Entry{Seq: e.Seq, Time: t, Actor: e.Actor, Kind: e.Kind, Subject: e.Subject, Payload: e.Payload, PayloadHash: ph}, ""
}

// checkBlobs: every evidence an entry cites is in the bundle, under the
// hash of its content (the manifest's hash of a blob is that of its
// content, checked already), and every blob is cited.
func (vr *verifier) checkBlobs() {
	for name := range vr.files {
		sha, ok := strings.CutPrefix(name, blobDir)
		if !ok {
			continue
		}
		vr.sum.Blobs++
		if vr.listed[name] != sha {
			vr.sum.bad(name, "listed with sha256 %s, not the hash in its name", vr.listed[name])
		}
		if _, cited := vr.refs[sha]; !cited {
			vr.sum.bad(name, "no entry of the bundle cites this evidence")
		}
	}
	for sha, seq := range vr.refs {
		if vr.files[blobDir+sha] == nil {
			vr.sum.bad(blobDir+sha, "entry %d cites this evidence, which is missing", seq)
		}
	}
}

// checkResults rebuilds results.json from the entries and the OSCAL file
// from the results: each must match what the bundle holds.
func (vr *verifier) checkResults() {
	if vr.col == nil {
		return
	}
	var claimed Results
	b, err := vr.readAll(ResultsName, vr.opts.MaxJSONBytes)
	if err == nil {
		err = json.Unmarshal(b, &claimed)
	}
	if err != nil {
		vr.sum.bad(ResultsName, "%v", err)
		return
	}
	for _, r := range claimed.Requirements {
		for _, c := range r.Controls {
			if req, _, ok := strings.Cut(c.ID, "."); ok && req != r.ID {
				vr.sum.bad(ResultsName, "control %s is listed under %s", c.ID, r.ID)
			}
			if _, ok := vr.col.controls[c.ID]; !ok {
				vr.col.controls[c.ID] = ControlInfo{ID: c.ID, Requirement: r.ID, Title: c.Title}
			} else {
				vr.col.controls[c.ID] = ControlInfo{ID: c.ID, Requirement: r.ID, Title: c.Title}
			}
			for _, run := range c.Runs {
				if run.Seq < vr.m.FirstSeq || run.Seq > vr.m.FirstSeq+vr.sum.Entries-1 {
					vr.sum.bad(ResultsName, "%s: control %s cites ledger entry %d, which is not in the bundle", r.ID, c.ID, run.Seq)
				}
			}
		}
	}
	vr.sum.Requirements = len(claimed.Requirements)
	rebuilt := vr.col.results(vr.m.From, vr.m.To, vr.m.Requirements)
	if d := jsonDiff(rebuilt, b); d != "" {
		vr.sum.bad(ResultsName, "not what the entries of the bundle record: %s", d)
	}
	o, err := vr.readAll(OSCALName, vr.opts.MaxJSONBytes)
	if err != nil {
		vr.sum.bad(OSCALName, "%v", err)
		return
	}
	if d := jsonDiff(NewOSCAL(&vr.m, rebuilt), o); d != "" {
		vr.sum.bad(OSCALName, "not what the entries of the bundle record: %s", d)
	}
}

// jsonDiff names the first place where the JSON of want and the document
// got differ, "" when they are equal.
func jsonDiff(want any, got []byte) string {
	wb, err := json.Marshal(want)
	if err != nil {
		return err.Error()
	}
	var w, g any
	json.Unmarshal(wb, &w)
	if err := json.Unmarshal(got, &g); err != nil {
		return "not valid JSON: " + err.Error()
	}
	return diff(w, g, "")
}

func diff(w, g any, at string) string {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			return fmt.Sprintf("at %s: want an object", orRoot(at))
		}
		for k, x := range wv {
			if d := diff(x, gv[k], at+"."+k); d != "" {
				return d
			}
		}
		for k := range gv {
			if _, ok := wv[k]; !ok {
				return fmt.Sprintf("at %s: unexpected %q", orRoot(at), k)
			}
		}
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Sprintf("at %s: want %d items", orRoot(at), len(wv))
		}
		for i := range wv {
			if d := diff(wv[i], gv[i], fmt.Sprintf("%s[%d]", at, i)); d != "" {
				return d
			}
		}
	default:
		if fmt.Sprint(w) != fmt.Sprint(g) {
			return fmt.Sprintf("at %s: the entries record %s, the file says %s", orRoot(at), short(w), short(g))
		}
	}
	return ""
}

func orRoot(at string) string {
	if at == "" {
		return "the top"
	}
	return strings.TrimPrefix(at, ".")
}

func short(v any) string {
	s, _ := json.Marshal(v)
	if len(s) > 80 {
		return string(s[:77]) + "..."
	}
	return string(s)
}
