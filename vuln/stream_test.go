package vuln_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// A Trivy report is stored while it is read, a part at a time; with parts
// of five findings, a real report takes several, and the register must
// come out as the report says, the same as an import in one part.
func TestStreamedImportInParts(t *testing.T) {
	data := fixture.Read(t, "vuln/trivy/securecodebox-repo.json")
	rep, err := importers.Parse("r.json", "trivy", data)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var want []vuln.Finding
		f := newFixture(t, db)
		for _, part := range []int{5000, 5} {
			restore := vuln.SetImportPart(part)
			s, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{File: "r.json", Format: "auto", Data: data, Asset: fmt.Sprintf("repo-in-parts-of-%d", part)})
			restore()
			if err != nil {
				t.Fatal(err)
			}
			if s.Findings == 0 || s.Findings > len(rep.Findings) {
				t.Fatalf("part %d: %+v", part, s)
			}
			if s.New != s.Findings || s.Format != "trivy" || s.Tool != "Trivy" {
				t.Fatalf("part %d: %+v", part, s)
			}
			fs, total, err := f.svc.List(ctx, vuln.Filter{Asset: s.Asset, Limit: 1000})
			if err != nil || total != s.Findings {
				t.Fatalf("part %d: %d findings listed, summary %+v, %v", part, total, s, err)
			}
			if want == nil {
				want = fs
				continue
			}
			key := func(x vuln.Finding) string {
				return strings.Join([]string{x.VulnID, x.Package, x.Location, string(x.Severity), string(x.Risk), x.Title, x.DueAt.String()}, "|")
			}
			got := map[string]bool{}
			for _, x := range fs {
				got[key(x)] = true
			}
			for _, x := range want {
				if !got[key(x)] {
					t.Errorf("imported in parts of %d, missing %s", part, key(x))
				}
			}
		}
	})
}

// A report refused after some of its parts were stored leaves nothing:
// the parts were stored in the import's one transaction.
func TestStreamedImportRefusedLateImportsNothing(t *testing.T) {
	defer vuln.SetImportPart(3)()
	data := fixture.Read(t, "vuln/trivy/securecodebox-repo.json")
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	results := doc["Results"].([]any)
	last := -1
	for i, r := range results {
		if vs, _ := r.(map[string]any)["Vulnerabilities"].([]any); len(vs) > 0 {
			last = i
		}
	}
	vs := results[last].(map[string]any)["Vulnerabilities"].([]any)
	vs[len(vs)-1].(map[string]any)["Severity"] = "SEVERE"
	bad, _ := json.MarshalIndent(doc, "", "  ")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for _, tc := range []struct {
			name string
			data []byte
			want []string
		}{
			{"unknown severity of the last vulnerability", bad, []string{"r.json", "Vulnerabilities[", "SEVERE"}},
			{"truncated near its end", data[:len(data)-200], []string{"r.json:", "truncated"}},
			{"trailing data", append(bytes.Clone(data), `{"x": 1}`...), []string{"after the JSON document"}},
		} {
			_, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{File: "r.json", Format: "trivy", Data: tc.data})
			if opsguard.ErrorCode(err) != opsguard.EInvalid {
				t.Fatalf("%s: want an invalid report, got %v", tc.name, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %q does not say %q", tc.name, err, w)
				}
			}
		}
		if _, total, _ := f.svc.List(ctx, vuln.Filter{}); total != 0 {
			t.Errorf("a refused report left %d findings", total)
		}
		var n int64
		db.View(ctx, func(tx *store.Tx) error { var err error; n, err = tx.LedgerSize(ctx); return err })
		if n != 0 {
			t.Errorf("a refused report left %d ledger entries", n)
		}
	})
}

