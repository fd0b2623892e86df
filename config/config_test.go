package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/config"
)

func TestDefaultsMatchPolicy(t *testing.T) {
	c, err := config.Parse("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"sla critical", c.Vuln.SLADays.Critical, 7},
		{"sla high", c.Vuln.SLADays.High, 30},
		{"sla medium", c.Vuln.SLADays.Medium, 90},
		{"sla low", c.Vuln.SLADays.Low, 180},
		{"backup age", c.Backup.MaxAgeHours, 26},
		{"backup retention", c.Backup.RetentionDays, 7},
		{"offsite", c.Backup.OffsiteCopies, 1},
		{"restore test", c.Backup.RestoreTestIntervalDays, 365},
		{"tabletop", c.Backup.TabletopExerciseIntervalDays, 365},
		{"post facto", c.Change.PostFactoReviewBusinessDays, 3},
		{"clock", c.Configuration.ClockMaxOffsetMS, 100},
		{"log retention", c.Logging.RetentionDays, 365},
		{"external assessment", c.Vuln.ExternalAssessmentIntervalDays, 365},
		{"doc review", c.Governance.ReviewIntervalDays, 365},
		{"classification", c.Governance.DefaultClassification, "Company Internal"},
		{"controls interval", c.Controls.Interval, 24 * time.Hour},
		{"checkpoint interval", c.Ledger.CheckpointInterval, time.Minute},
		{"concurrent imports", c.Vuln.MaxConcurrentImports, 2},
		{"text bytes", c.Vuln.MaxTextBytes, 65536},
	}
	for _, tc := range checks {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseOverridesOnlyGivenKeys(t *testing.T) {
	c, err := config.Parse("c.yaml", []byte("vuln:\n  sla_days:\n    critical: 3\ncontrols:\n  interval: 6h\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Vuln.SLADays.Critical != 3 || c.Vuln.SLADays.High != 30 {
		t.Errorf("sla = %+v, want critical 3 and high default 30", c.Vuln.SLADays)
	}
	if c.Controls.Interval != 6*time.Hour {
		t.Errorf("interval = %v", c.Controls.Interval)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		line     int
		contains []string
	}{
		{"unknown key", "vuln:\n  sla_days:\n    critcal: 3\n", 3, []string{"critcal"}},
		{"unknown section", "server:\n  listen: x\nbogus: 1\n", 3, []string{"bogus"}},
		{"wrong type", "backup:\n  retention_days: seven\n", 2, []string{"retention_days"}},
		{"bad duration", "controls:\n  interval: soon\n", 2, []string{"interval"}},
		{"negative sla", "vuln:\n  sla_days:\n    high: -1\n", 3, []string{"vuln.sla_days.high", "positive"}},
		{"sla order", "vuln:\n  sla_days:\n    critical: 60\n", 3, []string{"vuln.sla_days"}},
		{"bad database", "server:\n  database: mysql://x\n", 2, []string{"server.database"}},
		{"bad witness key", "ledger:\n  witness_public_key: not-a-key\n", 2, []string{"ledger.witness_public_key"}},
		{"bad channel", "notifications:\n  channels:\n    - name: a\n      type: pager\n", 4, []string{"type", "pager"}},
		{"unknown route channel", "notifications:\n  routes:\n    '*': [nope]\n", 3, []string{"nope"}},
		{"secrets in the data directory", "server:\n  data_dir: /var/lib/opsguard\n  secrets_dir: /var/lib/opsguard\n", 3, []string{"server.secrets_dir", "data directory"}},
		{"secrets around the ledger key", "server:\n  secrets_dir: /etc/opsguard\nledger:\n  key_file: /etc/opsguard/ledger.key\n", 2, []string{"server.secrets_dir", "ledger key"}},
		{"bad allowed host", "change:\n  allowed_hosts: [\"https://git.internal\"]\n", 2, []string{"change.allowed_hosts"}},
		{"no imports", "vuln:\n  max_concurrent_imports: 0\n", 2, []string{"vuln.max_concurrent_imports", "positive"}},
		{"text too long", "vuln:\n  max_text_bytes: 2000000\n", 2, []string{"vuln.max_text_bytes", "1048576"}},
		{"attest roles of an unknown requirement", "governance:\n  attest_roles:\n    CM-99: [infra_ops]\n", 3, []string{"governance.attest_roles.CM-99", "unknown requirement"}},
		{"attest role without the permission", "governance:\n  attest_roles:\n    CM-9: [engineer]\n", 3, []string{"governance.attest_roles.CM-9", "engineer", "may not attest"}},
		{"syntax", "server: [\n", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("opsguard.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			if ce.File != "opsguard.yaml" {
				t.Errorf("file = %q", ce.File)
			}
			if tc.line > 0 && ce.Line != tc.line {
				t.Errorf("line = %d, want %d (%v)", ce.Line, tc.line, err)
			}
			if !strings.HasPrefix(err.Error(), "opsguard.yaml:") {
				t.Errorf("message %q does not start with the file", err)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestLoadFileAndEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "opsguard.yaml")
	if err := os.WriteFile(p, []byte("server:\n  listen: 127.0.0.1:9000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OPSGUARD_LISTEN": "127.0.0.1:9999", "OPSGUARD_DATABASE_URL": "postgres://x/y", "OPSGUARD_DATA_DIR": "/d"}
	c.ApplyEnv(func(k string) string { return env[k] })
	if c.Server.Listen != "127.0.0.1:9999" || c.Server.Database != "postgres://x/y" || c.Server.DataDir != "/d" {
		t.Errorf("env not applied: %+v", c.Server)
	}
	if got := c.KeyFile(); got != filepath.Join("/d", "ledger.key") {
		t.Errorf("KeyFile = %q", got)
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}
