package vuln

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
)

// ImportRequest is one report to import.
type ImportRequest struct {
	Asset     string // the asset's name; default: the report's target
	AssetKind string // image, repository, host, application, url, other
	File      string // the report's name, for errors and the record
	Format    string // an importer's name, or "auto"
	Data      []byte
	// Source, when Data is nil, holds the report in a file: a format that
	// streams (Trivy) is read from it as it is stored, so that a report of
	// hundreds of megabytes is never held in memory.
	Source Source
}

// Content is where the request's report is read from: Source, or Data.
func (req ImportRequest) Content() Source {
	if req.Data == nil && req.Source != nil {
		return req.Source
	}
	return Bytes(req.Data)
}

// head is the start of the report, for detecting its format.
func (req ImportRequest) head() ([]byte, error) {
	h, err := headOf(req.Content())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", req.File, err)
	}
	return h, nil
}

// Summary says what an import changed.
type Summary struct {
	Scan       string `json:"scan"`
	Asset      string `json:"asset"`
	Format     string `json:"format"`
	Tool       string `json:"tool"`
	Findings   int    `json:"findings"`   // in the report, after merging duplicates
	New        int    `json:"new"`        // opened by this import
	Unchanged  int    `json:"unchanged"`  // already known
	Fixed      int    `json:"fixed"`      // closed: absent from this complete scan
	Reopened   int    `json:"reopened"`   // fixed before, reported again
	Statements int    `json:"statements"` // VEX statements in the report
	Decided    int    `json:"decided"`    // findings the report's statements (VEX, dismissed alerts) closed or sent for approval
	LedgerSeq  int64  `json:"ledger_seq"`
	// Assets are the assets the report's findings were recorded on when
	// they name several (an assessment's rows): Scan and Asset are then
	// the first's, the counts the sums of all.
	Assets []string `json:"assets,omitempty"`
}

// Import reads a report and records it on its asset in one transaction.
func (s *Service) Import(ctx context.Context, actor string, req ImportRequest) (Summary, error) {
	if err := checkAssetName(strings.TrimSpace(req.Asset), "asset"); err != nil {
		return Summary{}, err
	}
	ctx, release, err := s.Admit(ctx)
	if err != nil {
		return Summary{}, err
	}
	defer release()
	// The report is hashed once, before anything else: a report that is
	// byte for byte the last one of its tool on its asset needs no parsing.
	src := req.Content()
	var blob ledger.Blob
	if data, inMemory := src.(Bytes); inMemory {
		blob = ledger.NewBlob("application/octet-stream", data)
	} else {
		if blob, err = ledger.NewBlobFrom("application/octet-stream", src, src.Size()); err != nil {
			return Summary{}, fmt.Errorf("import %s: %w", req.File, err)
		}
	}
	if sum, ok, err := s.importAgain(ctx, actor, req, blob); ok || err != nil {
		return sum, err
	}
	kind := cmp.Or(req.AssetKind, "other")
	if !slices.Contains(AssetKinds, kind) {
		return Summary{}, &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("asset kind %q: one of %s", kind, strings.Join(AssetKinds, ", ")), Details: map[string]any{"field": "kind"}}
	}
	head, err := req.head()
	if err != nil {
		return Summary{}, err
	}
	imp, err := s.formats.For(req.File, req.Format, head)
	if err != nil {
		return Summary{}, invalidReport(err)
	}
	if st, ok := imp.(Streamer); ok {
		return s.importStream(ctx, actor, req, kind, blob, st)
	}
	data, err := readAll(src)
	if err != nil {
		return Summary{}, fmt.Errorf("read %s: %w", req.File, err)
	}
	rep, err := imp.Parse(req.File, data)
	if err != nil {
		return Summary{}, invalidReport(err)
	}
	rep.Format = imp.Name()
	// A VEX document decides about findings without being a scan; a complete
	// scan with only decisions (every Dependabot alert fixed) is a scan.
	if len(rep.Findings) == 0 && len(rep.Statements) > 0 && !rep.Complete {
		if strings.TrimSpace(req.Asset) == "" {
			return Summary{}, &opsguard.Error{Code: opsguard.EInvalid, Message: req.File + ": a VEX document decides about an asset's findings: give the asset", Details: map[string]any{"field": "asset"}}
		}
		return s.applyVEX(ctx, actor, clean(strings.TrimSpace(req.Asset)), req.File, data, rep)
	}
	fs, maxText := rep.Findings, s.cfg.MaxTextBytes
	rep.Findings = nil
	if groups := byAsset(req, fs); groups != nil {
		return s.importByAsset(ctx, actor, kind, blob, rep, groups)
	}
	return s.importParts(ctx, actor, req, kind, blob, partsOf(rep, fs, maxText))
}

