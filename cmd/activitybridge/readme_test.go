package main

import (
	"os"
	"strings"
	"testing"
)

// readmeBlock returns the fenced code block that follows the line holding marker in README.md.
func readmeBlock(t *testing.T, readme, marker string) string {
	t.Helper()
	i := strings.Index(readme, marker)
	if i < 0 {
		t.Fatalf("README.md has no %q", marker)
	}
	rest := readme[i:]
	start := strings.Index(rest, "```")
	if start < 0 {
		t.Fatalf("no code block after %q", marker)
	}
	rest = rest[start:]
	rest = rest[strings.Index(rest, "\n")+1:] // past the ```lang line
	end := strings.Index(rest, "```")
	if end < 0 {
		t.Fatalf("unclosed code block after %q", marker)
	}
	return rest[:end]
}

// TestReadmeRoutesExample runs the README's `routes` example against the README's own rules, so that the
// example can never drift from what the command prints.
func TestReadmeRoutesExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	rules := readmeBlock(t, readme, "<!-- routes example:")
	session := readmeBlock(t, readme, "<!-- routes output:")
	cmdLine, want, _ := strings.Cut(session, "\n")
	args, ok := strings.CutPrefix(cmdLine, "$ activitybridge ")
	if !ok {
		t.Fatalf("the routes output block starts with %q, want $ activitybridge routes ...", cmdLine)
	}
	code, out, errOut := runCLI(t, map[string]string{"BRIDGE_ROUTES": rules}, "", strings.Fields(args)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != want {
		t.Errorf("README.md shows\n%s\nbut %s prints\n%s", want, cmdLine, out)
	}

	// The failure rule comes first and says continue: a failed deploy of main reaches the failure channel.
	if !strings.Contains(out, "destinations:\n  slack:C0123ABCD\n") {
		t.Errorf("the README's example does not send a failure of main to the failure channel:\n%s", out)
	}

	// The shadowed-rule example of the README is what check prints.
	check := readmeBlock(t, readme, "<!-- check output:")
	cmdLine, want, _ = strings.Cut(check, "\n")
	routes, ok := strings.CutPrefix(cmdLine, "$ BRIDGE_ROUTES='")
	routes, tail, ok2 := strings.Cut(routes, "' ")
	if !ok || !ok2 || tail != "activitybridge check" {
		t.Fatalf("the check example starts with %q, want $ BRIDGE_ROUTES='...' activitybridge check", cmdLine)
	}
	code, out, errOut = runCLI(t, map[string]string{"BRIDGE_ROUTES": routes, "BRIDGE_SHARED_KEY": "k"}, "", "check")
	if code != 0 {
		t.Fatalf("check: exit %d: %s", code, errOut)
	}
	if out != want {
		t.Errorf("README.md shows\n%s\nbut check prints\n%s", want, out)
	}
}
