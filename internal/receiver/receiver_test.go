package receiver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeAccept answers every body with the same result and records what it was given.
type fakeAccept struct {
	id     string
	queued int
	err    error

	mu     sync.Mutex
	bodies [][]byte
	ctxErr []error
}

func (f *fakeAccept) accept(ctx context.Context, body []byte) (string, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies = append(f.bodies, bytes.Clone(body))
	f.ctxErr = append(f.ctxErr, ctx.Err())
	if f.err != nil {
		return f.id, 0, f.err
	}
	return f.id, f.queued, nil
}

func (f *fakeAccept) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

func newTestHandler(t testing.TB, opts Options, acc *fakeAccept) http.Handler {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := NewHandler(opts, acc.accept, zerolog.Nop(), reg, reg)
	if err != nil {
		t.Fatalf("NewHandler() error = %v", err)
	}
	return h
}

// decodeError checks that rec holds a JSON error answer and returns its message.
func decodeError(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var v struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.Error == nil || *v.Error == "" {
		t.Errorf("body = %q, want a JSON object with a non-empty error", rec.Body)
		return ""
	}
	return *v.Error
}

func TestHandlerHTTP(t *testing.T) {
	const body = `{"id":"a1","type":"environment.push","project":"p"}`
	signed := jws(goodHeaderJSON, []byte("k"), []byte(body))
	notReady := func() error { return errors.New("store is not writable") }
	tests := []struct {
		name       string
		opts       Options
		acc        *fakeAccept
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantBody   string // exact JSON for success answers
		wantError  string // substring of the JSON error
		wantHeader map[string]string
		wantCalls  int
	}{
		{name: "accepted", acc: &fakeAccept{id: "a1", queued: 2}, method: "POST", path: "/webhook", body: body,
			wantStatus: 202, wantBody: `{"activity":"a1","queued":2}`, wantCalls: 1},
		{name: "nothing matched", acc: &fakeAccept{id: "a1", err: ErrUnmatched}, method: "POST", path: "/webhook", body: body,
			wantStatus: 200, wantBody: `{"activity":"a1","queued":0,"reason":"unmatched"}`, wantCalls: 1},
		{name: "duplicate", acc: &fakeAccept{id: "a1", err: ErrDuplicate}, method: "POST", path: "/webhook", body: body,
			wantStatus: 200, wantBody: `{"activity":"a1","queued":0,"reason":"duplicate"}`, wantCalls: 1},
		{name: "signed, shared key set", opts: Options{SharedKey: "k"}, acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook", body: body, header: map[string]string{"X-JWS-Signature": signed},
			wantStatus: 202, wantBody: `{"activity":"a1","queued":1}`, wantCalls: 1},
		{name: "signed, no shared key set", acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook", body: body, header: map[string]string{"X-JWS-Signature": "garbage"},
			wantStatus: 202, wantBody: `{"activity":"a1","queued":1}`, wantCalls: 1},
		{name: "not an activity", acc: &fakeAccept{err: fmt.Errorf("%w: activity has no id", ErrBadRequest)},
			method: "POST", path: "/webhook", body: `{"x":1}`,
			wantStatus: 400, wantError: "activity has no id", wantCalls: 1},
		{name: "missing signature", opts: Options{SharedKey: "k"}, acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook", body: body, wantStatus: 401, wantError: "missing X-JWS-Signature"},
		{name: "signature by another key", opts: Options{SharedKey: "other"}, acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook", body: body, header: map[string]string{"X-JWS-Signature": signed},
			wantStatus: 401, wantError: "does not match"},
		{name: "right path token", opts: Options{PathToken: "t0k3n"}, acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook/t0k3n", body: body, wantStatus: 202, wantBody: `{"activity":"a1","queued":1}`, wantCalls: 1},
		{name: "wrong path token", opts: Options{PathToken: "t0k3n"}, acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook/t0k3m", body: body, wantStatus: 401, wantError: "path token"},
		{name: "token prefix only", opts: Options{PathToken: "t0k3n"}, acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook/t0k", body: body, wantStatus: 401, wantError: "path token"},
		{name: "token plus more path", opts: Options{PathToken: "t0k3n"}, acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook/t0k3n/x", body: body, wantStatus: 401, wantError: "path token"},
		{name: "no token when one is set", opts: Options{PathToken: "t0k3n"}, acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook", body: body, wantStatus: 401, wantError: "path token"},
		{name: "empty token when one is set", opts: Options{PathToken: "t0k3n"}, acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook/", body: body, wantStatus: 401, wantError: "path token"},
		{name: "path token and signature both required", opts: Options{PathToken: "t0k3n", SharedKey: "k"},
			acc: &fakeAccept{id: "a1", queued: 1}, method: "POST", path: "/webhook/t0k3n", body: body,
			wantStatus: 401, wantError: "signature"},
		{name: "token path without a token configured", acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook/t0k3n", body: body, wantStatus: 404, wantError: "not found"},
		{name: "body over the cap", opts: Options{MaxBody: 10}, acc: &fakeAccept{id: "a1", queued: 1},
			method: "POST", path: "/webhook", body: body, wantStatus: 413, wantError: "limit of 10 bytes"},
		{name: "store cannot persist", acc: &fakeAccept{err: fmt.Errorf("outbox: %w: disk full", ErrUnavailable)},
			method: "POST", path: "/webhook", body: body, wantStatus: 503, wantError: "retry later",
			wantHeader: map[string]string{"Retry-After": "10"}, wantCalls: 1},
		{name: "unexpected accept error", acc: &fakeAccept{err: errors.New("render: template panicked at /secret/path")},
			method: "POST", path: "/webhook", body: body, wantStatus: 500, wantError: "internal error", wantCalls: 1},
		{name: "GET webhook", method: "GET", path: "/webhook", wantStatus: 405, wantError: "not allowed",
			wantHeader: map[string]string{"Allow": "POST"}},
		{name: "PUT on a token path", opts: Options{PathToken: "t0k3n"}, method: "PUT", path: "/webhook/wrong",
			wantStatus: 405, wantError: "not allowed", wantHeader: map[string]string{"Allow": "POST"}},
		{name: "healthz", method: "GET", path: "/healthz", wantStatus: 200, wantBody: `{"status":"ok"}`},
		{name: "healthz while not ready", opts: Options{Ready: notReady}, method: "GET", path: "/healthz",
			wantStatus: 200, wantBody: `{"status":"ok"}`},
		{name: "POST healthz", method: "POST", path: "/healthz", wantStatus: 405, wantError: "not allowed",
			wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "readyz without a Ready func", method: "GET", path: "/readyz", wantStatus: 200, wantBody: `{"status":"ready"}`},
		{name: "readyz ready", opts: Options{Ready: func() error { return nil }}, method: "GET", path: "/readyz",
			wantStatus: 200, wantBody: `{"status":"ready"}`},
		{name: "readyz not ready", opts: Options{Ready: notReady}, method: "GET", path: "/readyz",
			wantStatus: 503, wantError: "not ready: store is not writable"},
		{name: "DELETE readyz", method: "DELETE", path: "/readyz", wantStatus: 405, wantError: "not allowed",
			wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "POST metrics", method: "POST", path: "/metrics", wantStatus: 405, wantError: "not allowed",
			wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "unknown path", method: "GET", path: "/nope", wantStatus: 404, wantError: "not found"},
		{name: "webhooks is not webhook", method: "POST", path: "/webhooks", body: body, wantStatus: 404, wantError: "not found"},
		{name: "root", method: "GET", path: "/", wantStatus: 404, wantError: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.acc == nil {
				tt.acc = &fakeAccept{}
			}
			h := newTestHandler(t, tt.opts, tt.acc)
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantError != "" {
				if msg := decodeError(t, rec); !strings.Contains(msg, tt.wantError) {
					t.Errorf("error = %q, want it to contain %q", msg, tt.wantError)
				}
			} else {
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
				if got := strings.TrimSpace(rec.Body.String()); got != tt.wantBody {
					t.Errorf("body = %s, want %s", got, tt.wantBody)
				}
			}
			for k, want := range tt.wantHeader {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if got := tt.acc.calls(); got != tt.wantCalls {
				t.Errorf("Accept called %d times, want %d", got, tt.wantCalls)
			}
			if tt.wantCalls > 0 && string(tt.acc.bodies[0]) != tt.body {
				t.Errorf("Accept got body %q, want %q", tt.acc.bodies[0], tt.body)
			}
			if strings.Contains(rec.Body.String(), "/secret/path") {
				t.Errorf("answer %q leaks the text of an internal error", rec.Body)
			}
		})
	}
}

func TestHandlerMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	acc := &fakeAccept{id: "a1", queued: 1}
	h, err := NewHandler(Options{MaxBody: 100}, acc.accept, zerolog.Nop(), reg, reg)
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/webhook", strings.NewReader(body)))
	}
	post(`{}`)
	post(`{}`)
	post(strings.Repeat("x", 101))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/webhook", nil)) // 405: not a webhook

	const want = `
# HELP activitybridge_webhooks_received_total Webhook requests received, by outcome.
# TYPE activitybridge_webhooks_received_total counter
activitybridge_webhooks_received_total{outcome="accepted"} 2
activitybridge_webhooks_received_total{outcome="bad_request"} 0
activitybridge_webhooks_received_total{outcome="duplicate"} 0
activitybridge_webhooks_received_total{outcome="error"} 0
activitybridge_webhooks_received_total{outcome="too_large"} 1
activitybridge_webhooks_received_total{outcome="unauthorized"} 0
activitybridge_webhooks_received_total{outcome="unavailable"} 0
activitybridge_webhooks_received_total{outcome="unmatched"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "activitybridge_webhooks_received_total"); err != nil {
		t.Error(err)
	}
	if got, err := testutil.GatherAndCount(reg, "activitybridge_webhook_duration_seconds"); err != nil || got != 1 {
		t.Errorf("duration histogram series = %d (%v), want 1", got, err)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("GET /metrics = %d %q, want 200 text/plain", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, s := range []string{`activitybridge_webhooks_received_total{outcome="accepted"} 2`, `activitybridge_webhook_duration_seconds_count 3`} {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("GET /metrics does not contain %q", s)
		}
	}

	if _, err := NewHandler(Options{}, acc.accept, zerolog.Nop(), reg, reg); err == nil {
		t.Error("NewHandler() registering the same metrics twice succeeded, want an error")
	}
}

func TestNewHandlerOptions(t *testing.T) {
	acc := (&fakeAccept{}).accept
	tests := []struct {
		name    string
		opts    Options
		accept  Accept
		wantErr string
	}{
		{"zero options", Options{}, acc, ""},
		{"nil accept", Options{}, nil, "accept"},
		{"token with slash", Options{PathToken: "a/b"}, acc, "path token"},
		{"negative max body", Options{MaxBody: -1}, acc, "max body"},
		{"negative body memory", Options{BodyMemory: -1}, acc, "body memory"},
		{"body memory below a body at the cap", Options{MaxBody: 1 << 20, BodyMemory: 1 << 20}, acc, "cannot hold a body at the cap"},
		{"negative body idle", Options{BodyIdle: -1}, acc, "body idle"},
		{"negative body wait", Options{BodyWait: -1}, acc, "body wait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHandler(tt.opts, tt.accept, zerolog.Nop(), nil, nil)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("NewHandler() error = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("NewHandler() error = %v, want one mentioning %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "a/b") {
				t.Errorf("NewHandler() error %q contains the path token", err)
			}
		})
	}
}

func TestHandlerBodySize(t *testing.T) {
	const limit = 100
	tests := []struct {
		name       string
		size       int
		chunked    bool // no Content-Length: only the capped reader can catch it
		wantStatus int
	}{
		{"just under", limit - 1, false, 202},
		{"at the cap", limit, false, 202},
		{"just over", limit + 1, false, 413},
		{"far over", 10 * limit, false, 413},
		{"chunked at the cap", limit, true, 202},
		{"chunked just over", limit + 1, true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc := &fakeAccept{id: "a1", queued: 1}
			h := newTestHandler(t, Options{MaxBody: limit}, acc)
			body := bytes.Repeat([]byte("x"), tt.size)
			req := httptest.NewRequest("POST", "/webhook", bytes.NewReader(body))
			if tt.chunked {
				req.Body = io.NopCloser(bytes.NewReader(body))
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			wantCalls := 0
			if tt.wantStatus == 202 {
				wantCalls = 1
				if got := len(acc.bodies[0]); got != tt.size {
					t.Errorf("Accept got %d bytes, want %d", got, tt.size)
				}
			} else if msg := decodeError(t, rec); !strings.Contains(msg, "limit") {
				t.Errorf("error = %q, want it to name the limit", msg)
			}
			if got := acc.calls(); got != wantCalls {
				t.Errorf("Accept called %d times, want %d", got, wantCalls)
			}
		})
	}
}

// stallingBody is a request body that sends first (maybe nothing), then blocks in its next Read until
// released (then EOF), closing stalled when it starts to block.
type stallingBody struct {
	first   []byte
	stalled chan struct{}
	release chan struct{}
	reads   int
}

func (b *stallingBody) Read(p []byte) (int, error) {
	b.reads++
	if b.reads == 1 {
		return copy(p, b.first), nil
	}
	if b.reads == 2 {
		close(b.stalled)
	}
	<-b.release
	return 0, io.EOF
}

func (b *stallingBody) Close() error { return nil }

// serveSlow serves a POST /webhook whose body is slow, declared as length bytes (-1: unknown), in the
// background; done closes once it is answered in rec.
func serveSlow(h http.Handler, slow *stallingBody, length int64) (rec *httptest.ResponseRecorder, done chan struct{}) {
	req := httptest.NewRequest("POST", "/webhook", nil)
	req.Body, req.ContentLength = slow, length
	rec, done = httptest.NewRecorder(), make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, req)
	}()
	return rec, done
}

func TestHandlerBodySlots(t *testing.T) {
	acc := &fakeAccept{id: "a1", queued: 1}
	h := newTestHandler(t, Options{BodyWait: 1}, acc)
	h.(*handler).mem = newBudget(bodyChunk, defaultFairness) // room for one piece: the slow body takes it all

	slow := &stallingBody{stalled: make(chan struct{}), release: make(chan struct{})}
	slowRec, done := serveSlow(h, slow, -1)
	<-slow.stalled // the slow request holds all the body memory

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/webhook", strings.NewReader("{}")))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("while the body memory is held: status = %d, Retry-After = %q; want 503 with Retry-After",
			rec.Code, rec.Header().Get("Retry-After"))
	}
	if msg := decodeError(t, rec); !strings.Contains(msg, "too many") {
		t.Errorf("error = %q, want it to say there are too many requests", msg)
	}

	close(slow.release)
	<-done
	if slowRec.Code != http.StatusAccepted {
		t.Errorf("slow request status = %d, want 202", slowRec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/webhook", strings.NewReader("{}")))
	if rec.Code != http.StatusAccepted {
		t.Errorf("after the memory is freed: status = %d, want 202", rec.Code)
	}
}

func TestAcceptContextOutlivesClient(t *testing.T) {
	acc := &fakeAccept{id: "a1", queued: 1}
	h := newTestHandler(t, Options{}, acc)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client has gone away after sending the whole body
	req := httptest.NewRequestWithContext(ctx, "POST", "/webhook", strings.NewReader("{}"))
	h.ServeHTTP(httptest.NewRecorder(), req)
	if acc.calls() != 1 || acc.ctxErr[0] != nil {
		t.Errorf("Accept calls = %d, ctx errors = %v; want 1 call with a live context", acc.calls(), acc.ctxErr)
	}
}

func TestHandlerLogs(t *testing.T) {
	body := vectorBody(t)
	const token = "pathTOKENvalue123"
	var buf bytes.Buffer
	acc := &fakeAccept{id: "act-42", queued: 3}
	h, err := NewHandler(Options{SharedKey: vectorKey, PathToken: token}, acc.accept,
		zerolog.New(&buf).Level(zerolog.DebugLevel), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/webhook/" + token, "/webhook/" + token + "x", "/hook/" + token} {
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("X-JWS-Signature", vectorHeader)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	logs := buf.String()
	for _, want := range []string{`"activity":"act-42"`, `"status":202`, `"queued":3`, `"bytes":1495`,
		`"key_form":"base64url"`, `"status":401`, `"duration_ms":`, `"path":"/webhook/{token}"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs do not contain %s:\n%s", want, logs)
		}
	}
	_, sig, _ := strings.Cut(vectorHeader, "..")
	for name, secret := range map[string]string{"path token": token, "signature": sig, "body": "Lorem ipsum"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain the %s:\n%s", name, logs)
		}
	}
}

// A client that declares a large body, sends exactly one buffer's worth and stalls holds that buffer
// only: the buffer grows once more bytes arrive, not before.
func TestStalledBodyHoldsWhatItSent(t *testing.T) {
	acc := &fakeAccept{id: "a1", queued: 1}
	h := newTestHandler(t, Options{BodyWait: 1}, acc)
	h.(*handler).mem = newBudget(2*bodyChunk, defaultFairness) // the staller's buffer and one more

	slow := &stallingBody{first: bytes.Repeat([]byte{' '}, bodyChunk), stalled: make(chan struct{}), release: make(chan struct{})}
	slowRec, done := serveSlow(h, slow, 16<<20)
	select {
	case <-slow.stalled:
	case <-done:
		t.Fatalf("the stalled request was answered %d before its body ended; want it still reading", slowRec.Code)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/webhook", strings.NewReader("{}")))
	if rec.Code != http.StatusAccepted {
		t.Errorf("while a body that sent %d bytes stalls: status = %d, want 202", bodyChunk, rec.Code)
	}
	close(slow.release)
	<-done
}

// A token sent to the wrong path (the /webhook/ prefix forgotten, or mistyped) is never logged, whatever
// its length: unknown paths are logged as a fixed label and a length.
func TestUnknownPathLogs(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef" // openssl rand -hex 16
	var buf bytes.Buffer
	h, err := NewHandler(Options{PathToken: token}, (&fakeAccept{}).accept,
		zerolog.New(&buf).Level(zerolog.DebugLevel), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"/" + token, "/" + token[:8], "/hook/" + token, "/" + token + "/webhook", "/webhooks/" + token,
		"/" + token[:31] + "/" + token[31:]}
	for _, p := range paths {
		buf.Reset()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", p, strings.NewReader("{}")))
		logs := buf.String()
		if rec.Code != http.StatusNotFound {
			t.Errorf("POST %s = %d, want 404", p, rec.Code)
		}
		if !strings.Contains(logs, `"path":"{unknown}"`) || !strings.Contains(logs, fmt.Sprintf(`"path_len":%d`, len(p))) {
			t.Errorf("POST %s logged %s, want path {unknown} and its length", p, logs)
		}
		if strings.Contains(logs, token[:8]) || strings.Contains(logs, "hook") {
			t.Errorf("POST %s: the log shows part of the path: %s", p, logs)
		}
	}
}

// With a shared key, a request without a well-formed signature header is refused before a byte of its
// body is read (and its connection closed), so a client without the key cannot make the service hold a body.
func TestSignatureCheckedBeforeTheBody(t *testing.T) {
	for _, tt := range []struct {
		name, header string
		wantRead     bool
	}{
		{"no header", "", false},
		{"not a JWS", "garbage", false},
		{"alg none", base64URL(`{"alg":"none","b64":false,"crit":["b64"]}`) + "..", false},
		{"upper-case member names", jws(`{"ALG":"HS256","b64":false,"crit":["b64"]}`, []byte("k"), nil), false},
		{"well-formed, wrong key: read, then refused", jws(goodHeaderJSON, []byte("wrong"), nil), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			acc := &fakeAccept{id: "a1", queued: 1}
			h := newTestHandler(t, Options{SharedKey: "k"}, acc)
			body := &countingBody{r: strings.NewReader(`{"id":"a1"}`)}
			req := httptest.NewRequest("POST", "/webhook", nil)
			req.Body, req.ContentLength = body, 11
			if tt.header != "" {
				req.Header.Set(SignatureHeader, tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized || acc.calls() != 0 {
				t.Errorf("status = %d, Accept calls = %d; want 401 and none", rec.Code, acc.calls())
			}
			if read := body.n > 0; read != tt.wantRead {
				t.Errorf("body read = %v (%d bytes), want %v", read, body.n, tt.wantRead)
			}
			if !tt.wantRead && rec.Header().Get("Connection") != "close" {
				t.Errorf("Connection = %q, want close (the unread body is not drained)", rec.Header().Get("Connection"))
			}
		})
	}
}

// countingBody counts the bytes read from it.
type countingBody struct {
	r io.Reader
	n int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += n
	return n, err
}

func (b *countingBody) Close() error { return nil }

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