// partsOf hands an import the findings fs of rep a part at a time.
func partsOf(rep *Report, fs []Reported, maxText int) parts {
	return func() (*Report, []Reported, error) {
		part := fs[:min(importPart, len(fs))]
		fs = fs[len(part):]
		if len(part) == 0 {
			return rep, nil, nil
		}
		return rep, prepare(part, maxText), nil
	}
}

// assetGroup is the findings of a report on one asset, and the request
// that records them there.
type assetGroup struct {
	req ImportRequest
	fs  []Reported
}

// byAsset splits a report's findings by the asset each names (an
// assessment's rows), the request's asset for those that name none, that
// one first; nil when none names one.
func byAsset(req ImportRequest, fs []Reported) []assetGroup {
	at := map[string]int{"": 0}
	groups := []assetGroup{{req: req}}
	for _, f := range fs {
		name := strings.TrimSpace(f.Asset)
		if name == strings.TrimSpace(req.Asset) {
			name = ""
		}
		i, ok := at[name]
		if !ok {
			i, at[name] = len(groups), len(groups)
			g := assetGroup{req: req}
			g.req.Asset = name
			groups = append(groups, g)
		}
		groups[i].fs = append(groups[i].fs, f)
	}
	if len(groups) == 1 {
		return nil
	}
	if len(groups[0].fs) == 0 {
		groups = groups[1:]
	}
	return groups
}

// importByAsset records each group of a report's findings on its asset,
// all in one transaction, and sums up what changed.
func (s *Service) importByAsset(ctx context.Context, actor, kind string, blob ledger.Blob, rep *Report, groups []assetGroup) (Summary, error) {
	var total Summary
	err := s.store.Update(ctx, func(tx Tx) error {
		// Every asset is held first, in the order of their names, and the
		// ledger after: two imports of the same assets never wait for each
		// other in a cycle.
		var names []string
		for _, g := range groups {
			if err := checkAssetName(strings.TrimSpace(g.req.Asset), g.req.File+": a row's asset"); err != nil {
				return err
			}
			name, err := assetName(g.req, rep)
			if err != nil {
				return err
			}
			names = append(names, name)
		}
		for _, name := range slices.Sorted(slices.Values(names)) {
			if err := tx.LockAsset(ctx, name); err != nil {
				return fmt.Errorf("lock asset %s: %w", name, err)
			}
		}
		for i, g := range groups {
			var sum Summary
			if err := s.record(ctx, tx, actor, kind, g.req, blob, partsOf(rep, g.fs, s.cfg.MaxTextBytes), &sum); err != nil {
				return err
			}
			if i == 0 {
				total = sum
			} else {
				total.Findings, total.New, total.Unchanged = total.Findings+sum.Findings, total.New+sum.New, total.Unchanged+sum.Unchanged
				total.Fixed, total.Reopened, total.Decided = total.Fixed+sum.Fixed, total.Reopened+sum.Reopened, total.Decided+sum.Decided
				total.LedgerSeq = sum.LedgerSeq
			}
			total.Assets = append(total.Assets, sum.Asset)
		}
		return nil
	})
	if err != nil {
		return Summary{}, importError(groups[0].req, err)
	}
	return total, nil
}

