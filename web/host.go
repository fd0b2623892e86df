package web

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/host"
)

// hostModule serves the host register: the agents' facts, hosts and their
// environments, capacity.
var hostModule = module{name: "host", routes: (*Server).hostRoutes, nav: []navLink{{"Hosts", "/hosts"}}}

func (s *Server) hostRoutes() []Route {
	return append([]Route{
		{Method: "POST", Pattern: "/api/v1/host/facts", Perm: auth.PostFacts, Summary: "A host agent's report of its facts (agent token)", handle: s.apiFacts},
		{Method: "GET", Pattern: "/api/v1/hosts", Perm: auth.Read, Summary: "Every host: environment, groups, last report, separation flags", handle: s.apiHosts},
		{Method: "GET", Pattern: "/api/v1/hosts/{name}", Perm: auth.Read, Summary: "A host with its newest facts and capacity", handle: s.apiHost},
		{Method: "PUT", Pattern: "/api/v1/hosts/{name}/environment", Perm: auth.ManageHosts, Summary: "Put a host in an environment (the agent's --env no longer changes it)", handle: s.apiHostEnv},
		{Method: "PUT", Pattern: "/api/v1/hosts/{name}/groups", Perm: auth.ManageHosts, Summary: "Put a host in groups, which pick its thresholds (the agent's --group no longer changes them)", handle: s.apiHostGroups},
		{Method: "GET", Pattern: "/api/v1/hosts/{name}/capacity/history", Perm: auth.Read, Summary: "A host's sealed daily capacity records (peaks, projections), newest first", handle: s.apiCapacityHistory},
		{Method: "GET", Pattern: "/api/v1/capacity/status", Perm: auth.Read, Summary: "Every host's capacity: usage, threshold state, days until full", handle: s.apiCapacity},

		{Method: "GET", Pattern: "/hosts", Perm: auth.Read, UI: true, Summary: "Host overview: environment, last seen, CPU, memory and disk, clock, alerts", handle: s.uiHosts},
		{Method: "GET", Pattern: "/hosts/{name}", Perm: auth.Read, UI: true, Summary: "A host: its facts, a chart of a metric with its fitted trend, its baseline results, drift and software", handle: s.uiHost},
		{Method: "POST", Pattern: "/hosts/{name}/groups", Perm: auth.ManageHosts, UI: true, Summary: "Put a host in groups", handle: s.uiHostGroups},
	}, s.baselineRoutes()...)
}

func (s *Server) apiFacts(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, host.MaxReportBytes))
	if err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "report: larger than %d bytes", host.MaxReportBytes)
	}
	rep, err := host.ParseReport(body, s.app.Now())
	if err != nil {
		return err
	}
	tokenID, _ := strings.CutPrefix(p.Via, "token:")
	rc, err := s.app.Host.Ingest(r.Context(), host.Sender{Actor: p.Name(), TokenID: tokenID, Address: s.clientIP(r)}, rep)
	status := http.StatusAccepted
	if rc.Duplicate {
		status = http.StatusOK
	}
	return answer(w, status, rc, err)
}

func (s *Server) apiHosts(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	hs, err := s.app.Host.Hosts(r.Context())
	return answer(w, http.StatusOK, items(hs), err)
}

// hostView is a host with its capacity.
type hostView struct {
	host.Host
	Capacity host.Status `json:"capacity"`
}

func (s *Server) hostAndStatus(r *http.Request, name string) (hostView, error) {
	h, err := s.app.Host.Host(r.Context(), name)
	if err != nil {
		return hostView{}, err
	}
	sts, err := s.app.Host.Status(r.Context())
	for _, st := range sts {
		if st.HostID == h.ID {
			return hostView{Host: h, Capacity: st}, err
		}
	}
	return hostView{Host: h}, err
}

func (s *Server) apiHost(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	v, err := s.hostAndStatus(r, r.PathValue("name"))
	return answer(w, http.StatusOK, v, err)
}

