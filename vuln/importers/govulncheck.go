package importers

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/opsguard/opsguard/vuln"
)

// govulncheckImporter reads govulncheck -json: a stream of JSON objects,
// one message each (config, progress, SBOM, osv, finding), as govulncheck
// 1.0 and later write it. It also reads the single object of the releases
// before 1.0 (Calls, Imports, Requires, Vulns, Modules), which scanners'
// test data still carry.
type govulncheckImporter struct{}

func init() { Register(govulncheckImporter{}) }

func (govulncheckImporter) Name() string { return "govulncheck" }

// Detect looks at the first key of the first object only: a stream
// starts with config (or, from some versions, progress); the format
// before 1.0 starts with Calls.Functions.
func (govulncheckImporter) Detect(data []byte) bool {
	d := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(d) == 0 || d[0] != '{' {
		return false
	}
	d = bytes.TrimLeft(d[1:], " \t\r\n")
	for _, k := range []string{"config", "progress", "SBOM", "osv", "finding"} {
		if bytes.HasPrefix(d, []byte(`"`+k+`"`)) {
			return true
		}
	}
	rest, ok := bytes.CutPrefix(d, []byte(`"Calls"`))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t\r\n")
	rest, ok = bytes.CutPrefix(rest, []byte(":"))
	rest = bytes.TrimLeft(rest, " \t\r\n")
	rest, ok2 := bytes.CutPrefix(rest, []byte("{"))
	return ok && ok2 && bytes.HasPrefix(bytes.TrimLeft(rest, " \t\r\n"), []byte(`"Functions"`))
}

// The local structs hold only what opsguard reads.
type (
	govulncheckMessage struct {
		Config *struct {
			ScannerVersion string `json:"scanner_version"`
		} `json:"config"`
		Progress *json.RawMessage   `json:"progress"`
		SBOM     *govulncheckSBOM   `json:"SBOM"`
		OSV      *osvVuln           `json:"osv"`
		Finding  *govulncheckResult `json:"finding"`
		// Before 1.0.
		Vulns   *[]govulncheckVuln `json:"Vulns"`
		Modules []struct {
			Path    string `json:"Path"`
			Version string `json:"Version"`
		} `json:"Modules"`
	}
	govulncheckSBOM struct {
		Modules []struct {
			Path    string `json:"path"`
			Version string `json:"version"`
		} `json:"modules"`
	}
	govulncheckResult struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		// The vulnerable symbol first, then its callers up to the
		// scanned code; one frame only when the finding is at module or
		// package level.
		Trace []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
			Receiver string `json:"receiver"`
		} `json:"trace"`
	}
	govulncheckVuln struct {
		OSV        osvVuln `json:"OSV"`
		Symbol     string  `json:"Symbol"`
		PkgPath    string  `json:"PkgPath"`
		ModPath    string  `json:"ModPath"`
		CallSink   int     `json:"CallSink"`
		ImportSink int     `json:"ImportSink"`
	}
)

// govulncheckHit is one finding being built, with how deep govulncheck
// traced it: 0 module, 1 package, 2 function.
type govulncheckHit struct {
	osv, module, version, fixed string
	depth                       int
	reached                     string
}

