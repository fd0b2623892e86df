package importers_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

func assessmentRead(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// assessmentWalk reads the ids of a sample's findings without the
// importer: with encoding/csv, or with a map walk.
func assessmentWalk(t *testing.T, name string, data []byte) []string {
	var ids []string
	if strings.HasSuffix(name, ".csv") {
		rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows[1:] {
			ids = append(ids, row[0])
		}
		return ids
	}
	for _, f := range vxList(vxObj(vxDecode(t, data))["findings"]) {
		ids = append(ids, vxStr(vxObj(f)["id"]))
	}
	return ids
}

func assessmentFinding(t *testing.T, r *vuln.Report, id string) vuln.Reported {
	t.Helper()
	for _, f := range r.Findings {
		if f.VulnID == id || slices.Contains(f.Aliases, id) {
			return f
		}
	}
	t.Fatalf("no finding %s", id)
	return vuln.Reported{}
}

func TestAssessmentSamples(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, r *vuln.Report)
	}{
		{"assessment.csv", func(t *testing.T, r *vuln.Report) {
			if r.Tool != "assessment" || r.Target != "https://shop.example.com" {
				t.Errorf("tool %q, target %q", r.Tool, r.Target)
			}
			if f := assessmentFinding(t, r, "NW-2025-02"); f.VulnID != "CVE-2021-41773" || f.Severity != vuln.High ||
				f.CVSSScore != 7.5 || f.Location != "Server: Apache/2.4.49" || f.Target != "" {
				t.Errorf("NW-2025-02: %+v", f)
			}
			// A quoted description over two lines; "Informational".
			if f := assessmentFinding(t, r, "NW-2025-04"); f.Severity != vuln.Info || f.CVSSScore != 0 ||
				!strings.Contains(f.Description, "\nObserved on the orders API only.\n\nRecommendation: Return a generic error page") ||
				!slices.Equal(f.References, []string{"report §4.7"}) {
				t.Errorf("NW-2025-04: %+v", f)
			}
		}},
		{"assessment.json", func(t *testing.T, r *vuln.Report) {
			if r.Tool != "Northwind Security GmbH" || r.Target != "203.0.113.0/28" {
				t.Errorf("tool %q, target %q", r.Tool, r.Target)
			}
			if f := assessmentFinding(t, r, "EXT-0001"); f.VulnID != "CVE-2024-6387" || f.Severity != vuln.High ||
				f.CVSSScore != 8.1 || f.Location != "203.0.113.10:22/tcp" || f.Target != "203.0.113.10" {
				t.Errorf("EXT-0001: %+v", f)
			}
			if f := assessmentFinding(t, r, "EXT-0003"); f.Severity != vuln.Low || f.CVSSScore != 0 ||
				f.References[0] != "Northwind report NW-EXT-2025-03, section 3.3" {
				t.Errorf("EXT-0003: %+v", f)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			data := assessmentRead(t, tc.file)
			r, err := importers.Parse(tc.file, "auto", data)
			if err != nil {
				t.Fatal(err)
			}
			vxCheck(t, r)
			var got []string
			for _, f := range r.Findings {
				if len(f.Aliases) > 0 {
					got = append(got, f.Aliases[0]) // the id, when a CVE leads
				} else {
					got = append(got, f.VulnID)
				}
			}
			if want := assessmentWalk(t, tc.file, data); !slices.Equal(got, want) {
				t.Errorf("findings %v, the file has %v", got, want)
			}
			if r.Format != "assessment" || r.Complete {
				t.Errorf("format %q, complete %v", r.Format, r.Complete)
			}
			tc.check(t, r)
		})
	}
}

func TestAssessmentDetect(t *testing.T) {
	imp := vxImporter(t, "assessment")
	for _, name := range []string{"assessment.csv", "assessment.json"} {
		data := assessmentRead(t, name)
		if !imp.Detect(data) {
			t.Errorf("%s is not detected", name)
		}
		for _, n := range importers.Names() {
			if other, _ := importers.Get(n); n != "assessment" && other.Detect(data) {
				t.Errorf("%s is detected by %s too", name, n)
			}
		}
	}
	for _, s := range []string{"title,id,severity\nA,1,high\n", "id,title,severity_rating\n", "id;title;severity\n", "cve,epss,percentile\n"} {
		if imp.Detect([]byte(s)) {
			t.Errorf("detects %q", s)
		}
	}
	vxCheckDetect(t, "assessment", nil, vxOtherFolders...)
}

