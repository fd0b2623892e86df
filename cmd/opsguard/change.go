package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/change"
)

func changeCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "change", Short: "The change register: repositories, changes, reviews, exceptions, tickets"}
	c.AddCommand(repoCmd(g), changeListCmd(g), changeShowCmd(g), reviewCmd(g), exceptionCmd(g), ticketCmd(g))
	return c
}

func repoCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "repo", Short: "Repositories under watch"}
	var r change.Repository
	var tokenFile string
	add := &cobra.Command{
		Use:   "add NAME URL",
		Short: "Watch a repository (an https, ssh or user@host:path URL; a local path in-process); sync it to verify its history",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r.Name, r.URL = args[0], args[1]
			if tokenFile != "" {
				// Read here, by the CLI's user, who can read it anyway; the
				// server receives the token and keeps it sealed.
				tok, err := app.ReadSecretFile(tokenFile)
				if err != nil {
					return fmt.Errorf("--token-file: %w", err)
				}
				r.Token = strings.TrimSpace(tok)
			}
			return fetch(g, cmd, func(b *client) (change.Repository, error) { return b.AddRepo(cmd.Context(), r) },
				func(tw *tabwriter.Writer, out change.Repository) {
					fmt.Fprintf(tw, "Watching %s (%s, branches %s, review data from %s).\n", out.Name, out.URL, strings.Join(out.Branches, ", "), out.Source)
				})
		},
	}
	f := add.Flags()
	f.StringSliceVar(&r.Branches, "branch", []string{"main"}, "protected branch (repeat or comma-separate)")
	f.StringVar(&r.Source, "source", change.SourceGit, "review data from git, github or gitlab")
	f.StringVar(&r.Project, "project", "", "owner/name on GitHub, group/project on GitLab")
	f.StringVar(&r.APIURL, "api-url", "", "the forge's API (GitHub Enterprise, self-hosted GitLab)")
	f.StringVar(&r.TokenSecret, "token-secret", "", "the forge's API token: the name of a file in the server's secrets_dir")
	f.StringVar(&tokenFile, "token-file", "", "the forge's API token: a file read by this command and sent to the server, which keeps it encrypted")
	f.StringSliceVar(&r.Bots, "bot", nil, "an allowed bot (repeat), e.g. dependabot[bot]")
	f.StringSliceVar(&r.RequiredChecks, "required-check", nil, "a check that must pass at merge (repeat)")
	f.StringVar(&r.EmergencyTrailer, "emergency-trailer", "Emergency", "commit trailer that marks an emergency change")
	f.StringVar(&r.EmergencyLabel, "emergency-label", "emergency", "pull request label that marks an emergency change")

	list := &cobra.Command{
		Use:   "list",
		Short: "Watched repositories and their verdict counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]change.RepoSummary, error) { return b.Repos(cmd.Context()) },
				"NAME\tSOURCE\tBRANCHES\tPASS\tFAIL\tEMERGENCY\tOVERDUE\tEXCEPTION\tREWRITTEN\tLAST SYNC", func(tw *tabwriter.Writer, s change.RepoSummary) {
					synced := "never"
					if s.Repository.SyncedAt != nil {
						synced = s.Repository.SyncedAt.Format(time.RFC3339)
					}
					if s.Repository.SyncError != "" {
						synced += " (failing: " + s.Repository.SyncError + ")"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Repository.Name, s.Repository.Source, strings.Join(s.Repository.Branches, ","),
						s.Verdicts[change.Pass], s.Verdicts[change.Fail], s.Verdicts[change.Emergency], s.Overdue, s.Verdicts[change.Exception], s.Rewrites, synced)
				})
		},
	}
	var all bool
	sync := &cobra.Command{
		Use:   "sync [NAME]",
		Short: "Fetch a repository (or --all) and verify every commit since the last verified one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) {
				return fmt.Errorf("name one repository or give --all")
			}
			return g.act(cmd, func(b *client) error {
				names := args
				if all {
					sums, err := b.Repos(cmd.Context())
					if err != nil {
						return err
					}
					names = nil
					for _, s := range sums {
						names = append(names, s.Repository.Name)
					}
				}
				var results []change.SyncResult
				var failed []string
				for _, n := range names {
					res, err := b.SyncRepo(cmd.Context(), n)
					if err != nil {
						if !all {
							return err
						}
						failed = append(failed, n+": "+err.Error())
						continue
					}
					results = append(results, res)
				}
				err := g.emit(cmd.OutOrStdout(), results, func(tw *tabwriter.Writer) {
					for _, res := range results {
						for _, br := range res.Branches {
							fmt.Fprintf(tw, "%s %s: %d new commits verified, %d failing, head %s", res.Repo, br.Branch, br.New, br.Violations, short(br.Head))
							if br.Rewritten {
								fmt.Fprintf(tw, ", HISTORY REWRITTEN (was %s)", short(br.From))
							}
							fmt.Fprintln(tw, ".")
						}
					}
				})
				if err == nil && len(failed) > 0 {
					err = fmt.Errorf("%d of %d repositories failed to sync:\n  %s", len(failed), len(names), strings.Join(failed, "\n  "))
				}
				return err
			})
		},
	}
	sync.Flags().BoolVar(&all, "all", false, "sync every watched repository")
	violations := &cobra.Command{
		Use:   "violations [NAME]",
		Short: "Rewritten histories (CM-1) of a repository, or of all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetchList(g, cmd, func(b *client) ([]change.RepoViolation, error) {
				return b.RepoViolations(cmd.Context(), strings.Join(args, ""))
			},
				"ID\tREPOSITORY\tBRANCH\tOLD HEAD\tNEW HEAD\tDETECTED\tEXCEPTION", func(tw *tabwriter.Writer, v change.RepoViolation) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Repo, v.Branch, short(v.OldHead), short(v.NewHead), v.DetectedAt.Format(time.RFC3339), v.ExceptionWhy)
				})
		},
	}
	c.AddCommand(add, list, sync, violations)
	return c
}

