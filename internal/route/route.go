// Package route reads the routing rules of BRIDGE_ROUTES and matches an activity to its destinations.
//
// A rule is
//
//	<project>/<environment> [filters] -> <target>[, <target> ...]
//
// Rules are separated by newlines or ";"; blank parts and parts starting with # are ignored (a #
// elsewhere is part of the rule: Slack channels start with #). <project> and <environment> are globs
// on the project ID and the environment name, split at the first "/"; * and ? also match "/". The
// filters, all optional, are events= (globs on the activity type), states= (pending, in_progress,
// complete, cancelled, scheduled, staged), results= (success, failure, and none for an activity
// without a result yet), envtypes= (production, staging, development), each a comma-separated list,
// and the word continue. The option mention= (see Mention) lists who to ping when a notice of the rule
// is a failure; Destinations returns them with each destination. Rules are tried in order; the first
// that matches wins unless it says continue, then matching goes on. A destination reached twice is
// returned once.
//
// An empty BRIDGE_ROUTES (or one of only comments) gives the default table, which sends everything to
// the console.
package route

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Facts are what a rule matches on, taken from one activity.
type Facts struct {
	// Project is the project ID.
	Project string
	// Environment is the environment (branch) name.
	Environment string
	// Type is the activity type, e.g. environment.push.
	Type string
	// State is the activity state, e.g. complete.
	State string
	// Result is success, failure, or "" while the activity has none (matched by results=none).
	Result string
	// EnvType is the environment type (production, staging, development), "" when unknown; an
	// unknown type never matches an envtypes= filter.
	EnvType string
}

// The values the states=, results= and envtypes= filters accept: the activity states of the
// Platform.sh API, the results (none stands for an activity without one yet, still running), and the
// environment types.
var (
	states   = []string{"pending", "in_progress", "complete", "cancelled", "scheduled", "staged"}
	results  = []string{"success", "failure", "none"}
	envTypes = []string{"production", "staging", "development"}
)

// Rule is one parsed rule.
type Rule struct {
	// Line is the rule's position in BRIDGE_ROUTES, counting every line and every ;-separated part
	// (blank parts and comments included): for rules written one per line, the line number.
	Line int
	// Project and Environment are the glob patterns on the project ID and environment name.
	Project, Environment string
	// Events are globs on the activity type; empty matches every type.
	Events []string
	// States, Results and EnvTypes list the accepted values; empty accepts all.
	States, Results, EnvTypes []string
	// Continue makes matching go on after this rule matched.
	Continue bool
	// Mentions are who to ping (mention=) when a notice of this rule is a failure.
	Mentions []Mention
	// Targets are the destinations, in the order written.
	Targets []Target
	// Source is the rule as written.
	Source string
}

// Table is a parsed BRIDGE_ROUTES.
type Table struct {
	// Rules are tried in order.
	Rules []Rule
	// Default is true when BRIDGE_ROUTES held no rules: everything goes to the console.
	Default bool
}

// Error is what is wrong with one rule. Parse returns one Error per bad rule, joined.
type Error struct {
	// Line is the rule's position (see Rule.Line).
	Line int
	// Msg says what is wrong and what to write instead.
	Msg string
}

// Error returns "BRIDGE_ROUTES line N: problem; what to do".
func (e *Error) Error() string { return fmt.Sprintf("BRIDGE_ROUTES line %d: %s", e.Line, e.Msg) }

