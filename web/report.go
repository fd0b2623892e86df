package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/report"
)

// reportModule serves the audit bundle: its download (API and page) and
// a page that verifies an uploaded bundle.
var reportModule = module{name: "audit", routes: (*Server).reportRoutes, nav: []navLink{{"Audit", "/audit"}}}

// maxBundleUpload bounds a bundle uploaded to the verify page.
const maxBundleUpload = 4 << 30

func (s *Server) reportRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/v1/audit/bundle", Perm: auth.Read, Summary: "The audit bundle of a period (zip), streamed; verifiable offline with the ledger's public key", handle: s.apiBundle},
		{Method: "GET", Pattern: "/audit", Perm: auth.Read, UI: true, Summary: "Download an audit bundle; verify one", handle: s.uiAudit},
		{Method: "POST", Pattern: "/audit/verify", Perm: auth.Read, UI: true, Summary: "Verify an uploaded audit bundle", handle: s.uiVerifyBundle},
	}
}

// bundleRequest reads from, to (dates or RFC 3339; to is inclusive of
// its day) and requirements (comma-separated patterns).
func bundleRequest(r *http.Request) (report.Request, error) {
	q := r.URL.Query()
	var req report.Request
	var err error
	if req.From, err = report.ParseDate(q.Get("from"), false); err != nil {
		return req, fieldError("from", err)
	}
	if req.To, err = report.ParseDate(q.Get("to"), true); err != nil {
		return req, fieldError("to", err)
	}
	for _, p := range strings.Split(q.Get("requirements"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			req.Requirements = append(req.Requirements, p)
		}
	}
	return req, report.CheckPeriod(req.From, req.To)
}

func fieldError(field string, err error) error {
	return &opsguard.Error{Code: opsguard.EInvalid, Message: field + ": " + opsguard.ErrorMessage(err), Details: map[string]any{"field": field}}
}

// apiBundle streams the bundle: the request is checked first (a period
// without entries is an error with its status); once the zip has begun,
// a failure cuts it short, which the client sees as a truncated zip.
func (s *Server) apiBundle(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	req, err := bundleRequest(r)
	if err != nil {
		return err
	}
	if err := s.app.Report.Check(r.Context(), req); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="opsguard-audit-%s-%s.zip"`, req.From.Format("20060102"), req.To.Add(-time.Nanosecond).Format("20060102")))
	w.Header().Set("Cache-Control", "no-store")
	if _, err := s.app.Report.Export(r.Context(), p.Name(), req, w); err != nil {
		s.logger.Error("audit bundle cut short", "who", p.Name(), "err", err)
	}
	return nil
}

type auditView struct {
	PublicKey string
	From, To  string
	Summary   *report.Summary
}

func (s *Server) auditPage(w http.ResponseWriter, p auth.Principal, st int, sum *report.Summary, problem string) error {
	now := s.app.Now().UTC()
	v := auditView{PublicKey: s.app.Log.Key().Public, From: now.AddDate(0, -3, 0).Format("2006-01-02"), To: now.Format("2006-01-02"), Summary: sum}
	s.render(w, st, "audit.html", page{Title: "Audit", Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.auditPage(w, p, http.StatusOK, nil, "")
}

// uiVerifyBundle verifies an uploaded bundle against the key given in the
// form (the one an auditor trusts), else this instance's.
func (s *Server) uiVerifyBundle(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBundleUpload)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return s.auditPage(w, p, http.StatusRequestEntityTooLarge, nil, fmt.Sprintf("the bundle is larger than %d bytes", mbe.Limit))
		}
		return s.auditPage(w, p, http.StatusBadRequest, nil, "upload a bundle (a zip file): "+err.Error())
	}
	f, hdr, err := r.FormFile("bundle")
	if err != nil {
		return s.auditPage(w, p, http.StatusBadRequest, nil, "bundle: choose the zip file to verify")
	}
	defer f.Close()
	if hdr.Size > maxBundleUpload {
		return s.auditPage(w, p, http.StatusRequestEntityTooLarge, nil, fmt.Sprintf("the bundle is larger than %d bytes", maxBundleUpload))
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		return s.auditPage(w, p, http.StatusBadRequest, nil, "bundle: cannot be read")
	}
	key := strings.TrimSpace(r.PostFormValue("public_key"))
	if key == "" {
		key = s.app.Log.Key().Public
	}
	sum, err := report.Verify(r.Context(), ra, hdr.Size, key, report.VerifyOptions{})
	if err != nil {
		return s.auditPage(w, p, http.StatusUnprocessableEntity, nil, "the bundle does not verify: "+opsguard.ErrorMessage(err))
	}
	st := http.StatusOK
	if !sum.OK {
		st = http.StatusUnprocessableEntity
	}
	return s.auditPage(w, p, st, sum, "")
}
