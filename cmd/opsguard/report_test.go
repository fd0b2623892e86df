package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/opsguard/opsguard/ledger"
)

// A failing verification names the first problems and counts the rest,
// in English.
func TestPrintReportCapsProblems(t *testing.T) {
	for _, tc := range []struct {
		n          int
		want, nope string
	}{
		{1, "1 problem.", "1 problems"},
		{3, "3 problems.", "more"},
		{500, "500 problems.", "problem 499"},
	} {
		rep := &ledger.Report{Entries: 9}
		for i := range tc.n {
			rep.Problems = append(rep.Problems, fmt.Sprintf("problem %d", i))
		}
		var b bytes.Buffer
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		printReport(tw, rep)
		tw.Flush()
		out := b.String()
		if !strings.Contains(out, tc.want) || strings.Contains(out, tc.nope) {
			t.Errorf("%d problems:\n%s", tc.n, out)
		}
		if lines := strings.Count(out, "\n"); lines > maxShownProblems+3 {
			t.Errorf("%d problems: %d lines printed", tc.n, lines)
		}
		if tc.n > maxShownProblems && !strings.Contains(out, fmt.Sprintf("and %d more problems", tc.n-maxShownProblems)) {
			t.Errorf("%d problems: the rest are not counted:\n%s", tc.n, out)
		}
	}
}
