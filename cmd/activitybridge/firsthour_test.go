package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/activitybridge/activitybridge/internal/route"
)

func TestEverySubcommandPrintsItsUsage(t *testing.T) {
	for _, cmd := range []string{"serve", "render", "routes", "check", "deadletters", "send"} {
		t.Run(cmd+" --help", func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, "", cmd, "--help")
			if code != 0 || !strings.HasPrefix(out, "Usage:\n  activitybridge ") || errOut != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", code, out, errOut)
			}
			if cmd != "serve" && cmd != "check" && !strings.Contains(out, "Flags:\n") {
				t.Errorf("usage lists no flags:\n%s", out)
			}
		})
		t.Run(cmd+" bad flag", func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, "", cmd, "--no-such-flag")
			if code != 2 || out != "" || !strings.HasPrefix(errOut, "activitybridge "+cmd+": flag provided but not defined: -no-such-flag\nUsage:\n") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and the error then the usage on stderr", code, out, errOut)
			}
		})
	}
	code, out, _ := runCLI(t, nil, "", "deadletters", "--help")
	if code != 0 || !strings.Contains(out, "--json") || !strings.Contains(out, "[--json]") {
		t.Errorf("deadletters usage does not show --json:\n%s", out)
	}
}

func TestFlagsMayFollowTheVerb(t *testing.T) {
	// Nothing listens on this admin address: both orders must get as far as trying to reach it.
	for _, args := range [][]string{
		{"deadletters", "--admin", "127.0.0.1:1", "list", "--json"},
		{"deadletters", "--json", "--admin=127.0.0.1:1", "list"},
	} {
		code, _, errOut := runCLI(t, nil, "", args...)
		if code != 1 || !strings.Contains(errOut, "cannot reach the service's admin listener") {
			t.Errorf("%v: exit %d, stderr %q; want the flags parsed and the admin listener tried", args, code, errOut)
		}
	}
}

