package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// maxReport bounds an uploaded report.
const maxReport = 512 << 20

func (s *Server) vulnRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/v1/scans", Perm: auth.ImportScans, Summary: "Upload a scanner or assessment report (raw body) and get the import summary", handle: s.apiImportScan},
		{Method: "GET", Pattern: "/api/v1/findings", Perm: auth.Read, Summary: "The register, soonest due first", handle: s.apiFindings},
		{Method: "GET", Pattern: "/api/v1/findings/{id}", Perm: auth.Read, Summary: "One finding", handle: s.apiFinding},
	}
}

func (s *Server) apiImportScan(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReport))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return opsguard.Errorf(opsguard.EInvalid, "report larger than %d bytes", mbe.Limit)
		}
		return opsguard.Errorf(opsguard.EInvalid, "reading the report: %v", err)
	}
	file := q.Get("file")
	if file == "" {
		file = "upload"
	}
	sum, err := s.app.Vuln.Import(r.Context(), p.Name(), vuln.ImportRequest{
		Asset: q.Get("asset"), AssetKind: q.Get("kind"), File: file, Format: q.Get("format"), Data: data})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sum)
	return nil
}

// findingFilter reads the register's filters from the query.
func findingFilter(r *http.Request) (vuln.Filter, error) {
	q := r.URL.Query()
	f := vuln.Filter{Asset: q.Get("asset"), Status: vuln.Status(q.Get("status")), Risk: vuln.Risk(q.Get("risk")), Breached: q.Get("breached") == "true"}
	if sv := q.Get("severity"); sv != "" {
		sev, ok := importers.ParseSeverity(sv)
		if !ok {
			return f, &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("severity %q: one of critical, high, medium, low, info", sv), Details: map[string]any{"field": "severity"}}
		}
		f.Severity = sev
	}
	if d := q.Get("due_before"); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return f, &opsguard.Error{Code: opsguard.EInvalid, Message: "due_before: want YYYY-MM-DD", Details: map[string]any{"field": "due_before"}}
		}
		f.DueBefore = t
	}
	limit, err := intParam(r, "limit", 100)
	if err != nil {
		return f, err
	}
	offset, err := intParam(r, "offset", 0)
	if err != nil {
		return f, err
	}
	f.Limit, f.Offset = int(limit), int(offset)
	return f, nil
}

type findingsPage struct {
	Items []vuln.Finding `json:"items"`
	Total int            `json:"total"`
}

func (s *Server) apiFindings(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	f, err := findingFilter(r)
	if err != nil {
		return err
	}
	fs, total, err := s.app.Vuln.List(r.Context(), f)
	if err != nil {
		return err
	}
	if fs == nil {
		fs = []vuln.Finding{}
	}
	writeJSON(w, http.StatusOK, findingsPage{fs, total})
	return nil
}

func (s *Server) apiFinding(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	f, err := s.app.Vuln.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}
