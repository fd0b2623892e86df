package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// findingQuery is the register's filters as the command line takes them;
// the API parses and checks them.
type findingQuery struct {
	asset, status, severity, risk, dueBefore string
	breached                                 bool
	limit, offset                            int
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
			// The report is read from its file as it is imported (or
			// sent), never held whole: it may be hundreds of megabytes.
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			req.File, req.Source = args[0], io.NewSectionReader(f, 0, fi.Size())
			return fetch(g, cmd, func(b *client) (vuln.Summary, error) { return b.ImportScan(cmd.Context(), req) },
				func(tw *tabwriter.Writer, sum vuln.Summary) {
					fmt.Fprintf(tw, "Imported %s (%s, %s) as scan %s of %s: %d findings, %d new, %d unchanged, %d fixed, %d reopened",
						args[0], sum.Format, sum.Tool, sum.Scan, sum.Asset, sum.Findings, sum.New, sum.Unchanged, sum.Fixed, sum.Reopened)
					if sum.Statements > 0 {
						fmt.Fprintf(tw, "; its %d statements decided %d findings", sum.Statements, sum.Decided)
					}
					fmt.Fprintln(tw, ".")
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
			l := listing[vuln.Finding]{limit: q.limit, offset: q.offset, csvHeader: findingCSVHeader, csvRow: findingCSVRow}
			now := time.Now()
			return l.print(g, cmd, "findings", "ID\tASSET\tVULNERABILITY\tPACKAGE/LOCATION\tSEVERITY\tRISK\tSTATUS\tDUE",
				func(tw *tabwriter.Writer, f vuln.Finding) {
					due := f.DueAt.Format(time.DateOnly)
					if f.Breached(now) {
						due += " BREACHED"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.Asset, f.VulnID, where(f), f.Severity, f.Risk, status(f), due)
				},
				func(b *client, offset, limit int) ([]vuln.Finding, int, error) {
					p := q
					p.offset, p.limit = offset, limit
					return b.Findings(cmd.Context(), p)
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
	lf.IntVar(&q.limit, "limit", 0, limitHelp)
	lf.IntVar(&q.offset, "offset", 0, "skip this many")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one finding",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (vuln.Finding, error) { return b.Finding(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, f vuln.Finding) {
					fmt.Fprintf(tw, "%s\t%s on %s\n", f.ID, f.VulnID, f.Asset)
					rows := [][2]string{{"Title", f.Title}, {"Aliases", fmt.Sprint(f.Aliases)}, {"Where", where(f)}, {"Fixed in", f.FixedVersion},
						{"Severity", string(f.Severity) + " " + f.SeverityNote}, {"Risk", string(f.Risk)}, {"SLA", f.RiskNote},
						{"Due", f.DueAt.Format(time.DateOnly)}, {"Status", status(f)}, {"First seen", f.FirstSeen.Format(time.RFC3339)},
						{"Last seen", f.LastSeen.Format(time.RFC3339)}, {"Reported by", fmt.Sprint(f.Tools)}}
					if f.FixedByScan != "" {
						rows = append(rows, [2]string{"Fix verified by", f.FixedByScan})
					}
					printRows(tw, rows)
				})
		},
	}
	c.AddCommand(imp, list, show)
	c.AddCommand(&cobra.Command{
		Use:   "assets",
		Short: "List the assets with their owners and open findings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]vuln.AssetInfo, error) { return b.Assets(cmd.Context()) },
				"ASSET\tKIND\tOWNER\tOPEN", func(tw *tabwriter.Writer, a vuln.AssetInfo) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", a.Name, a.Kind, a.Owner, a.Open)
				})
		},
	}, &cobra.Command{
		Use:   "owner ASSET USER",
		Short: "Name the owner of an asset (\"\" clears it): they receive the digest of its SLA breaches",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (vuln.AssetInfo, error) { return b.SetOwner(cmd.Context(), args[0], args[1]) },
				func(tw *tabwriter.Writer, a vuln.AssetInfo) { fmt.Fprintf(tw, "%s is owned by %q.\n", a.Name, a.Owner) })
		},
	})
	c.AddCommand(workflowCmds(g)...)
	feed := &cobra.Command{Use: "feed", Short: "Threat feeds that raise risk (CISA KEV, EPSS)"}
	feed.AddCommand(&cobra.Command{
		Use:   "import FILE",
		Short: "Import a CISA KEV catalog (JSON) or an EPSS file (CSV) and reassess every open finding",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			return fetch(g, cmd, func(b *client) (vuln.FeedSummary, error) { return b.ImportFeed(cmd.Context(), args[0], data) },
				func(tw *tabwriter.Writer, sum vuln.FeedSummary) {
					fmt.Fprintf(tw, "Imported %s %s (%d entries); %d open findings reassessed.\n", sum.Kind, sum.Version, sum.Entries, sum.Reassessed)
				})
		},
	})
	c.AddCommand(feed)
	var vexAsset, vexFormat, vexOut string
	vexCmd := &cobra.Command{
		Use:   "vex --asset NAME [--format openvex|cyclonedx] [--out FILE]",
		Short: "Write a VEX document of an asset's findings and their resolutions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if vexAsset == "" {
				return fmt.Errorf("--asset is required")
			}
			return g.act(cmd, func(b *client) error {
				doc, err := b.VEX(cmd.Context(), vexAsset, vexFormat)
				if err != nil {
					return err
				}
				if vexOut == "" || vexOut == "-" {
					_, err = cmd.OutOrStdout().Write(doc)
					return err
				}
				return os.WriteFile(vexOut, doc, 0o644)
			})
		},
	}
	vexCmd.Flags().StringVar(&vexAsset, "asset", "", "the asset")
	vexCmd.Flags().StringVar(&vexFormat, "format", "openvex", "openvex or cyclonedx")
	vexCmd.Flags().StringVar(&vexOut, "out", "", "file to write (default stdout)")
	c.AddCommand(vexCmd)
	c.AddCommand(&cobra.Command{
		Use:   "escalate",
		Short: "Escalate SLA breaches now through the configured channels (the server does it hourly)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.server != "" {
				return fmt.Errorf("escalate runs where the notification channels are configured; drop --server")
			}
			// Not an API call (the server's scheduler does it), so the
			// role is checked here: --as-role auditor changes nothing.
			if p, err := g.principal(); err != nil {
				return err
			} else if !p.Can(auth.RunControls) {
				return fmt.Errorf("escalate: your role %s may not do this (forbidden)", p.User.Role)
			}
			a, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			sum, err := a.Escalate(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), sum, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "%d findings past due; %d escalated now, on %d assets, in %d owner digests.\n", sum.Breached, sum.Escalated, sum.Assets, sum.Digests)
			})
		},
	})
	return c
}