func TestAssessmentColumns(t *testing.T) {
	// Any order and case with --format; only the required columns.
	r, err := vxImporter(t, "assessment").Parse("a.csv", []byte("\ufeffSeverity, TITLE ,id\r\nmoderate,Weak TLS,T-1\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Findings[0]; f.VulnID != "T-1" || f.Title != "Weak TLS" || f.Severity != vuln.Medium || r.Target != "" {
		t.Errorf("finding %+v, target %q", f, r.Target)
	}
}

func TestAssessmentBadInput(t *testing.T) {
	csvData := assessmentRead(t, "assessment.csv")
	jsonData := assessmentRead(t, "assessment.json")
	header := "id,title,severity,cvss,cve\n"
	vxCheckBad(t, "assessment", []vxBad{
		{name: "csv extra column", data: []byte("id,title,severity,owner\nA-1,x,high,bob\n"), line: true, path: "owner", msg: "unknown column"},
		{name: "csv missing column", data: []byte("id,severity\nA-1,high\n"), line: true, path: "title"},
		{name: "csv bad severity", data: bytes.Replace(csvData, []byte(",Informational,"), []byte(",Urgent,"), 1),
			at: 5, path: "severity", msg: `"Urgent"`},
		{name: "csv bad cvss", data: []byte(header + "A-1,x,high,7.5\nA-2,y,low,NaN\n"), line: true, path: "cvss"},
		{name: "csv bad cve", data: []byte(header + "A-1,x,high,,CVE-21-1\n"), line: true, path: "cve"},
		{name: "csv no title", data: []byte(header + "A-1,,high\n"), line: true, path: "title"},
		{name: "csv short row", data: []byte("ID,Title,SeveritY\n0"), at: 2, path: "title"},
		{name: "csv duplicate id", data: []byte(header + "A-1,x,high,,\nA-1,y,low,,\n"), at: 3, path: "id", msg: "line 2"},
		{name: "csv field count", data: []byte(header + "A-1,x,high\nA-2,y,low,,,extra\n"), at: 3, msg: "5 columns"},
		{name: "csv bad quote", data: []byte(header + "A-1,\"x,high,,\n"), line: true, msg: "invalid CSV"},
		{name: "empty", data: []byte(""), msg: "empty"},
		{name: "json truncated", data: jsonData[:len(jsonData)/2], line: true, msg: "truncated"},
		{name: "json wrong type", data: bytes.Replace(jsonData, []byte(`"cvss": 8.1`), []byte(`"cvss": "8.1"`), 1), line: true, path: "cvss"},
		{name: "json bad severity", data: bytes.Replace(jsonData, []byte(`"severity": "medium"`), []byte(`"severity": "P2"`), 1),
			path: "findings[1].severity", msg: `"P2"`},
		{name: "json unknown field", data: bytes.Replace(jsonData, []byte(`"recommendation"`), []byte(`"remediation"`), 1),
			line: true, path: "remediation", msg: "unknown field"},
		{name: "json kind", data: bytes.Replace(jsonData, []byte(`"external-scan"`), []byte(`"audit"`), 1), path: "assessment.kind"},
		{name: "json date", data: bytes.Replace(jsonData, []byte(`"2025-03-14"`), []byte(`"14.03.2025"`), 1), path: "assessment.date"},
		{name: "json no vendor", data: []byte(`{"assessment": {}, "findings": []}`), path: "assessment.vendor"},
	})
}

func TestAssessmentHugeString(t *testing.T) {
	imp := vxImporter(t, "assessment")
	for _, data := range [][]byte{
		vxHuge("id,title,severity,description\nA-1,x,high,\"", "\"\n"),
		vxHuge(`{"assessment": {"vendor": "v"}, "findings": [{"id": "A-1", "title": "x", "severity": "low", "description": "`, `"}]}`),
	} {
		r, err := imp.Parse("huge", data)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Findings) != 1 {
			t.Errorf("%d findings", len(r.Findings))
		}
	}
}

func FuzzAssessment(f *testing.F) {
	f.Add(assessmentRead(f, "assessment.csv"))
	f.Add(assessmentRead(f, "assessment.json"))
	f.Add([]byte("id,title,severity,cvss,cve\nA-1,\"multi\nline\",high,9.1,cve-2024-3094\n"))
	f.Fuzz(func(t *testing.T, data []byte) { vxFuzz(t, "assessment", data) })
}
