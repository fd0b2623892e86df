package importers_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// The helpers named tg… serve the Trivy and the Grype tests both.

// tgSamples lists the files of a fixture folder, e.g. "vuln/trivy".
func tgSamples(t testing.TB, dir string) []string {
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
	if len(names) == 0 {
		t.Fatalf("no samples in %s", dir)
	}
	return names
}

// tgItem is what one finding of a sample must say (its id and the tool's
// severity word), read from the file with a generic walk rather than with
// the importer's structs.
type tgItem struct{ id, severity string }

func tgList(v any) []any         { l, _ := v.([]any); return l }
func tgObj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func tgStr(v any) string         { s, _ := v.(string); return s }
func tgAt(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		v = tgObj(v)[k]
	}
	return v
}

// tgCheckItems compares the findings with the walk of the file: same
// number, same ids in file order, and severities as the words say (a word
// that is no severity must have left a SeveritySource).
func tgCheckItems(t *testing.T, r *vuln.Report, want []tgItem) {
	t.Helper()
	if len(r.Findings) != len(want) {
		t.Fatalf("%d findings, the file has %d", len(r.Findings), len(want))
	}
	for i, w := range want {
		f := r.Findings[i]
		if f.VulnID != w.id && !slices.Contains(f.Aliases, w.id) {
			t.Errorf("finding %d: VulnID %q (aliases %v), the file says %q", i, f.VulnID, f.Aliases, w.id)
		}
		if !slices.Contains(vuln.Severities, f.Severity) {
			t.Errorf("finding %d (%s): severity %q is not one of %v", i, f.VulnID, f.Severity, vuln.Severities)
		}
		if sev, ok := vuln.ParseSeverity(w.severity); ok {
			if f.Severity != sev || f.SeveritySource != "" {
				t.Errorf("finding %d (%s): severity %q (source %q), the file says %q", i, f.VulnID, f.Severity, f.SeveritySource, w.severity)
			}
		} else if f.SeveritySource == "" {
			t.Errorf("finding %d (%s): the file says %q but SeveritySource is empty", i, f.VulnID, w.severity)
		}
	}
}

// tgCheck is a finding read by hand from a sample: looked up by id,
// package, location and target, then compared field by field.
type tgCheck struct {
	id, pkg, loc, target string
	version, fixed       string
	sev                  vuln.Severity
	source               string
	cvss                 float64
	aliases              []string
}

func tgCheckFindings(t *testing.T, r *vuln.Report, checks []tgCheck) {
	t.Helper()
	for _, c := range checks {
		i := slices.IndexFunc(r.Findings, func(f vuln.Reported) bool {
			return f.VulnID == c.id && f.Package == c.pkg && f.Location == c.loc && f.Target == c.target
		})
		if i < 0 {
			t.Errorf("no finding %s / %s / %s / %s", c.id, c.pkg, c.loc, c.target)
			continue
		}
		f := r.Findings[i]
		got := tgCheck{f.VulnID, f.Package, f.Location, f.Target, f.Version, f.FixedVersion, f.Severity, f.SeveritySource, f.CVSSScore, f.Aliases}
		if !tgEqual(got, c) {
			t.Errorf("finding %s:\n got %+v\nwant %+v", c.id, got, c)
		}
	}
}

func tgEqual(a, b tgCheck) bool {
	return a.id == b.id && a.pkg == b.pkg && a.loc == b.loc && a.target == b.target && a.version == b.version &&
		a.fixed == b.fixed && a.sev == b.sev && a.source == b.source && a.cvss == b.cvss && slices.Equal(a.aliases, b.aliases)
}

