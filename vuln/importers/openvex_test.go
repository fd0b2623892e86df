package importers_test

import (
	"bytes"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// openvexWalk lists the (vulnerability, status, product) of every
// statement and product of an OpenVEX document, read with a map walk.
func openvexWalk(t *testing.T, data []byte) (author string, want [][3]string) {
	doc := vxObj(vxDecode(t, data))
	for _, s := range vxList(doc["statements"]) {
		s := vxObj(s)
		id := vxStr(s["vulnerability"])
		if id == "" {
			id = vxStr(vxObj(s["vulnerability"])["name"])
		}
		var products []string
		for _, p := range vxList(s["products"]) {
			if subs := vxList(vxObj(p)["subcomponents"]); len(subs) > 0 {
				for _, sub := range subs {
					products = append(products, vxStr(vxObj(sub)["@id"])+vxStr(sub))
				}
				continue
			}
			products = append(products, vxStr(vxObj(p)["@id"])+vxStr(p))
		}
		if len(products) == 0 {
			products = []string{""}
		}
		for _, p := range products {
			want = append(want, [3]string{id, vxStr(s["status"]), p})
		}
	}
	return vxStr(doc["author"]), want
}

func openvexStatement(t *testing.T, r *vuln.Report, id string) vuln.Statement {
	t.Helper()
	for _, s := range r.Statements {
		if s.VulnID == id {
			return s
		}
	}
	t.Fatalf("no statement about %s", id)
	return vuln.Statement{}
}

// openvexRefused are the samples that are not OpenVEX documents, and what
// the error must say.
var openvexRefused = map[string]string{
	"openvex_not_a_document.json": "not an OpenVEX document: expected a JSON object",
}

// openvexChecks are fields read from the samples by hand.
var openvexChecks = map[string]func(t *testing.T, r *vuln.Report){
	"openvex_many_vuln.json": func(t *testing.T, r *vuln.Report) {
		if s := openvexStatement(t, r, "CVE-2024-10005"); !slices.Equal(s.Aliases, []string{"GHSA-jfh8-c2jp-5v3q"}) ||
			s.Justification != "inline_mitigations_already_exist" || s.Impact != "The affected code path is disabled at build time." ||
			s.Product != "pkg:apk/alpine/zlib@1.2.11-r1?arch=x86_64&distro=alpine-3.10.9" {
			t.Errorf("CVE-2024-10005: %+v", s)
		}
		if s := openvexStatement(t, r, "CVE-2024-10002"); s.Status != "affected" || s.Action != "No action statement provided" {
			t.Errorf("CVE-2024-10002: %+v", s)
		}
		// The v0.0.x form: the vulnerability and the product are strings.
		if s := openvexStatement(t, r, "CVE-2024-10006"); s.Product != "pkg:apk/alpine/openssl@1.1.1k-r0" ||
			s.Status != "not_affected" || s.Justification != "component_not_present" {
			t.Errorf("CVE-2024-10006: %+v", s)
		}
	},
}

func TestOpenVEXSamples(t *testing.T) {
	imp := vxImporter(t, "openvex")
	for _, rel := range vxSamples(t, "openvex") {
		t.Run(path.Base(rel), func(t *testing.T) {
			t.Parallel()
			data := fixture.Read(t, rel)
			if msg, refused := openvexRefused[path.Base(rel)]; refused {
				if imp.Detect(data) {
					t.Error("detected as OpenVEX")
				}
				_, err := importers.Parse(rel, "openvex", data)
				if e := vxParseErr(t, err); !strings.Contains(e.Msg, msg) {
					t.Errorf("error %q does not say %q", e, msg)
				}
				_, err = importers.Parse(rel, "auto", data)
				vxParseErr(t, err)
				return
			}
			r, err := importers.Parse(rel, "openvex", data)
			if err != nil {
				t.Fatal(err)
			}
			vxCheck(t, r)
			author, want := openvexWalk(t, data)
			var got [][3]string
			for _, s := range r.Statements {
				got = append(got, [3]string{s.VulnID, s.Status, s.Product})
			}
			if !slices.Equal(got, want) {
				t.Errorf("statements\n got %v\nwant %v", got, want)
			}
			if r.Format != "openvex" || r.Tool != author || r.Complete || len(r.Findings) != 0 {
				t.Errorf("format %q, tool %q (author %q), complete %v, %d findings", r.Format, r.Tool, author, r.Complete, len(r.Findings))
			}
			if check := openvexChecks[path.Base(rel)]; check != nil {
				check(t, r)
			}
		})
	}
}

func TestOpenVEXDetect(t *testing.T) {
	var own []string
	for _, rel := range vxSamples(t, "openvex") {
		if _, refused := openvexRefused[path.Base(rel)]; !refused {
			own = append(own, rel)
		}
	}
	vxCheckDetect(t, "openvex", own, vxWithout(vxOtherFolders, "openvex")...)
}

func TestOpenVEXProducts(t *testing.T) {
	doc := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "Shop Security",
	  "statements": [
	    {"vulnerability": {"@id": "https://nvd.nist.gov/vuln/detail/CVE-2023-45853", "name": "CVE-2023-45853"},
	     "products": [{"@id": "pkg:oci/shop@sha256%3Aabc",
	                   "subcomponents": [{"@id": "pkg:apk/alpine/zlib@1.2.13-r0"}, {"identifiers": {"purl": "pkg:apk/alpine/minizip@1.2.13-r0"}}]}],
	     "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
	    {"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"identifiers": {"cpe23": "cpe:2.3:a:openssl:openssl:3.1.4:*:*:*:*:*:*:*"}}],
	     "status": "under_investigation"}]}`
	r, err := vxImporter(t, "openvex").Parse("doc.vex.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range r.Statements {
		got = append(got, s.VulnID+" "+s.Product)
	}
	want := []string{"CVE-2023-45853 pkg:apk/alpine/zlib@1.2.13-r0", "CVE-2023-45853 pkg:apk/alpine/minizip@1.2.13-r0",
		"CVE-2024-0727 cpe:2.3:a:openssl:openssl:3.1.4:*:*:*:*:*:*:*"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestOpenVEXBadInput(t *testing.T) {
	sample := fixture.Read(t, "vuln/openvex/openvex_many_vuln.json")
	vxCheckBad(t, "openvex", []vxBad{
		{name: "truncated", data: sample[:len(sample)/2], line: true, msg: "truncated"},
		{name: "wrong type", data: []byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": {"status": "fixed"}}`), line: true, path: "statements"},
		{name: "unknown status", data: bytes.Replace(sample, []byte(`"status": "fixed"`), []byte(`"status": "patched"`), 1),
			path: "statements[2].status", msg: "patched"},
		{name: "other context", data: []byte(`{"@context": "https://www.w3.org/ns/csvw", "statements": []}`), path: "@context", msg: "not an OpenVEX document"},
		{name: "nameless vulnerability", data: []byte(`{"@context": "https://openvex.dev/ns", "statements": [{"vulnerability": {}, "status": "fixed"}]}`),
			path: "statements[0].vulnerability.name"},
		{name: "product without id", data: []byte(`{"@context": "https://openvex.dev/ns", "statements": [{"vulnerability": "CVE-2024-1", "products": [{}], "status": "fixed"}]}`),
			path: "statements[0].products[0]"},
		{name: "vulnerability number", data: []byte(`{"@context": "https://openvex.dev/ns", "statements": [{"vulnerability": 7, "status": "fixed"}]}`),
			path: "statements[0].vulnerability"},
	})
}

func TestOpenVEXHugeString(t *testing.T) {
	data := vxHuge(`{"@context": "https://openvex.dev/ns/v0.2.0", "author": "a", "statements": [{"vulnerability": {"name": "CVE-2024-0001"}, "products": ["pkg:npm/x@1"], "status": "not_affected", "impact_statement": "`,
		`"}]}`)
	r, err := vxImporter(t, "openvex").Parse("huge.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Statements) != 1 || len(r.Statements[0].Impact) != importers.MaxString {
		t.Errorf("%d statements (a string is read up to MaxString)", len(r.Statements))
	}
}

func FuzzOpenVEX(f *testing.F) {
	for _, rel := range vxSamples(f, "openvex") {
		f.Add(fixture.Read(f, rel))
	}
	f.Add([]byte(`{"@context": "https://openvex.dev/ns/v0.0.1", "statements": [{"vulnerability": "CVE-2023-1", "products": ["pkg:x/y@1"], "subcomponents": ["pkg:x/z@2"], "status": "fixed"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { vxFuzz(t, "openvex", data) })
}
