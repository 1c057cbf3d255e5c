package render

import (
	"fmt"
	"strconv"
	"strings"
)

// The fields, list and links parts of a message are ordered lists of labelled values. A template
// prints them as records: the field, item, more, listName and link functions return a record whose
// printed form is framed by control characters that clean removes from every data string, so text
// from a commit message or branch name can never open, close or forge one. After execution the
// output of those parts is split back into records; anything else but white space is an error.
const (
	recordSep = "\x1e" // frames a record
	unitSep   = "\x1f" // separates a record's parts
)

// record kinds.
const (
	kindField    = "field"
	kindItem     = "item"
	kindMore     = "more"
	kindListName = "listName"
	kindLink     = "link"
)

// record is one field, list item, list name, "more" count or link, as a template function returns
// it. Templates print it; they cannot look inside.
type record struct {
	kind  string
	name  string // field name, link label, list name
	value string // field value, item text, link URL, more count
	url   string // field URL (withURL)
	keep  bool   // field is never cut (keep)
}

// String prints the record in its framed form.
func (r record) String() string {
	keep := ""
	if r.keep {
		keep = "keep"
	}
	return recordSep + strings.Join([]string{r.kind, r.name, r.value, r.url, keep}, unitSep) + recordSep
}

// stripSeps removes the record framing characters from a template-supplied string, so that even a
// template literal cannot break a record open.
func stripSeps(s string) string {
	if !strings.ContainsAny(s, recordSep+unitSep) {
		return s
	}
	return strings.NewReplacer(recordSep, "", unitSep, "").Replace(s)
}

// parseRecords splits the output of a part into records, checking that the part prints nothing
// else and only the record kinds it allows.
func parseRecords(part, out string, allowed ...string) ([]record, error) {
	var recs []record
	for {
		before, rest, found := strings.Cut(out, recordSep)
		if strings.TrimSpace(before) != "" {
			return nil, fmt.Errorf("%q prints text outside of %s: %q; use %s", part, recordFuncs(allowed), excerpt(before), recordFuncs(allowed))
		}
		if !found {
			return recs, nil
		}
		body, after, closed := strings.Cut(rest, recordSep)
		parts := strings.Split(body, unitSep)
		if !closed || len(parts) != 5 {
			return nil, fmt.Errorf("%q prints a broken record", part)
		}
		r := record{kind: parts[0], name: parts[1], value: parts[2], url: parts[3], keep: parts[4] == "keep"}
		if !contains(allowed, r.kind) {
			return nil, fmt.Errorf("%q calls %s, which belongs in another part; use %s", part, r.kind, recordFuncs(allowed))
		}
		recs = append(recs, r)
		out = after
	}
}

func recordFuncs(kinds []string) string {
	return strings.Join(kinds, ", ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func excerpt(s string) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// moreRecord prints the "and N more" count of a list; nothing when n is not positive.
func moreRecord(n int) record {
	return record{kind: kindMore, value: strconv.Itoa(n)}
}
