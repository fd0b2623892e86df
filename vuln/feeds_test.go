package vuln_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

// epssCSV is a small file in the published EPSS layout.
const epssCSV = `#model_version:v2025.03.14,score_date:2025-08-25T00:00:00+0000
cve,epss,percentile
CVE-2024-0001,0.51234,0.98
CVE-2024-0002,0.00042,0.05
`

func TestFeedsRaiseRisk(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		// CVE-2025-48384 is in the real KEV catalog of the fixtures.
		f.imp(t, report("Trivy", true,
			pkg("CVE-2025-48384", "p", vuln.High),
			pkg("CVE-2024-0001", "p", vuln.Low),
			pkg("CVE-2024-0002", "p", vuln.Low),
			pkg("CVE-1999-9999", "p", vuln.Medium)))
		before := f.all(t)
		kev, err := f.svc.ImportFeed(ctx, "iso", "cisa-kev.json", fixture.Read(t, "feeds/cisa-kev.json"))
		if err != nil {
			t.Fatal(err)
		}
		if kev.Kind != "kev" || kev.Version != "2025.08.25" || kev.Entries != 1404 || kev.Reassessed != 1 {
			t.Fatalf("kev = %+v", kev)
		}
		x := f.one(t, "CVE-2025-48384")
		if x.Risk != vuln.RiskHigh || x.SLADays != 7 || !x.DueAt.Equal(x.FirstSeen.AddDate(0, 0, 7)) || !strings.Contains(x.RiskNote, "Known Exploited") || !strings.Contains(x.RiskNote, "raised to critical") {
			t.Errorf("KEV finding = %+v", x)
		}
		if y := f.one(t, "CVE-1999-9999"); y.SLADays != before["CVE-1999-9999|p"].SLADays {
			t.Errorf("a finding not in KEV changed: %+v", y)
		}
		ep, err := f.svc.ImportFeed(ctx, "iso", "epss.csv", []byte(epssCSV))
		if err != nil || ep.Kind != "epss" || ep.Entries != 2 || ep.Version != "v2025.03.14" || ep.Reassessed != 1 {
			t.Fatalf("epss = %+v %v", ep, err)
		}
		if a := f.one(t, "CVE-2024-0001"); a.Risk != vuln.RiskMedium || a.SLADays != 90 || !strings.Contains(a.RiskNote, "EPSS") {
			t.Errorf("EPSS above threshold = %+v", a)
		}
		if b := f.one(t, "CVE-2024-0002"); b.SLADays != 180 {
			t.Errorf("EPSS below threshold = %+v", b)
		}
		// A finding first seen after the feeds is raised at once.
		f.imp(t, report("Grype", false, pkg("CVE-2025-48384", "q", vuln.Medium)))
		if q := f.all(t)["CVE-2025-48384|q"]; q.SLADays != 30 || q.Risk != vuln.RiskHigh {
			t.Errorf("new finding = %+v", q)
		}
	})
}

func TestExtensionSurvivesReassessment(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	f := newFixture(t, db)
	f.imp(t, report("Trivy", true, pkg("CVE-2025-48384", "p", vuln.High)))
	x := f.one(t, "CVE-2025-48384")
	due := x.DueAt.AddDate(0, 0, 10)
	req, _ := f.svc.RequestExtension(ctx, eng, x.ID, "vendor fix arrives next sprint, OPS-7", due)
	if _, err := f.svc.Decide(ctx, iso, req.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	if _, err := f.svc.ImportFeed(ctx, "iso", "kev.json", fixture.Read(t, "feeds/cisa-kev.json")); err != nil {
		t.Fatal(err)
	}
	if got := f.one(t, "CVE-2025-48384"); !got.DueAt.Equal(due) || got.Risk != vuln.RiskHigh || got.SLADays != 7 {
		t.Errorf("after KEV = due %v (want %v), sla %d", got.DueAt, due, got.SLADays)
	}
}

func TestBadFeeds(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	f := newFixture(t, db)
	for _, tc := range []struct {
		name, data string
		line       int
		want       string
	}{
		{"not a feed", `{"hello":1}`, 0, "not a threat feed"},
		{"epss bad score", "cve,epss,percentile\nCVE-2024-0001,1.5,0.1\n", 2, "probability"},
		{"epss bad cve", "#model_version:v1\ncve,epss,percentile\nCVE-2024-0001,0.1,0.1\nNOPE,0.1,0.1\n", 4, "CVE"},
		{"epss bad header", "#model_version:v1\ncve,score\n", 2, "header"},
		{"kev truncated", `{"catalogVersion":"1","vulnerabilities":[{"cveID":"CVE-2024-1"`, 1, "truncated"},
		{"kev bad id", `{"catalogVersion":"1","vulnerabilities":[{"cveID":"x"}]}`, 0, "vulnerabilities[0].cveID"},
	} {
		_, err := f.svc.ImportFeed(ctx, "iso", "feed", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "feed") {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.line > 0 && !strings.Contains(err.Error(), "feed:"+strconv.Itoa(tc.line)) {
			t.Errorf("%s: want line %d in %v", tc.name, tc.line, err)
		}
	}
	var n int64
	db.View(ctx, func(tx *store.Tx) error { var err error; n, err = tx.LedgerSize(ctx); return err })
	if n != 0 {
		t.Errorf("bad feeds left %d ledger entries", n)
	}
}
