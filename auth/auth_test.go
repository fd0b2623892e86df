package auth_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

var ctx = context.Background()

// cheap keeps tests fast; production uses auth.DefaultArgon2.
var cheap = auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}

type fixture struct {
	db      *store.DB
	svc     *auth.Service
	now     time.Time
	admin   auth.Principal
	key     *ledger.Key
	notices []string
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "ledger.key"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), key: key}
	f.svc = f.service(db)
	f.admin = auth.CLI("root")
	return f
}

// service is a service of its own over db (another replica, or the same
// one after a restart), on the fixture's clock and ledger key.
func (f *fixture) service(db *store.DB) *auth.Service {
	return auth.NewService(store.Bind[auth.Tx](db), ledger.New(f.key, ledger.Options{}), auth.Options{
		Argon2: cheap, Now: func() time.Time { return f.now }, MaxFailedSignIns: 3, MaxFailedSignInsPerUser: 6, MaxFailedSignInsPerAddress: 10,
		SignInWindow: time.Minute, SessionTTL: time.Hour, Notifier: f,
	})
}

// NotifyUser records what the service asked to tell a user.
func (f *fixture) NotifyUser(_ context.Context, _ auth.Tx, u auth.User, kind, summary string, data map[string]any) error {
	f.notices = append(f.notices, kind+" "+u.Username+": "+summary)
	return nil
}

func (f *fixture) user(t *testing.T, name string, role auth.Role) auth.Principal {
	t.Helper()
	u, err := f.svc.CreateUser(ctx, f.admin, auth.NewUser{Username: name, Role: role, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	return auth.Principal{User: u, Via: "session"}
}

func (f *fixture) kinds(t *testing.T) []string {
	t.Helper()
	var kinds []string
	f.db.View(ctx, func(tx *store.Tx) error {
		es, err := tx.ListEntries(ctx, ledger.EntryFilter{Limit: 1000})
		for i := len(es) - 1; i >= 0; i-- {
			if es[i].Kind != ledger.KindRows { // the seal of each write's rows
				kinds = append(kinds, es[i].Kind)
			}
		}
		return err
	})
	return kinds
}

func TestCreateUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		u := f.user(t, "iso", auth.SecurityOfficer)
		if u.User.Role != auth.SecurityOfficer || u.User.CreatedBy != "cli:root" || u.User.DisplayName != "iso" {
			t.Errorf("user = %+v", u.User)
		}
		bad := []struct {
			name string
			in   auth.NewUser
			code opsguard.Code
		}{
			{"duplicate", auth.NewUser{Username: "iso", Role: auth.Engineer, Password: "correct horse battery"}, opsguard.EConflict},
			{"short password", auth.NewUser{Username: "bob", Role: auth.Engineer, Password: "short"}, opsguard.EInvalid},
			{"bad name", auth.NewUser{Username: "Bob Smith", Role: auth.Engineer, Password: "correct horse battery"}, opsguard.EInvalid},
			{"bad role", auth.NewUser{Username: "bob", Role: "root", Password: "correct horse battery"}, opsguard.EInvalid},
		}
		for _, tc := range bad {
			if _, err := f.svc.CreateUser(ctx, f.admin, tc.in); opsguard.ErrorCode(err) != tc.code {
				t.Errorf("%s: err = %v, want %s", tc.name, err, tc.code)
			}
		}
		if _, err := f.svc.CreateUser(ctx, u, auth.NewUser{Username: "eve", Role: auth.Admin, Password: "correct horse battery"}); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("security officer created a user: %v", err)
		}
		if got := f.kinds(t); strings.Join(got, ",") != "user.created" {
			t.Errorf("ledger = %v, want one user.created", got)
		}
	})
}

func TestSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.user(t, "alice", auth.Engineer)
		p, secret, err := f.svc.SignIn(ctx, "alice", "correct horse battery", "10.0.0.1")
		if err != nil || p.User.Username != "alice" || secret == "" || p.CSRFToken == "" {
			t.Fatalf("sign in: %+v %v", p, err)
		}
		got, err := f.svc.Authenticate(ctx, secret)
		if err != nil || got.User.Username != "alice" || got.CSRFToken != p.CSRFToken {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		if _, err := f.svc.Authenticate(ctx, secret+"x"); !auth.IsUnauthenticated(err) {
			t.Errorf("wrong session accepted: %v", err)
		}
		f.now = f.now.Add(2 * time.Hour)
		if _, err := f.svc.Authenticate(ctx, secret); !auth.IsUnauthenticated(err) {
			t.Errorf("expired session accepted: %v", err)
		}
		_, secret, _ = f.svc.SignIn(ctx, "alice", "correct horse battery", "10.0.0.1")
		if err := f.svc.SignOut(ctx, p, secret); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, secret); !auth.IsUnauthenticated(err) {
			t.Errorf("ended session accepted: %v", err)
		}
		want := "user.created,auth.signed_in,auth.signed_in,auth.signed_out"
		if got := strings.Join(f.kinds(t), ","); got != want {
			t.Errorf("ledger = %s, want %s", got, want)
		}
	})
}

func TestFailedSignInsAreLedgeredAndLimited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.user(t, "alice", auth.Engineer)
		for i := 0; i < 3; i++ {
			if _, _, err := f.svc.SignIn(ctx, "alice", "wrong password!", "10.0.0.9"); opsguard.ErrorCode(err) != opsguard.EUnauthenticated {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		// The right password is refused too while the limit holds.
		for i := 0; i < 3; i++ {
			if _, _, err := f.svc.SignIn(ctx, "alice", "correct horse battery", "10.0.0.9"); opsguard.ErrorCode(err) != opsguard.ERateLimited {
				t.Fatalf("over the limit: %v", err)
			}
		}
		var failed []ledger.Entry
		db.View(ctx, func(tx *store.Tx) error {
			var err error
			failed, err = tx.ListEntries(ctx, ledger.EntryFilter{Kind: "auth.sign_in_failed"})
			return err
		})
		if len(failed) != 4 { // three wrong passwords, one first refusal
			t.Fatalf("ledgered failures = %d, want 4", len(failed))
		}
		if failed[0].Subject != "username/alice" || !strings.Contains(string(failed[0].Payload), "rate limited") || !strings.Contains(string(failed[1].Payload), "10.0.0.9") {
			t.Errorf("entries = %s / %s", failed[0].Payload, failed[1].Payload)
		}
		for _, e := range failed {
			if strings.Contains(string(e.Payload), "wrong password!") || strings.Contains(string(e.Payload), "correct horse") {
				t.Fatal("a password reached the ledger")
			}
		}
		f.now = f.now.Add(2 * time.Minute)
		if _, _, err := f.svc.SignIn(ctx, "alice", "correct horse battery", "10.0.0.9"); err != nil {
			t.Errorf("after the window: %v", err)
		}
		if _, _, err := f.svc.SignIn(ctx, "nobody", "correct horse battery", "10.0.0.8"); opsguard.ErrorCode(err) != opsguard.EUnauthenticated {
			t.Errorf("unknown user: %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		alice := f.user(t, "alice", auth.Engineer)
		bob := f.user(t, "bob", auth.Engineer)
		tok, secret, err := f.svc.CreateToken(ctx, alice, "", "ci", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.svc.AuthenticateToken(ctx, secret)
		if err != nil || p.User.Username != "alice" || p.Via != "token:"+tok.ID {
			t.Fatalf("authenticate: %+v %v", p, err)
		}
		if _, _, err := f.svc.CreateToken(ctx, alice, "bob", "sneaky", 0); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("engineer made a token for another user: %v", err)
		}
		if _, err := f.svc.RevokeToken(ctx, bob, tok.ID); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("bob revoked alice's token: %v", err)
		}
		if _, err := f.svc.RevokeToken(ctx, alice, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AuthenticateToken(ctx, secret); !auth.IsUnauthenticated(err) {
			t.Errorf("revoked token accepted: %v", err)
		}
		f.now = f.now.Add(time.Second)
		f.user(t, "host1", auth.Agent)
		_, secret, _ = f.svc.CreateToken(ctx, f.admin, "host1", "agent", time.Hour)
		flipped := secret[:len(secret)-1] + "A"
		if flipped == secret {
			flipped = secret[:len(secret)-1] + "B"
		}
		for _, bad := range []string{"", "tok_x", flipped, strings.Replace(secret, ".", "", 1)} {
			if _, err := f.svc.AuthenticateToken(ctx, bad); !auth.IsUnauthenticated(err) {
				t.Errorf("bad token %q accepted: %v", bad, err)
			}
		}
		f.now = f.now.Add(2 * time.Hour)
		if _, err := f.svc.AuthenticateToken(ctx, secret); !auth.IsUnauthenticated(err) {
			t.Errorf("expired token accepted: %v", err)
		}
		toks, err := f.svc.ListTokens(ctx, alice, "")
		if err != nil || len(toks) != 2 || toks[0].RevokedAt == nil {
			t.Errorf("list = %+v %v", toks, err)
		}
		want := "user.created,user.created,token.created,token.revoked,user.created,token.created"
		if got := strings.Join(f.kinds(t), ","); got != want {
			t.Errorf("ledger = %s, want %s", got, want)
		}
	})
}

func TestDisableUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		alice := f.user(t, "alice", auth.Engineer)
		first := f.user(t, "admin", auth.Admin)
		_, secret, _ := f.svc.CreateToken(ctx, alice, "", "ci", 0)
		_, sess, _ := f.svc.SignIn(ctx, "alice", "correct horse battery", "127.0.0.1")
		if _, err := f.svc.DisableUser(ctx, first, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AuthenticateToken(ctx, secret); !auth.IsUnauthenticated(err) {
			t.Errorf("disabled user's token accepted: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, sess); !auth.IsUnauthenticated(err) {
			t.Errorf("disabled user's session accepted: %v", err)
		}
		if _, _, err := f.svc.SignIn(ctx, "alice", "correct horse battery", "127.0.0.1"); !auth.IsUnauthenticated(err) {
			t.Errorf("disabled user signed in: %v", err)
		}
		if _, err := f.svc.DisableUser(ctx, first, "admin"); opsguard.ErrorCode(err) != opsguard.EConflict {
			t.Errorf("last admin disabled: %v", err)
		}
	})
}