// tgEdit returns a sample (or doc, when rel is "") with the value at a
// JSON path such as Results[0].Vulnerabilities[1].Severity replaced.
func tgEdit(t *testing.T, rel string, doc any, path string, v any) []byte {
	t.Helper()
	if rel != "" {
		if err := json.Unmarshal(fixture.Read(t, rel), &doc); err != nil {
			t.Fatal(err)
		}
	}
	cur := doc
	parts := strings.Split(path, ".")
	for i, part := range parts {
		name, index, isIndex := strings.Cut(part, "[")
		m := tgObj(cur)
		if m == nil {
			t.Fatalf("%s: %s is not in an object", path, part)
		}
		last := i == len(parts)-1
		if !isIndex {
			if last {
				m[name] = v
			}
			cur = m[name]
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(index, "]"))
		l := tgList(m[name])
		if n >= len(l) {
			t.Fatalf("%s: %s has %d elements", path, name, len(l))
		}
		if last {
			l[n] = v
		}
		cur = l[n]
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tgBad is an input that must be refused with an *Error.
type tgBad struct {
	name     string
	data     func(t *testing.T) []byte
	path     string // the Error's Path must contain it
	msg      string // and its Msg
	wantLine bool   // Line must be known
}

func tgCheckBad(t *testing.T, format string, cases []tgBad) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importers.Parse("bad.json", format, tc.data(t))
			var e *importers.Error
			if !errors.As(err, &e) {
				t.Fatalf("want an *importers.Error, got %T %v", err, err)
			}
			if !strings.Contains(e.Path, tc.path) || !strings.Contains(e.Msg, tc.msg) || (tc.wantLine && e.Line <= 0) || e.File != "bad.json" {
				t.Errorf("got %q (path %q, line %d); want path with %q, message with %q, line known %v", err, e.Path, e.Line, tc.path, tc.msg, tc.wantLine)
			}
			if len(err.Error()) > 1024 {
				t.Errorf("a %d-byte message", len(err.Error()))
			}
		})
	}
}

// tgHuge builds a report around a value of 100 MB: prefix, the value as a
// JSON string, suffix.
func tgHuge(prefix, suffix string) []byte {
	var b bytes.Buffer
	b.Grow(100<<20 + len(prefix) + len(suffix) + 2)
	b.WriteString(prefix + `"`)
	b.Write(bytes.Repeat([]byte("A"), 100<<20))
	b.WriteString(`"` + suffix)
	return b.Bytes()
}

// tgCheckHuge parses data and requires no panic; it may refuse it, with an
// *Error of a sane size.
func tgCheckHuge(t *testing.T, format string, data []byte) *vuln.Report {
	t.Helper()
	r, err := importers.Parse("huge.json", format, data)
	if err != nil {
		var e *importers.Error
		if !errors.As(err, &e) || len(err.Error()) > 1024 {
			t.Fatalf("want a short *importers.Error, got %T of %d bytes", err, len(err.Error()))
		}
	}
	return r
}

// tgCheckDetect requires each sample of dir to be detected as format, and
// not by other.
func tgCheckDetect(t *testing.T, dir, format, other string) {
	o, ok := importers.Get(other)
	if !ok {
		t.Fatalf("%s is not registered", other)
	}
	for _, name := range tgSamples(t, dir) {
		t.Run(name, func(t *testing.T) {
			data := fixture.Read(t, dir+"/"+name)
			imp, err := importers.Detect(name, data)
			if err != nil || imp.Name() != format {
				t.Errorf("Detect = %v, %v; want %s", imp, err, format)
			}
			if o.Detect(data) {
				t.Errorf("%s detects it too", other)
			}
		})
	}
}

func trivyWalk(t *testing.T, data []byte) (target string, items []tgItem) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	items = trivyWalkResults(doc["Results"])
	for _, group := range []string{"Resources", "Vulnerabilities", "Misconfigurations"} {
		for _, res := range tgList(doc[group]) {
			items = append(items, trivyWalkResults(tgObj(res)["Results"])...)
		}
	}
	return cmp.Or(tgStr(doc["ArtifactName"]), tgStr(doc["ClusterName"])), items
}

func trivyWalkResults(results any) []tgItem {
	var items []tgItem
	for _, r := range tgList(results) {
		res := tgObj(r)
		for _, v := range tgList(res["Vulnerabilities"]) {
			if tgStr(tgObj(v)["Status"]) != "not_affected" { // a statement, not a finding
				items = append(items, tgItem{tgStr(tgObj(v)["VulnerabilityID"]), tgStr(tgObj(v)["Severity"])})
			}
		}
		for _, v := range tgList(res["Misconfigurations"]) {
			m := tgObj(v)
			if tgStr(m["Status"]) != "PASS" {
				items = append(items, tgItem{cmp.Or(tgStr(m["ID"]), tgStr(m["AVDID"])), tgStr(m["Severity"])})
			}
		}
		for _, v := range tgList(res["Secrets"]) {
			items = append(items, tgItem{tgStr(tgObj(v)["RuleID"]), tgStr(tgObj(v)["Severity"])})
		}
	}
	return items
}

