package web

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/backup/sources"
)

// backupModule serves the backup register: data sets, copies, snapshots
// and the push manifest.
var backupModule = module{name: "backup", routes: (*Server).backupRoutes, nav: []navLink{{"Backups", "/backup"}}}

func (s *Server) backupRoutes() []Route {
	return append([]Route{
		{Method: "GET", Pattern: "/api/v1/backup/status", Perm: auth.Read, Summary: "Every data set's backup state: newest backup, retention window, copies off production", handle: s.apiBackupStatus},
		{Method: "GET", Pattern: "/api/v1/backup/datasets", Perm: auth.Read, Summary: "The protected data sets", handle: s.apiDataSets},
		{Method: "POST", Pattern: "/api/v1/backup/datasets", Perm: auth.ManageBackups, Summary: "Declare a protected data set", handle: s.apiAddDataSet},
		{Method: "GET", Pattern: "/api/v1/backup/datasets/{name}", Perm: auth.Read, Summary: "A data set with its copies", handle: s.apiDataSet},
		{Method: "PUT", Pattern: "/api/v1/backup/datasets/{name}", Perm: auth.ManageBackups, Summary: "Change what a data set documents (owner, schedule, retention, procedure, drill); its name and copies stay", handle: s.apiUpdateDataSet},
		{Method: "POST", Pattern: "/api/v1/backup/datasets/{name}/copies", Perm: auth.ManageBackups, Summary: "Record where a data set's backups live", handle: s.apiAddCopy},
		{Method: "GET", Pattern: "/api/v1/backup/datasets/{name}/snapshots", Perm: auth.Read, Summary: "A data set's snapshots, newest first", handle: s.apiSnapshots},
		{Method: "POST", Pattern: "/api/v1/backup/collect", Perm: auth.ManageBackups, Summary: "Read every copy's snapshots now", handle: s.apiCollect},
		{Method: "POST", Pattern: "/api/v1/backup/manifests", Perm: auth.PostFacts, Summary: "A push manifest: a backup taken by a job opsguard cannot reach (agent token)", handle: s.apiManifest},

		{Method: "GET", Pattern: "/backup", Perm: auth.Read, UI: true, Summary: "Backup overview: a row per data set and its states", handle: s.uiBackup},
		{Method: "POST", Pattern: "/backup/datasets", Perm: auth.ManageBackups, UI: true, Summary: "Declare a data set", handle: s.uiAddDataSet},
		{Method: "GET", Pattern: "/backup/datasets/{name}", Perm: auth.Read, UI: true, Summary: "A data set: what it documents and its copies", handle: s.uiDataSet},
		{Method: "POST", Pattern: "/backup/datasets/{name}", Perm: auth.ManageBackups, UI: true, Summary: "Change a data set", handle: s.uiUpdateDataSet},
		{Method: "POST", Pattern: "/backup/datasets/{name}/copies", Perm: auth.ManageBackups, UI: true, Summary: "Add a copy of a data set", handle: s.uiAddCopy},
	}, s.drillRoutes()...)
}

// backupActor is the principal as the backup register sees it: the
// command line in-process may name a local path.
func backupActor(p auth.Principal) backup.Actor {
	return backup.Actor{Name: p.Name(), Local: p.Via == "cli"}
}

func (s *Server) apiBackupStatus(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	st, err := s.app.Backup.Status(r.Context())
	return answer(w, http.StatusOK, items(st), err)
}

func (s *Server) apiDataSets(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ds, err := s.app.Backup.DataSets(r.Context())
	return answer(w, http.StatusOK, items(ds), err)
}

func (s *Server) apiAddDataSet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req backup.DataSet
	if err := decode(w, r, &req); err != nil {
		return err
	}
	d, err := s.app.Backup.AddDataSet(r.Context(), backupActor(p), req)
	return answer(w, http.StatusCreated, d, err)
}

type dataSetView struct {
	backup.DataSet
	Copies []backup.Copy `json:"copies"`
}

func (s *Server) apiDataSet(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	d, cs, err := s.app.Backup.DataSet(r.Context(), r.PathValue("name"))
	return answer(w, http.StatusOK, dataSetView{DataSet: d, Copies: nonNil(cs)}, err)
}

func (s *Server) apiUpdateDataSet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req backup.DataSet
	if err := decode(w, r, &req); err != nil {
		return err
	}
	d, err := s.app.Backup.UpdateDataSet(r.Context(), backupActor(p), r.PathValue("name"), req)
	return answer(w, http.StatusOK, d, err)
}

func (s *Server) apiAddCopy(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req backup.Copy
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, err := s.app.Backup.AddCopy(r.Context(), backupActor(p), r.PathValue("name"), req)
	return answer(w, http.StatusCreated, c, err)
}

func (s *Server) apiSnapshots(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	limit, err := intParam(r, "limit", 1000)
	if err != nil {
		return err
	}
	all := r.URL.Query().Get("all") == "true"
	ss, err := s.app.Backup.Snapshots(r.Context(), r.PathValue("name"), all, int(limit))
	return answer(w, http.StatusOK, items(ss), err)
}

