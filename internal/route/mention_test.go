package route

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMentions(t *testing.T) {
	tbl, err := Parse("abcdefgh1234567/main mention=slack:S0123ABCD,slack:U0456EFGH,discord:&112233445566778899,slack:here -> slack:#deploys, discord:prod, console")
	if err != nil {
		t.Fatal(err)
	}
	r := tbl.Rules[0]
	want := []Mention{{"slack", "S0123ABCD"}, {"slack", "U0456EFGH"}, {"discord", "&112233445566778899"}, {"slack", "here"}}
	if !reflect.DeepEqual(r.Mentions, want) {
		t.Errorf("Mentions = %v, want %v", r.Mentions, want)
	}
	// The canonical form reads back to the same rule.
	again, err := Parse(r.String())
	if err != nil {
		t.Fatalf("Parse(%q): %v", r.String(), err)
	}
	if !reflect.DeepEqual(again.Rules[0].Mentions, want) {
		t.Errorf("after a round trip through %q: %v", r.String(), again.Rules[0].Mentions)
	}
	dests := tbl.Destinations(Facts{Project: "abcdefgh1234567", Environment: "main"})
	got := map[string][]string{}
	for _, d := range dests {
		got[d.String()] = d.Mentions
	}
	wantDests := map[string][]string{
		"slack:#deploys": {"S0123ABCD", "U0456EFGH", "here"},
		"discord:prod":   {"&112233445566778899"},
		"console":        nil,
	}
	if !reflect.DeepEqual(got, wantDests) {
		t.Errorf("Destinations mentions = %v, want %v", got, wantDests)
	}
}

// A destination reached by several matching rules gets the mentions of each, once.
func TestDestinationsMergeMentions(t *testing.T) {
	tbl, err := Parse(`*/* results=failure mention=slack:S0ONCALL1 continue -> slack:C0123ABCD, slack-webhook:ops
*/main mention=slack:U0LEAD123,slack:S0ONCALL1,discord:112233445566778899 -> slack:C0123ABCD, discord-channel:123456789012345678`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, d := range tbl.Destinations(Facts{Project: "p", Environment: "main", Result: "failure"}) {
		got[d.String()] = d.Mentions
	}
	want := map[string][]string{
		"slack:C0123ABCD":                    {"S0ONCALL1", "U0LEAD123"},
		"slack-webhook:ops":                  {"S0ONCALL1"},
		"discord-channel:123456789012345678": {"112233445566778899"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Destinations mentions = %v, want %v", got, want)
	}
	if got := tbl.Destinations(Facts{Project: "p", Environment: "dev", Result: "success"}); len(got) != 0 {
		t.Errorf("no rule matches, got %v", got)
	}
}

func TestParseMentionErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no service", "*/* mention=U0123ABCD -> console", `line 2: mention "U0123ABCD" has no service`},
		{"unknown service", "*/* mention=teams:abc -> console", `line 2: mention "teams:abc" names service "teams"`},
		{"lowercase slack id", "*/* mention=slack:u0123abcd -> console", `line 2: mention "slack:u0123abcd" is not a Slack user`},
		{"slack channel ping", "*/* mention=slack:channel -> console", `line 2: mention "slack:channel" is not a Slack user`},
		{"markup", "*/* mention=slack:<@U0123> -> console", `line 2: mention "slack:<@U0123>" is not a Slack user`},
		{"short discord id", "*/* mention=discord:123 -> console", `line 2: mention "discord:123" is not a Discord user ID`},
		{"discord everyone", "*/* mention=discord:@everyone -> console", `line 2: mention "discord:@everyone" is not a Discord user ID`},
		{"empty token", "*/* mention=slack:U0123ABCD,,slack:here -> console", `line 2: mention= has an empty token`},
		{"twice", "*/* mention=slack:here mention=slack:here -> console", `line 2: filter mention= is given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("# on-call\n" + tt.in)
			if err == nil || !strings.Contains(err.Error(), "BRIDGE_ROUTES "+tt.want) {
				t.Errorf("Parse(%q) error = %v, want it to contain %q", tt.in, err, "BRIDGE_ROUTES "+tt.want)
			}
		})
	}
}
