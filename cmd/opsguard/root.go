package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"runtime/debug"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// globals are the flags every command shares.
type globals struct {
	configPath string
	dataDir    string
	database   string
	output     string
	server     string
	tokenFile  string
	asRole     string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "opsguard",
		Short:         "Operate and prove an Operations Security policy",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVarP(&g.configPath, "config", "c", os.Getenv("OPSGUARD_CONFIG"), "process config file (YAML; env OPSGUARD_CONFIG)")
	f.StringVar(&g.dataDir, "data-dir", "", "data directory (env OPSGUARD_DATA_DIR; default ./opsguard-data)")
	f.StringVar(&g.database, "database", "", "postgres:// URL instead of SQLite in the data directory (env OPSGUARD_DATABASE_URL)")
	f.StringVarP(&g.output, "output", "o", "table", "output of listings: table or json (vuln list: also csv)")
	f.StringVar(&g.server, "server", os.Getenv("OPSGUARD_SERVER"), "act through this server's API instead of the local data directory (env OPSGUARD_SERVER)")
	f.StringVar(&g.tokenFile, "token-file", "", "API token for --server (default: env OPSGUARD_TOKEN)")
	f.StringVar(&g.asRole, "as-role", "", "in-process: act with this role's permissions instead of admin's (e.g. auditor, engineer)")
	root.AddCommand(
		initCmd(g), serveCmd(g), configCmd(g), userCmd(g), tokenCmd(g), ledgerCmd(g), controlsCmd(g), versionCmd(),
		notificationsCmd(g),
	)
	root.AddCommand(witnessCmd(g))
	root.AddCommand(adminCmd(g))
	root.AddCommand(capacityCmd(g), agentCmd(g))
	root.AddCommand(baselineCmd(g)) // host's, named by the issue
	for _, m := range modules {
		root.AddCommand(m.command(g))
	}
	root.AddCommand(attestCmd(g), requirementsCmd(g)) // policy's, named by the issue
	return root
}

// module is what a domain module adds to the command line: one command,
// whose subcommands are clients of the module's API.
type module struct {
	name    string // as in app.Modules
	command func(g *globals) *cobra.Command
}

// modules are the domain modules of the command line.
var modules = []module{{"vuln", vulnCmd}, {"change", changeCmd}, {"backup", backupCmd}, {"policy", policyCmd}, {"audit", auditCmd}, {"host", hostCmd}, {"events", eventsCmd}}

// config loads the process config: file, then environment, then flags.
func (g *globals) config() (config.Config, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return cfg, err
	}
	cfg.ApplyEnv(os.Getenv)
	if g.dataDir != "" {
		cfg.Server.DataDir = g.dataDir
	}
	if g.database != "" {
		cfg.Server.Database = g.database
	}
	if g.output != "table" && g.output != "json" && g.output != "csv" {
		return cfg, fmt.Errorf("--output %q: want table or json (csv for vuln list)", g.output)
	}
	return cfg, cfg.Validate()
}

// localConfig is config for a command that works on the local data
// directory only (init, serve): --server is refused, not ignored.
func (g *globals) localConfig(cmd *cobra.Command) (config.Config, error) {
	if g.server != "" {
		return config.Config{}, fmt.Errorf("%s works on the local data directory; drop --server", cmd.Name())
	}
	return g.config()
}

// open opens the initialised instance named by the config.
func (g *globals) open(ctx context.Context) (*app.App, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	return app.Open(ctx, cfg, app.Options{Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
}

// cliPrincipal is the operator at this shell: whoever can read the data
// directory and the key administers it; the ledger names their OS account.
func cliPrincipal() auth.Principal {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return auth.CLI(name)
}

// emit prints v as JSON or, for tables, calls table with a tab writer.
func (g *globals) emit(w io.Writer, v any, table func(tw *tabwriter.Writer)) error {
	if g.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(termSafe{w}, 2, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(cmd.OutOrStdout(), "opsguard %s\n", v)
		},
	}
}

func configCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Work with the process config"}
	c.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a process config without starting anything",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.emit(cmd.OutOrStdout(), cfg, nil)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (SLA days critical %d, high %d, medium %d, low %d; controls every %s)\n", args[0],
				cfg.Vuln.SLADays.Critical, cfg.Vuln.SLADays.High, cfg.Vuln.SLADays.Medium, cfg.Vuln.SLADays.Low, cfg.Controls.Interval)
			return nil
		},
	})
	return c
}

// act opens the API of the command (--server, or in-process on the data
// directory), runs fn with its client and closes it.
func (g *globals) act(cmd *cobra.Command, fn func(b *client) error) error {
	b, err := g.client(cmd.Context())
	if err != nil {
		return err
	}
	defer b.Close()
	return fn(b)
}

// fetch acts through the API (see act): get fetches one value, printed as
// JSON or, for tables, by table.
func fetch[T any](g *globals, cmd *cobra.Command, get func(b *client) (T, error), table func(tw *tabwriter.Writer, v T)) error {
	return g.act(cmd, func(b *client) error {
		v, err := get(b)
		if err != nil {
			return err
		}
		return g.emit(cmd.OutOrStdout(), v, func(tw *tabwriter.Writer) { table(tw, v) })
	})
}

// fetchList is fetch for a listing: an empty one is [] in JSON, never
// null, and a table is header, then row for each item.
func fetchList[T any](g *globals, cmd *cobra.Command, get func(b *client) ([]T, error), header string, row func(tw *tabwriter.Writer, x T)) error {
	return fetch(g, cmd, func(b *client) ([]T, error) {
		xs, err := get(b)
		if xs == nil {
			xs = []T{}
		}
		return xs, err
	}, func(tw *tabwriter.Writer, xs []T) {
		fmt.Fprintln(tw, header)
		for _, x := range xs {
			row(tw, x)
		}
	})
}

// printRows prints label and value pairs, one a line, for a tab writer.
func printRows(tw *tabwriter.Writer, rows [][2]string) {
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
}
