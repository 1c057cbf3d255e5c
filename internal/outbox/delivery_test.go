package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/notifier"
)

// testDelivery is the part of the suite about issue 11: no notice waits for another activity's
// failing notice, no message goes back to an earlier state.
func testDelivery(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	t.Run("a failing notice does not hold its destination", func(t *testing.T) { testHeadOfLine(t, open) })
	t.Run("max age applies to every queued job", func(t *testing.T) { testMaxAgeEveryJob(t, open) })
	t.Run("state precedence", func(t *testing.T) { testPrecedence(t, open) })
	t.Run("recording failures", func(t *testing.T) { testRecordingFailures(t, open) })
	t.Run("a lane longer than the worker's view", func(t *testing.T) { testLongLane(t, open) })
}

// testLongLane queues more jobs on one destination than the worker reads at once (loadPage), the first
// of them poisoned, and more while it delivers: every other one is delivered once, in order.
func testLongLane(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock), withNoSync()) // a thousand commits: what is tested is the order
	rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
		if c.title == "poison" {
			return notifier.Ref{}, errFlaky
		}
		return notifier.Ref{Channel: "C1", ID: "ts-" + c.title}, nil
	})
	mustEnqueue(t, s, "poison", "pending", job("slack:#x", "poison"))
	const n, first = loadPage + 200, loadPage + 100 // more than one view before the start, more after
	for i := range first {
		mustEnqueue(t, s, fmt.Sprintf("a%04d", i), "pending", job("slack:#x", fmt.Sprintf("m%04d", i)))
	}
	start(t, s, rec.resolveAll, holdClock{clock, time.Hour}, WithBackoff(2*time.Hour, 2*time.Hour))
	for i := first; i < n; i++ {
		mustEnqueue(t, s, fmt.Sprintf("a%04d", i), "pending", job("slack:#x", fmt.Sprintf("m%04d", i)))
	}
	waitFor(t, "every job but the poisoned one", func() bool { return pending(t, s) == 1 })
	var got []string
	for _, c := range rec.Calls() {
		if c.title != "poison" {
			got = append(got, c.title)
		}
	}
	if len(got) != n {
		t.Fatalf("%d sends; want %d", len(got), n)
	}
	for i, title := range got {
		if want := fmt.Sprintf("m%04d", i); title != want {
			t.Fatalf("send %d = %s; want %s (lane order)", i, title, want)
		}
	}
}

func sendsOf(calls []call, title string) []call {
	var out []call
	for _, c := range calls {
		if c.title == title {
			out = append(out, c)
		}
	}
	return out
}

func testHeadOfLine(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	pace := notifier.Pace{Every: time.Second, Burst: 1}
	tests := []struct {
		name   string
		poison error
	}{
		{"transient error, long backoff", errFlaky},
		{"long retry-after", notifier.RetryAfter(6*time.Hour, errors.New("ratelimited"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			s := open(t, WithClock(clock))
			rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
				if strings.HasPrefix(c.title, "a1") {
					return notifier.Ref{}, tt.poison
				}
				return notifier.Ref{Channel: "C1", ID: "ts-" + c.title}, nil
			})
			resolve := func(dest string) (notifier.Notifier, error) {
				return pacedNotifier{rec.notifier(dest), pace}, nil
			}
			mustEnqueue(t, s, "a1", "pending", job("slack:#x", "a1 pending"))
			mustEnqueue(t, s, "a1", "complete", job("slack:#x", "a1 complete"))
			mustEnqueue(t, s, "a2", "pending", job("slack:#x", "a2 pending"))
			mustEnqueue(t, s, "a3", "complete", job("slack:#x", "a3 complete"))
			mustEnqueue(t, s, "a2", "complete", job("slack:#x", "a2 complete"))
			// Waits of half an hour or more block until the test ends: a1's retry never comes.
			start(t, s, resolve, holdClock{clock, 30 * time.Minute}, WithBackoff(time.Hour, 6*time.Hour))
			waitFor(t, "the other activities delivered", func() bool { return pending(t, s) == 2 })

			calls := rec.Calls()
			// a1's first try, then the others, one per pace step; a1's retry is hours away.
			want := []string{"a1 pending", "a2 pending", "a3 complete", "a2 complete(edit ts-a2 pending)"}
			if got := titles(calls); strings.Join(got[:min(len(got), 4)], ", ") != strings.Join(want, ", ") {
				t.Errorf("sends = %v; want %v first", got, want)
			}
			for i, c := range calls[:min(len(calls), 4)] {
				if want := t0.Add(time.Duration(i) * pace.Every); !c.at.Equal(want) {
					t.Errorf("send %d (%s) at +%v; want +%v: only the pace, not a1's retry, may delay it", i, c.title, c.at.Sub(t0), want.Sub(t0))
				}
			}
			if got := sendsOf(calls, "a1 complete"); len(got) != 0 {
				t.Errorf("a1 complete was sent %d times while a1 pending was not delivered; want it to wait", len(got))
			}
			left := laneJobs(t, s, "slack:#x")
			if len(left) != 2 || left[0].Msg.Title != "a1 pending" || left[0].Attempts < 1 || left[1].Msg.Title != "a1 complete" {
				t.Errorf("left in the lane = %+v; want a1's two jobs, the first retried", left)
			}
		})
	}
}