func short(sha string) string { return sha[:min(12, len(sha))] }

func changeListCmd(g *globals) *cobra.Command {
	var f change.Filter
	var since string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the register, newest first (-o table, json or csv)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since != "" {
				t, err := time.Parse(time.DateOnly, since)
				if err != nil {
					return fmt.Errorf("--since %q: want YYYY-MM-DD", since)
				}
				f.Since = t
			}
			l := listing[change.Change]{limit: f.Limit, offset: f.Offset, csvHeader: changeCSVHeader, csvRow: changeCSVRow}
			return l.print(g, cmd, "changes", "ID\tREPOSITORY\tCOMMIT\tDATE\tHOW\tAUTHOR\tAPPROVED BY\tVERDICT\tSUBJECT",
				func(tw *tabwriter.Writer, c change.Change) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Repo, short(c.SHA), c.CommittedAt.Format(time.DateOnly), how(c), c.Author,
						approvers(c), verdictText(c), c.Subject)
				},
				func(b *client, offset, limit int) ([]change.Change, int, error) {
					p := f
					p.Offset, p.Limit = offset, limit
					return b.Changes(cmd.Context(), p)
				})
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.Repo, "repo", "", "only this repository")
	fl.StringVar(&f.Branch, "branch", "", "only this branch")
	fl.StringVar(&f.Verdict, "verdict", "", "pass, fail, emergency, overdue or exception")
	fl.StringVar(&f.Kind, "kind", "", "merge, squash, gerrit or direct")
	fl.StringVar(&since, "since", "", "only changes committed on or after YYYY-MM-DD")
	fl.IntVar(&f.Limit, "limit", 0, limitHelp)
	fl.IntVar(&f.Offset, "offset", 0, "skip this many")
	return c
}

func how(c change.Change) string {
	if c.PR > 0 {
		return c.Kind + " #" + strconv.Itoa(c.PR)
	}
	return c.Kind
}

