// Package backup proves that customer data is backed up (BK-1 … BK-7).
//
// A DataSet is protected data with an owner, its expected frequency, type
// and retention, and its restore procedure. A Copy is one place its
// backups live: a restic repository, a directory of pg_dump files, a
// pgBackRest stanza, or a push manifest that a job opsguard cannot reach
// posts. The collection (Service.Collect, the job backup-collect) lists
// every copy's snapshots through its source and records what appeared and
// what is gone, with the listing as evidence in the ledger. The controls
// read those records: the newest backup is fresh and of the required
// type (BK-1), the retention window has no missing day (BK-2), enough
// fresh copies lie outside production (BK-3), and every data set
// documents its procedure (BK-7).
//
// The sources live in backup/sources, one file each; this package never
// imports them: the service asks for a Source per kind, which app passes
// in. A Copy carries what a restore drill needs (source, location, the
// password's secret) and a DataSet its drill specification as JSON, for
// the drill engine to read.
package backup