func testMaxAgeEveryJob(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock))
	rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
		if strings.HasPrefix(c.title, "a1") {
			return notifier.Ref{}, errFlaky
		}
		return notifier.Ref{Channel: "C1", ID: "ts-" + c.title}, nil
	})
	mustEnqueue(t, s, "a1", "pending", job("slack:#x", "a1 pending"))
	mustEnqueue(t, s, "a1", "complete", job("slack:#x", "a1 complete"))
	clock.Advance(90 * time.Minute) // a2 arrives later: it is not old when a1's jobs are
	mustEnqueue(t, s, "a2", "pending", job("slack:#x", "a2 pending"))
	start(t, s, rec.resolveAll, clock, WithMaxAge(2*time.Hour), WithBackoff(time.Hour, time.Hour))
	waitFor(t, "a1's jobs given up", func() bool { return deadCount(t, s) == 2 && pending(t, s) == 0 })
	dead, _ := s.DeadLetters(context.Background())
	for _, d := range dead {
		if !strings.HasPrefix(d.Reason, "not delivered within the max age of 2h0m0s") {
			t.Errorf("dead letter %s: reason %q; want the max age", d.Job.Msg.Title, d.Reason)
		}
	}
	if d := dead[1]; d.Job.Msg.Title != "a1 complete" || d.Job.Attempts != 0 || d.DeadAt.Sub(t0) > 2*time.Hour+time.Minute {
		t.Errorf("second dead letter = %s after %d attempts at +%v; want a1 complete, never tried, given up at its max age", d.Job.Msg.Title, d.Job.Attempts, d.DeadAt.Sub(t0))
	}
	if got := sendsOf(rec.Calls(), "a2 pending"); len(got) != 1 || !got[0].at.Equal(t0.Add(90*time.Minute)) {
		t.Errorf("a2 sends = %+v; want one, when it arrived", got)
	}
}

