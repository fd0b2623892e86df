package app_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/store/storetest"
)

const declaredBackups = `backup:
  datasets:
    - name: billing
      owner: admin
      retention_days: 30
      drill:
        interval_days: 90
        assertions:
          - {name: rows, sql: "SELECT count(*) FROM invoices", min: 1}
      copies:
        - name: dumps
          source: pgdump
          location: /var/backups/billing
    - name: ghost
      owner: nobody
`

// The data sets of backup.datasets are created at start, once; a later
// change of the config is logged, not applied.
func TestBackupDataSetsFromTheConfig(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			cfg, err := config.Parse("c.yaml", []byte(declaredBackups))
			if err != nil {
				t.Fatal(err)
			}
			base := testConfig(t, b.DSN(t))
			cfg.Server = base.Server
			var logs bytes.Buffer
			opts := cheap
			opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			err = a.BackupAtStart(ctx)
			if err == nil || !strings.Contains(err.Error(), "backup.datasets[1] (ghost)") || strings.Contains(err.Error(), "billing") {
				t.Errorf("err = %v, want the ghost data set (owner not a user) named", err)
			}
			d, cs, err := a.Backup.DataSet(ctx, "billing")
			if err != nil || d.CreatedBy != "config" || d.RetentionDays != 30 || len(cs) != 1 || cs[0].Location != "/var/backups/billing" {
				t.Fatalf("billing = %+v %+v, %v", d, cs, err)
			}
			if !strings.Contains(string(d.Drill), `"interval_days":90`) || !strings.Contains(string(d.Drill), `"SELECT count(*) FROM invoices"`) {
				t.Errorf("drill spec = %s", d.Drill)
			}
			a.Config.Backup.DataSets[0].RetentionDays = 60
			a.Config.Backup.DataSets = a.Config.Backup.DataSets[:1]
			logs.Reset()
			if err := a.BackupAtStart(ctx); err != nil {
				t.Fatal(err)
			}
			if d, _, _ := a.Backup.DataSet(ctx, "billing"); d.RetentionDays != 30 {
				t.Errorf("retention_days = %d, the config overwrote the stored data set", d.RetentionDays)
			}
			if !strings.Contains(logs.String(), "differs from the process config") || !strings.Contains(logs.String(), "retention_days: stored") {
				t.Errorf("the difference is not logged:\n%s", logs.String())
			}
		})
	}
}
