package importers_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln/importers"
)

// legacyTrivy is a report in Trivy's legacy format (before SchemaVersion
// 2): the list of results alone. No legacy report is among the fixtures,
// so it is derived from one's Results; nil when it has none.
func legacyTrivy(t testing.TB, data []byte) []byte {
	t.Helper()
	var doc struct{ Results json.RawMessage }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Results) == 0 || doc.Results[0] != '[' {
		return nil
	}
	return doc.Results
}

// A legacy report is detected as Trivy's and gives the findings of the
// report it was, its first result's target (less the operating system)
// naming the artifact.
func TestTrivyLegacy(t *testing.T) {
	for _, name := range []string{"securecodebox-repo.json", "scheme_2_many_vulns.json", "misconfigurations_and_secrets.json"} {
		t.Run(name, func(t *testing.T) {
			data := fixture.Read(t, "vuln/trivy/"+name)
			want, err := importers.Parse(name, "trivy", data)
			if err != nil {
				t.Fatal(err)
			}
			legacy := legacyTrivy(t, data)
			got, err := importers.Parse("legacy.json", "auto", legacy)
			if err != nil {
				t.Fatalf("legacy report refused: %v", err)
			}
			if got.Format != "trivy" || !got.Complete || got.Target == "" || strings.HasSuffix(got.Target, ")") {
				t.Errorf("format %q, complete %v, target %q", got.Format, got.Complete, got.Target)
			}
			if len(got.Findings) == 0 || findingKeys(got.Findings) != findingKeys(want.Findings) {
				t.Errorf("legacy findings:\n%s\nwant:\n%s", findingKeys(got.Findings), findingKeys(want.Findings))
			}
		})
	}
}

// A legacy report is refused as any Trivy report is, with the JSON path
// of what is wrong; a list that is not of results is not taken for one.
func TestTrivyLegacyRefused(t *testing.T) {
	_, err := importers.Parse("legacy.json", "auto", []byte(`[{"Target":"app (alpine 3.10)","Type":"alpine","Vulnerabilities":[{"VulnerabilityID":"CVE-1","Severity":"SEVERE"}]}]`))
	if err == nil || !strings.Contains(err.Error(), "[0].Vulnerabilities[0].Severity") {
		t.Errorf("bad severity: %v", err)
	}
	for _, doc := range []string{`[]`, `[{"Type":"alpine","Target":"x"}]`, `[{"number":1}]`, `["Target"]`} {
		if _, err := importers.Parse("x.json", "auto", []byte(doc)); err == nil {
			t.Errorf("%s taken for a report", doc)
		}
	}
}
