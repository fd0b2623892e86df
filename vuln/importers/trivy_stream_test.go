package importers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

func trivyStreamer(t *testing.T) vuln.Streamer {
	imp, _ := importers.Get("trivy")
	st, ok := imp.(vuln.Streamer)
	if !ok {
		t.Fatal("the Trivy importer does not stream")
	}
	return st
}

// stream collects the parts of data read in parts of n.
func stream(t *testing.T, data []byte, n int) (*vuln.Report, []vuln.Reported, []string) {
	t.Helper()
	var all []vuln.Reported
	var targets []string
	rep, err := trivyStreamer(t).Stream("r.json", vuln.Bytes(data), n, func(head *vuln.Report, fs []vuln.Reported) error {
		if len(fs) == 0 || len(fs) > n {
			t.Errorf("a part of %d findings, parts of %d", len(fs), n)
		}
		if len(head.Findings) != 0 || head.Format != "trivy" {
			t.Errorf("head %+v", head)
		}
		targets = append(targets, head.Target)
		all = append(all, fs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep, all, targets
}

func findingKeys(fs []vuln.Reported) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s\n", f.Key(), f.Target, f.Severity, f.Title, f.FixedVersion, f.References)
	}
	return b.String()
}

// Streamed in parts of three, every real Trivy report gives the findings
// Parse gives, in the same order, with the target known in every part.
func TestTrivyStreamMatchesParse(t *testing.T) {
	for _, name := range tgSamples(t, "vuln/trivy") {
		t.Run(name, func(t *testing.T) {
			data := fixture.Read(t, "vuln/trivy/"+name)
			whole, err := importers.Parse(name, "trivy", data)
			if err != nil {
				t.Fatal(err)
			}
			rep, fs, targets := stream(t, data, 3)
			if got, want := findingKeys(fs), findingKeys(whole.Findings); got != want {
				t.Errorf("streamed:\n%s\nparsed:\n%s", got, want)
			}
			if len(rep.Findings) != 0 || rep.Target != whole.Target || rep.ToolVersion != whole.ToolVersion || !rep.Complete {
				t.Errorf("report %+v, parsed %+v", rep, whole)
			}
			if len(whole.Findings) > 3 && len(targets) < 2 {
				t.Errorf("%d findings in %d parts", len(whole.Findings), len(targets))
			}
			for _, x := range targets {
				if x != whole.Target {
					t.Errorf("a part's target %q, the report's %q", x, whole.Target)
				}
			}
		})
	}
}

// A report written in another order than Trivy's (the target after the
// results, a result's Target after its vulnerabilities, names in another
// case) reads the same: what cannot be passed on yet waits.
func TestTrivyStreamOtherOrder(t *testing.T) {
	data := fixture.Read(t, "vuln/trivy/securecodebox-repo.json")
	whole, err := importers.Parse("r.json", "trivy", data)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(data, &doc)
	var results []string
	for _, r := range doc["Results"].([]any) {
		r := r.(map[string]any)
		vs, _ := json.Marshal(r["Vulnerabilities"])
		if r["Vulnerabilities"] == nil {
			vs = []byte("null")
		}
		secrets, _ := json.Marshal(r["Secrets"])
		typ, _ := json.Marshal(r["Type"])
		target, _ := json.Marshal(r["Target"])
		results = append(results, fmt.Sprintf(`{"vulnerabilities": %s, "Secrets": %s, "type": %s, "TARGET": %s}`, vs, secrets, typ, target))
	}
	reordered := fmt.Sprintf(`{"results": [%s], "SchemaVersion": 2, "Trivy": {"Version": "0.99.0"}, "artifactName": %q}`, strings.Join(results, ",\n"), doc["ArtifactName"])
	rep, fs, targets := stream(t, []byte(reordered), 2)
	if got, want := findingKeys(fs), findingKeys(whole.Findings); got != want {
		t.Errorf("streamed:\n%s\nparsed:\n%s", got, want)
	}
	if rep.Target != whole.Target || rep.ToolVersion != "0.99.0" || len(targets) == 0 {
		t.Errorf("report %+v, %d parts", rep, len(targets))
	}
}

func TestTrivyStreamRefusals(t *testing.T) {
	st := trivyStreamer(t)
	data := fixture.Read(t, "vuln/trivy/securecodebox-repo.json")
	stop := errors.New("the store is full")
	parts := 0
	_, err := st.Stream("r.json", vuln.Bytes(data), 2, func(*vuln.Report, []vuln.Reported) error {
		parts++
		if parts == 2 {
			return stop
		}
		return nil
	})
	if err != stop || parts != 2 {
		t.Errorf("the consumer's error: %v after %d parts", err, parts)
	}
	for _, tc := range []struct{ name, data, path, msg string }{
		{"results twice", `{"SchemaVersion": 2, "ArtifactName": "a", "Results": [], "results": []}`, "results", "twice"},
		{"vulnerabilities twice", `{"SchemaVersion": 2, "ArtifactName": "a", "Results": [{"Target": "t", "Type": "npm", "Vulnerabilities": [], "Vulnerabilities": []}]}`, "Results[0].Vulnerabilities", "twice"},
		{"results not a list", `{"SchemaVersion": 2, "ArtifactName": "a", "Results": {"Target": "t"}}`, "Results", "found object"},
		{"a result not an object", `{"SchemaVersion": 2, "ArtifactName": "a", "Results": [7]}`, "Results[0]", "found number"},
		{"a vulnerability of the wrong type", `{"SchemaVersion": 2, "ArtifactName": "a", "Results": [{"Target": "t", "Type": "npm", "Vulnerabilities": [{"VulnerabilityID": 7}]}]}`, "Results[0].Vulnerabilities[0].VulnerabilityID", "found number"},
		{"a document that is a list, not of results", `[{"SchemaVersion": 2}]`, "[0].Target", "names no Target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.Stream("r.json", vuln.Bytes(tc.data), 2, func(*vuln.Report, []vuln.Reported) error { return nil })
			var e *importers.Error
			if !errors.As(err, &e) || e.File != "r.json" || !strings.Contains(e.Path, tc.path) || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %v; want path %q, message %q", err, tc.path, tc.msg)
			}
		})
	}
}