// workflowCmds are the resolution workflow: start, resolve, accept, extend,
// requests, approve, reject.
func workflowCmds(g *globals) []*cobra.Command {
	run := func(fn func(cmd *cobra.Command, b *client, args []string) (any, string, error)) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			return g.act(cmd, func(b *client) error {
				out, msg, err := fn(cmd, b, args)
				if err != nil {
					return err
				}
				return g.emit(cmd.OutOrStdout(), out, func(tw *tabwriter.Writer) { fmt.Fprintln(tw, msg) })
			})
		}
	}
	start := &cobra.Command{Use: "start ID", Short: "Mark a finding in progress", Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, b *client, args []string) (any, string, error) {
			f, err := b.Start(cmd.Context(), args[0])
			return f, fmt.Sprintf("%s is in progress.", f.ID), err
		})}
	var resolution, justification, until string
	resolve := &cobra.Command{Use: "resolve ID --as fixed|false_positive|not_affected_unused", Short: "Close a finding with a resolution (false_positive and not_affected_unused need --justification)", Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, b *client, args []string) (any, string, error) {
			f, err := b.Resolve(cmd.Context(), args[0], vuln.Resolution(resolution), justification)
			return f, fmt.Sprintf("%s closed as %s.", f.ID, f.Resolution), err
		})}
	resolve.Flags().StringVar(&resolution, "as", "", "fixed, false_positive or not_affected_unused")
	resolve.Flags().StringVar(&justification, "justification", "", "why (required for false_positive and not_affected_unused)")
	ask := func(kind, use, short, untilHelp string) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: run(func(cmd *cobra.Command, b *client, args []string) (any, string, error) {
				t, err := time.Parse(time.DateOnly, until)
				if err != nil {
					return nil, "", fmt.Errorf("--until %q: want YYYY-MM-DD", until)
				}
				r, err := b.Ask(cmd.Context(), kind, args[0], justification, t)
				return r, fmt.Sprintf("Request %s awaits a security officer's decision.", r.ID), err
			})}
		c.Flags().StringVar(&justification, "justification", "", "the documented reason (required)")
		c.Flags().StringVar(&until, "until", "", untilHelp)
		return c
	}
	accept := ask(vuln.Acceptance, "accept ID --justification TEXT --until YYYY-MM-DD", "Ask for a risk acceptance until a date", "when the acceptance expires and the finding reopens")
	extend := ask(vuln.Extension, "extend ID --justification TEXT --until YYYY-MM-DD", "Ask for a later due date", "the new due date")
	var status string
	requests := &cobra.Command{Use: "requests", Short: "List risk acceptances and extensions (the approvals inbox)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]vuln.Request, error) { return b.Requests(cmd.Context(), status) },
				"ID\tVULNERABILITY\tASSET\tPACKAGE/LOCATION\tSEVERITY\tRISK\tDUE\tKIND\tUNTIL\tBY\tSTATUS\tJUSTIFICATION", func(tw *tabwriter.Writer, r vuln.Request) {
					var s vuln.Subject
					if r.Finding != nil {
						s = *r.Finding
					}
					where := where(vuln.Finding{Package: s.Package, Version: s.Version, Location: s.Location})
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, s.VulnID, s.Asset, where, s.Severity, s.Risk, s.DueAt.Format(time.DateOnly),
						r.Kind, r.Until.Format(time.DateOnly), r.RequestedBy, decision(r), r.Justification)
				})
		}}
	requests.Flags().StringVar(&status, "status", "pending", "pending, approved, rejected, or empty for all")
	var note string
	decide := func(approve bool, use, short string) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: run(func(cmd *cobra.Command, b *client, args []string) (any, string, error) {
				if !approve && strings.TrimSpace(note) == "" {
					return nil, "", fmt.Errorf("--reason is required: say why the request is rejected")
				}
				r, err := b.Decide(cmd.Context(), args[0], approve, note)
				return r, fmt.Sprintf("Request %s %s.", r.ID, r.Status), err
			})}
		if approve {
			c.Flags().StringVar(&note, "note", "", "a note on the decision")
		} else {
			c.Flags().StringVar(&note, "reason", "", "why it is rejected, for the requester (required)")
		}
		return c
	}
	return []*cobra.Command{start, resolve, accept, extend, requests,
		decide(true, "approve REQUEST [--note TEXT]", "Approve a request (a security officer other than the requester, through --server)"),
		decide(false, "reject REQUEST --reason TEXT", "Reject a request, saying why")}
}

