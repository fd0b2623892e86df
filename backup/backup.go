package backup

import (
	"encoding/json"
	"time"
)

// The sources of copies.
const (
	SourceRestic     = "restic"
	SourcePgDump     = "pgdump"
	SourcePgBackRest = "pgbackrest"
	SourceManifest   = "manifest"
)

// Sources lists the kinds of copy.
var Sources = []string{SourceRestic, SourcePgDump, SourcePgBackRest, SourceManifest}

// The types of backup, as the policy names them (BK-7).
const (
	Full         = "full"
	Incremental  = "incremental"
	Differential = "differential"
)

// Types lists the types of backup.
var Types = []string{Full, Incremental, Differential}

// Frequencies lists the expected frequencies of a data set's backups.
var Frequencies = []string{"hourly", "daily", "weekly"}

// DataSet is protected data: who owns it, how it is backed up, and how it
// is restored.
type DataSet struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Owner          string `json:"owner"` // a user name
	Classification string `json:"classification"`
	Description    string `json:"description"` // the data covered
	Frequency      string `json:"frequency"`
	Type           string `json:"type"` // the type its backups must have
	RetentionDays  int    `json:"retention_days"`
	Instructions   string `json:"instructions"` // the restore procedure
	// Drill is the restore drill's specification (what a drill restores
	// and checks), kept as the drill engine wrote it.
	Drill     json.RawMessage `json:"drill,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	CreatedBy string          `json:"created_by"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Copy is one place a data set's backups live.
type Copy struct {
	ID        string `json:"id"`
	DataSetID string `json:"dataset_id"`
	DataSet   string `json:"dataset"` // the data set's name
	Name      string `json:"name"`    // unique within the data set
	Source    string `json:"source"`
	// Location is the restic repository (a path or a rest:, sftp:, s3:
	// URL), the directory of pg_dump files, or the pgBackRest stanza;
	// empty for a manifest.
	Location string `json:"location"`
	// Offsite marks a copy outside the production environment (BK-3).
	Offsite bool `json:"offsite"`
	// PasswordSecret names the repository's password among the server's
	// secrets; Password is one sent through the API, kept sealed
	// (SealedPassword) and never answered.
	PasswordSecret string `json:"password_secret,omitempty"`
	Password       string `json:"password,omitempty"`
	SealedPassword string `json:"-"`
	PasswordSet    bool   `json:"password_set"`
	// AddedLocally marks a local path the in-process CLI named.
	AddedLocally bool       `json:"added_locally"`
	CreatedAt    time.Time  `json:"created_at"`
	CreatedBy    string     `json:"created_by"`
	CollectedAt  *time.Time `json:"collected_at,omitempty"`
	CollectError string     `json:"collect_error"`
}

// Snapshot is one backup in a copy.
type Snapshot struct {
	CopyID    string     `json:"copy_id"`
	ID        string     `json:"id"` // the tool's own: a restic id, a file name, a pgBackRest label
	DataSetID string     `json:"dataset_id"`
	Time      time.Time  `json:"time"`
	Type      string     `json:"type"`
	SizeBytes int64      `json:"size_bytes"`
	Checksum  string     `json:"checksum,omitempty"`
	Host      string     `json:"host,omitempty"`
	Paths     []string   `json:"paths,omitempty"`
	SeenAt    time.Time  `json:"seen_at"`
	GoneAt    *time.Time `json:"gone_at,omitempty"`
}

// Satisfies reports whether a backup of type got meets a data set that
// requires type want: a full backup meets every requirement, a
// differential one a differential or incremental requirement.
func Satisfies(got, want string) bool {
	switch want {
	case Incremental:
		return true
	case Differential:
		return got == Full || got == Differential
	}
	return got == Full
}
