package render

import (
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// funcMap returns the functions templates can call. include renders a named template of root, the
// set the calling template belongs to. The functions are pure: no environment, file or network.
func funcMap(root **template.Template) template.FuncMap {
	return template.FuncMap{
		// Text helpers.
		"duration": formatDuration,
		"plural":   plural,
		"truncate": truncate,
		"join":     join,
		"first":    first,
		"utc":      utc,
		"include": func(name string, data any) (string, error) {
			if *root == nil {
				return "", fmt.Errorf("include %q: templates not loaded", name)
			}
			var b strings.Builder
			if err := (*root).ExecuteTemplate(&b, name, data); err != nil {
				return "", err
			}
			return b.String(), nil
		},
		// Records: fields, the list and links.
		"field": func(name, value string) record {
			return record{kind: kindField, name: stripSeps(name), value: stripSeps(value)}
		},
		"keep": func(r record) record { r.keep = true; return r },
		"withURL": func(url string, r record) record {
			r.url = stripSeps(url)
			return r
		},
		"listName": func(name string) record { return record{kind: kindListName, name: stripSeps(name)} },
		"item":     func(text string) record { return record{kind: kindItem, value: stripSeps(text)} },
		"more":     moreRecord,
		"link": func(label, url string) record {
			return record{kind: kindLink, name: stripSeps(label), value: stripSeps(url)}
		},
	}
}

// formatDuration prints d for people: "51 s", "2 min 9 s", "1 h 5 min", and "under 1 s" for a positive
// duration below a second (never "0 s"). Seconds are cut, not rounded: 51.9 s is "51 s".
func formatDuration(d time.Duration) string {
	if d > 0 && d < time.Second {
		return "under 1 s"
	}
	d = d.Truncate(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case h > 0:
		return fmt.Sprintf("%d h", h)
	case m > 0 && s > 0:
		return fmt.Sprintf("%d min %d s", m, s)
	case m > 0:
		return fmt.Sprintf("%d min", m)
	default:
		return fmt.Sprintf("%d s", s)
	}
}

// plural prints n with the singular or plural noun: "1 commit", "3 commits".
func plural(n int, singular, pluralForm string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, singular)
	}
	return fmt.Sprintf("%d %s", n, pluralForm)
}

// truncate cuts s to at most n characters (runes), ending with "…" when it cut.
func truncate(n int, s string) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// join joins the strings of list with sep.
func join(sep string, list []string) string { return strings.Join(list, sep) }

// first returns the first string of list, or "" when it is empty.
func first(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

// utc prints t in UTC as "2006-01-02 15:04 UTC"; the zero time prints as "".
func utc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
