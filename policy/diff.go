package policy

import (
	"context"
	"strings"
)

// DiffLine is one line of a diff: Op is "=" (in both), "-" (only in the
// older version) or "+" (only in the newer).
type DiffLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// Diff compares two versions of a document, line by line.
type Diff struct {
	Document string     `json:"document"`
	From     int        `json:"from"`
	To       int        `json:"to"`
	Lines    []DiffLine `json:"lines"`
	Added    int        `json:"added"`
	Removed  int        `json:"removed"`
}

// maxDiffLines bounds the quadratic comparison: documents are a few
// hundred lines.
const maxDiffLines = 2000

// Diff compares version from with version to of a document.
func (s *Service) Diff(ctx context.Context, docID string, from, to int) (Diff, error) {
	d, err := s.Document(ctx, docID)
	if err != nil {
		return Diff{}, err
	}
	a, err := pick(d.Document, d.Versions, from)
	if err != nil {
		return Diff{}, err
	}
	b, err := pick(d.Document, d.Versions, to)
	if err != nil {
		return Diff{}, err
	}
	al, bl := strings.Split(a.Text, "\n"), strings.Split(b.Text, "\n")
	if len(al) > maxDiffLines || len(bl) > maxDiffLines {
		return Diff{}, invalid("to", "the versions are longer than %d lines", maxDiffLines)
	}
	out := Diff{Document: docID, From: a.Number, To: b.Number, Lines: diffLines(al, bl)}
	for _, l := range out.Lines {
		switch l.Op {
		case "+":
			out.Added++
		case "-":
			out.Removed++
		}
	}
	return out, nil
}

// diffLines is the longest-common-subsequence diff of a and b.
func diffLines(a, b []string) []DiffLine {
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []DiffLine
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			out = append(out, DiffLine{"=", a[i]})
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, DiffLine{"-", a[i]})
			i++
		default:
			out = append(out, DiffLine{"+", b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, DiffLine{"-", a[i]})
	}
	for ; j < m; j++ {
		out = append(out, DiffLine{"+", b[j]})
	}
	return out
}
