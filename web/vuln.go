package web

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/vuln"
)

// maxReport bounds an uploaded report.
const maxReport = 512 << 20

// spoolAbove is the size above which an uploaded report is written to a
// temporary file and read from there as it is imported, instead of held in
// memory.
const spoolAbove = 8 << 20

// spool copies r to a temporary file, already removed from its directory
// so that nothing is left behind, even by a crash: it is gone once closed.
func spool(r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "opsguard-upload-*")
	if err != nil {
		return nil, 0, err
	}
	os.Remove(f.Name())
	n, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, n, nil
}

// vulnModule serves the vulnerability register: imports, findings and the
// approvals of risk acceptances.
var vulnModule = module{name: "vuln", routes: (*Server).vulnRoutes,
	nav: []navLink{{"Vulnerabilities", "/findings"}, {"Approvals", "/approvals"}}}

func (s *Server) vulnRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/v1/scans", Perm: auth.ImportScans, Summary: "Upload a scanner or assessment report (raw body) and get the import summary", handle: s.apiImportScan},
		{Method: "POST", Pattern: "/api/v1/feeds", Perm: auth.ImportScans, Summary: "Upload a CISA KEV catalog or an EPSS CSV; open findings are reassessed", handle: s.apiImportFeed},
		{Method: "GET", Pattern: "/api/v1/vex", Perm: auth.Read, Summary: "A VEX document (OpenVEX or CycloneDX) of an asset's findings", handle: s.apiVEX},
		{Method: "GET", Pattern: "/api/v1/assets", Perm: auth.Read, Summary: "Assets with their owners and open findings", handle: s.apiAssets},
		{Method: "PUT", Pattern: "/api/v1/assets/{name}/owner", Perm: auth.ManageAssets, Summary: "Name the owner of an asset (a user), who receives the digest of its SLA breaches", handle: s.apiSetOwner},
		{Method: "GET", Pattern: "/api/v1/findings", Perm: auth.Read, Summary: "The register, soonest due first", handle: s.apiFindings},
		{Method: "GET", Pattern: "/api/v1/findings/{id}", Perm: auth.Read, Summary: "One finding", handle: s.apiFinding},
		{Method: "POST", Pattern: "/api/v1/findings/{id}/start", Perm: auth.TriageFindings, Summary: "Mark a finding in progress", handle: s.apiStart},
		{Method: "POST", Pattern: "/api/v1/findings/{id}/resolve", Perm: auth.TriageFindings, Summary: "Close a finding as fixed, false_positive or not_affected_unused", handle: s.apiResolve},
		{Method: "POST", Pattern: "/api/v1/findings/{id}/accept", Perm: auth.TriageFindings, Summary: "Ask for a risk acceptance until a date", handle: s.apiRequest(vuln.Acceptance)},
		{Method: "POST", Pattern: "/api/v1/findings/{id}/extend", Perm: auth.TriageFindings, Summary: "Ask for a later due date", handle: s.apiRequest(vuln.Extension)},
		{Method: "GET", Pattern: "/api/v1/requests", Perm: auth.Read, Summary: "Risk acceptances and extensions, oldest first (the approvals inbox)", handle: s.apiRequests},
		{Method: "POST", Pattern: "/api/v1/requests/{id}/approve", Perm: auth.ApproveRisk, Summary: "Approve a request (a security officer who did not ask)", handle: s.apiDecide(true)},
		{Method: "POST", Pattern: "/api/v1/requests/{id}/reject", Perm: auth.ApproveRisk, Summary: "Reject a request, with a reason", handle: s.apiDecide(false)},
		{Method: "GET", Pattern: "/findings", Perm: auth.Read, UI: true, Summary: "The vulnerability register", handle: s.uiFindings},
		{Method: "GET", Pattern: "/findings/{id}", Perm: auth.Read, UI: true, Summary: "A finding and its history", handle: s.uiFinding},
		{Method: "POST", Pattern: "/scans", Perm: auth.ImportScans, UI: true, Summary: "Upload a report", handle: s.uiImportScan},
		{Method: "POST", Pattern: "/findings/{id}/{action}", Perm: auth.TriageFindings, UI: true, Summary: "Start, resolve, or ask for an acceptance or extension", handle: s.uiFindingAction},
		{Method: "GET", Pattern: "/approvals", Perm: auth.Read, UI: true, Summary: "Risk acceptances and extensions awaiting a decision", handle: s.uiApprovals},
		{Method: "POST", Pattern: "/requests/{id}/{decision}", Perm: auth.ApproveRisk, UI: true, Summary: "Approve or reject a request", handle: s.uiDecide},
	}
}

