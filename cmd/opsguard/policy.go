package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/policy"
)

// policyCmd is the governance documents: list, show, render, and each
// step of a version's life (GV-1).
func policyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "policy", Short: "Governance documents: versions, approvals, reviews (GV-1, GV-2, GV-5)"}
	c.AddCommand(&cobra.Command{
		Use: "list", Short: "Documents with their current version and review date", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]policy.DocumentView, error) { return b.Policies(cmd.Context()) },
				"DOCUMENT\tCURRENT\tNEWEST\tCLASSIFICATION\tREVIEW DUE", func(tw *tabwriter.Writer, d policy.DocumentView) {
					cur, due := "-", "-"
					if d.Current != nil {
						cur = fmt.Sprintf("v%d by %s", d.Current.Number, d.Current.DecidedBy)
					}
					if d.ReviewDue != nil {
						due = d.ReviewDue.UTC().Format(time.DateOnly)
						if d.Overdue {
							due += " OVERDUE"
						}
					}
					if d.ReviewFlag != "" {
						due += " (flagged)"
					}
					fmt.Fprintf(tw, "%s\t%s\tv%d %s\t%s\t%s\n", d.ID, cur, d.Latest.Number, d.Latest.State, d.Latest.Classification, due)
				})
		},
	})
	c.AddCommand(&cobra.Command{
		Use: "show DOC", Short: "A document with its version history", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (policy.DocumentDetail, error) { return b.Policy(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, d policy.DocumentDetail) {
					fmt.Fprintf(tw, "%s\t%s\n", d.ID, d.Title)
					if d.ReviewFlag != "" {
						fmt.Fprintf(tw, "review flagged\t%s\n", d.ReviewFlag)
					}
					fmt.Fprintln(tw, "VERSION\tSTATE\tAUTHOR\tAPPROVER\tSHA-256\tSUMMARY")
					for _, v := range d.Versions {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.12s\t%s\n", v.Number, v.State, v.Author, v.DecidedBy, v.SHA256, v.Summary)
					}
				})
		},
	})
	c.AddCommand(policyRenderCmd(g), policyDraftCmd(g), policyEditCmd(g), policyDiffCmd(g), &cobra.Command{
		Use: "ack DOC", Short: "Acknowledge that you read the current version of a document", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (policy.Ack, error) { return b.AckPolicy(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, a policy.Ack) {
					fmt.Fprintf(tw, "%s acknowledged %s.\n", a.Username, a.DocumentID)
				})
		},
	})
	for _, s := range []struct{ action, short string }{
		{"submit", "Submit a draft for approval"},
		{"approve", "Approve a version (a security officer who did not write it; through --server)"},
		{"reject", "Reject a version, with --note saying why"},
		{"publish", "Publish an approved version"},
	} {
		var note string
		step := &cobra.Command{
			Use: s.action + " DOC VERSION", Short: s.short, Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				n, err := versionArg(args[1])
				if err != nil {
					return err
				}
				return fetch(g, cmd, func(b *client) (policy.Version, error) {
					return b.PolicyStep(cmd.Context(), args[0], n, s.action, note)
				},
					func(tw *tabwriter.Writer, v policy.Version) {
						fmt.Fprintf(tw, "Version %d of %s is %s (SHA-256 %s).\n", v.Number, v.DocumentID, v.State, v.SHA256)
					})
			},
		}
		if s.action == "approve" || s.action == "reject" {
			step.Flags().StringVar(&note, "note", "", "the decision's note (a rejection's reason)")
		}
		c.AddCommand(step)
	}
	return c
}

func versionArg(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("version %q: want a number such as 2", s)
	}
	return n, nil
}

func policyRenderCmd(g *globals) *cobra.Command {
	var format, out string
	var version int
	c := &cobra.Command{
		Use: "render DOC [--format md|html|pdf]", Short: "Print a version (default: the current one) with its version history", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "md" && format != "html" && format != "pdf" {
				return fmt.Errorf("--format %q: md, html or pdf", format)
			}
			if format == "pdf" && out == "" {
				return fmt.Errorf("--format pdf needs --out FILE")
			}
			return g.act(cmd, func(b *client) error {
				f := format
				if f == "pdf" {
					f = "html"
				}
				body, err := b.RenderPolicy(cmd.Context(), args[0], version, f)
				if err != nil {
					return err
				}
				if format == "pdf" {
					if body, err = printPDF(cmd.Context(), body); err != nil {
						return err
					}
				}
				if out == "" {
					_, err = cmd.OutOrStdout().Write(body)
					return err
				}
				return os.WriteFile(out, body, 0o644)
			})
		},
	}
	c.Flags().StringVar(&format, "format", "md", "md, html or pdf (pdf is printed by headless Chromium)")
	c.Flags().IntVar(&version, "version", 0, "the version (default: the current, or the newest when none is published)")
	c.Flags().StringVar(&out, "out", "", "write to FILE instead of standard output")
	return c
}

