package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/notifier"
)

func testWorker(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	t.Run("ordering per activity", func(t *testing.T) { testOrdering(t, open) })
	t.Run("parallel destinations", func(t *testing.T) { testParallel(t, open) })
	t.Run("outcomes", func(t *testing.T) { testOutcomes(t, open) })
	t.Run("backoff", func(t *testing.T) { testBackoff(t, open) })
	t.Run("pacing", func(t *testing.T) { testPacing(t, open) })
	t.Run("replay", func(t *testing.T) { testReplay(t, open) })
	t.Run("metrics", func(t *testing.T) { testMetrics(t, open) })
	t.Run("shutdown drains", func(t *testing.T) { testShutdown(t, open) })
	t.Run("logs", func(t *testing.T) { testLogs(t, open) })
	t.Run("send timeout", func(t *testing.T) { testSendTimeout(t, open) })
	t.Run("delivery", func(t *testing.T) { testDelivery(t, open) })
}

func titles(calls []call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.title
		if !c.prev.IsZero() {
			out[i] += "(edit " + c.prev.ID + ")"
		}
	}
	return out
}

func testOrdering(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock))
	rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
		if c.title == "a1 pending" && n < 3 {
			return notifier.Ref{}, errFlaky
		}
		return notifier.Ref{Channel: "C1", ID: "ts-" + c.title}, nil
	})
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "a1 pending"))
	mustEnqueue(t, s, "a1", "complete", job("slack:#d", "a1 complete"))
	mustEnqueue(t, s, "a2", "complete", job("slack:#d", "a2 complete"))
	start(t, s, rec.resolveAll, clock)
	waitFor(t, "three jobs delivered", func() bool { return len(rec.Calls()) == 6 && pending(t, s) == 0 })
	got := strings.Join(titles(rec.Calls()), ", ")
	// a1's later state waits for its first; a2 does not wait for a1's retries.
	want := "a1 pending, a2 complete, a1 pending, a1 pending, a1 pending, a1 complete(edit ts-a1 pending)"
	if got != want {
		t.Errorf("sends = %s\nwant      %s", got, want)
	}
}

func testParallel(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock))
	// slow's send only returns once fast was sent: one sequential lane for both would never finish.
	fastSent := make(chan struct{})
	resolve := func(dest string) (notifier.Notifier, error) {
		return funcNotifier(func(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error) {
			if dest == "fast" {
				close(fastSent)
				return notifier.Ref{}, nil
			}
			select {
			case <-fastSent:
				return notifier.Ref{}, nil
			case <-ctx.Done():
				return notifier.Ref{}, ctx.Err()
			}
		}), nil
	}
	mustEnqueue(t, s, "a1", "pending", job("slow", "x"))
	mustEnqueue(t, s, "a2", "pending", job("fast", "y"))
	start(t, s, resolve, clock)
	waitFor(t, "both destinations delivered", func() bool { return pending(t, s) == 0 })
}

