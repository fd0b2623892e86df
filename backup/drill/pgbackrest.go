package drill

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pgbrBackup is what a drill reads of one backup in pgbackrest info.
type pgbrBackup struct {
	Label     string `json:"label"`
	Error     bool   `json:"error"`
	Timestamp struct {
		Stop int64 `json:"stop"`
	} `json:"timestamp"`
	Info struct {
		Size int64 `json:"size"`
	} `json:"info"`
	Database struct {
		ID int `json:"id"`
	} `json:"database"`
	version string // PostgreSQL major version of the backup's cluster
}

// pgbackrest restores a pgBackRest backup into a scratch data directory,
// starts a PostgreSQL on it on a spare loopback port with its socket in
// the scratch directory, runs the assertions and pg_amcheck, and stops it.
func (r *drillRun) pgbackrest(ctx context.Context) {
	cred, err := r.runAs()
	if err != nil {
		r.fail("snapshot", "a user to run pgBackRest and PostgreSQL", err)
		return
	}
	bk, err := r.pgbrPick(ctx, cred)
	if err != nil {
		r.fail("snapshot", r.selector(), err)
		return
	}
	r.rep.SnapshotID, r.rep.SnapshotTime = bk.Label, time.Unix(bk.Timestamp.Stop, 0).UTC()
	r.check("snapshot", r.selector(), bk.Label+" of "+r.rep.SnapshotTime.Format(time.RFC3339), true)
	limit := fmt.Sprintf("at most %d bytes", r.spec.MaxBytes)
	if bk.Info.Size > r.spec.MaxBytes {
		r.check("size limit", limit, fmt.Sprintf("the backup holds %d bytes: not restored", bk.Info.Size), false)
		return
	}
	dir, release, err := newScratch(r.spec.ScratchRoot)
	if err != nil {
		r.fail("scratch", "a fresh scratch directory", err)
		return
	}
	defer func() {
		if err := release(); err != nil {
			r.fail("cleanup", "scratch removed", err)
		}
	}()
	sc, err := newPGScratch(dir, r.spec.Config, cred)
	if err != nil {
		r.fail("scratch", "a fresh scratch data directory", err)
		return
	}
	if free, ok := freeBytes(dir); ok && free < uint64(bk.Info.Size) {
		r.check("free space", fmt.Sprintf("%d bytes free under %s", bk.Info.Size, r.spec.ScratchRoot), fmt.Sprintf("%d bytes free", free), false)
		return
	}
	if !r.pgbrRestore(ctx, sc, bk.Label, limit) {
		return
	}
	if r.opts.AfterRestore != nil {
		r.opts.AfterRestore(sc.data)
	}
	r.rep.BytesRestored, r.rep.Files, _ = walkFiles(sc.data, nil)
	r.check("size limit", limit, fmt.Sprintf("%d bytes", r.rep.BytesRestored), r.rep.BytesRestored <= r.spec.MaxBytes)
	db, stop, err := r.startPostgres(ctx, sc, bk.version)
	if stop != nil {
		defer stop()
	}
	if err != nil {
		r.fail("postgres start", "the restored cluster starts and recovers", err)
		return
	}
	r.check("postgres start", "the restored cluster starts and recovers", "accepting connections, recovery finished", true)
	for _, a := range r.spec.Assertions {
		r.assert(ctx, db, a)
	}
	r.amcheck(ctx, db)
}

