package collect

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// HostID is a stable ID of this host: derived from the machine ID (hashed,
// since the machine ID itself is meant to stay on the machine), else a
// random one generated once and kept in stateDir.
func HostID(machineIDFile, stateDir string) (string, error) {
	if b, err := os.ReadFile(machineIDFile); err == nil {
		if m := strings.TrimSpace(string(b)); len(m) >= 16 {
			sum := sha256.Sum256([]byte("opsguard host id\x00" + m))
			return "m-" + hex.EncodeToString(sum[:12]), nil
		}
	}
	if stateDir == "" {
		return "", fmt.Errorf("host id: %s is missing and no --state-dir keeps a generated one", machineIDFile)
	}
	path := filepath.Join(stateDir, "host-id")
	if b, err := os.ReadFile(path); err == nil {
		id := strings.TrimSpace(string(b))
		if !strings.HasPrefix(id, "g-") || len(id) != 26 {
			return "", fmt.Errorf("host id: %s holds %q, not an ID this agent generated", path, id)
		}
		return id, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("host id: %w", err)
	}
	var b [12]byte
	rand.Read(b[:])
	id := "g-" + hex.EncodeToString(b[:])
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", fmt.Errorf("host id: %w", err)
	}
	if err := writeFileAtomic(path, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("host id: %w", err)
	}
	return id, nil
}

// writeFileAtomic writes a file whole or not at all.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
