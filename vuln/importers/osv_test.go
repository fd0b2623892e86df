package importers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// The osg helpers serve the osv, sarif and govulncheck tests.

// osgSamples lists a fixture folder, so that a sample added to it without
// a case in the table fails the test.
func osgSamples(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(fixture.Path(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

func osgCheckTable(t *testing.T, dir string, table []string) {
	t.Helper()
	got := osgSamples(t, dir)
	want := slices.Sorted(slices.Values(table))
	if !slices.Equal(got, want) {
		t.Fatalf("%s holds %v; the test's table covers %v", dir, got, want)
	}
}

func osgImporter(t testing.TB, format string) importers.Importer {
	t.Helper()
	imp, ok := importers.Get(format)
	if !ok {
		t.Fatalf("format %q is not registered (have %v)", format, importers.Names())
	}
	return imp
}

// osgValid checks what every parsed report must hold.
func osgValid(t testing.TB, r *vuln.Report) {
	t.Helper()
	for i, f := range r.Findings {
		if strings.TrimSpace(f.VulnID) == "" {
			t.Errorf("finding %d has no VulnID: %+v", i, f)
		}
		if !slices.Contains(vuln.Severities, f.Severity) {
			t.Errorf("finding %d (%s) has severity %q", i, f.VulnID, f.Severity)
		}
	}
}

func osgError(t testing.TB, err error) *importers.Error {
	t.Helper()
	var e *importers.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *importers.Error", err, err)
	}
	return e
}

// osgFind returns the one finding with the id whose package or location
// is where.
func osgFind(t testing.TB, r *vuln.Report, id, where string) vuln.Reported {
	t.Helper()
	var found []vuln.Reported
	for _, f := range r.Findings {
		if f.VulnID == id && (f.Package == where || f.Location == where) {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d findings %s at %s, want 1", len(found), id, where)
	}
	return found[0]
}

// osgDetect checks that every sample of dir is detected as format, by
// that importer and by the registry (so by no other importer), and that
// the samples of the other folders are not.
func osgDetect(t *testing.T, format, dir string) {
	imp := osgImporter(t, format)
	entries, err := os.ReadDir(fixture.Path(t, "vuln"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		for _, name := range osgSamples(t, "vuln/"+e.Name()) {
			rel := path.Join("vuln", e.Name(), name)
			data := fixture.Read(t, rel)
			if len(bytes.TrimSpace(data)) == 0 {
				continue // the registry says "empty" before asking anyone
			}
			own := "vuln/"+e.Name() == dir
			if got := imp.Detect(data); got != own {
				t.Errorf("%s: %s.Detect = %v, want %v", rel, format, got, own)
			}
			if !own {
				continue
			}
			found, err := importers.Detect(rel, data)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
			} else if found.Name() != format {
				t.Errorf("%s detected as %s", rel, found.Name())
			}
		}
	}
}

// osgHuge is a report with a 100 MB string between prefix and suffix.
func osgHuge(prefix, suffix string) []byte {
	b := make([]byte, 0, len(prefix)+len(suffix)+100<<20)
	b = append(b, prefix...)
	b = append(b, bytes.Repeat([]byte("A"), 100<<20)...)
	return append(b, suffix...)
}

// osgFuzz seeds a fuzz target with a folder's samples and checks that
// Parse never panics, fails only with an *Error, and returns only
// findings with an id and a known severity.
func osgFuzz(f *testing.F, format, dir string, seeds ...string) {
	for _, name := range osgSamples(f, dir) {
		f.Add(osgShrink(fixture.Read(f, dir+"/"+name)))
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	imp := osgImporter(f, format)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := imp.Parse("fuzz", data)
		if err != nil {
			var e *importers.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *importers.Error", err, err)
			}
			return
		}
		osgValid(t, r)
	})
}

// osgShrink cuts a sample down to a seed the fuzzer can use: it
// minimises every input that finds new coverage by removing bytes one at
// a time, so a seed of a few kilobytes stalls a 15 s run. The seed keeps
// the sample's structure, with short strings, 2 values of each kind in a
// stream, and as few elements per array and keys per object as bring it
// to about 3 KB.
func osgShrink(data []byte) []byte {
	if len(data) <= 1<<10 {
		return data
	}
	var out []byte
	for _, limit := range [][2]int{{2, 16}, {1, 16}, {1, 12}} {
		if out = osgCut(data, limit[0], limit[1]); len(out) <= 3<<10 {
			break
		}
	}
	return out
}

func osgCut(data []byte, elements, keys int) []byte {
	var cut func(v any) any
	cut = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			// Objects used as maps (govulncheck's Calls.Functions) lose
			// entries too; records have fewer keys.
			for i, k := range slices.Sorted(maps.Keys(x)) {
				if i < keys {
					x[k] = cut(x[k])
				} else {
					delete(x, k)
				}
			}
		case []any:
			x = x[:min(len(x), elements)]
			for i, e := range x {
				x[i] = cut(e)
			}
			return x
		case string:
			return x[:min(len(x), 24)]
		}
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	kinds := map[string]int{}
	var out bytes.Buffer
	for {
		var v any
		if dec.Decode(&v) != nil {
			break
		}
		kind := strings.Join(slices.Sorted(maps.Keys(osgObj(v))), ",")
		if kinds[kind]++; kinds[kind] > 2 {
			continue
		}
		b, _ := json.Marshal(cut(v))
		out.Write(append(b, '\n'))
	}
	return out.Bytes()
}