// A report in a file is read from the file as it goes, with the same
// findings, and its errors located by line as in memory.
func TestTrivyStreamFromFile(t *testing.T) {
	data := fixture.Read(t, "vuln/trivy/securecodebox-repo.json")
	whole, err := importers.Parse("r.json", "trivy", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string // the error, if any
	}{
		{"whole", data, ""},
		{"truncated", data[:len(data)-100], "r.json:"},
		{"bad severity", bytes.Replace(data, []byte(`"Severity": "HIGH"`), []byte(`"Severity": "SEVERE"`), 1), "Severity: unknown severity"},
		{"a string for a list", bytes.Replace(data, []byte(`"References": [`), []byte(`"References": "x", "y": [`), 1), "References: expected []string, found string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.json")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var fs []vuln.Reported
			_, err = trivyStreamer(t).Stream("r.json", io.NewSectionReader(f, 0, int64(len(tc.data))), 4, func(_ *vuln.Report, part []vuln.Reported) error {
				fs = append(fs, part...)
				return nil
			})
			_, inMemory := importers.Parse("r.json", "trivy", tc.data)
			switch {
			case tc.want == "" && (err != nil || findingKeys(fs) != findingKeys(whole.Findings)):
				t.Errorf("from the file: %v, %d findings of %d", err, len(fs), len(whole.Findings))
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("from the file: %v; want %q", err, tc.want)
			case tc.want != "" && err.Error() != inMemory.Error():
				t.Errorf("from the file: %v; in memory: %v", err, inMemory)
			}
		})
	}
}
