package vuln_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

// history lists the kinds of a finding's ledger entries, oldest first.
func history(t *testing.T, db *store.DB, findingID string) string {
	t.Helper()
	var kinds []string
	err := db.View(ctx, func(tx *store.Tx) error {
		es, err := tx.ListEntries(ctx, ledger.EntryFilter{Subject: "finding/" + findingID})
		for i := len(es) - 1; i >= 0; i-- {
			kinds = append(kinds, es[i].Kind)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(kinds, ",")
}

// A report imported again byte for byte is not parsed again, and must come
// to what a full import concludes: the same summary, last_seen moved, a
// finding fixed by hand reopened, a finding closed otherwise left closed.
func TestRepeatedReport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for _, tc := range []struct {
			name  string
			again func([]byte) []byte
		}{
			{"byte for byte", func(r []byte) []byte { return r }},
			{"one byte more (a full import)", func(r []byte) []byte { return append(r, '\n') }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// Each case on its own asset: both run on one database.
				asset := "app-" + strings.Fields(tc.name)[0]
				r := report("Trivy", true, pkg("A", "p", vuln.High), pkg("B", "p", vuln.High), pkg("C", "p", vuln.Low))
				imp := func(data []byte) vuln.Summary {
					s, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{File: "r.json", Asset: asset, Data: data})
					if err != nil {
						t.Fatal(err)
					}
					return s
				}
				first := imp(r)
				byID := map[string]vuln.Finding{}
				fs, _, err := f.svc.List(ctx, vuln.Filter{Asset: asset})
				if err != nil || len(fs) != 3 {
					t.Fatalf("findings %+v %v", fs, err)
				}
				for _, x := range fs {
					byID[x.VulnID] = x
				}
				if _, err := f.svc.Resolve(ctx, eng, byID["A"].ID, vuln.Fixed, ""); err != nil {
					t.Fatal(err)
				}
				if _, err := f.svc.Resolve(ctx, eng, byID["B"].ID, vuln.FalsePositive, valid); err != nil {
					t.Fatal(err)
				}
				f.now = f.now.Add(time.Hour)
				s := imp(tc.again(r))
				if s.Scan == first.Scan || s.Findings != 3 || s.New != 0 || s.Unchanged != 2 || s.Reopened != 1 || s.Fixed != 0 ||
					s.Asset != asset || s.Format != "test" || s.Tool != "Trivy" || s.LedgerSeq == 0 {
					t.Errorf("summary %+v", s)
				}
				for _, x := range fs {
					y, err := f.svc.Get(ctx, x.ID)
					if err != nil {
						t.Fatal(err)
					}
					if !y.LastSeen.Equal(f.now) || !y.FirstSeen.Equal(x.FirstSeen) || len(y.Tools) != 1 {
						t.Errorf("%s: %+v", x.VulnID, y)
					}
					switch x.VulnID {
					case "A":
						if y.Status != vuln.Open || !y.Regression || history(t, db, x.ID) != "finding.opened,finding.resolved,finding.reopened" {
							t.Errorf("A fixed by hand and reported again: %+v, %s", y, history(t, db, x.ID))
						}
					case "B":
						if y.Status != vuln.Closed || y.Resolution != vuln.FalsePositive {
							t.Errorf("B, a false positive: %+v", y)
						}
					}
				}
			})
		}
	})
}

// A report is a repeat only of the newest scan of its tool on its asset:
// the same bytes after another scan, or on another asset, are imported in
// full.
func TestRepeatedReportOnlyOfTheNewestScan(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		a, b := pkg("CVE-1", "a", vuln.High), pkg("CVE-2", "b", vuln.Medium)
		r1 := report("Trivy", true, a, b)
		f.imp(t, r1)
		f.now = f.now.Add(time.Hour)
		if s := f.imp(t, report("Trivy", true, a)); s.Fixed != 1 {
			t.Fatalf("b not fixed: %+v", s)
		}
		f.now = f.now.Add(time.Hour)
		s := f.imp(t, r1) // the first report again, no longer the newest
		b2 := f.all(t)["CVE-2|b"]
		if s.Reopened != 1 || s.Unchanged != 1 || b2.Status != vuln.Open || !b2.Regression || !b2.LastSeen.Equal(f.now) {
			t.Errorf("first report again: %+v, b %+v", s, b2)
		}
		other, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{File: "r.json", Asset: "elsewhere", Data: r1})
		if err != nil || other.New != 2 || other.Asset != "elsewhere" {
			t.Errorf("same report on another asset: %+v %v", other, err)
		}
	})
}

