package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/policy"
)

func (s *Server) apiRequirementsTrend(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	days, err := intParam(r, "days", 30)
	if err != nil {
		return err
	}
	t, err := s.app.Policy.Trend(r.Context(), int(days))
	return answer(w, http.StatusOK, items(t), err)
}

// countsChart draws each day's counts as a stacked bar, one colour a
// state, in the order of policy.States (server-rendered SVG, no script).
func countsChart(days []policy.DayCounts) template.HTML {
	const h, bw, gap, top = 120.0, 14.0, 4.0, 4.0
	total := 1
	for _, d := range days {
		n := 0
		for _, v := range d.Counts {
			n += v
		}
		total = max(total, n)
	}
	// Room for a month of bars, so that a short trend keeps its scale.
	width := float64(max(len(days), 30))*(bw+gap) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="counts" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="requirement states per day">`, width, h+top+16, width, h+top+16)
	for i, d := range days {
		x, y := 30+float64(i)*(bw+gap), top+h
		for _, st := range policy.States {
			v := d.Counts[st]
			if v == 0 {
				continue
			}
			dh := h * float64(v) / float64(total)
			y -= dh
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.0f" height="%.1f"><title>%s: %d %s</title></rect>`,
				st, x, y, bw, dh, template.HTMLEscapeString(d.Day), v, st)
		}
		if i == 0 || i == len(days)-1 {
			fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.0f">%s</text>`, x, top+h+12, template.HTMLEscapeString(d.Day[5:]))
		}
	}
	fmt.Fprintf(&b, `<text class="tick" x="0" y="%.0f">%d</text><text class="tick" x="0" y="%.0f">0</text></svg>`, top+8, total, top+h)
	return template.HTML(b.String())
}
