package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup"
)

// The data set page's forms change a data set and add its copies through
// the service, behind the CSRF check and the backups.manage permission;
// a refused form says why and keeps what was typed. The API's PUT does
// the same.
func TestDataSetPageForms(t *testing.T) {
	e := newSQLiteEnv(t)
	by := backup.Actor{Name: "cli:infra-ops", Local: true, Username: "infra-ops", Role: auth.InfraOps}
	if _, err := e.app.Backup.AddDataSet(ctx, by, backup.DataSet{Name: "shop", Owner: "engineer"}); err != nil {
		t.Fatal(err)
	}
	ops, opsCSRF := e.signIn("infra-ops")
	eng, engCSRF := e.signIn("engineer")
	edit := url.Values{"owner": {"infra-ops"}, "classification": {"confidential"}, "description": {"Orders"}, "frequency": {"daily"},
		"type": {"full"}, "retention_days": {"30"}, "instructions": {"pgbackrest restore --stanza main"}, "drill": {`{"interval_days": 30}`}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, x := range v {
			out[k] = x
		}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	if st, _ := e.form(eng, "/backup/datasets/shop", with(edit, "csrf_token", engCSRF)); st != http.StatusForbidden {
		t.Errorf("an engineer changes a data set: %d", st)
	}
	if st, _ := e.form(ops, "/backup/datasets/shop", edit); st != http.StatusForbidden {
		t.Errorf("a form without its CSRF token: %d", st)
	}
	st, body := e.form(ops, "/backup/datasets/shop", with(edit, "csrf_token", opsCSRF, "type", "sometimes", "description", "Typed by hand"))
	if st != http.StatusBadRequest || !strings.Contains(body, "type &#34;sometimes&#34;") || !strings.Contains(body, `value="Typed by hand"`) {
		t.Errorf("a bad type: %d, want 400 naming the type and keeping the form\n%s", st, body)
	}
	if st, body := e.form(ops, "/backup/datasets/shop", with(edit, "csrf_token", opsCSRF)); st != http.StatusOK || !strings.Contains(body, "Saved shop") {
		t.Fatalf("edit: %d\n%s", st, body)
	}
	d, _, err := e.app.Backup.DataSet(ctx, "shop")
	if err != nil || d.Owner != "infra-ops" || d.RetentionDays != 30 || d.Classification != "confidential" || !strings.Contains(string(d.Drill), "30") {
		t.Errorf("stored after the edit: %+v, %v", d, err)
	}

	copyForm := url.Values{"csrf_token": {opsCSRF}, "name": {"pitr"}, "source": {"pgbackrest"}, "location": {"main"}, "offsite": {"on"}}
	if st, _ := e.form(eng, "/backup/datasets/shop/copies", with(copyForm, "csrf_token", engCSRF)); st != http.StatusForbidden {
		t.Errorf("an engineer adds a copy: %d", st)
	}
	if st, body := e.form(ops, "/backup/datasets/shop/copies", with(copyForm, "source", "restic", "location", "rest:http://127.0.0.1:1/shop")); st != http.StatusBadRequest || !strings.Contains(body, "password") {
		t.Errorf("a restic copy without a password: %d\n%s", st, body)
	}
	st, body = e.form(ops, "/backup/datasets/shop/copies", copyForm)
	if st != http.StatusCreated || !strings.Contains(body, "Added copy pitr") || !strings.Contains(body, `id="copy-pitr"`) {
		t.Fatalf("add copy: %d\n%s", st, body)
	}
	if _, cs, _ := e.app.Backup.DataSet(ctx, "shop"); len(cs) != 1 || cs[0].Source != "pgbackrest" || !cs[0].Offsite || cs[0].CreatedBy != "infra-ops" {
		t.Errorf("copies: %+v", cs)
	}

	resp := e.do("PUT", "/api/v1/backup/datasets/shop", e.tokens[auth.InfraOps], strings.NewReader(`{"owner": "engineer", "retention_days": 14}`), nil)
	var got backup.DataSet
	if jsonBody(t, resp, &got); resp.StatusCode != 200 || got.Owner != "engineer" || got.RetentionDays != 14 || got.Name != "shop" {
		t.Errorf("PUT: %d %+v", resp.StatusCode, got)
	}
	resp = e.do("PUT", "/api/v1/backup/datasets/nope", e.tokens[auth.InfraOps], strings.NewReader(`{"owner": "engineer"}`), nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("PUT of an unknown data set: %d", resp.StatusCode)
	}
	resp.Body.Close()
	// Every row changed is sealed by its ledger entry.
	if rep, err := e.app.VerifyLedger(ctx); err != nil || !rep.OK() {
		t.Errorf("ledger verify after the edits: %+v, %v", rep, err)
	}
}
