package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/policy"
)

// policyModule serves governance: the documents and their versions, the
// attestations and the compliance view of every requirement.
var policyModule = module{name: "policy", routes: (*Server).policyRoutes,
	nav: []navLink{{"Requirements", "/requirements"}, {"Policies", "/policies"}, {"Attestations", "/attestations"}}}

func (s *Server) policyRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/v1/policies", Perm: auth.Read, Summary: "Governance documents with their current version and review date", handle: s.apiPolicies},
		{Method: "GET", Pattern: "/api/v1/policies/{doc}", Perm: auth.Read, Summary: "A document with every version", handle: s.apiPolicy},
		{Method: "GET", Pattern: "/api/v1/policies/{doc}/render", Perm: auth.Read, Summary: "A version rendered as Markdown or HTML with its version history", handle: s.apiRenderPolicy},
		{Method: "GET", Pattern: "/api/v1/policies/{doc}/diff", Perm: auth.Read, Summary: "The line diff of two versions", handle: s.apiPolicyDiff},
		{Method: "POST", Pattern: "/api/v1/policies/{doc}/drafts", Perm: auth.WritePolicies, Summary: "Draft a new version (a company's own document is created by its first)", handle: s.apiDraftPolicy},
		{Method: "PUT", Pattern: "/api/v1/policies/{doc}/versions/{n}", Perm: auth.WritePolicies, Summary: "Edit a draft (its author; an approved text never changes)", handle: s.apiEditPolicy},
		{Method: "POST", Pattern: "/api/v1/policies/{doc}/versions/{n}/submit", Perm: auth.WritePolicies, Summary: "Submit a draft for approval", handle: s.apiPolicyStep("submit")},
		{Method: "POST", Pattern: "/api/v1/policies/{doc}/versions/{n}/approve", Perm: auth.ApprovePolicies, Summary: "Approve a version (a security officer who did not write it)", handle: s.apiPolicyStep("approve")},
		{Method: "POST", Pattern: "/api/v1/policies/{doc}/versions/{n}/reject", Perm: auth.ApprovePolicies, Summary: "Reject a version with a reason", handle: s.apiPolicyStep("reject")},
		{Method: "POST", Pattern: "/api/v1/policies/{doc}/versions/{n}/publish", Perm: auth.WritePolicies, Summary: "Publish an approved version", handle: s.apiPolicyStep("publish")},
		{Method: "POST", Pattern: "/api/v1/policies/{doc}/ack", Perm: auth.OwnAccount, Summary: "Acknowledge the current version of a document (as yourself)", handle: s.apiAckPolicy},
		{Method: "GET", Pattern: "/api/v1/acknowledgements", Perm: auth.Read, Summary: "Who acknowledged the current version of each document, by role", handle: s.apiAcknowledgements},
		{Method: "GET", Pattern: "/api/v1/attestations", Perm: auth.Read, Summary: "Attestations, newest first", handle: s.apiAttestations},
		{Method: "POST", Pattern: "/api/v1/attestations", Perm: auth.Attest, Summary: "Attest that a requirement is met, with evidence files and an expiry", handle: s.apiAttest},
		{Method: "GET", Pattern: "/api/v1/attestations/{id}", Perm: auth.Read, Summary: "One attestation", handle: s.apiAttestation},
		{Method: "POST", Pattern: "/api/v1/attestations/{id}/review", Perm: auth.ApprovePolicies, Summary: "Accept or reject an attestation (a security officer other than the attester)", handle: s.apiReviewAttestation},
		{Method: "GET", Pattern: "/api/v1/requirements", Perm: auth.Read, Summary: "Every requirement with its controls, attestations and state", handle: s.apiRequirements},
		{Method: "GET", Pattern: "/api/v1/requirements/trend", Perm: auth.Read, Summary: "The compliance view's counts per day (pass, fail, gap, attested, …), oldest first, today's live", handle: s.apiRequirementsTrend},
		{Method: "GET", Pattern: "/api/v1/requirements/{id}", Perm: auth.Read, Summary: "One requirement with its controls, attestations and state", handle: s.apiRequirement},

		{Method: "GET", Pattern: "/requirements", Perm: auth.Read, UI: true, Summary: "The compliance view", handle: s.uiRequirements},
		{Method: "GET", Pattern: "/requirements/{id}", Perm: auth.Read, UI: true, Summary: "A requirement with its controls, history and attestations", handle: s.uiRequirement},
		{Method: "GET", Pattern: "/policies", Perm: auth.Read, UI: true, Summary: "Governance documents", handle: s.uiPolicies},
		{Method: "GET", Pattern: "/policies/{doc}", Perm: auth.Read, UI: true, Summary: "A document rendered, its versions and its history", handle: s.uiPolicy},
		{Method: "POST", Pattern: "/policies/{doc}/drafts", Perm: auth.WritePolicies, UI: true, Summary: "Draft a new version", handle: s.uiDraftPolicy},
		{Method: "POST", Pattern: "/policies/{doc}/versions/{n}/approve", Perm: auth.ApprovePolicies, UI: true, Summary: "Approve a version", handle: s.uiPolicyAction},
		{Method: "POST", Pattern: "/policies/{doc}/versions/{n}/reject", Perm: auth.ApprovePolicies, UI: true, Summary: "Reject a version", handle: s.uiPolicyAction},
		{Method: "POST", Pattern: "/policies/{doc}/versions/{n}/edit", Perm: auth.WritePolicies, UI: true, Summary: "Edit a draft (its author)", handle: s.uiEditPolicy},
		{Method: "POST", Pattern: "/policies/{doc}/versions/{n}/{action}", Perm: auth.WritePolicies, UI: true, Summary: "Submit or publish a version", handle: s.uiPolicyAction},
		{Method: "POST", Pattern: "/policies/{doc}/ack", Perm: auth.OwnAccount, UI: true, Summary: "Acknowledge a document", handle: s.uiAckPolicy},
		{Method: "GET", Pattern: "/attestations", Perm: auth.Read, UI: true, Summary: "Attestations", handle: s.uiAttestations},
		{Method: "POST", Pattern: "/attestations", Perm: auth.Attest, UI: true, Summary: "File an attestation with evidence files", handle: s.uiAttest},
		{Method: "POST", Pattern: "/attestations/{id}/review", Perm: auth.ApprovePolicies, UI: true, Summary: "Review an attestation", handle: s.uiReviewAttestation},
	}
}

