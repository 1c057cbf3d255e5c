package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/app"
	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/receiver"
	"github.com/activitybridge/activitybridge/internal/route"
)

// corpusMaxBody is the body cap of the handler the corpus runs against, small so that the cases just
// under and just over it stay cheap.
const corpusMaxBody = 256 << 10

// newApp builds a service with a memory store and every activity routed to the console (written to
// io.Discard), without starting its servers or worker.
func newApp(t testing.TB) *app.App {
	t.Helper()
	table, err := route.Parse("*/* -> console")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Store:            "memory",
		Table:            table,
		MaxAge:           24 * time.Hour,
		PublicConsoleURL: "https://console.platform.sh",
	}
	a, err := app.New(cfg, zerolog.Nop(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// newHandler is the real webhook handler (receiver.NewHandler with App.Accept), unsigned, with maxBody.
func newHandler(t testing.TB, maxBody int64) http.Handler {
	t.Helper()
	h, err := receiver.NewHandler(receiver.Options{MaxBody: maxBody}, newApp(t).Accept, zerolog.Nop(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func corpusFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "badinput", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nested returns n opening brackets followed by n closing ones.
func nested(n int) []byte {
	return append(bytes.Repeat([]byte("["), n), bytes.Repeat([]byte("]"), n)...)
}

// activityOfSize returns a valid activity body of exactly size bytes (padding goes in "log", which the
// decoder never keeps).
func activityOfSize(t testing.TB, size int) []byte {
	t.Helper()
	head := `{"id":"big1","type":"environment.push","project":"p1","environments":["main"],"state":"complete","result":"success","log":"`
	tail := `"}`
	pad := size - len(head) - len(tail)
	if pad < 0 {
		t.Fatalf("size %d too small", size)
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// hugeText returns a valid activity whose text (which is rendered) is one string of n bytes.
func hugeText(n int) []byte {
	return []byte(`{"id":"huge1","type":"environment.push","project":"p1","environments":["main"],"text":"` +
		strings.Repeat("A", n) + `"}`)
}

// corpusCase is one hostile body and the documented answer to it.
type corpusCase struct {
	name     string
	body     []byte
	chunked  bool   // send without Content-Length
	want     int    // HTTP status
	reason   string // for errors: a part of the JSON "error"
	activity string // for 2xx: the activity id answered
}

func corpus(t testing.TB) []corpusCase {
	f := func(name string) []byte { return corpusFile(t, name) }
	return []corpusCase{
		{name: "truncated JSON", body: f("truncated.json"), want: 400, reason: "unexpected end of JSON input"},
		{name: "JSON array", body: f("array.json"), want: 400, reason: "JSON array, want an object"},
		{name: "JSON string", body: f("string.json"), want: 400, reason: "JSON string, want an object"},
		{name: "JSON null", body: f("null.json"), want: 400, reason: "JSON null, want an object"},
		{name: "JSON number", body: f("number.json"), want: 400, reason: "JSON number, want an object"},
		{name: "empty body", body: f("empty.json"), want: 400, reason: "empty body"},
		{name: "whitespace only", body: f("whitespace.json"), want: 400, reason: "empty body"},
		{name: "form-encoded", body: f("form-encoded.json"), want: 400, reason: "not JSON"},
		{name: "byte order mark", body: f("bom.json"), want: 400, reason: "not JSON"},
		{name: "missing id", body: f("missing-id.json"), want: 400, reason: `field "id": missing`},
		{name: "empty id", body: f("empty-id.json"), want: 400, reason: `field "id": missing`},
		{name: "missing type", body: f("missing-type.json"), want: 400, reason: `field "type": missing`},
		{name: "missing project", body: f("missing-project.json"), want: 400, reason: `field "project": missing`},
		{name: "type is a number", body: f("type-number.json"), want: 400, reason: `field "type": want a string`},
		{name: "id is an array", body: f("id-array.json"), want: 400, reason: `field "id": want a string`},
		{name: "environments is an object", body: f("environments-object.json"), want: 400, reason: `field "environments": want an array`},
		{name: "created_at not a time", body: f("bad-timestamp.json"), want: 400, reason: `field "created_at"`},
		{name: "trailing garbage", body: f("trailing-garbage.json"), want: 400, reason: "after top-level value"},
		{name: "two objects", body: f("two-objects.json"), want: 400, reason: "after top-level value"},
		{name: "invalid UTF-8", body: f("invalid-utf8.json"), want: 400, reason: `field "project": invalid UTF-8`},
		// Documented: encoding/json keeps the last of duplicate keys, so the last id wins...
		{name: "duplicate keys, last wins", body: f("duplicate-keys.json"), want: 202, activity: "a2"},
		// ...and a later duplicate of the wrong type is refused like any wrong type.
		{name: "duplicate key of the wrong type", body: f("duplicate-key-wrong-type.json"), want: 400, reason: `field "type": want a string`},
		// Valid JSON, but an id must be printable ASCII (the outbox keys on it): refused, the field named.
		{name: "escaped NUL and lone surrogate", body: f("escaped-nul-and-lone-surrogate.json"), want: 400, reason: `field "id": byte 2 is 0x00`},
		{name: "100,000 nested brackets", body: nested(100_000), want: 400, reason: "not JSON"},
		{name: "100,000 nested brackets inside an activity",
			body: append(append([]byte(`{"id":"n1","type":"environment.push","project":"p1","payload":{"x":`), nested(100_000)...), '}', '}'),
			want: 400, reason: "exceeded max depth"},
		{name: "huge single string", body: hugeText(corpusMaxBody - 200), want: 202, activity: "huge1"},
		{name: "just under the cap", body: activityOfSize(t, corpusMaxBody), want: 202, activity: "big1"},
		{name: "just over the cap", body: activityOfSize(t, corpusMaxBody+1), want: 413, reason: "BRIDGE_MAX_BODY"},
		{name: "just under the cap, chunked", body: activityOfSize(t, corpusMaxBody), chunked: true, want: 202, activity: "big1"},
		{name: "just over the cap, chunked", body: activityOfSize(t, corpusMaxBody+1), chunked: true, want: 413, reason: "BRIDGE_MAX_BODY"},
	}
}

// serve sends one request through h and returns the answer.
func serve(h http.Handler, body []byte, chunked bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(bytes.NewReader(body)) // hide the length
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestBadInputCorpus runs every hostile body through the real handler and App.Accept: each gets its
// documented status and a JSON answer saying why.
func TestBadInputCorpus(t *testing.T) {
	for _, tt := range corpus(t) {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, corpusMaxBody) // fresh store: duplicates of other rows do not interfere
			rec := serve(h, tt.body, tt.chunked)
			if rec.Code != tt.want {
				t.Fatalf("status = %d (%s), want %d", rec.Code, rec.Body, tt.want)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var ans struct {
				Error    *string `json:"error"`
				Activity *string `json:"activity"`
				Queued   *int    `json:"queued"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
				t.Fatalf("answer %q is not JSON: %v", rec.Body, err)
			}
			if tt.want >= 400 {
				if ans.Error == nil || !strings.Contains(*ans.Error, tt.reason) {
					t.Errorf("answer = %s, want an error mentioning %q", rec.Body, tt.reason)
				}
				if ans.Error != nil && len(*ans.Error) > 300 {
					t.Errorf("reason is %d bytes long, want a short one (the body must not be echoed)", len(*ans.Error))
				}
				return
			}
			if ans.Activity == nil || *ans.Activity != tt.activity || ans.Queued == nil || *ans.Queued != 1 {
				t.Errorf("answer = %s, want activity %q queued 1", rec.Body, tt.activity)
			}
		})
	}
}

// TestBadInputMemoryBounded measures what one request allocates for the bodies most likely to blow up
// a parser, against the body's own size.
func TestBadInputMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MiB")
	}
	const maxBody = 32 << 20 // the default cap
	tests := []struct {
		name string
		body []byte
		want int
		// factor bounds the bytes allocated per request as factor × body size + 1 MiB.
		factor float64
	}{
		{"100,000 nested brackets", nested(100_000), 400, 4},
		{"1,000,000 nested brackets in an object",
			append(append([]byte(`{"id":"n1","type":"t","project":"p1","payload":`), nested(1_000_000)...), '}'), 400, 4},
		{"8 MiB single string", hugeText(8 << 20), 202, 4},
		{"30 MiB single string", hugeText(30 << 20), 202, 4},
		{"8 MiB of nested objects", bytes.Repeat([]byte(`{"a":`), (8<<20)/5), 400, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, maxBody)
			if rec := serve(h, tt.body, false); rec.Code != tt.want { // warm-up: templates, pools
				t.Fatalf("status = %d (%.200s), want %d", rec.Code, rec.Body, tt.want)
			}
			h = newHandler(t, maxBody) // fresh store, so the measured request is not a duplicate
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			rec := serve(h, tt.body, false)
			runtime.ReadMemStats(&after)
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d", rec.Code, tt.want)
			}
			got := after.TotalAlloc - before.TotalAlloc
			bound := uint64(tt.factor*float64(len(tt.body))) + 1<<20
			t.Logf("body %d bytes, allocated %d bytes (%.1f×)", len(tt.body), got, float64(got)/float64(len(tt.body)))
			if got > bound {
				t.Errorf("one request allocated %d bytes for a %d-byte body, want ≤ %d", got, len(tt.body), bound)
			}
		})
	}
}
