package policy

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/config"
)

//go:embed templates/*.md
var builtinFS embed.FS

// Builtin is a document opsguard ships: its template is embedded in the
// binary.
type Builtin struct {
	ID    string
	Title string
	File  string
}

// Builtins are the documents every instance has.
var Builtins = []Builtin{
	{ID: "operations-security-policy", Title: "Operations Security Policy", File: "templates/operations-security-policy.md"},
	{ID: "operations-security-procedure", Title: "Operations Security Procedure", File: "templates/operations-security-procedure.md"},
}

func builtin(id string) (Builtin, bool) {
	for _, b := range Builtins {
		if b.ID == id {
			return b, true
		}
	}
	return Builtin{}, false
}

// Params are what a template may name: {{.Company}}, {{.Classification}},
// {{.Roles.SecurityOfficer}}, {{.Numbers.SLACritical}}, …
type Params struct {
	Company        string
	Classification string
	Roles          Roles
	Numbers        Numbers
}

// Roles names the holders of the roles the policy assigns, as text.
type Roles struct {
	SecurityOfficer string
	EngineeringHead string
	InfraOps        string
	Engineers       string
}

// Numbers are the policy-relevant numbers of the process config. A change
// to any of them is a significant change of the documents (GV-2): their
// fingerprint is kept with every version.
type Numbers struct {
	PostFactoReviewBusinessDays    int     `json:"change.post_facto_review_business_days"`
	BackupMaxAgeHours              int     `json:"backup.max_age_hours"`
	BackupRetentionDays            int     `json:"backup.retention_days"`
	BackupOffsiteCopies            int     `json:"backup.offsite_copies"`
	RestoreTestIntervalDays        int     `json:"backup.restore_test_interval_days"`
	TabletopExerciseIntervalDays   int     `json:"backup.tabletop_exercise_interval_days"`
	CapacityCheckInterval          string  `json:"capacity.check_interval"`
	CPUPercent                     float64 `json:"capacity.cpu_percent"`
	MemoryPercent                  float64 `json:"capacity.memory_percent"`
	DiskPercent                    float64 `json:"capacity.disk_percent"`
	InodePercent                   float64 `json:"capacity.inode_percent"`
	DiskFullWarnDays               int     `json:"capacity.disk_full_warn_days"`
	CapacityAlertAfter             string  `json:"capacity.alert_after"`
	ClockMaxOffsetMS               int     `json:"configuration.clock_max_offset_ms"`
	LogRetentionDays               int     `json:"logging.retention_days"`
	SLACritical                    int     `json:"vuln.sla_days.critical"`
	SLAHigh                        int     `json:"vuln.sla_days.high"`
	SLAMedium                      int     `json:"vuln.sla_days.medium"`
	SLALow                         int     `json:"vuln.sla_days.low"`
	ScanIntervalDays               int     `json:"vuln.scan_interval_days"`
	ExternalAssessmentIntervalDays int     `json:"vuln.external_assessment_interval_days"`
	EPSSThreshold                  float64 `json:"vuln.epss_threshold"`
	EscalationReminderDays         int     `json:"vuln.escalation_reminder_days"`
	ControlsInterval               string  `json:"controls.interval"`
	ReviewIntervalDays             int     `json:"governance.review_interval_days"`
	FeedMaxAgeDays                 int     `json:"governance.feed_max_age_days"`
	AttestationMaxDays             int     `json:"governance.attestation_max_days"`
}

// NumbersFrom takes the policy's numbers from the process config.
func NumbersFrom(c config.Config) Numbers {
	return Numbers{
		PostFactoReviewBusinessDays: c.Change.PostFactoReviewBusinessDays,
		BackupMaxAgeHours:           c.Backup.MaxAgeHours, BackupRetentionDays: c.Backup.RetentionDays, BackupOffsiteCopies: c.Backup.OffsiteCopies,
		RestoreTestIntervalDays: c.Backup.RestoreTestIntervalDays, TabletopExerciseIntervalDays: c.Backup.TabletopExerciseIntervalDays,
		CapacityCheckInterval: prose(c.Capacity.CheckInterval), CPUPercent: c.Capacity.CPUPercent, MemoryPercent: c.Capacity.MemoryPercent,
		DiskPercent: c.Capacity.DiskPercent, InodePercent: c.Capacity.InodePercent, DiskFullWarnDays: c.Capacity.DiskFullWarnDays,
		CapacityAlertAfter: prose(c.Capacity.AlertAfter), ClockMaxOffsetMS: c.Configuration.ClockMaxOffsetMS,
		LogRetentionDays: c.Logging.RetentionDays,
		SLACritical:      c.Vuln.SLADays.Critical, SLAHigh: c.Vuln.SLADays.High, SLAMedium: c.Vuln.SLADays.Medium, SLALow: c.Vuln.SLADays.Low,
		ScanIntervalDays: c.Vuln.ScanIntervalDays, ExternalAssessmentIntervalDays: c.Vuln.ExternalAssessmentIntervalDays,
		EPSSThreshold: c.Vuln.EPSSThreshold, EscalationReminderDays: c.Vuln.EscalationReminderDays,
		ControlsInterval: prose(c.Controls.Interval), ReviewIntervalDays: c.Governance.ReviewIntervalDays,
		FeedMaxAgeDays: c.Governance.FeedMaxAgeDays, AttestationMaxDays: c.Governance.AttestationMaxDays,
	}
}

