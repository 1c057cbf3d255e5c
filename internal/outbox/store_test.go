package outbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
)

// TestStores runs the whole suite (store and worker behaviour) against both stores.
func TestStores(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) { testStore(t, st.open) })
	}
}

func testStore(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	t.Run("enqueue and de-dup", func(t *testing.T) { testEnqueueDedup(t, open) })
	t.Run("atomic enqueue", func(t *testing.T) { testAtomicEnqueue(t, open) })
	t.Run("refs expire", func(t *testing.T) { testRefs(t, open) })
	t.Run("dead letters and replay", func(t *testing.T) { testDeadLetters(t, open) })
	t.Run("closed", func(t *testing.T) { testClosed(t, open) })
	t.Run("worker", func(t *testing.T) { testWorker(t, open) })
}

func testEnqueueDedup(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock), WithDedupWindow(time.Hour))
	ctx := context.Background()
	steps := []struct {
		name            string
		advance         time.Duration
		activity, state string
		jobs            int
		want            int
	}{
		{"first delivery", 0, "a1", "pending", 2, 2},
		{"same activity and state again", time.Minute, "a1", "pending", 2, 0},
		{"next state of the same activity", 0, "a1", "complete", 1, 1},
		{"another activity", 0, "a2", "pending", 1, 1},
		{"duplicate just inside the window", 58 * time.Minute, "a1", "pending", 2, 0},
		{"duplicate after the window", 2 * time.Minute, "a1", "pending", 1, 1},
	}
	total := 0
	for _, st := range steps {
		clock.Advance(st.advance)
		jobs := make([]Job, st.jobs)
		for i := range jobs {
			jobs[i] = job("slack:#d"+string(rune('0'+i)), st.name)
		}
		got, err := s.Enqueue(ctx, st.activity, st.state, jobs)
		if err != nil || got != st.want {
			t.Fatalf("%s: Enqueue = %d, %v; want %d, nil", st.name, got, err, st.want)
		}
		total += got
	}
	list, err := s.PendingAfter(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != total {
		t.Fatalf("PendingAfter returned %d jobs; want %d", len(list), total)
	}
	for i, j := range list {
		if i > 0 && j.ID <= list[i-1].ID {
			t.Errorf("job %d has ID %d after ID %d; want increasing", i, j.ID, list[i-1].ID)
		}
		if j.Activity == "" || j.State == "" || j.Received.IsZero() {
			t.Errorf("job %d = %+v; want activity, state and received set", i, j)
		}
	}
	if got, want := list[0].Received, t0; !got.Equal(want) {
		t.Errorf("first job received %v; want the clock's %v", got, want)
	}
	if got, want := list[0].Msg.Text, "body of first delivery"; got != want {
		t.Errorf("message text after a round trip = %q; want %q", got, want)
	}
	after, err := s.PendingAfter(ctx, list[1].ID, 2)
	if err != nil || len(after) != 2 || after[0].ID != list[2].ID {
		t.Errorf("PendingAfter(%d, 2) = %v, %v; want jobs %d and %d", list[1].ID, after, err, list[2].ID, list[3].ID)
	}
	if got := pending(t, s); got != total {
		t.Errorf("Stats.Pending = %d; want %d", got, total)
	}
}

func testAtomicEnqueue(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	s := open(t)
	ctx := context.Background()
	bad := job("discord:prod", "bad")
	bad.Msg.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // JSON cannot encode years past 9999
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		jobs []Job
	}{
		{"second job cannot be stored", ctx, []Job{job("slack:#d", "good"), bad}},
		{"context cancelled", cancelled, []Job{job("slack:#d", "good")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := s.Enqueue(tt.ctx, "a1", "pending", tt.jobs)
			if err == nil || n != 0 {
				t.Fatalf("Enqueue = %d, %v; want 0 and an error", n, err)
			}
			if got := pending(t, s); got != 0 {
				t.Errorf("pending after a failed Enqueue = %d; want 0", got)
			}
		})
	}
	// No de-dup mark was left behind either: the retry by the sender goes through.
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "good"), job("discord:prod", "good"))
}

