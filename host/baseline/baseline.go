package baseline

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/opsguard/opsguard"
)

// Document is a baseline: the checks a host of its group must pass and
// the software it may run.
type Document struct {
	Name        string  `yaml:"name" json:"name"`
	Description string  `yaml:"description,omitempty" json:"description,omitempty"`
	Checks      []Check `yaml:"checks" json:"checks"`
	// Software is the approved software list (CF-4); nil when the
	// document sets none.
	Software []Rule `yaml:"software,omitempty" json:"software,omitempty"`
}

// Check is one expectation of a host's configuration. Kind says which of
// the fields matter (Kinds).
type Check struct {
	ID    string `yaml:"id" json:"id"`
	Kind  string `yaml:"kind" json:"kind"`
	Title string `yaml:"title,omitempty" json:"title,omitempty"`
	// file, setting, journald
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// file: Exists false asks for the file's absence; Mode is the most
	// permissive mode allowed (octal), Owner "user" or "user:group".
	Exists *bool  `yaml:"exists,omitempty" json:"exists,omitempty"`
	Mode   string `yaml:"mode,omitempty" json:"mode,omitempty"`
	Owner  string `yaml:"owner,omitempty" json:"owner,omitempty"`
	SHA256 string `yaml:"sha256,omitempty" json:"sha256,omitempty"`
	// setting: Key's value in the file at Path ("Key value" or
	// "key = value" lines); sysctl: Key is the sysctl's name.
	Key   string `yaml:"key,omitempty" json:"key,omitempty"`
	Value string `yaml:"value,omitempty" json:"value,omitempty"`
	// unit: State is enabled, disabled or masked.
	Unit  string `yaml:"unit,omitempty" json:"unit,omitempty"`
	State string `yaml:"state,omitempty" json:"state,omitempty"`
	// port: whether something may listen on Port (Proto tcp or udp).
	Port   int    `yaml:"port,omitempty" json:"port,omitempty"`
	Proto  string `yaml:"proto,omitempty" json:"proto,omitempty"`
	Listen *bool  `yaml:"listen,omitempty" json:"listen,omitempty"`
	// firewall: Ruleset nftables or iptables; Hash the SHA-256 expected,
	// or empty for "a non-empty ruleset is loaded".
	Ruleset string `yaml:"ruleset,omitempty" json:"ruleset,omitempty"`
	Hash    string `yaml:"hash,omitempty" json:"hash,omitempty"`
	// journald: MinRetentionDays is the least MaxRetentionSec may be;
	// 0 takes LG-2's days (EvalOptions.RetentionDays).
	MinRetentionDays int `yaml:"min_retention_days,omitempty" json:"min_retention_days,omitempty"`
	// package: installed, at MinVersion or newer (Debian order).
	Package    string `yaml:"package,omitempty" json:"package,omitempty"`
	MinVersion string `yaml:"min_version,omitempty" json:"min_version,omitempty"`
}

// Kinds maps each check kind to the keys it takes beyond id, kind and
// title; the first ones listed are required.
var Kinds = map[string]struct{ Required, Optional []string }{
	"file":     {[]string{"path"}, []string{"exists", "mode", "owner", "sha256"}},
	"setting":  {[]string{"path", "key", "value"}, nil},
	"sysctl":   {[]string{"key", "value"}, nil},
	"unit":     {[]string{"unit", "state"}, nil},
	"port":     {[]string{"port", "listen"}, []string{"proto"}},
	"firewall": {[]string{"ruleset"}, []string{"hash"}},
	"journald": {nil, []string{"path", "min_retention_days"}},
	"package":  {[]string{"package"}, []string{"min_version"}},
}

