package backup_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/backup/drill"
	"github.com/opsguard/opsguard/backup/drill/drilltest"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

var (
	hugo = backup.Actor{Name: "cli:hugo", Local: true, Username: "hugo", Role: auth.Admin}
	ines = backup.Actor{Name: "ines", Username: "ines", Role: auth.SecurityOfficer}
	erik = backup.Actor{Name: "erik", Username: "erik", Role: auth.EngineeringHead}
)

// notices records what a service notified.
type notices struct {
	mu   sync.Mutex
	sent []map[string]any
}

func (n *notices) Notify(_ context.Context, _ backup.Tx, kind, subject, summary string, data map[string]any) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	data["kind"], data["subject"], data["summary"] = kind, subject, summary
	n.sent = append(n.sent, data)
	return nil
}

func (e *env) user(t *testing.T, name string, role auth.Role) {
	t.Helper()
	err := e.db.Update(t.Context(), func(tx *store.Tx) error {
		if err := tx.InsertUser(t.Context(), auth.User{ID: "usr_" + name, Username: name, Role: role, CreatedAt: now, CreatedBy: "test"}, "x"); err != nil {
			return err
		}
		_, err := e.log.Append(t.Context(), tx, ledger.Event{Actor: "test", Kind: "user.created", Subject: "user/usr_" + name})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func drillEnv(t *testing.T, db *store.DB, mods ...func(*backup.Options)) (*env, *notices, string) {
	n := &notices{}
	scratch := filepath.Join(t.TempDir(), "scratch")
	e := newEnv(t, db, append([]func(*backup.Options){func(o *backup.Options) {
		o.ScratchRoot, o.Notifier = scratch, n
		o.Policy.RestoreTestIntervalDays, o.Policy.TabletopExerciseIntervalDays = 365, 365
	}}, mods...)...)
	e.user(t, "ines", auth.SecurityOfficer)
	e.user(t, "erik", auth.EngineeringHead)
	return e, n, scratch
}

func failed(d backup.Drill) []string {
	var out []string
	for _, c := range d.Checks {
		if !c.OK {
			out = append(out, c.Name+": "+c.Actual)
		}
	}
	return out
}

func outcome(t *testing.T, e *env, req string) control.Outcome {
	t.Helper()
	return e.outcomes(t)[req]
}

// A drill of a real restic repository passes and is recorded with its
// checks; a wrong password and a corrupted pack fail, open a root-cause
// analysis and notify the owner; only someone other than the runner
// records the analysis, and only a security officer who did not run the
// drill approves it.
func TestDrillsOnRealResticRepositories(t *testing.T) {
	shop := repo(t, 2*time.Hour)
	corrupted := drilltest.CorruptCopy(t, shop)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, sent, scratch := drillEnv(t, db)
		e.dataSet(t, "shop", true)
		e.resticCopy(t, "shop", "local", shop, false)
		d, err := e.svc.Drill(t.Context(), hugo, "shop", backup.DrillRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if d.State != backup.DrillPassed || len(d.Checks) < 3 || failed(d) != nil || d.LogRef == "" || d.SnapshotTime == nil || d.RPOSeconds < 7000 || d.Files != 1 {
			t.Fatalf("passing drill = %+v (failed %v)", d, failed(d))
		}
		got, err := e.svc.DrillByID(t.Context(), d.ID)
		if err != nil || got.State != backup.DrillPassed || len(got.Checks) != len(d.Checks) || got.Checks[0].Expected == "" {
			t.Fatalf("stored drill = %+v, %v", got, err)
		}
		if o := outcome(t, e, "BK-4"); o.Status != control.Pass {
			t.Errorf("BK-4 after a passing drill: %s", o.Summary)
		}

		// The runner may not approve; nor may who is no security officer.
		if _, err := e.svc.ApproveDrill(t.Context(), backup.Actor{Name: "ines", Username: "ines", Role: auth.EngineeringHead}, d.ID); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("approval by an engineering head: %v", err)
		}
		if _, err := e.svc.ApproveDrill(t.Context(), backup.Actor{Name: "hugo", Username: "hugo", Role: auth.SecurityOfficer}, d.ID); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("approval by the runner: %v", err)
		}
		if a, err := e.svc.ApproveDrill(t.Context(), ines, d.ID); err != nil || a.ApprovedBy != "ines" {
			t.Errorf("approval by ines: %+v, %v", a, err)
		}

		for _, tc := range []struct{ name, repo, pw, want string }{
			{"wrong-password", shop, "wrong horse", "password"},
			{"corrupted-pack", corrupted, password, "verify"},
		} {
			e.dataSet(t, tc.name, true)
			if _, err := e.svc.AddCopy(t.Context(), local, tc.name, backup.Copy{Name: "local", Source: backup.SourceRestic, Location: tc.repo, Password: tc.pw}); err != nil {
				t.Fatal(err)
			}
			d, err := e.svc.Drill(t.Context(), hugo, tc.name, backup.DrillRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if d.State != backup.DrillFailed || failed(d) == nil {
				t.Fatalf("%s: drill = %+v", tc.name, d)
			}
			t.Logf("%s: %v", tc.name, failed(d))
		}
		if len(sent.sent) != 2 || sent.sent[0]["kind"] != "backup.drill_failed" || sent.sent[0]["owner"] != "olga" || sent.sent[0]["dataset"] != "wrong-password" {
			t.Fatalf("notified %v", sent.sent)
		}
		if ents, _ := os.ReadDir(scratch); len(ents) != 1 || ents[0].Name() != ".passwords" {
			t.Errorf("scratch root after the drills: %v", ents)
		}
		if ents, _ := os.ReadDir(filepath.Join(scratch, ".passwords")); len(ents) != 0 {
			t.Errorf("password files left: %v", ents)
		}

		rcas, err := e.svc.RCAs(t.Context())
		if err != nil || len(rcas) != 2 || !rcas[0].Open() {
			t.Fatalf("rcas = %+v, %v", rcas, err)
		}
		if o := outcome(t, e, "BK-5"); o.Status != control.Fail || !strings.Contains(o.Summary, "2 root-cause analyses are open") {
			t.Errorf("BK-5 with two open analyses: %s %s", o.Status, o.Summary)
		}
		st, _ := e.svc.Status(t.Context())
		if st[1].DataSet != "shop" || st[1].DrillVerdict != "passed" || st[2].DrillVerdict != "failed" || st[2].OpenRCAs != 1 {
			t.Errorf("status = %+v", st)
		}
		if _, err := e.svc.RecordRCA(t.Context(), backup.Actor{Name: "hugo", Username: "hugo"}, rcas[0].ID, "the key was rotated", "store it in the vault"); opsguard.ErrorCode(err) != opsguard.EForbidden ||
			!strings.Contains(err.Error(), "segregation of duties") {
			t.Errorf("RCA recorded by the runner: %v", err)
		}
		for _, r := range rcas {
			if _, err := e.svc.RecordRCA(t.Context(), erik, r.ID, "the key was rotated", "store it in the vault"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.RecordRCA(t.Context(), ines, rcas[0].ID, "again", "again"); opsguard.ErrorCode(err) != opsguard.EConflict {
			t.Errorf("RCA recorded twice: %v", err)
		}
		if o := outcome(t, e, "BK-5"); o.Status != control.Pass {
			t.Errorf("BK-5 with every analysis recorded: %s", o.Summary)
		}
		if o := outcome(t, e, "BK-4"); o.Status != control.Fail || !strings.Contains(o.Summary, "corrupted-pack: no passing restore drill") {
			t.Errorf("BK-4 with failed drills: %s", o.Summary)
		}
	})
}

// fakeDrills stands in for the drill engine: it passes, and counts.
type fakeDrills struct {
	mu    sync.Mutex
	specs []drill.Spec
}

func (f *fakeDrills) run(_ context.Context, spec drill.Spec) (*drill.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.specs = append(f.specs, spec)
	return &drill.Report{Kind: spec.Kind, SnapshotID: "abcdef12", Passed: true, Checks: []drill.Check{{Name: "restore", Expected: "0", Actual: "0", OK: true}}}, nil
}

// BK-4 holds while each data set's last passing drill is younger than its
// interval (90 days by default, never more than
// restore_test_interval_days), and the job drills only the due ones.
func TestDrillIntervalsAndSchedule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := now
		fake := &fakeDrills{}
		e, _, _ := drillEnv(t, db, func(o *backup.Options) { o.Now, o.Drill = func() time.Time { return clock }, fake.run })
		for _, d := range []backup.DataSet{
			{Name: "shop", Owner: "olga"},
			{Name: "crm", Owner: "olga", Drill: []byte(`{"interval_days": 400}`)},
		} {
			if _, err := e.svc.AddDataSet(t.Context(), local, d); err != nil {
				t.Fatal(err)
			}
			e.resticCopy(t, d.Name, "local", "/srv/restic/"+d.Name, false)
		}
		if o := outcome(t, e, "BK-4"); o.Status != control.Fail || !strings.Contains(o.Summary, "2 of 2") {
			t.Errorf("BK-4 with no drill: %s", o.Summary)
		}
		if _, err := e.svc.Drill(t.Context(), hugo, "shop", backup.DrillRequest{}); err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.DrillDue(t.Context(), backup.Actor{Name: "system"})
		if err != nil || len(res) != 1 || res[0].DataSet != "crm" || res[0].State != backup.DrillPassed || len(fake.specs) != 2 {
			t.Fatalf("scheduled drills = %+v, %v (%d runs)", res, err, len(fake.specs))
		}
		if o := outcome(t, e, "BK-4"); o.Status != control.Pass {
			t.Errorf("BK-4 after both drills: %s", o.Summary)
		}
		clock = now.Add(91 * 24 * time.Hour)
		if o := outcome(t, e, "BK-4"); o.Status != control.Fail || !strings.Contains(o.Summary, "shop: last passing restore drill") || strings.Contains(o.Summary, "crm") {
			t.Errorf("BK-4 91 days on: %s", o.Summary)
		}
		if due, _ := e.svc.DueDrills(t.Context()); len(due) != 1 || due[0] != "shop" {
			t.Errorf("due 91 days on: %v", due)
		}
		// crm asks for 400 days; the policy caps it at 365.
		clock = now.Add(366 * 24 * time.Hour)
		if o := outcome(t, e, "BK-4"); o.Status != control.Fail || !strings.Contains(o.Summary, "crm: last passing restore drill") || !strings.Contains(o.Summary, "older than 365 days") {
			t.Errorf("BK-4 366 days on: %s", o.Summary)
		}
	})
}

func TestDrillSpecRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, _, _ := drillEnv(t, db)
		for _, tc := range []struct{ spec, want string }{
			{`{"location": "/etc"}`, `unknown field "location"`},
			{`{"interval_days": -1}`, "drill.interval_days"},
			{`{"assertions": [{"sql": "SELECT 1", "newest": "SELECT now()"}]}`, "assertions[0]"},
		} {
			_, err := e.svc.AddDataSet(t.Context(), local, backup.DataSet{Name: "x", Owner: "olga", Drill: []byte(tc.spec)})
			if opsguard.ErrorCode(err) != opsguard.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v", tc.spec, err)
			}
		}
		e.dataSet(t, "shop", true)
		if _, err := e.svc.Drill(t.Context(), hugo, "shop", backup.DrillRequest{}); opsguard.ErrorCode(err) != opsguard.EInvalid || !strings.Contains(err.Error(), "no restic, pg_dump or pgBackRest copy") {
			t.Errorf("drill without a copy: %v", err)
		}
	})
}

// BK-6: an exercise needs an engineering head and a security officer
// among its participants; the control fails when the newest is too old.
func TestTabletopExercises(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := now
		e, _, _ := drillEnv(t, db, func(o *backup.Options) { o.Now = func() time.Time { return clock } })
		if o := outcome(t, e, "BK-6"); o.Status != control.Fail {
			t.Errorf("BK-6 with no exercise: %s", o.Summary)
		}
		day := now.Format(time.DateOnly)
		for _, tc := range []struct {
			name string
			ex   backup.Exercise
			want string
		}{
			{"no officer", backup.Exercise{Scenario: "DC lost", Date: day, Participants: []string{"erik", "olga"}}, "a security_officer"},
			{"nobody", backup.Exercise{Scenario: "DC lost", Date: day, Participants: []string{"olga"}}, "a engineering_head and a security_officer"},
			{"stranger", backup.Exercise{Scenario: "DC lost", Date: day, Participants: []string{"erik", "ines", "zed"}}, `"zed" is not a user`},
			{"bad date", backup.Exercise{Scenario: "DC lost", Date: "last week", Participants: []string{"erik", "ines"}}, "YYYY-MM-DD"},
			{"owner", backup.Exercise{Scenario: "DC lost", Date: day, Participants: []string{"erik", "ines"}, Actions: []backup.ExerciseAction{{Text: "x", Owner: "zed"}}}, "actions[0].owner"},
		} {
			_, err := e.svc.AddExercise(t.Context(), hugo, tc.ex)
			if opsguard.ErrorCode(err) != opsguard.EInvalid || !strings.Contains(err.Error()+errField(err), tc.want) {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		ex, err := e.svc.AddExercise(t.Context(), hugo, backup.Exercise{Scenario: "The primary database is lost", Date: day, Participants: []string{"erik", "ines", "olga"},
			Findings: "the restore runbook missed the WAL step", Actions: []backup.ExerciseAction{{Text: "add the WAL step", Owner: "olga"}}})
		if err != nil || ex.ID == "" {
			t.Fatal(ex, err)
		}
		if o := outcome(t, e, "BK-6"); o.Status != control.Pass {
			t.Errorf("BK-6 after an exercise today: %s", o.Summary)
		}
		clock = now.Add(366 * 24 * time.Hour)
		if o := outcome(t, e, "BK-6"); o.Status != control.Fail || !strings.Contains(o.Summary, "more than 365") {
			t.Errorf("BK-6 a year on: %s", o.Summary)
		}
	})
}

