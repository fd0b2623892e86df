package importers_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// grypeWalk reads a Grype sample with a generic walk: the target, the
// version of Grype, and one item per match.
func grypeWalk(t *testing.T, data []byte) (target, version string, items []tgItem) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, m := range tgList(doc["matches"]) {
		v := tgObj(tgObj(m)["vulnerability"])
		items = append(items, tgItem{tgStr(v["id"]), tgStr(v["severity"])})
	}
	target = tgStr(tgAt(doc, "source", "target"))
	if target == "" {
		target = tgStr(tgAt(doc, "source", "target", "userInput"))
	}
	return target, tgStr(tgAt(doc, "descriptor", "version")), items
}

// grypeChecks are findings read by hand from each sample.
var grypeChecks = map[string][]tgCheck{
	"fix_available.json": {
		// Only a CVSS v2 score: none taken. The version holds a NUL.
		{id: "CVE-2009-3882", pkg: "pkg:generic/java@17.0.10%2B7\x00-J-ms8m", target: "/opt/java/openjdk/bin/java", version: "17.0.10+7\x00-J-ms8m", fixed: "1.2.3", sev: vuln.High},
	},
	"issue_9618.json": {
		{id: "CVE-2023-39410", pkg: "pkg:maven/org.apache.avro/avro@1.9.2", target: "/opt/kafka/libs/avro/avro-1.9.2.jar", version: "1.9.2", fixed: "1.11.3", sev: vuln.High, cvss: 7.5, aliases: []string{"GHSA-rhrv-645h-fjfh"}},
		// No severity and no CVSS of its own: the related GHSA's score.
		{id: "CVE-2024-26308", pkg: "pkg:maven/org.apache.commons/commons-compress@1.21", target: "/opt/kafka/plugins/apicurio/commons-compress-1.21.jar", version: "1.21", fixed: "1.26.0", sev: vuln.High, source: "cvss", cvss: 7.5, aliases: []string{"GHSA-4265-ccf5-phj5"}},
		// The tool's severity wins over a CVSS score.
		{id: "CVE-2023-37920", pkg: "pkg:rpm/rhel/bind-utils@9.11.36-5.el8_7.2?arch=x86_64&epoch=32&upstream=bind-9.11.36-5.el8_7.2.src.rpm&distro=rhel-8.7", target: "/var/lib/rpm/Packages", version: "32:9.11.36-5.el8_7.2", sev: vuln.Low, cvss: 9.1, aliases: []string{"CVE-2023-50387"}},
	},
	"many_vulns2.json": {
		{id: "CVE-2019-9192", pkg: "pkg:deb/debian/libc6-dev@2.28-10?arch=amd64", target: "/var/lib/dpkg/status", version: "2.28-10", sev: vuln.Info},
		{id: "CVE-2020-27618", pkg: "pkg:deb/debian/libc6@2.28-10?arch=amd64", target: "/var/lib/dpkg/status", version: "2.28-10", sev: vuln.Medium, source: "assumed: the tool said Unknown"},
		// The schema before 1.0: cvssV3.
		{id: "CVE-2018-20225", pkg: "pkg:pypi/pip@21.0.1", target: "/usr/local/lib/python3.7/site-packages/pip-21.0.1.dist-info/METADATA", version: "21.0.1", sev: vuln.High, cvss: 7.8},
	},
	"no_vuln.json": {},
}

func TestGrypeSamples(t *testing.T) {
	for _, name := range tgSamples(t, "vuln/grype") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := fixture.Read(t, "vuln/grype/"+name)
			r, err := importers.Parse(name, "auto", data)
			if err != nil {
				t.Fatal(err)
			}
			target, version, items := grypeWalk(t, data)
			if r.Format != "grype" || r.Tool != "Grype" || r.ToolVersion != version || !r.Complete || r.Target != target {
				t.Errorf("report %q %q %q complete %v target %q; want grype, Grype, %q, complete, %q", r.Format, r.Tool, r.ToolVersion, r.Complete, r.Target, version, target)
			}
			tgCheckItems(t, r, items)
			checks, ok := grypeChecks[name]
			if !ok {
				t.Errorf("no findings read by hand for %s: add some to grypeChecks", name)
			}
			tgCheckFindings(t, r, checks)
		})
	}
}

