package ledger

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Key is the ledger's signing key, loaded from its file.
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	// Public is the verifier key text (name+hash+key), what an auditor
	// needs to check an export.
	Public string
	// Path is the private key's file; the public key and the newest
	// checkpoint live beside it.
	Path string
}

// PublicPath is the file holding the public key.
func (k *Key) PublicPath() string { return PublicPath(k.Path) }

// CheckpointPath is the file holding the newest checkpoint.
func (k *Key) CheckpointPath() string { return CheckpointPath(k.Path) }

// PublicPath is the public key file beside the private key at keyPath.
func PublicPath(keyPath string) string { return sibling(keyPath, "pub") }

// CheckpointPath is the checkpoint file beside the private key at keyPath.
func CheckpointPath(keyPath string) string { return sibling(keyPath, "checkpoint") }

func sibling(keyPath, ext string) string {
	return strings.TrimSuffix(keyPath, filepath.Ext(keyPath)) + "." + ext
}

// CreateKey makes a new signing key at path (mode 0600) with its public key
// beside it, naming the log "opsguard/<random>" so that two installations
// never share an origin. It refuses to overwrite an existing key.
func CreateKey(path string) (*Key, error) {
	var r [6]byte
	rand.Read(r[:])
	return CreateKeyNamed(path, "opsguard/"+hex.EncodeToString(r[:]))
}

// CreateKeyNamed is CreateKey with the key's name given (a witness's).
func CreateKeyNamed(path, origin string) (*Key, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("ledger key %s already exists", path)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, fmt.Errorf("generate ledger key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ledger key: %w", err)
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("ledger key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("ledger key %s: %w", path, err)
	}
	if err := os.WriteFile(PublicPath(path), []byte(vkey+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("ledger public key: %w", err)
	}
	return LoadKey(path)
}

// LoadKey reads the signing key at path.
func LoadKey(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("ledger key %s does not exist (run opsguard init)", path)
		}
		return nil, fmt.Errorf("ledger key: %w", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("ledger key %s: %w", path, err)
	}
	pub, err := os.ReadFile(PublicPath(path))
	if err != nil {
		return nil, fmt.Errorf("ledger public key: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(pub)))
	if err != nil {
		return nil, fmt.Errorf("ledger public key %s: %w", PublicPath(path), err)
	}
	if v.Name() != s.Name() || v.KeyHash() != s.KeyHash() {
		return nil, fmt.Errorf("ledger public key %s does not belong to %s", PublicPath(path), path)
	}
	return &Key{Signer: s, Verifier: v, Public: strings.TrimSpace(string(pub)), Path: path}, nil
}

// NewVerifier parses a public key text as printed by init.
func NewVerifier(public string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(public))
	if err != nil {
		return nil, fmt.Errorf("ledger public key: %w", err)
	}
	return v, nil
}