func testOutcomes(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	tests := []struct {
		name       string
		prev       notifier.Ref // stored before the job runs
		resolveErr error
		answers    []error // per send; the last one repeats
		wantSends  []string
		wantSleeps []time.Duration
		wantDead   string // reason prefix, "" when delivered
		wantRef    notifier.Ref
		wantMetric string // deliveries_total label set "outcome/reason" that must be 1
	}{
		{
			name:       "gone: drop the ref and post again at once",
			prev:       notifier.Ref{Channel: "C1", ID: "old"},
			answers:    []error{notifier.Gone(errors.New("message_not_found")), nil},
			wantSends:  []string{"m(edit old)", "m"},
			wantRef:    notifier.Ref{Channel: "C1", ID: "new"},
			wantMetric: "retry/gone",
		},
		{
			name:       "retry-after waits exactly as long as asked",
			answers:    []error{notifier.RetryAfter(7*time.Second, errors.New("ratelimited")), nil},
			wantSends:  []string{"m", "m"},
			wantSleeps: []time.Duration{7 * time.Second},
			wantRef:    notifier.Ref{Channel: "C1", ID: "new"},
			wantMetric: "retry/retry_after",
		},
		{
			name:       "permanent: dead letter at once",
			answers:    []error{notifier.Permanent(errors.New("channel_not_found"))},
			wantSends:  []string{"m"},
			wantDead:   "permanent: channel_not_found",
			wantMetric: "dead/permanent",
		},
		{
			name:       "destination no longer configured",
			resolveErr: errors.New(`unknown destination "slack:#d"`),
			wantDead:   "destination not configured",
			wantMetric: "dead/not_configured",
		},
		{
			name:       "max age: dead letter instead of another attempt",
			answers:    []error{errFlaky},
			wantDead:   "not delivered within the max age of 1h0m0s; last error: 503 service unavailable",
			wantMetric: "dead/max_age",
		},
		{
			name:       "edit",
			prev:       notifier.Ref{Channel: "C1", ID: "old"},
			answers:    []error{nil},
			wantSends:  []string{"m(edit old)"},
			wantRef:    notifier.Ref{Channel: "C1", ID: "new"},
			wantMetric: "edited/ok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			s := open(t, WithClock(clock))
			if !tt.prev.IsZero() {
				seedShown(t, s, "a1", "slack:#d", "pending", tt.prev)
			}
			rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
				if err := tt.answers[min(n, len(tt.answers)-1)]; err != nil {
					return notifier.Ref{}, err
				}
				return notifier.Ref{Channel: "C1", ID: "new"}, nil
			})
			resolve := func(dest string) (notifier.Notifier, error) {
				if tt.resolveErr != nil {
					return nil, tt.resolveErr
				}
				return rec.notifier(dest), nil
			}
			mustEnqueue(t, s, "a1", "complete", job("slack:#d", "m"))
			r := start(t, s, resolve, clock, WithMaxAge(time.Hour))
			waitFor(t, "the job to be done", func() bool { return pending(t, s) == 0 })
			r.stop(t)

			calls := rec.Calls()
			if tt.wantDead == "" {
				if got, want := strings.Join(titles(calls), ", "), strings.Join(tt.wantSends, ", "); got != want {
					t.Errorf("sends = %s; want %s", got, want)
				}
				if got := clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(tt.wantSleeps) {
					t.Errorf("worker slept %v; want %v", got, tt.wantSleeps)
				}
				if n := len(calls); n == 2 && !calls[1].at.Equal(calls[0].at.Add(sum(tt.wantSleeps))) {
					t.Errorf("second send at %v; want %v after the first (%v)", calls[1].at, sum(tt.wantSleeps), calls[0].at)
				}
			}
			shown, _ := s.Shown(context.Background(), "a1", "slack:#d")
			if ref := shown.Ref; ref != tt.wantRef {
				t.Errorf("stored ref = %+v; want %+v", ref, tt.wantRef)
			}
			dead, _ := s.DeadLetters(context.Background())
			switch {
			case tt.wantDead == "" && len(dead) != 0:
				t.Errorf("dead letters = %+v; want none", dead)
			case tt.wantDead != "" && (len(dead) != 1 || !strings.HasPrefix(dead[0].Reason, tt.wantDead)):
				t.Errorf("dead letters = %+v; want one with reason %q", dead, tt.wantDead)
			case tt.wantDead != "" && tt.wantMetric == "dead/max_age":
				if dead[0].Job.Attempts < 5 || sum(clock.Sleeps()) < time.Hour-5*time.Minute {
					t.Errorf("max-age dead letter after %d attempts and %v of backoff; want retries for about an hour", dead[0].Job.Attempts, sum(clock.Sleeps()))
				}
			}
			if tt.wantDead != "" && len(calls) != len(tt.wantSends) && tt.wantMetric != "dead/max_age" {
				t.Errorf("sends = %v; want %v", titles(calls), tt.wantSends)
			}
			outcome, reason, _ := strings.Cut(tt.wantMetric, "/")
			if got := testutil.ToFloat64(r.w.m.deliveries.WithLabelValues("slack", outcome, reason)); got != 1 {
				t.Errorf("deliveries_total{kind=slack,outcome=%s,reason=%s} = %v; want 1", outcome, reason, got)
			}
		})
	}
}

func sum(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s
}

