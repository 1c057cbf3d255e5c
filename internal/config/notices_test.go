package config

import (
	"strings"
	"testing"
)

func TestProjectNamesAndRepositories(t *testing.T) {
	setEnv(t, map[string]string{
		"BRIDGE_STORE":         "memory",
		"BRIDGE_PROJECT_NAMES": "abcdefgh1234567=My Shop, test_project=Blog ✍️\nxyz=Ünïcode Shop",
		"BRIDGE_REPOSITORIES":  "abcdefgh1234567=https://github.com/acme/shop,test_project=gitlab:https://git.example.com/acme/blog",
	})
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ProjectNames["abcdefgh1234567"]; got != "My Shop" {
		t.Errorf("ProjectNames[abcdefgh1234567] = %q", got)
	}
	if got := c.ProjectNames["xyz"]; got != "Ünïcode Shop" {
		t.Errorf("ProjectNames[xyz] = %q", got)
	}
	if got := c.Repositories["test_project"].CommitURL("2bab04e050279ac078d5d34016f5dd9c466e948d"); got != "https://git.example.com/acme/blog/-/commit/2bab04e050279ac078d5d34016f5dd9c466e948d" {
		t.Errorf("test_project commit URL = %q", got)
	}
	if got := c.Redacted()["BRIDGE_REPOSITORIES"]; got != "abcdefgh1234567=github,test_project=gitlab" {
		t.Errorf("Redacted BRIDGE_REPOSITORIES = %q", got)
	}
}

// A bad value stops start-up with one line naming the variable, the problem and a good value.
func TestProjectNamesAndRepositoriesErrors(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{"BRIDGE_PROJECT_NAMES", "My Shop", `BRIDGE_PROJECT_NAMES: entry 1 ("My Shop") has no project ID before =; use id=title pairs separated by commas, e.g. abcdefgh1234567=My Shop`},
		{"BRIDGE_PROJECT_NAMES", "ABC=Shop", `BRIDGE_PROJECT_NAMES: project ID "ABC" may use only a-z, 0-9, - and _`},
		{"BRIDGE_PROJECT_NAMES", "abc=Shop,abc=Blog", `BRIDGE_PROJECT_NAMES: project ID "abc" is given twice`},
		{"BRIDGE_PROJECT_NAMES", "abc=", `BRIDGE_PROJECT_NAMES: project "abc" has no title after =`},
		{"BRIDGE_PROJECT_NAMES", "abc=" + strings.Repeat("x", 101), `BRIDGE_PROJECT_NAMES: the title of "abc" is longer than 100 characters`},
		{"BRIDGE_PROJECT_NAMES", "abc=a\x1b[31mb", `BRIDGE_PROJECT_NAMES: the title of "abc" holds control characters`},
		{"BRIDGE_REPOSITORIES", "abc=https://git.example.com/acme/shop", `BRIDGE_REPOSITORIES: "abc": the forge of "https://git.example.com/acme/shop" is not known by its host; use id=https://github.com/acme/shop`},
		{"BRIDGE_REPOSITORIES", "abc=github.com/acme/shop", `BRIDGE_REPOSITORIES: "abc": "github.com/acme/shop" is not a repository URL`},
		{"BRIDGE_REPOSITORIES", "abc=https://x.example.com/c/{commit}", `BRIDGE_REPOSITORIES: "abc": template "https://x.example.com/c/{commit}" has no {sha}`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			setEnv(t, map[string]string{"BRIDGE_STORE": "memory", tt.key: tt.value})
			_, err := Load()
			if err == nil {
				t.Fatal("Load: no error")
			}
			if lines := strings.Split(err.Error(), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], tt.want) {
				t.Errorf("error\n%s\nwant one line starting with\n%s", err, tt.want)
			}
		})
	}
}