type registerView struct {
	Items     []vuln.Finding
	Total     int
	Filter    vuln.Filter
	Counts    map[string]int
	Now       time.Time
	CanImport bool
	Imported  *vuln.Summary
	pager
}

func (s *Server) registerPage(w http.ResponseWriter, r *http.Request, p auth.Principal, st int, imported *vuln.Summary, problem string) error {
	f, err := findingFilter(r)
	if err != nil {
		return err
	}
	if f.Limit == 100 && r.URL.Query().Get("limit") == "" {
		f.Limit = 50
	}
	items, total, err := s.app.Vuln.List(r.Context(), f)
	if err != nil {
		return err
	}
	v := registerView{Items: items, Total: total, Filter: f, Now: s.app.Now(), CanImport: p.Can(auth.ImportScans), Imported: imported, Counts: map[string]int{}}
	for _, c := range []struct {
		key string
		f   vuln.Filter
	}{{"open", vuln.Filter{Status: vuln.Open}}, {"in_progress", vuln.Filter{Status: vuln.InProgress}}, {"closed", vuln.Filter{Status: vuln.Closed}}, {"breached", vuln.Filter{Breached: true}}} {
		n, err := s.app.Vuln.Count(r.Context(), c.f)
		if err != nil {
			return err
		}
		v.Counts[c.key] = n
	}
	v.pager = pageLinks(r, f.Offset, f.Limit, len(items), total)
	s.render(w, st, "findings.html", page{Title: "Vulnerabilities", Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiFindings(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.registerPage(w, r, p, http.StatusOK, nil, "")
}

func (s *Server) uiImportScan(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "upload: %v", err)
	}
	file, hdr, err := r.FormFile("report")
	if err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "upload: choose a report file")
	}
	defer file.Close()
	if hdr.Size > maxReport {
		return opsguard.Errorf(opsguard.ETooLarge, "report larger than %d bytes", maxReport)
	}
	// The form's parser keeps a large file on disk: it is read from there.
	sum, err := s.app.Vuln.Import(r.Context(), p.Name(), vuln.ImportRequest{Asset: r.FormValue("asset"), AssetKind: r.FormValue("kind"),
		File: hdr.Filename, Format: r.FormValue("format"), Source: io.NewSectionReader(file, 0, hdr.Size)})
	r.URL.RawQuery = ""
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.registerPage(w, r, p, st, nil, msg) })
	}
	return s.registerPage(w, r, p, http.StatusCreated, &sum, "")
}

type findingView struct {
	F         vuln.Finding
	Requests  []vuln.Request // acceptances and extensions asked for it
	Accepted  *vuln.Request  // the approved acceptance in force, when closed as an accepted risk
	History   []ledger.Entry
	Now       time.Time
	CanTriage bool
	Flash     string
}

