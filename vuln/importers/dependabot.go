package importers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/opsguard/opsguard/vuln"
)

// dependabotImporter reads GitHub's Dependabot alerts as the REST API
// returns them (GET /repos/{owner}/{repo}/dependabot/alerts, or the
// organisation's list, whose alerts also name their repository): a JSON
// array of alert objects.
//
// An open alert is a Finding; a closed one is a Statement, so that the
// register can see what was decided on GitHub: fixed → fixed, dismissed
// and auto_dismissed → not_affected with the dismissal reason as the
// justification and the dismissal comment as the impact.
//
// The list is taken as every alert of the repository, so the report is
// complete: fetch every page and every state (gh api --paginate, then
// merge the pages into one array, e.g. with jq -s add). Alerts of several
// repositories make an incomplete report, each finding naming its
// repository in Target.
type dependabotImporter struct{}

func init() { Register(dependabotImporter{}) }

func (dependabotImporter) Name() string { return "dependabot" }

// Detect decodes the first element of the array only.
func (dependabotImporter) Detect(data []byte) bool {
	d := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(d) == 0 || d[0] != '[' {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(d))
	if _, err := dec.Token(); err != nil || !dec.More() {
		return false
	}
	var first map[string]json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return false
	}
	_, adv := first["security_advisory"]
	_, dep := first["dependency"]
	return adv && dep
}

type dependabotPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
}

type dependabotCVSS struct {
	Score        float64 `json:"score"`
	VectorString string  `json:"vector_string"`
}

