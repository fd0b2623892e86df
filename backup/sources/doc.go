// Package sources reads the snapshots of backup copies: restic
// repositories, directories of pg_dump files, pgBackRest stanzas, and the
// push manifest of jobs opsguard cannot reach. Each is one file, with its
// parser of the tool's output tested on what the real tool writes and
// fuzzed.
//
// The tools are run with their JSON output and a bounded time; their exit
// status and standard error say what went wrong, which an error reports
// in words (a wrong password, no repository, a lock) without the
// password, which reaches restic only through its environment and is
// never logged.
package sources

import (
	"github.com/opsguard/opsguard/backup"
)

// Sources returns a source for each kind of copy that is listed (the
// manifest is pushed).
func Sources() map[string]backup.Source {
	return map[string]backup.Source{
		backup.SourceRestic:     &Restic{},
		backup.SourcePgDump:     &PgDump{},
		backup.SourcePgBackRest: &PgBackRest{},
	}
}
