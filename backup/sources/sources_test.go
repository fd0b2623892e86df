package sources_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/backup/sources"
)

// pgbackrestInfo is pgbackrest info --output=json as its documentation
// shows it (pgBackRest 2.45 user guide, "info"): a stanza with a full, a
// differential and an incremental backup, and a second stanza.
const pgbackrestInfo = `[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000008","min":"000000010000000000000001"}],
"backup":[
 {"archive":{"start":"000000010000000000000002","stop":"000000010000000000000002"},"backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,
  "info":{"delta":25268480,"repository":{"delta":3270419,"size":3270419},"size":25268480},"label":"20230101-020000F","lsn":{"start":"0/2000028","stop":"0/2000100"},
  "prior":null,"reference":null,"timestamp":{"start":1672538400,"stop":1672538460},"type":"full"},
 {"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":8192,"repository":{"delta":500,"size":3270919},"size":25268480},"label":"20230101-020000F_20230102-020000D",
  "prior":"20230101-020000F","reference":["20230101-020000F"],"timestamp":{"start":1672624800,"stop":1672624830},"type":"diff"},
 {"database":{"id":1,"repo-key":1},"error":true,"info":{"delta":8192,"repository":{"delta":500,"size":3270919},"size":25268480},"label":"20230101-020000F_20230103-020000I",
  "prior":"20230101-020000F_20230102-020000D","reference":["20230101-020000F"],"timestamp":{"start":1672711200,"stop":1672711210},"type":"incr"}],
"cipher":"none","db":[{"id":1,"repo-key":1,"system-id":7188383848427495214,"version":"15"}],"name":"main",
"repo":[{"cipher":"none","key":1,"status":{"code":0,"message":"ok"}}],"status":{"code":0,"lock":{"backup":{"held":false}},"message":"ok"}},
{"name":"broken","status":{"code":1,"message":"missing stanza path"},"backup":[]}]`

func TestParsePgBackRestInfo(t *testing.T) {
	ss, err := sources.ParsePgBackRestInfo([]byte(pgbackrestInfo), "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[0].ID != "20230101-020000F" || ss[0].Type != backup.Full || ss[0].SizeBytes != 25268480 ||
		!ss[0].Time.Equal(time.Unix(1672538460, 0)) || ss[1].Type != backup.Differential {
		t.Fatalf("snapshots = %+v (the backup in error must be left out)", ss)
	}
	for _, tc := range []struct{ stanza, data, want string }{
		{"broken", pgbackrestInfo, "missing stanza path"},
		{"other", pgbackrestInfo, `no stanza "other"`},
		{"main", `[{"name":"main","status":{"code":0},"backup":[{"label":"x","type":"snap","timestamp":{"stop":1}}]}]`, `[0].backup[0].type: "snap"`},
		{"main", `[{"name":"main","backup":"x"}]`, `field "backup"`},
		{"main", `[{"name":`, "invalid JSON"},
	} {
		if _, err := sources.ParsePgBackRestInfo([]byte(tc.data), tc.stanza); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("stanza %s: %v, want %q", tc.stanza, err, tc.want)
		}
	}
}

