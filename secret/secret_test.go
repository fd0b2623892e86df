package secret_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/secret"
)

// vault returns a data directory with a ledger key beside its secrets.
func vault(t *testing.T) (secret.Vault, string) {
	t.Helper()
	data := t.TempDir()
	key := filepath.Join(data, "ledger.key")
	if err := os.WriteFile(key, []byte("PRIVATE+KEY+opsguard+test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v := secret.Vault{Dir: filepath.Join(data, "secrets"), KeyFile: filepath.Join(data, "secrets.key")}
	if err := os.Mkdir(v.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.Dir, "github"), []byte("  ghp_abc123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return v, key
}

func TestRead(t *testing.T) {
	t.Parallel()
	v, _ := vault(t)
	if got, err := v.Read("github"); err != nil || got != "ghp_abc123" {
		t.Errorf("Read = %q, %v", got, err)
	}
	os.WriteFile(filepath.Join(v.Dir, "empty"), []byte(" \n"), 0o600)
	if _, err := v.Read("empty"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty secret: %v", err)
	}
	if _, err := v.Read("gitlab"); err == nil || !strings.Contains(err.Error(), `no secret named "gitlab"`) {
		t.Errorf("missing secret: %v", err)
	}
}

// A name that is a path is refused before anything is looked up: the
// answer is the same for a file that exists and one that does not, in the
// data directory or anywhere else.
func TestNamesCannotClimbOut(t *testing.T) {
	t.Parallel()
	v, key := vault(t)
	for _, name := range []string{"../ledger.key", key, "/etc/shadow", "/nonexistent/token", "../secrets.key", "..", ".",
		"github/", "./github", "GitHub", "ledger.key", "a b", "", strings.Repeat("a", 101)} {
		got, err := v.Read(name)
		if !errors.Is(err, secret.ErrName) || err.Error() != secret.ErrName.Error() || got != "" {
			t.Errorf("Read(%q) = %q, %v", name, got, err)
		}
	}
	// A link the directory holds does not lead out of it either.
	if err := os.Symlink(key, filepath.Join(v.Dir, "key")); err != nil {
		t.Fatal(err)
	}
	if got, err := v.Read("key"); err == nil || strings.Contains(got, "PRIVATE") {
		t.Errorf("a link out of the secrets directory was followed: %q %v", got, err)
	}
}

func TestSeal(t *testing.T) {
	t.Parallel()
	v, _ := vault(t)
	sealed, err := v.Seal("glpat-secret-value", "repository/rep_1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "glpat") || strings.Contains(sealed, "secret-value") {
		t.Fatalf("sealed value holds the plaintext: %s", sealed)
	}
	if fi, err := os.Stat(v.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets key: %v %v", fi, err)
	}
	if got, err := v.Open(sealed, "repository/rep_1"); err != nil || got != "glpat-secret-value" {
		t.Errorf("Open = %q, %v", got, err)
	}
	if _, err := v.Open(sealed, "repository/rep_2"); err == nil {
		t.Error("a value sealed for one repository opened for another")
	}
	again, _ := v.Seal("glpat-secret-value", "repository/rep_1")
	if again == sealed {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}
	other := secret.Vault{Dir: v.Dir, KeyFile: filepath.Join(t.TempDir(), "other.key")}
	if _, err := other.Seal("x", "y"); err != nil { // makes its own key
		t.Fatal(err)
	}
	if _, err := other.Open(sealed, "repository/rep_1"); err == nil {
		t.Error("a value opened without its key")
	}
	if _, err := v.Open("v1:AAAA", "repository/rep_1"); err == nil {
		t.Error("a truncated value opened")
	}
}
