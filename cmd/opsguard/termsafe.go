package main

import (
	"fmt"
	"io"
)

// termSafe writes a table to a terminal with its control characters shown
// as escapes (\x1b), so that text taken from a report or an API caller (an
// asset's name, a finding's title) cannot move the cursor, recolour the
// screen or rewrite what was printed before. Tabs and newlines, which lay
// the table out, pass.
type termSafe struct{ w io.Writer }

func (t termSafe) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\t' || c == '\n':
			out = append(out, c)
		case c < 0x20 || c == 0x7f:
			out = fmt.Appendf(out, `\x%02x`, c)
		case c == 0xc2 && i+1 < len(p) && p[i+1] >= 0x80 && p[i+1] <= 0x9f:
			// A C1 control (U+0080–U+009F), such as the one-byte CSI.
			out = fmt.Appendf(out, `\u%04x`, rune(p[i+1]))
			i++
		default:
			out = append(out, c)
		}
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