func policyDraftCmd(g *globals) *cobra.Command {
	var n policy.NewDraft
	var file string
	c := &cobra.Command{
		Use: "draft DOC --summary TEXT [--file FILE]", Short: "Draft a new version: a built-in document from its template and the config, your own from FILE", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file != "" {
				var err error
				if n.Source, err = readBounded(file, maxSourceFile); err != nil {
					return err
				}
				if n.Title == "" {
					n.Title = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
				}
			}
			return fetch(g, cmd, func(b *client) (policy.Version, error) { return b.DraftPolicy(cmd.Context(), args[0], n) },
				func(tw *tabwriter.Writer, v policy.Version) {
					fmt.Fprintf(tw, "Version %d of %s drafted (SHA-256 %s).\n", v.Number, v.DocumentID, v.SHA256)
				})
		},
	}
	c.Flags().StringVar(&n.Summary, "summary", "", "what changed, for the version history")
	c.Flags().StringVar(&file, "file", "", "Markdown with placeholders ({{.Company}}, {{.Numbers.SLACritical}}, …) of your own document")
	c.Flags().StringVar(&n.Title, "title", "", "the title of a new document")
	c.Flags().StringVar(&n.Classification, "classification", "", "the classification (default: the previous version's, or governance.default_classification)")
	return c
}

// maxSourceFile bounds the Markdown read for a draft.
const maxSourceFile = 1 << 20

func policyEditCmd(g *globals) *cobra.Command {
	var n policy.NewDraft
	var file string
	c := &cobra.Command{
		Use: "edit DOC VERSION [--file FILE] [--summary TEXT] [--classification C]", Args: cobra.ExactArgs(2),
		Short: "Edit a draft you wrote: its summary, classification, and the Markdown of your own document; an approved or published text never changes",
		RunE: func(cmd *cobra.Command, args []string) error {
			num, err := versionArg(args[1])
			if err != nil {
				return err
			}
			if file != "" {
				if n.Source, err = readBounded(file, maxSourceFile); err != nil {
					return err
				}
			}
			if n.Source == "" && n.Summary == "" && n.Classification == "" {
				return fmt.Errorf("nothing to edit: give --file, --summary or --classification")
			}
			return fetch(g, cmd, func(b *client) (policy.Version, error) { return b.EditPolicy(cmd.Context(), args[0], num, n) },
				func(tw *tabwriter.Writer, v policy.Version) {
					fmt.Fprintf(tw, "Version %d of %s edited (SHA-256 %s).\n", v.Number, v.DocumentID, v.SHA256)
				})
		},
	}
	c.Flags().StringVar(&n.Summary, "summary", "", "what changed, for the version history")
	c.Flags().StringVar(&file, "file", "", "the new Markdown of your own document (placeholders as for draft)")
	c.Flags().StringVar(&n.Classification, "classification", "", "the classification")
	return c
}

// readBounded reads a file of at most max bytes.
func readBounded(name string, max int64) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return "", fmt.Errorf("%s: larger than %d bytes", name, max)
	}
	return string(b), nil
}

func policyDiffCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "diff DOC FROM TO", Short: "The line diff of two versions", Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := versionArg(args[1])
			if err != nil {
				return err
			}
			to, err := versionArg(args[2])
			if err != nil {
				return err
			}
			return fetch(g, cmd, func(b *client) (policy.Diff, error) { return b.PolicyDiff(cmd.Context(), args[0], from, to) },
				func(tw *tabwriter.Writer, d policy.Diff) {
					fmt.Fprintf(tw, "--- %s v%d\n+++ %s v%d\n", d.Document, d.From, d.Document, d.To)
					for _, l := range d.Lines {
						if l.Op != "=" {
							fmt.Fprintf(tw, "%s %s\n", l.Op, l.Text)
						}
					}
				})
		},
	}
}