func TestParseResticSnapshots(t *testing.T) {
	// restic 0.14's snapshots --json.
	data := `[{"time":"2026-01-02T03:04:05.123456789+01:00","tree":"d264","paths":["/srv/data"],"hostname":"vm","username":"root","id":"2dc4d759","short_id":"2dc4d759"}]`
	ss, err := sources.ParseResticSnapshots([]byte(data))
	if err != nil || len(ss) != 1 || ss[0].Time.Hour() != 2 || ss[0].Type != backup.Full || ss[0].Host != "vm" {
		t.Fatalf("= %+v, %v", ss, err)
	}
	for _, bad := range []string{`{}`, `[{"id":""}]`, `[{"id":"a","time":"yesterday"}]`, `[`} {
		if _, err := sources.ParseResticSnapshots([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestParseManifest(t *testing.T) {
	m, err := sources.ParseManifest([]byte(`{"dataset":"db","copy":"rds","snapshot_id":"s1","time":"2026-01-02T03:04:05Z","type":"full","size_bytes":10,"checksum":"x"}`))
	if err != nil || m.DataSet != "db" || m.Time.Year() != 2026 || m.SizeBytes != 10 {
		t.Fatalf("= %+v, %v", m, err)
	}
	for _, tc := range []struct{ data, field string }{
		{`{"dataset":"db","time":"yesterday"}`, "time"},
		{`{"dataset":"db","size_bytes":"ten"}`, "size_bytes"},
		{`{"dataset":"db","sizebytes":1}`, "sizebytes"},
		{`{"dataset":7}`, "dataset"},
		{`{"dataset":"db"} {}`, ""},
		{``, ""},
	} {
		_, err := sources.ParseManifest([]byte(tc.data))
		var oe *opsguard.Error
		if !errors.As(err, &oe) || oe.Code != opsguard.EInvalid || (tc.field != "" && oe.Details["field"] != tc.field) {
			t.Errorf("%s: %v, want invalid naming %q", tc.data, err, tc.field)
		}
	}
}

func TestPgDumpDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "shop-2026-01-02T03-04-05.dump"), []byte("PGDMP\x01\x0e"), 0o644)
	os.WriteFile(filepath.Join(dir, "shop.dump"), []byte("PGDMP\x01\x0e"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a dump"), 0o644)
	mtime := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	os.Chtimes(filepath.Join(dir, "shop.dump"), mtime, mtime)
	l, err := (&sources.PgDump{}).List(t.Context(), backup.ListRequest{Copy: backup.Copy{Location: dir}})
	if err != nil || len(l.Snapshots) != 2 {
		t.Fatalf("= %+v, %v", l, err)
	}
	want := map[string]time.Time{"shop-2026-01-02T03-04-05.dump": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "shop.dump": mtime}
	for _, s := range l.Snapshots {
		if !s.Time.Equal(want[s.ID]) || s.Type != backup.Full {
			t.Errorf("%s: %s, want %s", s.ID, s.Time, want[s.ID])
		}
	}
	if _, err := (&sources.PgDump{}).List(t.Context(), backup.ListRequest{Copy: backup.Copy{Location: filepath.Join(dir, "none")}}); err == nil {
		t.Error("a missing directory lists")
	}
}

func TestTimeInName(t *testing.T) {
	for name, want := range map[string]string{
		"db-2026-01-02T03:04:05Z.dump": "2026-01-02T03:04:05Z",
		"db-20260102T030405Z.dump":     "2026-01-02T03:04:05Z",
		"db_20260102-030405.dump":      "2026-01-02T03:04:05Z",
		"db_20260102_030405.dump":      "2026-01-02T03:04:05Z",
		"db-2026-01-02_03-04.dump":     "2026-01-02T03:04:00Z",
		"db-2026-01-02.dump":           "2026-01-02T00:00:00Z",
	} {
		got, ok := sources.TimeInName(name)
		if !ok || got.Format(time.RFC3339) != want {
			t.Errorf("%s: %s %v, want %s", name, got, ok, want)
		}
	}
	if _, ok := sources.TimeInName("db.dump"); ok {
		t.Error("a name without a time has one")
	}
}

func FuzzParseResticSnapshots(f *testing.F) {
	f.Add([]byte(`[{"time":"2026-01-02T03:04:05Z","id":"a","paths":["/x"]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ss, err := sources.ParseResticSnapshots(data)
		for _, s := range ss {
			if err == nil && (s.ID == "" || s.Time.IsZero()) {
				t.Fatalf("accepted a snapshot without id or time: %+v", s)
			}
		}
	})
}

func FuzzParsePgBackRestInfo(f *testing.F) {
	f.Add([]byte(pgbackrestInfo))
	f.Fuzz(func(t *testing.T, data []byte) {
		ss, err := sources.ParsePgBackRestInfo(data, "main")
		for _, s := range ss {
			if err == nil && (s.ID == "" || s.Type == "") {
				t.Fatalf("accepted %+v", s)
			}
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"dataset":"db","copy":"rds","snapshot_id":"s1","time":"2026-01-02T03:04:05Z","type":"full","size_bytes":10}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := sources.ParseManifest(data); err != nil {
			var oe *opsguard.Error
			if !errors.As(err, &oe) || oe.Code != opsguard.EInvalid {
				t.Fatalf("error of another kind: %v", err)
			}
		}
	})
}