func policyActor(p auth.Principal) policy.Actor {
	return policy.Actor{Name: p.Name(), Username: p.User.Username, SecurityOfficer: p.Can(auth.ApprovePolicies), Role: string(p.User.Role)}
}

func versionParam(r *http.Request, name string) (int, error) {
	v := r.PathValue(name)
	if v == "" {
		v = r.URL.Query().Get(name)
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &opsguard.Error{Code: opsguard.EInvalid, Message: name + ": want a version number", Details: map[string]any{"field": name}}
	}
	return n, nil
}

func (s *Server) apiPolicies(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ds, err := s.app.Policy.Documents(r.Context())
	return answer(w, http.StatusOK, items(ds), err)
}

func (s *Server) apiPolicy(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	d, err := s.app.Policy.Document(r.Context(), r.PathValue("doc"))
	return answer(w, http.StatusOK, d, err)
}

func (s *Server) apiRenderPolicy(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	n, err := versionParam(r, "version")
	if err != nil {
		return err
	}
	out, err := s.app.Policy.Render(r.Context(), r.PathValue("doc"), n, r.URL.Query().Get("format"))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", out.ContentType)
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("X-Opsguard-Version", strconv.Itoa(out.Version))
	w.WriteHeader(http.StatusOK)
	w.Write(out.Body)
	return nil
}

func (s *Server) apiPolicyDiff(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	from, err := versionParam(r, "from")
	if err != nil {
		return err
	}
	to, err := versionParam(r, "to")
	if err != nil {
		return err
	}
	d, err := s.app.Policy.Diff(r.Context(), r.PathValue("doc"), from, to)
	return answer(w, http.StatusOK, d, err)
}

func (s *Server) apiDraftPolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req policy.NewDraft
	if err := decode(w, r, &req); err != nil {
		return err
	}
	v, err := s.app.Policy.Draft(r.Context(), policyActor(p), r.PathValue("doc"), req)
	return answer(w, http.StatusCreated, v, err)
}

func (s *Server) apiEditPolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	n, err := versionParam(r, "n")
	if err != nil {
		return err
	}
	var req policy.NewDraft
	if err := decode(w, r, &req); err != nil {
		return err
	}
	v, err := s.app.Policy.Edit(r.Context(), policyActor(p), r.PathValue("doc"), n, req)
	return answer(w, http.StatusOK, v, err)
}