func (s *Server) findingPage(w http.ResponseWriter, r *http.Request, p auth.Principal, id string, st int, flash, problem string) error {
	f, err := s.app.Vuln.Get(r.Context(), id)
	if err != nil {
		return err
	}
	h, err := s.app.Entries(r.Context(), ledger.EntryFilter{Subject: "finding/" + f.ID, Limit: 1000})
	if err != nil {
		return err
	}
	v := findingView{F: f, History: h, Now: s.app.Now(), CanTriage: p.Can(auth.TriageFindings), Flash: flash}
	if v.Requests, err = s.app.Vuln.FindingRequests(r.Context(), f.ID); err != nil {
		return err
	}
	for i, q := range v.Requests {
		if f.Resolution == vuln.RiskAccepted && q.Kind == vuln.Acceptance && q.Status == "approved" {
			v.Accepted = &v.Requests[i] // the newest approved one
		}
	}
	s.render(w, st, "finding.html", page{Title: f.VulnID, Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiFinding(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.findingPage(w, r, p, r.PathValue("id"), http.StatusOK, "", "")
}

// uiFindingAction carries out a form of the finding page.
func (s *Server) uiFindingAction(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id, a := r.PathValue("id"), vulnActor(p)
	var flash string
	var err error
	switch r.PathValue("action") {
	case "start":
		_, err = s.app.Vuln.Start(r.Context(), a, id)
		flash = "Marked in progress."
	case "resolve":
		var f vuln.Finding
		f, err = s.app.Vuln.Resolve(r.Context(), a, id, vuln.Resolution(r.PostFormValue("resolution")), r.PostFormValue("justification"))
		flash = "Closed as " + string(f.Resolution) + "."
	case "accept", "extend":
		until, perr := time.Parse(time.DateOnly, r.PostFormValue("until"))
		if perr != nil {
			err = &opsguard.Error{Code: opsguard.EInvalid, Message: "choose a date", Details: map[string]any{"field": "until"}}
			break
		}
		ask := s.app.Vuln.RequestAcceptance
		if r.PathValue("action") == "extend" {
			ask = s.app.Vuln.RequestExtension
		}
		var req vuln.Request
		req, err = ask(r.Context(), a, id, r.PostFormValue("justification"), until)
		flash = "Request " + req.ID + " awaits a security officer's decision."
	default:
		return opsguard.Errorf(opsguard.ENotFound, "no action %q", r.PathValue("action"))
	}
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.findingPage(w, r, p, id, st, "", msg) })
	}
	return s.findingPage(w, r, p, id, http.StatusOK, flash, "")
}

type approvalsView struct {
	Pending   []vuln.Request
	Decided   []vuln.Request
	CanDecide bool
	Me        string
	Flash     string
}

func (s *Server) approvalsPage(w http.ResponseWriter, r *http.Request, p auth.Principal, st int, flash, problem string) error {
	all, err := s.app.Vuln.Requests(r.Context(), "")
	if err != nil {
		return err
	}
	v := approvalsView{CanDecide: p.Can(auth.ApproveRisk), Me: p.Name(), Flash: flash}
	for _, q := range all {
		if q.Status == "pending" {
			v.Pending = append(v.Pending, q)
		} else {
			v.Decided = append(v.Decided, q)
		}
	}
	s.render(w, st, "approvals.html", page{Title: "Approvals", Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiApprovals(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.approvalsPage(w, r, p, http.StatusOK, "", "")
}

func (s *Server) uiDecide(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	d := r.PathValue("decision")
	if d != "approve" && d != "reject" {
		return opsguard.Errorf(opsguard.ENotFound, "no decision %q", d)
	}
	note := r.PostFormValue("note")
	if d == "reject" {
		note = r.PostFormValue("reason")
	}
	q, err := s.app.Vuln.Decide(r.Context(), vulnActor(p), r.PathValue("id"), d == "approve", note)
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.approvalsPage(w, r, p, st, "", msg) })
	}
	return s.approvalsPage(w, r, p, http.StatusOK, "Request "+q.ID+" "+q.Status+".", "")
}

func (s *Server) apiImportScan(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	req := vuln.ImportRequest{Asset: q.Get("asset"), AssetKind: q.Get("kind"), File: cmp.Or(q.Get("file"), "upload"), Format: q.Get("format")}
	// The slot is taken before the body is read: a report being received
	// is held (in memory up to spoolAbove) as one being imported is.
	ctx, release, err := s.app.Vuln.Admit(r.Context())
	if err != nil {
		return err
	}
	defer release()
	body := http.MaxBytesReader(w, r.Body, maxReport)
	if r.ContentLength >= 0 && r.ContentLength <= spoolAbove {
		req.Data, err = readAll(body, r.ContentLength, maxReport)
	} else {
		var f *os.File
		var n int64
		if f, n, err = spool(body); err == nil {
			defer f.Close()
			req.Source = io.NewSectionReader(f, 0, n)
		}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return opsguard.Errorf(opsguard.ETooLarge, "report larger than %d bytes", mbe.Limit)
		}
		return opsguard.Errorf(opsguard.EInvalid, "reading the report: %v", err)
	}
	sum, err := s.app.Vuln.Import(ctx, p.Name(), req)
	return answer(w, http.StatusCreated, sum, err)
}

