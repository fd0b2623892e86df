package importers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// The vx helpers serve the CycloneDX, OpenVEX, Dependabot and assessment
// tests.

// vxSamples lists the samples of a fixture folder, as fixture paths.
func vxSamples(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(fixture.Path(t, "vuln/"+dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			out = append(out, path.Join("vuln", dir, e.Name()))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no samples in vuln/%s", dir)
	}
	return out
}

func vxImporter(t testing.TB, format string) importers.Importer {
	t.Helper()
	imp, ok := importers.Get(format)
	if !ok {
		t.Fatalf("format %q is not registered (have %v)", format, importers.Names())
	}
	return imp
}

func vxDecode(t testing.TB, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func vxObj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func vxList(v any) []any         { l, _ := v.([]any); return l }
func vxStr(v any) string         { s, _ := v.(string); return s }

// vxCheck asserts what every parsed report keeps; the fuzz targets use it.
func vxCheck(t testing.TB, r *vuln.Report) {
	t.Helper()
	for i, f := range r.Findings {
		if f.VulnID == "" {
			t.Errorf("finding %d has no VulnID: %+v", i, f)
		}
		if !slices.Contains(vuln.Severities, f.Severity) {
			t.Errorf("finding %d (%s) has severity %q", i, f.VulnID, f.Severity)
		}
	}
	for i, s := range r.Statements {
		if s.VulnID == "" || s.Status == "" {
			t.Errorf("statement %d lacks its VulnID or Status: %+v", i, s)
		}
	}
}

// vxParseErr asserts that err is an *importers.Error.
func vxParseErr(t testing.TB, err error) *importers.Error {
	t.Helper()
	var e *importers.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *importers.Error, got %T: %v", err, err)
	}
	return e
}

// vxBad is bad input and what its error must say: a line, a path
// containing path, a message containing msg.
type vxBad struct {
	name string
	data []byte
	line bool
	at   int // the line, when it matters
	path string
	msg  string
}

func vxCheckBad(t *testing.T, format string, cases []vxBad) {
	t.Helper()
	imp := vxImporter(t, format)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := imp.Parse("bad.json", tc.data)
			if err == nil {
				t.Fatalf("parsed bad input: %+v", r)
			}
			e := vxParseErr(t, err)
			if e.File != "bad.json" {
				t.Errorf("File = %q", e.File)
			}
			if tc.line && e.Line <= 0 || tc.at > 0 && e.Line != tc.at {
				t.Errorf("line %d in %v, want %d", e.Line, e, tc.at)
			}
			if !strings.Contains(e.Path, tc.path) {
				t.Errorf("Path = %q, want it to contain %q (%v)", e.Path, tc.path, e)
			}
			t.Log(e)
			if !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("Msg = %q, want it to contain %q", e.Msg, tc.msg)
			}
		})
	}
}

// vxHuge is a document holding a 100 MB string.
func vxHuge(prefix, suffix string) []byte {
	const n = 100 << 20
	b := make([]byte, 0, len(prefix)+n+len(suffix))
	b = append(b, prefix...)
	b = append(b, bytes.Repeat([]byte("A"), n)...)
	return append(b, suffix...)
}

// vxCheckDetect asserts that format detects its own samples, that no
// other registered importer does, and that it detects none of the samples
// of the other folders.
func vxCheckDetect(t *testing.T, format string, own []string, others ...string) {
	t.Helper()
	imp := vxImporter(t, format)
	for _, rel := range own {
		data := fixture.Read(t, rel)
		if !imp.Detect(data) {
			t.Errorf("%s does not detect %s", format, rel)
		}
		for _, n := range importers.Names() {
			if other, _ := importers.Get(n); n != format && other.Detect(data) {
				t.Errorf("%s is detected by %s too", rel, n)
			}
		}
	}
	for _, dir := range others {
		for _, rel := range vxSamples(t, dir) {
			if imp.Detect(fixture.Read(t, rel)) {
				t.Errorf("%s detects %s", format, rel)
			}
		}
	}
}

