package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// session is u signed in with a browser.
func session(p auth.Principal) auth.Principal { return auth.Principal{User: p.User, Via: "session"} }

// A token is made by its owner; an administrator makes them only for
// agents, and revokes anyone's.
func TestTokensAreTheirOwners(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		admin := f.user(t, "admin", auth.Admin)
		so1 := f.user(t, "so1", auth.SecurityOfficer)
		f.user(t, "host1", auth.Agent)
		cases := []struct {
			name  string
			by    auth.Principal
			owner string
			code  opsguard.Code // "" for allowed
		}{
			{"admin for a security officer", admin, "so1", opsguard.EForbidden},
			{"command line for a security officer", f.admin, "so1", opsguard.EForbidden},
			{"command line for an administrator", f.admin, "admin", opsguard.EForbidden},
			{"security officer for another", so1, "admin", opsguard.EForbidden},
			{"admin for an agent", admin, "host1", ""},
			{"command line for an agent", f.admin, "host1", ""},
			{"admin for itself", admin, "admin", ""},
			{"security officer for itself", so1, "", ""},
		}
		for _, tc := range cases {
			_, _, err := f.svc.CreateToken(ctx, tc.by, tc.owner, "t", 0)
			if got := opsguard.ErrorCode(err); err == nil && tc.code != "" || err != nil && got != tc.code {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.code)
			}
		}
		tok, _, err := f.svc.CreateToken(ctx, so1, "", "laptop", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RevokeToken(ctx, admin, tok.ID); err != nil {
			t.Errorf("admin revoking so1's token: %v", err)
		}
	})
}

// An agent's tokens, made by an administrator, die when it gets a human
// role: else an administrator could make an agent, take its token and
// promote it.
func TestAgentTokensEndWithTheRole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		admin := f.user(t, "admin", auth.Admin)
		f.user(t, "host1", auth.Agent)
		_, secret, err := f.svc.CreateToken(ctx, admin, "host1", "agent", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetRole(ctx, admin, "host1", auth.SecurityOfficer); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AuthenticateToken(ctx, secret); !auth.IsUnauthenticated(err) {
			t.Errorf("the agent's token works after its promotion: %v", err)
		}
	})
}

// Entries made with a token name it; the user's entries are found by the
// user's name all the same.
func TestLedgerNamesTheToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		so1 := f.user(t, "so1", auth.SecurityOfficer)
		tok, secret, err := f.svc.CreateToken(ctx, so1, "", "laptop", 0)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.svc.AuthenticateToken(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.CreateToken(auth.Attribute(ctx, p), p, "", "second", 0); err != nil {
			t.Fatal(err)
		}
		var es []ledger.Entry
		db.View(ctx, func(tx *store.Tx) error {
			es, err = tx.ListEntries(ctx, ledger.EntryFilter{Actor: "so1", Kind: "token.created"})
			return err
		})
		if len(es) != 2 || es[0].Actor != "so1 via "+tok.ID || es[1].Actor != "so1" {
			t.Fatalf("entries of so1: %+v", es)
		}
		if who, via := ledger.SplitActor(es[0].Actor); who != "so1" || via != tok.ID {
			t.Errorf("split %q = %q, %q", es[0].Actor, who, via)
		}
		if p.Name() != "so1" {
			t.Errorf("the token's principal is named %q: rules that compare names would tell two tokens of one person apart", p.Name())
		}
	})
}

// An administrator resets another's password only to a one-time value,
// good for nothing but choosing a new password; the reset is ledgered and
// the user told.
func TestPasswordReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		admin := f.user(t, "admin", auth.Admin)
		bob := f.user(t, "bob", auth.Engineer)
		_, old, _ := f.svc.SignIn(ctx, "bob", "correct horse battery", "10.0.0.1")
		if _, err := f.svc.ResetPassword(ctx, bob, "admin"); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("an engineer reset the admin's password: %v", err)
		}
		if _, err := f.svc.ResetPassword(ctx, admin, "admin"); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("an admin reset its own password: %v", err)
		}
		if err := f.svc.SetPassword(ctx, admin, "bob", "", "chosen by the admin"); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("an admin chose bob's password: %v", err)
		}
		oneTime, err := f.svc.ResetPassword(ctx, admin, "bob")
		if err != nil || len(oneTime) < auth.MinPasswordLength {
			t.Fatalf("reset: %q %v", oneTime, err)
		}
		if _, err := f.svc.Authenticate(ctx, old); !auth.IsUnauthenticated(err) {
			t.Error("a session survived the reset")
		}
		if len(f.notices) != 1 || !strings.HasPrefix(f.notices[0], "auth.password_reset bob: ") || !strings.Contains(f.notices[0], "admin") {
			t.Errorf("notices = %q", f.notices)
		}
		p, secret, err := f.svc.SignIn(ctx, "bob", oneTime, "10.0.0.1")
		if err != nil {
			t.Fatalf("sign in with the one-time password: %v", err)
		}
		p, err = f.svc.Authenticate(ctx, secret)
		if err != nil || !p.Restricted() {
			t.Fatalf("session of the one-time password: %+v %v", p, err)
		}
		for _, perm := range []auth.Permission{auth.Read, auth.OwnTokens, auth.TriageFindings} {
			if p.Can(perm) {
				t.Errorf("a one-time session may %s", perm)
			}
		}
		if _, _, err := f.svc.CreateToken(ctx, p, "", "keep", 0); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("a one-time session made a token: %v", err)
		}
		if err := f.svc.SetPassword(ctx, p, "bob", oneTime, "bob's own new password"); err != nil {
			t.Fatalf("change after the reset: %v", err)
		}
		p, _, err = f.svc.SignIn(ctx, "bob", "bob's own new password", "10.0.0.1")
		if err != nil || p.Restricted() || !p.Can(auth.Read) {
			t.Errorf("after the change: %+v %v", p, err)
		}
		var es []ledger.Entry
		db.View(ctx, func(tx *store.Tx) error {
			es, err = tx.ListEntries(ctx, ledger.EntryFilter{Kind: "user.password_reset"})
			return err
		})
		if len(es) != 1 || es[0].Actor != "admin" || !strings.Contains(string(es[0].Payload), `"must_change":true`) || strings.Contains(string(es[0].Payload), oneTime) {
			t.Errorf("reset entries: %+v", es)
		}
	})
}