// parts hands an import a report's findings a part at a time, prepared:
// the report as read so far and the next part; at the end a nil part and
// the whole report.
type parts func() (*Report, []Reported, error)

// prepare makes a part of a report's findings storable, their texts cut
// at maxText bytes, in place; those that are one finding are merged by
// the import's index, in the report's order.
func prepare(part []Reported, maxText int) []Reported {
	for i := range part {
		part[i] = capTexts(cleanFinding(part[i]), maxText)
		// The register keeps no references: let them go now, they can be
		// a third of a large report's memory.
		part[i].References = nil
	}
	return part
}

// importStream imports a report read by a Streamer: it is parsed by a
// goroutine while the parts it has read are stored, so that reading and
// storing take two processors instead of one after the other, and the
// report's findings are never all held at once.
func (s *Service) importStream(ctx context.Context, actor string, req ImportRequest, kind string, blob ledger.Blob, st Streamer) (Summary, error) {
	type read struct {
		head *Report
		fs   []Reported
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan read, 1)
	go func() {
		defer close(ch)
		// A reader's bug must fail this import, not the server: a panic
		// here is out of reach of the HTTP server's recovery.
		defer func() {
			if v := recover(); v != nil {
				err := fmt.Errorf("reading %s: internal error: %v", req.File, v)
				select {
				case ch <- read{err: err}:
				case <-ctx.Done():
				}
			}
		}()
		rep, err := st.Stream(req.File, req.Content(), importPart, func(head *Report, fs []Reported) error {
			// Prepared here, while the import stores the part before.
			fs = prepare(fs, s.cfg.MaxTextBytes)
			select {
			case ch <- read{head: head, fs: fs}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		select {
		case ch <- read{head: rep, err: err}:
		case <-ctx.Done():
		}
	}()
	defer func() {
		// The reader stops at its next part; the request's bytes are the
		// caller's again only once it has.
		cancel()
		for range ch {
		}
	}()
	return s.importParts(ctx, actor, req, kind, blob, func() (*Report, []Reported, error) {
		r, ok := <-ch
		switch {
		case !ok:
			return nil, nil, errors.New("the report's reader stopped")
		case r.err != nil:
			return nil, nil, r.err
		}
		return r.head, r.fs, nil
	})
}

// importParts records the parts of a report in one transaction.
func (s *Service) importParts(ctx context.Context, actor string, req ImportRequest, kind string, blob ledger.Blob, next parts) (Summary, error) {
	var sum Summary
	err := s.store.Update(ctx, func(tx Tx) error {
		return s.record(ctx, tx, actor, kind, req, blob, next, &sum)
	})
	if err != nil {
		return Summary{}, importError(req, err)
	}
	return sum, nil
}

// importError is the error of an import that failed: an invalid report's
// as it is, any other with the file named.
func importError(req ImportRequest, err error) error {
	var oe *opsguard.Error
	switch {
	case errors.Is(err, ErrInvalidReport):
		return invalidReport(err)
	case errors.As(err, &oe) && oe.Code == opsguard.EInvalid:
		return oe
	}
	return fmt.Errorf("import %s: %w", req.File, err)
}

// invalidReport is the error of a report that cannot be read.
func invalidReport(err error) error {
	return &opsguard.Error{Code: opsguard.EInvalid, Message: err.Error()}
}

// assetName is the asset a report is recorded on: the one the request
// names, else the report's target.
func assetName(req ImportRequest, rep *Report) (string, error) {
	name := clean(strings.TrimSpace(req.Asset))
	if name == "" {
		name = clean(rep.Target)
		if err := checkAssetName(name, req.File+": the report's target, the asset's name,"); err != nil {
			return "", err
		}
	}
	if name == "" {
		return "", &opsguard.Error{Code: opsguard.EInvalid, Message: req.File + ": the report names no target: give the asset", Details: map[string]any{"field": "asset"}}
	}
	return name, nil
}

// importPart is how many of a report's findings an import records at a
// time (a variable for the tests).
var importPart = 5000
