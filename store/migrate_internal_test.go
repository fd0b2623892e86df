package store

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// Migrations written on separate branches land in any order and may leave
// a number unused for a while: the runner orders them by number and only
// refuses a number used twice or a name without one.
func TestMigrationsIn(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name    string
		files   []string
		want    []int
		wantErr string
	}{
		{"gap", []string{"0001_a.sql", "0014_c.sql", "0012_b.sql"}, []int{1, 12, 14}, ""},
		{"same number twice", []string{"0001_a.sql", "0012_b.sql", "0012_c.sql"}, nil, "number 12 is also 0012_b.sql's"},
		{"no number", []string{"0001_a.sql", "init.sql"}, nil, "init.sql: name must start with a number"},
		{"zero", []string{"0000_a.sql"}, nil, "0000_a.sql: name must start with a number from 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys[f] = sql
			}
			ms, err := migrationsIn(fsys)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("versions %v, want %v", got, tc.want)
			}
		})
	}
}