func (s *Server) policyStep(r *http.Request, p auth.Principal, action, note string) (policy.Version, error) {
	n, err := versionParam(r, "n")
	if err != nil {
		return policy.Version{}, err
	}
	if n == 0 {
		return policy.Version{}, &opsguard.Error{Code: opsguard.EInvalid, Message: "n: want a version number", Details: map[string]any{"field": "n"}}
	}
	ctx, a, doc := r.Context(), policyActor(p), r.PathValue("doc")
	switch action {
	case "submit":
		return s.app.Policy.Submit(ctx, a, doc, n)
	case "approve":
		return s.app.Policy.Approve(ctx, a, doc, n, note)
	case "reject":
		return s.app.Policy.Reject(ctx, a, doc, n, note)
	case "publish":
		return s.app.Policy.Publish(ctx, a, doc, n)
	}
	return policy.Version{}, opsguard.Errorf(opsguard.ENotFound, "no version action %q: one of submit, approve, reject, publish", action)
}

func (s *Server) apiPolicyStep(action string) Handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var req noteRequest
		if r.ContentLength != 0 {
			if err := decode(w, r, &req); err != nil {
				return err
			}
		}
		v, err := s.policyStep(r, p, action, req.Note)
		return answer(w, http.StatusOK, v, err)
	}
}

func (s *Server) apiAckPolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	a, err := s.app.Policy.Acknowledge(r.Context(), policyActor(p), r.PathValue("doc"))
	return answer(w, http.StatusCreated, a, err)
}

func (s *Server) apiAcknowledgements(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	c, err := s.app.Policy.Coverage(r.Context())
	return answer(w, http.StatusOK, c, err)
}

func (s *Server) apiAttestations(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	as, err := s.app.Policy.Attestations(r.Context(), r.URL.Query().Get("requirement"))
	return answer(w, http.StatusOK, items(as), err)
}

func (s *Server) apiAttestation(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	a, err := s.app.Policy.Attestation(r.Context(), r.PathValue("id"))
	return answer(w, http.StatusOK, a, err)
}

// apiAttest reads evidence files in base64 within the JSON: the body is
// bounded by governance.max_evidence_bytes, not by maxBody.
func (s *Server) apiAttest(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	limit := int64(s.app.Config.Governance.MaxEvidenceBytes)*4/3 + 64<<10
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	var req policy.NewAttestation
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("evidence: the request is larger than governance.max_evidence_bytes (%d bytes of files) allows", s.app.Config.Governance.MaxEvidenceBytes), Details: map[string]any{"field": "evidence"}}
		}
		return bodyError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return opsguard.Errorf(opsguard.EInvalid, "request body: unexpected data after the JSON value")
	}
	a, err := s.app.Policy.Attest(r.Context(), policyActor(p), req)
	return answer(w, http.StatusCreated, a, err)
}

type attestationReview struct {
	Decision string `json:"decision"` // accept | reject
	Note     string `json:"note"`
}

func (s *Server) apiReviewAttestation(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req attestationReview
	if err := decode(w, r, &req); err != nil {
		return err
	}
	a, err := s.reviewAttestation(r, p, req)
	return answer(w, http.StatusOK, a, err)
}

func (s *Server) reviewAttestation(r *http.Request, p auth.Principal, req attestationReview) (policy.Attestation, error) {
	if req.Decision != "accept" && req.Decision != "reject" {
		return policy.Attestation{}, &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("decision %q: accept or reject", req.Decision), Details: map[string]any{"field": "decision"}}
	}
	return s.app.Policy.Review(r.Context(), policyActor(p), r.PathValue("id"), req.Decision == "accept", req.Note)
}

func (s *Server) apiRequirements(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	c, err := s.app.Policy.Compliance(r.Context())
	return answer(w, http.StatusOK, c, err)
}

func (s *Server) apiRequirement(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	c, err := s.app.Policy.Requirement(r.Context(), r.PathValue("id"))
	return answer(w, http.StatusOK, c, err)
}

// The pages.

type requirementsView struct {
	policy.Compliance
	States []string
	Areas  []control.Area
	Trend  []policy.DayCounts
	Chart  template.HTML
}

