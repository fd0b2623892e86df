package vuln_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// trivyOf is a Trivy report of asset, written at created, with the
// findings CVE-2099-<i> of package p<i> for i in ids.
func trivyOf(asset, created string, ids ...int) []byte {
	var vs []string
	for _, i := range ids {
		vs = append(vs, fmt.Sprintf(`{"VulnerabilityID":"CVE-2099-%04d","PkgName":"p%d","InstalledVersion":"1","Severity":"HIGH"}`, i, i))
	}
	return fmt.Appendf(nil, `{"SchemaVersion":2,"CreatedAt":%q,"ArtifactName":%q,"ArtifactType":"container_image","Results":[`+
		`{"Target":"%s (debian 12)","Class":"os-pkgs","Type":"debian","Vulnerabilities":[%s]}]}`, created, asset, asset, strings.Join(vs, ","))
}

// replicas returns n registers over one PostgreSQL database, each with a
// store of its own, as n replicas of the server have.
func replicas(t *testing.T, n int) (*store.DB, []*vuln.Service) {
	dsn := storetest.PostgresDSN(t)
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Now() }
	var svcs []*vuln.Service
	for range n {
		db := storetest.Open(t, dsn)
		svcs = append(svcs, vuln.NewService(store.Bind[vuln.Tx](db), ledger.New(key, ledger.Options{}), config.Default().Vuln, vuln.Options{Formats: importers.Formats{}, Now: now}))
	}
	return storetest.Open(t, dsn), svcs
}

// importAll imports reports[i] through svcs[i], all at once.
func importAll(t *testing.T, svcs []*vuln.Service, reports ...[]byte) []vuln.Summary {
	t.Helper()
	sums := make([]vuln.Summary, len(reports))
	errs := make([]error, len(reports))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range reports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			sums[i], errs[i] = svcs[i].Import(ctx, "ci", vuln.ImportRequest{File: fmt.Sprintf("r%d.json", i), Data: reports[i]})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("import %d: %v", i, err)
		}
	}
	return sums
}

// Two replicas importing reports of one asset at the same time record
// each finding once, and close a finding the reports no longer state once.
func TestConcurrentImportsOnReplicas(t *testing.T) {
	db, svcs := replicas(t, 2)
	if _, err := svcs[0].Import(ctx, "ci", vuln.ImportRequest{File: "r.json", Data: trivyOf("app:1", "2026-11-01T00:00:00Z", 5000)}); err != nil {
		t.Fatal(err)
	}
	ids := make([]int, 1000)
	for i := range ids {
		ids[i] = i
	}
	importAll(t, svcs, trivyOf("app:1", "2026-11-02T00:00:00Z", ids...), trivyOf("app:1", "2026-11-02T00:00:01Z", ids...))

	var rows, keys, open, fixed, opened int
	err := db.View(ctx, func(tx *store.Tx) error {
		fs, _, err := tx.ListFindings(ctx, vuln.Filter{Asset: "app:1", Limit: 1000})
		if err != nil {
			return err
		}
		if rows, err = tx.CountFindings(ctx, vuln.Filter{Asset: "app:1"}); err != nil {
			return err
		}
		if open, err = tx.CountFindings(ctx, vuln.Filter{Asset: "app:1", Status: vuln.Open}); err != nil {
			return err
		}
		seen := map[string]bool{}
		for page := 0; len(fs) > 0; page++ {
			for _, f := range fs {
				seen[f.VulnID+"|"+f.Package] = true
			}
			if fs, _, err = tx.ListFindings(ctx, vuln.Filter{Asset: "app:1", Limit: 1000, Offset: (page + 1) * 1000}); err != nil {
				return err
			}
		}
		keys = len(seen)
		es, err := tx.ListEntries(ctx, ledger.EntryFilter{Kind: "finding.fixed", Limit: 100})
		fixed = len(es)
		if err != nil {
			return err
		}
		subjects, err := tx.LedgerSubjects(ctx, "finding.opened")
		opened = len(subjects)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != 1001 || keys != 1001 || open != 1000 || fixed != 1 || opened != 1001 {
		t.Errorf("%d rows for %d keys, %d open, %d finding.fixed, %d finding.opened; want 1001 rows and keys, 1000 open, 1 fixed, 1001 opened",
			rows, keys, open, fixed, opened)
	}
}

// Two replicas importing the first reports of a new asset at the same
// time both succeed, on one asset.
func TestConcurrentFirstImportsOnReplicas(t *testing.T) {
	db, svcs := replicas(t, 2)
	sums := importAll(t, svcs, trivyOf("new:1", "2026-11-02T00:00:00Z", 1, 2), trivyOf("new:1", "2026-11-02T00:00:01Z", 1, 2))
	var assets []vuln.AssetInfo
	err := db.View(ctx, func(tx *store.Tx) error {
		var err error
		assets, err = tx.ListAssets(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(assets) != 1 || sums[0].New+sums[1].New != 2 || sums[0].Asset != "new:1" {
		t.Errorf("assets %+v, summaries %+v", assets, sums)
	}
}
