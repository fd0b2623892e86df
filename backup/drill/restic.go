package drill

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// maxListed bounds the nodes of one snapshot's listing a drill holds.
const maxListed = 10_000_000

type snapshot struct {
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Paths []string  `json:"paths"`
}

// listing is what a snapshot says it holds: its regular files and sizes.
type listing struct {
	files map[string]int64 // path as restic ls prints it → size
	bytes int64
}

var snapshotID = regexp.MustCompile(`^[0-9a-f]{8,64}$`)

// errTooLarge stops a restore whose scratch directory outgrew the limit.
var errTooLarge = errors.New("the restore outgrew its size limit")

func (r *drillRun) restic(ctx context.Context) {
	sel := r.selector()
	if sel != "latest" && sel != "random" && !snapshotID.MatchString(sel) {
		r.fail("snapshot", sel, fmt.Errorf("snapshot %q: want latest, random or an ID of 8 to 64 hex digits", sel))
		return
	}
	if sel == "random" {
		snap, err := r.randomSnapshot(ctx)
		if err != nil {
			r.fail("snapshot", sel, err)
			return
		}
		sel = snap.ID
	}
	dir, release, err := newScratch(r.spec.ScratchRoot)
	if err != nil {
		r.fail("scratch", "a fresh scratch directory", err)
		return
	}
	defer func() {
		if err := release(); err != nil {
			r.fail("cleanup", "scratch removed", err)
		}
	}()
	target := filepath.Join(dir, "restore")
	list, ok := r.listAndRestore(ctx, sel, dir, target)
	if !ok {
		return
	}
	if r.opts.AfterRestore != nil {
		r.opts.AfterRestore(target)
	}
	r.compare(target, list, fmt.Sprintf("at most %d bytes", r.spec.MaxBytes))
}

// restoreResult is how a restore ended.
type restoreResult struct {
	short  string // the snapshot restic said it restored (8 hex digits)
	stderr string
	err    error
}

// listAndRestore reads the snapshot's listing and restores it at the same
// time: each opens the repository (a key derivation of a second or so)
// and the listing is small beside the restore. A listing that fails, is
// over the size limit or does not fit in the free space stops the
// restore; a restore of another snapshot than the one listed (a new
// "latest" in between) fails the drill. It records the checks and says
// whether the restored tree is worth comparing.
func (r *drillRun) listAndRestore(ctx context.Context, sel, dir, target string) (listing, bool) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var snap snapshot
	var list listing
	var lsErr error
	listed := make(chan struct{})
	free, known := freeBytes(dir)
	go func() {
		defer close(listed)
		snap, list, lsErr = r.listSnapshot(ctx, sel)
		switch {
		case lsErr != nil:
			cancel(errListing)
		case list.bytes > r.spec.MaxBytes:
			cancel(errTooLarge)
		case known && free < uint64(list.bytes):
			cancel(errNoSpace)
		}
	}()
	res := r.restore(ctx, sel, target, cancel)
	<-listed
	limit := fmt.Sprintf("at most %d bytes", r.spec.MaxBytes)
	if lsErr != nil {
		r.fail("snapshot", r.selector(), lsErr)
		return list, false
	}
	r.rep.SnapshotID, r.rep.SnapshotTime = snap.ID, snap.Time
	r.check("snapshot", r.selector(), snap.ID+" of "+snap.Time.UTC().Format(time.RFC3339), true)
	switch cause := context.Cause(ctx); {
	case list.bytes > r.spec.MaxBytes:
		r.check("size limit", limit, fmt.Sprintf("the snapshot lists %d bytes: not restored", list.bytes), false)
		return list, false
	case errors.Is(cause, errNoSpace):
		r.check("free space", fmt.Sprintf("%d bytes free under %s", list.bytes, r.spec.ScratchRoot), fmt.Sprintf("%d bytes free", free), false)
		return list, false
	case errors.Is(cause, errTooLarge):
		r.check("size limit", limit, "the restore grew beyond it and was stopped", false)
		return list, false
	case res.err != nil:
		r.fail("restic restore --verify", "exit 0", r.resticCause(res.stderr, res.err))
		return list, false
	case !strings.HasPrefix(snap.ID, res.short):
		r.check("snapshot restored", "the snapshot listed, "+snap.ID, fmt.Sprintf("restic restored %q", res.short), false)
		return list, false
	}
	return list, r.check("restic restore --verify", "exit 0", "exit 0", true)
}

func (r *drillRun) selector() string {
	if r.spec.Snapshot == "" {
		return "latest"
	}
	return r.spec.Snapshot
}