// One person's wrong passwords lock out that person at that address, not
// the others behind the same address; the user and the address have
// limits of their own.
func TestSignInThrottleKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db) // 3 per pair, 6 per user, 10 per address
		for _, u := range []string{"alice", "bob", "carol"} {
			f.user(t, u, auth.Engineer)
		}
		signIn := func(user, pw, addr string) opsguard.Code {
			_, _, err := f.svc.SignIn(ctx, user, pw, addr)
			if err == nil {
				return ""
			}
			return opsguard.ErrorCode(err)
		}
		for range 3 {
			signIn("alice", "wrong password!", "10.0.0.9")
		}
		if c := signIn("alice", "correct horse battery", "10.0.0.9"); c != opsguard.ERateLimited {
			t.Errorf("alice at the address of her typos: %q", c)
		}
		if c := signIn("bob", "correct horse battery", "10.0.0.9"); c != "" {
			t.Errorf("bob behind alice's address: %q", c)
		}
		if c := signIn("alice", "correct horse battery", "10.0.0.10"); c != "" {
			t.Errorf("alice from elsewhere: %q", c)
		}
		// Guessing carol's password from many addresses meets her limit.
		for i := range 6 {
			signIn("carol", "wrong password!", "10.1.0."+string(rune('1'+i)))
		}
		if c := signIn("carol", "correct horse battery", "10.2.0.1"); c != opsguard.ERateLimited {
			t.Errorf("carol after 6 failures from 6 addresses: %q", c)
		}
		// Spraying names from one address meets the address's limit.
		for i := range 10 {
			signIn("nobody"+string(rune('a'+i)), "wrong password!", "10.3.0.1")
		}
		if c := signIn("bob", "correct horse battery", "10.3.0.1"); c != opsguard.ERateLimited {
			t.Errorf("after 10 failures from one address: %q", c)
		}
		f.now = f.now.Add(2 * time.Minute)
		if c := signIn("bob", "correct horse battery", "10.3.0.1"); c != "" {
			t.Errorf("after the window: %q", c)
		}
	})
}

// The counts are in the store: a restarted service and a second replica
// on the same database see them.
func TestSignInThrottleIsShared(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			db1, db2 := storetest.Open(t, dsn), storetest.Open(t, dsn)
			f := newFixture(t, db1)
			f.user(t, "alice", auth.Engineer)
			replica := f.service(db2)
			f.svc.SignIn(ctx, "alice", "wrong password!", "10.0.0.9")
			replica.SignIn(ctx, "alice", "wrong password!", "10.0.0.9")
			f.svc.SignIn(ctx, "alice", "wrong password!", "10.0.0.9")
			restarted := f.service(db1)
			for name, svc := range map[string]*auth.Service{"the restarted service": restarted, "the replica": replica} {
				if _, _, err := svc.SignIn(ctx, "alice", "correct horse battery", "10.0.0.9"); opsguard.ErrorCode(err) != opsguard.ERateLimited {
					t.Errorf("%s after 3 failures split over two replicas: %v", name, err)
				}
			}
		})
	}
}

// The table of counts keeps only the current window.
func TestSignInThrottleSweeps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for i := range 20 {
			f.svc.SignIn(ctx, "ghost"+string(rune('a'+i)), "wrong password!", "10.0.0.1")
		}
		f.now = f.now.Add(2 * time.Minute)
		f.svc.SignIn(ctx, "late", "wrong password!", "10.0.0.2")
		var counts map[string]int
		db.View(ctx, func(tx *store.Tx) error {
			var err error
			counts, err = tx.SignInFailures(ctx, []string{"user:ghosta", "addr:10.0.0.1", "user:late"}, time.Time{})
			return err
		})
		if len(counts) != 1 || counts["user:late"] != 1 {
			t.Errorf("rows kept = %v, want only the late one", counts)
		}
	})
}