// Parse reads BRIDGE_ROUTES. Its error joins one *Error per bad rule, each naming its line.
func Parse(s string) (*Table, error) {
	t := &Table{}
	var errs []error
	line := 0
	for physical := range strings.Lines(s) {
		physical = strings.TrimSpace(physical)
		if strings.HasPrefix(physical, "#") {
			line++
			continue
		}
		for part := range strings.SplitSeq(physical, ";") {
			line++
			part = strings.TrimSpace(part)
			if part == "" || strings.HasPrefix(part, "#") {
				continue
			}
			r, err := parseRule(part)
			if err != nil {
				errs = append(errs, &Error{Line: line, Msg: err.Error()})
				continue
			}
			r.Line = line
			t.Rules = append(t.Rules, r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	t.Default = len(t.Rules) == 0
	return t, nil
}

const ruleHint = "write <project>/<environment> [filters] -> <target>, e.g. abcdefgh1234567/main -> slack:#deploys"

func parseRule(src string) (Rule, error) {
	r := Rule{Source: src}
	left, right, ok := strings.Cut(src, "->")
	if !ok {
		return r, fmt.Errorf("missing \"->\"; %s", ruleHint)
	}
	words := strings.Fields(left)
	if len(words) == 0 {
		return r, fmt.Errorf("nothing before \"->\"; %s", ruleHint)
	}
	project, env, ok := strings.Cut(words[0], "/")
	if !ok {
		return r, fmt.Errorf("%q has no \"/\" between project and environment; write e.g. %s/* or */%s", words[0], words[0], words[0])
	}
	if project == "" {
		return r, fmt.Errorf("empty project pattern in %q; use * for every project, e.g. */%s", words[0], env)
	}
	if env == "" {
		return r, fmt.Errorf("empty environment pattern in %q; use * for every environment, e.g. %s/*", words[0], project)
	}
	if err := checkGlob(project); err != nil {
		return r, fmt.Errorf("project pattern %q %w", project, err)
	}
	if err := checkGlob(env); err != nil {
		return r, fmt.Errorf("environment pattern %q %w", env, err)
	}
	r.Project, r.Environment = project, env

	seen := map[string]bool{}
	for _, w := range words[1:] {
		if w == "continue" {
			if r.Continue {
				return r, fmt.Errorf("continue is given twice; give it once")
			}
			r.Continue = true
			continue
		}
		key, value, ok := strings.Cut(w, "=")
		if !ok || !slices.Contains([]string{"events", "states", "results", "envtypes", "mention"}, key) {
			return r, fmt.Errorf("unknown filter %q; use events=, states=, results=, envtypes=, mention= or continue", w)
		}
		if seen[key] {
			return r, fmt.Errorf("filter %s= is given twice; list all values in one, e.g. %s=a,b", key, key)
		}
		seen[key] = true
		if key == "mention" {
			m, err := parseMentions(value)
			if err != nil {
				return r, err
			}
			r.Mentions = m
			continue
		}
		values := strings.Split(value, ",")
		if slices.Contains(values, "") {
			return r, fmt.Errorf("filter %q has an empty value; list values separated by commas without spaces, e.g. %s", w, filterExample[key])
		}
		switch key {
		case "events":
			for _, v := range values {
				if err := checkGlob(v); err != nil {
					return r, fmt.Errorf("event pattern %q %w", v, err)
				}
			}
			r.Events = values
		case "states":
			if err := checkValues(values, states, "state", key); err != nil {
				return r, err
			}
			r.States = values
		case "results":
			if err := checkValues(values, results, "result", key); err != nil {
				return r, err
			}
			r.Results = values
		case "envtypes":
			if err := checkValues(values, envTypes, "environment type", key); err != nil {
				return r, err
			}
			r.EnvTypes = values
		}
	}

	right = strings.TrimSpace(right)
	if right == "" {
		return r, fmt.Errorf("no target after \"->\"; add one, e.g. -> slack:#deploys")
	}
	for item := range strings.SplitSeq(right, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return r, fmt.Errorf("empty target between commas; remove the extra comma")
		}
		tg, err := ParseTarget(item)
		if err != nil {
			return r, err
		}
		r.Targets = append(r.Targets, tg)
	}
	return r, nil
}

var filterExample = map[string]string{
	"events":   "events=environment.push,environment.redeploy",
	"states":   "states=in_progress,complete",
	"results":  "results=failure",
	"envtypes": "envtypes=production,staging",
}

func checkValues(values, allowed []string, what, key string) error {
	for _, v := range values {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("unknown %s %q in %s=; use %s", what, v, key, orList(allowed))
		}
	}
	return nil
}

// orList writes "a, b or c".
func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// String returns the rule in canonical form: filters in the order events, states, results, envtypes,
// mention, continue, and targets in canonical form. Parse reads it back to the same rule.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Project + "/" + r.Environment)
	for _, f := range []struct {
		key    string
		values []string
	}{{"events", r.Events}, {"states", r.States}, {"results", r.Results}, {"envtypes", r.EnvTypes}} {
		if len(f.values) > 0 {
			b.WriteString(" " + f.key + "=" + strings.Join(f.values, ","))
		}
	}
	if len(r.Mentions) > 0 {
		toks := make([]string, len(r.Mentions))
		for i, m := range r.Mentions {
			toks[i] = m.String()
		}
		b.WriteString(" mention=" + strings.Join(toks, ","))
	}
	if r.Continue {
		b.WriteString(" continue")
	}
	b.WriteString(" ->")
	for i, t := range r.Targets {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" " + t.String())
	}
	return b.String()
}

// String returns the table's rules in canonical form, one per line; "" for the default table.
func (t *Table) String() string {
	var b strings.Builder
	for _, r := range t.Rules {
		b.WriteString(r.String() + "\n")
	}
	return b.String()
}