func testPrecedence(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	type step struct {
		state   string
		replay  bool // replay every dead letter instead of enqueueing
		waitFor int  // sends expected once the step is done
	}
	tests := []struct {
		name       string
		cannotEdit bool // an incoming webhook: no ref comes back
		failFirst  bool // the first send fails permanently (a dead letter)
		steps      []step
		wantSends  string
		wantShown  string // the title the chat ends up showing
		skipped    float64
	}{
		{
			name:      "in order: post, then edits",
			steps:     []step{{state: "pending", waitFor: 1}, {state: "in_progress", waitFor: 2}, {state: "complete", waitFor: 3}},
			wantSends: "a1 pending, a1 in_progress(edit ts-a1 pending), a1 complete(edit ts-a1 pending)",
			wantShown: "a1 complete",
		},
		{
			name:      "complete persisted before in_progress",
			steps:     []step{{state: "complete", waitFor: 1}, {state: "in_progress", waitFor: 1}},
			wantSends: "a1 complete",
			wantShown: "a1 complete",
			skipped:   1,
		},
		{
			name:      "both queued, complete first",
			steps:     []step{{state: "cancelled"}, {state: "pending"}, {state: "in_progress", waitFor: 1}},
			wantSends: "a1 cancelled",
			wantShown: "a1 cancelled",
			skipped:   2,
		},
		{
			name:      "a replayed old pending dead letter does not change a finished message",
			failFirst: true,
			steps:     []step{{state: "pending"}, {state: "complete", waitFor: 2}, {replay: true, waitFor: 2}},
			wantSends: "a1 pending, a1 complete",
			wantShown: "a1 complete",
			skipped:   1,
		},
		{
			name:       "incoming webhook: the late state is not posted",
			cannotEdit: true,
			steps:      []step{{state: "complete", waitFor: 1}, {state: "in_progress", waitFor: 1}, {state: "pending", waitFor: 1}},
			wantSends:  "a1 complete",
			wantShown:  "a1 complete",
			skipped:    2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			s := open(t, WithClock(clock))
			var mu sync.Mutex
			shows := map[string]string{} // message ID → title shown
			rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
				if tt.failFirst && c.title == "a1 pending" && n == 0 {
					return notifier.Ref{}, notifier.Permanent(errors.New("invalid_blocks"))
				}
				ref := notifier.Ref{Channel: "C1", ID: "ts-" + c.title}
				if !c.prev.IsZero() {
					ref = c.prev
				}
				mu.Lock()
				shows[ref.ID] = c.title
				mu.Unlock()
				if tt.cannotEdit {
					return notifier.Ref{}, nil
				}
				return ref, nil
			})
			r := start(t, s, rec.resolveAll, clock)
			for _, st := range tt.steps {
				if st.replay {
					if _, err := s.ReplayAll(context.Background()); err != nil {
						t.Fatal(err)
					}
				} else {
					mustEnqueue(t, s, "a1", st.state, job("slack:#d", "a1 "+st.state))
				}
				if st.waitFor > 0 {
					waitFor(t, "the step delivered", func() bool { return pending(t, s) == 0 && len(rec.Calls()) == st.waitFor })
				}
			}
			waitFor(t, "every job finished", func() bool { return pending(t, s) == 0 })
			r.stop(t)
			if got := strings.Join(titles(rec.Calls()), ", "); got != tt.wantSends {
				t.Errorf("sends = %s\nwant    %s", got, tt.wantSends)
			}
			mu.Lock()
			for id, title := range shows {
				if title != tt.wantShown {
					t.Errorf("message %s shows %q; want %q", id, title, tt.wantShown)
				}
			}
			mu.Unlock()
			if got := testutil.ToFloat64(r.w.m.deliveries.WithLabelValues("slack", "skipped", "superseded")); got != tt.skipped {
				t.Errorf("deliveries_total{outcome=skipped,reason=superseded} = %v; want %v", got, tt.skipped)
			}
		})
	}
}

// holdClock is a fakeClock whose sleeps of over or more block until their context ends.
type holdClock struct {
	*fakeClock
	over time.Duration
}

func (c holdClock) Sleep(ctx context.Context, d time.Duration) error {
	if d >= c.over {
		<-ctx.Done()
		return ctx.Err()
	}
	return c.fakeClock.Sleep(ctx, d)
}

// failingStore fails Complete and Kill as its functions say.
type failingStore struct {
	Store
	complete func(job Job) error
	kill     func(job Job) error
}

func (s *failingStore) Complete(ctx context.Context, l Lease, job Job, ref notifier.Ref) error {
	if s.complete != nil {
		if err := s.complete(job); err != nil {
			return err
		}
	}
	return s.Store.Complete(ctx, l, job, ref)
}

func (s *failingStore) Kill(ctx context.Context, l Lease, job Job, reason string) (DeadLetter, error) {
	if s.kill != nil {
		if err := s.kill(job); err != nil {
			return DeadLetter{}, err
		}
	}
	return s.Store.Kill(ctx, l, job, reason)
}