func testRefs(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock), WithDedupWindow(time.Hour))
	ctx := context.Background()
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "post"))
	jobs, _ := s.PendingAfter(ctx, 0, 10)
	r1 := notifier.Ref{Channel: "C1", ID: "111.222"}
	if err := s.Complete(ctx, jobs[0], r1); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, s); got != 0 {
		t.Errorf("pending after Complete = %d; want 0", got)
	}
	check := func(step string, activity, dest string, want notifier.Ref) {
		t.Helper()
		got, err := s.Ref(ctx, activity, dest)
		if err != nil || got != want {
			t.Errorf("%s: Ref(%s, %s) = %+v, %v; want %+v", step, activity, dest, got, err, want)
		}
	}
	check("after complete", "a1", "slack:#d", r1)
	check("other destination", "a1", "discord:prod", notifier.Ref{})
	check("other activity", "a2", "slack:#d", notifier.Ref{})

	// Completing with the zero ref (a service that cannot edit) keeps the ref.
	mustEnqueue(t, s, "a1", "complete", job("slack:#d", "edit"))
	jobs, _ = s.PendingAfter(ctx, 0, 10)
	if err := s.Complete(ctx, jobs[0], notifier.Ref{}); err != nil {
		t.Fatal(err)
	}
	check("after a zero-ref complete", "a1", "slack:#d", r1)

	r2 := notifier.Ref{Channel: "C1", ID: "333.444"}
	clock.Advance(30 * time.Minute)
	if err := s.PutRef(ctx, "a2", "slack:#d", r2); err != nil {
		t.Fatal(err)
	}
	clock.Advance(31 * time.Minute) // a1's ref is 61 minutes old, a2's 31
	check("expired before the sweep", "a1", "slack:#d", notifier.Ref{})
	check("still fresh", "a2", "slack:#d", r2)
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// a1's ref and its two de-dup marks (pending, complete) go; a2's ref stays.
	if n != 3 {
		t.Errorf("Sweep removed %d entries; want 3", n)
	}
	check("after the sweep", "a2", "slack:#d", r2)
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "post again"))
	if err := s.PutRef(ctx, "a2", "slack:#d", notifier.Ref{}); err != nil {
		t.Fatal(err)
	}
	check("after PutRef zero", "a2", "slack:#d", notifier.Ref{})
}

func testDeadLetters(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock), WithDeadLetterRetention(48*time.Hour))
	ctx := context.Background()
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "one"), job("slack:#d", "two"), job("slack:#d", "three"))
	jobs, _ := s.PendingAfter(ctx, 0, 10)
	for i, j := range jobs[:2] {
		j.Attempts, j.LastError, j.NextAt = 5, "boom", clock.Now().Add(time.Minute)
		if _, err := s.Kill(ctx, j, "permanent: boom"); err != nil {
			t.Fatalf("Kill %d: %v", i, err)
		}
		clock.Advance(time.Hour)
	}
	if _, err := s.Kill(ctx, jobs[0], "again"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Kill of a job already dead = %v; want ErrNotFound", err)
	}
	list, err := s.DeadLetters(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("DeadLetters = %d, %v; want 2", len(list), err)
	}
	if d := list[0]; d.Job.ID != jobs[0].ID || d.Reason != "permanent: boom" || d.Job.Attempts != 5 || !d.DeadAt.Equal(t0) || d.Job.Msg.Title != "one" {
		t.Errorf("dead letter = %+v; want job %d, its reason, attempts and message, dead at %v", d, jobs[0].ID, t0)
	}
	if st, _ := s.Stats(ctx); st.Pending != 1 || st.DeadLetters != 2 {
		t.Errorf("Stats = %+v; want 1 pending, 2 dead", st)
	}

	replayed, err := s.Replay(ctx, jobs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.ID <= jobs[2].ID || replayed.Attempts != 0 || !replayed.NextAt.IsZero() || replayed.LastError != "" || !replayed.Received.Equal(clock.Now()) {
		t.Errorf("replayed job = %+v; want a new ID after %d, no attempts, received now (%v)", replayed, jobs[2].ID, clock.Now())
	}
	if got, ok, _ := s.Get(ctx, replayed.ID); !ok || got.Msg.Title != "one" || got.Dest != "slack:#d" {
		t.Errorf("Get(replayed) = %+v, %v; want the message back in the queue", got, ok)
	}
	if _, err := s.Replay(ctx, jobs[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Replay = %v; want ErrNotFound", err)
	}
	if n, err := s.ReplayAll(ctx); err != nil || n != 1 {
		t.Errorf("ReplayAll = %d, %v; want 1", n, err)
	}
	if st, _ := s.Stats(ctx); st.Pending != 3 || st.DeadLetters != 0 {
		t.Errorf("Stats after replay = %+v; want 3 pending, 0 dead", st)
	}

	// Retention: a dead letter older than 48h is swept.
	j, _, _ := s.Get(ctx, replayed.ID)
	if _, err := s.Kill(ctx, j, "old"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(49 * time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deadCount(t, s); got != 0 {
		t.Errorf("dead letters after retention = %d; want 0", got)
	}
}

func testClosed(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	s := open(t)
	if err := s.Ping(); err != nil {
		t.Fatalf("Ping on an open store = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(); err == nil {
		t.Error("Ping on a closed store = nil; want an error (readyz must fail)")
	}
	if _, err := s.Enqueue(context.Background(), "a", "s", []Job{job("console", "x")}); err == nil {
		t.Error("Enqueue on a closed store = nil error; want one (the receiver answers 503)")
	}
}