// trivyChecks are findings read by hand from each sample.
var trivyChecks = map[string][]tgCheck{
	"all_statuses.json": {
		{id: "CVE-2011-3374", pkg: "debian/apt", target: "noppaknopsta/example-app:main-159 (debian 10.13)", version: "1.8.2.3", sev: vuln.Low, cvss: 3.7},
		// Status will_not_fix: a finding, still to fix. The tool's
		// severity wins over a CVSS score.
		{id: "CVE-2018-12698", pkg: "debian/binutils", target: "noppaknopsta/example-app:main-159 (debian 10.13)", version: "2.31.1-16", sev: vuln.Low, cvss: 7.5},
	},
	"issue_9333.json": {
		{id: "CVE-2011-3374", pkg: "debian/apt", target: "noppaknopsta/example-app:main-159 (debian 10.13)", version: "1.8.2.3", sev: vuln.Low, cvss: 3.7},
		{id: "CVE-2023-26136", pkg: "debian/tough-cookie", target: "noppaknopsta/example-app:main-159 (debian 10.13)", version: "2.5.0", fixed: "4.1.3", sev: vuln.Medium, cvss: 9.8},
	},
	"kubernetes.json": {
		// VendorIDs holds a DSA only: no alias.
		{id: "CVE-2020-27350", pkg: "debian/apt", target: "default/Deployment/redis-follower: gcr.io/google_samples/gb-redis-follower:v2 (debian 10.4)", version: "1.8.2.1", fixed: "1.8.2.2", sev: vuln.Medium, cvss: 5.7},
		{id: "KSV001", loc: "Deployment/redis-leader:132", target: "default/Deployment/redis-leader: Deployment/redis-leader", sev: vuln.Medium},
	},
	"local-k8s-scan-result.json": {
		{id: "CVE-2021-36159", pkg: "alpine/apk-tools", target: "local-path-storage/Deployment/local-path-provisioner: docker.io/rancher/local-path-provisioner:v0.0.14 (alpine 3.12.0)", version: "2.10.5-r1", fixed: "2.10.7-r0", sev: vuln.Critical, cvss: 9.1},
		{id: "DLA-3134-1", pkg: "debian/tzdata", target: "kube-system/Pod/kube-apiserver-kind-control-plane: k8s.gcr.io/kube-apiserver:v1.21.1 (debian 10.9)", version: "2021a-0+deb10u1", fixed: "2021a-0+deb10u7", sev: vuln.Medium, source: "assumed: the tool said UNKNOWN"},
		// A cluster-wide resource has no namespace.
		{id: "KSV044", loc: "ClusterRole/cluster-admin:28", target: "ClusterRole/cluster-admin: ClusterRole/cluster-admin", sev: vuln.Critical, aliases: []string{"AVD-KSV-0044"}},
	},
	"misconfigurations_and_secrets.json": {
		{id: "CVE-2021-33503", pkg: "pip/urllib3", target: "requirements.txt", version: "1.26.3", fixed: "1.26.5", sev: vuln.High, cvss: 7.5},
		{id: "DS002", loc: "Dockerfile", target: "Dockerfile", sev: vuln.High},
		{id: "github-pat", loc: "Dockerfile:24", target: "Dockerfile", sev: vuln.Critical},
		{id: "github-pat", loc: "secret.txt:1", target: "secret.txt", sev: vuln.Critical},
	},
	"scheme_2_many_vulns.json": {
		// NVD's score is taken before Red Hat's.
		{id: "CVE-2020-15999", pkg: "alpine/freetype", target: "teamdojo:latest (alpine 3.9.4)", version: "2.9.1-r2", fixed: "2.9.1-r3", sev: vuln.Medium, cvss: 6.5},
		// No NVD score: Red Hat's.
		{id: "CVE-2020-28196", pkg: "alpine/krb5-libs", target: "teamdojo:latest (alpine 3.9.4)", version: "1.15.5-r0", fixed: "1.15.5-r1", sev: vuln.High, cvss: 7.5},
	},
	"securecodebox-repo.json": {
		{id: "CVE-2023-28155", pkg: "pkg:npm/request@2.88.2", target: "auto-discovery/kubernetes/pull-secret-extractor/integration-test/package-lock.json", version: "2.88.2", sev: vuln.Medium, cvss: 6.1},
		{id: "CVE-2024-4067", pkg: "pkg:npm/micromatch@4.0.5", target: "tests/integration/package-lock.json", version: "4.0.5", fixed: "4.0.8", sev: vuln.Medium, cvss: 5.3},
		{id: "private-key", loc: "demo-targets/unsafe-https/container/site.key:1", target: "demo-targets/unsafe-https/container/site.key", sev: vuln.High},
	},
}