// decision is a request's status with who decided and why.
func decision(r vuln.Request) string {
	if r.DecidedBy == "" {
		return r.Status
	}
	s := r.Status + " by " + r.DecidedBy
	if r.DecisionNote != "" {
		s += ": " + r.DecisionNote
	}
	return s
}

func where(f vuln.Finding) string {
	if f.Location != "" {
		return f.Location
	}
	if f.Version != "" && !strings.Contains(f.Package, "@") { // a purl carries its version
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

var findingCSVHeader = []string{"id", "asset", "vuln_id", "package", "version", "location", "severity", "cvss", "risk", "status", "resolution", "first_seen", "due_at", "sla"}

func findingCSVRow(f vuln.Finding) []string {
	return []string{f.ID, f.Asset, f.VulnID, f.Package, f.Version, f.Location, string(f.Severity), strconv.FormatFloat(f.CVSSScore, 'f', -1, 64),
		string(f.Risk), string(f.Status), string(f.Resolution), f.FirstSeen.Format(time.RFC3339), f.DueAt.Format(time.RFC3339), f.RiskNote}
}

// limitHelp is the --limit flag's help of the register listings.
var limitHelp = fmt.Sprintf("rows of one page, at most %d (default: %d in a table; every row with -o csv or -o json)", opsguard.MaxPage, opsguard.DefaultPage)

// more says, under a table, how to see the rows it does not show.
func more(shown, total int) string {
	if shown >= total {
		return ""
	}
	return " (the next page with --offset; every row with -o csv or -o json)"
}
