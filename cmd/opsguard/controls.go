package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/control"
)

func controlsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "controls", Short: "The control catalog and its evaluation"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List every requirement of the policy with its controls and latest results",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetch(g, cmd, func(b *client) ([]control.Item, error) { return b.Catalog(cmd.Context()) },
				func(tw *tabwriter.Writer, cat []control.Item) {
					fmt.Fprintln(tw, "REQUIREMENT\tSTATUS\tCONTROL\tRESULT")
					for _, it := range cat {
						if len(it.Controls) == 0 {
							fmt.Fprintf(tw, "%s\t%s\t-\t-\n", it.ID, it.Status)
						}
						for _, ctl := range it.Controls {
							res := "not run yet"
							if ctl.Result != nil {
								res = string(ctl.Result.Status) + ": " + ctl.Result.Summary
							}
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.ID, it.Status, ctl.ID, res)
						}
					}
				})
		},
	}
	run := &cobra.Command{
		Use:   "run",
		Short: "Evaluate every control now and record the results (exit 1 when any fails)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.act(cmd, func(b *client) error {
				r, err := b.RunControls(cmd.Context())
				if err != nil {
					return err
				}
				if err := g.emit(cmd.OutOrStdout(), r, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "CONTROL\tSTATUS\tSUMMARY")
					for _, res := range r.Results {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", res.ControlID, res.Status, res.Summary)
					}
					fmt.Fprintf(tw, "Run %s recorded as ledger entry %d.\n", r.ID, r.LedgerSeq)
				}); err != nil {
					return err
				}
				if n := r.Counts()[control.Fail] + r.Counts()[control.Error]; n > 0 {
					return &exitError{code: 1, msg: fmt.Sprintf("%d controls fail", n)}
				}
				return nil
			})
		},
	}
	c.AddCommand(list, run)
	return c
}
