package host_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// An admin's groups stay whatever the agent's --group says after, and the
// first group with thresholds sets the host's levels.
func TestAdminGroupsSetThresholds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
		key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
		if err != nil {
			t.Fatal(err)
		}
		log := ledger.New(key, ledger.Options{Now: c.Now})
		s := host.NewService(store.Bind[host.Tx](db), log, host.Options{Now: c.Now, BatchWait: time.Millisecond,
			Capacity: host.Capacity{Groups: map[string]host.Thresholds{"db": {Disk: host.Level{Warning: 50, Critical: 60}, CPU: host.Level{80, 90},
				Memory: host.Level{80, 90}, Inodes: host.Level{75, 85}}}}})
		ingest := func(groups ...string) {
			t.Helper()
			r := report(c.Now(), 550)
			r.Groups = groups
			if _, err := s.Ingest(t.Context(), host.Sender{Actor: "agent"}, r); err != nil {
				t.Fatal(err)
			}
			c.Add(time.Minute)
		}
		state := func() string {
			t.Helper()
			sts, err := s.Status(t.Context())
			if err != nil || len(sts) != 1 {
				t.Fatalf("status %+v, %v", sts, err)
			}
			return sts[0].Filesystems[0].State
		}
		ingest("web")
		if st := state(); st != host.OK {
			t.Fatalf("55%% under the default 75%%: %s", st)
		}
		for _, bad := range [][]string{{"no spaces"}, {""}, make([]string, host.MaxGroups+1)} {
			if _, err := s.SetGroups(t.Context(), "admin", "db-1", bad); opsguard.ErrorCode(err) != opsguard.EInvalid {
				t.Fatalf("groups %q: %v, want invalid", bad, err)
			}
		}
		if _, err := s.SetGroups(t.Context(), "admin", "nope", []string{"db"}); opsguard.ErrorCode(err) != opsguard.ENotFound {
			t.Fatalf("unknown host: %v", err)
		}
		h, err := s.SetGroups(t.Context(), "admin", "db-1", []string{"db", "web", "db"})
		if err != nil || !slices.Equal(h.Groups, []string{"db", "web"}) || h.GroupsSetBy != "admin" {
			t.Fatalf("set groups: %+v, %v", h, err)
		}
		ingest("web")
		h, err = s.Host(t.Context(), "db-1")
		if err != nil || !slices.Equal(h.Groups, []string{"db", "web"}) {
			t.Fatalf("after the agent's report the groups are %v (%v), want the admin's", h.Groups, err)
		}
		if st := state(); st != host.Warning {
			t.Fatalf("55%% over group db's 50%% warning: %s", st)
		}
		if err := db.View(t.Context(), func(tx *store.Tx) error {
			es, err := tx.ListEntries(t.Context(), ledger.EntryFilter{Kind: "host.groups_set", Subject: "host/m-1", Limit: 10})
			for _, e := range es {
				if e.Kind == "host.groups_set" && e.Actor == "admin" {
					return err
				}
			}
			t.Fatalf("no host.groups_set entry in %d entries (%v)", len(es), err)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}
