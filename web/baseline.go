package web

import (
	"net/http"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/host"
)

// baselineRoutes serve baselines, drift and software (CF-1, CF-2, CF-4);
// they belong to the host module (hostRoutes appends them).
func (s *Server) baselineRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/v1/baselines", Perm: auth.Read, Summary: "Baseline versions of every host group (?group= for one), newest first", handle: s.apiBaselines},
		{Method: "POST", Pattern: "/api/v1/baselines", Perm: auth.WritePolicies, Summary: "Add a draft version of a group's baseline (YAML document of checks)", handle: s.apiAddBaseline},
		{Method: "GET", Pattern: "/api/v1/baselines/{id}", Perm: auth.Read, Summary: "A baseline version (group@version), a group's approved one (group), or the shipped default (default)", handle: s.apiBaseline},
		{Method: "POST", Pattern: "/api/v1/baselines/{id}/approve", Perm: auth.ApprovePolicies, Summary: "Approve a draft baseline (a security officer who did not write it); it supersedes the group's previous one", handle: s.apiDecideBaseline(true)},
		{Method: "POST", Pattern: "/api/v1/baselines/{id}/reject", Perm: auth.ApprovePolicies, Summary: "Reject a draft baseline", handle: s.apiDecideBaseline(false)},
		{Method: "POST", Pattern: "/api/v1/hosts/{name}/baseline/capture", Perm: auth.WritePolicies, Summary: "Propose a draft baseline for the host's first group from its newest results and packages", handle: s.apiCaptureBaseline},
		{Method: "GET", Pattern: "/api/v1/hosts/{name}/configuration", Perm: auth.Read, Summary: "A host's newest baseline results and its drifts", handle: s.apiHostConfiguration},
		{Method: "GET", Pattern: "/api/v1/hosts/{name}/software", Perm: auth.Read, Summary: "A host's installed packages against its group's approved list", handle: s.apiHostSoftware},
		{Method: "GET", Pattern: "/api/v1/drifts", Perm: auth.Read, Summary: "Drifts from baselines (?host= for one host), open first: approved by a ticket or a violation", handle: s.apiDrifts},
	}
}

func (s *Server) apiBaselines(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	bs, err := s.app.Host.Baselines(r.Context(), r.URL.Query().Get("group"))
	return answer(w, http.StatusOK, items(bs), err)
}

func (s *Server) apiAddBaseline(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req struct {
		Group    string `json:"group"`
		Document string `json:"document"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	b, err := s.app.Host.AddBaseline(r.Context(), p.Name(), req.Group, []byte(req.Document))
	return answer(w, http.StatusCreated, b, err)
}

func (s *Server) apiBaseline(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	b, err := s.app.Host.Baseline(r.Context(), r.PathValue("id"))
	return answer(w, http.StatusOK, b, err)
}

func (s *Server) apiDecideBaseline(approve bool) Handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var req noteRequest
		if r.ContentLength != 0 {
			if err := decode(w, r, &req); err != nil {
				return err
			}
		}
		b, err := s.app.Host.DecideBaseline(r.Context(), p.Name(), r.PathValue("id"), approve, req.Note)
		return answer(w, http.StatusOK, b, err)
	}
}

func (s *Server) apiCaptureBaseline(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	b, err := s.app.Host.Capture(r.Context(), p.Name(), r.PathValue("name"))
	return answer(w, http.StatusCreated, b, err)
}

func (s *Server) apiHostConfiguration(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	c, err := s.app.Host.Configuration(r.Context(), r.PathValue("name"))
	return answer(w, http.StatusOK, c, err)
}

func (s *Server) apiHostSoftware(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	sw, err := s.app.Host.Software(r.Context(), r.PathValue("name"))
	return answer(w, http.StatusOK, sw, err)
}

func (s *Server) apiDrifts(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ds, err := s.app.Host.Drifts(r.Context(), r.URL.Query().Get("host"))
	return answer(w, http.StatusOK, items(ds), err)
}

// hostConfig is what a host's page shows of its configuration.
type hostConfig struct {
	Config   host.Configuration
	Software host.Software
	// Violations are the packages outside the list, shown first.
	Violations []host.PackageStatus
}

func (s *Server) hostConfig(r *http.Request, name string) (hostConfig, error) {
	var c hostConfig
	var err error
	if c.Config, err = s.app.Host.Configuration(r.Context(), name); err != nil {
		return c, err
	}
	if c.Software, err = s.app.Host.Software(r.Context(), name); err != nil {
		return c, err
	}
	for _, p := range c.Software.Packages {
		if p.Status == host.PackageViolation {
			c.Violations = append(c.Violations, p)
		}
	}
	return c, nil
}
