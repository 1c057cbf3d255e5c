package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecondSignalExitsAtOnce: the first SIGTERM (or SIGINT) starts the drain, which waits for requests in
// flight; a second one during it ends the process at once, with status 128 + the signal's number.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		code int
	}{{"SIGTERM", syscall.SIGTERM, 143}, {"SIGINT", syscall.SIGINT, 130}} {
		t.Run(tt.name, func(t *testing.T) {
			b := startBridge(t, nil)
			// A webhook whose body keeps arriving (above the minimum rate) holds the drain for the whole
			// shutdown timeout (10 s).
			c, err := net.Dial("tcp", strings.TrimPrefix(b.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{\"id\":\"")
			stopTrickle := make(chan struct{})
			defer close(stopTrickle)
			go func() {
				for {
					select {
					case <-stopTrickle:
						return
					case <-time.After(100 * time.Millisecond):
						if _, err := c.Write([]byte(strings.Repeat("x", 512))); err != nil {
							return
						}
					}
				}
			}()
			time.Sleep(300 * time.Millisecond) // the request is in flight

			_ = b.cmd.Process.Signal(tt.sig)
			waitFor(t, 10*time.Second, "the drain to start", func() bool {
				return strings.Contains(b.stderr.String(), "shutting down")
			})
			select {
			case <-b.done:
				t.Fatalf("the bridge exited on the first signal (%v) while a request was in flight; want it draining", b.exitErr)
			default:
			}
			_ = b.cmd.Process.Signal(tt.sig)
			select {
			case <-b.done:
			case <-time.After(5 * time.Second): // the drain alone would take 10 s
				t.Fatal("the bridge did not exit on the second signal")
			}
			if got := b.cmd.ProcessState.ExitCode(); got != tt.code {
				t.Errorf("exit status = %d, want %d", got, tt.code)
			}
			if out := b.stderr.String(); !strings.Contains(out, "second "+tt.name) || strings.Contains(out, "goroutine ") {
				t.Errorf("stderr does not say why it exited, or shows a goroutine dump:\n%s", tail(out, 2000))
			}
		})
	}
}

// TestDamagedBoltFile: start-up on a damaged queue file exits 1 with one line that names the file and the
// way out, never a panic or a goroutine dump; once the file is moved aside, the service starts.
func TestDamagedBoltFile(t *testing.T) {
	// A real queue file first: the service writes it, then stops.
	dir := t.TempDir()
	b := startBridge(t, map[string]string{"BRIDGE_DATA_DIR": dir})
	for i := range 50 {
		if code, body := b.post("", variant(t, "environment.push", map[string]any{"id": fmt.Sprint("dmg", i)}), ""); code != 202 {
			t.Fatalf("webhook = %d %s, want 202", code, body)
		}
	}
	if code := b.stop(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	path := filepath.Join(dir, "activitybridge.db")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damaged := map[string][]byte{"truncated to 8 KiB": orig[:8<<10], "truncated to 16 KiB": orig[:16<<10]}
	zeroed := append([]byte(nil), orig...)
	clear(zeroed[2*4096 : 6*4096])
	damaged["pages 2-5 zeroed"] = zeroed
	for name, content := range damaged {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binPath, "serve")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "BRIDGE_DATA_DIR=" + dir, "BRIDGE_LISTEN=" + freeAddr(t),
				"BRIDGE_ADMIN_LISTEN=" + freeAddr(t), "BRIDGE_LOG_FORMAT=json"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
				t.Fatalf("exit = %v, want status 1\n%s", err, stderr.String())
			}
			var last string
			for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if !strings.HasPrefix(line, "{") { // the JSON log lines before it
					if last != "" {
						t.Errorf("more than one line of error: %q, then %q", last, line)
					}
					last = line
				}
			}
			if !strings.Contains(last, path) || !strings.Contains(last, "damaged") || !strings.Contains(last, "move it aside") {
				t.Errorf("error line = %q; want it to name %s, say it is damaged and the way out", last, path)
			}
			if out := stderr.String(); strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("stderr shows a panic or a goroutine dump:\n%s", tail(out, 2000))
			}
		})
	}
	// The way out works: moved aside, the service starts on a new file.
	if err := os.Rename(path, path+".damaged"); err != nil {
		t.Fatal(err)
	}
	startBridge(t, map[string]string{"BRIDGE_DATA_DIR": dir}).stop()
}

// TestReadyzOnFullDisk: with the data folder on a full tmpfs, webhooks get 503 and so does /readyz, saying
// why; once space is freed, /readyz turns 200 again (its probe write succeeds) and webhooks are accepted.
// It needs root to mount the tmpfs, and is skipped without.
func TestReadyzOnFullDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	b := startBridge(t, map[string]string{"BRIDGE_DATA_DIR": dir})

	// Fill what is left of the tmpfs.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()

	text := strings.Repeat("long text ", 3000)
	refused := false
	for i := 0; i < 200 && !refused; i++ {
		code, _ := b.post("", variant(t, "environment.push", map[string]any{"id": fmt.Sprint("full", i), "text": text}), "")
		refused = code == 503
	}
	if !refused {
		t.Fatal("no webhook got 503 on a full disk")
	}
	if code, body := b.get("/readyz"); code != 503 || !strings.Contains(body, "no space left") {
		t.Errorf("/readyz on a full disk = %d %s, want 503 saying there is no space left", code, body)
	}
	if n := strings.Count(b.stderr.String(), "store write failed"); n != 1 {
		t.Errorf("the failure was logged %d times, want once", n)
	}

	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	if code, body := b.get("/readyz"); code != 200 {
		t.Errorf("/readyz once space is freed = %d %s, want 200", code, body)
	}
	if code, body := b.post("", variant(t, "environment.push", map[string]any{"id": "after-full"}), ""); code != 202 {
		t.Errorf("webhook once space is freed = %d %s, want 202", code, body)
	}
}
