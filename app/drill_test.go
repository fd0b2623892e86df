package app_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/store/storetest"
)

// A failed drill queues backup.drill_failed for the data set's owner in
// the outbox, in the transaction that records it; the ledger, with the
// sealed drill and analysis rows, still verifies.
func TestFailedDrillNotifiesTheOwner(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			h := newHook(t)
			a := openWithClock(t, hookConfig(t, b.DSN(t), h), &clock{t: time.Now().UTC()})
			if _, err := a.Auth.CreateUser(ctx, auth.CLI("t"), auth.NewUser{Username: "olga", Email: "olga@example.com", Role: auth.InfraOps, Password: "correct horse battery"}); err != nil {
				t.Fatal(err)
			}
			by := backup.Actor{Name: "cli:hugo", Local: true, Username: "hugo", Role: auth.Admin}
			if _, err := a.Backup.AddDataSet(ctx, by, backup.DataSet{Name: "shop", Owner: "olga"}); err != nil {
				t.Fatal(err)
			}
			missing := filepath.Join(t.TempDir(), "no-repo")
			if _, err := a.Backup.AddCopy(ctx, by, "shop", backup.Copy{Source: backup.SourceRestic, Location: missing, Password: "pw"}); err != nil {
				t.Fatal(err)
			}
			d, err := a.StartDrill(ctx, by, "shop", backup.DrillRequest{Wait: true})
			if err != nil || d.State != backup.DrillFailed {
				t.Fatalf("drill of a missing repository = %+v, %v", d, err)
			}
			var found bool
			for _, n := range notifications(t, a, notify.Pending) {
				if n.Message.Kind == "backup.drill_failed" {
					found = len(n.Message.To) == 1 && n.Message.To[0] == "olga@example.com" && n.Message.Subject == "backup-drill/"+d.ID
				}
			}
			if !found {
				t.Errorf("no backup.drill_failed notice for olga in the outbox: %+v", notifications(t, a, ""))
			}
			rep, err := a.VerifyLedger(ctx)
			if err != nil || !rep.OK() {
				t.Errorf("ledger verify after a drill: %+v, %v", rep, err)
			}
		})
	}
}

// The scratch of a drill whose process was killed is removed when the
// next instance opens.
func TestOpenCleansStaleDrillScratch(t *testing.T) {
	cfg := testConfig(t, "")
	a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	stale := filepath.Join(cfg.ScratchDir(), "drill-0123456789abcdef")
	os.MkdirAll(filepath.Join(stale, "srv"), 0o700)
	os.WriteFile(stale+".pid", []byte("pid 999999999\nstart 1\n"), 0o600)
	a, err = app.Open(ctx, cfg, cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale scratch directory is still there: %v", err)
	}
	if _, err := os.Stat(stale + ".pid"); !os.IsNotExist(err) {
		t.Errorf("its marker is still there: %v", err)
	}
}
