package collect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/opsguard/opsguard/host"
)

// PromQuery is a PromQL expression named in the config, whose every
// series is one host's value of the metric (the host named by HostLabel).
type PromQuery struct {
	Name      string
	Expr      string
	HostLabel string // "instance" by default
}

// Prometheus evaluates each query at now; a query that fails is named in
// the error, the others still answer.
func Prometheus(ctx context.Context, url string, qs []PromQuery, now time.Time) ([]host.Metric, error) {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", url, err)
	}
	p := v1.NewAPI(c)
	var out []host.Metric
	var errs []error
	for _, q := range qs {
		label := q.HostLabel
		if label == "" {
			label = "instance"
		}
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		v, _, _, err := p.Query(qctx, q.Expr, now)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("prometheus query %s (%s): %w", q.Name, q.Expr, err))
			continue
		}
		vec, ok := v.(model.Vector)
		if !ok {
			errs = append(errs, fmt.Errorf("prometheus query %s: answers a %s, want an instant vector", q.Name, v.Type()))
			continue
		}
		for _, s := range vec {
			name := string(s.Metric[model.LabelName(label)])
			f := float64(s.Value)
			if name == "" || math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			out = append(out, host.Metric{Host: name, Name: q.Name, Value: f})
		}
	}
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	return out, nil
}
