package config_test

import (
	"errors"
	"testing"

	"github.com/opsguard/opsguard/config"
)

// FuzzParse: any input either parses into a valid config or fails with a
// *config.Error naming the file; it never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "vuln:\n  sla_days:\n    critical: 3\n", "server:\n  listen: x\nbogus: 1\n", "controls:\n  interval: soon\n",
		"notifications:\n  channels:\n    - name: a\n      type: webhook\n      url: http://x\n      secret_file: /s\n  routes:\n    '*': [a]\n",
		"server: [\n", "a: &x 1\nb: *x\n", "- 1\n- 2\n", "backup: {retention_days: 7.5}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != "fuzz.yaml" {
				t.Fatalf("error %T %q does not name the file", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
	})
}
