package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
)

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(a *app.App) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsguard_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"method", "route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "opsguard_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	ledgerSize := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "opsguard_ledger_entries", Help: "Entries covered by the newest signed checkpoint.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := a.LedgerSize(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	importing := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "opsguard_imports_running", Help: "Reports being imported by this process (at most vuln.max_concurrent_imports).",
	}, func() float64 { return float64(a.Vuln.Importing()) })
	m.reg.MustRegister(m.requests, m.duration, ledgerSize, importing,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(method, route string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched" // keeps the label set bounded
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
