package importers

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/opsguard/opsguard/vuln"
)

// sarifImporter reads a SARIF 2.1.0 log from any tool (CodeQL, Semgrep,
// Gitleaks, …). It decodes into the local structs below rather than
// github.com/owenrumney/go-sarif: that library's structs are strict where
// producers are loose (property bags, security-severity as a string or a
// number) and would pull every field of the log into memory, while
// DecodeJSON on small structs gives the line, column and path of a
// problem like every other importer.
type sarifImporter struct{}

func init() { Register(sarifImporter{}) }

func (sarifImporter) Name() string { return "sarif" }

var (
	sarifSchema  = regexp.MustCompile(`(?i)"\$schema"\s*:\s*"[^"]*sarif`)
	sarifVersion = regexp.MustCompile(`"version"\s*:\s*"2\.1\.0"`)
)

// Detect wants runs and either a SARIF $schema or version 2.1.0; a log
// with no runs is still detected, so that the user reads the SARIF error
// about it rather than "unknown format".
func (sarifImporter) Detect(data []byte) bool {
	if !Sniff(data, "runs") {
		return false
	}
	head := data[:min(len(data), 64<<10)]
	return sarifSchema.Match(head) || sarifVersion.Match(head)
}

// The local structs hold only what opsguard reads.
type (
	sarifLog struct {
		Version string `json:"version"`
		// A pointer, to tell "runs": [] from no runs key; both are errors.
		Runs *[]sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool struct {
			Driver     sarifComponent   `json:"driver"`
			Extensions []sarifComponent `json:"extensions"`
		} `json:"tool"`
		Results   []sarifResult `json:"results"`
		Artifacts []struct {
			Location struct {
				URI string `json:"uri"`
			} `json:"location"`
		} `json:"artifacts"`
		VersionControlProvenance []struct {
			RepositoryURI string `json:"repositoryUri"`
		} `json:"versionControlProvenance"`
		OriginalURIBaseIDs map[string]struct {
			URI string `json:"uri"`
		} `json:"originalUriBaseIds"`
	}
	// sarifComponent is a tool's driver or one of its extensions (CodeQL
	// keeps its rules in the query packs' extensions).
	sarifComponent struct {
		Name            string      `json:"name"`
		Version         string      `json:"version"`
		SemanticVersion string      `json:"semanticVersion"`
		Rules           []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string                  `json:"id"`
		Name                 string                  `json:"name"`
		ShortDescription     sarifMessage            `json:"shortDescription"`
		FullDescription      sarifMessage            `json:"fullDescription"`
		MessageStrings       map[string]sarifMessage `json:"messageStrings"`
		HelpURI              string                  `json:"helpUri"`
		DefaultConfiguration struct {
			Level string `json:"level"`
		} `json:"defaultConfiguration"`
		Properties struct {
			// A string in GitHub's documentation, a number from some
			// producers: read either, ignore anything else.
			SecuritySeverity json.RawMessage `json:"security-severity"`
			Tags             []string        `json:"tags"`
		} `json:"properties"`
	}
	sarifMessage struct {
		Text      string   `json:"text"`
		Markdown  string   `json:"markdown"`
		ID        string   `json:"id"`
		Arguments []string `json:"arguments"`
	}
	sarifResult struct {
		RuleID    string `json:"ruleId"`
		RuleIndex *int   `json:"ruleIndex"`
		Rule      *struct {
			ID            string `json:"id"`
			Index         *int   `json:"index"`
			ToolComponent *struct {
				Name  string `json:"name"`
				Index *int   `json:"index"`
			} `json:"toolComponent"`
		} `json:"rule"`
		Kind      string       `json:"kind"`
		Level     string       `json:"level"`
		Message   sarifMessage `json:"message"`
		Locations []struct {
			PhysicalLocation struct {
				ArtifactLocation struct {
					URI   string `json:"uri"`
					Index *int   `json:"index"`
				} `json:"artifactLocation"`
				Region struct {
					StartLine int `json:"startLine"`
				} `json:"region"`
			} `json:"physicalLocation"`
		} `json:"locations"`
		Suppressions []struct {
			Status string `json:"status"`
		} `json:"suppressions"`
	}
)

func (i sarifImporter) Parse(name string, data []byte) (*vuln.Report, error) {
	return i.Stream(name, vuln.Bytes(data), 0, nil)
}