// pgbrPick runs pgbackrest info on the stanza with the operator's config
// and picks the backup the spec selects among the good ones.
func (r *drillRun) pgbrPick(ctx context.Context, cred *syscall.Credential) (pgbrBackup, error) {
	var stanzas []struct {
		Name   string       `json:"name"`
		Backup []pgbrBackup `json:"backup"`
		DB     []struct {
			ID      int    `json:"id"`
			Version string `json:"version"`
		} `json:"db"`
		Status struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
	}
	args := append(r.pgbrConfig(r.spec.Config), "--stanza="+r.spec.Location, "--log-level-file=off", "--output=json", "info")
	stderr, err := r.run(ctx, tool{name: r.opts.PgBackRest, args: args, cred: cred, stdout: func(rd io.Reader) error {
		return json.NewDecoder(io.LimitReader(rd, 256<<20)).Decode(&stanzas)
	}})
	if err != nil {
		return pgbrBackup{}, fmt.Errorf("pgbackrest info of stanza %s: %v: %s", r.spec.Location, err, lastLine(stderr))
	}
	if len(stanzas) != 1 || stanzas[0].Name != r.spec.Location {
		return pgbrBackup{}, fmt.Errorf("pgbackrest info printed no stanza %s", r.spec.Location)
	}
	st := stanzas[0]
	if st.Status.Code != 0 {
		return pgbrBackup{}, fmt.Errorf("stanza %s: %s (code %d)", st.Name, st.Status.Message, st.Status.Code)
	}
	var good []pgbrBackup
	for _, b := range st.Backup {
		if !b.Error {
			for _, d := range st.DB {
				if d.ID == b.Database.ID {
					b.version = d.Version
				}
			}
			good = append(good, b)
		}
	}
	if len(good) == 0 {
		return pgbrBackup{}, fmt.Errorf("stanza %s holds no good backup", st.Name)
	}
	switch sel := r.selector(); sel {
	case "latest":
		return good[len(good)-1], nil // pgbackrest lists oldest first
	case "random":
		return good[r.opts.Rand.IntN(len(good))], nil
	default:
		for _, b := range good {
			if b.Label == sel {
				return b, nil
			}
		}
		return pgbrBackup{}, fmt.Errorf("no backup %s in stanza %s", sel, st.Name)
	}
}

func (r *drillRun) pgbrConfig(config string) []string {
	if config == "" {
		return nil
	}
	return []string{"--config=" + config}
}

// runAs is the user pgbackrest and postgres run as: the drill's own, or
// Options.RunAs (default postgres) when the drill runs as root, which
// PostgreSQL refuses.
func (r *drillRun) runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	name := r.opts.RunAs
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL does not run as root and there is no user %s to run it: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// pgScratch is the layout of a pgBackRest drill's scratch directory.
type pgScratch struct {
	dir, data, sock, log, config, hba string
	cred                              *syscall.Credential
}

// newPGScratch lays out the scratch directory and writes the scratch
// pgBackRest config: the operator's without its pg* options (the live
// cluster's path, host and port), so nothing the restore or its
// restore_command does can reach the production cluster.
func newPGScratch(dir, config string, cred *syscall.Credential) (*pgScratch, error) {
	s := &pgScratch{dir: dir, data: filepath.Join(dir, "data"), sock: filepath.Join(dir, "run"), log: filepath.Join(dir, "log"),
		config: filepath.Join(dir, "pgbackrest.conf"), hba: filepath.Join(dir, "pg_hba.conf"), cred: cred}
	if cred != nil {
		// The scratch root is the drill's own; its user must be able to
		// pass through it (search only, not list).
		if info, err := os.Stat(filepath.Dir(dir)); err == nil {
			os.Chmod(filepath.Dir(dir), info.Mode().Perm()|0o011)
		}
	}
	for _, d := range []string{s.data, s.sock, s.log} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	conf, err := scratchConfig(config)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.config, conf, 0o600); err != nil {
		return nil, err
	}
	// Only the socket in the scratch directory, only trust: no password
	// of the restored cluster is needed, and nothing on the network gets in.
	if err := os.WriteFile(s.hba, []byte("local all all trust\n"), 0o600); err != nil {
		return nil, err
	}
	if cred != nil {
		return s, filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, int(cred.Uid), int(cred.Gid))
		})
	}
	return s, nil
}

// scratchConfig copies a pgBackRest config without its pg<n>-* options
// and without asynchronous archiving (its spool is the live cluster's);
// "" reads pgBackRest's default locations.
func scratchConfig(config string) ([]byte, error) {
	if config == "" {
		config = "/etc/pgbackrest/pgbackrest.conf"
		if _, err := os.Stat(config); err != nil {
			config = "/etc/pgbackrest.conf"
		}
	}
	f, err := os.Open(config)
	if err != nil {
		return nil, fmt.Errorf("pgBackRest config: %w", err)
	}
	defer f.Close()
	var out strings.Builder
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		key, _, _ := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		key = strings.TrimSpace(key)
		if strings.HasPrefix(key, "pg") || key == "archive-async" || key == "spool-path" {
			continue
		}
		out.WriteString(sc.Text() + "\n")
	}
	return []byte(out.String()), sc.Err()
}

