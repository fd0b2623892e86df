package vuln_test

import (
	"context"
	"testing"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

func evaluate(t *testing.T, svc *vuln.Service) map[string]control.Outcome {
	t.Helper()
	out := map[string]control.Outcome{}
	for _, c := range svc.Controls() {
		o, err := c.Evaluate(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		out[c.ID] = o
	}
	return out
}

func TestVMControls(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		if o := evaluate(t, f.svc)["VM-1.assets-scanned"]; o.Status != control.Fail {
			t.Errorf("VM-1 on an empty register: %+v", o)
		}
		f.imp(t, report("Trivy", true, pkg("CVE-1", "a", vuln.Critical), pkg("CVE-2", "b", vuln.Low)))
		got := evaluate(t, f.svc)
		for id, want := range map[string]control.Status{
			"VM-1.assets-scanned": control.Fail, // no external assessment yet
			"VM-2.severity-known": control.Pass, "VM-3.sla-kept": control.Pass, "VM-5.resolutions": control.Pass,
			"VM-6.risk-assessed": control.Pass, "VM-7.fixes-verified": control.Pass,
		} {
			if got[id].Status != want {
				t.Errorf("%s = %s (%s), want %s", id, got[id].Status, got[id].Summary, want)
			}
		}
		f.imp(t, []byte(`{"assessment":{"vendor":"Pentest Co","date":"2026-10-01","kind":"pentest","target":"registry.example/app:1"},"findings":[{"id":"PT-1","title":"Weak TLS","severity":"medium"}]}`))
		if o := evaluate(t, f.svc)["VM-1.assets-scanned"]; o.Status != control.Pass {
			t.Errorf("VM-1 after an assessment: %+v", o)
		}
		// Eight days on, the critical one is late; a manual fix of it is not
		// verified by any scan.
		f.now = f.now.AddDate(0, 0, 8)
		if o := evaluate(t, f.svc)["VM-3.sla-kept"]; o.Status != control.Fail || len(o.Refs) != 1 {
			t.Errorf("VM-3 with a breach: %+v", o)
		}
		crit := f.all(t)["CVE-1|a"]
		if _, err := f.svc.Resolve(ctx, eng, crit.ID, vuln.Fixed, ""); err != nil {
			t.Fatal(err)
		}
		if o := evaluate(t, f.svc)["VM-7.fixes-verified"]; o.Status != control.Fail {
			t.Errorf("VM-7 with an unverified high-risk fix: %+v", o)
		}
		// Stale: nothing scanned for longer than the interval.
		f.now = f.now.AddDate(0, 0, 30)
		if o := evaluate(t, f.svc)["VM-1.assets-scanned"]; o.Status != control.Fail {
			t.Errorf("VM-1 after a month without scans: %+v", o)
		}
		// Writing behind the service's back is caught.
		storetest.Exec(t, db, "UPDATE findings SET status = 'closed', resolution = 'risk_accepted' WHERE id = ?", f.all(t)["CVE-2|b"].ID)
		if o := evaluate(t, f.svc)["VM-5.resolutions"]; o.Status != control.Fail {
			t.Errorf("VM-5 with an unapproved acceptance: %+v", o)
		}
	})
}