func (r *drillRun) resticTool(args []string, stdout func(io.Reader) error) tool {
	return tool{
		name:   r.opts.Restic,
		args:   append([]string{"--no-cache"}, args...),
		env:    []string{"RESTIC_REPOSITORY=" + r.spec.Location, "RESTIC_PASSWORD_FILE=" + r.spec.PasswordFile},
		stdout: stdout,
	}
}

// randomSnapshot picks one of the repository's snapshots.
func (r *drillRun) randomSnapshot(ctx context.Context) (snapshot, error) {
	var snaps []snapshot
	stderr, err := r.run(ctx, r.resticTool([]string{"snapshots", "--json"}, func(rd io.Reader) error {
		return json.NewDecoder(io.LimitReader(rd, 256<<20)).Decode(&snaps)
	}))
	if err != nil {
		return snapshot{}, r.resticCause(stderr, err)
	}
	if len(snaps) == 0 {
		return snapshot{}, errors.New("the repository holds no snapshot")
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].ID < snaps[j].ID })
	return snaps[r.opts.Rand.IntN(len(snaps))], nil
}

// listSnapshot reads `restic ls --json SEL` as it streams: the snapshot
// it resolved, then its nodes.
func (r *drillRun) listSnapshot(ctx context.Context, sel string) (snapshot, listing, error) {
	var snap snapshot
	l := listing{files: map[string]int64{}}
	stderr, err := r.run(ctx, r.resticTool([]string{"ls", "--json", sel}, func(rd io.Reader) error {
		dec := json.NewDecoder(rd)
		for n := 0; ; n++ {
			var node struct {
				snapshot
				Type       string `json:"type"`
				Path       string `json:"path"`
				Size       int64  `json:"size"`
				StructType string `json:"struct_type"`
			}
			if err := dec.Decode(&node); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if n > maxListed {
				return fmt.Errorf("more than %d entries", maxListed)
			}
			if node.StructType == "snapshot" && snap.ID == "" {
				snap = node.snapshot
			}
			if node.StructType == "node" && node.Type == "file" {
				l.files[node.Path] = node.Size
				l.bytes += node.Size
			}
		}
	}))
	// restic 0.14 ignores a snapshot it cannot find and exits 0.
	switch {
	case err != nil:
		return snap, l, r.resticCause(stderr, err)
	case snap.ID != "":
	case strings.Contains(stderr, "no snapshot matched"):
		return snap, l, errors.New("the repository holds no snapshot")
	case strings.Contains(stderr, "no matching ID found"):
		return snap, l, fmt.Errorf("no snapshot %s in the repository", sel)
	default:
		return snap, l, fmt.Errorf("restic ls printed no snapshot for %s: %s", sel, lastLine(stderr))
	}
	return snap, l, nil
}

// The causes that stop a restore before its end.
var (
	errListing = errors.New("the snapshot could not be listed")
	errNoSpace = errors.New("the snapshot does not fit in the free space")
)

// restore runs `restic restore --verify` of sel into target while a
// watcher stops it when target grows beyond the size limit.
func (r *drillRun) restore(ctx context.Context, sel, target string, stop context.CancelCauseFunc) restoreResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchSize(ctx, r.treeSize(target), r.spec.MaxBytes, func() { stop(errTooLarge) })
	}()
	var res restoreResult
	res.stderr, res.err = r.run(ctx, r.resticTool([]string{"restore", sel, "--verify", "--target", target}, func(rd io.Reader) error {
		sc := bufio.NewScanner(io.LimitReader(rd, maxLog))
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "restoring <Snapshot "); ok && res.short == "" {
				res.short, _, _ = strings.Cut(v, " ")
			}
			r.logf("%s\n", line)
		}
		return sc.Err()
	}))
	cancel()
	<-done
	return res
}

// treeSize is what the size watcher measures: the growth of the file
// system's used space since the restore began (one statfs, however large
// the tree), and only when that says the limit may be passed, the sum of
// the tree's files (a walk). Others' writes can only overstate the
// growth; the final comparison counts the files exactly.
func (r *drillRun) treeSize(target string) func(context.Context) int64 {
	base, ok := usedBytes(filepath.Dir(target))
	return func(context.Context) int64 {
		if used, ok2 := usedBytes(filepath.Dir(target)); ok && ok2 && used-base <= r.spec.MaxBytes {
			return max(used-base, 0)
		}
		n, _, _ := walkFiles(target, nil)
		return n
	}
}

// usedBytes is the space used on the file system holding dir.
func usedBytes(dir string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize, true
}

