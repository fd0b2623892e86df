package importers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/vuln/importers"
)

// A finding keeps its first 100 references, each cut at 2 KiB.
func TestReferencesAreCapped(t *testing.T) {
	refs := make([]string, 1000)
	for i := range refs {
		refs[i] = fmt.Sprintf("https://example.com/%d/%s", i, strings.Repeat("x", 3000))
	}
	list, _ := json.Marshal(refs)
	for _, tc := range []struct{ format, report string }{
		{"trivy", `{"SchemaVersion":2,"ArtifactName":"img","Results":[{"Target":"t","Type":"debian","Vulnerabilities":[
			{"VulnerabilityID":"CVE-2024-0001","PkgName":"p","Severity":"HIGH","References":` + string(list) + `}]}]}`},
		{"grype", `{"matches":[{"vulnerability":{"id":"CVE-2024-0001","severity":"High","urls":` + string(list) + `},"artifact":{"name":"a","version":"1"}}],"descriptor":{"name":"grype"}}`},
	} {
		t.Run(tc.format, func(t *testing.T) {
			r, err := importers.Parse("r.json", tc.format, []byte(tc.report))
			if err != nil {
				t.Fatal(err)
			}
			got := r.Findings[0].References
			if len(got) != importers.MaxReferences {
				t.Errorf("%d references, want %d", len(got), importers.MaxReferences)
			}
			for _, ref := range got {
				if len(ref) > importers.MaxReference {
					t.Fatalf("a reference of %d bytes", len(ref))
				}
			}
		})
	}
}

// An error quotes at most 200 bytes of its JSON path, its start and end.
func TestLongPathsAreShortened(t *testing.T) {
	const depth = 100000
	data := `{"SchemaVersion":2,"ArtifactName":"img","Results":[{"Target":"t","Type":"debian","Vulnerabilities":[{"VulnerabilityID":` +
		strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + "}]}]}"
	_, err := importers.Parse("deep.json", "trivy", []byte(data))
	if err == nil || len(err.Error()) > 400 || !strings.Contains(err.Error(), "Results[0].Vulnerabilities[0].VulnerabilityID") || !strings.Contains(err.Error(), "…") {
		t.Errorf("error of %d bytes: %.400v", len(err.Error()), err)
	}
	e := &importers.Error{File: "f", Path: strings.Repeat("a.", 1000) + "end", Msg: "m"}
	if p := strings.TrimSuffix(strings.TrimPrefix(e.Error(), "f: "), ": m"); len(p) > 200 || !strings.HasSuffix(p, "end") {
		t.Errorf("path of %d bytes: %s", len(p), p)
	}
}