func (s *Server) apiHostEnv(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req struct {
		Environment string `json:"environment"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	h, err := s.app.Host.SetEnvironment(r.Context(), p.Name(), r.PathValue("name"), req.Environment)
	return answer(w, http.StatusOK, h, err)
}

func (s *Server) apiHostGroups(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req struct {
		Groups []string `json:"groups"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	h, err := s.app.Host.SetGroups(r.Context(), p.Name(), r.PathValue("name"), req.Groups)
	return answer(w, http.StatusOK, h, err)
}

// uiHostGroups takes the groups as one field, separated by spaces or commas.
func (s *Server) uiHostGroups(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	groups := strings.FieldsFunc(r.PostFormValue("groups"), func(c rune) bool { return c == ',' || c == ' ' })
	_, err := s.app.Host.SetGroups(r.Context(), p.Name(), r.PathValue("name"), groups)
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.hostPage(w, r, p, st, "", msg) })
	}
	return s.hostPage(w, r, p, http.StatusOK, "Groups set.", "")
}

func (s *Server) apiCapacityHistory(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	days, err := intParam(r, "days", 30)
	if err != nil {
		return err
	}
	rs, err := s.app.Host.CapacityHistory(r.Context(), r.PathValue("name"), int(days))
	return answer(w, http.StatusOK, items(rs), err)
}

func (s *Server) apiCapacity(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	st, err := s.app.Host.Status(r.Context())
	return answer(w, http.StatusOK, items(st), err)
}

// hostRow is a host of the overview with its bars.
type hostRow struct {
	host.Status
	Flags     []string
	CPUBar    template.HTML
	MemoryBar template.HTML
	Disks     []diskBar
}

type diskBar struct {
	host.FSStatus
	Bar template.HTML
}

func (s *Server) uiHosts(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	sts, err := s.app.Host.Status(r.Context())
	if err != nil {
		return err
	}
	hs, err := s.app.Host.Hosts(r.Context())
	if err != nil {
		return err
	}
	flags := map[string][]string{}
	for _, h := range hs {
		flags[h.ID] = h.Flags
	}
	rows := make([]hostRow, len(sts))
	for i, st := range sts {
		rows[i] = hostRow{Status: st, Flags: flags[st.HostID], CPUBar: bar(st.CPUPercent, st.CPUState), MemoryBar: bar(st.MemoryPercent, st.MemoryState)}
		for _, f := range st.Filesystems {
			rows[i].Disks = append(rows[i].Disks, diskBar{FSStatus: f, Bar: bar(f.UsedPercent, f.State)})
		}
	}
	s.render(w, http.StatusOK, "hosts.html", page{Title: "Hosts", Me: &p, CSRF: p.CSRFToken, Data: struct {
		Rows    []hostRow
		WarnDay int
	}{rows, s.app.Config.Capacity.DiskFullWarnDays}})
	return nil
}

// bar is a horizontal usage bar in SVG (the pages allow no inline style).
func bar(pct float64, state string) template.HTML {
	w := math.Max(0, math.Min(100, pct))
	return template.HTML(fmt.Sprintf(`<svg class="bar %s" width="120" height="12" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="%.1f%%"><rect width="100" height="10" class="track"/><rect width="%.1f" height="10" class="fill"/></svg>`,
		template.HTMLEscapeString(state), pct, w))
}

func (s *Server) uiHost(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.hostPage(w, r, p, http.StatusOK, "", "")
}

func (s *Server) hostPage(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, notice, problem string) error {
	v, err := s.hostAndStatus(r, r.PathValue("name"))
	if err != nil {
		return err
	}
	var series []string
	series = append(series, "cpu", "memory", "load1")
	for _, f := range v.Facts.Filesystems {
		series = append(series, "disk:"+f.Mount, "inodes:"+f.Mount)
	}
	pick := r.URL.Query().Get("series")
	if pick == "" {
		pick = defaultSeries(v.Capacity)
	}
	since := s.app.Now().Add(-s.app.Config.Capacity.TrendWindow).Truncate(time.Hour)
	hours, err := s.app.Host.Hours(r.Context(), v.ID, pick, since)
	if err != nil {
		return err
	}
	days, err := s.app.Host.CapacityHistory(r.Context(), v.ID, 14)
	if err != nil {
		return err
	}
	cfg, err := s.hostConfig(r, v.ID)
	if err != nil {
		return err
	}
	s.render(w, status, "host.html", page{Title: "Host " + v.Name, Me: &p, CSRF: p.CSRFToken, Error: problem, Data: struct {
		Notice    string
		View      hostView
		Series    []string
		Pick      string
		Chart     template.HTML
		CanManage bool
		Days      []host.DayRecord
		Config    hostConfig
	}{notice, v, series, pick, chart(hours, since, s.app.Now()), p.Can(auth.ManageHosts), days, cfg}})
	return nil
}

