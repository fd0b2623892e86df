package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/ledger"
)

func ledgerCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "ledger", Short: "Verify, prove and export the tamper-evident ledger"}
	var exportFile, pubFile, witnessURL, witnessKeyFile string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the ledger and check it against every signed checkpoint (exit 1 when it does not verify)",
		Long: `verify recomputes the Merkle tree of every entry and checks it against every
signed checkpoint in the database and the newest one kept beside the key. With
--export it checks an exported ledger offline instead, against --public-key
(or the key the export carries). With --server it downloads the ledger and
checks it here, against --public-key. With --witness it also asks that witness
(opsguard witness serve) for the newest checkpoint it cosigned, which the
ledger must contain: a tail cut below it fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep *ledger.Report
			if exportFile != "" {
				var err error
				if rep, err = verifyExport(cmd, exportFile, pubFile); err != nil {
					return err
				}
			} else {
				trusted, err := trustedKey(cmd, g, pubFile)
				if err != nil {
					return err
				}
				if err := g.act(cmd, func(b *client) error {
					if rep, err = b.Verify(cmd.Context(), trusted); err != nil || witnessURL == "" {
						return err
					}
					return checkWitness(cmd.Context(), b, rep, witnessURL, witnessKeyFile)
				}); err != nil {
					return err
				}
			}
			out := struct {
				OK bool `json:"ok"`
				*ledger.Report
			}{rep.OK(), rep}
			if err := g.emit(cmd.OutOrStdout(), out, func(tw *tabwriter.Writer) { printReport(tw, rep) }); err != nil {
				return err
			}
			if !rep.OK() {
				msg := "the ledger does not verify"
				if rep.FirstBadSeq > 0 {
					msg += fmt.Sprintf(": first bad entry %d", rep.FirstBadSeq)
				}
				return &exitError{code: 1, msg: msg}
			}
			return nil
		},
	}
	verify.Flags().StringVar(&exportFile, "export", "", "verify this exported ledger offline")
	verify.Flags().StringVar(&pubFile, "public-key", "", "file with the trusted public key (for --export and --server)")
	verify.Flags().StringVar(&witnessURL, "witness", "", "also check the ledger holds, consistently, the newest checkpoint this witness cosigned (a cut tail)")
	verify.Flags().StringVar(&witnessKeyFile, "witness-key", "", "file with the witness's public key; its cosignature is then required (with --witness)")

	checkpoint := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the newest signed checkpoint and publish it again (file beside the key, witness URL)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetch(g, cmd, func(b *client) (checkpointInfo, error) { return b.Head(cmd.Context()) },
				func(tw *tabwriter.Writer, cp checkpointInfo) { fmt.Fprint(tw, cp.Note) })
		},
	}

	var size int64
	proof := &cobra.Command{Use: "proof", Short: "Print inclusion and consistency proofs"}
	inclusion := &cobra.Command{
		Use:   "inclusion SEQ",
		Short: "Prove that entry SEQ is in a signed checkpoint (default the newest)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("SEQ %q: want a number", args[0])
			}
			return g.act(cmd, func(b *client) error {
				p, err := b.Inclusion(cmd.Context(), seq, size)
				if err != nil {
					return err
				}
				v, err := proofVerifier(cmd, g, pubFile, p.PublicKey)
				if err != nil {
					return err
				}
				if err := ledger.VerifyInclusion(v, []byte(p.Checkpoint), &p.Entry, p.Hashes); err != nil {
					return fmt.Errorf("the proof does not verify: %w", err)
				}
				return g.emit(cmd.OutOrStdout(), p, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "Entry %d (%s %s by %s) is in the checkpoint of size %d.\nLeaf hash: %x\nAudit path:\n", p.Entry.Seq, p.Entry.Kind, p.Entry.Subject, p.Entry.Actor, p.Size, p.Entry.LeafHash)
					for _, h := range p.Hashes {
						fmt.Fprintf(tw, "  %x\n", h)
					}
					fmt.Fprintf(tw, "Checkpoint:\n%s", p.Checkpoint)
				})
			})
		},
	}
	inclusion.Flags().Int64Var(&size, "size", 0, "size of the checkpoint to prove against (default the newest)")
	proof.PersistentFlags().StringVar(&pubFile, "public-key", "", "file with the trusted public key to check the proof with (with --server)")
	consistency := &cobra.Command{
		Use:   "consistency FROM TO",
		Short: "Prove that the checkpoint of size TO extends the one of size FROM",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err1 := strconv.ParseInt(args[0], 10, 64)
			to, err2 := strconv.ParseInt(args[1], 10, 64)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("FROM and TO must be checkpoint sizes")
			}
			return g.act(cmd, func(b *client) error {
				p, err := b.Consistency(cmd.Context(), from, to)
				if err != nil {
					return err
				}
				v, err := proofVerifier(cmd, g, pubFile, p.PublicKey)
				if err != nil {
					return err
				}
				if err := ledger.VerifyConsistency(v, []byte(p.FromCheckpoint), []byte(p.ToCheckpoint), p.Hashes); err != nil {
					return fmt.Errorf("the proof does not verify: %w", err)
				}
				return g.emit(cmd.OutOrStdout(), p, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "The checkpoint of size %d extends the one of size %d.\nConsistency path:\n", p.To, p.From)
					for _, h := range p.Hashes {
						fmt.Fprintf(tw, "  %x\n", h)
					}
				})
			})
		},
	}
	proof.AddCommand(inclusion, consistency)

	var out string
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the whole ledger (entries, checkpoints, evidence) as JSON, verifiable offline",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.act(cmd, func(b *client) error {
				x, err := b.Export(cmd.Context())
				if err != nil {
					return err
				}
				var w io.Writer = cmd.OutOrStdout()
				if out != "" && out != "-" {
					f, err := os.Create(out)
					if err != nil {
						return err
					}
					defer f.Close()
					w = f
				}
				if err := json.NewEncoder(w).Encode(x); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				if out != "" && out != "-" {
					fmt.Fprintf(cmd.ErrOrStderr(), "Exported %d entries, %d checkpoints and %d evidence files to %s.\n", len(x.Entries), len(x.Checkpoints), len(x.Blobs), out)
				}
				return nil
			})
		},
	}
	export.Flags().StringVar(&out, "out", "", "file to write (default stdout)")
	c.AddCommand(verify, checkpoint, proof, export)
	return c
}

func verifyExport(cmd *cobra.Command, file, pubFile string) (*ledger.Report, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var x ledger.Export
	if err := json.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("%s: not a ledger export: %w", file, err)
	}
	trusted := ""
	if pubFile != "" {
		if trusted, err = app.ReadSecretFile(pubFile); err != nil {
			return nil, err
		}
	} else {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning: checking against the public key inside the export; give --public-key to check against a key you trust")
	}
	return x.Verify(cmd.Context(), trusted)
}

// trustedKey reads --public-key; with --server and no key, it warns that
// the server's own key will be believed.
func trustedKey(cmd *cobra.Command, g *globals, pubFile string) (string, error) {
	if pubFile != "" {
		return app.ReadSecretFile(pubFile)
	}
	if g.server != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning: checking against the public key the server sends; give --public-key to check against a key you trust")
	}
	return "", nil
}

// proofVerifier is the key a proof is checked with: the trusted one when
// given (and the server's must match it), else the one that came with it.
func proofVerifier(cmd *cobra.Command, g *globals, pubFile, served string) (note.Verifier, error) {
	trusted, err := trustedKey(cmd, g, pubFile)
	if err != nil {
		return nil, err
	}
	if trusted != "" && !sameKey(trusted, served) {
		return nil, fmt.Errorf("the ledger's key %s is not the trusted key", served)
	}
	return ledger.NewVerifier(served)
}

func printReport(tw *tabwriter.Writer, rep *ledger.Report) {
	if rep.OK() {
		fmt.Fprintf(tw, "OK: %d entries, %d checkpoints and %d evidence files verify.\n", rep.Entries, rep.Checkpoints, rep.Blobs)
		fmt.Fprintf(tw, "Newest checkpoint: size %d, root %x.\n", rep.Size, rep.Root)
		if rep.External > 0 {
			fmt.Fprintf(tw, "Checkpoint outside the database: size %d.\n", rep.External)
		}
		return
	}
	fmt.Fprintf(tw, "FAILED: %d entries read, %s.\n", rep.Entries, problems(len(rep.Problems)))
	if rep.FirstBadSeq > 0 {
		fmt.Fprintf(tw, "First bad entry: %d\n", rep.FirstBadSeq)
	}
	for _, p := range rep.Problems[:min(len(rep.Problems), maxShownProblems)] {
		fmt.Fprintf(tw, "  - %s\n", p)
	}
	if n := len(rep.Problems) - maxShownProblems; n > 0 {
		fmt.Fprintf(tw, "  … and %d more %s (-o json lists them all)\n", n, strings.TrimPrefix(problems(n), fmt.Sprint(n)+" "))
	}
}

// maxShownProblems bounds the problems printed; the rest are counted.
const maxShownProblems = 20