// pgbrRestore runs pgbackrest restore of the backup into the scratch
// data directory, recovering to the end of the backup and promoting, with
// archiving off, while a watcher stops it past the size limit.
func (r *drillRun) pgbrRestore(ctx context.Context, sc *pgScratch, label, limit string) bool {
	args := append(r.pgbrConfig(sc.config), "--stanza="+r.spec.Location, "--pg1-path="+sc.data,
		"--lock-path="+sc.sock, "--log-path="+sc.log, "--log-level-file=off", "--log-level-console=info",
		"--set="+label, "--type=immediate", "--target-action=promote", "--archive-mode=off", "restore")
	size := func(context.Context) int64 { n, _, _ := walkFiles(sc.data, nil); return n }
	return r.runWatched(ctx, "pgbackrest restore", limit, tool{name: r.opts.PgBackRest, args: args, cred: sc.cred}, size)
}

// startPostgres starts the restored cluster and waits until it accepts
// connections and has finished recovery. The returned stop (set whenever
// a server was started) shuts it down, killing it when it does not stop.
func (r *drillRun) startPostgres(ctx context.Context, sc *pgScratch, version string) (*scratchDB, func(), error) {
	bin, err := r.postgresBin(version)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(filepath.Join(sc.data, "postgresql.conf")); err != nil {
		// A cluster whose config lives elsewhere (Debian's /etc/postgresql).
		os.WriteFile(filepath.Join(sc.data, "postgresql.conf"), nil, 0o600)
		if sc.cred != nil {
			os.Lchown(filepath.Join(sc.data, "postgresql.conf"), int(sc.cred.Uid), int(sc.cred.Gid))
		}
	}
	port, err := sparePort()
	if err != nil {
		return nil, nil, err
	}
	logFile, err := os.Create(filepath.Join(sc.log, "postgres.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, "-D", sc.data, "-p", strconv.Itoa(port), "-k", sc.sock,
		"-c", "listen_addresses=127.0.0.1", "-c", "hba_file="+sc.hba, "-c", "archive_mode=off",
		"-c", "ssl=off", "-c", "fsync=off", "-c", "shared_preload_libraries=")
	cmd.Env = environ()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: sc.cred}
	r.logf("$ %s\n", strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logFile.Close(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		r.logf("postgres log:\n%s", tail(filepath.Join(sc.log, "postgres.log"), maxLog))
	}
	db := &scratchDB{url: (&url.URL{Scheme: "postgres", User: url.User(r.dbUser()), Path: "/" + r.dbName(),
		RawQuery: url.Values{"host": {sc.sock}, "port": {strconv.Itoa(port)}, "sslmode": {"disable"}}.Encode()}).String()}
	if db.conn, err = sql.Open("pgx", db.url); err != nil {
		return nil, stop, err
	}
	stopAll := func() { db.conn.Close(); stop() }
	return db, stopAll, waitReady(ctx, db.conn, exited, filepath.Join(sc.log, "postgres.log"))
}

// waitReady polls until the server answers and is out of recovery.
func waitReady(ctx context.Context, conn *sql.DB, exited <-chan struct{}, logPath string) error {
	var last error
	for {
		var inRecovery bool
		err := conn.QueryRowContext(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
		if err == nil && !inRecovery {
			return nil
		}
		if err == nil {
			err = errors.New("still in recovery")
		}
		last = err
		select {
		case <-exited:
			return fmt.Errorf("postgres exited: %s", fatalLine(tail(logPath, 8192)))
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %v", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (r *drillRun) dbUser() string {
	if r.spec.DBUser != "" {
		return r.spec.DBUser
	}
	return "postgres"
}

func (r *drillRun) dbName() string {
	if r.spec.Database != "" {
		return r.spec.Database
	}
	return "postgres"
}

// postgresBin finds the postgres of the backup's major version.
func (r *drillRun) postgresBin(version string) (string, error) {
	dir := r.opts.PGBin
	if dir == "" {
		dir = filepath.Join("/usr/lib/postgresql", version, "bin")
	}
	bin := filepath.Join(dir, "postgres")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("PostgreSQL %s is not installed (no %s): the backup needs its own major version", version, bin)
	}
	return bin, nil
}

// sparePort is a loopback TCP port free a moment ago.
func sparePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("a spare loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail is the last n bytes of a file.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > n {
		f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(io.LimitReader(f, n))
	return string(b)
}

// fatalLine is the server log's last FATAL that is not a refused
// connection (ours, while it started), with the DETAIL that follows it.
func fatalLine(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "FATAL:") && !strings.Contains(lines[i], "is starting up") {
			if i+1 < len(lines) && strings.Contains(lines[i+1], "DETAIL:") {
				return strings.TrimSpace(lines[i]) + " " + strings.TrimSpace(lines[i+1])
			}
			return strings.TrimSpace(lines[i])
		}
	}
	return lastLine(log)
}