// findingFilter reads the register's filters from the query.
func findingFilter(r *http.Request) (vuln.Filter, error) {
	q := r.URL.Query()
	f := vuln.Filter{Asset: q.Get("asset"), Status: vuln.Status(q.Get("status")), Risk: vuln.Risk(q.Get("risk")), Breached: q.Get("breached") == "true"}
	if sv := q.Get("severity"); sv != "" {
		sev, ok := vuln.ParseSeverity(sv)
		if !ok {
			return f, &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("severity %q: one of critical, high, medium, low, info", sv), Details: map[string]any{"field": "severity"}}
		}
		f.Severity = sev
	}
	var err error
	if f.DueBefore, err = dateParam(r, "due_before"); err != nil {
		return f, err
	}
	f.Limit, f.Offset, err = pageParams(r)
	return f, err
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
	return answer(w, http.StatusOK, f, err)
}

// vulnActor is the principal as the register's rules see it.
func vulnActor(p auth.Principal) vuln.Actor {
	return vuln.Actor{Name: p.Name(), SecurityOfficer: p.Can(auth.ApproveRisk)}
}

func (s *Server) apiStart(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	f, err := s.app.Vuln.Start(r.Context(), vulnActor(p), r.PathValue("id"))
	return answer(w, http.StatusOK, f, err)
}

type resolveRequest struct {
	Resolution    string `json:"resolution"`
	Justification string `json:"justification"`
}

func (s *Server) apiResolve(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req resolveRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	f, err := s.app.Vuln.Resolve(r.Context(), vulnActor(p), r.PathValue("id"), vuln.Resolution(req.Resolution), req.Justification)
	return answer(w, http.StatusOK, f, err)
}

type askRequest struct {
	Justification string `json:"justification"`
	Until         string `json:"until"` // YYYY-MM-DD: the acceptance's expiry or the new due date
}

func (s *Server) apiRequest(kind string) Handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var req askRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		until, err := time.Parse(time.DateOnly, req.Until)
		if err != nil {
			return &opsguard.Error{Code: opsguard.EInvalid, Message: "until: want YYYY-MM-DD", Details: map[string]any{"field": "until"}}
		}
		ask := s.app.Vuln.RequestAcceptance
		if kind == vuln.Extension {
			ask = s.app.Vuln.RequestExtension
		}
		out, err := ask(r.Context(), vulnActor(p), r.PathValue("id"), req.Justification, until)
		return answer(w, http.StatusCreated, out, err)
	}
}

func (s *Server) apiRequests(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	rs, err := s.app.Vuln.Requests(r.Context(), r.URL.Query().Get("status"))
	return answer(w, http.StatusOK, items(rs), err)
}

type decideRequest struct {
	Note   string `json:"note"`
	Reason string `json:"reason"` // a rejection's reason (required); note is taken for it too
}

func (s *Server) apiDecide(approve bool) Handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var req decideRequest
		if r.ContentLength != 0 {
			if err := decode(w, r, &req); err != nil {
				return err
			}
		}
		note := req.Note
		if !approve {
			note = cmp.Or(req.Reason, req.Note)
		}
		out, err := s.app.Vuln.Decide(r.Context(), vulnActor(p), r.PathValue("id"), approve, note)
		return answer(w, http.StatusOK, out, err)
	}
}

func (s *Server) apiImportFeed(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	data, err := readAll(http.MaxBytesReader(w, r.Body, maxReport), r.ContentLength, maxReport)
	if errors.As(err, new(*http.MaxBytesError)) {
		return err // 413
	} else if err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "reading the feed: %v", err)
	}
	name := r.URL.Query().Get("file")
	if name == "" {
		name = "upload"
	}
	sum, err := s.app.Vuln.ImportFeed(r.Context(), p.Name(), name, data)
	return answer(w, http.StatusCreated, sum, err)
}

func (s *Server) apiVEX(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q := r.URL.Query()
	if q.Get("asset") == "" {
		return &opsguard.Error{Code: opsguard.EInvalid, Message: "query parameter asset is required", Details: map[string]any{"field": "asset"}}
	}
	doc, err := s.app.Vuln.ExportVEX(r.Context(), q.Get("asset"), q.Get("format"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
	return nil
}

func (s *Server) apiAssets(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	as, err := s.app.Vuln.Assets(r.Context())
	return answer(w, http.StatusOK, items(as), err)
}

type ownerRequest struct {
	Owner string `json:"owner"`
}

func (s *Server) apiSetOwner(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req ownerRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	a, err := s.app.SetAssetOwner(r.Context(), p.Name(), r.PathValue("name"), req.Owner)
	return answer(w, http.StatusOK, a, err)
}
