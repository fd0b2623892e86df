package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/backup"
)

func backupCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "backup", Short: "Backups: protected data sets, their copies and snapshots (BK-1 … BK-7)"}
	ds := &cobra.Command{Use: "dataset", Short: "Protected data sets"}
	ds.AddCommand(dataSetAddCmd(g), dataSetListCmd(g), dataSetUpdateCmd(g))
	cp := &cobra.Command{Use: "copy", Short: "Where a data set's backups live"}
	cp.AddCommand(copyAddCmd(g))
	c.AddCommand(ds, cp, backupStatusCmd(g), snapshotsCmd(g), collectCmd(g))
	c.AddCommand(drillCmds(g)...)
	return c
}

func dataSetAddCmd(g *globals) *cobra.Command {
	var d backup.DataSet
	var drillSpec string
	add := &cobra.Command{
		Use:   "add NAME --owner USER",
		Short: "Declare a protected data set with its documented procedure",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d.Name = args[0]
			if drillSpec != "" {
				if !json.Valid([]byte(drillSpec)) {
					return fmt.Errorf("--drill: not valid JSON")
				}
				d.Drill = json.RawMessage(drillSpec)
			}
			return fetch(g, cmd, func(b *client) (backup.DataSet, error) { return b.AddDataSet(cmd.Context(), d) },
				func(tw *tabwriter.Writer, out backup.DataSet) {
					fmt.Fprintf(tw, "Declared %s (owner %s, %s %s backups kept %d days).\n", out.Name, out.Owner, out.Frequency, out.Type, out.RetentionDays)
				})
		},
	}
	f := add.Flags()
	f.StringVar(&d.Owner, "owner", "", "the data owner (a user name)")
	f.StringVar(&d.Frequency, "frequency", "daily", "expected frequency: hourly, daily or weekly")
	f.StringVar(&d.Type, "type", backup.Full, "required type: full, incremental or differential")
	f.IntVar(&d.RetentionDays, "retention-days", 7, "how long backups are kept")
	f.StringVar(&d.Instructions, "instructions", "", "the restore procedure (BK-7)")
	f.StringVar(&d.Description, "description", "", "the data covered (BK-7)")
	f.StringVar(&d.Classification, "classification", "", "the data's classification")
	f.StringVar(&drillSpec, "drill", "", `the restore drill's specification, JSON: {"interval_days": 30, "expected_paths": […], "assertions": […]}`)
	add.MarkFlagRequired("owner")
	return add
}

func dataSetUpdateCmd(g *globals) *cobra.Command {
	var d backup.DataSet
	var drillSpec string
	up := &cobra.Command{
		Use:   "update NAME [--owner USER --retention-days N --instructions TEXT …]",
		Short: "Change what a data set documents; the flags not given keep their value",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (backup.DataSet, error) {
				cur, err := b.DataSet(cmd.Context(), args[0])
				if err != nil {
					return cur, err
				}
				f := cmd.Flags()
				keep := func(name string, v *string, cur string) {
					if !f.Changed(name) {
						*v = cur
					}
				}
				keep("owner", &d.Owner, cur.Owner)
				keep("frequency", &d.Frequency, cur.Frequency)
				keep("type", &d.Type, cur.Type)
				keep("instructions", &d.Instructions, cur.Instructions)
				keep("description", &d.Description, cur.Description)
				keep("classification", &d.Classification, cur.Classification)
				if !f.Changed("retention-days") {
					d.RetentionDays = cur.RetentionDays
				}
				d.Drill = cur.Drill
				if f.Changed("drill") {
					if !json.Valid([]byte(drillSpec)) {
						return cur, fmt.Errorf("--drill: not valid JSON")
					}
					d.Drill = json.RawMessage(drillSpec)
				}
				return b.UpdateDataSet(cmd.Context(), args[0], d)
			}, func(tw *tabwriter.Writer, out backup.DataSet) {
				fmt.Fprintf(tw, "Changed %s (owner %s, %s %s backups kept %d days).\n", out.Name, out.Owner, out.Frequency, out.Type, out.RetentionDays)
			})
		},
	}
	f := up.Flags()
	f.StringVar(&d.Owner, "owner", "", "the data owner (a user name)")
	f.StringVar(&d.Frequency, "frequency", "", "expected frequency: hourly, daily or weekly")
	f.StringVar(&d.Type, "type", "", "required type: full, incremental or differential")
	f.IntVar(&d.RetentionDays, "retention-days", 0, "how long backups are kept")
	f.StringVar(&d.Instructions, "instructions", "", "the restore procedure (BK-7)")
	f.StringVar(&d.Description, "description", "", "the data covered (BK-7)")
	f.StringVar(&d.Classification, "classification", "", "the data's classification")
	f.StringVar(&drillSpec, "drill", "", "the restore drill's specification, JSON")
	return up
}

func dataSetListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "The protected data sets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]backup.DataSet, error) { return b.DataSets(cmd.Context()) },
				"NAME\tOWNER\tFREQUENCY\tTYPE\tRETENTION\tINSTRUCTIONS", func(tw *tabwriter.Writer, d backup.DataSet) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d days\t%s\n", d.Name, d.Owner, d.Frequency, d.Type, d.RetentionDays, oneLine(d.Instructions, 40))
				})
		},
	}
}

