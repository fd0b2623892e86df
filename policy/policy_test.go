package policy_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/policy"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// The people of the tests: an engineering head who writes documents and
// attests, and two security officers.
var (
	hedda = policy.Actor{Name: "hedda", Username: "hedda"}
	ines  = policy.Actor{Name: "ines", Username: "ines", SecurityOfficer: true}
	sol   = policy.Actor{Name: "sol", Username: "sol", SecurityOfficer: true}
)

type env struct {
	db  *store.DB
	log *ledger.Log
	now time.Time
	cfg config.Config
	svc *policy.Service
	// items is the catalog the compliance view reads.
	items []control.Item
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, log: ledger.New(key, ledger.Options{}), now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), cfg: config.Default()}
	e.cfg.Governance.Company = "Acme Ltd"
	e.cfg.Governance.MaxEvidenceBytes = 1000
	e.open()
	return e
}

// open (re)builds the service from e.cfg, as a restart does.
func (e *env) open() {
	g := e.cfg.Governance
	day := 24 * time.Hour
	e.svc = policy.NewService(store.Bind[policy.Tx](e.db), e.log, policy.Options{
		Company: g.Company, DefaultClassification: g.DefaultClassification,
		ReviewInterval: time.Duration(g.ReviewIntervalDays) * day, ReviewNotice: time.Duration(g.ReviewNoticeDays) * day,
		FeedMaxAge: time.Duration(g.FeedMaxAgeDays) * day, AttestationMaxAge: time.Duration(g.AttestationMaxDays) * day,
		MaxEvidenceBytes: g.MaxEvidenceBytes, Numbers: policy.NumbersFrom(e.cfg),
		Holders: func(context.Context) (map[string][]string, error) {
			return map[string][]string{"security_officer": {"ines", "sol"}, "engineering_head": {"hedda"}}, nil
		},
		Staff: func(context.Context) (map[string]string, error) {
			return map[string]string{"ines": "security_officer", "sol": "security_officer", "hedda": "engineering_head", "audrey": "auditor"}, nil
		},
		Catalog: func(context.Context) ([]control.Item, error) { return e.items, nil },
		Now:     func() time.Time { return e.now },
	})
}

