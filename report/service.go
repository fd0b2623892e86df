package report

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
)

// Tx is what the report service needs from a store transaction: the
// ledger's read side (Export) and its appender (the record of an export).
type Tx interface {
	Reader
	ledger.Tx
}

// Store runs transactions.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// KindExported is the kind of the entry that records an export.
const KindExported = "audit.exported"

// Service exports audit bundles and records each export in the ledger.
type Service struct {
	store    Store
	log      *ledger.Log
	now      func() time.Time
	controls func() []ControlInfo
	pdf      func(ctx context.Context, html []byte) ([]byte, error)
}

// ServiceOptions tune a Service.
type ServiceOptions struct {
	Now func() time.Time
	// Controls names the registered controls and their requirements.
	Controls func() []ControlInfo
	// PDF prints the report; nil leaves report.pdf out of bundles.
	PDF func(ctx context.Context, html []byte) ([]byte, error)
}

// NewService returns the audit bundle service.
func NewService(s Store, log *ledger.Log, opts ServiceOptions) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Controls == nil {
		opts.Controls = func() []ControlInfo { return nil }
	}
	return &Service{store: s, log: log, now: opts.Now, controls: opts.Controls, pdf: opts.PDF}
}

// Request is what an auditor asks for.
type Request struct {
	From, To     time.Time
	Requirements []string
}

// Exported is the record of one export.
type Exported struct {
	Manifest       *Manifest `json:"manifest"`
	ManifestSHA256 string    `json:"manifest_sha256"`
	LedgerSeq      int64     `json:"ledger_seq"`
}

// Check refuses a request that cannot be exported (a backwards range, a
// period without entries), before anything is written.
func (s *Service) Check(ctx context.Context, req Request) error {
	if err := s.log.Failed(); err != nil {
		return opsguard.Errorf(opsguard.EConflict, "the ledger failed verification, so no bundle is exported until it is repaired: %v", err)
	}
	if err := CheckRequirements(req.Requirements); err != nil {
		return err
	}
	return s.store.View(ctx, func(tx Tx) error { return Prepare(ctx, tx, req.From, req.To) })
}

// Export writes the bundle to w in one read snapshot, then records the
// export (who asked, the period, the manifest's hash) as an
// audit.exported entry, so the bundle an auditor holds matches the record
// of its export.
func (s *Service) Export(ctx context.Context, actor string, req Request, w io.Writer) (Exported, error) {
	var x Exported
	if err := s.Check(ctx, req); err != nil {
		return x, err
	}
	opts := Options{From: req.From, To: req.To, Requirements: req.Requirements, Actor: actor, Controls: s.controls(),
		Now: s.now(), Signer: s.log.Key().Signer, PublicKey: s.log.Key().Public, PDF: s.pdf}
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		x.Manifest, x.ManifestSHA256, err = Export(ctx, tx, w, opts)
		return err
	})
	if err != nil {
		return x, err
	}
	payload := map[string]any{"from": x.Manifest.From, "to": x.Manifest.To, "requirements": x.Manifest.Requirements,
		"manifest_sha256": x.ManifestSHA256, "entries": x.Manifest.Entries, "first_seq": x.Manifest.FirstSeq,
		"last_seq": x.Manifest.LastSeq, "tree_size": x.Manifest.TreeSize}
	err = s.store.Update(ctx, func(tx Tx) error {
		es, err := s.log.Append(ctx, tx, ledger.Event{Actor: actor, Kind: KindExported, Subject: "bundle/" + x.ManifestSHA256[:16], Payload: payload})
		if err == nil {
			x.LedgerSeq = es[0].Seq
		}
		return err
	})
	if err != nil {
		return x, fmt.Errorf("record the export: %w", err)
	}
	return x, nil
}
