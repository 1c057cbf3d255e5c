package route

import (
	"reflect"
	"strings"
	"testing"
)

func targetsString(ts []Target) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, " ")
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true},
		{"*", "feature/x", true},
		{"feature/*", "feature/login/form", true},
		{"*/x", "feature/x", true},
		{"*-x", "feature/a-x", true},
		{"main", "main", true},
		{"main", "mainline", false},
		{"main", "mai", false},
		{"pr-*", "pr-12", true},
		{"pr-*", "pr", false},
		{"pr-?", "pr-1", true},
		{"pr-?", "pr-12", false},
		{"a?b", "a/b", true},
		{"?", "é", true},
		{"[abc]*", "bxyz", true},
		{"[abc]*", "dxyz", false},
		{"[a-c]x", "bx", true},
		{"[!a-c]x", "bx", false},
		{"[^a-c]x", "dx", true},
		{"[\\]]", "]", true},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"a*b*c", "a/b/x/c", true},
		{"a*b*c", "a/b/x/d", false},
		{"*.push", "environment.push", true},
		{"environment.*", "environment.variable.create", true},
		{"environment.*", "project.domain.create", false},
		{"[abc", "a", false}, // invalid patterns match nothing
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.name, func(t *testing.T) {
			if got := globMatch(tt.pattern, tt.name); got != tt.want {
				t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
			}
		})
	}
}

const table = `
# production first
abcdefgh1234567/main                                   -> slack:#deploys, discord:prod
abcdefgh1234567/*                                      -> slack:#dev-deploys
*/pr-*  events=environment.push,environment.redeploy   -> slack-webhook:previews
*/*     results=failure continue                       -> slack:C0123ABCD
*/*     envtypes=production states=complete            -> console@compact
`

func TestMatch(t *testing.T) {
	tbl, err := Parse(table)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    Facts
		want string
	}{
		{"first rule wins", Facts{Project: "abcdefgh1234567", Environment: "main", Type: "environment.push", State: "complete", Result: "success"},
			"slack:#deploys discord:prod"},
		{"star crosses slash", Facts{Project: "abcdefgh1234567", Environment: "feature/x", Type: "environment.push"},
			"slack:#dev-deploys"},
		{"event filter matches", Facts{Project: "zzz", Environment: "pr-12", Type: "environment.redeploy"},
			"slack-webhook:previews"},
		{"event filter does not match", Facts{Project: "zzz", Environment: "pr-12", Type: "environment.backup"},
			""},
		{"continue collects the next match", Facts{Project: "zzz", Environment: "main", Type: "environment.push", State: "complete", Result: "failure", EnvType: "production"},
			"slack:C0123ABCD console@compact"},
		{"continue with no later match", Facts{Project: "zzz", Environment: "main", Result: "failure", State: "in_progress", EnvType: "production"},
			"slack:C0123ABCD"},
		{"envtype filter", Facts{Project: "zzz", Environment: "main", State: "complete", Result: "success", EnvType: "production"},
			"console@compact"},
		{"unknown envtype never matches", Facts{Project: "zzz", Environment: "main", State: "complete", Result: "success"},
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := targetsString(tbl.Match(tt.f)); got != tt.want {
				t.Errorf("Match(%+v) = %q, want %q", tt.f, got, tt.want)
			}
		})
	}
}

