package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command in-process with a clean BRIDGE_* environment plus env.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "BRIDGE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func fixturePath(name string) string {
	return filepath.Join("..", "..", "internal", "fixture", name+".json")
}

func TestRenderPrintsWhatWouldBeSent(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		checks func(t *testing.T, out string)
	}{
		{"slack", []string{"render", fixturePath("environment.push")}, func(t *testing.T, out string) {
			var p struct {
				Text   string
				Blocks []map[string]any
			}
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if !strings.Contains(p.Text, "main deployed") || len(p.Blocks) < 3 || p.Blocks[0]["type"] != "header" {
				t.Errorf("unexpected Slack payload: %s", out)
			}
		}},
		{"discord, flags after the file", []string{"render", fixturePath("push-failure"), "--target", "discord"}, func(t *testing.T, out string) {
			var p struct {
				Embeds []struct {
					Title string
					Color int
				}
				AllowedMentions struct{ Parse []string } `json:"allowed_mentions"`
			}
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if len(p.Embeds) != 1 || !strings.Contains(p.Embeds[0].Title, "failed") || p.AllowedMentions.Parse == nil {
				t.Errorf("unexpected Discord payload: %s", out)
			}
		}},
		{"console, compact, from stdin", []string{"render", "--target=console", "--template", "compact", "-"}, func(t *testing.T, out string) {
			if !strings.Contains(out, "main deployed") || strings.Contains(out, "Commits") {
				t.Errorf("compact console output: %s", out)
			}
		}},
	}
	stdin, _ := os.ReadFile(fixturePath("environment.push"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, string(stdin), tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			tt.checks(t, out)
		})
	}
}

func TestBadCommandLinesExitNonZeroWithOneLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"id":"x"}`), 0o644)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		inErr    string
	}{
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"render without file", []string{"render"}, 2, "give one activity file"},
		{"render unknown target", []string{"render", "--target", "teams", fixturePath("environment.push")}, 2, `--target "teams" is not known`},
		{"render unknown flag", []string{"render", "--colour", fixturePath("environment.push")}, 2, "flag provided but not defined"},
		{"render missing file", []string{"render", filepath.Join(dir, "nope.json")}, 1, "no such file"},
		{"render not an activity", []string{"render", bad}, 1, "type"},
		{"render unknown set", []string{"render", "--template", "fancy", fixturePath("environment.push")}, 1, "fancy"},
		{"routes without project", []string{"routes", "--environment", "main"}, 2, "--project and --environment are required"},
		{"deadletters without action", []string{"deadletters"}, 2, "list or replay"},
		{"serve with an argument", []string{"serve", "now"}, 2, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(errOut, tt.inErr) {
				t.Errorf("stderr %q does not say %q", errOut, tt.inErr)
			}
			if tt.name != "render unknown flag" && strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("stderr has more than one line: %q", errOut)
			}
		})
	}
}

func TestRoutesExplainsTheMatch(t *testing.T) {
	routes := "abcdefgh1234567/main -> slack:#deploys\n*/pr-* events=environment.push -> slack-webhook:previews\n*/* results=failure continue -> slack:C0123ABCD\n*/* -> console"
	code, out, errOut := runCLI(t, map[string]string{"BRIDGE_ROUTES": routes}, "",
		"routes", "--project", "zzz", "--environment", "feature/x", "--result", "failure")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"line 1", "no", `project "zzz"`, "line 3", "MATCH", "destinations:", "slack:C0123ABCD", "console"} {
		if !strings.Contains(out, want) {
			t.Errorf("routes output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "slack:#deploys\n") {
		t.Errorf("routes output lists a destination that did not match:\n%s", out)
	}
}

func TestCheck(t *testing.T) {
	t.Run("good configuration", func(t *testing.T) {
		code, out, errOut := runCLI(t, map[string]string{"BRIDGE_ROUTES": "*/* -> console", "BRIDGE_SHARED_KEY": "k"}, "", "check")
		if code != 0 || !strings.HasPrefix(out, "ok:") || !strings.Contains(out, "0 warning(s)\n  line 1: */* -> console\n") || strings.Contains(out, "warning:") {
			t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
		}
	})
	t.Run("bad route", func(t *testing.T) {
		code, _, errOut := runCLI(t, map[string]string{"BRIDGE_ROUTES": "*/* -> slak:#x"}, "", "check")
		if code == 0 || !strings.Contains(errOut, `BRIDGE_ROUTES line 1: unknown target kind "slak"`) {
			t.Fatalf("exit %d, err %q", code, errOut)
		}
	})
	t.Run("route without credentials", func(t *testing.T) {
		code, _, errOut := runCLI(t, map[string]string{"BRIDGE_ROUTES": "*/* -> slack:#deploys"}, "", "check")
		if code == 0 || !strings.Contains(errOut, "BRIDGE_SLACK_TOKEN") {
			t.Fatalf("exit %d, err %q", code, errOut)
		}
	})
	t.Run("broken template", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "environment.push.tmpl"), []byte(`{{define "title"}}{{.NoSuchField}}{{end}}`), 0o644)
		code, _, errOut := runCLI(t, map[string]string{"BRIDGE_TEMPLATES_DIR": dir}, "", "check")
		if code == 0 || !strings.Contains(errOut, "environment.push.tmpl") || !strings.Contains(errOut, "NoSuchField") {
			t.Fatalf("exit %d, err %q", code, errOut)
		}
	})
	t.Run("bad variable", func(t *testing.T) {
		code, _, errOut := runCLI(t, map[string]string{"BRIDGE_MAX_BODY": "32XB"}, "", "check")
		if code == 0 || !strings.Contains(errOut, "BRIDGE_MAX_BODY") || !strings.Contains(errOut, "32MiB") {
			t.Fatalf("exit %d, err %q", code, errOut)
		}
	})
	t.Run("unknown template set in a route", func(t *testing.T) {
		code, _, errOut := runCLI(t, map[string]string{"BRIDGE_ROUTES": "*/* -> console@fancy"}, "", "check")
		if code == 0 || !strings.Contains(errOut, `BRIDGE_ROUTES line 1: target console@fancy names template set "fancy", which does not exist`) {
			t.Fatalf("exit %d, err %q", code, errOut)
		}
	})
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "", "version")
	if code != 0 || !strings.HasPrefix(out, "activitybridge ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}
