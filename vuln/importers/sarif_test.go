package importers_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// sarifWant walks a SARIF log: the results of every run, but for checks
// that passed or did not apply and results under a suppression that was
// neither rejected nor is under review.
func sarifWant(t testing.TB, data []byte) (findings, runs int, tool string) {
	doc := osgDecode(t, data)
	for i, run := range osgList(doc["runs"]) {
		runs++
		if i == 0 {
			tool = osgStr(osgObj(osgObj(osgObj(run)["tool"])["driver"])["name"])
		}
	results:
		for _, res := range osgList(osgObj(run)["results"]) {
			switch osgStr(osgObj(res)["kind"]) {
			case "pass", "notApplicable":
				continue
			}
			for _, s := range osgList(osgObj(res)["suppressions"]) {
				if st := osgStr(osgObj(s)["status"]); st == "" || st == "accepted" {
					continue results
				}
			}
			findings++
		}
	}
	return findings, runs, tool
}

func TestSARIFSamples(t *testing.T) {
	table := []string{
		"codeQL-output.sarif",
		"gitleaks_7.5.0.sarif",
		"no_runs.sarif",
		"semgrepowasp-benchmark-sample.sarif",
		"suppression_test.sarif",
	}
	osgCheckTable(t, "vuln/sarif", table)
	imp := osgImporter(t, "sarif")
	for _, name := range table {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := fixture.Read(t, "vuln/sarif/"+name)
			want, runs, tool := sarifWant(t, data)
			r, err := imp.Parse(name, data)
			if runs == 0 {
				if e := osgError(t, err); e.Msg != "the SARIF log has no runs" || e.Path != "runs" {
					t.Fatalf("a log without runs: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			osgValid(t, r)
			if len(r.Findings) != want {
				t.Errorf("%d findings, want %d", len(r.Findings), want)
			}
			if r.Tool != tool || !r.Complete {
				t.Errorf("Tool %q Complete %v, want %q", r.Tool, r.Complete, tool)
			}
			for _, f := range r.Findings {
				if f.Location == "" || f.Description == "" {
					t.Errorf("%s: location %q description %q", f.VulnID, f.Location, f.Description)
				}
				for _, a := range f.Aliases {
					if !strings.HasPrefix(a, "CVE-") {
						t.Errorf("%s: alias %s is not a CVE", f.VulnID, a)
					}
				}
			}
		})
	}
}

func TestSARIFFindings(t *testing.T) {
	imp := osgImporter(t, "sarif")
	reports := map[string]*vuln.Report{}
	for _, name := range []string{"codeQL-output.sarif", "gitleaks_7.5.0.sarif", "semgrepowasp-benchmark-sample.sarif", "suppression_test.sarif"} {
		r, err := imp.Parse(name, fixture.Read(t, "vuln/sarif/"+name))
		if err != nil {
			t.Fatal(err)
		}
		reports[name] = r
	}
	for _, tc := range []struct {
		file, id, location string
		title              string
		severity           vuln.Severity
		source             string
	}{
		// The rule is found by ruleIndex; its default level is error.
		{"codeQL-output.sarif", "py/sql-injection", "bad/libuser.py:12", "SQL query built from user-controlled sources", vuln.High, "sarif level: error"},
		{"codeQL-output.sarif", "py/empty-except", "good/db_init.py:39", "Empty except", vuln.Info, "sarif level: note"},
		{"codeQL-output.sarif", "py/unreachable-statement", "good/mod_user.py:87", "Unreachable code", vuln.Medium, "sarif level: warning"},
		// Semgrep: the rule is found by ruleId.
		{"semgrepowasp-benchmark-sample.sarif", "java.lang.security.audit.cbc-padding-oracle.cbc-padding-oracle",
			"src/main/java/org/owasp/benchmark/testcode/BenchmarkTest02660.java:59", "", vuln.Medium, "sarif level: warning"},
		// Gitleaks 7 names no rule: the message is the id; no level.
		{"gitleaks_7.5.0.sarif", "AWS Access Key secret detected", "dojo/unittests/tools/test_gitlab_secret_detection_report_parser.py:37",
			"AWS Access Key secret detected", vuln.Medium, "assumed: SARIF's default level, warning"},
		// The two results not suppressed; no region, so no line.
		{"suppression_test.sarif", "TST0004", "file:///C:/code/file4.c", "Not suppressed", vuln.Medium, "assumed: SARIF's default level, warning"},
		{"suppression_test.sarif", "TST0005", "file:///C:/code/file5.c", "Not suppressed", vuln.Medium, "assumed: SARIF's default level, warning"},
	} {
		t.Run(tc.file+"/"+tc.id, func(t *testing.T) {
			var f vuln.Reported
			var n int
			for _, g := range reports[tc.file].Findings {
				if g.VulnID == tc.id && g.Location == tc.location {
					f, n = g, n+1
				}
			}
			// Gitleaks reports the same secret once per commit.
			if n == 0 {
				t.Fatalf("no finding %s at %s", tc.id, tc.location)
			}
			if f.Severity != tc.severity || f.SeveritySource != tc.source {
				t.Errorf("severity %q (%q), want %q (%q)", f.Severity, f.SeveritySource, tc.severity, tc.source)
			}
			if tc.title != "" && f.Title != tc.title {
				t.Errorf("title %q, want %q", f.Title, tc.title)
			}
		})
	}
	for _, id := range []string{"TST0001", "TST0002", "TST0003"} {
		for _, f := range reports["suppression_test.sarif"].Findings {
			if f.VulnID == id {
				t.Errorf("suppressed result %s was imported", id)
			}
		}
	}
	if r := reports["gitleaks_7.5.0.sarif"]; r.Tool != "Gitleaks" || r.ToolVersion != "v7.4.0" {
		t.Errorf("gitleaks: tool %q %q", r.Tool, r.ToolVersion)
	}
	if r := reports["codeQL-output.sarif"]; r.Tool != "CodeQL" || r.ToolVersion != "2.5.4" {
		t.Errorf("codeql: tool %q %q", r.Tool, r.ToolVersion)
	}
}

// TestSARIFRules covers what the samples do not: security-severity, CVE
// tags, rules in extensions, message strings, suppression states,
// several runs, and the target.
func TestSARIFRules(t *testing.T) {
	log := `{"version":"2.1.0","runs":[
	{"tool":{"driver":{"name":"Trivy","version":"0.50.0","rules":[
		{"id":"CVE-2023-1","shortDescription":{"text":"short"},"properties":{"security-severity":"9.8","tags":["vulnerability","CVE-2023-1","cve-2023-12345","CWE-79","CVE-1"]}},
		{"id":"R2","defaultConfiguration":{"level":"note"},"properties":{"security-severity":7.5},"messageStrings":{"m":{"text":"value {0} in {1}"}}}]},
		"extensions":[{"name":"pack","rules":[{"id":"E1","properties":{"security-severity":"bad"},"defaultConfiguration":{"level":"error"}}]}]},
	 "versionControlProvenance":[{"repositoryUri":"https://example.com/repo"}],
	 "results":[
		{"ruleId":"CVE-2023-1","message":{"text":"m1"},"locations":[{"physicalLocation":{"artifactLocation":{"index":0},"region":{"startLine":3}}}]},
		{"ruleIndex":1,"message":{"id":"m","arguments":["x","y"]}},
		{"rule":{"id":"E1","index":0,"toolComponent":{"index":0}},"message":{"text":"m3"}},
		{"ruleId":"R2","kind":"pass","message":{"text":"passed"}},
		{"ruleId":"R2","level":"none","message":{"text":"m5"},"suppressions":[{"kind":"external","status":"rejected"}]},
		{"ruleId":"R2","message":{"text":"m6"},"suppressions":[{"kind":"external","status":"underReview"}]},
		{"ruleId":"R2","message":{"text":"m7"},"suppressions":[{"kind":"external","status":"accepted"}]}],
	 "artifacts":[{"location":{"uri":"go.sum"}}]},
	{"tool":{"driver":{"name":"Other"}},"results":[{"ruleId":"O1","level":"error","message":{"text":"m8"}}]}]}`
	r, err := osgImporter(t, "sarif").Parse("rules", []byte(log))
	if err != nil {
		t.Fatal(err)
	}
	osgValid(t, r)
	if r.Tool != "Trivy" || r.ToolVersion != "0.50.0" || r.Target != "https://example.com/repo" {
		t.Errorf("report %q %q %q", r.Tool, r.ToolVersion, r.Target)
	}
	type got struct {
		id, title, desc, loc string
		sev                  vuln.Severity
		source               string
		aliases              string
	}
	var all []got
	for _, f := range r.Findings {
		all = append(all, got{f.VulnID, f.Title, f.Description, f.Location, f.Severity, f.SeveritySource, strings.Join(f.Aliases, ",")})
	}
	want := []got{
		{"CVE-2023-1", "short", "m1", "go.sum:3", vuln.Critical, "security-severity", "CVE-2023-12345"},
		{"R2", "value x in y", "value x in y", "", vuln.High, "security-severity", ""},
		{"E1", "m3", "m3", "", vuln.High, "sarif level: error", ""},
		{"R2", "m5", "m5", "", vuln.High, "security-severity", ""},
		{"R2", "m6", "m6", "", vuln.High, "security-severity", ""},
		{"O1", "m8", "m8", "", vuln.High, "sarif level: error", ""},
	}
	if !slices.Equal(all, want) {
		t.Errorf("findings\n%+v\nwant\n%+v", all, want)
	}
}

func TestSARIFDetect(t *testing.T) { osgDetect(t, "sarif", "vuln/sarif") }

func TestSARIFBadInput(t *testing.T) {
	imp := osgImporter(t, "sarif")
	codeql := fixture.Read(t, "vuln/sarif/codeQL-output.sarif")
	for _, tc := range []struct {
		name, data string
		line       bool
		path, msg  string
	}{
		{name: "truncated", data: string(codeql[:len(codeql)/3]), line: true, msg: "the JSON is truncated"},
		{name: "empty", data: "", msg: "the report is empty"},
		{name: "runs is a number", data: `{"version":"2.1.0","runs": 5}`, line: true, path: "runs"},
		{name: "level is a number", data: `{"version":"2.1.0","runs":[{"results":[{"level":3}]}]}`, line: true, path: "runs.results.level"},
		{name: "no runs key", data: `{"version":"2.1.0"}`, path: "runs", msg: "the SARIF log has no runs"},
		{name: "null runs", data: `{"version":"2.1.0","runs":null}`, path: "runs", msg: "the SARIF log has no runs"},
		{name: "SARIF 1", data: `{"version":"1.0.0","runs":[]}`, path: "version"},
		{name: "unknown level", data: `{"version":"2.1.0","runs":[{"results":[{"ruleId":"a","level":"fatal","message":{"text":"m"}}]}]}`, path: "runs[0].results[0].level"},
		{name: "no rule no message", data: `{"version":"2.1.0","runs":[{"results":[{"message":{}}]}]}`, path: "runs[0].results[0]"},
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
	for _, log := range []string{
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}}}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}},"results":[]}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}},"results":null}]}`,
	} {
		r, err := imp.Parse("no results", []byte(log))
		if err != nil || len(r.Findings) != 0 || r.Tool != "T" {
			t.Errorf("%s: %+v, %v", log, r, err)
		}
	}
}

func TestSARIFHugeString(t *testing.T) {
	data := osgHuge(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}},"results":[{"ruleId":"R","message":{"text":"`, `"}}]}]}`)
	r, err := osgImporter(t, "sarif").Parse("huge", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || len(r.Findings[0].Description) != importers.MaxString {
		t.Fatalf("%d findings", len(r.Findings))
	}
}

func FuzzSARIF(f *testing.F) {
	osgFuzz(f, "sarif", "vuln/sarif",
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T","rules":[{"id":"R","properties":{"security-severity":"5.0","tags":["CVE-2020-1"]}}]}},"results":[{"ruleIndex":0,"message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a"},"region":{"startLine":1}}}]}]}]}`)
}
