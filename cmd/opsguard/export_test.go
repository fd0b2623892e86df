package main_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// trivyReport is a Trivy report of n vulnerabilities, each in its own
// package.
func trivyReport(n int) []byte {
	var vs []map[string]any
	for i := range n {
		vs = append(vs, map[string]any{"VulnerabilityID": fmt.Sprintf("CVE-2024-%05d", i+1), "PkgName": fmt.Sprintf("pkg-%03d", i),
			"InstalledVersion": "1.0", "Severity": "HIGH", "Title": "generated"})
	}
	b, _ := json.Marshal(map[string]any{"SchemaVersion": 2, "ArtifactName": "registry.example/shop:1", "ArtifactType": "container_image",
		"Results": []map[string]any{{"Target": "registry.example/shop:1 (debian 12)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": vs}}})
	return b
}

// gitCommits makes a repository of n commits in one go (git fast-import
// continues the branch from its previous commit).
func gitCommits(t *testing.T, dir string, n int) {
	t.Helper()
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "commit refs/heads/main\ncommitter Alice <alice@example.com> %d +0000\ndata <<EOF\nChange %d\nEOF\n", 1760000000+i*60, i)
		fmt.Fprintf(&in, "M 644 inline f%d\ndata <<EOF\n%d\nEOF\n\n", i, i)
	}
	for _, args := range [][]string{{"init", "--quiet", "--initial-branch=main", dir}, {"-C", dir, "fast-import", "--quiet"}} {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null")
		cmd.Stdin = strings.NewReader(in.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// serve starts the binary's server on the data directory, with env added
// to its environment, and returns its URL once it is healthy.
func serve(t *testing.T, data string, env ...string) string {
	t.Helper()
	addr := freeAddr(t)
	srv := exec.Command(binary(t), "serve", "--listen", addr)
	srv.Env = environ(append([]string{"OPSGUARD_DATA_DIR=" + data}, env...)...)
	var stderr lockedBuffer
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() })
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy:\n%s", stderr.String())
		}
	}
}

// An export (-o csv or -o json) without --limit writes every row, page
// after page, in-process and through a server; a --limit above the page
// maximum is refused with the maximum named, never cut silently.
func TestBinaryExportEveryRow(t *testing.T) {
	requireProgram(t, "git")
	const n = 250
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	local := []string{"OPSGUARD_DATA_DIR=" + data}
	mustRun(t, local, "", "init", "--password", "correct horse battery")
	report := filepath.Join(dir, "trivy.json")
	os.WriteFile(report, trivyReport(n), 0o644)
	mustRun(t, local, "", "vuln", "import", report, "--asset", "shop")
	src := filepath.Join(dir, "src")
	gitCommits(t, src, n)
	mustRun(t, local, "", "change", "repo", "add", "shop", src)
	mustRun(t, local, "", "change", "repo", "sync", "shop")

	mustRun(t, local, "an auditor's password\n", "user", "add", "exporter", "--role", "auditor")
	base := serve(t, data)
	remote := []string{"OPSGUARD_SERVER=" + base, "OPSGUARD_TOKEN=" + ownToken(t, base, "exporter", "an auditor's password")}

	for _, mode := range []struct {
		name string
		env  []string
	}{{"in-process", local}, {"server", remote}} {
		for _, list := range [][]string{{"vuln", "list"}, {"change", "list"}} {
			name := mode.name + " " + strings.Join(list, " ")
			rows, err := csv.NewReader(strings.NewReader(mustRun(t, mode.env, "", append(list, "-o", "csv")...).stdout)).ReadAll()
			if err != nil || len(rows) != n+1 || rows[0][0] != "id" {
				t.Errorf("%s -o csv: %d rows (header included), want %d; %v", name, len(rows), n+1, err)
			}
			ids := map[string]bool{}
			for _, r := range rows[1:] {
				ids[r[0]] = true
			}
			if len(ids) != len(rows)-1 {
				t.Errorf("%s -o csv: %d distinct ids in %d rows", name, len(ids), len(rows)-1)
			}
			var page struct {
				Items []map[string]any `json:"items"`
				Total int              `json:"total"`
			}
			out := mustRun(t, mode.env, "", append(list, "-o", "json")...)
			if err := json.Unmarshal([]byte(out.stdout), &page); err != nil || len(page.Items) != n || page.Total != n {
				t.Errorf("%s -o json: %d items of total %d, want %d; %v", name, len(page.Items), page.Total, n, err)
			}
			if r := mustRun(t, mode.env, "", append(list, "-o", "json", "--limit", "10", "--offset", "245")...); json.Unmarshal([]byte(r.stdout), &page) != nil || len(page.Items) != 5 {
				t.Errorf("%s --limit 10 --offset 245: %d items, want 5", name, len(page.Items))
			}
			if r := run(t, mode.env, "", append(list, "-o", "csv", "--limit", "5000")...); r.code == 0 || !strings.Contains(r.stderr, "1000") || r.stdout != "" {
				t.Errorf("%s --limit 5000: want an error naming the maximum 1000:\n%s", name, r)
			}
		}
	}
}

// A rejection needs a reason, asked for before anything is sent.
func TestBinaryRejectNeedsReason(t *testing.T) {
	env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(t.TempDir(), "data")}
	mustRun(t, env, "", "init", "--password", "correct horse battery")
	if r := run(t, env, "", "vuln", "reject", "req_0000"); r.code == 0 || !strings.Contains(r.stderr, "--reason") {
		t.Errorf("reject without --reason:\n%s", r)
	}
	if r := run(t, env, "", "vuln", "reject", "--help"); !strings.Contains(r.stdout, "--reason") {
		t.Errorf("reject --help lacks --reason:\n%s", r)
	}
}
