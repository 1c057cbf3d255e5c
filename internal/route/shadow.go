package route

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Shadow is a rule that can never match: an earlier rule without continue matches every activity it
// would match, so matching always stops before it.
type Shadow struct {
	// Rule is the rule that never matches.
	Rule Rule
	// By is the earlier rule that catches everything Rule would.
	By Rule
}

// String says which line never matches, which line catches its activities, and what to do.
func (s Shadow) String() string {
	return fmt.Sprintf("BRIDGE_ROUTES line %d (%s) can never match: line %d (%s) comes first, has no continue "+
		"and matches every activity line %d would; move line %d above line %d, or add continue to line %d",
		s.Rule.Line, s.Rule.Source, s.By.Line, s.By.Source, s.Rule.Line, s.Rule.Line, s.By.Line, s.By.Line)
}

// Shadowed returns the rules that can never match, each with the first earlier rule that hides it.
// It is conservative: it reports a rule only when it can prove that the earlier rule's globs and filters
// accept everything the later rule's accept (equal patterns, a pattern of only *, a literal the earlier
// glob matches, or a literal prefix or suffix followed or preceded by one *), so a rule it reports never
// matches, while a rule hidden in a way it cannot prove (for example by several rules together) is not
// reported.
func (t *Table) Shadowed() []Shadow {
	var out []Shadow
	for i, r := range t.Rules {
		for _, by := range t.Rules[:i] {
			if !by.Continue && by.covers(r) {
				out = append(out, Shadow{Rule: r, By: by})
				break
			}
		}
	}
	return out
}

// covers reports whether every activity that later matches also matches r.
func (r Rule) covers(later Rule) bool {
	return globCovers(r.Project, later.Project) &&
		globCovers(r.Environment, later.Environment) &&
		eventsCover(r.Events, later.Events) &&
		setCovers(r.States, later.States) &&
		setCovers(r.Results, later.Results) &&
		setCovers(r.EnvTypes, later.EnvTypes)
}

// eventsCover reports whether the event globs a accept every type that the globs b accept (empty: all).
func eventsCover(a, b []string) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		return slices.ContainsFunc(a, onlyStars)
	}
	for _, pb := range b {
		if !slices.ContainsFunc(a, func(pa string) bool { return globCovers(pa, pb) }) {
			return false
		}
	}
	return true
}

// setCovers reports whether the filter values a accept every value b accepts. An empty filter accepts
// every value, including values no list can name (an unknown environment type), so only an empty a
// covers an empty b.
func setCovers(a, b []string) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	for _, v := range b {
		if !slices.Contains(a, v) {
			return false
		}
	}
	return true
}

const globMeta = `*?[\`

// globCovers reports whether every name that matches pattern b also matches pattern a, as far as it can
// prove it; false means "not proven".
func globCovers(a, b string) bool {
	switch {
	case a == b, onlyStars(a):
		return true
	case !strings.ContainsAny(b, globMeta):
		return globMatch(a, b) // b matches only itself
	}
	// a is a literal followed by one *: b's names all start with b's literal prefix.
	if p, ok := strings.CutSuffix(a, "*"); ok && !strings.ContainsAny(p, globMeta) {
		prefix := b[:strings.IndexAny(b, globMeta)]
		if strings.HasPrefix(prefix, p) {
			return true
		}
	}
	// a is one * followed by a literal: b's names all end with b's literal suffix. b's suffix is taken
	// after its last special character (a class's ] included), so it is literal.
	if s, ok := strings.CutPrefix(a, "*"); ok && !strings.ContainsAny(s, globMeta) {
		suffix := b[strings.LastIndexAny(b, globMeta+"]")+1:]
		if strings.HasSuffix(suffix, s) {
			return true
		}
	}
	return false
}

func onlyStars(p string) bool { return p != "" && strings.Trim(p, "*") == "" }

// CheckSets reports every target that names a template set not in sets, one *Error per target naming
// its rule's line, joined; nil when every set exists.
func (t *Table) CheckSets(sets []string) error {
	var errs []error
	for _, r := range t.Rules {
		for _, tg := range r.Targets {
			if !slices.Contains(sets, tg.Set) {
				errs = append(errs, &Error{Line: r.Line, Msg: fmt.Sprintf("target %s names template set %q, which does not exist; "+
					"use %s, or add a folder %s/ of .tmpl files to BRIDGE_TEMPLATES_DIR", tg, tg.Set, orList(sets), tg.Set)})
			}
		}
	}
	return errors.Join(errs...)
}
