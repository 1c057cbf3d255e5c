package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRoutesShowsTitleAndMentions(t *testing.T) {
	env := map[string]string{
		"BRIDGE_ROUTES":        "abcdefgh1234567/main mention=slack:S0123ABCD,discord:&112233445566778899 -> slack:#deploys, discord:prod, console",
		"BRIDGE_PROJECT_NAMES": "abcdefgh1234567=My Shop",
	}
	code, out, errOut := runCLI(t, env, "", "routes", "--project", "abcdefgh1234567", "--environment", "main", "--result", "failure")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"project=abcdefgh1234567 (My Shop)",
		"  slack:#deploys  mention=slack:S0123ABCD (pinged when the notice is a failure or critical)",
		"  discord:prod  mention=discord:&112233445566778899 (pinged",
		"  console\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("routes output lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runCLI(t, env, "", "routes", "--project", "abcdefgh1234567", "--environment", "main")
	if !strings.Contains(out, "mention=slack:S0123ABCD (only on a failure: not for this result)") {
		t.Errorf("routes for a success:\n%s", out)
	}
	// A cancelled deploy carries result failure, shows 🚫 and pings nobody; a critical health notice pings.
	_, out, _ = runCLI(t, env, "", "routes", "--project", "abcdefgh1234567", "--environment", "main", "--state", "cancelled", "--result", "failure")
	if !strings.Contains(out, "mention=slack:S0123ABCD (only on a failure: not for state cancelled)") {
		t.Errorf("routes for a cancelled deploy:\n%s", out)
	}
	_, out, _ = runCLI(t, env, "", "routes", "--project", "abcdefgh1234567", "--environment", "main", "--type", "health.disk", "--result", "failure")
	if !strings.Contains(out, "mention=slack:S0123ABCD (pinged when the notice is a failure or critical)") {
		t.Errorf("routes for a critical health notice:\n%s", out)
	}
	_, out, _ = runCLI(t, env, "", "routes", "--project", "abcdefgh1234567", "--environment", "main", "--type", "health.disk", "--result", "none")
	if !strings.Contains(out, "mention=slack:S0123ABCD (only on a failure: not for this result)") {
		t.Errorf("routes for a health warning:\n%s", out)
	}
}

// Without rules, routes says so once and shows no "line 0" for the implied rule.
func TestRoutesWithoutRules(t *testing.T) {
	code, out, errOut := runCLI(t, map[string]string{"BRIDGE_ROUTES": ""}, "", "routes", "--project", "abcdefgh1234567", "--environment", "main")
	want := "activity: project=abcdefgh1234567 environment=main type=environment.push state=complete result=success envtype=none\n" +
		"BRIDGE_ROUTES is empty: everything goes to the console.\ndestinations:\n  console\n"
	if code != 0 || out != want {
		t.Errorf("routes without rules: exit %d %s\n%s\nwant\n%s", code, errOut, out, want)
	}
}

func TestRenderShowsTheReply(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "", "render", "--target", "slack", "--mention", "slack:S0123ABCD,discord:&112233445566778899", fixturePath("push-failure"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p struct {
		Post  struct{ Text string }
		Edit  struct{ Text string }
		Reply struct {
			Text           string
			ReplyBroadcast bool `json:"reply_broadcast"`
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !strings.HasPrefix(p.Post.Text, "<!subteam^S0123ABCD> ❌") || strings.Contains(p.Edit.Text, "subteam") ||
		!strings.HasPrefix(p.Reply.Text, "<!subteam^S0123ABCD> ❌ main deploy failed") || !p.Reply.ReplyBroadcast {
		t.Errorf("render --mention:\n%s", out)
	}
	// In the order the README gives: posted anew, as an edit, the reply.
	if p, e, r := strings.Index(out, `"post"`), strings.Index(out, `"edit"`), strings.Index(out, `"reply"`); !(p < e && e < r) {
		t.Errorf("render --mention prints post at %d, edit at %d, reply at %d; want them in that order", p, e, r)
	}
	code, out, errOut = runCLI(t, nil, "", "render", "--target", "discord", "--mention", "slack:S0123ABCD,discord:&112233445566778899", fixturePath("push-failure"))
	if code != 0 || !strings.Contains(out, `"content": "<@&112233445566778899> ❌ main deploy failed`) || !strings.Contains(out, `"roles": [`) {
		t.Errorf("render --target discord --mention: exit %d %s\n%s", code, errOut, out)
	}
	// A success pings nobody: the ordinary payload.
	_, out, _ = runCLI(t, nil, "", "render", "--mention", "slack:S0123ABCD", fixturePath("environment.push"))
	if strings.Contains(out, "subteam") || strings.Contains(out, `"reply"`) {
		t.Errorf("render of a success with --mention:\n%s", out)
	}
	if code, _, errOut := runCLI(t, nil, "", "render", "--mention", "slack:<!here>", fixturePath("push-failure")); code != 2 || !strings.Contains(errOut, "is not a Slack user") {
		t.Errorf("a bad --mention: exit %d %s", code, errOut)
	}
}

func TestRenderHealthAndConfiguredLinks(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "", "render", "--target", "console", fixturePath("health.webhook"))
	if code != 0 || !strings.Contains(out, "[WARNING] low disk space on mysql · master · Test project") || !strings.Contains(out, "128 MiB of 1 GiB free") {
		t.Errorf("render health: exit %d %s\n%s", code, errOut, out)
	}
	env := map[string]string{"BRIDGE_PROJECT_NAMES": "abcdefgh1234567=My Shop", "BRIDGE_REPOSITORIES": "abcdefgh1234567=gitlab:https://git.example.com/acme/shop"}
	code, out, errOut = runCLI(t, env, "", "render", "--target", "console", fixturePath("push-big"))
	for _, want := range []string{"main deployed · My Shop", "https://git.example.com/acme/shop/-/commit/", "Compare: https://git.example.com/acme/shop/-/compare/"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("render with names and repositories lacks %q: exit %d %s\n%s", want, code, errOut, out)
		}
	}
	env["BRIDGE_REPOSITORIES"] = "abcdefgh1234567=https://git.example.com/acme/shop"
	if code, _, errOut := runCLI(t, env, "", "render", fixturePath("push-big")); code != 1 || !strings.Contains(errOut, "BRIDGE_REPOSITORIES:") {
		t.Errorf("render with a bad repository: exit %d %s", code, errOut)
	}
}

func TestCheckPrintsTitles(t *testing.T) {
	env := map[string]string{
		"BRIDGE_ROUTES":        "abcdefgh1234567/main mention=slack:S0123ABCD -> console\n*/* -> console",
		"BRIDGE_PROJECT_NAMES": "abcdefgh1234567=My Shop,zzz=Blog",
		"BRIDGE_STORE":         "memory",
	}
	code, out, errOut := runCLI(t, env, "", "check")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"  line 1: abcdefgh1234567 (My Shop)/main mention=slack:S0123ABCD -> console",
		"  line 2: */* -> console",
		`  project zzz is titled "Blog"; no rule names it by ID`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	env["BRIDGE_ROUTES"] = "*/* mention=slack:channel -> console"
	if code, _, errOut := runCLI(t, env, "", "check"); code != 1 || !strings.Contains(errOut, `BRIDGE_ROUTES line 1: mention "slack:channel" is not a Slack user`) {
		t.Errorf("check with a bad mention: exit %d %s", code, errOut)
	}
}
