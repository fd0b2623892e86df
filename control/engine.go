package control

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Tx is what the engine needs from a store transaction.
type Tx interface {
	ledger.Tx
	InsertControlRun(ctx context.Context, r Run) error
	LastControlRun(ctx context.Context) (Run, bool, error)
	LatestControlResults(ctx context.Context) ([]Result, error)
	ControlHistory(ctx context.Context, controlID string, limit int) ([]Result, error)
}

// Store runs transactions.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Engine holds the registered controls and runs them.
type Engine struct {
	store  Store
	log    *ledger.Log
	now    func() time.Time
	logger *slog.Logger

	mu       sync.Mutex // guards controls
	controls []Control
	running  sync.Mutex // one run at a time in this process

	// OnChange, when set, is called in the transaction that records a run,
	// for each control whose outcome turned from passing to failing or
	// back, so the responsible people hear of it (the app queues a
	// notification in tx); an error undoes the run's record.
	OnChange func(ctx context.Context, tx Tx, r Result, previous Status) error
}

// NewEngine returns an engine with no controls.
func NewEngine(store Store, log *ledger.Log, now func() time.Time, logger *slog.Logger) *Engine {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{store: store, log: log, now: now, logger: logger}
}

// Register adds controls; an unknown requirement or a repeated ID is an
// error, found at start rather than at the first run.
func (e *Engine) Register(cs ...Control) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range cs {
		if err := c.validate(); err != nil {
			return err
		}
		for _, have := range e.controls {
			if have.ID == c.ID {
				return fmt.Errorf("control %s registered twice", c.ID)
			}
		}
		e.controls = append(e.controls, c)
	}
	sort.Slice(e.controls, func(i, j int) bool { return e.controls[i].ID < e.controls[j].ID })
	return nil
}

// Controls returns the registered controls by ID.
func (e *Engine) Controls() []Control {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Control(nil), e.controls...)
}

func (e *Engine) nowUTC() time.Time { return e.now().UTC().Truncate(time.Microsecond) }

// Run evaluates every control and records the results and a ledger entry
// naming each outcome. A control that errs or panics yields an Error result;
// the run goes on.
func (e *Engine) Run(ctx context.Context, actor, trigger string) (Run, error) {
	e.running.Lock()
	defer e.running.Unlock()
	run := Run{ID: id.New("run"), Trigger: trigger, Actor: actor, StartedAt: e.nowUTC()}
	var before []Result
	if err := e.store.View(ctx, func(tx Tx) error {
		var err error
		before, err = tx.LatestControlResults(ctx)
		return err
	}); err != nil {
		return Run{}, fmt.Errorf("read previous results: %w", err)
	}
	for _, c := range e.Controls() {
		out := evaluate(ctx, c)
		run.Results = append(run.Results, Result{RunID: run.ID, ControlID: c.ID, Requirement: c.Requirement,
			Status: out.Status, Summary: out.Summary, Refs: out.Refs, EvaluatedAt: e.nowUTC()})
	}
	run.FinishedAt = e.nowUTC()
	type brief struct {
		Control string `json:"control"`
		Status  Status `json:"status"`
		Summary string `json:"summary"`
		Refs    []Ref  `json:"refs,omitempty"`
	}
	payload := struct {
		Run     string  `json:"run"`
		Trigger string  `json:"trigger"`
		Results []brief `json:"results"`
	}{Run: run.ID, Trigger: trigger}
	for _, r := range run.Results {
		payload.Results = append(payload.Results, brief{r.ControlID, r.Status, r.Summary, r.Refs})
	}
	err := e.store.Update(ctx, func(tx Tx) error {
		if err := tx.InsertControlRun(ctx, run); err != nil {
			return err
		}
		es, err := e.log.Append(ctx, tx, ledger.Event{Actor: actor, Kind: "controls.run", Subject: "run/" + run.ID, Payload: payload})
		if err != nil {
			return err
		}
		run.LedgerSeq = es[0].Seq
		return e.reportChanges(ctx, tx, before, run.Results)
	})
	if err != nil {
		return Run{}, fmt.Errorf("record control run: %w", err)
	}
	e.logger.Info("controls run", "run", run.ID, "trigger", trigger, "pass", run.Counts()[Pass], "fail", run.Counts()[Fail], "error", run.Counts()[Error])
	return run, nil
}

