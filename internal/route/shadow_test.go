package route

import (
	"fmt"
	"strings"
	"testing"
)

func TestShadowed(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		want  []string // "later<by"
	}{
		{"the issue's example: catch-all failure rule last", `abcdefgh1234567/main -> slack:#deploys
abcdefgh1234567/* -> slack:#dev
*/* results=failure continue -> slack:C0123ABCD`, nil},
		{"continue first is fine", `*/* results=failure continue -> slack:C0123ABCD
abcdefgh1234567/main -> slack:#deploys
abcdefgh1234567/* -> slack:#dev`, nil},
		{"wider glob first", `abcdefgh1234567/* -> slack:#dev
abcdefgh1234567/main -> slack:#deploys`, []string{"2<1"}},
		{"catch-all first hides everything", `*/* -> console
a/b -> slack:#x
*/pr-* events=environment.push -> slack:#y`, []string{"2<1", "3<1"}},
		{"continue does not shadow", `*/* continue -> console
a/b -> slack:#x`, nil},
		{"same rule twice", `a/b -> slack:#x
a/b -> slack:#y`, []string{"2<1"}},
		{"prefix glob", `*/pr-* -> slack:#x
p/pr-1* -> slack:#y
p/prx* -> slack:#z`, []string{"2<1"}},
		{"suffix glob", `*/*-staging -> slack:#x
*/eu*-staging -> slack:#y
*/eu*-stag -> slack:#z`, []string{"2<1"}},
		{"literal matched by a class", `[a-c]*/main -> slack:#x
abc/main -> slack:#y
xyz/main -> slack:#z`, []string{"2<1"}},
		{"event globs", `*/* events=environment.* -> slack:#x
*/* events=environment.push,environment.redeploy -> slack:#y
*/* events=environment.push,project.domain.create -> slack:#z
*/* -> slack:#w`, []string{"2<1"}},
		{"events=* covers no events filter", `*/* events=* -> slack:#x
*/main -> slack:#y`, []string{"2<1"}},
		{"state subsets", `*/* states=complete,cancelled -> slack:#x
*/* states=complete -> slack:#y
*/* states=pending -> slack:#z`, []string{"2<1"}},
		{"narrower filter first does not shadow", `*/* results=failure -> slack:#x
*/* -> slack:#y`, nil},
		{"listing every env type does not cover unknown types", `*/* envtypes=production,staging,development -> slack:#x
*/main -> slack:#y
*/main envtypes=production -> slack:#z`, []string{"3<1"}},
		{"listing every state does not cover an unfiltered rule", `*/* states=pending,in_progress,complete,cancelled,scheduled,staged -> slack:#x
*/* -> slack:#y`, nil},
		{"several rules together are not proven", `*/a* -> slack:#x
*/b* -> slack:#y
*/[ab]* -> slack:#z`, nil},
		{"first shadowing rule is named", `*/* -> slack:#x
*/* -> slack:#y
*/main -> slack:#z`, []string{"2<1", "3<1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, err := Parse(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range tbl.Shadowed() {
				got = append(got, fmt.Sprintf("%d<%d", s.Rule.Line, s.By.Line))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Shadowed() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestShadowString(t *testing.T) {
	tbl, err := Parse("abcdefgh1234567/* -> slack:#dev\nabcdefgh1234567/main -> slack:#deploys")
	if err != nil {
		t.Fatal(err)
	}
	s := tbl.Shadowed()
	if len(s) != 1 {
		t.Fatalf("Shadowed() = %v, want one", s)
	}
	want := `BRIDGE_ROUTES line 2 (abcdefgh1234567/main -> slack:#deploys) can never match: line 1 (abcdefgh1234567/* -> slack:#dev) ` +
		`comes first, has no continue and matches every activity line 2 would; move line 2 above line 1, or add continue to line 1`
	if got := s[0].String(); got != want {
		t.Errorf("String()\n got %s\nwant %s", got, want)
	}
}

// TestShadowedIsSound checks the promise "never a false warning" by brute force: for every pair of rules
// from a set of patterns and filters, when Shadowed says the later rule is hidden, no activity from a grid
// of facts matches the later rule without matching the earlier one.
func TestShadowedIsSound(t *testing.T) {
	globs := []string{"*", "**", "a", "ab", "a*", "ab*", "*b", "*ab", "a*b", "[ab]*", "a?", "?b", "[!a]*", `a\*`, "b*"}
	names := []string{"", "a", "b", "ab", "ba", "abb", "aab", "a*", "xab", "bb", "c"}
	events := []string{"", "events=*", "events=environment.*", "events=environment.push", "events=environment.push,project.*"}
	types := []string{"environment.push", "environment.redeploy", "project.domain.create", "x"}
	filters := []string{"", "states=complete", "states=complete,pending", "results=failure", "results=none,success",
		"envtypes=production", "envtypes=production,staging,development"}
	states := []string{"complete", "pending", "other"}
	resultsV := []string{"", "success", "failure"}
	envTypesV := []string{"", "production", "development"}

	// Globs vary on the project, filters on a */* rule: each part of covers is checked on its own axis.
	var rules []string
	for _, p := range globs {
		rules = append(rules, p+"/* -> console", "*/"+p+" -> console")
	}
	for _, ev := range events {
		for _, f := range filters {
			rules = append(rules, strings.Join(strings.Fields("*/* "+ev+" "+f), " ")+" -> console")
		}
	}
	var facts []Facts
	for _, proj := range names {
		for _, env := range names {
			facts = append(facts, Facts{Project: proj, Environment: env, Type: "environment.push", State: "complete", Result: "success", EnvType: "production"})
		}
	}
	for _, typ := range types {
		for _, st := range states {
			for _, res := range resultsV {
				for _, et := range envTypesV {
					facts = append(facts, Facts{Project: "ab", Environment: "ab", Type: typ, State: st, Result: res, EnvType: et})
				}
			}
		}
	}
	checked := 0
	for _, a := range rules {
		ra, err := parseRule(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range rules {
			rb, err := parseRule(b)
			if err != nil {
				t.Fatal(err)
			}
			if !ra.covers(rb) {
				continue
			}
			checked++
			for _, f := range facts {
				if okB, _ := rb.match(f); okB {
					if okA, _ := ra.match(f); !okA {
						t.Fatalf("%q said to shadow %q, but %+v matches only the later", a, b, f)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no pair was found shadowed")
	}
}

func TestCheckSets(t *testing.T) {
	tbl, err := Parse("*/* continue -> console\n# a comment\nabc/* -> console@fancy, slack:#x@compact")
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.CheckSets([]string{"compact", "default", "fancy"}); err != nil {
		t.Errorf("CheckSets(all known) = %v, want nil", err)
	}
	want := `BRIDGE_ROUTES line 3: target console@fancy names template set "fancy", which does not exist; use compact or default, or add a folder fancy/ of .tmpl files to BRIDGE_TEMPLATES_DIR`
	if err := tbl.CheckSets([]string{"compact", "default"}); err == nil || err.Error() != want {
		t.Errorf("CheckSets() = %v\nwant %s", err, want)
	}
}

// FuzzShadowedIsSound: whenever an earlier rule is said to cover a later one, every activity the later rule
// matches is matched by the earlier one too (so a shadow warning is never false).
func FuzzShadowedIsSound(f *testing.F) {
	f.Add("a*", "*", "ab*", "main", "", "states=complete", "ab", "main", "environment.push", "complete", "failure", "production")
	f.Add("*", "*-staging", "x", "eu*-staging", "results=failure", "", "x", "eu-staging", "environment.redeploy", "pending", "", "")
	f.Add("[a-c]*", "ma?n", "abc", "main", "events=environment.*", "events=environment.push", "abc", "main", "environment.push", "complete", "success", "staging")
	f.Fuzz(func(t *testing.T, projA, envA, projB, envB, filtersA, filtersB, project, env, typ, state, result, envType string) {
		a, errA := parseRule(projA + "/" + envA + " " + filtersA + " -> console")
		b, errB := parseRule(projB + "/" + envB + " " + filtersB + " -> console")
		if errA != nil || errB != nil || strings.ContainsAny(projA+envA+projB+envB+filtersA+filtersB, ";\n->") || !a.covers(b) {
			return
		}
		facts := Facts{Project: project, Environment: env, Type: typ, State: state, Result: result, EnvType: envType}
		if okB, _ := b.match(facts); okB {
			if okA, _ := a.match(facts); !okA {
				t.Fatalf("%q said to cover %q, but %+v matches only the later", a.Source, b.Source, facts)
			}
		}
	})
}
