package outbox

import (
	"cmp"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/activitybridge/activitybridge/internal/pgtest"
	"github.com/activitybridge/activitybridge/notifier"
)

// TestMain stops the PostgreSQL server of postgres_test.go (when a test started it) before the leak check.
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Wrap(m)) }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock never blocks: Sleep records the wait and moves the clock on by it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// funcNotifier is a Notifier backed by a function.
type funcNotifier func(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error)

func (f funcNotifier) Send(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error) {
	return f(ctx, msg, prev)
}

// pacedNotifier adds a Pace to a funcNotifier.
type pacedNotifier struct {
	funcNotifier
	pace notifier.Pace
}

func (p pacedNotifier) Pace() notifier.Pace { return p.pace }

// call is one Send a fake notifier saw.
type call struct {
	dest  string
	title string
	prev  notifier.Ref
	at    time.Time
}

// recorder records sends and answers with answer (nil: success with a fresh ref).
type recorder struct {
	mu     sync.Mutex
	clock  Clock
	calls  []call
	answer func(c call, n int) (notifier.Ref, error) // n counts earlier calls with the same title
	seen   map[string]int
}

func newRecorder(clock Clock, answer func(c call, n int) (notifier.Ref, error)) *recorder {
	return &recorder{clock: clock, answer: answer, seen: map[string]int{}}
}

func (r *recorder) notifier(dest string) funcNotifier {
	return func(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error) {
		r.mu.Lock()
		c := call{dest: dest, title: msg.Title, prev: prev, at: r.clock.Now()}
		r.calls = append(r.calls, c)
		n := r.seen[msg.Title]
		r.seen[msg.Title]++
		answer := r.answer
		r.mu.Unlock()
		if answer != nil {
			return answer(c, n)
		}
		return notifier.Ref{Channel: "C1", ID: "ts-" + msg.Title}, nil
	}
}

func (r *recorder) Calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// resolveAll gives every destination a recorder-backed notifier.
func (r *recorder) resolveAll(dest string) (notifier.Notifier, error) { return r.notifier(dest), nil }

func job(dest, title string) Job {
	return Job{Dest: dest, Project: "proj1", Environment: "main", Type: "environment.push", Msg: notifier.Message{Title: title, Text: "body of " + title}}
}

func mustEnqueue(t *testing.T, s Store, activity, state string, jobs ...Job) {
	t.Helper()
	n, err := s.Enqueue(context.Background(), activity, state, jobs)
	if err != nil || n != len(jobs) {
		t.Fatalf("Enqueue(%s, %s) = %d, %v; want %d, nil", activity, state, n, err, len(jobs))
	}
}

// waitFor polls cond; the deadline only guards against a hang, it asserts no timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func pending(t *testing.T, s Store) int {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st.Pending
}

func deadCount(t *testing.T, s Store) int {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st.DeadLetters
}

// running is a Worker started in the background.
type running struct {
	w      *Worker
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

// start runs a worker until the test ends (or stop is called).
func start(t *testing.T, s Store, resolve func(string) (notifier.Notifier, error), clock Clock, opts ...WorkerOption) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts = append([]WorkerOption{WithWorkerClock(clock)}, opts...)
	w := NewWorker(s, resolve, zerolog.Nop(), reg, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err, ok := <-r.done; ok {
		if err != nil {
			t.Errorf("Run returned %v; want nil", err)
		}
		close(r.done)
	}
}

var errFlaky = errors.New("503 service unavailable")

// namedStore is a Store implementation the shared suite (testStore) runs against: open returns a
// fresh, empty store that the test closes at its end.
type namedStore struct {
	name string
	open func(t *testing.T, opts ...Option) Store
}

// extraStores are more stores for the shared suite; another file (e.g. postgres_test.go) appends to it
// from an init function.
var extraStores []namedStore

// stores are the Store implementations every suite test runs against: bolt, memory and extraStores.
func stores() []namedStore {
	return append([]namedStore{
		{"bolt", func(t *testing.T, opts ...Option) Store {
			s, err := OpenBolt(filepath.Join(t.TempDir(), DefaultFileName), opts...)
			if err != nil {
				t.Fatalf("OpenBolt: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"memory", func(t *testing.T, opts ...Option) Store {
			s := NewMemory(opts...)
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
	}, extraStores...)
}

// testOwner is the owner of the leases tests take by hand (claimLane).
const testOwner = "test"

// claimed keeps the leases claimLane took, by store and destination.
var claimed sync.Map // Store → *sync.Map of dest → Lease

// claimLane takes the lane of dest (or returns the lease it took on it before) for a test that makes
// fenced writes without a worker. It claims every free lane with pending jobs at once.
func claimLane(t *testing.T, s Store, dest string) Lease {
	t.Helper()
	leases, err := s.ClaimLanes(context.Background(), testOwner, time.Hour, 1000)
	if err != nil {
		t.Fatalf("ClaimLanes: %v", err)
	}
	m, _ := claimed.LoadOrStore(s, &sync.Map{})
	for _, l := range leases {
		m.(*sync.Map).Store(l.Dest, l)
	}
	if l, ok := m.(*sync.Map).Load(dest); ok {
		return l.(Lease)
	}
	t.Fatalf("ClaimLanes(%s) = %+v; want a lease on %s", testOwner, leases, dest)
	return Lease{}
}

// laneJobs returns the pending jobs of dests, in ID order.
func laneJobs(t *testing.T, s Store, dests ...string) []Job {
	t.Helper()
	var out []Job
	for _, d := range dests {
		jobs, err := s.LaneJobs(context.Background(), d, 1000)
		if err != nil {
			t.Fatalf("LaneJobs(%s): %v", d, err)
		}
		out = append(out, jobs...)
	}
	slices.SortFunc(out, func(a, b Job) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// releaseAll lets go of every lease claimLane took on s, so that a worker can claim the lanes.
func releaseAll(t *testing.T, s Store) {
	t.Helper()
	m, ok := claimed.LoadAndDelete(s)
	if !ok {
		return
	}
	m.(*sync.Map).Range(func(_, l any) bool {
		if err := s.Release(context.Background(), l.(Lease)); err != nil {
			t.Fatalf("Release: %v", err)
		}
		return true
	})
}

// seedShown makes (activity, dest) show ref at the rank of state, as if a worker had sent it.
func seedShown(t *testing.T, s Store, activity, dest, state string, ref notifier.Ref) {
	t.Helper()
	mustEnqueue(t, s, activity, state, job(dest, "seed"))
	l := claimLane(t, s, dest)
	for _, j := range laneJobs(t, s, dest) {
		if j.Activity == activity && j.State == state {
			if err := s.Complete(context.Background(), l, j, ref); err != nil {
				t.Fatalf("Complete: %v", err)
			}
		}
	}
	releaseAll(t, s)
}
