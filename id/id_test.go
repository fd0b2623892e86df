package id_test

import (
	"strings"
	"testing"

	"github.com/opsguard/opsguard/id"
)

func TestNewIsUniqueAndOrdered(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 10000; i++ {
		x := id.New("fnd")
		if !strings.HasPrefix(x, "fnd_") || len(x) != 36 {
			t.Fatalf("id %q", x)
		}
		if seen[x] {
			t.Fatalf("duplicate %s", x)
		}
		seen[x] = true
		if x[:20] <= prev[:min(20, len(prev))] && prev != "" {
			t.Fatalf("%s does not sort after %s", x, prev)
		}
		prev = x
	}
}
