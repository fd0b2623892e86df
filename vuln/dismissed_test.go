package vuln_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

// alert is a Dependabot alert of octo-org/shop in the shape GitHub's REST
// API returns (trimmed to what the importer reads).
func alert(n int, pkg, state, extra string) string {
	return fmt.Sprintf(`{"number": %d, "state": %q, "dependency": {"package": {"ecosystem": "npm", "name": %q}, "manifest_path": "package-lock.json"},
	  "security_advisory": {"ghsa_id": "GHSA-%04d-aaaa-bbbb", "cve_id": "CVE-2024-%04d", "severity": "high", "summary": "A flaw in %s",
	    "identifiers": [{"type": "GHSA", "value": "GHSA-%04d-aaaa-bbbb"}, {"type": "CVE", "value": "CVE-2024-%04d"}]},
	  "security_vulnerability": {"vulnerable_version_range": "< 2.0.0", "first_patched_version": {"identifier": "2.0.0"}},
	  "html_url": "https://github.com/octo-org/shop/security/dependabot/%d"%s}`, n, state, pkg, n, n, pkg, n, n, n, extra)
}

func alerts(as ...string) []byte { return []byte("[" + strings.Join(as, ",") + "]") }

func dismissed(reason string) string {
	return fmt.Sprintf(`, "dismissed_reason": %q, "dismissed_comment": "Reviewed by the team: %s"`, reason, reason)
}

// A Dependabot alert dismissed since the last import is not fixed: the
// register follows the reason GitHub gives, through the same workflow as
// by hand. Inaccurate closes as a false positive, not used as vulnerable
// but unused (the comment as justification), a tolerable risk asks a
// security officer's approval, fix started or no bandwidth leave it open;
// only an alert fixed closes as fixed, verified by the scan.
func TestDismissedAlertsFollowTheirReason(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		pkgs := []string{"inaccurate", "not-used", "tolerable", "no-bandwidth", "fixed-later"}
		var open []string
		for i, p := range pkgs {
			open = append(open, alert(i+1, p, "open", ""))
		}
		if s := f.imp(t, alerts(open...)); s.New != 5 || s.Tool != "Dependabot" {
			t.Fatalf("first import: %+v", s)
		}
		f.now = f.now.Add(24 * 60 * 60 * 1e9)
		later := []string{
			alert(1, pkgs[0], "dismissed", dismissed("inaccurate")),
			alert(2, pkgs[1], "dismissed", dismissed("not_used")),
			alert(3, pkgs[2], "dismissed", dismissed("tolerable_risk")),
			alert(4, pkgs[3], "dismissed", dismissed("no_bandwidth")),
			alert(5, pkgs[4], "fixed", ""),
		}
		s := f.imp(t, alerts(later...))
		if s.New != 0 || s.Fixed != 1 || s.Decided != 3 || s.Statements != 5 {
			t.Errorf("second import: %+v", s)
		}
		all := f.all(t)
		get := func(i int) vuln.Finding { return all[fmt.Sprintf("CVE-2024-%04d|npm/%s", i+1, pkgs[i])] }
		for i, want := range []struct {
			status     vuln.Status
			resolution vuln.Resolution
			why        string
		}{
			{vuln.Closed, vuln.FalsePositive, "Reviewed by the team: inaccurate"},
			{vuln.Closed, vuln.NotAffectedUnused, "Reviewed by the team: not_used"},
			{vuln.Open, "", ""},
			{vuln.Open, "", ""},
			{vuln.Closed, vuln.Fixed, ""},
		} {
			x := get(i)
			if x.Status != want.status || x.Resolution != want.resolution || !strings.Contains(x.Justification, want.why) {
				t.Errorf("%s: %s %s %q", pkgs[i], x.Status, x.Resolution, x.Justification)
			}
			if x.Status == vuln.Open && !x.LastSeen.Equal(f.now) {
				t.Errorf("%s: set aside but last seen %v, the scan was at %v", pkgs[i], x.LastSeen, f.now)
			}
		}
		if x := get(4); x.FixedByScan != s.Scan {
			t.Errorf("fixed alert: fixed by scan %q, want %q", x.FixedByScan, s.Scan)
		}
		reqs, err := f.svc.Requests(ctx, "pending")
		if err != nil || len(reqs) != 1 || reqs[0].FindingID != get(2).ID || reqs[0].Kind != "acceptance" ||
			!strings.Contains(reqs[0].Justification, "tolerable risk") {
			t.Errorf("pending requests: %+v %v", reqs, err)
		}
		if h := history(t, db, get(0).ID); h != "finding.opened,finding.resolved" {
			t.Errorf("inaccurate alert's history: %s", h)
		}
		// The same list again decides nothing more.
		f.now = f.now.Add(1e9)
		again := f.imp(t, alerts(append(later, alert(6, "brand-new", "open", ""))...))
		if again.New != 1 || again.Decided != 0 || again.Fixed != 0 {
			t.Errorf("third import: %+v", again)
		}
		if x := f.all(t)["CVE-2024-0004|npm/no-bandwidth"]; x.Status != vuln.Open {
			t.Errorf("no-bandwidth alert after the third import: %s %s", x.Status, x.Resolution)
		}
	})
}

// A vulnerability Trivy reported, then reports not affected (its vendor's
// advisory or a VEX document says so), is closed as a false positive with
// that as its justification, not as fixed; one first reported not affected
// opens nothing.
func TestTrivyNotAffectedClosesAsFalsePositive(t *testing.T) {
	data := fixture.Read(t, "vuln/trivy/all_statuses.json")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		first := imp(t, f, bytes.Replace(data, []byte(`"Status": "not_affected"`), []byte(`"Status": "affected"`), 1))
		if first.Statements != 0 {
			t.Fatalf("first import: %+v", first)
		}
		bash := f.all(t)["CVE-2019-18276|debian/bash"]
		if bash.Status != vuln.Open {
			t.Fatalf("bash: %+v", bash)
		}
		f.now = f.now.Add(1e9)
		s := imp(t, f, data)
		if s.Statements != 1 || s.Decided != 1 || s.Fixed != 0 || s.Findings != first.Findings-1 {
			t.Errorf("second import: %+v (first %+v)", s, first)
		}
		got, err := f.svc.Get(ctx, bash.ID)
		if err != nil || got.Status != vuln.Closed || got.Resolution != vuln.FalsePositive || !strings.Contains(got.Justification, "not_affected") {
			t.Errorf("bash after not affected: %+v %v", got, err)
		}
		// Another asset, where it is first reported not affected.
		fresh, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{File: "r.json", Asset: "fresh-app", Data: data})
		if err != nil || fresh.Statements != 1 || fresh.Decided != 0 || fresh.New != s.Findings {
			t.Fatalf("first reported not affected: %+v %v", fresh, err)
		}
		if n, _ := f.svc.Count(ctx, vuln.Filter{Asset: "fresh-app"}); n != s.Findings {
			t.Errorf("%d findings on fresh-app, want %d", n, s.Findings)
		}
	})
}

// imp imports a report on the asset example-app (Trivy's sample names none).
func imp(t *testing.T, f *env, data []byte) vuln.Summary {
	t.Helper()
	s, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{File: "r.json", Asset: "example-app", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