// attestCmd files an attestation; its subcommands list and review them.
func attestCmd(g *globals) *cobra.Command {
	var statement, until string
	var files []string
	c := &cobra.Command{
		Use: "attest REQ --statement TEXT --evidence FILE --until DATE", Short: "Attest, with evidence, that a requirement is met (reviewed by a security officer)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := time.Parse(time.DateOnly, until)
			if err != nil {
				if t, err = time.Parse(time.RFC3339, until); err != nil {
					return fmt.Errorf("--until %q: want a date, e.g. 2027-06-30", until)
				}
			}
			n := policy.NewAttestation{Requirement: args[0], Statement: statement, ValidUntil: t}
			for _, f := range files {
				// The operator's own file, read here and sent: the server
				// never reads a path a caller names.
				b, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("--evidence: %w", err)
				}
				n.Evidence = append(n.Evidence, policy.File{Name: filepath.Base(f), Content: b})
			}
			return fetch(g, cmd, func(b *client) (policy.Attestation, error) { return b.Attest(cmd.Context(), n) },
				func(tw *tabwriter.Writer, a policy.Attestation) {
					fmt.Fprintf(tw, "Attestation %s of %s filed with %d evidence files; it counts once a security officer reviews it.\n", a.ID, a.Requirement, len(a.Evidence))
				})
		},
	}
	c.Flags().StringVar(&statement, "statement", "", "what you attest")
	c.Flags().StringArrayVar(&files, "evidence", nil, "an evidence file (repeatable)")
	c.Flags().StringVar(&until, "until", "", "valid until this date (at most governance.attestation_max_days ahead)")
	var req string
	ls := &cobra.Command{
		Use: "list", Short: "Attestations, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]policy.Attestation, error) { return b.Attestations(cmd.Context(), req) },
				"ID\tREQUIREMENT\tBY\tSTATE\tVALID UNTIL\tEVIDENCE", func(tw *tabwriter.Writer, a policy.Attestation) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", a.ID, a.Requirement, a.AttestedBy, a.State, a.ValidUntil.UTC().Format(time.DateOnly), len(a.Evidence))
				})
		},
	}
	ls.Flags().StringVar(&req, "requirement", "", "only this requirement's")
	var accept, reject bool
	var note string
	review := &cobra.Command{
		Use: "review ID --accept|--reject [--note TEXT]", Short: "Accept or reject an attestation (a security officer other than the attester; through --server)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if accept == reject {
				return fmt.Errorf("say --accept or --reject")
			}
			decision := "accept"
			if reject {
				decision = "reject"
			}
			return fetch(g, cmd, func(b *client) (policy.Attestation, error) {
				return b.ReviewAttestation(cmd.Context(), args[0], decision, note)
			},
				func(tw *tabwriter.Writer, a policy.Attestation) {
					fmt.Fprintf(tw, "Attestation %s is %s.\n", a.ID, a.State)
				})
		},
	}
	review.Flags().BoolVar(&accept, "accept", false, "accept it")
	review.Flags().BoolVar(&reject, "reject", false, "reject it")
	review.Flags().StringVar(&note, "note", "", "the review's note (a rejection's reason)")
	c.AddCommand(ls, review)
	return c
}

// requirementsCmd is the compliance view: every requirement and its state.
func requirementsCmd(g *globals) *cobra.Command {
	var trend bool
	var days int
	c := &cobra.Command{
		Use: "requirements [--trend [--days N]]", Short: "Every requirement with its controls, attestations and one state (gap when nothing covers it); --trend: the counts per day", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if trend {
				return fetchList(g, cmd, func(b *client) ([]policy.DayCounts, error) { return b.RequirementsTrend(cmd.Context(), days) },
					"DAY\t"+strings.ToUpper(strings.Join(policy.States, "\t")), func(tw *tabwriter.Writer, d policy.DayCounts) {
						day := d.Day
						if d.Live {
							day += " (now)"
						}
						fmt.Fprint(tw, day)
						for _, s := range policy.States {
							fmt.Fprintf(tw, "\t%d", d.Counts[s])
						}
						fmt.Fprintln(tw)
					})
			}
			return fetch(g, cmd, func(b *client) (policy.Compliance, error) { return b.Requirements(cmd.Context()) },
				func(tw *tabwriter.Writer, c policy.Compliance) {
					fmt.Fprintln(tw, "ID\tSTATE\tCONTROLS\tATTESTATIONS\tWHY")
					for _, r := range c.Requirements {
						fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", r.ID, r.State, len(r.Controls), len(r.Attestations), r.Why)
					}
					var counts []string
					for _, s := range policy.States {
						counts = append(counts, fmt.Sprintf("%d %s", c.Counts[s], s))
					}
					fmt.Fprintf(tw, "\n%s\n", strings.Join(counts, ", "))
				})
		},
	}
	c.Flags().BoolVar(&trend, "trend", false, "the counts of each state per day, oldest first (the last is now)")
	c.Flags().IntVar(&days, "days", 30, "with --trend: how many days (at most 400)")
	return c
}