func TestMatchFilters(t *testing.T) {
	tests := []struct {
		name, rules string
		f           Facts
		want        string
	}{
		{"results=none matches no result", "*/* results=none -> console", Facts{Project: "p", Environment: "e"}, "console"},
		{"results=none skips success", "*/* results=none -> console", Facts{Project: "p", Environment: "e", Result: "success"}, ""},
		{"states list", "*/* states=pending,in_progress -> console", Facts{Project: "p", Environment: "e", State: "in_progress"}, "console"},
		{"states list miss", "*/* states=pending,in_progress -> console", Facts{Project: "p", Environment: "e", State: "complete"}, ""},
		{"class on project", "[a-c]*/* -> console", Facts{Project: "b123", Environment: "e"}, "console"},
		{"class on project miss", "[a-c]*/* -> console", Facts{Project: "x123", Environment: "e"}, ""},
		{"question mark", "p/v? -> console", Facts{Project: "p", Environment: "v2"}, "console"},
		{"first slash splits", "p/feature/* -> console", Facts{Project: "p", Environment: "feature/a/b"}, "console"},
		{"de-duplicated across continue", "*/* continue -> slack:#a, console; */* -> console, slack:#a@default, slack:#a@compact",
			Facts{Project: "p", Environment: "e"}, "slack:#a console slack:#a@compact"},
		{"semicolons", "p/a -> console; p/b -> slack:#b", Facts{Project: "p", Environment: "b"}, "slack:#b"},
		{"default table", "", Facts{Project: "p", Environment: "e"}, "console"},
		{"comments only is the default table", "# nothing yet\n\n", Facts{Project: "p", Environment: "e"}, "console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, err := Parse(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			if got := targetsString(tbl.Match(tt.f)); got != tt.want {
				t.Errorf("Match(%+v) = %q, want %q", tt.f, got, tt.want)
			}
		})
	}
}

func TestParseDefault(t *testing.T) {
	tbl, err := Parse("  \n# only a comment; still a comment\n")
	if err != nil {
		t.Fatal(err)
	}
	if !tbl.Default || len(tbl.Rules) != 0 {
		t.Errorf("got %+v, want an empty default table", tbl)
	}
	if got := targetsString(tbl.Targets()); got != "console" {
		t.Errorf("Targets() = %q, want console", got)
	}
	if got := tbl.String(); got != "" {
		t.Errorf("String() = %q, want empty", got)
	}
}

