package change_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/egress"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// benchCommits is how many first-parent commits the benchmark history has:
// OPSGUARD_BENCH_COMMITS, by default 2000 so that a -benchtime=1x smoke run
// stays quick (the figure is for 100000).
func benchCommits(b *testing.B) int {
	b.Helper()
	s := os.Getenv("OPSGUARD_BENCH_COMMITS")
	if s == "" {
		return 2000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("OPSGUARD_BENCH_COMMITS=%q: want a positive number of commits", s)
	}
	return n
}

// BenchmarkVerifyHistory measures reading and judging a long first-parent
// history from git, without a store, and compares it in the same run with
// git printing the same fields (x-git-log).
func BenchmarkVerifyHistory(b *testing.B) {
	n := benchCommits(b)
	dir := benchHistory(b, n)

	b.Run("git-log", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := benchGitLog(dir); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "commits/s")
	})

	b.Run("verify", func(b *testing.B) {
		start := time.Now()
		if err := benchGitLog(dir); err != nil {
			b.Fatal(err)
		}
		gitLog := time.Since(start)

		repo := change.Repository{Name: "bench", Source: change.SourceGit}
		m := &change.Mirror{Dir: dir}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			h, err := m.Walk(ctx, "", "refs/heads/main")
			if err != nil {
				b.Fatal(err)
			}
			chain, merged := h.Chain, h.Merged
			for _, c := range chain {
				ch := change.Classify(repo, "main", c)
				change.Evaluate(repo, &ch, nil, merged[c.SHA], 3, true)
			}
			if len(chain) != n {
				b.Fatalf("verified %d commits, want %d", len(chain), n)
			}
		}
		per := b.Elapsed() / time.Duration(b.N)
		b.ReportMetric(float64(n)/per.Seconds(), "commits/s")
		b.ReportMetric(per.Seconds()/gitLog.Seconds(), "x-git-log")
	})
}

// BenchmarkSync measures a repository's first sync into an empty register
// on each backend, end to end: the fetch into the mirror, the walk, the
// rules, the store and the ledger.
func BenchmarkSync(b *testing.B) {
	n := benchCommits(b)
	src := benchHistory(b, n)
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				svc := newBenchService(b, storetest.Open(b, be.DSN(b)), src)
				b.StartTimer()
				start := time.Now()
				res, err := svc.Sync(ctx, "bench", "bench", nil)
				total += time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Branches) != 1 || res.Branches[0].New != n {
					b.Fatalf("sync recorded %+v, want %d new changes", res.Branches, n)
				}
			}
			per := total / time.Duration(b.N)
			b.ReportMetric(per.Seconds(), "s/sync")
			b.ReportMetric(float64(n)/per.Seconds(), "commits/s")
		})
	}
}

// BenchmarkIncrementalSync measures the scheduled sync of a repository
// that has nothing new: the fetch and the checks that find the verified
// head unchanged.
func BenchmarkIncrementalSync(b *testing.B) {
	n := benchCommits(b)
	src := benchHistory(b, n)
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			svc := newBenchService(b, storetest.Open(b, be.DSN(b)), src)
			res, err := svc.Sync(ctx, "bench", "bench", nil)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Branches) != 1 || res.Branches[0].New != n {
				b.Fatalf("first sync recorded %+v, want %d new changes", res.Branches, n)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := svc.Sync(ctx, "bench", "bench", nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Branches) != 1 || res.Branches[0].New != 0 {
					b.Fatalf("sync with nothing new recorded %+v", res.Branches)
				}
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(per.Microseconds())/1000, "ms/sync")
		})
	}
}

// newBenchService returns a register on db watching the repository at src
// under the name "bench".
func newBenchService(b *testing.B, db *store.DB, src string) *change.Service {
	b.Helper()
	key, err := ledger.CreateKey(filepath.Join(b.TempDir(), "k.key"))
	if err != nil {
		b.Fatal(err)
	}
	svc := change.NewService(store.Bind[change.Tx](db), ledger.New(key, ledger.Options{}), change.Options{
		ReposDir: filepath.Join(b.TempDir(), "repos"), ReviewDays: 3, Egress: egress.Policy{AllowLocal: true}})
	if _, err := svc.AddRepository(ctx, officer, change.Repository{Name: "bench", URL: src}); err != nil {
		b.Fatal(err)
	}
	return svc
}

// benchGitLog runs the git log that Mirror.Walk runs and throws its
// output away: the floor under verifying a history.
func benchGitLog(dir string) error {
	cmd := exec.Command("git", append([]string{"-C", dir}, change.LogArgs("", "main")...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, out); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git log: %v: %s", err, stderr.String())
	}
	return nil
}

// benchRepos are the benchmark histories, built once per process (the
// 100000-commit one takes fast-import some 20 seconds) and removed by
// TestMain.
var benchRepos struct {
	sync.Mutex
	tmp  string
	dirs map[int]string
}

