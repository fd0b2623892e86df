package importers_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// dependabotAlerts is what GET /repos/octo-org/shop/dependabot/alerts
// returns, in the shape documented at
// https://docs.github.com/en/rest/dependabot/alerts: an open alert, a
// dismissed one and a fixed one (users trimmed to their login).
const dependabotAlerts = `[
  {
    "number": 3,
    "state": "open",
    "dependency": {
      "package": {"ecosystem": "pip", "name": "django"},
      "manifest_path": "requirements.txt",
      "scope": "runtime",
      "relationship": "direct"
    },
    "security_advisory": {
      "ghsa_id": "GHSA-pv4p-cwwg-4rph",
      "cve_id": "CVE-2024-42005",
      "summary": "Django SQL injection vulnerability",
      "description": "An issue was discovered in Django 5.0 before 5.0.8 and 4.2 before 4.2.15. QuerySet.values() and values_list() methods on models with a JSONField are subject to SQL injection in column aliases via a crafted JSON object key as a passed *arg.",
      "vulnerabilities": [
        {"package": {"ecosystem": "pip", "name": "django"}, "severity": "high", "vulnerable_version_range": ">= 5.0, < 5.0.8", "first_patched_version": {"identifier": "5.0.8"}}
      ],
      "severity": "high",
      "cvss": {"vector_string": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L", "score": 7.3},
      "cvss_severities": {
        "cvss_v3": {"vector_string": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L", "score": 7.3},
        "cvss_v4": {"vector_string": null, "score": 0.0}
      },
      "epss": {"percentage": 0.00252, "percentile": 0.64},
      "cwes": [{"cwe_id": "CWE-89", "name": "Improper Neutralization of Special Elements used in an SQL Command ('SQL Injection')"}],
      "identifiers": [
        {"value": "GHSA-pv4p-cwwg-4rph", "type": "GHSA"},
        {"value": "CVE-2024-42005", "type": "CVE"}
      ],
      "references": [
        {"url": "https://nvd.nist.gov/vuln/detail/CVE-2024-42005"},
        {"url": "https://www.djangoproject.com/weblog/2024/aug/06/security-releases"}
      ],
      "published_at": "2024-08-07T15:30:43Z",
      "updated_at": "2024-08-20T15:26:15Z",
      "withdrawn_at": null
    },
    "security_vulnerability": {
      "package": {"ecosystem": "pip", "name": "django"},
      "severity": "high",
      "vulnerable_version_range": ">= 5.0, < 5.0.8",
      "first_patched_version": {"identifier": "5.0.8"}
    },
    "url": "https://api.github.com/repos/octo-org/shop/dependabot/alerts/3",
    "html_url": "https://github.com/octo-org/shop/security/dependabot/3",
    "created_at": "2024-08-07T16:02:11Z",
    "updated_at": "2024-08-07T16:02:11Z",
    "dismissed_at": null,
    "dismissed_by": null,
    "dismissed_reason": null,
    "dismissed_comment": null,
    "fixed_at": null,
    "auto_dismissed_at": null
  },
  {
    "number": 2,
    "state": "dismissed",
    "dependency": {
      "package": {"ecosystem": "npm", "name": "minimist"},
      "manifest_path": "web/package-lock.json",
      "scope": "development",
      "relationship": "transitive"
    },
    "security_advisory": {
      "ghsa_id": "GHSA-xvch-5gv4-984h",
      "cve_id": "CVE-2021-44906",
      "summary": "Prototype Pollution in minimist",
      "description": "Minimist <=1.2.5 is vulnerable to Prototype Pollution via file index.js, function setKey() (lines 69-95).",
      "vulnerabilities": [
        {"package": {"ecosystem": "npm", "name": "minimist"}, "severity": "critical", "vulnerable_version_range": "< 0.2.4", "first_patched_version": {"identifier": "0.2.4"}},
        {"package": {"ecosystem": "npm", "name": "minimist"}, "severity": "critical", "vulnerable_version_range": ">= 1.0.0, < 1.2.6", "first_patched_version": {"identifier": "1.2.6"}}
      ],
      "severity": "critical",
      "cvss": {"vector_string": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "score": 9.8},
      "cwes": [{"cwe_id": "CWE-1321", "name": "Improperly Controlled Modification of Object Prototype Attributes ('Prototype Pollution')"}],
      "identifiers": [
        {"value": "GHSA-xvch-5gv4-984h", "type": "GHSA"},
        {"value": "CVE-2021-44906", "type": "CVE"}
      ],
      "references": [{"url": "https://nvd.nist.gov/vuln/detail/CVE-2021-44906"}],
      "published_at": "2022-03-18T00:01:09Z",
      "updated_at": "2024-03-11T05:22:44Z",
      "withdrawn_at": null
    },
    "security_vulnerability": {
      "package": {"ecosystem": "npm", "name": "minimist"},
      "severity": "critical",
      "vulnerable_version_range": ">= 1.0.0, < 1.2.6",
      "first_patched_version": {"identifier": "1.2.6"}
    },
    "url": "https://api.github.com/repos/octo-org/shop/dependabot/alerts/2",
    "html_url": "https://github.com/octo-org/shop/security/dependabot/2",
    "created_at": "2022-03-18T09:15:40Z",
    "updated_at": "2022-04-02T11:04:12Z",
    "dismissed_at": "2022-04-02T11:04:12Z",
    "dismissed_by": {"login": "octocat", "id": 1, "type": "User", "site_admin": false},
    "dismissed_reason": "not_used",
    "dismissed_comment": "Only the asset build script parses arguments with minimist; it never runs in production.",
    "fixed_at": null,
    "auto_dismissed_at": null
  },
  {
    "number": 1,
    "state": "fixed",
    "dependency": {
      "package": {"ecosystem": "go", "name": "golang.org/x/net"},
      "manifest_path": "go.mod",
      "scope": "runtime",
      "relationship": "direct"
    },
    "security_advisory": {
      "ghsa_id": "GHSA-qppj-fm5r-hxr3",
      "cve_id": "CVE-2023-44487",
      "summary": "HTTP/2 Stream Cancellation Attack",
      "description": "HTTP/2 Rapid reset attack: the HTTP/2 protocol allows a denial of service (server resource consumption) because request cancellation can reset many streams quickly.",
      "severity": "medium",
      "cvss": {"vector_string": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", "score": 5.3},
      "identifiers": [
        {"value": "GHSA-qppj-fm5r-hxr3", "type": "GHSA"},
        {"value": "CVE-2023-44487", "type": "CVE"}
      ],
      "references": [{"url": "https://github.com/advisories/GHSA-qppj-fm5r-hxr3"}],
      "published_at": "2023-10-10T21:28:24Z",
      "updated_at": "2024-04-04T15:30:40Z",
      "withdrawn_at": null
    },
    "security_vulnerability": {
      "package": {"ecosystem": "go", "name": "golang.org/x/net"},
      "severity": "medium",
      "vulnerable_version_range": "< 0.17.0",
      "first_patched_version": {"identifier": "0.17.0"}
    },
    "url": "https://api.github.com/repos/octo-org/shop/dependabot/alerts/1",
    "html_url": "https://github.com/octo-org/shop/security/dependabot/1",
    "created_at": "2023-10-11T08:00:02Z",
    "updated_at": "2023-10-16T14:21:09Z",
    "dismissed_at": null,
    "dismissed_by": null,
    "dismissed_reason": null,
    "dismissed_comment": null,
    "fixed_at": "2023-10-16T14:21:09Z",
    "auto_dismissed_at": null
  }
]`

