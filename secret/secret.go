// Package secret keeps the server's secrets (a forge's API token): the
// files the operator puts in the secrets directory, each referenced by a
// plain name that cannot climb out of it, and the values sent once
// through the API, sealed at rest with AES-256-GCM under a key kept
// beside the ledger key. No path an API caller chooses is ever read.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// maxSize bounds a secret file and a sealed value.
const maxSize = 64 << 10

var namePattern = regexp.MustCompile(`^[a-z0-9_-]{1,100}$`)

// ErrName is a secret name that is not a plain name. Its message is the
// same for every such name: nothing is looked up.
var ErrName = errors.New("a secret is named by 1 to 100 lowercase letters, digits, - or _ (a file in the server's secrets directory), never a path")

// Vault reads named secrets from Dir and seals values with the key in
// KeyFile, created on first use.
type Vault struct {
	Dir     string
	KeyFile string
}

// ValidName checks a secret's name.
func ValidName(name string) error {
	if !namePattern.MatchString(name) {
		return ErrName
	}
	return nil
}

// Check reports whether a named secret is there to be read.
func (v Vault) Check(name string) error {
	_, err := v.Read(name)
	return err
}

// Read returns the named secret without its surrounding whitespace. It is
// opened inside Dir through os.Root, so that not even a symbolic link
// leads out of it.
func (v Vault) Read(name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	root, err := os.OpenRoot(v.Dir)
	if err != nil {
		return "", fmt.Errorf("secrets directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no secret named %q in the secrets directory", name)
	}
	if err != nil {
		return "", fmt.Errorf("secret %q: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return "", fmt.Errorf("secret %q: %w", name, err)
	}
	if len(b) > maxSize {
		return "", fmt.Errorf("secret %q is larger than %d bytes", name, maxSize)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("secret %q is empty", name)
	}
	return s, nil
}

// Seal encrypts a value bound to context (what it belongs to, such as
// "repository/rep_…"): a sealed value copied to another row does not open
// there.
func (v Vault) Seal(value, context string) (string, error) {
	if len(value) > maxSize {
		return "", fmt.Errorf("a secret is at most %d bytes", maxSize)
	}
	aead, err := v.aead(true)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return "v1:" + base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(value), []byte(context))), nil
}

// Open decrypts a value Seal returned for the same context.
func (v Vault) Open(sealed, context string) (string, error) {
	b64, ok := strings.CutPrefix(sealed, "v1:")
	b, err := base64.RawStdEncoding.DecodeString(b64)
	if !ok || err != nil || len(b) > maxSize+64 {
		return "", errors.New("the sealed secret is not one opsguard wrote")
	}
	aead, err := v.aead(false)
	if err != nil {
		return "", err
	}
	if len(b) < aead.NonceSize() {
		return "", errors.New("the sealed secret is truncated")
	}
	out, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", fmt.Errorf("the sealed secret does not open with %s (another key, or another row's value)", v.KeyFile)
	}
	return string(out), nil
}

// aead loads the sealing key, creating it when create is set and it is
// missing. Replicas must share it, like the ledger key.
func (v Vault) aead(create bool) (cipher.AEAD, error) {
	key, err := os.ReadFile(v.KeyFile)
	if errors.Is(err, fs.ErrNotExist) && create {
		key, err = v.createKey()
	}
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets key %s: want 32 bytes, found %d", v.KeyFile, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (v Vault) createKey() ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(v.KeyFile), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(v.KeyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(v.KeyFile) // another process made it first
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(v.KeyFile)
		return nil, err
	}
	return key, f.Close()
}