// vxOtherFolders are the fixture folders of the other formats.
var vxOtherFolders = []string{"trivy", "grype", "osv", "sarif", "govulncheck", "cyclonedx", "openvex"}

func vxWithout(dirs []string, dir string) []string {
	return slices.DeleteFunc(slices.Clone(dirs), func(d string) bool { return d == dir })
}

// cdxWalk counts what a CycloneDX document should give, read with a plain
// map walk: one finding and (when analysed) one statement per affected
// ref, the analysed vulnerabilities of a document without components
// giving statements only.
func cdxWalk(t *testing.T, data []byte) (findings, statements int, ids map[string]bool, complete bool) {
	doc := vxObj(vxDecode(t, data))
	vexOnly := len(vxList(doc["components"])) == 0
	ids = map[string]bool{}
	for _, v := range vxList(doc["vulnerabilities"]) {
		v := vxObj(v)
		ids[vxStr(v["id"])] = true
		for _, r := range vxList(v["references"]) {
			ids[vxStr(vxObj(r)["id"])] = true
		}
		n := max(1, len(vxList(v["affects"])))
		analysed := vxStr(vxObj(v["analysis"])["state"]) != ""
		if analysed {
			statements += n
		}
		if !vexOnly || !analysed {
			findings += n
		}
	}
	tools := vxObj(doc["metadata"])["tools"]
	named := false
	for _, tool := range append(vxList(tools), vxList(vxObj(tools)["components"])...) {
		named = named || vxStr(vxObj(tool)["name"]) != ""
	}
	return findings, statements, ids, !vexOnly && named
}

func cdxFinding(t *testing.T, r *vuln.Report, vulnID, pkg string) vuln.Reported {
	t.Helper()
	for _, f := range r.Findings {
		if f.VulnID == vulnID && strings.Contains(f.Package, pkg) {
			return f
		}
	}
	t.Fatalf("no finding %s in %s", vulnID, pkg)
	return vuln.Reported{}
}

