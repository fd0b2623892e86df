package backup_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/backup/sources"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/secret"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// now is the tests' clock: every snapshot is placed relative to it.
var now = time.Now().UTC().Truncate(time.Second)

var (
	local = backup.Actor{Name: "cli:hugo", Local: true}
	api   = backup.Actor{Name: "ines"}
)

type env struct {
	db    *store.DB
	svc   *backup.Service
	vault secret.Vault
	log   *ledger.Log
	dir   string
}

func newEnv(t *testing.T, db *store.DB, mods ...func(*backup.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	key, err := ledger.CreateKey(filepath.Join(dir, "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, vault: secret.Vault{Dir: filepath.Join(dir, "secrets"), KeyFile: filepath.Join(dir, "secrets.key")}}
	os.MkdirAll(e.vault.Dir, 0o700)
	log := ledger.New(key, ledger.Options{})
	e.log, e.dir = log, dir
	opts := backup.Options{
		Policy:  backup.Policy{MaxAgeHours: 26, RetentionDays: 7, OffsiteCopies: 1},
		Sources: sources.Sources(), Secrets: e.vault, Now: func() time.Time { return now },
	}
	for _, m := range mods {
		m(&opts)
	}
	e.svc = backup.NewService(store.Bind[backup.Tx](db), log, opts)
	err = db.Update(t.Context(), func(tx *store.Tx) error {
		if err := tx.InsertUser(t.Context(), auth.User{ID: "usr_olga", Username: "olga", Role: auth.InfraOps, CreatedAt: now, CreatedBy: "test"}, "x"); err != nil {
			return err
		}
		_, err := log.Append(t.Context(), tx, ledger.Event{Actor: "test", Kind: "user.created", Subject: "user/usr_olga"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) dataSet(t *testing.T, name string, documented bool) {
	t.Helper()
	d := backup.DataSet{Name: name, Owner: "olga"}
	if documented {
		d.Description, d.Instructions = "The shop's orders", "restic restore latest --target /srv/restore, then start the shop on it"
	}
	if _, err := e.svc.AddDataSet(t.Context(), local, d); err != nil {
		t.Fatal(err)
	}
}

func (e *env) resticCopy(t *testing.T, dataSet, name, repo string, offsite bool) {
	t.Helper()
	if _, err := e.svc.AddCopy(t.Context(), local, dataSet, backup.Copy{Name: name, Source: backup.SourceRestic, Location: repo, Offsite: offsite, Password: password}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) outcomes(t *testing.T) map[string]control.Outcome {
	t.Helper()
	out := map[string]control.Outcome{}
	for _, c := range e.svc.Controls() {
		o, err := c.Evaluate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out[c.Requirement] = o
	}
	return out
}

const password = "correct horse battery staple"

// repo makes a restic repository with one snapshot at each of ages.
func repo(t *testing.T, ages ...time.Duration) string {
	t.Helper()
	if _, err := exec.LookPath("restic"); err != nil {
		storetest.Missing(t, "restic is not installed (apt-get install restic)")
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte(password+"\n"), 0o600)
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	r := filepath.Join(dir, "repo")
	restic(t, pw, "init", "--repo", r)
	for i, age := range ages {
		os.WriteFile(filepath.Join(data, "orders.csv"), []byte(strings.Repeat("order,", i+1)), 0o644)
		restic(t, pw, "backup", "--repo", r, "--time", now.Add(-age).Local().Format("2006-01-02 15:04:05"), data)
	}
	return r
}

func restic(t *testing.T, pwFile string, args ...string) string {
	t.Helper()
	cmd := exec.Command("restic", append([]string{"--no-cache", "--quiet"}, args...)...)
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD_FILE="+pwFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func days(n int, skip ...int) []time.Duration {
	var out []time.Duration
	for i := 0; i < n; i++ {
		if !contains(skip, i) {
			out = append(out, time.Duration(i)*24*time.Hour+time.Hour)
		}
	}
	return out
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// The repositories are made once: collection only reads them.
var repos struct {
	once                         sync.Once
	daily, stale, gappy, offsite string
}

func makeRepos(t *testing.T) {
	repos.once.Do(func() {
		repos.daily = repo(t, days(7)...)
		repos.offsite = repo(t, 2*time.Hour)
		repos.stale = repo(t, 40*time.Hour, 64*time.Hour)
		repos.gappy = repo(t, days(7, 3)...)
	})
	if repos.daily == "" {
		t.Fatal("the repositories were not made")
	}
}

func TestControlsOnRealResticRepositories(t *testing.T) {
	makeRepos(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.dataSet(t, "shop", true)
		e.resticCopy(t, "shop", "local", repos.daily, false)
		e.resticCopy(t, "shop", "offsite", repos.offsite, true)
		res, err := e.svc.Collect(t.Context(), "test")
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 || res[0].New != 7 || res[1].New != 1 {
			t.Fatalf("collect = %+v", res)
		}
		for req, o := range e.outcomes(t) {
			if o.Status != control.Pass && req != "BK-4" && req != "BK-6" { // no drill, no exercise (drills_test.go)
				t.Errorf("%s with one fresh, complete, offsite, documented data set: %s: %s", req, o.Status, o.Summary)
			}
		}
		st, err := e.svc.Status(t.Context())
		if err != nil || len(st) != 1 || !st[0].Fresh || *st[0].AgeHours != 1 || st[0].DaysCovered != 7 || st[0].OffsiteFresh != 1 || st[0].Snapshots != 8 {
			t.Fatalf("status = %+v, %v", st, err)
		}

		// A stale data set, one with a gap, one undocumented.
		e.dataSet(t, "crm", true)
		e.resticCopy(t, "crm", "local", repos.stale, true)
		e.dataSet(t, "wiki", false)
		e.resticCopy(t, "wiki", "local", repos.gappy, false)
		if _, err := e.svc.Collect(t.Context(), "test"); err != nil {
			t.Fatal(err)
		}
		o := e.outcomes(t)
		for _, tc := range []struct{ req, want, not string }{
			{"BK-1", "crm: newest full backup is 40 hours old", "wiki"},
			{"BK-2", "wiki: no backup on 1 of the last 7 days (" + now.Add(-3*24*time.Hour-12*time.Hour).Format(time.DateOnly) + ")", "shop"},
			{"BK-3", "wiki: 0 fresh copies outside production (of 0 outside)", "shop"},
			{"BK-7", "wiki: lacks the data covered (description) and restore instructions", "crm"},
		} {
			if o[tc.req].Status != control.Fail || !strings.Contains(o[tc.req].Summary, tc.want) || strings.Contains(o[tc.req].Summary, tc.not) {
				t.Errorf("%s: %s: %s; want a failure naming %q and not %q", tc.req, o[tc.req].Status, o[tc.req].Summary, tc.want, tc.not)
			}
		}
		if !strings.Contains(o["BK-3"].Summary, "crm: 0 fresh copies outside production (of 1 outside)") {
			t.Errorf("BK-3: a stale copy off production counts as fresh: %s", o["BK-3"].Summary)
		}
	})
}

// A snapshot forgotten in the repository is marked gone at the next
// collection, and the retention window sees the gap.
func TestForgottenSnapshotIsGone(t *testing.T) {
	r := repo(t, days(7)...)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.dataSet(t, "shop", true)
		e.resticCopy(t, "shop", "local", r, true)
		if _, err := e.svc.Collect(t.Context(), "test"); err != nil {
			t.Fatal(err)
		}
		ss, err := e.svc.Snapshots(t.Context(), "shop", false, 0)
		if err != nil || len(ss) != 7 || ss[0].SizeBytes == 0 {
			t.Fatalf("snapshots = %+v, %v", ss, err)
		}
		pw := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pw, []byte(password), 0o600)
		restic(t, pw, "forget", "--repo", r, ss[2].ID)
		t.Cleanup(func() {
			restic(t, pw, "--repo", r, "backup", "--time", now.Add(-2*24*time.Hour-time.Hour).Local().Format("2006-01-02 15:04:05"), filepath.Dir(pw))
		})
		res, err := e.svc.Collect(t.Context(), "test")
		if err != nil || res[0].Gone != 1 || res[0].New != 0 {
			t.Fatalf("collect after forget = %+v, %v", res, err)
		}
		if o := e.outcomes(t)["BK-2"]; o.Status != control.Fail {
			t.Errorf("BK-2 after a day's snapshot was forgotten: %s: %s", o.Status, o.Summary)
		}
		all, _ := e.svc.Snapshots(t.Context(), "shop", true, 0)
		if len(all) != 7 || all[2].GoneAt == nil {
			t.Errorf("the forgotten snapshot is not kept as gone: %+v", all)
		}
	})
}

// A wrong password and a missing repository fail the collection with an
// error naming data set, copy and cause, recorded on the copy; the other
// copies are still read.
func TestCollectErrorsNameDataSetAndCopy(t *testing.T) {
	r := repo(t, time.Hour)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.dataSet(t, "shop", true)
		e.resticCopy(t, "shop", "good", r, true)
		if _, err := e.svc.AddCopy(t.Context(), local, "shop", backup.Copy{Name: "wrongpw", Source: backup.SourceRestic, Location: r, Password: "not it"}); err != nil {
			t.Fatal(err)
		}
		e.resticCopy(t, "shop", "missing", filepath.Join(t.TempDir(), "nothing-here"), false)
		res, err := e.svc.Collect(t.Context(), "test")
		for _, want := range []string{"data set shop, copy wrongpw (restic): wrong password", "data set shop, copy missing (restic): no restic repository at"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("collect error %v, want it to say %q", err, want)
			}
		}
		if err != nil && strings.Contains(err.Error(), password) {
			t.Error("the error carries the password")
		}
		if len(res) != 3 || res[0].Live != 1 || res[0].Error != "" {
			t.Errorf("the good copy was not read: %+v", res)
		}
		_, cs, _ := e.svc.DataSet(t.Context(), "shop")
		for _, c := range cs {
			if (c.Name == "good") != (c.CollectError == "") {
				t.Errorf("copy %s: collect_error %q", c.Name, c.CollectError)
			}
		}
	})
}

func TestAddCopyRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.dataSet(t, "shop", true)
		os.WriteFile(filepath.Join(e.vault.Dir, "shop-restic"), []byte("pw\n"), 0o600)
		for _, tc := range []struct {
			name  string
			by    backup.Actor
			c     backup.Copy
			field string
		}{
			{"local path from the API", api, backup.Copy{Source: "restic", Location: "/srv/restic", PasswordSecret: "shop-restic"}, "location"},
			{"relative path", local, backup.Copy{Source: "restic", Location: "srv/restic", PasswordSecret: "shop-restic"}, "location"},
			{"secret as a path", local, backup.Copy{Source: "restic", Location: "/srv/restic", PasswordSecret: "../etc/passwd"}, "password_secret"},
			{"restic without password", local, backup.Copy{Source: "restic", Location: "/srv/restic"}, "password_secret"},
			{"password on a dump directory", local, backup.Copy{Source: "pgdump", Location: "/srv/dumps", Password: "x"}, "password"},
			{"unknown source", local, backup.Copy{Source: "tape", Location: "/dev/st0"}, "source"},
			{"bad stanza", local, backup.Copy{Source: "pgbackrest", Location: "main db"}, "location"},
			{"manifest with a location", local, backup.Copy{Source: "manifest", Location: "/x"}, "location"},
			{"option as location", local, backup.Copy{Source: "restic", Location: "--password-command=sh", PasswordSecret: "shop-restic"}, "location"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.AddCopy(t.Context(), tc.by, "shop", tc.c)
				var oe *opsguard.Error
				if !asErr(err, &oe) || oe.Code != opsguard.EInvalid || oe.Details["field"] != tc.field {
					t.Fatalf("err = %v, want invalid %s", err, tc.field)
				}
			})
		}
		c, err := e.svc.AddCopy(t.Context(), api, "shop", backup.Copy{Source: "restic", Location: "s3:s3.example.com/bucket", Password: "s3cret", Offsite: true})
		if err != nil || c.Password != "" || !c.PasswordSet || c.Name != "restic" {
			t.Fatalf("remote copy = %+v, %v", c, err)
		}
		_, cs, _ := e.svc.DataSet(t.Context(), "shop")
		if pw, err := e.svc.Password(cs[0]); err != nil || pw != "s3cret" {
			t.Errorf("the sealed password opens to %q, %v", pw, err)
		}
	})
}