func testRecordingFailures(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	var tooLarge = errors.New("key too large")
	var ioErr = &ioError{"write: disk full"}
	tests := []struct {
		name      string
		complete  func(n int) error // the n-th Complete of a1 (0-based)
		kill      func(n int) error
		permanent bool // a1's send fails permanently
		wantDead  string
		wantSends int
	}{
		{
			name:      "completion fails twice: recorded later, never sent again",
			complete:  func(n int) error { return map[bool]error{true: ioErr}[n < 2] },
			wantSends: 1,
		},
		{
			name:      "the same error keeps coming back: dead letter instead of a loop",
			complete:  func(int) error { return tooLarge },
			wantDead:  "the store could not record the delivery: key too large",
			wantSends: 1,
		},
		{
			name:      "I/O errors never count as the same error",
			complete:  func(n int) error { return map[bool]error{true: ioErr}[n < 6] },
			wantSends: 1,
		},
		{
			name:      "dead-lettering fails: tried again in this process",
			permanent: true,
			kill:      func(n int) error { return map[bool]error{true: ioErr}[n < 3] },
			wantDead:  "permanent: channel_not_found",
			wantSends: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			var completes, kills atomic.Int32
			s := &failingStore{Store: open(t, WithClock(clock))}
			if tt.complete != nil {
				s.complete = func(j Job) error {
					if j.Activity != "a1" {
						return nil
					}
					return tt.complete(int(completes.Add(1) - 1))
				}
			}
			if tt.kill != nil {
				s.kill = func(j Job) error {
					if j.Activity != "a1" {
						return nil
					}
					return tt.kill(int(kills.Add(1) - 1))
				}
			}
			rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
				if tt.permanent && c.title == "a1" {
					return notifier.Ref{}, notifier.Permanent(errors.New("channel_not_found"))
				}
				return notifier.Ref{Channel: "C1", ID: "ts-" + c.title}, nil
			})
			mustEnqueue(t, s, "a1", "pending", job("slack:#x", "a1"))
			mustEnqueue(t, s, "a2", "pending", job("slack:#x", "a2"))
			start(t, s, rec.resolveAll, clock)
			waitFor(t, "both jobs finished", func() bool { return pending(t, s) == 0 })
			if got := len(sendsOf(rec.Calls(), "a1")); got != tt.wantSends {
				t.Errorf("a1 sent %d times; want %d", got, tt.wantSends)
			}
			if got := len(sendsOf(rec.Calls(), "a2")); got != 1 {
				t.Errorf("a2 sent %d times; want 1 (a1's troubles do not hold it)", got)
			}
			dead, _ := s.DeadLetters(context.Background())
			switch {
			case tt.wantDead == "" && len(dead) != 0:
				t.Errorf("dead letters = %+v; want none", dead)
			case tt.wantDead != "" && (len(dead) != 1 || !strings.HasPrefix(dead[0].Reason, tt.wantDead)):
				t.Errorf("dead letters = %+v; want one with reason %q", dead, tt.wantDead)
			}
		})
	}
}

// ioError is an I/O-like error (it implements net.Error), which never counts as "the same error
// again".
type ioError struct{ msg string }

func (e *ioError) Error() string   { return e.msg }
func (e *ioError) Timeout() bool   { return false }
func (e *ioError) Temporary() bool { return true }

// TestBoltKeyTooLarge is defect 3 of issue 11 against the real bolt file: an activity ID too long for
// a bolt key of what the destination shows. The notice is sent once, becomes a dead letter, does not
// hold the lane, and no log line carries the ID whole.
func TestBoltKeyTooLarge(t *testing.T) {
	clock := newFakeClock()
	s := openBolt(t, filepath.Join(t.TempDir(), DefaultFileName), WithClock(clock))
	defer s.Close()
	huge := strings.Repeat("x", 32748)
	rec := newRecorder(clock, nil)
	mustEnqueue(t, s, huge, "pending", job("slack:#deploys", "huge"))
	mustEnqueue(t, s, "a2", "pending", job("slack:#deploys", "a2"))
	var logs syncBuffer
	w := NewWorker(s, rec.resolveAll, zerolog.New(&logs), nil, WithWorkerClock(clock))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	waitFor(t, "both jobs finished", func() bool { return pending(t, s) == 0 })
	cancel()
	<-done
	if got := titles(rec.Calls()); strings.Join(got, ",") != "huge,a2" {
		t.Errorf("sends = %v; want huge once, then a2", got)
	}
	dead, _ := s.DeadLetters(context.Background())
	if len(dead) != 1 || !strings.Contains(dead[0].Reason, "key too large") {
		t.Errorf("dead letters = %+v; want the huge one, saying the key is too large", dead)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		if len(line) > 2000 {
			t.Errorf("log line of %d bytes: %.300s…", len(line), line)
		}
	}
}