func approvers(c change.Change) string {
	var out []string
	for _, a := range c.Approvers {
		out = append(out, a.By)
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

func verdictText(c change.Change) string {
	v := c.Verdict
	if c.Overdue(time.Now()) {
		v += " OVERDUE"
	}
	for _, x := range c.Violations {
		v += " " + x.Rule
		if c.ClearedByReview(x) {
			v += "(cleared)"
		}
	}
	return v
}

var changeCSVHeader = []string{"id", "repo", "branch", "sha", "committed_at", "kind", "pr", "author", "author_email", "merged_by", "approvers", "emergency", "review_due_at", "verdict", "violations", "reviewed_by", "exception_by", "subject"}

func changeCSVRow(c change.Change) []string {
	var due string
	if c.ReviewDueAt != nil {
		due = c.ReviewDueAt.Format(time.RFC3339)
	}
	var vs []string
	for _, v := range c.Violations {
		vs = append(vs, v.Rule+": "+v.Message)
	}
	return []string{c.ID, c.Repo, c.Branch, c.SHA, c.CommittedAt.Format(time.RFC3339), c.Kind, strconv.Itoa(c.PR), c.Author, c.AuthorEmail, c.MergedBy,
		approvers(c), strconv.FormatBool(c.Emergency), due, c.Verdict, strings.Join(vs, "; "), c.ReviewedBy, c.ExceptionBy, c.Subject}
}

func printChange(tw *tabwriter.Writer, d change.Detail) {
	fmt.Fprintf(tw, "%s\t%s %s@%s\n", d.ID, d.Repo, d.Branch, d.SHA)
	rows := [][2]string{{"Subject", d.Subject}, {"How", how(d.Change)}, {"Author", d.Author + " <" + d.AuthorEmail + ">"},
		{"Committed", d.CommittedAt.Format(time.RFC3339)}, {"Approved by", approvers(d.Change)}, {"Verdict", verdictText(d.Change)}}
	if d.MergedBy != "" {
		rows = append(rows, [2]string{"Merged by", d.MergedBy})
	}
	for _, ck := range d.Checks {
		rows = append(rows, [2]string{"Check", ck.Name + ": " + ck.Conclusion})
	}
	for _, v := range d.Violations {
		msg := v.Message
		if d.ClearedByReview(v) {
			msg += " (cleared by the post-facto review of " + d.ReviewedBy + ")"
		}
		rows = append(rows, [2]string{v.Rule, msg})
	}
	if d.Cleared != "" {
		rows = append(rows, [2]string{"Cleared", d.Cleared})
	}
	if d.Emergency {
		due := ""
		if d.ReviewDueAt != nil {
			due = ", review due " + d.ReviewDueAt.Format(time.RFC3339)
		}
		rows = append(rows, [2]string{"Emergency", d.EmergencyWhy + due})
	}
	for _, r := range d.Reviews {
		late := ""
		if r.Late {
			late = " (late)"
		}
		rows = append(rows, [2]string{"Reviewed", r.Reviewer + " at " + r.ReviewedAt.Format(time.RFC3339) + late + ": " + r.Comment})
	}
	if d.ExceptionBy != "" {
		rows = append(rows, [2]string{"Exception", d.ExceptionBy + ": " + d.ExceptionWhy})
	}
	if d.Reverts != "" {
		rows = append(rows, [2]string{"Reverts", d.Reverts})
	}
	if d.RevertedBy != "" {
		rows = append(rows, [2]string{"Reverted by", d.RevertedBy})
	}
	printRows(tw, rows)
}

func changeShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID|SHA",
		Short: "Show one change with its evidence and reviews",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (change.Detail, error) { return b.Change(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, d change.Detail) { printChange(tw, d) })
		},
	}
}

