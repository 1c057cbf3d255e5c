package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/activitybridge/activitybridge/render"
)

// valueError is a problem with a value of ours (project names, repositories) whose text can be shown as is:
// these values are not secrets.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

// maxProjectName bounds a display title (runes): it goes in every header.
const maxProjectName = 100

// ProjectNames maps project IDs to display titles (BRIDGE_PROJECT_NAMES), read from
// "id=My Shop,id2=Blog" (commas or newlines between entries; a title cannot hold a comma). A title
// set here wins over the one a webhook body carries.
type ProjectNames map[string]string

const projectNamesExample = "abcdefgh1234567=My Shop,xyzxyzxyz123456=Blog"

// Decode implements envconfig.Decoder. IDs may use a-z, 0-9, - and _, and appear once; titles are
// non-empty, at most 100 characters, without control characters.
func (p *ProjectNames) Decode(value string) error {
	out := ProjectNames{}
	err := eachEntry(value, "title", projectNamesExample, func(id, title string) error {
		switch {
		case utf8.RuneCountInString(title) > maxProjectName:
			return fmt.Errorf("the title of %q is longer than %d characters", id, maxProjectName)
		case strings.IndexFunc(title, unicode.IsControl) >= 0 || !utf8.ValidString(title):
			return fmt.Errorf("the title of %q holds control characters", id)
		}
		out[id] = title
		return nil
	})
	if err != nil {
		return err
	}
	*p = out
	return nil
}

// String returns the entries as id=title, sorted by ID, comma-separated.
func (p ProjectNames) String() string {
	var parts []string
	for _, id := range slices.Sorted(mapsKeys(p)) {
		parts = append(parts, id+"="+p[id])
	}
	return strings.Join(parts, ",")
}

// Repositories maps project IDs to their git repository (BRIDGE_REPOSITORIES), for links to commits
// and compare pages: "id=https://github.com/acme/shop,id2=gitlab:https://git.example.com/acme/blog"
// (see render.ParseRepository for the forms).
type Repositories map[string]render.Repository

const repositoriesExample = "abcdefgh1234567=https://github.com/acme/shop"

// Decode implements envconfig.Decoder.
func (r *Repositories) Decode(value string) error {
	out := Repositories{}
	err := eachEntry(value, "repository", repositoriesExample, func(id, spec string) error {
		repo, err := render.ParseRepository(spec)
		if err != nil {
			return fmt.Errorf("%q: %w", id, err)
		}
		out[id] = repo
		return nil
	})
	if err != nil {
		return err
	}
	*r = out
	return nil
}

// String returns the IDs, sorted, each with its repository's kind.
func (r Repositories) String() string {
	var parts []string
	for _, id := range slices.Sorted(mapsKeys(r)) {
		parts = append(parts, id+"="+r[id].Kind)
	}
	return strings.Join(parts, ",")
}

// eachEntry splits "id=value,id2=value2" (commas or newlines between entries) and calls add for each,
// checking the IDs. Its errors say what a good value looks like.
func eachEntry(value, what, example string, add func(id, v string) error) error {
	seen := map[string]bool{}
	n := 0
	for e := range strings.FieldsFuncSeq(value, func(r rune) bool { return r == ',' || r == '\n' }) {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		n++
		id, v, ok := strings.Cut(e, "=")
		id, v = strings.TrimSpace(id), strings.TrimSpace(v)
		var err error
		switch {
		case !ok || id == "":
			err = fmt.Errorf("entry %d (%q) has no project ID before =", n, e)
		case !validName(id):
			err = fmt.Errorf("project ID %q may use only a-z, 0-9, - and _", id)
		case seen[id]:
			err = fmt.Errorf("project ID %q is given twice", id)
		case v == "":
			err = fmt.Errorf("project %q has no %s after =", id, what)
		default:
			err = add(id, v)
		}
		if err != nil {
			return &valueError{fmt.Sprintf("%s; use id=%s pairs separated by commas, e.g. %s", err, what, example)}
		}
		seen[id] = true
	}
	return nil
}

func mapsKeys[V any](m map[string]V) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