func TestPushManifest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.dataSet(t, "ledger-db", true)
		if _, err := e.svc.AddCopy(t.Context(), api, "ledger-db", backup.Copy{Name: "rds", Source: backup.SourceManifest, Offsite: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AddCopy(t.Context(), local, "ledger-db", backup.Copy{Name: "dumps", Source: backup.SourcePgDump, Location: t.TempDir()}); err != nil {
			t.Fatal(err)
		}
		m := backup.Manifest{DataSet: "ledger-db", Copy: "rds", SnapshotID: "rds:ledger-2026", Time: now.Add(-time.Hour), Type: "full", SizeBytes: 1 << 30, Checksum: "sha256:ab"}
		for i := 0; i < 2; i++ { // the same push twice is one snapshot
			if _, err := e.svc.Push(t.Context(), "agent:rds", m); err != nil {
				t.Fatal(err)
			}
		}
		ss, _ := e.svc.Snapshots(t.Context(), "ledger-db", true, 0)
		if len(ss) != 1 || ss[0].SizeBytes != 1<<30 {
			t.Fatalf("snapshots = %+v", ss)
		}
		if o := e.outcomes(t)["BK-1"]; o.Status != control.Pass {
			t.Errorf("BK-1 after a fresh push: %s", o.Summary)
		}
		for _, tc := range []struct {
			mod   func(m *backup.Manifest)
			field string
		}{
			{func(m *backup.Manifest) { m.DataSet = "nope" }, "dataset"},
			{func(m *backup.Manifest) { m.Copy = "dumps" }, "copy"},
			{func(m *backup.Manifest) { m.Type = "weekly" }, "type"},
			{func(m *backup.Manifest) { m.Time = now.Add(48 * time.Hour) }, "time"},
			{func(m *backup.Manifest) { m.SizeBytes = -1 }, "size_bytes"},
			{func(m *backup.Manifest) { m.SnapshotID = "" }, "snapshot_id"},
		} {
			bad := m
			tc.mod(&bad)
			_, err := e.svc.Push(t.Context(), "agent:rds", bad)
			var oe *opsguard.Error
			if !asErr(err, &oe) || oe.Details["field"] != tc.field {
				t.Errorf("push with a bad %s: %v", tc.field, err)
			}
		}
	})
}

func TestNoDataSetFailsEveryControl(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for req, o := range e.outcomes(t) {
			if o.Status != control.Fail {
				t.Errorf("%s with no data set: %s", req, o.Status)
			}
		}
	})
}

func TestSatisfies(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{
		{"full", "full", true}, {"incremental", "full", false}, {"differential", "full", false},
		{"differential", "differential", true}, {"incremental", "differential", false},
		{"incremental", "incremental", true}, {"full", "incremental", true},
	} {
		if backup.Satisfies(tc.got, tc.want) != tc.ok {
			t.Errorf("Satisfies(%s, %s) = %v", tc.got, tc.want, !tc.ok)
		}
	}
}

var _ = context.Background
