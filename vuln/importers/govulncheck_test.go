package importers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// govulncheckWant walks a govulncheck -json stream (or the single object
// written before 1.0): one finding per vulnerability and module, however
// often the stream repeats it.
func govulncheckWant(t testing.TB, data []byte) (findings int, version string) {
	dec := json.NewDecoder(bytes.NewReader(data))
	seen := map[[2]string]bool{}
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if c := osgObj(m["config"]); c != nil {
			version = osgStr(c["scanner_version"])
		}
		if f := osgObj(m["finding"]); f != nil {
			trace := osgList(f["trace"])
			seen[[2]string{osgStr(f["osv"]), osgStr(osgObj(trace[0])["module"])}] = true
		}
		for _, v := range osgList(m["Vulns"]) {
			seen[[2]string{osgStr(osgObj(osgObj(v)["OSV"])["id"]), osgStr(osgObj(v)["ModPath"])}] = true
		}
	}
	return len(seen), version
}

func TestGovulncheckSamples(t *testing.T) {
	table := []string{"issue_15033.json", "many_vulns.json"}
	osgCheckTable(t, "vuln/govulncheck", table)
	imp := osgImporter(t, "govulncheck")
	for _, name := range table {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := fixture.Read(t, "vuln/govulncheck/"+name)
			r, err := imp.Parse(name, data)
			if err != nil {
				t.Fatal(err)
			}
			osgValid(t, r)
			want, version := govulncheckWant(t, data)
			if len(r.Findings) != want {
				t.Errorf("%d findings, want %d", len(r.Findings), want)
			}
			if r.Tool != "govulncheck" || r.ToolVersion != version || !r.Complete {
				t.Errorf("Tool %q %q Complete %v, want version %q", r.Tool, r.ToolVersion, r.Complete, version)
			}
			keys := map[string]bool{}
			for _, f := range r.Findings {
				if keys[f.Key()] {
					t.Errorf("finding %s repeated", f.Key())
				}
				keys[f.Key()] = true
				if f.Severity != vuln.Medium || f.SeveritySource != "assumed: govulncheck reports no severity" {
					t.Errorf("%s: severity %q (%q)", f.VulnID, f.Severity, f.SeveritySource)
				}
				if !strings.HasPrefix(f.Package, "Go/") || f.Version == "" || f.Title == "" {
					t.Errorf("%s: package %q version %q title %q", f.VulnID, f.Package, f.Version, f.Title)
				}
			}
		})
	}
}

func TestGovulncheckFindings(t *testing.T) {
	imp := osgImporter(t, "govulncheck")
	stream, err := imp.Parse("issue_15033.json", fixture.Read(t, "vuln/govulncheck/issue_15033.json"))
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := imp.Parse("many_vulns.json", fixture.Read(t, "vuln/govulncheck/many_vulns.json"))
	if err != nil {
		t.Fatal(err)
	}
	if stream.Target != "github.com/alielmi98/golang-expense-tracker-api" || legacy.Target != "github.com/jharper-sec/evil-app" {
		t.Errorf("targets %q, %q", stream.Target, legacy.Target)
	}
	for _, tc := range []struct {
		name                string
		r                   *vuln.Report
		id, pkg             string
		alias               string
		version, fixed      string
		title, descContains string
	}{
		// Reported at module, package and function level: the function
		// stays.
		{"called", stream, "CVE-2026-39836", "Go/stdlib", "GO-2026-4971", "v1.24.4", "v1.25.10",
			"Panic in Dial and LookupPort when handling NUL byte on Windows in net", "govulncheck: the vulnerable function net.Listen is called."},
		// No fixed version in the stream.
		{"unfixed", stream, "CVE-2025-30204", "Go/github.com/golang-jwt/jwt", "GHSA-mh63-6h87-95cp", "v3.2.2+incompatible", "",
			"Excessive memory allocation during header parsing in github.com/golang-jwt/jwt", "is called"},
		// Required only.
		{"module", stream, "CVE-2024-45338", "Go/golang.org/x/net", "GO-2024-3333", "v0.25.0", "v0.33.0",
			"Non-linear parsing of case-insensitive content in golang.org/x/net/html", ""},
		// Before 1.0: the fix comes from the OSV ranges (1.19.0 → 1.19.4).
		{"legacy", legacy, "CVE-2022-41717", "Go/stdlib", "GO-2022-1144", "v1.19.0", "v1.19.4",
			"An attacker can cause excessive memory growth in a Go server accepting HTTP/2 requests.", "is called"},
		{"legacy 0969", legacy, "CVE-2022-27664", "Go/stdlib", "GO-2022-0969", "v1.19.0", "v1.19.1", "", "is called"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := osgFind(t, tc.r, tc.id, tc.pkg)
			if !strings.Contains(strings.Join(f.Aliases, ","), tc.alias) {
				t.Errorf("aliases %v lack %s", f.Aliases, tc.alias)
			}
			if f.Version != tc.version || f.FixedVersion != tc.fixed {
				t.Errorf("version %q fixed %q, want %q %q", f.Version, f.FixedVersion, tc.version, tc.fixed)
			}
			if tc.title != "" && f.Title != tc.title {
				t.Errorf("title %q, want %q", f.Title, tc.title)
			}
			if !strings.Contains(f.Description, tc.descContains) {
				t.Errorf("description %q lacks %q", f.Description, tc.descContains)
			}
		})
	}
}

