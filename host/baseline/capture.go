package baseline

import (
	_ "embed"
	"strconv"
)

//go:embed debian-server.yaml
var defaultYAML []byte

// DefaultYAML is the hardening baseline for Debian servers shipped with
// opsguard: the agent evaluates it until its group has an approved one,
// and it is where capture starts.
func DefaultYAML() []byte { return defaultYAML }

// Default is DefaultYAML parsed.
func Default() Document {
	d, err := Parse("debian-server.yaml", defaultYAML)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return d
}

// Capture proposes a document from a host's state: each check of d with
// its expectation replaced by what results observed (a check that could
// not be observed is kept as it is), and, when pkgs is not nil, the
// installed packages as the software list.
func Capture(d Document, results []Result, pkgs []Package) Document {
	obs := map[string]map[string]string{}
	for _, r := range results {
		if r.Detail == "" || r.Pass || len(r.Observed) > 0 {
			obs[r.Check] = r.Observed
		}
	}
	out := Document{Name: d.Name, Description: d.Description, Software: d.Software}
	for _, c := range d.Checks {
		if o, ok := obs[c.ID]; ok {
			c = accept(c, o)
		}
		out.Checks = append(out.Checks, c)
	}
	if pkgs != nil {
		out.Software = make([]Rule, len(pkgs))
		for i, p := range pkgs {
			out.Software[i] = Rule{Pattern: p.Name}
		}
	}
	return out
}

// accept sets a check's expectations to the observed values.
func accept(c Check, o map[string]string) Check {
	set := func(dst *string, key string) {
		if v, ok := o[key]; ok && *dst != "" {
			*dst = v
		}
	}
	switch c.Kind {
	case "file":
		if v, ok := o["exists"]; ok {
			b := v == "true"
			c.Exists = &b
			if !b {
				c.Mode, c.Owner, c.SHA256 = "", "", ""
			}
		}
		set(&c.Mode, "mode")
		set(&c.Owner, "owner")
		set(&c.SHA256, "sha256")
	case "setting", "sysctl":
		if v, ok := o["value"]; ok && v != "" {
			c.Value = v
		}
	case "unit":
		if v := o["state"]; v == "enabled" || v == "disabled" || v == "masked" {
			c.State = v
		}
	case "port":
		if v, err := strconv.ParseBool(o["listen"]); err == nil {
			c.Listen = &v
		}
	case "firewall":
		if v := o["hash"]; v != "" {
			c.Hash = v
		}
	case "package":
		if v := o["version"]; v != "" && c.MinVersion != "" && CompareVersions(v, c.MinVersion) < 0 {
			c.MinVersion = v
		}
	}
	return c
}