// Stream implements vuln.Streamer. The log is decoded from src as it is read
// (a log in a file is not read into memory first, and a result's 200 MB
// message costs MaxString), then its findings are passed on a part at a
// time.
func (sarifImporter) Stream(name string, src vuln.Source, part int, emit func(*vuln.Report, []vuln.Reported) error) (*vuln.Report, error) {
	r, err := sarifParse(name, src)
	if err != nil || emit == nil {
		return r, err
	}
	fs := r.Findings
	r.Findings = nil
	for len(fs) > 0 {
		n := min(len(fs), max(part, 1))
		head := *r
		if err := emit(&head, fs[:n:n]); err != nil {
			return nil, err
		}
		fs = fs[n:]
	}
	return r, nil
}

func sarifParse(name string, src vuln.Source) (*vuln.Report, error) {
	var log sarifLog
	if err := decodeJSON(name, src, &log); err != nil {
		return nil, err
	}
	if log.Version != "" && log.Version != "2.1.0" {
		return nil, Errorf(name, "version", "SARIF version %s is not supported; opsguard reads SARIF 2.1.0", osvQuote(log.Version))
	}
	if log.Runs == nil || len(*log.Runs) == 0 {
		return nil, Errorf(name, "runs", "the SARIF log has no runs")
	}
	runs := *log.Runs
	first := runs[0]
	r := &vuln.Report{
		Format:      "sarif",
		Tool:        first.Tool.Driver.Name,
		ToolVersion: cmp.Or(first.Tool.Driver.Version, first.Tool.Driver.SemanticVersion),
		Target:      sarifTarget(first),
		Complete:    true,
		Findings:    []vuln.Reported{},
	}
	for i := range runs {
		rules := sarifRules(&runs[i])
		for j, res := range runs[i].Results {
			if sarifSkipped(res) {
				continue
			}
			f, err := sarifFinding(name, fmt.Sprintf("runs[%d].results[%d]", i, j), &runs[i], rules, res)
			if err != nil {
				return nil, err
			}
			r.Findings = append(r.Findings, f)
		}
	}
	return r, nil
}

// sarifSkipped reports whether a result is not a finding: the check
// passed or did not apply, or the result is suppressed. A suppression
// counts unless it was rejected or is still under review (as the SARIF
// SDK reads it: one without a status is in force).
func sarifSkipped(res sarifResult) bool {
	if res.Kind == "pass" || res.Kind == "notApplicable" {
		return true
	}
	for _, s := range res.Suppressions {
		if s.Status == "" || s.Status == "accepted" {
			return true
		}
	}
	return false
}

func sarifFinding(file, at string, run *sarifRun, rules map[string]*sarifRule, res sarifResult) (vuln.Reported, error) {
	rule := sarifRuleOf(run, rules, res)
	msg := sarifText(res.Message, rule)
	id := res.RuleID
	if res.Rule != nil {
		id = cmp.Or(id, res.Rule.ID)
	}
	if rule != nil {
		id = cmp.Or(id, rule.ID)
	}
	// Some producers (Gitleaks 7) give no rule at all; the message is
	// then all that tells one kind of result from another.
	id = strings.TrimSpace(cmp.Or(id, osvFirstLine(msg)))
	if id == "" {
		return vuln.Reported{}, Errorf(file, at, "the result has neither a rule nor a message")
	}
	sev, source, err := sarifSeverity(file, at, res, rule)
	if err != nil {
		return vuln.Reported{}, err
	}
	f := vuln.Reported{
		VulnID:         id,
		Title:          osvFirstLine(msg),
		Description:    msg,
		Severity:       sev,
		SeveritySource: source,
		Location:       sarifLocation(run, res),
	}
	if rule != nil {
		// Semgrep's short descriptions run over several lines.
		f.Title = cmp.Or(strings.Join(strings.Fields(rule.ShortDescription.Text), " "), f.Title)
		f.Description = cmp.Or(f.Description, strings.TrimSpace(rule.FullDescription.Text))
		f.Aliases = sarifCVEs(rule.Properties.Tags, id)
		f.References = CapReferences(osvUnique([]string{strings.TrimSpace(rule.HelpURI)}))
	}
	return f, nil
}

// sarifRules indexes a run's rules by id, the driver's first, for results
// that name their rule only by id.
func sarifRules(run *sarifRun) map[string]*sarifRule {
	m := make(map[string]*sarifRule)
	add := func(c *sarifComponent) {
		for i := range c.Rules {
			if _, dup := m[c.Rules[i].ID]; !dup {
				m[c.Rules[i].ID] = &c.Rules[i]
			}
		}
	}
	add(&run.Tool.Driver)
	for i := range run.Tool.Extensions {
		add(&run.Tool.Extensions[i])
	}
	return m
}

