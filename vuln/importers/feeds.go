package importers

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/opsguard/opsguard/vuln"
)

var cveRE = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// ParseFeed reads a CISA KEV catalog (JSON) or an EPSS scores file (CSV
// with a "#model_version:…" comment line, then "cve,epss,percentile").
func ParseFeed(name string, data []byte) (*vuln.Feed, error) {
	if Sniff(data, "vulnerabilities", "catalogVersion") {
		return parseKEV(name, data)
	}
	head := strings.ToLower(string(data[:min(len(data), 200)]))
	if strings.HasPrefix(head, "#model_version") || strings.HasPrefix(head, "cve,epss") {
		return parseEPSS(name, data)
	}
	return nil, &Error{File: name, Msg: "not a threat feed: expected the CISA KEV catalog (JSON with catalogVersion and vulnerabilities) or an EPSS CSV (cve,epss,percentile)"}
}

func parseKEV(name string, data []byte) (*vuln.Feed, error) {
	var doc struct {
		CatalogVersion  string `json:"catalogVersion"`
		Vulnerabilities []struct {
			CVE       string `json:"cveID"`
			DateAdded string `json:"dateAdded"`
		} `json:"vulnerabilities"`
	}
	if err := DecodeJSON(name, data, &doc); err != nil {
		return nil, err
	}
	f := &vuln.Feed{Kind: "kev", Version: doc.CatalogVersion}
	for i, v := range doc.Vulnerabilities {
		if !cveRE.MatchString(v.CVE) {
			return nil, Errorf(name, "vulnerabilities["+strconv.Itoa(i)+"].cveID", "not a CVE id: %s", quoteShort(v.CVE))
		}
		f.Entries = append(f.Entries, vuln.Intel{CVE: v.CVE, KEVAdded: v.DateAdded, EPSS: -1})
	}
	return f, nil
}

func parseEPSS(name string, data []byte) (*vuln.Feed, error) {
	f := &vuln.Feed{Kind: "epss"}
	br := bufio.NewReader(bytes.NewReader(data))
	line := 0
	for {
		peek, err := br.Peek(1)
		if err != nil || peek[0] != '#' {
			break
		}
		l, _ := br.ReadString('\n')
		line++
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "#model_version:"); ok {
			f.Version, _, _ = strings.Cut(v, ",")
		}
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = 3
	header, err := r.Read()
	if err != nil {
		return nil, &Error{File: name, Line: line + 1, Msg: "no header: want cve,epss,percentile"}
	}
	if strings.ToLower(strings.Join(header, ",")) != "cve,epss,percentile" {
		return nil, &Error{File: name, Line: line + 1, Msg: "header " + quoteShort(strings.Join(header, ",")) + ": want cve,epss,percentile"}
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		row, _ := r.FieldPos(0)
		if err != nil {
			return nil, &Error{File: name, Line: line + row, Msg: err.Error()}
		}
		epss, err1 := strconv.ParseFloat(rec[1], 64)
		pct, err2 := strconv.ParseFloat(rec[2], 64)
		switch {
		case !cveRE.MatchString(rec[0]):
			return nil, &Error{File: name, Line: line + row, Path: "cve", Msg: "not a CVE id: " + quoteShort(rec[0])}
		case err1 != nil || epss < 0 || epss > 1:
			return nil, &Error{File: name, Line: line + row, Path: "epss", Msg: "want a probability between 0 and 1, got " + quoteShort(rec[1])}
		case err2 != nil || pct < 0 || pct > 1:
			return nil, &Error{File: name, Line: line + row, Path: "percentile", Msg: "want a number between 0 and 1, got " + quoteShort(rec[2])}
		}
		f.Entries = append(f.Entries, vuln.Intel{CVE: rec[0], EPSS: epss, Percentile: pct})
	}
	return f, nil
}