// Bounds of a document.
const (
	MaxBytes  = 1 << 20
	MaxChecks = 2000
	MaxRules  = 10000
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// posError is an error at a line and key of a file.
func posError(file string, n *yaml.Node, key, format string, args ...any) error {
	where := file
	if n != nil {
		where = fmt.Sprintf("%s:%d", file, n.Line)
	}
	if key != "" {
		where += ": " + key
	}
	e := &opsguard.Error{Code: opsguard.EInvalid, Message: where + ": " + fmt.Sprintf(format, args...)}
	e.Details = map[string]any{"file": file, "key": key}
	if n != nil {
		e.Details["line"] = n.Line
	}
	return e
}

// Parse reads a baseline document; file names it in errors, each of which
// says the line and the key (checks[2].kind) and why.
func Parse(file string, data []byte) (Document, error) {
	var d Document
	if len(data) > MaxBytes {
		return d, posError(file, nil, "", "larger than %d bytes", MaxBytes)
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return d, posError(file, nil, "", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return d, posError(file, &root, "", "want a mapping with name and checks")
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		var err error
		switch k.Value {
		case "name":
			err = scalar(file, v, "name", &d.Name)
		case "description":
			err = scalar(file, v, "description", &d.Description)
		case "checks":
			d.Checks, err = parseChecks(file, v)
		case "software":
			d.Software, err = parseRules(file, v)
		default:
			err = posError(file, k, k.Value, "unknown key (name, description, checks, software)")
		}
		if err != nil {
			return Document{}, err
		}
	}
	if !idPattern.MatchString(d.Name) {
		return Document{}, posError(file, top, "name", "1 to 100 letters, digits, '.', '_' or '-' (got %q)", d.Name)
	}
	return d, nil
}

func scalar(file string, n *yaml.Node, key string, out *string) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return posError(file, n, key, "want a string")
	}
	*out = n.Value
	return nil
}

func parseChecks(file string, n *yaml.Node) ([]Check, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, posError(file, n, "checks", "want a list of checks")
	}
	if len(n.Content) > MaxChecks {
		return nil, posError(file, n, "checks", "more than %d checks", MaxChecks)
	}
	seen := map[string]int{}
	out := make([]Check, 0, len(n.Content))
	for i, cn := range n.Content {
		c, err := parseCheck(file, cn, fmt.Sprintf("checks[%d]", i))
		if err != nil {
			return nil, err
		}
		if line, ok := seen[c.ID]; ok {
			return nil, posError(file, cn, fmt.Sprintf("checks[%d].id", i), "%q used twice (line %d)", c.ID, line)
		}
		seen[c.ID] = cn.Line
		out = append(out, c)
	}
	return out, nil
}

func parseCheck(file string, n *yaml.Node, at string) (Check, error) {
	var c Check
	if n.Kind != yaml.MappingNode {
		return c, posError(file, n, at, "want a mapping (id, kind, …)")
	}
	fields := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		fields[n.Content[i].Value], keys[n.Content[i].Value] = n.Content[i+1], n.Content[i]
	}
	kn, ok := fields["kind"]
	if !ok {
		return c, posError(file, n, at+".kind", "missing")
	}
	if err := scalar(file, kn, at+".kind", &c.Kind); err != nil {
		return c, err
	}
	spec, ok := Kinds[c.Kind]
	if !ok {
		return c, posError(file, kn, at+".kind", "unknown check kind %q (one of %s)", c.Kind, kindList())
	}
	for _, k := range spec.Required {
		if _, ok := fields[k]; !ok {
			return c, posError(file, n, at+"."+k, "missing (kind %s needs %s)", c.Kind, strings.Join(spec.Required, ", "))
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if k != "id" && k != "kind" && k != "title" && !contains(spec.Required, k) && !contains(spec.Optional, k) {
			return c, posError(file, keys[k], at+"."+k, "not a key of kind %s", c.Kind)
		}
		if err := setField(file, &c, k, v, at+"."+k); err != nil {
			return c, err
		}
	}
	if !idPattern.MatchString(c.ID) {
		return c, posError(file, n, at+".id", "1 to 100 letters, digits, '.', '_' or '-' (got %q)", c.ID)
	}
	return c, c.validate(file, n, at)
}

