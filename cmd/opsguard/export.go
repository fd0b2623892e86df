package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/opsguard/opsguard"
	"github.com/spf13/cobra"
)

// pageFunc returns the page of a listing at offset and the listing's total.
type pageFunc[T any] func(offset, limit int) ([]T, int, error)

// listing is a register's listing as the command line writes it: a table
// of one page, or an export (-o csv or json) of one page when --limit is
// given and of every row when it is not, page after page, written as it
// arrives so that no export is held whole.
type listing[T any] struct {
	limit, offset int
	csvHeader     []string
	csvRow        func(T) []string
}

// check refuses a --limit above the page maximum before anything is asked.
func (l listing[T]) check() error {
	if _, err := opsguard.PageLimit(l.limit); err != nil {
		return fmt.Errorf("--limit %d: at most %d; leave --limit out to export every row with -o csv or -o json", l.limit, opsguard.MaxPage)
	}
	return nil
}

// export writes the listing as CSV or JSON ({"items": […], "total": n}).
func (l listing[T]) export(w io.Writer, format string, page pageFunc[T]) error {
	bw := bufio.NewWriter(w)
	var cw *csv.Writer
	if format == "csv" {
		cw = csv.NewWriter(bw)
		cw.Write(l.csvHeader)
	}
	size, all := l.limit, l.limit <= 0
	if all {
		size = opsguard.MaxPage
	}
	n, total := 0, 0
	for offset := l.offset; ; offset += size {
		items, t, err := page(offset, size)
		if err != nil {
			return err
		}
		total = t
		for _, it := range items {
			if cw != nil {
				cw.Write(l.csvRow(it))
			} else if err := writeItem(bw, n, it); err != nil {
				return err
			}
			n++
		}
		if cw != nil {
			if cw.Flush(); cw.Error() != nil {
				return cw.Error()
			}
		}
		if !all || len(items) < size {
			break
		}
	}
	if cw == nil {
		if n == 0 {
			bw.WriteString("{\n  \"items\": [")
		}
		fmt.Fprintf(bw, "\n  ],\n  \"total\": %d\n}\n", total)
	}
	return bw.Flush()
}

// writeItem writes the n-th item of a JSON export, indented as the
// command's other JSON output.
func writeItem(w *bufio.Writer, n int, v any) error {
	b, err := json.MarshalIndent(v, "    ", "  ")
	if err != nil {
		return err
	}
	if n == 0 {
		w.WriteString("{\n  \"items\": [\n    ")
	} else {
		w.WriteString(",\n    ")
	}
	_, err = w.Write(b)
	return err
}

// print runs the listing through the API (see act): with -o csv or json
// the export; for a table the page at offset under header, a row per
// item, and a last line of how many of how many nouns there are.
func (l listing[T]) print(g *globals, cmd *cobra.Command, noun, header string, row func(tw *tabwriter.Writer, x T),
	page func(b *client, offset, limit int) ([]T, int, error)) error {
	if err := l.check(); err != nil {
		return err
	}
	return g.act(cmd, func(b *client) error {
		if g.output != "table" {
			return l.export(cmd.OutOrStdout(), g.output, func(offset, limit int) ([]T, int, error) { return page(b, offset, limit) })
		}
		xs, total, err := page(b, l.offset, l.limit)
		if err != nil {
			return err
		}
		return g.emit(cmd.OutOrStdout(), nil, func(tw *tabwriter.Writer) {
			fmt.Fprintln(tw, header)
			for _, x := range xs {
				row(tw, x)
			}
			fmt.Fprintf(tw, "%d of %d %s%s.\n", len(xs), total, noun, more(l.offset+len(xs), total))
		})
	})
}
