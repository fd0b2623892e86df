package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/ledger"
)

// witnessCmd is `opsguard witness serve`: a small process, on another host
// or in another account, that cosigns the checkpoints of opsguard
// instances and remembers the newest, so a tail cut off an instance's
// ledger (entries, checkpoints and the file beside its key) is caught.
func witnessCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "witness", Short: "Witness other opsguard instances' ledgers (cosign their checkpoints)"}
	var listen, keyFile, name string
	var origins []string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the witness protocol: cosign each consistent checkpoint, refuse a smaller or inconsistent one",
		Long: `serve accepts POST /add-checkpoint (C2SP tlog-witness: "old <size>", the
consistency proof, an empty line, the signed checkpoint) from the instances
whose public keys --origin-key names, checks the signature and the proof
from the checkpoint it holds, cosigns with its own key and keeps the newest
checkpoint of each instance in --data-dir (default ./opsguard-witness).
GET /checkpoint/<origin> answers it. The witness's key is created at the
first start (--key, default <data-dir>/witness.key); its public key is
printed at every start, for the instances' ledger.witness_public_key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := g.dataDir
			if dir == "" {
				dir = "opsguard-witness"
			}
			if len(origins) == 0 {
				return fmt.Errorf("--origin-key: give the public key file (ledger.pub) of at least one instance")
			}
			var logs []note.Verifier
			for _, f := range origins {
				v, err := readVerifier(f)
				if err != nil {
					return fmt.Errorf("--origin-key %s: %w", f, err)
				}
				logs = append(logs, v)
			}
			key, err := witnessKey(dir, keyFile, name)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			w, err := ledger.NewWitness(key.Signer, logs, dir, logger)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Witness public key: %s\n", key.Public)
			logger.Info("opsguard witness serving", "url", "http://"+ln.Addr().String(), "data_dir", dir, "logs", len(logs))
			return serveWitness(cmd.Context(), w.Handler(), ln)
		},
	}
	serve.Flags().StringVar(&listen, "listen", "127.0.0.1:8090", "listen address")
	serve.Flags().StringVar(&keyFile, "key", "", "the witness's signing key (default <data-dir>/witness.key, created at the first start)")
	serve.Flags().StringVar(&name, "name", "", "name of a new witness key (default opsguard-witness/<host name>)")
	serve.Flags().StringArrayVar(&origins, "origin-key", nil, "public key file (ledger.pub) of an instance to witness (repeat for several)")
	c.AddCommand(serve)
	return c
}

// witnessKey loads the witness's key, creating it at the first start.
func witnessKey(dir, keyFile, name string) (*ledger.Key, error) {
	if keyFile == "" {
		keyFile = filepath.Join(dir, "witness.key")
	}
	if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
		if name == "" {
			host, _ := os.Hostname()
			name = "opsguard-witness/" + strings.ReplaceAll(host, " ", "-")
		}
		return ledger.CreateKeyNamed(keyFile, name)
	}
	return ledger.LoadKey(keyFile)
}

func serveWitness(ctx context.Context, h http.Handler, ln net.Listener) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// readVerifier reads a note verifier key (an instance's ledger.pub, a
// witness's public key) from a file.
func readVerifier(file string) (note.Verifier, error) {
	pub, err := app.ReadSecretFile(file)
	if err != nil {
		return nil, err
	}
	return ledger.NewVerifier(pub)
}

// checkWitness adds to rep what the witness at url finds: the ledger must
// hold, consistently, the newest checkpoint the witness cosigned. It goes
// through the backend (in-process or --server) like the rest of verify:
// the ledger's newest checkpoint and a consistency proof from the
// witnessed size, the entries behind both having been verified into rep.
func checkWitness(ctx context.Context, b *client, rep *ledger.Report, url, witnessKeyFile string) error {
	var wv note.Verifier
	if witnessKeyFile != "" {
		var err error
		if wv, err = readVerifier(witnessKeyFile); err != nil {
			return fmt.Errorf("--witness-key: %w", err)
		}
	}
	head, err := b.Head(ctx)
	if err != nil {
		return err
	}
	v, err := ledger.NewVerifier(head.PublicKey)
	if err != nil {
		return err
	}
	w, err := ledger.FetchWitnessed(ctx, nil, url, v, wv)
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return nil
	}
	if w == nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the witness %s holds no checkpoint of this ledger: it cannot vouch for the ledger's tail", url))
		return nil
	}
	_, size, root, _ := ledger.OpenCheckpoint(w, v)
	rep.Witnessed = size
	if size > head.Size {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the checkpoint the witness cosigned covers %d entries but the ledger's newest covers %d: entries %d..%d were cut off", size, head.Size, head.Size+1, size))
		return nil
	}
	p, err := b.Consistency(ctx, size, head.Size)
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the ledger cannot prove it extends the checkpoint of size %d the witness cosigned: %v", size, err))
		return nil
	}
	if _, _, got, err := ledger.OpenCheckpoint([]byte(p.FromCheckpoint), v); err != nil || string(got) != string(root) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the ledger's checkpoint of size %d is not the one the witness cosigned: the ledger was rewritten", size))
		return nil
	}
	if err := ledger.VerifyConsistency(v, []byte(p.FromCheckpoint), []byte(p.ToCheckpoint), p.Hashes); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the ledger does not extend the checkpoint the witness cosigned: %v", err))
	}
	return nil
}
