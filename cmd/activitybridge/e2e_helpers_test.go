package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/pgtest"
)

// binPath is the real binary the end-to-end tests run, built once in TestMain (with -race when the tests run
// with -race, so the binary's own goroutines are checked too). plainBin is built without -race, for tests
// that measure memory (the race detector multiplies it).
var binPath, plainBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "activitybridge-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "activitybridge")
	plainBin = binPath
	args := []string{"build", "-o", binPath}
	if raceEnabled {
		args = append(args, "-race")
		plainBin = filepath.Join(dir, "activitybridge-plain")
	}
	builds := [][]string{append(args, ".")}
	if plainBin != binPath {
		builds = append(builds, []string{"build", "-o", plainBin, "."})
	}
	for _, b := range builds {
		build := exec.Command("go", b...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the binary:", err)
			os.Exit(1)
		}
	}
	code := pgtest.Wrap(m).Run() // stops the PostgreSQL server of the replica tests, when they started it
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bridge is one running activitybridge process.
type bridge struct {
	t              testing.TB
	cmd            *exec.Cmd
	url, admin     string
	stdout, stderr *syncBuffer
	env            map[string]string
	done           chan struct{}
	exitErr        error
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBridge runs the binary with env (BRIDGE_LISTEN, BRIDGE_ADMIN_LISTEN and BRIDGE_DATA_DIR are filled in
// when absent) and waits until /readyz answers 200.
func startBridge(t *testing.T, env map[string]string) *bridge {
	t.Helper()
	return startBinary(t, binPath, env)
}

// startBinary is startBridge with a chosen binary.
func startBinary(t testing.TB, bin string, env map[string]string) *bridge {
	t.Helper()
	full := map[string]string{
		"BRIDGE_LISTEN":       freeAddr(t),
		"BRIDGE_ADMIN_LISTEN": freeAddr(t),
		"BRIDGE_DATA_DIR":     t.TempDir(),
		"BRIDGE_LOG_FORMAT":   "json",
	}
	for k, v := range env {
		full[k] = v
	}
	b := &bridge{t: t, env: full, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	b.url = "http://" + full["BRIDGE_LISTEN"]
	b.admin = full["BRIDGE_ADMIN_LISTEN"]
	b.cmd = exec.Command(bin, "serve")
	b.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range full {
		b.cmd.Env = append(b.cmd.Env, k+"="+v)
	}
	b.cmd.Stdout, b.cmd.Stderr = b.stdout, b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.exitErr = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
		if t.Failed() {
			t.Logf("bridge stderr:\n%s", tail(b.stderr.String(), 4000))
		}
	})
	waitFor(t, 20*time.Second, "the bridge to become ready", func() bool {
		select {
		case <-b.done:
			t.Fatalf("bridge exited during start-up: %v\n%s", b.exitErr, b.stderr.String())
		default:
		}
		resp, err := http.Get(b.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return b
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// post sends body to path (default /webhook), signed with key when key is not empty.
func (b *bridge) post(path string, body []byte, key string) (int, string) {
	b.t.Helper()
	if path == "" {
		path = "/webhook"
	}
	req, err := http.NewRequest(http.MethodPost, b.url+path, bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-JWS-Signature", sign(body, key))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb)
}

func (b *bridge) get(path string) (int, string) {
	b.t.Helper()
	resp, err := http.Get(b.url + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb)
}

// stop sends SIGTERM and returns the exit code.
func (b *bridge) stop() int {
	b.t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		b.t.Fatal("the bridge did not exit within 30s of SIGTERM")
	}
	return b.cmd.ProcessState.ExitCode()
}

// kill sends SIGKILL: no shutdown code runs.
func (b *bridge) kill() {
	b.t.Helper()
	_ = b.cmd.Process.Kill()
	<-b.done
}

// sign makes the X-JWS-Signature Platform.sh sends: HS256 over "<header>.<raw body>" with the base64url-decoded key.
func sign(body []byte, key string) string {
	const hdr = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19"
	k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(key, "="))
	if err != nil {
		k = []byte(key)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(hdr + "."))
	m.Write(body)
	return hdr + ".." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// waitFor polls cond until it holds or the bound passes. The bound is a safety net for a broken build, not
// a timing goal.
func waitFor(t testing.TB, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", bound, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// variant returns a fixture with fields changed: id, state, result, environment (environments[0]).
func variant(t testing.TB, name string, set map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture.Bytes(name), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if k == "environment" {
			m["environments"] = []any{v}
			continue
		}
		m[k] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
