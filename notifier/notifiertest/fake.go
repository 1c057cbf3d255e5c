// Package notifiertest holds fake Slack and Discord servers for tests across the repository. They
// listen on 127.0.0.1 over real TCP (httptest), speak the wire contract the real services speak
// (see /work/shared/reference/chat-apis.md §2, §4, §5), enforce the documented size limits, can
// enforce a rate limit, and fail on demand (an error answer, 429 with Retry-After, 5xx, a stall that
// runs into the client's timeout, or being down). They record every request and the current state of
// every message, and are safe for concurrent use.
package notifiertest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"io"
	"math"
	"net/http"
	"sync"
	"time"
)

// Failure is one answer a fake gives instead of handling a request (see Slack.FailNext and
// Discord.FailNext). The first matching rule wins:
//   - RetryAfter > 0: a rate-limit answer (HTTP Status, default 429) with a Retry-After header in whole
//     seconds, rounded up; Discord also puts retry_after (seconds, with decimals) in the body.
//   - SlackError (Slack): the Web API answers HTTP 200 (or Status) {"ok":false,"error":SlackError};
//     an incoming webhook answers Status (default 400) with SlackError as the plain-text body.
//   - Code (Discord): HTTP Status (default 400) with {"message":Message,"code":Code}.
//   - Status: that HTTP status, with Body (or a short default body).
//   - Body alone: HTTP 200 with that body (e.g. not JSON).
//
// Delay stalls the answer first: longer than the client's timeout, the client gives up. A Failure
// with only a Delay is a slow answer: the request is then handled normally, unless the client has
// gone away by then.
type Failure struct {
	Status     int
	SlackError string
	Code       int
	Message    string
	RetryAfter time.Duration
	Delay      time.Duration
	Body       string
}

// Request is one request a fake received and how it answered.
type Request struct {
	Method string
	Path   string
	// Kind is "post", "update" or "webhook" for Slack, and "webhook-post", "webhook-edit", "bot-post"
	// or "bot-edit" for Discord; "unknown" for anything else.
	Kind string
	// Target is the channel ID (Slack bot, Discord bot) or the webhook's name.
	Target string
	Status int
	Time   time.Time
}

// base is what both fakes share: the failure queue, the down switch, rate limiting and the request log.
type base struct {
	mu       sync.Mutex
	failures []Failure
	down     bool
	every    time.Duration
	burst    int
	buckets  map[string]*tokenBucket
	requests []Request
	done     chan struct{}
	rules    []*failRule // FailWhere
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

func newBase() base {
	return base{buckets: map[string]*tokenBucket{}, done: make(chan struct{})}
}

func (b *base) failNext(n int, f Failure) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range n {
		b.failures = append(b.failures, f)
	}
}

func (b *base) setDown(down bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = down
}

func (b *base) enforceRate(every time.Duration, burst int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.every, b.burst = every, max(burst, 1)
	b.buckets = map[string]*tokenBucket{}
}

// gate answers for the down switch and the failure queue. It returns the failure to answer with (if
// any) and false when the request must not be handled any further.
func (b *base) gate(r *http.Request) (f Failure, fail bool, ok bool) {
	b.mu.Lock()
	if b.down {
		b.mu.Unlock()
		return Failure{Status: http.StatusServiceUnavailable, Body: "service unavailable"}, true, true
	}
	if len(b.failures) == 0 {
		b.mu.Unlock()
		return Failure{}, false, true
	}
	f = b.failures[0]
	b.failures = b.failures[1:]
	b.mu.Unlock()
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return f, false, false
		case <-b.done:
			return f, false, false
		}
		if r.Context().Err() != nil {
			return f, false, false
		}
	}
	fail = f.RetryAfter > 0 || f.SlackError != "" || f.Code != 0 || f.Status != 0 || f.Body != ""
	return f, fail, true
}

// allow takes a token from key's bucket; remaining is what is left.
func (b *base) allow(key string) (ok bool, remaining int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.every <= 0 {
		return true, 5
	}
	now := time.Now()
	tb := b.buckets[key]
	if tb == nil {
		tb = &tokenBucket{tokens: float64(b.burst), last: now}
		b.buckets[key] = tb
	}
	tb.tokens = math.Min(float64(b.burst), tb.tokens+float64(now.Sub(tb.last))/float64(b.every))
	tb.last = now
	if tb.tokens < 1 {
		return false, 0
	}
	tb.tokens--
	return true, int(tb.tokens)
}

func (b *base) record(r *http.Request, kind, target string, status int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests = append(b.requests, Request{Method: r.Method, Path: r.URL.Path, Kind: kind, Target: target, Status: status, Time: time.Now()})
}

func (b *base) requestLog() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.requests...)
}

func readBody(r *http.Request) []byte {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 26<<20))
	return body
}

// retryAfterSeconds renders d as a Retry-After header: whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}

// digest derives stable identifiers from a name.
func digest(name string) (uint64, string) {
	sum := sha256.Sum256([]byte(name))
	return binary.BigEndian.Uint64(sum[:8]), base64.RawURLEncoding.EncodeToString(sum[:]) + base64.RawURLEncoding.EncodeToString(sum[:])
}