func (s *Server) uiRequirements(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	c, err := s.app.Policy.Compliance(r.Context())
	if err != nil {
		return err
	}
	trend, err := s.app.Policy.Trend(r.Context(), 30)
	if err != nil {
		return err
	}
	s.render(w, http.StatusOK, "requirements.html", page{Title: "Requirements", Me: &p, CSRF: p.CSRFToken,
		Data: requirementsView{Compliance: c, States: policy.States, Areas: control.Areas, Trend: trend, Chart: countsChart(trend)}})
	return nil
}

type requirementView struct {
	R       policy.RequirementState
	History map[string][]control.Result
	Now     time.Time
}

func (s *Server) uiRequirement(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	req, err := s.app.Policy.Requirement(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v := requirementView{R: req, History: map[string][]control.Result{}, Now: s.app.Now()}
	for _, c := range req.Controls {
		if v.History[c.ID], err = s.app.Controls.History(r.Context(), c.ID, 30); err != nil {
			return err
		}
	}
	s.render(w, http.StatusOK, "requirement.html", page{Title: req.ID, Me: &p, CSRF: p.CSRFToken, Data: v})
	return nil
}

type policiesView struct {
	Docs     []policy.DocumentView
	Coverage policy.Coverage
	Unacked  []string
	CanAck   bool
	Flash    string
}

func (s *Server) policiesPage(w http.ResponseWriter, r *http.Request, p auth.Principal, st int, flash, problem string) error {
	v := policiesView{CanAck: p.Can(auth.OwnAccount), Flash: flash}
	var err error
	if v.Docs, err = s.app.Policy.Documents(r.Context()); err != nil {
		return err
	}
	if v.Coverage, err = s.app.Policy.Coverage(r.Context()); err != nil {
		return err
	}
	if v.Unacked, err = s.app.Policy.Unacknowledged(r.Context(), p.User.Username); err != nil {
		return err
	}
	s.render(w, st, "policies.html", page{Title: "Policies", Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiPolicies(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.policiesPage(w, r, p, http.StatusOK, "", "")
}

func (s *Server) uiAckPolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	_, err := s.app.Policy.Acknowledge(r.Context(), policyActor(p), r.PathValue("doc"))
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.policiesPage(w, r, p, st, "", msg) })
	}
	return s.policiesPage(w, r, p, http.StatusOK, "Acknowledged "+r.PathValue("doc")+".", "")
}

type policyView struct {
	D        policy.DocumentDetail
	Shown    policy.Version
	HTML     template.HTML
	Diff     *policy.Diff
	History  []ledger.Entry
	Me       string
	CanWrite bool
	CanSign  bool
	Flash    string
}

func (s *Server) policyPage(w http.ResponseWriter, r *http.Request, p auth.Principal, st int, flash, problem string) error {
	ctx, doc := r.Context(), r.PathValue("doc")
	n, err := versionParam(r, "version")
	if err != nil {
		return err
	}
	d, err := s.app.Policy.Document(ctx, doc)
	if err != nil {
		return err
	}
	out, err := s.app.Policy.Render(ctx, doc, n, "md")
	if err != nil {
		return err
	}
	v := policyView{D: d, Me: p.User.Username, CanWrite: p.Can(auth.WritePolicies), CanSign: p.Can(auth.ApprovePolicies), Flash: flash}
	for _, x := range d.Versions {
		if x.Number == out.Version {
			v.Shown = x
		}
	}
	body, err := policy.HTMLFragment(string(out.Body))
	if err != nil {
		return err
	}
	v.HTML = template.HTML(body) // goldmark without raw HTML: escaped text only
	if q := r.URL.Query(); q.Get("from") != "" {
		from, err1 := versionParam(r, "from")
		to, err2 := versionParam(r, "to")
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		diff, err := s.app.Policy.Diff(ctx, doc, from, to)
		if err != nil {
			return formError(err, func(st int, msg string) error { problem = msg; return nil })
		}
		v.Diff = &diff
	}
	if v.History, err = s.app.Entries(ctx, ledger.EntryFilter{Subject: "policy/" + doc, Limit: 200}); err != nil {
		return err
	}
	s.render(w, st, "policy.html", page{Title: d.Title, Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiPolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.policyPage(w, r, p, http.StatusOK, "", "")
}

func (s *Server) uiDraftPolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	v, err := s.app.Policy.Draft(r.Context(), policyActor(p), r.PathValue("doc"), policy.NewDraft{Summary: r.PostFormValue("summary"), Classification: r.PostFormValue("classification")})
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.policyPage(w, r, p, st, "", msg) })
	}
	return s.policyPage(w, r, p, http.StatusCreated, fmt.Sprintf("Version %d drafted.", v.Number), "")
}

