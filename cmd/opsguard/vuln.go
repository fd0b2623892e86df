package main

import (
	"encoding/csv"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// findingQuery is the register's filters as the command line takes them.
type findingQuery struct {
	asset, status, severity, risk, dueBefore string
	breached                                 bool
	limit, offset                            int
}

func (q findingQuery) filter() (vuln.Filter, error) {
	f := vuln.Filter{Asset: q.asset, Status: vuln.Status(q.status), Risk: vuln.Risk(q.risk), Breached: q.breached, Limit: q.limit, Offset: q.offset}
	if q.severity != "" {
		sev, ok := importers.ParseSeverity(q.severity)
		if !ok {
			return f, fmt.Errorf("--severity %q: one of critical, high, medium, low, info", q.severity)
		}
		f.Severity = sev
	}
	if q.dueBefore != "" {
		t, err := time.Parse(time.DateOnly, q.dueBefore)
		if err != nil {
			return f, fmt.Errorf("--due-before %q: want YYYY-MM-DD", q.dueBefore)
		}
		f.DueBefore = t
	}
	return f, nil
}

func (q findingQuery) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("asset", q.asset)
	set("status", q.status)
	set("severity", q.severity)
	set("risk", q.risk)
	set("due_before", q.dueBefore)
	if q.breached {
		v.Set("breached", "true")
	}
	v.Set("limit", strconv.Itoa(q.limit))
	v.Set("offset", strconv.Itoa(q.offset))
	return v
}

func vulnCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "vuln", Short: "The vulnerability register"}
	var req vuln.ImportRequest
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a scanner or assessment report (one transaction: all of it or nothing)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			req.File, req.Data = args[0], data
			b, err := g.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer b.Close()
			sum, err := b.ImportScan(cmd.Context(), req)
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), sum, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "Imported %s (%s, %s) as scan %s of %s: %d findings, %d new, %d unchanged, %d fixed, %d reopened.\n",
					args[0], sum.Format, sum.Tool, sum.Scan, sum.Asset, sum.Findings, sum.New, sum.Unchanged, sum.Fixed, sum.Reopened)
			})
		},
	}
	imp.Flags().StringVar(&req.Asset, "asset", "", "the asset's name (default: the report's target)")
	imp.Flags().StringVar(&req.AssetKind, "kind", "", "asset kind: image, repository, host, application, url, other")
	imp.Flags().StringVar(&req.Format, "format", "auto", "report format: auto, "+fmt.Sprint(importers.Names()))

	var q findingQuery
	list := &cobra.Command{
		Use:   "list",
		Short: "List the register, soonest due first (-o table, json or csv)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := g.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer b.Close()
			fs, total, err := b.Findings(cmd.Context(), q)
			if err != nil {
				return err
			}
			if fs == nil {
				fs = []vuln.Finding{}
			}
			if g.output == "csv" {
				return writeFindingsCSV(cmd, fs)
			}
			return g.emit(cmd.OutOrStdout(), struct {
				Items []vuln.Finding `json:"items"`
				Total int            `json:"total"`
			}{fs, total}, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tASSET\tVULNERABILITY\tPACKAGE/LOCATION\tSEVERITY\tRISK\tSTATUS\tDUE")
				now := time.Now()
				for _, f := range fs {
					due := f.DueAt.Format(time.DateOnly)
					if f.Breached(now) {
						due += " BREACHED"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.Asset, f.VulnID, where(f), f.Severity, f.Risk, status(f), due)
				}
				fmt.Fprintf(tw, "%d of %d findings.\n", len(fs), total)
			})
		},
	}
	lf := list.Flags()
	lf.StringVar(&q.asset, "asset", "", "only this asset")
	lf.StringVar(&q.status, "status", "", "open, in_progress or closed")
	lf.StringVar(&q.severity, "severity", "", "critical, high, medium, low or info")
	lf.StringVar(&q.risk, "risk", "", "high, medium or low")
	lf.BoolVar(&q.breached, "breached", false, "only open findings past their due date")
	lf.StringVar(&q.dueBefore, "due-before", "", "only findings due before YYYY-MM-DD")
	lf.IntVar(&q.limit, "limit", 100, "page size (max 1000)")
	lf.IntVar(&q.offset, "offset", 0, "skip this many")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one finding",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := g.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer b.Close()
			f, err := b.Finding(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), f, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "%s\t%s on %s\n", f.ID, f.VulnID, f.Asset)
				rows := [][2]string{{"Title", f.Title}, {"Aliases", fmt.Sprint(f.Aliases)}, {"Where", where(f)}, {"Fixed in", f.FixedVersion},
					{"Severity", string(f.Severity) + " " + f.SeverityNote}, {"Risk", string(f.Risk)}, {"SLA", f.RiskNote},
					{"Due", f.DueAt.Format(time.DateOnly)}, {"Status", status(f)}, {"First seen", f.FirstSeen.Format(time.RFC3339)},
					{"Last seen", f.LastSeen.Format(time.RFC3339)}, {"Reported by", fmt.Sprint(f.Tools)}}
				if f.FixedByScan != "" {
					rows = append(rows, [2]string{"Fix verified by", f.FixedByScan})
				}
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
				}
			})
		},
	}
	c.AddCommand(imp, list, show)
	return c
}

func where(f vuln.Finding) string {
	if f.Location != "" {
		return f.Location
	}
	if f.Version != "" {
		return f.Package + "@" + f.Version
	}
	return f.Package
}

func status(f vuln.Finding) string {
	s := string(f.Status)
	if f.Resolution != "" {
		s += " (" + string(f.Resolution) + ")"
	}
	if f.Regression {
		s += " regression"
	}
	return s
}

func writeFindingsCSV(cmd *cobra.Command, fs []vuln.Finding) error {
	w := csv.NewWriter(cmd.OutOrStdout())
	w.Write([]string{"id", "asset", "vuln_id", "package", "version", "location", "severity", "cvss", "risk", "status", "resolution", "first_seen", "due_at", "sla"})
	for _, f := range fs {
		w.Write([]string{f.ID, f.Asset, f.VulnID, f.Package, f.Version, f.Location, string(f.Severity), strconv.FormatFloat(f.CVSSScore, 'f', -1, 64),
			string(f.Risk), string(f.Status), string(f.Resolution), f.FirstSeen.Format(time.RFC3339), f.DueAt.Format(time.RFC3339), f.RiskNote})
	}
	w.Flush()
	return w.Error()
}
