package report

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard/control"
)

// OSCALVersion is the OSCAL release the assessment results follow.
const OSCALVersion = "1.0.6"

// OSCAL is oscal/assessment-results.json: small local structs following
// NIST's assessment-results JSON schema (no OSCAL Go module is used).
type OSCAL struct {
	AssessmentResults AssessmentResults `json:"assessment-results"`
}

// AssessmentResults is OSCAL's root object.
type AssessmentResults struct {
	UUID     string     `json:"uuid"`
	Metadata Metadata   `json:"metadata"`
	ImportAP ImportAP   `json:"import-ap"`
	Results  []ARResult `json:"results"`
}

// Metadata is OSCAL's document metadata.
type Metadata struct {
	Title        string `json:"title"`
	LastModified string `json:"last-modified"`
	Version      string `json:"version"`
	OSCALVersion string `json:"oscal-version"`
	Remarks      string `json:"remarks,omitempty"`
}

// ImportAP points at the assessment plan; opsguard's is its policy.
type ImportAP struct {
	Href    string `json:"href"`
	Remarks string `json:"remarks,omitempty"`
}

// ARResult is one result: the period.
type ARResult struct {
	UUID             string           `json:"uuid"`
	Title            string           `json:"title"`
	Description      string           `json:"description"`
	Start            string           `json:"start"`
	End              string           `json:"end"`
	ReviewedControls ReviewedControls `json:"reviewed-controls"`
	Observations     []Observation    `json:"observations,omitempty"`
	Findings         []Finding        `json:"findings,omitempty"`
}

// ReviewedControls names the requirements assessed.
type ReviewedControls struct {
	ControlSelections []ControlSelection `json:"control-selections"`
}

// ControlSelection lists requirement IDs.
type ControlSelection struct {
	IncludeControls []ControlID `json:"include-controls"`
}

// ControlID is one requirement, lower case as OSCAL's token pattern wants.
type ControlID struct {
	ControlID string `json:"control-id"`
}

// Observation is one control's results in the period, pointing at the
// ledger entries (inside the bundle) that recorded them.
type Observation struct {
	UUID             string     `json:"uuid"`
	Title            string     `json:"title"`
	Description      string     `json:"description"`
	Props            []Prop     `json:"props,omitempty"`
	Methods          []string   `json:"methods"`
	RelevantEvidence []Evidence `json:"relevant-evidence,omitempty"`
	Collected        string     `json:"collected"`
}

// Prop is an OSCAL property.
type Prop struct {
	Name  string `json:"name"`
	NS    string `json:"ns,omitempty"`
	Value string `json:"value"`
}

// Evidence points at a member of the bundle.
type Evidence struct {
	Href        string `json:"href"`
	Description string `json:"description"`
}

// Finding is one requirement: satisfied or not.
type Finding struct {
	UUID                string           `json:"uuid"`
	Title               string           `json:"title"`
	Description         string           `json:"description"`
	Target              Target           `json:"target"`
	RelatedObservations []RelatedObsUUID `json:"related-observations,omitempty"`
}

// Target is the requirement a finding is about.
type Target struct {
	Type     string       `json:"type"`
	TargetID string       `json:"target-id"`
	Status   TargetStatus `json:"status"`
}

// TargetStatus is satisfied or not-satisfied.
type TargetStatus struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// RelatedObsUUID links a finding to an observation.
type RelatedObsUUID struct {
	ObservationUUID string `json:"observation-uuid"`
}

// ns is the namespace of opsguard's OSCAL properties.
const ns = "https://opsguard.dev/ns/oscal"

// maxCited bounds the runs an observation cites one by one: the first,
// the last and every failure up to this many; results.json has them all.
const maxCited = 20

// NewOSCAL derives the assessment results from the bundle's results. It
// is a pure function of them (UUIDs are name-based), so Verify rebuilds it
// and compares.
func NewOSCAL(m *Manifest, res Results) OSCAL {
	seed := fmt.Sprintf("%s|%s|%s|%s", m.Origin, m.From.Format(time.RFC3339), m.To.Format(time.RFC3339), m.CreatedAt.Format(time.RFC3339))
	r := ARResult{UUID: nameUUID(seed, "result"),
		Title:       fmt.Sprintf("opsguard assessment %s to %s", m.From.Format("2006-01-02"), m.To.Format("2006-01-02")),
		Description: "Automated assessment of the Operations Security policy by opsguard's controls over the period; every observation cites the ledger entries of the bundle that recorded it.",
		Start:       m.From.Format(time.RFC3339), End: m.To.Format(time.RFC3339)}
	for _, req := range res.Requirements {
		r.ReviewedControls.ControlSelections = appendControl(r.ReviewedControls.ControlSelections, req.ID)
		f := Finding{UUID: nameUUID(seed, "finding/"+req.ID), Title: req.ID, Description: req.Text,
			Target: Target{Type: "objective-id", TargetID: strings.ToLower(req.ID), Status: TargetStatus{State: "not-satisfied", Reason: string(req.Status)}}}
		if req.Status == control.Pass {
			f.Target.Status.State = "satisfied"
		}
		for _, c := range req.Controls {
			o := observation(seed, c, m)
			r.Observations = append(r.Observations, o)
			f.RelatedObservations = append(f.RelatedObservations, RelatedObsUUID{o.UUID})
		}
		r.Findings = append(r.Findings, f)
	}
	return OSCAL{AssessmentResults{UUID: nameUUID(seed, "assessment-results"),
		Metadata: Metadata{Title: "opsguard audit bundle: assessment results", LastModified: m.CreatedAt.Format(time.RFC3339),
			Version: m.CreatedAt.Format(time.RFC3339), OSCALVersion: OSCALVersion},
		ImportAP: ImportAP{Href: "#" + nameUUID(seed, "assessment-plan"), Remarks: "The assessment plan is the Operations Security policy (REQUIREMENTS.md) and its controls."},
		Results:  []ARResult{r}}}
}

func appendControl(sel []ControlSelection, id string) []ControlSelection {
	if len(sel) == 0 {
		sel = []ControlSelection{{}}
	}
	sel[0].IncludeControls = append(sel[0].IncludeControls, ControlID{strings.ToLower(id)})
	return sel
}

func observation(seed string, c ControlResult, m *Manifest) Observation {
	o := Observation{UUID: nameUUID(seed, "observation/"+c.ID), Title: c.ID,
		Description: fmt.Sprintf("%s: %d runs in the period, %d passed, %d failed.", c.Title, len(c.Runs), c.Passed, c.Failed),
		Methods:     []string{"TEST"}, Collected: m.CreatedAt.Format(time.RFC3339),
		Props: []Prop{{Name: "status", NS: ns, Value: string(c.Status)}}}
	cited := 0
	for i, r := range c.Runs {
		if i != 0 && i != len(c.Runs)-1 && (r.Status == control.Pass || r.Status == control.NotApplicable || cited >= maxCited) {
			continue
		}
		cited++
		o.RelevantEvidence = append(o.RelevantEvidence, Evidence{Href: fmt.Sprintf("%s#seq=%d", EntriesName, r.Seq),
			Description: fmt.Sprintf("ledger entry %d (%s): %s: %s", r.Seq, r.Time, r.Status, r.Summary)})
	}
	return o
}

// nameUUID is a name-based UUID (version 5 layout, SHA-256 truncated).
func nameUUID(seed, name string) string {
	s := sha256.Sum256([]byte(seed + "|" + name))
	s[6] = s[6]&0x0f | 0x50
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}
