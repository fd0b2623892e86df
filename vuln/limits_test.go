package vuln_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

// trivyWith is a Trivy report of one vulnerability with the given title
// and description.
func trivyWith(title, description string) []byte {
	return fmt.Appendf(nil, `{"SchemaVersion":2,"ArtifactName":"img","Results":[{"Target":"t","Type":"debian","Vulnerabilities":[
		{"VulnerabilityID":"CVE-2024-0001","PkgName":"p","InstalledVersion":"1","Severity":"HIGH","Title":%q,"Description":%q}]}]}`, title, description)
}

// sarifWith is a SARIF log of one result with the given message.
func sarifWith(message string) []byte {
	return fmt.Appendf(nil, `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}},"results":[{"ruleId":"R1","level":"error","message":{"text":%q}}]}]}`, message)
}

// A text longer than vuln.max_text_bytes is stored cut, and marked so;
// one that fits is stored whole and not marked.
func TestLongTextsAreStoredCut(t *testing.T) {
	long := strings.Repeat("é", 2<<20) // 4 MB, cut at the start of a character
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for _, tc := range []struct {
			name, asset string
			data        []byte
			titleCut    bool
		}{
			{"trivy description", "a", trivyWith("short title", long), false},
			{"trivy title and description", "b", trivyWith(long, long), true},
			{"sarif message", "c", sarifWith(long), false}, // the title is its first line, shortened
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: tc.asset, File: "r.json", Data: tc.data}); err != nil {
					t.Fatal(err)
				}
				fs, _, err := f.svc.List(ctx, vuln.Filter{Asset: tc.asset})
				if err != nil || len(fs) != 1 {
					t.Fatalf("%d findings, %v", len(fs), err)
				}
				got := fs[0]
				if !got.DescriptionCut || len(got.Description) > 64<<10 || len(got.Description) < 64<<10-1 || !strings.HasPrefix(long, got.Description) {
					t.Errorf("description of %d bytes, cut %v", len(got.Description), got.DescriptionCut)
				}
				if got.TitleCut != tc.titleCut || len(got.Title) > 64<<10 {
					t.Errorf("title of %d bytes, cut %v", len(got.Title), got.TitleCut)
				}
			})
		}
		// The same texts, short, are stored whole and not marked.
		if _, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: "d", File: "r.json", Data: trivyWith("t", "d")}); err != nil {
			t.Fatal(err)
		}
		fs, _, _ := f.svc.List(ctx, vuln.Filter{Asset: "d"})
		if len(fs) != 1 || fs[0].TitleCut || fs[0].DescriptionCut || fs[0].Description != "d" {
			t.Errorf("short texts: %+v", fs)
		}
	})
}

// An asset's name is at most 256 characters, without control
// characters; a NUL is refused, not stripped.
func TestAssetNameRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for _, tc := range []struct {
			name, asset, target, want string
		}{
			{"257 characters", strings.Repeat("é", 257), "", "at most 256"},
			{"an escape sequence", "app\x1b[31mred", "", "control character"},
			{"a NUL", "app\x00x", "", "NUL"},
			{"a report's target with an escape", "", "img\x1b]0;x\x07", "control character"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				data := report("Trivy", true, pkg("CVE-1", "a", vuln.High))
				if tc.target != "" {
					quoted, _ := json.Marshal(tc.target)
					data = []byte(strings.Replace(string(data), `"registry.example/app:1"`, string(quoted), 1))
				}
				_, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: tc.asset, File: "r.json", Data: data})
				var oe *opsguard.Error
				if !errors.As(err, &oe) || oe.Code != opsguard.EInvalid || oe.Details["field"] != "asset" || !strings.Contains(oe.Message, tc.want) {
					t.Fatalf("got %v (%+v), want a 400 on the field asset saying %q", err, oe, tc.want)
				}
			})
		}
		// An assessment's row names its own asset: the same rules, and the
		// whole report refused with nothing written.
		for _, bad := range []string{"app\x1b[31mred", "app\x00x", strings.Repeat("a", 257)} {
			csv := "id,title,severity,asset\nPT-1,Weak TLS,high,shop\nPT-2,Open admin,high," + bad + "\n"
			_, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: "pentest", File: "pt.csv", Data: []byte(csv)})
			var oe *opsguard.Error
			if !errors.As(err, &oe) || oe.Code != opsguard.EInvalid || oe.Details["field"] != "asset" || !strings.Contains(oe.Message, "pt.csv") {
				t.Errorf("a row's asset %q: got %v, want a 400 on the field asset naming the file", bad, err)
			}
		}
		n, err := f.svc.Count(ctx, vuln.Filter{})
		if err != nil || n != 0 {
			t.Errorf("%d findings imported by refused reports, %v", n, err)
		}
		if _, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: strings.Repeat("é", 256), File: "r.json", Data: report("Trivy", true, pkg("CVE-1", "a", vuln.High))}); err != nil {
			t.Errorf("256 characters: %v", err)
		}
	})
}

// heldSource is a report whose reading waits until it is let go; entered
// says that a reader is waiting.
type heldSource struct {
	data    []byte
	entered chan struct{}
	release chan struct{}
}

func (h *heldSource) Size() int64 { return int64(len(h.data)) }

func (h *heldSource) ReadAt(p []byte, off int64) (int, error) {
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-h.release
	return vuln.Bytes(h.data).ReadAt(p, off)
}

// An import beyond vuln.max_concurrent_imports is refused at once with
// rate_limited (429) and a wait; a slot given back is taken again.
func TestImportsBeyondTheLimitAreRefused(t *testing.T) {
	f := newFixture(t, storetest.Open(t, t.TempDir()+"/db.db"))
	release := make(chan struct{})
	done := make(chan error, 2)
	for i := range 2 { // the default limit
		src := &heldSource{data: report("Trivy", true, pkg("CVE-1", "a", vuln.High)), entered: make(chan struct{}, 1), release: release}
		go func() {
			_, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: fmt.Sprint("held", i), File: "r.json", Source: src})
			done <- err
		}()
		<-src.entered // that import holds a slot
	}
	_, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: "third", File: "r.json", Data: report("Trivy", true, pkg("CVE-1", "a", vuln.High))})
	var oe *opsguard.Error
	if !errors.As(err, &oe) || oe.Code != opsguard.ERateLimited || oe.Details["retry_after_seconds"] != vuln.RetryAfter || !strings.Contains(oe.Message, "vuln.max_concurrent_imports") {
		t.Fatalf("third import: %v (%+v), want rate_limited with a wait", err, oe)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("held import: %v", err)
		}
	}
	if _, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{Asset: "third", File: "r.json", Data: report("Trivy", true, pkg("CVE-1", "a", vuln.High))}); err != nil {
		t.Errorf("after the others: %v", err)
	}
}

var _ io.ReaderAt = (*heldSource)(nil)