func testBackoff(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	for _, jitter := range []struct {
		name string
		j    Jitter
		low  func(d time.Duration) time.Duration
	}{
		{"equal", JitterEqual, func(d time.Duration) time.Duration { return d / 2 }},
		{"full", JitterFull, func(time.Duration) time.Duration { return 0 }},
	} {
		t.Run(jitter.name, func(t *testing.T) {
			clock := newFakeClock()
			s := open(t, WithClock(clock))
			rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
				if n < 12 {
					return notifier.Ref{}, errFlaky
				}
				return notifier.Ref{}, nil
			})
			mustEnqueue(t, s, "a1", "pending", job("slack:#d", "m"))
			r := start(t, s, rec.resolveAll, clock, WithBackoff(time.Second, time.Minute), WithJitter(jitter.j))
			waitFor(t, "delivery after 12 failures", func() bool { return pending(t, s) == 0 })
			sleeps := clock.Sleeps()
			if len(sleeps) != 12 {
				t.Fatalf("worker slept %d times; want 12 (one per failure)", len(sleeps))
			}
			for i, got := range sleeps {
				ceil := min(time.Second<<i, time.Minute)
				if got < jitter.low(ceil) || got > ceil {
					t.Errorf("wait before retry %d = %v; want within [%v, %v]", i+1, got, jitter.low(ceil), ceil)
				}
			}
			if got := testutil.ToFloat64(r.w.m.retries.WithLabelValues("slack")); got != 12 {
				t.Errorf("retries_total{kind=slack} = %v; want 12", got)
			}
		})
	}
}

func testPacing(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock))
	rec := newRecorder(clock, nil)
	resolve := func(dest string) (notifier.Notifier, error) {
		return pacedNotifier{rec.notifier(dest), notifier.Pace{Every: time.Second, Burst: 3}}, nil
	}
	for i := range 60 {
		mustEnqueue(t, s, fmt.Sprintf("a%02d", i), "pending", job("slack:#d", fmt.Sprintf("m%02d", i)))
	}
	start(t, s, resolve, clock)
	waitFor(t, "60 sends", func() bool { return pending(t, s) == 0 })
	calls := rec.Calls()
	if len(calls) != 60 {
		t.Fatalf("sends = %d; want 60", len(calls))
	}
	for i, c := range calls {
		if want := fmt.Sprintf("m%02d", i); c.title != want {
			t.Fatalf("send %d = %s; want %s (ID order)", i, c.title, want)
		}
		switch {
		case i < 3 && !c.at.Equal(t0):
			t.Errorf("burst send %d at %v; want at once (%v)", i, c.at, t0)
		case i >= 3 && c.at.Sub(calls[i-1].at) < time.Second:
			t.Errorf("send %d only %v after the previous one; want >= 1s", i, c.at.Sub(calls[i-1].at))
		}
	}
	if got, want := calls[59].at.Sub(t0), 57*time.Second; got != want {
		t.Errorf("last send %v after the first; want %v (3 at once, then 1/s)", got, want)
	}
}

func testReplay(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock))
	var mu sync.Mutex
	broken := true
	rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			return notifier.Ref{}, notifier.Permanent(errors.New("not_in_channel"))
		}
		return notifier.Ref{Channel: "C1", ID: "1"}, nil
	})
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "m"))
	r := start(t, s, rec.resolveAll, clock)
	waitFor(t, "a dead letter", func() bool { return deadCount(t, s) == 1 })
	mu.Lock()
	broken = false // the user invited the bot into the channel
	mu.Unlock()
	dead, _ := s.DeadLetters(context.Background())
	h := AdminHandler(s, r.w)
	rw := httpDo(t, h, "POST", fmt.Sprintf("/deadletters/%d/replay", dead[0].Job.ID))
	if rw.Code != 200 {
		t.Fatalf("replay answered %d %s; want 200", rw.Code, rw.Body)
	}
	waitFor(t, "the replayed job delivered", func() bool { return pending(t, s) == 0 && len(rec.Calls()) == 2 })
	r.stop(t)
	if got := deadCount(t, s); got != 0 {
		t.Errorf("dead letters after replay = %d; want 0", got)
	}
	if got := testutil.ToFloat64(r.w.m.deliveries.WithLabelValues("slack", "delivered", "ok")); got != 1 {
		t.Errorf("deliveries_total{delivered,ok} = %v; want 1", got)
	}
}

