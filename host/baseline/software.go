package baseline

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Package is an installed package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Rule is an entry of an approved software list: a name, with shell
// wildcards (lib*), and an optional version constraint (>= 1:9.2).
type Rule struct {
	Pattern string
	Op      string // "", "=", ">=", "<=", ">", "<"
	Version string
}

var rulePattern = regexp.MustCompile(`^([A-Za-z0-9.+*?\[\]_:-]{1,200})(?:\s*(>=|<=|=|>|<)\s*([A-Za-z0-9.+~:_-]{1,200}))?$`)

// ParseRule reads "name", "name >= version" or a wildcard pattern.
func ParseRule(s string) (Rule, error) {
	m := rulePattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Rule{}, fmt.Errorf("want a package name or pattern, optionally with >=, <=, =, > or < and a version; got %q", s)
	}
	if _, err := path.Match(m[1], ""); err != nil {
		return Rule{}, fmt.Errorf("bad pattern %q: %v", m[1], err)
	}
	return Rule{Pattern: m[1], Op: m[2], Version: m[3]}, nil
}

// String is the rule as written.
func (r Rule) String() string {
	if r.Op == "" {
		return r.Pattern
	}
	return r.Pattern + " " + r.Op + " " + r.Version
}

// MarshalYAML writes the rule as its string.
func (r Rule) MarshalYAML() (any, error) { return r.String(), nil }

// MarshalJSON writes the rule as its string.
func (r Rule) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON reads a rule from its string.
func (r *Rule) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseRule(s)
	*r = v
	return err
}

// Allows reports whether the rule admits a package.
func (r Rule) Allows(p Package) bool {
	if ok, _ := path.Match(r.Pattern, p.Name); !ok {
		return false
	}
	c := CompareVersions(p.Version, r.Version)
	switch r.Op {
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case "<":
		return c < 0
	}
	return true
}

// Allowed reports whether any rule admits p, and which.
func Allowed(rules []Rule, p Package) (Rule, bool) {
	for _, r := range rules {
		if r.Allows(p) {
			return r, true
		}
	}
	return Rule{}, false
}
