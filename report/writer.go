package report

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"time"

	kflate "github.com/klauspost/compress/flate"
)

// bundleWriter writes the members of a bundle one after the other,
// hashing each as it goes, so no member is held whole.
type bundleWriter struct {
	zw      *zip.Writer
	at      time.Time
	members []Member
	open    *openMember
}

type openMember struct {
	name string
	w    io.Writer
	h    hash.Hash
	n    int64
}

func (m *openMember) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	m.h.Write(p[:n])
	m.n += int64(n)
	return n, err
}

func newBundleWriter(w io.Writer, at time.Time) *bundleWriter {
	zw := zip.NewWriter(w)
	// klauspost's deflate writes the same format several times faster
	// than the standard library's at a similar ratio.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return kflate.NewWriter(w, 5) })
	return &bundleWriter{zw: zw, at: at}
}

// create starts a member hashed as it is (not a .json one); compress is
// false for content that does not shrink (hashes, evidence).
func (b *bundleWriter) create(name string, compress bool) (io.Writer, error) {
	if err := b.close(); err != nil {
		return nil, err
	}
	method := zip.Store
	if compress {
		method = zip.Deflate
	}
	w, err := b.zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: b.at})
	if err != nil {
		return nil, fmt.Errorf("bundle member %s: %w", name, err)
	}
	b.open = &openMember{name: name, w: w, h: sha256.New()}
	return b.open, nil
}

func (b *bundleWriter) close() error {
	if b.open == nil {
		return nil
	}
	m := b.open
	b.open = nil
	b.members = append(b.members, Member{Name: m.name, SHA256: hex.EncodeToString(m.h.Sum(nil)), SizeBytes: m.n})
	return nil
}

// put writes a whole member; a .json one is listed with the hash of its
// canonical form.
func (b *bundleWriter) put(name string, content []byte, compress bool) error {
	w, err := b.create(name, compress)
	if err != nil {
		return err
	}
	if _, err := w.Write(content); err != nil {
		return fmt.Errorf("bundle member %s: %w", name, err)
	}
	if canonicalJSON(name) {
		sum, err := contentHash(name, content)
		if err != nil {
			return err
		}
		b.open.h = fixedHash(sum)
	}
	return b.close()
}

// putJSON writes v as an indented .json member.
func (b *bundleWriter) putJSON(name string, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("bundle member %s: %w", name, err)
	}
	return buf.Bytes(), b.put(name, buf.Bytes(), true)
}

// finish closes the zip.
func (b *bundleWriter) finish() error {
	if err := b.close(); err != nil {
		return err
	}
	return b.zw.Close()
}

// fixedHash is a hash.Hash whose sum is known already (a canonical JSON
// member's), so close treats every member alike.
type fixedHash string

func (f fixedHash) Write(p []byte) (int, error) { return len(p), nil }
func (f fixedHash) Sum(b []byte) []byte {
	s, _ := hex.DecodeString(string(f))
	return append(b, s...)
}
func (f fixedHash) Reset()         {}
func (f fixedHash) Size() int      { return sha256.Size }
func (f fixedHash) BlockSize() int { return sha256.BlockSize }
