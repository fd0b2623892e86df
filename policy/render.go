package policy

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/opsguard/opsguard"
)

// Formats a document renders to here (pdf is printed from html by the
// faces that have a browser).
var Formats = []string{"md", "html"}

// markdown converts Markdown to HTML: tables, no raw HTML passed through
// (a company's own document cannot inject script).
var markdown = goldmark.New(goldmark.WithExtensions(extension.Table))

// Rendered is a version as a reader gets it.
type Rendered struct {
	Document    string `json:"document"`
	Version     int    `json:"version"`
	Format      string `json:"format"`
	ContentType string `json:"content_type"`
	Body        []byte `json:"-"`
}

// Render returns a version of a document (0: the current one) as a whole
// document: title, classification and state, the text, and the version
// history table.
func (s *Service) Render(ctx context.Context, docID string, number int, format string) (Rendered, error) {
	if format == "" {
		format = "md"
	}
	if format != "md" && format != "html" {
		return Rendered{}, invalid("format", "format %q: one of md, html (pdf from the command line or the page)", format)
	}
	d, err := s.Document(ctx, docID)
	if err != nil {
		return Rendered{}, err
	}
	v, err := pick(d.Document, d.Versions, number)
	if err != nil {
		return Rendered{}, err
	}
	md := WholeMarkdown(d.Document, v, d.Versions)
	r := Rendered{Document: d.ID, Version: v.Number, Format: format}
	if format == "md" {
		r.ContentType, r.Body = "text/markdown; charset=utf-8", []byte(md)
		return r, nil
	}
	body, err := HTML(d.Title, md)
	r.ContentType, r.Body = "text/html; charset=utf-8", body
	return r, err
}

// WholeMarkdown is a version with its heading and the history of the
// versions up to it.
func WholeMarkdown(d Document, v Version, all []Version) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", d.Title)
	fmt.Fprintf(&b, "**Classification:** %s · **Version:** %d (%s)", mdEscape(v.Classification), v.Number, v.State)
	if v.DecidedBy != "" && v.State != Rejected {
		fmt.Fprintf(&b, " · **Approved by:** %s on %s", mdEscape(v.DecidedBy), v.DecidedAt.UTC().Format("2006-01-02"))
	}
	fmt.Fprintf(&b, " · **SHA-256:** `%s`\n\n", v.SHA256)
	b.WriteString(strings.TrimSpace(v.Text))
	b.WriteString("\n\n## Version history\n\n| Version | Date | Author | Approver | State | Summary of changes |\n| --- | --- | --- | --- | --- | --- |\n")
	for i := len(all) - 1; i >= 0; i-- {
		h := all[i]
		if h.Number > v.Number {
			continue
		}
		date := h.CreatedAt
		if h.DecidedAt != nil {
			date = *h.DecidedAt
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", h.Number, date.UTC().Format("2006-01-02"), mdEscape(h.Author), mdEscape(h.DecidedBy), h.State, mdEscape(h.Summary))
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// HTML converts a document's Markdown to a standalone HTML page.
func HTML(title, md string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title><style>body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.45}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em;vertical-align:top}</style></head><body>\n")
	if err := markdown.Convert([]byte(md), &b); err != nil {
		return nil, opsguard.Errorf(opsguard.EInternal, "render %s: %v", title, err)
	}
	b.WriteString("</body></html>\n")
	return b.Bytes(), nil
}

// HTMLFragment converts Markdown to HTML for a page of the UI.
func HTMLFragment(md string) (string, error) {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(md), &b); err != nil {
		return "", opsguard.Errorf(opsguard.EInternal, "render: %v", err)
	}
	return b.String(), nil
}