// TestMain removes the benchmark histories when every test and benchmark
// is done with them.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchRepos.tmp != "" {
		os.RemoveAll(benchRepos.tmp)
	}
	os.Exit(code)
}

// benchHistory returns a bare repository whose main branch has n
// first-parent commits, building it on first use.
func benchHistory(b *testing.B, n int) string {
	b.Helper()
	needGit(b)
	benchRepos.Lock()
	defer benchRepos.Unlock()
	if dir, ok := benchRepos.dirs[n]; ok {
		return dir
	}
	if benchRepos.tmp == "" {
		tmp, err := os.MkdirTemp("", "opsguard-change-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchRepos.tmp, benchRepos.dirs = tmp, map[int]string{}
	}
	dir := filepath.Join(benchRepos.tmp, fmt.Sprintf("src-%d.git", n))
	start := time.Now()
	if err := buildHistory(dir, n); err != nil {
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	b.Logf("built a history of %d commits in %v", n, time.Since(start).Round(time.Millisecond))
	benchRepos.dirs[n] = dir
	return dir
}

// buildHistory creates a bare repository at dir and streams the history
// of n commits to git fast-import.
func buildHistory(dir string, n int) error {
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C")
	init := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch=main", dir)
	init.Env = env
	if out, err := init.CombinedOutput(); err != nil {
		return fmt.Errorf("git init: %v\n%s", err, out)
	}
	cmd := exec.Command("git", "-C", dir, "fast-import", "--quiet", "--done")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe() // the answers to get-mark
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git fast-import: %w", err)
	}
	h := &historyWriter{w: bufio.NewWriterSize(in, 1<<16), r: bufio.NewReader(out), n: n}
	err = h.write()
	in.Close()
	if werr := cmd.Wait(); werr != nil || err != nil {
		return fmt.Errorf("git fast-import: %v %v\n%s", err, werr, stderr.String())
	}
	return nil
}

type person struct{ name, email string }

// benchPeople are the developers of the benchmark history.
var benchPeople = []person{
	{"Alice Martin", "alice@example.com"}, {"Bob Dupont", "bob@example.com"}, {"Carol Nguyen", "carol@example.com"},
	{"Dan Okafor", "dan@example.com"}, {"Eve Schmidt", "eve@example.com"}, {"Farid Haddad", "farid@example.com"},
	{"Grace Kim", "grace@example.com"}, {"Hugo Rossi", "hugo@example.com"}, {"Ines Moreau", "ines@example.com"},
	{"Jun Tanaka", "jun@example.com"}, {"Kofi Mensah", "kofi@example.com"}, {"Lena Novak", "lena@example.com"},
	{"Mateo Garcia", "mateo@example.com"}, {"Nora Lindqvist", "nora@example.com"}, {"Omar Farouk", "omar@example.com"},
	{"Priya Raman", "priya@example.com"}, {"Quentin Blake", "quentin@example.com"}, {"Rosa Silva", "rosa@example.com"},
	{"Sven Berg", "sven@example.com"}, {"Tara Walsh", "tara@example.com"},
}

var (
	benchForge   = person{"GitHub", "noreply@github.com"}
	benchVerbs   = []string{"Fix", "Add", "Update", "Refactor", "Remove", "Document", "Speed up", "Handle", "Log", "Test"}
	benchObjects = []string{"login redirect", "rate limiter", "billing export", "session cookie", "retry loop", "invoice PDF",
		"search index", "cache eviction", "audit log", "webhook signature", "CSV import", "password reset", "metrics endpoint",
		"feature flag", "TLS config", "SQL migration"}
)

// historyWriter writes the fast-import stream of the benchmark history.
// Main commit i has mark i+1; the side commit of the pull request merged
// by main commit i has mark n+i+1.
//
// The mix, drawn from a hash of i: 35% merge commits of pull requests
// (with their side commit), 30% squash merges "Subject (#N)" with a
// Reviewed-by trailer, 20% Gerrit submits (Change-Id, Reviewed-on,
// Reviewed-by), 13% direct pushes and 2% reverts of a commit shortly
// before, named by its real SHA (asked of fast-import with get-mark).
// About one squash or direct push in 33 declares an emergency, and one
// review in 100 is by the author.
type historyWriter struct {
	w   *bufio.Writer
	r   *bufio.Reader
	n   int
	pr  int
	msg strings.Builder
}

func (h *historyWriter) write() error {
	for i := 0; i < h.n; i++ {
		if err := h.commit(i); err != nil {
			return err
		}
	}
	h.w.WriteString("done\n")
	return h.w.Flush()
}

func mix(i int) uint64 {
	x := uint64(i) + 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func benchSubject(i int) string {
	x := mix(i)
	return benchVerbs[x%uint64(len(benchVerbs))] + " " + benchObjects[x>>8%uint64(len(benchObjects))]
}

func (h *historyWriter) commit(i int) error {
	x := mix(i)
	when := time.Date(2020, 1, 6, 9, 0, 0, 0, time.UTC).Unix() + int64(i)*600
	author := benchPeople[x>>16%uint64(len(benchPeople))]
	reviewer := benchPeople[(x>>16+1+x>>24%uint64(len(benchPeople)-1))%uint64(len(benchPeople))]
	if x>>32%100 == 0 {
		reviewer = author
	}
	emergency := x>>40%33 == 0
	subject := benchSubject(i)
	body := fmt.Sprintf("The %s misbehaved when the request came from a replica.\nThis keeps the old path for clients that still need it.\n",
		benchObjects[x>>44%uint64(len(benchObjects))])
	file := fmt.Sprintf("src/pkg%02d/file%d.go", x>>48%16, x>>52%8)
	content := fmt.Sprintf("package pkg%02d\n\n// Rev is the revision that last touched this file.\nconst Rev = %d\n", x>>48%16, i)

	h.msg.Reset()
	committer, merge := author, 0
	switch k := x % 100; {
	case i == 0:
		subject = "Initial import"
		fmt.Fprintf(&h.msg, "%s\n", subject)
	case k < 35:
		h.pr++
		branch := strings.ReplaceAll(strings.ToLower(subject), " ", "-")
		user, _, _ := strings.Cut(author.email, "@")
		side := fmt.Sprintf("%s\n\n%s", subject, body)
		merge = h.n + i + 1
		h.header("refs/heads/side", merge, i, author, author, when-300, side)
		h.change(file, content)
		committer = benchForge
		fmt.Fprintf(&h.msg, "Merge pull request #%d from %s/%s\n\n%s\n", h.pr, user, branch, subject)
	case k < 65:
		h.pr++
		committer = benchForge
		fmt.Fprintf(&h.msg, "%s (#%d)\n\n%s\nReviewed-by: %s <%s>\n", subject, h.pr, body, reviewer.name, reviewer.email)
		if emergency {
			fmt.Fprintf(&h.msg, "Emergency: INC-%d %s down in production\n", 1000+i, benchObjects[x>>44%uint64(len(benchObjects))])
		}
	case k < 85:
		fmt.Fprintf(&h.msg, "%s\n\n%s\nChange-Id: I%016x%016x%08x\nReviewed-on: https://review.example.com/c/app/+/%d\nReviewed-by: %s <%s>\n",
			subject, body, x, mix(-i), uint32(x), 10000+i, reviewer.name, reviewer.email)
	case k < 98:
		fmt.Fprintf(&h.msg, "%s\n\n%s", subject, body)
		if emergency {
			fmt.Fprintf(&h.msg, "\nEmergency: INC-%d %s down in production\n", 1000+i, benchObjects[x>>44%uint64(len(benchObjects))])
		}
	default:
		target := max(1, i-1-int(x>>8%50))
		sha, err := h.mark(target + 1)
		if err != nil {
			return err
		}
		if k == 98 {
			h.pr++
			committer = benchForge
			fmt.Fprintf(&h.msg, "Revert \"%s\" (#%d)\n\nThis reverts commit %s.\n\nReviewed-by: %s <%s>\n",
				benchSubject(target), h.pr, sha, reviewer.name, reviewer.email)
		} else {
			fmt.Fprintf(&h.msg, "Revert \"%s\"\n\nThis reverts commit %s.\n", benchSubject(target), sha)
		}
	}
	h.header("refs/heads/main", i+1, i, author, committer, when, h.msg.String())
	if merge != 0 {
		fmt.Fprintf(h.w, "merge :%d\n", merge)
	}
	h.change(file, content)
	return nil
}

// header starts a commit on ref with mark, whose first parent is main
// commit parent-1 (none for the root).
func (h *historyWriter) header(ref string, mark, parent int, author, committer person, when int64, msg string) {
	fmt.Fprintf(h.w, "commit %s\nmark :%d\nauthor %s <%s> %d +0000\ncommitter %s <%s> %d +0000\ndata %d\n%s\n",
		ref, mark, author.name, author.email, when-3600, committer.name, committer.email, when, len(msg), msg)
	if parent > 0 {
		fmt.Fprintf(h.w, "from :%d\n", parent)
	}
}

func (h *historyWriter) change(path, content string) {
	fmt.Fprintf(h.w, "M 100644 inline %s\ndata %d\n%s\n\n", path, len(content), content)
}

// mark asks fast-import for the SHA of a commit it already wrote.
func (h *historyWriter) mark(mark int) (string, error) {
	fmt.Fprintf(h.w, "get-mark :%d\n", mark)
	if err := h.w.Flush(); err != nil {
		return "", err
	}
	line, err := h.r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("get-mark :%d: %w", mark, err)
	}
	return strings.TrimSpace(line), nil
}