// TestTwoWorkersFencing runs two workers with different owners on one memory store, as two replicas
// would share PostgreSQL: a worker whose lane was taken over cannot record what it sent, and stops.
func TestTwoWorkersFencing(t *testing.T) {
	clock := newFakeClock()
	s := NewMemory(WithClock(clock))
	defer s.Close()
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := func(string) (notifier.Notifier, error) {
		return funcNotifier(func(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error) {
			once.Do(func() { close(started) })
			<-release
			return notifier.Ref{Channel: "C1", ID: "from-w1"}, nil
		}), nil
	}
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "m"))
	// Long leases: no renewal runs during the test, only the clock decides.
	w1 := start(t, s, slow, clock, WithOwner("w1"), WithLease(time.Hour), WithPollInterval(time.Hour))
	<-started
	clock.Advance(2 * time.Hour) // w1's lease ended (its process hangs, say)
	rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
		return notifier.Ref{Channel: "C1", ID: "from-w2"}, nil
	})
	w2 := start(t, s, rec.resolveAll, clock, WithOwner("w2"), WithLease(time.Hour))
	waitFor(t, "w2 delivered the job", func() bool { return pending(t, s) == 0 })
	close(release)
	waitFor(t, "w1 gave up the lane", func() bool { return laneCount(w1) == 0 })
	sh, _ := s.Shown(context.Background(), "a1", "slack:#d")
	if sh.Ref.ID != "from-w2" {
		t.Errorf("the message ref = %q; want w2's (w1's write was fenced off)", sh.Ref.ID)
	}
	if got := testutil.ToFloat64(w1.w.m.deliveries.WithLabelValues("slack", "delivered", "ok")); got != 0 {
		t.Errorf("w1 counted %v deliveries; want 0 (it could not record its send)", got)
	}
	if got := testutil.ToFloat64(w2.w.m.deliveries.WithLabelValues("slack", "delivered", "ok")); got != 1 {
		t.Errorf("w2 counted %v deliveries; want 1", got)
	}
	if deadCount(t, s) != 0 {
		t.Error("a dead letter was written; want none")
	}
	// The lane goes on under w2 (or whoever claims it), never under w1's lost lease.
	mustEnqueue(t, s, "a2", "pending", job("slack:#d", "n"))
	waitFor(t, "the next job delivered", func() bool { return pending(t, s) == 0 })
}

// laneCount is how many lanes the running worker holds.
func laneCount(r *running) int {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	if r.w.cur == nil {
		return 0
	}
	r.w.cur.mu.Lock()
	defer r.w.cur.mu.Unlock()
	return len(r.w.cur.lanes)
}

func TestRetriesExportedFromStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewWorker(NewMemory(), nil, zerolog.Nop(), reg, WithKinds("slack", "discord"))
	want := `
# HELP activitybridge_retries_total Failed sends that will be tried again, by destination kind.
# TYPE activitybridge_retries_total counter
activitybridge_retries_total{kind="discord"} 0
activitybridge_retries_total{kind="slack"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "activitybridge_retries_total"); err != nil {
		t.Error(err)
	}
}

func TestClip(t *testing.T) {
	tests := []struct{ in, want string }{
		{"short", "short"},
		{strings.Repeat("é", 200), strings.Repeat("é", 128) + "…(400 bytes)"},
		{strings.Repeat("x", 1<<20), strings.Repeat("x", maxLogValue) + fmt.Sprintf("…(%d bytes)", 1<<20)},
	}
	for _, tt := range tests {
		if got := clip(tt.in); got != tt.want {
			t.Errorf("clip(%.20q…) = %.40q…; want %.40q…", tt.in, got, tt.want)
		}
	}
}
