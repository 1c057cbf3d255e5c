package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runSend runs `activitybridge send args...` as a user would, with the bridge's own environment.
func runSend(t *testing.T, b *bridge, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"send"}, args...)...)
	cmd.Env = b.cmd.Env
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestSendSignedTestActivity is the first hour: a bridge with a shared key and a path token, and
// `activitybridge send` gets a notice through; a re-post and an unrouted activity say why nothing was queued.
func TestSendSignedTestActivity(t *testing.T) {
	const token = "3f9d2c6a41b87e05d1c4a9f2e6b3d870"
	b := startBridge(t, map[string]string{
		"BRIDGE_SHARED_KEY": "change-me-to-the-integrations-shared-key",
		"BRIDGE_PATH_TOKEN": token,
		"BRIDGE_ROUTES":     "*/main -> console",
	})

	code, out, errOut := runSend(t, b)
	if code != 0 || !strings.Contains(out, "sample environment.push") || !strings.Contains(out, "signed with BRIDGE_SHARED_KEY") ||
		!strings.Contains(out, "202 Accepted {\"activity\":\"send-") || !strings.Contains(out, `"queued":1}`) {
		t.Fatalf("send: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if strings.Contains(out, token) {
		t.Errorf("send printed the path token: %s", out)
	}
	waitFor(t, 10e9, "the notice on the console", func() bool { return strings.Contains(b.stdout.String(), "main deployed") })

	// A sample gets a fresh id each time: a second send is a second notice.
	if code, out, _ := runSend(t, b, "--sample", "push-failure"); code != 0 || !strings.Contains(out, `"queued":1`) {
		t.Errorf("second sample: exit %d, %s", code, out)
	}

	// A file keeps its id: posting it twice is a duplicate, and says so.
	file := filepath.Join(t.TempDir(), "push.json")
	os.WriteFile(file, readFixture(t, "environment.push"), 0o644)
	if code, out, _ := runSend(t, b, file); code != 0 || !strings.Contains(out, `"queued":1}`) {
		t.Fatalf("file: exit %d, %s", code, out)
	}
	if code, out, _ := runSend(t, b, file); code != 0 || !strings.Contains(out, `200 OK {"activity":"`) || !strings.Contains(out, `"queued":0,"reason":"duplicate"}`) {
		t.Errorf("file again: exit %d, %s", code, out)
	}
	// --project makes the sample one of the user's projects: the notice names it.
	if code, out, _ := runSend(t, b, "--project", "zzzzzzzzzzzzzzz"); code != 0 || !strings.Contains(out, `"queued":1`) {
		t.Errorf("--project: exit %d, %s", code, out)
	}
	waitFor(t, 10e9, "the notice of project zzzzzzzzzzzzzzz", func() bool { return strings.Contains(b.stdout.String(), "zzzzzzzzzzzzzzz") })
	// No rule for feature-x: unmatched.
	if code, out, _ := runSend(t, b, "--sample", "branch"); code != 0 || !strings.Contains(out, `"queued":0,"reason":"unmatched"}`) {
		t.Errorf("unrouted sample: exit %d, %s", code, out)
	}

	_, metrics := b.get("/metrics")
	for _, want := range []string{
		`activitybridge_webhooks_received_total{outcome="accepted"} 4`,
		`activitybridge_webhooks_received_total{outcome="duplicate"} 1`,
		`activitybridge_webhooks_received_total{outcome="unmatched"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	logs := b.stderr.String()
	for _, want := range []string{`"outcome":"duplicate"`, `"outcome":"unmatched"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}

	// A compressed body gets a 400 that says so.
	gz := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}
	if code, ans := b.post("/webhook/"+token, gz, "change-me-to-the-integrations-shared-key"); code != 400 || !strings.Contains(ans, "gzip-compressed; send plain JSON") {
		t.Errorf("gzip body: %d %s", code, ans)
	}

	// Without the key, the bridge refuses, and send says so with a non-zero exit.
	cmd := exec.Command(binPath, "send", "--url", b.url+"/webhook/"+token)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	outb, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(outb), "401 Unauthorized") {
		t.Errorf("unsigned send: %v\n%s", err, outb)
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixturePath(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