func TestParseRule(t *testing.T) {
	tbl, err := Parse("\n# c\nabc*/feature/* events=environment.* states=complete,in_progress results=failure,none envtypes=staging continue -> slack:#a@compact, discord-channel:1234\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Rule{
		Line: 3, Project: "abc*", Environment: "feature/*",
		Events: []string{"environment.*"}, States: []string{"complete", "in_progress"},
		Results: []string{"failure", "none"}, EnvTypes: []string{"staging"}, Continue: true,
		Targets: []Target{{KindSlack, "#a", "compact"}, {KindDiscordChannel, "1234", "default"}},
		Source:  "abc*/feature/* events=environment.* states=complete,in_progress results=failure,none envtypes=staging continue -> slack:#a@compact, discord-channel:1234",
	}
	if len(tbl.Rules) != 1 || !reflect.DeepEqual(tbl.Rules[0], want) {
		t.Errorf("got %+v\nwant %+v", tbl.Rules, want)
	}
	wantStr := "abc*/feature/* events=environment.* states=complete,in_progress results=failure,none envtypes=staging continue -> slack:#a@compact, discord-channel:1234\n"
	if got := tbl.String(); got != wantStr {
		t.Errorf("String() = %q, want %q", got, wantStr)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"missing arrow", "abc/main slack:#deploys",
			`BRIDGE_ROUTES line 1: missing "->"; write <project>/<environment> [filters] -> <target>, e.g. abcdefgh1234567/main -> slack:#deploys`},
		{"nothing before arrow", "-> console",
			`BRIDGE_ROUTES line 1: nothing before "->"; write <project>/<environment> [filters] -> <target>, e.g. abcdefgh1234567/main -> slack:#deploys`},
		{"no slash", "main -> console",
			`BRIDGE_ROUTES line 1: "main" has no "/" between project and environment; write e.g. main/* or */main`},
		{"empty project", "/main -> console",
			`BRIDGE_ROUTES line 1: empty project pattern in "/main"; use * for every project, e.g. */main`},
		{"empty environment", "abc/ -> console",
			`BRIDGE_ROUTES line 1: empty environment pattern in "abc/"; use * for every environment, e.g. abc/*`},
		{"bad project glob", "[abc/main -> console",
			`BRIDGE_ROUTES line 1: project pattern "[abc" has an unclosed [; close the class with ], e.g. [abc]`},
		{"bad environment glob", "abc/[z-a] -> console",
			`BRIDGE_ROUTES line 1: environment pattern "[z-a]" has a backwards range z-a; write it low to high, e.g. a-z`},
		{"empty class", "abc/[] -> console",
			`BRIDGE_ROUTES line 1: environment pattern "[]" has an empty []; list characters inside, e.g. [abc]`},
		{"lone backslash", `abc/x\ -> console`,
			`BRIDGE_ROUTES line 1: environment pattern "x\\" ends with a lone \; escape it as \\`},
		{"bad event glob", "*/* events=environment.[push -> console",
			`BRIDGE_ROUTES line 1: event pattern "environment.[push" has an unclosed [; close the class with ], e.g. [abc]`},
		{"unknown filter", "*/* stage=complete -> console",
			`BRIDGE_ROUTES line 1: unknown filter "stage=complete"; use events=, states=, results=, envtypes=, mention= or continue`},
		{"stray word", "*/* main -> console",
			`BRIDGE_ROUTES line 1: unknown filter "main"; use events=, states=, results=, envtypes=, mention= or continue`},
		{"repeated filter", "*/* states=complete states=pending -> console",
			`BRIDGE_ROUTES line 1: filter states= is given twice; list all values in one, e.g. states=a,b`},
		{"repeated continue", "*/* continue continue -> console",
			`BRIDGE_ROUTES line 1: continue is given twice; give it once`},
		{"empty filter value", "*/* states= -> console",
			`BRIDGE_ROUTES line 1: filter "states=" has an empty value; list values separated by commas without spaces, e.g. states=in_progress,complete`},
		{"unknown state", "*/* states=done -> console",
			`BRIDGE_ROUTES line 1: unknown state "done" in states=; use pending, in_progress, complete, cancelled, scheduled or staged`},
		{"unknown result", "*/* results=success,ok -> console",
			`BRIDGE_ROUTES line 1: unknown result "ok" in results=; use success, failure or none`},
		{"unknown envtype", "*/* envtypes=prod -> console",
			`BRIDGE_ROUTES line 1: unknown environment type "prod" in envtypes=; use production, staging or development`},
		{"no target", "*/* ->  ",
			`BRIDGE_ROUTES line 1: no target after "->"; add one, e.g. -> slack:#deploys`},
		{"extra comma", "*/* -> console,",
			`BRIDGE_ROUTES line 1: empty target between commas; remove the extra comma`},
		{"unknown kind", "\n\n*/* -> slak:#deploys",
			`BRIDGE_ROUTES line 3: unknown target kind "slak"; use slack:, slack-webhook:, discord:, discord-channel: or console`},
		{"slack without channel", "*/* -> slack:deploys",
			`BRIDGE_ROUTES line 1: target "slack:deploys" needs a #channel-name or a Slack channel ID; use e.g. slack:#deploys or slack:C0123ABCD`},
		{"slack bare", "*/* -> slack",
			`BRIDGE_ROUTES line 1: target "slack" needs a #channel-name or a Slack channel ID; use e.g. slack:#deploys or slack:C0123ABCD`},
		{"slack uppercase name", "*/* -> slack:#Deploys",
			`BRIDGE_ROUTES line 1: channel "#Deploys" has uppercase letters; Slack channel names are lowercase, e.g. #deploys`},
		{"slack period", "*/* -> slack:#a.b",
			`BRIDGE_ROUTES line 1: channel "#a.b" contains '.'; Slack channel names use lowercase letters, digits, - and _`},
		{"slack empty name", "*/* -> slack:#",
			`BRIDGE_ROUTES line 1: channel "#" has no name after #; use e.g. slack:#deploys`},
		{"discord-channel not numeric", "*/* -> discord-channel:general",
			`BRIDGE_ROUTES line 1: target "discord-channel:general" needs a numeric Discord channel ID; use e.g. discord-channel:123456789012345678`},
		{"discord no name", "*/* -> discord:",
			`BRIDGE_ROUTES line 1: target "discord:" needs the name of a Discord webhook; use e.g. discord:prod`},
		{"webhook bad name", "*/* -> slack-webhook:Previews",
			`BRIDGE_ROUTES line 1: webhook name "Previews" in "slack-webhook:Previews" may use only a-z, 0-9, - and _; use e.g. slack-webhook:previews`},
		{"bad set", "*/* -> slack:#a@Compact!",
			`BRIDGE_ROUTES line 1: template set "Compact!" in "slack:#a@Compact!" may use only a-z, 0-9, - and _; e.g. slack:#a@compact`},
		{"empty set", "*/* -> discord:prod@",
			`BRIDGE_ROUTES line 1: target "discord:prod@" has an empty template set after @; name one, e.g. discord:prod@compact, or drop the @`},
		{"console with name", "*/* -> console:stdout",
			`BRIDGE_ROUTES line 1: target "console:stdout": console takes no name; write console (or console@set)`},
		{"space in target", "*/* -> slack:#a discord:b",
			`BRIDGE_ROUTES line 1: target "slack:#a discord:b" contains a space; separate targets with commas, e.g. slack:#deploys, discord:prod`},
		{"semicolon parts count as lines", "*/a -> console; */b -> nope",
			`BRIDGE_ROUTES line 2: unknown target kind "nope"; use slack:, slack-webhook:, discord:, discord-channel: or console`},
		{"every bad line is reported", "*/a -> nope\n*/b -> console\n*/c states=x -> console",
			"BRIDGE_ROUTES line 1: unknown target kind \"nope\"; use slack:, slack-webhook:, discord:, discord-channel: or console\n" +
				"BRIDGE_ROUTES line 3: unknown state \"x\" in states=; use pending, in_progress, complete, cancelled, scheduled or staged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error %q", tt.in, tbl, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) error\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestTargetRoundTrip(t *testing.T) {
	tests := []struct {
		in, str, service string
		want             Target
	}{
		{"slack:#deploys", "slack:#deploys", "slack:#deploys", Target{KindSlack, "#deploys", "default"}},
		{"slack:#deploys@compact", "slack:#deploys@compact", "slack:#deploys", Target{KindSlack, "#deploys", "compact"}},
		{"slack:#déploiements", "slack:#déploiements", "slack:#déploiements", Target{KindSlack, "#déploiements", "default"}},
		{"slack:C0123ABCD@default", "slack:C0123ABCD", "slack:C0123ABCD", Target{KindSlack, "C0123ABCD", "default"}},
		{"slack:G01ABC", "slack:G01ABC", "slack:G01ABC", Target{KindSlack, "G01ABC", "default"}},
		{"slack-webhook:previews", "slack-webhook:previews", "slack-webhook:previews", Target{KindSlackWebhook, "previews", "default"}},
		{"discord:prod@my_set-2", "discord:prod@my_set-2", "discord:prod", Target{KindDiscord, "prod", "my_set-2"}},
		{"discord-channel:123456789012345678", "discord-channel:123456789012345678", "discord-channel:123456789012345678", Target{KindDiscordChannel, "123456789012345678", "default"}},
		{"console", "console", "console", Target{KindConsole, "", "default"}},
		{"console@compact", "console@compact", "console", Target{KindConsole, "", "compact"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTarget(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseTarget(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			if s := got.Service(); s != tt.service {
				t.Errorf("Service() = %q, want %q", s, tt.service)
			}
			again, err := ParseTarget(got.String())
			if err != nil || again != got {
				t.Errorf("ParseTarget(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	tbl, err := Parse(table)
	if err != nil {
		t.Fatal(err)
	}
	want := "slack:#deploys discord:prod slack:#dev-deploys slack-webhook:previews slack:C0123ABCD console@compact"
	if got := targetsString(tbl.Targets()); got != want {
		t.Errorf("Targets() = %q, want %q", got, want)
	}
}

func TestExplain(t *testing.T) {
	tbl, err := Parse(table)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		line    int
		matched bool
		why     string
	}
	tests := []struct {
		name    string
		f       Facts
		steps   []step
		targets string
	}{
		{"continue then match", Facts{Project: "zzz", Environment: "main", Type: "environment.push", State: "complete", Result: "failure", EnvType: "production"},
			[]step{
				{3, false, `project "zzz" does not match "abcdefgh1234567"`},
				{4, false, `project "zzz" does not match "abcdefgh1234567"`},
				{5, false, `environment "main" does not match "pr-*"`},
				{6, true, `project "zzz" matches "*", environment "main" matches "*", result "failure" is in results=failure; continue: trying the next rules`},
				{7, true, `project "zzz" matches "*", environment "main" matches "*", state "complete" is in states=complete, environment type "production" is in envtypes=production`},
			}, "slack:C0123ABCD console@compact"},
		{"event filter", Facts{Project: "p", Environment: "pr-3", Type: "environment.redeploy", Result: "success"},
			[]step{
				{3, false, `project "p" does not match "abcdefgh1234567"`},
				{4, false, `project "p" does not match "abcdefgh1234567"`},
				{5, true, `project "p" matches "*", environment "pr-3" matches "pr-*", event filter environment.redeploy matches "environment.redeploy"`},
			}, "slack-webhook:previews"},
		{"nothing matches", Facts{Project: "p", Environment: "pr-3", Type: "environment.backup", State: "pending"},
			[]step{
				{3, false, `project "p" does not match "abcdefgh1234567"`},
				{4, false, `project "p" does not match "abcdefgh1234567"`},
				{5, false, `event "environment.backup" matches none of events=environment.push,environment.redeploy`},
				{6, false, `result "none" is not in results=failure`},
				{7, false, `state "pending" is not in states=complete`},
			}, ""},
		{"unknown env type", Facts{Project: "p", Environment: "x", State: "complete", Result: "success"},
			[]step{
				{3, false, `project "p" does not match "abcdefgh1234567"`},
				{4, false, `project "p" does not match "abcdefgh1234567"`},
				{5, false, `environment "x" does not match "pr-*"`},
				{6, false, `result "success" is not in results=failure`},
				{7, false, `environment type is unknown, so not in envtypes=production`},
			}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, targets := tbl.Explain(tt.f)
			var got []step
			for _, s := range steps {
				got = append(got, step{s.Rule.Line, s.Matched, s.Why})
			}
			if !reflect.DeepEqual(got, tt.steps) {
				t.Errorf("steps\n got %+v\nwant %+v", got, tt.steps)
			}
			if g := targetsString(targets); g != tt.targets {
				t.Errorf("targets = %q, want %q", g, tt.targets)
			}
		})
	}
}

func TestExplainDefault(t *testing.T) {
	tbl, err := Parse("")
	if err != nil {
		t.Fatal(err)
	}
	steps, targets := tbl.Explain(Facts{Project: "p", Environment: "e"})
	if len(steps) != 1 || !steps[0].Matched || steps[0].Why != "BRIDGE_ROUTES is empty, so everything goes to the console" {
		t.Errorf("steps = %+v, want one matched step saying BRIDGE_ROUTES is empty", steps)
	}
	if got := targetsString(targets); got != "console" {
		t.Errorf("targets = %q, want console", got)
	}
}

// canonical strips what String does not keep (positions and the source text).
func canonical(t *Table) *Table {
	c := &Table{Default: t.Default}
	for _, r := range t.Rules {
		r.Line, r.Source = 0, ""
		c.Rules = append(c.Rules, r)
	}
	return c
}

func FuzzParse(f *testing.F) {
	f.Add(table)
	f.Add("")
	f.Add("*/* -> console")
	f.Add("a/b->slack:C0123ABCD@x;#c\n[a-z]?/\\** events=*.push,[!e]* states=staged results=none envtypes=development continue -> discord-channel:1, slack:#é")
	f.Add("abc/[z-a] -> console")
	f.Add("abcdefgh1234567/main mention=slack:S0123ABCD,slack:U0456EFGH,slack:here,discord:&112233445566778899 continue -> slack:#deploys, discord:prod")
	f.Fuzz(func(t *testing.T, s string) {
		tbl, err := Parse(s)
		if err != nil {
			if tbl != nil {
				t.Errorf("Parse(%q) returned a table with an error", s)
			}
			return
		}
		again, err := Parse(tbl.String())
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q does not parse: %v", s, tbl.String(), err)
		}
		if !reflect.DeepEqual(canonical(tbl), canonical(again)) {
			t.Errorf("Parse(%q) = %+v\nre-parsed from %q = %+v", s, canonical(tbl), tbl.String(), canonical(again))
		}
		tbl.Match(Facts{Project: s, Environment: s, Type: s})
	})
}
