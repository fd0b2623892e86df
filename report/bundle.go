package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/mod/sumdb/note"
)

// Format names the bundle's layout.
const Format = "opsguard-audit-bundle/v1"

// The members of a bundle.
const (
	ManifestName    = "manifest.json"
	SignatureName   = "manifest.sig"
	EntriesName     = "entries/entries.jsonl"
	CheckpointsName = "checkpoints/checkpoints.jsonl"
	InclusionName   = "proofs/inclusion.bin"
	ConsistencyName = "proofs/consistency.jsonl"
	ResultsName     = "results.json"
	OSCALName       = "oscal/assessment-results.json"
	HTMLName        = "report.html"
	PDFName         = "report.pdf"
	blobDir         = "blobs/"
)

// inclusionMagic starts proofs/inclusion.bin.
const inclusionMagic = "opsguard-inclusion/v1"

// Manifest lists every member of a bundle but itself and its signature.
type Manifest struct {
	Format       string    `json:"format"`
	Origin       string    `json:"origin"`
	PublicKey    string    `json:"public_key"`
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	Requirements []string  `json:"requirements"`
	CreatedAt    time.Time `json:"created_at"`
	CreatedBy    string    `json:"created_by"`
	FirstSeq     int64     `json:"first_seq"`
	LastSeq      int64     `json:"last_seq"`
	TreeSize     int64     `json:"tree_size"` // of the newest checkpoint, which every entry is proved in
	Entries      int64     `json:"entries"`
	Blobs        int       `json:"blobs"`
	Checkpoints  int       `json:"checkpoints"`
	Members      []Member  `json:"members"`
}

// Member is one file of the bundle and the SHA-256 of its content.
type Member struct {
	Name      string `json:"name"`
	SHA256    string `json:"sha256"`
	SizeBytes int64  `json:"size_bytes"`
}

// Entry is a ledger entry as a line of entries.jsonl: the fields of its
// leaf and its payload's exact bytes.
type Entry struct {
	Seq           int64  `json:"seq"`
	Time          string `json:"time"`
	Actor         string `json:"actor"`
	Kind          string `json:"kind"`
	Subject       string `json:"subject"`
	PayloadSHA256 string `json:"payload_sha256"`
	Payload       []byte `json:"payload"` // base64 in JSON: the exact bytes hashed
}

// Checkpoint is a line of checkpoints.jsonl: a signed note.
type Checkpoint struct {
	Size int64  `json:"size"`
	Time string `json:"time"`
	Note string `json:"note"`
}

// Consistency is a line of consistency.jsonl.
type Consistency struct {
	From   int64    `json:"from"`
	To     int64    `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

// canonicalJSON reports whether a member is hashed in its RFC 8785 form.
func canonicalJSON(name string) bool { return strings.HasSuffix(name, ".json") }

// contentHash is the SHA-256 a manifest records of a member's content.
func contentHash(name string, b []byte) (string, error) {
	if canonicalJSON(name) {
		v := jsontext.Value(append([]byte(nil), b...))
		if err := v.Canonicalize(); err != nil {
			return "", fmt.Errorf("%s: not valid JSON: %w", name, err)
		}
		b = v
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// signatureText is the text of manifest.sig's note: the bundle's format,
// the ledger's origin and the hash of the canonical manifest.
func signatureText(origin, manifestSHA string) string {
	return fmt.Sprintf("%s\n%s\nmanifest sha256 %s\n", Format, origin, manifestSHA)
}

// signManifest returns manifest.sig for a manifest hash.
func signManifest(s note.Signer, manifestSHA string) ([]byte, error) {
	return note.Sign(&note.Note{Text: signatureText(s.Name(), manifestSHA)}, s)
}
