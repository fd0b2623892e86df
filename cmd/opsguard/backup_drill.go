package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/backup"
)

// drillCmds are the restore drills (BK-4), their root-cause analyses
// (BK-5) and the tabletop exercises (BK-6).
func drillCmds(g *globals) []*cobra.Command {
	rca := &cobra.Command{Use: "rca", Short: "Root-cause analyses of failed restore drills (BK-5)"}
	rca.AddCommand(rcaListCmd(g), rcaRecordCmd(g))
	ex := &cobra.Command{Use: "exercise", Short: "Disaster-recovery tabletop exercises (BK-6)"}
	ex.AddCommand(exerciseAddCmd(g), exerciseListCmd(g))
	return []*cobra.Command{drillCmd(g), drillsCmd(g), rca, ex}
}

func drillCmd(g *globals) *cobra.Command {
	var req backup.DrillRequest
	c := &cobra.Command{
		Use:   "drill DATASET [--snapshot latest|random|ID]",
		Short: "Restore a data set's backup into scratch space and check it came back (exit 1 when the drill fails)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Wait = true
			return g.act(cmd, func(b *client) error {
				d, err := b.StartDrill(cmd.Context(), args[0], req)
				if err != nil {
					return err
				}
				err = g.emit(cmd.OutOrStdout(), d, func(tw *tabwriter.Writer) { printDrill(tw, d) })
				if err == nil && d.State != backup.DrillPassed {
					err = &exitError{code: 1, msg: fmt.Sprintf("drill %s of %s %s", d.ID, d.DataSet, d.State)}
				}
				return err
			})
		},
	}
	c.Flags().StringVar(&req.Snapshot, "snapshot", "latest", "the snapshot: latest, random or an ID")
	c.Flags().StringVar(&req.Copy, "copy", "", "the copy to restore from (default: the drill specification's, else the first restic or pg_dump copy)")
	return c
}

func printDrill(tw *tabwriter.Writer, d backup.Drill) {
	snap := d.SnapshotID
	if d.SnapshotTime != nil {
		snap += " of " + d.SnapshotTime.Format(time.RFC3339)
	}
	printRows(tw, [][2]string{{"Drill", d.ID}, {"Data set", d.DataSet}, {"Copy", d.Copy + " (" + d.Kind + ")"}, {"Snapshot", snap},
		{"State", strings.ToUpper(d.State)}, {"Run by", d.RunBy}, {"RTO", fmt.Sprintf("%d ms", d.DurationMS)}, {"RPO", fmt.Sprintf("%d s", d.RPOSeconds)},
		{"Restored", fmt.Sprintf("%d bytes, %d files", d.BytesRestored, d.Files)}, {"Tool log", d.LogRef}})
	fmt.Fprintln(tw, "\nCHECK\tEXPECTED\tACTUAL\tRESULT")
	for _, c := range d.Checks {
		res := "ok"
		if !c.OK {
			res = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, oneLine(c.Expected, 60), oneLine(c.Actual, 80), res)
	}
}

func drillsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "drills [DATASET]",
		Short: "Restore drills, newest first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dataSet := ""
			if len(args) == 1 {
				dataSet = args[0]
			}
			return fetchList(g, cmd, func(b *client) ([]backup.Drill, error) { return b.Drills(cmd.Context(), dataSet) },
				"ID\tDATA SET\tCOPY\tSTARTED\tSTATE\tRTO\tRPO\tRUN BY\tAPPROVED BY", func(tw *tabwriter.Writer, d backup.Drill) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%dms\t%ds\t%s\t%s\n", d.ID, d.DataSet, d.Copy, d.StartedAt.Format(time.RFC3339), d.State,
						d.DurationMS, d.RPOSeconds, d.RunBy, d.ApprovedBy)
				})
		},
	}
	c.AddCommand(&cobra.Command{
		Use:   "approve ID",
		Short: "Approve a drill as the security officer who witnessed it (not its runner)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (backup.Drill, error) { return b.ApproveDrill(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, d backup.Drill) {
					fmt.Fprintf(tw, "Drill %s of %s (%s) approved by %s.\n", d.ID, d.DataSet, d.State, d.ApprovedBy)
				})
		},
	})
	return c
}

func rcaListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Root-cause analyses, open ones first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]backup.RCA, error) { return b.RCAs(cmd.Context()) },
				"ID\tDATA SET\tDRILL\tOPENED\tSTATE\tCAUSE\tACTION\tRECORDED BY", func(tw *tabwriter.Writer, r backup.RCA) {
					state := "recorded"
					if r.Open() {
						state = "OPEN"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.DataSet, r.DrillID, r.OpenedAt.Format(time.DateOnly), state,
						oneLine(r.Cause, 40), oneLine(r.Action, 40), r.RecordedBy)
				})
		},
	}
}

func rcaRecordCmd(g *globals) *cobra.Command {
	var cause, action string
	c := &cobra.Command{
		Use:   "record ID --cause TEXT --action TEXT",
		Short: "Record a failed drill's root cause and corrective action (someone other than its runner)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (backup.RCA, error) { return b.RecordRCA(cmd.Context(), args[0], cause, action) },
				func(tw *tabwriter.Writer, r backup.RCA) {
					fmt.Fprintf(tw, "Recorded the root cause of drill %s of %s.\n", r.DrillID, r.DataSet)
				})
		},
	}
	c.Flags().StringVar(&cause, "cause", "", "the root cause")
	c.Flags().StringVar(&action, "action", "", "the corrective action")
	c.MarkFlagRequired("cause")
	c.MarkFlagRequired("action")
	return c
}

func exerciseAddCmd(g *globals) *cobra.Command {
	var e backup.Exercise
	var participants string
	var actions []string
	c := &cobra.Command{
		Use:   "add --scenario TEXT --date YYYY-MM-DD --participants u1,u2 --findings TEXT [--action \"text;owner\"]...",
		Short: "Record a tabletop exercise (participants include an engineering_head and a security_officer)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e.Participants = strings.Split(participants, ",")
			for i, a := range actions {
				text, owner, ok := strings.Cut(a, ";")
				if !ok {
					return fmt.Errorf("--action %d %q: \"text;owner\"", i+1, a)
				}
				e.Actions = append(e.Actions, backup.ExerciseAction{Text: text, Owner: owner})
			}
			return fetch(g, cmd, func(b *client) (backup.Exercise, error) { return b.AddExercise(cmd.Context(), e) },
				func(tw *tabwriter.Writer, x backup.Exercise) {
					fmt.Fprintf(tw, "Recorded exercise %s of %s (%d participants, %d actions).\n", x.ID, x.Date, len(x.Participants), len(x.Actions))
				})
		},
	}
	f := c.Flags()
	f.StringVar(&e.Scenario, "scenario", "", "the scenario played")
	f.StringVar(&e.Date, "date", "", "the day it was held (YYYY-MM-DD)")
	f.StringVar(&participants, "participants", "", "the participants' user names, comma separated")
	f.StringVar(&e.Findings, "findings", "", "what the exercise found")
	f.StringArrayVar(&actions, "action", nil, "a follow-up action and its owner, \"text;owner\" (repeatable)")
	for _, n := range []string{"scenario", "date", "participants"} {
		c.MarkFlagRequired(n)
	}
	return c
}

func exerciseListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Tabletop exercises, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]backup.Exercise, error) { return b.Exercises(cmd.Context()) },
				"ID\tDATE\tSCENARIO\tPARTICIPANTS\tACTIONS", func(tw *tabwriter.Writer, e backup.Exercise) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", e.ID, e.Date, oneLine(e.Scenario, 40), strings.Join(e.Participants, ","), len(e.Actions))
				})
		},
	}
}