func (govulncheckImporter) Parse(name string, data []byte) (*vuln.Report, error) {
	msgs, err := govulncheckDecode(name, data)
	if err != nil {
		return nil, err
	}
	r := &vuln.Report{Tool: "govulncheck", Complete: true, Findings: []vuln.Reported{}}
	osvs := map[string]*osvVuln{}
	var hits []govulncheckHit
	known := false
	for _, m := range msgs {
		known = known || m.msg.Config != nil || m.msg.Progress != nil || m.msg.SBOM != nil ||
			m.msg.OSV != nil || m.msg.Finding != nil || m.msg.Vulns != nil
		switch {
		case m.msg.Config != nil:
			r.ToolVersion = cmp.Or(r.ToolVersion, m.msg.Config.ScannerVersion)
		case m.msg.SBOM != nil:
			for _, mod := range m.msg.SBOM.Modules {
				if mod.Version == "" && r.Target == "" { // the main module
					r.Target = mod.Path
				}
			}
		case m.msg.OSV != nil:
			if id := strings.TrimSpace(m.msg.OSV.ID); id != "" {
				osvs[id] = m.msg.OSV
			}
		case m.msg.Finding != nil:
			h, err := govulncheckFindingHit(name, data, m.at, m.msg.Finding)
			if err != nil {
				return nil, err
			}
			hits = govulncheckKeep(hits, h)
		case m.msg.Vulns != nil:
			hits = govulncheckLegacy(r, m.msg, osvs, hits)
		}
	}
	if !known {
		return nil, &Error{File: name, Msg: "not a govulncheck -json stream: no config, osv or finding message"}
	}
	for _, h := range hits {
		r.Findings = append(r.Findings, govulncheckFinding(h, osvs[h.osv]))
	}
	return r, nil
}

func govulncheckFindingHit(file string, data []byte, at int64, f *govulncheckResult) (govulncheckHit, error) {
	line, col := LineCol(data, at)
	if strings.TrimSpace(f.OSV) == "" {
		return govulncheckHit{}, &Error{File: file, Line: line, Col: col, Path: "finding.osv", Msg: "the finding names no vulnerability"}
	}
	if len(f.Trace) == 0 || f.Trace[0].Module == "" {
		return govulncheckHit{}, &Error{File: file, Line: line, Col: col, Path: "finding.trace", Msg: "the finding has no module in its trace"}
	}
	t := f.Trace[0]
	h := govulncheckHit{osv: strings.TrimSpace(f.OSV), module: t.Module, version: t.Version, fixed: f.FixedVersion}
	switch {
	case t.Function != "":
		h.depth = 2
		fn := t.Function
		if t.Receiver != "" {
			fn = strings.TrimPrefix(t.Receiver, "*") + "." + fn
		}
		h.reached = "the vulnerable function " + t.Package + "." + fn + " is called"
	case t.Package != "":
		h.depth = 1
		h.reached = "the vulnerable package " + t.Package + " is imported"
	default:
		h.reached = "the vulnerable module " + t.Module + " is required"
	}
	return h, nil
}

// govulncheckKeep adds h unless the vulnerability was already found in
// the module: govulncheck repeats a finding at module, package and
// function level, and once per call path. The deepest first one stays.
func govulncheckKeep(hits []govulncheckHit, h govulncheckHit) []govulncheckHit {
	for i := range hits {
		if hits[i].osv == h.osv && hits[i].module == h.module {
			if h.depth > hits[i].depth {
				hits[i] = h
			}
			return hits
		}
	}
	return append(hits, h)
}

// govulncheckLegacy reads the format before 1.0: each of Vulns is a
// vulnerable symbol of a module, with its OSV record inline; the fixed
// version has to come from the record's ranges.
func govulncheckLegacy(r *vuln.Report, m govulncheckMessage, osvs map[string]*osvVuln, hits []govulncheckHit) []govulncheckHit {
	versions := map[string]string{}
	for _, mod := range m.Modules {
		versions[mod.Path] = mod.Version
		if mod.Version == "" && mod.Path != "stdlib" && r.Target == "" {
			r.Target = mod.Path
		}
	}
	for _, v := range *m.Vulns {
		id := strings.TrimSpace(v.OSV.ID)
		if id == "" || v.ModPath == "" {
			continue
		}
		if _, ok := osvs[id]; !ok {
			osvs[id] = &v.OSV
		}
		h := govulncheckHit{osv: id, module: v.ModPath, version: versions[v.ModPath]}
		h.fixed = govulncheckV(osvFixed([]osvVuln{v.OSV}, v.ModPath, h.version))
		switch {
		case v.CallSink > 0:
			h.depth = 2
			h.reached = "the vulnerable function " + v.PkgPath + "." + v.Symbol + " is called"
		case v.ImportSink > 0:
			h.depth = 1
			h.reached = "the vulnerable package " + v.PkgPath + " is imported"
		default:
			h.reached = "the vulnerable module " + v.ModPath + " is required"
		}
		hits = govulncheckKeep(hits, h)
	}
	return hits
}

