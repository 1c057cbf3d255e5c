// Package receiver is activitybridge's HTTP front: POST /webhook (signature or path-token check, body cap,
// bounded concurrent body reads), GET /healthz, GET /readyz and GET /metrics. It does not decode, route or
// persist activities itself: it hands each verified body to an Accept function and answers with what that
// function says, so it imports none of outbox, route or render.
package receiver

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Accept turns one verified body into persisted jobs. It returns the activity id and how many jobs were
// queued. When it queues nothing it returns the activity id with ErrDuplicate (this activity state was
// accepted before) or ErrUnmatched (no routing rule matched): both are answered 200 with queued 0 and that
// reason. Other errors: wrap ErrBadRequest for a body that is not an
// acceptable activity (answered 400 with the error text as the reason), ErrUnavailable when jobs could not be
// persisted (answered 503); any other error is answered 500 without its text. Accept must be all-or-nothing:
// the handler calls it with a context that is not cancelled when the client goes away, so that a body
// received in full is not half-persisted. Accept must not keep body, or anything sliced from it, after it
// returns: the buffer is reused for the next request.
type Accept func(ctx context.Context, body []byte) (activityID string, queued int, err error)

// ErrBadRequest is wrapped by an Accept error for a body that is not an acceptable activity.
var ErrBadRequest = errors.New("bad request")

// ErrUnavailable is wrapped by an Accept error when the jobs could not be persisted; the sender may retry.
var ErrUnavailable = errors.New("unavailable")

// ErrDuplicate is returned by Accept, with the activity id, when the (activity, state) was accepted before:
// nothing is queued again (answered 200, "queued":0, "reason":"duplicate").
var ErrDuplicate = errors.New("duplicate")

// ErrUnmatched is returned by Accept, with the activity id, when no routing rule matched the activity
// (answered 200, "queued":0, "reason":"unmatched").
var ErrUnmatched = errors.New("unmatched")

// DefaultMaxBody is the body cap used when Options.MaxBody is 0 (BRIDGE_MAX_BODY's default, 32 MiB).
const DefaultMaxBody = 32 << 20

// DefaultBodyWait is how long a webhook request waits for body memory when Options.BodyWait is 0.
const DefaultBodyWait = 2 * time.Second

// DefaultBodyIdle is how long a body may send nothing before it is cut off, when Options.BodyIdle is 0.
const DefaultBodyIdle = 10 * time.Second

// DefaultMinBodyRate is the least rate, in bytes per second, at which a body must arrive after its grace
// period, when Options.MinBodyRate is 0: 1 KiB/s, four times Kestrel's 240 B/s and a hundredth of what a
// 1 Mbit/s link carries.
const DefaultMinBodyRate = 1 << 10

// DefaultBodyGrace is how long a body may take before the minimum rate applies, when Options.BodyGrace is 0
// (Kestrel's figure).
const DefaultBodyGrace = 5 * time.Second

// minBodyMemory is the smallest default body memory budget.
const minBodyMemory = 128 << 20

// bodyChunk is the unit in which body memory is taken from the budget as bytes arrive.
const bodyChunk = 64 << 10

// retryAfterSeconds is sent with every 503 so a sender that honours it backs off.
const retryAfterSeconds = "10"

