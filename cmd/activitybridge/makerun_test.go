package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeRunReadsDotEnv: `make run` reads .env when it exists (GO is replaced by a script that prints
// what the service would see).
func TestMakeRunReadsDotEnv(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	makefile, err := filepath.Abs("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fakeGo := filepath.Join(dir, "fakego")
	os.WriteFile(fakeGo, []byte("#!/bin/sh\necho \"listen=$BRIDGE_LISTEN routes=$BRIDGE_ROUTES args=$*\"\n"), 0o755)
	run := func() string {
		cmd := exec.Command("make", "-s", "-f", makefile, "run", "GO="+fakeGo)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make run: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run(); !strings.Contains(out, "listen= routes= args=run ./cmd/activitybridge") || strings.Contains(out, "reading .env") {
		t.Errorf("without .env: %q", out)
	}
	os.WriteFile(filepath.Join(dir, ".env"), []byte("# comment\nBRIDGE_LISTEN=127.0.0.1:9999\nBRIDGE_ROUTES=\"*/* continue -> console; a/b -> console\"\n"), 0o600)
	if out := run(); !strings.Contains(out, "make run: reading .env") || !strings.Contains(out, "listen=127.0.0.1:9999 routes=*/* continue -> console; a/b -> console") {
		t.Errorf("with .env: %q", out)
	}
}