func TestDependabotAlerts(t *testing.T) {
	r, err := importers.Parse("alerts.json", "auto", []byte(dependabotAlerts))
	if err != nil {
		t.Fatal(err)
	}
	vxCheck(t, r)
	open, closed := 0, 0
	for _, a := range vxList(vxDecode(t, []byte(dependabotAlerts))) {
		if vxStr(vxObj(a)["state"]) == "open" {
			open++
		} else {
			closed++
		}
	}
	if len(r.Findings) != open || len(r.Statements) != closed {
		t.Errorf("%d findings, %d statements; the list has %d open, %d closed alerts", len(r.Findings), len(r.Statements), open, closed)
	}
	if r.Format != "dependabot" || r.Tool != "Dependabot" || r.Target != "github.com/octo-org/shop" || !r.Complete {
		t.Errorf("format %q, tool %q, target %q, complete %v", r.Format, r.Tool, r.Target, r.Complete)
	}
	f := r.Findings[0]
	if f.VulnID != "CVE-2024-42005" || !slices.Equal(f.Aliases, []string{"GHSA-pv4p-cwwg-4rph"}) || f.Package != "pip/django" ||
		f.Location != "requirements.txt" || f.FixedVersion != "5.0.8" || f.Severity != vuln.High || f.CVSSScore != 7.3 ||
		f.Title != "Django SQL injection vulnerability" || f.Target != "" || f.References[0] != "https://github.com/octo-org/shop/security/dependabot/3" {
		t.Errorf("open alert: %+v", f)
	}
	want := []vuln.Statement{
		{VulnID: "CVE-2021-44906", Product: "npm/minimist", Status: "not_affected", Justification: "not_used",
			Impact: "Only the asset build script parses arguments with minimist; it never runs in production."},
		{VulnID: "CVE-2023-44487", Product: "go/golang.org/x/net", Status: "fixed"},
	}
	for i, w := range want {
		if g := r.Statements[i]; g.VulnID != w.VulnID || g.Product != w.Product || g.Status != w.Status ||
			g.Justification != w.Justification || g.Impact != w.Impact || len(g.Aliases) != 1 {
			t.Errorf("statement %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestDependabotDetect(t *testing.T) {
	data := []byte(dependabotAlerts)
	if !vxImporter(t, "dependabot").Detect(data) {
		t.Error("the alerts are not detected")
	}
	for _, n := range importers.Names() {
		if other, _ := importers.Get(n); n != "dependabot" && other.Detect(data) {
			t.Errorf("the alerts are detected by %s too", n)
		}
	}
	for _, s := range []string{`[]`, `[{"number": 1}]`, `["security_advisory", "dependency"]`, `{"security_advisory": {}, "dependency": {}}`} {
		if vxImporter(t, "dependabot").Detect([]byte(s)) {
			t.Errorf("detects %s", s)
		}
	}
	vxCheckDetect(t, "dependabot", nil, vxOtherFolders...)
}

// dependabotAlert is a minimal alert of a repository.
func dependabotAlert(repo, state, cve, severity, extra string) string {
	return `{"number": 1, "state": "` + state + `", "dependency": {"package": {"ecosystem": "npm", "name": "ip"}, "manifest_path": "package-lock.json"},
	  "security_advisory": {"ghsa_id": "GHSA-2p57-rm9w-gvfp", "cve_id": ` + cve + `, "severity": "` + severity + `",
	    "identifiers": [{"type": "GHSA", "value": "GHSA-2p57-rm9w-gvfp"}], "cvss": {"score": 8.1, "vector_string": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
	  "security_vulnerability": {"vulnerable_version_range": "<= 2.0.1", "first_patched_version": null},
	  "html_url": "https://github.com/` + repo + `/security/dependabot/1"` + extra + `}`
}

func TestDependabotCases(t *testing.T) {
	imp := vxImporter(t, "dependabot")
	t.Run("no CVE", func(t *testing.T) {
		r, err := imp.Parse("a.json", []byte(`[`+dependabotAlert("octo-org/shop", "open", "null", "", "")+`]`))
		if err != nil {
			t.Fatal(err)
		}
		f := r.Findings[0]
		if f.VulnID != "GHSA-2p57-rm9w-gvfp" || len(f.Aliases) != 0 || f.FixedVersion != "" ||
			f.Severity != vuln.High || f.SeveritySource != "cvss" || !strings.Contains(f.Description, "<= 2.0.1") {
			t.Errorf("finding %+v", f)
		}
	})
	t.Run("dismissal reasons", func(t *testing.T) {
		for _, tc := range []struct{ reason, status, justification, action string }{
			{"inaccurate", "not_affected", "false_positive", ""},
			{"not_used", "not_affected", "not_used", ""},
			{"tolerable_risk", "affected", "tolerable_risk", "Risk accepted in Dependabot (dismissed as a tolerable risk): only on the intranet"},
			{"no_bandwidth", "affected", "no_bandwidth", ""},
			{"fix_started", "affected", "fix_started", ""},
		} {
			r, err := imp.Parse("a.json", []byte(`[`+dependabotAlert("o/r", "dismissed", "null", "high",
				`, "dismissed_reason": "`+tc.reason+`", "dismissed_comment": "only on the intranet"`)+`]`))
			if err != nil {
				t.Fatal(err)
			}
			if s := r.Statements[0]; s.Status != tc.status || s.Justification != tc.justification || s.Action != tc.action || s.Impact != "only on the intranet" {
				t.Errorf("%s: %+v", tc.reason, s)
			}
		}
	})
	t.Run("organisation list", func(t *testing.T) {
		r, err := imp.Parse("a.json", []byte(`[`+dependabotAlert("octo-org/shop", "open", `"CVE-2024-29415"`, "high", "")+`,`+
			dependabotAlert("octo-org/api", "auto_dismissed", `"CVE-2024-29415"`, "high", "")+`]`))
		if err != nil {
			t.Fatal(err)
		}
		if r.Complete || r.Target != "" || r.Findings[0].Target != "github.com/octo-org/shop" {
			t.Errorf("complete %v, target %q, finding target %q", r.Complete, r.Target, r.Findings[0].Target)
		}
		if s := r.Statements[0]; s.Status != "not_affected" || s.Justification != "auto_dismissed" {
			t.Errorf("statement %+v", s)
		}
	})
}

func TestDependabotBadInput(t *testing.T) {
	data := []byte(dependabotAlerts)
	vxCheckBad(t, "dependabot", []vxBad{
		{name: "truncated", data: data[:len(data)/2], line: true, msg: "truncated"},
		{name: "wrong type", data: []byte(`[{"number": "3", "state": "open", "dependency": {}, "security_advisory": {}}]`), line: true, path: "number"},
		{name: "unknown severity", data: []byte(`[` + dependabotAlert("o/r", "open", `"CVE-2024-29415"`, "severe", "") + `]`),
			path: "[0].security_advisory.severity", msg: "severe"},
		{name: "unknown state", data: []byte(`[` + dependabotAlert("o/r", "closed", `"CVE-2024-29415"`, "high", "") + `]`), path: "[0].state"},
		{name: "no advisory id", data: []byte(`[{"state": "open", "dependency": {}, "security_advisory": {"severity": "low"}}]`),
			path: "[0].security_advisory.ghsa_id"},
		{name: "one alert", data: []byte(dependabotAlert("o/r", "open", "null", "high", "")), line: true, msg: "expected the JSON array"},
	})
}

func TestDependabotHugeString(t *testing.T) {
	data := vxHuge(`[`+dependabotAlert("o/r", "open", "null", "low", `, "dismissed_comment": "`), `"}]`)
	r, err := vxImporter(t, "dependabot").Parse("huge.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 {
		t.Errorf("%d findings", len(r.Findings))
	}
}

func FuzzDependabot(f *testing.F) {
	f.Add([]byte(dependabotAlerts))
	f.Add([]byte(`[` + dependabotAlert("o/r", "dismissed", "null", "", `, "dismissed_reason": "tolerable_risk"`) + `]`))
	f.Fuzz(func(t *testing.T, data []byte) { vxFuzz(t, "dependabot", data) })
}
