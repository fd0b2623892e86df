package vuln

import (
	"iter"
)

// key is one identifier of a finding at its place on the asset (its
// package or code location). A struct, not a joined string: an import of a
// hundred thousand findings looks up several keys for each.
type key struct{ pkg, loc, id string }

func keyOf(f Reported, id string) key { return key{f.Package, f.Location, id} }

// eachID yields every identifier of an incoming finding, as ids returns
// them, without building the list.
func eachID(in Reported) iter.Seq[string] {
	return func(yield func(string) bool) {
		if !yield(in.VulnID) {
			return
		}
		for _, a := range in.Aliases {
			if a != "" && a != in.VulnID && !yield(a) {
				return
			}
		}
	}
}

// index finds the known finding an incoming one is, by place and any id.
type index map[key]ref

// ref is a finding of the index: old, one the asset had; or one the
// import opened, by its position in the part's new findings until the
// part is stored (a position, not a pointer: the list grows, and its
// array moves), n once it is.
type ref struct {
	old *Finding
	at  int // 1 + the position in the part's new findings; 0 for none
	n   *storedFinding
}

func freshRef(i int) ref { return ref{at: i + 1} }

// fresh returns the position of a finding the part opened.
func (r ref) fresh() (int, bool) { return r.at - 1, r.at > 0 }

// storedFinding is what the index keeps of a finding the import opened
// once it is stored: enough to match it again.
type storedFinding struct {
	id       string
	ids      []string
	severity Severity
	risk     Risk
	slaDays  int
}

// finding returns the stored finding as the import saw it when it opened
// it: open, reported by no other tool.
func (n *storedFinding) finding() *Finding {
	f := &Finding{ID: n.id, Status: Open, IDs: make(map[string]struct{}, len(n.ids))}
	for _, x := range n.ids {
		f.IDs[x] = struct{}{}
	}
	return f
}

func newIndex(fs []Finding, room int) index {
	ix := make(index, len(fs)+room)
	for i := range fs {
		for x := range fs[i].IDs {
			ix[key{fs[i].Package, fs[i].Location, x}] = ref{old: &fs[i]}
		}
	}
	return ix
}

// point makes every id of in, at its place, name r: the finding in was
// matched to or opened as. A later statement naming any of them is that
// finding, as the same statements in one part would be.
func (ix index) point(in Reported, r ref) {
	for x := range eachID(in) {
		ix[keyOf(in, x)] = r
	}
}

// stored replaces f, at position i of the part's new findings, which the
// import has now stored, by what the index keeps of it. Every key that
// names it is one of its ids at its place: the ids of the statements
// merged into it.
func (ix index) stored(i int, f *Finding) {
	n := &storedFinding{id: f.ID, ids: make([]string, 0, len(f.IDs)), severity: f.Severity, risk: f.Risk, slaDays: f.SLADays}
	for x := range f.IDs {
		n.ids = append(n.ids, x)
		k := key{f.Package, f.Location, x}
		if ix[k] == freshRef(i) {
			ix[k] = ref{n: n}
		}
	}
}

func (ix index) match(in Reported) ref {
	for x := range eachID(in) {
		if r, ok := ix[keyOf(in, x)]; ok {
			return r
		}
	}
	return ref{}
}