// Options configures the handler. The zero value accepts unsigned requests on POST /webhook with the default
// body cap.
type Options struct {
	// SharedKey is the JWS shared key; when set, requests without a valid X-JWS-Signature are refused.
	// Empty allows unsigned requests.
	SharedKey string
	// PathToken, when set, moves the webhook to POST /webhook/{token} and refuses every other /webhook path
	// with 401. Empty serves only POST /webhook. It must not contain '/'.
	PathToken string
	// MaxBody caps the request body in bytes (BRIDGE_MAX_BODY); 0 means DefaultMaxBody.
	MaxBody int64
	// BodyMemory bounds the bytes of request bodies held in memory at once, so that a flood cannot exhaust
	// memory. A body takes its share as its bytes arrive (in 64 KiB pieces), not from its declared length,
	// so a client that declares a large body and stalls holds only what it sent. 0 means the larger of
	// 128 MiB and 2 × MaxBody + 1 MiB; a smaller value than that could never read a body at the cap.
	BodyMemory int64
	// BodyWait is how long a request waits for body memory before it is answered 503; 0 means
	// DefaultBodyWait.
	BodyWait time.Duration
	// BodyIdle cuts off a body that sends nothing for this long (408), so that stalled clients give their
	// memory back well before the server's ReadTimeout; 0 means DefaultBodyIdle.
	BodyIdle time.Duration
	// MinBodyRate and BodyGrace cut off a body that trickles (408): a body starts with BodyGrace (at most
	// BodyIdle) of allowance, each byte that arrives adds 1/MinBodyRate seconds to it, at most BodyIdle ahead,
	// and the body is cut off when the allowance runs out. So after the grace period a body must average
	// MinBodyRate bytes/s and never pause BodyIdle. 0 means DefaultMinBodyRate and DefaultBodyGrace.
	MinBodyRate int64
	BodyGrace   time.Duration
	// Ready reports whether the service can take webhooks (store writable, config loaded); nil error means
	// ready. Its error text is shown by /readyz, so it must not contain a secret. Nil means always ready.
	Ready func() error
}

// Webhook outcomes, the values of the outcome label of activitybridge_webhooks_received_total.
const (
	// OutcomeAccepted: jobs were queued (202).
	OutcomeAccepted = "accepted"
	// OutcomeDuplicate: the activity state was accepted before; nothing queued (200).
	OutcomeDuplicate = "duplicate"
	// OutcomeUnmatched: no routing rule matched; nothing queued (200).
	OutcomeUnmatched = "unmatched"
	// OutcomeBadRequest: the body was unreadable or not an acceptable activity (400).
	OutcomeBadRequest = "bad_request"
	// OutcomeUnauth: bad or missing signature or path token (401).
	OutcomeUnauth = "unauthorized"
	// OutcomeTooLarge: the body was over the cap (413).
	OutcomeTooLarge = "too_large"
	// OutcomeUnavail: no body slot was free in time or the jobs could not be persisted (503).
	OutcomeUnavail = "unavailable"
	// OutcomeError: Accept failed unexpectedly (500).
	OutcomeError = "error"
)

var outcomes = []string{
	OutcomeAccepted, OutcomeDuplicate, OutcomeUnmatched, OutcomeBadRequest, OutcomeUnauth, OutcomeTooLarge, OutcomeUnavail, OutcomeError,
}