func reviewCmd(g *globals) *cobra.Command {
	var comment string
	var answers []string
	c := &cobra.Command{
		Use:   "review ID|SHA --comment TEXT [--check item=yes|no|n/a ...]",
		Short: "Record a post-facto review (CM-7) with the CM-6 checklist; not by the change's author",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := change.ReviewRequest{Comment: comment, Checklist: map[string]string{}}
			for _, a := range answers {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					return fmt.Errorf("--check %q: want item=answer, items: %s", a, strings.Join(change.ChecklistItems, ", "))
				}
				req.Checklist[k] = v
			}
			return fetch(g, cmd, func(b *client) (change.Detail, error) { return b.ReviewChange(cmd.Context(), args[0], req) },
				func(tw *tabwriter.Writer, d change.Detail) {
					fmt.Fprintf(tw, "Review of %s recorded; the change is %s.\n", short(d.SHA), d.Verdict)
				})
		},
	}
	c.Flags().StringVar(&comment, "comment", "", "what the reviewer found")
	c.Flags().StringArrayVar(&answers, "check", nil, "a checklist answer: "+strings.Join(change.ChecklistItems, "|")+"=yes|no|n/a (repeat)")
	return c
}

func exceptionCmd(g *globals) *cobra.Command {
	var justification, violation string
	c := &cobra.Command{
		Use:   "exception ID|SHA --justification TEXT",
		Short: "Mark a failed change (or with --violation a rewritten history) as a justified exception (a security officer, through --server)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (violation == "") == (len(args) == 0) {
				return fmt.Errorf("name a change, or a rewritten history with --violation ID")
			}
			return g.act(cmd, func(b *client) error {
				if violation != "" {
					v, err := b.ExceptRewrite(cmd.Context(), violation, justification)
					if err != nil {
						return err
					}
					return g.emit(cmd.OutOrStdout(), v, func(tw *tabwriter.Writer) {
						fmt.Fprintf(tw, "Exception granted to the rewrite of %s %s; it stays on record.\n", v.Repo, v.Branch)
					})
				}
				d, err := b.ExceptChange(cmd.Context(), args[0], justification)
				if err != nil {
					return err
				}
				return g.emit(cmd.OutOrStdout(), d, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "Exception granted to %s; its violations stay on record.\n", short(d.SHA))
				})
			})
		},
	}
	c.Flags().StringVar(&justification, "justification", "", "why the violation is legitimate (required)")
	c.Flags().StringVar(&violation, "violation", "", "a rewritten history's id (see change repo violations)")
	return c
}

func ticketCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "ticket", Short: "Change tickets for infrastructure, network and configuration changes (CM-5)"}
	var n change.NewTicket
	var from, to string
	create := &cobra.Command{
		Use:   "create --title TEXT [...]",
		Short: "Open a change ticket as a draft",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, w := range []struct {
				v  string
				to **time.Time
			}{{from, &n.WindowStart}, {to, &n.WindowEnd}} {
				if w.v == "" {
					continue
				}
				t, err := time.Parse(time.RFC3339, w.v)
				if err != nil {
					return fmt.Errorf("window %q: want RFC 3339, e.g. 2026-12-01T22:00:00Z", w.v)
				}
				*w.to = &t
			}
			return fetch(g, cmd, func(b *client) (change.Ticket, error) { return b.CreateTicket(cmd.Context(), n) },
				func(tw *tabwriter.Writer, t change.Ticket) { fmt.Fprintf(tw, "Ticket %s opened as a draft.\n", t.ID) })
		},
	}
	f := create.Flags()
	f.StringVar(&n.Title, "title", "", "what changes")
	f.StringVar(&n.Description, "description", "", "the change in detail")
	f.StringVar(&n.Category, "category", "", "infrastructure, network or configuration")
	f.StringVar(&n.Owner, "owner", "", "who owns it (default: you)")
	f.StringVar(&n.Approver, "approver", "", "who must approve it (default: any engineering head or security officer but the owner)")
	f.StringVar(&n.Impact, "impact", "", "what it affects")
	f.StringVar(&n.Risk, "risk", "", "low, medium or high")
	f.StringVar(&n.Rollback, "rollback", "", "the rollback steps")
	f.StringVar(&from, "window-start", "", "planned window start (RFC 3339)")
	f.StringVar(&to, "window-end", "", "planned window end (RFC 3339)")

	var recordNote string
	record := &cobra.Command{
		Use:   "record --title TEXT --note TEXT [...]",
		Short: "Record a change already carried out without an approval (it shows as a CM-5 violation until excepted)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetch(g, cmd, func(b *client) (change.Ticket, error) { return b.RecordUnapproved(cmd.Context(), n, recordNote) },
				func(tw *tabwriter.Writer, t change.Ticket) {
					fmt.Fprintf(tw, "Ticket %s recorded as implemented without an approval.\n", t.ID)
				})
		},
	}
	rf := record.Flags()
	rf.StringVar(&n.Title, "title", "", "what changed")
	rf.StringVar(&n.Description, "description", "", "the change in detail")
	rf.StringVar(&n.Category, "category", "", "infrastructure, network or configuration")
	rf.StringVar(&n.Impact, "impact", "", "what it affected")
	rf.StringVar(&n.Risk, "risk", "", "low, medium or high")
	rf.StringVar(&n.Rollback, "rollback", "", "the rollback steps")
	rf.StringVar(&recordNote, "note", "", "why it was carried out without an approval")

	var note string
	step := func(action, short string) *cobra.Command {
		c := &cobra.Command{Use: action + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return fetch(g, cmd, func(b *client) (change.Ticket, error) { return b.TicketStep(cmd.Context(), args[0], action, note) },
					func(tw *tabwriter.Writer, t change.Ticket) { fmt.Fprintf(tw, "Ticket %s is %s.\n", t.ID, t.State) })
			}}
		if action != "submit" {
			c.Flags().StringVar(&note, "note", "", "a note (required to reject or roll back)")
		}
		return c
	}
	var tf change.TicketFilter
	list := &cobra.Command{Use: "list", Short: "List change tickets, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]change.Ticket, error) { return b.Tickets(cmd.Context(), tf) },
				"ID\tSTATE\tCATEGORY\tRISK\tOWNER\tAPPROVED BY\tTITLE", func(tw *tabwriter.Writer, t change.Ticket) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.State, t.Category, t.Risk, t.Owner, t.DecidedBy, t.Title)
				})
		}}
	list.Flags().StringVar(&tf.State, "state", "", "only tickets in this state")
	list.Flags().StringVar(&tf.Owner, "owner", "", "only this owner's tickets")
	list.Flags().IntVar(&tf.Limit, "limit", 100, "how many")
	show := &cobra.Command{Use: "show ID", Short: "Show one change ticket", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (change.Ticket, error) { return b.Ticket(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, t change.Ticket) {
					rows := [][2]string{{"ID", t.ID}, {"Title", t.Title}, {"State", t.State}, {"Category", t.Category}, {"Risk", t.Risk},
						{"Owner", t.Owner}, {"Approver", t.Approver}, {"Impact", t.Impact}, {"Rollback", t.Rollback}, {"Decided by", t.DecidedBy}}
					if d := t.Decision(); d != "" {
						rows = append(rows, [2]string{"Decision", strings.TrimSuffix(d+": "+t.DecisionNote, ": ")})
					}
					rows = append(rows, [2]string{"Implemented by", t.ImplementedBy}, [2]string{"Closed by", t.ClosedBy})
					if f := t.Finding(); f != "" {
						rows = append(rows, [2]string{"CM-5", f})
					}
					printRows(tw, rows)
				})
		}}
	c.AddCommand(create, record, list, show,
		step("submit", "Submit a draft for approval"),
		step("approve", "Approve a ticket (an engineering head or security officer who does not own it, through --server)"),
		step("reject", "Reject a ticket with --note"),
		step("implement", "Record that an approved ticket was carried out (not by its approver)"),
		step("verify", "Record that an implemented change was verified"),
		step("rollback", "Record that an implemented change was rolled back, with --note"))
	return c
}

// The register through the API.