func TestTrivySamples(t *testing.T) {
	for _, name := range tgSamples(t, "vuln/trivy") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := fixture.Read(t, "vuln/trivy/"+name)
			r, err := importers.Parse(name, "auto", data)
			if err != nil {
				t.Fatal(err)
			}
			target, items := trivyWalk(t, data)
			if r.Format != "trivy" || r.Tool != "Trivy" || !r.Complete || r.Target != target {
				t.Errorf("report %q %q complete %v target %q; want trivy, Trivy, complete, %q", r.Format, r.Tool, r.Complete, r.Target, target)
			}
			tgCheckItems(t, r, items)
			checks, ok := trivyChecks[name]
			if !ok {
				t.Errorf("no findings read by hand for %s: add some to trivyChecks", name)
			}
			tgCheckFindings(t, r, checks)
		})
	}
}

// A vulnerability Trivy says does not affect its package (Status
// not_affected) is a statement about the finding, not a finding.
func TestTrivyNotAffectedIsAStatement(t *testing.T) {
	r, err := importers.Parse("s.json", "trivy", fixture.Read(t, "vuln/trivy/all_statuses.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Statements) != 1 {
		t.Fatalf("%d statements: %+v", len(r.Statements), r.Statements)
	}
	if s := r.Statements[0]; s.VulnID != "CVE-2019-18276" || s.Product != "debian/bash" || s.Status != "not_affected" ||
		s.Justification != "vulnerable_code_not_present" || !strings.Contains(s.Impact, "not_affected") {
		t.Errorf("statement %+v", s)
	}
	for _, f := range r.Findings {
		if f.VulnID == "CVE-2019-18276" {
			t.Errorf("the not affected vulnerability is a finding: %+v", f)
		}
	}
}

func TestTrivyDetect(t *testing.T) { tgCheckDetect(t, "vuln/trivy", "trivy", "grype") }

// Samples of the other formats are neither Trivy nor Grype reports.
func TestTrivyGrypeDetectOthers(t *testing.T) {
	for _, dir := range []string{"sarif", "osv", "cyclonedx", "openvex", "govulncheck"} {
		for _, name := range tgSamples(t, "vuln/"+dir) {
			data := fixture.Read(t, "vuln/"+dir+"/"+name)
			for _, format := range []string{"trivy", "grype"} {
				if imp, _ := importers.Get(format); imp.Detect(data) {
					t.Errorf("%s/%s detected as %s", dir, name, format)
				}
			}
		}
	}
}

func TestTrivyBadInput(t *testing.T) {
	const ms = "vuln/trivy/misconfigurations_and_secrets.json"
	edit := func(rel, path string, v any) func(*testing.T) []byte {
		return func(t *testing.T) []byte { return tgEdit(t, rel, nil, path, v) }
	}
	superbad := func(rel, path string) tgBad {
		return tgBad{name: "SUPERBAD at " + path, data: edit(rel, path, "SUPERBAD"), path: path, msg: `"SUPERBAD"`}
	}
	tgCheckBad(t, "trivy", []tgBad{
		{name: "truncated", data: func(t *testing.T) []byte {
			d := fixture.Read(t, "vuln/trivy/scheme_2_many_vulns.json")
			return d[:len(d)/2]
		}, msg: "truncated", wantLine: true},
		{name: "severity of the wrong type", data: edit(ms, "Results[0].Vulnerabilities[1].Severity", 5), path: "Severity", msg: "string", wantLine: true},
		superbad(ms, "Results[0].Vulnerabilities[1].Severity"),
		superbad(ms, "Results[1].Misconfigurations[0].Severity"),
		superbad(ms, "Results[3].Secrets[0].Severity"),
		superbad("vuln/trivy/kubernetes.json", "Misconfigurations[1].Results[0].Misconfigurations[4].Severity"),
		superbad("vuln/trivy/local-k8s-scan-result.json", "Resources[0].Results[0].Vulnerabilities[3].Severity"),
		{name: "no id", data: edit(ms, "Results[0].Vulnerabilities[1].VulnerabilityID", ""), path: "Results[0].Vulnerabilities[1].VulnerabilityID", msg: "no id"},
		{name: "secret without rule", data: edit(ms, "Results[2].Secrets[0].RuleID", " "), path: "Results[2].Secrets[0].RuleID", msg: "RuleID"},
		{name: "CVSS out of range", data: edit(ms, "Results[0].Vulnerabilities[0].CVSS.nvd.V3Score", 75), path: "Results[0].Vulnerabilities[0].CVSS.nvd.V3Score", msg: "0–10"},
		{name: "long unknown word", data: edit(ms, "Results[0].Vulnerabilities[0].Severity", strings.Repeat("é", 5000)), path: "Severity", msg: "10000 bytes"},
	})
}

// trivyDoc is a small report of one vulnerability, for the cases no
// sample has.
func trivyDoc(vuln map[string]any) map[string]any {
	return map[string]any{
		"SchemaVersion": 2, "ArtifactName": "alpine:3.20", "Trivy": map[string]any{"Version": "0.58.1"},
		"Results": []any{map[string]any{"Target": "alpine:3.20 (alpine 3.20.3)", "Type": "alpine", "Vulnerabilities": []any{vuln}}},
	}
}

func TestTrivyCases(t *testing.T) {
	cases := []struct {
		name string
		doc  map[string]any
		want tgCheck
	}{
		{"unknown severity, with CVSS", trivyDoc(map[string]any{
			"VulnerabilityID": "CVE-2024-0001", "PkgName": "musl", "InstalledVersion": "1.2.5-r0", "Severity": "UNKNOWN",
			"SeveritySource": "ghsa", "CVSS": map[string]any{"redhat": map[string]any{"V3Score": 5.5}, "ghsa": map[string]any{"V3Score": 9.8}},
		}), tgCheck{id: "CVE-2024-0001", pkg: "alpine/musl", version: "1.2.5-r0", sev: vuln.Critical, source: "cvss", cvss: 9.8}},
		{"unknown severity, no CVSS", trivyDoc(map[string]any{
			"VulnerabilityID": "CVE-2024-0002", "PkgName": "musl", "Severity": "UNKNOWN",
		}), tgCheck{id: "CVE-2024-0002", pkg: "alpine/musl", sev: vuln.Medium, source: "assumed: the tool said UNKNOWN"}},
		{"CVE and GHSA vendor ids are aliases", trivyDoc(map[string]any{
			"VulnerabilityID": "CVE-2024-0003", "PkgName": "lodash", "PkgIdentifier": map[string]any{"PURL": "pkg:npm/lodash@4.17.20"},
			"Severity": "high", "VendorIDs": []any{"DSA-5000-1", "GHSA-aaaa-bbbb-cccc", "CVE-2024-0003"},
		}), tgCheck{id: "CVE-2024-0003", pkg: "pkg:npm/lodash@4.17.20", sev: vuln.High, aliases: []string{"GHSA-aaaa-bbbb-cccc"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(tc.doc)
			r, err := importers.Parse("case.json", "trivy", b)
			if err != nil {
				t.Fatal(err)
			}
			if r.ToolVersion != "0.58.1" || len(r.Findings) != 1 {
				t.Fatalf("tool version %q, %d findings", r.ToolVersion, len(r.Findings))
			}
			tc.want.target = "alpine:3.20 (alpine 3.20.3)"
			tgCheckFindings(t, r, []tgCheck{tc.want})
		})
	}
}

func TestTrivyMisconfigurationStatus(t *testing.T) {
	doc := `{"SchemaVersion":2,"ArtifactName":".","Results":[{"Target":"main.tf","Class":"config","Misconfigurations":[
		{"ID":"AVD-AWS-0086","Status":"PASS","Severity":"HIGH"},
		{"ID":"AVD-AWS-0088","Status":"FAIL","Severity":"HIGH","CauseMetadata":{"StartLine":12}}]}]}`
	r, err := importers.Parse("tf.json", "trivy", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || r.Findings[0].VulnID != "AVD-AWS-0088" || r.Findings[0].Location != "main.tf:12" {
		t.Errorf("want only the failed check at main.tf:12, got %+v", r.Findings)
	}
}

func TestTrivyNoFindings(t *testing.T) {
	r, err := importers.Parse("empty.json", "trivy", []byte(`{"SchemaVersion":2,"ArtifactName":"scratch","Results":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete || len(r.Findings) != 0 || r.Target != "scratch" {
		t.Errorf("got %+v", r)
	}
}

func TestTrivyHugeString(t *testing.T) {
	const head = `{"SchemaVersion":2,"ArtifactName":"x","Results":[{"Target":"t","Vulnerabilities":[{"VulnerabilityID":"CVE-2024-0001","Severity":`
	if r := tgCheckHuge(t, "trivy", tgHuge(head+`"LOW","Description":`, `}]}]}`)); r != nil && len(r.Findings[0].Description) != importers.MaxString {
		t.Errorf("description of %d bytes", len(r.Findings[0].Description))
	}
	if r := tgCheckHuge(t, "trivy", tgHuge(head, `}]}]}`)); r != nil {
		t.Errorf("a 100 MB severity word accepted as %q", r.Findings[0].Severity)
	}
}
