package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/baseline"
)

func baselineCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "baseline", Short: "Configuration baselines of host groups: add, approve, show, capture (CF-1)"}
	c.AddCommand(baselineAddCmd(g), baselineListCmd(g), baselineShowCmd(g), baselineDecideCmd(g, "approve"), baselineDecideCmd(g, "reject"), baselineCaptureCmd(g))
	return c
}

func baselineAddCmd(g *globals) *cobra.Command {
	var group string
	c := &cobra.Command{
		Use:   "add FILE",
		Short: "Add a draft version of a group's baseline from a YAML file (its name is the group unless --group)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			d, err := baseline.Parse(args[0], data)
			if err != nil {
				return err
			}
			if group == "" {
				group = d.Name
			}
			return fetch(g, cmd, func(b *client) (host.Baseline, error) { return b.AddBaseline(cmd.Context(), group, string(data)) },
				func(tw *tabwriter.Writer, b host.Baseline) {
					fmt.Fprintf(tw, "Baseline %s added as a draft (%d checks); a security officer other than you approves it: opsguard baseline approve %s\n", b.ID, len(d.Checks), b.ID)
				})
		},
	}
	c.Flags().StringVar(&group, "group", "", "the host group (default: the document's name)")
	return c
}

func baselineListCmd(g *globals) *cobra.Command {
	var group string
	c := &cobra.Command{
		Use:   "list",
		Short: "Every version of every group's baseline (--group for one), newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]host.Baseline, error) { return b.Baselines(cmd.Context(), group) },
				"BASELINE\tSTATE\tAUTHOR\tCREATED\tDECIDED BY", func(tw *tabwriter.Writer, b host.Baseline) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.ID, b.State, b.Author, b.CreatedAt.Format(time.RFC3339), b.DecidedBy)
				})
		},
	}
	c.Flags().StringVar(&group, "group", "", "one group's versions")
	return c
}

func baselineShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID|GROUP|default",
		Short: "A baseline's document: a version (web@2), a group's approved one (web) or the shipped default",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (host.Baseline, error) { return b.Baseline(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, b host.Baseline) {
					fmt.Fprintf(tw, "# %s (%s) by %s, sha256 %s\n%s", b.ID, b.State, b.Author, b.SHA256, b.Document)
				})
		},
	}
}

func baselineDecideCmd(g *globals, action string) *cobra.Command {
	var note string
	c := &cobra.Command{
		Use:   action + " ID",
		Short: strings.ToUpper(action[:1]) + action[1:] + " a draft baseline (a security officer who did not write it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (host.Baseline, error) { return b.DecideBaseline(cmd.Context(), args[0], action, note) },
				func(tw *tabwriter.Writer, b host.Baseline) { fmt.Fprintf(tw, "Baseline %s is %s.\n", b.ID, b.State) })
		},
	}
	c.Flags().StringVar(&note, "note", "", "why")
	return c
}

func baselineCaptureCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "capture HOST",
		Short: "Propose a draft baseline for the host's group from its newest results and installed packages",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (host.Baseline, error) { return b.CaptureBaseline(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, b host.Baseline) {
					fmt.Fprintf(tw, "Draft %s captured from %s; review it (opsguard baseline show %s) and have it approved.\n", b.ID, args[0], b.ID)
				})
		},
	}
}

func hostDriftCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "drift [HOST]",
		Short: "Drift from baselines (one host's, or every host's): approved by a change ticket or a violation (CF-2)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return fetchList(g, cmd, func(b *client) ([]host.HostDrift, error) { return b.Drifts(cmd.Context(), name) },
				"HOST\tCHECK\tAT\tSTATUS\tTICKET\tBEFORE\tAFTER\tCLOSED", func(tw *tabwriter.Writer, d host.HostDrift) {
					closed := "open"
					if d.ClosedAt != nil {
						closed = d.ClosedAt.Format(time.RFC3339) + " " + d.ClosedWhy
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Host, d.Check, d.At.Format(time.RFC3339), d.Status, d.TicketID,
						kv(d.Before), kv(d.After), closed)
				})
		},
	}
}

func kv(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}

func hostSoftwareCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "software HOST",
		Short: "A host's installed packages against its group's approved list; violations first (CF-4)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (host.Software, error) { return b.HostSoftware(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, sw host.Software) {
					list := sw.Baseline
					if !sw.Listed {
						list = "none approved"
					}
					fmt.Fprintf(tw, "Host %s: %d packages, list %s: %d allowed, %d by ticket, %d violations\n", sw.Host, len(sw.Packages), list,
						sw.Count[host.PackageAllowed], sw.Count[host.PackageTicket], sw.Count[host.PackageViolation])
					fmt.Fprintln(tw, "PACKAGE\tVERSION\tSTATUS\tWHY")
					ps := append([]host.PackageStatus(nil), sw.Packages...)
					sort.SliceStable(ps, func(i, j int) bool {
						return ps[i].Status == host.PackageViolation && ps[j].Status != host.PackageViolation
					})
					for _, p := range ps {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Version, p.Status, p.Rule+p.TicketID)
					}
				})
		},
	}
}
