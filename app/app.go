package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/events"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/policy"
	"github.com/opsguard/opsguard/report"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/vuln"
)

// App is one wired instance.
type App struct {
	Config   config.Config
	DB       *store.DB
	Log      *ledger.Log
	Auth     *auth.Service
	Controls *control.Engine
	Jobs     *jobs.Scheduler // the periodic work, started by serve
	Notify   *notify.Dispatcher
	Vuln     *vuln.Service
	Change   *change.Service
	Tickets  *change.Tickets
	Backup   *backup.Service
	Policy   *policy.Service
	Report   *report.Service
	Host     *host.Service
	Events   *events.Service
	Syslog   *events.SyslogServer // the syslog receiver, when listening
	Logger   *slog.Logger
	Now      func() time.Time

	pending sync.WaitGroup // background work on its way (webhook syncs)
}

// Options tune Open.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Argon2 overrides the password hashing cost (tests).
	Argon2 auth.Argon2Params
}

// DSN is the database the config names: its PostgreSQL URL, or the SQLite
// file in the data directory.
func DSN(cfg config.Config) string {
	if cfg.Server.Database != "" {
		return cfg.Server.Database
	}
	return filepath.Join(cfg.Server.DataDir, "opsguard.db")
}

// Open opens an initialised instance: its key must exist.
func Open(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	key, err := ledger.LoadKey(cfg.KeyFile())
	if err != nil {
		return nil, err
	}
	db, err := store.OpenWith(ctx, DSN(cfg), store.Options{Logger: opts.Logger, LockWait: cfg.Server.DatabaseLockWait})
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, DB: db, Logger: opts.Logger, Now: opts.Now}
	a.Log = ledger.New(key, ledger.Options{Now: opts.Now, Logger: opts.Logger, WitnessURL: cfg.Ledger.WitnessURL, Proofs: a.ledgerProofs})
	if err := a.sealExisting(ctx); err != nil {
		db.Close()
		return nil, err
	}
	a.Auth = auth.NewService(store.Bind[auth.Tx](db), a.Log, auth.Options{
		SessionTTL:                 cfg.Auth.SessionTTL,
		MaxFailedSignIns:           cfg.Auth.MaxFailedSignIns,
		MaxFailedSignInsPerUser:    cfg.Auth.MaxFailedSignInsPerUser,
		MaxFailedSignInsPerAddress: cfg.Auth.MaxFailedSignInsPerAddress,
		SignInWindow:               cfg.Auth.SignInWindow,
		TokenTTL:                   time.Duration(cfg.Auth.TokenTTLDays) * 24 * time.Hour,
		Argon2:                     opts.Argon2,
		Now:                        opts.Now,
		Logger:                     opts.Logger,
		Notifier:                   userNotifier{a},
	})
	if a.Notify, err = a.dispatcher(); err != nil {
		db.Close()
		return nil, err
	}
	for _, m := range modules {
		m.open(a)
	}
	a.Controls = control.NewEngine(store.Bind[control.Tx](db), a.Log, opts.Now, opts.Logger)
	a.Controls.OnChange = a.controlChanged
	if err := a.registerControls(); err != nil {
		db.Close()
		return nil, err
	}
	a.Jobs = jobs.New(db, jobs.Options{Now: opts.Now, Logger: opts.Logger})
	if err := a.registerJobs(); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) registerControls() error {
	cs := []control.Control{
		control.LedgerVerifies(a.VerifyLedger, a.Config.Ledger.WitnessURL != ""),
		control.CheckpointPublished(a.Republish, a.LedgerSize, a.publishedSize),
		a.Controls.RunsOnSchedule(a.Config.Controls.Interval),
	}
	cs = append(cs, a.Auth.Controls()...)
	for _, m := range modules {
		cs = append(cs, m.controls(a)...)
	}
	return a.Controls.Register(cs...)
}

// Close waits (a bounded time) for background work on its way, then
// releases the database. Notifications not yet sent wait in the outbox for
// the dispatcher of a server.
func (a *App) Close() error {
	done := make(chan struct{})
	go func() { a.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		a.Logger.Warn("closing with background work still running")
	}
	return a.DB.Close()
}

// InitResult says what Init created.
type InitResult struct {
	KeyCreated    bool
	PublicKey     string
	KeyPath       string
	AdminCreated  bool
	AdminUsername string
	// AdminPassword is set only when Init generated it: print it once.
	AdminPassword string
}

// Init prepares the data directory: the ledger key (unless it exists), the
// database and its migrations, and a first administrator when there are no
// users. password may be empty: then one is generated and returned.
func Init(ctx context.Context, cfg config.Config, adminUser, password string, opts Options) (*App, InitResult, error) {
	res := InitResult{KeyPath: cfg.KeyFile()}
	if _, err := os.Stat(cfg.KeyFile()); errors.Is(err, fs.ErrNotExist) {
		k, err := ledger.CreateKey(cfg.KeyFile())
		if err != nil {
			return nil, res, err
		}
		res.KeyCreated = true
		res.PublicKey = k.Public
	} else if err != nil {
		return nil, res, fmt.Errorf("ledger key: %w", err)
	}
	if err := os.MkdirAll(cfg.SecretsDir(), 0o700); err != nil {
		return nil, res, fmt.Errorf("secrets directory: %w", err)
	}
	a, err := Open(ctx, cfg, opts)
	if err != nil {
		return nil, res, err
	}
	res.PublicKey = a.Log.Key().Public
	has, err := a.Auth.HasUsers(ctx)
	if err != nil {
		a.Close()
		return nil, res, err
	}
	if has {
		return a, res, nil
	}
	if adminUser == "" {
		adminUser = "admin"
	}
	generated := password == ""
	if generated {
		password = auth.GeneratePassword()
	}
	if _, err := a.Auth.CreateUser(ctx, auth.CLI("init"), auth.NewUser{Username: adminUser, DisplayName: "Administrator", Role: auth.Admin, Password: password}); err != nil {
		a.Close()
		return nil, res, err
	}
	res.AdminCreated, res.AdminUsername = true, adminUser
	if generated {
		res.AdminPassword = password
	}
	return a, res, nil
}

// ReadSecretFile reads a secret (password, HMAC key) from a file, trimming
// one trailing newline.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
