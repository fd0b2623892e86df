package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/app"
)

// adminCmd holds the commands that work on the local data directory and
// database themselves, not through the API.
func adminCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "admin", Short: "Back up and restore this instance's own data (local commands)"}
	var out string
	backup := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write a consistent copy of the database, the ledger's public key and checkpoint to FILE, while the server runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.localConfig(cmd)
			if err != nil {
				return err
			}
			if out == "" {
				return fmt.Errorf("--out FILE is required")
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if err := app.Backup(cmd.Context(), cfg, f); err != nil {
				f.Close()
				os.Remove(out)
				return err
			}
			if err := f.Close(); err != nil {
				os.Remove(out)
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Backup written to %s (the private ledger key is not in it: keep it apart).\n", out)
			return nil
		},
	}
	backup.Flags().StringVar(&out, "out", "", "file to write (must not exist)")
	var force bool
	restore := &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore a backup made by admin backup into the configured database (stop the server first)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.localConfig(cmd)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			res, err := app.Restore(cmd.Context(), cfg, f, force)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Restored the %s backup of %s (ledger checkpoint of %d entries). Run opsguard ledger verify.\n", res.Dialect, res.Created, res.CheckpointSize)
			if res.KeyMissing {
				fmt.Fprintf(cmd.OutOrStdout(), "No ledger key at %s: put the private key back before starting opsguard.\n", cfg.KeyFile())
			}
			return nil
		},
	}
	restore.Flags().BoolVar(&force, "force", false, "replace a database that already holds a ledger")
	c.AddCommand(backup, restore)
	return c
}