// cdxChecks are fields read from the samples by hand.
var cdxChecks = map[string]func(t *testing.T, r *vuln.Report){
	"log4j.json": func(t *testing.T, r *vuln.Report) {
		if r.Tool != "Grype" || r.ToolVersion != "0.41.0" || !strings.HasPrefix(r.Target, "./configuration/.m2/") {
			t.Errorf("tool %q %q, target %q", r.Tool, r.ToolVersion, r.Target)
		}
		// Ratings: a bare "critical", CVSSv2 10 and CVSSv31 10 with no word.
		f := cdxFinding(t, r, "CVE-2021-44228", "log4j-core")
		if f.Package != "pkg:maven/org.apache.logging.log4j/log4j-core@2.13.2" || f.Version != "2.13.2" ||
			f.Severity != vuln.Critical || f.CVSSScore != 10 ||
			f.CVSSVector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H" {
			t.Errorf("CVE-2021-44228: %+v", f)
		}
		if f := cdxFinding(t, r, "GHSA-7rjr-3q55-vv33", ""); f.FixedVersion != "2.16.0" || f.Severity != vuln.Critical {
			t.Errorf("GHSA-7rjr-3q55-vv33: fixed %q severity %q", f.FixedVersion, f.Severity)
		}
		for _, s := range r.Statements {
			if s.Status != "under_investigation" { // every analysis is in_triage
				t.Errorf("statement %+v", s)
			}
		}
	},
	"valid-vulnerability-1.4.json": func(t *testing.T, r *vuln.Report) {
		// Snyk's id gives way to the CVE among its references.
		f := cdxFinding(t, r, "CVE-2018-7489", "jackson-databind")
		if !slices.Contains(f.Aliases, "SNYK-JAVA-COMFASTERXMLJACKSONCORE-32111") || f.Version != "2.9.4" ||
			f.Severity != vuln.Critical || f.CVSSScore != 9.8 {
			t.Errorf("finding %+v", f)
		}
		s := r.Statements[0]
		if s.Status != "not_affected" || s.Justification != "vulnerable_code_not_in_execute_path" ||
			s.Action != "will_not_fix, update" || !strings.HasPrefix(s.Impact, "An optional explanation") ||
			s.Product != "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.4" {
			t.Errorf("statement %+v", s)
		}
		if r.Tool != "CycloneDX" {
			t.Errorf("tool %q: the BOM names none", r.Tool)
		}
	},
	"issue_9277.json": func(t *testing.T, r *vuln.Report) {
		if r.Tool != "Trivy" || r.ToolVersion != "0.48.1" || r.Target != "ubuntu:latest" {
			t.Errorf("tool %q %q, target %q", r.Tool, r.ToolVersion, r.Target)
		}
		// CVSSv31: NVD medium 5.5, Red Hat low 5.5: the most severe.
		f := cdxFinding(t, r, "CVE-2022-27943", "libstdc%2B%2B6")
		if f.Version != "12.3.0-1ubuntu1~22.04" || f.Severity != vuln.Medium || f.CVSSScore != 5.5 {
			t.Errorf("CVE-2022-27943: %+v", f)
		}
		// NVD CVSSv31 high 7.5 outranks NVD's CVSSv2 medium and Ubuntu's low.
		if f := cdxFinding(t, r, "CVE-2016-20013", "libc6"); f.Severity != vuln.High || f.CVSSScore != 7.5 {
			t.Errorf("CVE-2016-20013: %+v", f)
		}
		// Its ref, a Debian tar purl, names no component of this Ubuntu image.
		f = cdxFinding(t, r, "TEMP-0290435-0B57B5", "")
		if !strings.HasPrefix(f.Package, "pkg:deb/debian/tar@") || f.Version != "1.30+dfsg-6" || f.Severity != vuln.Low {
			t.Errorf("TEMP-0290435-0B57B5: %+v", f)
		}
	},
}

func TestCycloneDXSamples(t *testing.T) {
	imp := vxImporter(t, "cyclonedx")
	checked := 0
	for _, rel := range vxSamples(t, "cyclonedx") {
		t.Run(path.Base(rel), func(t *testing.T) {
			t.Parallel()
			data := fixture.Read(t, rel)
			r, err := imp.Parse(rel, data)
			if err != nil {
				t.Fatal(err)
			}
			vxCheck(t, r)
			findings, statements, ids, complete := cdxWalk(t, data)
			if len(r.Findings) != findings || len(r.Statements) != statements {
				t.Errorf("%d findings, %d statements; the file has %d, %d", len(r.Findings), len(r.Statements), findings, statements)
			}
			if r.Complete != complete {
				t.Errorf("Complete = %v, want %v", r.Complete, complete)
			}
			for _, f := range r.Findings {
				if !ids[f.VulnID] || f.Package == "" {
					t.Errorf("finding %s (package %q) is not in the file", f.VulnID, f.Package)
				}
			}
			if check := cdxChecks[path.Base(rel)]; check != nil {
				check(t, r)
			}
		})
		if cdxChecks[path.Base(rel)] != nil {
			checked++
		}
	}
	if checked != len(cdxChecks) {
		t.Errorf("only %d of the %d checked samples are there", checked, len(cdxChecks))
	}
}

func TestCycloneDXDetect(t *testing.T) {
	vxCheckDetect(t, "cyclonedx", vxSamples(t, "cyclonedx"), vxWithout(vxOtherFolders, "cyclonedx")...)
}

