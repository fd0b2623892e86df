package vuln

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openvex/go-vex/pkg/vex"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/id"
)

// The VEX formats ExportVEX writes.
const (
	OpenVEX   = "openvex"
	CycloneDX = "cyclonedx"
)

// assetFindings returns every finding of an asset, page by page.
func (s *Service) assetFindings(ctx context.Context, asset string) ([]Finding, error) {
	var all []Finding
	for off := 0; ; off += 1000 {
		page, total, err := s.List(ctx, Filter{Asset: asset, Limit: 1000, Offset: off})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(all) >= total || len(page) == 0 {
			return all, nil
		}
	}
}

// ExportVEX writes the register's decisions about an asset's findings as a
// VEX document, mapping the policy's resolutions onto the standard
// statuses: fixed → fixed; false_positive → not_affected
// (vulnerable_code_not_present); not_affected_unused → not_affected
// (vulnerable_code_not_in_execute_path); risk_accepted → affected with an
// action statement; open → under_investigation; in_progress → affected.
func (s *Service) ExportVEX(ctx context.Context, asset, format string) ([]byte, error) {
	fs, err := s.assetFindings(ctx, asset)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, opsguard.Errorf(opsguard.ENotFound, "asset %q has no findings", asset)
	}
	now := s.now().UTC().Truncate(time.Second)
	switch format {
	case OpenVEX, "":
		return openVEX(asset, fs, now)
	case CycloneDX:
		return cycloneVEX(asset, fs, now)
	}
	return nil, &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("VEX format %q: openvex or cyclonedx", format), Details: map[string]any{"field": "format"}}
}

// where names the affected part of the asset: its package or code location.
func (f Finding) where() string {
	if f.Package != "" {
		return f.Package
	}
	return f.Location
}

func openVEX(asset string, fs []Finding, now time.Time) ([]byte, error) {
	doc := vex.New()
	doc.ID = "https://opsguard.dev/vex/" + id.New("vex")
	doc.Author = "opsguard"
	doc.AuthorRole = "vulnerability register"
	doc.Tooling = "opsguard"
	doc.Timestamp = &now
	doc.Version = 1
	for _, f := range fs {
		st := vex.Statement{
			Vulnerability: vex.Vulnerability{Name: vex.VulnerabilityID(f.VulnID)},
			Products:      []vex.Product{{Component: vex.Component{ID: asset}}},
		}
		if w := f.where(); w != "" {
			st.Products[0].Subcomponents = []vex.Subcomponent{{Component: vex.Component{ID: w}}}
		}
		for _, a := range f.Aliases {
			st.Vulnerability.Aliases = append(st.Vulnerability.Aliases, vex.VulnerabilityID(a))
		}
		switch {
		case f.Resolution == Fixed:
			st.Status = vex.StatusFixed
		case f.Resolution == FalsePositive:
			st.Status, st.Justification, st.ImpactStatement = vex.StatusNotAffected, vex.VulnerableCodeNotPresent, f.Justification
		case f.Resolution == NotAffectedUnused:
			st.Status, st.Justification, st.ImpactStatement = vex.StatusNotAffected, vex.VulnerableCodeNotInExecutePath, f.Justification
		case f.Resolution == RiskAccepted:
			st.Status, st.ActionStatement = vex.StatusAffected, acceptedAction(f)
		case f.Status == InProgress:
			st.Status, st.ActionStatement = vex.StatusAffected, "Remediation in progress; due "+f.DueAt.Format(time.DateOnly)+"."
		default:
			st.Status = vex.StatusUnderInvestigation
		}
		doc.Statements = append(doc.Statements, st)
	}
	var buf bytes.Buffer
	if err := doc.ToJSON(&buf); err != nil {
		return nil, fmt.Errorf("openvex: %w", err)
	}
	return buf.Bytes(), nil
}

func acceptedAction(f Finding) string {
	s := "Risk accepted"
	if f.AcceptedUntil != nil {
		s += " until " + f.AcceptedUntil.Format(time.DateOnly)
	}
	return s + ": " + f.Justification
}

// cycloneVEX writes a CycloneDX 1.5 VEX (small local structs: the shape
// is a handful of fields).
func cycloneVEX(asset string, fs []Finding, now time.Time) ([]byte, error) {
	type analysis struct {
		State         string   `json:"state"`
		Justification string   `json:"justification,omitempty"`
		Response      []string `json:"response,omitempty"`
		Detail        string   `json:"detail,omitempty"`
	}
	type ref struct {
		ID string `json:"id"`
	}
	type affect struct {
		Ref string `json:"ref"`
	}
	type vulnerability struct {
		BOMRef     string   `json:"bom-ref"`
		ID         string   `json:"id"`
		References []ref    `json:"references,omitempty"`
		Analysis   analysis `json:"analysis"`
		Affects    []affect `json:"affects"`
	}
	type component struct {
		BOMRef string `json:"bom-ref"`
		Type   string `json:"type"`
		Name   string `json:"name"`
		PURL   string `json:"purl,omitempty"`
	}
	doc := struct {
		BOMFormat    string `json:"bomFormat"`
		SpecVersion  string `json:"specVersion"`
		SerialNumber string `json:"serialNumber"`
		Version      int    `json:"version"`
		Metadata     struct {
			Timestamp string `json:"timestamp"`
			Tools     struct {
				Components []component `json:"components"`
			} `json:"tools"`
			Component component `json:"component"`
		} `json:"metadata"`
		Vulnerabilities []vulnerability `json:"vulnerabilities"`
	}{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1, SerialNumber: "urn:uuid:" + uuidLike()}
	doc.Metadata.Timestamp = now.Format(time.RFC3339)
	doc.Metadata.Tools.Components = []component{{BOMRef: "opsguard", Type: "application", Name: "opsguard"}}
	doc.Metadata.Component = component{BOMRef: asset, Type: "application", Name: asset}
	for i, f := range fs {
		v := vulnerability{BOMRef: fmt.Sprintf("v%d", i+1), ID: f.VulnID, Affects: []affect{{Ref: asset}}}
		for _, a := range f.Aliases {
			v.References = append(v.References, ref{ID: a})
		}
		switch {
		case f.Resolution == Fixed:
			v.Analysis = analysis{State: "resolved", Response: []string{"update"}}
		case f.Resolution == FalsePositive:
			v.Analysis = analysis{State: "not_affected", Justification: "code_not_present", Detail: f.Justification}
		case f.Resolution == NotAffectedUnused:
			v.Analysis = analysis{State: "not_affected", Justification: "code_not_reachable", Detail: f.Justification}
		case f.Resolution == RiskAccepted:
			v.Analysis = analysis{State: "exploitable", Response: []string{"will_not_fix"}, Detail: acceptedAction(f)}
		case f.Status == InProgress:
			v.Analysis = analysis{State: "exploitable", Response: []string{"update"}, Detail: "Remediation in progress; due " + f.DueAt.Format(time.DateOnly) + "."}
		default:
			v.Analysis = analysis{State: "in_triage"}
		}
		if w := f.where(); w != "" {
			v.Analysis.Detail = joinDetail(v.Analysis.Detail, "Affected: "+w)
		}
		doc.Vulnerabilities = append(doc.Vulnerabilities, v)
	}
	return json.MarshalIndent(doc, "", "  ")
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// uuidLike is a random RFC 4122 version 4 UUID.
func uuidLike() string {
	h := id.New("")[1:] // 32 hex digits
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}
