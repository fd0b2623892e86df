package change

import (
	"bytes"
	"io"
	"testing"
)

// FuzzParseLog feeds git log output (ours to parse, git's to write) and
// commit messages through the parser and the classifier: whatever the
// bytes, they return an error or a commit, never a panic.
func FuzzParseLog(f *testing.F) {
	rec := func(msg string) []byte {
		return []byte("0123456789abcdef0123456789abcdef01234567\x1fabc def\x1fBob\x1fbob@example.com\x1f1700000000\x1fBob\x1fbob@example.com\x1f1700000000\x1f" + msg + "\x00")
	}
	for _, m := range []string{
		"Merge pull request #12 from bob/x\n\nText",
		"Fix (#3)\n\nReviewed-by: Carol <carol@example.com>\nEmergency: outage",
		"Revert \"x\"\n\nThis reverts commit 0123456789abcdef.",
		"Change\n\nChange-Id: I12\nReviewed-on: https://r/1\nReviewed-by: A <a@b>",
		"Merge branch 'x' into 'main'\n\nSee merge request g/p!7\n\nApproved-by: C <c@d>",
		"",
	} {
		f.Add(rec(m))
	}
	f.Add([]byte("\x1f\x1f\x1f\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseLog(bytes.NewReader(data), func(c Commit) error {
			ch := Classify(Repository{Name: "r", Bots: []string{"dependabot[bot]"}}, "main", c)
			Evaluate(Repository{Source: SourceGit}, &ch, nil, nil, 3, false)
			if ch.Verdict == "" {
				t.Fatalf("no verdict for %+v", c)
			}
			if ch.Kind == KindMerge && len(c.Parents) < 2 {
				t.Fatalf("a merge with %d parents", len(c.Parents))
			}
			return nil
		})
	})
}

// parseLog reads git log records as the sync does, record by record.
func parseLog(r io.Reader, fn func(Commit) error) error {
	return splitRecords(r, func(rec []byte) error {
		c, err := parseCommit(rec)
		if err != nil {
			return err
		}
		return fn(c)
	})
}