// A report may state one finding twice, in parts stored one after the
// other: the second statement adds its ids, and a more severe one rates
// the finding anew, with its own ledger entry.
func TestStreamedImportRestatedFinding(t *testing.T) {
	defer vuln.SetImportPart(1)()
	entry := func(id, sev string, vendor ...string) map[string]any {
		return map[string]any{"VulnerabilityID": id, "VendorIDs": vendor, "PkgName": "openssl", "InstalledVersion": "1.0", "Severity": sev}
	}
	doc := map[string]any{"SchemaVersion": 2, "ArtifactName": "registry.example/app:1", "Results": []any{
		map[string]any{"Target": "a/package-lock.json", "Type": "npm", "Vulnerabilities": []any{entry("CVE-2024-1", "LOW"), entry("CVE-2024-2", "LOW")}},
		map[string]any{"Target": "b/package-lock.json", "Type": "npm", "Vulnerabilities": []any{entry("GHSA-xxxx-yyyy-zzzz", "HIGH", "CVE-2024-1")}},
	}}
	data, _ := json.Marshal(doc)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		s := f.imp(t, data)
		if s.Findings != 2 || s.New != 2 {
			t.Fatalf("summary %+v", s)
		}
		all := f.all(t)
		x := all["CVE-2024-1|npm/openssl"]
		if x.Severity != vuln.High || x.Risk != "high" || x.SLADays != 30 || !x.DueAt.Equal(f.now.AddDate(0, 0, 30)) {
			t.Errorf("restated finding: %+v", x)
		}
		if h := history(t, db, x.ID); h != "finding.opened,finding.risk_changed" {
			t.Errorf("history %s", h)
		}
		if y := all["CVE-2024-2|npm/openssl"]; y.Severity != vuln.Low {
			t.Errorf("other finding: %+v", y)
		}
		// The report again: one finding by either id, nothing new.
		f.now = f.now.Add(1)
		doc["CreatedAt"] = "again"
		again, _ := json.Marshal(doc)
		if s := f.imp(t, again); s.New != 0 || s.Unchanged != 2 || s.Findings != 2 {
			t.Errorf("again: %+v", s)
		}
		// Another tool naming it only by the id of its second statement.
		if s := f.imp(t, report("Grype", false, pkg("GHSA-xxxx-yyyy-zzzz", "npm/openssl", vuln.High))); s.New != 0 || s.Unchanged != 1 {
			t.Errorf("by the restated id: %+v", s)
		}
	})
}

// A vulnerability's title and description are stored once for all the
// findings that carry them; a finding stored before they were (with its
// texts in its own row) still reads its own.
func TestTextsStoredOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		same := func(id, p string) vuln.Reported {
			x := pkg(id, p, vuln.High)
			x.Title, x.Description = "Heap overflow in the parser", "A long advisory text, the same for every package it affects."
			return x
		}
		f.imp(t, report("Trivy", true, same("CVE-2024-1", "a"), same("CVE-2024-1", "b"), same("CVE-2024-1", "c"), pkg("CVE-2024-2", "a", vuln.Low)))
		// Counted by touching each row: two texts for four findings.
		if n := storetest.Exec(t, db, "UPDATE vuln_texts SET title = title"); n != 2 {
			t.Errorf("%d texts stored for 2 distinct", n)
		}
		all := f.all(t)
		for _, p := range []string{"a", "b", "c"} {
			if x := all["CVE-2024-1|"+p]; x.Title != "Heap overflow in the parser" || !strings.HasPrefix(x.Description, "A long advisory") {
				t.Errorf("finding in %s: %q %q", p, x.Title, x.Description)
			}
		}
		// Another import with the same text adds none.
		f.imp(t, report("Grype", false, same("CVE-2024-1", "d")))
		if n := storetest.Exec(t, db, "UPDATE vuln_texts SET title = title"); n != 2 {
			t.Errorf("%d texts after the same text again", n)
		}
		// As a finding stored before migration 0011 is.
		old := all["CVE-2024-2|a"]
		storetest.Exec(t, db, "UPDATE findings SET title = 'Stored in its row', description = 'Before 0011', text_hash = '' WHERE id = ?", old.ID)
		if x, err := f.svc.Get(ctx, old.ID); err != nil || x.Title != "Stored in its row" || x.Description != "Before 0011" {
			t.Errorf("a finding with its texts in its row: %q %q %v", x.Title, x.Description, err)
		}
	})
}

// panicFormat streams a part, then panics, as a reader with a bug would.
type panicFormat struct{}

func (panicFormat) Name() string            { return "panics" }
func (panicFormat) Detect(data []byte) bool { return importers.Sniff(data, "panic-report") }
func (panicFormat) Parse(string, []byte) (*vuln.Report, error) {
	return nil, errors.New("streams only")
}
func (panicFormat) Stream(name string, _ vuln.Source, _ int, emit func(*vuln.Report, []vuln.Reported) error) (*vuln.Report, error) {
	head := &vuln.Report{Format: "panics", Tool: "Panics", Target: "registry.example/app:1", Complete: true}
	if err := emit(head, []vuln.Reported{pkg("CVE-2024-9", "a", vuln.High)}); err != nil {
		return nil, err
	}
	panic("a bug in the reader")
}

func init() { importers.Register(panicFormat{}) }

// A reader that panics fails its import, with nothing stored, and not the
// process.
func TestStreamedImportReaderPanics(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "panic.db"))
	f := newFixture(t, db)
	_, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{File: "p.json", Data: []byte(`{"panic-report": true}`)})
	if err == nil || !strings.Contains(err.Error(), "a bug in the reader") || !strings.Contains(err.Error(), "p.json") {
		t.Fatalf("import: %v", err)
	}
	if _, total, _ := f.svc.List(ctx, vuln.Filter{}); total != 0 {
		t.Errorf("%d findings stored", total)
	}
}
