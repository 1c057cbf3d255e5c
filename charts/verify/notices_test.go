package verify

import (
	"strings"
	"testing"
)

// TestProjectNamesAndRepositoriesReachEnv: the projectNames and repositories maps become
// BRIDGE_PROJECT_NAMES and BRIDGE_REPOSITORIES ("id=value,..." sorted by ID), plain env (no secrets),
// and unset when empty; env can still override them.
func TestProjectNamesAndRepositoriesReachEnv(t *testing.T) {
	tests := []struct {
		name, values    string
		wantNames, repo string // "" means unset
	}{
		{"defaults", valuesDefault, "", ""},
		{"both", `projectNames:
  zzzzzzzzzzzzzzz: Blog
  abcdefgh1234567: My Shop — "best" shop
repositories:
  abcdefgh1234567: https://github.com/acme/shop
  zzzzzzzzzzzzzzz: gitlab:https://git.example.com/acme/blog
`, `abcdefgh1234567=My Shop — "best" shop,zzzzzzzzzzzzzzz=Blog`, "abcdefgh1234567=https://github.com/acme/shop,zzzzzzzzzzzzzzz=gitlab:https://git.example.com/acme/blog"},
		{"env overrides", "projectNames:\n  abc: Shop\nenv:\n  BRIDGE_PROJECT_NAMES: abc=Other\n", "abc=Other", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := plainEnv(t, mustRender(t, tt.values).container(t))
			for _, c := range []struct{ key, want string }{{"BRIDGE_PROJECT_NAMES", tt.wantNames}, {"BRIDGE_REPOSITORIES", tt.repo}} {
				got, ok := env[c.key]
				if c.want == "" && ok {
					t.Errorf("%s = %q, want unset", c.key, got)
				}
				if c.want != "" && got != c.want {
					t.Errorf("%s = %q, want %q", c.key, got, c.want)
				}
			}
		})
	}
}

// TestProjectNamesSchema: the schema refuses what BRIDGE_PROJECT_NAMES and BRIDGE_REPOSITORIES cannot hold.
func TestProjectNamesSchema(t *testing.T) {
	for _, tt := range []struct{ values, want string }{
		{"projectNames: [a]\n", "projectNames"},
		{"projectNames:\n  abc: 5\n", "projectNames"},
		{"projectNames:\n  abc: 'Shop, Inc.'\n", "projectNames"},
		{"projectNames:\n  ABC: Shop\n", "ABC"},
		{"repositories:\n  abc: 'https://a.example.com/x, https://b.example.com/y'\n", "repositories"},
		{"repositories: https://github.com/acme/shop\n", "repositories"},
	} {
		t.Run(tt.values, func(t *testing.T) {
			_, err := render(t, tt.values)
			if err == nil {
				t.Fatalf("values %q rendered, want a schema error", tt.values)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want a schema error naming %q", err, tt.want)
			}
		})
	}
}