func copyAddCmd(g *globals) *cobra.Command {
	var c backup.Copy
	var passwordFile string
	add := &cobra.Command{
		Use:   "add DATASET --source restic|pgdump|pgbackrest|manifest --repo URL|PATH",
		Short: "Record where a data set's backups live (a local path in-process only); the next collection reads it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if passwordFile != "" {
				// Read here, by the CLI's user, who can read it anyway; the
				// server receives the password and keeps it sealed.
				pw, err := app.ReadSecretFile(passwordFile)
				if err != nil {
					return fmt.Errorf("--password-file: %w", err)
				}
				c.Password = pw
			}
			return fetch(g, cmd, func(b *client) (backup.Copy, error) { return b.AddCopy(cmd.Context(), args[0], c) },
				func(tw *tabwriter.Writer, out backup.Copy) {
					where := "in production"
					if out.Offsite {
						where = "off production"
					}
					fmt.Fprintf(tw, "Copy %s of %s: %s %s, %s.\n", out.Name, out.DataSet, out.Source, out.Location, where)
				})
		},
	}
	f := add.Flags()
	f.StringVar(&c.Name, "name", "", "the copy's name within the data set (default: the source)")
	f.StringVar(&c.Source, "source", "", "restic, pgdump, pgbackrest or manifest")
	f.StringVar(&c.Location, "repo", "", "restic repository (path or rest:/sftp:/s3: URL), dump directory, or pgBackRest stanza")
	f.BoolVar(&c.Offsite, "offsite", false, "the copy lies outside the production environment (BK-3)")
	f.StringVar(&passwordFile, "password-file", "", "restic password: a file read by this command and sent to the server, which keeps it encrypted")
	f.StringVar(&c.PasswordSecret, "password-secret", "", "restic password: the name of a file in the server's secrets_dir")
	add.MarkFlagRequired("source")
	return add
}

func backupStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "One row per data set: newest backup and its age, retention window, copies off production, last drill, open RCAs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]backup.Status, error) { return b.BackupStatus(cmd.Context()) },
				"DATA SET\tNEWEST\tAGE\tRETENTION\tOFF PRODUCTION\tLAST DRILL\tOPEN RCAS", func(tw *tabwriter.Writer, s backup.Status) {
					newest, age := "none", "-"
					if s.Newest != nil {
						newest = s.Newest.Format(time.RFC3339)
					}
					if s.AgeHours != nil {
						age = fmt.Sprintf("%dh", *s.AgeHours)
						if !s.Fresh {
							age += " STALE"
						}
					}
					ret := fmt.Sprintf("%d/%d days", s.DaysCovered, s.RetentionDays)
					if len(s.MissingDays) > 0 {
						ret += " (missing " + strings.Join(s.MissingDays, ",") + ")"
					}
					drill := "none"
					if s.LastDrill != nil {
						drill = s.LastDrill.Format(time.DateOnly) + " " + s.DrillVerdict
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d fresh of %d\t%s\t%d\n", s.DataSet, newest, age, ret, s.OffsiteFresh, s.Offsite, drill, s.OpenRCAs)
				})
		},
	}
}

func snapshotsCmd(g *globals) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "snapshots DATASET",
		Short: "A data set's snapshots in every copy, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetchList(g, cmd, func(b *client) ([]backup.Snapshot, error) { return b.Snapshots(cmd.Context(), args[0], all) },
				"TIME\tID\tTYPE\tSIZE\tCOPY\tGONE", func(tw *tabwriter.Writer, s backup.Snapshot) {
					gone := ""
					if s.GoneAt != nil {
						gone = s.GoneAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.Time.Format(time.RFC3339), oneLine(s.ID, 24), s.Type, s.SizeBytes, s.CopyID, gone)
				})
		},
	}
	c.Flags().BoolVar(&all, "all", false, "the snapshots no longer listed too")
	return c
}

func collectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "collect",
		Short: "Read every copy's snapshots now (as the job backup-collect does)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.act(cmd, func(b *client) error {
				res, err := b.CollectBackups(cmd.Context())
				if err != nil {
					return err
				}
				if res == nil {
					res = []backup.CollectResult{}
				}
				var failed []string
				err = g.emit(cmd.OutOrStdout(), res, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "DATA SET\tCOPY\tSOURCE\tNEW\tGONE\tLIVE\tERROR")
					for _, r := range res {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", r.DataSet, r.Copy, r.Source, r.New, r.Gone, r.Live, r.Error)
					}
				})
				for _, r := range res {
					if r.Error != "" {
						failed = append(failed, r.Error)
					}
				}
				if err == nil && len(failed) > 0 {
					err = fmt.Errorf("%d of %d copies failed:\n  %s", len(failed), len(res), strings.Join(failed, "\n  "))
				}
				return err
			})
		},
	}
}

// oneLine cuts a text to its first line of at most n runes.
func oneLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