func testMetrics(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock))
	rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
		switch {
		case c.title == "flaky" && n == 0:
			return notifier.Ref{}, errFlaky
		case c.title == "bad":
			return notifier.Ref{}, notifier.Permanent(errors.New("invalid_blocks"))
		}
		return notifier.Ref{Channel: "C", ID: c.title}, nil
	})
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "ok"), job("discord:prod", "flaky"))
	mustEnqueue(t, s, "a1", "complete", job("slack:#d", "edit"))
	mustEnqueue(t, s, "a2", "pending", job("slack-webhook:x", "bad"))
	// One job that the worker holds back (it waits on a retry-after set before the restart).
	held := job("console", "held")
	mustEnqueue(t, s, "a3", "pending", held)
	held = laneJobs(t, s, "console")[0]
	held.NextAt = t0.Add(1000 * time.Hour)
	held.Attempts = 1
	l := claimLane(t, s, "console")
	if err := s.Update(context.Background(), l, held); err != nil {
		t.Fatal(err)
	}
	releaseAll(t, s)
	blocking := laneBlockingClock{clock}
	clock.Advance(90 * time.Second)
	r := start(t, s, rec.resolveAll, blocking, WithMaxAge(0)) // no max-age wake-up: the held job waits
	// The metrics follow the store's bookkeeping: wait for them, not for the store.
	waitFor(t, "three deliveries and a dead letter counted", func() bool {
		return testutil.ToFloat64(r.w.m.deliveries.WithLabelValues("slack-webhook", "dead", "permanent")) == 1 &&
			histogramCount(t, r.reg) == 3
	})

	counters := []struct{ kind, outcome, reason string }{
		{"slack", "delivered", "ok"},
		{"slack", "edited", "ok"},
		{"discord", "retry", "transient"},
		{"discord", "delivered", "ok"},
		{"slack-webhook", "dead", "permanent"},
	}
	for _, c := range counters {
		if got := testutil.ToFloat64(r.w.m.deliveries.WithLabelValues(c.kind, c.outcome, c.reason)); got != 1 {
			t.Errorf("deliveries_total{%s,%s,%s} = %v; want 1", c.kind, c.outcome, c.reason, got)
		}
	}
	gauges := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"queue_depth", r.w.m.depth, 1},
		{"dead_letters", r.w.m.dead, 1},
		{"oldest_pending_seconds", r.w.m.oldest, clock.Now().Sub(t0).Seconds()},
		{"retries_total{discord}", r.w.m.retries.WithLabelValues("discord"), 1},
	}
	for _, g := range gauges {
		if got := testutil.ToFloat64(g.c); got != g.want {
			t.Errorf("%s = %v; want %v", g.name, got, g.want)
		}
	}
	text := `
# HELP activitybridge_queue_depth Jobs waiting to be delivered.
# TYPE activitybridge_queue_depth gauge
activitybridge_queue_depth 1
`
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(text), "activitybridge_queue_depth"); err != nil {
		t.Errorf("registered metrics: %v", err)
	}
	if _, sum := histogram(t, r.reg); sum < 3*90 {
		t.Errorf("delivery_duration_seconds sum %v; want 3 deliveries of at least 90s each (received 90s before the worker started)", sum)
	}
}

// laneBlockingClock is a fakeClock whose very long sleeps (the held job's) block until ctx ends.
type laneBlockingClock struct {
	*fakeClock
}

func (c laneBlockingClock) Sleep(ctx context.Context, d time.Duration) error {
	if d > 100*time.Hour {
		<-ctx.Done()
		return ctx.Err()
	}
	return c.fakeClock.Sleep(ctx, d)
}

