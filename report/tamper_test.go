package report_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/report"
	"github.com/opsguard/opsguard/store/storetest"
)

func sqliteWorld(t *testing.T, days int) (*world, []byte) {
	w := newWorld(t, storetest.Open(t, filepath.Join(t.TempDir(), "o.db")))
	w.seed(t, days)
	return w, w.export(t, "2026-03-01", "2026-03-31")
}

// flip changes one byte of the named member (the first member whose name
// starts with prefix), at the byte where at is found.
func flip(prefix, at string) func(string, []byte) []byte {
	done := false
	return func(name string, c []byte) []byte {
		if done || !strings.HasPrefix(name, prefix) {
			return c
		}
		i := bytes.Index(c, []byte(at))
		if i >= 0 && strings.HasSuffix(at, "[") {
			i += len(at) + 1 // inside the first hash
		}
		if at == "" {
			i = len(c) - 1
		}
		if i < 0 {
			return c
		}
		done = true
		c = bytes.Clone(c)
		c[i] ^= 0x01
		return c
	}
}

// TestTamperIsNamed changes one byte of each kind of member, removes one,
// adds one: verification fails and names the member.
func TestTamperIsNamed(t *testing.T) {
	w, b := sqliteWorld(t, 3)
	pub := w.log.Key().Public
	cases := []struct {
		name, member string
		edit         func(string, []byte) []byte
		add          map[string][]byte
	}{
		{"an entry", report.EntriesName, flip(report.EntriesName, `alice`), nil},
		{"a blob", "blobs/", flip("blobs/", "scan"), nil},
		{"a checkpoint", report.CheckpointsName, flip(report.CheckpointsName, `\n`), nil},
		{"an inclusion proof", report.InclusionName, flip(report.InclusionName, ""), nil},
		{"a consistency proof", report.ConsistencyName, flip(report.ConsistencyName, `"hashes":[`), nil},
		{"results.json", report.ResultsName, flip(report.ResultsName, `fail"`), nil},
		{"the OSCAL file", report.OSCALName, flip(report.OSCALName, `not-satisfied`), nil},
		{"the report", report.HTMLName, flip(report.HTMLName, "satisfied"), nil},
		{"the manifest", report.ManifestName, flip(report.ManifestName, `"sha256"`), nil},
		{"the signature", report.SignatureName, flip(report.SignatureName, "manifest sha256"), nil},
		{"a removed member", report.HTMLName, func(n string, c []byte) []byte {
			if n == report.HTMLName {
				return nil
			}
			return c
		}, nil},
		{"an added member", "extra.txt", nil, map[string][]byte{"extra.txt": []byte("hello")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := rewrite(t, b, zip.Deflate, tc.edit, tc.add)
			if bytes.Equal(bad, rewrite(t, b, zip.Deflate, nil, nil)) {
				t.Fatal("the edit changed nothing")
			}
			s, err := verify(t, bad, pub)
			if err != nil {
				if !strings.Contains(err.Error(), tc.member) {
					t.Errorf("error %q does not name %s", err, tc.member)
				}
				return
			}
			if s.OK {
				t.Fatalf("verified: %+v", s)
			}
			t.Logf("%s", strings.Join(s.Problems, "\n"))
			if !strings.Contains(strings.Join(s.Problems, "\n"), tc.member) {
				t.Errorf("problems do not name %s:\n%s", tc.member, strings.Join(s.Problems, "\n"))
			}
		})
	}
}

// TestContentNotContainer: members stored uncompressed, and JSON members
// re-indented with their keys reordered, still verify.
func TestContentNotContainer(t *testing.T) {
	w, b := sqliteWorld(t, 2)
	reindent := func(name string, c []byte) []byte {
		if !strings.HasSuffix(name, ".json") {
			return c
		}
		var v any
		if err := json.Unmarshal(c, &v); err != nil {
			t.Fatal(err)
		}
		out, _ := json.MarshalIndent(v, "", "\t") // keys sorted, other indentation
		return out
	}
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		s, err := verify(t, rewrite(t, b, method, reindent, nil), w.log.Key().Public)
		if err != nil || !s.OK {
			t.Fatalf("method %d: %v %+v", method, err, s)
		}
	}
}

func TestBadBundles(t *testing.T) {
	w, b := sqliteWorld(t, 2)
	pub := w.log.Key().Public
	other, err := ledger.CreateKey(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{0}, 3<<20)
	cases := []struct {
		name   string
		bundle []byte
		key    string
		opts   report.VerifyOptions
		want   string
	}{
		{"another key", b, other.Public, report.VerifyOptions{}, "not signed by the key"},
		{"not a zip", []byte("PK? no, just text"), pub, report.VerifyOptions{}, "not a zip"},
		{"truncated", b[:len(b)-200], pub, report.VerifyOptions{}, "not a zip"},
		{"truncated inside", b[:len(b)/2], pub, report.VerifyOptions{}, "not a zip"},
		{"a path climbing out", rewrite(t, b, zip.Deflate, nil, map[string][]byte{"../evil": []byte("x")}), pub, report.VerifyOptions{}, "climbing out"},
		{"a member too large", rewrite(t, b, zip.Deflate, nil, map[string][]byte{"blobs/zeros": big}), pub, report.VerifyOptions{MaxMemberBytes: 1 << 20}, "more than the limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := report.Verify(ctx, bytes.NewReader(tc.bundle), int64(len(tc.bundle)), tc.key, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (summary %+v), want %q", err, s, tc.want)
			}
		})
	}
}

func TestExportRefuses(t *testing.T) {
	w, _ := sqliteWorld(t, 1)
	day := func(s string) time.Time { d, _ := report.ParseDate(s, false); return d }
	cases := []struct {
		name     string
		from, to time.Time
		reqs     []string
		code     opsguard.Code
		want     string
	}{
		{"an empty period", day("2025-01-01"), day("2025-02-01"), nil, opsguard.ENotFound, "holds no ledger entries"},
		{"a backwards range", day("2026-03-31"), day("2026-03-01"), nil, opsguard.EInvalid, "must come after"},
		{"an unknown requirement", day("2026-03-01"), day("2026-03-31"), []string{"CM-*", "XX-*"}, opsguard.EInvalid, `"XX-*" matches no requirement`},
		{"a malformed pattern", day("2026-03-01"), day("2026-03-31"), []string{"CM-["}, opsguard.EInvalid, "not a pattern"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := w.svc.Export(ctx, "a", report.Request{From: tc.from, To: tc.to, Requirements: tc.reqs}, &buf)
			if opsguard.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) || buf.Len() != 0 {
				t.Errorf("err = %v (%d bytes written), want %s %q", err, buf.Len(), tc.code, tc.want)
			}
		})
	}
	// A ledger that failed verification exports nothing.
	w.log.Fail(errors.New("entry 3 edited"))
	var buf bytes.Buffer
	if _, err := w.svc.Export(ctx, "a", report.Request{From: day("2026-03-01"), To: day("2026-03-31")}, &buf); opsguard.ErrorCode(err) != opsguard.EConflict || buf.Len() != 0 {
		t.Errorf("export of a failed ledger: %v (%d bytes)", err, buf.Len())
	}
}
