package vuln_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// Every real report of the fixtures goes through the register on both
// stores by auto-detection: it is imported whole (as many findings as the
// importer reads, after merging) or refused whole with the file named.
func TestImportEveryFixture(t *testing.T) {
	dir := filepath.Dir(fixture.Path(t, "vuln/README.md"))
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	// Reports that are not findings (or not reports) and must be refused.
	refused := map[string]string{
		"osv/no_findings.json":                "empty",
		"sarif/no_runs.sarif":                 "no runs",
		"openvex/openvex_not_a_document.json": "expected one of",
		"openvex/openvex_many_vuln.json":      "VEX",
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for _, p := range files {
			rel, _ := filepath.Rel(dir, p)
			data, _ := os.ReadFile(p)
			sum, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: rel, File: rel, Format: "auto", Data: data})
			if want, ok := refused[rel]; ok {
				if c := opsguard.ErrorCode(err); c != opsguard.EInvalid && c != opsguard.ENotFound || !strings.Contains(err.Error(), rel) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: want a refusal naming the file and %q, got %v", rel, want, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				continue
			}
			rep, _ := importers.Parse(rel, "auto", data)
			if sum.New != sum.Findings || sum.Findings > len(rep.Findings) || (len(rep.Findings) > 0 && sum.Findings == 0) {
				t.Errorf("%s: %+v from %d findings in the report", rel, sum, len(rep.Findings))
			}
			_, total, _ := f.svc.List(ctx, vuln.Filter{Asset: rel})
			if total != sum.New {
				t.Errorf("%s: %d in the register, %d imported", rel, total, sum.New)
			}
		}
	})
}