// defaultSeries is the filesystem nearest to full, else CPU.
func defaultSeries(st host.Status) string {
	pick, best := "cpu", math.Inf(1)
	for _, f := range st.Filesystems {
		rank := 1e6 - f.UsedPercent // any projection ranks before none
		if f.DaysUntilFull != nil {
			rank = *f.DaysUntilFull
		}
		if rank < best {
			pick, best = "disk:"+f.Mount, rank
		}
	}
	return pick
}

// chart draws a series' hourly averages and the least-squares line fitted
// to them, server-side, as SVG.
func chart(hs []host.Hour, since, now time.Time) template.HTML {
	const W, H, pad = 640.0, 220.0, 40.0
	if len(hs) == 0 {
		return `<p class="muted">No data in the trend window yet.</p>`
	}
	span := now.Sub(since).Hours()
	lo, hi := math.Inf(1), math.Inf(-1)
	xs, ys := make([]float64, len(hs)), make([]float64, len(hs))
	for i, h := range hs {
		xs[i], ys[i] = h.Hour.Sub(since).Hours(), h.Avg
		lo, hi = math.Min(lo, h.Avg), math.Max(hi, h.Avg)
	}
	slope, icept, ok := host.Fit(xs, ys).Line()
	if ok {
		for _, x := range []float64{xs[0], span} {
			y := icept + slope*x
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
	}
	// Usage is drawn against its whole range: 0 to the capacity (or 100 %).
	switch total := hs[len(hs)-1].Total; {
	case strings.HasPrefix(hs[0].Series, "disk:") || strings.HasPrefix(hs[0].Series, "inodes:"):
		if total > 0 {
			lo, hi = 0, math.Max(hi, total)
		}
	case hs[0].Series == "cpu" || hs[0].Series == "memory":
		lo, hi = 0, math.Max(hi, 100)
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-1, hi+1
	}
	px := func(x float64) float64 { return pad + x/span*(W-2*pad) }
	py := func(y float64) float64 { return H - pad - (y-lo)/(hi-lo)*(H-2*pad) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" width="100%%" role="img" aria-label="hourly averages and fitted trend">`, W, H)
	fmt.Fprintf(&b, `<line class="axis" x1="%g" y1="%g" x2="%g" y2="%g"/><line class="axis" x1="%g" y1="%g" x2="%g" y2="%g"/>`, pad, H-pad, W-pad, H-pad, pad, pad, pad, H-pad)
	fmt.Fprintf(&b, `<text x="2" y="%g" class="tick">%s</text><text x="2" y="%g" class="tick">%s</text>`, pad, human(hi), H-pad, human(lo))
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick">%s</text><text x="%g" y="%g" class="tick" text-anchor="end">now</text>`, pad, H-8, since.Format("Jan 2 15:04"), W-pad, H-8)
	b.WriteString(`<polyline class="series" points="`)
	for i := range xs {
		fmt.Fprintf(&b, "%.1f,%.1f ", px(xs[i]), py(ys[i]))
	}
	b.WriteString(`"/>`)
	if ok {
		fmt.Fprintf(&b, `<line class="trend" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, px(xs[0]), py(icept+slope*xs[0]), px(span), py(icept+slope*span))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// human writes a number short: 1.2G, 35.5.
func human(v float64) string {
	for _, u := range []struct {
		f float64
		s string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(v) >= u.f {
			return fmt.Sprintf("%.1f%s", v/u.f, u.s)
		}
	}
	return fmt.Sprintf("%.1f", v)
}
