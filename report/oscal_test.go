package report_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/report"
)

// TestOSCALValidates checks the assessment results against NIST's schema
// (OSCAL 1.0.6), and that the findings say what results.json says.
func TestOSCALValidates(t *testing.T) {
	_, b := sqliteWorld(t, 3)
	schemaPath := fixture.Path(t, "oscal/oscal_assessment-results_schema-1.0.6.json")
	sch, err := compileOSCAL(schemaPath)
	if err != nil {
		t.Fatalf("compile the schema: %v", err)
	}
	doc := member(t, b, report.OSCALName)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("the OSCAL file does not validate: %v", err)
	}
	// The schema is strict enough to refuse a finding without a status.
	broken := strings.Replace(string(doc), `"state": "satisfied"`, `"state": 7`, 1)
	bv, _ := jsonschema.UnmarshalJSON(strings.NewReader(broken))
	if sch.Validate(bv) == nil {
		t.Error("a state of 7 validates: the schema is not applied")
	}
	var o report.OSCAL
	json.Unmarshal(doc, &o)
	states := map[string]string{}
	for _, f := range o.AssessmentResults.Results[0].Findings {
		states[f.Target.TargetID] = f.Target.Status.State
	}
	if states["cm-3"] != "not-satisfied" || states["lg-3"] != "satisfied" || len(states) != 42 {
		t.Errorf("findings %v", states)
	}
}

func member(t testing.TB, b []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, _ := io.ReadAll(f)
	return c
}

// compileOSCAL compiles NIST's schema after resolving its "$id": "#name"
// anchors into JSON pointers, which the validator does not look up
// (see ../shared/fixtures/oscal/README.md).
func compileOSCAL(path string) (*jsonschema.Schema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	anchors := map[string]string{}
	defs, _ := doc["definitions"].(map[string]any)
	for k, d := range defs {
		if m, ok := d.(map[string]any); ok {
			if id, ok := m["$id"].(string); ok && strings.HasPrefix(id, "#") {
				anchors[id] = "#/definitions/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
				delete(m, "$id")
			}
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok && anchors[r] != "" {
				x["$ref"] = anchors[r]
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	c := jsonschema.NewCompiler()
	url := "file:///oscal-ar.json"
	delete(doc, "$id")
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}