func TestPasswordHash(t *testing.T) {
	h := auth.HashPassword("correct horse battery", cheap)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("hash = %s", h)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse battery", true}, {"correct horse batterY", false}, {"", false}} {
		if ok, err := auth.CheckPassword(h, tc.pw); err != nil || ok != tc.want {
			t.Errorf("check %q = %v %v", tc.pw, ok, err)
		}
	}
	if h == auth.HashPassword("correct horse battery", cheap) {
		t.Error("two hashes of one password are equal: no salt")
	}
	if _, err := auth.CheckPassword("$2a$10$bcrypt", "x"); err == nil {
		t.Error("non-argon2id hash accepted")
	}
}

func TestRolePermissions(t *testing.T) {
	for _, r := range auth.Roles {
		if r == auth.Agent {
			if r.Can(auth.Read) || !r.Can(auth.PostFacts) {
				t.Errorf("agent: read %v, post facts %v", r.Can(auth.Read), r.Can(auth.PostFacts))
			}
			continue
		}
		if !r.Can(auth.Read) {
			t.Errorf("%s cannot read", r)
		}
	}
	if auth.Auditor.Can(auth.RunControls) || auth.Auditor.Can(auth.ManageUsers) {
		t.Error("auditor can change something")
	}
	if _, err := auth.ParseRole("root"); err == nil {
		t.Error("unknown role parsed")
	}
}

func TestSetPassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		alice := f.user(t, "alice", auth.Engineer)
		bob := f.user(t, "bob", auth.Engineer)
		_, other, _ := f.svc.SignIn(ctx, "alice", "correct horse battery", "10.0.0.1")
		if err := f.svc.SetPassword(ctx, alice, "alice", "wrong current pw", "a new long password"); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("wrong current password: %v", err)
		}
		if err := f.svc.SetPassword(ctx, bob, "alice", "", "a new long password"); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("bob changed alice's password: %v", err)
		}
		if err := f.svc.SetPassword(ctx, alice, "alice", "correct horse battery", "short"); opsguard.ErrorCode(err) != opsguard.EInvalid {
			t.Errorf("short password: %v", err)
		}
		if err := f.svc.SetPassword(ctx, alice, "alice", "correct horse battery", "a new long password"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, other); !auth.IsUnauthenticated(err) {
			t.Error("a session survived the password change")
		}
		if _, _, err := f.svc.SignIn(ctx, "alice", "correct horse battery", "10.0.0.1"); err == nil {
			t.Error("the old password still signs in")
		}
		if _, _, err := f.svc.SignIn(ctx, "alice", "a new long password", "10.0.0.1"); err != nil {
			t.Errorf("the new password: %v", err)
		}
		// Nobody sets another's password, not even an administrator.
		if err := f.svc.SetPassword(ctx, f.admin, "bob", "", "set by the admin"); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("admin set bob's password: %v", err)
		}
		kinds := strings.Join(f.kinds(t), ",")
		if strings.Count(kinds, "user.password_changed") != 1 {
			t.Errorf("ledger = %s", kinds)
		}
	})
}

func TestSetRole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		alice := f.user(t, "alice", auth.Engineer)
		admin := f.user(t, "root", auth.Admin)
		if _, err := f.svc.SetRole(ctx, alice, "alice", auth.EngineeringHead); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("self-promotion: %v", err)
		}
		u, err := f.svc.SetRole(ctx, admin, "alice", auth.EngineeringHead)
		if err != nil || u.Role != auth.EngineeringHead {
			t.Fatalf("promote: %+v %v", u, err)
		}
		if _, err := f.svc.SetRole(ctx, admin, "root", auth.Auditor); opsguard.ErrorCode(err) != opsguard.EConflict {
			t.Errorf("last admin demoted: %v", err)
		}
		if _, err := f.svc.SetRole(ctx, admin, "alice", "boss"); opsguard.ErrorCode(err) != opsguard.EInvalid {
			t.Errorf("unknown role: %v", err)
		}
		var e []ledger.Entry
		db.View(ctx, func(tx *store.Tx) error {
			var err error
			e, err = tx.ListEntries(ctx, ledger.EntryFilter{Kind: "user.role_changed"})
			return err
		})
		if len(e) != 1 || !strings.Contains(string(e[0].Payload), `"from":"engineer","to":"engineering_head"`) {
			t.Errorf("ledger: %+v", e)
		}
	})
}

// racingStore makes the transactions of n concurrent requests all look the
// new user up before any of them inserts it, as requests on several
// PostgreSQL connections (or replicas) can.
type racingStore struct {
	auth.Store
	looked sync.WaitGroup
}

func (s *racingStore) Update(ctx context.Context, fn func(auth.Tx) error) error {
	return s.Store.Update(ctx, func(tx auth.Tx) error { return fn(racingTx{tx, s}) })
}

type racingTx struct {
	auth.Tx
	s *racingStore
}

func (tx racingTx) UserByName(ctx context.Context, name string) (auth.User, string, error) {
	u, h, err := tx.Tx.UserByName(ctx, name)
	tx.s.looked.Done()
	tx.s.looked.Wait()
	return u, h, err
}

// Requests that create the same user at once: one succeeds, every other
// hears that the user exists (409), none fails as an internal error (500).
// SQLite runs writers one at a time, so only PostgreSQL can race there.
func TestCreateUserRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const n = 4
		var st auth.Store = store.Bind[auth.Tx](db)
		if db.Dialect() == store.Postgres {
			rs := &racingStore{Store: st}
			rs.looked.Add(n)
			st = rs
		}
		svc := auth.NewService(st, ledger.New(newKey(t), ledger.Options{}), auth.Options{Argon2: cheap})
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := svc.CreateUser(ctx, auth.CLI("root"), auth.NewUser{Username: "olga", Role: auth.Engineer, Password: "correct horse battery"})
				errs <- err
			}()
		}
		created := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				created++
			case opsguard.ErrorCode(err) != opsguard.EConflict:
				t.Errorf("a request of the race failed as %s, want conflict: %v", opsguard.ErrorCode(err), err)
			}
		}
		if created != 1 {
			t.Errorf("%d requests created the user, want 1", created)
		}
	})
}

func newKey(t *testing.T) *ledger.Key {
	t.Helper()
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "ledger.key"))
	if err != nil {
		t.Fatal(err)
	}
	return key
}