// prose writes a duration as a document says it: "24 hours", "5 minutes",
// "90 seconds"; Go's form ("24h0m0s") for what does not divide evenly.
func prose(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if d >= u.d && d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 {
				return "1 " + u.name
			}
			return fmt.Sprintf("%d %ss", n, u.name)
		}
	}
	return d.String()
}

// Fingerprint is the SHA-256 of the numbers' JSON: equal fingerprints,
// equal numbers.
func (n Numbers) Fingerprint() string {
	b, _ := json.Marshal(n)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// changed names the numbers that differ from old, "key a → b".
func (n Numbers) changed(old Numbers) []string {
	var a, b map[string]any
	ja, _ := json.Marshal(old)
	jb, _ := json.Marshal(n)
	json.Unmarshal(ja, &a)
	json.Unmarshal(jb, &b)
	var out []string
	t := reflect.TypeOf(n)
	for i := range t.NumField() {
		k := t.Field(i).Tag.Get("json")
		if fmt.Sprint(a[k]) != fmt.Sprint(b[k]) {
			out = append(out, fmt.Sprintf("%s %v → %v", k, a[k], b[k]))
		}
	}
	return out
}

// maxTemplate bounds a document's template.
const maxTemplate = 256 << 10

// Compile parses a document template named file and checks that every
// placeholder names a field of Params: an unknown one is refused with the
// file, the line and the name.
func Compile(file, src string) (*template.Template, error) {
	if len(src) > maxTemplate {
		return nil, invalid("text", "%s: the template is longer than %d bytes", file, maxTemplate)
	}
	t, err := template.New(file).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, invalid("text", "%s: %s", file, strings.TrimPrefix(err.Error(), "template: "))
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		if err := checkNode(tt.Tree, tt.Tree.Root, file, src); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// checkNode walks a template's tree and checks each field chain against
// Params.
func checkNode(tree *parse.Tree, n parse.Node, file, src string) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(tree, c, file, src); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkNode(tree, n.Pipe, file, src)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				if err := checkNode(tree, a, file, src); err != nil {
					return err
				}
			}
		}
	case *parse.IfNode:
		return checkBranch(tree, &n.BranchNode, file, src)
	case *parse.RangeNode:
		return invalid("text", "%s:%d: range is not supported in policy documents", file, line(src, n.Position()))
	case *parse.WithNode:
		return checkBranch(tree, &n.BranchNode, file, src)
	case *parse.FieldNode:
		t := reflect.TypeOf(Params{})
		for _, name := range n.Ident {
			var f reflect.StructField
			ok := t.Kind() == reflect.Struct
			if ok {
				f, ok = t.FieldByName(name)
			}
			if !ok || !f.IsExported() {
				return &opsguard.Error{Code: opsguard.EInvalid,
					Message: fmt.Sprintf("%s:%d: unknown placeholder %q", file, line(src, n.Position()), "."+strings.Join(n.Ident, ".")),
					Details: map[string]any{"file": file, "line": line(src, n.Position()), "name": "." + strings.Join(n.Ident, ".")}}
			}
			t = f.Type
		}
	case *parse.VariableNode, *parse.DotNode, *parse.ChainNode:
		return invalid("text", "%s:%d: only placeholders of the form {{.Name}} are supported", file, line(src, n.Position()))
	}
	return nil
}

func checkBranch(tree *parse.Tree, b *parse.BranchNode, file, src string) error {
	for _, c := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if c == nil || reflect.ValueOf(c).IsNil() {
			continue
		}
		if err := checkNode(tree, c, file, src); err != nil {
			return err
		}
	}
	return nil
}

func line(src string, pos parse.Pos) int {
	if int(pos) > len(src) {
		pos = parse.Pos(len(src))
	}
	return 1 + strings.Count(src[:pos], "\n")
}

// Render fills a compiled template with p.
func Render(t *template.Template, p Params) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return "", invalid("text", "%s", strings.TrimPrefix(err.Error(), "template: "))
	}
	return b.String(), nil
}

// builtinSource returns the embedded template of a built-in document.
func builtinSource(b Builtin) string {
	src, err := builtinFS.ReadFile(b.File)
	if err != nil {
		panic(err) // embedded: a missing file is a build mistake
	}
	return string(src)
}

func invalid(field, format string, args ...any) error {
	return &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf(format, args...), Details: map[string]any{"field": field}}
}

// TemplateSource returns the embedded template file of a built-in document.
func TemplateSource(file string) (string, error) {
	b, err := builtinFS.ReadFile(file)
	return string(b), err
}