// last_seen of a finding no longer reported stays the time of the last
// scan that reported it, repeated or not.
func TestLastSeenOfAFixedFinding(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		r := report("Trivy", true, pkg("CVE-1", "a", vuln.High))
		f.imp(t, r)
		f.now = f.now.Add(time.Hour)
		f.imp(t, r)
		seen := f.now
		f.now = f.now.Add(time.Hour)
		if s := f.imp(t, report("Trivy", true)); s.Fixed != 1 {
			t.Fatalf("not fixed: %+v", s)
		}
		f.now = f.now.Add(time.Hour)
		f.imp(t, report("Grype", true)) // another tool's scan moves nothing
		x := f.all(t)["CVE-1|a"]
		if x.Status != vuln.Closed || !x.LastSeen.Equal(seen) {
			t.Errorf("last seen %v, want %v: %+v", x.LastSeen, seen, x)
		}
	})
}

// A repeat of a repeat counts and dates the findings of the scan first
// imported, seals two scan rows and no finding row, and a full import
// after it closes what is gone with the repeat's time as last seen.
func TestRepeatOfARepeat(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		a, b, c := pkg("CVE-1", "a", vuln.High), pkg("CVE-2", "b", vuln.Medium), pkg("CVE-3", "c", vuln.Low)
		r := report("Trivy", true, a, b, c)
		first := f.imp(t, r)
		for i := 0; i < 2; i++ {
			f.now = f.now.Add(time.Hour)
			s := f.imp(t, r)
			if s.Unchanged != 3 || s.New != 0 || s.Findings != 3 {
				t.Fatalf("repeat %d: %+v", i+1, s)
			}
			for k, x := range f.all(t) {
				if !x.LastSeen.Equal(f.now) || x.FirstSeen.Equal(f.now) {
					t.Errorf("repeat %d: %s last seen %v, first seen %v, want last %v", i+1, k, x.LastSeen, x.FirstSeen, f.now)
				}
			}
			var tables map[string]int
			err := db.View(ctx, func(tx *store.Tx) error {
				es, err := tx.ListEntries(ctx, ledger.EntryFilter{Kind: ledger.KindRows, Limit: 1})
				if err != nil || len(es) != 1 {
					return fmt.Errorf("rows entries %v %v", es, err)
				}
				var p struct{ Tables map[string]int }
				err = json.Unmarshal(es[0].Payload, &p)
				tables = p.Tables
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if tables["findings"] != 0 || tables["finding_tools"] != 0 || tables["scans"] != 2 {
				t.Errorf("repeat %d sealed %v, want two scan rows and no finding row", i+1, tables)
			}
		}
		repeated := f.now
		f.now = f.now.Add(time.Hour)
		s := f.imp(t, report("Trivy", true, a, b))
		if s.Fixed != 1 || s.Unchanged != 2 || s.Scan == first.Scan {
			t.Fatalf("full import after repeats: %+v", s)
		}
		all := f.all(t)
		if x := all["CVE-3|c"]; x.Status != vuln.Closed || !x.LastSeen.Equal(repeated) {
			t.Errorf("gone after the repeats: last seen %v, want %v: %+v", x.LastSeen, repeated, x)
		}
		if x := all["CVE-1|a"]; !x.LastSeen.Equal(f.now) {
			t.Errorf("still reported: last seen %v, want %v", x.LastSeen, f.now)
		}
	})
}