// cdxVEX is a CycloneDX 1.5 VEX document: no components, refs as
// BOM-Links, tools in the 1.5 form.
const cdxVEX = `{
  "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
  "metadata": {"tools": {"components": [{"type": "application", "name": "vexctl-cdx", "version": "2.1.0"}]},
               "component": {"name": "shop-api", "version": "3.2.0", "bom-ref": "shop-api"}},
  "vulnerabilities": [
    {"id": "CVE-2023-44487", "ratings": [{"severity": "unknown"}],
     "analysis": {"state": "exploitable", "response": ["update"], "detail": "HTTP/2 is on."},
     "affects": [{"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#pkg:golang/golang.org/x/net@v0.7.0"}]},
    {"id": "GHSA-qppj-fm5r-hxr3", "references": [{"id": "CVE-2023-39325"}],
     "analysis": {"state": "false_positive"}, "affects": [{"ref": "shop-api"}]},
    {"id": "CVE-2022-41723", "analysis": {"state": "resolved", "justification": "code_not_present"}},
    {"id": "CVE-2024-24786", "ratings": [{"method": "OWASP", "score": 8}, {"method": "CVSSv31", "score": 5.9}],
     "affects": [{"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#pkg:golang/google.golang.org/protobuf@v1.30.0"}]}
  ]
}`

func TestCycloneDXVEX(t *testing.T) {
	r, err := vxImporter(t, "cyclonedx").Parse("vex.cdx.json", []byte(cdxVEX))
	if err != nil {
		t.Fatal(err)
	}
	vxCheck(t, r)
	if r.Complete || r.Tool != "vexctl-cdx" || r.ToolVersion != "2.1.0" || r.Target != "shop-api@3.2.0" {
		t.Errorf("report: complete %v, tool %q %q, target %q", r.Complete, r.Tool, r.ToolVersion, r.Target)
	}
	want := []vuln.Statement{
		{VulnID: "CVE-2023-44487", Product: "pkg:golang/golang.org/x/net@v0.7.0", Status: "affected", Impact: "HTTP/2 is on.", Action: "update"},
		{VulnID: "CVE-2023-39325", Aliases: []string{"GHSA-qppj-fm5r-hxr3"}, Product: "shop-api", Status: "not_affected", Justification: "false_positive"},
		{VulnID: "CVE-2022-41723", Product: "shop-api@3.2.0", Status: "fixed", Justification: "vulnerable_code_not_present"},
	}
	if len(r.Statements) != len(want) {
		t.Fatalf("statements %+v", r.Statements)
	}
	for i, w := range want {
		if g := r.Statements[i]; g.VulnID != w.VulnID || g.Product != w.Product || g.Status != w.Status ||
			g.Justification != w.Justification || g.Impact != w.Impact || g.Action != w.Action || !slices.Equal(g.Aliases, w.Aliases) {
			t.Errorf("statement %d = %+v, want %+v", i, g, w)
		}
	}
	// Only the vulnerability without an analysis is a finding; OWASP's
	// score is not on the CVSS scale.
	if len(r.Findings) != 1 {
		t.Fatalf("findings %+v", r.Findings)
	}
	if f := r.Findings[0]; f.VulnID != "CVE-2024-24786" || f.Package != "pkg:golang/google.golang.org/protobuf@v1.30.0" ||
		f.Version != "v1.30.0" || f.Severity != vuln.Medium || f.SeveritySource != "cvss" || f.CVSSScore != 5.9 {
		t.Errorf("finding %+v", f)
	}
}