// watchSize calls over once size says more than limit bytes. It looks
// again after ten times the last walk took (at least a quarter second),
// so that watching costs a few percent of the restore at most.
func watchSize(ctx context.Context, size func(context.Context) int64, limit int64, over func()) {
	wait := 250 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		start := time.Now()
		if size(ctx) > limit {
			over()
			return
		}
		wait = max(250*time.Millisecond, 10*time.Since(start))
	}
}

// walkFiles sums the regular files under dir; with into it also records
// each one's size by its path relative to dir, "/"-rooted as restic's.
func walkFiles(dir string, into map[string]int64) (bytes, files int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil // a file renamed under us while restic writes it
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		bytes += info.Size()
		files++
		if into != nil {
			rel, _ := filepath.Rel(dir, p)
			into["/"+filepath.ToSlash(rel)] = info.Size()
		}
		return nil
	})
	return bytes, files, err
}

// compare checks the restored tree against the snapshot's listing and the
// expected paths.
func (r *drillRun) compare(target string, list listing, limit string) {
	got := map[string]int64{}
	bytes, files, err := walkFiles(target, got)
	if err != nil {
		r.fail("restored tree", "readable", err)
		return
	}
	r.rep.BytesRestored, r.rep.Files = bytes, files
	r.check("size limit", limit, fmt.Sprintf("%d bytes", bytes), bytes <= r.spec.MaxBytes)
	r.check("file count", fmt.Sprint(len(list.files)), fmt.Sprint(files), files == int64(len(list.files)))
	r.check("total bytes", fmt.Sprint(list.bytes), fmt.Sprint(bytes), bytes == list.bytes)
	diff := treeDiff(list.files, got)
	r.check("tree matches listing", "every listed file, with its size, and nothing else", orNone(diff), len(diff) == 0)
	for _, p := range r.spec.ExpectedPaths {
		p = "/" + strings.TrimPrefix(filepath.ToSlash(filepath.Clean("/"+p)), "/")
		_, err := os.Lstat(filepath.Join(target, filepath.FromSlash(p)))
		r.check("path "+p, "present", presence(err), err == nil)
	}
}

// treeDiff names up to ten differences between the listing and the tree.
func treeDiff(want, got map[string]int64) []string {
	var diff []string
	for p, n := range want {
		if m, ok := got[p]; !ok {
			diff = append(diff, "missing "+p)
		} else if m != n {
			diff = append(diff, fmt.Sprintf("%s has %d bytes, listed %d", p, m, n))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diff = append(diff, "not listed "+p)
		}
	}
	slices.Sort(diff)
	if len(diff) > 10 {
		diff = append(diff[:10], fmt.Sprintf("and %d more", len(diff)-10))
	}
	return diff
}

func orNone(diff []string) string {
	if len(diff) == 0 {
		return "identical"
	}
	return strings.Join(diff, "; ")
}

func presence(err error) string {
	switch {
	case err == nil:
		return "present"
	case errors.Is(err, fs.ErrNotExist):
		return "missing"
	}
	return err.Error()
}

// freeBytes is the space left to an unprivileged writer under dir.
func freeBytes(dir string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}

// resticCause turns restic 0.14's exit and stderr, which has no distinct
// exit codes, into the cause a person can act on, naming the repository.
func (r *drillRun) resticCause(stderr string, err error) error {
	var exit interface{ ExitCode() int }
	if !errors.As(err, &exit) {
		return err // not installed, stopped: already clear
	}
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(stderr, x) {
				return true
			}
		}
		return false
	}
	detail, repo := lastLine(stderr), redactURL(r.spec.Location)
	switch {
	case has("wrong password or no key found"):
		return errors.New("wrong password: the password file does not open the repository")
	case has("unable to open config file", "Is there a repository at"):
		return fmt.Errorf("repository missing: no restic repository at %s (%s)", repo, detail)
	case has("already locked", "unable to create lock"):
		return fmt.Errorf("repository %s is locked by another restic (a prune, a check, or a stale lock: restic unlock removes a stale one): %s", repo, firstLine(stderr, "locked"))
	case has("no space left on device"):
		return errors.New("disk full during the restore (no space left on device)")
	case has("ciphertext verification failed", "checksum mismatch", "decrypting blob"):
		return fmt.Errorf("repository data corrupted: %s", firstLine(stderr, "failed"))
	}
	return fmt.Errorf("restic failed (%v): %s", err, detail)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func firstLine(s, with string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, with) {
			return strings.TrimSpace(l)
		}
	}
	return lastLine(s)
}