type dependabotAlert struct {
	Number     int    `json:"number"`
	State      string `json:"state"`
	Dependency struct {
		Package      dependabotPackage `json:"package"`
		ManifestPath string            `json:"manifest_path"`
	} `json:"dependency"`
	SecurityAdvisory struct {
		GHSAID      string `json:"ghsa_id"`
		CVEID       string `json:"cve_id"`
		Summary     string `json:"summary"`
		Description string `json:"description"`
		Severity    string `json:"severity"`
		Identifiers []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"identifiers"`
		References []struct {
			URL string `json:"url"`
		} `json:"references"`
		CVSS           dependabotCVSS `json:"cvss"`
		CVSSSeverities struct {
			V3 dependabotCVSS `json:"cvss_v3"`
			V4 dependabotCVSS `json:"cvss_v4"`
		} `json:"cvss_severities"`
	} `json:"security_advisory"`
	SecurityVulnerability struct {
		Package                dependabotPackage `json:"package"`
		Severity               string            `json:"severity"`
		VulnerableVersionRange string            `json:"vulnerable_version_range"`
		FirstPatchedVersion    *struct {
			Identifier string `json:"identifier"`
		} `json:"first_patched_version"`
	} `json:"security_vulnerability"`
	HTMLURL          string `json:"html_url"`
	DismissedReason  string `json:"dismissed_reason"`
	DismissedComment string `json:"dismissed_comment"`
	Repository       *struct {
		HTMLURL string `json:"html_url"`
	} `json:"repository"`
}

func (dependabotImporter) Parse(name string, data []byte) (*vuln.Report, error) {
	if d := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(d) > 0 && d[0] != '[' {
		return nil, &Error{File: name, Line: 1, Msg: "not a list of Dependabot alerts: expected the JSON array that GET /repos/{owner}/{repo}/dependabot/alerts returns"}
	}
	var alerts []dependabotAlert
	if err := DecodeJSON(name, data, &alerts); err != nil {
		return nil, err
	}
	r := &vuln.Report{Tool: "Dependabot", Complete: true}
	repos := map[string]bool{}
	var fs []vuln.Reported
	for i, a := range alerts {
		path := fmt.Sprintf("[%d]", i)
		f, err := dependabotFinding(name, path, a)
		if err != nil {
			return nil, err
		}
		if f.Target != "" {
			repos[f.Target] = true
		}
		switch a.State {
		case "open":
			fs = append(fs, f)
		case "fixed", "dismissed", "auto_dismissed":
			r.Statements = append(r.Statements, dependabotStatement(a, f))
		default:
			return nil, Errorf(name, path+".state", "unknown alert state %q; expected open, fixed, dismissed or auto_dismissed", a.State)
		}
	}
	if len(repos) == 1 {
		for repo := range repos {
			r.Target = repo
		}
		for i := range fs {
			fs[i].Target = ""
		}
	} else if len(repos) > 1 {
		r.Complete = false
	}
	r.Findings = fs
	return r, nil
}

func dependabotFinding(file, path string, a dependabotAlert) (vuln.Reported, error) {
	adv := a.SecurityAdvisory
	f := vuln.Reported{VulnID: strings.TrimSpace(adv.CVEID), Title: adv.Summary, Description: adv.Description,
		Location: a.Dependency.ManifestPath, Target: dependabotRepo(a)}
	if f.VulnID == "" {
		f.VulnID = strings.TrimSpace(adv.GHSAID)
	}
	if f.VulnID == "" {
		return vuln.Reported{}, Errorf(file, path+".security_advisory.ghsa_id", "the alert names no advisory (no cve_id, no ghsa_id)")
	}
	seen := map[string]bool{f.VulnID: true, "": true}
	for _, id := range append([]string{adv.GHSAID}, dependabotIdentifiers(a)...) {
		if id = strings.TrimSpace(id); !seen[id] {
			seen[id] = true
			f.Aliases = append(f.Aliases, id)
		}
	}
	p := a.Dependency.Package
	if p.Name == "" {
		p = a.SecurityVulnerability.Package
	}
	if p.Name != "" {
		f.Package = p.Name
		if p.Ecosystem != "" {
			f.Package = p.Ecosystem + "/" + p.Name
		}
	}
	if fv := a.SecurityVulnerability.FirstPatchedVersion; fv != nil {
		f.FixedVersion = fv.Identifier
	}
	if vr := a.SecurityVulnerability.VulnerableVersionRange; vr != "" {
		f.Description = strings.TrimSpace(f.Description + "\n\nVulnerable versions: " + vr)
	}
	for _, c := range []dependabotCVSS{adv.CVSS, adv.CVSSSeverities.V3, adv.CVSSSeverities.V4} {
		if c.Score > 0 {
			f.CVSSScore, f.CVSSVector = c.Score, c.VectorString
			break
		}
	}
	sevPath, word := path+".security_advisory.severity", adv.Severity
	if word == "" {
		sevPath, word = path+".security_vulnerability.severity", a.SecurityVulnerability.Severity
	}
	switch sev, ok := vuln.ParseSeverity(word); {
	case ok:
		f.Severity = sev
	case word != "":
		return vuln.Reported{}, Errorf(file, sevPath, "unknown severity %q; expected low, medium, high or critical", word)
	case f.CVSSScore > 0:
		f.Severity, f.SeveritySource = vuln.SeverityFromCVSS(f.CVSSScore), "cvss"
	default:
		f.Severity, f.SeveritySource = vuln.Medium, "assumed: the advisory states no severity"
	}
	if a.HTMLURL != "" {
		f.References = append(f.References, a.HTMLURL)
	}
	for _, ref := range adv.References {
		if ref.URL != "" && ref.URL != a.HTMLURL {
			f.References = append(f.References, ref.URL)
		}
	}
	f.References = CapReferences(f.References)
	return f, nil
}

func dependabotIdentifiers(a dependabotAlert) []string {
	var ids []string
	for _, id := range a.SecurityAdvisory.Identifiers {
		ids = append(ids, id.Value)
	}
	return ids
}

func dependabotStatement(a dependabotAlert, f vuln.Reported) vuln.Statement {
	s := vuln.Statement{VulnID: f.VulnID, Aliases: f.Aliases, Product: f.Package}
	switch a.State {
	case "fixed":
		s.Status = "fixed"
	case "dismissed":
		// GitHub's reasons: only inaccurate and not_used say the code is not
		// affected; tolerable_risk is a risk the team accepts, which the
		// policy lets only a security officer approve; fix_started and
		// no_bandwidth set the alert aside while the vulnerability stays.
		s.Justification, s.Impact = a.DismissedReason, a.DismissedComment
		switch a.DismissedReason {
		case "inaccurate":
			s.Status, s.Justification = "not_affected", "false_positive"
		case "not_used":
			s.Status = "not_affected"
		case "tolerable_risk":
			s.Status, s.Action = "affected", "Risk accepted in Dependabot (dismissed as a tolerable risk)"
			if c := strings.TrimSpace(a.DismissedComment); c != "" {
				s.Action += ": " + c
			}
		default:
			s.Status = "affected"
		}
	case "auto_dismissed":
		s.Status, s.Justification = "not_affected", "auto_dismissed"
	}
	return s
}

// dependabotRepo is the repository an alert belongs to, as host/owner/repo
// (github.com/octo/app), from the repository of an organisation's list or
// from the alert's own html_url.
func dependabotRepo(a dependabotAlert) string {
	raw := a.HTMLURL
	if a.Repository != nil && a.Repository.HTMLURL != "" {
		raw = a.Repository.HTMLURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	parts := strings.SplitN(strings.Trim(u.Path, "/"), "/", 3)
	if len(parts) < 2 {
		return ""
	}
	return u.Host + "/" + parts[0] + "/" + parts[1]
}
