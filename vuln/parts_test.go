package vuln_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// assetFindings describes the findings of an asset, each as one line of
// what an import decides (its ids, place, severity, risk, SLA), sorted.
func assetFindings(t testing.TB, db *store.DB, asset string) []string {
	t.Helper()
	var out []string
	err := db.View(ctx, func(tx *store.Tx) error {
		a, err := tx.AssetByName(ctx, asset)
		if err != nil {
			return err
		}
		known, err := tx.AssetFindings(ctx, a.ID) // with their ids
		if err != nil {
			return err
		}
		ids := map[string][]string{}
		for _, f := range known {
			for x := range f.IDs {
				ids[f.ID] = append(ids[f.ID], x)
			}
			sort.Strings(ids[f.ID])
		}
		for page := 0; page*1000 < len(known); page++ {
			fs, _, err := tx.ListFindings(ctx, vuln.Filter{Asset: asset, Limit: 1000, Offset: page * 1000})
			if err != nil {
				return err
			}
			for _, f := range fs {
				out = append(out, fmt.Sprintf("%s %v pkg=%s loc=%s %s/%s/%dd %s", f.VulnID, ids[f.ID], f.Package, f.Location, f.Severity, f.Risk, f.SLADays, f.Status))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// A report that states findings again in later parts is recorded as in
// one part, whatever the parts hold: the cases the defect report gave.
func TestImportPartsRestated(t *testing.T) {
	a, b, c, d, e := pkg("CVE-1", "a", vuln.High), pkg("CVE-2", "b", vuln.Low), pkg("CVE-3", "c", vuln.Low), pkg("CVE-4", "d", vuln.Low), pkg("CVE-5", "e", vuln.Low)
	ghsa := pkg("GHSA-x", "a", vuln.Medium)
	both := pkg("CVE-1", "a", vuln.Critical, "GHSA-x")
	cases := []struct {
		name string
		fs   []vuln.Reported
	}{
		// One finding four times makes a first part of one new finding;
		// the next part opens four, and the last states one of them again.
		{"nine findings in parts of four", []vuln.Reported{a, a, a, a, b, c, d, e, b}},
		// The third names both ids of the first two, which stay two
		// findings; it must not merge the second into the first either.
		{"an id shared after merging", []vuln.Reported{a, ghsa, both, ghsa}},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for _, tc := range cases {
			data := report("Scanner", true, tc.fs...)
			var want []string
			for part := len(tc.fs); part >= 1; part-- {
				restore := vuln.SetImportPart(part)
				asset := fmt.Sprintf("%s/%d", tc.name, part)
				s, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: asset, File: "r.json", Data: data})
				restore()
				if err != nil {
					t.Fatalf("%s, parts of %d: %v", tc.name, part, err)
				}
				got := assetFindings(t, db, asset)
				if s.New != len(got) || s.Findings != s.New {
					t.Errorf("%s, parts of %d: summary %+v, %d findings stored", tc.name, part, s, len(got))
				}
				if want == nil {
					want = got
				} else if !slices.Equal(got, want) {
					t.Errorf("%s, parts of %d:\n got %q\nwant %q", tc.name, part, got, want)
				}
			}
		}
	})
}

// A Trivy image report whose OS and language results each list 6,000
// entries that restate the same vulnerabilities of the same packages is
// streamed in parts of 5,000: the first makes 50 findings, the next opens
// thousands, and the last states most of those again.
func TestImportTrivyResultsRestated(t *testing.T) {
	list := func(distinct int, pkg string) string {
		var vs []string
		for i := range 6000 {
			vs = append(vs, fmt.Sprintf(`{"VulnerabilityID":"CVE-2099-%04d","PkgName":"%s%d","InstalledVersion":"1","Severity":"HIGH"}`, i%distinct, pkg, i%distinct))
		}
		return strings.Join(vs, ",")
	}
	data := []byte(`{"SchemaVersion":2,"ArtifactName":"img:1","ArtifactType":"container_image","Results":[` +
		`{"Target":"img:1 (debian 12)","Class":"os-pkgs","Type":"debian","Vulnerabilities":[` + list(50, "deb") + `]},` +
		`{"Target":"usr/lib/app.jar","Class":"lang-pkgs","Type":"jar","Vulnerabilities":[` + list(3000, "jar") + `]}]}`)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, err := newFixture(t, db).svc.Import(ctx, "ci", vuln.ImportRequest{File: "r.json", Data: data})
		if err != nil {
			t.Fatal(err)
		}
		if s.New != 3050 || s.Findings != 3050 {
			t.Errorf("summary %+v, want 3,050 findings", s)
		}
	})
}

// partSizes are the part sizes a report of n findings is imported at:
// every one up to 200, a dense sample above.
func partSizes(n int) []int {
	var out []int
	if n <= 200 {
		for p := 1; p <= n; p++ {
			out = append(out, p)
		}
		return out
	}
	// Every size up to 16, then one in 11 up to 200 (the sizes that
	// failed on a real report came in runs of 13 and more), then sizes
	// spread over the rest, and the last ones, which leave a part of one
	// or two findings.
	for p := 1; p <= 16; p++ {
		out = append(out, p)
	}
	for p := 17; p <= 200; p += 11 {
		out = append(out, p)
	}
	for p := 300; p < n-2; p = p * 3 / 2 {
		out = append(out, p)
	}
	return append(out, n-2, n-1, n)
}

// Property: every fixture the importers accept, imported at every part
// size from 1 to its finding count (a dense sample of them above 200),
// gives the same findings as imported in one part.
func TestImportAtEveryPartSize(t *testing.T) {
	dir := filepath.Dir(fixture.Path(t, "vuln/README.md"))
	type sample struct {
		rel  string
		data []byte
		n    int
	}
	var samples []sample
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rep, err := importers.Parse(rel, "auto", data); err == nil && len(rep.Findings) > 1 {
			samples = append(samples, sample{rel, data, len(rep.Findings)})
		}
		return nil
	})
	if len(samples) < 10 {
		t.Fatalf("only %d fixtures read", len(samples))
	}
	db := storetest.Open(t, filepath.Join(t.TempDir(), "parts.db"))
	f := newFixture(t, db)
	for _, sm := range samples {
		t.Run(sm.rel, func(t *testing.T) {
			imp := func(part int) []string {
				defer vuln.SetImportPart(part)()
				asset := fmt.Sprintf("%s/%d", sm.rel, part)
				s, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: asset, File: sm.rel, Data: sm.data})
				if err != nil {
					t.Fatalf("parts of %d: %v", part, err)
				}
				got := assetFindings(t, db, asset)
				if s.New != len(got) {
					t.Errorf("parts of %d: summary %+v, %d findings stored", part, s, len(got))
				}
				return got
			}
			want := imp(sm.n + 1)
			for _, part := range partSizes(sm.n) {
				if got := imp(part); !slices.Equal(got, want) {
					t.Fatalf("parts of %d: %d findings, one part gives %d:\n got %q\nwant %q", part, len(got), len(want), got, want)
				}
			}
		})
	}
}