func TestCycloneDXNestedAndUnrated(t *testing.T) {
	doc := `{"bomFormat": "CycloneDX", "specVersion": "1.6",
	  "metadata": {"tools": [{"vendor": "acme", "name": "acme-scan", "version": "1"}], "component": {"purl": "pkg:oci/app@sha256%3Aabc"}},
	  "components": [{"bom-ref": "app", "name": "app", "components": [
	    {"bom-ref": "inner", "group": "org.acme", "name": "codec", "version": "1.2"}]}],
	  "vulnerabilities": [
	    {"id": "ACME-1", "ratings": [{"severity": "unknown"}], "affects": [{"ref": "inner"}, {"ref": "inner"}]},
	    {"id": "ACME-2"}]}`
	r, err := vxImporter(t, "cyclonedx").Parse("nested.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete || r.Target != "pkg:oci/app@sha256%3Aabc" || len(r.Findings) != 2 || len(r.Statements) != 0 {
		t.Fatalf("report %+v", r)
	}
	if f := r.Findings[0]; f.Package != "org.acme/codec" || f.Version != "1.2" || f.Severity != vuln.Medium ||
		f.SeveritySource != "assumed: rated unknown" {
		t.Errorf("nested component: %+v", f)
	}
	if f := r.Findings[1]; f.Package != "" || f.Severity != vuln.Medium || f.SeveritySource != "assumed: no rating" || f.Title != "ACME-2" {
		t.Errorf("unrated, unaffecting: %+v", f)
	}
}

func TestCycloneDXBadInput(t *testing.T) {
	log4j := fixture.Read(t, "vuln/cyclonedx/log4j.json")
	vxCheckBad(t, "cyclonedx", []vxBad{
		{name: "truncated", data: log4j[:len(log4j)/2], line: true, msg: "truncated"},
		{name: "wrong type", data: []byte(`{"bomFormat": "CycloneDX", "vulnerabilities": [{"id": "CVE-2021-1", "ratings": "high"}]}`),
			line: true, path: "ratings"},
		{name: "unknown severity", data: bytes.Replace(log4j, []byte(`"severity": "critical"`), []byte(`"severity": "catastrophic"`), 1),
			path: "vulnerabilities[0].ratings[0].severity", msg: "catastrophic"},
		{name: "unknown analysis state", data: bytes.Replace(log4j, []byte(`"in_triage"`), []byte(`"triaged"`), 1),
			path: "vulnerabilities[0].analysis.state"},
		{name: "no id", data: []byte(`{"bomFormat": "CycloneDX", "vulnerabilities": [{"description": "x"}]}`), path: "vulnerabilities[0].id"},
		{name: "sbom only", data: []byte(`{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}`), path: "vulnerabilities", msg: "SBOM"},
		{name: "not cyclonedx", data: []byte(`{"bomFormat": "SPDX", "vulnerabilities": []}`), path: "bomFormat"},
		{name: "array", data: []byte(`[{"bomFormat": "CycloneDX"}]`), line: true, msg: "not a CycloneDX document"},
		{name: "tools", data: []byte(`{"bomFormat": "CycloneDX", "metadata": {"tools": "trivy"}, "vulnerabilities": []}`), path: "metadata.tools"},
		{name: "empty", data: []byte(" \n"), msg: "empty"},
	})
}

func TestCycloneDXHugeString(t *testing.T) {
	data := vxHuge(`{"bomFormat": "CycloneDX", "components": [{"bom-ref": "a", "name": "a"}], "vulnerabilities": [{"id": "CVE-2024-0001", "description": "`,
		`", "affects": [{"ref": "a"}]}]}`)
	r, err := vxImporter(t, "cyclonedx").Parse("huge.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || utf8.RuneCountInString(r.Findings[0].Title) > 120 {
		t.Errorf("%d findings, title of %d characters", len(r.Findings), len(r.Findings[0].Title))
	}
}

// vxFuzz is the body of the fuzz targets: Parse never panics, fails only
// with an *importers.Error and, when it succeeds, keeps the invariants.
func vxFuzz(t *testing.T, format string, data []byte) {
	r, err := vxImporter(t, format).Parse("fuzz", data)
	if err != nil {
		vxParseErr(t, err)
		return
	}
	vxCheck(t, r)
}

func FuzzCycloneDX(f *testing.F) {
	for _, rel := range vxSamples(f, "cyclonedx") {
		f.Add(fixture.Read(f, rel))
	}
	f.Add([]byte(cdxVEX))
	f.Fuzz(func(t *testing.T, data []byte) { vxFuzz(t, "cyclonedx", data) })
}