func (s *Server) apiCollect(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	// A copy that failed is in its result; the answer is what was read.
	res, _ := s.app.Backup.Collect(r.Context(), p.Name())
	return answer(w, http.StatusOK, items(res), nil)
}

func (s *Server) apiManifest(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, sources.MaxManifest))
	if err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "manifest: larger than %d bytes", sources.MaxManifest)
	}
	m, err := sources.ParseManifest(body)
	if err != nil {
		return err
	}
	sn, err := s.app.Backup.Push(r.Context(), p.Name(), m)
	return answer(w, http.StatusCreated, sn, err)
}

type backupView struct {
	Rows      []backup.Status
	Copies    map[string][]backup.Copy
	MaxAge    int
	CanManage bool
	Flash     string
	Types     []string
	Freqs     []string
}

func (s *Server) backupPage(w http.ResponseWriter, r *http.Request, p auth.Principal, st int, flash, problem string) error {
	rows, err := s.app.Backup.Status(r.Context())
	if err != nil {
		return err
	}
	cs, err := s.app.Backup.Copies(r.Context())
	if err != nil {
		return err
	}
	v := backupView{Rows: rows, Copies: map[string][]backup.Copy{}, MaxAge: s.app.Config.Backup.MaxAgeHours, CanManage: p.Can(auth.ManageBackups),
		Flash: flash, Types: backup.Types, Freqs: backup.Frequencies}
	for _, c := range cs {
		v.Copies[c.DataSet] = append(v.Copies[c.DataSet], c)
	}
	s.render(w, st, "backup.html", page{Title: "Backups", Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiBackup(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.backupPage(w, r, p, http.StatusOK, "", "")
}

func (s *Server) uiAddDataSet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	days, _ := strconv.Atoi(r.PostFormValue("retention_days"))
	d, err := s.app.Backup.AddDataSet(r.Context(), backupActor(p), backup.DataSet{Name: r.PostFormValue("name"), Owner: r.PostFormValue("owner"),
		Classification: r.PostFormValue("classification"), Description: r.PostFormValue("description"), Frequency: r.PostFormValue("frequency"),
		Type: r.PostFormValue("type"), RetentionDays: days, Instructions: r.PostFormValue("instructions")})
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.backupPage(w, r, p, st, "", msg) })
	}
	return s.backupPage(w, r, p, http.StatusCreated, "Declared "+d.Name+" at "+d.CreatedAt.Format(time.RFC3339)+": add its copies on its page.", "")
}

type dataSetPage struct {
	DataSet   backup.DataSet
	Drill     string
	Copies    []backup.Copy
	CanManage bool
	Flash     string
	Types     []string
	Freqs     []string
	Sources   []string
}

// dataSetPage shows a data set with its forms; form, when set, is what a
// refused form posted, shown again for correction.
func (s *Server) dataSetPage(w http.ResponseWriter, r *http.Request, p auth.Principal, st int, flash, problem string, form *backup.DataSet) error {
	d, cs, err := s.app.Backup.DataSet(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if form != nil {
		form.Name = d.Name
		d = *form
	}
	v := dataSetPage{DataSet: d, Drill: string(d.Drill), Copies: cs, CanManage: p.Can(auth.ManageBackups), Flash: flash,
		Types: backup.Types, Freqs: backup.Frequencies, Sources: backup.Sources}
	s.render(w, st, "backup_dataset.html", page{Title: "Data set " + d.Name, Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiDataSet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.dataSetPage(w, r, p, http.StatusOK, "", "", nil)
}

func (s *Server) uiUpdateDataSet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	days, _ := strconv.Atoi(r.PostFormValue("retention_days"))
	form := backup.DataSet{Owner: r.PostFormValue("owner"), Classification: r.PostFormValue("classification"), Description: r.PostFormValue("description"),
		Frequency: r.PostFormValue("frequency"), Type: r.PostFormValue("type"), RetentionDays: days, Instructions: r.PostFormValue("instructions")}
	if spec := strings.TrimSpace(r.PostFormValue("drill")); spec != "" {
		form.Drill = []byte(spec)
	}
	d, err := s.app.Backup.UpdateDataSet(r.Context(), backupActor(p), r.PathValue("name"), form)
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.dataSetPage(w, r, p, st, "", msg, &form) })
	}
	return s.dataSetPage(w, r, p, http.StatusOK, "Saved "+d.Name+" at "+d.UpdatedAt.Format(time.RFC3339)+".", "", nil)
}

func (s *Server) uiAddCopy(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	c, err := s.app.Backup.AddCopy(r.Context(), backupActor(p), r.PathValue("name"), backup.Copy{Name: r.PostFormValue("name"),
		Source: r.PostFormValue("source"), Location: r.PostFormValue("location"), Offsite: r.PostFormValue("offsite") == "on",
		Password: r.PostFormValue("password"), PasswordSecret: r.PostFormValue("password_secret")})
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.dataSetPage(w, r, p, st, "", msg, nil) })
	}
	return s.dataSetPage(w, r, p, http.StatusCreated, "Added copy "+c.Name+" ("+c.Source+"): its snapshots are read at the next collection.", "", nil)
}
