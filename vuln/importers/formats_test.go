package importers_test

import (
	"errors"
	"testing"

	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// The register sees the importers only through vuln.Formats: the format
// they detect or are told, and a report they cannot read as
// vuln.ErrInvalidReport, whichever step refuses it.
func TestFormatsAsTheRegisterSeesThem(t *testing.T) {
	var formats vuln.Formats = importers.Formats{}
	trivy := []byte(`{"SchemaVersion": 2, "ArtifactName": "app:1", "Results": []}`)
	for _, tc := range []struct {
		name, format string
		data         []byte
		want         string // the parser's name; "" when refused
		parse        bool   // whether Parse refuses it
	}{
		{name: "detected", format: "auto", data: trivy, want: "trivy"},
		{name: "named", format: "osv", data: []byte(`{"results": []}`), want: "osv"},
		{name: "unknown format", format: "nessus", data: trivy},
		{name: "undetected", format: "", data: []byte(`{"hello": "world"}`)},
		{name: "empty", format: "auto", data: []byte("  \n")},
		{name: "truncated", format: "trivy", data: trivy[:20], want: "trivy", parse: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := formats.For("r.json", tc.format, tc.data)
			if tc.want == "" {
				if !errors.Is(err, vuln.ErrInvalidReport) || p != nil {
					t.Fatalf("For = %v, %v; want nil, an ErrInvalidReport", p, err)
				}
				return
			}
			if err != nil || p.Name() != tc.want {
				t.Fatalf("For = %v, %v; want %s", p, err, tc.want)
			}
			_, err = p.Parse("r.json", tc.data)
			if got := errors.Is(err, vuln.ErrInvalidReport); got != tc.parse || (err != nil) != tc.parse {
				t.Errorf("Parse: %v; want refused: %t", err, tc.parse)
			}
		})
	}
	if _, err := formats.ParseFeed("feed.txt", []byte("not a feed")); !errors.Is(err, vuln.ErrInvalidReport) {
		t.Errorf("ParseFeed: %v; want an ErrInvalidReport", err)
	}
	if _, err := formats.Detect("r.json", trivy); err != nil {
		t.Errorf("Detect: %v", err)
	}
}
