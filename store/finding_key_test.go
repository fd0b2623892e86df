package store_test

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

// rawDB opens the database at dsn without the store, to write what the
// store would refuse.
func rawDB(t *testing.T, backend, dsn string) *sql.DB {
	t.Helper()
	driver, name := "pgx", dsn
	if backend == "sqlite" {
		driver, name = "sqlite", "file:"+dsn+"?_pragma=foreign_keys(1)"
	}
	raw, err := sql.Open(driver, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func execAll(t *testing.T, raw *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// finding is an INSERT of a finding row.
func finding(id, vulnID, status, firstSeen string) string {
	closed, resolution := "NULL", ""
	if status == "closed" {
		closed, resolution = "'2026-11-03T00:00:00.000000Z'", "fixed"
	}
	return fmt.Sprintf(`INSERT INTO findings (id, asset_id, vuln_id, aliases, package, version, fixed_version, location, target, title,
		description, severity, severity_note, cvss_score, cvss_vector, risk, risk_note, status, resolution, first_seen, last_seen,
		sla_days, due_at, closed_at, fixed_by_scan, regression) VALUES ('%s', 'ast-1', '%s', '[]', 'pkg:npm/x@1', '1', '', '', '', 't',
		'd', 'high', '', 0, '', 'high', 'n', '%s', '%s', '%s', '%s', 30, '2026-12-01T00:00:00.000000Z', %s, '', false)`,
		id, vulnID, status, resolution, firstSeen, firstSeen, closed)
}

// Migration 0014 merges the duplicate findings stored before into one
// per key, the same one on every database, keeping what each knew; then
// the schema refuses another.
func TestFindingDuplicatesMerged(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			storetest.Open(t, dsn).Close()
			raw := rawDB(t, b.Name, dsn)
			// The database as 0013 left it, with duplicates in it.
			execAll(t, raw, "DROP INDEX findings_key", "DROP TABLE finding_merges", "DELETE FROM schema_migrations WHERE version = 14",
				"INSERT INTO assets (id, name, kind, created_at) VALUES ('ast-1', 'app', 'image', '2026-11-01T00:00:00.000000Z')")
			for i, at := range []string{"2026-11-01", "2026-11-02"} {
				execAll(t, raw, fmt.Sprintf(`INSERT INTO scans (id, asset_id, format, tool, tool_version, target, complete, evidence, findings,
					statements, imported_at, imported_by) VALUES ('scn-%d', 'ast-1', 'trivy', 'Trivy', '', '', true, 'e', 1, 0, '%sT00:00:00.000000Z', 'ci')`, i+1, at))
			}
			execAll(t, raw,
				// fnd-a was seen first but is closed; fnd-b and fnd-c are
				// open, fnd-b seen first: fnd-b is kept.
				finding("fnd-a", "CVE-1", "closed", "2026-11-01T00:00:00.000000Z"),
				finding("fnd-c", "CVE-1", "open", "2026-11-02T00:00:00.000000Z"),
				finding("fnd-b", "CVE-1", "open", "2026-11-02T00:00:00.000000Z"),
				finding("fnd-d", "CVE-2", "open", "2026-11-01T00:00:00.000000Z"),
				"INSERT INTO finding_ids (finding_id, vuln_id) VALUES ('fnd-a', 'GHSA-a'), ('fnd-c', 'GHSA-c'), ('fnd-b', 'GHSA-c')",
				"INSERT INTO finding_tools (finding_id, tool, scan_id) VALUES ('fnd-b', 'Trivy', 'scn-1'), ('fnd-c', 'Trivy', 'scn-2'), ('fnd-c', 'Grype', 'scn-1'), ('fnd-d', 'Trivy', 'scn-2')",
				`INSERT INTO vuln_requests (id, finding_id, kind, justification, until, requested_by, requested_at, status, decided_by, decided_at, decision_note)
					VALUES ('req-1', 'fnd-c', 'acceptance', 'j', '2027-01-01T00:00:00.000000Z', 'u', '2026-11-02T00:00:00.000000Z', 'pending', '', NULL, '')`,
				"INSERT INTO vuln_escalations (finding_id, first_at, last_at, count) VALUES ('fnd-a', '2026-11-05T00:00:00.000000Z', '2026-11-06T00:00:00.000000Z', 2), ('fnd-b', '2026-11-07T00:00:00.000000Z', '2026-11-07T00:00:00.000000Z', 1)")

			db := storetest.Open(t, dsn) // migrates
			var rows []string
			err := db.View(ctx, func(tx *store.Tx) error {
				fs, err := tx.AssetFindings(ctx, "ast-1")
				for _, f := range fs {
					var ids []string
					for x := range f.IDs {
						ids = append(ids, x)
					}
					rows = append(rows, fmt.Sprintf("%s %s %d ids %d tools", f.ID, f.Status, len(ids), len(f.Tools)))
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(slices.Sorted(slices.Values(rows)), "; ")
			if want := "fnd-b open 3 ids 2 tools; fnd-d open 1 ids 1 tools"; got != want {
				t.Errorf("findings after the migration: %s, want %s", got, want)
			}
			var pairs []string
			q, _ := raw.Query("SELECT finding_id || '>' || merged_into FROM finding_merges UNION ALL SELECT tool || '@' || scan_id FROM finding_tools WHERE finding_id = 'fnd-b' UNION ALL SELECT finding_id FROM vuln_requests UNION ALL SELECT finding_id || ':' || first_at || ':' || count FROM vuln_escalations")
			for q != nil && q.Next() {
				var s string
				q.Scan(&s)
				pairs = append(pairs, s)
			}
			if got, want := strings.Join(slices.Sorted(slices.Values(pairs)), " "), "Grype@scn-1 Trivy@scn-2 fnd-a>fnd-b fnd-b fnd-b:2026-11-05T00:00:00.000000Z:3 fnd-c>fnd-b"; got != want {
				t.Errorf("merged: %s, want %s", got, want)
			}
			// The schema refuses a second row of a key.
			err = storetest.Update(t, db, func(tx *store.Tx) error {
				return tx.InsertFindings(ctx, []vuln.Finding{{ID: "fnd-e", AssetID: "ast-1", VulnID: "CVE-2", Package: "pkg:npm/x@1", Severity: "high", Risk: "high", Status: vuln.Open}}, "Trivy", "scn-1")
			})
			if err == nil {
				t.Error("a second finding of one key was stored")
			}
		})
	}
}