func osgDecode(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func osgObj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func osgList(v any) []any         { l, _ := v.([]any); return l }
func osgStr(v any) string         { s, _ := v.(string); return s }

// osvWant walks an osv-scanner report: one finding per group of a
// package that names a listed vulnerability, and one per vulnerability
// no group names. ids holds each vulnerability id with the version of its
// package and the source it was found in.
func osvWant(t testing.TB, data []byte) (findings int, ids map[[3]string]bool) {
	ids = map[[3]string]bool{}
	for _, res := range osgList(osgDecode(t, data)["results"]) {
		source := osgStr(osgObj(osgObj(res)["source"])["path"])
		for _, p := range osgList(osgObj(res)["packages"]) {
			pkg := osgObj(osgObj(p)["package"])
			version := osgStr(pkg["version"]) + osgStr(pkg["commit"])
			listed := map[string]bool{}
			for _, v := range osgList(osgObj(p)["vulnerabilities"]) {
				id := osgStr(osgObj(v)["id"])
				listed[id] = true
				ids[[3]string{id, version, source}] = true
			}
			taken := map[string]bool{}
			for _, g := range osgList(osgObj(p)["groups"]) {
				members := 0
				for _, id := range osgList(osgObj(g)["ids"]) {
					if listed[osgStr(id)] && !taken[osgStr(id)] {
						taken[osgStr(id)] = true
						members++
					}
				}
				if members > 0 {
					findings++
				}
			}
			findings += len(listed) - len(taken)
		}
	}
	return findings, ids
}

func TestOSVSamples(t *testing.T) {
	table := []string{"many_findings.json", "no_findings.json", "some_findings.json"}
	osgCheckTable(t, "vuln/osv", table)
	imp := osgImporter(t, "osv")
	for _, name := range table {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := fixture.Read(t, "vuln/osv/"+name)
			r, err := imp.Parse(name, data)
			if len(bytes.TrimSpace(data)) == 0 {
				// osv-scanner wrote nothing: that is not a scan without
				// findings, which would be {"results": []}.
				if e := osgError(t, err); e.Msg != "the report is empty" {
					t.Fatalf("Parse of an empty file: %v", err)
				}
				if _, err := importers.Detect(name, data); err == nil || osgError(t, err).Msg != "the report is empty" {
					t.Fatalf("Detect of an empty file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			osgValid(t, r)
			want, ids := osvWant(t, data)
			if len(r.Findings) != want {
				t.Errorf("%d findings, want %d", len(r.Findings), want)
			}
			if r.Tool != "osv-scanner" || !r.Complete {
				t.Errorf("Tool %q Complete %v", r.Tool, r.Complete)
			}
			// Every vulnerability of the file is in a finding of its
			// package and source, as the id or an alias.
			seen := map[[3]string]bool{}
			for _, f := range r.Findings {
				if f.Target == "" || f.Package == "" {
					t.Errorf("%s: target %q package %q", f.VulnID, f.Target, f.Package)
				}
				for _, id := range append([]string{f.VulnID}, f.Aliases...) {
					seen[[3]string{id, f.Version, f.Target}] = true
				}
			}
			for id := range ids {
				if !seen[id] {
					t.Errorf("vulnerability %v is in no finding", id)
				}
			}
		})
	}
}

func TestOSVFindings(t *testing.T) {
	many := fixture.Read(t, "vuln/osv/many_findings.json")
	some := fixture.Read(t, "vuln/osv/some_findings.json")
	imp := osgImporter(t, "osv")
	rm, err := imp.Parse("many_findings.json", many)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := imp.Parse("some_findings.json", some)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		r        *vuln.Report
		id, pkg  string
		version  string
		fixed    string
		severity vuln.Severity
		source   string
		score    float64
		alias    string
		target   string
	}{
		// GHSA says HIGH; the vector scores 7.7; 6.3.3 is fixed in 6.5.8
		// (7.4.5 fixes the 7.x line).
		{name: "GHSA with a word", r: rm, id: "CVE-2022-31090", pkg: "Packagist/guzzlehttp/guzzle", version: "6.3.3",
			fixed: "6.5.8", severity: vuln.High, score: 7.7, alias: "GHSA-25mq-v84q-4j7r", target: "/tmpcardmarket-api/composer.lock"},
		// A GHSA and a PYSEC of one CVE: one finding, both aliases.
		{name: "group of two", r: rm, id: "CVE-2022-28346", pkg: "PyPI/django", version: "3.2.4",
			fixed: "3.2.13", severity: vuln.Critical, score: 9.8, alias: "PYSEC-2022-190", target: "/tmprengine/web/requirements.txt"},
		// Two advisories osv-scanner groups: 1.8.4 fixes one, 1.9.1 both.
		{name: "group of two advisories", r: rm, id: "CVE-2022-24775", pkg: "Packagist/guzzlehttp/psr7", version: "1.6.1",
			fixed: "1.9.1", severity: vuln.Medium, score: 5.3, alias: "GHSA-wxmh-65f7-jcvw", target: "/tmpcardmarket-api/composer.lock"},
		// A git checkout: no word, the vector alone (8.8), no fix.
		{name: "vector only", r: rm, id: "CVE-2023-50094", pkg: "https://github.com/yogeshojha/rengine",
			version: "f5f3c22f3ed5a6804a2a8d9ee9fa43044cfa24a6", severity: vuln.High, source: "cvss", score: 8.8, target: "/tmprengine/"},
		// PYSEC without a word; the GIT range's commit is not a version.
		{name: "PYSEC", r: rm, id: "CVE-2023-5590", pkg: "PyPI/selenium", version: "3.141.0", fixed: "4.14.0",
			severity: vuln.High, source: "cvss", score: 7.5, alias: "PYSEC-2023-206", target: "/tmprengine/web/requirements.txt"},
		// No CVE, no severity at all.
		{name: "malware", r: rs, id: "MAL-2023-1035", pkg: "npm/flot-axis", version: "0.0.0",
			severity: vuln.Medium, source: "assumed: no severity in the report", alias: "GHSA-8348-2q94-ffjx", target: "/tmp/components/yarn.lock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := osgFind(t, tc.r, tc.id, tc.pkg)
			if f.Version != tc.version || f.FixedVersion != tc.fixed {
				t.Errorf("version %q fixed %q, want %q %q", f.Version, f.FixedVersion, tc.version, tc.fixed)
			}
			if f.Severity != tc.severity || f.SeveritySource != tc.source || f.CVSSScore != tc.score {
				t.Errorf("severity %q (%q) score %v, want %q (%q) %v", f.Severity, f.SeveritySource, f.CVSSScore, tc.severity, tc.source, tc.score)
			}
			if tc.alias != "" && !slices.Contains(f.Aliases, tc.alias) {
				t.Errorf("aliases %v lack %s", f.Aliases, tc.alias)
			}
			if slices.Contains(f.Aliases, f.VulnID) {
				t.Errorf("aliases %v repeat the id", f.Aliases)
			}
			if f.Target != tc.target || f.Title == "" {
				t.Errorf("target %q title %q", f.Target, f.Title)
			}
		})
	}
}

