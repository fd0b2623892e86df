package baseline_test

import (
	"testing"

	"github.com/opsguard/opsguard/host/baseline"
)

func FuzzParse(f *testing.F) {
	f.Add(baseline.DefaultYAML())
	f.Add([]byte("name: x\nchecks:\n  - {id: a, kind: port, port: 22, listen: true}\nsoftware: ['lib*', 'a >= 1']\n"))
	f.Add([]byte("name: x\nchecks: [{kind: bogus}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := baseline.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		// What parses, written back, parses to the same checks.
		again, err := baseline.Parse("again.yaml", baseline.Marshal(d))
		if err != nil {
			t.Fatalf("written back: %v\n%s", err, baseline.Marshal(d))
		}
		if len(again.Checks) != len(d.Checks) || len(again.Software) != len(d.Software) {
			t.Fatalf("written back: %d checks, %d rules; was %d, %d", len(again.Checks), len(again.Software), len(d.Checks), len(d.Software))
		}
	})
}