func (c *client) AddRepo(ctx context.Context, repo change.Repository) (change.Repository, error) {
	return callAs[change.Repository](ctx, c, "POST", "/api/v1/repositories", repo)
}

func (c *client) Repos(ctx context.Context) ([]change.RepoSummary, error) {
	return callItems[change.RepoSummary](ctx, c, "GET", "/api/v1/repositories", nil)
}

func (c *client) SyncRepo(ctx context.Context, name string) (change.SyncResult, error) {
	return callAs[change.SyncResult](ctx, c, "POST", "/api/v1/repositories/"+url.PathEscape(name)+"/sync", nil)
}

func (c *client) Changes(ctx context.Context, f change.Filter) ([]change.Change, int, error) {
	v := url.Values{"limit": {strconv.Itoa(f.Limit)}, "offset": {strconv.Itoa(f.Offset)}}
	for k, val := range map[string]string{"repo": f.Repo, "branch": f.Branch, "verdict": f.Verdict, "kind": f.Kind} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if !f.Since.IsZero() {
		v.Set("since", f.Since.Format(time.DateOnly))
	}
	var out struct {
		Items []change.Change `json:"items"`
		Total int             `json:"total"`
	}
	err := c.call(ctx, "GET", "/api/v1/changes?"+v.Encode(), nil, &out)
	return out.Items, out.Total, err
}

func (c *client) Change(ctx context.Context, ref string) (change.Detail, error) {
	return callAs[change.Detail](ctx, c, "GET", "/api/v1/changes/"+url.PathEscape(ref), nil)
}

func (c *client) ReviewChange(ctx context.Context, ref string, req change.ReviewRequest) (change.Detail, error) {
	return callAs[change.Detail](ctx, c, "POST", "/api/v1/changes/"+url.PathEscape(ref)+"/review", req)
}

func (c *client) ExceptChange(ctx context.Context, ref, j string) (change.Detail, error) {
	return callAs[change.Detail](ctx, c, "POST", "/api/v1/changes/"+url.PathEscape(ref)+"/exception", map[string]string{"justification": j})
}

func (c *client) RepoViolations(ctx context.Context, repo string) ([]change.RepoViolation, error) {
	return callItems[change.RepoViolation](ctx, c, "GET", "/api/v1/repository-violations?repo="+url.QueryEscape(repo), nil)
}

func (c *client) ExceptRewrite(ctx context.Context, id, j string) (change.RepoViolation, error) {
	return callAs[change.RepoViolation](ctx, c, "POST", "/api/v1/repository-violations/"+url.PathEscape(id)+"/exception", map[string]string{"justification": j})
}

func (c *client) CreateTicket(ctx context.Context, n change.NewTicket) (change.Ticket, error) {
	return callAs[change.Ticket](ctx, c, "POST", "/api/v1/tickets", n)
}

func (c *client) RecordUnapproved(ctx context.Context, n change.NewTicket, note string) (change.Ticket, error) {
	var out change.Ticket
	err := c.call(ctx, "POST", "/api/v1/tickets/unapproved", struct {
		change.NewTicket
		Note string `json:"note"`
	}{n, note}, &out)
	return out, err
}

func (c *client) TicketStep(ctx context.Context, id, action, note string) (change.Ticket, error) {
	return callAs[change.Ticket](ctx, c, "POST", "/api/v1/tickets/"+url.PathEscape(id)+"/"+url.PathEscape(action), map[string]string{"note": note})
}

func (c *client) Tickets(ctx context.Context, f change.TicketFilter) ([]change.Ticket, error) {
	v := url.Values{"state": {f.State}, "owner": {f.Owner}, "limit": {strconv.Itoa(f.Limit)}}
	var out items[change.Ticket]
	err := c.call(ctx, "GET", "/api/v1/tickets?"+v.Encode(), nil, &out)
	return out.Items, err
}

func (c *client) Ticket(ctx context.Context, id string) (change.Ticket, error) {
	return callAs[change.Ticket](ctx, c, "GET", "/api/v1/tickets/"+url.PathEscape(id), nil)
}
