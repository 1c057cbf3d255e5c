package main

import (
	"fmt"
	"net"
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
