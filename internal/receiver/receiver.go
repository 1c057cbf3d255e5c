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
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Accept turns one verified body into persisted jobs. It returns the activity id and how many jobs were
// queued (0 when nothing matched or it is a duplicate). Errors: wrap ErrBadRequest for a body that is not an
// acceptable activity (answered 400 with the error text as the reason), ErrUnavailable when jobs could not be
// persisted (answered 503); any other error is answered 500 without its text. Accept must be all-or-nothing:
// the handler calls it with a context that is not cancelled when the client goes away, so that a body
// received in full is not half-persisted.
type Accept func(ctx context.Context, body []byte) (activityID string, queued int, err error)

// ErrBadRequest is wrapped by an Accept error for a body that is not an acceptable activity.
var ErrBadRequest = errors.New("bad request")

// ErrUnavailable is wrapped by an Accept error when the jobs could not be persisted; the sender may retry.
var ErrUnavailable = errors.New("unavailable")

// DefaultMaxBody is the body cap used when Options.MaxBody is 0 (BRIDGE_MAX_BODY's default, 32 MiB).
const DefaultMaxBody = 32 << 20

// DefaultBodyWait is how long a webhook request waits for a body slot when Options.BodyWait is 0.
const DefaultBodyWait = 2 * time.Second

// bodyMemoryBudget is the worst-case memory the default MaxConcurrentBodies allows for bodies in flight.
const bodyMemoryBudget = 256 << 20

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
	// MaxConcurrentBodies bounds how many webhook bodies are read and held at once, so that a flood cannot
	// exhaust memory (the worst case is MaxConcurrentBodies × MaxBody). 0 picks enough slots to keep that
	// product near 256 MiB, at least 4 and at most 64 (8 for the 32 MiB default cap). Real senders are few:
	// Platform.sh runs at most a handful of integration deliveries per project at a time.
	MaxConcurrentBodies int
	// BodyWait is how long a request waits for a free body slot before it is answered 503; 0 means
	// DefaultBodyWait.
	BodyWait time.Duration
	// Ready reports whether the service can take webhooks (store writable, config loaded); nil error means
	// ready. Its error text is shown by /readyz, so it must not contain a secret. Nil means always ready.
	Ready func() error
}

// Webhook outcomes, the values of the outcome label of activitybridge_webhooks_received_total.
const (
	// OutcomeAccepted: jobs were queued (202).
	OutcomeAccepted = "accepted"
	// OutcomeNoJobs: nothing matched or the activity state was a duplicate (200).
	OutcomeNoJobs = "duplicate_or_unmatched"
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
	OutcomeAccepted, OutcomeNoJobs, OutcomeBadRequest, OutcomeUnauth, OutcomeTooLarge, OutcomeUnavail, OutcomeError,
}

type handler struct {
	opts     Options
	accept   Accept
	log      zerolog.Logger
	slots    chan struct{}
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
	switch {
	case opts.MaxConcurrentBodies < 0:
		return nil, fmt.Errorf("receiver: max concurrent bodies %d is negative", opts.MaxConcurrentBodies)
	case opts.MaxConcurrentBodies == 0:
		opts.MaxConcurrentBodies = defaultConcurrentBodies(opts.MaxBody)
	}
	switch {
	case opts.BodyWait < 0:
		return nil, fmt.Errorf("receiver: body wait %s is negative", opts.BodyWait)
	case opts.BodyWait == 0:
		opts.BodyWait = DefaultBodyWait
	}
	h := &handler{
		opts:   opts,
		accept: accept,
		log:    log.With().Str("component", "receiver").Logger(),
		slots:  make(chan struct{}, opts.MaxConcurrentBodies),
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

// defaultConcurrentBodies keeps slots × maxBody near bodyMemoryBudget, within [4, 64].
func defaultConcurrentBodies(maxBody int64) int {
	return int(min(max(bodyMemoryBudget/maxBody, 4), 64))
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
		h.log.Debug().Str("method", r.Method).Str("path", redactPath(p)).Int("status", http.StatusNotFound).Msg("request")
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
	bytes    int
	keyForm  string
	err      error // logged, never sent
}

func (h *handler) serveWebhook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	res := h.webhook(w, r)
	switch {
	case res.reason != "":
		switch res.status {
		case http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", retryAfterSeconds)
		case http.StatusRequestEntityTooLarge:
			// Without this the server would read up to 256 KiB of the unwanted body before answering.
			w.Header().Set("Connection", "close")
		}
		writeError(w, res.status, res.reason)
	default:
		writeJSON(w, res.status, struct {
			Activity string `json:"activity"`
			Queued   int    `json:"queued"`
		}{res.activity, res.queued})
	}
	elapsed := time.Since(start)
	h.received.WithLabelValues(res.outcome).Inc()
	h.duration.Observe(elapsed.Seconds())

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
		Dur("duration", elapsed)
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

// webhook runs the checks in the order that costs the least for a bad request: path token, declared
// length, a body slot, the capped body, the signature, then Accept.
func (h *handler) webhook(w http.ResponseWriter, r *http.Request) webhookResult {
	if !h.pathTokenOK(r.URL.Path) {
		return webhookResult{status: http.StatusUnauthorized, outcome: OutcomeUnauth, reason: "unauthorized: wrong or missing path token"}
	}
	if r.ContentLength > h.opts.MaxBody {
		return tooLarge(h.opts.MaxBody)
	}

	release, ok := h.acquire(r.Context())
	if !ok {
		return webhookResult{status: http.StatusServiceUnavailable, outcome: OutcomeUnavail, reason: "too many requests in progress; retry later"}
	}
	defer release()

	body, err := readBody(http.MaxBytesReader(w, r.Body, h.opts.MaxBody), r.ContentLength)
	if err != nil {
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
		form, err := Verify(body, r.Header.Get(SignatureHeader), h.opts.SharedKey)
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
	case err == nil:
		res.status, res.outcome, res.queued = http.StatusOK, OutcomeNoJobs, 0
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

// acquire takes a body slot, waiting at most BodyWait; release gives it back.
func (h *handler) acquire(ctx context.Context) (release func(), ok bool) {
	release = func() { <-h.slots }
	select {
	case h.slots <- struct{}{}:
		return release, true
	default:
	}
	t := time.NewTimer(h.opts.BodyWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return release, true
	case <-t.C:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}

// readBody reads r to the end, sized up front from the declared length (already capped) so that a normal
// body costs one allocation.
func readBody(r io.Reader, declared int64) ([]byte, error) {
	size := 512
	if declared > 0 {
		size = int(declared) + 1 // +1 so the final read that sees EOF does not grow the buffer
	}
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
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

// redactPath keeps a path fit for logs: the webhook token and anything after an unknown first segment
// (which may be a mistyped token) are replaced.
func redactPath(p string) string {
	switch p {
	case "/webhook", "/healthz", "/readyz", "/metrics", "/":
		return p
	}
	if strings.HasPrefix(p, "/webhook/") {
		return "/webhook/{token}"
	}
	first, _, more := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if len(first) > 32 {
		first = first[:32] + "…"
	}
	if more {
		return "/" + first + "/…"
	}
	return "/" + first
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