type handler struct {
	opts     Options
	accept   Accept
	log      zerolog.Logger
	mem      *budget
	metrics  http.Handler
	received *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewHandler returns the service's HTTP handler. Metrics are registered on reg (nil: not registered) and
// /metrics serves gatherer (nil: /metrics answers 404). It fails when accept is nil, an option is out of
// range, or the metrics are already registered on reg.
func NewHandler(opts Options, accept Accept, log zerolog.Logger, reg prometheus.Registerer, gatherer prometheus.Gatherer) (http.Handler, error) {
	if accept == nil {
		return nil, errors.New("receiver: accept function is nil")
	}
	if strings.Contains(opts.PathToken, "/") {
		return nil, errors.New("receiver: path token must not contain '/'")
	}
	switch {
	case opts.MaxBody < 0:
		return nil, fmt.Errorf("receiver: max body %d is negative", opts.MaxBody)
	case opts.MaxBody == 0:
		opts.MaxBody = DefaultMaxBody
	}
	need := 2*opts.MaxBody + 16*bodyChunk // the pieces of a body at the cap, then the body in one piece
	switch {
	case opts.BodyMemory < 0:
		return nil, fmt.Errorf("receiver: body memory %d is negative", opts.BodyMemory)
	case opts.BodyMemory == 0:
		opts.BodyMemory = max(minBodyMemory, need)
	case opts.BodyMemory < need:
		return nil, fmt.Errorf("receiver: body memory %d cannot hold a body at the cap of %d bytes; give at least %d", opts.BodyMemory, opts.MaxBody, need)
	}
	switch {
	case opts.BodyWait < 0:
		return nil, fmt.Errorf("receiver: body wait %s is negative", opts.BodyWait)
	case opts.BodyWait == 0:
		opts.BodyWait = DefaultBodyWait
	}
	switch {
	case opts.BodyIdle < 0:
		return nil, fmt.Errorf("receiver: body idle %s is negative", opts.BodyIdle)
	case opts.BodyIdle == 0:
		opts.BodyIdle = DefaultBodyIdle
	}
	switch {
	case opts.MinBodyRate < 0:
		return nil, fmt.Errorf("receiver: minimum body rate %d is negative", opts.MinBodyRate)
	case opts.MinBodyRate == 0:
		opts.MinBodyRate = DefaultMinBodyRate
	}
	switch {
	case opts.BodyGrace < 0:
		return nil, fmt.Errorf("receiver: body grace %s is negative", opts.BodyGrace)
	case opts.BodyGrace == 0:
		opts.BodyGrace = DefaultBodyGrace
	}
	h := &handler{
		opts:   opts,
		accept: accept,
		log:    log.With().Str("component", "receiver").Logger(),
		mem:    newBudget(opts.BodyMemory, defaultFairness),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activitybridge_webhooks_received_total",
			Help: "Webhook requests received, by outcome.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "activitybridge_webhook_duration_seconds",
			Help:    "Time from the start of a webhook request to its answer, including reading the body and persisting the jobs.",
			Buckets: prometheus.DefBuckets,
		}),
	}
	for _, o := range outcomes {
		h.received.WithLabelValues(o) // export every outcome from the start, at 0
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{h.received, h.duration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("receiver: registering metrics: %w", err)
			}
		}
	}
	if gatherer != nil {
		h.metrics = promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
	}
	return h, nil
}

// ServeHTTP routes by exact path; method mismatches answer 405 with Allow, unknown paths 404, all in JSON.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/healthz":
		if allow(w, r, http.MethodGet, http.MethodHead) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}
		h.logProbe(r, p)
	case p == "/readyz":
		if allow(w, r, http.MethodGet, http.MethodHead) {
			h.serveReady(w)
		}
		h.logProbe(r, p)
	case p == "/metrics" && h.metrics != nil:
		if allow(w, r, http.MethodGet, http.MethodHead) {
			h.metrics.ServeHTTP(w, r)
		}
		h.logProbe(r, p)
	case p == "/webhook" || h.opts.PathToken != "" && strings.HasPrefix(p, "/webhook/"):
		// With a path token, every /webhook path is the webhook (a wrong token answers 401, not 404),
		// so that a prober cannot tell which token paths exist.
		if allow(w, r, http.MethodPost) {
			h.serveWebhook(w, r)
		}
	default:
		writeError(w, http.StatusNotFound, "not found")
		h.log.Debug().Str("method", r.Method).Str("path", redactPath(p)).Int("path_len", len(p)).
			Int("status", http.StatusNotFound).Msg("request")
	}
}

func (h *handler) logProbe(r *http.Request, path string) {
	h.log.Debug().Str("method", r.Method).Str("path", path).Msg("request")
}

