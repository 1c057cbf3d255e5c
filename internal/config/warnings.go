package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/activitybridge/activitybridge/internal/route"
)

// Warnings returns what serve logs and check prints as warnings: a configuration that works but most
// likely not as meant. environ is os.Environ(). Each warning is one line and names what to change:
// unknown BRIDGE_* variables (a misspelt name is otherwise silently ignored), an empty BRIDGE_ROUTES,
// a webhook endpoint that anyone can post to (no shared key and no path token), and routing rules that
// can never match because an earlier rule catches everything they would, and mention= tokens for a
// service the rule sends to no target on (they would never ping anyone).
func (c *Config) Warnings(environ []string) []string {
	var out []string
	for _, name := range Unknown(environ) {
		out = append(out, fmt.Sprintf("unknown variable %s is ignored; check its spelling against .env.example", name))
	}
	if c.Table == nil || c.Table.Default {
		out = append(out, "BRIDGE_ROUTES is empty: every notice goes to the console (stdout); set routes to reach Slack or Discord")
	}
	if c.SharedKey.Value() == "" && c.PathToken.Value() == "" {
		out = append(out, fmt.Sprintf("the webhook endpoint (BRIDGE_LISTEN %s) accepts unsigned requests from anyone who can reach it; "+
			"set BRIDGE_SHARED_KEY to the integration's shared key, or at least BRIDGE_PATH_TOKEN", c.Listen))
	}
	if c.Table != nil {
		for _, s := range c.Table.Shadowed() {
			out = append(out, s.String())
		}
		for _, r := range c.Table.Rules {
			out = append(out, unusedMentions(r)...)
		}
	}
	return out
}

// unusedMentions returns one warning per mention= service of rule r that none of r's targets is on:
// such a mention is never sent (a console target takes no mentions).
func unusedMentions(r route.Rule) []string {
	on := map[string]bool{}
	for _, t := range r.Targets {
		on[route.MentionService(t.Kind)] = true
	}
	var out []string
	warned := map[string]bool{}
	for _, m := range r.Mentions {
		if on[m.Service] || warned[m.Service] {
			continue
		}
		warned[m.Service] = true
		out = append(out, fmt.Sprintf("BRIDGE_ROUTES line %d: mention=%s:… never pings anyone: the rule has no %s target; "+
			"add a %s target to the rule or drop its %s mentions", r.Line, m.Service, m.Service, m.Service, m.Service))
	}
	return out
}

// DataDirError turns an error opening the bolt file under dir into one line that names BRIDGE_DATA_DIR
// and the path once, and says what to do. An error that already names BRIDGE_DATA_DIR (the file is
// locked by another process) is returned as it is.
func DataDirError(dir string, err error) error {
	if strings.Contains(err.Error(), "BRIDGE_DATA_DIR") {
		return err
	}
	const fix = "set BRIDGE_DATA_DIR to a folder the service can create and write, e.g. ./data"
	var pe *fs.PathError
	if errors.As(err, &pe) {
		what := "open"
		if pe.Op == "mkdir" {
			what = "create the folder"
		}
		return fmt.Errorf("BRIDGE_DATA_DIR: cannot %s %s: %w; %s", what, pe.Path, pe.Err, fix)
	}
	return fmt.Errorf("BRIDGE_DATA_DIR %s: %w; %s", dir, err, fix)
}

// ReadSecret returns the value of the secret variable name (e.g. BRIDGE_SHARED_KEY) from the process
// environment, or from the file named by name_FILE, with Load's rules (one final newline dropped; not
// both set). It is for commands that need one secret without a whole valid configuration
// (`activitybridge send`). "" means neither is set.
func ReadSecret(name string) (string, error) {
	value, path := os.Getenv(name), os.Getenv(name+"_FILE")
	switch {
	case path == "":
		return value, nil
	case value != "":
		return "", fmt.Errorf("%s and %s_FILE are both set; set only one", name, name)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("%s_FILE: cannot read %q: %v", name, path, err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r"), nil
}