// uiEditPolicy rewrites a draft from the form: its summary and
// classification, and the Markdown of a company's own document.
func (s *Server) uiEditPolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	n, err := versionParam(r, "n")
	if err == nil {
		var v policy.Version
		v, err = s.app.Policy.Edit(r.Context(), policyActor(p), r.PathValue("doc"), n, policy.NewDraft{Summary: r.PostFormValue("summary"),
			Classification: r.PostFormValue("classification"), Source: strings.ReplaceAll(r.PostFormValue("source"), "\r\n", "\n")})
		if err == nil {
			return s.policyPage(w, r, p, http.StatusOK, fmt.Sprintf("Version %d edited (SHA-256 %s).", v.Number, v.SHA256[:12]), "")
		}
	}
	return formError(err, func(st int, msg string) error { return s.policyPage(w, r, p, st, "", msg) })
}

func (s *Server) uiPolicyAction(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	action := r.PathValue("action")
	if action == "" {
		action = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	v, err := s.policyStep(r, p, action, r.PostFormValue("note"))
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.policyPage(w, r, p, st, "", msg) })
	}
	return s.policyPage(w, r, p, http.StatusOK, fmt.Sprintf("Version %d is %s.", v.Number, v.State), "")
}

type attestationsView struct {
	Items     []policy.Attestation
	CanAttest bool
	Templates map[string]string
	Now       time.Time
	Me        string
	CanReview bool
	Flash     string
}

func (s *Server) attestationsPage(w http.ResponseWriter, r *http.Request, p auth.Principal, st int, flash, problem string) error {
	as, err := s.app.Policy.Attestations(r.Context(), "")
	if err != nil {
		return err
	}
	v := attestationsView{Items: as, Templates: policy.Attestable, Now: s.app.Now(), Me: p.User.Username, CanReview: p.Can(auth.ApprovePolicies), CanAttest: p.Can(auth.Attest), Flash: flash}
	s.render(w, st, "attestations.html", page{Title: "Attestations", Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiAttestations(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.attestationsPage(w, r, p, http.StatusOK, "", "")
}

func (s *Server) uiReviewAttestation(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	a, err := s.reviewAttestation(r, p, attestationReview{Decision: r.PostFormValue("decision"), Note: r.PostFormValue("note")})
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.attestationsPage(w, r, p, st, "", msg) })
	}
	return s.attestationsPage(w, r, p, http.StatusOK, "Attestation "+a.ID+" is "+a.State+".", "")
}

// uiAttest files an attestation from the form, its evidence files
// uploaded with it (the CSRF check parsed the form already); the service
// refuses files over governance.max_evidence_bytes, each read no further.
func (s *Server) uiAttest(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	render := func(st int, msg string) error { return s.attestationsPage(w, r, p, st, "", msg) }
	limit := int64(s.app.Config.Governance.MaxEvidenceBytes)
	if err := r.ParseMultipartForm(limit + 64<<10); err != nil {
		return render(http.StatusBadRequest, fmt.Sprintf("evidence: the upload is larger than governance.max_evidence_bytes (%d bytes) allows, or not a form", limit))
	}
	defer r.MultipartForm.RemoveAll()
	until, err := time.Parse(time.DateOnly, r.PostFormValue("valid_until"))
	if err != nil {
		return render(http.StatusBadRequest, "valid_until: want a date")
	}
	n := policy.NewAttestation{Requirement: r.PostFormValue("requirement"), Statement: r.PostFormValue("statement"), ValidUntil: until}
	for _, fh := range r.MultipartForm.File["evidence"] {
		f, err := fh.Open()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(f, limit+1))
		f.Close()
		if err != nil {
			return err
		}
		n.Evidence = append(n.Evidence, policy.File{Name: fh.Filename, Content: b})
	}
	a, err := s.app.Policy.Attest(r.Context(), policyActor(p), n)
	if err != nil {
		return formError(err, render)
	}
	return s.attestationsPage(w, r, p, http.StatusCreated, "Attestation "+a.ID+" of "+a.Requirement+" filed; it counts once a security officer reviews it.", "")
}
