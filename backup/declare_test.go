package backup_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

var fromConfig = backup.Actor{Name: "config", Username: "config", Local: true}

func TestDeclareCreatesOnceAndNeverOverwrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		os.WriteFile(filepath.Join(e.vault.Dir, "billing-restic"), []byte("pw\n"), 0o600)
		d := backup.DataSet{Name: "billing", Owner: "olga", RetentionDays: 30, Instructions: "pg_restore it",
			Drill: json.RawMessage(`{"copy":"dumps","interval_days":90}`)}
		copies := func() []backup.Copy {
			return []backup.Copy{
				{Name: "dumps", Source: "pgdump", Location: "/var/backups/billing"},
				{Source: "restic", Location: "s3:s3.example.com/billing", PasswordSecret: "billing-restic", Offsite: true},
			}
		}
		res, err := e.svc.Declare(t.Context(), fromConfig, d, copies())
		if err != nil || !res.Created || strings.Join(res.Copies, ",") != "dumps,restic" || len(res.Differences) != 0 {
			t.Fatalf("first start: %+v, %v", res, err)
		}
		stored, cs, err := e.svc.DataSet(t.Context(), "billing")
		if err != nil || stored.CreatedBy != "config" || stored.RetentionDays != 30 || len(cs) != 2 || !cs[1].Offsite || cs[0].Location != "/var/backups/billing" {
			t.Fatalf("stored %+v %+v, %v", stored, cs, err)
		}
		// A second start with the same declaration changes nothing.
		res, err = e.svc.Declare(t.Context(), fromConfig, d, copies())
		if err != nil || res.Created || len(res.Copies) != 0 || len(res.Differences) != 0 {
			t.Fatalf("second start: %+v, %v", res, err)
		}
		// A new copy in the config is added to the data set the config made.
		more := append(copies(), backup.Copy{Source: "manifest"})
		if res, err = e.svc.Declare(t.Context(), fromConfig, d, more); err != nil || strings.Join(res.Copies, ",") != "manifest" {
			t.Fatalf("new copy: %+v, %v", res, err)
		}
		// A changed declaration is reported, not applied.
		d.RetentionDays, d.Drill = 60, json.RawMessage(`{"copy":"restic"}`)
		changed := copies()
		changed[0].Location = "/srv/dumps"
		res, err = e.svc.Declare(t.Context(), fromConfig, d, changed)
		got := strings.Join(res.Differences, "\n")
		if err != nil || res.Created || len(res.Differences) != 3 || !strings.Contains(got, "retention_days: stored \"30\", declared \"60\"") ||
			!strings.Contains(got, "drill:") || !strings.Contains(got, "copy dumps: stored pgdump /var/backups/billing, declared pgdump /srv/dumps") {
			t.Fatalf("changed: %+v, %v", res, err)
		}
		if after, cs2, _ := e.svc.DataSet(t.Context(), "billing"); after.RetentionDays != 30 || cs2[0].Location != "/var/backups/billing" {
			t.Errorf("the declaration overwrote the stored data set: %+v %+v", after, cs2)
		}
		var added []ledger.Entry
		db.View(t.Context(), func(tx *store.Tx) error {
			added, err = tx.ListEntries(t.Context(), ledger.EntryFilter{Actor: "config", Limit: 100})
			return err
		})
		var kinds []string
		for _, a := range added {
			if strings.HasPrefix(a.Kind, "backup.") {
				kinds = append(kinds, a.Kind)
			}
		}
		if strings.Join(kinds, ",") != "backup.copy_added,backup.copy_added,backup.copy_added,backup.dataset_added" {
			t.Errorf("ledgered by config: %v, want the data set and its 3 copies", kinds)
		}
	})
}

func TestDeclareLeavesHandManagedDataSets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.dataSet(t, "shop", true)
		res, err := e.svc.Declare(t.Context(), fromConfig, backup.DataSet{Name: "shop", Owner: "olga"},
			[]backup.Copy{{Name: "dumps", Source: "pgdump", Location: "/srv/dumps"}})
		if err != nil || res.Created || len(res.Copies) != 0 {
			t.Fatalf("declare: %+v, %v", res, err)
		}
		got := strings.Join(res.Differences, "\n")
		if !strings.Contains(got, "description:") || !strings.Contains(got, "copy dumps: not stored (the data set is managed by cli:hugo)") {
			t.Errorf("differences = %q", got)
		}
		if _, cs, _ := e.svc.DataSet(t.Context(), "shop"); len(cs) != 0 {
			t.Errorf("a copy was added to a hand-managed data set: %+v", cs)
		}
		// Nothing half-written: a bad copy stops the whole declaration.
		_, err = e.svc.Declare(t.Context(), fromConfig, backup.DataSet{Name: "orders", Owner: "olga"},
			[]backup.Copy{{Source: "pgdump", Location: "/srv/dumps"}, {Source: "restic", Location: "/srv/restic"}})
		if err == nil || !strings.Contains(err.Error(), "copy restic") {
			t.Errorf("err = %v, want the restic copy named", err)
		}
		if _, _, err := e.svc.DataSet(t.Context(), "orders"); err == nil {
			t.Error("a data set with a bad copy was created")
		}
		if _, err := e.svc.Declare(t.Context(), fromConfig, backup.DataSet{Name: "ghost", Owner: "nobody"}, nil); err == nil || !strings.Contains(err.Error(), "nobody") {
			t.Errorf("unknown owner: err = %v", err)
		}
	})
}
