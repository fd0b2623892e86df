// Package drill restores a backup into scratch space and checks that the
// data really came back (BK-4). A drill is one Run of a Spec: restic
// snapshots are restored into a fresh directory under a scratch root with
// `restic restore --verify`, compared with the snapshot's own listing and
// searched for the expected paths; pg_dump custom-format files are restored
// with pg_restore into a fresh scratch database, asserted with SQL and
// checked with pg_amcheck when it is installed; pgBackRest backups are
// restored with pgbackrest restore into a scratch data directory that a
// PostgreSQL started on a spare loopback port serves for the same SQL
// assertions.
//
// Run never reports a drill as passed unless every check passed: a wrong
// password, a missing or locked repository, a missing tool, a full disk,
// a size or a time limit are failed checks naming the cause. The scratch
// space is removed at the end, on failure and on cancel; one left by a
// killed process is removed by CleanStale and CleanStaleDatabases at the
// next start.
//
// The package holds no storage and no HTTP: the backup service records the
// Report in the ledger.
package drill
