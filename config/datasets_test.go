package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/config"
)

const declared = `backup:
  datasets:
    - name: billing-db
      owner: alice
      classification: Confidential
      frequency: hourly
      type: full
      retention_days: 30
      instructions: pg_restore the newest dump
      drill:
        copy: dumps
        interval_days: 90
        expected_paths: [a, b]
      copies:
        - name: dumps
          source: pgdump
          location: /var/backups/billing
        - source: restic
          location: rest:https://backup.example.com/billing
          password_secret: restic-billing
          offsite: true
`

func TestDataSetsDeclared(t *testing.T) {
	c, err := config.Parse("c.yaml", []byte(declared))
	if err != nil {
		t.Fatal(err)
	}
	ds := c.Backup.DataSets
	if len(ds) != 1 || ds[0].Name != "billing-db" || ds[0].RetentionDays != 30 || len(ds[0].Copies) != 2 {
		t.Fatalf("data sets = %+v", ds)
	}
	if !ds[0].Copies[1].Offsite || ds[0].Copies[1].PasswordSecret != "restic-billing" || ds[0].Drill["copy"] != "dumps" {
		t.Errorf("data set = %+v", ds[0])
	}
}

func TestDataSetsInvalid(t *testing.T) {
	cases := []struct {
		name, from, to string
		key            string
		line           int
	}{
		{"bad name", "name: billing-db", "name: 'billing db'", "backup.datasets[0].name", 3},
		{"no owner", "owner: alice", "owner: ''", "backup.datasets[0].owner", 4},
		{"frequency", "frequency: hourly", "frequency: monthly", "backup.datasets[0].frequency", 6},
		{"type", "type: full", "type: snapshot", "backup.datasets[0].type", 7},
		{"retention", "retention_days: 30", "retention_days: -1", "backup.datasets[0].retention_days", 8},
		{"drill field", "interval_days: 90", "every: 90", "backup.datasets[0].drill", 11},
		{"source", "source: pgdump", "source: tar", "backup.datasets[0].copies[0].source", 16},
		{"relative dump dir", "location: /var/backups/billing", "location: backups", "backup.datasets[0].copies[0].location", 17},
		{"restic without secret", "password_secret: restic-billing", "password_secret: ''", "backup.datasets[0].copies[1].password_secret", 0},
		{"same copy twice", "name: dumps", "name: restic", "backup.datasets[0].copies[1].name", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(declared, tc.from) {
				t.Fatalf("%q not in the config", tc.from)
			}
			_, err := config.Parse("c.yaml", []byte(strings.Replace(declared, tc.from, tc.to, 1)))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a config error", err)
			}
			if ce.Key != tc.key || (tc.line != 0 && ce.Line != tc.line) {
				t.Errorf("err = %v (key %q line %d), want key %q line %d", err, ce.Key, ce.Line, tc.key, tc.line)
			}
		})
	}
	twice := declared + strings.SplitN(declared, "datasets:\n", 2)[1]
	_, err := config.Parse("c.yaml", []byte(twice))
	if err == nil || !strings.Contains(err.Error(), "backup.datasets[1].name") || !strings.Contains(err.Error(), "declared twice") {
		t.Errorf("a data set declared twice: err = %v", err)
	}
}