func setField(file string, c *Check, k string, v *yaml.Node, at string) error {
	str := map[string]*string{"id": &c.ID, "kind": &c.Kind, "title": &c.Title, "path": &c.Path, "mode": &c.Mode, "owner": &c.Owner,
		"sha256": &c.SHA256, "key": &c.Key, "value": &c.Value, "unit": &c.Unit, "state": &c.State, "proto": &c.Proto,
		"ruleset": &c.Ruleset, "hash": &c.Hash, "package": &c.Package, "min_version": &c.MinVersion}
	if p, ok := str[k]; ok {
		return scalar(file, v, at, p)
	}
	switch k {
	case "exists", "listen":
		b, err := boolNode(file, v, at)
		if k == "exists" {
			c.Exists = &b
		} else {
			c.Listen = &b
		}
		return err
	case "port", "min_retention_days":
		if v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
			return posError(file, v, at, "want an integer, got %q", v.Value)
		}
		i, err := strconv.Atoi(v.Value)
		if err != nil || i < 0 || i > 1<<20 {
			return posError(file, v, at, "want an integer from 0 to %d, got %q", 1<<20, v.Value)
		}
		if k == "port" {
			c.Port = i
		} else {
			c.MinRetentionDays = i
		}
	}
	return nil
}

func boolNode(file string, v *yaml.Node, at string) (bool, error) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		return false, posError(file, v, at, "want true or false, got %q", v.Value)
	}
	return v.Value == "true" || v.Value == "yes" || v.Value == "on" || v.Value == "True", nil
}

// validate checks the values of a check's fields.
func (c Check) validate(file string, n *yaml.Node, at string) error {
	bad := func(key, format string, args ...any) error { return posError(file, n, at+"."+key, format, args...) }
	switch {
	case c.Path != "" && !strings.HasPrefix(c.Path, "/"):
		return bad("path", "want an absolute path, got %q", c.Path)
	case c.Mode != "" && !regexp.MustCompile(`^0?[0-7]{3,4}$`).MatchString(c.Mode):
		return bad("mode", "want an octal mode such as 0644, got %q", c.Mode)
	case c.SHA256 != "" && !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(c.SHA256):
		return bad("sha256", "want 64 lowercase hex digits")
	case c.Hash != "" && !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(c.Hash):
		return bad("hash", "want 64 lowercase hex digits")
	case c.Kind == "unit" && !contains([]string{"enabled", "disabled", "masked"}, c.State):
		return bad("state", "want enabled, disabled or masked, got %q", c.State)
	case c.Kind == "port" && (c.Port < 1 || c.Port > 65535):
		return bad("port", "want 1 to 65535, got %d", c.Port)
	case c.Proto != "" && c.Proto != "tcp" && c.Proto != "udp":
		return bad("proto", "want tcp or udp, got %q", c.Proto)
	case c.Kind == "firewall" && c.Ruleset != "nftables" && c.Ruleset != "iptables":
		return bad("ruleset", "want nftables or iptables, got %q", c.Ruleset)
	case c.Kind == "sysctl" && !regexp.MustCompile(`^[a-z0-9_.-]{1,200}$`).MatchString(c.Key):
		return bad("key", "not a sysctl name: %q", c.Key)
	}
	return nil
}

func parseRules(file string, n *yaml.Node) ([]Rule, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, posError(file, n, "software", "want a list of package names")
	}
	if len(n.Content) > MaxRules {
		return nil, posError(file, n, "software", "more than %d entries", MaxRules)
	}
	out := make([]Rule, 0, len(n.Content))
	for i, rn := range n.Content {
		at := fmt.Sprintf("software[%d]", i)
		var s string
		if err := scalar(file, rn, at, &s); err != nil {
			return nil, err
		}
		r, err := ParseRule(s)
		if err != nil {
			return nil, posError(file, rn, at, "%v", err)
		}
		out = append(out, r)
	}
	return out, nil
}

func kindList() string {
	return "file, setting, sysctl, unit, port, firewall, journald, package"
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Marshal writes a document back as YAML (capture's proposals).
func Marshal(d Document) []byte {
	out, _ := yaml.Marshal(d)
	return out
}
