package app

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
)

// An admin backup is a tar of: manifest (a note signed by the ledger key
// listing the other members' SHA-256), database (a SQLite file or a
// pg_dump custom-format file), ledger.pub and ledger.checkpoint. The
// private key is never in it: the operator keeps it apart.
const (
	backupManifest   = "manifest"
	backupDatabase   = "database"
	backupPublic     = "ledger.pub"
	backupCheckpoint = "ledger.checkpoint"
	maxBackupMember  = 1 << 20 // every member but the database
	maxBackupDB      = 1 << 40
)

// Backup writes an archive of the instance cfg names to w while it runs:
// a consistent copy of its database, the ledger's public key and the
// checkpoint file, with a manifest signed by the ledger key.
func Backup(ctx context.Context, cfg config.Config, w io.Writer) error {
	key, err := ledger.LoadKey(cfg.KeyFile())
	if err != nil {
		return err
	}
	checkpoint, err := ledger.ReadCheckpointFile(key.CheckpointPath())
	if err != nil {
		return err
	}
	// The checkpoint is read before the database is copied, so the copy
	// holds every entry the checkpoint covers.
	tmp, err := os.CreateTemp("", "opsguard-backup-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if err := store.Backup(ctx, DSN(cfg), io.MultiWriter(tmp, h)); err != nil {
		return err
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	members := []struct {
		name string
		data []byte
	}{{backupPublic, []byte(key.Public + "\n")}, {backupCheckpoint, checkpoint}}
	text := fmt.Sprintf("opsguard backup 1\ndialect %s\ncreated %s\nsha256 %x %s\n", store.DialectOf(DSN(cfg)), time.Now().UTC().Format(time.RFC3339), h.Sum(nil), backupDatabase)
	for _, m := range members {
		text += fmt.Sprintf("sha256 %x %s\n", sha256.Sum256(m.data), m.name)
	}
	manifest, err := note.Sign(&note.Note{Text: text}, key.Signer)
	if err != nil {
		return fmt.Errorf("sign the backup manifest: %w", err)
	}
	tw := tar.NewWriter(w)
	if err := tarBytes(tw, backupManifest, manifest); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: backupDatabase, Mode: 0o600, Size: size, ModTime: time.Now()}); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(tw, tmp); err != nil {
		return fmt.Errorf("write the backup: %w", err)
	}
	for _, m := range members {
		if err := tarBytes(tw, m.name, m.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

func tarBytes(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: time.Now()}); err != nil {
		return fmt.Errorf("write the backup: %w", err)
	}
	_, err := tw.Write(b)
	return err
}

// RestoreResult says what a restore put back.
type RestoreResult struct {
	Dialect        store.Dialect
	Created        string
	CheckpointSize int64
	// KeyMissing is set when the data directory has no ledger key: the
	// operator must put the private key back before opsguard can run.
	KeyMissing bool
}

// Restore loads an archive made by Backup into the instance cfg names.
// The archive is checked in full first (the manifest's signature by the
// ledger key, which must be this instance's when it has one, and every
// member's hash), so a tampered archive changes nothing. A database that
// holds a ledger is replaced only with force. The server must be stopped.
func Restore(ctx context.Context, cfg config.Config, r io.Reader, force bool) (RestoreResult, error) {
	var res RestoreResult
	tmp, err := os.MkdirTemp("", "opsguard-restore-*")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	got, err := readBackup(r, tmp)
	if err != nil {
		return res, err
	}
	public := strings.TrimSpace(string(got[backupPublic]))
	if local, err := os.ReadFile(ledger.PublicPath(cfg.KeyFile())); err == nil && strings.TrimSpace(string(local)) != public {
		return res, opsguard.Errorf(opsguard.EInvalid, "backup: made with another ledger key than this instance's %s", ledger.PublicPath(cfg.KeyFile()))
	}
	v, err := ledger.NewVerifier(public)
	if err != nil {
		return res, invalidBackup("%v", err)
	}
	if res, err = checkManifest(got, filepath.Join(tmp, backupDatabase), v); err != nil {
		return res, err
	}
	if len(got[backupCheckpoint]) > 0 {
		if _, res.CheckpointSize, _, err = ledger.OpenCheckpoint(got[backupCheckpoint], v); err != nil {
			return res, invalidBackup("%v", err)
		}
	}
	if err := restoreDatabase(ctx, DSN(cfg), filepath.Join(tmp, backupDatabase), force); err != nil {
		return res, err
	}
	if _, err := os.Stat(cfg.KeyFile()); err != nil {
		res.KeyMissing = true
	}
	return res, restoreLedgerFiles(cfg, got)
}