func TestGovulncheckDetect(t *testing.T) { osgDetect(t, "govulncheck", "vuln/govulncheck") }

func TestGovulncheckBadInput(t *testing.T) {
	imp := osgImporter(t, "govulncheck")
	sample := fixture.Read(t, "vuln/govulncheck/issue_15033.json")
	for _, tc := range []struct {
		name, data string
		line       int
		path, msg  string
	}{
		{name: "truncated", data: string(sample[:len(sample)/2]), line: -1, msg: "the JSON is truncated"},
		{name: "empty", data: "", msg: "the report is empty"},
		{name: "blank", data: "\n \n", msg: "the report is empty"},
		{name: "wrong type on line 3", data: "{\"config\":{}}\n{\"progress\":{}}\n{\"config\":{\"scanner_version\":5}}\n", line: 3, path: "config.scanner_version"},
		{name: "bad object on line 2", data: "{\"config\":{}}\n{\"finding\": [,]}\n", line: 2},
		{name: "not an object", data: "{\"config\":{}}\n\n[1]\n", line: 3},
		{name: "finding without osv", data: "{\"config\":{}}\n{\"finding\":{\"trace\":[{\"module\":\"m\"}]}}", line: 2, path: "finding.osv"},
		{name: "finding without trace", data: "{\"config\":{}}\n{\"finding\":{\"osv\":\"GO-1\"}}", line: 2, path: "finding.trace"},
		{name: "no message", data: `{"other": 1}`, msg: "not a govulncheck -json stream: no config, osv or finding message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := imp.Parse(tc.name, []byte(tc.data))
			e := osgError(t, err)
			if (tc.line == -1 && e.Line <= 0) || (tc.line > 0 && e.Line != tc.line) {
				t.Errorf("%v: line %d, want %d", e, e.Line, tc.line)
			}
			if e.Path != tc.path || (tc.msg != "" && e.Msg != tc.msg) {
				t.Errorf("%v: path %q msg %q, want %q %q", e, e.Path, e.Msg, tc.path, tc.msg)
			}
		})
	}
	// A scan that found nothing.
	r, err := imp.Parse("clean", []byte("{\"config\":{\"scanner_version\":\"v1.1.4\"}}\n{\"progress\":{\"message\":\"x\"}}\n"))
	if err != nil || len(r.Findings) != 0 || r.ToolVersion != "v1.1.4" {
		t.Fatalf("clean scan: %+v, %v", r, err)
	}
}

func TestGovulncheckHugeString(t *testing.T) {
	data := osgHuge(`{"config":{"scanner_version":"v1"}}
{"osv":{"id":"GO-2024-0001","aliases":["CVE-2024-0001"],"summary":"s","details":"`, `"}}
{"finding":{"osv":"GO-2024-0001","fixed_version":"v2","trace":[{"module":"m","version":"v1"}]}}
`)
	r, err := osgImporter(t, "govulncheck").Parse("huge", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || r.Findings[0].VulnID != "CVE-2024-0001" || len(r.Findings[0].Description) < 1<<20 || len(r.Findings[0].Description) > importers.MaxString+1024 {
		t.Fatalf("%d findings", len(r.Findings))
	}
}

func FuzzGovulncheck(f *testing.F) {
	osgFuzz(f, "govulncheck", "vuln/govulncheck",
		"{\"config\":{\"scanner_version\":\"v1\"}}\n{\"osv\":{\"id\":\"GO-1\",\"aliases\":[\"CVE-1\"]}}\n{\"finding\":{\"osv\":\"GO-1\",\"trace\":[{\"module\":\"m\",\"function\":\"F\"}]}}\n",
		`{"Calls":{"Functions":{}},"Vulns":[{"OSV":{"id":"GO-2","affected":[{"package":{"name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.0"}]}]}]},"ModPath":"m","CallSink":1}],"Modules":[{"Path":"m","Version":"v1.0.0"}]}`)
}
