package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/opsguard/opsguard/app"
)

type initFlags struct {
	admin        string
	password     string
	passwordFile string
}

func initCmd(g *globals) *cobra.Command {
	var f initFlags
	c := &cobra.Command{
		Use:   "init",
		Short: "Initialise the data directory: database, ledger key and first administrator",
		Long: `init creates what opsguard needs and is safe to run again: an existing key,
database or user is kept. The first administrator's password comes from
--password or --password-file, else OPSGUARD_ADMIN_PASSWORD, else a prompt on
a terminal, else it is generated and printed once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.localConfig(cmd)
			if err != nil {
				return err
			}
			pw, err := adminPassword(f, cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			a, res, err := app.Init(cmd.Context(), cfg, f.admin, pw, app.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return err
			}
			defer a.Close()
			printInit(cmd.OutOrStdout(), cfg.Server.DataDir, res)
			return nil
		},
	}
	c.Flags().StringVar(&f.admin, "admin", "admin", "user name of the first administrator")
	c.Flags().StringVar(&f.passwordFile, "password-file", "", "file holding the first administrator's password")
	c.Flags().StringVar(&f.password, "password", "", "the first administrator's password (visible to other local users in the process list: prefer --password-file)")
	return c
}

// adminPassword finds the first admin's password; "" means generate one.
func adminPassword(f initFlags, in io.Reader, prompt io.Writer) (string, error) {
	if f.password != "" {
		return f.password, nil
	}
	if f.passwordFile != "" {
		return app.ReadSecretFile(f.passwordFile)
	}
	if pw := os.Getenv("OPSGUARD_ADMIN_PASSWORD"); pw != "" {
		return pw, nil
	}
	if file, ok := in.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		fmt.Fprint(prompt, "Password for the first administrator (empty to generate one): ")
		b, err := term.ReadPassword(int(file.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	return "", nil
}

// readPassword reads a password for user add: file, environment, prompt or
// the first line of stdin.
func readPassword(file, env string, in io.Reader, prompt io.Writer) (string, error) {
	if file != "" {
		return app.ReadSecretFile(file)
	}
	if pw := os.Getenv(env); pw != "" {
		return pw, nil
	}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		return string(b), err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("no password: give --password-file, set %s, or pipe it on stdin", env)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func printInit(w io.Writer, dataDir string, res app.InitResult) {
	if res.KeyCreated {
		fmt.Fprintf(w, "Created the ledger signing key %s.\n", res.KeyPath)
	}
	fmt.Fprintf(w, "Ledger public key (give it to your auditors):\n  %s\n", res.PublicKey)
	if res.AdminCreated {
		fmt.Fprintf(w, "Created the administrator %q.\n", res.AdminUsername)
		if res.AdminPassword != "" {
			fmt.Fprintf(w, "Its generated password, shown this once:\n  %s\n", res.AdminPassword)
		}
	}
	fmt.Fprintf(w, "Data directory: %s\n", dataDir)
}