func TestGrypeDetect(t *testing.T) { tgCheckDetect(t, "vuln/grype", "grype", "trivy") }

func TestGrypeBadInput(t *testing.T) {
	const sample = "vuln/grype/issue_9618.json"
	edit := func(path string, v any) func(*testing.T) []byte {
		return func(t *testing.T) []byte { return tgEdit(t, sample, nil, path, v) }
	}
	tgCheckBad(t, "grype", []tgBad{
		{name: "truncated", data: func(t *testing.T) []byte {
			d := fixture.Read(t, sample)
			return d[:len(d)/2]
		}, msg: "truncated", wantLine: true},
		{name: "severity of the wrong type", data: edit("matches[0].vulnerability.severity", 5), path: "severity", msg: "string", wantLine: true},
		{name: "SUPERBAD", data: edit("matches[3].vulnerability.severity", "SUPERBAD"), path: "matches[3].vulnerability.severity", msg: `"SUPERBAD"`},
		{name: "no id", data: edit("matches[2].vulnerability.id", ""), path: "matches[2].vulnerability.id", msg: "no id"},
		{name: "target of the wrong type", data: edit("source.target", 5), path: "source.target", msg: "userInput"},
	})
}

// A GHSA with a related CVE becomes the CVE, so that it merges with other
// tools' findings; the GHSA stays an alias.
func TestGrypeGHSAWithCVE(t *testing.T) {
	var doc any
	if err := json.Unmarshal(fixture.Read(t, "vuln/grype/issue_9618.json"), &doc); err != nil {
		t.Fatal(err)
	}
	tgEdit(t, "", doc, "matches[0].vulnerability.id", "GHSA-aaaa-bbbb-cccc")
	data := tgEdit(t, "", doc, "matches[0].relatedVulnerabilities", []any{
		map[string]any{"id": "GHSA-aaaa-bbbb-cccc"}, map[string]any{"id": "CVE-2023-38473"}, map[string]any{"id": "CVE-2023-99999"},
	})
	r, err := importers.Parse("ghsa.json", "grype", data)
	if err != nil {
		t.Fatal(err)
	}
	f := r.Findings[0]
	if f.VulnID != "CVE-2023-38473" || !slices.Equal(f.Aliases, []string{"GHSA-aaaa-bbbb-cccc", "CVE-2023-99999"}) {
		t.Errorf("VulnID %q aliases %v", f.VulnID, f.Aliases)
	}
}

// A directory scan names its target with a plain string.
func TestGrypeDirectoryTarget(t *testing.T) {
	doc := `{"matches":[{"vulnerability":{"id":"GHSA-xxxx-yyyy-zzzz","severity":"Unknown","fix":{"versions":["1.2.4","2.0.1"]}},
		"artifact":{"name":"left-pad","version":"1.2.3","type":"npm","locations":[{"path":"/src/package-lock.json"}]}}],
		"source":{"type":"directory","target":"/src"},"descriptor":{"name":"grype","version":"0.86.1"}}`
	r, err := importers.Parse("dir.json", "auto", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if r.Format != "grype" || r.Target != "/src" {
		t.Errorf("format %q target %q", r.Format, r.Target)
	}
	tgCheckFindings(t, r, []tgCheck{{id: "GHSA-xxxx-yyyy-zzzz", pkg: "npm/left-pad", target: "/src/package-lock.json", version: "1.2.3", fixed: "1.2.4, 2.0.1",
		sev: vuln.Medium, source: "assumed: the tool said Unknown"}})
}

func TestGrypeHugeString(t *testing.T) {
	const head = `{"matches":[{"vulnerability":{"id":"CVE-2024-0001","severity":`
	const tail = `},"artifact":{"name":"a","version":"1"}}],"descriptor":{"name":"grype"}}`
	if r := tgCheckHuge(t, "grype", tgHuge(head+`"Low","description":`, tail)); r != nil && len(r.Findings[0].Description) != importers.MaxString {
		t.Errorf("description of %d bytes", len(r.Findings[0].Description))
	}
	if r := tgCheckHuge(t, "grype", tgHuge(head, tail)); r != nil {
		t.Errorf("a 100 MB severity word accepted as %q", r.Findings[0].Severity)
	}
}