func (h *handler) serveReady(w http.ResponseWriter) {
	if h.opts.Ready != nil {
		if err := h.opts.Ready(); err != nil {
			w.Header().Set("Retry-After", retryAfterSeconds)
			writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// webhookResult is what one webhook request came to; it feeds the answer, the metrics and the log line.
type webhookResult struct {
	status   int
	outcome  string
	reason   string // the error text sent to the client
	activity string
	queued   int
	noJobs   string // OutcomeDuplicate or OutcomeUnmatched when a 200 queued nothing
	bytes    int
	keyForm  string
	unread   bool  // the body was not read: close the connection rather than read it to answer
	err      error // logged, never sent
}

func (h *handler) serveWebhook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	res := h.webhook(w, r)
	// Counted before the answer goes out, so that a client that has its answer finds it in /metrics.
	elapsed := time.Since(start)
	h.received.WithLabelValues(res.outcome).Inc()
	h.duration.Observe(elapsed.Seconds())
	switch {
	case res.reason != "":
		switch res.status {
		case http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", retryAfterSeconds)
			w.Header().Set("Connection", "close") // the body may be unread: see below
		case http.StatusRequestEntityTooLarge, http.StatusRequestTimeout:
			// Without this the server would read up to 256 KiB of the unwanted body (or wait for a stalled
			// one) before answering.
			w.Header().Set("Connection", "close")
		}
		if res.unread {
			w.Header().Set("Connection", "close")
		}
		writeError(w, res.status, res.reason)
	default:
		writeJSON(w, res.status, struct {
			Activity string `json:"activity"`
			Queued   int    `json:"queued"`
			Reason   string `json:"reason,omitempty"` // why nothing was queued: duplicate or unmatched
		}{res.activity, res.queued, res.noJobs})
	}

	level := zerolog.InfoLevel
	if res.status >= http.StatusInternalServerError {
		level = zerolog.ErrorLevel
	}
	ev := h.log.WithLevel(level).
		Str("method", r.Method).
		Str("path", redactPath(r.URL.Path)).
		Str("remote", r.RemoteAddr).
		Int("status", res.status).
		Str("outcome", res.outcome).
		Int("bytes", res.bytes).
		Float64("duration_ms", float64(elapsed.Microseconds())/1000)
	if res.activity != "" {
		ev = ev.Str("activity", res.activity).Int("queued", res.queued)
	}
	if res.err != nil {
		ev = ev.AnErr("error", res.err)
	} else if res.reason != "" {
		ev = ev.Str("reason", res.reason)
	}
	ev.Msg("webhook")
}

// webhook runs the checks in the order that costs the least for a bad request: path token, the form of the
// signature header, declared length, body memory, the capped body, the signature's HMAC, then Accept.
func (h *handler) webhook(w http.ResponseWriter, r *http.Request) webhookResult {
	if !h.pathTokenOK(r.URL.Path) {
		return webhookResult{status: http.StatusUnauthorized, outcome: OutcomeUnauth, unread: true,
			reason: "unauthorized: wrong or missing path token"}
	}
	var sig signature
	if h.opts.SharedKey != "" {
		// Everything but the HMAC is checked before the body is read, so that a client without the key
		// cannot make the service read (and hold) a body unless it at least sends a well-formed header.
		s, err := parseSignature(r.Header.Get(SignatureHeader))
		if err != nil {
			return webhookResult{status: http.StatusUnauthorized, outcome: OutcomeUnauth, unread: true,
				reason: "unauthorized: " + err.Error()}
		}
		sig = s
	}
	if r.ContentLength > h.opts.MaxBody {
		res := tooLarge(h.opts.MaxBody)
		res.unread = true
		return res
	}

	body, bd, err := h.readBody(w, r)
	defer func() {
		putBuffer(body)
		bd.end()
	}()
	switch {
	case errors.Is(err, errBusy):
		return webhookResult{status: http.StatusServiceUnavailable, outcome: OutcomeUnavail, bytes: len(body),
			reason: "too many request bodies in progress; retry later"}
	case errors.Is(err, errEvicted):
		return webhookResult{status: http.StatusServiceUnavailable, outcome: OutcomeUnavail, bytes: len(body),
			reason: "too many request bodies in progress, and this one was among the slowest or over its address's share; retry later"}
	case errors.Is(err, errStalled):
		return webhookResult{status: http.StatusRequestTimeout, outcome: OutcomeBadRequest, bytes: len(body),
			reason: fmt.Sprintf("the request body arrived too slowly: after the first %s it must average %d bytes/s and never pause %s",
				min(h.opts.BodyGrace, h.opts.BodyIdle), h.opts.MinBodyRate, h.opts.BodyIdle)}
	case err != nil:
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			res := tooLarge(h.opts.MaxBody)
			res.bytes = len(body)
			return res
		}
		return webhookResult{status: http.StatusBadRequest, outcome: OutcomeBadRequest, bytes: len(body),
			reason: "could not read the request body", err: err}
	}
	res := webhookResult{bytes: len(body)}

	if h.opts.SharedKey != "" {
		form, err := sig.verify(body, h.opts.SharedKey)
		if err != nil {
			res.status, res.outcome, res.reason = http.StatusUnauthorized, OutcomeUnauth, "unauthorized: "+err.Error()
			return res
		}
		res.keyForm = form
		h.log.Debug().Str("key_form", form).Msg("signature verified")
	} else if r.Header.Get(SignatureHeader) != "" {
		h.log.Debug().Msg("request is signed but no shared key is configured; signature not checked")
	}

	// The client going away must not abandon a body we hold in full: Accept is all-or-nothing and its
	// result is what a retry would get anyway.
	id, queued, err := h.accept(context.WithoutCancel(r.Context()), body)
	res.activity, res.queued = id, queued
	switch {
	case err == nil && queued > 0:
		res.status, res.outcome = http.StatusAccepted, OutcomeAccepted
	case err == nil, errors.Is(err, ErrUnmatched):
		res.status, res.outcome, res.noJobs, res.queued = http.StatusOK, OutcomeUnmatched, OutcomeUnmatched, 0
	case errors.Is(err, ErrDuplicate):
		res.status, res.outcome, res.noJobs, res.queued = http.StatusOK, OutcomeDuplicate, OutcomeDuplicate, 0
	case errors.Is(err, ErrBadRequest):
		res.status, res.outcome, res.reason = http.StatusBadRequest, OutcomeBadRequest, err.Error()
	case errors.Is(err, ErrUnavailable):
		res.status, res.outcome, res.err = http.StatusServiceUnavailable, OutcomeUnavail, err
		res.reason = "could not queue the notices now; retry later"
	default:
		res.status, res.outcome, res.err = http.StatusInternalServerError, OutcomeError, err
		res.reason = "internal error"
	}
	return res
}

func tooLarge(limit int64) webhookResult {
	return webhookResult{status: http.StatusRequestEntityTooLarge, outcome: OutcomeTooLarge,
		reason: fmt.Sprintf("request body is larger than the limit of %d bytes (BRIDGE_MAX_BODY)", limit)}
}

// pathTokenOK compares the token in constant time; without a configured token only /webhook passes.
func (h *handler) pathTokenOK(path string) bool {
	if h.opts.PathToken == "" {
		return path == "/webhook"
	}
	tok, ok := strings.CutPrefix(path, "/webhook/")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(h.opts.PathToken)) == 1
}