func errField(err error) string {
	var oe *opsguard.Error
	if asErr(err, &oe) {
		if f, ok := oe.Details["field"].(string); ok {
			return " field " + f
		}
	}
	return ""
}

// A pg_dump drill through the service restores the newest dump of a
// collected copy into a scratch database on the real PostgreSQL and runs
// the specification's SQL assertions; one that does not hold fails.
func TestPGDumpDrillThroughService(t *testing.T) {
	base := os.Getenv("OPSGUARD_TEST_POSTGRES")
	if base == "" {
		storetest.Missing(t, "pg_dump drills need OPSGUARD_TEST_POSTGRES=postgres://…")
	}
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			storetest.Missing(t, "pg_dump drills need "+tool+" (apt-get install postgresql-client)")
		}
	}
	dumps := filepath.Join(t.TempDir(), "dumps")
	os.MkdirAll(dumps, 0o755)
	dumpDatabase(t, base, filepath.Join(dumps, "shop-1.dump"))
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, sent, _ := drillEnv(t, db, func(o *backup.Options) { o.ScratchPostgres = base })
		for name, min := range map[string]int{"shop": 50, "shop-more": 51} {
			spec := `{"assertions": [{"name": "customers", "sql": "SELECT count(*) FROM customers", "min": ` + strconv.Itoa(min) + `}]}`
			if _, err := e.svc.AddDataSet(t.Context(), local, backup.DataSet{Name: name, Owner: "olga", Drill: []byte(spec)}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.AddCopy(t.Context(), local, name, backup.Copy{Name: "dumps", Source: backup.SourcePgDump, Location: dumps}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.Collect(t.Context(), "test"); err != nil {
			t.Fatal(err)
		}
		d, err := e.svc.Drill(t.Context(), hugo, "shop", backup.DrillRequest{})
		if err != nil || d.State != backup.DrillPassed || d.Kind != backup.SourcePgDump || !strings.HasPrefix(d.SnapshotID, "sha256:") {
			t.Fatalf("pg_dump drill = %+v (failed %v), %v", d, failed(d), err)
		}
		d, err = e.svc.Drill(t.Context(), hugo, "shop-more", backup.DrillRequest{})
		if err != nil || d.State != backup.DrillFailed || !strings.Contains(strings.Join(failed(d), ";"), "customers") {
			t.Fatalf("pg_dump drill asserting 51 customers = %+v, %v", d, err)
		}
		if len(sent.sent) != 1 {
			t.Errorf("notified %v", sent.sent)
		}
	})
}

