package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// DataSet is a backup data set declared in the process config
// (backup.datasets); the server creates it, with its copies, at start when
// no data set of its name exists. It never overwrites one: a difference
// from the stored data set is logged.
type DataSet struct {
	Name           string `yaml:"name" json:"name"`
	Owner          string `yaml:"owner" json:"owner"` // a user name
	Classification string `yaml:"classification" json:"classification"`
	Description    string `yaml:"description" json:"description"`
	Frequency      string `yaml:"frequency" json:"frequency"`
	Type           string `yaml:"type" json:"type"`
	RetentionDays  int    `yaml:"retention_days" json:"retention_days"`
	Instructions   string `yaml:"instructions" json:"instructions"`
	// Drill is the restore drill's specification, as the API takes it
	// (copy, interval_days, snapshot, max_bytes, max_minutes,
	// expected_paths, assertions).
	Drill  map[string]any `yaml:"drill" json:"drill,omitempty"`
	Copies []Copy         `yaml:"copies" json:"copies"`
}

// Copy is one place a declared data set's backups live.
type Copy struct {
	Name     string `yaml:"name" json:"name"`
	Source   string `yaml:"source" json:"source"`
	Location string `yaml:"location" json:"location"`
	// PasswordSecret names a restic repository's password among the
	// server's secrets; the config never holds the password itself.
	PasswordSecret string `yaml:"password_secret" json:"password_secret,omitempty"`
	Offsite        bool   `yaml:"offsite" json:"offsite"`
}

// The values the backup register accepts, checked here so that a typo
// stops the config from loading rather than the server from starting.
var (
	dataSetName      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	dataSetFreqs     = []string{"", "hourly", "daily", "weekly"}
	dataSetTypes     = []string{"", "full", "incremental", "differential"}
	copySources      = []string{"restic", "pgdump", "pgbackrest", "manifest"}
	drillFields      = []string{"copy", "interval_days", "snapshot", "max_bytes", "max_minutes", "expected_paths", "assertions"}
	maxDeclaredSets  = 1000
	maxDeclaredText  = 64 << 10
	maxDeclaredDrill = 64 << 10
)

// validateDataSets checks backup.datasets, naming the entry and field of
// the first problem.
func validateDataSets(ds []DataSet) error {
	if len(ds) > maxDeclaredSets {
		return &Error{Key: "backup.datasets", Msg: fmt.Sprintf("at most %d data sets", maxDeclaredSets)}
	}
	seen := map[string]bool{}
	for i, d := range ds {
		key := fmt.Sprintf("backup.datasets[%d]", i)
		if err := d.validate(key); err != nil {
			return err
		}
		if seen[d.Name] {
			return &Error{Key: key + ".name", Msg: fmt.Sprintf("data set %q is declared twice", d.Name)}
		}
		seen[d.Name] = true
	}
	return nil
}

func (d DataSet) validate(key string) error {
	bad := func(field, format string, args ...any) error {
		return &Error{Key: key + "." + field, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case !dataSetName.MatchString(d.Name):
		return bad("name", "%q: 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit", d.Name)
	case strings.TrimSpace(d.Owner) == "":
		return bad("owner", "a data set needs an owner (a user name)")
	case !slices.Contains(dataSetFreqs, d.Frequency):
		return bad("frequency", "%q: one of hourly, daily (default), weekly", d.Frequency)
	case !slices.Contains(dataSetTypes, d.Type):
		return bad("type", "%q: one of full (default), incremental, differential", d.Type)
	case d.RetentionDays < 0 || d.RetentionDays > 36500:
		return bad("retention_days", "%d: 1 to 36500 (0 for the default, 7)", d.RetentionDays)
	case len(d.Classification) > 200:
		return bad("classification", "at most 200 bytes")
	case len(d.Description) > maxDeclaredText:
		return bad("description", "at most %d bytes", maxDeclaredText)
	case len(d.Instructions) > maxDeclaredText:
		return bad("instructions", "at most %d bytes", maxDeclaredText)
	}
	if err := checkDrill(d.Drill); err != nil {
		return bad("drill", "%v", err)
	}
	names := map[string]bool{}
	for j, c := range d.Copies {
		ck := fmt.Sprintf("copies[%d]", j)
		if err := c.validate(); err != nil {
			return bad(ck+"."+err.field, "%s", err.msg)
		}
		name := c.Name
		if name == "" {
			name = c.Source
		}
		if names[name] {
			return bad(ck+".name", "copy %q is declared twice (give each copy of a source its own name)", name)
		}
		names[name] = true
	}
	return nil
}

// checkDrill checks the drill specification's shape; the register checks
// its values when it creates the data set.
func checkDrill(spec map[string]any) error {
	for k := range spec {
		if !slices.Contains(drillFields, k) {
			return fmt.Errorf("unknown field %q (fields: %s)", k, strings.Join(drillFields, ", "))
		}
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("not a plain mapping: %v", err)
	}
	if len(b) > maxDeclaredDrill {
		return fmt.Errorf("at most %d bytes", maxDeclaredDrill)
	}
	return nil
}

type fieldError struct{ field, msg string }

func (c Copy) validate() *fieldError {
	switch {
	case c.Name != "" && !dataSetName.MatchString(c.Name):
		return &fieldError{"name", fmt.Sprintf("%q: 1 to 100 letters, digits, '.', '_' or '-'", c.Name)}
	case !slices.Contains(copySources, c.Source):
		return &fieldError{"source", fmt.Sprintf("%q: one of %s", c.Source, strings.Join(copySources, ", "))}
	case len(c.Location) > 1000 || strings.ContainsAny(c.Location, "\x00\n\r"):
		return &fieldError{"location", "at most 1000 bytes, one line"}
	case c.Source == "manifest" && c.Location != "":
		return &fieldError{"location", "a manifest copy has no location: its job posts to /api/v1/backup/manifests"}
	case c.Source == "pgdump" && !filepath.IsAbs(c.Location):
		return &fieldError{"location", fmt.Sprintf("%q: a pg_dump copy's location is an absolute directory", c.Location)}
	case c.Source == "pgbackrest" && !dataSetName.MatchString(c.Location):
		return &fieldError{"location", fmt.Sprintf("%q: a pgBackRest copy's location is its stanza's name", c.Location)}
	case c.Source == "restic" && c.Location == "":
		return &fieldError{"location", "a restic copy needs its repository (an absolute path or a rest:, sftp:, s3: … URL)"}
	case c.Source == "restic" && c.PasswordSecret == "":
		return &fieldError{"password_secret", "a restic copy needs password_secret, naming its password among the server's secrets"}
	case c.Source != "restic" && c.PasswordSecret != "":
		return &fieldError{"password_secret", fmt.Sprintf("a %s copy takes no password", c.Source)}
	}
	return nil
}
