package importers

import (
	"bytes"
	"io"
	"reflect"
	"sort"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/opsguard/opsguard/vuln"
)

// MaxString bounds a JSON string of a report as the importers read it, in
// bytes as written (escapes included): the rest of a longer one is skipped
// before any decoder sees it, so that a report holding a 200 MB
// description costs a few megabytes to read, not gigabytes. It is more
// than six times the largest vuln.max_text_bytes (1 MiB), so that a string
// cut here still decodes to more than the register keeps and is marked
// cut there.
const MaxString = 8 << 20

// MaxReferences and MaxReference bound a finding's references: the first
// MaxReferences are kept, each cut at MaxReference bytes.
const (
	MaxReferences = 100
	MaxReference  = 2 << 10
)

// cutReader passes a JSON document through, cutting every string (key or
// value) longer than max bytes as written at the end of an escape. It does
// not check the JSON: the decoder reading from it does, with the offsets it
// reports mapped back by original.
type cutReader struct {
	r    io.Reader
	max  int
	in   bool  // within a string
	esc  int   // within an escape: -1 after a backslash, the hex digits to come after \u
	n    int   // bytes of the current string passed on
	drop bool  // skipping the rest of the current string
	out  int64 // bytes passed on
	cut  int64 // bytes skipped so far
	cuts []cutAt
}

// cutAt records that the bytes passed on from at onwards were preceded
// by skipped bytes, skipped in all.
type cutAt struct{ at, skipped int64 }

func newCutReader(r io.Reader, max int) *cutReader { return &cutReader{r: r, max: max} }

func (c *cutReader) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		k := c.filter(p[:n])
		c.out += int64(k)
		// Never answer 0, nil for bytes that were all skipped.
		if k > 0 || err != nil || n == 0 {
			if err == io.EOF && c.drop {
				c.cuts = append(c.cuts, cutAt{c.out, c.cut})
			}
			return k, err
		}
	}
}

// filter passes on the bytes of p to keep, in place, and returns how many.
func (c *cutReader) filter(p []byte) int {
	w := 0
	for i := 0; i < len(p); i++ {
		b := p[i]
		if !c.in {
			// Outside strings: on to the next quote at once.
			j := bytes.IndexByte(p[i:], '"')
			if j < 0 {
				return w + copy(p[w:], p[i:])
			}
			w += copy(p[w:], p[i:i+j+1])
			i += j
			c.in, c.n, c.esc = true, 0, 0
			continue
		}
		switch {
		case c.esc < 0: // the escape's letter
			c.esc = 0
			if b == 'u' {
				c.esc = 4
			}
		case c.esc > 0: // a hex digit of \uXXXX
			c.esc--
		case b == '\\':
			c.esc = -1
		case b == '"':
			c.in = false
			if c.drop {
				c.drop = false
				c.cuts = append(c.cuts, cutAt{c.out + int64(w), c.cut})
			}
			p[w] = b
			w++
			continue
		}
		if c.drop {
			c.cut++
			continue
		}
		p[w] = b
		w++
		if c.n++; c.n >= c.max && c.esc == 0 {
			c.drop = true
		}
	}
	return w
}

// original maps an offset of the bytes passed on to the report's.
func (c *cutReader) original(off int64) int64 {
	i := sort.Search(len(c.cuts), func(i int) bool { return c.cuts[i].at > off })
	if i == 0 {
		return off
	}
	return off + c.cuts[i-1].skipped
}

// refList is a list of references decoded bounded: its first
// MaxReferences, each cut at MaxReference bytes; the rest is skipped, so
// that a vulnerability listing ten million links holds a hundred.
type refList []string

func (l *refList) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	list := (*l)[:0]
	err := eachElement(dec, refListType, func(int) error {
		if len(list) == MaxReferences {
			return dec.SkipValue()
		}
		var s string
		if err := jsonv2.UnmarshalDecode(dec, &s); err != nil {
			return err
		}
		list = append(list, vuln.CutString(s, MaxReference))
		return nil
	})
	*l = list
	return err
}

var refListType = reflect.TypeFor[[]string]()

// CapReferences returns the first MaxReferences of refs, each cut at
// MaxReference bytes.
func CapReferences(refs []string) []string {
	refs = refs[:min(len(refs), MaxReferences)]
	for i, r := range refs {
		refs[i] = vuln.CutString(r, MaxReference)
	}
	return refs
}