// govulncheckV writes OSV's Go versions (1.19.4) as govulncheck does
// (v1.19.4).
func govulncheckV(fixed string) string {
	if fixed == "" {
		return ""
	}
	vs := strings.Split(fixed, ", ")
	for i, v := range vs {
		if !strings.HasPrefix(v, "v") {
			vs[i] = "v" + v
		}
	}
	return strings.Join(vs, ", ")
}

func govulncheckFinding(h govulncheckHit, v *osvVuln) vuln.Reported {
	f := vuln.Reported{
		VulnID:         h.osv,
		Title:          h.osv,
		Severity:       vuln.Medium,
		SeveritySource: "assumed: govulncheck reports no severity",
		Package:        "Go/" + h.module,
		Version:        h.version,
		FixedVersion:   h.fixed,
	}
	if v == nil {
		f.Description = "govulncheck: " + h.reached + "."
		return f
	}
	f.VulnID, f.Aliases = osvIDs(append([]string{h.osv}, v.Aliases...))
	details := strings.TrimSpace(v.Details)
	f.Title = cmp.Or(strings.TrimSpace(v.Summary), osvFirstLine(details), h.osv)
	f.Description = strings.TrimSpace(details + "\n\ngovulncheck: " + h.reached + ".")
	var refs []string
	for _, ref := range v.References {
		refs = append(refs, strings.TrimSpace(ref.URL))
	}
	f.References = CapReferences(osvUnique(refs))
	return f
}

// govulncheckAt is a message and the offset where it starts.
type govulncheckAt struct {
	msg govulncheckMessage
	at  int64
}

// govulncheckDecode reads the stream object by object, so that an error
// names the line of the object at fault.
func govulncheckDecode(file string, data []byte) ([]govulncheckAt, error) {
	in, original := jsonReader(vuln.Bytes(data))
	dec := json.NewDecoder(in)
	var out []govulncheckAt
	for {
		start := original(dec.InputOffset())
		start += int64(len(data[start:]) - len(bytes.TrimLeft(data[start:], " \t\r\n")))
		var m govulncheckMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, govulncheckError(file, data, start, original, err)
		}
		out = append(out, govulncheckAt{m, start})
	}
	if len(out) == 0 {
		return nil, &Error{File: file, Msg: "the report is empty"}
	}
	return out, nil
}

// govulncheckError locates a decoding error: a syntax error's offset is
// the stream's, a type error's the object's.
func govulncheckError(file string, data []byte, start int64, original func(int64) int64, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := LineCol(data, int64(len(data)))
		return &Error{File: file, Line: line, Col: col, Msg: "the JSON is truncated"}
	case errors.As(err, &se):
		line, col := LineCol(data, original(se.Offset))
		return &Error{File: file, Line: line, Col: col, Msg: "invalid JSON: " + se.Error()}
	case errors.As(err, &te) && te.Field == "":
		line, col := LineCol(data, start)
		return &Error{File: file, Line: line, Col: col, Msg: "expected a JSON object (a govulncheck message), found " + te.Value}
	case errors.As(err, &te):
		line, col := LineCol(data, start+te.Offset)
		return &Error{File: file, Line: line, Col: col, Path: te.Field, Msg: fmt.Sprintf("expected %s, found %s", te.Type, te.Value)}
	}
	line, col := LineCol(data, start)
	return &Error{File: file, Line: line, Col: col, Msg: err.Error()}
}
