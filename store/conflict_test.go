package store_test

import (
	"testing"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

// A second row with a name that must be unique is a conflict (409), not an
// internal error: two requests that both checked the name before either
// inserted it race to the insert, and the loser must hear why. (An asset
// is created idempotently instead: see TestInsertAssetIdempotent.)
func TestUniqueNameIsAConflict(t *testing.T) {
	tests := []struct {
		name   string
		insert func(tx *store.Tx, id string) error
	}{
		{"user", func(tx *store.Tx, id string) error {
			return tx.InsertUser(ctx, auth.User{ID: id, Username: "olga", DisplayName: "Olga", Role: auth.Engineer, CreatedAt: at, CreatedBy: "t"}, "h")
		}},
		{"repository", func(tx *store.Tx, id string) error {
			return tx.InsertRepository(ctx, change.Repository{ID: id, Name: "shop", URL: "/srv/shop", Branches: []string{"main"}, Source: "git", CreatedAt: at, CreatedBy: "t"})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				if err := storetest.Update(t, db, func(tx *store.Tx) error { return tc.insert(tx, "x_1") }); err != nil {
					t.Fatal(err)
				}
				err := storetest.Update(t, db, func(tx *store.Tx) error { return tc.insert(tx, "x_2") })
				if opsguard.ErrorCode(err) != opsguard.EConflict || !contains(err.Error(), "already exists") {
					t.Errorf("second %s named alike: %v (%s), want a conflict saying it already exists", tc.name, err, opsguard.ErrorCode(err))
				}
			})
		})
	}
}

// Two imports creating one asset both succeed: the second finds the first's.
func TestInsertAssetIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var created []bool
		for _, id := range []string{"ast_1", "ast_2"} {
			err := storetest.Update(t, db, func(tx *store.Tx) error {
				ok, err := tx.InsertAsset(ctx, vuln.Asset{ID: id, Name: "shop", Kind: "image", CreatedAt: at})
				created = append(created, ok)
				return err
			})
			if err != nil {
				t.Fatalf("insert %s: %v", id, err)
			}
		}
		if !created[0] || created[1] {
			t.Errorf("created %v, want the first only", created)
		}
	})
}
