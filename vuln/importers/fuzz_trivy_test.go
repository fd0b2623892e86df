package importers_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// FuzzTrivy is seeded with the samples and their legacy form (the list of
// results alone).
func FuzzTrivy(f *testing.F) { tgFuzz(f, "trivy", "vuln/trivy", nil, legacyTrivy) }

// tgFuzz seeds with the samples of dir, shrunk (to the keys in keep, when
// given); the property: neither Detect nor Parse panics, a refusal is an
// *importers.Error, and an accepted report has an id and a known severity
// on every finding.
func tgFuzz(f *testing.F, format, dir string, keep []string, also ...func(testing.TB, []byte) []byte) {
	for _, name := range tgSamples(f, dir) {
		seed := tgShrink(f, fixture.Read(f, dir+"/"+name), keep)
		f.Add(seed)
		for _, form := range also {
			if b := form(f, seed); b != nil {
				f.Add(b)
			}
		}
	}
	imp, ok := importers.Get(format)
	if !ok {
		f.Fatalf("%s is not registered", format)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		imp.Detect(data)
		r, err := imp.Parse("fuzz.json", data)
		if err != nil {
			var e *importers.Error
			if !errors.As(err, &e) {
				t.Fatalf("want an *importers.Error, got %T %v", err, err)
			}
			return
		}
		for i, f := range r.Findings {
			if f.VulnID == "" || !slices.Contains(vuln.Severities, f.Severity) {
				t.Fatalf("finding %d: VulnID %q, severity %q", i, f.VulnID, f.Severity)
			}
			if len(f.References) > importers.MaxReferences || slices.ContainsFunc(f.References, func(r string) bool { return len(r) > importers.MaxReference }) {
				t.Fatalf("finding %d: %d references, not all capped", i, len(f.References))
			}
		}
		// Read in parts, an accepted report gives the same findings.
		if st, ok := imp.(vuln.Streamer); ok {
			var parts []vuln.Reported
			if _, err := st.Stream("fuzz.json", vuln.Bytes(data), 2, func(_ *vuln.Report, fs []vuln.Reported) error {
				parts = append(parts, fs...)
				return nil
			}); err != nil {
				t.Fatalf("parsed, but refused in parts: %v", err)
			}
			if got, want := findingKeys(parts), findingKeys(r.Findings); got != want {
				t.Fatalf("in parts:\n%s\nwhole:\n%s", got, want)
			}
		}
	})
}

// tgShrink keeps a sample's shape but not its bulk (lists cut to one
// element, strings to 24 bytes, objects to the keys in keep if any): the
// fuzzer minimises each input that reaches new code before going on, for
// up to a minute, so a seed of kilobytes stalls a short run. The whole
// samples are parsed by the tests.
func tgShrink(t testing.TB, data []byte, keep []string) []byte {
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var shrink func(v any) any
	shrink = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if keep != nil && !slices.Contains(keep, k) {
					delete(v, k)
					continue
				}
				v[k] = shrink(e)
			}
		case []any:
			v = v[:min(len(v), 1)]
			for i, e := range v {
				v[i] = shrink(e)
			}
			return v
		case string:
			return v[:min(len(v), 24)]
		}
		return v
	}
	b, err := json.Marshal(shrink(doc))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