func testShutdown(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	t.Run("in-flight send finishes", func(t *testing.T) {
		clock := newFakeClock()
		s := open(t, WithClock(clock))
		started := make(chan struct{})
		release := make(chan struct{})
		resolve := func(string) (notifier.Notifier, error) {
			return funcNotifier(func(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error) {
				if msg.Title == "first" {
					close(started)
					<-release
				}
				return notifier.Ref{Channel: "C", ID: msg.Title}, nil
			}), nil
		}
		mustEnqueue(t, s, "a1", "pending", job("slack:#d", "first"))
		mustEnqueue(t, s, "a1", "complete", job("slack:#d", "second"))
		r := start(t, s, resolve, clock)
		<-started
		r.cancel()
		close(release)
		if err := <-r.done; err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
		close(r.done)
		list := laneJobs(t, s, "slack:#d")
		if len(list) != 1 || list[0].Msg.Title != "second" {
			t.Errorf("pending after shutdown = %v; want only the job not yet started", list)
		}
		if sh, _ := s.Shown(context.Background(), "a1", "slack:#d"); sh.Ref.ID != "first" {
			t.Errorf("ref after shutdown = %+v; want the in-flight send's ref saved", sh.Ref)
		}
	})
	t.Run("drain timeout cancels the send", func(t *testing.T) {
		clock := newFakeClock()
		s := open(t, WithClock(clock))
		started := make(chan struct{})
		resolve := func(string) (notifier.Notifier, error) {
			return funcNotifier(func(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error) {
				close(started)
				<-ctx.Done()
				return notifier.Ref{}, ctx.Err()
			}), nil
		}
		mustEnqueue(t, s, "a1", "pending", job("slack:#d", "stuck"))
		r := start(t, s, resolve, clock, WithDrainTimeout(10*time.Millisecond))
		<-started
		r.stop(t)
		list := laneJobs(t, s, "slack:#d")
		if len(list) != 1 || list[0].Attempts != 0 || deadCount(t, s) != 0 {
			t.Errorf("jobs after an interrupted send = %+v; want it queued untouched", list)
		}
	})
}

func testLogs(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock))
	var buf syncBuffer
	rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
		if n == 0 {
			return notifier.Ref{}, errFlaky
		}
		return notifier.Ref{}, notifier.Permanent(errors.New("invalid_auth"))
	})
	w := NewWorker(s, rec.resolveAll, zerolog.New(&buf), nil, WithWorkerClock(clock))
	j := job("slack:#d", "TITLE-SECRET")
	j.Msg.Text = "BODY-SECRET"
	mustEnqueue(t, s, "a1", "pending", j)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	waitFor(t, "a dead letter", func() bool { return deadCount(t, s) == 1 })
	cancel()
	<-done

	var levels []string
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if bytes.Contains(line, []byte("SECRET")) {
			t.Errorf("log line carries the message: %s", line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if _, ok := m["job"]; !ok {
			continue
		}
		levels = append(levels, m["level"].(string))
		if m["level"] == "warn" {
			if _, ok := m["retry_in_ms"].(float64); !ok {
				t.Errorf("retry log line %s has no retry_in_ms (durations name their unit)", line)
			}
		}
		want := map[string]string{"activity": "a1", "project": "proj1", "environment": "main", "type": "environment.push", "state": "pending", "destination": "slack:#d"}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("log line %s: %s = %v; want %q", line, k, m[k], v)
			}
		}
	}
	if got, want := strings.Join(levels, ","), "warn,error"; got != want {
		t.Errorf("delivery log levels = %s; want %s (a retry, then the dead letter)", got, want)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.b.Bytes()...)
}

// histogram returns the sample count and sum of activitybridge_delivery_duration_seconds.
func histogram(t *testing.T, reg *prometheus.Registry) (uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "activitybridge_delivery_duration_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatal("activitybridge_delivery_duration_seconds is not registered")
	return 0, 0
}

func histogramCount(t *testing.T, reg *prometheus.Registry) uint64 {
	n, _ := histogram(t, reg)
	return n
}

func testSendTimeout(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock))
	var mu sync.Mutex
	var deadlines []bool
	resolve := func(string) (notifier.Notifier, error) {
		return funcNotifier(func(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error) {
			_, ok := ctx.Deadline()
			mu.Lock()
			deadlines = append(deadlines, ok)
			first := len(deadlines) == 1
			mu.Unlock()
			if first { // a chat API that never answers
				<-ctx.Done()
				return notifier.Ref{}, ctx.Err()
			}
			return notifier.Ref{}, nil
		}), nil
	}
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "m"))
	r := start(t, s, resolve, clock, WithSendTimeout(20*time.Millisecond))
	waitFor(t, "delivery after a timed-out send", func() bool { return pending(t, s) == 0 })
	r.stop(t)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(deadlines) != "[true true]" {
		t.Errorf("sends had deadlines %v; want two sends, each with its own timeout", deadlines)
	}
	if got := testutil.ToFloat64(r.w.m.deliveries.WithLabelValues("slack", "retry", "transient")); got != 1 {
		t.Errorf("deliveries_total{retry,transient} = %v; want 1 (a timeout is retried)", got)
	}
}