var (
	errBusy    = errors.New("no body memory free in time")
	errEvicted = errors.New("request body cut off to make room for others")
	errStalled = errors.New("request body too slow")
)

// readBody reads the capped body into one pooled buffer that grows as bytes arrive, taking memory from
// the budget for the buffer's capacity (never from the declared length alone), and cutting the body off
// when it arrives too slowly (MinBodyRate, BodyGrace, BodyIdle) or when the budget takes its memory back
// for another client (budget.go). It returns the body, which the caller gives back with putBuffer, and
// its share of the budget, which the caller ends once it is done with the body (also on error). A body
// that fits the first buffer (nearly every webhook: the docs' push is 14 KB) is read with no copy; a
// larger one is copied about once in all as its buffer grows.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) (body []byte, bd *body, err error) {
	src := http.MaxBytesReader(w, r.Body, h.opts.MaxBody)
	rc := http.NewResponseController(w)
	bd = h.mem.begin(addressKey(r.RemoteAddr), func() { _ = rc.SetReadDeadline(time.Now()) })
	// The rate cut-off moves the connection's read deadline; it never goes past the server's own. A body
	// cut off keeps its expired deadline (and its answer closes the connection), so that the server does
	// not wait for the rest of it before answering.
	start := time.Now()
	end := start.Add(ReadTimeout)
	defer func() {
		bd.doneReading()
		if !errors.Is(err, errStalled) && !errors.Is(err, errEvicted) {
			_ = rc.SetReadDeadline(end)
		}
	}()
	// allowed is when the body's allowance runs out: see Options.MinBodyRate.
	allowed := start.Add(min(h.opts.BodyGrace, h.opts.BodyIdle))
	perByte := float64(time.Second) / float64(h.opts.MinBodyRate)

	// limit is one byte over the cap, so that the read that sees EOF (or the byte too many) fits.
	limit := int(h.opts.MaxBody) + 1
	declared := -1
	if cl := r.ContentLength; cl >= 0 && cl < int64(limit) {
		declared = int(cl) + 1
	}
	// grow moves body into a buffer of at least n bytes, holding budget for both while it copies.
	grow := func(n int) error {
		nb := getBuffer(n, limit)
		t0 := time.Now()
		if !bd.acquire(r.Context(), int64(cap(nb)), h.opts.BodyWait) {
			putBuffer(nb)
			if bd.evicted.Load() {
				return errEvicted
			}
			return errBusy
		}
		if waited := time.Since(t0); waited > time.Millisecond {
			allowed = allowed.Add(waited) // the client does not pay for our wait
		}
		nb = append(nb, body...)
		if body != nil {
			putBuffer(body)
			bd.release(int64(cap(body)))
		}
		body = nb
		return nil
	}
	first := bodyChunk
	if declared >= 0 && declared < bodyChunk {
		first = declared
	}
	if err := grow(min(first, limit)); err != nil {
		return nil, bd, err
	}
	// peek holds what arrives when the buffer is full, so that the buffer grows only once more bytes
	// have come: a client that stalls right at the end of a buffer holds no more than it sent.
	var peek [4 << 10]byte
	for {
		dst := body[len(body):cap(body)]
		if len(dst) == 0 {
			dst = peek[:]
		}
		_ = rc.SetReadDeadline(minTime(allowed, end))
		// Checked after the deadline is set: a cut-off that came before has its deadline overwritten.
		if bd.evicted.Load() {
			return body, bd, errEvicted
		}
		m, rerr := src.Read(dst)
		if m > 0 {
			now := time.Now()
			bd.progress(m)
			allowed = minTime(maxTime(allowed, now).Add(time.Duration(float64(m)*perByte)), now.Add(h.opts.BodyIdle))
		}
		if len(body) < cap(body) {
			body = body[:len(body)+m]
		} else if m > 0 {
			// Double, or grow eightfold while the declared length says more is coming (a 1.3 MB body
			// takes three buffers); a client that declares a large body and stalls holds at most eight
			// times what it sent.
			n := 2 * cap(body)
			if declared > n {
				n = min(8*cap(body), declared)
			}
			if err := grow(max(min(n, limit), len(body)+m)); err != nil {
				return body, bd, err
			}
			body = append(body, peek[:m]...)
		}
		if rerr == io.EOF {
			return body, bd, nil
		}
		if rerr != nil {
			if bd.evicted.Load() {
				return body, bd, errEvicted
			}
			if ne := net.Error(nil); errors.As(rerr, &ne) && ne.Timeout() {
				return body, bd, errStalled
			}
			return body, bd, rerr
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// allow answers 405 with an Allow header unless r's method is one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+strings.Join(methods, " or "))
	return false
}

// unknownPath is what the logs show instead of a path the service does not serve: any segment of it could
// be a path token sent to the wrong place (a forgotten /webhook/ prefix), so only its length is logged.
const unknownPath = "{unknown}"

// redactPath keeps a path fit for logs: the service's own paths as they are, the webhook token replaced,
// and every other path replaced by unknownPath (log its length beside it).
func redactPath(p string) string {
	switch p {
	case "/webhook", "/healthz", "/readyz", "/metrics", "/":
		return p
	}
	if strings.HasPrefix(p, "/webhook/") {
		return "/webhook/{token}"
	}
	return unknownPath
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, struct {
		Error string `json:"error"`
	}{msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only plain structs and maps of strings reach here
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
