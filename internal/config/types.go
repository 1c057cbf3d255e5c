package config

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Secret is a credential read from the environment. Every way of printing it (fmt verbs, JSON, zerolog
// through Interface or Stringer) shows "[redacted]", or "" when it is empty; only Value returns it.
type Secret string

const redacted = "[redacted]"

// Value returns the secret itself, for the one call that needs it.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret is not empty.
func (s Secret) IsSet() bool { return s != "" }

// String returns "[redacted]", or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns the same as String, so that %#v does not show the secret either.
func (s Secret) GoString() string { return s.String() }

// Format writes String for every verb, so that no fmt verb (%s, %q, %x, %d ...) shows the secret.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON writes String as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Size is a number of bytes, read as "32MiB", "512KiB", "1GB" or "1048576". Units are B, KB/K, MB/M,
// GB/G, TB/T (powers of 1000) and KiB/Ki, MiB/Mi, GiB/Gi, TiB/Ti (powers of 1024), in any case.
type Size int64

var sizeUnits = []struct {
	name string
	n    int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
}

// Decode implements envconfig.Decoder.
func (s *Size) Decode(value string) error {
	n, ok := parseSize(value)
	if !ok {
		return fmt.Errorf("%q is not a size; use a number of bytes with an optional unit, e.g. 32MiB", value)
	}
	*s = Size(n)
	return nil
}

func parseSize(value string) (int64, bool) {
	v := strings.TrimSpace(value)
	i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(v)
	}
	if i == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return 0, false
	}
	unit := strings.ToLower(strings.TrimSpace(v[i:]))
	mult := int64(1)
	switch unit {
	case "", "b":
	default:
		found := false
		for _, u := range sizeUnits {
			name := strings.ToLower(u.name)
			if unit == name || unit == strings.TrimSuffix(name, "b") {
				mult, found = u.n, true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	if n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

// String returns the size with the largest unit that divides it exactly, e.g. "32MiB", "1GB" or
// "1500B"; Decode reads it back.
func (s Size) String() string {
	n := int64(s)
	for _, u := range sizeUnits {
		if n >= u.n && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// Hooks maps webhook names (as used in slack-webhook:NAME and discord:NAME targets) to their URLs,
// which are secrets. It is read from "name=https://...,name2=https://..." (commas or newlines between
// entries). Printing it shows the names only.
type Hooks map[string]Secret

// hooksError is a problem with a Hooks value; it never holds a URL.
type hooksError struct{ problem string }

const hooksHint = "use name=URL pairs separated by commas"

func (e *hooksError) Error() string {
	return e.problem + "; " + hooksHint + ", e.g. deploys=https://hooks.example.com/..."
}

// Decode implements envconfig.Decoder. Names may use a-z, 0-9, - and _; URLs must be http or https
// with a host; a name may appear once. Errors name the entry, never its URL.
func (h *Hooks) Decode(value string) error {
	out := Hooks{}
	entries := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == '\n' })
	n := 0
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		n++
		name, raw, ok := strings.Cut(e, "=")
		name, raw = strings.TrimSpace(name), strings.TrimSpace(raw)
		if !ok || name == "" || strings.Contains(name, ":") {
			// A missing name usually means the entry is a bare URL: never quote it.
			return &hooksError{fmt.Sprintf("entry %d has no name", n)}
		}
		if !validName(name) {
			return &hooksError{fmt.Sprintf("name %q may use only a-z, 0-9, - and _", name)}
		}
		if _, dup := out[name]; dup {
			return &hooksError{fmt.Sprintf("name %q is given twice", name)}
		}
		u, err := url.Parse(raw)
		switch {
		case raw == "":
			return &hooksError{fmt.Sprintf("%q has no URL", name)}
		case err != nil:
			return &hooksError{fmt.Sprintf("the URL of %q does not parse", name)}
		case u.Scheme != "https" && u.Scheme != "http":
			return &hooksError{fmt.Sprintf("the URL of %q does not start with https://", name)}
		case u.Host == "":
			return &hooksError{fmt.Sprintf("the URL of %q has no host", name)}
		}
		out[name] = Secret(raw)
	}
	*h = out
	return nil
}

// Names returns the hook names, sorted.
func (h Hooks) Names() []string {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// String returns the names, sorted and comma-separated, never the URLs.
func (h Hooks) String() string { return strings.Join(h.Names(), ",") }

// GoString returns the same as String, so that %#v does not show the URLs either.
func (h Hooks) GoString() string { return "config.Hooks{" + h.String() + "}" }

func validName(s string) bool {
	if s == "" {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0
}

func hasSpace(s string) bool { return strings.IndexFunc(s, unicode.IsSpace) >= 0 }