// sarifRuleOf finds a result's rule: by index in the component the
// result names (the driver by default), else by id; nil when the tool
// does not describe it.
func sarifRuleOf(run *sarifRun, rules map[string]*sarifRule, res sarifResult) *sarifRule {
	comp := &run.Tool.Driver
	index, id := res.RuleIndex, res.RuleID
	if ref := res.Rule; ref != nil {
		index, id = cmp.Or(ref.Index, index), cmp.Or(ref.ID, id)
		if tc := ref.ToolComponent; tc != nil {
			comp = nil
			for i, ext := range run.Tool.Extensions {
				if (tc.Index != nil && *tc.Index == i) || (tc.Index == nil && tc.Name != "" && tc.Name == ext.Name) {
					comp = &run.Tool.Extensions[i]
				}
			}
		}
	}
	if comp != nil && index != nil && *index >= 0 && *index < len(comp.Rules) {
		return &comp.Rules[*index]
	}
	if r, ok := rules[id]; ok {
		return r
	}
	// A hierarchical ruleId ("CA5350/md5") names a sub-case of a rule.
	if base, _, found := strings.Cut(id, "/"); found {
		return rules[base]
	}
	return nil
}

// sarifText is a message's text, or its markdown, or the rule's message
// string it names, with its {0}… placeholders filled in.
func sarifText(m sarifMessage, rule *sarifRule) string {
	if t := cmp.Or(m.Text, m.Markdown); t != "" || rule == nil || m.ID == "" {
		return strings.TrimSpace(t)
	}
	t := cmp.Or(rule.MessageStrings[m.ID].Text, rule.MessageStrings[m.ID].Markdown)
	for i, arg := range m.Arguments {
		t = strings.ReplaceAll(t, "{"+strconv.Itoa(i)+"}", arg)
	}
	return strings.TrimSpace(t)
}

// sarifSeverity prefers the rule's security-severity, GitHub's CVSS-like
// score, to the level, which says how loudly to warn rather than how bad
// the weakness is. The level is the result's, else none for a result
// that is not a failure, else the rule's default, else SARIF's default,
// warning.
func sarifSeverity(file, at string, res sarifResult, rule *sarifRule) (vuln.Severity, string, error) {
	if rule != nil {
		if score, ok := sarifScore(rule.Properties.SecuritySeverity); ok {
			return vuln.SeverityFromCVSS(score), "security-severity", nil
		}
	}
	level, path, where := res.Level, at+".level", ""
	switch {
	case level != "":
	case res.Kind != "" && res.Kind != "fail":
		level = "none"
	case rule != nil && rule.DefaultConfiguration.Level != "":
		level, path, where = rule.DefaultConfiguration.Level, at, " (the default level of rule "+osvQuote(rule.ID)+")"
	default:
		return vuln.Medium, "assumed: SARIF's default level, warning", nil
	}
	switch level {
	case "error", "warning", "note", "none":
		sev, _ := vuln.ParseSeverity(level)
		return sev, "sarif level: " + level, nil
	}
	return "", "", Errorf(file, path, "unknown SARIF level %s%s; expected error, warning, note or none", osvQuote(level), where)
}

// sarifScore reads security-severity, a string or a number from 0 to 10.
func sarifScore(raw json.RawMessage) (float64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	score, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || score < 0 || score > 10 {
		return 0, false
	}
	return score, true
}

var sarifCVE = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// sarifCVEs are the CVE ids among a rule's tags (Trivy's SARIF tags its
// rules so); CWE and other tags classify, they do not identify.
func sarifCVEs(tags []string, id string) []string {
	var out []string
	for _, t := range tags {
		if t = strings.ToUpper(strings.TrimSpace(t)); sarifCVE.MatchString(t) {
			out = append(out, t)
		}
	}
	return osvUnique(out, id)
}

// sarifLocation is the first physical location as uri:line, or uri.
func sarifLocation(run *sarifRun, res sarifResult) string {
	if len(res.Locations) == 0 {
		return ""
	}
	pl := res.Locations[0].PhysicalLocation
	uri := pl.ArtifactLocation.URI
	if i := pl.ArtifactLocation.Index; uri == "" && i != nil && *i >= 0 && *i < len(run.Artifacts) {
		uri = run.Artifacts[*i].Location.URI
	}
	if uri == "" || pl.Region.StartLine <= 0 {
		return uri
	}
	return uri + ":" + strconv.Itoa(pl.Region.StartLine)
}

// sarifTarget is the repository the first run analysed, else its source
// root, else "".
func sarifTarget(run sarifRun) string {
	if len(run.VersionControlProvenance) > 0 && run.VersionControlProvenance[0].RepositoryURI != "" {
		return run.VersionControlProvenance[0].RepositoryURI
	}
	return cmp.Or(run.OriginalURIBaseIDs["SRCROOT"].URI, run.OriginalURIBaseIDs["%SRCROOT%"].URI)
}
