package web

import (
	"net/http"
	"net/url"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup"
)

// drillRoutes are the restore drills (BK-4), their root-cause analyses
// (BK-5) and the tabletop exercises (BK-6).
func (s *Server) drillRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/v1/backup/datasets/{name}/drills", Perm: auth.ManageBackups, Summary: "Run a restore drill of a data set (wait: answer when it ended)", handle: s.apiStartDrill},
		{Method: "GET", Pattern: "/api/v1/backup/drills", Perm: auth.Read, Summary: "Restore drills, newest first (?dataset=)", handle: s.apiDrills},
		{Method: "GET", Pattern: "/api/v1/backup/drills/{id}", Perm: auth.Read, Summary: "A restore drill with every check", handle: s.apiDrill},
		{Method: "POST", Pattern: "/api/v1/backup/drills/{id}/approve", Perm: auth.ManageBackups, Summary: "Approve a drill as its witnessing security officer (not its runner)", handle: s.apiApproveDrill},
		{Method: "GET", Pattern: "/api/v1/backup/rcas", Perm: auth.Read, Summary: "Root-cause analyses of failed drills, open ones first", handle: s.apiRCAs},
		{Method: "POST", Pattern: "/api/v1/backup/rcas/{id}", Perm: auth.ManageBackups, Summary: "Record a failed drill's cause and corrective action (not its runner)", handle: s.apiRecordRCA},
		{Method: "GET", Pattern: "/api/v1/backup/exercises", Perm: auth.Read, Summary: "Disaster-recovery tabletop exercises, newest first", handle: s.apiExercises},
		{Method: "POST", Pattern: "/api/v1/backup/exercises", Perm: auth.ManageBackups, Summary: "Record a disaster-recovery tabletop exercise", handle: s.apiAddExercise},

		{Method: "POST", Pattern: "/backup/datasets/{name}/drills", Perm: auth.ManageBackups, UI: true, Summary: "Start a restore drill", handle: s.uiStartDrill},
		{Method: "GET", Pattern: "/backup/drills/{id}", Perm: auth.Read, UI: true, Summary: "A restore drill: its state and every check", handle: s.uiDrill},
		{Method: "GET", Pattern: "/backup/rcas", Perm: auth.Read, UI: true, Summary: "Root-cause analyses of failed drills", handle: s.uiRCAs},
		{Method: "POST", Pattern: "/backup/rcas/{id}", Perm: auth.ManageBackups, UI: true, Summary: "Record a root-cause analysis", handle: s.uiRecordRCA},
	}
}

// drillActor is the principal with the user and role the segregation of
// duties needs.
func drillActor(p auth.Principal) backup.Actor {
	a := backupActor(p)
	a.Username, a.Role = p.User.Username, p.User.Role
	return a
}

func (s *Server) apiStartDrill(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req backup.DrillRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, &req); err != nil {
			return err
		}
	}
	d, err := s.app.StartDrill(r.Context(), drillActor(p), r.PathValue("name"), req)
	st := http.StatusCreated
	if d.State == backup.DrillRunning {
		st = http.StatusAccepted
	}
	return answer(w, st, d, err)
}

func (s *Server) apiDrills(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ds, err := s.app.Backup.Drills(r.Context(), r.URL.Query().Get("dataset"), 0)
	return answer(w, http.StatusOK, items(ds), err)
}

func (s *Server) apiDrill(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	d, err := s.app.Backup.DrillByID(r.Context(), r.PathValue("id"))
	return answer(w, http.StatusOK, d, err)
}

func (s *Server) apiApproveDrill(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	d, err := s.app.Backup.ApproveDrill(r.Context(), drillActor(p), r.PathValue("id"))
	return answer(w, http.StatusOK, d, err)
}

func (s *Server) apiRCAs(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	rs, err := s.app.Backup.RCAs(r.Context())
	return answer(w, http.StatusOK, items(rs), err)
}

type rcaRequest struct {
	Cause  string `json:"cause"`
	Action string `json:"action"`
}

func (s *Server) apiRecordRCA(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req rcaRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	rca, err := s.app.Backup.RecordRCA(r.Context(), drillActor(p), r.PathValue("id"), req.Cause, req.Action)
	return answer(w, http.StatusOK, rca, err)
}

func (s *Server) apiExercises(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	es, err := s.app.Backup.Exercises(r.Context())
	return answer(w, http.StatusOK, items(es), err)
}

func (s *Server) apiAddExercise(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req backup.Exercise
	if err := decode(w, r, &req); err != nil {
		return err
	}
	e, err := s.app.Backup.AddExercise(r.Context(), drillActor(p), req)
	return answer(w, http.StatusCreated, e, err)
}

// uiStartDrill starts a drill in the background and shows its page, which
// reloads while it runs.
func (s *Server) uiStartDrill(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	d, err := s.app.StartDrill(r.Context(), drillActor(p), r.PathValue("name"), backup.DrillRequest{Snapshot: r.PostFormValue("snapshot")})
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.backupPage(w, r, p, st, "", msg) })
	}
	http.Redirect(w, r, "/backup/drills/"+url.PathEscape(d.ID), http.StatusSeeOther)
	return nil
}

type drillView struct {
	Drill   backup.Drill
	Running bool
}

func (s *Server) uiDrill(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	d, err := s.app.Backup.DrillByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	pg := page{Title: "Drill " + d.ID, Me: &p, CSRF: p.CSRFToken, Data: drillView{Drill: d, Running: d.State == backup.DrillRunning}}
	if d.State == backup.DrillRunning {
		pg.Refresh = 2
	}
	s.render(w, http.StatusOK, "backup_drill.html", pg)
	return nil
}

type rcaView struct {
	RCAs      []backup.RCA
	CanManage bool
	Flash     string
}

func (s *Server) rcaPage(w http.ResponseWriter, r *http.Request, p auth.Principal, st int, flash, problem string) error {
	rs, err := s.app.Backup.RCAs(r.Context())
	if err != nil {
		return err
	}
	s.render(w, st, "backup_rcas.html", page{Title: "Root-cause analyses", Me: &p, CSRF: p.CSRFToken, Error: problem,
		Data: rcaView{RCAs: rs, CanManage: p.Can(auth.ManageBackups), Flash: flash}})
	return nil
}

func (s *Server) uiRCAs(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.rcaPage(w, r, p, http.StatusOK, "", "")
}

func (s *Server) uiRecordRCA(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	rca, err := s.app.Backup.RecordRCA(r.Context(), drillActor(p), r.PathValue("id"), r.PostFormValue("cause"), r.PostFormValue("action"))
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.rcaPage(w, r, p, st, "", msg) })
	}
	return s.rcaPage(w, r, p, http.StatusOK, "Recorded the root cause of drill "+rca.DrillID+".", "")
}