// Match returns the destinations of an activity: the targets of the first matching rule, and of
// every further matching rule while the matched ones say continue, each destination once (by its
// String form), in the order first reached. Nil means no rule matched. The default table returns
// [Console].
func (t *Table) Match(f Facts) []Target {
	_, targets := t.Explain(f)
	return targets
}

// Step is one rule tried by Explain and why it matched or not.
type Step struct {
	// Rule is the rule tried.
	Rule Rule
	// Matched reports whether the rule matched.
	Matched bool
	// Why says what matched, or the first thing that did not, e.g.
	// `project "x" does not match "abc*"`.
	Why string
}

// Explain is Match with its reasons: the rules tried, in order, each with why it matched or not, and
// the resulting destinations. Rules after the one that ended matching are not listed. For the
// default table it returns one step for the implied rule */* -> console.
func (t *Table) Explain(f Facts) (steps []Step, targets []Target) {
	steps, dests := t.ExplainDestinations(f)
	for _, d := range dests {
		targets = append(targets, d.Target)
	}
	return steps, targets
}

// ExplainDestinations is Explain with the mentions each destination gets (see Destinations).
func (t *Table) ExplainDestinations(f Facts) (steps []Step, dests []Destination) {
	if t.Default {
		r := Rule{Project: "*", Environment: "*", Targets: []Target{Console}, Source: "*/* -> console"}
		return []Step{{Rule: r, Matched: true, Why: "BRIDGE_ROUTES is empty, so everything goes to the console"}}, []Destination{{Target: Console}}
	}
	for _, r := range t.Rules {
		ok, why := r.match(f)
		if ok && r.Continue {
			why += "; continue: trying the next rules"
		}
		steps = append(steps, Step{Rule: r, Matched: ok, Why: why})
		if !ok {
			continue
		}
		dests = addDestinations(dests, r)
		if !r.Continue {
			break
		}
	}
	return steps, dests
}

// match reports whether the rule matches f and why.
func (r Rule) match(f Facts) (bool, string) {
	var why []string
	if !globMatch(r.Project, f.Project) {
		return false, fmt.Sprintf("project %q does not match %q", f.Project, r.Project)
	}
	why = append(why, fmt.Sprintf("project %q matches %q", f.Project, r.Project))
	if !globMatch(r.Environment, f.Environment) {
		return false, fmt.Sprintf("environment %q does not match %q", f.Environment, r.Environment)
	}
	why = append(why, fmt.Sprintf("environment %q matches %q", f.Environment, r.Environment))
	if len(r.Events) > 0 {
		i := slices.IndexFunc(r.Events, func(p string) bool { return globMatch(p, f.Type) })
		if i < 0 {
			return false, fmt.Sprintf("event %q matches none of events=%s", f.Type, strings.Join(r.Events, ","))
		}
		why = append(why, fmt.Sprintf("event filter %s matches %q", r.Events[i], f.Type))
	}
	if len(r.States) > 0 {
		if !slices.Contains(r.States, f.State) {
			return false, fmt.Sprintf("state %q is not in states=%s", f.State, strings.Join(r.States, ","))
		}
		why = append(why, fmt.Sprintf("state %q is in states=%s", f.State, strings.Join(r.States, ",")))
	}
	if len(r.Results) > 0 {
		res := f.Result
		if res == "" {
			res = "none"
		}
		if !slices.Contains(r.Results, res) {
			return false, fmt.Sprintf("result %q is not in results=%s", res, strings.Join(r.Results, ","))
		}
		why = append(why, fmt.Sprintf("result %q is in results=%s", res, strings.Join(r.Results, ",")))
	}
	if len(r.EnvTypes) > 0 {
		if !slices.Contains(r.EnvTypes, f.EnvType) {
			if f.EnvType == "" {
				return false, fmt.Sprintf("environment type is unknown, so not in envtypes=%s", strings.Join(r.EnvTypes, ","))
			}
			return false, fmt.Sprintf("environment type %q is not in envtypes=%s", f.EnvType, strings.Join(r.EnvTypes, ","))
		}
		why = append(why, fmt.Sprintf("environment type %q is in envtypes=%s", f.EnvType, strings.Join(r.EnvTypes, ",")))
	}
	return true, strings.Join(why, ", ")
}

// Targets returns every distinct target of the table (by String form), in the order written, so that
// start-up can check each has credentials. The default table returns [Console].
func (t *Table) Targets() []Target {
	if t.Default {
		return []Target{Console}
	}
	var out []Target
	seen := map[string]bool{}
	for _, r := range t.Rules {
		for _, tg := range r.Targets {
			if k := tg.String(); !seen[k] {
				seen[k] = true
				out = append(out, tg)
			}
		}
	}
	return out
}