// failing reports whether a status counts as a failure.
func failing(s Status) bool { return s == Fail || s == Error }

func (e *Engine) reportChanges(ctx context.Context, tx Tx, before, after []Result) error {
	if e.OnChange == nil {
		return nil
	}
	prev := map[string]Status{}
	for _, r := range before {
		prev[r.ControlID] = r.Status
	}
	for _, r := range after {
		p, seen := prev[r.ControlID]
		// A first result that fails is news too; a first pass is not.
		if failing(r.Status) != failing(p) && (seen || failing(r.Status)) {
			if err := e.OnChange(ctx, tx, r, p); err != nil {
				return fmt.Errorf("report %s: %w", r.ControlID, err)
			}
		}
	}
	return nil
}

func evaluate(ctx context.Context, c Control) (out Outcome) {
	defer func() {
		if r := recover(); r != nil {
			out = Outcome{Status: Error, Summary: fmt.Sprintf("the control failed to evaluate: %v", r)}
		}
	}()
	out, err := c.Evaluate(ctx)
	if err != nil {
		return Outcome{Status: Error, Summary: "the control could not be evaluated: " + err.Error()}
	}
	switch out.Status {
	case Pass, Fail, NotApplicable:
	default:
		return Outcome{Status: Error, Summary: fmt.Sprintf("the control returned the invalid status %q", out.Status)}
	}
	return out
}

// LastRun returns the newest run (without results), ok false when none.
func (e *Engine) LastRun(ctx context.Context) (Run, bool, error) {
	var r Run
	var ok bool
	err := e.store.View(ctx, func(tx Tx) error {
		var err error
		r, ok, err = tx.LastControlRun(ctx)
		return err
	})
	return r, ok, err
}

// History returns the newest results of one control, newest first.
func (e *Engine) History(ctx context.Context, controlID string, limit int) ([]Result, error) {
	var out []Result
	err := e.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ControlHistory(ctx, controlID, limit)
		return err
	})
	return out, err
}

// Item is one requirement of the catalog with its controls' latest results.
type Item struct {
	Requirement
	Status   Status   `json:"status"`
	Controls []Latest `json:"controls"`
}

// Latest is a registered control with its newest result, if any.
type Latest struct {
	ID     string  `json:"id"`
	Title  string  `json:"title"`
	Result *Result `json:"result,omitempty"`
}

// Catalog returns every requirement of the policy with the newest result of
// each of its controls. A requirement fails when any control fails or errs,
// passes when all pass (or do not apply), and is not automated when no
// control covers it. One that has controls but no results yet is
// not_applicable until the first run.
func (e *Engine) Catalog(ctx context.Context) ([]Item, error) {
	var latest []Result
	err := e.store.View(ctx, func(tx Tx) error {
		var err error
		latest, err = tx.LatestControlResults(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	byControl := map[string]*Result{}
	for i := range latest {
		byControl[latest[i].ControlID] = &latest[i]
	}
	controls := e.Controls()
	items := make([]Item, 0, len(Requirements))
	for _, req := range Requirements {
		it := Item{Requirement: req, Status: NotAutomated}
		for _, c := range controls {
			if c.Requirement == req.ID {
				it.Controls = append(it.Controls, Latest{ID: c.ID, Title: c.Title, Result: byControl[c.ID]})
			}
		}
		it.Status = rollUp(it.Controls)
		items = append(items, it)
	}
	return items, nil
}

func rollUp(ls []Latest) Status {
	if len(ls) == 0 {
		return NotAutomated
	}
	st, passed := NotApplicable, false
	for _, l := range ls {
		switch {
		case l.Result == nil:
		case l.Result.Status == Fail || l.Result.Status == Error:
			return Fail
		case l.Result.Status == Pass:
			passed = true
		}
	}
	if passed {
		st = Pass
	}
	return st
}