// published syncs and takes version 1 of the policy to published.
func (e *env) published(t *testing.T) policy.Version {
	t.Helper()
	ctx := t.Context()
	if _, err := e.svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	const doc = "operations-security-policy"
	d, err := e.svc.Document(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	n := d.Latest.Number
	if _, err := e.svc.Submit(ctx, hedda, doc, n); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Approve(ctx, ines, doc, n, "fine"); err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.Publish(ctx, ines, doc, n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func code(err error) opsguard.Code { return opsguard.ErrorCode(err) }

func TestRenderFollowsTheConfig(t *testing.T) {
	render := func(cfg config.Config) string {
		t.Helper()
		src := policy.Builtins[0]
		tpl, err := policy.Compile(src.File, mustRead(t, src.File))
		if err != nil {
			t.Fatal(err)
		}
		out, err := policy.Render(tpl, policy.Params{Company: cfg.Governance.Company, Classification: cfg.Governance.DefaultClassification, Numbers: policy.NumbersFrom(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a := config.Default()
	a.Governance.Company = "Acme Ltd"
	b := a
	b.Vuln.SLADays.Critical, b.Backup.RetentionDays, b.Governance.ReviewIntervalDays = 5, 35, 180
	b.Governance.DefaultClassification = "Confidential"
	ta, tb := render(a), render(b)
	for _, c := range []struct{ text, want string }{
		{ta, "critical 7 days"}, {tb, "critical 5 days"},
		{ta, "at least 7 days."}, {tb, "at least 35 days."},
		{ta, "every\n  365 days"}, {tb, "every\n  180 days"},
		{ta, "Company Internal"}, {tb, "Confidential"}, {tb, "Acme Ltd"},
		{ta, "longer than 5 minutes"}, {ta, "1 day, by automated reporting"},
	} {
		if !strings.Contains(c.text, c.want) {
			t.Errorf("rendered policy lacks %q", c.want)
		}
	}
	for _, r := range control.Requirements {
		if !strings.Contains(ta, "**"+r.ID+"**") {
			t.Errorf("the policy does not state %s", r.ID)
		}
	}
	if strings.Contains(ta, "<no value>") || strings.Contains(ta, "{{") {
		t.Errorf("unfilled placeholder in the policy")
	}
}

func mustRead(t *testing.T, file string) string {
	t.Helper()
	b, err := policy.TemplateSource(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUnknownPlaceholderNamesFileLineAndName(t *testing.T) {
	_, err := policy.Compile("acme.md", "# Acme\n\nWe fix criticals in {{.Numbers.SLACritical}} days\nand keep {{.Numbers.BackupRetentionDay}} days.\n")
	if code(err) != opsguard.EInvalid || !strings.Contains(err.Error(), "acme.md:4") || !strings.Contains(err.Error(), ".Numbers.BackupRetentionDay") {
		t.Fatalf("err = %v", err)
	}
	for _, src := range []string{"{{.Company.Name}}", "{{.Nope}}", "{{range .Roles}}x{{end}}", "{{if .Bad}}x{{end}}", "{{nope}}"} {
		if _, err := policy.Compile("x.md", src); code(err) != opsguard.EInvalid || !strings.Contains(err.Error(), "x.md") {
			t.Errorf("%s: err = %v", src, err)
		}
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, err := e.svc.Draft(t.Context(), hedda, "acme-access", policy.NewDraft{Title: "Access", Summary: "first", Source: "ok\n{{.Roles.Janitor}}\n"})
		if code(err) != opsguard.EInvalid || !strings.Contains(err.Error(), "acme-access.md:2") {
			t.Fatalf("err = %v", err)
		}
		if ds, _ := e.svc.Documents(t.Context()); len(ds) != 0 {
			t.Errorf("a refused draft left %d documents", len(ds))
		}
	})
}

func TestApprovalSegregation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		const doc = "acme-access"
		v, err := e.svc.Draft(ctx, ines, doc, policy.NewDraft{Title: "Access control", Summary: "first", Source: "Only {{.Roles.SecurityOfficer}} grants access.\n"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(v.Text, "ines, sol") {
			t.Errorf("text %q lacks the holders", v.Text)
		}
		if _, err := e.svc.Approve(ctx, sol, doc, 1, ""); code(err) != opsguard.EConflict {
			t.Errorf("approving a draft: %v", err)
		}
		if _, err := e.svc.Submit(ctx, ines, doc, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Approve(ctx, ines, doc, 1, ""); code(err) != opsguard.EForbidden || !strings.Contains(err.Error(), "segregation") {
			t.Errorf("the author approved: %v", err)
		}
		if _, err := e.svc.Approve(ctx, hedda, doc, 1, ""); code(err) != opsguard.EForbidden {
			t.Errorf("a non-security officer approved: %v", err)
		}
		if _, err := e.svc.Reject(ctx, ines, doc, 1, "not good enough yet"); code(err) != opsguard.EForbidden {
			t.Errorf("the author rejected: %v", err)
		}
		v, err = e.svc.Approve(ctx, sol, doc, 1, "")
		if err != nil || v.State != policy.Approved || v.DecidedBy != "sol" {
			t.Fatalf("approve: %+v, %v", v, err)
		}
		es := entries(t, db, "policy/"+doc)
		last := es[0]
		if last.Kind != "policy.approved" || !strings.Contains(string(last.Payload), v.SHA256) {
			t.Errorf("the approval entry %s %s lacks the text's SHA-256 %s", last.Kind, last.Payload, v.SHA256)
		}
	})
}

func entries(t *testing.T, db *store.DB, subject string) []ledger.Entry {
	t.Helper()
	var es []ledger.Entry
	err := db.View(t.Context(), func(tx *store.Tx) error {
		var err error
		es, err = tx.ListEntries(t.Context(), ledger.EntryFilter{Subject: subject})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestPublishedTextNeverChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		const doc = "acme-access"
		e.svc.Draft(ctx, hedda, doc, policy.NewDraft{Title: "Access", Summary: "first", Source: "Version one.\n"})
		e.svc.Submit(ctx, hedda, doc, 1)
		e.svc.Approve(ctx, ines, doc, 1, "")
		pub, err := e.svc.Publish(ctx, ines, doc, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Edit(ctx, hedda, doc, 1, policy.NewDraft{Source: "Rewritten.\n"}); code(err) != opsguard.EConflict {
			t.Errorf("editing a published version: %v", err)
		}
		// Even a store call that carries another text leaves it alone.
		changed := pub
		changed.Text, changed.SHA256 = "Rewritten.\n", "x"
		storetest.Update(t, db, func(tx *store.Tx) error { return tx.UpdatePolicyVersion(ctx, changed) })
		d, _ := e.svc.Document(ctx, doc)
		if d.Current == nil || d.Current.Text != "Version one.\n" || d.Current.SHA256 != pub.SHA256 {
			t.Fatalf("published text changed: %+v", d.Current)
		}
		// A new version is the way.
		if _, err := e.svc.Draft(ctx, hedda, doc, policy.NewDraft{Summary: "second", Source: "Version two.\n"}); err != nil {
			t.Fatal(err)
		}
		diff, err := e.svc.Diff(ctx, doc, 1, 2)
		if err != nil || diff.Added != 1 || diff.Removed != 1 {
			t.Errorf("diff: %+v, %v", diff, err)
		}
	})
}

func TestOverdueReview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		e.published(t)
		for _, b := range policy.Builtins[1:] {
			e.svc.Submit(ctx, hedda, b.ID, 1)
			e.svc.Approve(ctx, ines, b.ID, 1, "")
			e.svc.Publish(ctx, ines, b.ID, 1)
		}
		review := controlByID(t, e.svc, "GV-2.reviews-current")
		if o, _ := review.Evaluate(ctx); o.Status != control.Pass {
			t.Fatalf("fresh approval: %+v", o)
		}
		n := &notes{}
		e.now = e.now.Add(340 * 24 * time.Hour)
		if sent, err := e.svc.ReviewNotices(ctx, n); err != nil || sent != 2 || n.kinds[0] != "policy.review_due" {
			t.Fatalf("due: %d %v %v", sent, n.kinds, err)
		}
		if sent, _ := e.svc.ReviewNotices(ctx, n); sent != 0 {
			t.Errorf("the due notice was sent again")
		}
		e.now = e.now.Add(26 * 24 * time.Hour) // 366 days after approval
		if o, _ := review.Evaluate(ctx); o.Status != control.Fail || !strings.Contains(o.Summary, "overdue") {
			t.Errorf("after 366 days: %+v", o)
		}
		if sent, _ := e.svc.ReviewNotices(ctx, n); sent != 2 || n.kinds[len(n.kinds)-1] != "policy.review_overdue" {
			t.Errorf("overdue: %v", n.kinds)
		}
	})
}

type notes struct{ kinds []string }

func (n *notes) Notify(_ context.Context, _ policy.Tx, kind, _, _ string, _ map[string]any) error {
	n.kinds = append(n.kinds, kind)
	return nil
}

func controlByID(t *testing.T, s *policy.Service, id string) control.Control {
	t.Helper()
	for _, c := range s.Controls() {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no control %s", id)
	return control.Control{}
}

func TestConfigChangeMakesANewDraft(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		e.published(t)
		if made, _ := e.svc.Sync(ctx); len(made) != 0 {
			t.Fatalf("a restart without change drafted %d versions", len(made))
		}
		e.cfg.Vuln.SLADays.Critical = 3
		e.open()
		made, err := e.svc.Sync(ctx)
		if err != nil || len(made) != 2 {
			t.Fatalf("sync: %d, %v", len(made), err)
		}
		d, _ := e.svc.Document(ctx, "operations-security-policy")
		if d.Latest.Number != 2 || d.Latest.State != policy.Draft || !strings.Contains(d.Latest.Text, "critical 3 days") ||
			!strings.Contains(d.ReviewFlag, "vuln.sla_days.critical 7 → 3") {
			t.Errorf("after the change: v%d %s flag %q", d.Latest.Number, d.Latest.State, d.ReviewFlag)
		}
		if o, _ := controlByID(t, e.svc, "GV-2.reviews-current").Evaluate(ctx); o.Status != control.Fail || !strings.Contains(o.Summary, "significant change") {
			t.Errorf("GV-2: %+v", o)
		}
		e.svc.Submit(ctx, hedda, d.ID, 2)
		e.svc.Approve(ctx, ines, d.ID, 2, "")
		e.svc.Publish(ctx, ines, d.ID, 2)
		if d, _ = e.svc.Document(ctx, d.ID); d.ReviewFlag != "" || d.Versions[1].State != policy.Superseded {
			t.Errorf("after publishing v2: flag %q, v1 %s", d.ReviewFlag, d.Versions[1].State)
		}
	})
}

func TestAttestations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		until := e.now.Add(90 * 24 * time.Hour)
		n := policy.NewAttestation{Requirement: "CM-9", Statement: "Every change runs in staging.example first.", ValidUntil: until,
			Evidence: []policy.File{{Name: "/etc/staging.txt", Content: []byte("staging runbook")}}}
		for _, c := range []struct {
			name string
			mod  func(*policy.NewAttestation)
			want string
		}{
			{"unknown requirement", func(n *policy.NewAttestation) { n.Requirement = "CM-99" }, "requirement"},
			{"past expiry", func(n *policy.NewAttestation) { n.ValidUntil = e.now.Add(-time.Hour) }, "valid_until"},
			{"too long", func(n *policy.NewAttestation) { n.ValidUntil = e.now.Add(400 * 24 * time.Hour) }, "valid_until"},
			{"evidence too big", func(n *policy.NewAttestation) {
				n.Evidence = append(n.Evidence, policy.File{Name: "big.bin", Content: make([]byte, 990)})
			}, "evidence"},
		} {
			bad := n
			bad.Evidence = append([]policy.File(nil), n.Evidence...)
			c.mod(&bad)
			_, err := e.svc.Attest(ctx, hedda, bad)
			var oe *opsguard.Error
			if code(err) != opsguard.EInvalid || !asErr(err, &oe) || oe.Details["field"] != c.want {
				t.Errorf("%s: %v", c.name, err)
			}
		}
		if as, _ := e.svc.Attestations(ctx, ""); len(as) != 0 {
			t.Fatalf("refused attestations left %d rows", len(as))
		}
		if err := db.View(ctx, func(tx *store.Tx) error {
			_, err := tx.Blob(ctx, ledger.NewBlob("", n.Evidence[0].Content).SHA256)
			return err
		}); code(err) != opsguard.ENotFound {
			t.Errorf("a refused attestation left its evidence blob: %v", err)
		}
		a, err := e.svc.Attest(ctx, hedda, n)
		if err != nil || a.State != policy.Pending || len(a.Evidence) != 1 || a.Evidence[0].Name != "staging.txt" {
			t.Fatalf("attest: %+v, %v", a, err)
		}
		att := controlByID(t, e.svc, "CM-9.attested")
		if o, _ := att.Evaluate(ctx); o.Status != control.Fail {
			t.Errorf("unreviewed: %+v", o)
		}
		if _, err := e.svc.Review(ctx, hedda, a.ID, true, ""); code(err) != opsguard.EForbidden {
			t.Errorf("a non-security officer reviewed: %v", err)
		}
		self, err := e.svc.Attest(ctx, ines, n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Review(ctx, ines, self.ID, true, ""); code(err) != opsguard.EForbidden || !strings.Contains(err.Error(), "segregation") {
			t.Errorf("the attester reviewed: %v", err)
		}
		if _, err := e.svc.Review(ctx, ines, a.ID, true, "seen the runbook"); err != nil {
			t.Fatal(err)
		}
		if o, _ := att.Evaluate(ctx); o.Status != control.Pass {
			t.Errorf("reviewed: %+v", o)
		}
		e.now = until.Add(time.Hour)
		if o, _ := att.Evaluate(ctx); o.Status != control.Fail || !strings.Contains(o.Summary, "expired") {
			t.Errorf("expired: %+v", o)
		}
	})
}

func asErr(err error, oe **opsguard.Error) bool {
	for err != nil {
		if e, ok := err.(*opsguard.Error); ok {
			*oe = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestComplianceStates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		res := func(st control.Status) *control.Result { return &control.Result{Status: st} }
		e.items = nil
		for _, r := range control.Requirements {
			it := control.Item{Requirement: r}
			switch r.ID {
			case "CM-1":
				it.Controls = []control.Latest{{ID: "CM-1.x", Result: res(control.Pass)}}
			case "CM-2", "CM-3":
				it.Controls = []control.Latest{{ID: r.ID + ".x", Result: res(control.Fail)}}
			case "CM-4":
				it.Controls = []control.Latest{{ID: "CM-4.x", Result: res(control.NotApplicable)}}
			case "CM-9":
				it.Controls = []control.Latest{{ID: "CM-9" + policy.AttestedSuffix, Result: res(control.NotApplicable)}}
			}
			e.items = append(e.items, it)
		}
		until := e.now.Add(10 * 24 * time.Hour)
		for _, req := range []string{"CM-10", "CM-3", "CM-9"} {
			a, err := e.svc.Attest(ctx, hedda, policy.NewAttestation{Requirement: req, Statement: "We do this and here is how we know.", ValidUntil: until})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Review(ctx, ines, a.ID, true, ""); err != nil {
				t.Fatal(err)
			}
			if req == "CM-10" {
				e.now = until.Add(time.Hour) // CM-10's expires; the others are filed after
				until = e.now.Add(10 * 24 * time.Hour)
			}
		}
		if _, err := e.svc.Attest(ctx, hedda, policy.NewAttestation{Requirement: "CF-5", Statement: "Production runs in its own cloud account.", ValidUntil: until}); err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.Compliance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Requirements) != 42 {
			t.Fatalf("%d requirements", len(c.Requirements))
		}
		want := map[string]string{"CM-1": "pass", "CM-2": "fail", "CM-3": "exception", "CM-4": "not_applicable", "CM-9": "attested", "CM-10": "expired", "CM-5": "gap", "GV-3": "gap", "CF-5": "gap"}
		for _, r := range c.Requirements {
			if w, ok := want[r.ID]; ok && r.State != w {
				t.Errorf("%s: %s (%s), want %s", r.ID, r.State, r.Why, w)
			}
			if r.ID == "CF-5" && !strings.Contains(r.Why, "awaits a review") {
				t.Errorf("CF-5 with an unreviewed attestation: %s", r.Why)
			}
		}
		if c.Counts["gap"] != 42-6 {
			t.Errorf("counts %v", c.Counts)
		}
	})
}

// BenchmarkRenderHTML measures rendering the built-in policy, with its
// version history, to a standalone HTML document.
func BenchmarkRenderHTML(b *testing.B) {
	db := storetest.Open(b, filepath.Join(b.TempDir(), "o.db"))
	key, err := ledger.CreateKey(filepath.Join(b.TempDir(), "k.key"))
	if err != nil {
		b.Fatal(err)
	}
	svc := policy.NewService(store.Bind[policy.Tx](db), ledger.New(key, ledger.Options{}), policy.Options{
		Company: "Acme Ltd", DefaultClassification: "Company Internal", Numbers: policy.NumbersFrom(config.Default()), ReviewInterval: 365 * 24 * time.Hour})
	if _, err := svc.Sync(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		r, err := svc.Render(b.Context(), "operations-security-policy", 0, "html")
		if err != nil || !strings.Contains(string(r.Body), "<td>1</td>") {
			b.Fatalf("%d bytes, %v", len(r.Body), err)
		}
	}
	b.ReportMetric(float64(time.Since(t0).Microseconds())/1000/float64(b.N), "ms/render")
}

func TestAcknowledgements(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		const doc = "operations-security-policy"
		if _, err := e.svc.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Acknowledge(ctx, hedda, doc); code(err) != opsguard.EConflict {
			t.Errorf("acknowledging an unpublished document: %v", err)
		}
		ack := controlByID(t, e.svc, "GV-1.documents-acknowledged")
		if o, _ := ack.Evaluate(ctx); o.Status != control.NotApplicable {
			t.Errorf("nothing published: %+v", o)
		}
		e.published(t)
		if _, err := e.svc.Acknowledge(ctx, hedda, doc); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Acknowledge(ctx, hedda, doc); code(err) != opsguard.EConflict {
			t.Errorf("a second acknowledgement: %v", err)
		}
		c, err := e.svc.Coverage(ctx)
		if err != nil || len(c.Documents) != 1 {
			t.Fatalf("coverage: %+v, %v", c, err)
		}
		d := c.Documents[0]
		if d.ByRole["engineering_head"] != (policy.RoleCount{Acked: 1, Total: 1}) || d.ByRole["security_officer"] != (policy.RoleCount{Acked: 0, Total: 2}) ||
			strings.Join(d.Missing, ",") != "ines,sol" {
			t.Errorf("coverage by role: %+v, missing %v", d.ByRole, d.Missing)
		}
		if o, _ := ack.Evaluate(ctx); o.Status != control.Fail || !strings.Contains(o.Summary, "security_officer 0/2") {
			t.Errorf("two missing: %+v", o)
		}
		if un, _ := e.svc.Unacknowledged(ctx, "ines"); len(un) != 1 || un[0] != doc {
			t.Errorf("ines has not acknowledged: %v", un)
		}
		e.svc.Acknowledge(ctx, ines, doc)
		e.svc.Acknowledge(ctx, sol, doc)
		if o, _ := ack.Evaluate(ctx); o.Status != control.Pass {
			t.Errorf("all acknowledged: %+v", o)
		}
	})
}
