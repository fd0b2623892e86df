package importers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opsguard/opsguard/vuln"
)

// openvexImporter reads OpenVEX documents (v0.2 and the earlier v0.0.x,
// where a vulnerability and a product are plain strings). Each statement
// becomes one Statement per product, or per subcomponent when the
// statement names some, since scanners' findings name the package, not
// the image that holds it. A VEX document records decisions, not
// detections: it has no Findings and is never complete.
//
// It decodes into local structs rather than github.com/openvex/go-vex's:
// go-vex reads a v0.0.x string vulnerability only through its own
// unmarshalers, whose errors lose the line and JSON path that DecodeJSON
// gives, and it would pull its dependencies in for five fields.
type openvexImporter struct{}

func init() { Register(openvexImporter{}) }

func (openvexImporter) Name() string { return "openvex" }

func (openvexImporter) Detect(data []byte) bool {
	if !Sniff(data, "@context", "statements") {
		return false
	}
	if len(data) > 64<<10 {
		data = data[:64<<10]
	}
	return bytes.Contains(bytes.ToLower(data), []byte("openvex"))
}

type openvexDoc struct {
	Context    json.RawMessage    `json:"@context"`
	Author     string             `json:"author"`
	Tooling    string             `json:"tooling"`
	Statements []openvexStatement `json:"statements"`
}

type openvexStatement struct {
	// Vulnerability is an object from v0.2 on, a string before.
	Vulnerability   json.RawMessage   `json:"vulnerability"`
	Products        []json.RawMessage `json:"products"`
	Subcomponents   []json.RawMessage `json:"subcomponents"` // v0.0.x
	Status          string            `json:"status"`
	Justification   string            `json:"justification"`
	ImpactStatement string            `json:"impact_statement"`
	ActionStatement string            `json:"action_statement"`
}

type openvexProduct struct {
	ID          string            `json:"@id"`
	Identifiers map[string]string `json:"identifiers"`
	// Subcomponents are objects like the product, or strings.
	Subcomponents []json.RawMessage `json:"subcomponents"`
}

const openvexExpected = `expected a JSON object with "@context": "https://openvex.dev/ns/…" and "statements"`

func (openvexImporter) Parse(name string, data []byte) (*vuln.Report, error) {
	if d := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(d) > 0 && d[0] != '{' {
		return nil, &Error{File: name, Line: 1, Msg: "not an OpenVEX document: " + openvexExpected + ", found " + openvexKind(d[0])}
	}
	var doc openvexDoc
	if err := DecodeJSON(name, data, &doc); err != nil {
		return nil, err
	}
	if !bytes.Contains(bytes.ToLower(doc.Context), []byte("openvex")) {
		found := "none"
		if len(doc.Context) > 0 {
			found = string(doc.Context)
			if len(found) > 80 {
				found = found[:80] + "…"
			}
		}
		return nil, Errorf(name, "@context", "not an OpenVEX document: the @context is %s, not https://openvex.dev/ns/…", found)
	}
	r := &vuln.Report{Tool: doc.Author}
	if r.Tool == "" {
		r.Tool = doc.Tooling
	}
	for i, s := range doc.Statements {
		ss, err := openvexStatements(name, fmt.Sprintf("statements[%d]", i), s)
		if err != nil {
			return nil, err
		}
		r.Statements = append(r.Statements, ss...)
	}
	return r, nil
}

func openvexKind(b byte) string {
	switch b {
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	}
	return "something else"
}

var openvexStatuses = map[string]bool{"not_affected": true, "affected": true, "fixed": true, "under_investigation": true}

func openvexStatements(file, path string, s openvexStatement) ([]vuln.Statement, error) {
	id, aliases, err := openvexVuln(file, path+".vulnerability", s.Vulnerability)
	if err != nil {
		return nil, err
	}
	if !openvexStatuses[s.Status] {
		return nil, Errorf(file, path+".status", "unknown status %q; expected not_affected, affected, fixed or under_investigation", s.Status)
	}
	base := vuln.Statement{VulnID: id, Aliases: aliases, Status: s.Status, Justification: s.Justification,
		Impact: s.ImpactStatement, Action: s.ActionStatement}
	var products []string
	for j, raw := range s.Products {
		ps, err := openvexProducts(file, fmt.Sprintf("%s.products[%d]", path, j), raw)
		if err != nil {
			return nil, err
		}
		products = append(products, ps...)
	}
	if len(s.Subcomponents) > 0 {
		products = nil
		for j, raw := range s.Subcomponents {
			ps, err := openvexProducts(file, fmt.Sprintf("%s.subcomponents[%d]", path, j), raw)
			if err != nil {
				return nil, err
			}
			products = append(products, ps...)
		}
	}
	if len(products) == 0 {
		return []vuln.Statement{base}, nil
	}
	out := make([]vuln.Statement, 0, len(products))
	for _, p := range products {
		st := base
		st.Product = p
		out = append(out, st)
	}
	return out, nil
}

func openvexVuln(file, path string, raw json.RawMessage) (string, []string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", nil, Errorf(file, path, "%v", err)
		}
		if id = strings.TrimSpace(id); id == "" {
			return "", nil, Errorf(file, path, "the vulnerability has no name")
		}
		return id, nil, nil
	}
	var v struct {
		ID      string   `json:"@id"`
		Name    string   `json:"name"`
		Aliases []string `json:"aliases"`
	}
	if len(raw) == 0 || raw[0] != '{' {
		return "", nil, Errorf(file, path, "expected a vulnerability: an object with a name, or a string")
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", nil, Errorf(file, path, "%v", err)
	}
	id := strings.TrimSpace(v.Name)
	if id == "" {
		id = strings.TrimSpace(v.ID)
	}
	if id == "" {
		return "", nil, Errorf(file, path+".name", "the vulnerability has no name")
	}
	var aliases []string
	for _, a := range v.Aliases {
		if a = strings.TrimSpace(a); a != "" && a != id {
			aliases = append(aliases, a)
		}
	}
	return id, aliases, nil
}

// openvexProducts names a product, or its subcomponents when it has some
// (theirs are not looked into: OpenVEX nests one level).
func openvexProducts(file, path string, raw json.RawMessage) ([]string, error) {
	return openvexProduct1(file, path, raw, true)
}

func openvexProduct1(file, path string, raw json.RawMessage, expand bool) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			return nil, Errorf(file, path, "%v", err)
		}
		if id = strings.TrimSpace(id); id == "" {
			return nil, Errorf(file, path, "the product is an empty string")
		}
		return []string{id}, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, Errorf(file, path, "expected a product: an object with an @id, or a string")
	}
	var p openvexProduct
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, Errorf(file, path, "%v", err)
	}
	if expand && len(p.Subcomponents) > 0 {
		var out []string
		for j, sub := range p.Subcomponents {
			ps, err := openvexProduct1(file, fmt.Sprintf("%s.subcomponents[%d]", path, j), sub, false)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
		return out, nil
	}
	id := p.ID
	for _, k := range []string{"purl", "cpe23", "cpe22"} {
		if id == "" {
			id = p.Identifiers[k]
		}
	}
	if id == "" {
		return nil, Errorf(file, path, "the product has no @id and no purl or cpe identifier")
	}
	return []string{id}, nil
}
