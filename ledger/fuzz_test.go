package ledger_test

import (
	"path/filepath"
	"testing"

	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
)

// FuzzOpenCheckpoint: a checkpoint from outside (a file, a witness, an
// export) is accepted only when the ledger key signed exactly it.
func FuzzOpenCheckpoint(f *testing.F) {
	key, err := ledger.CreateKey(filepath.Join(f.TempDir(), "k.key"))
	if err != nil {
		f.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(f.TempDir(), "f.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	l := ledger.New(key, ledger.Options{})
	var good []byte
	db.Update(ctx, func(tx *store.Tx) error {
		if _, err := l.Append(ctx, tx, ledger.Event{Actor: "a", Kind: "k", Subject: "s"}); err != nil {
			return err
		}
		cp, _, err := tx.LedgerHead(ctx)
		good = cp.Note
		return err
	})
	f.Add(good)
	f.Add([]byte("opsguard/x\n1\nAAAA\n\n— opsguard/x AAAA\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, msg []byte) {
		_, size, root, err := ledger.OpenCheckpoint(msg, key.Verifier)
		if err != nil {
			return
		}
		if string(msg) != string(good) || size != 1 || len(root) != 32 {
			t.Fatalf("accepted a checkpoint the key did not sign: %q", msg)
		}
	})
}
