package app_test

import (
	"encoding/json"
	"testing"

	"github.com/opsguard/opsguard/app"
)

// FuzzExportVerify: an export is outside input for the auditor who checks
// it; whatever it holds, Verify reports or errs, and never passes an export
// that its key did not sign.
func FuzzExportVerify(f *testing.F) {
	cfg := testConfig(f, "")
	a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", cheap)
	if err != nil {
		f.Fatal(err)
	}
	x, _ := a.ExportLedger(ctx)
	good, _ := json.Marshal(x)
	pub := a.Log.Key().Public
	a.Close()
	f.Add(good)
	f.Add([]byte(`{"format":"opsguard-ledger-export/v1","entries":[{"seq":3},{"seq":1}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var x app.Export
		if json.Unmarshal(data, &x) != nil {
			return
		}
		rep, err := x.Verify(ctx, pub)
		if err != nil || !rep.OK() {
			return
		}
		if rep.Entries > 0 && rep.Size != rep.Entries {
			t.Fatalf("verified %d entries against a checkpoint of %d", rep.Entries, rep.Size)
		}
	})
}
