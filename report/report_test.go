package report_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/report"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

var ctx = context.Background()

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// world is a store with a ledger, control runs over a few days and an
// entry citing evidence.
type world struct {
	db  *store.DB
	log *ledger.Log
	svc *report.Service
	clk *clock
}

func newWorld(t testing.TB, db *store.DB) *world {
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	l := ledger.New(key, ledger.Options{Now: clk.now})
	w := &world{db: db, log: l, clk: clk}
	w.svc = report.NewService(store.Bind[report.Tx](db), l, report.ServiceOptions{Now: clk.now})
	return w
}

// seed writes, on each of days days from 1 March 2026, an evidence entry
// and a control run in which CM-3.x fails on day 2.
func (w *world) seed(t testing.TB, days int) {
	e := control.NewEngine(store.Bind[control.Tx](w.db), w.log, w.clk.now, nil)
	day := 0
	if err := e.Register(
		control.Control{ID: "CM-3.approved", Requirement: "CM-3", Title: "Pull requests approved by another", Evaluate: func(context.Context) (control.Outcome, error) {
			if day == 1 {
				return control.Outcome{Status: control.Fail, Summary: "PR 7 merged without approval"}, nil
			}
			return control.Outcome{Status: control.Pass, Summary: "every PR approved"}, nil
		}},
		control.Control{ID: "LG-3.ok", Requirement: "LG-3", Title: "Ledger verifies", Evaluate: func(context.Context) (control.Outcome, error) {
			return control.Outcome{Status: control.Pass, Summary: "verified"}, nil
		}},
	); err != nil {
		t.Fatal(err)
	}
	for day = 0; day < days; day++ {
		w.clk.t = time.Date(2026, 3, 1+day, 9, 0, 0, 0, time.UTC)
		if err := w.db.Update(ctx, func(tx *store.Tx) error {
			b, err := w.log.PutBlob(ctx, tx, "text/plain", []byte("scan report of day "+string(rune('1'+day))))
			if err != nil {
				return err
			}
			_, err = w.log.Append(ctx, tx, ledger.Event{Actor: "alice", Kind: "scan.imported", Subject: "scan/" + b.SHA256[:8],
				Payload: json.RawMessage(`{"evidence":["` + b.Ref() + `"], "note":"<b>spaced</b>  out"}`)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Run(ctx, "system", "schedule"); err != nil {
			t.Fatal(err)
		}
	}
	w.clk.t = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
}

func (w *world) export(t testing.TB, from, to string, reqs ...string) []byte {
	t.Helper()
	f, _ := report.ParseDate(from, false)
	tt, _ := report.ParseDate(to, true)
	var buf bytes.Buffer
	if _, err := w.svc.Export(ctx, "auditor1", report.Request{From: f, To: tt, Requirements: reqs}, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func verify(t testing.TB, b []byte, key string) (*report.Summary, error) {
	t.Helper()
	return report.Verify(ctx, bytes.NewReader(b), int64(len(b)), key, report.VerifyOptions{})
}

func TestRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.seed(t, 3)
		b := w.export(t, "2026-03-01", "2026-03-31")
		s, err := verify(t, b, w.log.Key().Public)
		if err != nil || !s.OK {
			t.Fatalf("verify: %v %+v", err, s)
		}
		// Six writes over three days: the last checkpoint of each day
		// before the newest, and the newest.
		if s.Blobs != 3 || s.Requirements != len(control.Requirements) || s.Entries < 6 || s.Checkpoints != 4 {
			t.Errorf("summary %+v", s)
		}
		res := readResults(t, b)
		for _, r := range res.Requirements {
			switch r.ID {
			case "CM-3":
				if r.Status != control.Fail || len(r.Controls) != 1 || len(r.Controls[0].Runs) != 3 || r.Controls[0].Failed != 1 {
					t.Errorf("CM-3 %+v", r)
				}
			case "LG-3":
				if r.Status != control.Pass {
					t.Errorf("LG-3 %+v", r)
				}
			}
		}
		// The export is ledgered with who asked and the manifest's hash.
		var got ledger.Entry
		db.View(ctx, func(tx *store.Tx) error {
			es, err := tx.ListEntries(ctx, ledger.EntryFilter{Kind: report.KindExported})
			if len(es) > 0 {
				got = es[0]
			}
			return err
		})
		if got.Actor != "auditor1" || !strings.Contains(string(got.Payload), s.Manifest) {
			t.Errorf("audit.exported entry %+v %s, want manifest %s", got, got.Payload, s.Manifest)
		}
		// A second export covers the record of the first.
		b2 := w.export(t, "2026-03-01", "2026-04-30", "CM-*")
		if s, err := verify(t, b2, w.log.Key().Public); err != nil || !s.OK || s.Requirements != 10 {
			t.Fatalf("second bundle: %v %+v", err, s)
		}
	})
}

func readResults(t testing.TB, b []byte) report.Results {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open(report.ResultsName)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Results
	if err := json.NewDecoder(f).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

// rewrite copies a bundle member by member through edit (nil drops a
// member), with add appended, compressing every member with method.
func rewrite(t testing.TB, b []byte, method uint16, edit func(name string, content []byte) []byte, add map[string][]byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	put := func(name string, c []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(c)
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		c, _ := io.ReadAll(rc)
		rc.Close()
		if edit != nil {
			c = edit(f.Name, c)
		}
		if c != nil {
			put(f.Name, c)
		}
	}
	for n, c := range add {
		put(n, c)
	}
	zw.Close()
	return out.Bytes()
}

// TestPathVerifierMatchesRFC checks the memoised verification against
// the library's on every leaf of ragged trees, and that a wrong hash
// anywhere in any path is refused even after its neighbours verified.
func TestPathVerifierMatchesRFC(t *testing.T) {
	report.CheckPaths(t)
}
