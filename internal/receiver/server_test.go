package receiver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// startServer serves h through NewServer on a real loopback listener; tweak adjusts the server (short
// timeouts) before it starts. The server is shut down when the test ends.
func startServer(t *testing.T, h http.Handler, tweak func(*http.Server)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ln.Addr().String(), h)
	if tweak != nil {
		tweak(srv)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve() = %v, want http.ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

// dial opens a raw connection with a deadline that only guards against a hung test.
func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c.(*net.TCPConn)
}

// readStatus reads one HTTP response from c and returns its status and JSON error (if any).
func readStatus(t *testing.T, c net.Conn) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	var v struct{ Error string }
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &v)
	return resp.StatusCode, v.Error
}

func rawPost(contentLength int, body string) string {
	return fmt.Sprintf("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", contentLength, body)
}

// jsonAccept refuses bodies that are not JSON, as the real Accept does.
func jsonAccept(acc *fakeAccept) Accept {
	return func(ctx context.Context, body []byte) (string, int, error) {
		if !json.Valid(body) {
			acc.accept(ctx, body)
			return "", 0, fmt.Errorf("%w: body is not JSON", ErrBadRequest)
		}
		return acc.accept(ctx, body)
	}
}

func TestServerContentLengthLies(t *testing.T) {
	const limit = 100
	tests := []struct {
		name          string
		contentLength int
		body          string
		closeWrite    bool // the client ends its side after body, so a short body ends in EOF
		wantStatus    int
		wantError     string
		wantAccepted  string // the body Accept saw; "" = Accept not called
	}{
		{"honest", 7, `{"a":1}`, false, 202, "", `{"a":1}`},
		{"says less than sent: only the declared bytes are read", 4, `{"a":1}`, false, 400, "not JSON", `{"a"`},
		{"says less than sent, sent over the cap", 7, `{"a":1}` + strings.Repeat(" ", 2*limit), false, 202, "", `{"a":1}`},
		{"says more than sent", 50, `{"a":1}`, true, 400, "could not read", ""},
		{"says over the cap, sends little", limit + 1, `{"a":1}`, false, 413, "limit of 100 bytes", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc := &fakeAccept{id: "a1", queued: 1}
			h, err := NewHandler(Options{MaxBody: limit}, jsonAccept(acc), zerolog.Nop(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			addr := startServer(t, h, nil)
			c := dial(t, addr)
			if _, err := io.WriteString(c, rawPost(tt.contentLength, tt.body)); err != nil {
				t.Fatal(err)
			}
			if tt.closeWrite {
				c.CloseWrite()
			}
			status, msg := readStatus(t, c)
			if status != tt.wantStatus || !strings.Contains(msg, tt.wantError) {
				t.Errorf("answer = %d %q, want %d with an error containing %q", status, msg, tt.wantStatus, tt.wantError)
			}
			switch {
			case tt.wantAccepted == "" && acc.calls() != 0:
				t.Errorf("Accept called with %q, want no call", acc.bodies[0])
			case tt.wantAccepted != "" && (acc.calls() != 1 || string(acc.bodies[0]) != tt.wantAccepted):
				t.Errorf("Accept got %q, want exactly %q", acc.bodies, tt.wantAccepted)
			}
		})
	}
}

// TestServerStalledClient: a client that sends its headers and half a body, then stalls, neither holds up
// other clients nor keeps its body slot past the server's ReadTimeout.
func TestServerStalledClient(t *testing.T) {
	const body = `{"id":"a1"}`
	stall := func(t *testing.T, addr string) net.Conn {
		c := dial(t, addr)
		if _, err := io.WriteString(c, rawPost(len(body), body[:5])); err != nil {
			t.Fatal(err)
		}
		return c
	}
	post := func(t *testing.T, addr string) int {
		c := dial(t, addr)
		if _, err := io.WriteString(c, rawPost(len(body), body)); err != nil {
			t.Fatal(err)
		}
		status, _ := readStatus(t, c)
		return status
	}

	t.Run("others are served while it stalls", func(t *testing.T) {
		acc := &fakeAccept{id: "a1", queued: 1}
		h := newTestHandler(t, Options{}, acc)
		addr := startServer(t, h, nil) // default ReadTimeout: the stalled client stays for the whole subtest
		stalled := stall(t, addr)
		for i := range 3 {
			if got := post(t, addr); got != http.StatusAccepted {
				t.Errorf("request %d while a client stalls: status = %d, want 202", i, got)
			}
		}
		// The stalled request is still open and has not reached Accept.
		stalled.SetReadDeadline(time.Now())
		if _, err := stalled.Read(make([]byte, 1)); !isTimeout(err) {
			t.Errorf("stalled connection: read = %v, want it still open with nothing to read", err)
		}
		if got := acc.calls(); got != 3 {
			t.Errorf("Accept called %d times, want 3 (not for the stalled body)", got)
		}
	})

	t.Run("it is cut off and frees its slot", func(t *testing.T) {
		acc := &fakeAccept{id: "a1", queued: 1}
		// Room for one piece, and a wait long enough that the next request can only succeed once the stalled
		// one is cut off by the idle limit and gives its memory back.
		h := newTestHandler(t, Options{BodyWait: 20 * time.Second, BodyIdle: 300 * time.Millisecond}, acc)
		h.(*handler).mem = newBudget(bodyChunk, defaultFairness)
		addr := startServer(t, h, nil)
		stalled := stall(t, addr)
		// The stalled connection ends: with an error answer or by being closed, never by our guard deadline.
		resp, err := http.ReadResponse(bufio.NewReader(stalled), nil)
		switch {
		case err == nil:
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("stalled request answered %d, want an error status", resp.StatusCode)
			}
		case isTimeout(err):
			t.Fatalf("stalled connection was not cut off: %v", err)
		}
		if got := post(t, addr); got != http.StatusAccepted {
			t.Errorf("request after the stalled one: status = %d, want 202", got)
		}
		if got := acc.calls(); got != 1 {
			t.Errorf("Accept called %d times, want 1", got)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestNewServerTimeouts(t *testing.T) {
	srv := NewServer(":0", http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s = %v, want a positive timeout", name, d)
		}
	}
	if srv.WriteTimeout <= srv.ReadTimeout {
		t.Errorf("WriteTimeout %v <= ReadTimeout %v: a body read at the limit would leave no time to answer",
			srv.WriteTimeout, srv.ReadTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d, want a positive cap below the 1 MiB default", srv.MaxHeaderBytes)
	}
	if srv.Addr != ":0" {
		t.Errorf("Addr = %q, want :0", srv.Addr)
	}
}