// dumpDatabase makes a database of 50 customers, dumps it with the real
// pg_dump -Fc to file, and drops it.
func dumpDatabase(t *testing.T, base, file string) {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [6]byte
	rand.Read(b[:])
	name := "bkdrill_" + hex.EncodeToString(b[:])
	exec1(t, admin, "CREATE DATABASE "+name)
	defer exec1(t, admin, "DROP DATABASE "+name+" WITH (FORCE)")
	u, _ := url.Parse(base)
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, db, `CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL)`)
	exec1(t, db, `INSERT INTO customers (name) SELECT 'c' || i FROM generate_series(1, 50) i`)
	db.Close()
	if out, err := exec.Command("pg_dump", "-Fc", "-f", file, "--dbname", u.String()).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
}

func exec1(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// A drill left running by a process that died is recorded failed by the
// job once its time limit is well past, with its analysis opened.
func TestAbandonedDrillFails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := now
		fake := &fakeDrills{}
		mods := func(o *backup.Options) { o.Now, o.Drill = func() time.Time { return clock }, fake.run }
		e, sent, _ := drillEnv(t, db, mods)
		e.dataSet(t, "shop", true)
		e.resticCopy(t, "shop", "local", "/srv/restic/shop", false)
		d, _, err := e.svc.StartDrill(t.Context(), hugo, "shop", backup.DrillRequest{}) // its process "dies": never run
		if err != nil {
			t.Fatal(err)
		}
		// Another process (a new service on the same store) takes over.
		other := backup.NewService(store.Bind[backup.Tx](db), e.log, backup.Options{Now: func() time.Time { return clock }, Drill: fake.run, Notifier: sent,
			ScratchRoot: t.TempDir(), Secrets: e.vault})
		if _, err := other.Drill(t.Context(), hugo, "shop", backup.DrillRequest{}); opsguard.ErrorCode(err) != opsguard.EConflict {
			t.Errorf("a second drill while one runs: %v", err)
		}
		clock = now.Add(drill.DefaultMaxDuration + time.Hour)
		res, err := other.DrillDue(t.Context(), backup.Actor{Name: "system"})
		// The failed drill is the data set's last: it waits for its
		// analysis, not retried at once.
		if err != nil || len(res) != 1 || res[0].Drill != d.ID || res[0].State != backup.DrillFailed {
			t.Fatalf("job after the limit: %+v, %v", res, err)
		}
		if rcas, _ := other.RCAs(t.Context()); len(rcas) != 1 || rcas[0].DrillID != d.ID {
			t.Errorf("analyses: %+v", rcas)
		}
	})
}