// TestOSVScoreFromVector checks the base score computed from a vector
// against the scores Trivy and Grype print beside the same vectors in
// their samples.
func TestOSVScoreFromVector(t *testing.T) {
	want := map[string]float64{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if vec, ok := x["V3Vector"].(string); ok {
				if s, ok := x["V3Score"].(float64); ok {
					want[vec] = s
				}
			}
			if vec, ok := x["vector"].(string); ok {
				if s, ok := osgObj(x["metrics"])["baseScore"].(float64); ok && strings.HasPrefix(vec, "CVSS:3") {
					want[vec] = s
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, dir := range []string{"vuln/trivy", "vuln/grype"} {
		for _, name := range osgSamples(t, dir) {
			walk(osgDecode(t, fixture.Read(t, dir+"/"+name)))
		}
	}
	if len(want) < 20 {
		t.Fatalf("only %d vectors with scores in the samples", len(want))
	}
	imp := osgImporter(t, "osv")
	for vec, score := range want {
		doc := fmt.Sprintf(`{"results":[{"source":{"path":"x"},"packages":[{"package":{"name":"p","version":"1","ecosystem":"npm"},
			"vulnerabilities":[{"id":"CVE-2000-0001","severity":[{"type":"CVSS_V3","score":%q}]}]}]}]}`, vec)
		r, err := imp.Parse("vector", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		f := r.Findings[0]
		if f.CVSSScore != score || f.CVSSVector != vec || f.Severity != vuln.SeverityFromCVSS(score) {
			t.Errorf("%s: score %v severity %s, want %v", vec, f.CVSSScore, f.Severity, score)
		}
	}
	// A vector that is not a whole v3 base vector gives no score.
	for _, vec := range []string{"CVSS:3.1/AV:N/AC:L", "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X", "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"} {
		doc := fmt.Sprintf(`{"results":[{"packages":[{"package":{"name":"p"},"vulnerabilities":[{"id":"X-1","severity":[{"type":"CVSS_V3","score":%q}]}]}]}]}`, vec)
		r, err := imp.Parse("vector", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if f := r.Findings[0]; f.CVSSScore != 0 || f.Severity != vuln.Medium || f.SeveritySource != "assumed: no severity in the report" {
			t.Errorf("%s: score %v severity %s (%s)", vec, f.CVSSScore, f.Severity, f.SeveritySource)
		}
	}
}

func TestOSVDetect(t *testing.T) {
	osgDetect(t, "osv", "vuln/osv")
	// What osv-scanner 1.x writes when it finds nothing.
	clean := `{"results": [], "experimental_config": {"licenses": {"summary": false, "allowlist": null}}}`
	if imp, err := importers.Detect("clean", []byte(clean)); err != nil || imp.Name() != "osv" {
		t.Errorf("a clean scan: %v", err)
	}
}

func TestOSVBadInput(t *testing.T) {
	imp := osgImporter(t, "osv")
	some := fixture.Read(t, "vuln/osv/some_findings.json")
	for _, tc := range []struct {
		name, data string
		line       bool
		path, msg  string
	}{
		{name: "truncated", data: string(some[:len(some)/2]), line: true, msg: "the JSON is truncated"},
		{name: "empty", data: "", msg: "the report is empty"},
		{name: "blank", data: " \n\t", msg: "the report is empty"},
		{name: "results is a number", data: `{"results": 5}`, path: "results"},
		{name: "id is a number", data: `{"results":[{"packages":[{"vulnerabilities":[{"id":5}]}]}]}`, path: "results.packages.vulnerabilities.id"},
		{name: "no results", data: `{"packages": []}`, path: "results"},
		{name: "no id", data: `{"results":[{"packages":[{"vulnerabilities":[{"id":" "}]}]}]}`, path: "results[0].packages[0].vulnerabilities[0].id"},
		{name: "syntax", data: "{\n\"results\": [,]}", line: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := imp.Parse(tc.name, []byte(tc.data))
			e := osgError(t, err)
			if tc.line && e.Line <= 0 {
				t.Errorf("%v: no line", e)
			}
			if e.Path != tc.path || (tc.msg != "" && e.Msg != tc.msg) {
				t.Errorf("%v: path %q msg %q, want %q %q", e, e.Path, e.Msg, tc.path, tc.msg)
			}
		})
	}
	// A scan that found nothing.
	r, err := imp.Parse("none", []byte(`{"results": []}`))
	if err != nil || len(r.Findings) != 0 {
		t.Fatalf("empty results: %v, %v", r, err)
	}
	// database_specific is free-form in OSV: a severity that is not a
	// word must not reject the report.
	r, err = imp.Parse("odd", []byte(`{"results":[{"packages":[{"package":{"name":"p"},"vulnerabilities":[{"id":"X-1","database_specific":{"severity":{"level":3}}}]}]}]}`))
	if err != nil || r.Findings[0].Severity != vuln.Medium {
		t.Fatalf("odd database_specific: %v, %v", r, err)
	}
}

func TestOSVHugeString(t *testing.T) {
	data := osgHuge(`{"results":[{"source":{"path":"x"},"packages":[{"package":{"name":"p","version":"1","ecosystem":"npm"},"vulnerabilities":[{"id":"CVE-2024-0001","summary":"s","details":"`, `"}]}]}]}`)
	r, err := osgImporter(t, "osv").Parse("huge", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || len(r.Findings[0].Description) != importers.MaxString {
		t.Fatalf("%d findings (a string is read up to MaxString)", len(r.Findings))
	}
}

func FuzzOSV(f *testing.F) {
	osgFuzz(f, "osv", "vuln/osv",
		`{"results":[]}`,
		`{"results":[{"packages":[{"package":{"name":"p","version":"1.2"},"vulnerabilities":[{"id":"A","aliases":["CVE-1"],"affected":[{"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.3"}]}]}]}],"groups":[{"ids":["A","B"]}]}]}]}`)
}