func invalidBackup(format string, args ...any) error {
	return opsguard.Errorf(opsguard.EInvalid, "backup: "+format, args...)
}

// readBackup reads the archive's members, the database into dir, the
// others (bounded) into memory.
func readBackup(r io.Reader, dir string) (map[string][]byte, error) {
	got := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, invalidBackup("not an opsguard backup archive: %v", err)
		}
		if _, seen := got[hdr.Name]; seen {
			return nil, invalidBackup("member %q appears twice", hdr.Name)
		}
		switch hdr.Name {
		case backupDatabase:
			f, err := os.OpenFile(filepath.Join(dir, backupDatabase), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return nil, err
			}
			n, err := io.Copy(f, io.LimitReader(tr, maxBackupDB+1))
			f.Close()
			if err != nil || n > maxBackupDB {
				return nil, invalidBackup("database member: %v (at most %d bytes)", err, int64(maxBackupDB))
			}
			got[hdr.Name] = nil
		case backupManifest, backupPublic, backupCheckpoint:
			b, err := io.ReadAll(io.LimitReader(tr, maxBackupMember+1))
			if err != nil || len(b) > maxBackupMember {
				return nil, invalidBackup("member %s: %v (at most %d bytes)", hdr.Name, err, maxBackupMember)
			}
			got[hdr.Name] = b
		default:
			return nil, invalidBackup("unexpected member %q", hdr.Name)
		}
	}
	for _, m := range []string{backupManifest, backupDatabase, backupPublic, backupCheckpoint} {
		if _, ok := got[m]; !ok {
			return nil, invalidBackup("member %s is missing", m)
		}
	}
	return got, nil
}

// checkManifest verifies the manifest's signature and every hash it lists.
func checkManifest(got map[string][]byte, dbPath string, v note.Verifier) (RestoreResult, error) {
	var res RestoreResult
	n, err := note.Open(got[backupManifest], note.VerifierList(v))
	if err != nil {
		return res, invalidBackup("the manifest is not signed by the ledger key %s: %v", v.Name(), err)
	}
	dbSum, err := fileSum(dbPath)
	if err != nil {
		return res, err
	}
	sums := map[string]string{
		backupDatabase:   dbSum,
		backupPublic:     hexSum(got[backupPublic]),
		backupCheckpoint: hexSum(got[backupCheckpoint]),
	}
	checked := 0
	for _, l := range strings.Split(strings.TrimSpace(n.Text), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 2 && f[0] == "dialect":
			res.Dialect = store.Dialect(f[1])
		case len(f) == 2 && f[0] == "created":
			res.Created = f[1]
		case len(f) == 3 && f[0] == "sha256":
			if sums[f[2]] != f[1] {
				return res, invalidBackup("member %s does not match its hash in the signed manifest: altered", f[2])
			}
			checked++
		}
	}
	if checked != len(sums) {
		return res, invalidBackup("the manifest lists %d of the %d members", checked, len(sums))
	}
	return res, nil
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func restoreDatabase(ctx context.Context, dsn, path string, force bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return store.Restore(ctx, dsn, f, force)
}

// restoreLedgerFiles puts back the checkpoint file and, where there is no
// key yet, the public key. The verified-state file goes: it records a
// later state than the one restored and is recomputed by the next verify.
func restoreLedgerFiles(cfg config.Config, got map[string][]byte) error {
	keyPath := cfg.KeyFile()
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(ledger.PublicPath(keyPath)); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(ledger.PublicPath(keyPath), got[backupPublic], 0o644); err != nil {
			return err
		}
	}
	if err := writeAtomic(ledger.CheckpointPath(keyPath), got[backupCheckpoint]); err != nil {
		return fmt.Errorf("restore the checkpoint file: %w", err)
	}
	if err := os.Remove(ledger.VerifiedPath(keyPath)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".restore"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