func TestCheckWarnsLikeServe(t *testing.T) {
	env := map[string]string{
		"BRIDGE_ROUTES": "abcdefgh1234567/* -> console\nabcdefgh1234567/main -> console@compact",
		"BRIDGE_ROUTE":  "*/* -> console", // a typo
	}
	code, out, errOut := runCLI(t, env, "", "check")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := []string{
		"ok: 2 routing rule(s), 1 destination(s), template sets [compact default] checked against 18 sample activities; 3 warning(s)",
		"  line 1: abcdefgh1234567/* -> console",
		"  line 2: abcdefgh1234567/main -> console@compact",
		"warning: unknown variable BRIDGE_ROUTE is ignored; check its spelling against .env.example",
		"warning: the webhook endpoint (BRIDGE_LISTEN :8080) accepts unsigned requests from anyone who can reach it; set BRIDGE_SHARED_KEY to the integration's shared key, or at least BRIDGE_PATH_TOKEN",
		"warning: BRIDGE_ROUTES line 2 (abcdefgh1234567/main -> console@compact) can never match: line 1 (abcdefgh1234567/* -> console) comes first, has no continue and matches every activity line 2 would; move line 2 above line 1, or add continue to line 1",
	}
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("check printed\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
	// A path token alone closes the endpoint enough for the warning to go.
	env["BRIDGE_PATH_TOKEN"] = "3f9d2c6a41b87e05d1c4a9f2e6b3d870"
	if _, out, _ := runCLI(t, env, "", "check"); strings.Contains(out, "unsigned requests") {
		t.Errorf("with a path token, check still warns about the endpoint:\n%s", out)
	}
}

// TestBinaryCarriesNoTestPayloads: the start-up template check uses the small samples, so the test
// fixtures (1.3 MB of push-big alone) stay out of the binary.
func TestBinaryCarriesNoTestPayloads(t *testing.T) {
	bin, err := os.ReadFile(plainBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"push-big", "push-hostile", "push-secrets"} {
		body, err := os.ReadFile(fixturePath(name))
		if err != nil {
			t.Fatal(err)
		}
		// A stretch from the middle of the body: the part a pruned sample would not keep.
		chunk := body[len(body)/2 : len(body)/2+200]
		if bytes.Contains(bin, chunk) {
			t.Errorf("the binary embeds fixture %s", name)
		}
	}
}

// TestExampleRoutesPutContinueFirst: the routing examples of .env.example and the chart's values comments
// send a failed deploy of main to the failure channel too, and have no rule that can never match.
func TestExampleRoutesPutContinueFirst(t *testing.T) {
	envExample, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	values, err := os.ReadFile("../../charts/activitybridge/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var examples []string
	for _, line := range strings.Split(string(envExample), "\n") {
		if v, ok := strings.CutPrefix(line, "BRIDGE_ROUTES="); ok {
			examples = append(examples, strings.Trim(v, `"`))
		}
	}
	// values.yaml: e.g. ["rule", "rule", ...] in the routes comment.
	if _, after, ok := strings.Cut(string(values), `activity says continue and comes first, e.g. [`); ok {
		list, _, _ := strings.Cut(after, "]")
		list = strings.NewReplacer("\n# ", " ", "\n#", " ").Replace(list) // comment line breaks
		var rules []string
		for _, r := range strings.Split(list, `",`) {
			rules = append(rules, strings.Trim(strings.TrimSpace(r), `"`))
		}
		examples = append(examples, strings.Join(rules, ";"))
	}
	if len(examples) != 2 {
		t.Fatalf("found %d examples, want one in .env.example and one in values.yaml", len(examples))
	}
	for _, ex := range examples {
		tbl, err := route.Parse(ex)
		if err != nil {
			t.Fatalf("%q: %v", ex, err)
		}
		if s := tbl.Shadowed(); len(s) > 0 {
			t.Errorf("%q: %s", ex, s[0])
		}
		got := tbl.Match(route.Facts{Project: "abcdefgh1234567", Environment: "main", Type: "environment.push", State: "complete", Result: "failure"})
		if len(got) < 2 || got[0].String() != "slack:C0123ABCD" {
			t.Errorf("%q: a failure of main goes to %v, want the failure channel first and the others too", ex, got)
		}
	}
}

// TestServeWarnsAndNamesTheDataDir: serve's start-up warns about an endpoint anyone can post to (as check
// does), and a data folder it cannot use is named by its variable, with the path once.
func TestServeWarnsAndNamesTheDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-folder")
	os.WriteFile(file, nil, 0o600)
	code, _, errOut := runCLI(t, map[string]string{"BRIDGE_DATA_DIR": file, "BRIDGE_LOG_FORMAT": "json", "BRIDGE_LISTEN": "127.0.0.1:0"}, "", "serve")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	if !strings.Contains(errOut, "accepts unsigned requests from anyone who can reach it") {
		t.Errorf("no warning about the open endpoint:\n%s", errOut)
	}
	last := errOut[strings.LastIndex(strings.TrimSuffix(errOut, "\n"), "\n")+1:]
	want := "activitybridge serve: BRIDGE_DATA_DIR: cannot create the folder " + file + ": not a directory; set BRIDGE_DATA_DIR to a folder the service can create and write, e.g. ./data\n"
	if last != want {
		t.Errorf("last line\n%s\nwant\n%s", last, want)
	}
}

func TestTopLevelHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, _ := runCLI(t, nil, "", args...)
		if code != 0 || !strings.Contains(out, "activitybridge send [--url URL]") || !strings.Contains(out, "deadletters [--json] list|replay") {
			t.Errorf("%v: exit %d, %q; want the program's usage", args, code, out)
		}
	}
	if code, out, _ := runCLI(t, nil, "", "--version"); code != 0 || !strings.HasPrefix(out, "activitybridge ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}
