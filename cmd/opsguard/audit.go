package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/report"
)

func auditCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "Audit bundles: one zip per period that an auditor verifies offline (GV-3, LG-4)"}
	c.AddCommand(auditExportCmd(g), auditVerifyCmd(g))
	return c
}

func auditExportCmd(g *globals) *cobra.Command {
	var from, to, out, reqs string
	cmd := &cobra.Command{
		Use:   "export --from DATE --to DATE --out bundle.zip",
		Short: "Write the audit bundle of a period (to is inclusive); the export is recorded in the ledger",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || from == "" || to == "" {
				return fmt.Errorf("--from, --to and --out are needed")
			}
			q := url.Values{"from": {from}, "to": {to}}
			if reqs != "" {
				q.Set("requirements", reqs)
			}
			return g.act(cmd, func(b *client) error {
				n, err := b.downloadBundle(cmd.Context(), q, out)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %s (%d bytes). Check it with: opsguard audit verify %s --public-key KEY\n", out, n, out)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "first day of the period (2026-01-01, or an RFC 3339 time)")
	f.StringVar(&to, "to", "", "last day of the period, inclusive (2026-12-31, or an RFC 3339 time, exclusive)")
	f.StringVar(&out, "out", "", "the zip file to write")
	f.StringVar(&reqs, "requirements", "", "requirements to report on, comma-separated patterns (CM-*,VM-*; default all)")
	return cmd
}

// downloadBundle streams the bundle into a temporary file beside out and
// moves it there once it is whole: a refused or cut export leaves nothing.
func (c *client) downloadBundle(ctx context.Context, q url.Values, out string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/audit/bundle?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s%w", c.where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return 0, fmt.Errorf("%s%s (%s)", c.where, e.Error.Message, e.Error.Code)
		}
		return 0, fmt.Errorf("%sGET /api/v1/audit/bundle: status %d", c.where, resp.StatusCode)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".opsguard-bundle-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("%sthe bundle was cut short: %w", c.where, err)
	}
	if err := whole(tmp.Name()); err != nil {
		return 0, fmt.Errorf("%sthe bundle was cut short (the server logs why): %w", c.where, err)
	}
	return n, os.Rename(tmp.Name(), out)
}

// whole reports whether a downloaded bundle is complete: a zip ending
// with its signature, the last member written.
func whole(path string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return err
	}
	defer zr.Close()
	if len(zr.File) == 0 || zr.File[len(zr.File)-1].Name != report.SignatureName {
		return errors.New("no signed manifest at its end")
	}
	return nil
}

func auditVerifyCmd(g *globals) *cobra.Command {
	var keyArg string
	cmd := &cobra.Command{
		Use:   "verify BUNDLE --public-key KEY",
		Short: "Check an audit bundle offline with the ledger's public key alone (exit 1 when it does not verify)",
		Long: `verify needs no database and no data directory: it checks every member against
the signed manifest (content, not container: re-compressed members and
re-indented JSON verify), every entry's payload against its hash, every
evidence file against the entry citing it, every entry's inclusion under a
checkpoint signed by KEY, the checkpoints' consistency, and that results.json
and the OSCAL assessment results are what the entries record. KEY is a file
holding the public key, or the key itself.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := publicKeyArg(keyArg)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			sum, err := report.Verify(cmd.Context(), f, st.Size(), key, report.VerifyOptions{})
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("%s does not verify: %v", args[0], err)}
			}
			if err := g.emit(cmd.OutOrStdout(), sum, func(tw *tabwriter.Writer) { printSummary(tw, sum) }); err != nil {
				return err
			}
			if !sum.OK {
				return &exitError{code: 1, msg: args[0] + " does not verify"}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyArg, "public-key", "", "the ledger's public key, or a file holding it (get it by a channel you trust)")
	return cmd
}

// publicKeyArg is the key itself or the content of the file it names.
func publicKeyArg(arg string) (string, error) {
	if arg == "" {
		return "", fmt.Errorf("--public-key is needed: the bundle is checked against a key you trust, never its own")
	}
	if b, err := os.ReadFile(arg); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if _, err := ledger.NewVerifier(arg); err != nil {
		return "", fmt.Errorf("--public-key %q: neither a readable file nor a public key", arg)
	}
	return arg, nil
}

func printSummary(tw *tabwriter.Writer, s *report.Summary) {
	period := fmt.Sprintf("%s to %s", s.From.Format("2006-01-02"), s.To.Add(-1).Format("2006-01-02"))
	if s.OK {
		fmt.Fprintf(tw, "OK: the bundle of %s verifies under the ledger %s.\n", period, s.Origin)
	} else {
		fmt.Fprintf(tw, "FAILED: the bundle of %s does not verify: %s.\n", period, problems(len(s.Problems)+s.More))
	}
	fmt.Fprintf(tw, "Entries:\t%d\nEvidence files:\t%d\nCheckpoints:\t%d (newest of size %d)\nRequirements:\t%d\nManifest:\tsha256 %s\n",
		s.Entries, s.Blobs, s.Checkpoints, s.TreeSize, s.Requirements, s.Manifest)
	for _, p := range s.Problems {
		fmt.Fprintf(tw, "  - %s\n", p)
	}
	if s.More > 0 {
		fmt.Fprintf(tw, "  … and %s more\n", problems(s.More))
	}
}

// problems counts problems in English: "1 problem", "3 problems".
func problems(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", n)
}
